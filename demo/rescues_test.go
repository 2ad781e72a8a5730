package demo

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// centre is the dispatch service in miniature, for the simulation's tests: it holds the seeded city
// and the incidents in memory and moves them with liftrescue.Decide as the engine does, fires their
// deadlines and marks GPS arrivals from the fixes it is fed, all on the test's clock.
type centre struct {
	t       *testing.T
	policy  liftrescue.Policy
	now     time.Time
	maxOwn  int // an Open of the simulation beyond this many of its incidents open fails the test
	orgs    []liftrescue.Organization
	vehicle []liftrescue.Vehicle
	byCode  map[string]*liftrescue.Elevator
	rural   map[string]bool
	inc     []*liftrescue.Incident // by id − 1
	fixes   map[string]liftrescue.Fix
	// What happened, for the assertions: every event's kind, and one line per event for comparing runs.
	kinds map[string]int
	log   []string
}

func newCentre(t *testing.T, city *City, policy liftrescue.Policy, start time.Time) *centre {
	s := newMemStore()
	if err := Seed(t.Context(), s, city, nil); err != nil {
		t.Fatal(err)
	}
	c := &centre{t: t, policy: policy, now: start, maxOwn: DefaultRescueMaxOpen, orgs: s.orgs,
		byCode: map[string]*liftrescue.Elevator{}, rural: map[string]bool{}, fixes: map[string]liftrescue.Fix{}, kinds: map[string]int{}}
	for _, v := range s.vehicles {
		v.OrganizationID = s.teams[v.TeamID-1].OrganizationID
		c.vehicle = append(c.vehicle, v)
	}
	for i := range s.elevators {
		e := &s.elevators[i]
		e.ID = int64(i + 1)
		c.byCode[e.RescueCode] = e
	}
	for _, d := range city.Districts {
		c.rural[d.Code] = d.Rural
	}
	return c
}

func (c *centre) Open(_ context.Context, n liftrescue.NewIncident, _ string, actor liftrescue.Actor) (*liftrescue.Incident, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	e := c.byCode[n.Elevator]
	if e == nil {
		return nil, liftrescue.Errorf(liftrescue.ENOTFOUND, "no elevator %s", n.Elevator)
	}
	own := 0
	for _, inc := range c.open() {
		if inc.ElevatorID == e.ID {
			return nil, liftrescue.Errorf(liftrescue.ECONFLICT, "incident %d is open on the elevator", inc.ID)
		}
		if strings.HasPrefix(inc.Note, RescueNotePrefix) {
			own++
		}
	}
	if strings.HasPrefix(n.Note, RescueNotePrefix) && own >= c.maxOwn {
		c.t.Errorf("at %v the simulation opens an incident with %d of its own open", c.now, own)
	}
	inc := liftrescue.OpenIncident(&n, e, &liftrescue.District{Code: e.District, Rural: c.rural[e.District]})
	inc.ID = int64(len(c.inc) + 1)
	facts := c.facts(inc, nil)
	facts.Tier1 = []liftrescue.Unit{c.orgUnit(e.MaintenanceUnitID), c.orgUnit(e.UserUnitID)}
	out, err := liftrescue.Decide(inc, liftrescue.Input{Action: liftrescue.ActionOpen, Actor: actor, Facts: facts}, c.now, &c.policy)
	if err != nil {
		return nil, err
	}
	c.inc = append(c.inc, nil)
	c.saved(out)
	return out.Incident.Clone(), nil
}

