package dispatch_test

import (
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/dispatch/dispatchtest"
)

func (w *world) alarm(t *testing.T, code string, state *liftrescue.RunningState) liftrescue.AlarmResult {
	t.Helper()
	a := liftrescue.Alarm{EquipmentCode: w.Elevator.EquipmentCode, Namespace: "liftrescue", Code: code, Time: w.Clock.Now(), State: state}
	dispatchtest.Must(t, a.Normalize(w.Clock.Now(), time.Minute, time.Hour))
	res, err := w.Engine.RaiseAlarm(w.Ctx, a, "test-platform")
	dispatchtest.Must(t, err)
	return res
}

// A trapped alarm opens an incident and starts tier 1; a burst of a thousand repeats leaves that
// one incident, with the repeats counted in one line once the window has passed.
func TestTrappedAlarmOpensOneIncident(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	first := w.alarm(t, string(liftrescue.AlarmTrapped), nil)
	if first.Outcome != liftrescue.AlarmOpened || first.IncidentID == 0 {
		t.Fatalf("first alarm: %+v, want an incident opened", first)
	}
	for range 999 {
		if res := w.alarm(t, string(liftrescue.AlarmTrapped), nil); res.IncidentID != first.IncidentID || res.Outcome != liftrescue.AlarmCounted {
			t.Fatalf("repeat: %+v, want counted on incident %d", res, first.IncidentID)
		}
	}
	inc := w.find(t, first.IncidentID)
	if inc.Source != liftrescue.SourceIoT || inc.State != liftrescue.IncidentNotified || len(inc.Assignments) != 2 {
		t.Errorf("incident: source %s, state %s, %d units; want iot, notified, tier 1 told", inc.Source, inc.State, len(inc.Assignments))
	}
	page, err := w.Store.ListIncidents(w.Ctx, liftrescue.IncidentFilter{ElevatorID: w.Elevator.ID})
	dispatchtest.Must(t, err)
	if page.Total != 1 {
		t.Errorf("%d incidents on the elevator, want 1", page.Total)
	}
	w.Tick(time.Minute)
	w.Engine.Watch(w.Ctx)
	inc = w.find(t, first.IncidentID)
	alarms := 0
	for _, ev := range inc.Timeline {
		if ev.Kind == "alarm" {
			alarms++
		}
	}
	if inc.Alarms != 999 || alarms != 1 {
		t.Errorf("after the window: %d alarms counted in %d lines, want 999 in 1", inc.Alarms, alarms)
	}
}

// A report of an elevator nobody registered is kept for the admin, not dropped.
func TestUnknownElevatorIsQuarantined(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	a := liftrescue.Alarm{EquipmentCode: "31103704002099999999", Namespace: "gbt24476", Code: "4", Time: w.Clock.Now()}
	dispatchtest.Must(t, a.Normalize(w.Clock.Now(), time.Minute, time.Hour))
	res, err := w.Engine.RaiseAlarm(w.Ctx, a, "platform-7")
	dispatchtest.Must(t, err)
	q := w.Engine.Quarantine()
	if res.Outcome != liftrescue.AlarmQuarantined || len(q) != 1 || q[0].Sender != "platform-7" || q[0].EquipmentCode != a.EquipmentCode {
		t.Errorf("result %+v, quarantine %+v", res, q)
	}
}

// Once the rescuers are there, the terminal seeing the doors open at a floor is evidence of release.
func TestRunningStateAfterArrivalIsReleaseEvidence(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	id := w.alarm(t, string(liftrescue.AlarmTrapped), nil).IncidentID
	_, err := w.Engine.Act(w.Ctx, id, liftrescue.Input{Action: liftrescue.ActionArrived, AssignmentID: 1, Actor: dispatcher})
	dispatchtest.Must(t, err)
	yes, no := true, false
	res := w.alarm(t, "", &liftrescue.RunningState{DoorZone: &yes, DoorsLocked: &no, Running: &no})
	inc := w.find(t, id)
	if res.Outcome != liftrescue.AlarmAttached || !inc.ReleaseSeen || dispatchtest.Kinds(inc)[len(inc.Timeline)-1] != "release_evidence" {
		t.Errorf("result %+v, release seen %v, timeline %q", res, inc.ReleaseSeen, dispatchtest.Kinds(inc))
	}
}
