package dispatch_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/dispatch"
	"github.com/liftrescue/liftrescue/dispatch/dispatchtest"
)

// world is the small city of dispatchtest with an engine started over it.
type world struct{ *dispatchtest.World }

func newWorld(t *testing.T, policy liftrescue.Policy) *world {
	t.Helper()
	return &world{dispatchtest.New(t, dispatchtest.WithPolicy(policy))}
}

var dispatcher = liftrescue.Actor{Kind: liftrescue.ActorDispatcher, Name: "张敏"}

func (w *world) open(t *testing.T) *liftrescue.Incident {
	t.Helper()
	inc, err := w.Engine.Open(w.Ctx, liftrescue.NewIncident{Elevator: "123456", Trapped: 2, CallerPhone: "13912345678"}, "", dispatcher)
	dispatchtest.Must(t, err)
	return inc
}

func (w *world) find(t *testing.T, id int64) *liftrescue.Incident {
	t.Helper()
	inc, err := w.Store.FindIncident(w.Ctx, id)
	dispatchtest.Must(t, err)
	return inc
}

func TestOpenNotifiesTier1AndRefusesASecondReport(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	inc := w.open(t)
	got := w.find(t, inc.ID)
	if got.State != liftrescue.IncidentNotified || got.Tier != 1 {
		t.Fatalf("state %s tier %d, want notified at tier 1", got.State, got.Tier)
	}
	if want := []string{"鲁南电梯维保 notified", "市中物业 notified"}; !slices.Equal(dispatchtest.Units(got), want) {
		t.Errorf("units = %q, want %q", dispatchtest.Units(got), want)
	}
	if len(got.Notifications) != 2 || got.Notifications[0].Channel != liftrescue.ChannelLog || !strings.Contains(got.Notifications[0].Body, "http://centre.test/r/") {
		t.Errorf("notifications = %+v, want a message with a responder link to each unit", got.Notifications)
	}
	if !got.ArriveBy.Equal(w.Clock.Now().Add(30 * time.Minute)) {
		t.Errorf("arrive by %s, want 30 min after the report", got.ArriveBy)
	}

	_, err := w.Engine.Open(w.Ctx, liftrescue.NewIncident{Elevator: "31103704002018000001"}, "", dispatcher)
	if liftrescue.ErrorCode(err) != liftrescue.ECONFLICT || liftrescue.ErrorExtra(err)["incident_id"] != inc.ID {
		t.Errorf("second report = %v (extra %v), want ECONFLICT naming incident %d", err, liftrescue.ErrorExtra(err), inc.ID)
	}

	_, err = w.Engine.Open(w.Ctx, liftrescue.NewIncident{Elevator: "123465"}, "370402", dispatcher)
	near, _ := liftrescue.ErrorExtra(err)["near_matches"].([]dispatch.NearMatch)
	if liftrescue.ErrorCode(err) != liftrescue.ENOTFOUND || len(near) != 1 || near[0].RescueCode != "123456" {
		t.Errorf("swapped digits = %v, near %+v; want ENOTFOUND suggesting 123456", err, near)
	}
}

func TestTier1SilenceDispatchesTheNearestQualifiedVolunteer(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	inc := w.open(t)

	c, err := w.Engine.Candidates(w.Ctx, inc.ID)
	dispatchtest.Must(t, err)
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

	w.Tick(5*time.Minute + time.Second)
	w.Engine.RunDue(w.Ctx)
	got := w.find(t, inc.ID)
	if want := []string{"鲁南电梯维保 timed_out", "市中物业 timed_out", "鲁D00003 notified"}; !slices.Equal(dispatchtest.Units(got), want) {
		t.Fatalf("units = %q, want %q (timeline %q)", dispatchtest.Units(got), want, dispatchtest.Kinds(got))
	}
	if got.Tier != 2 {
		t.Errorf("tier = %d, want 2", got.Tier)
	}

	// The dispatched van drives to the elevator: its GPS marks the arrival.
	w.Park("鲁D00003", dispatchtest.East(60), dispatchtest.Lat, 0)
	w.Tick(4 * time.Minute)
	w.Engine.Watch(w.Ctx)
	got = w.find(t, inc.ID)
	if a := got.Assignment(3); a.State != liftrescue.AssignmentArrived || a.ArrivedBy != "gps" || got.State != liftrescue.IncidentArrived {
		t.Errorf("after the van reached the elevator: %s, assignment %s by %q", got.State, a.State, a.ArrivedBy)
	}
}

