package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
)

// Config wires an Engine.
type Config struct {
	Store    liftrescue.Store
	Index    *geo.Index
	Policy   liftrescue.Policy
	Liveness liftrescue.Liveness
	ETA      geo.ETAModel // nil: geo.StraightLineETA with its defaults
	// Grids finds the rescue grid of an elevator under the active plan; nil: no grids, tier 2
	// ranks every volunteer vehicle by ETA alone.
	Grids  liftrescue.GridLocator
	Now    func() time.Time
	Logger *slog.Logger
	// BaseURL is the service's address as responders reach it, for the links in their messages.
	BaseURL string
	// Location is the centre's time zone, for times in messages (default UTC).
	Location *time.Location
	// SMS sends units' messages as texts through the SMS gateway; without it they go to the log.
	SMS bool
	// Webhooks names the webhook targets that receive every event of every incident.
	Webhooks []string
	// Published is told of every incident saved (the live stream); Queued when notifications
	// were queued (the outbox). Both must return quickly.
	Published func(*liftrescue.Incident)
	Queued    func()
	// Workers bounds the deadlines and GPS arrivals applied at once (default 8).
	Workers int
	// WatchEvery is how often dispatched vehicles' positions are checked (default 1 s).
	WatchEvery time.Duration
	// AlarmWindow is how long repeats of an elevator's IoT alarms are collapsed into one line of
	// its incident (default DefaultAlarmWindow).
	AlarmWindow time.Duration
}

// Engine runs incidents: it opens them, applies every action through liftrescue.Decide, saves each
// step with its events and notifications in one transaction, fires deadlines when due (late ones
// at once after a restart), marks arrivals from GPS and starts tier 2 early when tier 1 cannot make it.
type Engine struct {
	cfg    Config
	roster atomic.Pointer[roster]

	mu   sync.RWMutex
	open map[int64]*liftrescue.Incident // the latest saved state of every open incident
	busy map[int64]int64                // vehicle → the open incident it is committed to or asked for
	// byElevator finds the open incident of an elevator.
	byElevator map[int64]int64
	// freed counts the times a vehicle became free again or the units were read anew: a memo of
	// the free vehicles (exhausted) holds only while it stands still.
	freed     atomic.Uint64
	exhausted atomic.Pointer[freeVans]

	locks [64]sync.Mutex // one incident's steps one at a time (by id)

	alarms     alarmState
	timers     *timerQueue
	rosterDirt chan struct{}
	sem        chan struct{}
	stop       context.CancelFunc
	wg         sync.WaitGroup
	stats      engineStats
}

// New checks the config and makes an engine; Start loads it and runs it.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Index == nil {
		return nil, errors.New("dispatch: Store and Index are required")
	}
	if err := cfg.Policy.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.Liveness.Validate(); err != nil {
		return nil, err
	}
	if cfg.ETA == nil {
		cfg.ETA = geo.StraightLineETA{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.WatchEvery <= 0 {
		cfg.WatchEvery = time.Second
	}
	if cfg.AlarmWindow <= 0 {
		cfg.AlarmWindow = DefaultAlarmWindow
	}
	e := &Engine{cfg: cfg, open: map[int64]*liftrescue.Incident{}, busy: map[int64]int64{}, byElevator: map[int64]int64{},
		timers: newTimerQueue(), rosterDirt: make(chan struct{}, 1), sem: make(chan struct{}, cfg.Workers)}
	e.roster.Store(&roster{vehicles: map[int64]*rosterVehicle{}, districts: map[string]*liftrescue.District{}})
	return e, nil
}

// Policy returns the policy in force, with its defaults filled in.
func (e *Engine) Policy() liftrescue.Policy { return e.cfg.Policy }

// Start loads the units and the open incidents, schedules every pending deadline (those already
// due fire at once) and runs until Close.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.reloadRoster(ctx); err != nil {
		return err
	}
	open, err := e.cfg.Store.OpenIncidents(ctx)
	if err != nil {
		return fmt.Errorf("load open incidents: %w", err)
	}
	for _, inc := range open {
		e.track(inc)
	}
	ctx, e.stop = context.WithCancel(context.WithoutCancel(ctx))
	e.wg.Add(3)
	go func() { defer e.wg.Done(); e.timerLoop(ctx) }()
	go func() { defer e.wg.Done(); e.watchLoop(ctx) }()
	go func() { defer e.wg.Done(); e.rosterLoop(ctx) }()
	e.cfg.Logger.Info("dispatch started", "open_incidents", len(open), "pending_deadlines", e.timers.len())
	return nil
}

