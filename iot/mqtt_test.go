package iot_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/iot"
)

// testBroker returns the URL of the MQTT broker in LIFTRESCUE_TEST_MQTT, or skips; with
// LIFTRESCUE_REQUIRE_MQTT=1 (as CI sets it) it fails instead, as a suite that silently skipped
// would prove nothing.
func testBroker(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("LIFTRESCUE_TEST_MQTT")
	if u == "" {
		if os.Getenv("LIFTRESCUE_REQUIRE_MQTT") == "1" {
			tb.Fatal("LIFTRESCUE_REQUIRE_MQTT=1 but LIFTRESCUE_TEST_MQTT not set")
		}
		tb.Skip("LIFTRESCUE_TEST_MQTT not set")
	}
	return u
}

// uniquePrefix is a topic level of this test alone, so that runs side by side on one broker
// never see each other's messages.
func uniquePrefix(t *testing.T) string {
	b := make([]byte, 8)
	rand.Read(b)
	return "liftrescue-test-" + hex.EncodeToString(b)
}

// publisher connects a client that publishes to the broker, until the test ends.
func publisher(t *testing.T, broker string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(uniquePrefix(t)[:23]).SetConnectTimeout(5 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect a publisher to %s: %v", broker, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t *testing.T, c mqtt.Client, topic string, payload []byte) {
	t.Helper()
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish on %s: %v", topic, tok.Error())
	}
}

// run starts s.Run and returns a function that stops it and checks that it returned nil at once.
// The test stops it in any case.
func run(t *testing.T, s *iot.Subscriber) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v, want nil when its context ends", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return within 10 s of its context ending")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds, for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("10 s passed waiting until %s", what)
		}
	}
}

// handled is one call of Handle.
type handled struct {
	alarm  liftrescue.Alarm
	sender string
}

// collect is a Handle that passes each alarm on to the channel it returns.
func collect() (func(context.Context, liftrescue.Alarm, string) error, <-chan handled) {
	got := make(chan handled, 100)
	return func(_ context.Context, a liftrescue.Alarm, sender string) error {
		got <- handled{a, sender}
		return nil
	}, got
}

func next(t *testing.T, got <-chan handled) handled {
	t.Helper()
	select {
	case h := <-got:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("no alarm reached Handle within 10 s")
		return handled{}
	}
}

// syncBuffer is a log that the subscriber's goroutines write while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A report reaches Handle with the topic's terminal, normalised; reports that cannot be read, are
// too large or break a rule are counted and logged, and the ones after them still arrive; a Handle
// that fails, panics or hangs is counted and does not hold back the next report.
func TestSubscriberHandsOnAlarms(t *testing.T) {
	broker := testBroker(t)
	prefix := uniquePrefix(t)
	now := time.Date(2026, 11, 21, 0, 30, 0, 0, time.UTC)
	collectHandle, got := collect()
	release := make(chan struct{})
	defer close(release)
	var log syncBuffer
	s := &iot.Subscriber{Broker: broker, Pattern: prefix + "/lift/{terminal}/alarm", HandleTimeout: 300 * time.Millisecond,
		Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(&log, nil)),
		Handle: func(ctx context.Context, a liftrescue.Alarm, sender string) error {
			switch a.TerminalID {
			case "T-FAIL":
				return errors.New("the store is down")
			case "T-PANIC":
				panic("a bug in dispatch")
			case "T-HANG":
				<-release // ignores ctx, as a bug might
				return nil
			}
			return collectHandle(ctx, a, sender)
		}}
	stop := run(t, s)
	waitFor(t, "the subscriber is connected", func() bool { return s.Stats().Connected })

	pub := publisher(t, broker)
	report := func(extra string) []byte {
		return fmt.Appendf(nil, `{"namespace":"gbt24476","code":93,"time":%q%s}`, now.Add(-time.Minute).In(time.FixedZone("CST", 8*3600)).Format(time.RFC3339), extra)
	}
	topic := func(terminal string) string { return prefix + "/lift/" + terminal + "/alarm" }
	oversized := report(`,"state":{"floor":"` + strings.Repeat("9", iot.MaxMessage) + `"}`)
	publish(t, pub, topic("T-BAD"), []byte(`{"namespace":"gbt24476","code":`))
	publish(t, pub, topic("T-HUGE"), oversized)
	publish(t, pub, topic("T-RULE"), []byte(`{"namespace":"vendor-x","code":"1"}`))
	publish(t, pub, topic("T-FAIL"), report(""))
	publish(t, pub, topic("T-PANIC"), report(""))
	publish(t, pub, topic("T-HANG"), report(""))
	publish(t, pub, topic("T-1"), report(`,"state":{"passenger_present":1,"floor":3}`))

	h := next(t, got)
	a := h.alarm
	if a.TerminalID != "T-1" || a.EquipmentCode != "" || a.Kind != liftrescue.AlarmTrapped || a.Priority != 1 ||
		a.Code != "93" || !a.Time.Equal(now.Add(-time.Minute)) || a.Time.Location() != time.UTC ||
		a.State == nil || a.State.Floor == nil || *a.State.Floor != "3" {
		t.Errorf("Handle got %+v", a)
	}
	if want := "mqtt:" + topic("T-1"); h.sender != want {
		t.Errorf("sender %q, want %q", h.sender, want)
	}
	if !s.Stats().Connected {
		t.Error("Stats().Connected = false while connected")
	}
	stop()
	want := iot.SubscriberStats{Received: 7, Accepted: 1, Malformed: 3, Failed: 3}
	if st := s.Stats(); st != want {
		t.Errorf("Stats() = %+v, want %+v", st, want)
	}
	logs := log.String()
	for _, want := range []string{topic("T-BAD"), topic("T-HUGE"), topic("T-RULE"), "the store is down", "panic: a bug in dispatch", "not handled within 300ms"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log does not say %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, strings.Repeat("9", 100)) {
		t.Errorf("the log holds the oversized payload: %d bytes", len(logs))
	}
}