func TestDeadlinesFireOnceAcrossARestart(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	inc := w.open(t)
	w.Engine.Close()

	// Down for ten minutes: the acknowledge deadline passed while nothing ran.
	w.Tick(10 * time.Minute)
	w.StartEngine(t, liftrescue.DefaultPolicy())
	w.Engine.RunDue(w.Ctx)
	w.Engine.Close()
	w.StartEngine(t, liftrescue.DefaultPolicy())
	w.Engine.RunDue(w.Ctx)

	got := w.find(t, inc.ID)
	missed := 0
	for _, ev := range got.Timeline {
		if ev.Kind == "deadline_missed" {
			missed++
		}
	}
	if missed != 1 || got.Tier != 2 {
		t.Errorf("deadline_missed %d times, tier %d; want once and tier 2 (timeline %q)", missed, got.Tier, dispatchtest.Kinds(got))
	}
	r, err := liftrescue.VerifyChain(w.Ctx, w.Store)
	dispatchtest.Must(t, err)
	if r.Broken != nil || r.Events != int64(len(got.Timeline)) {
		t.Errorf("chain = %+v, want whole with %d events", r, len(got.Timeline))
	}
}

func TestResponderLinks(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	inc := w.open(t)
	tok := dispatchtest.Tokens(w.find(t, inc.ID))
	if len(tok) != 2 {
		t.Fatalf("tokens = %v, want one per tier-1 unit", tok)
	}
	v, err := w.Engine.Responder(w.Ctx, tok[1])
	dispatchtest.Must(t, err)
	if v.Assignment.Unit.OrganizationName != "鲁南电梯维保" || !slices.Contains(v.Actions, liftrescue.ActionAccept) || v.Assignment.TokenHash != "" {
		t.Errorf("view = %+v", v)
	}
	v, err = w.Engine.Respond(w.Ctx, tok[1], liftrescue.Input{Action: liftrescue.ActionAccept})
	dispatchtest.Must(t, err)
	if v.IncidentState != liftrescue.IncidentAcknowledged || v.AcceptBy != nil {
		t.Errorf("after accept: %s, accept by %v", v.IncidentState, v.AcceptBy)
	}
	_, err = w.Engine.Respond(w.Ctx, tok[2], liftrescue.Input{Action: liftrescue.ActionDecline})
	if liftrescue.ErrorCode(err) != liftrescue.EINVALID {
		t.Errorf("decline without a reason = %v, want EINVALID", err)
	}
	_, err = w.Engine.Respond(w.Ctx, tok[2], liftrescue.Input{Action: liftrescue.ActionDecline, Reason: "值班人员外出"})
	dispatchtest.Must(t, err)
	if _, err := w.Engine.Responder(w.Ctx, tok[2]); liftrescue.ErrorCode(err) != liftrescue.EGONE {
		t.Errorf("a declined unit's link = %v, want EGONE", err)
	}
	if _, err := w.Engine.Responder(w.Ctx, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"); liftrescue.ErrorCode(err) != liftrescue.ENOTFOUND {
		t.Errorf("a made-up link = %v, want ENOTFOUND", err)
	}
	for _, a := range []liftrescue.Action{liftrescue.ActionArrived} {
		_, err := w.Engine.Respond(w.Ctx, tok[1], liftrescue.Input{Action: a})
		dispatchtest.Must(t, err)
	}
	v, err = w.Engine.Respond(w.Ctx, tok[1], liftrescue.Input{Action: liftrescue.ActionReleased})
	dispatchtest.Must(t, err)
	if v.IncidentState != liftrescue.IncidentReleased {
		t.Errorf("after released: %s", v.IncidentState)
	}
	if got := w.find(t, inc.ID); got.ReleasedCount != 2 {
		t.Errorf("released %d, want the 2 reported trapped", got.ReleasedCount)
	}
	if _, err := w.Engine.Responder(w.Ctx, tok[1]); liftrescue.ErrorCode(err) != liftrescue.EGONE {
		t.Errorf("a finished job's link = %v, want EGONE", err)
	}
	w.Clock.Add(25 * time.Hour)
	inc2, err := w.Engine.Act(w.Ctx, inc.ID, liftrescue.Input{Action: liftrescue.ActionCallbackDone, Actor: dispatcher})
	dispatchtest.Must(t, err)
	_, err = w.Engine.Act(w.Ctx, inc2.ID, liftrescue.Input{Action: liftrescue.ActionClose, Actor: dispatcher})
	if liftrescue.ErrorCode(err) != liftrescue.EINVALID {
		t.Errorf("close without a cause = %v, want EINVALID", err)
	}
	closed, err := w.Engine.Act(w.Ctx, inc2.ID, liftrescue.Input{Action: liftrescue.ActionClose, Cause: liftrescue.CauseDoorSystem, Actor: dispatcher})
	dispatchtest.Must(t, err)
	if closed.State != liftrescue.IncidentClosed {
		t.Errorf("state = %s, want closed", closed.State)
	}
}

