package stream

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/liftrescue/liftrescue"
)

// burstBytes bounds one write: a client catching up gets its events in writes of about this size,
// each flushed, rather than one write it could take minutes to read.
const burstBytes = 32 << 10

// Serve writes one stream of Server-Sent Events until the client goes away or the hub closes.
//
// The query parameter types (a comma list, may repeat) keeps only events of those types; the
// client's resume point is the Last-Event-ID header, or the last_event_id query parameter for a
// first connection (EventSource sets no headers then; the header wins, as it is newer).
//
// Besides events, the stream carries id lines with no data, which EventSource takes as a new
// Last-Event-ID without firing an event: one at the start, so that a new client has a resume
// point at once, and one with a heartbeat when events it filtered out have passed, so that a
// client that wants few events keeps a resume point the buffer still holds.
//
// Serve returns EINVALID for an unknown type, and EUNAVAILABLE when the hub is closed (ErrClosed)
// or HubConfig.MaxClients streams are open (ErrTooManyStreams), before it writes anything, so
// that the caller can answer with the error; once streaming, it returns nil.
//
// The stream is the whole city's: it has the events of every district. See ServeScoped.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request) error { return h.ServeScoped(w, r, "") }

// ServeScoped is Serve for a client held to one district (a district's dispatcher): it gets the
// events of the whole city (Publish) and those of its district (PublishIn), never those of other
// districts, which pass as the events the types parameter filters out do, resume point included.
// An empty district is the whole city, as for liftrescue.Principal.Covers.
func (h *Hub) ServeScoped(w http.ResponseWriter, r *http.Request, district string) error {
	q := r.URL.Query()
	types, err := parseTypes(q["types"])
	if err != nil {
		return err
	}
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = q.Get("last_event_id")
	}
	if r.Method == http.MethodHead { // a monitor's probe: the headers, and no stream to hold open
		setHeaders(w)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	sub, err := h.subscribe(lastID, filter{types: types, district: district})
	if err != nil {
		return err
	}
	defer h.unsubscribe(sub.subscriber)
	setHeaders(w)
	st := stream{h: h, w: w, rc: http.NewResponseController(w)}
	h.cfg.Logger.Debug("stream opened", "remote", r.RemoteAddr, "types", types, "district", district,
		"last_event_id", lastID, "reset", sub.reset)
	began := h.cfg.Now()
	why := st.run(r, sub)
	h.cfg.Logger.Log(r.Context(), logLevel(why), "stream ended", "remote", r.RemoteAddr, "why", why,
		"duration", h.cfg.Now().Sub(began).Round(time.Millisecond))
	return nil
}

func setHeaders(w http.ResponseWriter) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no") // nginx would otherwise hold events back in its buffer
}

// parseTypes reads the types parameter; nil means every type.
func parseTypes(params []string) ([]string, error) {
	var out []string
	for _, p := range params {
		for t := range strings.SplitSeq(p, ",") {
			t = strings.TrimSpace(t)
			switch {
			case t == "" || slices.Contains(out, t):
			case !slices.Contains(types[:], t):
				if len(t) > 40 {
					t = t[:40] + "…"
				}
				return nil, liftrescue.Invalid("types", fmt.Sprintf("unknown event type %q; the types are %s",
					strings.ToValidUTF8(t, "?"), strings.Join(types[:], ", ")))
			default:
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// stream writes one subscriber's events.
type stream struct {
	h   *Hub
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf []byte
	at  uint64 // the latest event the client knows of (its Last-Event-ID), once it has one
}

// run writes the start of the stream and then its events and heartbeats, and says why it ended.
func (st *stream) run(r *http.Request, sub subscription) string {
	h := st.h
	// EventSource reconnects by itself after 2 s; the default of some browsers is 3 s or more.
	st.buf = append(st.buf, "retry: 2000\n\n"...)
	for _, ev := range sub.replay {
		st.appendEvent(ev)
		if len(st.buf) >= burstBytes && st.send() != nil {
			return "write failed"
		}
	}
	if sub.reset != "" {
		data, _ := json.Marshal(map[string]string{"reason": sub.reset})
		st.appendID(sub.at)
		st.buf = appendBody(st.buf, KindReset, data)
	} else if len(sub.replay) == 0 || st.at < sub.at {
		// An id line with no data sets the client's Last-Event-ID without an event: a new client
		// gets a resume point at once, and one whose missed events were all filtered out moves on.
		st.appendID(sub.at)
		st.buf = append(st.buf, '\n')
	}
	if st.send() != nil {
		return "write failed"
	}

	heartbeat := time.NewTicker(h.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return "client gone"
		case <-sub.done:
			return sub.why
		case ev := <-sub.ch:
			st.appendEvent(ev)
		drain:
			for len(st.buf) < burstBytes {
				select {
				case ev := <-sub.ch:
					st.appendEvent(ev)
				default:
					break drain
				}
			}
		case <-heartbeat.C:
			st.buf = append(st.buf, ": ping\n"...)
			// A client that wants few types, or one district, would otherwise keep an old
			// Last-Event-ID while other events push it out of the buffer, and reset on every
			// reconnect.
			if seen, idle := h.cursor(sub.subscriber); idle && seen > st.at {
				st.appendID(seen)
				st.buf = append(st.buf, '\n')
			}
		}
		if st.send() != nil {
			return "write failed"
		}
	}
}

func (st *stream) appendID(seq uint64) {
	st.buf = append(st.buf, "id: "...)
	st.buf = appendID(st.buf, st.h.epoch, seq)
	st.buf = append(st.buf, '\n')
	st.at = seq
}

func (st *stream) appendEvent(ev *event) {
	st.appendID(ev.seq)
	st.buf = append(st.buf, ev.body...)
}

// send writes and flushes the buffer. A client that does not take it within WriteTimeout is gone.
func (st *stream) send() error {
	// Network deadlines are wall-clock time, whatever clock the hub was given.
	if err := st.rc.SetWriteDeadline(time.Now().Add(st.h.cfg.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	_, err := st.w.Write(st.buf)
	st.buf = st.buf[:0]
	if err != nil {
		return err
	}
	return st.rc.Flush()
}

// logLevel is Info for a client cut off as too slow, which may be worth looking into, and Debug
// for the everyday ends.
func logLevel(why string) slog.Level {
	if why == "slow" {
		return slog.LevelInfo
	}
	return slog.LevelDebug
}
