package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// flushInterval is the crash test's --flush-interval: the README's default, and what it promises
// a crash loses at most. The second counts to the flush that takes a fix; the transaction that
// flush starts takes a few milliseconds more to commit, which writeAllowance grants, so that a
// kill in the middle of a commit is no failure.
const (
	flushInterval  = time.Second
	writeAllowance = 100 * time.Millisecond
)

// The service is killed with SIGKILL while trackers post positions and a dispatcher writes on open
// incidents. After a restart on the same data, everything it acknowledged is there: every incident
// with every step of its timeline, its deadlines still pending (and firing once when due), the
// record's chain whole; and every fix acknowledged more than the flush interval before the kill is
// in the history (README "Trackers": a crash loses at most the fixes of the last second).
func TestCrashUnderIngestKeepsWhatWasAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the service under load and waits for a deadline, on each store")
	}
	onEachStore(t, 50, testCrashUnderIngest)
}

func testCrashUnderIngest(t *testing.T, data string) {
	ctx := context.Background()
	// The acknowledge deadline falls after the restart, so that it is pending across the crash.
	const ackTimeout = 10 * time.Second
	policy := filepath.Join(data, "policy.json")
	if err := os.WriteFile(policy, fmt.Appendf(nil, `{"ack_timeout": %q, "tier2_ack_timeout": "1m", "arrive_timeout": "10m"}`, ackTimeout), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--addr", "127.0.0.1:0", "--data", data, "--policy", policy, "--osmand-addr", "", "--jt808-addr", "",
		"--flush-interval", flushInterval.String(), "--log-level", "error"}
	p := startProcess(t, args...)

	var vehicles liftrescue.Page[liftrescue.LiveVehicle]
	p.do(t, "GET", "/api/v1/vehicles", nil, &vehicles)
	var tracked []int64
	devices := map[int64]string{}
	for _, v := range vehicles.Items {
		if v.DeviceID != "" && len(tracked) < 5 {
			tracked = append(tracked, v.ID)
			devices[v.ID] = v.DeviceID
		}
	}
	if len(tracked) < 5 {
		t.Fatalf("the demo city has %d vehicles with a tracker, want 5", len(tracked))
	}
	// Requests that fail once the service is killed are what a crash does; one that fails before
	// is a failure.
	var killed atomic.Bool
	ingestCtx, stopIngest := context.WithCancel(ctx)
	defer stopIngest()
	feed := &trackerFeed{url: p.url, devices: devices, killed: &killed}
	var wg sync.WaitGroup
	wg.Go(func() { feed.run(ingestCtx) })

	// Incidents opened and moved on while the fixes come in; every answer of 2xx is a promise.
	var els liftrescue.Page[liftrescue.Elevator]
	p.do(t, "GET", "/api/v1/elevators?limit=4", nil, &els)
	var fire liftrescue.Page[liftrescue.Organization]
	p.do(t, "GET", "/api/v1/organizations?kind=fire&limit=1", nil, &fire)
	desk := &dispatchDesk{p: p, acked: map[int64][]*liftrescue.Incident{}, killed: &killed}
	var ids []int64
	for _, e := range els.Items {
		ids = append(ids, desk.write(t, "/api/v1/incidents", map[string]any{"elevator": e.RescueCode, "trapped": 1}, 201).ID)
	}
	desk.act(t, ids[0], map[string]any{"action": "accept", "assignment_id": 1})
	desk.act(t, ids[1], map[string]any{"action": "note", "note": "caller says the car is dark"})
	desk.act(t, ids[2], map[string]any{"action": "dispatch", "organization_id": fire.Items[0].ID})
	// Notes keep coming on one incident up to the kill, each acknowledged or not.
	notesCtx, stopNotes := context.WithCancel(ctx)
	defer stopNotes()
	wg.Go(func() { desk.keepNoting(notesCtx, ids[1]) })

	// Let the history take a few flushes, then kill the service in the middle of the stream, at
	// any point of a flush interval: run after run, the kill falls between flushes, just before
	// one and while one writes.
	time.Sleep(2*flushInterval + rand.N(flushInterval))
	killedAt := time.Now()
	killed.Store(true)
	p.kill()
	stopIngest()
	stopNotes()
	wg.Wait()
	if feed.failure != nil {
		t.Fatalf("before the kill: %v", feed.failure)
	}
	if desk.failure != nil {
		t.Fatalf("before the kill: %v", desk.failure)
	}

	// The record the crash left is whole, before anything touches it again.
	var out bytes.Buffer
	if err := run(ctx, []string{"verify", "--data", data, "--log-level", "error"}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "chain whole") {
		t.Errorf("verify after the crash: %v\n%s", err, out.String())
	}

	p = startProcess(t, args...)

	// Every incident and every step it was answered with.
	for _, id := range ids {
		var got liftrescue.Incident
		if status := p.do(t, "GET", fmt.Sprintf("/api/v1/incidents/%d", id), nil, &got); status != 200 {
			t.Fatalf("incident %d, opened with 201 before the crash, = %d after it", id, status)
		}
		kept := map[int64]string{}
		for _, ev := range got.Timeline {
			kept[ev.Seq] = ev.Hash
		}
		for _, answer := range desk.acked[id] {
			for _, ev := range answer.Timeline {
				if kept[ev.Seq] != ev.Hash {
					t.Errorf("incident %d: event %d (%s %q), in an answer of 2xx before the crash, is not in its timeline after it: %v",
						id, ev.Seq, ev.Kind, ev.Text, eventKinds(got))
				}
			}
		}
		// The deadlines pending at its last acknowledged step are still to fire, or have fired
		// since the restart because they fell due.
		last := desk.acked[id][len(desk.acked[id])-1]
		for _, d := range last.Deadlines {
			if !d.Pending() {
				continue
			}
			now := deadlineOf(&got, d.ID)
			switch {
			case now == nil:
				t.Errorf("incident %d: deadline %d (%s, due %s) is gone after the crash", id, d.ID, d.Kind, d.Due)
			case !now.Due.Equal(d.Due):
				t.Errorf("incident %d: deadline %d was due %s, after the crash %s", id, d.ID, d.Due, now.Due)
			case now.MetAt != nil:
				t.Errorf("incident %d: deadline %d, pending at the crash and due %s, is met at %v", id, d.ID, d.Due, now.MetAt)
			case now.FiredAt == nil && time.Now().After(d.Due.Add(5*time.Second)):
				t.Errorf("incident %d: deadline %d was due %s, and has not fired 5 s after", id, d.ID, d.Due)
			}
		}
	}
	var noted liftrescue.Incident
	p.do(t, "GET", fmt.Sprintf("/api/v1/incidents/%d", ids[1]), nil, &noted)
	for _, note := range desk.notes {
		if !hasEvent(noted, "note", note) {
			t.Errorf("incident %d: %q was answered 200 before the crash and is not in its timeline after it", ids[1], note)
		}
	}
	t.Logf("%d notes acknowledged before the kill; incidents %v", len(desk.notes), ids)

	// Every fix acknowledged before the last flush interval is in the history.
	lost, old := 0, 0
	var oldest time.Duration // the age at the kill of the earliest fix acknowledged and lost
	for _, id := range tracked {
		var track struct {
			Positions []struct {
				Time time.Time `json:"time"`
			} `json:"positions"`
		}
		path := fmt.Sprintf("/api/v1/vehicles/%d/track?from=%s&to=%s", id, feed.started.Add(-time.Minute).UTC().Format(time.RFC3339),
			killedAt.Add(time.Minute).UTC().Format(time.RFC3339))
		if status := p.do(t, "GET", path, nil, &track); status != 200 {
			t.Fatalf("GET %s = %d", path, status)
		}
		kept := map[int64]bool{}
		for _, pos := range track.Positions {
			kept[pos.Time.UnixMicro()] = true
		}
		for _, f := range feed.acked[id] {
			if kept[f.time.UnixMicro()] {
				continue
			}
			lost++
			age := killedAt.Sub(f.ackedAt)
			oldest = max(oldest, age)
			if age > flushInterval+writeAllowance {
				old++
			}
		}
	}
	t.Logf("%d fixes acknowledged before the kill; %d not in the history after it, the earliest acknowledged %s before the kill",
		feed.count(), lost, oldest.Round(time.Millisecond))
	if old > 0 {
		t.Errorf("%d fixes acknowledged more than %s (and a write) before the kill are not in the history (the earliest %s before it)", old, flushInterval, oldest)
	}
	if feed.count() < 10*len(tracked) {
		t.Errorf("only %d fixes were acknowledged before the kill", feed.count())
	}

	// The acknowledge deadline pending across the crash fires, once, when it falls due.
	open := ids[3]
	var got liftrescue.Incident
	poll(t, fmt.Sprintf("incident %d's acknowledge deadline has fired", open), func() bool {
		p.do(t, "GET", fmt.Sprintf("/api/v1/incidents/%d", open), nil, &got)
		d := deadlineOf(&got, 1)
		return d != nil && d.FiredAt != nil
	})
	if d := deadlineOf(&got, 1); d.FiredAt.Before(d.Due) || d.FiredAt.After(d.Due.Add(5*time.Second)) {
		t.Errorf("incident %d: deadline due %s fired at %s", open, d.Due, d.FiredAt)
	}
	if n := deadlineFirings(got, 1); n != 1 {
		t.Errorf("incident %d: its acknowledge deadline fired %d times, want once: %v", open, n, eventKinds(got))
	}
	p.kill()
	out.Reset()
	if err := run(ctx, []string{"verify", "--data", data, "--log-level", "error"}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "chain whole") {
		t.Errorf("verify at the end: %v\n%s", err, out.String())
	}
}

