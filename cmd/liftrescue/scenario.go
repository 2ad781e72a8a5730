package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/demo"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/liftrescue/liftrescue/loadgen"
)

// The scenario walks two rescues over the real HTTP API, as a dispatcher, the units and a
// vehicle's tracker would: the README's proof that the escalation works end to end.
//
//  1. open by rescue code → tier 1 ignores → the nearest tier-2 vehicle is dispatched → its fixes
//     reach the elevator → arrived from GPS → released → callback → closed;
//  2. open → tier 1 ignores → every tier-2 unit declines through its responder link → the fire
//     station is notified.

// scenarioPolicy is the policy of the scenario's own server: deadlines of seconds.
const scenarioPolicy = `{"ack_timeout": "3s", "tier2_ack_timeout": "3s", "tier3_ack_timeout": "10s",
  "arrive_timeout": "2m", "rural_arrive_timeout": "3m", "arrival_radius_m": 100}`

func runScenario(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var url, dataDir, apiKey string
	var speed int
	var timeout time.Duration
	f := newFlags("scenario", `liftrescue scenario [flags]: walk two full rescues over the HTTP API

Without --url it starts its own server on a small demo city with deadlines of seconds (a fresh
database in a temporary directory) and stops it at the end. With --url it drives a running server:
one without simulated responders (demo --rescues=false), whose units it then impersonates.`)
	f.SetOutput(stderr)
	f.String(&url, "url", "", "a running liftrescue to drive; empty starts one")
	f.String(&apiKey, "api-key", "", "with --url: an API key of that server with every scope (the demo prints one; liftrescue key add makes one)")
	f.String(&dataDir, "data", "", "directory for the scenario's own database (default: a temporary one, removed after)")
	f.Int(&speed, "speed-kmh", 0, "how fast the dispatched vehicle drives (default 800 on the scenario's own server, whose speed check allows it, else 100)")
	f.Duration(&timeout, "timeout", 5*time.Minute, "give up after this long")
	if err := f.parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if url == "" {
		stop, base, key, err := startScenarioServer(ctx, dataDir, stderr)
		if err != nil {
			return err
		}
		defer stop()
		url, apiKey = base, key
		if speed == 0 {
			speed = 800
		}
	}
	if speed == 0 {
		speed = 100
	}
	if apiKey == "" {
		return fmt.Errorf("--url needs --api-key (or LIFTRESCUE_API_KEY): the scenario dispatches, registers and reads device secrets")
	}
	sc := &scenario{out: stdout, start: time.Now(), speedKmh: float64(speed), client: loadgen.NewClient(url), apiKey: apiKey}
	defer sc.client.Close()
	return sc.run(ctx)
}

