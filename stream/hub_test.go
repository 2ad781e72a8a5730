package stream

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

func mustHub(tb testing.TB, cfg HubConfig) *Hub {
	tb.Helper()
	h := NewHub(cfg)
	tb.Cleanup(h.Close)
	return h
}

func mustPublish(tb testing.TB, h *Hub, kind string, data any) {
	tb.Helper()
	mustPublishIn(tb, h, kind, "", data)
}

func mustPublishIn(tb testing.TB, h *Hub, kind, district string, data any) {
	tb.Helper()
	if err := h.PublishIn(kind, district, data); err != nil {
		tb.Fatalf("publish %s in %q: %v", kind, district, err)
	}
}

func mustSubscribe(tb testing.TB, h *Hub, lastID string, f filter) subscription {
	tb.Helper()
	s, err := h.subscribe(lastID, f)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// queued takes what waits in a subscriber's queue, without waiting for more.
func queued(s *subscriber) []*event {
	var out []*event
	for {
		select {
		case ev := <-s.ch:
			out = append(out, ev)
		default:
			return out
		}
	}
}

func seqs(evs []*event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.seq
	}
	return out
}

func id(h *Hub, seq uint64) string { return string(appendID(nil, h.epoch, seq)) }

func TestPublishFansOutInOrder(t *testing.T) {
	h := mustHub(t, HubConfig{})
	a := mustSubscribe(t, h, "", filter{})
	b := mustSubscribe(t, h, "", filter{})
	for i := range 3 {
		mustPublish(t, h, KindVehicle, map[string]int{"id": i})
	}
	for _, s := range []subscription{a, b} {
		got := queued(s.subscriber)
		if fmt.Sprint(seqs(got)) != "[1 2 3]" {
			t.Fatalf("seqs %v", seqs(got))
		}
		if got, want := string(got[2].body), "event: vehicle\ndata: {\"id\":2}\n\n"; got != want {
			t.Errorf("body %q, want %q", got, want)
		}
	}
	if st := h.Stats(); st.Subscribers != 2 || st.Published != 3 || st.LastEventID != id(h, 3) || st.LastEventID != h.LastID() {
		t.Errorf("stats %+v", st)
	}
}

