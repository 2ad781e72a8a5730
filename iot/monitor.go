package iot

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liftrescue/liftrescue"
)

// Monitor defaults.
const (
	// DefaultOfflineAfter is how long a terminal may be silent before it counts as offline.
	// Terminals send a heartbeat every minute or so; five missed in a row is a terminal, a SIM card
	// or a platform that stopped, not a dropped packet.
	DefaultOfflineAfter = 5 * time.Minute
	// DefaultFaultWindow is how long repeats of one fault code of an elevator count on its record
	// instead of being written again, as dispatch collapses an incident's alarms.
	DefaultFaultWindow = time.Minute
	// DefaultFlagFaults and DefaultFlagPeriod are the repeated-fault rule: an elevator with three
	// faults within thirty days is flagged for the supervisor.
	DefaultFlagFaults = 3
	DefaultFlagPeriod = 30 * 24 * time.Hour

	flushEvery    = time.Second      // faults reach the store at most this late
	persistEvery  = 30 * time.Second // terminals' last-seen times reach the store at most this late
	reloadEvery   = time.Minute      // terminals registered or removed around the service
	maxFaultQueue = 100_000          // faults kept while the store does not answer; the oldest go first
)

// MonitorStore is what the Monitor keeps in the store.
type MonitorStore interface {
	liftrescue.TerminalService
	liftrescue.FaultService
	FindElevator(ctx context.Context, id int64) (*liftrescue.Elevator, error)
}

// Dispatcher acts on reports: the dispatch engine.
type Dispatcher interface {
	// RaiseAlarm acts on a report that names its elevator by equipment code.
	RaiseAlarm(ctx context.Context, a liftrescue.Alarm, sender string) (liftrescue.AlarmResult, error)
	// RaiseElevatorAlarm acts on a report whose elevator is known.
	RaiseElevatorAlarm(ctx context.Context, elevatorID int64, a liftrescue.Alarm) (liftrescue.AlarmResult, error)
	// OpenOn returns the incident open on the elevator, 0 for none.
	OpenOn(elevatorID int64) int64
}

// Monitor is the service's side of the terminals. Every report, whatever its way in (HTTP batches,
// MQTT), passes through Report: a report naming a registered terminal reaches the terminal's
// elevator without a read of the store, and tells that the terminal is alive; alarms go on to
// dispatch, which opens or writes on incidents; every alarm is written on the elevator's fault
// record, its repeats within a window counted on one entry. Terminals silent for OfflineAfter are
// marked offline (once, with an entry on the record), and the share online is Summary's figure.
//
// The terminals are held in memory (loaded by Start, kept by Put and Delete, read again every
// minute for changes made around the service); when each was last heard from is kept there and
// written to the store every 30 s, and faults are written in batches every second, so that a flood
// of reports costs no write per report. On Close both are written out.
type Monitor struct {
	Store    MonitorStore
	Dispatch Dispatcher
	// OfflineAfter is how long a terminal may be silent (0: DefaultOfflineAfter).
	OfflineAfter time.Duration
	// FaultWindow collapses repeats of one code of one elevator (0: DefaultFaultWindow).
	FaultWindow time.Duration
	// FlagFaults within FlagPeriod flag an elevator (0: the defaults).
	FlagFaults int
	FlagPeriod time.Duration
	Now        func() time.Time // nil: time.Now
	Logger     *slog.Logger     // nil: no logs

	mu        sync.RWMutex
	terminals map[string]*terminal
	byCode    map[string][]*terminal // by the elevator's equipment code

	faults  faultLog
	flushMu sync.Mutex // one flush at a time: the faults' ids are set by the flush that wrote them
	started atomic.Bool
	once    sync.Once
	ready   chan struct{} // closed when Start has loaded the terminals
	stop    context.CancelFunc
	done    chan struct{}
}

// terminal is a registered terminal and what was heard from it.
type terminal struct {
	t       liftrescue.Terminal // as registered; t.LastSeen is not kept up to date, seen is
	seen    atomic.Int64        // unix nanoseconds of the last report, 0 for never
	stored  atomic.Int64        // the last seen time the store has
	offline atomic.Bool         // marked offline and not heard from since
	state   atomic.Pointer[stateAt]
}

