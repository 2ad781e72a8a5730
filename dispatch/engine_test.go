package dispatch_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/dispatch"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/liftrescue/liftrescue/store/sqlite"
)

// clock is a settable clock shared by the store and the engine.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// world is a small city: one elevator with its two tier-1 units, a volunteer unit with vehicles
// around the elevator, a fire station, and an engine over them.
type world struct {
	ctx      context.Context
	clock    *clock
	store    *sqlite.DB
	index    *geo.Index
	path     string
	elevator *liftrescue.Elevator
	maint    *liftrescue.Organization
	team     *liftrescue.Team
	offTeam  *liftrescue.Team
	vehicles map[string]*liftrescue.Vehicle // by plate
	// parked are where the vehicles stand and how old their trackers' last fix is kept: tick
	// reports them again, as trackers do.
	parked map[string]parking
	engine *dispatch.Engine
}

// The elevator is in Shizhong, Zaozhuang.
const elLon, elLat = 117.3200, 34.8100

// east returns the longitude m metres east of the elevator.
func east(m float64) float64 { return elLon + m/(111320*0.8208) }

func newWorld(t *testing.T, policy liftrescue.Policy) *world {
	t.Helper()
	w := &world{ctx: context.Background(), clock: &clock{t: time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)},
		path: filepath.Join(t.TempDir(), "dispatch.db"), vehicles: map[string]*liftrescue.Vehicle{}, parked: map[string]parking{}}
	w.openStore(t)
	s := w.store
	must(t, s.UpsertDistrict(w.ctx, &liftrescue.District{Code: "370402", Name: "市中区"}))
	phone := 0
	org := func(code string, kind liftrescue.OrgKind, name string, at ...float64) *liftrescue.Organization {
		phone++
		o := &liftrescue.Organization{Code: code, Kind: kind, Name: name, District: "370402", DutyPhones: []string{fmt.Sprintf("0632-330000%d", phone)}}
		if len(at) == 2 {
			o.Lon, o.Lat = &at[0], &at[1]
		}
		must(t, s.CreateOrganization(w.ctx, o))
		return o
	}
	user := org("91370400USER00001", liftrescue.OrgUserUnit, "市中物业")
	w.maint = org("91370400MAINT0001", liftrescue.OrgMaintenance, "鲁南电梯维保")
	vol := org("91370400VOLUN0001", liftrescue.OrgVolunteer, "枣庄电梯救援队")
	org("91370400FIRE00001", liftrescue.OrgFire, "市中消防救援站", east(3000), elLat)
	w.elevator = &liftrescue.Elevator{RescueCode: "123456", EquipmentCode: "31103704002018000001", Address: "光明路 18 号",
		Building: "3 号楼 1 单元", District: "370402", Lat: elLat, Lon: elLon, Kind: liftrescue.KindTraction, Floors: 18,
		UserUnitID: user.ID, MaintenanceUnitID: w.maint.ID}
	must(t, s.CreateElevator(w.ctx, w.elevator))
	w.team = &liftrescue.Team{OrganizationID: vol.ID, Name: "一队", DutyPhone: "13800000001", CertifiedStaff: 3, OnDuty: true}
	must(t, s.CreateTeam(w.ctx, w.team))
	w.offTeam = &liftrescue.Team{OrganizationID: vol.ID, Name: "二队", CertifiedStaff: 2, OnDuty: false}
	must(t, s.CreateTeam(w.ctx, w.offTeam))
	maintTeam := &liftrescue.Team{OrganizationID: w.maint.ID, Name: "维保一组", CertifiedStaff: 2, OnDuty: true}
	must(t, s.CreateTeam(w.ctx, maintTeam))
	w.index, _ = geo.NewIndex(geo.IndexOptions{})
	// Nearest first: an off-duty team's van, a stale van, then two good ones, and the maintenance
	// company's own van far away.
	w.vehicle(t, "鲁D00001", w.offTeam, east(300), 0)
	w.vehicle(t, "鲁D00002", w.team, east(600), 10*time.Minute)
	w.vehicle(t, "鲁D00003", w.team, east(1500), 0)
	w.vehicle(t, "鲁D00004", w.team, east(4000), 0)
	w.vehicle(t, "鲁D90001", maintTeam, east(30000), 0)
	w.start(t, policy)
	return w
}

