package loadgen

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/liftrescue/liftrescue"
)

// A fleet is a set of simulated elevator IoT terminals, one on each of the first elevators of a
// district. Each sends a status report (a heartbeat: no code, the car's running state) every
// heartbeat interval; a share raise a fault and a share a trapped-passenger alarm at a random
// point of the first half of the run, and repeat it every repeat interval to the end, as
// terminals do for as long as the cause lasts. The service must open one incident per trapped
// elevator and collapse the repeats; RunFleet measures that it does, and how fast.

// Role is what a terminal of a fleet does besides its heartbeats.
type Role uint8

const (
	RoleHeartbeat Role = iota // heartbeats only
	RoleFaulty                // raises a fault (a lower-priority code) and repeats it
	RoleTrapped               // raises a trapped-passenger alarm and repeats it
)

func (r Role) String() string {
	switch r {
	case RoleFaulty:
		return "faulty"
	case RoleTrapped:
		return "trapped"
	}
	return "heartbeat"
}

// AlarmCode is a terminal's code in its namespace's numbering.
type AlarmCode struct {
	Namespace liftrescue.AlarmNamespace
	Code      string
}

// TrappedCodes are the trapped-passenger alarms the trapped terminals raise, taken in turn. They
// come from several numberings, as real fleets mix terminal families.
var TrappedCodes = []AlarmCode{
	{liftrescue.NamespaceShmashine, "7"}, // 平层关人
	{liftrescue.NamespaceShmashine, "8"}, // 非平层关人
	{liftrescue.NamespaceGBT24476, "11"},
	{liftrescue.NamespaceGBT24476, "93"},
	{liftrescue.NamespaceTCPJSON, "1"}, // 非平层困人
}

// FaultCodes are the faults the faulty terminals raise, taken in turn: codes of priority 2 or 3
// that no running state raises to 1. GB/T 24476's "7" (floor position lost) is a trapped passenger
// in the aftermarket numbering: a report with the wrong namespace would open an incident.
var FaultCodes = []AlarmCode{
	{liftrescue.NamespaceGBT24476, "2"},   // door close fault
	{liftrescue.NamespaceGBT24476, "41"},  // power lost
	{liftrescue.NamespaceGBT24476, "7"},   // floor position lost
	{liftrescue.NamespaceShmashine, "12"}, // door close fault
}

// TerminalID returns the id of the fleet's terminal on an elevator: LG- and the elevator's id.
func TerminalID(elevatorID int64) string { return "LG-" + strconv.FormatInt(elevatorID, 10) }

// fleetElevator is what a fleet needs of an elevator.
type fleetElevator struct {
	ID            int64  `json:"id"`
	EquipmentCode string `json:"equipment_code"`
	District      string `json:"district"`
	Floors        int    `json:"floors"`
}

// Terminal is one simulated terminal of a fleet and its timetable.
type Terminal struct {
	ID            string // TerminalID of the elevator
	ElevatorID    int64
	EquipmentCode string
	Floors        int
	Role          Role
	Alarm         AlarmCode // of a faulty or trapped terminal
	// Phase is when its first heartbeat is due, from the start: within the first interval.
	Phase time.Duration
	// Onset is when a faulty or trapped terminal raises its alarm: within the first half of the run.
	Onset time.Duration
	// Busy says an incident was open on the elevator before the run: it keeps to heartbeats, as
	// a trapped alarm there would be written on that incident rather than open one.
	Busy bool
}

// shareOf is how many of n a share is: rounded, at least one of a share above 0.
func shareOf(share float64, n int) int {
	if share <= 0 || n == 0 {
		return 0
	}
	return min(n, max(1, int(math.Round(share*float64(n)))))
}

// newFleet fits a terminal on each elevator and deals the roles: trapped and faulty ones are drawn
// among the elevators without an open incident (busy), trapped first when there are too few. The
// draw, the phases and the onsets follow from seed alone.
func newFleet(els []fleetElevator, busy map[int64]bool, cfg *Config, seed uint64) []Terminal {
	rng := rand.New(rand.NewPCG(seed, 0xf1ee7))
	ts := make([]Terminal, len(els))
	var free []int
	for i, el := range els {
		ts[i] = Terminal{ID: TerminalID(el.ID), ElevatorID: el.ID, EquipmentCode: el.EquipmentCode, Floors: el.Floors,
			Busy: busy[el.ID], Phase: time.Duration(rng.Int64N(int64(cfg.Heartbeat)))}
		if !ts[i].Busy {
			free = append(free, i)
		}
	}
	rng.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
	trapped := min(len(free), shareOf(cfg.TrappedShare, len(els)))
	faulty := min(len(free)-trapped, shareOf(cfg.FaultyShare, len(els)))
	half := int64(cfg.Duration / 2)
	for k, i := range free[:trapped+faulty] {
		t := &ts[i]
		if k < trapped {
			t.Role, t.Alarm = RoleTrapped, TrappedCodes[k%len(TrappedCodes)]
		} else {
			t.Role, t.Alarm = RoleFaulty, FaultCodes[(k-trapped)%len(FaultCodes)]
		}
		if half > 0 {
			t.Onset = time.Duration(rng.Int64N(half))
		}
	}
	return ts
}

// occurrences counts first, first+every, … before end.
func occurrences(first, every, end time.Duration) int64 {
	if first >= end {
		return 0
	}
	return int64((end-first-1)/every) + 1
}

