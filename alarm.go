package liftrescue

import (
	"strings"
	"time"
)

// Elevator IoT terminals (GB/T 24476) report alarms as numbers, but the numbers depend on who made
// the terminal: "1" is an opened safety circuit in the standard's list, a top overtravel on the
// common aftermarket sensor boxes and a passenger trapped between floors on others (see
// ../shared/testdata/protocols/ELEVATOR_ALARMS.md). So an alarm is always kept as (namespace,
// code), as the terminal sent it, and classified into one vocabulary that dispatch acts on.

// AlarmKind is the normalised vocabulary every terminal's code maps to.
type AlarmKind string

const (
	AlarmTrapped                AlarmKind = "trapped"                   // 困人, 平层/非平层关人
	AlarmButton                 AlarmKind = "alarm_button"              // 报警按钮动作, 用户报警
	AlarmStoppedOutsideDoorZone AlarmKind = "stopped_outside_door_zone" // 门区外停梯
	AlarmUnintendedMovement     AlarmKind = "unintended_movement"       // 开门走车 / UCM
	AlarmDoorOpenWhileRunning   AlarmKind = "door_open_while_running"   // 运行中开门
	AlarmOvertravelTop          AlarmKind = "overtravel_top"            // 冲顶
	AlarmOvertravelBottom       AlarmKind = "overtravel_bottom"         // 蹲底
	AlarmOverspeed              AlarmKind = "overspeed"                 // 超速
	AlarmSpeedAbnormal          AlarmKind = "speed_abnormal"            // 运行速度异常
	AlarmSafetyCircuit          AlarmKind = "safety_circuit_open"       // 安全回路断路
	AlarmDoorLockCircuit        AlarmKind = "door_lock_circuit_open"    // 门锁回路断路
	AlarmPowerLost              AlarmKind = "power_lost"                // 停电 / 主电源断电
	AlarmRunTimeLimiter         AlarmKind = "run_time_limiter"          // 电动机运转时间限制器动作
	AlarmUnintendedReversal     AlarmKind = "unintended_reversal"       // escalator: 非操纵逆转
	AlarmMissingStep            AlarmKind = "missing_step"              // escalator: 梯级/踏板缺失
	AlarmDoorCloseFault         AlarmKind = "door_close_fault"          // 关门故障
	AlarmDoorOpenFault          AlarmKind = "door_open_fault"           // 开门故障
	AlarmFloorLost              AlarmKind = "floor_lost"                // 楼层位置丢失
	AlarmRestartPrevented       AlarmKind = "restart_prevented"         // 防止电梯再运行故障
	AlarmButtonStuck            AlarmKind = "button_stuck"              // 按钮粘连
	AlarmEBike                  AlarmKind = "e_bike_in_car"             // 电动车乘梯
	AlarmModeChange             AlarmKind = "mode_change"               // entered a service mode (42..47)
	AlarmBackToNormal           AlarmKind = "back_to_normal"            // 恢复自动运行 (40)
	AlarmNoFault                AlarmKind = "no_fault"                  // 电梯无故障 (0)
	AlarmTerminalOffline        AlarmKind = "terminal_offline"          // the service heard no heartbeat
	// AlarmUnknown is a code no table knows. It is kept and shown, never dropped: the same number
	// means an entrapment in one terminal family and a log event in another.
	AlarmUnknown AlarmKind = "unknown"
)

