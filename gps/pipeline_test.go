package gps

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
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

// t0 is the pipeline tests' clock.
var pipeT0 = time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)

// testStore is the SQLite store, with AppendPositions that can be made to fail and that tells
// each successful write on a channel.
type testStore struct {
	*sqlite.DB
	fail    atomic.Bool
	written chan int // buffered; a full channel drops the note

	mu      sync.Mutex
	batches [][]liftrescue.Position // every batch written, when record is set
	record  bool
}

func (s *testStore) AppendPositions(ctx context.Context, ps []liftrescue.Position) error {
	if s.fail.Load() {
		return liftrescue.Errorf(liftrescue.EUNAVAILABLE, "database down")
	}
	err := s.DB.AppendPositions(ctx, ps)
	if err == nil {
		s.mu.Lock()
		if s.record {
			s.batches = append(s.batches, slices.Clone(ps))
		}
		s.mu.Unlock()
		select {
		case s.written <- len(ps):
		default:
		}
	}
	return err
}

type pipeFixture struct {
	ctx      context.Context
	store    *testStore
	index    *geo.Index
	p        *Pipeline
	vehicles []int64 // with device ids 013900000000, 013900000001, …
}

// MustPipeline opens a fresh SQLite database with n vehicles and a pipeline over it, closed at
// the end of the test.
func MustPipeline(tb testing.TB, n int, cfg PipelineConfig) *pipeFixture {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "x.db"), sqlite.Options{})
	storetest.MustOK(tb, err)
	tb.Cleanup(func() { db.Close() })
	f := &pipeFixture{ctx: ctx, store: &testStore{DB: db, written: make(chan int, 1024)}}
	f.vehicles = storetest.MustVehicles(tb, db, n)
	f.index, err = geo.NewIndex(geo.IndexOptions{})
	storetest.MustOK(tb, err)
	cfg.Store, cfg.Index = f.store, f.index
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return pipeT0 }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = time.Hour // tests flush with Close or Flush, or by size
	}
	f.p, err = NewPipeline(ctx, cfg)
	storetest.MustOK(tb, err)
	tb.Cleanup(func() { f.p.Close(ctx) })
	return f
}

func dev(i int) string { return fmt.Sprintf("0139%08d", i) }

// testClock is a clock that the test moves on, from pipeT0.
type testClock struct{ since atomic.Int64 }

func (c *testClock) Now() time.Time      { return pipeT0.Add(time.Duration(c.since.Load())) }
func (c *testClock) Add(d time.Duration) { c.since.Add(int64(d)) }

// fix is device i's fix at t0 plus seconds, east of a point by metres.
func fix(dev string, seconds int, eastM float64) liftrescue.Fix {
	return liftrescue.Fix{DeviceID: dev, Time: pipeT0.Add(time.Duration(seconds) * time.Second),
		Lat: 34.8, Lon: 117.5 + eastM/91400, SpeedKmh: 30, Heading: 90, AccuracyM: 5,
		AltitudeM: liftrescue.Unknown, Battery: liftrescue.Unknown}
}

func (f *pipeFixture) track(tb testing.TB, v int64) []liftrescue.Position {
	tb.Helper()
	ps, err := f.store.Track(f.ctx, v, pipeT0.Add(-time.Hour), pipeT0.Add(time.Hour), 0)
	storetest.MustOK(tb, err)
	return ps
}

func (f *pipeFixture) where(tb testing.TB, v int64) geo.VehicleState {
	tb.Helper()
	s, ok := f.index.Vehicle(v)
	if !ok {
		tb.Fatalf("vehicle %d not in the index", v)
	}
	return s
}

func mustAccept(tb testing.TB, f *pipeFixture, fixes ...liftrescue.Fix) {
	tb.Helper()
	if res := f.p.Accept(f.ctx, fixes, trusted); res.Accepted != len(fixes) || len(res.Rejected) != 0 {
		tb.Fatalf("Accept = %+v, want all %d accepted", res, len(fixes))
	}
}