// startScenarioServer serves a small demo city with the scenario's policy on 127.0.0.1:0, and
// returns an admin API key of it.
func startScenarioServer(ctx context.Context, dataDir string, stderr io.Writer) (stop func(), url, key string, err error) {
	cleanup := func() {}
	if dataDir == "" {
		if dataDir, err = os.MkdirTemp("", "liftrescue-scenario-"); err != nil {
			return nil, "", "", err
		}
		cleanup = func() { os.RemoveAll(dataDir) }
	}
	policy := filepath.Join(dataDir, "policy.json")
	if err := os.WriteFile(policy, []byte(scenarioPolicy), 0o644); err != nil {
		cleanup()
		return nil, "", "", err
	}
	cfg := Config{Addr: "127.0.0.1:0", DataDir: dataDir, TimeZone: "Asia/Shanghai", LogLevel: "error", H3Resolution: geo.DefaultH3Resolution,
		StaleAfter: liftrescue.DefaultStaleAfter, OfflineAfter: liftrescue.DefaultOfflineAfter, MaxSpeedKmh: 1000,
		FlushInterval: 200 * time.Millisecond, PolicyFile: policy}
	if err := seedDemoFile(ctx, cfg.sqlitePath("scenario"), demo.Config{Elevators: 500, Now: time.Now().UTC().Truncate(24 * time.Hour)}, false, io.Discard); err != nil {
		cleanup()
		return nil, "", "", err
	}
	m := &Main{Config: cfg, Logger: newLogger(&cfg, stderr), SQLiteName: "scenario"}
	if err := m.Open(ctx); err != nil {
		cleanup()
		return nil, "", "", err
	}
	key, err = m.Auth.NewAPIKey(ctx, &liftrescue.APIKey{Name: "scenario", Scopes: liftrescue.Permissions, CreatedBy: "scenario"})
	if err != nil {
		m.Close()
		cleanup()
		return nil, "", "", err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	return func() {
		cancel()
		<-done
		m.Close()
		cleanup()
	}, m.URL(), key, nil
}

type scenario struct {
	out      io.Writer
	client   *loadgen.Client
	start    time.Time
	speedKmh float64
	apiKey   string // the dispatcher's: an API key with every scope
}

// step prints what happened, with the seconds since the scenario began.
func (s *scenario) step(format string, args ...any) {
	fmt.Fprintf(s.out, "[%5.1fs] %s\n", time.Since(s.start).Seconds(), fmt.Sprintf(format, args...))
}

// call does one request as the scenario's dispatcher (or, with bearer, a tracker) and decodes a
// 2xx answer into out; any other answer is an error quoting the server's.
func (s *scenario) call(ctx context.Context, method, path, bearer string, in, out any) error {
	if bearer == "" {
		bearer = s.apiKey
	}
	h := http.Header{"Authorization": {"Bearer " + bearer}}
	return s.client.Do(ctx, method, path, h, in, out)
}

// tracker is a volunteer vehicle whose tracker the scenario plays.
type tracker struct {
	id            int64
	plate, device string
	secret        string
	lon, lat      float64
	// dest is where the tracker drives: set by the rescue, read by the reporting loop.
	mu              sync.Mutex
	destLon, destLt float64
}

// driveTo sends the tracker toward a place.
func (t *tracker) driveTo(lon, lat float64) {
	t.mu.Lock()
	t.destLon, t.destLt = lon, lat
	t.mu.Unlock()
}

// dest is where the tracker drives.
func (t *tracker) dest() (lon, lat float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.destLon, t.destLt
}

func (s *scenario) run(ctx context.Context) error {
	elevators, trackers, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	// The trackers report every second, as they would on the road; the dispatched one drives.
	reporting, stopReporting := context.WithCancel(ctx)
	defer stopReporting()
	reportErr := make(chan error, 1)
	go func() { reportErr <- s.report(reporting, trackers) }()

	if err := s.rescue(ctx, elevators[0], trackers); err != nil {
		return err
	}
	if err := s.fireBackstop(ctx, elevators[1]); err != nil {
		return err
	}
	stopReporting()
	if err := <-reportErr; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	s.step("both scenarios passed")
	return nil
}

// prepare picks two elevators and the volunteer vehicles, and places the vehicles 1 to 3 km from
// the first elevator.
func (s *scenario) prepare(ctx context.Context) ([]liftrescue.Elevator, []*tracker, error) {
	var els liftrescue.Page[liftrescue.Elevator]
	if err := s.call(ctx, "GET", "/api/v1/elevators?limit=50", "", nil, &els); err != nil {
		return nil, nil, err
	}
	var free []liftrescue.Elevator
	for _, e := range els.Items {
		var open liftrescue.Page[json.RawMessage]
		if err := s.call(ctx, "GET", fmt.Sprintf("/api/v1/incidents?open=true&elevator_id=%d&limit=1", e.ID), "", nil, &open); err != nil {
			return nil, nil, err
		}
		if len(open.Items) == 0 {
			free = append(free, e)
		}
	}
	if len(free) < 2 {
		return nil, nil, fmt.Errorf("the server needs two elevators without an open incident; it has %d", len(free))
	}
	var orgs liftrescue.Page[liftrescue.Organization]
	if err := s.call(ctx, "GET", "/api/v1/organizations?kind=volunteer&limit=1000", "", nil, &orgs); err != nil {
		return nil, nil, err
	}
	var trackers []*tracker
	for _, o := range orgs.Items {
		var vs liftrescue.Page[liftrescue.LiveVehicle]
		if err := s.call(ctx, "GET", fmt.Sprintf("/api/v1/vehicles?organization_id=%d", o.ID), "", nil, &vs); err != nil {
			return nil, nil, err
		}
		for _, v := range vs.Items {
			if v.DeviceID == "" || !v.OnDuty || len(trackers) == 3 {
				continue
			}
			var detail struct {
				DeviceSecret string `json:"device_secret"`
			}
			if err := s.call(ctx, "GET", fmt.Sprintf("/api/v1/vehicles/%d", v.ID), "", nil, &detail); err != nil {
				return nil, nil, err
			}
			trackers = append(trackers, &tracker{id: v.ID, plate: v.Plate, device: v.DeviceID, secret: detail.DeviceSecret})
		}
	}
	if len(trackers) == 0 {
		return nil, nil, errors.New("the server has no volunteer vehicle with a tracker")
	}
	e := free[0]
	for i, t := range trackers {
		t.lon, t.lat = offset(e.Lon, e.Lat, float64(i+1)*900, float64(i)*40)
		t.destLon, t.destLt = t.lon, t.lat
	}
	s.step("%d volunteer vehicles report 0.9 to %.1f km from elevator %s (%s)", len(trackers), float64(len(trackers))*0.9, e.RescueCode, e.Address)
	return free[:2], trackers, s.post(ctx, trackers)
}

// offset returns the position east and north of a point by the given metres.
func offset(lon, lat, eastM, northM float64) (float64, float64) {
	return lon + eastM/(111_320*math.Cos(lat*math.Pi/180)), lat + northM/110_574
}

// report posts every tracker's position every second, moving each toward its destination at the
// scenario's speed, until ctx ends.
func (s *scenario) report(ctx context.Context, trackers []*tracker) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		step := s.speedKmh / 3.6 // metres a second
		for _, tr := range trackers {
			destLon, destLat := tr.dest()
			d := geo.DistanceM(tr.lon, tr.lat, destLon, destLat)
			if d <= step {
				tr.lon, tr.lat = destLon, destLat
			} else {
				tr.lon += (destLon - tr.lon) * step / d
				tr.lat += (destLat - tr.lat) * step / d
			}
		}
		if err := s.post(ctx, trackers); err != nil && ctx.Err() == nil {
			return err
		}
	}
}

