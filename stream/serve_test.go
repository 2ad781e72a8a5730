package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// msg is what an SSE client makes of the stream: a comment line, or the fields up to a blank line.
type msg struct {
	Comment, Retry, ID, Event, Data string
}

// readSSE parses a stream as EventSource does (fields, comments, blank lines), a message at a
// time on the channel, which closes at the end of the stream.
func readSSE(body io.Reader) <-chan msg {
	ch := make(chan msg, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(body)
		var m msg
		var fields bool
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if fields {
					ch <- m
				}
				m, fields = msg{}, false
				continue
			}
			name, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch name {
			case "":
				ch <- msg{Comment: value}
				continue
			case "retry":
				m.Retry = value
			case "id":
				m.ID = value
			case "event":
				m.Event = value
			case "data":
				m.Data += value
			}
			fields = true
		}
	}()
	return ch
}

// failAfter bounds every wait of these tests; none of them waits for time to pass.
const failAfter = 10 * time.Second

func next(tb testing.TB, ch <-chan msg) msg {
	tb.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			tb.Fatal("the stream ended")
		}
		return m
	case <-time.After(failAfter):
		tb.Fatal("no message")
	}
	return msg{}
}

func expect(tb testing.TB, ch <-chan msg, want msg) {
	tb.Helper()
	if got := next(tb, ch); got != want {
		tb.Fatalf("got %+v, want %+v", got, want)
	}
}

func expectEnd(tb testing.TB, ch <-chan msg) {
	tb.Helper()
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				return
			}
			tb.Logf("after the end: %+v", m)
		case <-time.After(failAfter):
			tb.Fatal("the stream did not end")
		}
	}
}

// server serves the hub as package api would, and reports on ended what every Serve returned.
func server(tb testing.TB, h *Hub, ended chan<- error, configure func(*http.Server)) *httptest.Server {
	tb.Helper()
	return serverOf(tb, h.Serve, ended, configure)
}

// scopedServer serves the hub to clients held to the district.
func scopedServer(tb testing.TB, h *Hub, district string) *httptest.Server {
	tb.Helper()
	return serverOf(tb, func(w http.ResponseWriter, r *http.Request) error { return h.ServeScoped(w, r, district) }, nil, nil)
}

func serverOf(tb testing.TB, serve func(http.ResponseWriter, *http.Request) error, ended chan<- error, configure func(*http.Server)) *httptest.Server {
	tb.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := serve(w, r)
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{
				"code": liftrescue.ErrorCode(err), "message": liftrescue.ErrorMessage(err)}})
		}
		select { // streams that a test leaves open end at its cleanup, with no one to tell
		case ended <- err:
		default:
		}
	}))
	if configure != nil {
		configure(srv.Config)
	}
	srv.Start()
	tb.Cleanup(srv.Close)
	return srv
}

// open starts a stream; cancel closes it from the client's side.
func open(tb testing.TB, url string, header http.Header) (resp *http.Response, msgs <-chan msg, cancel func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cancel(); resp.Body.Close() })
	return resp, readSSE(resp.Body), cancel
}

func waitEnded(tb testing.TB, ended <-chan error) {
	tb.Helper()
	select {
	case err := <-ended:
		if err != nil {
			tb.Fatalf("Serve: %v", err)
		}
	case <-time.After(failAfter):
		tb.Fatal("Serve did not return")
	}
}

