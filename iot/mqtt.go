package iot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/liftrescue/liftrescue"
)

// Defaults of a Subscriber.
const (
	DefaultTopic         = "lift/+/alarm" // TopicPattern with {terminal} as "+"
	DefaultQoS           = 1
	DefaultHandleTimeout = 10 * time.Second
	DefaultRetryInterval = 2 * time.Second
	// DefaultLanes is how many reports a Subscriber hands on at once.
	DefaultLanes = 8
	// laneQueue is how many decoded reports wait in each lane before the subscriber stops
	// reading from the broker (which then holds them).
	laneQueue = 256
	// maxReconnectInterval caps the backoff between attempts to reconnect after a lost
	// connection: a broker back after an outage is found within half a minute.
	maxReconnectInterval = 30 * time.Second
	// quiesce is how long Run lets the broker take its DISCONNECT.
	quiesce = time.Second
	// subscribeTimeout bounds the wait for the broker's SUBACK.
	subscribeTimeout = 10 * time.Second
)

// Subscriber takes terminal reports from an MQTT broker (MQTT 3.1.1, with a clean session):
// each message is read by DecodeMessageWith and, when it passes, given to Handle.
type Subscriber struct {
	Broker string // tcp://host:1883, ssl://host:8883, ws://host:port/path, wss://… or mqtt://host:1883
	// Topic is the subscription filter; empty: Pattern with {terminal} as "+" (DefaultTopic for
	// the default pattern). "$share/group/…" shares the reports among several instances.
	Topic string
	// Pattern says where the terminal id is in a message's topic (see ParseTopic); empty:
	// TopicPattern.
	Pattern  string
	ClientID string // empty: liftrescue- and 12 random hex digits
	Username string
	Password string
	QoS      byte // 0, 1 or 2; 0 is taken as DefaultQoS: the broker must not drop alarms silently
	// Handle takes one normalised report; sender is "mqtt:" and the message's topic. It is called
	// from Lanes goroutines at once (the reports of one terminal one at a time, in the order they
	// came) with a context that ends after HandleTimeout (and not when Run's does: an alarm being
	// handled at shutdown is finished). A Handle that returns an error, panics or overruns the
	// timeout is counted as failed and logged; one that overruns is left running, so that one
	// stuck alarm never holds back the next of its lane.
	Handle func(ctx context.Context, a liftrescue.Alarm, sender string) error
	// HandleTimeout bounds one call of Handle; 0: DefaultHandleTimeout.
	HandleTimeout time.Duration
	// Lanes is how many reports are handled at once (0: DefaultLanes). The reports of one
	// terminal (or, named by equipment code, one elevator) go down one lane, in the order they
	// came; the others need not wait for them: a trapped alarm opening an incident on one elevator
	// does not hold back every other terminal's heartbeat. A report is acknowledged to the broker
	// once it is in its lane; Run hands on what is in the lanes before it returns.
	Lanes int
	// RetryInterval is the wait between attempts of the first connection; 0:
	// DefaultRetryInterval. Lost connections are retried with a backoff of 1 s to 30 s.
	RetryInterval time.Duration
	Now           func() time.Time // nil: time.Now
	Logger        *slog.Logger     // nil: no logs

	stats struct {
		received, accepted, malformed, failed, retained, connects atomic.Int64
	}
	mu        sync.Mutex // orders the connected flag's changes
	connected atomic.Bool
	busy      sync.Mutex // held while a message is read and put in its lane
	lanes     []chan laneItem
	lanesDone sync.WaitGroup
	stopping  atomic.Bool
	failing   atomic.Bool // a connection attempt failed since the last connection
}

