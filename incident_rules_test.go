package liftrescue_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	lr "github.com/liftrescue/liftrescue"
)

// The escalation rules are a pure function of (policy, incident, now): every test here drives
// Decide with times offset from base and checks what came out, never a clock.

var base = time.Date(2026, 3, 14, 1, 0, 0, 0, time.UTC)

const (
	minute   = time.Minute
	district = "370402" // Shizhong, Zaozhuang
)

var (
	dispatcher = lr.Actor{Kind: lr.ActorDispatcher, Name: "zhang"}
	system     = lr.Actor{Kind: lr.ActorSystem, Name: "deadline"}
	responder  = lr.Actor{Kind: lr.ActorUnit, Name: "12"}

	userUnit    = lr.Unit{Role: lr.OrgUserUnit, OrganizationID: 11, OrganizationName: "光明物业", Phones: []string{"13800000011"}}
	maintenance = lr.Unit{Role: lr.OrgMaintenance, OrganizationID: 12, OrganizationName: "枣庄电梯维保", Phones: []string{"13800000012"}}
	vol1        = lr.Unit{Role: lr.OrgVolunteer, OrganizationID: 21, OrganizationName: "网格一队", TeamID: 1, VehicleID: 201, Plate: "鲁D20001", Phones: []string{"13800000021"},
		DistanceM: ptr(1250.0), ETAS: ptr(300.0)}
	vol2        = lr.Unit{Role: lr.OrgVolunteer, OrganizationID: 22, OrganizationName: "网格二队", TeamID: 2, VehicleID: 202, Plate: "鲁D20002", Phones: []string{"13800000022"}}
	vol3        = lr.Unit{Role: lr.OrgVolunteer, OrganizationID: 21, OrganizationName: "网格一队", TeamID: 1, VehicleID: 203, Plate: "鲁D20003", Phones: []string{"13800000023"}}
	fireStation = lr.Unit{Role: lr.OrgFire, OrganizationID: 31, OrganizationName: "市中区消防救援站", Phones: []string{"119"}}
)

func ptr[T any](v T) *T { return &v }

// world is what the engine would find for every step: both legal units, two volunteer vehicles
// ranked best first, and the designated fire station.
func world() lr.Facts {
	fire := fireStation
	return lr.Facts{Tier1: []lr.Unit{userUnit, maintenance}, Tier2: []lr.Unit{vol1, vol2}, Fire: &fire}
}

// Deadline and assignment ids are deterministic. After openIn: assignments 1 (user unit) and 2
// (maintenance); deadlines 1 (tier-1 acknowledge, +5m) and 2 (tier-1 arrive, +30m). Each tier-2
// unit adds its acknowledge and arrive deadlines, a tier-3 unit its acknowledge deadline.

func openIn() lr.Input { return lr.Input{Action: lr.ActionOpen, Actor: dispatcher, Facts: world()} }

func byUnit(a lr.Action, id int) lr.Input {
	return lr.Input{Action: a, Actor: responder, AssignmentID: id, Facts: world()}
}

func byDispatcher(a lr.Action) lr.Input {
	return lr.Input{Action: a, Actor: dispatcher, Facts: world()}
}

func declineIn(id int, reason string) lr.Input {
	in := byUnit(lr.ActionDecline, id)
	in.Reason = reason
	return in
}

func due(deadline int) lr.Input {
	return lr.Input{Action: lr.ActionDeadline, Actor: system, DeadlineID: deadline, Facts: world()}
}

func releasedIn(id, count int) lr.Input {
	in := byUnit(lr.ActionReleased, id)
	in.Released = &count
	return in
}

func closeIn(cause lr.FaultCause) lr.Input {
	in := byDispatcher(lr.ActionClose)
	in.Cause = cause
	return in
}

func cancelIn(r lr.CancelReason) lr.Input {
	in := byDispatcher(lr.ActionCancel)
	in.CancelReason = r
	return in
}

func dispatchIn(u lr.Unit) lr.Input {
	in := byDispatcher(lr.ActionDispatch)
	in.Facts.Chosen = &u
	in.VehicleID, in.OrganizationID = u.VehicleID, u.OrganizationID
	return in
}

func predicted() lr.Input {
	return lr.Input{Action: lr.ActionEscalate, Actor: system, Predicted: true, Reason: "tier-1 vehicle ETA 42 min", Facts: world()}
}

func lifeInDanger(in lr.Input) lr.Input { in.LifeInDanger = true; return in }
func noTier2(in lr.Input) lr.Input      { in.Facts.Tier2 = nil; return in }
func noFire(in lr.Input) lr.Input       { in.Facts.Fire = nil; return in }
func as(a lr.Actor, in lr.Input) lr.Input {
	in.Actor = a
	return in
}

// move is one input at an offset from base.
type move struct {
	at time.Duration
	in lr.Input
}

type incidentOpts struct {
	rural, life bool
	manual      bool
	district    string
}

func newIncident(o incidentOpts) *lr.Incident {
	d := o.district
	if d == "" {
		d = district
	}
	e := &lr.Elevator{ID: 70, RescueCode: "12345", EquipmentCode: "31103704022015000001", Address: "市中区光明路128号",
		District: d, Lat: 34.86, Lon: 117.55, UserUnitID: userUnit.OrganizationID, MaintenanceUnitID: maintenance.OrganizationID}
	inc := lr.OpenIncident(&lr.NewIncident{Elevator: "12345", Source: lr.SourceCall, Trapped: 2, CallerPhone: "13900000000",
		LifeInDanger: o.life}, e, &lr.District{Code: d, Rural: o.rural})
	inc.ID = 7
	return inc
}

func policy(o incidentOpts) lr.Policy {
	p := lr.DefaultPolicy()
	p.ManualDispatch = o.manual
	return p
}

// snapshot copies the incident deeply enough for reflect.DeepEqual to see any change Decide makes
// to it (nil and empty slices kept as they were); the JSON form catches writes through shared pointers.
func snapshot(t *testing.T, inc *lr.Incident) (*lr.Incident, string) {
	t.Helper()
	c := *inc
	c.Assignments = append(inc.Assignments[:0:0], inc.Assignments...)
	for i := range c.Assignments {
		c.Assignments[i].Unit.Phones = append(inc.Assignments[i].Unit.Phones[:0:0], inc.Assignments[i].Unit.Phones...)
	}
	c.Deadlines = append(inc.Deadlines[:0:0], inc.Deadlines...)
	b, err := json.Marshal(inc)
	if err != nil {
		t.Fatal(err)
	}
	return &c, string(b)
}

// decide runs one step and checks what holds for every step: the incident passed in is untouched,
// a conflict lists the allowed actions, and every event and notice is well formed.
func decide(t *testing.T, p lr.Policy, inc *lr.Incident, in lr.Input, at time.Duration) (*lr.Outcome, error) {
	t.Helper()
	before, beforeJSON := snapshot(t, inc)
	now := base.Add(at)
	out, err := lr.Decide(inc, in, now, &p)
	if _, afterJSON := snapshot(t, inc); !reflect.DeepEqual(inc, before) || afterJSON != beforeJSON {
		t.Fatalf("Decide(%s at +%v) modified the incident passed in\nbefore %s\nafter  %s", in.Action, at, beforeJSON, afterJSON)
	}
	if err != nil {
		if out != nil {
			t.Errorf("Decide(%s) returned an outcome with error %v", in.Action, err)
		}
		if lr.ErrorCode(err) == lr.ECONFLICT {
			got, want := lr.ErrorExtra(err)["allowed"], lr.AllowedActions(inc)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Decide(%s) conflict: Extra[allowed] = %v, want %v", in.Action, got, want)
			}
		}
		return nil, err
	}
	checkOutcome(t, inc, in, now, out)
	return out, nil
}

func checkOutcome(t *testing.T, inc *lr.Incident, in lr.Input, now time.Time, out *lr.Outcome) {
	t.Helper()
	got := out.Incident
	if got == nil || got == inc {
		t.Fatalf("Decide(%s): outcome incident %p, input %p", in.Action, got, inc)
	}
	if !got.State.Valid() || got.State == lr.IncidentOpened {
		t.Errorf("Decide(%s): state %q after the step", in.Action, got.State)
	}
	if len(out.Events) == 0 {
		t.Errorf("Decide(%s): no event", in.Action)
	}
	now = now.UTC().Truncate(time.Microsecond) // times are kept to the microsecond (PostgreSQL)
	for _, ev := range out.Events {
		if ev.Actor != in.Actor || !ev.At.Equal(now) || ev.State != got.State || ev.IncidentID != inc.ID {
			t.Errorf("Decide(%s): event %s = actor %v at %v state %s incident %d, want actor %v at %v state %s incident %d",
				in.Action, ev.Kind, ev.Actor, ev.At, ev.State, ev.IncidentID, in.Actor, now, got.State, inc.ID)
		}
		if ev.AssignmentID != 0 {
			if a := got.Assignment(ev.AssignmentID); a == nil || a.Tier != ev.Tier {
				t.Errorf("Decide(%s): event %s names assignment %d (tier %d), not on the incident", in.Action, ev.Kind, ev.AssignmentID, ev.Tier)
			}
		}
	}
	for _, n := range out.Notices {
		if got.Assignment(n.AssignmentID) == nil || n.Kind == "" {
			t.Errorf("Decide(%s): notice %+v names no assignment of the incident", in.Action, n)
		}
	}
}