// Close stops the loops and waits for steps under way.
func (e *Engine) Close() {
	if e.stop != nil {
		e.stop()
	}
	e.wg.Wait()
}

// RegistryChanged tells the engine that teams, vehicles or organisations changed, so that it
// reads its units again (at most once a second).
func (e *Engine) RegistryChanged() {
	select {
	case e.rosterDirt <- struct{}{}:
	default:
	}
}

func (e *Engine) reloadRoster(ctx context.Context) error {
	r, err := loadRoster(ctx, e.cfg.Store)
	if err != nil {
		return err
	}
	e.roster.Store(r)
	e.freed.Add(1)
	return nil
}

func (e *Engine) rosterLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.rosterDirt:
		case <-time.After(time.Minute): // changes made around the service (imports, other replicas)
		}
		if err := e.reloadRoster(ctx); err != nil && ctx.Err() == nil {
			e.cfg.Logger.Error("dispatch could not reload its units", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// Open opens an incident on the elevator a report names and notifies its tier-1 units. Returns
// EINVALID, ENOTFOUND for an unknown code (Extra["near_matches"] lists codes one digit off, the
// caller's district first), and ECONFLICT with Extra["incident_id"] when one is open on the elevator.
func (e *Engine) Open(ctx context.Context, n liftrescue.NewIncident, district string, actor liftrescue.Actor) (*liftrescue.Incident, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	el, err := e.elevatorOf(ctx, &n, district)
	if err != nil {
		return nil, err
	}
	if open := e.openOn(el.ID); open != 0 {
		// Known here without a write; the store's unique index catches what this misses (a report
		// that races another, another replica's incident).
		return nil, liftrescue.IncidentAlreadyOpen(open)
	}
	d := e.roster.Load().districts[el.District] // nil for a district not (yet) known: not rural
	var tier1 []liftrescue.Unit
	for _, id := range []int64{el.MaintenanceUnitID, el.UserUnitID} {
		o, err := e.cfg.Store.FindOrganization(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("find tier-1 unit %d: %w", id, err)
		}
		tier1 = append(tier1, orgUnit(o))
	}
	inc := liftrescue.OpenIncident(&n, el, d)
	if e.cfg.Grids != nil {
		if g := e.cfg.Grids.GridAt(el.Lon, el.Lat); g != nil {
			inc.Grid = g.Ref()
		}
	}
	now := e.cfg.Now()
	facts := e.facts(inc, liftrescue.ActionOpen, now, nil)
	facts.Tier1 = tier1
	out, err := liftrescue.Decide(inc, liftrescue.Input{Action: liftrescue.ActionOpen, Actor: actor, Facts: facts}, now, &e.cfg.Policy)
	if err != nil {
		return nil, err
	}
	ch, err := e.change(out)
	if err != nil {
		return nil, err
	}
	if err := e.cfg.Store.CreateIncident(ctx, ch); err != nil {
		return nil, err
	}
	e.stats.opened.Add(1)
	e.saved(out.Incident, len(ch.Notifications))
	return out.Incident, nil
}

// elevatorOf finds the elevator a report names.
func (e *Engine) elevatorOf(ctx context.Context, n *liftrescue.NewIncident, district string) (*liftrescue.Elevator, error) {
	if n.Elevator == "" {
		el, err := e.cfg.Store.FindElevator(ctx, n.ElevatorID)
		if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
			return nil, &liftrescue.Error{Code: liftrescue.ENOTFOUND, Message: fmt.Sprintf("no elevator has id %d", n.ElevatorID), Err: err}
		}
		return el, err
	}
	el, err := e.cfg.Store.FindElevatorByCode(ctx, n.Elevator)
	if liftrescue.ErrorCode(err) != liftrescue.ENOTFOUND {
		return el, err
	}
	near, nerr := nearMatches(ctx, e.cfg.Store, n.Elevator, district)
	if nerr != nil {
		return nil, nerr
	}
	msg := fmt.Sprintf("no elevator has the code %s", n.Elevator)
	if len(near) > 0 {
		msg += fmt.Sprintf("; %d codes one digit off exist: ask the caller to read the sign again", len(near))
	}
	return nil, &liftrescue.Error{Code: liftrescue.ENOTFOUND, Message: msg, Extra: map[string]any{"near_matches": near}}
}

// Act applies an action to an incident and returns it as saved, with its timeline. Returns
// ENOTFOUND, ECONFLICT for an action out of order (Extra["allowed"]), EINVALID.
func (e *Engine) Act(ctx context.Context, id int64, in liftrescue.Input) (*liftrescue.Incident, error) {
	if _, err := e.act(ctx, id, in); err != nil {
		return nil, err
	}
	return e.cfg.Store.FindIncident(ctx, id)
}

// act applies an action, reading the incident again and retrying when another step saved first.
func (e *Engine) act(ctx context.Context, id int64, in liftrescue.Input) (*liftrescue.Incident, error) {
	lock := &e.locks[uint64(id)%uint64(len(e.locks))]
	lock.Lock()
	defer lock.Unlock()
	for attempt := 0; ; attempt++ {
		inc, err := e.current(ctx, id, attempt > 0)
		if err != nil {
			return nil, err
		}
		now := e.cfg.Now()
		if in.Facts, err = e.resolve(ctx, inc, &in, now); err != nil {
			return nil, err
		}
		out, err := liftrescue.Decide(inc, in, now, &e.cfg.Policy)
		if err != nil {
			return nil, err
		}
		ch, err := e.change(out)
		if err != nil {
			return nil, err
		}
		// Steps of other incidents rank at the same time: the vehicles this one sends are taken
		// before it saves, and a step that lost one to another ranks again.
		taken, ok := e.reserve(id, inc, out.Incident)
		if !ok && attempt < 5 {
			continue
		}
		err = e.cfg.Store.UpdateIncident(ctx, ch)
		if err != nil {
			e.release(id, taken)
		}
		if liftrescue.ErrorCode(err) == liftrescue.ECONFLICT && attempt < 3 {
			continue // saved by another replica or process since we read it
		}
		if err != nil {
			return nil, err
		}
		e.stats.actions.Add(1)
		e.saved(out.Incident, len(ch.Notifications))
		return out.Incident, nil
	}
}

// current returns the incident as last saved: from the working set while it is open, else (or
// when fresh is asked) from the store.
func (e *Engine) current(ctx context.Context, id int64, fresh bool) (*liftrescue.Incident, error) {
	if !fresh {
		e.mu.RLock()
		inc := e.open[id]
		e.mu.RUnlock()
		if inc != nil {
			return inc, nil
		}
	}
	inc, err := e.cfg.Store.FindIncident(ctx, id)
	if err != nil {
		return nil, err
	}
	inc.Timeline, inc.Notifications = nil, nil
	return inc, nil
}

// resolve gathers the facts an action may need: the tier-2 candidates and the fire station for any
// escalation, the chosen unit of a dispatch or the vehicle of an accept.
func (e *Engine) resolve(ctx context.Context, inc *liftrescue.Incident, in *liftrescue.Input, now time.Time) (liftrescue.Facts, error) {
	var chosen *liftrescue.Unit
	switch {
	case in.Action == liftrescue.ActionDispatch && in.VehicleID != 0:
		rv := e.roster.Load().vehicles[in.VehicleID]
		if rv == nil || rv.org == nil {
			return liftrescue.Facts{}, liftrescue.Invalid("vehicle_id", fmt.Sprintf("no vehicle has id %d", in.VehicleID))
		}
		u := e.vehicleUnit(rv, inc)
		chosen = &u
	case in.Action == liftrescue.ActionDispatch && in.OrganizationID != 0:
		o, err := e.cfg.Store.FindOrganization(ctx, in.OrganizationID)
		if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
			return liftrescue.Facts{}, liftrescue.Invalid("organization_id", fmt.Sprintf("no organisation has id %d", in.OrganizationID))
		} else if err != nil {
			return liftrescue.Facts{}, err
		}
		u := orgUnit(o)
		chosen = &u
	case in.Action == liftrescue.ActionAccept && in.VehicleID != 0:
		rv := e.roster.Load().vehicles[in.VehicleID]
		a := inc.Assignment(in.AssignmentID)
		if rv == nil || rv.org == nil || a == nil || rv.org.ID != a.Unit.OrganizationID {
			return liftrescue.Facts{}, liftrescue.Invalid("vehicle_id", "not a vehicle of the unit that accepts")
		}
		u := e.vehicleUnit(rv, inc)
		chosen = &u
	}
	return e.facts(inc, in.Action, now, chosen), nil
}