// kindPriority is each kind's priority; see Priority. It also says which kinds exist, for the
// liftrescue namespace whose codes are the kinds themselves.
//
// The document's proposal puts UCM, overtravel and the alarm button at P1 and a stop outside the
// door zone at P1 "if passengers". Here those are 2 by kind, and Normalize raises them to 1 with
// the running state that says someone is in the car: an incident and a rescue team are sent on
// priority 1 without anyone phoning, so it must mean people are, or are likely to be, shut in.
var kindPriority = map[AlarmKind]int{
	// 1: people are shut in the car; a rescue is started.
	AlarmTrapped: 1,
	// 2: a fault that may shut people in or endanger them: someone must look at it now.
	AlarmButton:                 2,
	AlarmStoppedOutsideDoorZone: 2,
	AlarmUnintendedMovement:     2,
	AlarmDoorOpenWhileRunning:   2,
	AlarmOvertravelTop:          2,
	AlarmOvertravelBottom:       2,
	AlarmOverspeed:              2,
	AlarmSpeedAbnormal:          2, // the same sensor's milder reading of overspeed; the document pairs them
	AlarmSafetyCircuit:          2, // the car stops wherever it is
	AlarmDoorLockCircuit:        2,
	AlarmPowerLost:              2, // a car without power stops wherever it is
	AlarmRunTimeLimiter:         2, // the motor ran too long: the car may be stuck in the shaft
	AlarmUnintendedReversal:     2, // escalator faults that throw people over
	AlarmMissingStep:            2,
	// An unknown code is 2, not information: it may be some vendor's entrapment, and a person
	// reading it costs less than a trapped passenger filed away unread.
	AlarmUnknown: 2,
	// 3: information for maintenance and the record; the elevator stops safely or keeps running.
	AlarmDoorCloseFault:   3,
	AlarmDoorOpenFault:    3,
	AlarmFloorLost:        3,
	AlarmRestartPrevented: 3, // the controller keeps the car from running again: it stands at a floor
	AlarmButtonStuck:      3,
	AlarmEBike:            3,
	AlarmModeChange:       3, // fire return, firefighter and earthquake modes are raised to 2 by Normalize
	AlarmBackToNormal:     3,
	AlarmNoFault:          3,
	AlarmTerminalOffline:  3,
}

// Priority returns the kind's priority: 1 for a rescue (a trapped passenger); 2 for a fault that
// may trap or endanger people, and for a code no table knows; 3 for information (mode changes,
// back to normal, door faults that stop the car safely). A kind the vocabulary does not have counts
// as AlarmUnknown; the empty kind of a status report has priority 0. An Alarm's Priority can be
// higher than its kind's: see Alarm.
func (k AlarmKind) Priority() int {
	if k == "" {
		return 0
	}
	if p, ok := kindPriority[k]; ok {
		return p
	}
	return kindPriority[AlarmUnknown]
}

// AlarmNamespace names whose numbering an alarm's code follows.
type AlarmNamespace string

const (
	// NamespaceGBT24476 is the list that terminals following GB/T 24476 send (codes 0..8, 40..47,
	// 90), with the regional extensions that do not collide with it (9..11, 91..93) and the
	// escalator codes (61..65).
	NamespaceGBT24476 AlarmNamespace = "gbt24476"
	// NamespaceShmashine is the order of the common aftermarket sensor terminals and their platform
	// (1 冲顶 … 15 运行速度异常, 21 用户报警, 37 电动车乘梯).
	NamespaceShmashine AlarmNamespace = "shmashine"
	// NamespaceTCPJSON is the TCP/JSON terminals' fault list (1 非平层困人 … 8 开门走车).
	NamespaceTCPJSON AlarmNamespace = "tcpjson"
	// NamespaceLiftrescue is ours: the codes are AlarmKind names, for platforms that classify
	// alarms themselves.
	NamespaceLiftrescue AlarmNamespace = "liftrescue"
)

// AlarmNamespaces lists the namespaces Normalize accepts.
var AlarmNamespaces = []AlarmNamespace{NamespaceGBT24476, NamespaceShmashine, NamespaceTCPJSON, NamespaceLiftrescue}

// Valid reports whether ns is one of AlarmNamespaces.
func (ns AlarmNamespace) Valid() bool { return oneOf(ns, AlarmNamespaces) }