func mustDecide(t *testing.T, inc *lr.Incident, in lr.Input, at time.Duration) *lr.Outcome {
	t.Helper()
	out, err := decide(t, lr.DefaultPolicy(), inc, in, at)
	if err != nil {
		t.Fatalf("Decide(%s at +%v): %v", in.Action, at, err)
	}
	return out
}

// run applies the moves in turn and returns the last incident and outcome.
func run(t *testing.T, o incidentOpts, moves []move) (*lr.Incident, *lr.Outcome) {
	t.Helper()
	inc, p := newIncident(o), policy(o)
	var out *lr.Outcome
	for i, m := range moves {
		o, err := decide(t, p, inc, m.in, m.at)
		if err != nil {
			t.Fatalf("step %d (%s at +%v): %v", i+1, m.in.Action, m.at, err)
		}
		// As FindIncident gives it: Decide must leave the timeline alone too.
		o.Incident.Timeline = append(slices.Clone(inc.Timeline), o.Events...)
		inc, out = o.Incident, o
	}
	return inc, out
}

func units(inc *lr.Incident) []string {
	s := []string{}
	for _, a := range inc.Assignments {
		s = append(s, fmt.Sprintf("t%d %s", a.Tier, a.State))
	}
	return s
}

func eventKinds(out *lr.Outcome) []string {
	s := []string{}
	for _, ev := range out.Events {
		s = append(s, ev.Kind)
	}
	return s
}

func notices(out *lr.Outcome) []string {
	s := []string{}
	for _, n := range out.Notices {
		s = append(s, fmt.Sprintf("%s %d", n.Kind, n.AssignmentID))
	}
	return s
}

