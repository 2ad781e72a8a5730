package gps

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/liftrescue/liftrescue/store/sqlite"
	"github.com/liftrescue/liftrescue/store/storetest"
)

// The server benchmarks measure the servers, not the history: the pipeline writes to a store
// whose AppendPositions returns at once. Run them with, for example,
//
//	go test -run '^$' -bench 'Server' -benchtime 5s ./gps
//
// The load generators run in the same process, on the same cores, as a client on the same machine
// would.

// instantStore is the SQLite store with a history that takes any batch at once.
type instantStore struct{ *sqlite.DB }

func (instantStore) AppendPositions(context.Context, []liftrescue.Position) error { return nil }

// benchPipeline returns a pipeline over n vehicles, on the system clock, and their device secrets;
// cfg sets the pipeline's limits.
func benchPipeline(b *testing.B, n int, cfg PipelineConfig) (*Pipeline, []string) {
	b.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "x.db"), sqlite.Options{})
	storetest.MustOK(b, err)
	b.Cleanup(func() { db.Close() })
	ids := storetest.MustVehicles(b, db, n)
	secrets := make([]string, n)
	for i, id := range ids {
		v, err := db.FindVehicle(ctx, id)
		storetest.MustOK(b, err)
		secrets[i] = v.DeviceSecret
	}
	index, err := geo.NewIndex(geo.IndexOptions{})
	storetest.MustOK(b, err)
	cfg.Store, cfg.Index, cfg.Logger = instantStore{db}, index, slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := NewPipeline(ctx, cfg)
	storetest.MustOK(b, err)
	b.Cleanup(func() { p.Close(ctx) })
	return p, secrets
}

