package iot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/dispatch/dispatchtest"
	"github.com/liftrescue/liftrescue/iot"
)

// monitorWorld is the dispatch test city with a monitor over its store and engine.
type monitorWorld struct {
	*dispatchtest.World
	m *iot.Monitor
}

func newMonitorWorld(t *testing.T) *monitorWorld {
	t.Helper()
	w := &monitorWorld{World: dispatchtest.New(t)}
	w.m = w.monitor(t)
	return w
}

// monitor starts a monitor over the world, closed when the test ends.
func (w *monitorWorld) monitor(t *testing.T) *iot.Monitor {
	t.Helper()
	m := &iot.Monitor{Store: w.Store, Dispatch: w.Engine, Now: w.Clock.Now}
	dispatchtest.Must(t, m.Start(w.Ctx))
	t.Cleanup(m.Close)
	return m
}

// register puts a terminal on the elevator.
func (w *monitorWorld) register(t *testing.T, id string, el *liftrescue.Elevator) liftrescue.TerminalState {
	t.Helper()
	s, _, err := w.m.Put(w.Ctx, &liftrescue.Terminal{ID: id, ElevatorID: el.ID, Platform: "鲁南电梯物联网平台"})
	dispatchtest.Must(t, err)
	return s
}

// report sends a terminal's report, normalised as the decoders do.
func (w *monitorWorld) report(t *testing.T, a liftrescue.Alarm) liftrescue.AlarmResult {
	t.Helper()
	if a.Time.IsZero() {
		a.Time = w.Clock.Now()
	}
	dispatchtest.Must(t, a.Normalize(w.Clock.Now(), iot.MaxSkew, iot.MaxAge))
	res, err := w.m.Report(w.Ctx, a, "mqtt:lift/"+a.TerminalID+"/alarm")
	dispatchtest.Must(t, err)
	return res
}

func (w *monitorWorld) faults(t *testing.T, el *liftrescue.Elevator) []*liftrescue.Fault {
	t.Helper()
	w.m.Flush(w.Ctx)
	page, err := w.Store.ListFaults(w.Ctx, liftrescue.FaultFilter{ElevatorID: el.ID})
	dispatchtest.Must(t, err)
	return page.Items
}

var trapped = liftrescue.Alarm{Namespace: liftrescue.NamespaceShmashine, Code: "7"} // 平层关人

// A terminal registered on an elevator is how a report naming only the terminal reaches the
// elevator: its trapped alarm opens an incident and starts tier 1, a thousand repeats leave that
// one incident, and the elevator's fault record has one entry counting all of them.
func TestRegisteredTerminalOpensIncident(t *testing.T) {
	w := newMonitorWorld(t)
	reg := w.register(t, "ZZ-0001", w.Elevator)
	if reg.Status != liftrescue.TerminalNever || reg.EquipmentCode != w.Elevator.EquipmentCode || reg.District != "370402" {
		t.Fatalf("registered: %+v, want never heard from, with its elevator's code and district", reg)
	}
	a := trapped
	a.TerminalID = "ZZ-0001"
	first := w.report(t, a)
	if first.Outcome != liftrescue.AlarmOpened || first.ElevatorID != w.Elevator.ID || first.IncidentID == 0 {
		t.Fatalf("first alarm: %+v, want an incident opened on elevator %d", first, w.Elevator.ID)
	}
	w.m.Flush(w.Ctx) // the entry is written while repeats still come
	for i := range 999 {
		if res := w.report(t, a); res.Outcome != liftrescue.AlarmCounted || res.IncidentID != first.IncidentID {
			t.Fatalf("repeat %d: %+v, want counted on incident %d", i, res, first.IncidentID)
		}
	}
	page, err := w.Store.ListIncidents(w.Ctx, liftrescue.IncidentFilter{ElevatorID: w.Elevator.ID})
	dispatchtest.Must(t, err)
	if page.Total != 1 || page.Items[0].Source != liftrescue.SourceIoT || len(page.Items[0].Assignments) != 2 {
		t.Fatalf("incidents: %d, want one from the terminal with both tier-1 units told", page.Total)
	}
	faults := w.faults(t, w.Elevator)
	if len(faults) != 1 {
		t.Fatalf("%d fault entries, want 1", len(faults))
	}
	f := faults[0]
	if f.Repeats != 1000 || f.Kind != liftrescue.AlarmTrapped || f.TerminalID != "ZZ-0001" || f.IncidentID != first.IncidentID || !f.Counts {
		t.Errorf("fault entry: %+v, want 1,000 trapped reports of ZZ-0001 linked to incident %d", f, first.IncidentID)
	}
	st, err := w.m.Terminal("ZZ-0001")
	dispatchtest.Must(t, err)
	if st.Status != liftrescue.TerminalOnline || st.LastSeen == nil || !st.LastSeen.Equal(w.Clock.Now()) {
		t.Errorf("terminal after its alarms: %+v, want online, seen now", st)
	}
}

