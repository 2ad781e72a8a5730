package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/liftrescue/liftrescue/gps"
)

// newTransport returns a keep-alive transport for conns clients with one request in flight each:
// as many idle connections are kept as there are clients, so none is closed and reopened.
func newTransport(conns, writeBuffer int) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: requestTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          2 * conns,
		MaxIdleConnsPerHost:   2 * conns,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: requestTimeout,
		WriteBufferSize:       writeBuffer,
	}
}

// httpClient is what the HTTP workers share.
type httpClient struct {
	hc *http.Client
	tr *http.Transport
}

func newHTTPClient(conns, writeBuffer int) *httpClient {
	tr := newTransport(conns, writeBuffer)
	return &httpClient{hc: &http.Client{Transport: tr, Timeout: requestTimeout}, tr: tr}
}

// device is a device with its movement, as a worker keeps it.
type device struct {
	Device
	walker
	battery int
}

func (e *runEnv) newDevices(w, n int, rng *rand.Rand) []device {
	share := e.share(w, n)
	ds := make([]device, len(share))
	now := time.Now()
	for i, d := range share {
		ds[i] = device{Device: d, walker: newWalker(e.area, rng, now), battery: 40 + rng.IntN(60)}
	}
	return ds
}

// statusKey names an HTTP answer that refused a request, with the error code of its body if any.
func statusKey(status int, body []byte) string {
	key := "HTTP " + strconv.Itoa(status)
	var eb struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &eb) == nil && eb.Error.Code != "" && len(eb.Error.Code) < 40 {
		key += " " + eb.Error.Code
	}
	return key
}

// reasonKey names the reason the server gave for rejecting one fix. Validation reasons carry
// values ("time 2026-… is in the future"), so they are counted by field.
func reasonKey(field, reason string) string {
	switch reason {
	case gps.ReasonUnknownDevice, gps.ReasonBadSecret, gps.ReasonHistoryBacklog, gps.ReasonClosed:
		return reason
	}
	if field != "" {
		return "invalid " + field
	}
	if len(reason) > 60 {
		reason = reason[:60]
	}
	return reason
}

// ---------------------------------------------------------------------------------------------
// Native JSON batches

func (e *runEnv) runJSON(ctx context.Context) []*workerStats {
	cfg := e.cfg
	n := cfg.Conns
	perWorker := cfg.Rate / float64(n)
	batch := cfg.Batch
	if cfg.Rate > 0 {
		// About ten requests a second per client at least, rather than a burst now and then.
		batch = max(1, min(batch, int(perWorker/10)))
	}
	c := newHTTPClient(n, 64<<10)
	defer c.tr.CloseIdleConnections()
	ws := newStats(n)
	workers := make([]*jsonWorker, n)
	for i := range workers {
		rng := e.rng(i)
		workers[i] = &jsonWorker{env: e, st: ws[i], rng: rng, devs: e.newDevices(i, n, rng),
			url: cfg.URL + "/api/v1/positions", batch: batch}
	}
	e.phase(ctx, ws, func(i int) {
		workers[i].run(ctx, c.hc, newPacer(perWorker, e.start))
	})
	return ws
}

type jsonWorker struct {
	env   *runEnv
	st    *workerStats
	rng   *rand.Rand
	devs  []device
	next  int
	url   string
	batch int
	tf    timeFormatter
	body  []byte
	resp  bytes.Buffer
}

func (w *jsonWorker) run(ctx context.Context, hc *http.Client, pace *pacer) {
	e, st, n := w.env, w.st, int64(w.batch)
	for pace.take(w.batch, e.deadline, e.stop) {
		w.body = w.build(w.body[:0], w.batch, time.Now())
		req, err := newJSONPost(ctx, w.url, e.cfg.IngestKey, w.body)
		if err != nil {
			st.fail(err, 0)
			return
		}
		st.sent.Add(n)
		st.requests.Add(1)
		sent := time.Now()
		resp, err := doAndRead(hc, req, &w.resp)
		if err != nil {
			if isDialError(err) {
				st.notSent(err, n)
			} else {
				st.fail(err, n)
			}
			if ctx.Err() != nil {
				return
			}
			sleep(errorBackoff, e.stop)
			continue
		}
		st.answered(sent, time.Now())
		w.answer(resp.StatusCode, w.resp.Bytes(), n)
	}
}

