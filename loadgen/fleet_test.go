package loadgen

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/iot"
)

// mustRunFleet runs cfg and fails the test on an error other than the wanted one.
func mustRunFleet(tb testing.TB, cfg Config, want error) *FleetReport {
	tb.Helper()
	rep, err := RunFleet(context.Background(), cfg)
	if !errors.Is(err, want) || (want == nil && err != nil) {
		tb.Fatalf("RunFleet: %v, want %v", err, want)
	}
	if rep == nil {
		tb.Fatal("RunFleet returned no report")
	}
	if got := rep.Accepted + rep.Rejected + rep.Unanswered; got != rep.Sent {
		tb.Errorf("accepted %d + rejected %d + unanswered %d = %d, want sent %d", rep.Accepted, rep.Rejected, rep.Unanswered, got, rep.Sent)
	}
	var byKind int64
	for _, n := range rep.SentBy {
		byKind += n
	}
	if byKind != rep.Sent {
		tb.Errorf("sent by kind %v adds up to %d, want %d", rep.SentBy, byKind, rep.Sent)
	}
	return rep
}

func testElevators(n int) []fleetElevator {
	els := make([]fleetElevator, n)
	for i := range els {
		els[i] = fleetElevator{ID: int64(i + 1), EquipmentCode: fmt.Sprintf("3101370402%010d", i+1), Floors: 10}
	}
	return els
}

// The roles are dealt by the seed alone, in the shares asked for, never to an elevator with an
// open incident; phases fall in the first heartbeat, onsets in the first half of the run.
func TestFleetRoles(t *testing.T) {
	cfg := Config{Heartbeat: time.Second, Repeat: 100 * time.Millisecond, Duration: 10 * time.Second, TrappedShare: 0.1, FaultyShare: 0.2}
	els := testElevators(100)
	busy := map[int64]bool{3: true, 50: true}
	ts := newFleet(els, busy, &cfg, 42)
	roles := map[Role]int{}
	for i, term := range ts {
		roles[term.Role]++
		if term.ID != TerminalID(els[i].ID) || term.ElevatorID != els[i].ID {
			t.Errorf("terminal %d: %+v", i, term)
		}
		if term.Busy != busy[term.ElevatorID] || term.Busy && term.Role != RoleHeartbeat {
			t.Errorf("terminal %s: busy %v, role %v", term.ID, term.Busy, term.Role)
		}
		if term.Phase < 0 || term.Phase >= cfg.Heartbeat || term.Onset < 0 || term.Onset >= cfg.Duration/2 {
			t.Errorf("terminal %s: phase %v, onset %v", term.ID, term.Phase, term.Onset)
		}
		switch term.Role {
		case RoleTrapped:
			if !slices.Contains(TrappedCodes, term.Alarm) {
				t.Errorf("trapped terminal %s raises %v", term.ID, term.Alarm)
			}
		case RoleFaulty:
			if !slices.Contains(FaultCodes, term.Alarm) {
				t.Errorf("faulty terminal %s raises %v", term.ID, term.Alarm)
			}
		}
	}
	if roles[RoleTrapped] != 10 || roles[RoleFaulty] != 20 || roles[RoleHeartbeat] != 70 {
		t.Errorf("roles %v, want 10 trapped, 20 faulty, 70 heartbeats only", roles)
	}
	if again := newFleet(els, busy, &cfg, 42); !slices.Equal(again, ts) {
		t.Error("the same seed dealt another fleet")
	}
	if other := newFleet(els, busy, &cfg, 43); slices.Equal(other, ts) {
		t.Error("another seed dealt the same fleet")
	}

	// Too few free elevators: the trapped role first.
	few := newFleet(els[:4], map[int64]bool{1: true, 2: true}, &Config{Heartbeat: time.Second, Duration: time.Second, TrappedShare: 0.5, FaultyShare: 0.5}, 1)
	roles = map[Role]int{}
	for _, term := range few {
		roles[term.Role]++
	}
	if roles[RoleTrapped] != 2 || roles[RoleFaulty] != 0 {
		t.Errorf("with 2 free elevators for 2 trapped and 2 faulty: %v", roles)
	}
	// A share above 0 is at least one terminal.
	if shareOf(0.001, 10) != 1 || shareOf(0, 10) != 0 || shareOf(1, 10) != 10 {
		t.Error("shareOf")
	}
}