// SubscriberStats are a Subscriber's counters since Run started.
type SubscriberStats struct {
	Received  int64 `json:"received"`  // messages on the subscription
	Accepted  int64 `json:"accepted"`  // decoded and taken by Handle
	Malformed int64 `json:"malformed"` // refused: too large, not a report, or breaking its rules
	Failed    int64 `json:"failed"`    // decoded, but Handle failed or overran its timeout
	Retained  int64 `json:"retained"`  // ignored: the broker's retained copy of an old report
	Connected bool  `json:"connected"` // connected and subscribed now
	// Reconnects counts the connections made after the first (each re-subscribes).
	Reconnects int64 `json:"reconnects"`
}

// Stats returns the counters; it is safe to call while Run runs.
func (s *Subscriber) Stats() SubscriberStats {
	st := SubscriberStats{Received: s.stats.received.Load(), Accepted: s.stats.accepted.Load(),
		Malformed: s.stats.malformed.Load(), Failed: s.stats.failed.Load(), Retained: s.stats.retained.Load(),
		Connected: s.connected.Load()}
	if n := s.stats.connects.Load(); n > 1 {
		st.Reconnects = n - 1
	}
	return st
}

// Validate checks the configuration, all but Handle. Run calls it; a command may call it first to
// refuse a bad flag before it starts anything.
func (s *Subscriber) Validate() error {
	if err := validBroker(s.Broker); err != nil {
		return err
	}
	if err := validFilter(s.pattern(), true); err != nil {
		return fmt.Errorf("MQTT topic pattern %q: %w", s.pattern(), err)
	}
	if err := validFilter(s.Filter(), false); err != nil {
		return fmt.Errorf("MQTT topic %q: %w", s.Filter(), err)
	}
	if s.QoS > 2 {
		return fmt.Errorf("MQTT QoS %d: want 0, 1 or 2", s.QoS)
	}
	if len(s.ClientID) > 65535 || strings.ContainsRune(s.ClientID, 0) {
		return errors.New("MQTT client id: at most 65535 bytes and no NUL")
	}
	return nil
}

// validBroker checks a broker URL: a scheme paho dials, and host:port.
func validBroker(broker string) error {
	u, err := url.Parse(broker)
	if err != nil || u.Host == "" {
		return fmt.Errorf("MQTT broker %q: want a URL such as tcp://127.0.0.1:1883", broker)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "ws", "wss":
	default:
		return fmt.Errorf("MQTT broker %q: want tcp://, mqtt://, ssl://, ws:// or wss://", broker)
	}
	if host, port, err := net.SplitHostPort(u.Host); err != nil || host == "" || port == "" {
		return fmt.Errorf("MQTT broker %q: want host:port, e.g. tcp://127.0.0.1:1883", broker)
	}
	return nil
}

// Redacted is the broker URL with the password it may hold replaced by "xxxxx", for logs.
func Redacted(broker string) string {
	u, err := url.Parse(broker)
	if err != nil {
		return broker
	}
	return u.Redacted()
}

// validFilter checks an MQTT topic filter: "+" and "#" only as whole levels, "#" last. A pattern
// may also have "{terminal}" levels.
func validFilter(filter string, pattern bool) error {
	if filter == "" || len(filter) > 65535 || strings.ContainsRune(filter, 0) {
		return errors.New("want 1 to 65535 bytes without NUL")
	}
	levels := strings.Split(filter, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return errors.New(`"#" may only be the last level`)
		case l == "+" || l == "#" || pattern && l == "{terminal}":
		case strings.ContainsAny(l, "+#"):
			return errors.New(`"+" and "#" must be whole levels`)
		case pattern && strings.Contains(l, "{terminal}"):
			return errors.New(`"{terminal}" must be a whole level`)
		}
	}
	return nil
}

func (s *Subscriber) pattern() string {
	if s.Pattern == "" {
		return TopicPattern
	}
	return s.Pattern
}

// Filter is the topic filter Run subscribes with: Topic, or Pattern with {terminal} as "+".
func (s *Subscriber) Filter() string {
	if s.Topic == "" {
		return strings.ReplaceAll(s.pattern(), "{terminal}", "+")
	}
	return s.Topic
}

