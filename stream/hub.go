package stream

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/liftrescue/liftrescue"
)

// Event kinds. A client filters on a kind's type, the part before the first underscore:
// ?types=vehicle brings both vehicle and vehicle_removed.
const (
	KindVehicle        = "vehicle"         // data: liftrescue.LiveVehicle
	KindVehicleRemoved = "vehicle_removed" // data: {"id": N}
	KindVehicleAlarm   = "vehicle_alarm"   // a tracker raised an alarm (its SOS button); data: {"vehicle_id", "alarm", "time", "lat", "lon"}
	KindIncident       = "incident"        // an incident opened or moved on; data: its id, state, tier, elevator and times
	// KindReset tells a client that it cannot be caught up (the server restarted, or it was away
	// longer than the buffer reaches) and must reload the full state with the REST API. Its data
	// is {"reason": R} with R one of the Reset… constants. Every client gets it, whatever its types.
	KindReset = "reset"
)

// Reasons of a reset event.
const (
	ResetMalformed = "malformed" // the Last-Event-ID is not an id of this service
	ResetRestarted = "restarted" // it comes from another run of the server (or another replica)
	ResetTooOld    = "too_old"   // the events after it are no longer kept
	ResetAhead     = "ahead"     // it names an event not yet published: the client is confused
)

// types are the event types a client may ask for and a publisher may use. They are fixed here,
// not configured, because they are the stream's contract with its clients; incident is reserved
// for the dispatch engine so that wallboards can ask for it before it publishes.
var types = [...]string{"vehicle", "incident"}

// typeOf returns the type of a kind, or "" when the kind is not one a client could ask for. Kinds
// are lower-case words joined by underscores, so that they are safe on an SSE event line.
func typeOf(kind string) string {
	if kind == "" || strings.Trim(kind, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		return ""
	}
	t, _, _ := strings.Cut(kind, "_")
	if !slices.Contains(types[:], t) {
		return ""
	}
	return t
}

// ErrClosed is returned by Publish and Serve once the hub is closed.
var ErrClosed = &liftrescue.Error{Code: liftrescue.EUNAVAILABLE, Message: "the live stream is shutting down"}

// ErrTooManyStreams is returned by Serve when HubConfig.MaxClients streams are open already.
var ErrTooManyStreams = liftrescue.Errorf(liftrescue.EUNAVAILABLE,
	"the server has too many live streams open; retry in a few seconds")

// Hub defaults.
const (
	DefaultBuffer           = 10_000
	DefaultSubscriberBuffer = 1024
	DefaultHeartbeat        = 15 * time.Second
	DefaultWriteTimeout     = 30 * time.Second
)

// HubConfig configures a Hub; zero fields take the defaults.
type HubConfig struct {
	// Buffer is how many recent events are kept for clients that reconnect. It covers the event
	// rate times the longest absence worth catching up: at 1,000 vehicle events a second the
	// default covers 10 s, after which a returning client reloads with the REST API.
	Buffer int
	// SubscriberBuffer is how many events may wait for one client before it is cut off as too
	// slow. Cutting it off keeps Publish from ever waiting; the client reconnects and catches up.
	SubscriberBuffer int
	// Heartbeat is how often every stream gets a comment line, so that proxies and load
	// balancers, which close connections that stay silent, keep it open. It also moves on the
	// resume point of a client that filters out most events (see Hub.Serve).
	Heartbeat time.Duration
	// WriteTimeout is how long one write to a client may take before the client is taken as
	// gone. It replaces the server's WriteTimeout, which would otherwise end every stream.
	WriteTimeout time.Duration
	// MaxClients bounds the streams open at once; 0 means no bound. Each holds a goroutine, a
	// connection and a queue of SubscriberBuffer events, so a client that opens streams without
	// end would otherwise take the memory the dispatchers' streams need. Beyond it Serve returns
	// ErrTooManyStreams.
	MaxClients int
	// Now is the clock of Stats and the logs.
	Now    func() time.Time
	Logger *slog.Logger
}