func deadline(t *testing.T, inc *lr.Incident, id int) lr.Deadline {
	t.Helper()
	for _, d := range inc.Deadlines {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("incident has no deadline %d: %+v", id, inc.Deadlines)
	return lr.Deadline{}
}

func checkList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if want != nil && !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func TestDecideOpen(t *testing.T) {
	tests := []struct {
		name       string
		opts       incidentOpts
		districts  map[string]lr.DistrictPolicy
		in         lr.Input
		wantAck    time.Duration
		wantArrive time.Duration
		wantTier   int
		wantUnits  []string
		wantEvents []string
		wantNotice []string
	}{
		{name: "city", in: openIn(), wantAck: 5 * minute, wantArrive: 30 * minute, wantTier: 1,
			wantUnits:  []string{"t1 notified", "t1 notified"},
			wantEvents: []string{"opened", "notified", "notified"}, wantNotice: []string{"dispatch 1", "dispatch 2"}},
		{name: "rural", opts: incidentOpts{rural: true}, in: openIn(), wantAck: 5 * minute, wantArrive: 60 * minute, wantTier: 1,
			wantUnits: []string{"t1 notified", "t1 notified"}},
		{name: "district override beats rural", opts: incidentOpts{rural: true},
			districts: map[string]lr.DistrictPolicy{district: {AckTimeout: lr.Duration(2 * minute), ArriveTimeout: lr.Duration(20 * minute)}},
			in:        openIn(), wantAck: 2 * minute, wantArrive: 20 * minute, wantTier: 1},
		{name: "partial district override", districts: map[string]lr.DistrictPolicy{district: {ArriveTimeout: lr.Duration(45 * minute)}},
			in: openIn(), wantAck: 5 * minute, wantArrive: 45 * minute, wantTier: 1},
		{name: "other district's override", districts: map[string]lr.DistrictPolicy{"370481": {AckTimeout: lr.Duration(time.Minute), ArriveTimeout: lr.Duration(time.Hour)}},
			in: openIn(), wantAck: 5 * minute, wantArrive: 30 * minute, wantTier: 1},
		{name: "life in danger sends the fire station at once", opts: incidentOpts{life: true}, in: openIn(),
			wantAck: 5 * minute, wantArrive: 30 * minute, wantTier: 3,
			wantUnits:  []string{"t1 notified", "t1 notified", "t3 notified"},
			wantEvents: []string{"opened", "notified", "notified", "escalated", "notified"},
			wantNotice: []string{"dispatch 1", "dispatch 2", "dispatch 3"}},
		{name: "life in danger, no fire station known", opts: incidentOpts{life: true}, in: noFire(openIn()),
			wantAck: 5 * minute, wantArrive: 30 * minute, wantTier: 3,
			wantUnits:  []string{"t1 notified", "t1 notified"},
			wantEvents: []string{"opened", "notified", "notified", "escalated", "attention"},
			wantNotice: []string{"dispatch 1", "dispatch 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policy(tt.opts)
			p.Districts = tt.districts
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			out, err := decide(t, p, newIncident(tt.opts), tt.in, 0)
			if err != nil {
				t.Fatal(err)
			}
			inc := out.Incident
			if got, want := inc.State, lr.IncidentNotified; got != want {
				t.Errorf("state = %s, want %s", got, want)
			}
			if got, want := inc.Tier, tt.wantTier; got != want {
				t.Errorf("tier = %d, want %d", got, want)
			}
			if !inc.ReportedAt.Equal(base) {
				t.Errorf("ReportedAt = %v, want %v", inc.ReportedAt, base)
			}
			if got, want := inc.ArriveBy, base.Add(tt.wantArrive); !got.Equal(want) {
				t.Errorf("ArriveBy = %v, want %v", got, want)
			}
			ack, arrive := deadline(t, inc, 1), deadline(t, inc, 2)
			if got, want := ack, (lr.Deadline{ID: 1, Kind: lr.DeadlineAcknowledge, Tier: 1, Due: base.Add(tt.wantAck)}); !reflect.DeepEqual(got, want) {
				t.Errorf("deadline 1 = %+v, want %+v", got, want)
			}
			if got, want := arrive, (lr.Deadline{ID: 2, Kind: lr.DeadlineArrive, Tier: 1, Due: inc.ArriveBy}); !reflect.DeepEqual(got, want) {
				t.Errorf("deadline 2 = %+v, want %+v", got, want)
			}
			for i, u := range []lr.Unit{userUnit, maintenance} {
				a := inc.Assignments[i]
				if a.ID != i+1 || a.Tier != 1 || a.Unit.OrganizationID != u.OrganizationID || !a.Auto || !a.NotifiedAt.Equal(base) ||
					!a.TokenExpires.Equal(base.Add(lr.DefaultResponderLinkTTL)) {
					t.Errorf("assignment %d = %+v", i+1, a)
				}
			}
			if tt.opts.life && tt.in.Facts.Fire != nil {
				if got, want := deadline(t, inc, 3), (lr.Deadline{ID: 3, Kind: lr.DeadlineAcknowledge, Tier: 3, AssignmentID: 3, Due: base.Add(lr.DefaultTier3AckTimeout)}); !reflect.DeepEqual(got, want) {
					t.Errorf("deadline 3 = %+v, want %+v", got, want)
				}
			}
			checkList(t, "units", units(inc), tt.wantUnits)
			checkList(t, "events", eventKinds(out), tt.wantEvents)
			checkList(t, "notices", notices(out), tt.wantNotice)
		})
	}
}

// TestDecideScenarios runs sequences of inputs and checks where they lead: the incident's state,
// tier and units, and what the last step recorded and sent.
func TestDecideScenarios(t *testing.T) {
	tests := []struct {
		name        string
		opts        incidentOpts
		moves       []move
		wantState   lr.IncidentState
		wantTier    int
		wantUnits   []string
		wantEvents  []string // of the last step
		wantNotices []string // of the last step
	}{
		{name: "tier 1 accepts",
			moves:     []move{{0, openIn()}, {2 * minute, byUnit(lr.ActionAccept, 2)}},
			wantState: lr.IncidentAcknowledged, wantTier: 1, wantUnits: []string{"t1 notified", "t1 accepted"},
			wantEvents: []string{"accepted"}, wantNotices: []string{}},
		{name: "the user unit's acceptance does not stop the clock: only a rescuer's does",
			moves:     []move{{0, openIn()}, {minute, byUnit(lr.ActionAccept, 1)}, {5 * minute, due(1)}},
			wantState: lr.IncidentAcknowledged, wantTier: 2, wantUnits: []string{"t1 accepted", "t1 timed_out", "t2 notified"},
			wantEvents:  []string{"deadline_missed", "timed_out", "escalated", "notified"},
			wantNotices: []string{"dispatch 3"}},
		{name: "the maintenance company declines while the user unit has accepted: tier 2 at once",
			moves:     []move{{0, openIn()}, {minute, byUnit(lr.ActionAccept, 1)}, {2 * minute, declineIn(2, "无可用人员")}},
			wantState: lr.IncidentAcknowledged, wantTier: 2, wantUnits: []string{"t1 accepted", "t1 declined", "t2 notified"},
			wantEvents:  []string{"declined", "escalated", "notified"},
			wantNotices: []string{"dispatch 3"}},
		{name: "en route without a separate accept",
			moves:     []move{{0, openIn()}, {2 * minute, byUnit(lr.ActionEnRoute, 2)}},
			wantState: lr.IncidentEnRoute, wantTier: 1, wantUnits: []string{"t1 notified", "t1 en_route"},
			wantEvents: []string{"accepted", "en_route"}, wantNotices: []string{}},
		{name: "tier-1 ack deadline dispatches the best tier-2 vehicle",
			moves:     []move{{0, openIn()}, {5 * minute, due(1)}},
			wantState: lr.IncidentNotified, wantTier: 2, wantUnits: []string{"t1 timed_out", "t1 timed_out", "t2 notified"},
			wantEvents:  []string{"deadline_missed", "timed_out", "timed_out", "escalated", "notified"},
			wantNotices: []string{"dispatch 3"}},
		{name: "tier-1 ack deadline fires late too",
			moves:     []move{{0, openIn()}, {17 * minute, due(1)}},
			wantState: lr.IncidentNotified, wantTier: 2, wantUnits: []string{"t1 timed_out", "t1 timed_out", "t2 notified"}},
		{name: "tier-1 ack deadline under manual dispatch waits for the dispatcher", opts: incidentOpts{manual: true},
			moves:     []move{{0, openIn()}, {5 * minute, due(1)}},
			wantState: lr.IncidentAwaitingDispatch, wantTier: 2, wantUnits: []string{"t1 timed_out", "t1 timed_out"},
			wantEvents:  []string{"deadline_missed", "timed_out", "timed_out", "escalated", "awaiting_dispatch"},
			wantNotices: []string{}},
		{name: "manual dispatch: the dispatcher picks a vehicle", opts: incidentOpts{manual: true},
			moves:     []move{{0, openIn()}, {5 * minute, due(1)}, {6 * minute, dispatchIn(vol2)}},
			wantState: lr.IncidentNotified, wantTier: 2, wantUnits: []string{"t1 timed_out", "t1 timed_out", "t2 notified"},
			wantEvents: []string{"notified"}, wantNotices: []string{"dispatch 3"}},
		{name: "manual dispatch: a timed-out tier-1 unit accepts late", opts: incidentOpts{manual: true},
			moves:     []move{{0, openIn()}, {5 * minute, due(1)}, {7 * minute, byUnit(lr.ActionAccept, 2)}},
			wantState: lr.IncidentAcknowledged, wantTier: 2, wantUnits: []string{"t1 timed_out", "t1 accepted"},
			wantEvents: []string{"accepted"}, wantNotices: []string{}},
		{name: "tier-1 ack deadline with no tier-2 candidate goes to the fire station",
			moves:     []move{{0, openIn()}, {5 * minute, noTier2(due(1))}},
			wantState: lr.IncidentNotified, wantTier: 3, wantUnits: []string{"t1 timed_out", "t1 timed_out", "t3 notified"},
			wantEvents:  []string{"deadline_missed", "timed_out", "timed_out", "escalated", "escalated", "notified"},
			wantNotices: []string{"dispatch 3"}},
		{name: "no candidate and no fire station: attention",
			moves:     []move{{0, openIn()}, {5 * minute, noFire(noTier2(due(1)))}},
			wantState: lr.IncidentAwaitingDispatch, wantTier: 3, wantUnits: []string{"t1 timed_out", "t1 timed_out"},
			wantEvents:  []string{"deadline_missed", "timed_out", "timed_out", "escalated", "escalated", "attention"},
			wantNotices: []string{}},
		{name: "tier-2 ack deadline asks the next candidate",
			moves:     []move{{0, openIn()}, {5 * minute, due(1)}, {8 * minute, due(3)}},
			wantState: lr.IncidentNotified, wantTier: 2,
			wantUnits:   []string{"t1 timed_out", "t1 timed_out", "t2 timed_out", "t2 notified"},
			wantEvents:  []string{"deadline_missed", "timed_out", "notified"},
			wantNotices: []string{"dispatch 4"}},
		{name: "the next candidate skips vehicles already asked, whatever the new ranking",
			moves: []move{{0, openIn()}, {5 * minute, due(1)}, {8 * minute, func() lr.Input {
				in := due(3)
				in.Facts.Tier2 = []lr.Unit{vol1, vol3, vol2}
				return in
			}()}},
			wantState: lr.IncidentNotified, wantTier: 2,
			wantUnits:   []string{"t1 timed_out", "t1 timed_out", "t2 timed_out", "t2 notified"},
			wantNotices: []string{"dispatch 4"}},
		{name: "tier-2 decline asks the next candidate at once",
			moves:     []move{{0, openIn()}, {5 * minute, due(1)}, {6 * minute, declineIn(3, "车辆故障")}},
			wantState: lr.IncidentNotified, wantTier: 2,
			wantUnits:   []string{"t1 timed_out", "t1 timed_out", "t2 declined", "t2 notified"},
			wantEvents:  []string{"declined", "notified"},
			wantNotices: []string{"dispatch 4"}},
		{name: "tier-2 decline under manual dispatch waits for the dispatcher", opts: incidentOpts{manual: true},
			moves:     []move{{0, openIn()}, {5 * minute, due(1)}, {6 * minute, dispatchIn(vol1)}, {7 * minute, declineIn(3, "busy")}},
			wantState: lr.IncidentAwaitingDispatch, wantTier: 2,
			wantUnits:   []string{"t1 timed_out", "t1 timed_out", "t2 declined"},
			wantEvents:  []string{"declined", "awaiting_dispatch"},
			wantNotices: []string{}},
		{name: "every tier-2 candidate times out: the fire station",
			moves:     []move{{0, openIn()}, {5 * minute, due(1)}, {8 * minute, due(3)}, {11 * minute, due(5)}},
			wantState: lr.IncidentNotified, wantTier: 3,
			wantUnits:   []string{"t1 timed_out", "t1 timed_out", "t2 timed_out", "t2 timed_out", "t3 notified"},
			wantEvents:  []string{"deadline_missed", "timed_out", "escalated", "notified"},
			wantNotices: []string{"dispatch 5"}},
		{name: "tier-2 arrive deadline missed: the fire station",
			moves:     []move{{0, openIn()}, {5 * minute, due(1)}, {6 * minute, byUnit(lr.ActionAccept, 3)}, {35 * minute, due(4)}},
			wantState: lr.IncidentAcknowledged, wantTier: 3,
			wantUnits:   []string{"t1 timed_out", "t1 timed_out", "t2 accepted", "t3 notified"},
			wantEvents:  []string{"deadline_missed", "escalated", "notified"},
			wantNotices: []string{"dispatch 4"}},
		{name: "tier-1 decline escalates at once",
			moves:     []move{{0, openIn()}, {1 * minute, declineIn(1, "无人值守")}},
			wantState: lr.IncidentNotified, wantTier: 2,
			wantUnits:   []string{"t1 declined", "t1 notified", "t2 notified"},
			wantEvents:  []string{"declined", "escalated", "notified"},
			wantNotices: []string{"dispatch 3"}},
		{name: "tier-1 decline after the other unit accepted stays at tier 1",
			moves:     []move{{0, openIn()}, {1 * minute, byUnit(lr.ActionAccept, 2)}, {2 * minute, declineIn(1, "no staff")}},
			wantState: lr.IncidentAcknowledged, wantTier: 1,
			wantUnits:  []string{"t1 declined", "t1 accepted"},
			wantEvents: []string{"declined"}, wantNotices: []string{}},
		{name: "second tier-1 decline does not ask tier 2 again",
			moves:     []move{{0, openIn()}, {1 * minute, declineIn(1, "no staff")}, {2 * minute, declineIn(2, "road closed")}},
			wantState: lr.IncidentNotified, wantTier: 2,
			wantUnits:  []string{"t1 declined", "t1 declined", "t2 notified"},
			wantEvents: []string{"declined"}, wantNotices: []string{}},
		{name: "tier-1 ack deadline after a tier-1 decline does not escalate again",
			moves:     []move{{0, openIn()}, {1 * minute, declineIn(1, "no staff")}, {5 * minute, due(1)}},
			wantState: lr.IncidentNotified, wantTier: 2,
			wantUnits:  []string{"t1 declined", "t1 timed_out", "t2 notified"},
			wantEvents: []string{"deadline_missed", "timed_out"}, wantNotices: []string{}},
		{name: "tier-1 accepted but not there by ArriveBy: tier 2",
			moves:     []move{{0, openIn()}, {1 * minute, byUnit(lr.ActionAccept, 2)}, {30 * minute, due(2)}},
			wantState: lr.IncidentAcknowledged, wantTier: 2,
			wantUnits:   []string{"t1 notified", "t1 accepted", "t2 notified"},
			wantEvents:  []string{"deadline_missed", "escalated", "notified"},
			wantNotices: []string{"dispatch 3"}},
		{name: "tier-3 ack deadline reminds the fire station", opts: incidentOpts{life: true},
			moves:     []move{{0, openIn()}, {5 * minute, due(3)}},
			wantState: lr.IncidentNotified, wantTier: 3,
			wantUnits:  []string{"t1 notified", "t1 notified", "t3 notified"},
			wantEvents: []string{"deadline_missed"}, wantNotices: []string{"reminder 3"}},
		{name: "tier-3 decline calls for the dispatcher", opts: incidentOpts{life: true},
			moves:     []move{{0, openIn()}, {1 * minute, declineIn(3, "all crews out")}},
			wantState: lr.IncidentNotified, wantTier: 3,
			wantUnits:  []string{"t1 notified", "t1 notified", "t3 declined"},
			wantEvents: []string{"declined", "attention"}, wantNotices: []string{}},
		{name: "a late tier-1 arrival meets the pending deadlines",
			moves:     []move{{0, openIn()}, {5 * minute, due(1)}, {20 * minute, byUnit(lr.ActionArrived, 2)}},
			wantState: lr.IncidentArrived, wantTier: 2,
			wantUnits:  []string{"t1 timed_out", "t1 arrived", "t2 notified"},
			wantEvents: []string{"accepted", "arrived"}, wantNotices: []string{}},
		{name: "released stands the other units down",
			moves: []move{{0, openIn()}, {1 * minute, byUnit(lr.ActionAccept, 2)}, {20 * minute, byUnit(lr.ActionArrived, 2)},
				{25 * minute, releasedIn(2, 1)}},
			wantState: lr.IncidentReleased, wantTier: 1,
			wantUnits:   []string{"t1 stood_down", "t1 released"},
			wantEvents:  []string{"released", "stood_down"},
			wantNotices: []string{"stand_down 1"}},
		{name: "released without naming a unit credits the first to arrive",
			moves: []move{{0, openIn()}, {10 * minute, byUnit(lr.ActionArrived, 1)}, {12 * minute, byUnit(lr.ActionArrived, 2)},
				{25 * minute, releasedIn(0, 2)}},
			wantState: lr.IncidentReleased, wantTier: 1,
			wantUnits:   []string{"t1 released", "t1 stood_down"},
			wantEvents:  []string{"released", "stood_down"},
			wantNotices: []string{"stand_down 2"}},
		{name: "cancel stands everyone down",
			moves:     []move{{0, openIn()}, {5 * minute, due(1)}, {7 * minute, cancelIn(lr.CancelSelfRescued)}},
			wantState: lr.IncidentCancelled, wantTier: 2,
			wantUnits:  []string{"t1 stood_down", "t1 stood_down", "t2 stood_down"},
			wantEvents: []string{"stood_down", "stood_down", "stood_down", "cancelled"},
			// The tier-1 units timed out, but their links still work: they are told too.
			wantNotices: []string{"stand_down 1", "stand_down 2", "stand_down 3"}},
		{name: "cancel right after open",
			moves:     []move{{0, openIn()}, {1 * minute, cancelIn(lr.CancelFalseAlarm)}},
			wantState: lr.IncidentCancelled, wantTier: 1,
			wantUnits:   []string{"t1 stood_down", "t1 stood_down"},
			wantEvents:  []string{"stood_down", "stood_down", "cancelled"},
			wantNotices: []string{"stand_down 1", "stand_down 2"}},
		{name: "dispatcher escalates from tier 1",
			moves:     []move{{0, openIn()}, {2 * minute, byDispatcher(lr.ActionEscalate)}},
			wantState: lr.IncidentNotified, wantTier: 2,
			wantUnits:   []string{"t1 notified", "t1 notified", "t2 notified"},
			wantEvents:  []string{"escalated", "notified"},
			wantNotices: []string{"dispatch 3"}},
		{name: "dispatcher escalates from tier 2",
			moves:     []move{{0, openIn()}, {5 * minute, due(1)}, {6 * minute, byDispatcher(lr.ActionEscalate)}},
			wantState: lr.IncidentNotified, wantTier: 3,
			wantUnits:   []string{"t1 timed_out", "t1 timed_out", "t2 notified", "t3 notified"},
			wantEvents:  []string{"escalated", "notified"},
			wantNotices: []string{"dispatch 4"}},
		{name: "dispatcher escalates for life in danger",
			moves:     []move{{0, openIn()}, {2 * minute, lifeInDanger(byDispatcher(lr.ActionEscalate))}},
			wantState: lr.IncidentNotified, wantTier: 3,
			wantUnits:   []string{"t1 notified", "t1 notified", "t3 notified"},
			wantEvents:  []string{"escalated", "notified"},
			wantNotices: []string{"dispatch 3"}},
		{name: "predicted escalation starts tier 2 early",
			moves:     []move{{0, openIn()}, {1 * minute, byUnit(lr.ActionAccept, 2)}, {2 * minute, predicted()}},
			wantState: lr.IncidentAcknowledged, wantTier: 2,
			wantUnits:   []string{"t1 notified", "t1 accepted", "t2 notified"},
			wantEvents:  []string{"escalated", "notified"},
			wantNotices: []string{"dispatch 3"}},
		{name: "dispatch a volunteer vehicle",
			moves:     []move{{0, openIn()}, {2 * minute, dispatchIn(vol2)}},
			wantState: lr.IncidentNotified, wantTier: 2,
			wantUnits:  []string{"t1 notified", "t1 notified", "t2 notified"},
			wantEvents: []string{"notified"}, wantNotices: []string{"dispatch 3"}},
		{name: "dispatch the fire station",
			moves:     []move{{0, openIn()}, {2 * minute, dispatchIn(fireStation)}},
			wantState: lr.IncidentNotified, wantTier: 3,
			wantUnits:  []string{"t1 notified", "t1 notified", "t3 notified"},
			wantEvents: []string{"notified"}, wantNotices: []string{"dispatch 3"}},
		{name: "dispatch another vehicle of a unit already asked",
			moves:     []move{{0, openIn()}, {5 * minute, due(1)}, {6 * minute, dispatchIn(vol3)}},
			wantState: lr.IncidentNotified, wantTier: 2,
			wantUnits:  []string{"t1 timed_out", "t1 timed_out", "t2 notified", "t2 notified"},
			wantEvents: []string{"notified"}, wantNotices: []string{"dispatch 4"}},
		{name: "dispatch again a vehicle that timed out",
			moves:     []move{{0, openIn()}, {5 * minute, due(1)}, {8 * minute, due(3)}, {9 * minute, dispatchIn(vol1)}},
			wantState: lr.IncidentNotified, wantTier: 2,
			wantUnits:  []string{"t1 timed_out", "t1 timed_out", "t2 timed_out", "t2 notified", "t2 notified"},
			wantEvents: []string{"notified"}, wantNotices: []string{"dispatch 5"}},
		{name: "dispatch the fire station to a unit on site",
			moves:     []move{{0, openIn()}, {20 * minute, byUnit(lr.ActionArrived, 2)}, {25 * minute, dispatchIn(fireStation)}},
			wantState: lr.IncidentArrived, wantTier: 3,
			wantUnits:  []string{"t1 notified", "t1 arrived", "t3 notified"},
			wantEvents: []string{"notified"}, wantNotices: []string{"dispatch 3"}},
		{name: "a note changes nothing",
			moves: []move{{0, openIn()}, {1 * minute, func() lr.Input {
				in := byDispatcher(lr.ActionNote)
				in.Note = "caller calm, two adults"
				return in
			}()}},
			wantState: lr.IncidentNotified, wantTier: 1,
			wantUnits:  []string{"t1 notified", "t1 notified"},
			wantEvents: []string{"note"}, wantNotices: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc, out := run(t, tt.opts, tt.moves)
			if got, want := inc.State, tt.wantState; got != want {
				t.Errorf("state = %s, want %s", got, want)
			}
			if got, want := inc.Tier, tt.wantTier; got != want {
				t.Errorf("tier = %d, want %d", got, want)
			}
			checkList(t, "units", units(inc), tt.wantUnits)
			checkList(t, "events", eventKinds(out), tt.wantEvents)
			checkList(t, "notices", notices(out), tt.wantNotices)
		})
	}
}