func deadlineOf(inc *liftrescue.Incident, id int) *liftrescue.Deadline {
	for i := range inc.Deadlines {
		if inc.Deadlines[i].ID == id {
			return &inc.Deadlines[i]
		}
	}
	return nil
}

func hasEvent(inc liftrescue.Incident, kind, text string) bool {
	for _, ev := range inc.Timeline {
		if ev.Kind == kind && ev.Text == text {
			return true
		}
	}
	return false
}

// deadlineFirings counts the incident's deadline_missed events of the deadline.
func deadlineFirings(inc liftrescue.Incident, id int) int {
	n := 0
	for _, ev := range inc.Timeline {
		var d struct {
			Deadline int `json:"deadline"`
		}
		if ev.Kind == "deadline_missed" && json.Unmarshal(ev.Data, &d) == nil && d.Deadline == id {
			n++
		}
	}
	return n
}

// dispatchDesk writes on incidents as a dispatcher would and keeps every answer of 2xx. Its notes
// and failure are read once keepNoting has returned.
type dispatchDesk struct {
	p       *process
	acked   map[int64][]*liftrescue.Incident // by incident, in order
	notes   []string                         // notes answered 200 by keepNoting
	killed  *atomic.Bool
	failure error
}

func (d *dispatchDesk) write(t *testing.T, path string, in any, want int) *liftrescue.Incident {
	t.Helper()
	var inc liftrescue.Incident
	if status, err := postJSON(context.Background(), http.DefaultClient, d.p.url+path, in, &inc); status != want || err != nil {
		t.Fatalf("POST %s %v = %d, want %d: %v", path, in, status, want, err)
	}
	d.acked[inc.ID] = append(d.acked[inc.ID], &inc)
	return &inc
}

