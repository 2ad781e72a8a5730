package gps

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/storetest"
)

func sortedForStore(b []liftrescue.Position) bool {
	return slices.IsSortedFunc(b, func(a, b liftrescue.Position) int { return byVehicleTime(&a, &b) })
}

// TestPipelineFlushSorted: each batch the store gets is sorted by vehicle and time, a failed
// flush's positions are written with the next ones, and every accepted fix is written once.
func TestPipelineFlushSorted(t *testing.T) {
	f := MustPipeline(t, 6, PipelineConfig{FlushSize: 7, Writers: 3})
	f.store.mu.Lock()
	f.store.record = true
	f.store.mu.Unlock()
	r := rand.New(rand.NewPCG(9, 10))
	var accepted []liftrescue.Fix
	send := func(n int) {
		t.Helper()
		fixes := make([]liftrescue.Fix, n)
		for i := range fixes {
			// Times from the past hour in any order, a few repeated: out of order for the index,
			// all kept for the history.
			fixes[i] = fix(dev(r.IntN(6)), -r.IntN(3600), float64(r.IntN(50)))
		}
		mustAccept(t, f, fixes...)
		accepted = append(accepted, fixes...)
	}
	send(40)
	f.store.fail.Store(true)
	send(25)
	if err := f.p.Flush(f.ctx); err == nil {
		t.Fatal("Flush with the database down succeeded")
	}
	f.store.fail.Store(false)
	send(30)
	storetest.MustOK(t, f.p.Flush(f.ctx))
	// Batches big enough to be handed over whole, between single fixes copied.
	for range 3 {
		send(smallBatch + 1)
		send(1)
		send(2)
	}
	send(3)
	storetest.MustOK(t, f.p.Close(f.ctx))

	var written []liftrescue.Position
	for _, b := range f.store.batches {
		if !sortedForStore(b) {
			t.Errorf("a batch not sorted by vehicle and time: %v", batchKeys(b))
		}
		if len(b) > 7 {
			t.Errorf("a batch of %d positions, FlushSize is 7", len(b))
		}
		written = append(written, b...)
	}
	key := func(vehicle int64, fx liftrescue.Fix) string {
		return fmt.Sprintf("%d %s %.9f", vehicle, fx.Time.Format(time.RFC3339Nano), fx.Lon)
	}
	var got, want []string
	for _, ps := range written {
		got = append(got, key(ps.VehicleID, ps.Fix))
	}
	for _, fx := range accepted {
		v, ok := f.p.VehicleOf(fx.DeviceID)
		if !ok {
			t.Fatalf("no vehicle for %s", fx.DeviceID)
		}
		want = append(want, key(v, fx))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("written %d positions, accepted %d; the history differs", len(got), len(want))
	}
	if st := f.p.Stats(); st.Flushed != int64(len(accepted)) || st.Backlog != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func batchKeys(b []liftrescue.Position) []string {
	var s []string
	for _, p := range b {
		s = append(s, fmt.Sprintf("%d@%s", p.VehicleID, p.Time.Format("15:04:05.000000")))
	}
	return s
}

// TestPipelineSmallBatchesShareABuffer: single fixes, as OsmAnd and JT/T 808 give them, are
// copied into shared buffers rather than each kept in one of its own, which would cost the
// flush a buffer a fix; a big batch keeps its own, in its place among them.
func TestPipelineSmallBatchesShareABuffer(t *testing.T) {
	f := MustPipeline(t, 3, PipelineConfig{FlushInterval: time.Hour, FlushSize: 1 << 20})
	buffers := func() (n, positions int) {
		f.p.mu.Lock()
		defer f.p.mu.Unlock()
		return len(f.p.buf), f.p.bufLen
	}
	for i := range 3000 {
		mustAccept(t, f, fix(dev(i%3), -3600+i, 0))
	}
	if n, ps := buffers(); ps != 3000 || n > 3000/tailSize+1 {
		t.Fatalf("3,000 single fixes in %d buffers (%d positions), want %d at most", n, ps, 3000/tailSize+1)
	}
	big := make([]liftrescue.Fix, smallBatch+1)
	for i := range big {
		big[i] = fix(dev(i%3), i, 0)
	}
	before, _ := buffers()
	mustAccept(t, f, big...)
	mustAccept(t, f, fix(dev(0), 100, 0))
	if n, ps := buffers(); n != before+2 || ps != 3000+len(big)+1 {
		t.Errorf("after a batch of %d and a single fix: %d buffers, %d positions; want %d and %d", len(big), n, ps, before+2, 3000+len(big)+1)
	}
	storetest.MustOK(t, f.p.Close(f.ctx))
	if st := f.p.Stats(); st.Flushed != int64(3000+len(big)+1) {
		t.Errorf("flushed %d", st.Flushed)
	}
}

// TestPipelineCloseWaitsForAccept: Close lets an Accept that came before it put its fixes in the
// history, so that a graceful shutdown loses nothing accepted.
func TestPipelineCloseWaitsForAccept(t *testing.T) {
	inAlarm, release := make(chan struct{}), make(chan struct{})
	f := MustPipeline(t, 1, PipelineConfig{OnAlarm: func(int64, liftrescue.Fix) {
		close(inAlarm)
		<-release // Accept is held after its checks, before its fixes reach the buffer
	}})
	sos := fix(dev(0), -5, 0)
	sos.Alarm = "sos"
	accepted := make(chan Result)
	go func() { accepted <- f.p.Accept(f.ctx, []liftrescue.Fix{sos}, trusted) }()
	<-inAlarm

	closed := make(chan error)
	go func() { closed <- f.p.Close(f.ctx) }()
	for !f.p.Saturated() { // closed for new fixes
		runtime.Gosched()
	}
	if res := f.p.Accept(f.ctx, []liftrescue.Fix{fix(dev(0), -4, 0)}, trusted); res.Accepted != 0 || res.Rejected[0].Reason != ReasonClosed {
		t.Errorf("Accept while closing = %+v", res)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) before the Accept in progress ended", err)
	default:
	}
	close(release)
	if res := <-accepted; res.Accepted != 1 {
		t.Fatalf("Accept = %+v", res)
	}
	storetest.MustOK(t, <-closed)
	if h := f.track(t, f.vehicles[0]); len(h) != 1 || h[0].Alarm != "sos" {
		t.Errorf("history = %+v, want the fix accepted while closing", h)
	}
}

