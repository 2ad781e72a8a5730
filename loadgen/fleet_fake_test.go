package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/iot"
)

// alarmFake is a server that keeps the contract a fleet is written against: the elevators' list,
// the terminals' registration and summary, POST /api/v1/alarms, the incidents' list and the live
// stream's incident events. It reads batches with iot's real decoder (and MQTT messages with its
// real Subscriber), and acts on each report as dispatch.Engine.RaiseAlarm does: a priority-1 alarm
// opens an incident on an elevator without one; any report on an elevator with an open incident
// is counted within the window after the last one written, and written (attached) otherwise;
// other reports are recorded; reports of unknown elevators or terminals are quarantined. So a
// fleet that sends the wrong codes, namespaces or elevators gets the wrong incidents here, as it
// would from the service.
type alarmFake struct {
	t testing.TB
	// window is the repeat window (dispatch.DefaultAlarmWindow unless a test shortens it).
	window time.Duration
	// noCollapse opens an incident for every priority-1 report, as a service that does not
	// collapse repeats would: the run's checks must catch it.
	noCollapse bool
	// key, when set, is the only Authorization the API accepts.
	key string

	mu         sync.Mutex
	elevators  []liftrescue.Elevator // ids 1…
	terminals  map[string]int64      // terminal id → elevator id
	lastSeen   map[string]time.Time
	incidents  []*fakeIncident // by id-1
	openOn     map[int64]*fakeIncident
	windows    map[int64]*fakeWindow
	received   int64
	outcomes   map[string]int64
	kinds      map[liftrescue.AlarmKind]int64
	byCode     int64 // reports naming the elevator by equipment code
	bySender   map[string]int64
	puts       map[int]int64 // PUT /api/v1/terminals answers by status
	batches    int64
	subs       map[chan []byte]bool
	eventSeq   int64
	unauthed   int64
	streamOpen int64
	// mqttReceived counts the messages the subscriber took; mqttDrop is how many to drop first,
	// as a broker does for a subscriber that falls behind.
	mqttReceived, mqttDrop int64

	api *httptest.Server
}

type fakeIncident struct {
	ID         int64                     `json:"id"`
	ElevatorID int64                     `json:"elevator_id"`
	Source     liftrescue.IncidentSource `json:"source"`
	State      string                    `json:"state"`
	Alarms     int                       `json:"alarms"`
}

type fakeWindow struct {
	incident int64
	written  time.Time
	pending  int
}

// newAlarmFake serves n elevators, in districts 370402 (odd ids) and 370403 (even ids).
func newAlarmFake(t testing.TB, n int) *alarmFake {
	f := &alarmFake{t: t, window: time.Minute, terminals: map[string]int64{}, lastSeen: map[string]time.Time{},
		openOn: map[int64]*fakeIncident{}, windows: map[int64]*fakeWindow{}, outcomes: map[string]int64{},
		kinds: map[liftrescue.AlarmKind]int64{}, bySender: map[string]int64{}, puts: map[int]int64{}, subs: map[chan []byte]bool{}}
	for i := 1; i <= n; i++ {
		district := "370402"
		if i%2 == 0 {
			district = "370403"
		}
		f.elevators = append(f.elevators, liftrescue.Elevator{ID: int64(i), RescueCode: fmt.Sprintf("%05d", i),
			EquipmentCode: fmt.Sprintf("3101370402%010d", i), District: district, Floors: 6 + i%20})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/elevators", f.listElevators)
	mux.HandleFunc("PUT /api/v1/terminals/{id}", f.putTerminal)
	mux.HandleFunc("GET /api/v1/terminals/summary", f.summary)
	mux.HandleFunc("POST /api/v1/alarms", f.postAlarms)
	mux.HandleFunc("GET /api/v1/incidents", f.listIncidents)
	mux.HandleFunc("GET /api/v1/stream", f.stream)
	mux.HandleFunc("GET /api/v1/ingest", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		writeJSON(w, 200, map[string]any{"accepted": 0, "flushed": 0, "backlog": 0,
			"servers": map[string]any{"mqtt": map[string]any{"received": f.mqttReceived, "connected": true}}})
	})
	f.api = httptest.NewServer(f.auth(mux))
	t.Cleanup(f.api.Close)
	return f
}

