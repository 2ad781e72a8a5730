package demo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/liftrescue/liftrescue"
)

// The demo city's newer and retrofitted elevators carry IoT terminals (GB/T 24476), as a real
// city's do: two in five, up to MaxDemoTerminals. They send a heartbeat with the car's running
// state every minute; a few go quiet after a while (a SIM card that ran out, a platform that
// stopped), so that the share online is not a flat 100 %; faults come now and then, most of them
// from a handful of troubled elevators that the repeated-fault rule soon flags; and now and then a
// terminal reports a trapped passenger, repeating it every ten seconds for two minutes, as
// terminals do, which opens an incident that the rescue simulation plays out like a phoned one.

// Demo terminal defaults.
const (
	MaxDemoTerminals        = 5000
	DefaultHeartbeat        = time.Minute
	DefaultFaultEvery       = 20 * time.Second
	DefaultIoTTrappedEvery  = 15 * time.Minute
	trappedRepeatEvery      = 10 * time.Second
	trappedRepeatFor        = 2 * time.Minute
	terminalQuietAfter      = 3 * time.Minute // the quiet ones' last heartbeat
	terminalPlatformModel   = "GB/T 24476 采集终端 LT-300"
	streamTerminals         = 0x10e7
	quietOneIn, troubledOne = 30, 100 // one terminal in 30 goes quiet; one in 100 is troubled
)

// platforms are the IoT platforms of the demo's maintenance companies.
var platforms = []string{"鲁南电梯物联网平台", "枣庄特检电梯云", "安川智慧电梯平台"}

// TerminalStore is what SeedTerminals needs of a store.
type TerminalStore interface {
	ListElevators(ctx context.Context, f liftrescue.ElevatorFilter) (*liftrescue.Page[*liftrescue.Elevator], error)
	ListTerminals(ctx context.Context, f liftrescue.TerminalFilter) ([]*liftrescue.Terminal, bool, error)
	PutTerminal(ctx context.Context, t *liftrescue.Terminal) (bool, error)
}

// TerminalID is the id of the demo terminal on the elevator.
func TerminalID(elevatorID int64) string { return fmt.Sprintf("ZZT%08d", elevatorID) }

// SeedTerminals registers terminals on two in five of the store's elevators (by id), up to
// MaxDemoTerminals, unless terminals are registered already (a demo seeded before, or terminals an
// admin registered). It returns how many it registered.
func SeedTerminals(ctx context.Context, s TerminalStore) (int, error) {
	if some, _, err := s.ListTerminals(ctx, liftrescue.TerminalFilter{Limit: 1}); err != nil || len(some) > 0 {
		return 0, err
	}
	n := 0
	p := liftrescue.Paging{Limit: liftrescue.MaxLimit}
	for n < MaxDemoTerminals {
		page, err := s.ListElevators(ctx, liftrescue.ElevatorFilter{Paging: p})
		if err != nil {
			return n, err
		}
		for _, e := range page.Items {
			if e.ID%5 >= 2 || n == MaxDemoTerminals {
				continue
			}
			t := liftrescue.Terminal{ID: TerminalID(e.ID), ElevatorID: e.ID, Platform: platforms[e.ID%int64(len(platforms))], Model: terminalPlatformModel}
			if _, err := s.PutTerminal(ctx, &t); err != nil {
				return n, fmt.Errorf("seed terminal %s: %w", t.ID, err)
			}
			n++
		}
		if page.NextCursor == "" {
			break
		}
		p.Cursor = page.NextCursor
	}
	return n, nil
}

// TerminalConfig chooses how the demo's terminals report; zero fields take the defaults.
type TerminalConfig struct {
	Heartbeat    time.Duration // each terminal's heartbeat interval
	FaultEvery   time.Duration // the mean time between faults in the whole city
	TrappedEvery time.Duration // the mean time between trapped passengers reported by terminals
	Seed         uint64
}

// Terminals plays the demo city's terminals.
type Terminals struct {
	cfg   TerminalConfig
	ids   []string
	rng   *rand.Rand
	start time.Time
	// beat is how many heartbeats have been sent in all: terminal beat%len(ids) is the next.
	beat                int64
	nextFault, nextTrap time.Time
	trapped             map[string]time.Time // terminals repeating a trapped alarm, until when
	lastRepeat          time.Time
}

// NewTerminals plays the terminals with the ids from start.
func NewTerminals(cfg TerminalConfig, ids []string, start time.Time) *Terminals {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.FaultEvery <= 0 {
		cfg.FaultEvery = DefaultFaultEvery
	}
	if cfg.TrappedEvery <= 0 {
		cfg.TrappedEvery = DefaultIoTTrappedEvery
	}
	ts := &Terminals{cfg: cfg, ids: ids, rng: rand.New(rand.NewPCG(cfg.Seed, streamTerminals)), start: start,
		trapped: map[string]time.Time{}, lastRepeat: start}
	ts.nextFault = start.Add(ts.exp(cfg.FaultEvery))
	ts.nextTrap = start.Add(cfg.TrappedEvery/4 + ts.exp(cfg.TrappedEvery/2))
	return ts
}

