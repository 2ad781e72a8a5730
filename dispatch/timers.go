package dispatch

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/liftrescue/liftrescue"
)

// timerQueue holds the pending deadlines of the open incidents, earliest first. An entry whose
// deadline was met meanwhile stays until it is due and is then dropped: the incident says what is
// pending, the queue only says when to look.
type timerQueue struct {
	mu      sync.Mutex
	h       timerHeap
	queued  map[timerKey]bool
	changed chan struct{}
	// firing counts the entries taken by due and not yet applied (see done); idle is signalled
	// when it falls to zero, so that RunDue can wait for what the timer loop took.
	firing int
	idle   sync.Cond
}

type timerKey struct {
	incident int64
	deadline int
}

type timerEntry struct {
	due time.Time
	timerKey
}

type timerHeap []timerEntry

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func newTimerQueue() *timerQueue {
	q := &timerQueue{queued: map[timerKey]bool{}, changed: make(chan struct{}, 1)}
	q.idle.L = &q.mu
	return q
}

// add queues a deadline unless it is queued already.
func (q *timerQueue) add(due time.Time, incident int64, deadline int) {
	k := timerKey{incident, deadline}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queued[k] {
		return
	}
	q.queued[k] = true
	heap.Push(&q.h, timerEntry{due, k})
	if q.h[0].timerKey == k {
		select {
		case q.changed <- struct{}{}:
		default:
		}
	}
}

// due takes the entries due at now, and says when the next one is (zero for none). The caller
// calls done for each entry taken once it is applied, or put back.
func (q *timerQueue) due(now time.Time) (due []timerEntry, next time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.h) > 0 && !q.h[0].due.After(now) {
		x := heap.Pop(&q.h).(timerEntry)
		delete(q.queued, x.timerKey)
		due = append(due, x)
	}
	q.firing += len(due)
	if len(q.h) > 0 {
		next = q.h[0].due
	}
	return due, next
}

// done says that n entries taken by due have been applied or put back.
func (q *timerQueue) done(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.firing -= n; q.firing == 0 {
		q.idle.Broadcast()
	}
}

// wait returns when every entry taken by due has been applied or put back.
func (q *timerQueue) wait() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.firing > 0 {
		q.idle.Wait()
	}
}

func (q *timerQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.h)
}

// idleWait is how long the timer loop sleeps with nothing queued; add wakes it sooner.
const idleWait = time.Minute

// timerLoop fires deadlines as they fall due, a few at once, never waiting on a slow one.
func (e *Engine) timerLoop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.timers.changed:
		}
		due, next := e.timers.due(e.cfg.Now())
		for i, d := range due {
			select {
			case e.sem <- struct{}{}:
			case <-ctx.Done():
				// Closing: what was taken and not begun goes back, for RunDue or a restart.
				for _, d := range due[i:] {
					e.timers.add(d.due, d.incident, d.deadline)
				}
				e.timers.done(len(due) - i)
				return
			}
			e.wg.Add(1)
			go func() {
				defer func() { <-e.sem; e.timers.done(1); e.wg.Done() }()
				e.fire(ctx, d)
			}()
		}
		wait := idleWait
		if !next.IsZero() {
			wait = max(0, next.Sub(e.cfg.Now()))
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
	}
}

// fire applies a due deadline. The store's version check makes it happen once even if another
// process fires it too; a deadline met meanwhile is simply dropped.
func (e *Engine) fire(ctx context.Context, d timerEntry) {
	e.mu.RLock()
	inc := e.open[d.incident]
	e.mu.RUnlock()
	if inc == nil || !pendingDeadline(inc, d.deadline) {
		return
	}
	// A step begun is finished even when the engine is closing: Close waits for it.
	stepCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, err := e.act(stepCtx, d.incident, liftrescue.Input{Action: liftrescue.ActionDeadline, DeadlineID: d.deadline,
		Actor: liftrescue.Actor{Kind: liftrescue.ActorSystem, Name: "deadline"}})
	switch code := liftrescue.ErrorCode(err); {
	case err == nil:
		e.stats.fired(e.cfg.Now().Sub(d.due))
	case code == liftrescue.ECONFLICT || code == liftrescue.ENOTFOUND:
		// Fired or met by another step (or another process) first.
	case ctx.Err() != nil:
	default:
		// The database is away: try again shortly. The deadline is still pending in the store, so a
		// restart would fire it too.
		e.cfg.Logger.Error("deadline not applied; retrying", "incident", d.incident, "deadline", d.deadline, "err", err)
		e.timers.add(e.cfg.Now().Add(time.Second), d.incident, d.deadline)
	}
}

func pendingDeadline(inc *liftrescue.Incident, id int) bool {
	for i := range inc.Deadlines {
		if inc.Deadlines[i].ID == id {
			return inc.Deadlines[i].Pending()
		}
	}
	return false
}