// stateAt is the latest running state a terminal reported.
type stateAt struct {
	state *liftrescue.RunningState
	at    time.Time
}

func (m *Monitor) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Monitor) logger() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (m *Monitor) offlineAfter() time.Duration { return orDefault(m.OfflineAfter, DefaultOfflineAfter) }

// Start loads the registered terminals and runs the monitor's loops until Close.
func (m *Monitor) Start(ctx context.Context) error {
	if m.Store == nil || m.Dispatch == nil {
		return errors.New("iot: Monitor needs a Store and a Dispatch")
	}
	m.init()
	m.faults.window = orDefault(m.FaultWindow, DefaultFaultWindow)
	if err := m.reload(ctx); err != nil {
		return err
	}
	ctx, m.stop = context.WithCancel(context.WithoutCancel(ctx))
	m.done = make(chan struct{})
	go m.loop(ctx)
	m.started.Store(true)
	close(m.ready)
	return nil
}

// init makes what Report may touch before Start has run.
func (m *Monitor) init() {
	m.once.Do(func() {
		m.ready = make(chan struct{})
		m.terminals, m.byCode = map[string]*terminal{}, map[string][]*terminal{}
	})
}

// Started reports whether Start has loaded the terminals: before, every report naming a terminal
// would be quarantined as unknown.
func (m *Monitor) Started() bool { return m.started.Load() }

// Close stops the loops and writes out what is kept in memory: the faults not yet written and the
// terminals' last-seen times.
func (m *Monitor) Close() {
	if m.stop == nil {
		return
	}
	m.stop()
	<-m.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.Flush(ctx)
	m.persist(ctx)
}

func (m *Monitor) loop(ctx context.Context) {
	defer close(m.done)
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	var persisted, reloaded time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := m.now()
		m.Flush(ctx)
		m.CheckOffline(now)
		if now.Sub(persisted) >= persistEvery {
			m.persist(ctx)
			persisted = now
		}
		if now.Sub(reloaded) >= reloadEvery {
			if reloaded.IsZero() {
				reloaded = now // Start has just loaded them
				continue
			}
			if err := m.reload(ctx); err != nil && ctx.Err() == nil {
				m.logger().Error("terminals not read again", "err", err)
			}
			reloaded = now
		}
	}
}

// Report takes one normalised report (Normalize has run; the decoders do it) from sender, the
// platform or topic it came by. See Monitor.
func (m *Monitor) Report(ctx context.Context, a liftrescue.Alarm, sender string) (liftrescue.AlarmResult, error) {
	// A report that comes while the service starts waits for the terminals to be loaded, rather
	// than its terminal being taken for unknown and the alarm quarantined.
	m.init()
	select {
	case <-m.ready:
	case <-ctx.Done():
		return liftrescue.AlarmResult{}, liftrescue.Errorf(liftrescue.EUNAVAILABLE, "the terminals are still being loaded")
	}
	now := m.now()
	var t *terminal
	if a.TerminalID != "" {
		if t = m.find(a.TerminalID); t == nil {
			return m.Dispatch.RaiseAlarm(ctx, a, sender) // quarantined there, with the reason
		}
		m.heard(t, a.State, now)
	} else {
		m.mu.RLock()
		for _, t := range m.byCode[a.EquipmentCode] {
			m.heard(t, a.State, now) // a platform's report for the elevator tells its terminals are alive
		}
		m.mu.RUnlock()
	}
	if t != nil && a.Code == "" && (a.State == nil || m.Dispatch.OpenOn(t.t.ElevatorID) == 0) {
		// A heartbeat, or a running state with no incident to be evidence on: kept as the
		// terminal's latest state, nothing for dispatch.
		return liftrescue.AlarmResult{Outcome: liftrescue.AlarmRecorded, ElevatorID: t.t.ElevatorID}, nil
	}
	var res liftrescue.AlarmResult
	var err error
	if t != nil {
		res, err = m.Dispatch.RaiseElevatorAlarm(ctx, t.t.ElevatorID, a)
	} else {
		res, err = m.Dispatch.RaiseAlarm(ctx, a, sender)
	}
	if err == nil && a.Code != "" && res.Outcome != liftrescue.AlarmQuarantined {
		m.faults.record(&a, res, sender, now)
	}
	return res, err
}