// A report of a terminal nobody registered is quarantined with what to do; once registered, its
// next report reaches the elevator. Unregistered again, it is quarantined again.
func TestUnregisteredTerminalIsQuarantined(t *testing.T) {
	w := newMonitorWorld(t)
	a := trapped
	a.TerminalID = "ZZ-0404"
	res := w.report(t, a)
	if res.Outcome != liftrescue.AlarmQuarantined || !strings.Contains(res.Reason, "PUT /api/v1/terminals/ZZ-0404") {
		t.Fatalf("unknown terminal: %+v, want quarantined with how to register it", res)
	}
	if q := w.Engine.Quarantine(); len(q) != 1 || q[0].TerminalID != "ZZ-0404" {
		t.Fatalf("quarantine: %+v", q)
	}
	if f := w.faults(t, w.Elevator); len(f) != 0 {
		t.Errorf("a quarantined report wrote %d fault entries", len(f))
	}
	w.register(t, "ZZ-0404", w.Elevator2)
	if res := w.report(t, a); res.Outcome != liftrescue.AlarmOpened || res.ElevatorID != w.Elevator2.ID {
		t.Fatalf("registered terminal: %+v, want an incident on elevator %d", res, w.Elevator2.ID)
	}
	dispatchtest.Must(t, w.m.Delete(w.Ctx, "ZZ-0404"))
	if res := w.report(t, a); res.Outcome != liftrescue.AlarmQuarantined {
		t.Errorf("after unregistering: %+v, want quarantined", res)
	}
	if _, err := w.m.Terminal("ZZ-0404"); liftrescue.ErrorCode(err) != liftrescue.ENOTFOUND {
		t.Errorf("unregistered terminal found: %v", err)
	}
}