func (w *world) openStore(t *testing.T) {
	s, err := sqlite.Open(w.ctx, w.path, sqlite.Options{Now: w.clock.Now})
	must(t, err)
	w.store = s
	t.Cleanup(func() { s.Close() })
}

// vehicle registers a vehicle and places it with a fix of the given age.
func (w *world) vehicle(t *testing.T, plate string, team *liftrescue.Team, lon float64, age time.Duration) {
	v := &liftrescue.Vehicle{TeamID: team.ID, Plate: plate, DeviceID: fmt.Sprintf("1390000%04d", len(w.vehicles)+1), OnDuty: true}
	must(t, w.store.CreateVehicle(w.ctx, v))
	w.vehicles[plate] = v
	w.move(plate, lon, elLat, age)
}

type parking struct {
	lon, lat float64
	age      time.Duration
}

// tick moves the clock on; every tracker reports where its vehicle stands (a silent one stays as
// silent as it was).
func (w *world) tick(d time.Duration) {
	w.clock.Add(d)
	for plate, p := range w.parked {
		w.move(plate, p.lon, p.lat, p.age)
	}
}

func (w *world) move(plate string, lon, lat float64, age time.Duration) {
	w.parked[plate] = parking{lon, lat, age}
	w.index.MoveVehicle(w.vehicles[plate].ID, liftrescue.Fix{Time: w.clock.Now().Add(-age), Lon: lon, Lat: lat,
		SpeedKmh: liftrescue.Unknown, Heading: liftrescue.Unknown, AccuracyM: liftrescue.Unknown, AltitudeM: liftrescue.Unknown, Battery: liftrescue.Unknown})
}

func (w *world) start(t *testing.T, policy liftrescue.Policy) {
	t.Helper()
	e, err := dispatch.New(dispatch.Config{Store: w.store, Index: w.index, Policy: policy, Now: w.clock.Now,
		BaseURL: "http://centre.test", WatchEvery: time.Hour})
	must(t, err)
	must(t, e.Start(w.ctx))
	t.Cleanup(e.Close)
	w.engine = e
}

var dispatcher = liftrescue.Actor{Kind: liftrescue.ActorDispatcher, Name: "张敏"}

func (w *world) open(t *testing.T) *liftrescue.Incident {
	t.Helper()
	inc, err := w.engine.Open(w.ctx, liftrescue.NewIncident{Elevator: "123456", Trapped: 2, CallerPhone: "13912345678"}, "", dispatcher)
	must(t, err)
	return inc
}