// heard notes that the terminal reported at now, with its state if it sent one.
func (m *Monitor) heard(t *terminal, s *liftrescue.RunningState, now time.Time) {
	t.seen.Store(now.UnixNano())
	if s != nil {
		t.state.Store(&stateAt{state: s, at: now})
	}
	if t.offline.CompareAndSwap(true, false) {
		m.logger().Info("terminal back online", "terminal", t.t.ID, "elevator", t.t.ElevatorID)
	}
}

func (m *Monitor) find(id string) *terminal {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.terminals[id]
}

// CheckOffline marks the terminals silent for longer than OfflineAfter offline, writing an entry
// on each one's elevator's fault record. A terminal never heard from is not marked: it has no
// silence to measure, and counts as never in Summary. The loop calls it every second.
func (m *Monitor) CheckOffline(now time.Time) {
	limit := now.Add(-m.offlineAfter()).UnixNano()
	var gone []*terminal
	m.mu.RLock()
	for _, t := range m.terminals {
		if seen := t.seen.Load(); seen != 0 && seen < limit && !t.offline.Load() {
			gone = append(gone, t)
		}
	}
	m.mu.RUnlock()
	for _, t := range gone {
		if !t.offline.CompareAndSwap(false, true) {
			continue
		}
		last := time.Unix(0, t.seen.Load()).UTC()
		m.logger().Warn("terminal offline", "terminal", t.t.ID, "elevator", t.t.ElevatorID, "last_seen", last)
		m.faults.add(&liftrescue.Fault{ElevatorID: t.t.ElevatorID, TerminalID: t.t.ID,
			Namespace: liftrescue.NamespaceLiftrescue, Code: string(liftrescue.AlarmTerminalOffline),
			Kind: liftrescue.AlarmTerminalOffline, Priority: liftrescue.AlarmTerminalOffline.Priority(),
			FirstAt: now.UTC().Truncate(time.Microsecond), LastAt: now.UTC().Truncate(time.Microsecond), Repeats: 1,
			Sender: "liftrescue: no report since " + last.Format(time.RFC3339)})
	}
}

// status says what the terminal's silence means at now.
func (m *Monitor) status(t *terminal, now time.Time) liftrescue.TerminalStatus {
	seen := t.seen.Load()
	switch {
	case seen == 0:
		return liftrescue.TerminalNever
	case now.Sub(time.Unix(0, seen)) > m.offlineAfter():
		return liftrescue.TerminalOffline
	}
	return liftrescue.TerminalOnline
}

// view is the terminal as the API shows it, at now.
func (m *Monitor) view(t *terminal, now time.Time) liftrescue.TerminalState {
	v := liftrescue.TerminalState{Terminal: t.t, Status: m.status(t, now)}
	v.LastSeen = nil
	if seen := t.seen.Load(); seen != 0 {
		at := time.Unix(0, seen).UTC()
		v.LastSeen = &at
	}
	if s := t.state.Load(); s != nil {
		v.State, v.StateAt = s.state, &s.at
	}
	return v
}

// Summary counts the terminals by status, for the city and each district (ordered by code);
// district, when not empty, limits it to that district (a district's account).
func (m *Monitor) Summary(district string) liftrescue.TerminalsReport {
	now := m.now()
	byDistrict := map[string]*liftrescue.TerminalSummary{}
	var city liftrescue.TerminalSummary
	m.mu.RLock()
	for _, t := range m.terminals {
		if district != "" && t.t.District != district {
			continue
		}
		d := byDistrict[t.t.District]
		if d == nil {
			d = &liftrescue.TerminalSummary{District: t.t.District}
			byDistrict[t.t.District] = d
		}
		status := m.status(t, now)
		d.Count(status)
		city.Count(status)
	}
	m.mu.RUnlock()
	r := liftrescue.TerminalsReport{TerminalSummary: city, OfflineAfterS: m.offlineAfter().Seconds(),
		Districts: make([]liftrescue.TerminalSummary, 0, len(byDistrict))}
	for _, d := range byDistrict {
		r.Districts = append(r.Districts, *d)
	}
	slices.SortFunc(r.Districts, func(a, b liftrescue.TerminalSummary) int { return cmp.Compare(a.District, b.District) })
	return r
}