func TestPipelineAcceptMovesAndStores(t *testing.T) {
	f := MustPipeline(t, 3, PipelineConfig{})
	mustAccept(t, f, fix(dev(0), -20, 0), fix(dev(1), -20, 500), fix(dev(0), -10, 50))
	if s := f.where(t, f.vehicles[0]); !s.Time.Equal(pipeT0.Add(-10*time.Second)) || s.Lon != 117.5+50.0/91400 {
		t.Errorf("vehicle 0 = %+v, want its latest fix", s)
	}
	if s := f.where(t, f.vehicles[1]); s.Lon != 117.5+500.0/91400 {
		t.Errorf("vehicle 1 = %+v", s)
	}
	if _, ok := f.index.Vehicle(f.vehicles[2]); ok {
		t.Error("vehicle 2 never reported but is in the index")
	}
	if got := len(f.track(t, f.vehicles[0])); got != 0 {
		t.Fatalf("history before the flush has %d positions, want 0 (the interval is an hour)", got)
	}
	storetest.MustOK(t, f.p.Close(f.ctx))
	h := f.track(t, f.vehicles[0])
	if len(h) != 2 || h[1].Lon != 117.5+50.0/91400 || !h[1].ReceivedAt.Equal(pipeT0) || h[1].SpeedKmh != 30 {
		t.Fatalf("history of vehicle 0 = %+v", h)
	}
	st := f.p.Stats()
	if st.Accepted != 3 || st.Flushed != 3 || st.Backlog != 0 {
		t.Errorf("stats = %+v", st)
	}
	if res := f.p.Accept(f.ctx, []liftrescue.Fix{fix(dev(0), 0, 0)}, trusted); res.Accepted != 0 || res.Rejected[0].Reason != ReasonClosed {
		t.Errorf("Accept after Close = %+v", res)
	}
}