func (w *world) find(t *testing.T, id int64) *liftrescue.Incident {
	t.Helper()
	inc, err := w.store.FindIncident(w.ctx, id)
	must(t, err)
	return inc
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func units(inc *liftrescue.Incident) []string {
	var out []string
	for _, a := range inc.Assignments {
		name := a.Unit.OrganizationName
		if a.Unit.Plate != "" {
			name = a.Unit.Plate
		}
		out = append(out, name+" "+string(a.State))
	}
	return out
}

func kinds(inc *liftrescue.Incident) []string {
	var out []string
	for _, ev := range inc.Timeline {
		out = append(out, ev.Kind)
	}
	return out
}

func TestOpenNotifiesTier1AndRefusesASecondReport(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	inc := w.open(t)
	got := w.find(t, inc.ID)
	if got.State != liftrescue.IncidentNotified || got.Tier != 1 {
		t.Fatalf("state %s tier %d, want notified at tier 1", got.State, got.Tier)
	}
	if want := []string{"鲁南电梯维保 notified", "市中物业 notified"}; !slices.Equal(units(got), want) {
		t.Errorf("units = %q, want %q", units(got), want)
	}
	if len(got.Notifications) != 2 || got.Notifications[0].Channel != liftrescue.ChannelLog || !strings.Contains(got.Notifications[0].Body, "http://centre.test/r/") {
		t.Errorf("notifications = %+v, want a message with a responder link to each unit", got.Notifications)
	}
	if !got.ArriveBy.Equal(w.clock.Now().Add(30 * time.Minute)) {
		t.Errorf("arrive by %s, want 30 min after the report", got.ArriveBy)
	}

	_, err := w.engine.Open(w.ctx, liftrescue.NewIncident{Elevator: "31103704002018000001"}, "", dispatcher)
	if liftrescue.ErrorCode(err) != liftrescue.ECONFLICT || liftrescue.ErrorExtra(err)["incident_id"] != inc.ID {
		t.Errorf("second report = %v (extra %v), want ECONFLICT naming incident %d", err, liftrescue.ErrorExtra(err), inc.ID)
	}

	_, err = w.engine.Open(w.ctx, liftrescue.NewIncident{Elevator: "123465"}, "370402", dispatcher)
	near, _ := liftrescue.ErrorExtra(err)["near_matches"].([]dispatch.NearMatch)
	if liftrescue.ErrorCode(err) != liftrescue.ENOTFOUND || len(near) != 1 || near[0].RescueCode != "123456" {
		t.Errorf("swapped digits = %v, near %+v; want ENOTFOUND suggesting 123456", err, near)
	}
}

func TestTier1SilenceDispatchesTheNearestQualifiedVolunteer(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	inc := w.open(t)

	c, err := w.engine.Candidates(w.ctx, inc.ID)
	must(t, err)
	var plates []string
	for _, cand := range c.Candidates {
		plates = append(plates, cand.Plate)
	}
	if want := []string{"鲁D00003", "鲁D00004"}; !slices.Equal(plates, want) {
		t.Errorf("candidates = %q, want %q", plates, want)
	}
	reasons := map[string]string{}
	for _, x := range c.Excluded {
		reasons[x.Plate] = x.Reason
	}
	if reasons["鲁D00001"] != liftrescue.ExcludedOffDuty || reasons["鲁D00002"] != liftrescue.ExcludedStale {
		t.Errorf("excluded = %v, want 鲁D00001 off duty and 鲁D00002 stale", reasons)
	}
	if eta := *c.Candidates[0].ETAS; eta < 150 || eta > 300 {
		t.Errorf("ETA over 1.5 km = %.0f s, want about 250", eta)
	}

	w.tick(5*time.Minute + time.Second)
	w.engine.RunDue(w.ctx)
	got := w.find(t, inc.ID)
	if want := []string{"鲁南电梯维保 timed_out", "市中物业 timed_out", "鲁D00003 notified"}; !slices.Equal(units(got), want) {
		t.Fatalf("units = %q, want %q (timeline %q)", units(got), want, kinds(got))
	}
	if got.Tier != 2 {
		t.Errorf("tier = %d, want 2", got.Tier)
	}

	// The dispatched van drives to the elevator: its GPS marks the arrival.
	w.parked["鲁D00003"] = parking{east(60), elLat, 0}
	w.tick(4 * time.Minute)
	w.engine.Watch(w.ctx)
	got = w.find(t, inc.ID)
	if a := got.Assignment(3); a.State != liftrescue.AssignmentArrived || a.ArrivedBy != "gps" || got.State != liftrescue.IncidentArrived {
		t.Errorf("after the van reached the elevator: %s, assignment %s by %q", got.State, a.State, a.ArrivedBy)
	}
}

func TestDeadlinesFireOnceAcrossARestart(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	inc := w.open(t)
	w.engine.Close()

	// Down for ten minutes: the acknowledge deadline passed while nothing ran.
	w.tick(10 * time.Minute)
	w.start(t, liftrescue.DefaultPolicy())
	w.engine.RunDue(w.ctx)
	w.engine.Close()
	w.start(t, liftrescue.DefaultPolicy())
	w.engine.RunDue(w.ctx)

	got := w.find(t, inc.ID)
	missed := 0
	for _, ev := range got.Timeline {
		if ev.Kind == "deadline_missed" {
			missed++
		}
	}
	if missed != 1 || got.Tier != 2 {
		t.Errorf("deadline_missed %d times, tier %d; want once and tier 2 (timeline %q)", missed, got.Tier, kinds(got))
	}
	r, err := liftrescue.VerifyChain(w.ctx, w.store)
	must(t, err)
	if r.Broken != nil || r.Events != int64(len(got.Timeline)) {
		t.Errorf("chain = %+v, want whole with %d events", r, len(got.Timeline))
	}
}

var linkRE = regexp.MustCompile(`/r/([a-z2-7]+)`)

// tokens returns the responder tokens sent to each assignment.
func tokens(inc *liftrescue.Incident) map[int]string {
	out := map[int]string{}
	for _, n := range inc.Notifications {
		if m := linkRE.FindStringSubmatch(n.Body); m != nil {
			out[n.AssignmentID] = m[1]
		}
	}
	return out
}

func TestResponderLinks(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	inc := w.open(t)
	tok := tokens(w.find(t, inc.ID))
	if len(tok) != 2 {
		t.Fatalf("tokens = %v, want one per tier-1 unit", tok)
	}
	v, err := w.engine.Responder(w.ctx, tok[1])
	must(t, err)
	if v.Assignment.Unit.OrganizationName != "鲁南电梯维保" || !slices.Contains(v.Actions, liftrescue.ActionAccept) || v.Assignment.TokenHash != "" {
		t.Errorf("view = %+v", v)
	}
	v, err = w.engine.Respond(w.ctx, tok[1], liftrescue.Input{Action: liftrescue.ActionAccept})
	must(t, err)
	if v.IncidentState != liftrescue.IncidentAcknowledged || v.AcceptBy != nil {
		t.Errorf("after accept: %s, accept by %v", v.IncidentState, v.AcceptBy)
	}
	_, err = w.engine.Respond(w.ctx, tok[2], liftrescue.Input{Action: liftrescue.ActionDecline})
	if liftrescue.ErrorCode(err) != liftrescue.EINVALID {
		t.Errorf("decline without a reason = %v, want EINVALID", err)
	}
	_, err = w.engine.Respond(w.ctx, tok[2], liftrescue.Input{Action: liftrescue.ActionDecline, Reason: "值班人员外出"})
	must(t, err)
	if _, err := w.engine.Responder(w.ctx, tok[2]); liftrescue.ErrorCode(err) != liftrescue.EGONE {
		t.Errorf("a declined unit's link = %v, want EGONE", err)
	}
	if _, err := w.engine.Responder(w.ctx, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"); liftrescue.ErrorCode(err) != liftrescue.ENOTFOUND {
		t.Errorf("a made-up link = %v, want ENOTFOUND", err)
	}
	for _, a := range []liftrescue.Action{liftrescue.ActionArrived} {
		_, err := w.engine.Respond(w.ctx, tok[1], liftrescue.Input{Action: a})
		must(t, err)
	}
	v, err = w.engine.Respond(w.ctx, tok[1], liftrescue.Input{Action: liftrescue.ActionReleased})
	must(t, err)
	if v.IncidentState != liftrescue.IncidentReleased {
		t.Errorf("after released: %s", v.IncidentState)
	}
	if got := w.find(t, inc.ID); got.ReleasedCount != 2 {
		t.Errorf("released %d, want the 2 reported trapped", got.ReleasedCount)
	}
	if _, err := w.engine.Responder(w.ctx, tok[1]); liftrescue.ErrorCode(err) != liftrescue.EGONE {
		t.Errorf("a finished job's link = %v, want EGONE", err)
	}
	w.clock.Add(25 * time.Hour)
	inc2, err := w.engine.Act(w.ctx, inc.ID, liftrescue.Input{Action: liftrescue.ActionCallbackDone, Actor: dispatcher})
	must(t, err)
	_, err = w.engine.Act(w.ctx, inc2.ID, liftrescue.Input{Action: liftrescue.ActionClose, Actor: dispatcher})
	if liftrescue.ErrorCode(err) != liftrescue.EINVALID {
		t.Errorf("close without a cause = %v, want EINVALID", err)
	}
	closed, err := w.engine.Act(w.ctx, inc2.ID, liftrescue.Input{Action: liftrescue.ActionClose, Cause: liftrescue.CauseDoorSystem, Actor: dispatcher})
	must(t, err)
	if closed.State != liftrescue.IncidentClosed {
		t.Errorf("state = %s, want closed", closed.State)
	}
}

func TestPredictedLateArrivalStartsTier2(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	inc := w.open(t)
	// The maintenance company accepts and sends its van from 30 km away: over an hour at 30 km/h.
	_, err := w.engine.Act(w.ctx, inc.ID, liftrescue.Input{Action: liftrescue.ActionAccept, AssignmentID: 1,
		VehicleID: w.vehicles["鲁D90001"].ID, Actor: dispatcher})
	must(t, err)
	w.engine.Watch(w.ctx)
	got := w.find(t, inc.ID)
	if !got.Predicted || got.Tier != 2 || len(got.Assignments) != 3 || got.Assignments[2].Unit.Plate != "鲁D00003" {
		t.Errorf("predicted %v tier %d units %q, want tier 2 started early with 鲁D00003", got.Predicted, got.Tier, units(got))
	}
	if a := got.Assignment(1); a.State != liftrescue.AssignmentAccepted {
		t.Errorf("tier 1 = %s, want still accepted: it keeps coming", a.State)
	}
}

// Two incidents escalating at the same moment never get the same van: the first to take it has
// it, the other ranks again.
func TestConcurrentEscalationsSendDifferentVans(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	second := *w.elevator
	second.ID, second.RescueCode, second.EquipmentCode, second.Building = 0, "123457", "31103704002018000002", "3 号楼 2 单元"
	must(t, w.store.CreateElevator(w.ctx, &second))
	a := w.open(t)
	b, err := w.engine.Open(w.ctx, liftrescue.NewIncident{ElevatorID: second.ID}, "", dispatcher)
	must(t, err)
	w.tick(5*time.Minute + time.Second)
	var wg sync.WaitGroup
	for _, id := range []int64{a.ID, b.ID} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w.engine.Act(w.ctx, id, liftrescue.Input{Action: liftrescue.ActionDeadline, DeadlineID: 1,
				Actor: liftrescue.Actor{Kind: liftrescue.ActorSystem, Name: "deadline"}})
			must(t, err)
		}()
	}
	wg.Wait()
	va, vb := w.find(t, a.ID).Assignment(3), w.find(t, b.ID).Assignment(3)
	if va == nil || vb == nil || va.Unit.VehicleID == vb.Unit.VehicleID {
		t.Fatalf("tier 2 of the two incidents: %+v and %+v, want two different vans", va, vb)
	}
}

