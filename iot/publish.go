package iot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Defaults of a Publisher.
const (
	DefaultConnectTimeout = 10 * time.Second
	// publishWriteTimeout bounds the wait for room in the client's outgoing queue.
	publishWriteTimeout = 10 * time.Second
)

// Publisher publishes reports to an MQTT broker as a terminal does (MQTT 3.1.1, clean session,
// never retained: the Subscriber ignores retained reports). It is the terminal's side of
// Subscriber, for the load generator and for tests, and it is here because paho is fenced to this
// package.
//
// Once connected it reconnects by itself when the connection drops (backoff 1 s to 30 s). A
// message published while the connection is down is kept and sent on the next connection, and
// one with QoS 1 or 2 that was sent but not acknowledged when it dropped is sent again then. A
// message being written as the connection drops fails (Wait says so), though the client may
// still send it again after reconnecting: a terminal publishes it again, as QoS 1 is at least
// once anyway. Its methods are safe for concurrent use.
type Publisher struct {
	Broker   string // tcp://host:1883, ssl://host:8883, ws://host:port/path, wss://… or mqtt://host:1883
	ClientID string // empty: liftrescue-pub- and 12 random hex digits
	Username string
	Password string
	QoS      byte // 0, 1 or 2; 0 is taken as DefaultQoS: a trapped alarm must be acknowledged
	// RetryInterval is the wait between attempts of the first connection; 0: DefaultRetryInterval.
	RetryInterval time.Duration
	// ConnectTimeout bounds one attempt to connect; 0: DefaultConnectTimeout.
	ConnectTimeout time.Duration

	mu     sync.Mutex
	client mqtt.Client // nil before Connect and after Close
	closed bool

	stats struct{ published, acked, failed, connects atomic.Int64 }
}

// PublisherStats are a Publisher's counters since Connect.
type PublisherStats struct {
	Published int64 `json:"published"` // messages handed to the client
	Acked     int64 `json:"acked"`     // of those, acknowledged by the broker (sent, for QoS 0)
	Failed    int64 `json:"failed"`    // of those, failed: not connected for good, or closed first
	// Reconnects counts the connections made after the first.
	Reconnects int64 `json:"reconnects"`
}

// ErrPublisherClosed is the error of a Publisher used after Close, and of the messages that were
// still waiting for the broker when it closed.
var ErrPublisherClosed = errors.New("MQTT publisher closed")

// Validate checks the configuration. Connect calls it.
func (p *Publisher) Validate() error {
	if err := validBroker(p.Broker); err != nil {
		return err
	}
	if p.QoS > 2 {
		return fmt.Errorf("MQTT QoS %d: want 0, 1 or 2", p.QoS)
	}
	if len(p.ClientID) > 65535 || strings.ContainsRune(p.ClientID, 0) {
		return errors.New("MQTT client id: at most 65535 bytes and no NUL")
	}
	return nil
}

// ValidTopic checks a topic one can publish on: 1 to 65535 bytes, no NUL and no wildcard.
func ValidTopic(topic string) error {
	if topic == "" || len(topic) > 65535 || strings.ContainsAny(topic, "+#\x00") {
		return fmt.Errorf("MQTT topic %.64q: want 1 to 65535 bytes without +, # or NUL", topic)
	}
	return nil
}

func (p *Publisher) qos() byte {
	if p.QoS == 0 {
		return DefaultQoS
	}
	return p.QoS
}