// The subscription is made again on every connection: after the connection drops, reports reach
// Handle again.
func TestSubscriberResubscribesAfterReconnect(t *testing.T) {
	broker := testBroker(t)
	u, err := url.Parse(broker)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "mqtt") {
		t.Skipf("LIFTRESCUE_TEST_MQTT=%s: the proxy that drops the connection speaks tcp:// only", broker)
	}
	p := startProxy(t, u.Host)
	prefix := uniquePrefix(t)
	handle, got := collect()
	s := &iot.Subscriber{Broker: "tcp://" + p.addr(), Pattern: prefix + "/{terminal}", Handle: handle}
	run(t, s)
	waitFor(t, "the subscriber is connected", func() bool { return s.Stats().Connected })
	pub := publisher(t, broker)
	publish(t, pub, prefix+"/T-1", []byte(`{"namespace":"liftrescue","code":"trapped"}`))
	if h := next(t, got); h.alarm.TerminalID != "T-1" {
		t.Fatalf("got %+v, want T-1's", h.alarm)
	}

	p.cut()
	waitFor(t, "the subscriber has reconnected", func() bool { st := s.Stats(); return st.Reconnects == 1 && st.Connected })
	publish(t, pub, prefix+"/T-2", []byte(`{"namespace":"liftrescue","code":"trapped"}`))
	if h := next(t, got); h.alarm.TerminalID != "T-2" {
		t.Fatalf("got %+v, want T-2's", h.alarm)
	}
}

// proxy passes TCP connections to the broker, and drops them all at once when asked, as a broker
// restarting or a network cut would.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// A broker that cannot be reached is tried again and again, without Run giving up, until the
// context ends.
func TestSubscriberRetriesUntilReached(t *testing.T) {
	ln, attempts := refusingBroker(t)
	s := &iot.Subscriber{Broker: "tcp://" + ln.Addr().String(), RetryInterval: 20 * time.Millisecond,
		Handle: func(context.Context, liftrescue.Alarm, string) error { return nil }}
	stop := run(t, s)
	for range 3 {
		select {
		case <-attempts:
		case <-time.After(10 * time.Second):
			t.Fatal("the subscriber stopped trying to connect")
		}
	}
	if s.Stats().Connected {
		t.Error("Stats().Connected = true without a broker")
	}
	stop()
}

func TestSubscriberRefusesBadConfiguration(t *testing.T) {
	ok := func(context.Context, liftrescue.Alarm, string) error { return nil }
	for _, tt := range []struct {
		name string
		s    *iot.Subscriber
		want string
	}{
		{"no scheme", &iot.Subscriber{Broker: "127.0.0.1:1883", Handle: ok}, "URL"},
		{"http", &iot.Subscriber{Broker: "http://127.0.0.1:1883", Handle: ok}, "tcp://"},
		{"no port", &iot.Subscriber{Broker: "tcp://127.0.0.1", Handle: ok}, "host:port"},
		{"# inside", &iot.Subscriber{Broker: "tcp://127.0.0.1:1883", Topic: "lift/#/alarm", Handle: ok}, "last level"},
		{"+ in a level", &iot.Subscriber{Broker: "tcp://127.0.0.1:1883", Topic: "lift/a+/alarm", Handle: ok}, "whole levels"},
		{"{terminal} in a level", &iot.Subscriber{Broker: "tcp://127.0.0.1:1883", Pattern: "lift/t-{terminal}/alarm", Handle: ok}, "whole level"},
		{"QoS 3", &iot.Subscriber{Broker: "tcp://127.0.0.1:1883", QoS: 3, Handle: ok}, "QoS"},
		{"no Handle", &iot.Subscriber{Broker: "tcp://127.0.0.1:1883"}, "Handle"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tt.s.Run(ctx); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, want an error at once mentioning %q", err, tt.want)
			}
			if ctx.Err() != nil {
				t.Fatal("Run waited for its context instead of refusing at once")
			}
		})
	}
}