func (s *Subscriber) qos() byte {
	if s.QoS == 0 {
		return DefaultQoS
	}
	return s.QoS
}

func (s *Subscriber) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Run connects to the broker, retrying until it is reached and reconnecting whenever the
// connection drops (subscribing again each time), and hands every message on as Subscriber
// describes, until ctx ends; then it disconnects, lets the message being handled finish, and
// returns nil. A bad configuration is an error at once. A Subscriber runs once.
func (s *Subscriber) Run(ctx context.Context) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if s.Handle == nil {
		return errors.New("MQTT subscriber: Handle is nil")
	}
	clientID := s.ClientID
	if clientID == "" {
		b := make([]byte, 6)
		rand.Read(b)
		clientID = "liftrescue-" + hex.EncodeToString(b)
	}
	log := s.logger().With("broker", Redacted(s.Broker), "filter", s.Filter())
	opts := mqtt.NewClientOptions().AddBroker(s.Broker).SetClientID(clientID).
		SetUsername(s.Username).SetPassword(s.Password).
		SetProtocolVersion(4).SetCleanSession(true).SetOrderMatters(true).
		SetAutoReconnect(true).SetMaxReconnectInterval(maxReconnectInterval).
		SetConnectRetry(true).SetConnectRetryInterval(orDefault(s.RetryInterval, DefaultRetryInterval)).
		SetConnectTimeout(10 * time.Second).SetKeepAlive(30 * time.Second).
		SetDefaultPublishHandler(func(_ mqtt.Client, msg mqtt.Message) { s.message(ctx, log, msg) })
	opts.SetOnConnectHandler(func(c mqtt.Client) { s.subscribe(ctx, c, log) })
	opts.SetConnectionLostHandler(func(c mqtt.Client, err error) {
		s.setConnected(c, false)
		if !s.stopping.Load() {
			log.Warn("MQTT connection lost; reconnecting", "err", err)
		}
	})
	opts.SetConnectionNotificationHandler(func(_ mqtt.Client, n mqtt.ConnectionNotification) {
		if f, ok := n.(mqtt.ConnectionNotificationFailed); ok && !s.stopping.Load() {
			// The first failure of a run of them is worth a warning; the retries are not.
			level := slog.LevelDebug
			if !s.failing.Swap(true) {
				level = slog.LevelWarn
			}
			log.Log(ctx, level, "MQTT broker not reached; retrying", "err", f.Reason)
		}
	})
	s.startLanes(ctx, log)
	client := mqtt.NewClient(opts)
	client.Connect() // with ConnectRetry it retries until connected or disconnected
	<-ctx.Done()
	s.stopping.Store(true)
	client.Disconnect(uint(quiesce / time.Millisecond))
	s.busy.Lock() // let the message being read finish: nothing goes into a lane after this
	for _, l := range s.lanes {
		close(l)
	}
	s.busy.Unlock()
	s.lanesDone.Wait() // the reports in the lanes are handed on
	s.connected.Store(false)
	log.Info("MQTT subscriber stopped")
	return nil
}

// subscribe subscribes on each (re)connection: the session is clean, so the broker has forgotten
// the subscription of the last one.
func (s *Subscriber) subscribe(ctx context.Context, c mqtt.Client, log *slog.Logger) {
	n := s.stats.connects.Add(1)
	s.failing.Store(false)
	tok := c.Subscribe(s.Filter(), s.qos(), func(_ mqtt.Client, msg mqtt.Message) { s.message(ctx, log, msg) })
	var err error
	switch {
	case !tok.WaitTimeout(subscribeTimeout):
		err = errors.New("no answer from the broker")
	case tok.Error() != nil:
		err = tok.Error()
	default:
		for _, granted := range tok.(*mqtt.SubscribeToken).Result() {
			if granted > 2 {
				err = fmt.Errorf("the broker refused the subscription (return code %#x)", granted)
			}
		}
	}
	if err != nil {
		if !s.stopping.Load() {
			log.Error("MQTT subscription failed: no alarms arrive until the next connection", "err", err)
		}
		return
	}
	s.setConnected(c, true)
	log.Info("MQTT subscribed", "qos", s.qos(), "reconnects", n-1)
}