// The timetable yields every terminal's heartbeats every heartbeat from its phase and its alarm
// from its onset every repeat, in time order, and nothing from the end on; it holds what
// scheduled counts.
func TestTimetable(t *testing.T) {
	const (
		hb  = 100 * time.Millisecond
		rep = 30 * time.Millisecond
		end = time.Second
	)
	cfg := Config{Heartbeat: hb, Repeat: rep, Duration: end, TrappedShare: 0.3, FaultyShare: 0.3}
	ts := newFleet(testElevators(10), nil, &cfg, 5)
	ptrs := make([]*Terminal, len(ts))
	for i := range ts {
		ptrs[i] = &ts[i]
	}
	tt := newTimetable(ptrs, hb, rep, end)
	last := time.Duration(-1)
	beats := map[string][]time.Duration{}
	alarms := map[string][]time.Duration{}
	var n int64
	labels := map[string]int{}
	for {
		at, ok := tt.peek()
		if !ok {
			break
		}
		ev := tt.pop()
		n++
		if ev.At != at || at < last || at >= end {
			t.Fatalf("event at %v after %v (peek %v, end %v)", ev.At, last, at, end)
		}
		last = at
		labels[ev.Label()]++
		if ev.Kind == evHeartbeat {
			beats[ev.Term.ID] = append(beats[ev.Term.ID], at)
		} else {
			alarms[ev.Term.ID] = append(alarms[ev.Term.ID], at)
			if ev.First() != (len(alarms[ev.Term.ID]) == 1) {
				t.Errorf("%s: alarm %d at %v: First() = %v", ev.Term.ID, len(alarms[ev.Term.ID]), at, ev.First())
			}
		}
	}
	if want := scheduled(ts, hb, rep, end); n != want {
		t.Errorf("%d events, scheduled counts %d", n, want)
	}
	for _, term := range ts {
		b := beats[term.ID]
		if len(b) != int(occurrences(term.Phase, hb, end)) || b[0] != term.Phase {
			t.Errorf("%s: heartbeats %v from phase %v", term.ID, b, term.Phase)
		}
		for i := 1; i < len(b); i++ {
			if b[i]-b[i-1] != hb {
				t.Errorf("%s: heartbeats %v", term.ID, b)
			}
		}
		a := alarms[term.ID]
		if term.Role == RoleHeartbeat {
			if len(a) > 0 {
				t.Errorf("%s has heartbeats only, but alarms %v", term.ID, a)
			}
			continue
		}
		if len(a) < 2 || a[0] != term.Onset || len(a) != int(occurrences(term.Onset, rep, end)) {
			t.Errorf("%s (%v): alarms %v from onset %v", term.ID, term.Role, a, term.Onset)
		}
		for i := 1; i < len(a); i++ {
			if a[i]-a[i-1] != rep {
				t.Errorf("%s: alarms %v", term.ID, a)
			}
		}
	}
	if labels["trapped"] != 3 || labels["fault"] != 3 || labels["trapped repeat"] == 0 || labels["fault repeat"] == 0 {
		t.Errorf("labels %v", labels)
	}
	if occurrences(0, hb, end) != 10 || occurrences(99*time.Millisecond, hb, end) != 10 || occurrences(end, hb, end) != 0 {
		t.Error("occurrences")
	}
}

