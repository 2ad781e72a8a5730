package iot

import (
	"context"
	"sync"
	"time"

	"github.com/liftrescue/liftrescue"
)

// A terminal repeats a fault every few seconds for as long as it lasts, like an alarm. The fault
// record keeps one entry per occurrence: the first report of a code is written (at most a second
// later, in a batch with the others), and its repeats within the window are added to that entry's
// count and latest time, not written again. A report after the window starts a new entry.

// faultKey is what makes reports repeats of one another: the same code of the same elevator.
type faultKey struct {
	elevator  int64
	namespace liftrescue.AlarmNamespace
	code      string
}

// faultWindow is the entry a window's reports count on.
type faultWindow struct {
	fault   *liftrescue.Fault // its ID is 0 until a flush has written it
	started time.Time         // when the first report came (server time)
	pending int               // repeats counted since the last flush
	lastAt  time.Time         // the latest repeat's time
}

type faultLog struct {
	window time.Duration

	mu      sync.Mutex
	windows map[faultKey]*faultWindow
	// closed are windows a later report replaced while repeats counted on them were not yet
	// written; a flush writes them and forgets them.
	closed  []*faultWindow
	queue   []*liftrescue.Fault // to write
	dropped int                 // faults dropped from a full queue since the last flush
}

// record notes an alarm the dispatcher took (res) on the record of res.ElevatorID.
func (l *faultLog) record(a *liftrescue.Alarm, res liftrescue.AlarmResult, sender string, now time.Time) {
	key := faultKey{res.ElevatorID, a.Namespace, a.Code}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.windows[key]; w != nil && now.Sub(w.started) < l.window {
		w.pending++
		if a.Time.After(w.lastAt) {
			w.lastAt = a.Time
		}
		return
	}
	f := &liftrescue.Fault{ElevatorID: res.ElevatorID, TerminalID: a.TerminalID, Namespace: a.Namespace,
		Code: a.Code, Kind: a.Kind, Priority: a.Priority, State: a.State, FirstAt: a.Time, LastAt: a.Time,
		Repeats: 1, IncidentID: res.IncidentID, Sender: sender, Counts: a.Kind.IsFault()}
	if l.windows == nil {
		l.windows = map[faultKey]*faultWindow{}
	}
	if old := l.windows[key]; old != nil && old.pending > 0 {
		l.closed = append(l.closed, old)
	}
	l.windows[key] = &faultWindow{fault: f, started: now, lastAt: a.Time}
	l.push(f)
}

// add queues a fault that is not a terminal's report (a terminal gone offline).
func (l *faultLog) add(f *liftrescue.Fault) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f.Counts = f.Kind.IsFault()
	l.push(f)
}

// push queues f, dropping the oldest when the store has been away for long. The caller holds l.mu.
func (l *faultLog) push(f *liftrescue.Fault) {
	if len(l.queue) == maxFaultQueue {
		l.queue = l.queue[1:]
		l.dropped++
	}
	l.queue = append(l.queue, f)
}

// flush writes the queued faults, then the repeats counted on written ones, and forgets the
// windows that have passed. What could not be written is kept for the next flush, except faults
// the store refuses as naming no elevator (deleted meanwhile).
func (l *faultLog) flush(ctx context.Context, store liftrescue.FaultService, now time.Time) error {
	l.mu.Lock()
	queue := l.queue
	l.queue = nil
	dropped := l.dropped
	l.dropped = 0
	l.mu.Unlock()
	var err error
	if len(queue) > 0 {
		err = store.AppendFaults(ctx, queue)
		if liftrescue.ErrorCode(err) == liftrescue.EINVALID {
			queue = withoutBad(queue, err)
			err = store.AppendFaults(ctx, queue)
		}
		if err != nil {
			l.mu.Lock()
			l.queue = append(queue, l.queue...) // the order of writing does not matter, the times do
			if over := len(l.queue) - maxFaultQueue; over > 0 {
				l.queue = l.queue[over:]
			}
			l.mu.Unlock()
			return err
		}
	}
	var repeats []liftrescue.FaultRepeat
	var counted []*faultWindow
	count := func(w *faultWindow) {
		repeats = append(repeats, liftrescue.FaultRepeat{ID: w.fault.ID, Repeats: w.pending, LastAt: w.lastAt})
		counted = append(counted, w)
		w.pending = 0
	}
	l.mu.Lock()
	open := l.closed[:0]
	for _, w := range l.closed {
		switch {
		case w.fault.ID == 0:
			open = append(open, w) // its entry is not written yet
		case w.pending > 0:
			count(w)
		}
	}
	l.closed = open
	for key, w := range l.windows {
		if w.fault.ID == 0 {
			continue // not written yet: its repeats wait for it
		}
		if w.pending > 0 {
			count(w)
			continue // kept until a flush finds nothing more on it
		}
		if now.Sub(w.started) >= l.window {
			delete(l.windows, key)
		}
	}
	l.mu.Unlock()
	if len(repeats) > 0 {
		if err := store.AddFaultRepeats(ctx, repeats); err != nil {
			l.mu.Lock()
			for i, w := range counted {
				w.pending += repeats[i].Repeats // counted again at the next flush, from the window
			}
			l.closed = append(l.closed, counted...) // or from here if a report replaced it meanwhile
			l.mu.Unlock()
			return err
		}
	}
	if dropped > 0 {
		return liftrescue.Errorf(liftrescue.EUNAVAILABLE, "%d faults dropped while the store did not answer", dropped)
	}
	return nil
}

// withoutBad drops the faults an EINVALID names by index.
func withoutBad(fs []*liftrescue.Fault, err error) []*liftrescue.Fault {
	bad := map[int]bool{}
	for _, d := range liftrescue.ErrorDetails(err) {
		if d.Index != nil {
			bad[*d.Index] = true
		}
	}
	out := fs[:0:0]
	for i, f := range fs {
		if !bad[i] {
			out = append(out, f)
		}
	}
	return out
}