// Hub numbers events and fans them out to the streams. It is safe for concurrent use.
//
// One mutex orders everything: Publish assigns the next number, stores the event in the ring and
// queues it for every subscriber while holding it, and a new subscriber takes the events it missed
// from the ring and joins the subscribers while holding it too. So each subscriber sees every
// event after its resume point exactly once and in order, whoever publishes meanwhile. Nothing
// under the mutex can block: a full queue cuts its subscriber off.
type Hub struct {
	cfg   HubConfig
	epoch string // tells this run's event ids from those of other runs
	start time.Time

	mu     sync.Mutex
	seq    uint64   // of the latest event; the first is 1
	ring   []*event // event seq sits at ring[seq%len(ring)]
	subs   []*subscriber
	closed bool
	done   chan struct{} // closed by Close
	// counters for Stats
	published, cutOff, resets, refused uint64
}

// event is a published event, formatted once for every subscriber.
type event struct {
	seq      uint64
	typ      string
	district string // "" for an event of the whole city
	body     []byte // "event: …\ndata: …\n\n"; the id line goes before it when written
}

// subscriber is one stream's place in the hub. Its fields other than ch and done are guarded by
// the hub's mutex.
type subscriber struct {
	filter
	ch   chan *event
	done chan struct{} // closed when the hub drops the subscriber
	why  string        // why it was dropped: "slow", "closed" or "gone" (its stream ended)
	seen uint64        // the latest event published while it was subscribed, wanted or not
}

// filter says which events a stream wants.
type filter struct {
	types []string // nil for all
	// district, when set, keeps out the events of other districts; those of the whole city pass.
	district string
}

func (f *filter) wants(ev *event) bool {
	return (f.types == nil || slices.Contains(f.types, ev.typ)) &&
		(f.district == "" || ev.district == "" || ev.district == f.district)
}

// NewHub returns a hub with an epoch of its own.
func NewHub(cfg HubConfig) *Hub {
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultBuffer
	}
	if cfg.SubscriberBuffer <= 0 {
		cfg.SubscriberBuffer = DefaultSubscriberBuffer
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// A random epoch rather than the start time: two replicas, or two hubs of a test on one fake
	// clock, never share one.
	return &Hub{cfg: cfg, epoch: strconv.FormatUint(rand.Uint64()>>24, 36), start: cfg.Now().UTC(),
		ring: make([]*event, cfg.Buffer), done: make(chan struct{})}
}

// Publish sends an event of the kind with data as its JSON to every subscriber that wants it,
// whatever its district. It never waits for a subscriber. Returns EINVALID for a kind of an
// unknown type, an error for data that does not marshal, and ErrClosed once the hub is closed.
func (h *Hub) Publish(kind string, data any) error { return h.PublishIn(kind, "", data) }

// PublishIn is Publish for an event of one district (an incident): streams scoped to another
// district do not get it (see ServeScoped). An empty district is the whole city, as Publish.
func (h *Hub) PublishIn(kind, district string, data any) error {
	typ := typeOf(kind)
	if typ == "" {
		return liftrescue.Invalid("kind", fmt.Sprintf("%q is not of a known event type", kind))
	}
	b, err := json.Marshal(data) // compact: one line, as an SSE data field needs
	if err != nil {
		return fmt.Errorf("stream: marshal %s event: %w", kind, err)
	}
	ev := &event{typ: typ, district: district, body: appendBody(make([]byte, 0, len(kind)+len(b)+16), kind, b)}

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	h.seq++
	h.published++
	ev.seq = h.seq
	h.ring[ev.seq%uint64(len(h.ring))] = ev
	for i := 0; i < len(h.subs); {
		s := h.subs[i]
		s.seen = ev.seq
		if s.wants(ev) {
			select {
			case s.ch <- ev:
			default:
				h.cutOff++
				h.dropLocked(i, "slow")
				continue
			}
		}
		i++
	}
	return nil
}