// TestDecideRefuses checks the errors: the incident passed in stays as it was (decide checks it)
// and every conflict lists the actions allowed now.
func TestDecideRefuses(t *testing.T) {
	opened := []move{{0, openIn()}}
	tier2 := []move{{0, openIn()}, {5 * minute, due(1)}}
	arrived := []move{{0, openIn()}, {1 * minute, byUnit(lr.ActionAccept, 2)}, {20 * minute, byUnit(lr.ActionArrived, 2)}}
	released := append(slices.Clone(arrived), move{25 * minute, releasedIn(2, 2)})
	calledBack := append(slices.Clone(released), move{30 * minute, byDispatcher(lr.ActionCallbackDone)})
	closed := append(slices.Clone(calledBack), move{31 * minute, closeIn(lr.CauseDoorSystem)})
	cancelled := append(slices.Clone(opened), move{2 * minute, cancelIn(lr.CancelDuplicate)})
	note := func(s string) lr.Input {
		in := byDispatcher(lr.ActionNote)
		in.Note = s
		return in
	}
	tests := []struct {
		name  string
		opts  incidentOpts
		setup []move
		in    lr.Input
		at    time.Duration
		want  string
	}{
		{"open twice", incidentOpts{}, opened, openIn(), minute, lr.ECONFLICT},
		{"open without tier-1 units", incidentOpts{}, nil, lr.Input{Action: lr.ActionOpen, Actor: dispatcher}, 0, lr.EINVALID},
		{"no actor", incidentOpts{}, opened, as(lr.Actor{}, byDispatcher(lr.ActionEscalate)), minute, lr.EINVALID},
		{"unknown action", incidentOpts{}, opened, byDispatcher("teleport"), minute, lr.EINVALID},
		{"escalate before open", incidentOpts{}, nil, byDispatcher(lr.ActionEscalate), 0, lr.ECONFLICT},
		{"dispatch before open", incidentOpts{}, nil, dispatchIn(vol1), 0, lr.ECONFLICT},
		{"cancel before open", incidentOpts{}, nil, cancelIn(lr.CancelFalseAlarm), 0, lr.ECONFLICT},
		{"accept an unknown assignment", incidentOpts{}, opened, byUnit(lr.ActionAccept, 9), minute, lr.ENOTFOUND},
		{"an unknown deadline", incidentOpts{}, opened, due(9), time.Hour, lr.ENOTFOUND},
		{"a deadline not due yet", incidentOpts{}, opened, due(1), 5*minute - time.Second, lr.ECONFLICT},
		{"a deadline already met", incidentOpts{}, []move{{0, openIn()}, {minute, byUnit(lr.ActionAccept, 2)}}, due(1), 5 * minute, lr.ECONFLICT},
		{"a deadline already fired", incidentOpts{}, tier2, due(1), 6 * minute, lr.ECONFLICT},
		{"a deadline of a cancelled incident", incidentOpts{}, cancelled, due(2), time.Hour, lr.ECONFLICT},
		{"a deadline of a closed incident", incidentOpts{}, closed, due(2), time.Hour, lr.ECONFLICT},
		{"accept twice", incidentOpts{}, arrived[:2], byUnit(lr.ActionAccept, 2), 2 * minute, lr.ECONFLICT},
		{"en route after arrival", incidentOpts{}, arrived, byUnit(lr.ActionEnRoute, 2), 21 * minute, lr.ECONFLICT},
		{"arrive twice", incidentOpts{}, arrived, byUnit(lr.ActionArrived, 2), 21 * minute, lr.ECONFLICT},
		{"decline after arrival", incidentOpts{}, arrived, declineIn(2, "tired"), 21 * minute, lr.ECONFLICT},
		{"tier-1 decline without reason", incidentOpts{}, opened, declineIn(1, "  "), minute, lr.EINVALID},
		{"tier-2 decline without reason", incidentOpts{}, tier2, declineIn(3, ""), 6 * minute, lr.EINVALID},
		{"decline twice", incidentOpts{}, []move{{0, openIn()}, {minute, declineIn(1, "x")}}, declineIn(1, "y"), 2 * minute, lr.ECONFLICT},
		{"released before arrival", incidentOpts{}, opened, releasedIn(0, 1), 10 * minute, lr.ECONFLICT},
		{"released without a count", incidentOpts{}, arrived, byUnit(lr.ActionReleased, 2), 25 * minute, lr.EINVALID},
		{"released with a bad count", incidentOpts{}, arrived, releasedIn(2, -1), 25 * minute, lr.EINVALID},
		{"released with a bad cause", incidentOpts{}, arrived, func() lr.Input { in := releasedIn(2, 1); in.Cause = "gremlins"; return in }(), 25 * minute, lr.EINVALID},
		{"released by a unit not on site", incidentOpts{}, arrived, releasedIn(1, 1), 25 * minute, lr.ECONFLICT},
		{"released twice", incidentOpts{}, released, releasedIn(2, 1), 26 * minute, lr.ECONFLICT},
		{"callback before release", incidentOpts{}, arrived, byDispatcher(lr.ActionCallbackDone), 25 * minute, lr.ECONFLICT},
		{"callback twice", incidentOpts{}, calledBack, byDispatcher(lr.ActionCallbackDone), 31 * minute, lr.ECONFLICT},
		{"close before release", incidentOpts{}, arrived, closeIn(lr.CauseBrake), 25 * minute, lr.ECONFLICT},
		{"close before callback", incidentOpts{}, released, closeIn(lr.CauseBrake), 26 * minute, lr.ECONFLICT},
		{"close without cause", incidentOpts{}, calledBack, closeIn(""), 31 * minute, lr.EINVALID},
		{"close with a bad cause", incidentOpts{}, calledBack, closeIn("gremlins"), 31 * minute, lr.EINVALID},
		{"close twice", incidentOpts{}, closed, closeIn(lr.CauseBrake), 32 * minute, lr.ECONFLICT},
		{"cancel without reason", incidentOpts{}, opened, cancelIn(""), minute, lr.EINVALID},
		{"cancel with a bad reason", incidentOpts{}, opened, cancelIn("bored"), minute, lr.EINVALID},
		{"cancel after release", incidentOpts{}, released, cancelIn(lr.CancelOther), 26 * minute, lr.ECONFLICT},
		{"cancel twice", incidentOpts{}, cancelled, cancelIn(lr.CancelOther), 3 * minute, lr.ECONFLICT},
		{"accept after cancel", incidentOpts{}, cancelled, byUnit(lr.ActionAccept, 1), 3 * minute, lr.ECONFLICT},
		{"escalate after close", incidentOpts{}, closed, byDispatcher(lr.ActionEscalate), 40 * minute, lr.ECONFLICT},
		{"escalate at tier 3", incidentOpts{life: true}, opened, byDispatcher(lr.ActionEscalate), minute, lr.ECONFLICT},
		{"life in danger at tier 3", incidentOpts{life: true}, opened, lifeInDanger(byDispatcher(lr.ActionEscalate)), minute, lr.ECONFLICT},
		{"predicted twice", incidentOpts{}, []move{{0, openIn()}, {minute, predicted()}}, predicted(), 2 * minute, lr.ECONFLICT},
		{"predicted from tier 2", incidentOpts{}, tier2, predicted(), 6 * minute, lr.ECONFLICT},
		{"dispatch a vehicle already on the incident", incidentOpts{}, tier2, dispatchIn(vol1), 6 * minute, lr.ECONFLICT},
		{"dispatch the fire station twice", incidentOpts{life: true}, opened, dispatchIn(fireStation), minute, lr.ECONFLICT},
		{"dispatch without a unit", incidentOpts{}, opened, byDispatcher(lr.ActionDispatch), minute, lr.EINVALID},
		{"dispatch after release", incidentOpts{}, released, dispatchIn(vol2), 26 * minute, lr.ECONFLICT},
		{"an empty note", incidentOpts{}, opened, note(" "), minute, lr.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := newIncident(tt.opts)
			if len(tt.setup) > 0 {
				inc, _ = run(t, tt.opts, tt.setup)
			}
			_, err := decide(t, policy(tt.opts), inc, tt.in, tt.at)
			if got := lr.ErrorCode(err); got != tt.want {
				t.Errorf("Decide(%s) = %v, want code %s", tt.in.Action, err, tt.want)
			}
		})
	}
}