// TerminalQuery selects terminals from the monitor's memory, ordered by id.
type TerminalQuery struct {
	ElevatorID int64
	District   string
	Status     liftrescue.TerminalStatus // "": all
	After      string                    // the last id of the page before
	Limit      int                       // 1..liftrescue.MaxLimit; 0: liftrescue.DefaultLimit
}

// Terminals returns a page of the registered terminals as they stand now, how many match the
// query on all pages, and whether more follow.
func (m *Monitor) Terminals(q TerminalQuery) (page []liftrescue.TerminalState, total int, more bool, err error) {
	switch {
	case q.Limit == 0:
		q.Limit = liftrescue.DefaultLimit
	case q.Limit < 0 || q.Limit > liftrescue.MaxLimit:
		return nil, 0, false, liftrescue.Invalid("limit", "must be between 1 and 1000")
	}
	if q.Status != "" && !slices.Contains([]liftrescue.TerminalStatus{liftrescue.TerminalOnline,
		liftrescue.TerminalOffline, liftrescue.TerminalNever}, q.Status) {
		return nil, 0, false, liftrescue.Invalid("status", "want online, offline or never")
	}
	now := m.now()
	out := []liftrescue.TerminalState{}
	m.mu.RLock()
	for _, t := range m.terminals {
		switch {
		case q.ElevatorID != 0 && t.t.ElevatorID != q.ElevatorID,
			q.District != "" && t.t.District != q.District,
			q.Status != "" && m.status(t, now) != q.Status:
			continue
		}
		total++
		if t.t.ID > q.After {
			out = append(out, m.view(t, now))
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b liftrescue.TerminalState) int { return cmp.Compare(a.ID, b.ID) })
	if len(out) > q.Limit {
		return out[:q.Limit], total, true, nil
	}
	return out, total, false, nil
}

// Terminal returns one terminal as it stands now; ENOTFOUND.
func (m *Monitor) Terminal(id string) (liftrescue.TerminalState, error) {
	t := m.find(id)
	if t == nil {
		return liftrescue.TerminalState{}, liftrescue.Errorf(liftrescue.ENOTFOUND, "no terminal %.64q is registered", id)
	}
	return m.view(t, m.now()), nil
}

// Put registers the terminal, or moves or describes it anew, in the store and at once in the
// monitor. What was heard from a terminal stays with its id.
func (m *Monitor) Put(ctx context.Context, t *liftrescue.Terminal) (liftrescue.TerminalState, bool, error) {
	created, err := m.Store.PutTerminal(ctx, t)
	if err != nil {
		return liftrescue.TerminalState{}, false, err
	}
	stored, err := m.Store.FindTerminal(ctx, t.ID) // with its elevator's code and district
	if err != nil {
		return liftrescue.TerminalState{}, false, err
	}
	return m.view(m.placeLocked(stored), m.now()), created, nil
}

// Delete unregisters the terminal; its reports are quarantined from now on. ENOTFOUND.
func (m *Monitor) Delete(ctx context.Context, id string) error {
	if err := m.Store.DeleteTerminal(ctx, id); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.terminals[id]; old != nil {
		delete(m.terminals, id)
		m.byCode[old.t.EquipmentCode] = slices.DeleteFunc(m.byCode[old.t.EquipmentCode], func(x *terminal) bool { return x == old })
	}
	return nil
}

func (m *Monitor) placeLocked(s *liftrescue.Terminal) *terminal {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.place(s)
}

