package liftrescue_test

import (
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// Every code of ELEVATOR_ALARMS.md's tables, namespace by namespace. The iot package checks the
// same against the document's text.
func TestClassifyAlarm(t *testing.T) {
	const (
		gbt  = liftrescue.NamespaceGBT24476
		sh   = liftrescue.NamespaceShmashine
		tcp  = liftrescue.NamespaceTCPJSON
		ours = liftrescue.NamespaceLiftrescue
	)
	tests := []struct {
		ns   liftrescue.AlarmNamespace
		code string
		want liftrescue.AlarmKind
	}{
		{gbt, "0", liftrescue.AlarmNoFault},
		{gbt, "1", liftrescue.AlarmSafetyCircuit},
		{gbt, "2", liftrescue.AlarmDoorCloseFault},
		{gbt, "3", liftrescue.AlarmDoorOpenFault},
		{gbt, "4", liftrescue.AlarmStoppedOutsideDoorZone},
		{gbt, "5", liftrescue.AlarmUnintendedMovement},
		{gbt, "6", liftrescue.AlarmRunTimeLimiter},
		{gbt, "7", liftrescue.AlarmFloorLost},
		{gbt, "8", liftrescue.AlarmRestartPrevented},
		{gbt, "09", liftrescue.AlarmOvertravelTop},
		{gbt, "10", liftrescue.AlarmOvertravelBottom},
		{gbt, "11", liftrescue.AlarmTrapped},
		{gbt, "40", liftrescue.AlarmBackToNormal},
		{gbt, "41", liftrescue.AlarmPowerLost},
		{gbt, "42", liftrescue.AlarmModeChange},
		{gbt, "43", liftrescue.AlarmModeChange},
		{gbt, "44", liftrescue.AlarmModeChange},
		{gbt, "45", liftrescue.AlarmModeChange},
		{gbt, "46", liftrescue.AlarmModeChange},
		{gbt, "47", liftrescue.AlarmModeChange},
		{gbt, "61", liftrescue.AlarmSafetyCircuit},
		{gbt, "62", liftrescue.AlarmOverspeed},
		{gbt, "63", liftrescue.AlarmUnintendedReversal},
		{gbt, "64", liftrescue.AlarmMissingStep},
		{gbt, "65", liftrescue.AlarmRestartPrevented},
		{gbt, "90", liftrescue.AlarmButton},
		{gbt, "91", liftrescue.AlarmOvertravelBottom},
		{gbt, "92", liftrescue.AlarmOvertravelTop},
		{gbt, "93", liftrescue.AlarmTrapped},
		{gbt, "01", liftrescue.AlarmSafetyCircuit}, // E2 writes two digits
		{gbt, "0010", liftrescue.AlarmOvertravelBottom},
		{gbt, "00", liftrescue.AlarmNoFault},
		{gbt, "12", liftrescue.AlarmUnknown},
		{gbt, "100", liftrescue.AlarmUnknown},
		{gbt, "", liftrescue.AlarmUnknown},
		{gbt, "trapped", liftrescue.AlarmUnknown},

		{sh, "1", liftrescue.AlarmOvertravelTop},
		{sh, "2", liftrescue.AlarmOvertravelBottom},
		{sh, "3", liftrescue.AlarmOverspeed},
		{sh, "4", liftrescue.AlarmDoorOpenWhileRunning},
		{sh, "5", liftrescue.AlarmUnintendedMovement},
		{sh, "6", liftrescue.AlarmStoppedOutsideDoorZone},
		{sh, "7", liftrescue.AlarmTrapped},
		{sh, "8", liftrescue.AlarmTrapped},
		{sh, "9", liftrescue.AlarmPowerLost},
		{sh, "10", liftrescue.AlarmSafetyCircuit},
		{sh, "11", liftrescue.AlarmDoorOpenFault},
		{sh, "12", liftrescue.AlarmDoorCloseFault},
		{sh, "13", liftrescue.AlarmDoorLockCircuit},
		{sh, "14", liftrescue.AlarmButtonStuck},
		{sh, "15", liftrescue.AlarmSpeedAbnormal},
		{sh, "21", liftrescue.AlarmButton},
		{sh, "37", liftrescue.AlarmEBike},
		{sh, "07", liftrescue.AlarmTrapped},
		{sh, "0", liftrescue.AlarmUnknown},
		{sh, "16", liftrescue.AlarmUnknown},
		{sh, "42", liftrescue.AlarmUnknown},

		{tcp, "1", liftrescue.AlarmTrapped},
		{tcp, "2", liftrescue.AlarmTrapped},
		{tcp, "3", liftrescue.AlarmDoorOpenWhileRunning},
		{tcp, "4", liftrescue.AlarmStoppedOutsideDoorZone},
		{tcp, "5", liftrescue.AlarmOverspeed},
		{tcp, "6", liftrescue.AlarmOvertravelTop},
		{tcp, "7", liftrescue.AlarmOvertravelBottom},
		{tcp, "8", liftrescue.AlarmUnintendedMovement},
		{tcp, "9", liftrescue.AlarmUnknown},

		{ours, "trapped", liftrescue.AlarmTrapped},
		{ours, "stopped_outside_door_zone", liftrescue.AlarmStoppedOutsideDoorZone},
		{ours, "mode_change", liftrescue.AlarmModeChange},
		{ours, "unknown", liftrescue.AlarmUnknown},
		{ours, "Trapped", liftrescue.AlarmUnknown},
		{ours, "0trapped", liftrescue.AlarmUnknown},
		{ours, "1", liftrescue.AlarmUnknown},
		{ours, "", liftrescue.AlarmUnknown},

		{"", "1", liftrescue.AlarmUnknown},
		{"otis", "1", liftrescue.AlarmUnknown},
	}
	for _, tt := range tests {
		if got := liftrescue.ClassifyAlarm(tt.ns, tt.code); got != tt.want {
			t.Errorf("ClassifyAlarm(%q, %q) = %q, want %q", tt.ns, tt.code, got, tt.want)
		}
	}
}

// The same numbers mean different things in different numberings: the reason for namespaces.
func TestClassifyAlarmCodeOneDependsOnNamespace(t *testing.T) {
	got := [3]liftrescue.AlarmKind{}
	for i, ns := range []liftrescue.AlarmNamespace{liftrescue.NamespaceGBT24476, liftrescue.NamespaceShmashine, liftrescue.NamespaceTCPJSON} {
		got[i] = liftrescue.ClassifyAlarm(ns, "1")
	}
	want := [3]liftrescue.AlarmKind{liftrescue.AlarmSafetyCircuit, liftrescue.AlarmOvertravelTop, liftrescue.AlarmTrapped}
	if got != want {
		t.Errorf("code 1: %q, want %q", got, want)
	}
}

func TestAlarmKindPriority(t *testing.T) {
	want := map[liftrescue.AlarmKind]int{
		liftrescue.AlarmTrapped:                1,
		liftrescue.AlarmButton:                 2,
		liftrescue.AlarmStoppedOutsideDoorZone: 2,
		liftrescue.AlarmUnintendedMovement:     2,
		liftrescue.AlarmDoorOpenWhileRunning:   2,
		liftrescue.AlarmOvertravelTop:          2,
		liftrescue.AlarmOvertravelBottom:       2,
		liftrescue.AlarmOverspeed:              2,
		liftrescue.AlarmSpeedAbnormal:          2,
		liftrescue.AlarmSafetyCircuit:          2,
		liftrescue.AlarmDoorLockCircuit:        2,
		liftrescue.AlarmPowerLost:              2,
		liftrescue.AlarmRunTimeLimiter:         2,
		liftrescue.AlarmUnintendedReversal:     2,
		liftrescue.AlarmMissingStep:            2,
		liftrescue.AlarmUnknown:                2,
		liftrescue.AlarmDoorCloseFault:         3,
		liftrescue.AlarmDoorOpenFault:          3,
		liftrescue.AlarmFloorLost:              3,
		liftrescue.AlarmRestartPrevented:       3,
		liftrescue.AlarmButtonStuck:            3,
		liftrescue.AlarmEBike:                  3,
		liftrescue.AlarmModeChange:             3,
		liftrescue.AlarmBackToNormal:           3,
		liftrescue.AlarmNoFault:                3,
		"":                                     0,
		"made_up":                              2,
	}
	for k, p := range want {
		if got := k.Priority(); got != p {
			t.Errorf("%q.Priority() = %d, want %d", k, got, p)
		}
		// Every kind is a code of our own namespace.
		if k != "" && k != "made_up" && liftrescue.ClassifyAlarm(liftrescue.NamespaceLiftrescue, string(k)) != k {
			t.Errorf("%q is not a liftrescue code", k)
		}
	}
}

var (
	alarmNow = time.Date(2026, 11, 21, 8, 30, 0, 0, time.UTC)
	yes, no  = ptr(true), ptr(false)
)

func TestAlarmNormalize(t *testing.T) {
	const equipment = "31103704022015000001"
	ok := func() liftrescue.Alarm {
		return liftrescue.Alarm{EquipmentCode: equipment, Namespace: "gbt24476", Code: "04", Time: alarmNow.Add(-time.Minute)}
	}
	tests := []struct {
		name  string
		edit  func(a *liftrescue.Alarm)
		field string // "" when the alarm is fine
	}{
		{"fine", func(a *liftrescue.Alarm) {}, ""},
		{"by terminal", func(a *liftrescue.Alarm) { a.EquipmentCode, a.TerminalID = "", "MX3737" }, ""},
		{"terminal id of 64", func(a *liftrescue.Alarm) { a.EquipmentCode, a.TerminalID = "", strings.Repeat("T", 64) }, ""},
		{"status report without namespace", func(a *liftrescue.Alarm) { a.Namespace, a.Code = "", "" }, ""},
		{"a little ahead", func(a *liftrescue.Alarm) { a.Time = alarmNow.Add(time.Minute) }, ""},
		{"just within age", func(a *liftrescue.Alarm) { a.Time = alarmNow.Add(-time.Hour) }, ""},
		{"code of 32", func(a *liftrescue.Alarm) { a.Code = strings.Repeat("9", 32) }, ""},
		{"state", func(a *liftrescue.Alarm) {
			a.State = &liftrescue.RunningState{ServiceMode: ptr("fire_return"), Direction: ptr("down"), Floor: ptr("负一")}
		}, ""},

		{"both references", func(a *liftrescue.Alarm) { a.TerminalID = "MX3737" }, "terminal_id"},
		{"no reference", func(a *liftrescue.Alarm) { a.EquipmentCode = "" }, "equipment_code"},
		{"short equipment code", func(a *liftrescue.Alarm) { a.EquipmentCode = "3110370402201500000" }, "equipment_code"},
		{"letters in equipment code", func(a *liftrescue.Alarm) { a.EquipmentCode = "3110370402201500000A" }, "equipment_code"},
		{"terminal id of 65", func(a *liftrescue.Alarm) { a.EquipmentCode, a.TerminalID = "", strings.Repeat("T", 65) }, "terminal_id"},
		{"space in terminal id", func(a *liftrescue.Alarm) { a.EquipmentCode, a.TerminalID = "", "MX 3737" }, "terminal_id"},
		{"non-ASCII terminal id", func(a *liftrescue.Alarm) { a.EquipmentCode, a.TerminalID = "", "终端1" }, "terminal_id"},
		{"code without namespace", func(a *liftrescue.Alarm) { a.Namespace = "" }, "namespace"},
		{"unknown namespace", func(a *liftrescue.Alarm) { a.Namespace = "GBT24476" }, "namespace"},
		{"code of 33", func(a *liftrescue.Alarm) { a.Code = strings.Repeat("9", 33) }, "code"},
		{"control character in code", func(a *liftrescue.Alarm) { a.Code = "4\n" }, "code"},
		{"clock ahead", func(a *liftrescue.Alarm) { a.Time = alarmNow.Add(2*time.Minute + time.Second) }, "time"},
		{"clock in 1970", func(a *liftrescue.Alarm) { a.Time = time.Unix(0, 0) }, "time"},
		{"stale", func(a *liftrescue.Alarm) { a.Time = alarmNow.Add(-time.Hour - time.Second) }, "time"},
		{"unknown mode", func(a *liftrescue.Alarm) { a.State = &liftrescue.RunningState{ServiceMode: ptr("1")} }, "state.service_mode"},
		{"unknown direction", func(a *liftrescue.Alarm) { a.State = &liftrescue.RunningState{Direction: ptr("UP")} }, "state.direction"},
		{"empty floor", func(a *liftrescue.Alarm) { a.State = &liftrescue.RunningState{Floor: ptr("")} }, "state.floor"},
		{"long floor", func(a *liftrescue.Alarm) { a.State = &liftrescue.RunningState{Floor: ptr(strings.Repeat("9", 17))} }, "state.floor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ok()
			tt.edit(&a)
			before := a
			err := a.Normalize(alarmNow, 2*time.Minute, time.Hour)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Normalize: %v", err)
				}
				again := a
				if err := again.Normalize(alarmNow, 2*time.Minute, time.Hour); err != nil || again != a {
					t.Errorf("normalising again: %v, %+v, want %+v", err, again, a)
				}
				return
			}
			details := liftrescue.ErrorDetails(err)
			if liftrescue.ErrorCode(err) != liftrescue.EINVALID || len(details) == 0 || details[0].Field != tt.field {
				t.Fatalf("Normalize: %v (%+v), want EINVALID on %s", err, details, tt.field)
			}
			if a != before {
				t.Errorf("a refused alarm was changed: %+v, was %+v", a, before)
			}
		})
	}
}