// What the encoder writes is read by iot's real decoder as the terminal's report of the kind
// meant: trapped alarms are priority 1, faults and heartbeats are not, whatever the state.
func TestReportEncoding(t *testing.T) {
	now := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, byCode := range []bool{false, true} {
		enc := reportEncoder{byCode: byCode}
		for _, tc := range []struct {
			term     Terminal
			kind     eventKind
			at       time.Duration
			wantKind liftrescue.AlarmKind
		}{
			{Terminal{Role: RoleHeartbeat}, evHeartbeat, 0, ""},
			{Terminal{Role: RoleTrapped, Onset: time.Second}, evHeartbeat, 0, ""},
			{Terminal{Role: RoleTrapped, Onset: time.Second}, evHeartbeat, 2 * time.Second, ""},
			{Terminal{Role: RoleTrapped, Alarm: TrappedCodes[0]}, evAlarm, 0, liftrescue.AlarmTrapped},
			{Terminal{Role: RoleTrapped, Alarm: TrappedCodes[1]}, evAlarm, 0, liftrescue.AlarmTrapped},
			{Terminal{Role: RoleTrapped, Alarm: TrappedCodes[2]}, evAlarm, 0, liftrescue.AlarmTrapped},
			{Terminal{Role: RoleTrapped, Alarm: TrappedCodes[3]}, evAlarm, 0, liftrescue.AlarmTrapped},
			{Terminal{Role: RoleTrapped, Alarm: TrappedCodes[4]}, evAlarm, 0, liftrescue.AlarmTrapped},
			{Terminal{Role: RoleFaulty, Alarm: FaultCodes[0]}, evAlarm, 0, liftrescue.AlarmDoorCloseFault},
			{Terminal{Role: RoleFaulty, Alarm: FaultCodes[1]}, evAlarm, 0, liftrescue.AlarmPowerLost},
			{Terminal{Role: RoleFaulty, Alarm: FaultCodes[2]}, evAlarm, 0, liftrescue.AlarmFloorLost},
			{Terminal{Role: RoleFaulty, Alarm: FaultCodes[3]}, evAlarm, 0, liftrescue.AlarmDoorCloseFault},
		} {
			for range 5 { // the heartbeat's state is drawn
				term := tc.term
				term.ID, term.ElevatorID, term.EquipmentCode, term.Floors = "LG-77", 77, "31013704020000000077", 12
				ev := fleetEvent{At: tc.at, Term: &term, Kind: tc.kind}
				b := enc.append(nil, &ev, now, rng)
				a, err := iot.DecodeMessage("lift/LG-77/alarm", b, now)
				if err != nil {
					t.Fatalf("%s: %v", b, err)
				}
				wantPriority := tc.wantKind.Priority() // no state raises these codes
				if a.Kind != tc.wantKind || a.Priority != wantPriority || !a.Time.Equal(now.UTC().Truncate(time.Microsecond)) ||
					a.State == nil || a.State.Released() {
					t.Errorf("%s: read as %+v, want kind %q priority %d, not released", b, a, tc.wantKind, wantPriority)
				}
				if byCode && (a.EquipmentCode != term.EquipmentCode || a.TerminalID != "") || !byCode && a.TerminalID != "LG-77" {
					t.Errorf("%s names %q / %q", b, a.EquipmentCode, a.TerminalID)
				}
				trappedState := *a.State.PassengerPresent && !*a.State.DoorZone && !*a.State.Running
				if want := term.Role == RoleTrapped && tc.at >= term.Onset; trappedState != want {
					t.Errorf("%s: a trapped car's state: %v, want %v", b, trappedState, want)
				}
			}
		}
	}
}