// build appends a batch of n fixes taken at now, the worker's devices in turn.
func (w *jsonWorker) build(b []byte, n int, now time.Time) []byte {
	token := w.env.cfg.IngestKey == ""
	b = append(b, `{"positions":[`...)
	for k := range n {
		d := &w.devs[w.next]
		if w.next++; w.next == len(w.devs) {
			w.next = 0
		}
		// Times go forward by at least a microsecond per device, as the batch repeats devices.
		t := now
		if !t.After(d.t) {
			t = d.t.Add(time.Microsecond)
		}
		d.step(t, w.env.area, w.rng)
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"device_id":"`...)
		b = append(b, d.ID...)
		b = append(b, `","lat":`...)
		b = appendFixed(b, d.lat, 6)
		b = append(b, `,"lon":`...)
		b = appendFixed(b, d.lon, 6)
		b = append(b, `,"time":"`...)
		b = w.tf.append(b, t)
		b = append(b, `","speed_kmh":`...)
		b = appendFixed(b, d.speed, 1)
		b = append(b, `,"heading":`...)
		b = strconv.AppendInt(b, int64(math.Round(d.heading))%360, 10)
		b = append(b, `,"accuracy_m":`...)
		b = strconv.AppendInt(b, int64(3+w.rng.IntN(12)), 10)
		b = append(b, `,"altitude_m":`...)
		b = appendFixed(b, d.altitude, 1)
		if token {
			b = append(b, `,"token":"`...)
			b = append(b, d.Secret...)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// answer counts what the server said of a batch of n fixes.
func (w *jsonWorker) answer(status int, body []byte, n int64) {
	st := w.st
	if status/100 != 2 {
		st.reject(statusKey(status, body), n)
		return
	}
	var a struct {
		Accepted int64 `json:"accepted"`
		Rejected []struct {
			Field  string `json:"field"`
			Reason string `json:"reason"`
		} `json:"rejected"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		st.fail(kindError("unreadable answer"), n)
		return
	}
	acc := max(0, min(a.Accepted, n))
	st.accepted.Add(acc)
	rej := int64(0)
	for _, r := range a.Rejected {
		if acc+rej >= n {
			break
		}
		st.reject(reasonKey(r.Field, r.Reason), 1)
		rej++
	}
	if rest := n - acc - rej; rest > 0 {
		st.reject("neither accepted nor rejected in the answer", rest)
	}
}

// ---------------------------------------------------------------------------------------------
// OsmAnd, one fix per request

func (e *runEnv) runOsmAnd(ctx context.Context) []*workerStats {
	cfg := e.cfg
	n := cfg.Conns
	perWorker := cfg.Rate / float64(n)
	ws := newStats(n)
	workers := make([]*osmAndWorker, n)
	for i := range workers {
		rng := e.rng(i)
		workers[i] = &osmAndWorker{env: e, st: ws[i], rng: rng, devs: e.newDevices(i, n, rng), addr: cfg.OsmAndAddr,
			head: []byte(cfg.Method + " /?"), tail: []byte(osmAndTail(cfg.Method, cfg.OsmAndAddr))}
	}
	e.phase(ctx, ws, func(i int) {
		w := workers[i]
		defer w.close()
		w.run(ctx, newPacer(perWorker, e.start))
	})
	return ws
}

// osmAndTail is what follows the query string in a request: the headers Traccar Client sends that
// matter, and for a POST an empty body.
func osmAndTail(method, host string) string {
	t := " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: liftrescue-loadgen\r\nAccept: */*\r\n"
	if method == http.MethodPost {
		t += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n"
	}
	return t + "\r\n"
}

// osmAndWorker is one OsmAnd client on a keep-alive connection of its own. It writes each request
// whole and reads the answer with http.ReadResponse: what net/http's Transport does, without the
// two goroutines and the hand-offs between them that it spends on every request, which cost the
// generator several times the CPU of the request itself.
type osmAndWorker struct {
	env  *runEnv
	st   *workerStats
	rng  *rand.Rand
	devs []device
	next int

	addr       string
	conn       net.Conn
	br         *bufio.Reader
	reused     bool // the connection has carried a request already
	head, tail []byte
	req        []byte
}

func (w *osmAndWorker) run(ctx context.Context, pace *pacer) {
	e, st := w.env, w.st
	for pace.take(1, e.deadline, e.stop) {
		w.req = append(w.req[:0], w.head...)
		w.req = w.build(w.req, time.Now())
		w.req = append(w.req, w.tail...)
		st.sent.Add(1)
		st.requests.Add(1)
		sent := time.Now()
		status, err := w.roundTrip(ctx)
		if err != nil {
			if isDialError(err) {
				st.notSent(err, 1)
			} else {
				st.fail(err, 1)
			}
			if ctx.Err() != nil {
				return
			}
			sleep(errorBackoff, e.stop)
			continue
		}
		st.answered(sent, time.Now())
		if status == http.StatusOK {
			st.accepted.Add(1)
		} else {
			st.reject("HTTP "+strconv.Itoa(status), 1)
		}
	}
}

// roundTrip sends w.req and reads the answer's status, reconnecting as needed. A request that
// fails on a reused connection before any answer is sent again once on a new one, as net/http
// does: the server may have closed the idle connection meanwhile.
func (w *osmAndWorker) roundTrip(ctx context.Context) (int, error) {
	for attempt := 0; ; attempt++ {
		if w.conn == nil {
			d := net.Dialer{Timeout: requestTimeout}
			c, err := d.DialContext(ctx, "tcp", w.addr)
			if err != nil {
				return 0, err
			}
			w.conn, w.reused = c, false
			if w.br == nil {
				w.br = bufio.NewReaderSize(c, 4096)
			} else {
				w.br.Reset(c)
			}
		}
		w.conn.SetDeadline(time.Now().Add(requestTimeout))
		_, err := w.conn.Write(w.req)
		var resp *http.Response
		if err == nil {
			resp, err = http.ReadResponse(w.br, nil)
		}
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil {
			retry := w.reused && attempt == 0 && w.br.Buffered() == 0 && ctx.Err() == nil
			w.close()
			if retry {
				continue
			}
			return 0, err
		}
		w.reused = true
		if resp.Close {
			w.close()
		}
		return resp.StatusCode, nil
	}
}

func (w *osmAndWorker) close() {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// build appends the query string of the next device's fix at now, as Traccar Client sends it.
func (w *osmAndWorker) build(q []byte, now time.Time) []byte {
	d := &w.devs[w.next]
	if w.next++; w.next == len(w.devs) {
		w.next = 0
	}
	d.step(now, w.env.area, w.rng)
	q = append(q, "id="...)
	q = append(q, d.ID...)
	q = append(q, "&lat="...)
	q = appendFixed(q, d.lat, 6)
	q = append(q, "&lon="...)
	q = appendFixed(q, d.lon, 6)
	q = append(q, "&timestamp="...)
	q = strconv.AppendInt(q, now.Unix(), 10)
	q = append(q, "&speed="...)
	q = appendFixed(q, d.speed/1.852, 1) // knots
	q = append(q, "&bearing="...)
	q = appendFixed(q, d.heading, 1)
	q = append(q, "&altitude="...)
	q = appendFixed(q, d.altitude, 1)
	q = append(q, "&accuracy="...)
	q = strconv.AppendInt(q, int64(3+w.rng.IntN(12)), 10)
	q = append(q, "&batt="...)
	q = strconv.AppendInt(q, int64(d.battery), 10)
	q = append(q, "&token="...)
	return append(q, d.Secret...) // hex digits: nothing to escape
}

// newJSONPost makes the POST of a JSON body to url, with key as its bearer token unless empty.
func newJSONPost(ctx context.Context, url, key string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return req, nil
}

// doAndRead sends req and reads the answer's body into buf (reset first), so that the connection
// is kept for the next request. The response is returned with its body closed.
func doAndRead(hc *http.Client, req *http.Request, buf *bytes.Buffer) (*http.Response, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	return resp, err
}