func (c *centre) Act(_ context.Context, id int64, in liftrescue.Input) (*liftrescue.Incident, error) {
	if id < 1 || id > int64(len(c.inc)) {
		return nil, liftrescue.Errorf(liftrescue.ENOTFOUND, "no incident %d", id)
	}
	inc := c.inc[id-1]
	var chosen *liftrescue.Unit
	if in.Action == liftrescue.ActionAccept && in.VehicleID != 0 {
		a := inc.Assignment(in.AssignmentID)
		if in.VehicleID > int64(len(c.vehicle)) || a == nil || c.vehicle[in.VehicleID-1].OrganizationID != a.Unit.OrganizationID {
			return nil, liftrescue.Invalid("vehicle_id", "not a vehicle of the unit that accepts")
		}
		u := c.vehicleUnit(&c.vehicle[in.VehicleID-1])
		chosen = &u
	}
	in.Facts = c.facts(inc, chosen)
	out, err := liftrescue.Decide(inc, in, c.now, &c.policy)
	if err != nil {
		return nil, err
	}
	c.saved(out)
	return out.Incident.Clone(), nil
}

func (c *centre) saved(out *liftrescue.Outcome) {
	inc := out.Incident
	inc.Version++
	c.inc[inc.ID-1] = inc
	for _, ev := range out.Events {
		c.kinds[ev.Kind]++
		c.log = append(c.log, fmt.Sprintf("%s incident %d %s %d %s", ev.At.Format(time.TimeOnly), ev.IncidentID, ev.Kind, ev.AssignmentID, ev.Text))
	}
}

func (c *centre) OpenIncidents(context.Context) ([]*liftrescue.Incident, error) {
	var out []*liftrescue.Incident
	for _, inc := range c.open() {
		out = append(out, inc.Clone())
	}
	return out, nil
}

func (c *centre) open() []*liftrescue.Incident {
	return slices.DeleteFunc(slices.Clone(c.inc), func(inc *liftrescue.Incident) bool { return inc.State.Ended() })
}

func (c *centre) ListVehicles(_ context.Context, f liftrescue.VehicleFilter) (*liftrescue.Page[*liftrescue.Vehicle], error) {
	page := &liftrescue.Page[*liftrescue.Vehicle]{Items: []*liftrescue.Vehicle{}}
	for i := range c.vehicle {
		if v := c.vehicle[i]; f.OrganizationID == 0 || v.OrganizationID == f.OrganizationID {
			page.Items = append(page.Items, &v)
		}
	}
	return page, nil
}

func (c *centre) orgUnit(id int64) liftrescue.Unit {
	o := &c.orgs[id-1]
	return liftrescue.Unit{Role: o.Kind, OrganizationID: o.ID, OrganizationName: o.Name, Phones: o.DutyPhones}
}

func (c *centre) vehicleUnit(v *liftrescue.Vehicle) liftrescue.Unit {
	u := c.orgUnit(v.OrganizationID)
	u.TeamID, u.VehicleID, u.Plate = v.TeamID, v.ID, v.Plate
	return u
}

// facts ranks the volunteer vans with a fresh fix and no other incident by distance, as the
// engine's candidates, and picks the nearest fire station.
func (c *centre) facts(inc *liftrescue.Incident, chosen *liftrescue.Unit) liftrescue.Facts {
	f := liftrescue.Facts{Chosen: chosen}
	busy := map[int64]bool{}
	for _, other := range c.open() {
		for _, a := range other.Assignments {
			if a.State.Active() {
				busy[a.Unit.VehicleID] = true
			}
		}
	}
	type ranked struct {
		u liftrescue.Unit
		d float64
	}
	var cands []ranked
	for i := range c.vehicle {
		v := &c.vehicle[i]
		fix, ok := c.fixes[v.DeviceID]
		if c.orgs[v.OrganizationID-1].Kind != liftrescue.OrgVolunteer || !v.OnDuty || busy[v.ID] || !ok || c.now.Sub(fix.Time) > time.Minute {
			continue
		}
		d := distanceM(fix.Lon, fix.Lat, inc.Elevator.Lon, inc.Elevator.Lat)
		cands = append(cands, ranked{c.vehicleUnit(v), d})
	}
	slices.SortFunc(cands, func(a, b ranked) int { return cmp.Compare(a.d, b.d) })
	for _, r := range cands[:min(len(cands), 5)] {
		f.Tier2 = append(f.Tier2, r.u)
	}
	best := math.Inf(1)
	for i := range c.orgs {
		if o := &c.orgs[i]; o.Kind == liftrescue.OrgFire && o.Lat != nil {
			if d := distanceM(*o.Lon, *o.Lat, inc.Elevator.Lon, inc.Elevator.Lat); d < best {
				u := c.orgUnit(o.ID)
				eta := math.Round(d * 1.4 / (30 / 3.6))
				u.ETAS, best = &eta, d
				f.Fire = &u
			}
		}
	}
	return f
}