// The broker's retained copy of an old report is not an alarm now: a trapped alarm kept so would
// open an incident again after the rescue, at every reconnect.
func TestSubscriberIgnoresRetainedReports(t *testing.T) {
	broker := testBroker(t)
	prefix := uniquePrefix(t)
	pub := publisher(t, broker)
	topic := prefix + "/lift/T-OLD/alarm"
	old := []byte(`{"namespace":"gbt24476","code":"93"}`)
	if tok := pub.Publish(topic, 1, true, old); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish retained: %v", tok.Error())
	}
	t.Cleanup(func() { pub.Publish(topic, 1, true, []byte{}).WaitTimeout(time.Second) }) // clears it
	handle, got := collect()
	s := &iot.Subscriber{Broker: broker, Pattern: prefix + "/lift/{terminal}/alarm", Handle: handle}
	run(t, s)
	waitFor(t, "the retained report is seen", func() bool { return s.Stats().Retained == 1 })
	publish(t, pub, prefix+"/lift/T-NEW/alarm", []byte(`{"namespace":"gbt24476","code":"93"}`))
	if h := next(t, got); h.alarm.TerminalID != "T-NEW" {
		t.Fatalf("handled %+v, want only the new report", h.alarm)
	}
	waitFor(t, "the new report is counted", func() bool { return s.Stats().Accepted == 1 }) // after Handle returns
	if st := s.Stats(); st.Retained != 1 || st.Received != 2 {
		t.Errorf("stats %+v, want 2 received, 1 retained ignored", st)
	}
}

// A report being handled slowly (a trapped alarm opening its incident) holds back only the reports
// of its own terminal: the others are handed on meanwhile, and one terminal's reports keep their
// order.
func TestSubscriberHandsOnTerminalsSideBySide(t *testing.T) {
	broker := testBroker(t)
	prefix := uniquePrefix(t)
	collectHandle, got := collect()
	slow := make(chan struct{})
	var slowDone atomic.Bool
	s := &iot.Subscriber{Broker: broker, Pattern: prefix + "/lift/{terminal}/alarm",
		Handle: func(ctx context.Context, a liftrescue.Alarm, sender string) error {
			if a.TerminalID == "T-SLOW" && a.Code == "93" {
				<-slow
				slowDone.Store(true)
			}
			return collectHandle(ctx, a, sender)
		}}
	run(t, s)
	waitFor(t, "the subscriber is connected", func() bool { return s.Stats().Connected })
	pub := publisher(t, broker)
	topic := func(terminal string) string { return prefix + "/lift/" + terminal + "/alarm" }
	publish(t, pub, topic("T-SLOW"), []byte(`{"namespace":"gbt24476","code":93}`))
	publish(t, pub, topic("T-SLOW"), []byte(`{"namespace":"gbt24476","code":2}`))
	for i, sent := 0, 0; sent < 20; i++ { // terminals of the other lanes
		if id := fmt.Sprintf("T-%02d", i); iot.LaneOf(id, iot.DefaultLanes) != iot.LaneOf("T-SLOW", iot.DefaultLanes) {
			publish(t, pub, topic(id), []byte(`{"namespace":"gbt24476","code":3}`))
			sent++
		}
	}
	others := 0
	for others < 20 {
		h := next(t, got)
		if h.alarm.TerminalID == "T-SLOW" {
			t.Fatalf("T-SLOW's second report was handed on before its first: %+v", h.alarm)
		}
		others++
	}
	if slowDone.Load() {
		t.Fatal("the slow report finished before the others were handed on: they waited for it")
	}
	close(slow)
	if first, second := next(t, got), next(t, got); first.alarm.Code != "93" || second.alarm.Code != "2" {
		t.Errorf("T-SLOW's reports came as %s, %s; want 93 then 2", first.alarm.Code, second.alarm.Code)
	}
}

// refusingBroker listens where a broker would and closes every connection at once, without a
// CONNACK, telling each attempt on the channel; it stops when the test ends.
func refusingBroker(t *testing.T) (net.Listener, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	attempts := make(chan struct{}, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close() // no CONNACK: the attempt fails
			attempts <- struct{}{}
		}
	}()
	return ln, attempts
}