func (f *alarmFake) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.key != "" && r.Header.Get("Authorization") != "Bearer "+f.key {
			f.mu.Lock()
			f.unauthed++
			f.mu.Unlock()
			writeError(w, 401, "unauthorized", "no or a wrong API key")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// config returns a fleet's configuration against the fake: 40 terminals, a heartbeat every
// 100 ms, a repeat every 50 ms, for 1.2 s.
func (f *alarmFake) config(p Protocol) Config {
	return Config{Protocol: p, URL: f.api.URL, Devices: 40, Duration: 1200 * time.Millisecond, Seed: 7,
		Heartbeat: 100 * time.Millisecond, Repeat: 50 * time.Millisecond, TrappedShare: 0.25, FaultyShare: 0.25,
		VerifyTimeout: 5 * time.Second}
}

// listElevators pages by 7, so that next_cursor is followed, with the district filter.
func (f *alarmFake) listElevators(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, _ := strconv.Atoi(q.Get("cursor"))
	var items []*liftrescue.Elevator
	next := ""
	for i := from; i < len(f.elevators); i++ {
		if d := q.Get("district"); d != "" && f.elevators[i].District != d {
			continue
		}
		if len(items) == 7 {
			next = strconv.Itoa(i)
			break
		}
		items = append(items, &f.elevators[i])
	}
	writeJSON(w, 200, map[string]any{"items": items, "total": len(items), "next_cursor": next})
}

func (f *alarmFake) putTerminal(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ElevatorID    int64  `json:"elevator_id"`
		EquipmentCode string `json:"equipment_code"`
		Platform      string `json:"platform"`
		Model         string `json:"model"`
	}
	if !decodeStrict(w, r, &body) {
		return
	}
	id := r.PathValue("id")
	t := liftrescue.Terminal{ID: id, ElevatorID: body.ElevatorID, Platform: body.Platform, Model: body.Model}
	if err := t.Validate(); err != nil || body.ElevatorID > int64(len(f.elevators)) {
		writeError(w, 422, "invalid", fmt.Sprint("terminal: ", err))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	status := 201
	if _, ok := f.terminals[id]; ok {
		status = 200
	}
	f.terminals[id] = body.ElevatorID
	f.puts[status]++
	writeJSON(w, status, t)
}

func (f *alarmFake) summary(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rep := liftrescue.TerminalsReport{OfflineAfterS: 300, Districts: []liftrescue.TerminalSummary{}}
	rep.Registered = len(f.terminals)
	for id := range f.terminals {
		if seen, ok := f.lastSeen[id]; ok && time.Since(seen) < 5*time.Minute {
			rep.Online++
		} else if ok {
			rep.Offline++
		} else {
			rep.Never++
		}
	}
	if rep.Registered > 0 {
		rep.ShareOnline = float64(rep.Online) / float64(rep.Registered)
	}
	writeJSON(w, 200, rep)
}

// postAlarms answers as api.postAlarms does.
func (f *alarmFake) postAlarms(w http.ResponseWriter, r *http.Request) {
	b, err := iot.DecodeBatch(r.Body, iot.MaxBatchBody, time.Now())
	if err != nil {
		writeError(w, 400, "bad_request", err.Error())
		return
	}
	for _, d := range b.Rejected {
		f.t.Errorf("the decoder rejected report %d: %s: %s", *d.Index, d.Field, d.Reason)
	}
	rejected := map[int]bool{}
	for _, d := range b.Rejected {
		rejected[*d.Index] = true
	}
	reply := struct {
		Accepted int                      `json:"accepted"`
		Results  []liftrescue.AlarmResult `json:"results"`
		Rejected []liftrescue.Detail      `json:"rejected"`
	}{Results: []liftrescue.AlarmResult{}, Rejected: b.Rejected}
	index := 0
	f.mu.Lock()
	f.batches++
	f.mu.Unlock()
	for _, a := range b.Alarms {
		for rejected[index] {
			index++
		}
		res := f.raise(a, "platform")
		res.Index = index
		reply.Results = append(reply.Results, res)
		reply.Accepted++
		index++
	}
	writeJSON(w, 200, reply)
}

// raise is dispatch.Engine.RaiseAlarm's logic.
func (f *alarmFake) raise(a liftrescue.Alarm, sender string) liftrescue.AlarmResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.received++
	f.kinds[a.Kind]++
	f.bySender[sender]++
	res := liftrescue.AlarmResult{Kind: a.Kind, Priority: a.Priority}
	outcome := func(o liftrescue.AlarmOutcome) liftrescue.AlarmResult {
		res.Outcome = o
		f.outcomes[string(o)]++
		return res
	}
	var el int64
	if a.EquipmentCode != "" {
		f.byCode++
		for i := range f.elevators {
			if f.elevators[i].EquipmentCode == a.EquipmentCode {
				el = f.elevators[i].ID
			}
		}
	} else if id, ok := f.terminals[a.TerminalID]; ok {
		el = id
		f.lastSeen[a.TerminalID] = time.Now()
	}
	if el == 0 {
		return outcome(liftrescue.AlarmQuarantined)
	}
	res.ElevatorID = el
	w := f.windows[el]
	if w == nil {
		w = &fakeWindow{}
		f.windows[el] = w
	}
	now := time.Now()
	open := f.openOn[el]
	if a.Priority == 1 && (open == nil || f.noCollapse) {
		inc := f.open(el)
		*w = fakeWindow{incident: inc.ID, written: now}
		res.IncidentID = inc.ID
		return outcome(liftrescue.AlarmOpened)
	}
	if open == nil {
		return outcome(liftrescue.AlarmRecorded)
	}
	res.IncidentID = open.ID
	open.Alarms++
	if w.incident == open.ID && now.Sub(w.written) < f.window && !a.State.Released() {
		w.pending++
		return outcome(liftrescue.AlarmCounted)
	}
	*w = fakeWindow{incident: open.ID, written: now}
	return outcome(liftrescue.AlarmAttached)
}

