package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/demo"
	"github.com/liftrescue/liftrescue/notify"
)

// runMainEnv makes the test binary run the command itself, with the arguments it holds (separated
// by \x1f): the kill -9 test needs the service in a process of its own.
const runMainEnv = "LIFTRESCUE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if args := os.Getenv(runMainEnv); args != "" {
		os.Args = append([]string{"liftrescue"}, strings.Split(args, "\x1f")...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// process is the service running in a child process.
type process struct {
	cmd *exec.Cmd
	url string
}

// startProcess runs `liftrescue serve` in a child process and waits until it serves.
func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	key := provisionKey(t, args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runMainEnv+"="+strings.Join(append([]string{"serve"}, args...), "\x1f"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd}
	t.Cleanup(func() { p.kill() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, url, ok := strings.Cut(sc.Text(), "serving on "); ok {
			p.url = strings.TrimSpace(url)
			trust(t, p.url, key)
			go io.Copy(io.Discard, out)
			return p
		}
	}
	t.Fatalf("the service ended before serving: %v", cmd.Wait())
	return nil
}

// kill ends the process with SIGKILL: no shutdown, no flush, as a crash or a power cut would.
func (p *process) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

func (p *process) do(t *testing.T, method, path string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.url+path, body)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return res.StatusCode
}

// A deadline pending when the service is killed fires once, at once, when it comes back; the
// notifications queued before the crash are delivered after it; the record's chain holds.
func TestKilledServiceFiresPendingDeadlinesOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the service three times")
	}
	ctx := context.Background()
	data := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(seedDemoFile(ctx, filepath.Join(data, "liftrescue.db"), demo.Config{Elevators: 50}, false, io.Discard))
	policy := filepath.Join(data, "policy.json")
	must(os.WriteFile(policy, []byte(`{"ack_timeout": "2s", "tier2_ack_timeout": "2s", "arrive_timeout": "10m"}`), 0o644))
	args := []string{"--addr", "127.0.0.1:0", "--data", data, "--policy", policy, "--osmand-addr", "", "--jt808-addr", "", "--log-level", "error"}

	p := startProcess(t, args...)
	var els liftrescue.Page[liftrescue.Elevator]
	p.do(t, "GET", "/api/v1/elevators?limit=1", nil, &els)
	var inc liftrescue.Incident
	if status := p.do(t, "POST", "/api/v1/incidents", map[string]any{"elevator": els.Items[0].RescueCode, "trapped": 1}, &inc); status != 201 {
		t.Fatalf("open = %d", status)
	}
	due := inc.Deadlines[0].Due
	p.kill() // before the acknowledge deadline, and before the outbox may have sent anything

	// Come back only once the deadline has passed while nothing ran.
	time.Sleep(time.Until(due) + 200*time.Millisecond)
	p = startProcess(t, args...)
	var got liftrescue.Incident
	for deadline := time.Now().Add(15 * time.Second); ; {
		p.do(t, "GET", fmt.Sprintf("/api/v1/incidents/%d", inc.ID), nil, &got)
		if got.Tier > 1 && allDelivered(got.Notifications) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("15 s after the restart: tier %d, timeline %v, notifications %+v", got.Tier, eventKinds(got), got.Notifications)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got.Deadlines[0].FiredAt == nil || got.Deadlines[0].FiredAt.Sub(due) > 5*time.Second {
		t.Errorf("deadline fired at %v, due %v: want at once after the restart", got.Deadlines[0].FiredAt, due)
	}
	p.kill()

	// A third run finds nothing left to fire for it.
	p = startProcess(t, args...)
	time.Sleep(500 * time.Millisecond) // a run that would fire it again has had ample time
	var again liftrescue.Incident
	p.do(t, "GET", fmt.Sprintf("/api/v1/incidents/%d", inc.ID), nil, &again)
	p.kill()
	missed := 0
	for _, ev := range again.Timeline {
		if ev.Kind == "deadline_missed" && bytes.Contains(ev.Data, []byte(`"deadline":1,`)) {
			missed++
		}
	}
	if missed != 1 {
		t.Errorf("the acknowledge deadline fired %d times, want once: %v", missed, eventKinds(again))
	}

	var out bytes.Buffer
	must(run(ctx, []string{"verify", "--data", data, "--log-level", "error"}, &out, io.Discard))
	if !strings.Contains(out.String(), "chain whole") {
		t.Errorf("verify: %s", out.String())
	}
}

func allDelivered(ns []liftrescue.Notification) bool {
	for _, n := range ns {
		if n.State != liftrescue.NotificationDelivered {
			return false
		}
	}
	return len(ns) > 0
}

func eventKinds(inc liftrescue.Incident) []string {
	var out []string
	for _, ev := range inc.Timeline {
		out = append(out, ev.Kind)
	}
	return out
}

// The README's scenario runs end to end on its own server.
func TestScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 15 s")
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"scenario", "--timeout", "2m"}, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"marked by gps", "closed; timeline", "tier 3:", "both scenarios passed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the scenario did not say %q:\n%s", want, out.String())
		}
	}
}

// The city hotline learns of every step through a signed webhook, the incident's id included
// even for the events of its opening.
func TestWebhooksReachTheHotline(t *testing.T) {
	const secret = "hotline-shared-secret"
	got := make(chan map[string]any, 100)
	hotline := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notify.VerifySignature(secret, r.Header.Get("X-Liftrescue-Signature"), body, time.Now(), 0); err != nil {
			t.Errorf("webhook signature: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Errorf("webhook body %s: %v", body, err)
		}
		got <- v
	}))
	defer hotline.Close()
	data := t.TempDir()
	if err := seedDemoFile(context.Background(), filepath.Join(data, "liftrescue.db"), demo.Config{Elevators: 20}, false, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines, _ := startCommand(t, "serving on", "serve", "--addr", "127.0.0.1:0", "--data", data, "--log-level", "error",
		"--webhooks", "hotline="+hotline.URL, "--webhook-secret", secret)
	p := &process{url: fieldAfter(lines, "serving on")}
	var els liftrescue.Page[liftrescue.Elevator]
	p.do(t, "GET", "/api/v1/elevators?limit=1", nil, &els)
	var inc liftrescue.Incident
	if status := p.do(t, "POST", "/api/v1/incidents", map[string]any{"elevator": els.Items[0].RescueCode}, &inc); status != 201 {
		t.Fatalf("open = %d", status)
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case v := <-got:
			data, _ := v["data"].(map[string]any)
			event, _ := data["event"].(map[string]any)
			if v["incident_id"] != float64(inc.ID) || event == nil {
				t.Fatalf("webhook %v: want incident %d and its event", v, inc.ID)
			}
			seen[event["kind"].(string)] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("the hotline heard only %v", seen)
		}
	}
	if !seen["opened"] || !seen["notified"] {
		t.Errorf("the hotline heard %v, want opened and notified", seen)
	}
}