// Faults below priority 1 open nothing: they go on the elevator's fault record, their repeats
// within the window counted on one entry; the third fault within the period flags the elevator,
// and changes of mode do not count towards it.
func TestRepeatedFaultsFlagTheElevator(t *testing.T) {
	w := newMonitorWorld(t)
	w.register(t, "ZZ-0002", w.Elevator)
	doorFault := liftrescue.Alarm{TerminalID: "ZZ-0002", Namespace: liftrescue.NamespaceGBT24476, Code: "2"} // 关门故障
	for i := range 50 {
		if res := w.report(t, doorFault); res.Outcome != liftrescue.AlarmRecorded || res.IncidentID != 0 {
			t.Fatalf("door fault %d: %+v, want recorded, no incident", i, res)
		}
		w.Clock.Add(time.Second)
	}
	flagged, err := w.m.Flagged(w.Ctx, "")
	dispatchtest.Must(t, err)
	if len(flagged.Items) != 0 {
		t.Fatalf("flagged after one fault: %+v", flagged.Items)
	}
	for range 10 { // back to normal and fire return: how an elevator works, not faults
		w.report(t, liftrescue.Alarm{TerminalID: "ZZ-0002", Namespace: liftrescue.NamespaceGBT24476, Code: "40"})
		w.report(t, liftrescue.Alarm{TerminalID: "ZZ-0002", Namespace: liftrescue.NamespaceGBT24476, Code: "44"})
		w.Clock.Add(2 * time.Minute)
	}
	w.Clock.Add(time.Hour)
	w.report(t, doorFault)
	w.Clock.Add(time.Hour)
	w.report(t, liftrescue.Alarm{TerminalID: "ZZ-0002", Namespace: liftrescue.NamespaceGBT24476, Code: "1"}) // safety circuit
	faults := w.faults(t, w.Elevator)
	counting := 0
	for _, f := range faults {
		if f.Counts {
			counting++
		}
	}
	if len(faults) != 23 || counting != 3 || faults[len(faults)-1].Repeats != 50 {
		t.Fatalf("%d entries (%d counting), the first with %d repeats; want 23 (3 counting), 50 repeats",
			len(faults), counting, faults[len(faults)-1].Repeats)
	}
	flagged, err = w.m.Flagged(w.Ctx, "")
	dispatchtest.Must(t, err)
	if len(flagged.Items) != 1 || flagged.Items[0].ElevatorID != w.Elevator.ID || flagged.Items[0].Faults != 3 ||
		flagged.Items[0].RescueCode != "123456" || flagged.Min != iot.DefaultFlagFaults {
		t.Fatalf("flagged: %+v, want elevator 123456 with 3 faults", flagged)
	}
	if other, _ := w.m.Flagged(w.Ctx, "370403"); len(other.Items) != 0 {
		t.Errorf("Xuecheng's supervisor sees %+v, want none of Shizhong's", other.Items)
	}
	w.Clock.Add(iot.DefaultFlagPeriod) // the faults age out of the period
	if later, _ := w.m.Flagged(w.Ctx, ""); len(later.Items) != 0 {
		t.Errorf("flagged after the period: %+v", later.Items)
	}
}

// Terminals that stop reporting are marked offline once, with an entry on their elevator's fault
// record that does not count as a fault; the share online is the supervisors' figure, by district.
func TestSilentTerminalsGoOffline(t *testing.T) {
	w := newMonitorWorld(t)
	w.register(t, "ZZ-A", w.Elevator)
	w.register(t, "ZZ-B", w.Elevator3)
	w.register(t, "ZZ-C", w.Elevator2)
	heartbeat := func(id string) liftrescue.AlarmResult { return w.report(t, liftrescue.Alarm{TerminalID: id}) }
	heartbeat("ZZ-A")
	if res := heartbeat("ZZ-B"); res.Outcome != liftrescue.AlarmRecorded || res.ElevatorID != w.Elevator3.ID {
		t.Fatalf("heartbeat: %+v", res)
	}
	s := w.m.Summary("")
	if s.Registered != 3 || s.Online != 2 || s.Never != 1 || s.ShareOnline < 0.66 || s.ShareOnline > 0.67 || len(s.Districts) != 2 {
		t.Fatalf("summary: %+v, want 2 of 3 online in two districts", s)
	}
	w.Clock.Add(iot.DefaultOfflineAfter - time.Second)
	heartbeat("ZZ-A")
	w.Clock.Add(2 * time.Second)
	for range 3 {
		w.m.CheckOffline(w.Clock.Now()) // the loop checks every second: once is news
	}
	s = w.m.Summary("370402")
	if s.Registered != 2 || s.Online != 1 || s.Offline != 1 || s.ShareOnline != 0.5 {
		t.Fatalf("Shizhong: %+v, want ZZ-A online and ZZ-B offline", s)
	}
	offline, total, _, err := w.m.Terminals(iot.TerminalQuery{Status: liftrescue.TerminalOffline})
	dispatchtest.Must(t, err)
	if total != 1 || offline[0].ID != "ZZ-B" {
		t.Fatalf("offline terminals: %+v", offline)
	}
	faults := w.faults(t, w.Elevator3)
	if len(faults) != 1 || faults[0].Kind != liftrescue.AlarmTerminalOffline || faults[0].Counts || faults[0].TerminalID != "ZZ-B" {
		t.Fatalf("fault record of ZZ-B's elevator: %+v, want one terminal_offline entry that does not count", faults)
	}
	heartbeat("ZZ-B")
	if st, _ := w.m.Terminal("ZZ-B"); st.Status != liftrescue.TerminalOnline {
		t.Errorf("ZZ-B after reporting again: %s, want online", st.Status)
	}
}