// When the vans near an elevator are all unavailable, ranking looks farther, and once the city has
// only a few free vans left it remembers which: the memo never hands out a van that is taken, and
// a van freed again is found again.
func TestRankingLooksFartherWhenTheNearOnesAreTaken(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	for i := range 61 { // more off-duty vans than the first look takes in, all nearer than the free ones
		w.vehicle(t, fmt.Sprintf("鲁D5%04d", i), w.offTeam, east(100+float64(i)), 0)
	}
	w.engine.Close()
	w.start(t, liftrescue.DefaultPolicy()) // reads the new vans
	var ids []int64
	for i, code := range []string{"123456", "123457", "123458"} {
		el := *w.elevator
		if i > 0 {
			el.ID, el.RescueCode, el.EquipmentCode = 0, code, fmt.Sprintf("3110370400201800000%d", i+1)
			must(t, w.store.CreateElevator(w.ctx, &el))
		}
		inc, err := w.engine.Open(w.ctx, liftrescue.NewIncident{Elevator: code}, "", dispatcher)
		must(t, err)
		ids = append(ids, inc.ID)
	}
	w.tick(5*time.Minute + time.Second)
	deadline := func(id int64) *liftrescue.Assignment {
		t.Helper()
		inc, err := w.engine.Act(w.ctx, id, liftrescue.Input{Action: liftrescue.ActionDeadline, DeadlineID: 1,
			Actor: liftrescue.Actor{Kind: liftrescue.ActorSystem, Name: "deadline"}})
		must(t, err)
		return inc.Assignment(3)
	}
	first, second := deadline(ids[0]), deadline(ids[1])
	if first == nil || second == nil || first.Unit.Plate != "鲁D00003" || second.Unit.Plate != "鲁D00004" {
		t.Fatalf("tier 2 = %+v and %+v, want 鲁D00003 then 鲁D00004", first, second)
	}
	_, err := w.engine.Act(w.ctx, ids[0], liftrescue.Input{Action: liftrescue.ActionCancel, CancelReason: liftrescue.CancelFalseAlarm, Actor: dispatcher})
	must(t, err)
	if third := deadline(ids[2]); third == nil || third.Unit.Plate != "鲁D00003" {
		t.Fatalf("after 鲁D00003 was freed, tier 2 of the third incident = %+v, want 鲁D00003", third)
	}
}
