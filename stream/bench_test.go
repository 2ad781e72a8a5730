package stream

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
)

// Run them with
//
//	go test -run '^$' -bench . -benchmem ./stream

func benchVehicle() liftrescue.LiveVehicle {
	v := &liftrescue.Vehicle{ID: 4711, TeamID: 12, OrganizationID: 345, Plate: "鲁D 12345", DeviceID: "013912345678", OnDuty: true}
	p := &liftrescue.LivePosition{Lat: 34.8612345, Lon: 117.5512345, Time: t0, SpeedKmh: liftrescue.Known(32.5),
		Heading: liftrescue.Known(270), Cell: "8940c4a2c4bffff"}
	return liftrescue.NewLiveVehicle(v, p, liftrescue.Liveness{StaleAfter: time.Minute, OfflineAfter: time.Hour}, t0.Add(2*time.Second))
}

// BenchmarkPublish publishes a vehicle event to subscribers that read as fast as they can.
func BenchmarkPublish(b *testing.B) {
	data := benchVehicle()
	for _, n := range []int{0, 100} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			h := NewHub(HubConfig{SubscriberBuffer: 1 << 16})
			var wg sync.WaitGroup
			for range n {
				s, _ := h.subscribe("", filter{})
				wg.Go(func() {
					for {
						select {
						case <-s.ch:
						case <-s.done:
							return
						}
					}
				})
			}
			for b.Loop() {
				if err := h.Publish(KindVehicle, data); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(h.Stats().CutOff), "cut_off")
			h.Close()
			wg.Wait()
		})
	}
}

// BenchmarkVehicleFeedTick ticks over 10,000 vehicles of which none, a tenth or all moved since
// the last tick (trackers report every 5 to 30 s, so a tenth is a busy second).
func BenchmarkVehicleFeedTick(b *testing.B) {
	const n = 10_000
	for _, moving := range []int{0, n / 10, n} {
		b.Run(fmt.Sprintf("vehicles=%d/moved=%d", n, moving), func(b *testing.B) {
			ix, err := geo.NewIndex(geo.IndexOptions{})
			if err != nil {
				b.Fatal(err)
			}
			rnd := rand.New(rand.NewPCG(1, 2))
			fleet := make([]*liftrescue.Vehicle, n)
			lon, lat := make([]float64, n), make([]float64, n)
			for i := range fleet {
				fleet[i] = &liftrescue.Vehicle{ID: int64(i + 1), TeamID: int64(i/4 + 1), OrganizationID: int64(i/40 + 1),
					Plate: fmt.Sprintf("鲁D %05d", i), DeviceID: fmt.Sprintf("0139%08d", i), OnDuty: true}
				lon[i], lat[i] = 117.3+rnd.Float64()*0.5, 34.6+rnd.Float64()*0.5
				ix.MoveVehicle(int64(i+1), fix(lon[i], lat[i], t0))
			}
			h := NewHub(HubConfig{})
			defer h.Close()
			now := t0
			// Statuses stay live, so that the figures count moves only.
			live := liftrescue.Liveness{StaleAfter: 1000 * time.Hour, OfflineAfter: 1000 * time.Hour}
			f, err := NewVehicleFeed(VehicleFeedConfig{Hub: h, Index: ix, Liveness: live, Fleet: func() []*liftrescue.Vehicle { return fleet }})
			if err != nil {
				b.Fatal(err)
			}
			if err := f.Tick(now); err != nil { // announces everyone
				b.Fatal(err)
			}
			before := h.Stats().Published
			for b.Loop() {
				b.StopTimer()
				now = now.Add(time.Second)
				for k := range moving {
					i := rnd.IntN(n)
					if moving == n {
						i = k
					}
					lon[i] += 1e-4
					ix.MoveVehicle(int64(i+1), fix(lon[i], lat[i], now))
				}
				b.StartTimer()
				if err := f.Tick(now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(h.Stats().Published-before)/float64(b.N), "events/tick")
		})
	}
}