// place puts the stored terminal in the maps, in place of the one with its id, keeping what was
// heard from it. The caller holds m.mu.
func (m *Monitor) place(s *liftrescue.Terminal) *terminal {
	nt := &terminal{t: *s}
	nt.t.LastSeen = nil
	if s.LastSeen != nil {
		nt.seen.Store(s.LastSeen.UnixNano())
		nt.stored.Store(s.LastSeen.UnixNano())
	}
	if old := m.terminals[s.ID]; old != nil {
		nt.seen.Store(max(nt.seen.Load(), old.seen.Load()))
		nt.stored.Store(max(nt.stored.Load(), old.stored.Load()))
		nt.offline.Store(old.offline.Load())
		nt.state.Store(old.state.Load())
		m.byCode[old.t.EquipmentCode] = slices.DeleteFunc(m.byCode[old.t.EquipmentCode], func(x *terminal) bool { return x == old })
	} else if seen := nt.seen.Load(); seen != 0 && m.now().Sub(time.Unix(0, seen)) > m.offlineAfter() {
		nt.offline.Store(true) // silent since before the service started: already offline, not news
	}
	m.terminals[s.ID] = nt
	m.byCode[s.EquipmentCode] = append(m.byCode[s.EquipmentCode], nt)
	return nt
}

// reload reads every registered terminal from the store: new ones are added, gone ones dropped,
// and the ones kept keep what was heard from them.
func (m *Monitor) reload(ctx context.Context) error {
	var all []*liftrescue.Terminal
	after := ""
	for {
		page, more, err := m.Store.ListTerminals(ctx, liftrescue.TerminalFilter{After: after, Limit: liftrescue.MaxLimit})
		if err != nil {
			return err
		}
		all = append(all, page...)
		if !more || len(page) == 0 {
			break
		}
		after = page[len(page)-1].ID
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.terminals
	m.terminals = make(map[string]*terminal, len(all))
	m.byCode = make(map[string][]*terminal, len(all))
	for _, s := range all {
		if o := old[s.ID]; o != nil {
			m.terminals[s.ID] = o // so that place keeps what was heard
		}
		m.place(s)
	}
	return nil
}

// persist writes the last-seen times heard since the last write.
func (m *Monitor) persist(ctx context.Context) {
	seen := map[string]time.Time{}
	var touched []*terminal
	m.mu.RLock()
	for id, t := range m.terminals {
		if s := t.seen.Load(); s > t.stored.Load() {
			seen[id] = time.Unix(0, s).UTC()
			touched = append(touched, t)
		}
	}
	m.mu.RUnlock()
	if len(seen) == 0 {
		return
	}
	if err := m.Store.TouchTerminals(ctx, seen); err != nil {
		if ctx.Err() == nil {
			m.logger().Error("terminals' last-seen times not written", "terminals", len(seen), "err", err)
		}
		return
	}
	for _, t := range touched {
		t.stored.Store(seen[t.t.ID].UnixNano())
	}
}

// Flush writes the faults recorded since the last flush and the repeats counted since. The loop
// calls it every second; tests call it to see the record at once.
func (m *Monitor) Flush(ctx context.Context) {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	if err := m.faults.flush(ctx, m.Store, m.now()); err != nil && ctx.Err() == nil {
		m.logger().Error("fault records not written", "err", err)
	}
}

// Flagged lists the elevators with at least FlagFaults counting faults in the last FlagPeriod,
// most faults first; district, when not empty, keeps that district's.
func (m *Monitor) Flagged(ctx context.Context, district string) (*liftrescue.FlaggedReport, error) {
	min, period := m.FlagFaults, m.FlagPeriod
	if min <= 0 {
		min = DefaultFlagFaults
	}
	if period <= 0 {
		period = DefaultFlagPeriod
	}
	since := m.now().Add(-period).UTC()
	counts, err := m.Store.CountFaults(ctx, since, min)
	if err != nil {
		return nil, err
	}
	r := &liftrescue.FlaggedReport{Items: []liftrescue.FlaggedElevator{}, Min: min, PeriodS: period.Seconds(), Since: since}
	for _, c := range counts {
		el, err := m.Store.FindElevator(ctx, c.ElevatorID)
		if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
			continue // deleted meanwhile
		} else if err != nil {
			return nil, err
		}
		if district != "" && el.District != district {
			continue
		}
		r.Items = append(r.Items, liftrescue.FlaggedElevator{ElevatorID: el.ID, RescueCode: el.RescueCode,
			EquipmentCode: el.EquipmentCode, Address: el.Address, District: el.District,
			MaintenanceUnitID: el.MaintenanceUnitID, Faults: c.Faults, LastAt: c.LastAt})
	}
	return r, nil
}