// alarmCodes maps each numbered namespace's codes, without leading zeros, to kinds. The sources of
// each row are those of ELEVATOR_ALARMS.md.
var alarmCodes = map[AlarmNamespace]map[string]AlarmKind{
	NamespaceGBT24476: {
		// The standard's list, as three sources agree on it.
		"0":  AlarmNoFault,
		"1":  AlarmSafetyCircuit,
		"2":  AlarmDoorCloseFault,
		"3":  AlarmDoorOpenFault,
		"4":  AlarmStoppedOutsideDoorZone,
		"5":  AlarmUnintendedMovement,
		"6":  AlarmRunTimeLimiter,
		"7":  AlarmFloorLost,
		"8":  AlarmRestartPrevented,
		"40": AlarmBackToNormal,
		"41": AlarmPowerLost,
		"42": AlarmModeChange, // out of service
		"43": AlarmModeChange, // inspection
		"44": AlarmModeChange, // fire return
		"45": AlarmModeChange, // firefighter operation
		"46": AlarmModeChange, // emergency power
		"47": AlarmModeChange, // earthquake
		"90": AlarmButton,
		// A regulatory platform's extension (E2)…
		"9":  AlarmOvertravelTop,
		"10": AlarmOvertravelBottom,
		"11": AlarmTrapped,
		// …its escalator codes (single source)…
		"61": AlarmSafetyCircuit,
		"62": AlarmOverspeed,
		"63": AlarmUnintendedReversal,
		"64": AlarmMissingStep,
		"65": AlarmRestartPrevented,
		// …and Chongqing's, numbered differently.
		"91": AlarmOvertravelBottom,
		"92": AlarmOvertravelTop,
		"93": AlarmTrapped,
	},
	NamespaceShmashine: {
		"1":  AlarmOvertravelTop,
		"2":  AlarmOvertravelBottom,
		"3":  AlarmOverspeed,
		"4":  AlarmDoorOpenWhileRunning,
		"5":  AlarmUnintendedMovement,
		"6":  AlarmStoppedOutsideDoorZone,
		"7":  AlarmTrapped, // 平层关人: at a floor
		"8":  AlarmTrapped, // 非平层关人: between floors
		"9":  AlarmPowerLost,
		"10": AlarmSafetyCircuit,
		"11": AlarmDoorOpenFault,
		"12": AlarmDoorCloseFault,
		"13": AlarmDoorLockCircuit,
		"14": AlarmButtonStuck,
		"15": AlarmSpeedAbnormal,
		"21": AlarmButton,
		"37": AlarmEBike,
	},
	NamespaceTCPJSON: {
		"1": AlarmTrapped, // 非平层困人
		"2": AlarmTrapped, // 平层困人
		"3": AlarmDoorOpenWhileRunning,
		"4": AlarmStoppedOutsideDoorZone,
		"5": AlarmOverspeed,
		"6": AlarmOvertravelTop,
		"7": AlarmOvertravelBottom,
		"8": AlarmUnintendedMovement,
	},
}

// modeCodes are the service modes the GB/T 24476 mode-change codes enter.
var modeCodes = map[string]string{"42": ModeOutOfService, "43": ModeInspection,
	"44": ModeFireReturn, "45": ModeFirefighter, "46": ModeEmergencyPower, "47": ModeEarthquake}

// ClassifyAlarm returns the kind of a terminal's code in the namespace's numbering; AlarmUnknown for
// a code or a namespace no table knows. Numbered codes are compared without leading zeros, as
// platforms write "01" for 1; liftrescue codes are kind names.
func ClassifyAlarm(ns AlarmNamespace, code string) AlarmKind {
	if ns == NamespaceLiftrescue {
		if _, ok := kindPriority[AlarmKind(code)]; ok {
			return AlarmKind(code)
		}
		return AlarmUnknown
	}
	if k, ok := alarmCodes[ns][trimZeros(code)]; ok {
		return k
	}
	return AlarmUnknown
}

// trimZeros drops a numbered code's leading zeros, keeping one for zero itself.
func trimZeros(code string) string {
	t := strings.TrimLeft(code, "0")
	if t == "" && code != "" {
		return "0"
	}
	return t
}

// Service modes of a RunningState, as GB/T 24476 numbers them 0..7 (see ServiceMode).
const (
	ModeOutOfService   = "out_of_service"  // 0
	ModeNormal         = "normal"          // 1
	ModeInspection     = "inspection"      // 2 检修
	ModeFireReturn     = "fire_return"     // 3 消防返回
	ModeFirefighter    = "firefighter"     // 4 消防员运行
	ModeEmergencyPower = "emergency_power" // 5 应急电源运行
	ModeEarthquake     = "earthquake"      // 6
	ModeUnknown        = "unknown"         // 7
)

// serviceModes are the modes in the order of their numbers.
var serviceModes = []string{ModeOutOfService, ModeNormal, ModeInspection, ModeFireReturn, ModeFirefighter,
	ModeEmergencyPower, ModeEarthquake, ModeUnknown}