// scheduled counts the reports the terminals' timetables hold for a run of duration d.
func scheduled(ts []Terminal, heartbeat, repeat, d time.Duration) int64 {
	var n int64
	for i := range ts {
		n += occurrences(ts[i].Phase, heartbeat, d)
		if ts[i].Role != RoleHeartbeat {
			n += occurrences(ts[i].Onset, repeat, d)
		}
	}
	return n
}

// eventKind is what a report of the timetable is.
type eventKind uint8

const (
	evHeartbeat eventKind = iota
	evAlarm
)

// fleetEvent is one report due at At from the start.
type fleetEvent struct {
	At   time.Duration
	Term *Terminal
	Kind eventKind
}

// First reports whether the event is the terminal's alarm raised, not a repeat.
func (ev *fleetEvent) First() bool { return ev.Kind == evAlarm && ev.At == ev.Term.Onset }

// Label names the event in the report's counts: heartbeat, trapped, trapped repeat, fault, fault
// repeat.
func (ev *fleetEvent) Label() string {
	switch {
	case ev.Kind == evHeartbeat:
		return "heartbeat"
	case ev.Term.Role == RoleTrapped && ev.First():
		return "trapped"
	case ev.Term.Role == RoleTrapped:
		return "trapped repeat"
	case ev.First():
		return "fault"
	}
	return "fault repeat"
}

// timetable yields the reports of some terminals in the order they are due, until end.
type timetable struct {
	h                 eventHeap
	heartbeat, repeat time.Duration
	end               time.Duration
}

func newTimetable(ts []*Terminal, heartbeat, repeat, end time.Duration) *timetable {
	tt := &timetable{heartbeat: heartbeat, repeat: repeat, end: end}
	for _, t := range ts {
		tt.push(fleetEvent{At: t.Phase, Term: t, Kind: evHeartbeat})
		if t.Role != RoleHeartbeat {
			tt.push(fleetEvent{At: t.Onset, Term: t, Kind: evAlarm})
		}
	}
	return tt
}

func (tt *timetable) push(ev fleetEvent) {
	if ev.At < tt.end {
		heap.Push(&tt.h, ev)
	}
}

// peek returns when the next report is due; false when there is none before the end.
func (tt *timetable) peek() (time.Duration, bool) {
	if len(tt.h) == 0 {
		return 0, false
	}
	return tt.h[0].At, true
}

// pop takes the next report and puts the one after it of the same kind in its place.
func (tt *timetable) pop() fleetEvent {
	ev := heap.Pop(&tt.h).(fleetEvent)
	next := ev
	if ev.Kind == evHeartbeat {
		next.At += tt.heartbeat
	} else {
		next.At += tt.repeat
	}
	tt.push(next)
	return ev
}

// eventHeap orders events by time, then elevator, then kind, so that a timetable is the same for
// the same fleet.
type eventHeap []fleetEvent

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	a, b := &h[i], &h[j]
	if a.At != b.At {
		return a.At < b.At
	}
	if a.Term.ElevatorID != b.Term.ElevatorID {
		return a.Term.ElevatorID < b.Term.ElevatorID
	}
	return a.Kind > b.Kind // the alarm before the heartbeat
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(fleetEvent)) }
func (h *eventHeap) Pop() any {
	old := *h
	ev := old[len(old)-1]
	*h = old[:len(old)-1]
	return ev
}

// reportEncoder append-encodes terminal reports as JSON objects, the way terminals write them:
// GB/T 24476's numbers for the running state.
type reportEncoder struct {
	byCode bool // name the elevator by equipment code
	tf     timeFormatter
}

// append appends the report of ev seen at t. The running state follows the terminal's role: a
// trapped car stands between floors with its doors locked and someone inside, from its alarm on;
// other cars stand at a floor with their doors closed, or run with someone inside. Doors are always
// locked, so that no report is evidence of a release on an incident opened by someone else.
func (enc *reportEncoder) append(b []byte, ev *fleetEvent, t time.Time, rng *rand.Rand) []byte {
	term := ev.Term
	if enc.byCode {
		b = append(b, `{"equipment_code":"`...)
		b = append(b, term.EquipmentCode...)
	} else {
		b = append(b, `{"terminal_id":"`...)
		b = append(b, term.ID...)
	}
	b = append(b, '"')
	if ev.Kind == evAlarm {
		b = append(b, `,"namespace":"`...)
		b = append(b, term.Alarm.Namespace...)
		b = append(b, `","code":"`...)
		b = append(b, term.Alarm.Code...)
		b = append(b, '"')
	}
	b = append(b, `,"time":"`...)
	b = enc.tf.append(b, t)
	floors := term.Floors
	if floors < 2 {
		floors = 20
	}
	floor := 1 + int64(uint64(term.ElevatorID)%uint64(floors))
	switch {
	case term.Role == RoleTrapped && ev.At >= term.Onset:
		b = append(b, `","state":{"service_mode":1,"running":0,"direction":0,"door_zone":2,"doors_locked":1,"passenger_present":1,"floor":`...)
	case term.Role == RoleHeartbeat && rng.IntN(3) == 0:
		floor = 1 + rng.Int64N(int64(floors))
		b = append(b, `","state":{"service_mode":1,"running":1,"direction":`...)
		b = strconv.AppendInt(b, 1+rng.Int64N(2), 10)
		b = append(b, `,"door_zone":2,"doors_locked":1,"passenger_present":1,"floor":`...)
	default:
		b = append(b, `","state":{"service_mode":1,"running":0,"direction":0,"door_zone":1,"doors_locked":1,"passenger_present":2,"floor":`...)
	}
	b = strconv.AppendInt(b, floor, 10)
	return append(b, "}}"...)
}