// TestDecideHappyPath walks a rescue by tier 1 from the report to the closed record.
func TestDecideHappyPath(t *testing.T) {
	inc := newIncident(incidentOpts{})

	out := mustDecide(t, inc, openIn(), 0)
	inc = out.Incident
	if inc.State != lr.IncidentNotified || inc.Tier != 1 || len(inc.Assignments) != 2 || len(inc.Deadlines) != 2 {
		t.Fatalf("after open: %s tier %d, %d units, %d deadlines", inc.State, inc.Tier, len(inc.Assignments), len(inc.Deadlines))
	}

	out = mustDecide(t, inc, byUnit(lr.ActionAccept, 2), 2*minute)
	inc = out.Incident
	if got, want := inc.State, lr.IncidentAcknowledged; got != want {
		t.Errorf("after accept: state %s, want %s", got, want)
	}
	if d := deadline(t, inc, 1); d.MetAt == nil || !d.MetAt.Equal(base.Add(2*minute)) || d.FiredAt != nil {
		t.Errorf("tier-1 acknowledge deadline after accept = %+v, want met at +2m", d)
	}
	if d := deadline(t, inc, 2); !d.Pending() {
		t.Errorf("tier-1 arrive deadline after accept = %+v, want pending", d)
	}
	if a := inc.Assignment(2); a.AcceptedAt == nil || !a.AcceptedAt.Equal(base.Add(2*minute)) {
		t.Errorf("assignment 2 AcceptedAt = %v", a.AcceptedAt)
	}

	out = mustDecide(t, inc, byUnit(lr.ActionEnRoute, 2), 3*minute)
	inc = out.Incident
	checkList(t, "en_route events", eventKinds(out), []string{"en_route"})
	if got, want := inc.State, lr.IncidentEnRoute; got != want {
		t.Errorf("after en_route: state %s, want %s", got, want)
	}

	out = mustDecide(t, inc, byUnit(lr.ActionArrived, 2), 21*minute)
	inc = out.Incident
	if got, want := inc.State, lr.IncidentArrived; got != want {
		t.Errorf("after arrived: state %s, want %s", got, want)
	}
	if a := inc.Assignment(2); a.ArrivedBy != "responder" || a.ArrivedAt == nil || !a.ArrivedAt.Equal(base.Add(21*minute)) {
		t.Errorf("assignment 2 arrived %v by %q", a.ArrivedAt, a.ArrivedBy)
	}
	if inc.ArrivedAt == nil || !inc.ArrivedAt.Equal(base.Add(21*minute)) {
		t.Errorf("incident ArrivedAt = %v", inc.ArrivedAt)
	}
	if next := inc.NextDeadline(); next != nil {
		t.Errorf("a deadline is still pending after arrival: %+v", next)
	}

	out = mustDecide(t, inc, releasedIn(2, 2), 29*minute)
	inc = out.Incident
	checkList(t, "released events", eventKinds(out), []string{"released", "stood_down"})
	checkList(t, "released notices", notices(out), []string{"stand_down 1"})
	if inc.State != lr.IncidentReleased || inc.RescuedBy != 2 || inc.ReleasedCount != 2 || inc.ReleasedAt == nil {
		t.Errorf("after released: %s, rescued by %d, %d released at %v", inc.State, inc.RescuedBy, inc.ReleasedCount, inc.ReleasedAt)
	}
	checkList(t, "units", units(inc), []string{"t1 stood_down", "t1 released"})
	if got, want := lr.AllowedActions(inc), []lr.Action{lr.ActionCallbackDone, lr.ActionNote}; !slices.Equal(got, want) {
		t.Errorf("allowed after release = %v, want %v", got, want)
	}

	if _, err := decide(t, lr.DefaultPolicy(), inc, closeIn(lr.CauseDoorSystem), 30*minute); lr.ErrorCode(err) != lr.ECONFLICT {
		t.Errorf("close before callback = %v, want %s", err, lr.ECONFLICT)
	}
	cb := byDispatcher(lr.ActionCallbackDone)
	cb.Note = "  passengers fine  "
	out = mustDecide(t, inc, cb, 33*minute)
	inc = out.Incident
	if inc.CallbackAt == nil || inc.CallbackNote != "passengers fine" || inc.State != lr.IncidentReleased {
		t.Errorf("after callback: %v %q %s", inc.CallbackAt, inc.CallbackNote, inc.State)
	}

	if _, err := decide(t, lr.DefaultPolicy(), inc, closeIn(""), 34*minute); lr.ErrorCode(err) != lr.EINVALID {
		t.Errorf("close without cause = %v, want %s", err, lr.EINVALID)
	}
	out = mustDecide(t, inc, closeIn(lr.CauseDoorSystem), 35*minute)
	inc = out.Incident
	checkList(t, "close events", eventKinds(out), []string{"closed"})
	if inc.State != lr.IncidentClosed || inc.Cause != lr.CauseDoorSystem || inc.ClosedAt == nil || !inc.ClosedAt.Equal(base.Add(35*minute)) {
		t.Errorf("after close: %s cause %q at %v", inc.State, inc.Cause, inc.ClosedAt)
	}
	if got, want := lr.AllowedActions(inc), []lr.Action{lr.ActionNote}; !slices.Equal(got, want) {
		t.Errorf("allowed after close = %v, want %v", got, want)
	}
}