// A fleet over HTTP batches: one incident per trapped elevator, the repeats counted, the faults
// and heartbeats recorded, and the report says so; a second run right after deals the trapped role
// to other elevators, those of the first having their incident still open.
func TestFleetAlarms(t *testing.T) {
	f := newAlarmFake(t, 60)
	cfg := f.config(Alarms)
	cfg.Provision, cfg.Verify = true, true
	rep := mustRunFleet(t, cfg, nil)

	if rep.Trapped != 10 || rep.Faulty != 10 || rep.Busy != 0 || rep.NamedBy != "terminal_id" {
		t.Errorf("fleet: %d trapped, %d faulty, %d busy, named by %s", rep.Trapped, rep.Faulty, rep.Busy, rep.NamedBy)
	}
	if p := rep.Provision; p == nil || p.Created != 40 || p.Replaced != 0 {
		t.Errorf("provision %+v", p)
	}
	if rep.Sent == 0 || rep.Accepted != rep.Sent || f.count(&f.received) != rep.Sent {
		t.Errorf("sent %d, accepted %d, the server received %d; rejected %v, errors %v", rep.Sent, rep.Accepted,
			f.count(&f.received), rep.RejectedBy, rep.ErrorsBy)
	}
	if want := rep.Offered * rep.Duration; float64(rep.Sent) < 0.9*want || float64(rep.Sent) > want+1 {
		t.Errorf("sent %d of the %.0f reports of the timetable", rep.Sent, want)
	}
	if !maps.Equal(rep.Outcomes, f.outcomeCounts()) {
		t.Errorf("outcomes %v, the server's %v", rep.Outcomes, f.outcomeCounts())
	}
	o := rep.Outcomes
	if o["opened"] != 10 || o["quarantined"] != 0 || o["attached"] != 0 || o["counted"] == 0 || o["recorded"] == 0 {
		t.Errorf("outcomes %v: want 10 opened, the repeats counted, the rest recorded", o)
	}
	if s := rep.SentBy; s["trapped"] != 10 || s["fault"] != 10 || s["trapped repeat"] == 0 || s["fault repeat"] == 0 || s["heartbeat"] == 0 {
		t.Errorf("sent by %v", s)
	}
	// Every report on a trapped elevator after its alarm is counted: its repeats and heartbeats.
	if o["counted"] < rep.SentBy["trapped repeat"] {
		t.Errorf("%d counted, fewer than the %d trapped repeats", o["counted"], rep.SentBy["trapped repeat"])
	}
	in := rep.Incidents
	if in.Reached != 10 || in.Opened != 10 || !maps.Equal(in.FirstOutcomes, map[string]int64{"opened": 10}) ||
		in.Latency.Count != 10 || in.Latency.P50 <= 0 || in.NotOpenedCount+in.OpenedTwiceCount+in.UnexpectedCount != 0 {
		t.Errorf("incidents %+v", in)
	}
	if v := rep.Verify; v == nil || !v.OK || v.Trapped != 10 || v.Incidents != 10 {
		t.Errorf("verify %+v", v)
	}
	by, sources := f.incidentsByElevator()
	if len(by) != 10 || sources[liftrescue.SourceIoT] != 10 {
		t.Errorf("the server has incidents on %v (%v), want one on each of 10", by, sources)
	}
	for el, n := range by {
		if n != 1 {
			t.Errorf("elevator %d has %d incidents", el, n)
		}
	}
	if s := rep.TerminalStatus; s == nil || s.Registered != 40 || s.Online != 40 {
		t.Errorf("terminal status %+v (%s)", s, rep.TerminalStatusNote)
	}
	if rep.Latency.Count != rep.Requests || rep.Lag.Count != rep.Sent || rep.Requests == 0 {
		t.Errorf("latency %+v, lag %+v, %d requests", rep.Latency, rep.Lag, rep.Requests)
	}

	// Again at once: the first run's trapped elevators still have their incident, so others are
	// trapped now, and the incidents stay one per elevator.
	rep2 := mustRunFleet(t, cfg, nil)
	if rep2.Busy != 10 || rep2.Provision.Replaced != 40 || rep2.Incidents.Opened != 10 || !rep2.Verify.OK {
		t.Errorf("second run: busy %d, provision %+v, incidents %+v, verify %+v", rep2.Busy, rep2.Provision, rep2.Incidents, rep2.Verify)
	}
	if rep2.Outcomes["attached"]+rep2.Outcomes["counted"] == 0 {
		t.Errorf("second run: outcomes %v: the heartbeats of busy elevators are written on their incidents", rep2.Outcomes)
	}
	by, _ = f.incidentsByElevator()
	if len(by) != 20 {
		t.Errorf("after two runs incidents on %d elevators, want 20", len(by))
	}
	for el, n := range by {
		if n != 1 {
			t.Errorf("elevator %d has %d incidents", el, n)
		}
	}
}

