package notify_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/notify"
)

// gateway is an SMS gateway that answers its n-th request (from 1) with the status of answer, and
// counts requests.
func gateway(t *testing.T, answer func(n int) (status int, retryAfter string)) (*notify.SMSGateway, *atomic.Int32) {
	var hits atomic.Int32
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		status, retryAfter := answer(int(hits.Add(1)))
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"message_id":"gw-%s"}`, r.Header.Get("Idempotency-Key"))
	})
	return &notify.SMSGateway{URL: srv.URL}, &hits
}

func smsOutbox(q *queue, g notify.Sender) *notify.Outbox {
	return outbox(q, map[liftrescue.NotificationChannel]notify.Sender{liftrescue.ChannelSMS: g})
}

func TestOutboxDelivers(t *testing.T) {
	g, hits := gateway(t, func(int) (int, string) { return 200, "" })
	q := newQueue(sms("13800138000", "请到 3 号楼"))
	o := smsOutbox(q, g)
	run(t.Context(), t, o)

	n := q.waitState(t, 1, liftrescue.NotificationDelivered)
	if n.Receipt != "gw-liftrescue-1" || n.Attempts != 1 || n.DeliveredAt == nil || hits.Load() != 1 {
		t.Errorf("got %+v after %d requests", n, hits.Load())
	}
	waitStats(t, o, func(s notify.OutboxStats) bool {
		return s.Delivered == 1 && s.ByChannel[liftrescue.ChannelSMS].Delivered == 1 && s.InFlight == 0
	})
}

func TestOutboxRetriesWithGrowingBackoff(t *testing.T) {
	g, hits := gateway(t, func(n int) (int, string) {
		if n <= 2 {
			return 500, ""
		}
		return 200, ""
	})
	q := newQueue(sms("110", "hi"))
	o := smsOutbox(q, g)
	run(t.Context(), t, o)

	n := q.waitState(t, 1, liftrescue.NotificationDelivered)
	if n.Attempts != 3 || hits.Load() != 3 || n.Receipt != "gw-liftrescue-1" {
		t.Errorf("got %+v after %d requests", n, hits.Load())
	}
	rs := q.outcomes(1)
	// 10 ms, then 20 ms, each ±20%.
	for i, want := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond} {
		r := rs[i]
		wait := r.NextAttemptAt.Sub(r.At)
		if r.State != liftrescue.NotificationPending || !strings.Contains(r.Error, "500") ||
			wait < want*8/10 || wait > want*12/10 {
			t.Errorf("attempt %d: %+v: waits %v, want %v ±20%%", i+1, r, wait, want)
		}
	}
	waitStats(t, o, func(s notify.OutboxStats) bool { return s.Retried == 2 && s.Delivered == 1 })
}

func TestOutboxGivesUpOnPermanentFailure(t *testing.T) {
	g, hits := gateway(t, func(int) (int, string) { return 400, "" })
	q := newQueue(sms("not a phone", "hi"))
	run(t.Context(), t, smsOutbox(q, g))

	n := q.waitState(t, 1, liftrescue.NotificationFailed)
	if n.Attempts != 1 || hits.Load() != 1 || !strings.Contains(n.LastError, "400 Bad Request") {
		t.Errorf("got %+v after %d requests", n, hits.Load())
	}
}

func TestOutboxHonoursRetryAfter(t *testing.T) {
	g, _ := gateway(t, func(int) (int, string) { return 503, "120" })
	q := newQueue(sms("110", "hi"))
	run(t.Context(), t, smsOutbox(q, g))

	q.waitFor(t, "the first attempt", func() bool { return len(q.results[1]) == 1 })
	r := q.outcomes(1)[0]
	if wait := r.NextAttemptAt.Sub(r.At); r.State != liftrescue.NotificationPending || wait != 120*time.Second {
		t.Errorf("got %+v: waits %v, want the 2 min the gateway asked for", r, wait)
	}
}

func TestOutboxGivesUpAfterMaxAttempts(t *testing.T) {
	g, hits := gateway(t, func(int) (int, string) { return 502, "" })
	q := newQueue(sms("110", "hi"))
	o := smsOutbox(q, g)
	o.MaxAttempts = 3
	o.BaseBackoff = time.Millisecond
	run(t.Context(), t, o)

	n := q.waitState(t, 1, liftrescue.NotificationFailed)
	if n.Attempts != 3 || hits.Load() != 3 || !strings.Contains(n.LastError, "502") {
		t.Errorf("got %+v after %d requests", n, hits.Load())
	}
	waitStats(t, o, func(s notify.OutboxStats) bool { return s.Retried == 2 && s.Failed == 1 })
}

func TestOutboxFailsChannelWithoutSender(t *testing.T) {
	g, hits := gateway(t, func(int) (int, string) { return 200, "" })
	q := newQueue(liftrescue.Notification{Channel: "fax", Recipient: "0571", Body: "hi"}, sms("110", "hi"))
	run(t.Context(), t, smsOutbox(q, g))

	n := q.waitState(t, 1, liftrescue.NotificationFailed)
	if n.Attempts != 1 || !strings.Contains(n.LastError, `no sender for the "fax" channel`) {
		t.Errorf("got %+v", n)
	}
	q.waitState(t, 2, liftrescue.NotificationDelivered)
	if hits.Load() != 1 {
		t.Errorf("the gateway got %d requests, want 1", hits.Load())
	}
}

// TestOutboxHungReceiver: a receiver that never answers holds one worker of its channel until
// the sender's timeout cuts the request, and nothing else.
func TestOutboxHungReceiver(t *testing.T) {
	const timeout = time.Second
	entered := make(chan struct{}, 1)
	hung := server(t, hang(t, entered))
	ok := server(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"id":"ok"}`) })
	q := newQueue(webhook("hung", "{}"), webhook("city", "{}"), sms("110", "a"), webhook("city", "{}"), sms("120", "b"), sms("119", "c"))
	o := outbox(q, map[liftrescue.NotificationChannel]notify.Sender{
		liftrescue.ChannelSMS: &notify.SMSGateway{URL: ok.URL},
		liftrescue.ChannelWebhook: &notify.Webhooks{Timeout: timeout, Targets: []notify.WebhookTarget{
			{Name: "hung", URL: hung.URL, Secret: "s"}, {Name: "city", URL: ok.URL, Secret: "s"}}},
	})
	o.Workers = 2
	start := time.Now()
	run(t.Context(), t, o)

	<-entered
	q.waitFor(t, "every other notification delivered", func() bool {
		for _, n := range q.ns[1:] {
			if n.State != liftrescue.NotificationDelivered {
				return false
			}
		}
		return true
	})
	if n := q.get(1); n.Attempts != 0 {
		t.Fatalf("the hung request ended before the others were delivered: %+v", n)
	}
	waitStats(t, o, func(s notify.OutboxStats) bool {
		return s.Delivered == 5 && s.ByChannel[liftrescue.ChannelWebhook].InFlight == 1
	})

	q.waitFor(t, "the hung request cut", func() bool { return q.ns[0].Attempts == 1 })
	n := q.get(1)
	if took := time.Since(start); n.State != liftrescue.NotificationPending || took < timeout || took > timeout+5*time.Second ||
		n.LastError != "no answer within 1s" {
		t.Errorf("after %v: %+v", took, n)
	}
}