// TestDecideTier2DeclinesThenFire walks tier 1 timing out, both volunteer vehicles declining, and
// the fire station rescuing.
func TestDecideTier2DeclinesThenFire(t *testing.T) {
	inc := mustDecide(t, newIncident(incidentOpts{}), openIn(), 0).Incident

	out := mustDecide(t, inc, due(1), 5*minute)
	inc = out.Incident
	checkList(t, "units", units(inc), []string{"t1 timed_out", "t1 timed_out", "t2 notified"})
	if a := inc.Assignment(3); a.Unit.VehicleID != vol1.VehicleID || !a.Auto {
		t.Errorf("tier-2 unit = %+v, want vehicle %d chosen automatically", a, vol1.VehicleID)
	}
	if got, want := deadline(t, inc, 3), (lr.Deadline{ID: 3, Kind: lr.DeadlineAcknowledge, Tier: 2, AssignmentID: 3, Due: base.Add(8 * minute)}); !reflect.DeepEqual(got, want) {
		t.Errorf("deadline 3 = %+v, want %+v", got, want)
	}
	if got, want := deadline(t, inc, 4), (lr.Deadline{ID: 4, Kind: lr.DeadlineArrive, Tier: 2, AssignmentID: 3, Due: base.Add(35 * minute)}); !reflect.DeepEqual(got, want) {
		t.Errorf("deadline 4 = %+v, want %+v", got, want)
	}
	if got, want := string(out.Events[4].Data), `{"distance_m":1250,"eta_s":300,"organization":"网格一队","organization_id":21,"plate":"鲁D20001","role":"volunteer","vehicle_id":201}`; got != want {
		t.Errorf("notified data = %s, want %s", got, want)
	}
	if d := deadline(t, inc, 1); d.FiredAt == nil || !d.FiredAt.Equal(base.Add(5*minute)) {
		t.Errorf("deadline 1 = %+v, want fired at +5m", d)
	}

	out = mustDecide(t, inc, declineIn(3, "车辆在修"), 6*minute)
	inc = out.Incident
	checkList(t, "events", eventKinds(out), []string{"declined", "notified"})
	if a := inc.Assignment(3); a.Reason != "车辆在修" || a.EndedAt == nil {
		t.Errorf("declined unit = reason %q ended %v", a.Reason, a.EndedAt)
	}
	for _, id := range []int{3, 4} {
		if d := deadline(t, inc, id); d.MetAt == nil {
			t.Errorf("deadline %d of the declined unit = %+v, want met", id, d)
		}
	}
	if a := inc.Assignment(4); a.Unit.VehicleID != vol2.VehicleID {
		t.Errorf("next unit = vehicle %d, want %d", a.Unit.VehicleID, vol2.VehicleID)
	}
	if _, err := decide(t, lr.DefaultPolicy(), inc, due(3), 8*minute); lr.ErrorCode(err) != lr.ECONFLICT {
		t.Errorf("the declined unit's deadline fired = %v, want %s", err, lr.ECONFLICT)
	}

	out = mustDecide(t, inc, declineIn(4, "busy on another job"), 7*minute)
	inc = out.Incident
	checkList(t, "events", eventKinds(out), []string{"declined", "escalated", "notified"})
	checkList(t, "notices", notices(out), []string{"dispatch 5"})
	checkList(t, "units", units(inc), []string{"t1 timed_out", "t1 timed_out", "t2 declined", "t2 declined", "t3 notified"})
	if inc.Tier != 3 || inc.State != lr.IncidentNotified {
		t.Errorf("after both declined: tier %d %s", inc.Tier, inc.State)
	}

	out = mustDecide(t, inc, byUnit(lr.ActionAccept, 5), 8*minute)
	inc = out.Incident
	if d := deadline(t, inc, 7); d.Kind != lr.DeadlineAcknowledge || d.AssignmentID != 5 || d.MetAt == nil {
		t.Errorf("fire station's deadline = %+v, want met", d)
	}

	out = mustDecide(t, inc, as(system, byUnit(lr.ActionArrived, 5)), 19*minute)
	inc = out.Incident
	if a := inc.Assignment(5); a.ArrivedBy != "gps" || inc.State != lr.IncidentArrived {
		t.Errorf("after GPS arrival: by %q, %s", a.ArrivedBy, inc.State)
	}
	if next := inc.NextDeadline(); next != nil {
		t.Errorf("pending after arrival: %+v", next)
	}
	if _, err := decide(t, lr.DefaultPolicy(), inc, due(2), 30*minute); lr.ErrorCode(err) != lr.ECONFLICT {
		t.Errorf("tier-1 arrive deadline after the arrival = %v, want %s", err, lr.ECONFLICT)
	}

	out = mustDecide(t, inc, releasedIn(0, 2), 27*minute)
	inc = out.Incident
	if inc.RescuedBy != 5 || inc.State != lr.IncidentReleased {
		t.Errorf("rescued by %d, %s; want 5, released", inc.RescuedBy, inc.State)
	}
	// The tier-1 units had timed out: they are stood down and told, as they may still be coming.
	checkList(t, "released events", eventKinds(out), []string{"released", "stood_down", "stood_down"})
	checkList(t, "units", units(inc), []string{"t1 stood_down", "t1 stood_down", "t2 declined", "t2 declined", "t3 released"})
	inc = mustDecide(t, inc, byDispatcher(lr.ActionCallbackDone), 40*minute).Incident
	inc = mustDecide(t, inc, closeIn(lr.CauseDoorSystem), 41*minute).Incident
	if inc.State != lr.IncidentClosed {
		t.Errorf("final state %s", inc.State)
	}
}