// An elevator with an incident open before the run is never trapped: its alarm would not open one.
func TestFleetLeavesBusyElevatorsToHeartbeats(t *testing.T) {
	f := newAlarmFake(t, 40)
	for el := int64(1); el <= 30; el++ {
		f.openByHand(el)
	}
	cfg := f.config(Alarms)
	cfg.Provision, cfg.Verify = true, true
	cfg.TrappedShare, cfg.FaultyShare = 0.5, 0.5
	rep := mustRunFleet(t, cfg, nil)
	if rep.Busy != 30 || rep.Trapped != 10 || rep.Faulty != 0 || !rep.Verify.OK || rep.Incidents.Opened != 10 {
		t.Errorf("busy %d, trapped %d, faulty %d, verify %+v", rep.Busy, rep.Trapped, rep.Faulty, rep.Verify)
	}
}

// By equipment code, no terminal is registered, and the district filter holds.
func TestFleetByEquipmentCode(t *testing.T) {
	f := newAlarmFake(t, 100)
	cfg := f.config(Alarms)
	cfg.ByEquipmentCode, cfg.Verify, cfg.District = true, true, "370403"
	cfg.Batch = 3
	rep := mustRunFleet(t, cfg, nil)
	if rep.NamedBy != "equipment_code" || f.count(&f.byCode) != rep.Sent || len(f.terminals) != 0 || !rep.Verify.OK {
		t.Errorf("named by %s, %d of %d by code, %d terminals registered, verify %+v", rep.NamedBy, f.count(&f.byCode), rep.Sent,
			len(f.terminals), rep.Verify)
	}
	by, _ := f.incidentsByElevator()
	for el := range by {
		if el%2 != 0 {
			t.Errorf("an incident on elevator %d, not of district 370403", el)
		}
	}
	if rep.Requests < rep.Sent/3 {
		t.Errorf("%d requests for %d reports in batches of at most 3", rep.Requests, rep.Sent)
	}
}

// A service that opens an incident per repeat fails the run, in the answers and in the
// verification.
func TestFleetCatchesDuplicateIncidents(t *testing.T) {
	f := newAlarmFake(t, 40)
	f.noCollapse = true
	cfg := f.config(Alarms)
	cfg.Provision, cfg.Verify = true, true
	rep := mustRunFleet(t, cfg, ErrIncidents)
	if rep.Incidents.OpenedTwiceCount != 10 || rep.Verify.DuplicatedCount != 10 || len(rep.Verify.Duplicated) != 10 {
		t.Errorf("incidents %+v, verify %+v", rep.Incidents, rep.Verify)
	}
}

// Unregistered terminals are quarantined: the run says so and the verification fails.
func TestFleetUnregisteredTerminals(t *testing.T) {
	f := newAlarmFake(t, 40)
	cfg := f.config(Alarms)
	cfg.Verify, cfg.VerifyTimeout = true, 100*time.Millisecond
	rep := mustRunFleet(t, cfg, ErrIncidents)
	if rep.Outcomes["quarantined"] != rep.Sent || rep.Incidents.FirstOutcomes["quarantined"] != 10 || rep.Verify.MissingCount != 10 {
		t.Errorf("outcomes %v, incidents %+v, verify %+v", rep.Outcomes, rep.Incidents, rep.Verify)
	}
}

// The API key reads the REST API; an ingest key, when given, posts the reports.
func TestFleetKeys(t *testing.T) {
	f := newAlarmFake(t, 40)
	f.key = "the-key"
	cfg := f.config(Alarms)
	cfg.ByEquipmentCode = true
	if _, err := RunFleet(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("without a key: %v", err)
	}
	cfg.APIKey, cfg.IngestKey = "the-key", "a-platform-key"
	rep := mustRunFleet(t, cfg, ErrNoReportAccepted)
	if rep.RejectedBy["HTTP 401 unauthorized"] != rep.Sent || rep.Sent == 0 {
		t.Errorf("rejected %v of %d", rep.RejectedBy, rep.Sent)
	}
	cfg.IngestKey = ""
	mustRunFleet(t, cfg, nil)
}

