package iot_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/iot"
)

// connect connects p, failing the test if it cannot within 10 s, and closes it when the test ends.
func connect(t *testing.T, p *iot.Publisher) *iot.Publisher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Connect(ctx); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

func send(t *testing.T, p *iot.Publisher, topic, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Send(ctx, topic, []byte(payload)); err != nil {
		t.Fatalf("Send on %s: %v", topic, err)
	}
}

// What a Publisher sends reaches a Subscriber as the terminal's report, acknowledged and not
// retained; messages published at once without waiting all arrive, in order.
func TestPublisherDelivers(t *testing.T) {
	broker := testBroker(t)
	prefix := uniquePrefix(t)
	handle, got := collect()
	s := &iot.Subscriber{Broker: broker, Pattern: prefix + "/lift/{terminal}/alarm", Handle: handle}
	run(t, s)
	waitFor(t, "the subscriber is connected", func() bool { return s.Stats().Connected })

	p := connect(t, &iot.Publisher{Broker: broker})
	if !p.Connected() {
		t.Error("Connected() = false after Connect")
	}
	send(t, p, prefix+"/lift/T-1/alarm", `{"namespace":"shmashine","code":"7","state":{"passenger_present":1}}`)
	h := next(t, got)
	if h.alarm.TerminalID != "T-1" || h.alarm.Kind != liftrescue.AlarmTrapped || h.alarm.Priority != 1 {
		t.Errorf("handled %+v", h.alarm)
	}

	var pubs []*iot.Publication
	for i := range 50 {
		pubs = append(pubs, p.Publish(prefix+"/lift/T-2/alarm", []byte(`{"namespace":"gbt24476","code":"`+[]string{"2", "41"}[i%2]+`"}`)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, pb := range pubs {
		if err := pb.Wait(ctx); err != nil {
			t.Fatalf("publication %d: %v", i, err)
		}
	}
	for i := range 50 {
		h := next(t, got)
		if want := []liftrescue.AlarmKind{liftrescue.AlarmDoorCloseFault, liftrescue.AlarmPowerLost}[i%2]; h.alarm.Kind != want || h.alarm.TerminalID != "T-2" {
			t.Fatalf("report %d: %+v, want %s of T-2", i, h.alarm, want)
		}
	}
	waitFor(t, "every report is counted", func() bool { return s.Stats().Accepted == 51 })
	if st := s.Stats(); st.Retained != 0 || st.Malformed != 0 {
		t.Errorf("subscriber stats %+v: nothing retained or refused", st)
	}
	if st := p.Stats(); st != (iot.PublisherStats{Published: 51, Acked: 51}) {
		t.Errorf("publisher stats %+v", st)
	}
}

// After the connection drops, the Publisher reconnects by itself and what is published meanwhile
// arrives.
func TestPublisherReconnects(t *testing.T) {
	broker := testBroker(t)
	u, err := url.Parse(broker)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "mqtt") {
		t.Skipf("LIFTRESCUE_TEST_MQTT=%s: the proxy that drops the connection speaks tcp:// only", broker)
	}
	prefix := uniquePrefix(t)
	handle, got := collect()
	s := &iot.Subscriber{Broker: broker, Pattern: prefix + "/{terminal}", Handle: handle}
	run(t, s)
	waitFor(t, "the subscriber is connected", func() bool { return s.Stats().Connected })

	proxy := startProxy(t, u.Host)
	p := connect(t, &iot.Publisher{Broker: "tcp://" + proxy.addr()})
	send(t, p, prefix+"/T-1", `{"namespace":"liftrescue","code":"trapped"}`)
	if h := next(t, got); h.alarm.TerminalID != "T-1" {
		t.Fatalf("got %+v, want T-1's", h.alarm)
	}

	proxy.cut()
	// While it reconnects, or after. A message being written as the connection drops fails, and
	// the terminal publishes it again.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := p.Send(ctx, prefix+"/T-2", []byte(`{"namespace":"liftrescue","code":"trapped"}`))
		if err == nil {
			break
		}
		if attempt == 5 {
			t.Fatalf("Send after the connection dropped, 5 times: %v", err)
		}
		t.Logf("Send after the connection dropped: %v; again", err)
		time.Sleep(100 * time.Millisecond)
	}
	if h := next(t, got); h.alarm.TerminalID != "T-2" {
		t.Fatalf("got %+v, want T-2's", h.alarm)
	}
	waitFor(t, "the publisher has reconnected", func() bool { return p.Stats().Reconnects == 1 && p.Connected() })
}

func TestPublisherRefusesBadUse(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    *iot.Publisher
		want string
	}{
		{"no scheme", &iot.Publisher{Broker: "127.0.0.1:1883"}, "URL"},
		{"http", &iot.Publisher{Broker: "http://127.0.0.1:1883"}, "tcp://"},
		{"no port", &iot.Publisher{Broker: "tcp://127.0.0.1"}, "host:port"},
		{"QoS 3", &iot.Publisher{Broker: "tcp://127.0.0.1:1883", QoS: 3}, "QoS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tt.p.Connect(ctx); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Connect = %v, want an error at once mentioning %q", err, tt.want)
			}
			if ctx.Err() != nil {
				t.Fatal("Connect waited for its context instead of refusing at once")
			}
		})
	}
	ctx := context.Background()
	p := &iot.Publisher{Broker: "tcp://127.0.0.1:1883"}
	if err := p.Send(ctx, "lift/T-1/alarm", []byte("{}")); err == nil || !strings.Contains(err.Error(), "before Connect") {
		t.Errorf("Send before Connect = %v", err)
	}
	for _, topic := range []string{"", "lift/+/alarm", "lift/#", "lift/a\x00b"} {
		if err := p.Send(ctx, topic, []byte("{}")); err == nil || !strings.Contains(err.Error(), "topic") {
			t.Errorf("Send on %q = %v, want a refused topic", topic, err)
		}
	}
	p.Close()
	if err := p.Send(ctx, "lift/T-1/alarm", []byte("{}")); !errors.Is(err, iot.ErrPublisherClosed) {
		t.Errorf("Send after Close = %v, want ErrPublisherClosed", err)
	}
	if err := p.Connect(ctx); !errors.Is(err, iot.ErrPublisherClosed) {
		t.Errorf("Connect after Close = %v, want ErrPublisherClosed", err)
	}
	if st := p.Stats(); st.Published != 6 || st.Failed != 6 || st.Acked != 0 {
		t.Errorf("stats %+v: 6 published, 6 failed", st)
	}
}

// A broker that cannot be reached is tried again until Connect's context ends; then the
// Publisher is closed.
func TestPublisherConnectGivesUpWithItsContext(t *testing.T) {
	ln, attempts := refusingBroker(t)
	p := &iot.Publisher{Broker: "tcp://" + ln.Addr().String(), RetryInterval: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Connect(ctx) }()
	for range 3 {
		select {
		case <-attempts:
		case <-time.After(10 * time.Second):
			t.Fatal("the publisher stopped trying to connect")
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "not reached") {
			t.Errorf("Connect = %v, want the context's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Connect did not return when its context ended")
	}
	if err := p.Send(context.Background(), "lift/T-1/alarm", []byte("{}")); !errors.Is(err, iot.ErrPublisherClosed) {
		t.Errorf("Send after a failed Connect = %v, want ErrPublisherClosed", err)
	}
}