func (s *scenario) post(ctx context.Context, trackers []*tracker) error {
	for _, tr := range trackers {
		fix := map[string]any{"device_id": tr.device, "time": time.Now().UTC().Format(time.RFC3339Nano), "lat": tr.lat, "lon": tr.lon, "speed_kmh": s.speedKmh}
		if err := s.call(ctx, "POST", "/api/v1/positions", tr.secret, map[string]any{"positions": []any{fix}}, nil); err != nil {
			return err
		}
	}
	return nil
}

// incident is what the scenario reads of an incident.
type incident struct {
	ID          int64                   `json:"id"`
	State       string                  `json:"state"`
	Tier        int                     `json:"tier"`
	Assignments []liftrescue.Assignment `json:"assignments"`
	Timeline    []struct {
		Kind string `json:"kind"`
		Text string `json:"text"`
	} `json:"timeline"`
	Notifications []liftrescue.Notification `json:"notifications"`
}

// await polls the incident until cond holds.
func (s *scenario) await(ctx context.Context, id int64, what string, cond func(*incident) bool) (*incident, error) {
	for {
		var inc incident
		if err := s.call(ctx, "GET", fmt.Sprintf("/api/v1/incidents/%d", id), "", nil, &inc); err != nil {
			return nil, err
		}
		if cond(&inc) {
			return &inc, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("incident %d: waiting for %s: %w (state %s, tier %d)", id, what, ctx.Err(), inc.State, inc.Tier)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *scenario) open(ctx context.Context, e liftrescue.Elevator) (*incident, error) {
	var inc incident
	body := map[string]any{"elevator": e.RescueCode, "source": "call", "trapped": 2, "caller_phone": "13800138000", "note": "scenario"}
	if err := s.call(ctx, "POST", "/api/v1/incidents", "", body, &inc); err != nil {
		return nil, err
	}
	var names []string
	for _, a := range inc.Assignments {
		names = append(names, a.Unit.OrganizationName)
	}
	s.step("incident %d opened by rescue code %s: tier 1 notified (%s)", inc.ID, e.RescueCode, strings.Join(names, ", "))
	return &inc, nil
}

// assigned returns the newest assignment of the tier, or nil.
func assigned(inc *incident, tier int) *liftrescue.Assignment {
	for i := len(inc.Assignments) - 1; i >= 0; i-- {
		if inc.Assignments[i].Tier == tier {
			return &inc.Assignments[i]
		}
	}
	return nil
}

func (s *scenario) rescue(ctx context.Context, e liftrescue.Elevator, trackers []*tracker) error {
	s.step("scenario 1: tier 1 ignores, the nearest volunteer vehicle comes, GPS marks its arrival")
	inc, err := s.open(ctx, e)
	if err != nil {
		return err
	}
	inc, err = s.await(ctx, inc.ID, "tier 2", func(i *incident) bool { return assigned(i, 2) != nil })
	if err != nil {
		return err
	}
	a := assigned(inc, 2)
	s.step("tier 1 did not accept in time: tier 2 dispatched to %s of %s, %s away", a.Unit.Plate, a.Unit.OrganizationName, eta(a.Unit))
	var tr *tracker
	for _, t := range trackers {
		if t.id == a.Unit.VehicleID {
			tr = t
		}
	}
	if tr == nil {
		return fmt.Errorf("tier 2 went to vehicle %d, which the scenario does not drive", a.Unit.VehicleID)
	}
	if err := s.act(ctx, inc.ID, map[string]any{"action": "accept", "assignment_id": a.ID}); err != nil {
		return err
	}
	tr.driveTo(offset(e.Lon, e.Lat, 30, 0))
	s.step("%s accepted and drives to the elevator at %.0f km/h", tr.plate, s.speedKmh)
	inc, err = s.await(ctx, inc.ID, "arrival", func(i *incident) bool { return i.State == "arrived" })
	if err != nil {
		return err
	}
	arrived := inc.Assignments[a.ID-1]
	s.step("arrived: assignment %d marked by %s", a.ID, arrived.ArrivedBy)
	if arrived.ArrivedBy != "gps" {
		return fmt.Errorf("the arrival was marked by %q, not by GPS", arrived.ArrivedBy)
	}
	for _, act := range []map[string]any{
		{"action": "released", "released": 2, "assignment_id": a.ID},
		{"action": "callback_done", "note": "乘客确认已安全离开"},
		{"action": "close", "cause": "door_system"},
	} {
		if err := s.act(ctx, inc.ID, act); err != nil {
			return err
		}
		s.step("%s", act["action"])
	}
	inc, err = s.await(ctx, inc.ID, "closed", func(i *incident) bool { return i.State == "closed" })
	if err != nil {
		return err
	}
	s.step("incident %d closed; timeline: %s", inc.ID, timeline(inc))
	return nil
}

func (s *scenario) fireBackstop(ctx context.Context, e liftrescue.Elevator) error {
	s.step("scenario 2: tier 1 ignores, tier 2 declines, the fire station is notified")
	inc, err := s.open(ctx, e)
	if err != nil {
		return err
	}
	declined := map[int]bool{}
	for {
		inc, err = s.await(ctx, inc.ID, "a tier-2 unit to decline, or tier 3", func(i *incident) bool {
			if assigned(i, 3) != nil {
				return true
			}
			a := assigned(i, 2)
			return a != nil && !declined[a.ID] && a.State == liftrescue.AssignmentNotified
		})
		if err != nil {
			return err
		}
		if fire := assigned(inc, 3); fire != nil {
			s.step("tier 3: %s notified (%s)", fire.Unit.OrganizationName, strings.Join(fire.Unit.Phones, ", "))
			break
		}
		a := assigned(inc, 2)
		token := responderToken(inc, a.ID)
		if token == "" {
			return fmt.Errorf("no responder link was sent to assignment %d", a.ID)
		}
		if err := s.call(ctx, "POST", "/r/"+token, "", map[string]any{"action": "decline", "reason": "无可用救援人员"}, nil); err != nil {
			return err
		}
		declined[a.ID] = true
		s.step("%s declined through its responder link", a.Unit.Plate)
	}
	if err := s.act(ctx, inc.ID, map[string]any{"action": "cancel", "cancel_reason": "other", "note": "scenario over"}); err != nil {
		return err
	}
	s.step("incident %d cancelled to end the scenario; timeline: %s", inc.ID, timeline(inc))
	return nil
}

func (s *scenario) act(ctx context.Context, id int64, body map[string]any) error {
	return s.call(ctx, "POST", fmt.Sprintf("/api/v1/incidents/%d/actions", id), "", body, nil)
}

var responderLink = regexp.MustCompile(`/r/([a-z2-7]{16,64})`)

// responderToken finds the link sent to an assignment in the incident's notifications.
func responderToken(inc *incident, assignment int) string {
	for _, n := range inc.Notifications {
		if m := responderLink.FindStringSubmatch(n.Body); n.AssignmentID == assignment && m != nil {
			return m[1]
		}
	}
	return ""
}

func eta(u liftrescue.Unit) string {
	if u.DistanceM == nil || u.ETAS == nil {
		return "distance unknown"
	}
	return strconv.FormatFloat(*u.DistanceM/1000, 'f', 1, 64) + " km, ETA " + (time.Duration(*u.ETAS) * time.Second).String()
}

func timeline(inc *incident) string {
	var kinds []string
	for _, ev := range inc.Timeline {
		kinds = append(kinds, ev.Kind)
	}
	return strings.Join(kinds, " → ")
}