// ServiceMode returns the name of the mode GB/T 24476 numbers n, and false for a number out of
// 0..7.
func ServiceMode(n int) (string, bool) {
	if n < 0 || n >= len(serviceModes) {
		return "", false
	}
	return serviceModes[n], true
}

// Directions of a RunningState, numbered 0..2 by GB/T 24476.
const (
	DirectionNone = "none"
	DirectionUp   = "up"
	DirectionDown = "down"
)

// RunningState is what the terminal reports of the car (GB/T 24476 real-time status); nil fields
// were not reported.
type RunningState struct {
	ServiceMode      *string `json:"service_mode,omitempty"` // one of the Mode constants
	Running          *bool   `json:"running,omitempty"`
	Direction        *string `json:"direction,omitempty"`    // one of the Direction constants
	DoorZone         *bool   `json:"door_zone,omitempty"`    // the car is where its doors may open
	DoorsLocked      *bool   `json:"doors_locked,omitempty"` // the closed-and-locked signal is on
	PassengerPresent *bool   `json:"passenger_present,omitempty"`
	Floor            *string `json:"floor,omitempty"` // as the car's display shows it: "B2", "-1", "12A"
}

// Released reports whether the state shows the car let its passengers out: doors open at a floor,
// that is, doors not locked in the door zone, or, where the door zone is not reported, doors not
// locked on a car back in normal service and standing still (which opens its doors only at
// floors). It is evidence of release after a rescue, so anything reported against it (the car
// outside the door zone, running) makes it false, and so does a state that does not say.
func (s *RunningState) Released() bool {
	switch {
	case s == nil || s.DoorsLocked == nil || *s.DoorsLocked:
		return false
	case s.Running != nil && *s.Running:
		return false
	case s.DoorZone != nil:
		return *s.DoorZone
	}
	// Running is known false here when it was reported at all.
	return s.ServiceMode != nil && *s.ServiceMode == ModeNormal && s.Running != nil
}

// check adds the state's problems to p.
func (s *RunningState) check(p *problems) {
	if s.ServiceMode != nil && !oneOf(*s.ServiceMode, serviceModes) {
		p.add("state.service_mode", "unknown mode %.32q", *s.ServiceMode)
	}
	if s.Direction != nil && !oneOf(*s.Direction, []string{DirectionNone, DirectionUp, DirectionDown}) {
		p.add("state.direction", "unknown direction %.32q: want none, up or down", *s.Direction)
	}
	if s.Floor != nil {
		checkText(p, "state.floor", *s.Floor, true, maxFloor)
	}
}

// passenger reports what the state says of someone in the car: yes, no, or unknown (known false).
func (s *RunningState) passenger() (present, known bool) {
	if s == nil || s.PassengerPresent == nil {
		return false, false
	}
	return *s.PassengerPresent, true
}

// Alarm is one report of a terminal (an alarm or a status report), as the intake hands it on.
type Alarm struct {
	EquipmentCode string         `json:"equipment_code,omitempty"` // names the elevator (20 digits), or
	TerminalID    string         `json:"terminal_id,omitempty"`    // the terminal registered on it
	Namespace     AlarmNamespace `json:"namespace"`
	Code          string         `json:"code"` // as the terminal sent it; "" for a pure status report
	Time          time.Time      `json:"time"` // when the terminal saw it, UTC
	State         *RunningState  `json:"state,omitempty"`
	// Kind and Priority are set by Normalize. Kind is "" for a status report. Priority is the
	// kind's, except that:
	//   - an alarm button is 1 unless the state says the car is empty or released: a press means
	//     someone is in the car, a dispatcher confirms by voice (the document's P1 "verify by voice");
	//   - a stop outside the door zone, an unintended movement, a door open while running or an
	//     overtravel is 1 when the state says someone is in the car and it is not released: they
	//     are shut in (the priority-1 rule, and the document's "P1 if passengers");
	//   - entering fire return, firefighter or earthquake mode is 2 (the document's proposal);
	//   - a status report without a code is 0.
	Kind     AlarmKind `json:"kind"`
	Priority int       `json:"priority"`
}