// tick moves the clock to now, feeds the fixes, fires the due deadlines and marks the vans within
// the arrival radius arrived, as the engine's timer and watch loops do.
func (c *centre) tick(now time.Time, fixes []liftrescue.Fix) {
	c.now = now
	for _, f := range fixes {
		c.fixes[f.DeviceID] = f
	}
	ctx := c.t.Context()
	for _, inc := range c.open() {
		for {
			d := c.inc[inc.ID-1].NextDeadline()
			if d == nil || d.Due.After(now) {
				break
			}
			c.must(c.Act(ctx, inc.ID, liftrescue.Input{Action: liftrescue.ActionDeadline, DeadlineID: d.ID,
				Actor: liftrescue.Actor{Kind: liftrescue.ActorSystem, Name: "deadline"}}))
		}
	}
	for _, inc := range c.open() {
		if inc.ArrivedAt != nil || inc.State == liftrescue.IncidentReleased {
			continue
		}
		for _, a := range inc.Assignments {
			if a.Unit.VehicleID == 0 || !a.State.Active() {
				continue
			}
			fix, ok := c.fixes[c.vehicle[a.Unit.VehicleID-1].DeviceID]
			if ok && now.Sub(fix.Time) <= 30*time.Second &&
				distanceM(fix.Lon, fix.Lat, inc.Elevator.Lon, inc.Elevator.Lat) <= c.policy.ArrivalRadiusM {
				c.must(c.Act(ctx, inc.ID, liftrescue.Input{Action: liftrescue.ActionArrived, AssignmentID: a.ID,
					Actor: liftrescue.Actor{Kind: liftrescue.ActorSystem, Name: "gps"}}))
				break
			}
		}
	}
}

func (c *centre) must(_ *liftrescue.Incident, err error) {
	if err != nil {
		c.t.Fatalf("at %v: %v", c.now, err)
	}
}

func distanceM(lon1, lat1, lon2, lat2 float64) float64 {
	return project(lon1, lat1).sub(project(lon2, lat2)).length()
}

var rescueStart = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// simulate runs the simulation on a small city for the span, stepping as the demo does (by step),
// and returns the centre.
func simulate(t *testing.T, cfg RescueConfig, span, step time.Duration) *centre {
	city := Generate(Config{Elevators: 400})
	c := newCentre(t, city, Policy(), rescueStart)
	tr := city.Traffic(TrafficConfig{}, rescueStart)
	rs := city.Rescues(cfg, c, c, tr, rescueStart)
	for now := rescueStart.Add(step); !now.After(rescueStart.Add(span)); now = now.Add(step) {
		c.tick(now, tr.Step(now))
		if err := rs.Step(t.Context(), now); err != nil {
			t.Fatalf("at %v: %v", now, err)
		}
	}
	return c
}

