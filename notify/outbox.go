package notify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/liftrescue/liftrescue"
)

// Queue is the part of the store the outbox works from.
type Queue interface {
	DueNotifications(ctx context.Context, now time.Time, limit int, skip []int64) ([]*liftrescue.Notification, error)
	NextNotificationDue(ctx context.Context) (time.Time, bool, error)
	RecordDelivery(ctx context.Context, id int64, r liftrescue.DeliveryResult) error
}

var _ Queue = liftrescue.Store(nil)

const (
	// maxError bounds the error text stored with an attempt.
	maxError = 1000
	// recordTimeout bounds writing an outcome; it runs past the end of Run's context so that a
	// finished send is not sent again after a restart.
	recordTimeout = 10 * time.Second
	// maxSkip bounds the ids one query leaves out, so that a long backlog on a busy channel
	// costs a few queries, not one that names every notification.
	maxSkip = 1000
)

// Outbox delivers the notifications of a Queue with the Senders of their channels, each channel
// with its own workers, and writes the outcome of every attempt back to the queue. Set the fields,
// then call Run once; Kick and Stats may be called at any time, from any goroutine.
type Outbox struct {
	Store   Queue
	Senders map[liftrescue.NotificationChannel]Sender
	// Workers is how many notifications of one channel are sent at once; default 4.
	Workers int
	// MaxAttempts is how many attempts a notification gets before it fails; default 8.
	MaxAttempts int
	// After the n-th failed attempt a notification waits BaseBackoff·2ⁿ⁻¹, at most MaxBackoff,
	// give or take 20%, or longer when the receiver asks with Retry-After. Defaults 5 s and 10 min.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// PollInterval is the longest the outbox sleeps before it looks for due notifications again
	// when nothing wakes it; default 1 s.
	PollInterval time.Duration
	// SendTimeout is the longest one attempt may take, for senders without a timeout of their
	// own; default 1 min.
	SendTimeout time.Duration
	Now         func() time.Time // default time.Now
	Logger      *slog.Logger     // default slog.Default()

	init     sync.Once
	wake     chan struct{}
	mu       sync.Mutex
	inflight map[int64]bool
	counts   map[liftrescue.NotificationChannel]*DeliveryCounts
}

// DeliveryCounts counts the outcomes of attempts since the outbox started.
type DeliveryCounts struct {
	Delivered int `json:"delivered"`
	Retried   int `json:"retried"` // attempts that failed and will be tried again
	Failed    int `json:"failed"`  // notifications given up
	InFlight  int `json:"in_flight"`
}

// OutboxStats is a snapshot of an outbox's counts, in total and by channel.
type OutboxStats struct {
	DeliveryCounts
	ByChannel map[liftrescue.NotificationChannel]DeliveryCounts `json:"by_channel"`
}

func (o *Outbox) setup() {
	o.init.Do(func() {
		o.wake = make(chan struct{}, 1)
		o.inflight = make(map[int64]bool)
		o.counts = make(map[liftrescue.NotificationChannel]*DeliveryCounts)
	})
}