// What was heard from terminals survives a restart: the last-seen times are written on close and
// read at start, and a terminal silent since before the restart is offline without being
// recorded again.
func TestTerminalsLastSeenSurviveRestart(t *testing.T) {
	w := newMonitorWorld(t)
	w.register(t, "ZZ-A", w.Elevator)
	w.register(t, "ZZ-B", w.Elevator3)
	w.report(t, liftrescue.Alarm{TerminalID: "ZZ-A"})
	w.report(t, liftrescue.Alarm{TerminalID: "ZZ-B"})
	seen := w.Clock.Now()
	w.m.Close()
	stored, err := w.Store.FindTerminal(w.Ctx, "ZZ-A")
	dispatchtest.Must(t, err)
	if stored.LastSeen == nil || !stored.LastSeen.Equal(seen) {
		t.Fatalf("stored last seen %v, want %v", stored.LastSeen, seen)
	}
	w.Clock.Add(iot.DefaultOfflineAfter + time.Minute)
	m := w.monitor(t)
	m.CheckOffline(w.Clock.Now())
	s := m.Summary("")
	if s.Offline != 2 || s.Never != 0 {
		t.Errorf("after the restart: %+v, want both offline, not never heard from", s)
	}
	m.Flush(w.Ctx)
	if f := w.faults(t, w.Elevator); len(f) != 0 {
		t.Errorf("a terminal offline since before the restart was recorded again: %+v", f)
	}
}

// A heartbeat says the terminal is alive and nothing of the elevator: it is not written on the
// elevator's open incident. A running state is (as evidence of release once the rescuers are
// there), and the terminal keeps it as its latest state.
func TestHeartbeatsStayOffTheIncident(t *testing.T) {
	w := newMonitorWorld(t)
	w.register(t, "ZZ-0003", w.Elevator)
	a := trapped
	a.TerminalID = "ZZ-0003"
	opened := w.report(t, a)
	alarms := func() int {
		inc, err := w.Store.FindIncident(w.Ctx, opened.IncidentID)
		dispatchtest.Must(t, err)
		return inc.Alarms
	}
	before := alarms()
	w.Clock.Add(2 * time.Minute) // past the repeat window
	if res := w.report(t, liftrescue.Alarm{TerminalID: "ZZ-0003"}); res.Outcome != liftrescue.AlarmRecorded {
		t.Fatalf("heartbeat: %+v, want recorded", res)
	}
	if n := alarms(); n != before {
		t.Fatalf("a heartbeat was written on the incident: %d reports, want %d", n, before)
	}
	yes, no, floor := true, false, "1"
	released := &liftrescue.RunningState{DoorZone: &yes, DoorsLocked: &no, Running: &no, Floor: &floor}
	res := w.report(t, liftrescue.Alarm{TerminalID: "ZZ-0003", State: released})
	if res.Outcome != liftrescue.AlarmAttached || res.IncidentID != opened.IncidentID {
		t.Fatalf("doors open at a floor: %+v, want written on incident %d", res, opened.IncidentID)
	}
	if n := alarms(); n != before+1 {
		t.Errorf("the running state was not written on the incident: %d reports, want %d", n, before+1)
	}
	st, _ := w.m.Terminal("ZZ-0003")
	if st.State == nil || st.State.Floor == nil || *st.State.Floor != "1" {
		t.Errorf("terminal's latest state: %+v, want the doors open at floor 1", st.State)
	}
}