// Len is how many terminals are played.
func (ts *Terminals) Len() int { return len(ts.ids) }

// exp draws an exponentially distributed wait of the given mean.
func (ts *Terminals) exp(mean time.Duration) time.Duration {
	return time.Duration(-math.Log(1-ts.rng.Float64()) * float64(mean))
}

// quiet says whether terminal i stops reporting after terminalQuietAfter.
func quiet(i int) bool { return i%quietOneIn == quietOneIn/2 }

// Step returns the reports due by now: the heartbeats, so that each terminal sends one every
// Heartbeat, spread evenly; the faults and trapped alarms drawn; the trapped alarms' repeats.
func (ts *Terminals) Step(now time.Time) []liftrescue.Alarm {
	if len(ts.ids) == 0 {
		return nil
	}
	var out []liftrescue.Alarm
	due := int64(float64(now.Sub(ts.start)) / float64(ts.cfg.Heartbeat) * float64(len(ts.ids)))
	for ; ts.beat < due; ts.beat++ {
		i := int(ts.beat % int64(len(ts.ids)))
		if quiet(i) && now.Sub(ts.start) > terminalQuietAfter {
			continue
		}
		out = append(out, liftrescue.Alarm{TerminalID: ts.ids[i], Time: now, State: ts.normalState()})
	}
	for !now.Before(ts.nextFault) {
		out = append(out, ts.fault(now))
		ts.nextFault = ts.nextFault.Add(ts.exp(ts.cfg.FaultEvery))
	}
	for !now.Before(ts.nextTrap) {
		id := ts.ids[ts.rng.IntN(len(ts.ids))]
		ts.trapped[id] = now.Add(trappedRepeatFor)
		out = append(out, trappedAlarm(id, now))
		ts.nextTrap = ts.nextTrap.Add(ts.exp(ts.cfg.TrappedEvery))
	}
	if now.Sub(ts.lastRepeat) >= trappedRepeatEvery {
		ts.lastRepeat = now
		for id, until := range ts.trapped {
			if now.After(until) {
				delete(ts.trapped, id)
				continue
			}
			out = append(out, trappedAlarm(id, now))
		}
	}
	return out
}

// faultCodes are the GB/T 24476 codes the demo's faults are drawn from, by how often they come.
var faultCodes = []weighted[string]{{"2", 30}, {"3", 25}, {"41", 15}, {"1", 10}, {"7", 10}, {"6", 5}, {"8", 5}}

// fault is a fault of a troubled terminal (seven times in ten) or of any other.
func (ts *Terminals) fault(now time.Time) liftrescue.Alarm {
	i := ts.rng.IntN(len(ts.ids))
	if troubled := len(ts.ids) / troubledOne; troubled > 0 && ts.rng.IntN(10) < 7 {
		i = ts.rng.IntN(troubled) * troubledOne
	}
	if quiet(i) {
		i = (i + 1) % len(ts.ids) // a quiet terminal sends nothing
	}
	return liftrescue.Alarm{TerminalID: ts.ids[i], Namespace: liftrescue.NamespaceGBT24476, Code: draw(ts.rng, faultCodes), Time: now}
}

// trappedAlarm is the regional GB/T 24476 entrapment code with the car's state: stopped between
// floors, doors locked, someone inside.
func trappedAlarm(id string, now time.Time) liftrescue.Alarm {
	yes, no := true, false
	mode := liftrescue.ModeNormal
	return liftrescue.Alarm{TerminalID: id, Namespace: liftrescue.NamespaceGBT24476, Code: "11", Time: now,
		State: &liftrescue.RunningState{ServiceMode: &mode, Running: &no, DoorZone: &no, DoorsLocked: &yes, PassengerPresent: &yes}}
}

// normalState is a car in normal service, standing at a floor with its doors closed, or running.
func (ts *Terminals) normalState() *liftrescue.RunningState {
	yes, no := true, false
	mode := liftrescue.ModeNormal
	running := ts.rng.IntN(3) == 0
	floor := strconv.Itoa(1 + ts.rng.IntN(18))
	s := &liftrescue.RunningState{ServiceMode: &mode, Running: &running, DoorsLocked: &yes, Floor: &floor, PassengerPresent: &running}
	if !running {
		s.DoorZone = &yes
	} else {
		s.DoorZone = &no
	}
	return s
}
