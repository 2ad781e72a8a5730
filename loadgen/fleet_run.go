package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/liftrescue/liftrescue/iot"
)

// gatherEvery is how long a fleet's client gathers the reports that fall due before it sends
// them, once it is caught up: a client publishes at most this often, and a report goes out at most
// this late. HTTP clients gather for gatherPerConn times their number, so that together they post
// at most about 160 requests a second, within the server's default limit per API key (200), as a
// platform's gateway does, whatever their number.
const (
	gatherEvery   = 10 * time.Millisecond
	gatherPerConn = 6 * time.Millisecond
)

// streamGrace bounds the wait, after an MQTT run, for the incidents of the trapped terminals'
// alarms to show on the live stream.
const streamGrace = 10 * time.Second

// RunFleet plays a fleet of elevator IoT terminals (see Terminal) against the server for
// cfg.Duration, over cfg.Protocol (Alarms or MQTT), and reports what it did.
//
// In order: it finds the first cfg.Devices elevators of cfg.District through the REST API (and
// with cfg.Provision registers a terminal on each, see ProvisionTerminals); it reads the newest
// incident and the open ones, and deals the roles among the elevators without one; over MQTT it
// opens the live stream, to see the incidents open, and connects cfg.Conns publishers to
// cfg.MQTTBroker. Then each client sends its terminals' reports as they fall due, until the
// duration is up: batches of up to cfg.Batch reports POSTed to /api/v1/alarms (with
// cfg.IngestKey, or else cfg.APIKey), or one message per report, QoS 1. With cfg.Verify it then
// checks through the REST API that the service opened exactly one incident per trapped elevator
// and none on the others (see FleetVerify). Last it reads the server's terminal summary, if it
// has one.
//
// The error is nil with a report of a run that went through. A run that could not start returns
// an error, and a partial report when it got that far. A run that went through returns its report
// and ErrIncidents when the verification failed, ErrNoReportAccepted when nothing was accepted.
// Cancelling ctx ends the run early, with the report of what was done.
func RunFleet(ctx context.Context, cfg Config) (*FleetReport, error) {
	cfg = cfg.withDefaults()
	if !cfg.Protocol.Fleet() {
		return nil, fmt.Errorf("protocol %q plays trackers: use Run", cfg.Protocol)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rep := &FleetReport{Protocol: cfg.Protocol, District: cfg.District, NamedBy: "terminal_id", Terminals: cfg.Devices,
		Heartbeat: cfg.Heartbeat.Seconds(), Repeat: cfg.Repeat.Seconds(), Connections: cfg.Conns, Duration: cfg.Duration.Seconds()}
	if cfg.ByEquipmentCode {
		rep.NamedBy = "equipment_code"
	}
	if cfg.Protocol == Alarms {
		rep.Batch = cfg.Batch
	}
	api := newAPIClient(cfg.URL, max(2, cfg.ProvisionConcurrency), cfg.APIKey)
	defer api.close()

	els, err := api.fleetElevators(ctx, cfg.District, cfg.Devices, cfg.ByEquipmentCode)
	if err != nil {
		return nil, fmt.Errorf("find the fleet's elevators: %w", err)
	}
	if cfg.Provision {
		pr, err := api.provisionTerminals(ctx, cfg.District, els, cfg.ProvisionConcurrency)
		rep.Provision = pr
		if err != nil {
			return rep, fmt.Errorf("provision the terminals: %w", err)
		}
	}
	since, busy, err := api.incidentsBefore(ctx)
	if err != nil {
		return rep, fmt.Errorf("read the incidents before the run: %w", err)
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	ts := newFleet(els, busy, &cfg, seed)
	for i := range ts {
		switch {
		case ts[i].Role == RoleTrapped:
			rep.Trapped++
		case ts[i].Role == RoleFaulty:
			rep.Faulty++
		}
		if ts[i].Busy {
			rep.Busy++
		}
	}
	rep.Offered = float64(scheduled(ts, cfg.Heartbeat, cfg.Repeat, cfg.Duration)) / cfg.Duration.Seconds()

	e := &runEnv{cfg: &cfg, seed: seed}
	n := cfg.Conns
	ws := newStats(n)
	workers := make([]*fleetWorker, n)
	for i := range workers {
		var mine []*Terminal
		for k := i; k < len(ts); k += n {
			mine = append(mine, &ts[k])
		}
		workers[i] = newFleetWorker(e, ws[i], mine, cfg, e.rng(i))
	}

	var watch *incidentWatch
	switch cfg.Protocol {
	case Alarms:
		c := newHTTPClient(n, 64<<10)
		defer c.tr.CloseIdleConnections()
		key := cfg.IngestKey
		if key == "" {
			key = cfg.APIKey
		}
		for _, w := range workers {
			w.every = max(gatherEvery, time.Duration(n)*gatherPerConn)
		}
		e.phase(ctx, ws, func(i int) { workers[i].runHTTP(ctx, c.hc, cfg.URL+"/api/v1/alarms", key) })
	case MQTT:
		watch = newIncidentWatch(since)
		streamCtx, stopStream := context.WithCancel(ctx)
		defer stopStream()
		ready := make(chan error, 1)
		streamDone := make(chan struct{})
		go func() { defer close(streamDone); api.watchIncidents(streamCtx, watch, ready) }()
		defer func() { stopStream(); <-streamDone }()
		if err := <-ready; err != nil {
			return rep, fmt.Errorf("open the live stream to see the incidents: %w", err)
		}
		received, counted := api.mqttReceived(ctx)
		pubs, err := connectPublishers(ctx, &cfg, n)
		if err != nil {
			return rep, err
		}
		for i := range workers {
			workers[i].watch = watch
		}
		e.phase(ctx, ws, func(i int) { workers[i].runMQTT(ctx, pubs[i], cfg.MQTTPattern) })
		for _, p := range pubs {
			p.Close()
		}
		if counted {
			var acked int64
			for _, s := range ws {
				acked += s.accepted.Load()
			}
			if got, ok := api.waitReceived(ctx, received, acked, streamGrace); ok {
				rep.Subscriber = &SubscriberFigures{Received: got, Missing: max(0, acked-got)}
			}
		}
	}
	rep.Elapsed = e.elapsed(ctx, ws).Seconds()
	reached := rep.collect(ws, workers)
	if watch != nil {
		var want []int64
		for el, r := range reached {
			if r {
				want = append(want, el)
			}
		}
		watch.waitFor(ctx, want, streamGrace)
		rep.fromStream(watch)
	}
	rep.judge(ts, reached, workers, watch)

	if cfg.Verify {
		rep.Verify = verifyFleet(ctx, api, ts, reached, since, cfg.VerifyTimeout)
	}
	if s, err := api.terminalSummary(ctx); err == nil {
		rep.TerminalStatus = s
	} else {
		rep.TerminalStatusNote = err.Error()
	}
	switch {
	case rep.Accepted == 0:
		return rep, ErrNoReportAccepted
	case rep.Verify != nil && !rep.Verify.OK:
		return rep, ErrIncidents
	}
	return rep, nil
}

// connectTimeout bounds the connection of the publishers to the broker. A variable for the tests.
var connectTimeout = requestTimeout

// connectPublishers connects n publishers at once, within connectTimeout.
func connectPublishers(ctx context.Context, cfg *Config, n int) ([]*iot.Publisher, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	pubs := make([]*iot.Publisher, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	// Client ids must differ from those of any other run on the broker, which would take over.
	run := strconv.FormatUint(rand.Uint64()%(1<<40), 36)
	for i := range pubs {
		pubs[i] = &iot.Publisher{Broker: cfg.MQTTBroker, Username: cfg.MQTTUsername, Password: cfg.MQTTPassword,
			ClientID: "loadgen-" + run + "-" + strconv.Itoa(i), RetryInterval: 500 * time.Millisecond}
		wg.Go(func() { errs[i] = pubs[i].Connect(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, p := range pubs {
			p.Close()
		}
		return nil, fmt.Errorf("connect to the MQTT broker: %w", err)
	}
	return pubs, nil
}

// fleetWorker is one client of a fleet: it sends its terminals' reports in order.
type fleetWorker struct {
	env   *runEnv
	st    *workerStats
	tt    *timetable
	rng   *rand.Rand
	enc   reportEncoder
	batch int
	every time.Duration  // the least time between two sends once caught up
	watch *incidentWatch // mqtt

	events []fleetEvent
	body   []byte
	resp   bytes.Buffer

	// Read once the worker is done.
	sentBy        counter
	outcomes      counter
	firstOutcomes counter
	lag           histogram
	opening       histogram      // alarms: round trips of the requests that opened an incident
	opened        map[int64]int  // alarms: "opened" answers by elevator
	reached       map[int64]bool // trapped terminals' elevators with an alarm answered or acknowledged
}

func newFleetWorker(e *runEnv, st *workerStats, ts []*Terminal, cfg Config, rng *rand.Rand) *fleetWorker {
	return &fleetWorker{env: e, st: st, rng: rng, tt: newTimetable(ts, cfg.Heartbeat, cfg.Repeat, cfg.Duration),
		enc: reportEncoder{byCode: cfg.ByEquipmentCode}, batch: cfg.Batch, every: gatherEvery,
		sentBy: counter{}, outcomes: counter{}, firstOutcomes: counter{}, opened: map[int64]int{}, reached: map[int64]bool{}}
}

// gather waits until reports are due and takes them, at most max; false when the run is over.
// A client that is caught up waits w.every after its last send, so that it sends at most that
// often; one that is behind sends again at once.
func (w *fleetWorker) gather(lastSend time.Time, most int) bool {
	e := w.env
	at, ok := w.tt.peek()
	if !ok {
		return false
	}
	wake := e.start.Add(at)
	if gap := lastSend.Add(w.every); gap.After(wake) {
		wake = gap
	}
	if d := time.Until(wake); d > 0 && !sleep(d, e.stop) {
		return false
	}
	select {
	case <-e.stop:
		return false
	default:
	}
	now := time.Now()
	w.events = w.events[:0]
	for len(w.events) < most {
		at, ok := w.tt.peek()
		if !ok || e.start.Add(at).After(now) {
			break
		}
		w.events = append(w.events, w.tt.pop())
	}
	return len(w.events) > 0
}

// sent counts the gathered reports as sent at t.
func (w *fleetWorker) sent(t time.Time) {
	for i := range w.events {
		ev := &w.events[i]
		w.sentBy.add(ev.Label(), 1)
		w.lag.record(t.Sub(w.env.start.Add(ev.At)))
	}
}

// runHTTP posts the reports in batches until the run is over.
func (w *fleetWorker) runHTTP(ctx context.Context, hc *http.Client, url, key string) {
	e, st := w.env, w.st
	var lastSend time.Time
	for w.gather(lastSend, w.batch) {
		n := int64(len(w.events))
		w.body = append(w.body[:0], `{"alarms":[`...)
		for i := range w.events {
			if i > 0 {
				w.body = append(w.body, ',')
			}
			w.body = w.enc.append(w.body, &w.events[i], e.start.Add(w.events[i].At), w.rng)
		}
		w.body = append(w.body, "]}"...)
		req, err := newJSONPost(ctx, url, key, w.body)
		if err != nil {
			st.fail(err, 0)
			return
		}
		st.sent.Add(n)
		st.requests.Add(1)
		sent := time.Now()
		lastSend = sent
		resp, err := doAndRead(hc, req, &w.resp)
		if err != nil {
			if isDialError(err) {
				st.notSent(err, n)
			} else {
				w.sent(sent)
				st.fail(err, n)
			}
			if ctx.Err() != nil {
				return
			}
			sleep(errorBackoff, e.stop)
			continue
		}
		now := time.Now()
		w.sent(sent)
		st.answered(sent, now)
		w.answer(resp.StatusCode, w.resp.Bytes(), now.Sub(sent))
	}
}

// alarmsAnswer is what the server answers to a batch.
type alarmsAnswer struct {
	Accepted int64 `json:"accepted"`
	Results  []struct {
		Index      int    `json:"index"`
		Outcome    string `json:"outcome"`
		ElevatorID int64  `json:"elevator_id"`
		IncidentID int64  `json:"incident_id"`
	} `json:"results"`
	Rejected []struct {
		Index  *int   `json:"index"`
		Field  string `json:"field"`
		Reason string `json:"reason"`
	} `json:"rejected"`
}

// answer counts what the server said of the gathered reports, answered after rtt.
func (w *fleetWorker) answer(status int, body []byte, rtt time.Duration) {
	st := w.st
	n := int64(len(w.events))
	if status/100 != 2 {
		st.reject(statusKey(status, body), n)
		return
	}
	var a alarmsAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		st.fail(kindError("unreadable answer"), n)
		return
	}
	done := make([]bool, n)
	var acc, rej int64
	for _, r := range a.Results {
		if r.Index < 0 || r.Index >= int(n) || done[r.Index] {
			continue
		}
		done[r.Index] = true
		acc++
		w.outcomes.add(r.Outcome, 1)
		ev := &w.events[r.Index]
		el := ev.Term.ElevatorID
		if r.Outcome == "opened" {
			w.opened[el]++
		}
		if ev.Term.Role == RoleTrapped && ev.Kind == evAlarm {
			w.reached[el] = true
			if ev.First() {
				w.firstOutcomes.add(r.Outcome, 1)
				if r.Outcome == "opened" {
					w.opening.record(rtt)
				}
			}
		}
	}
	for _, r := range a.Rejected {
		if r.Index == nil || *r.Index < 0 || *r.Index >= int(n) || done[*r.Index] {
			continue
		}
		done[*r.Index] = true
		rej++
		st.reject(reasonKey(r.Field, r.Reason), 1)
	}
	st.accepted.Add(acc)
	if rest := n - acc - rej; rest > 0 {
		st.reject("neither accepted nor rejected in the answer", rest)
	}
}

// mqttWindow bounds the messages a publisher has in flight, awaiting the broker's acknowledgement.
const mqttWindow = 1024

// inFlight is a message awaiting its acknowledgement.
type inFlight struct {
	pb      *iot.Publication
	at      time.Time
	trapped int64 // the elevator of a trapped terminal's alarm, else 0
}

// runMQTT publishes one message per report until the run is over. The acknowledgements are awaited
// in order by a goroutine of their own, so that a slow one does not hold the timetable back, with
// up to mqttWindow messages in flight.
func (w *fleetWorker) runMQTT(ctx context.Context, pub *iot.Publisher, pattern string) {
	e, st := w.env, w.st
	flight := make(chan inFlight, mqttWindow)
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		w.await(ctx, flight)
	}()
	defer func() { close(flight); <-acked }()
	var lastSend time.Time
	for w.gather(lastSend, w.batch) {
		lastSend = time.Now()
		st.sent.Add(int64(len(w.events)))
		st.requests.Add(int64(len(w.events)))
		w.sent(lastSend)
		for i := range w.events {
			ev := &w.events[i]
			payload := w.enc.append(make([]byte, 0, 256), ev, e.start.Add(ev.At), w.rng)
			f := inFlight{at: time.Now()}
			if ev.Term.Role == RoleTrapped && ev.Kind == evAlarm {
				f.trapped = ev.Term.ElevatorID
				if ev.First() {
					w.watch.publishing(ev.Term.ElevatorID, f.at)
				}
			}
			f.pb = pub.Publish(topicOf(pattern, ev.Term.ID), payload)
			select {
			case flight <- f:
			case <-ctx.Done():
				st.fail(ctx.Err(), 1)
				return
			}
		}
	}
}

// await waits for the acknowledgements of the messages in flight, in order, each for at most
// requestTimeout, and counts them; it owns st's latency and w.reached meanwhile.
func (w *fleetWorker) await(ctx context.Context, flight <-chan inFlight) {
	st := w.st
	for f := range flight {
		wctx, cancel := context.WithTimeout(ctx, requestTimeout)
		err := f.pb.Wait(wctx)
		cancel()
		if err != nil {
			st.fail(err, 1)
			continue
		}
		st.answered(f.at, time.Now())
		st.accepted.Add(1)
		if f.trapped != 0 {
			w.reached[f.trapped] = true
		}
	}
}

// collect adds the workers' counts to the report and returns the reached trapped elevators.
func (r *FleetReport) collect(ws []*workerStats, workers []*fleetWorker) map[int64]bool {
	var lat, lag, opening histogram
	r.RejectedBy, r.ErrorsBy, r.SentBy = map[string]int64{}, map[string]int64{}, map[string]int64{}
	if r.Protocol == Alarms {
		r.Outcomes, r.Incidents.FirstOutcomes = map[string]int64{}, map[string]int64{}
	}
	reached := map[int64]bool{}
	for i, s := range ws {
		r.Sent += s.sent.Load()
		r.Accepted += s.accepted.Load()
		r.Rejected += s.rejected.Load()
		r.Unanswered += s.unanswered.Load()
		r.Requests += s.requests.Load()
		r.Errors += s.errors.Load()
		s.rejectedBy.merge(r.RejectedBy)
		s.errorsBy.merge(r.ErrorsBy)
		lat.merge(&s.latency)
		w := workers[i]
		w.sentBy.merge(r.SentBy)
		if r.Protocol == Alarms {
			w.outcomes.merge(r.Outcomes)
			w.firstOutcomes.merge(r.Incidents.FirstOutcomes)
		}
		lag.merge(&w.lag)
		opening.merge(&w.opening)
		for el := range w.reached {
			reached[el] = true
		}
	}
	r.Latency, r.Lag = lat.summary(), lag.summary()
	if r.Protocol == Alarms {
		r.Incidents.Latency = opening.summary()
	}
	if r.Elapsed > 0 {
		r.ReportsPerSec = float64(r.Sent) / r.Elapsed
		r.AcceptedPerSec = float64(r.Accepted) / r.Elapsed
		r.RequestsPerSec = float64(r.Requests) / r.Elapsed
	}
	r.Incidents.Reached = len(reached)
	return reached
}

// fromStream takes the incident latency and the stream's counts from an MQTT run's watch.
func (r *FleetReport) fromStream(w *incidentWatch) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r.Incidents.Latency = w.latency.summary()
	r.Stream = &StreamReport{Events: w.events, Reconnects: w.reconnects}
}

// judge compares the incidents seen opening during the run with the roles.
func (r *FleetReport) judge(ts []Terminal, reached map[int64]bool, workers []*fleetWorker, watch *incidentWatch) {
	var opened map[int64]int
	if watch != nil {
		opened = watch.openedCounts()
	} else {
		opened = map[int64]int{}
		for _, w := range workers {
			for el, n := range w.opened {
				opened[el] += n
			}
		}
	}
	fleet := make(map[int64]bool, len(ts))
	for i := range ts {
		fleet[ts[i].ElevatorID] = true
	}
	for el, n := range opened {
		if fleet[el] && n > 0 {
			r.Incidents.Opened++
		}
	}
	m, d, u := judgeIncidents(ts, reached, opened)
	r.Incidents.NotOpened, r.Incidents.NotOpenedCount = listed(m)
	r.Incidents.OpenedTwice, r.Incidents.OpenedTwiceCount = listed(d)
	r.Incidents.Unexpected, r.Incidents.UnexpectedCount = listed(u)
}