// Over a few hours of the demo, incidents open steadily, never more than the cap at once, and
// play out to the end: tier 1 or the escalation to volunteers and the fire brigade, vans driven to
// the elevator and marked there by their GPS, the passengers freed, the callback, the close.
func TestRescuesPlayOut(t *testing.T) {
	span := 4 * time.Hour
	if raceDetector {
		span = 2 * time.Hour
	}
	c := simulate(t, RescueConfig{}, span, 2*time.Second)
	var closed, open int
	for _, inc := range c.inc {
		switch inc.State {
		case liftrescue.IncidentClosed:
			closed++
			if !inc.Cause.Valid() || inc.CallbackAt == nil || inc.ReleasedCount < 1 || inc.ArrivedAt == nil {
				t.Errorf("incident %d closed without cause, callback, release or arrival: %+v", inc.ID, inc)
			}
			if took := inc.ClosedAt.Sub(inc.ReportedAt); took > 45*time.Minute {
				t.Errorf("incident %d took %v to close", inc.ID, took)
			}
		case liftrescue.IncidentCancelled:
			t.Errorf("incident %d was cancelled: the fire brigade always comes", inc.ID)
		default:
			open++
		}
	}
	t.Logf("%v: %d incidents, %d closed, %d open; events %v", span, len(c.inc), closed, open, c.kinds)
	if perHour := float64(len(c.inc)) / span.Hours(); perHour < 6 {
		t.Errorf("%.1f incidents an hour, want several", perHour)
	}
	if open > DefaultRescueMaxOpen || closed < len(c.inc)-DefaultRescueMaxOpen {
		t.Errorf("%d of %d incidents closed, %d open", closed, len(c.inc), open)
	}
	for _, kind := range []string{"accepted", "declined", "deadline_missed", "escalated", "en_route", "arrived", "released", "callback_done", "closed"} {
		if c.kinds[kind] == 0 {
			t.Errorf("no %s event in %v", kind, span)
		}
	}
	var tier2, tier3, byGPS, byCrew int
	for _, inc := range c.inc {
		if inc.Tier >= 2 {
			tier2++
		}
		if inc.Tier == 3 {
			tier3++
		}
		for _, a := range inc.Assignments {
			switch a.ArrivedBy {
			case "gps":
				byGPS++
			case "responder":
				byCrew++
			}
		}
	}
	if tier2 == 0 || tier3 == 0 || tier2 == len(c.inc) {
		t.Errorf("of %d incidents %d reached tier 2 and %d tier 3: want some of each, not all", len(c.inc), tier2, tier3)
	}
	if byGPS == 0 || byCrew == 0 {
		t.Errorf("%d arrivals marked by GPS, %d by the crew: want both", byGPS, byCrew)
	}
}

// The same steps make the same rescues.
func TestRescuesAreDeterministic(t *testing.T) {
	a := simulate(t, RescueConfig{}, 40*time.Minute, 2*time.Second)
	b := simulate(t, RescueConfig{}, 40*time.Minute, 2*time.Second)
	if len(a.log) == 0 || !slices.Equal(a.log, b.log) {
		t.Errorf("two runs differ:\n%s\n---\n%s", strings.Join(a.log, "\n"), strings.Join(b.log, "\n"))
	}
	if c := simulate(t, RescueConfig{Seed: 42}, 40*time.Minute, 2*time.Second); slices.Equal(a.log, c.log) {
		t.Error("another seed makes the same rescues")
	}
}

// stuck is a dispatch service in which nothing ever moves on: every incident stays open.
type stuck struct {
	opened []time.Time
	now    *time.Time
}

func (s *stuck) Open(_ context.Context, n liftrescue.NewIncident, _ string, _ liftrescue.Actor) (*liftrescue.Incident, error) {
	s.opened = append(s.opened, *s.now)
	return &liftrescue.Incident{ID: int64(len(s.opened)), Note: n.Note, State: liftrescue.IncidentNotified, ReportedAt: *s.now}, nil
}

func (s *stuck) Act(context.Context, int64, liftrescue.Input) (*liftrescue.Incident, error) {
	return nil, liftrescue.Errorf(liftrescue.ECONFLICT, "stuck")
}

func (s *stuck) OpenIncidents(context.Context) ([]*liftrescue.Incident, error) {
	var out []*liftrescue.Incident
	for i, at := range s.opened {
		out = append(out, &liftrescue.Incident{ID: int64(i + 1), Note: RescueNotePrefix, State: liftrescue.IncidentNotified, ReportedAt: at})
	}
	return out, nil
}