func TestServeOverHTTP(t *testing.T) {
	h := mustHub(t, HubConfig{Heartbeat: time.Hour})
	ended := make(chan error, 8)
	srv := server(t, h, ended, nil)

	resp, msgs, cancel := open(t, srv.URL, nil)
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	expect(t, msgs, msg{Retry: "2000"})
	expect(t, msgs, msg{ID: id(h, 0)}) // a resume point before any event
	mustPublish(t, h, KindVehicle, map[string]int{"id": 1})
	expect(t, msgs, msg{ID: id(h, 1), Event: "vehicle", Data: `{"id":1}`})

	cancel()
	waitEnded(t, ended)
	if n := h.Stats().Subscribers; n != 0 {
		t.Errorf("%d subscribers after the client left", n)
	}

	// Away, the client misses two events; it comes back with the id it had. EventSource also
	// repeats the URL of its first connection, whose last_event_id is older: the header wins.
	mustPublish(t, h, KindVehicleRemoved, map[string]int{"id": 1})
	mustPublish(t, h, "incident", map[string]int{"id": 7})
	_, msgs, _ = open(t, srv.URL+"?last_event_id="+id(h, 0), http.Header{"Last-Event-Id": {id(h, 1)}})
	expect(t, msgs, msg{Retry: "2000"})
	expect(t, msgs, msg{ID: id(h, 2), Event: "vehicle_removed", Data: `{"id":1}`})
	expect(t, msgs, msg{ID: id(h, 3), Event: "incident", Data: `{"id":7}`})
	mustPublish(t, h, KindVehicle, map[string]int{"id": 2})
	expect(t, msgs, msg{ID: id(h, 4), Event: "vehicle", Data: `{"id":2}`})

	// A wallboard for incidents, on its first connection: the query's id, its type only, and a
	// resume point past the vehicle events it does not want.
	_, msgs, _ = open(t, srv.URL+"?types=incident&last_event_id="+id(h, 1), nil)
	expect(t, msgs, msg{Retry: "2000"})
	expect(t, msgs, msg{ID: id(h, 3), Event: "incident", Data: `{"id":7}`})
	expect(t, msgs, msg{ID: id(h, 4)})
}

func TestServeReset(t *testing.T) {
	h := mustHub(t, HubConfig{Heartbeat: time.Hour})
	before := mustHub(t, HubConfig{}) // the server's previous run
	srv := server(t, h, nil, nil)
	mustPublish(t, h, KindVehicle, 1)

	_, msgs, _ := open(t, srv.URL+"?types=incident", http.Header{"Last-Event-Id": {id(before, 1)}})
	expect(t, msgs, msg{Retry: "2000"})
	expect(t, msgs, msg{ID: id(h, 1), Event: "reset", Data: `{"reason":"restarted"}`}) // whatever the types
	mustPublish(t, h, "incident", 2)
	expect(t, msgs, msg{ID: id(h, 2), Event: "incident", Data: `2`})
}