func TestDecideDeadlineFiresOnce(t *testing.T) {
	for _, at := range []time.Duration{5 * minute, 5*minute + time.Nanosecond, time.Hour} {
		t.Run(at.String(), func(t *testing.T) {
			inc := mustDecide(t, newIncident(incidentOpts{}), openIn(), 0).Incident
			out := mustDecide(t, inc, due(1), at)
			d := deadline(t, out.Incident, 1)
			if want := base.Add(at).Truncate(time.Microsecond); d.FiredAt == nil || !d.FiredAt.Equal(want) || d.MetAt != nil {
				t.Errorf("deadline = %+v, want fired at %v", d, want)
			}
			if _, err := decide(t, lr.DefaultPolicy(), out.Incident, due(1), at); lr.ErrorCode(err) != lr.ECONFLICT {
				t.Errorf("second firing = %v, want %s", err, lr.ECONFLICT)
			}
		})
	}
}

func TestDecideArrivedBy(t *testing.T) {
	tests := []struct {
		actor lr.ActorKind
		want  string
	}{
		{lr.ActorUnit, "responder"},
		{lr.ActorSystem, "gps"},
		{lr.ActorDevice, "gps"},
		{lr.ActorDispatcher, "dispatcher"},
	}
	for _, tt := range tests {
		t.Run(string(tt.actor), func(t *testing.T) {
			inc := mustDecide(t, newIncident(incidentOpts{}), openIn(), 0).Incident
			inc = mustDecide(t, inc, as(lr.Actor{Kind: tt.actor, Name: "x"}, byUnit(lr.ActionArrived, 1)), 12*minute).Incident
			if got := inc.Assignment(1).ArrivedBy; got != tt.want {
				t.Errorf("ArrivedBy = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecideEscalateAndDispatch(t *testing.T) {
	t.Run("life in danger marks the incident", func(t *testing.T) {
		inc, _ := run(t, incidentOpts{}, []move{{0, openIn()}, {minute, lifeInDanger(byDispatcher(lr.ActionEscalate))}})
		if !inc.LifeInDanger {
			t.Error("LifeInDanger not set")
		}
	})
	t.Run("predicted marks the incident", func(t *testing.T) {
		inc, _ := run(t, incidentOpts{}, []move{{0, openIn()}, {minute, predicted()}})
		if !inc.Predicted || inc.Tier != 2 {
			t.Errorf("Predicted %v tier %d", inc.Predicted, inc.Tier)
		}
	})
	t.Run("a dispatched vehicle gets its own deadlines", func(t *testing.T) {
		inc, _ := run(t, incidentOpts{}, []move{{0, openIn()}, {10 * minute, dispatchIn(vol2)}})
		a := inc.Assignment(3)
		if a.Auto || a.Tier != 2 || a.Unit.VehicleID != vol2.VehicleID {
			t.Errorf("assignment = %+v", a)
		}
		if got, want := deadline(t, inc, 3), (lr.Deadline{ID: 3, Kind: lr.DeadlineAcknowledge, Tier: 2, AssignmentID: 3, Due: base.Add(13 * minute)}); !reflect.DeepEqual(got, want) {
			t.Errorf("deadline 3 = %+v, want %+v", got, want)
		}
		if got, want := deadline(t, inc, 4), (lr.Deadline{ID: 4, Kind: lr.DeadlineArrive, Tier: 2, AssignmentID: 3, Due: base.Add(40 * minute)}); !reflect.DeepEqual(got, want) {
			t.Errorf("deadline 4 = %+v, want %+v", got, want)
		}
	})
	t.Run("accept with a vehicle records it", func(t *testing.T) {
		in := byUnit(lr.ActionAccept, 2)
		v := lr.Unit{TeamID: 9, VehicleID: 909, Plate: "鲁D90909"}
		in.Facts.Chosen, in.VehicleID = &v, v.VehicleID
		inc, out := run(t, incidentOpts{}, []move{{0, openIn()}, {minute, in}})
		if a := inc.Assignment(2); a.Unit.VehicleID != 909 || a.Unit.Plate != "鲁D90909" || a.Unit.OrganizationID != maintenance.OrganizationID {
			t.Errorf("unit = %+v", a.Unit)
		}
		if got := string(out.Events[0].Data); got != `{"plate":"鲁D90909","vehicle_id":909}` {
			t.Errorf("accepted data = %s", got)
		}
	})
}

func TestAllowedActions(t *testing.T) {
	all := func(extra ...lr.Action) []lr.Action {
		a := append([]lr.Action{lr.ActionAccept, lr.ActionArrived, lr.ActionCancel, lr.ActionDecline, lr.ActionDispatch,
			lr.ActionEnRoute, lr.ActionNote}, extra...)
		slices.Sort(a)
		return a
	}
	tests := []struct {
		name  string
		opts  incidentOpts
		moves []move
		want  []lr.Action
	}{
		{"not yet opened", incidentOpts{}, nil, []lr.Action{lr.ActionOpen}},
		{"notified", incidentOpts{}, []move{{0, openIn()}}, all(lr.ActionEscalate)},
		{"notified at tier 3", incidentOpts{life: true}, []move{{0, openIn()}}, all()},
		{"awaiting dispatch with late units", incidentOpts{manual: true}, []move{{0, openIn()}, {5 * minute, due(1)}}, all(lr.ActionEscalate)},
		{"awaiting dispatch, nobody left", incidentOpts{manual: true},
			[]move{{0, openIn()}, {minute, declineIn(1, "x")}, {minute, declineIn(2, "y")}},
			[]lr.Action{lr.ActionCancel, lr.ActionDispatch, lr.ActionEscalate, lr.ActionNote}},
		{"arrived, another unit still notified", incidentOpts{}, []move{{0, openIn()}, {9 * minute, byUnit(lr.ActionArrived, 2)}},
			all(lr.ActionEscalate, lr.ActionReleased)},
		{"released", incidentOpts{}, []move{{0, openIn()}, {9 * minute, byUnit(lr.ActionArrived, 2)}, {19 * minute, releasedIn(2, 1)}},
			[]lr.Action{lr.ActionCallbackDone, lr.ActionNote}},
		{"called back", incidentOpts{}, []move{{0, openIn()}, {9 * minute, byUnit(lr.ActionArrived, 2)}, {19 * minute, releasedIn(2, 1)},
			{20 * minute, byDispatcher(lr.ActionCallbackDone)}}, []lr.Action{lr.ActionClose, lr.ActionNote}},
		{"cancelled", incidentOpts{}, []move{{0, openIn()}, {minute, cancelIn(lr.CancelDuplicate)}}, []lr.Action{lr.ActionNote}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := newIncident(tt.opts)
			if len(tt.moves) > 0 {
				inc, _ = run(t, tt.opts, tt.moves)
			}
			if got := lr.AllowedActions(inc); !slices.Equal(got, tt.want) {
				t.Errorf("AllowedActions = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestAllowedActionsCoverDecide tries every dispatcher action on every unit of incidents in each
// state: whatever Decide accepts must be listed by AllowedActions, which clients show as the
// buttons and which a refusal returns.
func TestAllowedActionsCoverDecide(t *testing.T) {
	setups := map[string][]move{
		"notified":          {{0, openIn()}},
		"acknowledged":      {{0, openIn()}, {minute, byUnit(lr.ActionAccept, 2)}},
		"tier 2":            {{0, openIn()}, {5 * minute, due(1)}},
		"tier 3":            {{0, openIn()}, {5 * minute, noTier2(due(1))}},
		"arrived":           {{0, openIn()}, {9 * minute, byUnit(lr.ActionArrived, 2)}},
		"arrived, tier 2":   {{0, openIn()}, {5 * minute, due(1)}, {9 * minute, byUnit(lr.ActionArrived, 3)}},
		"released":          {{0, openIn()}, {9 * minute, byUnit(lr.ActionArrived, 2)}, {10 * minute, releasedIn(2, 1)}},
		"called back":       {{0, openIn()}, {9 * minute, byUnit(lr.ActionArrived, 2)}, {10 * minute, releasedIn(2, 1)}, {11 * minute, byDispatcher(lr.ActionCallbackDone)}},
		"cancelled":         {{0, openIn()}, {minute, cancelIn(lr.CancelFalseAlarm)}},
		"awaiting dispatch": {{0, openIn()}, {5 * minute, noFire(noTier2(due(1)))}},
	}
	actions := []lr.Action{lr.ActionAccept, lr.ActionDecline, lr.ActionEnRoute, lr.ActionArrived, lr.ActionReleased,
		lr.ActionCallbackDone, lr.ActionClose, lr.ActionCancel, lr.ActionNote, lr.ActionEscalate, lr.ActionDispatch}
	for name, setup := range setups {
		t.Run(name, func(t *testing.T) {
			inc, _ := run(t, incidentOpts{}, setup)
			allowed := lr.AllowedActions(inc)
			for _, a := range actions {
				for id := 0; id <= len(inc.Assignments); id++ {
					in := byDispatcher(a)
					in.AssignmentID, in.Reason, in.Note, in.Cause, in.CancelReason = id, "why", "note", lr.CauseOther, lr.CancelOther
					n := 1
					in.Released = &n
					in.Facts.Chosen = &vol3
					p := lr.DefaultPolicy()
					if _, err := lr.Decide(inc, in, base.Add(time.Hour), &p); err == nil && !slices.Contains(allowed, a) {
						t.Errorf("Decide accepts %s on assignment %d but AllowedActions = %v", a, id, allowed)
					}
				}
			}
		})
	}
}

// TestDecideRandomWalk drives incidents with random steps from a fixed seed and checks after each
// accepted step what must always hold; decide checks the rest (input untouched, events, notices).
func TestDecideRandomWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for walk := 0; walk < 100; walk++ {
		o := incidentOpts{life: rng.IntN(5) == 0, rural: rng.IntN(3) == 0, manual: rng.IntN(3) == 0}
		p := policy(o)
		inc := mustDecide(t, newIncident(o), openIn(), 0).Incident
		at := time.Duration(0)
		for i := 0; i < 40 && !inc.State.Ended(); i++ {
			at += time.Duration(rng.IntN(240)) * time.Second
			in := randomInput(rng, inc)
			out, err := decide(t, p, inc, in, at)
			if err != nil {
				if c := lr.ErrorCode(err); c != lr.ECONFLICT && c != lr.EINVALID && c != lr.ENOTFOUND {
					t.Fatalf("walk %d step %d: %s: %v", walk, i, in.Action, err)
				}
				continue
			}
			checkInvariants(t, inc, out.Incident)
			if t.Failed() {
				t.Fatalf("walk %d step %d: %s %+v\nunits %v", walk, i, in.Action, in, units(out.Incident))
			}
			inc = out.Incident
		}
	}
}

func randomInput(rng *rand.Rand, inc *lr.Incident) lr.Input {
	actions := []lr.Action{lr.ActionAccept, lr.ActionDecline, lr.ActionEnRoute, lr.ActionArrived, lr.ActionReleased,
		lr.ActionCallbackDone, lr.ActionClose, lr.ActionCancel, lr.ActionNote, lr.ActionEscalate, lr.ActionDispatch,
		lr.ActionDeadline, lr.ActionDeadline, lr.ActionDeadline, lr.ActionDeadline}
	actors := []lr.Actor{dispatcher, system, responder}
	in := lr.Input{Action: actions[rng.IntN(len(actions))], Actor: actors[rng.IntN(len(actors))], Facts: world(),
		AssignmentID: rng.IntN(len(inc.Assignments) + 1), Note: "n", Reason: "r", Cause: lr.CauseOther}
	if rng.IntN(2) == 0 {
		in.Facts.Tier2 = nil
	}
	if rng.IntN(4) == 0 {
		in.Facts.Fire = nil
	}
	if rng.IntN(2) == 0 {
		in.CancelReason = lr.CancelFalseAlarm
	}
	n := rng.IntN(3)
	in.Released = &n
	in.LifeInDanger = rng.IntN(6) == 0
	in.Predicted = in.Action == lr.ActionEscalate && rng.IntN(3) == 0
	chosen := []lr.Unit{vol1, vol2, vol3, fireStation}[rng.IntN(4)]
	in.Facts.Chosen = &chosen
	if in.Action == lr.ActionDeadline {
		// Mostly the next deadline at or after its time, as the engine fires them.
		in.DeadlineID = rng.IntN(len(inc.Deadlines) + 1)
		if d := inc.NextDeadline(); d != nil && rng.IntN(3) > 0 {
			in.DeadlineID = d.ID
		}
	}
	return in
}

func checkInvariants(t *testing.T, before, inc *lr.Incident) {
	t.Helper()
	if inc.Tier < 1 || inc.Tier > 3 {
		t.Errorf("tier %d", inc.Tier)
	}
	active := 0
	for i, a := range inc.Assignments {
		if a.ID != i+1 || a.Tier < 1 || a.Tier > 3 || a.Tier > inc.Tier {
			t.Errorf("assignment %d: id %d tier %d (incident tier %d)", i+1, a.ID, a.Tier, inc.Tier)
		}
		if a.State.Active() {
			active++
		}
	}
	for i, d := range inc.Deadlines {
		if d.ID != i+1 || d.FiredAt != nil && d.MetAt != nil || d.AssignmentID != 0 && inc.Assignment(d.AssignmentID) == nil {
			t.Errorf("deadline %+v", d)
		}
		if i < len(before.Deadlines) && !before.Deadlines[i].Pending() && !reflect.DeepEqual(d, before.Deadlines[i]) {
			t.Errorf("deadline %d changed after it fired or was met: %+v -> %+v", d.ID, before.Deadlines[i], d)
		}
		if d.Pending() && (inc.State.Ended() || inc.State == lr.IncidentReleased || inc.ArrivedAt != nil && d.AssignmentID == 0) {
			t.Errorf("deadline %d still pending in state %s", d.ID, inc.State)
		}
	}
	switch inc.State {
	case lr.IncidentClosed:
		if !inc.Cause.Valid() || inc.CallbackAt == nil || inc.ReleasedAt == nil || inc.ClosedAt == nil {
			t.Errorf("closed without cause, callback or release")
		}
		fallthrough
	case lr.IncidentReleased:
		if a := inc.Assignment(inc.RescuedBy); a == nil || a.State != lr.AssignmentReleased {
			t.Errorf("released by assignment %d", inc.RescuedBy)
		}
		fallthrough
	case lr.IncidentCancelled:
		if active > 0 {
			t.Errorf("%d units still active in state %s", active, inc.State)
		}
	case lr.IncidentAwaitingDispatch:
		if active > 0 {
			t.Errorf("awaiting dispatch with %d active units", active)
		}
	default:
		if active == 0 {
			t.Errorf("state %s with no active unit", inc.State)
		}
	}
}