// facts are the units a step of the action may turn to next: the tier-2 candidates and the fire
// station, for the actions that can escalate (an opening only to the fire station, when life is
// in danger). The others are not ranked for: a note or an arrival asks no one.
func (e *Engine) facts(inc *liftrescue.Incident, action liftrescue.Action, now time.Time, chosen *liftrescue.Unit) liftrescue.Facts {
	f := liftrescue.Facts{Chosen: chosen}
	switch {
	case inc.State.Ended() || inc.State == liftrescue.IncidentReleased:
		return f
	case action == liftrescue.ActionOpen:
		f.Fire = e.fireStation(inc)
		return f
	case action != liftrescue.ActionDeadline && action != liftrescue.ActionDecline && action != liftrescue.ActionEscalate:
		return f
	}
	for _, c := range e.rank(inc, now, e.cfg.Policy.CandidateLimit).Candidates {
		f.Tier2 = append(f.Tier2, c.Unit)
	}
	f.Fire = e.fireStation(inc)
	return f
}

// vehicleUnit describes a vehicle as a unit for the incident, with its distance and ETA when its
// position is known.
func (e *Engine) vehicleUnit(rv *rosterVehicle, inc *liftrescue.Incident) liftrescue.Unit {
	u := rv.unit()
	if st, ok := e.cfg.Index.Vehicle(rv.vehicle.ID); ok {
		d := roundM(geo.DistanceM(st.Lon, st.Lat, inc.Elevator.Lon, inc.Elevator.Lat))
		eta := e.cfg.ETA.ETA(st.Lon, st.Lat, inc.Elevator.Lon, inc.Elevator.Lat).Round(time.Second).Seconds()
		u.DistanceM, u.ETAS = &d, &eta
	}
	return u
}