func TestServeRefusesBeforeWriting(t *testing.T) {
	h := mustHub(t, HubConfig{})
	rec := httptest.NewRecorder()
	err := h.Serve(rec, httptest.NewRequest(http.MethodGet, "/api/v1/stream?types=vehicle,weather", nil))
	if liftrescue.ErrorCode(err) != liftrescue.EINVALID || !strings.Contains(liftrescue.ErrorMessage(err), `"weather"`) {
		t.Errorf("err %v", err)
	}
	if rec.Body.Len() != 0 || len(rec.Header()) != 0 || rec.Flushed {
		t.Errorf("wrote %q with headers %v", rec.Body, rec.Header())
	}

	srv := server(t, h, nil, nil)
	resp, err := http.Get(srv.URL + "?types=weather")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"code":"invalid"`) {
		t.Errorf("%d %s", resp.StatusCode, body)
	}

	h.Close()
	rec = httptest.NewRecorder()
	if err := h.Serve(rec, httptest.NewRequest(http.MethodGet, "/", nil)); !errors.Is(err, ErrClosed) || len(rec.Header()) != 0 {
		t.Errorf("closed hub: %v, headers %v", err, rec.Header())
	}
}

func TestServeHead(t *testing.T) {
	h := mustHub(t, HubConfig{})
	rec := httptest.NewRecorder()
	if err := h.Serve(rec, httptest.NewRequest(http.MethodHead, "/", nil)); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/event-stream" || h.Stats().Subscribers != 0 {
		t.Errorf("%d %v", rec.Code, rec.Header())
	}
}

// TestServeHeartbeat: pings keep proxies from closing an idle stream, and move the resume point
// of a client past the events it filtered out: of other types, or of other districts.
func TestServeHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		name, query, district string
		publish               func(h *Hub) error
	}{
		{"types", "?types=incident", "", func(h *Hub) error { return h.Publish(KindVehicle, 1) }},
		{"district", "", "370402", func(h *Hub) error { return h.PublishIn(KindIncident, "370403", 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := mustHub(t, HubConfig{Heartbeat: 5 * time.Millisecond})
			srv := scopedServer(t, h, tc.district)
			_, msgs, _ := open(t, srv.URL+tc.query, nil)
			expect(t, msgs, msg{Retry: "2000"})
			expect(t, msgs, msg{ID: id(h, 0)})
			expect(t, msgs, msg{Comment: "ping"})
			if err := tc.publish(h); err != nil {
				t.Fatal(err)
			}
			for {
				m := next(t, msgs)
				if m == (msg{ID: id(h, 1)}) {
					break
				}
				if m != (msg{Comment: "ping"}) {
					t.Fatalf("got %+v", m)
				}
			}
			expect(t, msgs, msg{Comment: "ping"})
			expect(t, msgs, msg{Comment: "ping"}) // and no id again: nothing new
		})
	}
}

// TestServeScoped: a city-wide client and one held to district 370402 each get what they should,
// in order, live and on resuming.
func TestServeScoped(t *testing.T) {
	h := mustHub(t, HubConfig{Heartbeat: time.Hour})
	citySrv, districtSrv := server(t, h, nil, nil), scopedServer(t, h, "370402")
	_, city, _ := open(t, citySrv.URL, nil)
	_, scoped, leave := open(t, districtSrv.URL, nil)
	for _, msgs := range []<-chan msg{city, scoped} {
		expect(t, msgs, msg{Retry: "2000"})
		expect(t, msgs, msg{ID: id(h, 0)})
	}
	mustPublishIn(t, h, KindVehicle, "", 1)
	mustPublishIn(t, h, KindIncident, "370402", 2)
	mustPublishIn(t, h, KindIncident, "370403", 3)
	mustPublishIn(t, h, KindIncident, "", 4)
	for _, seq := range []uint64{1, 2, 4} {
		expect(t, scoped, msg{ID: id(h, seq), Event: kindOf(seq), Data: fmt.Sprint(seq)})
	}

	// Away, the scoped client misses events of both districts, the last of them not its own.
	leave()
	mustPublishIn(t, h, KindIncident, "370403", 5)
	mustPublishIn(t, h, KindIncident, "370402", 6)
	mustPublishIn(t, h, KindIncident, "370403", 7)
	_, scoped, _ = open(t, districtSrv.URL, http.Header{"Last-Event-Id": {id(h, 4)}})
	expect(t, scoped, msg{Retry: "2000"})
	expect(t, scoped, msg{ID: id(h, 6), Event: "incident", Data: "6"})
	expect(t, scoped, msg{ID: id(h, 7)}) // its resume point moves past 7, which it does not get
	mustPublishIn(t, h, KindIncident, "370403", 8)
	mustPublishIn(t, h, KindVehicle, "370402", 9)
	expect(t, scoped, msg{ID: id(h, 9), Event: "vehicle", Data: "9"})

	for seq := uint64(1); seq <= 9; seq++ {
		expect(t, city, msg{ID: id(h, seq), Event: kindOf(seq), Data: fmt.Sprint(seq)})
	}
}

// kindOf is the kind TestServeScoped publishes as event seq.
func kindOf(seq uint64) string {
	if seq == 1 || seq == 9 {
		return KindVehicle
	}
	return KindIncident
}

// TestServeMaxClients: beyond MaxClients open streams, Serve refuses before writing anything; a
// place is free again once a stream ends.
func TestServeMaxClients(t *testing.T) {
	h := mustHub(t, HubConfig{MaxClients: 2, Heartbeat: time.Hour})
	ended := make(chan error, 8)
	srv := server(t, h, ended, nil)
	var leave func()
	for range 2 {
		var msgs <-chan msg
		_, msgs, leave = open(t, srv.URL, nil)
		expect(t, msgs, msg{Retry: "2000"})
		expect(t, msgs, msg{ID: id(h, 0)})
	}
	rec := httptest.NewRecorder()
	err := h.ServeScoped(rec, httptest.NewRequest(http.MethodGet, "/", nil), "370402")
	if !errors.Is(err, ErrTooManyStreams) || liftrescue.ErrorCode(err) != liftrescue.EUNAVAILABLE ||
		!strings.Contains(liftrescue.ErrorMessage(err), "too many live streams") {
		t.Errorf("third stream: %v, want ErrTooManyStreams", err)
	}
	if rec.Body.Len() != 0 || len(rec.Header()) != 0 || rec.Flushed {
		t.Errorf("wrote %q with headers %v", rec.Body, rec.Header())
	}

	leave()
	waitEnded(t, ended)
	_, msgs, _ := open(t, srv.URL, nil)
	expect(t, msgs, msg{Retry: "2000"})
	expect(t, msgs, msg{ID: id(h, 0)})
	if st := h.Stats(); st.Refused != 1 || st.Subscribers != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestServeOutlivesServerTimeouts: the service's server has read and write timeouts, which would
// end every stream after them.
func TestServeOutlivesServerTimeouts(t *testing.T) {
	h := mustHub(t, HubConfig{Heartbeat: 5 * time.Millisecond})
	srv := server(t, h, nil, func(s *http.Server) { s.ReadTimeout, s.WriteTimeout = 50*time.Millisecond, 50*time.Millisecond })
	_, msgs, _ := open(t, srv.URL, nil)
	expect(t, msgs, msg{Retry: "2000"})
	expect(t, msgs, msg{ID: id(h, 0)})
	for range 60 { // 300 ms at least, six times the timeouts
		expect(t, msgs, msg{Comment: "ping"})
	}
	mustPublish(t, h, KindVehicle, 1)
	m := next(t, msgs)
	for m.Comment == "ping" {
		m = next(t, msgs)
	}
	if want := (msg{ID: id(h, 1), Event: "vehicle", Data: "1"}); m != want {
		t.Fatalf("got %+v, want %+v", m, want)
	}
}

func TestCloseEndsStreams(t *testing.T) {
	h := mustHub(t, HubConfig{Heartbeat: time.Hour})
	ended := make(chan error, 8)
	srv := server(t, h, ended, nil)
	var streams []<-chan msg
	for range 2 {
		_, msgs, _ := open(t, srv.URL, nil)
		expect(t, msgs, msg{Retry: "2000"})
		expect(t, msgs, msg{ID: id(h, 0)})
		streams = append(streams, msgs)
	}
	h.Close()
	for _, msgs := range streams {
		expectEnd(t, msgs)
		waitEnded(t, ended)
	}
}

// stalledWriter is a client that stops reading: each write waits until the test takes it.
type stalledWriter struct {
	header http.Header
	writes chan []byte
}

func (w *stalledWriter) Header() http.Header { return w.header }
func (w *stalledWriter) WriteHeader(int)     {}
func (w *stalledWriter) Flush()              {}
func (w *stalledWriter) Write(b []byte) (int, error) {
	w.writes <- bytes.Clone(b)
	return len(b), nil
}

// syncBuffer is a log that Serve writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServeCutsOffSlowClient(t *testing.T) {
	var log syncBuffer
	h := mustHub(t, HubConfig{SubscriberBuffer: 2, Heartbeat: time.Hour,
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	w := &stalledWriter{header: http.Header{}, writes: make(chan []byte)}
	ended := make(chan error, 1)
	go func() { ended <- h.Serve(w, httptest.NewRequest(http.MethodGet, "/", nil)) }()
	if got := string(<-w.writes); got != "retry: 2000\n\nid: "+id(h, 0)+"\n\n" {
		t.Fatalf("start %q", got)
	}
	// The stream takes one event, maybe another to fill its write, and stalls writing them; two
	// wait; the rest overflow.
	big := strings.Repeat("x", burstBytes*2/3)
	for range 6 {
		mustPublish(t, h, KindVehicle, big)
	}
	if st := h.Stats(); st.CutOff != 1 || st.Subscribers != 0 {
		t.Errorf("stats %+v", st)
	}
	for {
		select {
		case <-w.writes:
			continue
		case err := <-ended:
			if err != nil {
				t.Fatal(err)
			}
		}
		break
	}
	if !strings.Contains(log.String(), "why=slow") {
		t.Errorf("log:\n%s", log.String())
	}
}

// TestServeResumeWhilePublishing: over the wire, a client that comes back while others publish
// gets every event after its id once, in order, replayed and live alike.
func TestServeResumeWhilePublishing(t *testing.T) {
	const publishers, each = 4, 500
	h := mustHub(t, HubConfig{Heartbeat: time.Hour, SubscriberBuffer: publishers * each})
	srv := server(t, h, nil, nil)
	for i := range 100 {
		mustPublish(t, h, KindVehicle, i)
	}
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				if err := h.Publish(KindVehicle, p*each+i); err != nil {
					t.Error(err)
				}
			}
		})
	}
	_, msgs, _ := open(t, srv.URL, http.Header{"Last-Event-Id": {id(h, 60)}})
	expect(t, msgs, msg{Retry: "2000"})
	for seq := uint64(61); seq <= 100+publishers*each; seq++ {
		m := next(t, msgs)
		if m.ID == id(h, seq-1) && m.Event == "" { // a resume point after the replay: no event
			m = next(t, msgs)
		}
		if m.ID != id(h, seq) || m.Event != "vehicle" {
			t.Fatalf("got %+v, want event %d", m, seq)
		}
	}
	wg.Wait()
}
