package geo

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks of the live index at the sizes of the issue: 10,000 vehicles, 1,000,000 elevators
// spread as buildings are in a city (see cityPoint). Run them with
//
//	go test -run '^$' -bench . -benchtime 2s ./geo

var million struct {
	once sync.Once
	ix   *Index
}

// millionElevators returns an index of 1,000,000 elevators, built once for all benchmarks.
func millionElevators(b *testing.B) *Index {
	million.once.Do(func() {
		ix := mustIndex(b)
		if _, err := ix.LoadElevators(seqOf(cityPoints(100, 1_000_000))); err != nil {
			b.Fatal(err)
		}
		million.ix = ix
	})
	return million.ix
}

func queryPoints(seed uint64, n int) []testPoint { return cityPoints(seed, n) }

func BenchmarkNearest5Of10000Vehicles(b *testing.B) {
	ix := mustIndex(b)
	mustVehicles(b, ix, cityPoints(11, 10_000))
	qs := queryPoints(12, 4096)
	for _, bc := range []struct {
		name string
		pred func(VehicleState) bool
	}{
		{"all", nil},
		{"one_in_4_qualifies", func(s VehicleState) bool { return s.ID%4 == 0 }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				q := &qs[i%len(qs)]
				i++
				if got := ix.NearestVehicles(q.lon, q.lat, 5, bc.pred); len(got) != 5 {
					b.Fatalf("%d results", len(got))
				}
			}
		})
	}
}

// BenchmarkMoveVehicle applies one fix a time to 10,000 vehicles, each a few tens of metres on
// from the last.
func BenchmarkMoveVehicle(b *testing.B) {
	ix := mustIndex(b)
	ps := cityPoints(13, 10_000)
	mustVehicles(b, ix, ps)
	steps := make([][2]float64, 4096)
	r := rand.New(rand.NewPCG(14, 14))
	for i := range steps {
		steps[i] = [2]float64{(r.Float64() - 0.5) * 6e-4, (r.Float64() - 0.5) * 6e-4}
	}
	i := 0
	for b.Loop() {
		p := &ps[i%len(ps)]
		s := steps[i%len(steps)]
		p.lon += s[0]
		p.lat += s[1]
		if !ix.MoveVehicle(p.id, fixAt(p.lon, p.lat, t0.Add(time.Duration(i/len(ps)+1)*time.Second))) {
			b.Fatal("not moved")
		}
		i++
	}
}

// BenchmarkMoveVehicleParallel is BenchmarkMoveVehicle from every core at once, while the
// writers contend for the vehicle lock.
func BenchmarkMoveVehicleParallel(b *testing.B) {
	ix := mustIndex(b)
	ps := cityPoints(13, 10_000)
	mustVehicles(b, ix, ps)
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		// Each goroutine moves its own vehicles, so that each vehicle's fixes stay in order.
		g := int(next.Add(1))
		r := rand.New(rand.NewPCG(uint64(g), 15))
		i := 0
		for pb.Next() {
			p := ps[(i*64+g)%len(ps)]
			ix.MoveVehicle(p.id, fixAt(p.lon+(r.Float64()-0.5)*6e-4, p.lat+(r.Float64()-0.5)*6e-4, t0.Add(time.Duration(i+1)*time.Second)))
			i++
		}
	})
}

func BenchmarkElevatorsWithin500mOf1M(b *testing.B) {
	ix := millionElevators(b)
	qs := queryPoints(16, 4096)
	i, found := 0, 0
	for b.Loop() {
		q := &qs[i%len(qs)]
		i++
		found += len(ix.ElevatorsWithin(q.lon, q.lat, 500, nil))
	}
	b.ReportMetric(float64(found)/float64(i), "elevators/op")
}

func BenchmarkLoad1MElevators(b *testing.B) {
	ps := cityPoints(100, 1_000_000)
	for b.Loop() {
		ix := mustIndex(b)
		if _, err := ix.LoadElevators(seqOf(ps)); err != nil {
			b.Fatal(err)
		}
	}
}

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkMemory1MElevators10kVehicles reports the heap the index takes with a million
// elevators and 10,000 vehicles in it (HeapInuse after GC, less what was in use before); its
// ns/op is that of ElevatorCount, of no interest.
func BenchmarkMemory1MElevators10kVehicles(b *testing.B) {
	es, vs := cityPoints(100, 1_000_000), cityPoints(17, 10_000)
	before := heapInuse()
	ix := mustIndex(b)
	if _, err := ix.LoadElevators(seqOf(es)); err != nil {
		b.Fatal(err)
	}
	mustVehicles(b, ix, vs)
	after := heapInuse()
	for b.Loop() {
		ix.ElevatorCount()
	}
	// Reported after the loop, which would otherwise reset them.
	b.ReportMetric(float64(after-before)/(1<<20), "MiB-index")
	b.ReportMetric(float64(after-before)/float64(len(es)), "B/elevator")
	runtime.KeepAlive(es)
	runtime.KeepAlive(vs)
}