// Candidates ranks the tier-2 units for an incident now. Returns ENOTFOUND.
func (e *Engine) Candidates(ctx context.Context, id int64) (*liftrescue.Candidates, error) {
	inc, err := e.current(ctx, id, false)
	if err != nil {
		return nil, err
	}
	return e.rank(inc, e.cfg.Now(), e.cfg.Policy.CandidateLimit), nil
}

// saved takes a step's saved incident into the working set and tells the stream and the outbox.
func (e *Engine) saved(inc *liftrescue.Incident, queued int) {
	e.track(inc)
	if queued > 0 && e.cfg.Queued != nil {
		e.cfg.Queued()
	}
	if e.cfg.Published != nil {
		e.cfg.Published(inc)
	}
}

// track puts an incident's latest state in the working set (or takes it out when it ended),
// keeps the busy vehicles current and schedules its pending deadlines.
func (e *Engine) track(inc *liftrescue.Incident) {
	e.mu.Lock()
	var released []int64
	if old := e.open[inc.ID]; old != nil {
		for _, a := range old.Assignments {
			if v := a.Unit.VehicleID; v != 0 && e.busy[v] == inc.ID {
				delete(e.busy, v)
				released = append(released, v)
			}
		}
	}
	if inc.State.Ended() {
		delete(e.open, inc.ID)
		if e.byElevator[inc.ElevatorID] == inc.ID {
			delete(e.byElevator, inc.ElevatorID)
		}
	} else {
		e.open[inc.ID] = inc
		e.byElevator[inc.ElevatorID] = inc.ID
		for _, a := range inc.Assignments {
			if a.Unit.VehicleID != 0 && a.State.Active() {
				e.busy[a.Unit.VehicleID] = inc.ID
			}
		}
	}
	for _, v := range released {
		if e.busy[v] == 0 {
			e.freed.Add(1)
			break
		}
	}
	e.mu.Unlock()
	for _, d := range inc.Deadlines {
		if d.Pending() {
			e.timers.add(d.Due, inc.ID, d.ID)
		}
	}
}

// reserve marks busy the vehicles a step newly sends, before the step is saved, and reports
// false (taking none) when another incident took one meanwhile.
func (e *Engine) reserve(id int64, before, after *liftrescue.Incident) ([]int64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var taken []int64
	for _, a := range after.Assignments[len(before.Assignments):] {
		v := a.Unit.VehicleID
		if v == 0 || !a.State.Active() {
			continue
		}
		if other := e.busy[v]; other != 0 && other != id {
			for _, t := range taken {
				delete(e.busy, t)
			}
			if len(taken) > 0 {
				e.freed.Add(1)
			}
			return nil, false
		}
		e.busy[v] = id
		taken = append(taken, v)
	}
	return taken, true
}

// release frees the vehicles of a step that was not saved.
func (e *Engine) release(id int64, vehicles []int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, v := range vehicles {
		if e.busy[v] == id {
			delete(e.busy, v)
			e.freed.Add(1)
		}
	}
}

// OpenCount returns how many incidents are open.
func (e *Engine) OpenCount() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.open)
}

func roundM(m float64) float64 { return float64(int64(m + 0.5)) }