// A fleet over MQTT, against the real broker: the fake takes the reports with iot's Subscriber and
// the run sees the incidents on the live stream.
func TestFleetMQTT(t *testing.T) {
	broker := os.Getenv("LIFTRESCUE_TEST_MQTT")
	if broker == "" {
		if os.Getenv("LIFTRESCUE_REQUIRE_MQTT") == "1" {
			t.Fatal("LIFTRESCUE_REQUIRE_MQTT=1 but LIFTRESCUE_TEST_MQTT not set")
		}
		t.Skip("LIFTRESCUE_TEST_MQTT not set")
	}
	f := newAlarmFake(t, 40)
	pattern := "loadgen-test-" + strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "") + "/lift/{terminal}/alarm"
	f.subscribe(t, broker, pattern)
	cfg := f.config(MQTT)
	cfg.MQTTBroker, cfg.MQTTPattern = broker, pattern
	cfg.Provision, cfg.Verify = true, true
	rep := mustRunFleet(t, cfg, nil)
	if rep.Sent == 0 || rep.Accepted != rep.Sent || rep.Outcomes != nil {
		t.Errorf("sent %d, acknowledged %d, outcomes %v; errors %v", rep.Sent, rep.Accepted, rep.Outcomes, rep.ErrorsBy)
	}
	in := rep.Incidents
	if in.Reached != 10 || in.Opened != 10 || in.Latency.Count != 10 || in.Latency.P50 <= 0 ||
		in.NotOpenedCount+in.OpenedTwiceCount+in.UnexpectedCount != 0 {
		t.Errorf("incidents %+v", in)
	}
	if rep.Stream == nil || rep.Stream.Events != 10 || !rep.Verify.OK {
		t.Errorf("stream %+v, verify %+v", rep.Stream, rep.Verify)
	}
	if s := rep.Subscriber; s == nil || s.Received != rep.Accepted || s.Missing != 0 {
		t.Errorf("subscriber %+v, %d acknowledged", s, rep.Accepted)
	}
	for deadline := time.Now().Add(5 * time.Second); f.count(&f.received) < rep.Accepted && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	if got := f.count(&f.received); got != rep.Accepted {
		t.Errorf("the server received %d reports, the broker acknowledged %d", got, rep.Accepted)
	}
	f.mu.Lock()
	for sender := range f.bySender {
		if !strings.HasPrefix(sender, strings.TrimSuffix(pattern, "{terminal}/alarm")+"LG-") {
			t.Errorf("a report on topic %q", sender)
		}
	}
	f.mu.Unlock()
	if o := f.outcomeCounts(); o["opened"] != 10 || o["quarantined"] != 0 || o["counted"] == 0 {
		t.Errorf("the server's outcomes %v", o)
	}
}

// Messages the broker acknowledged but the server's subscriber never got are counted.
func TestFleetMQTTMissingMessages(t *testing.T) {
	broker := os.Getenv("LIFTRESCUE_TEST_MQTT")
	if broker == "" {
		t.Skip("LIFTRESCUE_TEST_MQTT not set")
	}
	f := newAlarmFake(t, 40)
	f.mqttDrop = 25
	pattern := "loadgen-test-drop-" + strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "") + "/{terminal}"
	f.subscribe(t, broker, pattern)
	cfg := f.config(MQTT)
	cfg.MQTTBroker, cfg.MQTTPattern, cfg.ByEquipmentCode = broker, pattern, true
	rep := mustRunFleet(t, cfg, nil)
	if s := rep.Subscriber; s == nil || s.Missing != 25 || s.Received != rep.Accepted-25 {
		t.Errorf("subscriber %+v, %d acknowledged", s, rep.Accepted)
	}
}

// A broker that cannot be reached stops the run before it starts.
func TestFleetMQTTNoBroker(t *testing.T) {
	defer func(d time.Duration) { connectTimeout = d }(connectTimeout)
	connectTimeout = time.Second
	f := newAlarmFake(t, 40)
	cfg := f.config(MQTT)
	cfg.MQTTBroker = "tcp://127.0.0.1:1" // nothing listens on port 1
	cfg.ByEquipmentCode = true
	start := time.Now()
	_, err := RunFleet(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "MQTT broker") || time.Since(start) > 5*time.Second {
		t.Errorf("RunFleet = %v after %v", err, time.Since(start))
	}
	if f.count(&f.streamOpen) != 1 {
		t.Error("the live stream was not opened before the publishers")
	}
}