func (s *stuck) ListVehicles(context.Context, liftrescue.VehicleFilter) (*liftrescue.Page[*liftrescue.Vehicle], error) {
	return &liftrescue.Page[*liftrescue.Vehicle]{}, nil
}

// Reports come about every Every, the first sooner, until MaxOpen of them are open.
func TestRescuesOpenOverTimeUpToTheCap(t *testing.T) {
	city := Generate(Config{Elevators: 100})
	for _, cfg := range []RescueConfig{{}, {Every: 10 * time.Second, MaxOpen: 5}} {
		t.Run(fmt.Sprint(cfg.Every, cfg.MaxOpen), func(t *testing.T) {
			now := rescueStart
			s := &stuck{now: &now}
			rs := city.Rescues(cfg, s, s, nil, rescueStart)
			every, max := cmp.Or(cfg.Every, DefaultRescueEvery), cmp.Or(cfg.MaxOpen, DefaultRescueMaxOpen)
			for ; now.Before(rescueStart.Add(30 * time.Minute)); now = now.Add(time.Second) {
				if err := rs.Step(t.Context(), now); err != nil {
					t.Fatal(err)
				}
			}
			if len(s.opened) != max {
				t.Fatalf("%d incidents opened, want the cap of %d", len(s.opened), max)
			}
			if first := s.opened[0].Sub(rescueStart); first < every/10 || first > every*4/10+time.Second {
				t.Errorf("the first report after %v, want within %v–%v", first, every/10, every*4/10)
			}
			for i := 1; i < len(s.opened); i++ {
				if gap := s.opened[i].Sub(s.opened[i-1]); gap < every/2 || gap > every*3/2+time.Second {
					t.Errorf("reports %d and %d %v apart, want %v–%v", i, i+1, gap, every/2, every*3/2)
				}
			}
		})
	}
}

// Units answer with the odds of their tier, in the time of their tier scaled by the pace.
func TestRescueDecisionsFollowTheOdds(t *testing.T) {
	const draws = 20_000
	for _, pace := range []float64{1, 0.1} {
		rs := Generate(Config{Elevators: 1}).Rescues(RescueConfig{Pace: pace, Seed: 7}, nil, nil, nil, rescueStart)
		for tier := 1; tier <= 3; tier++ {
			o := oddsOf(tier)
			var accepted, declined, early int
			for range draws {
				action, after, reason := rs.decide(tier)
				switch action {
				case liftrescue.ActionAccept:
					accepted++
				case liftrescue.ActionDecline:
					declined++
					if !slices.Contains(o.reasons, reason) {
						t.Fatalf("tier %d declines with %q", tier, reason)
					}
				}
				if action == "" {
					continue
				}
				if lo, hi := time.Duration(float64(o.from)*pace), time.Duration(float64(o.to)*pace); after < lo || after > hi {
					t.Fatalf("tier %d answers after %v, want %v–%v", tier, after, lo, hi)
				}
				if after < time.Duration(float64(o.from+o.to)/2*pace) {
					early++
				}
			}
			answered := accepted + declined
			t.Logf("pace %v tier %d: %d accepted, %d declined of %d; %d answered in the first half of the time", pace, tier, accepted, declined, draws, early)
			if got := float64(accepted) / draws; math.Abs(got-o.accept) > 0.02 {
				t.Errorf("tier %d accepts %.3f of the time, want %.2f", tier, got, o.accept)
			}
			if got := float64(declined) / draws; math.Abs(got-o.decline) > 0.02 {
				t.Errorf("tier %d declines %.3f of the time, want %.2f", tier, got, o.decline)
			}
			// Tier 1 answers mostly early (about 71% in the first half); the others evenly.
			want := 0.5
			if o.early {
				want = math.Sqrt(0.5)
			}
			if got := float64(early) / float64(answered); math.Abs(got-want) > 0.03 {
				t.Errorf("tier %d answers %.2f of the time in the first half, want %.2f", tier, got, want)
			}
		}
	}
}