func (d *dispatchDesk) act(t *testing.T, id int64, action map[string]any) {
	t.Helper()
	d.write(t, fmt.Sprintf("/api/v1/incidents/%d/actions", id), action, 200)
}

// keepNoting writes a note on the incident every 20 ms until ctx ends.
func (d *dispatchDesk) keepNoting(ctx context.Context, id int64) {
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; ctx.Err() == nil; i++ {
		note := fmt.Sprintf("note %d", i)
		status, err := postJSON(ctx, client, fmt.Sprintf("%s/api/v1/incidents/%d/actions", d.p.url, id), map[string]any{"action": "note", "note": note}, new(json.RawMessage))
		switch {
		case ctx.Err() != nil || d.killed.Load():
			return
		case err != nil || status != 200:
			d.failure = fmt.Errorf("note %d = %d %v", i, status, err)
			return
		}
		d.notes = append(d.notes, note)
		time.Sleep(20 * time.Millisecond)
	}
}

// trackerFeed posts a fix of each device every 20 ms, as a gateway with the API key would, and
// keeps each fix the server acknowledged with when the answer came. What it keeps is read once run
// has returned.
type trackerFeed struct {
	url     string
	devices map[int64]string // by vehicle
	started time.Time
	acked   map[int64][]ackedFix
	killed  *atomic.Bool
	failure error
}

type ackedFix struct {
	time    time.Time // the fix's, which names it in the history
	ackedAt time.Time
}

func (f *trackerFeed) count() int {
	n := 0
	for _, fs := range f.acked {
		n += len(fs)
	}
	return n
}

func (f *trackerFeed) run(ctx context.Context) {
	client := &http.Client{Timeout: 5 * time.Second}
	f.started = time.Now()
	f.acked = map[int64][]ackedFix{}
	var ids []int64
	for id := range f.devices {
		ids = append(ids, id)
	}
	last := time.Time{}
	for step := 0; ctx.Err() == nil; step++ {
		// Each batch a millisecond apart at least, so that a fix's time names it.
		at := time.Now().UTC().Truncate(time.Millisecond)
		if !at.After(last) {
			at = last.Add(time.Millisecond)
		}
		last = at
		var fixes []map[string]any
		for i, id := range ids {
			fixes = append(fixes, map[string]any{"device_id": f.devices[id], "time": at.Format(time.RFC3339Nano),
				"lat": 34.80 + 0.01*float64(i) + 1e-6*float64(step), "lon": 117.55, "speed_kmh": 10})
		}
		var reply struct {
			Accepted int                 `json:"accepted"`
			Rejected []liftrescue.Detail `json:"rejected"`
		}
		status, err := postJSON(ctx, client, f.url+"/api/v1/positions", map[string]any{"positions": fixes}, &reply)
		ackedAt := time.Now()
		switch {
		case ctx.Err() != nil || f.killed.Load():
			return
		case err != nil || status != 200 || reply.Accepted != len(fixes):
			f.failure = fmt.Errorf("positions = %d %+v %v", status, reply, err)
			return
		}
		for _, id := range ids {
			f.acked[id] = append(f.acked[id], ackedFix{time: at, ackedAt: ackedAt})
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// postJSON posts in as JSON with the server's key and decodes a 2xx answer into out.
func postJSON(ctx context.Context, client *http.Client, url string, in, out any) (int, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	// Read to the end, so that the connection is kept for the next request rather than closed
	// while the server may still be writing its audit line.
	raw, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode/100 != 2 {
		return res.StatusCode, fmt.Errorf("%s %v", raw, err)
	}
	return res.StatusCode, json.Unmarshal(raw, out)
}