// Connect connects to the broker, trying again every RetryInterval until it answers or ctx ends;
// then it returns ctx's error and the Publisher is closed. A bad configuration is an error at once.
// A Publisher connects once.
func (p *Publisher) Connect(ctx context.Context) error {
	if err := p.Validate(); err != nil {
		return err
	}
	clientID := p.ClientID
	if clientID == "" {
		b := make([]byte, 6)
		rand.Read(b)
		clientID = "liftrescue-pub-" + hex.EncodeToString(b)
	}
	opts := mqtt.NewClientOptions().AddBroker(p.Broker).SetClientID(clientID).
		SetUsername(p.Username).SetPassword(p.Password).
		SetProtocolVersion(4).SetCleanSession(true).
		SetAutoReconnect(true).SetMaxReconnectInterval(maxReconnectInterval).
		SetConnectRetry(true).SetConnectRetryInterval(orDefault(p.RetryInterval, DefaultRetryInterval)).
		SetConnectTimeout(orDefault(p.ConnectTimeout, DefaultConnectTimeout)).SetKeepAlive(30 * time.Second).
		SetWriteTimeout(publishWriteTimeout).SetStore(newCopyingStore()).
		SetOnConnectHandler(func(mqtt.Client) { p.stats.connects.Add(1) })
	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		return ErrPublisherClosed
	case p.client != nil:
		p.mu.Unlock()
		return errors.New("MQTT publisher: Connect called twice")
	}
	client := mqtt.NewClient(opts)
	p.client = client
	p.mu.Unlock()

	tok := client.Connect() // with ConnectRetry it completes once connected, or fails when disconnected
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			p.Close()
			return fmt.Errorf("MQTT broker %s: %w", Redacted(p.Broker), err)
		}
		return nil
	case <-ctx.Done():
		p.Close()
		return fmt.Errorf("MQTT broker %s not reached: %w", Redacted(p.Broker), ctx.Err())
	}
}

// Connected reports whether the connection is up now.
func (p *Publisher) Connected() bool {
	p.mu.Lock()
	c := p.client
	p.mu.Unlock()
	return c != nil && c.IsConnectionOpen()
}

// Publication is one message on its way to the broker.
type Publication struct {
	p   *Publisher
	tok mqtt.Token
	err error // known at once: bad topic, closed publisher
}

// Publish hands payload to the client for topic, without the retain flag, and returns without
// waiting for the broker: Wait on the result for its acknowledgement. It does not block, unless
// the client's outgoing queue is full.
func (p *Publisher) Publish(topic string, payload []byte) *Publication {
	p.stats.published.Add(1)
	pb := &Publication{p: p}
	if err := ValidTopic(topic); err != nil {
		pb.err = err
		p.stats.failed.Add(1)
		return pb
	}
	p.mu.Lock()
	c := p.client
	closed := p.closed
	p.mu.Unlock()
	switch {
	case closed:
		pb.err = ErrPublisherClosed
	case c == nil:
		pb.err = errors.New("MQTT publisher: Publish before Connect")
	default:
		pb.tok = c.Publish(topic, p.qos(), false, payload)
		return pb
	}
	p.stats.failed.Add(1)
	return pb
}

// Wait waits for the broker's acknowledgement (PUBACK for QoS 1, PUBCOMP for 2; for QoS 0, the
// message being written), or for ctx to end. An error says the message may not have reached the
// broker: the client gave up on it, the Publisher was closed first, or ctx ended (then the message
// may still go out). Call it once per Publication.
func (pb *Publication) Wait(ctx context.Context) error {
	if pb.err != nil {
		return pb.err
	}
	select {
	case <-pb.tok.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	err := pb.tok.Error()
	if err == nil {
		pb.p.stats.acked.Add(1)
		return nil
	}
	pb.p.stats.failed.Add(1)
	pb.p.mu.Lock()
	closed := pb.p.closed
	pb.p.mu.Unlock()
	if closed {
		return fmt.Errorf("%w: %w", ErrPublisherClosed, err)
	}
	return err
}

// Send publishes payload on topic and waits for the broker's acknowledgement.
func (p *Publisher) Send(ctx context.Context, topic string, payload []byte) error {
	return p.Publish(topic, payload).Wait(ctx)
}

// Stats returns the counters; it is safe to call at any time.
func (p *Publisher) Stats() PublisherStats {
	st := PublisherStats{Published: p.stats.published.Load(), Acked: p.stats.acked.Load(), Failed: p.stats.failed.Load()}
	if n := p.stats.connects.Load(); n > 1 {
		st.Reconnects = n - 1
	}
	return st
}

// Close disconnects, giving the broker up to a second for what is in flight, and stops the
// reconnecting. Messages not acknowledged by then fail. Close may be called more than once.
func (p *Publisher) Close() {
	p.mu.Lock()
	c := p.client
	already := p.closed
	p.closed = true
	p.mu.Unlock()
	if c != nil && !already {
		c.Disconnect(uint(quiesce / time.Millisecond))
	}
}