// open opens an IoT incident on the elevator and publishes it on the stream. The caller holds f.mu.
func (f *alarmFake) open(el int64) *fakeIncident {
	inc := &fakeIncident{ID: int64(len(f.incidents) + 1), ElevatorID: el, Source: liftrescue.SourceIoT, State: "notified", Alarms: 1}
	f.incidents = append(f.incidents, inc)
	f.openOn[el] = inc
	f.eventSeq++
	msg := fmt.Appendf(nil, "id: e1-%d\nevent: incident\ndata: {\"id\":%d,\"state\":\"notified\",\"tier\":1,\"elevator_id\":%d}\n\n", f.eventSeq, inc.ID, el)
	for ch := range f.subs {
		select {
		case ch <- msg:
		default:
			f.t.Errorf("a stream subscriber fell behind")
		}
	}
	return inc
}

// openByHand opens an incident as a dispatcher would, before a run.
func (f *alarmFake) openByHand(el int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.open(el).Source = liftrescue.SourceCall
}

// listIncidents pages newest first by 5, with open and limit.
func (f *alarmFake) listIncidents(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	limit := 5
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l < limit {
		limit = l
	}
	from := len(f.incidents)
	if c := q.Get("cursor"); c != "" {
		from, _ = strconv.Atoi(c)
	}
	items := []*fakeIncident{}
	next := ""
	for i := from - 1; i >= 0; i-- {
		inc := f.incidents[i]
		if q.Get("open") == "true" && f.openOn[inc.ElevatorID] != inc {
			continue
		}
		if len(items) == limit {
			next = strconv.Itoa(i + 1)
			break
		}
		items = append(items, inc)
	}
	writeJSON(w, 200, map[string]any{"items": items, "total": len(items), "next_cursor": next})
}

// stream serves incident events as Server-Sent Events.
func (f *alarmFake) stream(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("types") != "incident" {
		f.t.Errorf("stream asked for types %q, want incident", r.URL.Query().Get("types"))
	}
	ch := make(chan []byte, 4096)
	f.mu.Lock()
	f.subs[ch] = true
	f.streamOpen++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	fmt.Fprintf(w, "retry: 2000\n\nid: e1-0\n\n")
	w.(http.Flusher).Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case msg := <-ch:
			w.Write(msg)
			w.(http.Flusher).Flush()
		}
	}
}

// subscribe takes the reports published on pattern at broker with iot's Subscriber, until the
// test ends.
func (f *alarmFake) subscribe(t *testing.T, broker, pattern string) {
	s := &iot.Subscriber{Broker: broker, Pattern: pattern,
		Handle: func(_ context.Context, a liftrescue.Alarm, sender string) error {
			f.mu.Lock()
			drop := f.mqttDrop > 0
			if drop {
				f.mqttDrop--
			} else {
				f.mqttReceived++
			}
			f.mu.Unlock()
			if !drop {
				f.raise(a, strings.TrimPrefix(sender, "mqtt:"))
			}
			return nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(10 * time.Second); !s.Stats().Connected; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the fake's subscriber did not connect within 10 s")
		}
	}
}

// newIncidents returns the number of incidents on each elevator, and their sources.
func (f *alarmFake) incidentsByElevator() (map[int64]int, map[liftrescue.IncidentSource]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	by, sources := map[int64]int{}, map[liftrescue.IncidentSource]int{}
	for _, inc := range f.incidents {
		by[inc.ElevatorID]++
		sources[inc.Source]++
	}
	return by, sources
}

func (f *alarmFake) count(c *int64) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *c
}

func (f *alarmFake) outcomeCounts() map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]int64{}
	for k, v := range f.outcomes {
		m[k] = v
	}
	return m
}