// setConnected records the state of the connection. The client runs its connect and
// connection-lost handlers on goroutines of their own, so a late one must not overwrite what
// a newer connection set.
func (s *Subscriber) setConnected(c mqtt.Client, up bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.IsConnectionOpen() == up {
		s.connected.Store(up)
	}
}

// message handles one message. The client calls it for one message at a time, in order.
func (s *Subscriber) message(ctx context.Context, log *slog.Logger, msg mqtt.Message) {
	s.busy.Lock()
	defer s.busy.Unlock()
	if s.stopping.Load() {
		return // Run has returned or is about to: Handle's resources may be gone
	}
	s.stats.received.Add(1)
	topic, payload := msg.Topic(), msg.Payload()
	if msg.Retained() {
		// A retained message is the broker's copy of an old report, given to every new
		// subscription: a trapped alarm kept so would open an incident again after the rescue.
		s.stats.retained.Add(1)
		log.Warn("retained MQTT message ignored: terminals must publish alarms without the retain flag", "topic", shortTopic(topic))
		return
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	a, err := DecodeMessageWith(s.pattern(), topic, payload, now())
	if err != nil {
		s.stats.malformed.Add(1)
		log.Warn("MQTT message refused", "topic", shortTopic(topic), "bytes", len(msg.Payload()),
			"payload", fmt.Sprintf("%.64s", payload), "err", err)
		return
	}
	s.lanes[laneOf(&a, len(s.lanes))] <- laneItem{a, topic}
}

// laneItem is a decoded report waiting in its lane.
type laneItem struct {
	alarm liftrescue.Alarm
	topic string
}

// startLanes starts the goroutines that hand the reports on, one per lane.
func (s *Subscriber) startLanes(ctx context.Context, log *slog.Logger) {
	n := s.Lanes
	if n <= 0 {
		n = DefaultLanes
	}
	s.lanes = make([]chan laneItem, n)
	for i := range s.lanes {
		s.lanes[i] = make(chan laneItem, laneQueue)
		s.lanesDone.Add(1)
		go func(lane <-chan laneItem) {
			defer s.lanesDone.Done()
			for it := range lane {
				s.handOn(ctx, log, it)
			}
		}(s.lanes[i])
	}
}

// handOn gives one report to Handle and counts the outcome.
func (s *Subscriber) handOn(ctx context.Context, log *slog.Logger, it laneItem) {
	a := it.alarm
	if err := s.handle(ctx, a, "mqtt:"+it.topic); err != nil {
		s.stats.failed.Add(1)
		log.Error("MQTT alarm not handled", "topic", shortTopic(it.topic), "kind", a.Kind, "priority", a.Priority,
			"equipment_code", a.EquipmentCode, "terminal_id", a.TerminalID, "err", err)
		return
	}
	s.stats.accepted.Add(1)
}

// laneOf is the lane of a report: the same for every report of one terminal or elevator.
func laneOf(a *liftrescue.Alarm, lanes int) int {
	key := a.TerminalID
	if key == "" {
		key = a.EquipmentCode
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(lanes))
}

// handle calls Handle with a timeout, and returns when Handle does or the timeout passes.
func (s *Subscriber) handle(ctx context.Context, a liftrescue.Alarm, sender string) error {
	timeout := orDefault(s.HandleTimeout, DefaultHandleTimeout)
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v\n%s", r, debug.Stack())
			}
		}()
		done <- s.Handle(hctx, a, sender)
	}()
	select {
	case err := <-done:
		return err
	case <-hctx.Done():
		return fmt.Errorf("not handled within %s: left running", timeout)
	}
}

// shortTopic cuts a topic for the log: a topic may be 64 KiB long.
func shortTopic(topic string) string { return fmt.Sprintf("%.128s", topic) }
