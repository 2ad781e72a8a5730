package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/demo"
)

// The demo plays whole rescues by itself: under a fast policy, with a report every second, an
// incident the simulation opened goes from the report to the close, callback and fault cause
// included, within a minute, through the real engine, store and API.
func TestDemoRescues(t *testing.T) {
	if testing.Short() {
		t.Skip("watches the demo for up to a minute")
	}
	data := t.TempDir()
	policy := filepath.Join(data, "fast-policy.json")
	writeFile(t, policy, `{"ack_timeout": "1s", "tier2_ack_timeout": "1s", "tier3_ack_timeout": "5s", "arrive_timeout": "20s", "rural_arrive_timeout": "20s"}`)
	lines, _ := startCommand(t, "Ctrl-C", "demo", "--addr", "127.0.0.1:0", "--data", data, "--elevators", "60",
		"--policy", policy, "--rescue-every", "1s", "--log-level", "error")
	out := strings.Join(lines, "\n")
	if !strings.Contains(out, "rescues") || strings.Contains(out, "demo deadlines") {
		t.Errorf("with --policy the demo should announce its rescues and not its own deadlines:\n%s", out)
	}
	base := fieldAfter(lines, "open")

	var closed liftrescue.Page[liftrescue.Incident]
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		getJSON(t, base+"api/v1/incidents?state=closed&limit=1", &closed)
		if len(closed.Items) > 0 {
			break
		}
		if time.Now().After(deadline) {
			var all liftrescue.Page[liftrescue.Incident]
			getJSON(t, base+"api/v1/incidents?limit=20", &all)
			var states []string
			for _, inc := range all.Items {
				states = append(states, fmt.Sprintf("%d %s tier %d", inc.ID, inc.State, inc.Tier))
			}
			t.Fatalf("no incident closed within 60 s; incidents: %v", states)
		}
	}
	var inc liftrescue.Incident
	getJSON(t, fmt.Sprintf("%sapi/v1/incidents/%d", base, closed.Items[0].ID), &inc)
	if !strings.HasPrefix(inc.Note, demo.RescueNotePrefix) || !inc.Cause.Valid() || inc.CallbackAt == nil ||
		inc.ArrivedAt == nil || inc.ReleasedCount < 1 {
		t.Errorf("closed incident %d: note %q, cause %q, callback %v, arrived %v, released %d", inc.ID, inc.Note, inc.Cause,
			inc.CallbackAt, inc.ArrivedAt, inc.ReleasedCount)
	}
	var timeline strings.Builder
	for _, ev := range inc.Timeline {
		fmt.Fprintf(&timeline, "\n  %s %-15s %d %s/%s %s", ev.At.Format("15:04:05.0"), ev.Kind, ev.AssignmentID, ev.Actor.Kind, ev.Actor.Name, ev.Text)
		if ev.Kind == "closed" && ev.Actor != (liftrescue.Actor{Kind: liftrescue.ActorDispatcher, Name: demo.DispatcherName}) {
			t.Errorf("closed by %+v, want the demo's dispatcher", ev.Actor)
		}
	}
	t.Logf("incident %d, tier %d:%s", inc.ID, inc.Tier, timeline.String())
}

// Without --policy the demo runs under its own short deadlines, written where config.go reads a
// policy file from.
func TestDemoPolicyFile(t *testing.T) {
	path, err := writeDemoPolicy(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{PolicyFile: path}
	got, err := cfg.policy()
	if err != nil {
		t.Fatal(err)
	}
	if want := demo.Policy(); !reflect.DeepEqual(got, want) {
		b, _ := os.ReadFile(path)
		t.Errorf("the demo policy reads back as %+v, want %+v\n%s", got, want, b)
	}
	if demo.RescuePace(got) != 1 || demo.RescuePace(liftrescue.DefaultPolicy()) != 1 {
		t.Error("the demo's people should keep real time under the demo's and slower policies")
	}
}