func TestPredictedLateArrivalStartsTier2(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	inc := w.open(t)
	// The maintenance company accepts and sends its van from 30 km away: over an hour at 30 km/h.
	_, err := w.Engine.Act(w.Ctx, inc.ID, liftrescue.Input{Action: liftrescue.ActionAccept, AssignmentID: 1,
		VehicleID: w.Vehicles["鲁D90001"].ID, Actor: dispatcher})
	dispatchtest.Must(t, err)
	w.Engine.Watch(w.Ctx)
	got := w.find(t, inc.ID)
	if !got.Predicted || got.Tier != 2 || len(got.Assignments) != 3 || got.Assignments[2].Unit.Plate != "鲁D00003" {
		t.Errorf("predicted %v tier %d units %q, want tier 2 started early with 鲁D00003", got.Predicted, got.Tier, dispatchtest.Units(got))
	}
	if a := got.Assignment(1); a.State != liftrescue.AssignmentAccepted {
		t.Errorf("tier 1 = %s, want still accepted: it keeps coming", a.State)
	}
}

// Two incidents escalating at the same moment never get the same van: the first to take it has
// it, the other ranks again.
func TestConcurrentEscalationsSendDifferentVans(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	second := *w.Elevator
	second.ID, second.RescueCode, second.EquipmentCode, second.Building = 0, "123457", "31103704002018000002", "3 号楼 2 单元"
	dispatchtest.Must(t, w.Store.CreateElevator(w.Ctx, &second))
	a := w.open(t)
	b, err := w.Engine.Open(w.Ctx, liftrescue.NewIncident{ElevatorID: second.ID}, "", dispatcher)
	dispatchtest.Must(t, err)
	w.Tick(5*time.Minute + time.Second)
	var wg sync.WaitGroup
	for _, id := range []int64{a.ID, b.ID} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w.Engine.Act(w.Ctx, id, liftrescue.Input{Action: liftrescue.ActionDeadline, DeadlineID: 1,
				Actor: liftrescue.Actor{Kind: liftrescue.ActorSystem, Name: "deadline"}})
			dispatchtest.Must(t, err)
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
		w.Vehicle(t, fmt.Sprintf("鲁D5%04d", i), w.OffTeam, dispatchtest.East(100+float64(i)), 0)
	}
	w.Engine.Close()
	w.StartEngine(t, liftrescue.DefaultPolicy()) // reads the new vans
	var ids []int64
	for i, code := range []string{"123456", "123457", "123458"} {
		el := *w.Elevator
		if i > 0 {
			el.ID, el.RescueCode, el.EquipmentCode = 0, code, fmt.Sprintf("3110370400201800000%d", i+1)
			dispatchtest.Must(t, w.Store.CreateElevator(w.Ctx, &el))
		}
		inc, err := w.Engine.Open(w.Ctx, liftrescue.NewIncident{Elevator: code}, "", dispatcher)
		dispatchtest.Must(t, err)
		ids = append(ids, inc.ID)
	}
	w.Tick(5*time.Minute + time.Second)
	deadline := func(id int64) *liftrescue.Assignment {
		t.Helper()
		inc, err := w.Engine.Act(w.Ctx, id, liftrescue.Input{Action: liftrescue.ActionDeadline, DeadlineID: 1,
			Actor: liftrescue.Actor{Kind: liftrescue.ActorSystem, Name: "deadline"}})
		dispatchtest.Must(t, err)
		return inc.Assignment(3)
	}
	first, second := deadline(ids[0]), deadline(ids[1])
	if first == nil || second == nil || first.Unit.Plate != "鲁D00003" || second.Unit.Plate != "鲁D00004" {
		t.Fatalf("tier 2 = %+v and %+v, want 鲁D00003 then 鲁D00004", first, second)
	}
	_, err := w.Engine.Act(w.Ctx, ids[0], liftrescue.Input{Action: liftrescue.ActionCancel, CancelReason: liftrescue.CancelFalseAlarm, Actor: dispatcher})
	dispatchtest.Must(t, err)
	if third := deadline(ids[2]); third == nil || third.Unit.Plate != "鲁D00003" {
		t.Fatalf("after 鲁D00003 was freed, tier 2 of the third incident = %+v, want 鲁D00003", third)
	}
}