func TestAlarmNormalizeSetsTimeKindAndPriority(t *testing.T) {
	a := liftrescue.Alarm{TerminalID: "MX3737", Namespace: "shmashine", Code: "7"}
	if err := a.Normalize(alarmNow, time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	if !a.Time.Equal(alarmNow) || a.Kind != liftrescue.AlarmTrapped || a.Priority != 1 {
		t.Errorf("zero time: %+v, want now, trapped, 1", a)
	}
	shanghai := time.FixedZone("CST", 8*3600)
	a = liftrescue.Alarm{TerminalID: "MX3737", Namespace: "gbt24476", Code: "2", Time: alarmNow.In(shanghai).Add(-1500 * time.Nanosecond)}
	if err := a.Normalize(alarmNow, time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	if a.Time.Location() != time.UTC || !a.Time.Equal(alarmNow.Add(-2*time.Microsecond)) || a.Kind != liftrescue.AlarmDoorCloseFault || a.Priority != 3 {
		t.Errorf("%+v, want UTC to the microsecond, door_close_fault, 3", a)
	}
	// A status report has no kind and priority 0, whatever it came with.
	a = liftrescue.Alarm{TerminalID: "MX3737", Kind: liftrescue.AlarmTrapped, Priority: 1, State: &liftrescue.RunningState{Running: no}}
	if err := a.Normalize(alarmNow, time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	if a.Kind != "" || a.Priority != 0 {
		t.Errorf("status report: kind %q, priority %d, want none and 0", a.Kind, a.Priority)
	}
}

// The priority-1 rule: what the state says of the car raises the kind's priority.
func TestAlarmPriorityRule(t *testing.T) {
	inCar := &liftrescue.RunningState{PassengerPresent: yes}
	empty := &liftrescue.RunningState{PassengerPresent: no}
	inCarReleased := &liftrescue.RunningState{PassengerPresent: yes, DoorZone: yes, DoorsLocked: no}
	tests := []struct {
		ns    liftrescue.AlarmNamespace
		code  string
		state *liftrescue.RunningState
		want  int
	}{
		{"gbt24476", "4", nil, 2}, // stopped outside the door zone
		{"gbt24476", "4", empty, 2},
		{"gbt24476", "4", inCar, 1},
		{"shmashine", "6", inCar, 1},
		{"gbt24476", "90", nil, 1}, // alarm button: someone pressed it
		{"gbt24476", "90", inCar, 1},
		{"gbt24476", "90", empty, 2},
		{"gbt24476", "90", inCarReleased, 2},
		{"shmashine", "21", nil, 1},
		{"gbt24476", "5", inCar, 1}, // UCM
		{"gbt24476", "5", nil, 2},
		{"shmashine", "1", inCar, 1}, // top overtravel
		{"shmashine", "2", inCar, 1},
		{"shmashine", "4", inCar, 1}, // door open while running
		{"shmashine", "4", nil, 2},
		{"gbt24476", "1", inCar, 2}, // safety circuit: a fault, the state does not make it a rescue
		{"gbt24476", "41", inCar, 2},
		{"gbt24476", "11", empty, 1}, // trapped stays trapped
		{"tcpjson", "2", inCarReleased, 1},
		{"gbt24476", "43", nil, 3}, // inspection
		{"gbt24476", "44", nil, 2}, // fire return
		{"gbt24476", "45", nil, 2}, // firefighter
		{"gbt24476", "46", nil, 3}, // emergency power
		{"gbt24476", "47", nil, 2}, // earthquake
		{"gbt24476", "40", nil, 3},
		{"liftrescue", "mode_change", &liftrescue.RunningState{ServiceMode: ptr("earthquake")}, 2},
		{"liftrescue", "mode_change", &liftrescue.RunningState{ServiceMode: ptr("inspection")}, 3},
		{"liftrescue", "alarm_button", nil, 1},
		{"gbt24476", "12", nil, 2}, // unknown
		{"gbt24476", "7", inCar, 3},
	}
	for _, tt := range tests {
		a := liftrescue.Alarm{TerminalID: "T1", Namespace: tt.ns, Code: tt.code, Time: alarmNow, State: tt.state}
		if err := a.Normalize(alarmNow, time.Minute, time.Hour); err != nil {
			t.Fatal(err)
		}
		if a.Priority != tt.want {
			t.Errorf("%s %s (%s) with %+v: priority %d, want %d", tt.ns, tt.code, a.Kind, tt.state, a.Priority, tt.want)
		}
	}
}

func TestRunningStateReleased(t *testing.T) {
	normal, inspection := ptr("normal"), ptr("inspection")
	tests := []struct {
		name  string
		state *liftrescue.RunningState
		want  bool
	}{
		{"nil", nil, false},
		{"nothing reported", &liftrescue.RunningState{}, false},
		{"doors open at a floor", &liftrescue.RunningState{DoorZone: yes, DoorsLocked: no}, true},
		{"doors open at a floor, stopped", &liftrescue.RunningState{DoorZone: yes, DoorsLocked: no, Running: no}, true},
		{"doors locked at a floor", &liftrescue.RunningState{DoorZone: yes, DoorsLocked: yes}, false},
		{"doors not reported", &liftrescue.RunningState{DoorZone: yes, Running: no, ServiceMode: normal}, false},
		{"doors open outside the door zone", &liftrescue.RunningState{DoorZone: no, DoorsLocked: no, Running: no, ServiceMode: normal}, false},
		{"doors open while running", &liftrescue.RunningState{DoorZone: yes, DoorsLocked: no, Running: yes}, false},
		{"normal service, stopped, doors open", &liftrescue.RunningState{ServiceMode: normal, Running: no, DoorsLocked: no}, true},
		{"normal service, doors open, running not said", &liftrescue.RunningState{ServiceMode: normal, DoorsLocked: no}, false},
		{"inspection, stopped, doors open", &liftrescue.RunningState{ServiceMode: inspection, Running: no, DoorsLocked: no}, false},
	}
	for _, tt := range tests {
		if got := tt.state.Released(); got != tt.want {
			t.Errorf("%s: Released() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestServiceMode(t *testing.T) {
	want := []string{"out_of_service", "normal", "inspection", "fire_return", "firefighter", "emergency_power", "earthquake", "unknown"}
	for n, w := range want {
		if got, ok := liftrescue.ServiceMode(n); !ok || got != w {
			t.Errorf("ServiceMode(%d) = %q, %v, want %q", n, got, ok, w)
		}
	}
	for _, n := range []int{-1, 8} {
		if got, ok := liftrescue.ServiceMode(n); ok {
			t.Errorf("ServiceMode(%d) = %q, want none", n, got)
		}
	}
}