func TestPipelineRejects(t *testing.T) {
	f := MustPipeline(t, 1, PipelineConfig{})
	bad := fix(dev(0), 0, 0)
	bad.Lat = 95
	future := fix(dev(0), 3600, 0)
	res := f.p.Accept(f.ctx, []liftrescue.Fix{fix("013999999999", 0, 0), fix(dev(0), 0, 0), bad, future, fix("x", 0, 0), fix("x", 1, 0)}, trusted)
	if res.Accepted != 1 || len(res.Rejected) != 5 {
		t.Fatalf("Accept = %+v, want 1 accepted, 5 rejected", res)
	}
	want := []struct {
		index  int
		field  string
		reason string
	}{{0, "device_id", ReasonUnknownDevice}, {2, "lat", ""}, {3, "time", ""}, {4, "device_id", ReasonUnknownDevice}, {5, "device_id", ReasonUnknownDevice}}
	for i, w := range want {
		d := res.Rejected[i]
		if d.Index == nil || *d.Index != w.index || d.Field != w.field || d.Reason == "" || w.reason != "" && d.Reason != w.reason {
			t.Errorf("rejected[%d] = %+v, want index %d field %s reason %q", i, d, w.index, w.field, w.reason)
		}
	}
	st := f.p.Stats()
	if st.Rejected[ReasonUnknownDevice] != 3 || st.UnknownDevices != 2 || st.Rejected["invalid lat"] != 1 ||
		st.Rejected["invalid time"] != 1 || st.Accepted != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestPipelineOutOfOrderKeptNotApplied(t *testing.T) {
	f := MustPipeline(t, 1, PipelineConfig{})
	mustAccept(t, f, fix(dev(0), -10, 100))
	mustAccept(t, f, fix(dev(0), -30, 0), fix(dev(0), -10, 200)) // older, then same time
	if s := f.where(t, f.vehicles[0]); s.Lon != 117.5+100.0/91400 || !s.Time.Equal(pipeT0.Add(-10*time.Second)) {
		t.Errorf("vehicle moved back in time: %+v", s)
	}
	storetest.MustOK(t, f.p.Close(f.ctx))
	if h := f.track(t, f.vehicles[0]); len(h) != 3 || !h[0].Time.Equal(pipeT0.Add(-30*time.Second)) {
		t.Errorf("history = %+v, want all three fixes", h)
	}
	if got := f.p.Stats().OutOfOrder; got != 2 {
		t.Errorf("OutOfOrder = %d, want 2", got)
	}
}

func TestPipelineImpossibleJump(t *testing.T) {
	f := MustPipeline(t, 1, PipelineConfig{MaxSpeedKmh: 150})
	mustAccept(t, f, fix(dev(0), -100, 0))
	mustAccept(t, f, fix(dev(0), -90, 300))     // 108 km/h: fine
	mustAccept(t, f, fix(dev(0), -80, 50_000))  // 50 km in 10 s
	mustAccept(t, f, fix(dev(0), -70, -40_000)) // and back the other way, far from both
	if s := f.where(t, f.vehicles[0]); s.Lon != 117.5+300.0/91400 {
		t.Errorf("vehicle = %+v, want it where it was before the jumps", s)
	}
	if got := f.p.Stats().Jumps; got != 2 {
		t.Errorf("Jumps = %d, want 2", got)
	}
	// A second fix that agrees with the last flagged one confirms the vehicle is really there.
	mustAccept(t, f, fix(dev(0), -60, -39_900))
	if s := f.where(t, f.vehicles[0]); s.Lon != 117.5-39_900.0/91400 {
		t.Errorf("vehicle = %+v, want the confirmed jump applied", s)
	}
	storetest.MustOK(t, f.p.Close(f.ctx))
	if h := f.track(t, f.vehicles[0]); len(h) != 5 {
		t.Errorf("history has %d positions, want all 5", len(h))
	}
}

func TestPipelineLeadingZeros(t *testing.T) {
	f := MustPipeline(t, 2, PipelineConfig{})
	// Registered as 013900000001: a JT/T 808 2013 phone, its 2019 form and the number as typed.
	mustAccept(t, f, fix("13900000001", -30, 0), fix("00000000013900000001", -20, 10), fix(dev(1), -10, 20))
	if s := f.where(t, f.vehicles[1]); !s.Time.Equal(pipeT0.Add(-10 * time.Second)) {
		t.Errorf("vehicle 1 = %+v", s)
	}
	for _, c := range []struct{ in, want string }{
		{"013912345678", "13912345678"}, {"0000", "0"}, {"0abc", "0abc"}, {" 0139 ", "139"}, {"", ""},
	} {
		if got := normalDevice(c.in); got != c.want {
			t.Errorf("normalDevice(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPipelineReload(t *testing.T) {
	f := MustPipeline(t, 1, PipelineConfig{})
	v, err := f.store.FindVehicle(f.ctx, f.vehicles[0])
	storetest.MustOK(t, err)
	nv := &liftrescue.Vehicle{TeamID: v.TeamID, Plate: "鲁D99999", DeviceID: "867530912345678", OnDuty: true}
	storetest.MustOK(t, f.store.CreateVehicle(f.ctx, nv))
	if res := f.p.Accept(f.ctx, []liftrescue.Fix{fix(nv.DeviceID, 0, 0)}, trusted); res.Accepted != 0 {
		t.Fatalf("Accept before Reload = %+v, want the device unknown", res)
	}
	storetest.MustOK(t, f.p.Reload(f.ctx))
	mustAccept(t, f, fix(nv.DeviceID, 0, 0))
	f.where(t, nv.ID)
}

func TestPipelineFlushesBySize(t *testing.T) {
	f := MustPipeline(t, 1, PipelineConfig{FlushSize: 1})
	mustAccept(t, f, fix(dev(0), -10, 0))
	select {
	case n := <-f.store.written:
		if n != 1 {
			t.Fatalf("wrote %d positions, want 1", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a full batch was not written")
	}
	if h := f.track(t, f.vehicles[0]); len(h) != 1 {
		t.Errorf("history = %+v", h)
	}
}

// A flush may wait for more positions than a transaction holds: until FlushAt are waiting it
// does not start (the interval is an hour here), and then it writes them all, in transactions
// of FlushSize, each vehicle's together.
func TestPipelineFlushesAtFlushAt(t *testing.T) {
	f := MustPipeline(t, 2, PipelineConfig{FlushSize: 3, FlushAt: 8})
	f.store.mu.Lock()
	f.store.record = true
	f.store.mu.Unlock()
	var fixes []liftrescue.Fix
	for i := range 7 {
		fixes = append(fixes, fix(dev(i%2), -100+i, float64(i)))
	}
	mustAccept(t, f, fixes...)
	select {
	case n := <-f.store.written:
		t.Fatalf("wrote %d positions with 7 waiting, FlushAt 8", n)
	case <-time.After(200 * time.Millisecond):
	}
	mustAccept(t, f, fix(dev(0), -10, 10))
	got := 0
	for got < 8 {
		select {
		case n := <-f.store.written:
			if n > 3 {
				t.Fatalf("a transaction of %d positions, FlushSize is 3", n)
			}
			got += n
		case <-time.After(10 * time.Second):
			t.Fatalf("wrote %d of 8 positions once FlushAt was reached", got)
		}
	}
	var order []int64
	f.store.mu.Lock()
	for _, b := range f.store.batches {
		for _, ps := range b {
			order = append(order, ps.VehicleID)
		}
	}
	f.store.mu.Unlock()
	if !slices.IsSorted(order) {
		t.Errorf("vehicles in the order written: %v, want each vehicle's together", order)
	}
}

func TestPipelineBacklogBound(t *testing.T) {
	f := MustPipeline(t, 1, PipelineConfig{FlushSize: 2, MaxBacklog: 5})
	f.store.fail.Store(true)
	var fixes []liftrescue.Fix
	for i := range 8 {
		fixes = append(fixes, fix(dev(0), -100+i, float64(i)))
	}
	res := f.p.Accept(f.ctx, fixes, trusted)
	if res.Accepted != 5 || len(res.Rejected) != 3 || res.Rejected[0].Reason != ReasonHistoryBacklog || *res.Rejected[0].Index != 5 {
		t.Fatalf("Accept = %+v, want 5 accepted and the rest refused for the backlog", res)
	}
	if err := f.p.Flush(f.ctx); liftrescue.ErrorCode(err) != liftrescue.EUNAVAILABLE {
		t.Fatalf("Flush with the database down = %v", err)
	}
	st := f.p.Stats()
	if st.Backlog != 5 || st.FlushErrors == 0 || st.Rejected[ReasonHistoryBacklog] != 3 {
		t.Errorf("stats = %+v", st)
	}
	if res := f.p.Accept(f.ctx, fixes[5:], trusted); res.Accepted != 0 {
		t.Errorf("Accept with a full backlog = %+v", res)
	}
	// The database is back: nothing accepted was lost, and there is room again.
	f.store.fail.Store(false)
	storetest.MustOK(t, f.p.Flush(f.ctx))
	mustAccept(t, f, fixes[5:]...)
	storetest.MustOK(t, f.p.Close(f.ctx))
	if h := f.track(t, f.vehicles[0]); len(h) != 8 {
		t.Errorf("history has %d positions, want 8", len(h))
	}
	if st := f.p.Stats(); st.Backlog != 0 || st.Flushed != 8 {
		t.Errorf("stats = %+v", st)
	}
}

func TestPipelineDeletedVehicleDropped(t *testing.T) {
	f := MustPipeline(t, 3, PipelineConfig{FlushSize: 4})
	f.store.fail.Store(true) // hold everything in the buffer
	var fixes []liftrescue.Fix
	for i := range 10 {
		fixes = append(fixes, fix(dev(i%3), -100+i, float64(i)))
	}
	mustAccept(t, f, fixes...)
	storetest.MustOK(t, f.store.DeleteVehicle(f.ctx, f.vehicles[1]))
	f.store.fail.Store(false)
	storetest.MustOK(t, f.p.Close(f.ctx))
	if a, c := len(f.track(t, f.vehicles[0])), len(f.track(t, f.vehicles[2])); a != 4 || c != 3 {
		t.Errorf("history of the vehicles kept: %d and %d positions, want 4 and 3", a, c)
	}
	if st := f.p.Stats(); st.Dropped != 3 || st.Flushed != 7 || st.Backlog != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestPipelineConcurrentAccept(t *testing.T) {
	const workers, batches, per = 8, 20, 25
	f := MustPipeline(t, workers, PipelineConfig{FlushSize: 50})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for b := range batches {
				fixes := make([]liftrescue.Fix, per)
				for i := range fixes {
					fixes[i] = fix(dev(w), -1000+b*per+i, float64(b*per+i))
				}
				if res := f.p.Accept(f.ctx, fixes, trusted); res.Accepted != per {
					t.Errorf("Accept = %+v", res) // not Fatal: this is not the test's goroutine
				}
				f.p.Stats()
			}
		})
	}
	wg.Wait()
	storetest.MustOK(t, f.p.Close(f.ctx))
	for w, v := range f.vehicles {
		if h := f.track(t, v); len(h) != batches*per {
			t.Errorf("vehicle %d: %d positions, want %d", w, len(h), batches*per)
		}
		if s := f.where(t, v); !s.Time.Equal(pipeT0.Add(time.Duration(-1000+batches*per-1) * time.Second)) {
			t.Errorf("vehicle %d at %v, want its latest fix", w, s.Time)
		}
	}
	if st := f.p.Stats(); st.Flushed != workers*batches*per || st.OutOfOrder != 0 || st.Jumps != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestPipelineDeviceRateLimit: each device may send DeviceBurst fixes at once and DeviceRate a
// second after that; the fixes beyond are rejected and counted, and the device named in the log.
func TestPipelineDeviceRateLimit(t *testing.T) {
	var clock testClock
	var log bytes.Buffer
	f := MustPipeline(t, 2, PipelineConfig{Now: clock.Now, DeviceRate: 2, DeviceBurst: 3,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	check := func(name string, res Result, want string) {
		t.Helper()
		if got := fmt.Sprintf("accepted %d, rejected %q", res.Accepted, reasons(res)); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}

	// A burst: three of the device's five go through, and the other device has a limit of its own.
	res := f.p.Accept(f.ctx, []liftrescue.Fix{fix(dev(0), -50, 0), fix(dev(0), -49, 0), fix(dev(0), -48, 0),
		fix(dev(0), -47, 0), fix(dev(0), -46, 0), fix(dev(1), -50, 0)}, trusted)
	check("burst", res, `accepted 4, rejected ["3 device rate limit exceeded" "4 device rate limit exceeded"]`)

	// Half a second earns one fix. Fixes refused for their secret or as invalid take nothing from
	// the limit, and the device counts as one however its id is written.
	clock.Add(500 * time.Millisecond)
	check("bad secret", f.p.Accept(f.ctx, []liftrescue.Fix{fix(dev(0), -45, 0)}, Proof{}),
		`accepted 0, rejected ["0 bad device secret"]`)
	invalid := fix(dev(0), -44, 0)
	invalid.Lat = 91
	short := fix(strings.TrimLeft(dev(0), "0"), -43, 0)
	check("earned", f.p.Accept(f.ctx, []liftrescue.Fix{invalid, short, fix(dev(0), -42, 0)}, trusted),
		`accepted 1, rejected ["0 latitude must be between -90 and 90" "2 device rate limit exceeded"]`)

	// After a long silence the bucket is full again, and holds no more than the burst.
	clock.Add(time.Hour)
	check("refilled", f.p.Accept(f.ctx, []liftrescue.Fix{fix(dev(0), -41, 0), fix(dev(0), -40, 0),
		fix(dev(0), -39, 0), fix(dev(0), -38, 0)}, trusted), `accepted 3, rejected ["3 device rate limit exceeded"]`)

	st := f.p.Stats()
	if st.Accepted != 8 || st.Rejected[ReasonRateLimited] != 4 {
		t.Errorf("stats = %+v, want 8 accepted and 4 rate limited", st)
	}
	storetest.MustOK(t, f.p.Close(f.ctx))
	if n := len(f.track(t, f.vehicles[0])); n != 7 {
		t.Errorf("history of the limited vehicle has %d positions, want 7", n)
	}
	// Logged once a minute at most, with the device: once at first, once an hour later.
	if n := strings.Count(log.String(), "device_id="+dev(0)); n != 2 || strings.Contains(log.String(), dev(1)) {
		t.Errorf("log:\n%s\nwant two warnings about %s", log.String(), dev(0))
	}
}

// BenchmarkAccept1000 gives batches of 1,000 fixes from 1,000 vehicles to the pipeline, into the
// index and the buffer, while the history is written to SQLite in the background.
func BenchmarkAccept1000(b *testing.B) { benchAccept1000(b, PipelineConfig{}) }

// BenchmarkAccept1000Limited is BenchmarkAccept1000 with a device rate limit that no vehicle
// reaches (one fix a second each): what the limit costs.
func BenchmarkAccept1000Limited(b *testing.B) {
	benchAccept1000(b, PipelineConfig{DeviceRate: 10, DeviceBurst: DefaultDeviceBurst})
}

func benchAccept1000(b *testing.B, cfg PipelineConfig) {
	const n = 1000
	var clock atomic.Int64
	cfg.Now = func() time.Time { return pipeT0.Add(time.Duration(clock.Load()) * time.Second) }
	cfg.FlushInterval = time.Second
	f := MustPipeline(b, n, cfg)
	fixes := make([]liftrescue.Fix, n)
	devices := make([]string, n)
	for i := range devices {
		devices[i] = dev(i)
	}
	round := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		round++
		clock.Store(int64(round))
		for i := range fixes {
			fixes[i] = fix(devices[i], round, float64(round%1000))
		}
		f.p.Accept(f.ctx, fixes, trusted)
	}
	b.StopTimer()
	// Accept is faster than SQLite writes: once the backlog is full, the fixes beyond what the
	// database takes are refused, so accepted/s is the sustained figure, fixes/s the offered one.
	st := f.p.Stats()
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "fixes/s")
	b.ReportMetric(float64(st.Accepted)/b.Elapsed().Seconds(), "accepted/s")
	b.ReportMetric(float64(st.Rejected[ReasonHistoryBacklog])/float64(b.N*n), "backlog-refused/fix")
	if cfg.DeviceRate > 0 {
		b.ReportMetric(float64(st.Rejected[ReasonRateLimited])/float64(b.N*n), "rate-limited/fix")
	}
	if err := f.p.Close(f.ctx); err != nil {
		b.Fatal(err)
	}
}

// trusted is the proof of a caller that has authenticated the sender itself.
var trusted = Proof{Trusted: true}

// reasons lists the fixes a result rejected as "index reason".
func reasons(res Result) []string {
	var out []string
	for _, d := range res.Rejected {
		out = append(out, fmt.Sprintf("%d %s", *d.Index, d.Reason))
	}
	return out
}

func TestPipelineProof(t *testing.T) {
	f := MustPipeline(t, 2, PipelineConfig{})
	secret := func(i int) string {
		v, err := f.store.FindVehicle(f.ctx, f.vehicles[i])
		storetest.MustOK(t, err)
		if v.DeviceSecret == "" {
			t.Fatalf("vehicle %d has no device secret", v.ID)
		}
		return v.DeviceSecret
	}
	s0, s1 := secret(0), secret(1)
	for _, c := range []struct {
		name     string
		proof    Proof
		accepted int
		rejected []string
	}{
		{"no proof", Proof{}, 0, []string{"0 bad device secret", "1 bad device secret"}},
		{"one secret for a batch of two devices", Proof{Secret: s0}, 1, []string{"1 bad device secret"}},
		{"a secret per fix", Proof{Secrets: []string{s0, s1}}, 2, nil},
		{"per fix over the batch's", Proof{Secret: s1, Secrets: []string{s0}}, 2, nil},
		{"a wrong secret", Proof{Secrets: []string{s1, s0}}, 0, []string{"0 bad device secret", "1 bad device secret"}},
		{"a prefix of the secret", Proof{Secrets: []string{s0[:len(s0)-1], s1 + "x"}}, 0, []string{"0 bad device secret", "1 bad device secret"}},
		{"trusted", trusted, 2, nil},
	} {
		res := f.p.Accept(f.ctx, []liftrescue.Fix{fix(dev(0), -10, 0), fix(dev(1), -10, 0)}, c.proof)
		if got := reasons(res); res.Accepted != c.accepted || fmt.Sprint(got) != fmt.Sprint(c.rejected) {
			t.Errorf("%s: accepted %d, rejected %q; want %d, %q", c.name, res.Accepted, got, c.accepted, c.rejected)
		}
	}
	if st := f.p.Stats(); st.Rejected[ReasonBadSecret] != 7 {
		t.Errorf("stats = %+v, want 7 fixes refused for their secret", st)
	}
}

func TestPipelineAuthenticateAndRegister(t *testing.T) {
	f := MustPipeline(t, 1, PipelineConfig{})
	v, err := f.store.FindVehicle(f.ctx, f.vehicles[0])
	storetest.MustOK(t, err)
	if id, err := f.p.Authenticate("13900000000", v.DeviceSecret); err != nil || id != v.ID {
		t.Errorf("Authenticate with the secret = %d, %v", id, err)
	}
	for _, c := range []struct {
		device, secret string
		want           error
	}{
		{dev(0), "", ErrBadSecret},
		{dev(0), v.DeviceSecret + " ", ErrBadSecret},
		{"013999999999", v.DeviceSecret, ErrUnknownDevice},
	} {
		if _, err := f.p.Authenticate(c.device, c.secret); err != c.want {
			t.Errorf("Authenticate(%q, %q) = %v, want %v", c.device, c.secret, err, c.want)
		}
	}
	// Registration hands the auth code to a known terminal whose plate, if it sends one, matches.
	plate := " " + strings.ToLower(v.Plate[:4]) + " " + v.Plate[4:] // spaces and case differ
	for _, p := range []string{v.Plate, plate} {
		if id, code, err := f.p.Register("00000000013900000000", p); err != nil || id != v.ID || code != v.DeviceSecret {
			t.Errorf("Register(plate %q) = %d, %q, %v; want the vehicle's secret", p, id, code, err)
		}
	}
	for _, p := range []string{"鲁A00000", ""} { // another plate, or none for a vehicle that has one
		if _, code, err := f.p.Register(dev(0), p); err != ErrPlateMismatch || code != "" {
			t.Errorf("Register with plate %q = %q, %v", p, code, err)
		}
	}
	if _, _, err := f.p.Register("013999999999", ""); err != ErrUnknownDevice {
		t.Errorf("Register of an unknown terminal = %v", err)
	}
	st := f.p.Stats()
	if st.Refused[ReasonBadSecret] != 2 || st.Refused[ReasonUnknownDevice] != 2 || st.Refused[ErrPlateMismatch.Error()] != 2 {
		t.Errorf("refused = %v", st.Refused)
	}
	if fleet := f.p.Fleet(); len(fleet) != 1 || fleet[0].ID != v.ID {
		t.Errorf("fleet = %+v", fleet)
	}
}

func TestPipelineConcurrentWriters(t *testing.T) {
	f := MustPipeline(t, 5, PipelineConfig{FlushSize: 7, Writers: 3})
	f.store.fail.Store(true)
	var fixes []liftrescue.Fix
	for i := range 100 {
		fixes = append(fixes, fix(dev(i%5), -200+i, float64(i)))
	}
	mustAccept(t, f, fixes...)
	if err := f.p.Flush(f.ctx); err == nil {
		t.Fatal("Flush with the database down succeeded")
	}
	storetest.MustOK(t, f.store.DeleteVehicle(f.ctx, f.vehicles[2]))
	f.store.fail.Store(false)
	storetest.MustOK(t, f.p.Close(f.ctx))
	for i, id := range f.vehicles {
		want := 20
		if i == 2 {
			continue
		}
		if h := f.track(t, id); len(h) != want {
			t.Errorf("vehicle %d: %d positions in the history, want %d", i, len(h), want)
		}
	}
	if st := f.p.Stats(); st.Flushed != 80 || st.Dropped != 20 || st.Backlog != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestPipelineSaturated(t *testing.T) {
	f := MustPipeline(t, 1, PipelineConfig{FlushSize: 2, MaxBacklog: 3})
	f.store.fail.Store(true)
	if f.p.Saturated() {
		t.Fatal("an empty pipeline is saturated")
	}
	mustAccept(t, f, fix(dev(0), -30, 0), fix(dev(0), -20, 10), fix(dev(0), -10, 20))
	if !f.p.Saturated() {
		t.Fatal("a full backlog is not saturated")
	}
	f.store.fail.Store(false)
	storetest.MustOK(t, f.p.Flush(f.ctx))
	if f.p.Saturated() {
		t.Fatal("still saturated once written")
	}
	storetest.MustOK(t, f.p.Close(f.ctx))
	if !f.p.Saturated() {
		t.Fatal("a closed pipeline takes fixes")
	}
}

// Device ids are keyed as numbers when they are digits alone, and no two ids that normalDevice
// tells apart share a key.
func TestDeviceKeys(t *testing.T) {
	same := [][2]string{
		{"013912345678", "13912345678"},
		{" 42 ", "42"},
		{"0", "000"},
		{"ab-1", "ab-1"},
		{"123456789012345678901", "123456789012345678901"}, // 21 digits: text
	}
	for _, c := range same {
		if keyOf(c[0]) != keyOf(c[1]) {
			t.Errorf("keyOf(%q) = %+v, keyOf(%q) = %+v: want the same", c[0], keyOf(c[0]), c[1], keyOf(c[1]))
		}
	}
	ids := []string{"", "0", "1", "01x", "1x", "18446744073709551615", "9999999999999999999", "99999999999999999999", "a", "A"}
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			if normalDevice(a) != normalDevice(b) && keyOf(a) == keyOf(b) {
				t.Errorf("keyOf(%q) = keyOf(%q) = %+v", a, b, keyOf(a))
			}
		}
	}
	if k := keyOf("9999999999999999999"); !k.number || k.num != 9999999999999999999 {
		t.Errorf("keyOf of 19 digits = %+v, want the number", k)
	}
}