// Kick tells the outbox that notifications were queued, so that it looks now rather than at its
// next poll. It never blocks.
func (o *Outbox) Kick() {
	o.setup()
	select {
	case o.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// Stats returns the counts so far.
func (o *Outbox) Stats() OutboxStats {
	o.setup()
	o.mu.Lock()
	defer o.mu.Unlock()
	s := OutboxStats{ByChannel: make(map[liftrescue.NotificationChannel]DeliveryCounts, len(o.counts))}
	for ch, c := range o.counts {
		s.ByChannel[ch] = *c
		s.Delivered += c.Delivered
		s.Retried += c.Retried
		s.Failed += c.Failed
		s.InFlight += c.InFlight
	}
	return s
}

// Run delivers notifications until ctx ends, then waits for the sends under way to finish (or
// reach SendTimeout) and writes their outcomes, and returns nil. It returns an error at once when
// the outbox or a sender with a Validate method is misconfigured.
func (o *Outbox) Run(ctx context.Context) error {
	o.setup()
	if o.Store == nil || len(o.Senders) == 0 {
		return errors.New("notify: the outbox needs a store and senders")
	}
	for ch, s := range o.Senders {
		if v, ok := s.(interface{ Validate() error }); ok {
			if err := v.Validate(); err != nil {
				return fmt.Errorf("notify: the %s sender: %w", ch, err)
			}
		}
	}
	o.Workers = cmp.Or(o.Workers, 4)
	o.MaxAttempts = cmp.Or(o.MaxAttempts, 8)
	o.BaseBackoff = cmp.Or(o.BaseBackoff, 5*time.Second)
	o.MaxBackoff = cmp.Or(o.MaxBackoff, 10*time.Minute)
	o.PollInterval = cmp.Or(o.PollInterval, time.Second)
	o.SendTimeout = cmp.Or(o.SendTimeout, time.Minute)
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Logger = cmp.Or(o.Logger, slog.Default())

	var sends sync.WaitGroup
	defer sends.Wait()
	for {
		wait := o.PollInterval
		if err := o.fill(ctx, &sends); err != nil {
			if ctx.Err() == nil {
				o.Logger.Error("outbox: cannot read due notifications", "err", err, "retry_in", wait)
			}
		} else {
			wait = o.nextWait(ctx)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-o.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// fill starts a send for every due notification whose channel has a free worker. Those of a busy
// channel are passed over, and the next query leaves them out, so that a backlog on one channel
// does not hide the notifications of the others.
func (o *Outbox) fill(ctx context.Context, sends *sync.WaitGroup) error {
	var passed []int64
	for {
		free, skip := o.room()
		skip = append(skip, passed...)
		if free == 0 || len(skip) > maxSkip {
			return nil
		}
		due, err := o.Store.DueNotifications(ctx, o.now(), min(free, liftrescue.MaxLimit), skip)
		if err != nil {
			return err
		}
		for _, n := range due {
			if !o.start(ctx, sends, n) {
				passed = append(passed, n.ID)
			}
		}
		if len(due) < min(free, liftrescue.MaxLimit) {
			return nil
		}
	}
}

// room returns how many more sends may start, over all channels, and the ids being sent.
func (o *Outbox) room() (free int, inflight []int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for ch := range o.Senders {
		if c := o.counts[ch]; c != nil {
			free += max(o.Workers-c.InFlight, 0)
		} else {
			free += o.Workers
		}
	}
	for id := range o.inflight {
		inflight = append(inflight, id)
	}
	return free, inflight
}

// start sends n in a new goroutine if its channel has a free worker and n is not being sent
// already. A notification of a channel without a sender fails at once.
func (o *Outbox) start(ctx context.Context, sends *sync.WaitGroup, n *liftrescue.Notification) bool {
	sender := o.Senders[n.Channel]
	if sender == nil {
		o.settle(ctx, n, "", Permanent(fmt.Errorf("no sender for the %q channel", n.Channel)))
		return false
	}
	o.mu.Lock()
	c := o.countsOf(n.Channel)
	ok := !o.inflight[n.ID] && c.InFlight < o.Workers
	if ok {
		o.inflight[n.ID] = true
		c.InFlight++
	}
	o.mu.Unlock()
	if ok {
		sends.Go(func() { o.deliver(ctx, sender, n) })
	}
	return ok
}

// deliver makes one attempt. A send under way when ctx ends is let finish, so that its outcome is
// recorded rather than repeated after a restart; SendTimeout bounds it.
func (o *Outbox) deliver(ctx context.Context, sender Sender, n *liftrescue.Notification) {
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.SendTimeout)
	receipt, err := sender.Send(sendCtx, n)
	cancel()
	o.settle(ctx, n, receipt, err)
	// Only now, with the outcome written, may the notification be read as due again.
	o.mu.Lock()
	delete(o.inflight, n.ID)
	o.counts[n.Channel].InFlight--
	o.mu.Unlock()
	o.Kick() // a worker is free
}

// settle writes the outcome of an attempt, counts and logs it.
func (o *Outbox) settle(ctx context.Context, n *liftrescue.Notification, receipt string, err error) {
	attempt := n.Attempts + 1
	now := o.now()
	r := liftrescue.DeliveryResult{State: liftrescue.NotificationDelivered, Receipt: tidy(receipt, maxReceipt), At: now}
	level, msg := slog.LevelInfo, "notification delivered"
	switch {
	case err == nil:
	case IsPermanent(err) || attempt >= o.MaxAttempts:
		r = liftrescue.DeliveryResult{State: liftrescue.NotificationFailed, Error: tidy(err.Error(), maxError), At: now}
		level, msg = slog.LevelError, "notification failed"
	default:
		wait := jitter(backoff(o.BaseBackoff, o.MaxBackoff, attempt))
		if after, ok := RetryAfter(err); ok && after > wait {
			wait = after
		}
		r = liftrescue.DeliveryResult{State: liftrescue.NotificationPending, Error: tidy(err.Error(), maxError), At: now, NextAttemptAt: now.Add(wait)}
		level, msg = slog.LevelWarn, "notification not delivered, will retry"
	}
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := o.Store.RecordDelivery(recordCtx, n.ID, r); err != nil {
		// It stays pending in the store and will be sent again: at least once.
		o.Logger.Error("outbox: cannot record a delivery attempt", "id", n.ID, "state", r.State, "err", err)
	}
	o.Logger.Log(ctx, level, msg, "id", n.ID, "incident_id", n.IncidentID, "channel", n.Channel,
		"recipient", n.Recipient, "attempt", attempt, "receipt", r.Receipt, "err", r.Error, "next_attempt_at", r.NextAttemptAt)

	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.countsOf(n.Channel)
	switch r.State {
	case liftrescue.NotificationDelivered:
		c.Delivered++
	case liftrescue.NotificationPending:
		c.Retried++
	default:
		c.Failed++
	}
}

// nextWait is how long to sleep until the next notification is due, PollInterval at most. One
// that is due already is being sent or waits for a free worker, and a finished send kicks.
func (o *Outbox) nextWait(ctx context.Context) time.Duration {
	next, ok, err := o.Store.NextNotificationDue(ctx)
	if err != nil && ctx.Err() == nil {
		o.Logger.Error("outbox: cannot read when the next notification is due", "err", err)
	}
	if d := next.Sub(o.now()); err == nil && ok && d > 0 && d < o.PollInterval {
		return d
	}
	return o.PollInterval
}

// countsOf returns the counts of a channel; o.mu must be held.
func (o *Outbox) countsOf(ch liftrescue.NotificationChannel) *DeliveryCounts {
	c := o.counts[ch]
	if c == nil {
		c = new(DeliveryCounts)
		o.counts[ch] = c
	}
	return c
}

func (o *Outbox) now() time.Time { return o.Now().UTC() }

// tidy makes text from a receiver fit to store and to show on one line: valid UTF-8, control
// characters as spaces, trimmed, at most n bytes. A store refuses other text, and a delivered
// notification whose outcome cannot be written would be sent again and again.
func tidy(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// backoff is the wait after the attempt-th failed attempt: base doubled for every attempt before
// it, at most limit.
func backoff(base, limit time.Duration, attempt int) time.Duration {
	shift := max(attempt-1, 0)
	if shift >= 62 || base > limit>>shift {
		return limit
	}
	return base << shift
}

// jitter spreads d by ±20%, so that notifications that failed together do not retry together.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