// TestOutboxBacklogDoesNotHideOtherChannels: the oldest due notifications are for a channel
// whose workers are all busy; those of other channels behind them are still found and sent.
func TestOutboxBacklogDoesNotHideOtherChannels(t *testing.T) {
	hung := server(t, hang(t, nil))
	var backlog []liftrescue.Notification
	for i := range 20 {
		backlog = append(backlog, sms(fmt.Sprint(13800000000+i), "hi"))
	}
	q := newQueue(append(backlog, liftrescue.Notification{Channel: liftrescue.ChannelLog, Recipient: "unit 7", Body: "hi"})...)
	o := outbox(q, map[liftrescue.NotificationChannel]notify.Sender{
		liftrescue.ChannelSMS: &notify.SMSGateway{URL: hung.URL, Timeout: time.Minute},
		liftrescue.ChannelLog: notify.LogSender{Logger: quiet()},
	})
	o.Workers = 1
	run(t.Context(), t, o)

	if n := q.waitState(t, 21, liftrescue.NotificationDelivered); n.Receipt != "logged" {
		t.Errorf("got %+v", n)
	}
}

// TestOutboxNeverSendsTwiceAtOnce: however often the outbox looks while sends are under way, a
// notification being sent is not handed out again.
func TestOutboxNeverSendsTwiceAtOnce(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 3)
	var mu sync.Mutex
	hits := map[string]int{}
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.Header.Get("Idempotency-Key")]++
		mu.Unlock()
		entered <- struct{}{}
		<-release
	})
	q := newQueue(sms("110", "a"), sms("120", "b"), sms("119", "c"))
	o := smsOutbox(q, &notify.SMSGateway{URL: srv.URL})
	run(t.Context(), t, o)

	for range 3 {
		<-entered
	}
	for range 5 {
		q.mu.Lock()
		calls := q.dueCalls
		q.mu.Unlock()
		o.Kick()
		q.waitFor(t, "the outbox to look again", func() bool { return q.dueCalls > calls })
	}
	close(release)
	q.waitFor(t, "all delivered", func() bool {
		return q.ns[0].DeliveredAt != nil && q.ns[1].DeliveredAt != nil && q.ns[2].DeliveredAt != nil
	})
	mu.Lock()
	defer mu.Unlock()
	if len(hits) != 3 || hits["liftrescue-1"] != 1 || hits["liftrescue-2"] != 1 || hits["liftrescue-3"] != 1 {
		t.Errorf("requests by key: %v", hits)
	}
}