func TestFleetConfig(t *testing.T) {
	base := Config{Protocol: Alarms, Duration: time.Second, TrappedShare: 0.1}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"heartbeat too short", func(c *Config) { c.Heartbeat = time.Millisecond }, "heartbeat"},
		{"repeat too long", func(c *Config) { c.Repeat = time.Hour }, "repeat"},
		{"negative share", func(c *Config) { c.FaultyShare = -0.1 }, "faulty share"},
		{"shares above 1", func(c *Config) { c.TrappedShare, c.FaultyShare = 0.6, 0.6 }, "together"},
		{"broker", func(c *Config) { c.Protocol, c.MQTTBroker = MQTT, "localhost:1883" }, "MQTT broker"},
		{"pattern with a wildcard", func(c *Config) { c.Protocol, c.MQTTPattern = MQTT, "lift/+/{terminal}" }, "MQTT pattern"},
		{"batch", func(c *Config) { c.Batch = iot.MaxBatch + 1 }, "batch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mod(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	if err := base.Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
	if p, err := ParseProtocol("MQTT"); err != nil || p != MQTT || !p.Fleet() || JSON.Fleet() {
		t.Errorf("ParseProtocol(MQTT) = %v, %v", p, err)
	}
	if _, err := Run(context.Background(), base); err == nil || !strings.Contains(err.Error(), "RunFleet") {
		t.Errorf("Run with a fleet protocol = %v", err)
	}
	if _, err := RunFleet(context.Background(), Config{Protocol: JSON, Duration: time.Second}); err == nil || !strings.Contains(err.Error(), "use Run") {
		t.Errorf("RunFleet with a tracker protocol = %v", err)
	}
}

func TestReadEvents(t *testing.T) {
	stream := "retry: 2000\n\nid: e-1\n\n: ping\nid: e-2\nevent: incident\ndata: {\"id\":1,\r\ndata: \"elevator_id\":5}\r\n\r\n" +
		"id: e-3\nevent: vehicle\ndata: {}\n\ndata: plain\n\nid: e-4\nevent: incident\ndata: {\"id\":2"
	type got struct{ kind, data string }
	var events []got
	last := readEvents(strings.NewReader(stream), "e-0", func(kind string, data []byte, _ time.Time) {
		events = append(events, got{kind, string(data)})
	})
	want := []got{{"incident", "{\"id\":1,\n\"elevator_id\":5}"}, {"vehicle", "{}"}, {"message", "plain"}}
	if !slices.Equal(events, want) || last != "e-4" {
		t.Errorf("events %q, last id %q; want %q, e-4", events, last, want)
	}
}

func TestIncidentWatch(t *testing.T) {
	w := newIncidentWatch(10)
	t0 := time.Now()
	w.publishing(1, t0)
	w.publishing(1, t0.Add(time.Second)) // the first publication counts
	w.incident(9, 1, t0.Add(time.Millisecond))
	w.incident(11, 1, t0.Add(20*time.Millisecond))
	w.incident(11, 1, t0.Add(30*time.Millisecond)) // the incident moves on: not another
	w.incident(12, 2, t0.Add(40*time.Millisecond)) // not published: no latency
	w.incident(13, 2, t0.Add(50*time.Millisecond))
	if got := w.openedCounts(); !maps.Equal(got, map[int64]int{1: 1, 2: 2}) {
		t.Errorf("opened %v", got)
	}
	if l := w.latency.summary(); l.Count != 1 || l.Max < 19 || l.Max > 21 {
		t.Errorf("latency %+v, want one of 20 ms", l)
	}
	ctx := context.Background()
	start := time.Now()
	w.waitFor(ctx, []int64{1, 2}, time.Second)
	w.waitFor(ctx, []int64{3}, 50*time.Millisecond)
	if took := time.Since(start); took < 50*time.Millisecond || took > time.Second {
		t.Errorf("waitFor took %v", took)
	}
}