// Limits of an alarm's fields.
const (
	maxTerminalID = 64
	maxCode       = 32
	maxFloor      = 16
)

// Normalize checks the alarm and classifies it, setting Kind and Priority. It names the elevator by
// exactly one of EquipmentCode (20 digits) and TerminalID (1 to 64 printable ASCII characters,
// no spaces); Code is at most 32 printable ASCII characters. A code needs its Namespace, one of the
// four known: there is no default, because the numberings disagree on the very codes that matter
// ("7" is a trapped passenger on aftermarket terminals and a lost floor position in the
// standard's list), and guessing would file an entrapment as information. A status report (no
// code) may leave the namespace empty.
//
// A Time further than maxSkew in the future, or older than maxAge, is refused as the terminal's
// clock being wrong (a terminal without a clock battery starts in 1970 or 2000); a zero time is set
// to now. Time is kept in UTC to the microsecond. Returns EINVALID naming every problem; then the
// alarm is left as it was.
func (a *Alarm) Normalize(now time.Time, maxSkew, maxAge time.Duration) error {
	var p problems
	switch {
	case a.EquipmentCode != "" && a.TerminalID != "":
		p.add("terminal_id", "give equipment_code or terminal_id, not both")
	case a.EquipmentCode == "" && a.TerminalID == "":
		p.add("equipment_code", "missing: name the elevator by equipment_code or its terminal by terminal_id")
	case a.EquipmentCode != "" && !IsEquipmentCode(a.EquipmentCode):
		p.add("equipment_code", "must be exactly 20 digits")
	case a.TerminalID != "" && (len(a.TerminalID) > maxTerminalID || !printableASCII(a.TerminalID)):
		p.add("terminal_id", "must be 1 to %d printable ASCII characters without spaces", maxTerminalID)
	}
	switch {
	case a.Namespace == "" && a.Code != "":
		p.add("namespace", "missing: say whose numbering the code follows (gbt24476, shmashine, tcpjson or liftrescue)")
	case a.Namespace != "" && !a.Namespace.Valid():
		p.add("namespace", "unknown namespace %.32q: want gbt24476, shmashine, tcpjson or liftrescue", a.Namespace)
	}
	if len(a.Code) > maxCode || !printableASCII(a.Code) {
		p.add("code", "must be at most %d printable ASCII characters without spaces", maxCode)
	}
	t := a.Time
	switch {
	case t.IsZero():
		t = now
	case t.After(now.Add(maxSkew)):
		p.add("time", "%s is more than %s ahead of the server's clock: the terminal's clock is wrong",
			t.UTC().Format(time.RFC3339), maxSkew)
	case t.Before(now.Add(-maxAge)):
		p.add("time", "%s is more than %s old: the terminal's clock is wrong or the report is stale",
			t.UTC().Format(time.RFC3339), maxAge)
	}
	if a.State != nil {
		a.State.check(&p)
	}
	if err := p.err("alarm"); err != nil {
		return err
	}
	a.Time = t.UTC().Truncate(time.Microsecond)
	a.Kind, a.Priority = "", 0
	if a.Code != "" {
		a.Kind = ClassifyAlarm(a.Namespace, a.Code)
		a.Priority = a.priority()
	}
	return nil
}

// priority is the kind's priority raised by what the state says; see Alarm.
func (a *Alarm) priority() int {
	present, known := a.State.passenger()
	released := a.State.Released()
	switch a.Kind {
	case AlarmButton:
		if !released && (present || !known) {
			return 1
		}
	case AlarmStoppedOutsideDoorZone, AlarmUnintendedMovement, AlarmDoorOpenWhileRunning,
		AlarmOvertravelTop, AlarmOvertravelBottom:
		if present && !released {
			return 1
		}
	case AlarmModeChange:
		mode := ""
		if a.Namespace == NamespaceGBT24476 {
			mode = modeCodes[trimZeros(a.Code)]
		} else if a.State != nil && a.State.ServiceMode != nil {
			mode = *a.State.ServiceMode // a platform that says only "mode_change" tells the mode in the state
		}
		if oneOf(mode, []string{ModeFireReturn, ModeFirefighter, ModeEarthquake}) {
			return 2
		}
	}
	return a.Kind.Priority()
}