// BenchmarkOsmAndServer sends single fixes as Traccar Client does (POST, form body, the token in
// the server URL's query) over loopback HTTP/1.1 with keep-alive, from concurrent clients, each
// one request at a time. The raw client writes prepared requests and reads the answers itself,
// as wrk does; net/http is the Go client, a heavier load generator on the same cores. handler=bare
// is the baseline: net/http with a handler that reads the body and answers 200.
//
// Besides requests per second it reports the CPU time of the whole process (servers and clients)
// per request, which other work on the machine changes less.
func BenchmarkOsmAndServer(b *testing.B) {
	p, secrets := benchPipeline(b, 64, PipelineConfig{})
	h := NewOsmAndHandler(p, OsmAndOptions{})
	servers := map[string]*httptest.Server{
		"osmand": httptest.NewServer(h),
		"bare":   httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })),
	}
	for _, srv := range servers {
		b.Cleanup(srv.Close)
	}
	var seq atomic.Int64 // makes every fix newer than the last of its device
	start := time.Now().Add(-24 * time.Hour).UnixMilli()
	body := func(dst []byte, client int) []byte {
		dst = append(dst, "id="+dev(client)+"&lat=34.860000&lon=117.550000&timestamp="...)
		dst = strconv.AppendInt(dst, start+seq.Add(1), 10)
		return append(dst, "&speed=10.25&bearing=90.0&altitude=50.0&accuracy=5.0&batt=87&charge=false"...)
	}

	for _, handler := range []string{"osmand", "bare"} {
		for _, clients := range []int{8, 64} {
			b.Run(fmt.Sprintf("handler=%s/client=raw/clients=%d", handler, clients), func(b *testing.B) {
				addr := servers[handler].Listener.Addr().String()
				before := h.Stats().Accepted
				var left atomic.Int64
				left.Store(int64(b.N))
				var wg sync.WaitGroup
				errs := make(chan error, clients)
				cpu := processCPU()
				b.ResetTimer()
				for c := range clients {
					wg.Go(func() {
						conn, err := net.Dial("tcp", addr)
						if err != nil {
							errs <- err
							return
						}
						defer conn.Close()
						br := bufio.NewReader(conn)
						head := "POST /?token=" + url.QueryEscape(secrets[c]) + " HTTP/1.1\r\nHost: " + addr +
							"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "
						var req, form []byte
						for left.Add(-1) >= 0 {
							form = body(form[:0], c)
							req = append(append(append(append(req[:0], head...), strconv.Itoa(len(form))...), "\r\n\r\n"...), form...)
							if _, err := conn.Write(req); err != nil {
								errs <- err
								return
							}
							if err := readResponse(br); err != nil {
								errs <- err
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				if got := h.Stats().Accepted - before; handler == "osmand" && got != int64(b.N) {
					b.Fatalf("%d of %d accepted", got, b.N)
				}
				reportRate(b, "req", cpu)
			})
		}
	}

	b.Run("handler=osmand/client=net/http/clients=64", func(b *testing.B) {
		const clients = 64
		tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
		b.Cleanup(tr.CloseIdleConnections)
		client := &http.Client{Transport: tr}
		var left atomic.Int64
		left.Store(int64(b.N))
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		cpu := processCPU()
		b.ResetTimer()
		for c := range clients {
			wg.Go(func() {
				target := servers["osmand"].URL + "/?token=" + url.QueryEscape(secrets[c])
				var form []byte
				for left.Add(-1) >= 0 {
					form = body(form[:0], c)
					resp, err := client.Post(target, "application/x-www-form-urlencoded", bytes.NewReader(form))
					if err != nil {
						errs <- err
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						errs <- fmt.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		reportRate(b, "req", cpu)
	})
}

// reportRate reports b.N operations of the unit per second and the process's CPU time per
// operation since cpu.
func reportRate(b *testing.B, unit string, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit+"/s")
	if used := processCPU() - cpu; cpu > 0 && used > 0 {
		b.ReportMetric(float64(used.Microseconds())/float64(b.N), "cpu-µs/"+unit)
	}
}

// readResponse reads one HTTP/1.1 response and fails unless it is a 200.
func readResponse(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("answer %q", line)
	}
	length := 0
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(k), "Content-Length") {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	_, err = br.Discard(length)
	return err
}

// BenchmarkAcceptInstant gives batches of 1,000 fixes from 1,000 vehicles to a pipeline whose
// history takes any batch at once: the cost of Accept itself (checks, registry, index), which
// BenchmarkAccept1000 hides behind SQLite's. With limit=on every device has a rate limit that
// none reaches.
func BenchmarkAcceptInstant(b *testing.B) {
	const n = 1000
	for _, limit := range []struct {
		name string
		rate float64
	}{{"off", 0}, {"on", 1e6}} {
		b.Run("limit="+limit.name, func(b *testing.B) {
			p, _ := benchPipeline(b, n, PipelineConfig{DeviceRate: limit.rate})
			fixes := make([]liftrescue.Fix, n)
			for i := range fixes {
				fixes[i] = fix(dev(i), 0, 0)
			}
			start := time.Now().Add(-48 * time.Hour)
			round := 0
			b.ReportAllocs()
			for b.Loop() {
				round++
				for i := range fixes {
					fixes[i].Time = start.Add(time.Duration(round) * time.Second)
					fixes[i].Lon = 117.5 + float64(round%1000)/91400
				}
				if res := p.Accept(context.Background(), fixes, trusted); res.Accepted != n {
					b.Fatalf("accepted %d of %d: %v", res.Accepted, n, reasons(res)[:1])
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "fixes/s")
		})
	}
}

// nopWriter is the least a ResponseWriter can be, to count the handler's own allocations.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkOsmAndHandler serves a Traccar Client request without the network: the handler's cost
// and allocations, parsing included.
func BenchmarkOsmAndHandler(b *testing.B) {
	p, secrets := benchPipeline(b, 1, PipelineConfig{})
	h := NewOsmAndHandler(p, OsmAndOptions{})
	start := time.Now().Add(-time.Hour).Unix()
	for _, tc := range []struct{ name, token, query string }{
		{"query", secrets[0], ""},
		{"form token", "", "&token=" + secrets[0]},
	} {
		b.Run(tc.name, func(b *testing.B) {
			target := "/"
			if tc.token != "" {
				target = "/?token=" + tc.token
			}
			r := httptest.NewRequest("POST", target, nil)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := &nopWriter{h: http.Header{}}
			rd := bytes.NewReader(nil)
			var form []byte
			i := int64(0)
			b.ReportAllocs()
			for b.Loop() {
				i++
				form = append(form[:0], "id="+dev(0)+"&lat=34.86&lon=117.55&timestamp="...)
				form = strconv.AppendInt(form, start+i%3600, 10)
				form = append(form, "&speed=10.25&bearing=90.0&altitude=50.0&accuracy=5.0&batt=87"+tc.query...)
				rd.Reset(form)
				r.Body, r.ContentLength = io.NopCloser(rd), int64(len(form))
				h.ServeHTTP(w, r)
			}
			if st := h.Stats(); st.Requests != st.Accepted {
				b.Fatalf("stats = %+v", st)
			}
		})
	}
}

// BenchmarkJT808Server has 1,000 terminals on loopback connections send location reports as fast
// as they are answered, each keeping a few reports in flight, and reports fixes/s.
func BenchmarkJT808Server(b *testing.B) {
	const conns = 1000
	p, secrets := benchPipeline(b, conns, PipelineConfig{})
	srv := &JT808Server{Pipeline: p, Logger: p.log}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			b.Error(err)
		}
		<-served
	})

	terminals := make([]*benchTerminal, conns)
	for i := range terminals {
		t, err := dialTerminal(ln.Addr().String(), i, secrets[i])
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { t.conn.Close() })
		terminals[i] = t
	}

	for _, depth := range []int{1, 4} {
		b.Run(fmt.Sprintf("conns=%d/depth=%d", conns, depth), func(b *testing.B) {
			before := srv.Stats()
			cpu := processCPU()
			var left atomic.Int64
			left.Store(int64(b.N))
			var wg sync.WaitGroup
			errs := make(chan error, conns)
			b.ResetTimer()
			for _, t := range terminals {
				wg.Go(func() {
					if err := t.run(&left, depth); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			after := srv.Stats()
			if got := after.Fixes - before.Fixes; got != int64(b.N) {
				b.Fatalf("%d of %d fixes accepted", got, b.N)
			}
			reportRate(b, "fix", cpu)
			b.ReportMetric(float64(after.Frames-before.Frames)/float64(after.Rounds-before.Rounds), "frames/round")
		})
	}
}

// benchTerminal is one terminal of the load generator.
type benchTerminal struct {
	conn   net.Conn
	br     *bufio.Reader
	fr     *FrameReader
	h      Header
	loc    Location
	body   []byte
	out    []byte
	clock  time.Time // of the next fix
	serial uint16
}

func dialTerminal(addr string, i int, secret string) (*benchTerminal, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	t := &benchTerminal{conn: conn, br: bufio.NewReader(conn),
		clock: time.Now().Add(-48 * time.Hour).Truncate(time.Second),
		loc:   Location{Status: located, Lat: 34.8 + float64(i)*1e-4, Lon: 117.5, Speed: 300, Direction: 90, AltitudeM: 50}}
	t.fr = NewFrameReader(t.br, 0)
	if t.h, err = NewHeader(Version2013, MsgAuth, 0, dev(i)); err != nil {
		return nil, err
	}
	if _, err := conn.Write(AppendMessage(nil, &t.h, []byte(secret))); err != nil {
		return nil, err
	}
	if err := t.answer(); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	t.h.MsgID = MsgLocation
	return t, nil
}

// run sends location reports, keeping depth of them unanswered, until left runs out and every
// report is answered. Answers already received are read together, and as many reports sent again
// in one write.
func (t *benchTerminal) run(left *atomic.Int64, depth int) error {
	inFlight := 0
	for {
		t.out = t.out[:0]
		for inFlight < depth && left.Add(-1) >= 0 {
			t.loc.Time = t.clock
			t.clock = t.clock.Add(time.Second)
			t.h.Serial, t.serial = t.serial, t.serial+1
			t.body = AppendLocation(t.body[:0], &t.loc)
			t.out = AppendMessage(t.out, &t.h, t.body)
			inFlight++
		}
		if len(t.out) > 0 {
			if _, err := t.conn.Write(t.out); err != nil {
				return err
			}
		}
		if inFlight == 0 {
			return nil
		}
		for {
			if err := t.answer(); err != nil {
				return err
			}
			inFlight--
			if inFlight == 0 || bytes.Count(peekAll(t.br), []byte{flagByte}) < 2 {
				break
			}
		}
	}
}

func peekAll(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	return b
}

// answer reads a general response and fails unless it is a success.
func (t *benchTerminal) answer() error {
	frame, err := t.fr.Next()
	if err != nil {
		return err
	}
	p, err := ParsePacket(frame)
	if err != nil {
		return err
	}
	if r, err := ParseGeneralResponse(p.Body); err != nil || r.Result != ResultOK {
		return fmt.Errorf("answer %+v, %v", r, err)
	}
	return nil
}

// BenchmarkIngestJSON is the server's work for a native JSON batch, without HTTP: read the body of
// 1,000 fixes, as the load generator writes it, and accept it into the index and the history
// buffer, from two goroutines as two requests at once would, with 10,000 vehicles each reporting
// every batch of ten. It is where scripts/bench-ingest's JSON figure goes, fix by fix.
func BenchmarkIngestJSON(b *testing.B) {
	const vehicles, batch = 10000, 1000
	p, _ := benchPipeline(b, vehicles, PipelineConfig{FlushAt: 100000, MaxBacklog: 1 << 20})
	// Ten bodies name every device once; each round writes a newer time into every fix, in place
	// (the times have one width), and the vehicles stay where they are, as vehicles reporting 50
	// times a second all but do.
	type body struct {
		b     []byte
		times []int // where each fix's time is
	}
	start := time.Now().Add(-time.Hour).UTC()
	const layout = "2006-01-02T15:04:05.000000Z"
	bodies := make([]body, vehicles/batch)
	for k := range bodies {
		bd := &bodies[k]
		bd.b = append(bd.b, `{"positions":[`...)
		for i := range batch {
			v := k*batch + i
			if i > 0 {
				bd.b = append(bd.b, ',')
			}
			bd.b = fmt.Appendf(bd.b, `{"device_id":"%s","lat":%.6f,"lon":%.6f,"time":"`, dev(v),
				34.5+float64(v%100)*0.004, 117.3+float64(v/100)*0.004)
			bd.times = append(bd.times, len(bd.b))
			bd.b = fmt.Appendf(bd.b, `%s","speed_kmh":%.1f,"heading":%d,"accuracy_m":%d,"altitude_m":%.1f}`,
				start.Format(layout), float64(v%80), v%360, 3+v%12, 50+float64(v%30))
		}
		bd.b = append(bd.b, `]}`...)
	}
	var round atomic.Int64
	// A sub-benchmark, so that the vehicles are made once, not at each b.N the framework tries.
	b.Run("vehicles=10000", func(b *testing.B) {
		b.SetBytes(int64(len(bodies[0].b)))
		b.ReportAllocs()
		cpu := processCPU()
		b.RunParallel(func(pb *testing.PB) {
			mine := make([]byte, 0, len(bodies[0].b)+64)
			for pb.Next() {
				r := round.Add(1)
				bd := &bodies[r%int64(len(bodies))]
				mine = append(mine[:0], bd.b...)
				stamp := start.Add(time.Duration(r/int64(len(bodies))+1)*time.Millisecond).AppendFormat(nil, layout)
				for _, at := range bd.times {
					copy(mine[at:], stamp)
				}
				bt, err := DecodeBatch(mine, time.Now())
				if err != nil || len(bt.Fixes) != batch {
					b.Fatal(err, bt.Rejected)
				}
				if res := p.Accept(context.Background(), bt.Fixes, trusted); res.Accepted != batch {
					b.Fatalf("accepted %d of %d: %v", res.Accepted, batch, reasons(res)[:1])
				}
				bt.Release()
			}
		})
		b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "fixes/s")
		if used := processCPU() - cpu; cpu > 0 && used > 0 {
			b.ReportMetric(float64(used.Nanoseconds())/float64(batch*b.N), "cpu-ns/fix")
		}
	})
}