// TestPipelineRegistryConcurrent: fixes are looked up while vehicles are stored, removed and
// reloaded (run with -race); a device is always found under its vehicle or not at all.
func TestPipelineRegistryConcurrent(t *testing.T) {
	const n = 200
	f := MustPipeline(t, n, PipelineConfig{})
	vehicles := make([]*liftrescue.Vehicle, n)
	for i, id := range f.vehicles {
		v, err := f.store.FindVehicle(f.ctx, id)
		storetest.MustOK(t, err)
		vehicles[i] = v
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		r := rand.New(rand.NewPCG(11, 12))
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			v := vehicles[r.IntN(n)]
			switch k % 7 {
			case 0:
				f.p.RemoveVehicle(v.ID)
			case 6:
				if err := f.p.Reload(context.Background()); err != nil {
					t.Error(err)
					return
				}
			default:
				f.p.PutVehicle(v)
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(13, 14))
			for range 300 {
				i := r.IntN(n)
				if got, ok := f.p.VehicleOf(vehicles[i].DeviceID); ok && got != vehicles[i].ID {
					t.Errorf("device %s found under vehicle %d, want %d", vehicles[i].DeviceID, got, vehicles[i].ID)
					return
				}
				fixes := []liftrescue.Fix{fix(vehicles[i].DeviceID, -r.IntN(1000), 0)}
				if res := f.p.Accept(f.ctx, fixes, trusted); res.Accepted+len(res.Rejected) != 1 ||
					res.Accepted == 0 && res.Rejected[0].Reason != ReasonUnknownDevice {
					t.Errorf("Accept = %+v", res)
					return
				}
			}
		})
	}
	for range 200 {
		f.p.Fleet()
		runtime.Gosched()
	}
	close(stop)
	wg.Wait()
	// Settled: every device is found again, each under its own vehicle.
	storetest.MustOK(t, f.p.Reload(f.ctx))
	for _, v := range vehicles {
		if got, ok := f.p.VehicleOf(v.DeviceID); !ok || got != v.ID {
			t.Errorf("device %s: vehicle %d, %v; want %d", v.DeviceID, got, ok, v.ID)
		}
	}
	if len(f.p.Fleet()) != n {
		t.Errorf("fleet of %d, want %d", len(f.p.Fleet()), n)
	}
}

// BenchmarkFlushArrange sorts a flush of 5,000 positions from 1,000 vehicles (each vehicle's five
// in time order, the vehicles interleaved as batches from many trackers are), as PostgreSQL's
// writers get it.
func BenchmarkFlushArrange(b *testing.B) {
	const n, vehicles = 5000, 1000
	in := make([]liftrescue.Position, n)
	for i := range in {
		in[i] = liftrescue.Position{VehicleID: int64(1 + (i*7919)%vehicles), Fix: fix(dev(i%vehicles), i/vehicles, 0)}
	}
	p := &Pipeline{size: n}
	b.ReportAllocs()
	for b.Loop() {
		// As Accept leaves them: batches of 1,000 in buffers of the pool.
		var bufs []*[]liftrescue.Position
		for from := 0; from < n; from += 1000 {
			buf := positionBuffers.Get().(*[]liftrescue.Position)
			*buf = append((*buf)[:0], in[from:from+1000]...)
			bufs = append(bufs, buf)
		}
		p.pending = p.pending[:0]
		p.arrange(bufs)
	}
	if !sortedForStore(p.pending) {
		b.Fatal("not sorted")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/position")
}
