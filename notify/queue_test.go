package notify_test

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/notify"
)

// queue is an in-memory notify.Queue that keeps every outcome it is told, and wakes the test
// whenever something changes, so that tests wait for states rather than for time.
type queue struct {
	mu       sync.Mutex
	ns       []*liftrescue.Notification
	results  map[int64][]liftrescue.DeliveryResult
	dueErr   error // DueNotifications fails with it: the database is down
	dueCalls int
	changed  chan struct{} // closed and replaced on every change
}

var _ notify.Queue = (*queue)(nil)

func newQueue(ns ...liftrescue.Notification) *queue {
	q := &queue{results: make(map[int64][]liftrescue.DeliveryResult), changed: make(chan struct{})}
	q.add(ns...)
	return q
}

// add queues notifications, due at once, numbered on from the last.
func (q *queue) add(ns ...liftrescue.Notification) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, n := range ns {
		n.ID = int64(len(q.ns) + 1)
		n.State = liftrescue.NotificationPending
		q.ns = append(q.ns, &n)
	}
	q.touch()
}

func (q *queue) touch() {
	close(q.changed)
	q.changed = make(chan struct{})
}

func (q *queue) DueNotifications(ctx context.Context, now time.Time, limit int, skip []int64) ([]*liftrescue.Notification, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dueCalls++
	q.touch()
	if err := cmp.Or(ctx.Err(), q.dueErr); err != nil {
		return nil, err
	}
	var due []*liftrescue.Notification
	for _, n := range q.ns {
		if n.State == liftrescue.NotificationPending && !n.NextAttemptAt.After(now) && !slices.Contains(skip, n.ID) {
			c := *n
			due = append(due, &c)
		}
	}
	slices.SortStableFunc(due, func(a, b *liftrescue.Notification) int { return a.NextAttemptAt.Compare(b.NextAttemptAt) })
	return due[:min(limit, len(due))], nil
}

func (q *queue) NextNotificationDue(ctx context.Context) (time.Time, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var next time.Time
	var ok bool
	for _, n := range q.ns {
		if n.State == liftrescue.NotificationPending && (!ok || n.NextAttemptAt.Before(next)) {
			next, ok = n.NextAttemptAt, true
		}
	}
	return next, ok, ctx.Err()
}

func (q *queue) RecordDelivery(ctx context.Context, id int64, r liftrescue.DeliveryResult) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if id < 1 || int(id) > len(q.ns) {
		return liftrescue.Errorf(liftrescue.ENOTFOUND, "no notification %d", id)
	}
	n := q.ns[id-1]
	n.Attempts++
	n.State, n.NextAttemptAt, n.LastError, n.Receipt = r.State, r.NextAttemptAt, r.Error, r.Receipt
	if r.State == liftrescue.NotificationDelivered {
		n.DeliveredAt = &r.At
	}
	q.results[id] = append(q.results[id], r)
	q.touch()
	return nil
}

// get returns a copy of the notification with the id.
func (q *queue) get(id int64) liftrescue.Notification {
	q.mu.Lock()
	defer q.mu.Unlock()
	return *q.ns[id-1]
}

func (q *queue) outcomes(id int64) []liftrescue.DeliveryResult {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.results[id])
}

// waitFor waits until cond, called with the queue locked, holds; it fails the test after a
// deadline far beyond what any of these tests needs.
func (q *queue) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		q.mu.Lock()
		ok, changed := cond(), q.changed
		q.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitState waits until the notification is in the state.
func (q *queue) waitState(t *testing.T, id int64, state liftrescue.NotificationState) liftrescue.Notification {
	t.Helper()
	q.waitFor(t, "notification "+string(state), func() bool { return q.ns[id-1].State == state })
	return q.get(id)
}

// waitStats polls o.Stats until cond holds: the counts follow the queue's writes a moment later.
func waitStats(t *testing.T, o *notify.Outbox, cond func(notify.OutboxStats) bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(10 * time.Second); !cond(o.Stats()); <-tick.C {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for the stats; now %+v", o.Stats())
		}
	}
}

// outbox returns an outbox on q with quick retries and a quiet log.
func outbox(q *queue, senders map[liftrescue.NotificationChannel]notify.Sender) *notify.Outbox {
	return &notify.Outbox{Store: q, Senders: senders, BaseBackoff: 10 * time.Millisecond,
		Logger: quiet()}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// run runs o until ctx or the test ends. The func it returns waits for Run to return and gives
// its error; Run must return within 10 s of its context's end.
func run(ctx context.Context, t *testing.T, o *notify.Outbox) (wait func() error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	wait = sync.OnceValue(func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("Run did not return after its context ended")
		}
	})
	t.Cleanup(func() {
		cancel()
		if err := wait(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return wait
}

// server starts an HTTP server standing in for a receiver, closed when the test ends.
func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// hang is a handler that takes a request and never answers it: it returns only when the client
// gives up or the test ends. Every request it takes is announced on entered.
func hang(t *testing.T, entered chan<- struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if entered != nil {
			entered <- struct{}{}
		}
		select {
		case <-r.Context().Done():
		case <-t.Context().Done():
		}
	}
}

func sms(phone, text string) liftrescue.Notification {
	return liftrescue.Notification{IncidentID: 7, Channel: liftrescue.ChannelSMS, Recipient: phone, Kind: "dispatch", Body: text}
}

func webhook(target, body string) liftrescue.Notification {
	return liftrescue.Notification{IncidentID: 7, Channel: liftrescue.ChannelWebhook, Recipient: target, Kind: "event", Body: body}
}