func TestOutboxKick(t *testing.T) {
	q := newQueue()
	o := outbox(q, map[liftrescue.NotificationChannel]notify.Sender{liftrescue.ChannelLog: notify.LogSender{Logger: quiet()}})
	o.PollInterval = time.Hour
	run(t.Context(), t, o)

	q.waitFor(t, "the first look", func() bool { return q.dueCalls > 0 })
	q.add(liftrescue.Notification{Channel: liftrescue.ChannelLog, Recipient: "unit 7", Body: "hi"})
	o.Kick()
	q.waitState(t, 1, liftrescue.NotificationDelivered) // well before the hour is up
}

func TestOutboxWaitsOutStoreFailure(t *testing.T) {
	const poll = 50 * time.Millisecond
	q := newQueue(liftrescue.Notification{Channel: liftrescue.ChannelLog, Recipient: "unit 7", Body: "hi"})
	q.dueErr = liftrescue.Errorf(liftrescue.EUNAVAILABLE, "the database is down")
	o := outbox(q, map[liftrescue.NotificationChannel]notify.Sender{liftrescue.ChannelLog: notify.LogSender{Logger: quiet()}})
	o.PollInterval = poll
	start := time.Now()
	run(t.Context(), t, o)

	q.waitFor(t, "four looks", func() bool { return q.dueCalls >= 4 })
	if took := time.Since(start); took < 3*poll {
		t.Errorf("looked 4 times in %v: it should wait %v after a failure", took, poll)
	}
	q.mu.Lock()
	q.dueErr = nil
	q.mu.Unlock()
	q.waitState(t, 1, liftrescue.NotificationDelivered)
}

// TestOutboxRunFinishesSendsOnStop: when Run's context ends, a send under way is let finish and
// its outcome written before Run returns.
func TestOutboxRunFinishesSendsOnStop(t *testing.T) {
	ctx, stop := context.WithCancel(t.Context())
	entered := make(chan struct{}, 1)
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-ctx.Done() // answers only once the outbox is told to stop
	})
	q := newQueue(sms("110", "hi"))
	wait := run(ctx, t, smsOutbox(q, &notify.SMSGateway{URL: srv.URL}))

	<-entered
	stop()
	if err := wait(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if n := q.get(1); n.State != liftrescue.NotificationDelivered {
		t.Errorf("Run returned before the send under way was recorded: %+v", n)
	}
}

func TestOutboxRunRefusesBadConfig(t *testing.T) {
	for name, o := range map[string]*notify.Outbox{
		"no store":   {Senders: map[liftrescue.NotificationChannel]notify.Sender{liftrescue.ChannelLog: notify.LogSender{}}},
		"no senders": {Store: newQueue()},
		"bad sender": {Store: newQueue(), Senders: map[liftrescue.NotificationChannel]notify.Sender{liftrescue.ChannelSMS: &notify.SMSGateway{}}},
	} {
		if err := o.Run(t.Context()); err == nil {
			t.Errorf("%s: Run = nil", name)
		}
	}
}