func TestPublishRefuses(t *testing.T) {
	h := mustHub(t, HubConfig{})
	for _, kind := range []string{"", "reset", "weather", "Vehicle", "vehicle\ndata: x", "vehicle moved", "_vehicle"} {
		if err := h.Publish(kind, 1); liftrescue.ErrorCode(err) != liftrescue.EINVALID {
			t.Errorf("kind %q: %v, want EINVALID", kind, err)
		}
	}
	for _, data := range []any{math.NaN(), make(chan int), func() {}} {
		if err := h.Publish(KindVehicle, data); err == nil {
			t.Errorf("data %T published", data)
		}
	}
	// Data that marshals to several lines (json.RawMessage, a Marshaler) must still be one line.
	mustPublish(t, h, "incident_opened", json.RawMessage("{\n  \"id\": 1\n}"))
	if got := string(h.ring[1].body); strings.Count(got, "\n") != 3 {
		t.Errorf("body %q is not one data line", got)
	}
	if st := h.Stats(); st.Published != 1 {
		t.Errorf("published %d, want only the good one", st.Published)
	}
	h.Close()
	if err := h.Publish(KindVehicle, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if _, err := h.subscribe("", filter{}); !errors.Is(err, ErrClosed) {
		t.Errorf("subscribe after Close: %v", err)
	}
}

func TestResume(t *testing.T) {
	h := mustHub(t, HubConfig{Buffer: 4})
	other := mustHub(t, HubConfig{})
	for i := range 10 {
		mustPublish(t, h, KindVehicle, i)
	}
	for _, tc := range []struct {
		lastID string
		reset  string
		replay string
	}{
		{"", "", "[]"},
		{id(h, 10), "", "[]"},
		{id(h, 9), "", "[10]"},
		{id(h, 6), "", "[7 8 9 10]"}, // the oldest kept is 7
		{id(h, 5), ResetTooOld, "[]"},
		{id(h, 0), ResetTooOld, "[]"},
		{id(h, 11), ResetAhead, "[]"},
		{id(other, 6), ResetRestarted, "[]"},
		{"6", ResetMalformed, "[]"},
		{h.epoch + "-06", ResetMalformed, "[]"},
		{h.epoch + "-+6", ResetMalformed, "[]"},
		{strings.ToUpper(h.epoch) + "-6", ResetMalformed, "[]"},
		{"-6", ResetMalformed, "[]"},
		{h.epoch + "-", ResetMalformed, "[]"},
		{h.epoch + "-18446744073709551616", ResetMalformed, "[]"},
	} {
		s := mustSubscribe(t, h, tc.lastID, filter{})
		if s.reset != tc.reset || fmt.Sprint(seqs(s.replay)) != tc.replay || s.at != 10 {
			t.Errorf("%q: reset %q replay %v at %d, want %q %s 10", tc.lastID, s.reset, seqs(s.replay), s.at, tc.reset, tc.replay)
		}
		h.unsubscribe(s.subscriber)
	}
	if st := h.Stats(); st.Resets != 11 || st.Subscribers != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestResumeWhilePublishing subscribes with a Last-Event-ID while others publish: every
// subscriber gets each event after its id once, in order.
func TestResumeWhilePublishing(t *testing.T) {
	const publishers, each, subscribers = 4, 500, 20
	const total = 100 + publishers*each
	h := mustHub(t, HubConfig{Buffer: total, SubscriberBuffer: total})
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
	subs := make([]subscription, subscribers)
	from := make([]uint64, subscribers)
	for i := range subs {
		from[i] = uint64(50 + i)
		subs[i] = mustSubscribe(t, h, id(h, from[i]), filter{})
	}
	wg.Wait()
	for i, s := range subs {
		got := append(s.replay, queued(s.subscriber)...)
		if len(got) != total-int(from[i]) {
			t.Fatalf("subscriber %d: %d events, want %d", i, len(got), total-int(from[i]))
		}
		for k, ev := range got {
			if ev.seq != from[i]+1+uint64(k) {
				t.Fatalf("subscriber %d: event %d has seq %d, want %d", i, k, ev.seq, from[i]+1+uint64(k))
			}
		}
	}
}

func TestSlowSubscriberIsCutOff(t *testing.T) {
	h := mustHub(t, HubConfig{SubscriberBuffer: 2})
	slow := mustSubscribe(t, h, "", filter{})
	picky := mustSubscribe(t, h, "", filter{types: []string{"incident"}}) // wants none of them: never full
	for i := range 5 {
		mustPublish(t, h, KindVehicle, i) // would hang here if Publish waited
	}
	select {
	case <-slow.done:
	default:
		t.Fatal("slow subscriber still subscribed")
	}
	if slow.why != "slow" {
		t.Errorf("why %q", slow.why)
	}
	if got := fmt.Sprint(seqs(queued(slow.subscriber))); got != "[1 2]" {
		t.Errorf("slow got %s before the cut", got)
	}
	if seen, idle := h.cursor(picky.subscriber); seen != 5 || !idle {
		t.Errorf("picky cursor %d %v, want 5 true", seen, idle)
	}
	if st := h.Stats(); st.CutOff != 1 || st.Subscribers != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestTypesFilter(t *testing.T) {
	h := mustHub(t, HubConfig{})
	mustPublish(t, h, KindVehicle, 1)
	mustPublish(t, h, "incident_opened", 2)
	s := mustSubscribe(t, h, id(h, 0), filter{types: []string{"incident"}})
	mustPublish(t, h, KindVehicleRemoved, 3)
	mustPublish(t, h, "incident", 4)
	if got := fmt.Sprint(seqs(s.replay), seqs(queued(s.subscriber))); got != "[2] [4]" {
		t.Errorf("got %s", got)
	}
	v := mustSubscribe(t, h, id(h, 0), filter{types: []string{"vehicle"}})
	if got := fmt.Sprint(seqs(v.replay)); got != "[1 3]" {
		t.Errorf("vehicle replay %s", got)
	}
}

// TestDistrictFilter: a subscriber held to a district gets the city's events and its district's,
// replayed and live, and its cursor moves past the other districts' as past filtered-out types.
func TestDistrictFilter(t *testing.T) {
	// The data of each event is its seq.
	h := mustHub(t, HubConfig{})
	mustPublishIn(t, h, KindVehicle, "", 1)
	mustPublishIn(t, h, KindIncident, "370402", 2)
	mustPublishIn(t, h, KindIncident, "370403", 3)
	city := mustSubscribe(t, h, id(h, 0), filter{})
	scoped := mustSubscribe(t, h, id(h, 0), filter{district: "370402"})
	incidents := mustSubscribe(t, h, id(h, 0), filter{types: []string{"incident"}, district: "370402"})
	mustPublishIn(t, h, KindIncident, "", 4)
	mustPublishIn(t, h, KindIncident, "370403", 5)
	mustPublishIn(t, h, KindVehicle, "370402", 6)
	mustPublishIn(t, h, KindIncident, "370403", 7)
	for _, tc := range []struct {
		name string
		s    subscription
		want string
	}{
		{"city", city, "[1 2 3] [4 5 6 7]"},
		{"370402", scoped, "[1 2] [4 6]"},
		{"370402 incidents", incidents, "[2] [4]"},
	} {
		if got := fmt.Sprint(seqs(tc.s.replay), seqs(queued(tc.s.subscriber))); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
		if seen, idle := h.cursor(tc.s.subscriber); seen != 7 || !idle {
			t.Errorf("%s: cursor %d %v, want 7 true", tc.name, seen, idle)
		}
	}
}

func TestMaxClients(t *testing.T) {
	h := mustHub(t, HubConfig{MaxClients: 2})
	a := mustSubscribe(t, h, "", filter{})
	mustSubscribe(t, h, "", filter{})
	if _, err := h.subscribe("", filter{district: "370402"}); !errors.Is(err, ErrTooManyStreams) ||
		liftrescue.ErrorCode(err) != liftrescue.EUNAVAILABLE {
		t.Fatalf("third subscriber: %v, want ErrTooManyStreams", err)
	}
	h.unsubscribe(a.subscriber)
	mustSubscribe(t, h, "", filter{}) // a place is free again
	if st := h.Stats(); st.Refused != 1 || st.Subscribers != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestParseTypes(t *testing.T) {
	for _, tc := range []struct {
		params []string
		want   string
	}{
		{nil, "[]"},
		{[]string{""}, "[]"},
		{[]string{"vehicle,incident"}, "[vehicle incident]"},
		{[]string{" vehicle , ", "vehicle", "incident"}, "[vehicle incident]"},
		{[]string{"vehicle,weather"}, "invalid"},
		{[]string{"vehicle_removed"}, "invalid"}, // a kind, not a type
		{[]string{"reset"}, "invalid"},
	} {
		got, err := parseTypes(tc.params)
		s := fmt.Sprint(got)
		if err != nil {
			s = liftrescue.ErrorCode(err)
		}
		if s != tc.want {
			t.Errorf("%q: %s, want %s", tc.params, s, tc.want)
		}
	}
	_, err := parseTypes([]string{strings.Repeat("x", 1000)})
	if msg := liftrescue.ErrorMessage(err); len(msg) > 200 {
		t.Errorf("message of %d bytes echoes the whole input", len(msg))
	}
}

func TestCloseDropsEverySubscriber(t *testing.T) {
	h := mustHub(t, HubConfig{})
	subs := []subscription{mustSubscribe(t, h, "", filter{}), mustSubscribe(t, h, "", filter{})}
	h.Close()
	h.Close()
	for _, s := range subs {
		<-s.done
		if s.why != "closed" {
			t.Errorf("why %q", s.why)
		}
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"k3j9x2a1-42", "a-0", "a-01", "-1", "a-", "A-1", "a-b-1", "a--1", "a-18446744073709551615",
		"a-18446744073709551616", "a-+1", "é-1", strings.Repeat("z", 38) + "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		epoch, seq, ok := parseID(s)
		if !ok {
			return
		}
		// Only the canonical form is read, so an id names one event.
		if back := string(appendID(nil, epoch, seq)); back != s {
			t.Fatalf("%q read as %q %d, which is written %q", s, epoch, seq, back)
		}
		if epoch == "" || len(s) > maxIDLen {
			t.Fatalf("%q accepted", s)
		}
	})
}

// now is a fake clock for the tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}