func appendBody(b []byte, kind string, data []byte) []byte {
	b = append(b, "event: "...)
	b = append(b, kind...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// dropLocked removes the i-th subscriber and ends its stream.
func (h *Hub) dropLocked(i int, why string) {
	s := h.subs[i]
	s.why = why
	close(s.done)
	last := len(h.subs) - 1
	h.subs[i] = h.subs[last]
	h.subs[last] = nil
	h.subs = h.subs[:last]
}

// subscription is what a new subscriber starts with.
type subscription struct {
	*subscriber
	replay []*event // the missed events it wants, in order
	reset  string   // the reason of the reset it must get first, "" for none
	at     uint64   // the latest event when it joined: the resume point once replay is written
}

// subscribe registers a subscriber for the events f lets through that last saw the event lastID
// ("" for a new client, who gets live events only).
func (h *Hub) subscribe(lastID string, f filter) (subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return subscription{}, ErrClosed
	}
	if h.cfg.MaxClients > 0 && len(h.subs) >= h.cfg.MaxClients {
		h.refused++
		return subscription{}, ErrTooManyStreams
	}
	s := subscription{at: h.seq, subscriber: &subscriber{
		filter: f, ch: make(chan *event, h.cfg.SubscriberBuffer), done: make(chan struct{}), seen: h.seq,
	}}
	if lastID != "" {
		var from uint64
		from, s.reset = h.resumeLocked(lastID)
		for seq := from + 1; seq <= h.seq; seq++ {
			if ev := h.ring[seq%uint64(len(h.ring))]; s.wants(ev) {
				s.replay = append(s.replay, ev)
			}
		}
	}
	if s.reset != "" {
		h.resets++
	}
	h.subs = append(h.subs, s.subscriber)
	return s, nil
}

// resumeLocked returns the latest event a client that last saw the event id has, or the reason
// why it must reset.
func (h *Hub) resumeLocked(id string) (seq uint64, reset string) {
	epoch, seq, ok := parseID(id)
	switch {
	case !ok:
		return h.seq, ResetMalformed
	case epoch != h.epoch:
		return h.seq, ResetRestarted
	case seq > h.seq:
		return h.seq, ResetAhead
	case seq+uint64(len(h.ring)) < h.seq: // the oldest kept is h.seq-len+1
		return h.seq, ResetTooOld
	}
	return seq, ""
}

// unsubscribe removes a subscriber whose stream ended; it may have been dropped already.
func (h *Hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := slices.Index(h.subs, s); i >= 0 {
		h.dropLocked(i, "gone")
	}
}

// cursor returns the latest event published while s was subscribed, and whether the stream has
// written every event of it that s wants: true when none is waiting in its queue, since the
// stream's goroutine, the only reader, writes each event it takes before it asks again.
func (h *Hub) cursor(s *subscriber) (uint64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return s.seen, len(s.ch) == 0
}

// Close ends every stream; Publish and Serve fail afterwards. It may be called more than once.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		close(h.done)
	}
	h.closed = true
	for len(h.subs) > 0 {
		h.dropLocked(len(h.subs)-1, "closed")
	}
}

// LastID returns the id of the latest event ("<epoch>-0" before the first). An answer of the
// REST API that carries it lets its client open the stream right after it with last_event_id,
// missing nothing in between.
func (h *Hub) LastID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(appendID(nil, h.epoch, h.seq))
}

// Stats describe a hub's traffic, for monitoring.
type Stats struct {
	Started     time.Time `json:"started"`
	Subscribers int       `json:"subscribers"` // streams open now
	Published   uint64    `json:"published"`   // events since the start
	CutOff      uint64    `json:"cut_off"`     // subscribers dropped as too slow
	Resets      uint64    `json:"resets"`      // reconnects that could not be caught up
	Refused     uint64    `json:"refused"`     // streams refused because MaxClients were open
	LastEventID string    `json:"last_event_id"`
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Stats{Started: h.start, Subscribers: len(h.subs), Published: h.published, CutOff: h.cutOff,
		Resets: h.resets, Refused: h.refused, LastEventID: string(appendID(nil, h.epoch, h.seq))}
}

// Event ids are "<epoch>-<seq>": the epoch, in lower-case base 36, differs from one run of the
// hub to the next, so that a client coming back after a restart is told to reset instead of being
// "caught up" from someone else's numbers; seq counts the run's events from 1.
const maxIDLen = 40

func appendID(b []byte, epoch string, seq uint64) []byte {
	b = append(b, epoch...)
	b = append(b, '-')
	return strconv.AppendUint(b, seq, 10)
}

// parseID reads an event id in its canonical form only (no sign, no leading zero), so that an id
// names exactly one event.
func parseID(s string) (epoch string, seq uint64, ok bool) {
	i := strings.LastIndexByte(s, '-')
	if len(s) > maxIDLen || i <= 0 {
		return "", 0, false
	}
	epoch, digits := s[:i], s[i+1:]
	if strings.Trim(epoch, "0123456789abcdefghijklmnopqrstuvwxyz") != "" ||
		digits == "" || len(digits) > 1 && digits[0] == '0' {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return "", 0, false
	}
	return epoch, seq, true
}