// A van sent to an elevator drives there by the streets (straight over the last stretch when the
// elevator is in another district), in about the time Send says, reports all the way and stays
// within the arrival radius until released; then it drives back to its base.
func TestTrafficSendsVanToElevator(t *testing.T) {
	city := Generate(Config{Elevators: 400})
	orgDistrict := map[string]string{}
	for _, o := range city.Organizations {
		orgDistrict[o.Code] = o.District
	}
	var target liftrescue.Elevator
	for row := range city.Elevators() {
		target = row.Elevator
		break
	}
	var same, other string // a van of the elevator's district and one of another
	for _, v := range city.Vehicles {
		d := orgDistrict[city.Teams[v.Team].OrgCode]
		switch {
		case v.Vehicle.DeviceID == "":
		case d == target.District && same == "":
			same = v.Vehicle.DeviceID
		case d != target.District && other == "":
			other = v.Vehicle.DeviceID
		}
	}
	const radius float64 = liftrescue.DefaultArrivalRadiusM
	for _, device := range []string{same, other} {
		t.Run(device, func(t *testing.T) {
			tr := city.Traffic(TrafficConfig{}, rescueStart)
			now := rescueStart.Add(10 * time.Minute)
			tr.Step(now)
			eta, ok := tr.Send(device, target.Lon, target.Lat)
			if !ok || eta <= 0 || eta > time.Hour {
				t.Fatalf("Send = %v, %v", eta, ok)
			}
			sent := now
			var track []liftrescue.Fix
			for end := sent.Add(eta + 5*time.Minute); now.Before(end); {
				now = now.Add(5 * time.Second)
				for _, f := range tr.Step(now) {
					if f.DeviceID == device {
						if r := liftrescue.CheckFix(&f, now); r != "" {
							t.Fatalf("%+v: %s", f, r)
						}
						track = append(track, f)
					}
				}
			}
			dist := func(f liftrescue.Fix) float64 { return distanceM(f.Lon, f.Lat, target.Lon, target.Lat) }
			var there *liftrescue.Fix
			for i, f := range track {
				if i > 0 {
					p := track[i-1]
					if kmh := distanceM(f.Lon, f.Lat, p.Lon, p.Lat) / f.Time.Sub(p.Time).Hours() / 1000; kmh > 60 {
						t.Fatalf("%v–%v: %.0f km/h", p.Time, f.Time, kmh)
					}
				}
				if there == nil && dist(f) <= radius {
					there = &track[i]
				}
			}
			t.Logf("%.0f m from the elevator, eta %v; within %.0f m after %v", dist(track[0]), eta.Round(time.Second), radius, there.Time.Sub(sent))
			if dist(track[0]) <= radius {
				t.Fatalf("the van was at the elevator already")
			}
			if took := there.Time.Sub(sent); took > eta+10*time.Second {
				t.Errorf("within %.0f m after %v, want by the eta %v", radius, took, eta)
			}
			for _, f := range track {
				if f.Time.After(sent.Add(eta+5*time.Second)) && dist(f) > radius {
					t.Fatalf("at %v, %v after the eta, the van is %.0f m away", f.Time, f.Time.Sub(sent.Add(eta)), dist(f))
				}
			}

			tr.Release(device)
			base := tr.devices[device].base.pos
			for end := now.Add(eta + 5*time.Minute); now.Before(end); {
				now = now.Add(5 * time.Second)
				for _, f := range tr.Step(now) {
					if f.DeviceID == device && project(f.Lon, f.Lat).sub(base).length() < 20 {
						return
					}
				}
			}
			t.Errorf("the released van is not back at its base after %v", eta+5*time.Minute)
		})
	}
}
