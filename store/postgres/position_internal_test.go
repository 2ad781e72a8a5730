package postgres

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/storetest"
)

// BenchmarkEncodeRuns cuts a batch into runs and encodes them for COPY, the client's own work in
// an append, for the shapes of storetest.BenchmarkAppendPositionsOf: shuffled, every vehicle's
// fixes 20 ms apart; and the flush of 50,000 sorted by vehicle and time, as the ingest pipeline
// hands it on.
func BenchmarkEncodeRuns(b *testing.B) {
	for _, shape := range []struct {
		size, vehicles int
		sorted         bool
	}{{1000, 1000, false}, {1000, 50, false}, {50_000, 10_000, false}, {50_000, 10_000, true}} {
		b.Run(fmt.Sprintf("size=%d/vehicles=%d/sorted=%t", shape.size, shape.vehicles, shape.sorted), func(b *testing.B) {
			ids := make([]int64, shape.vehicles)
			for i := range ids {
				ids[i] = int64(i + 1)
			}
			ps := storetest.PositionBatch(ids, shape.size, time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC))
			for i := range ps {
				ps[i].Time = ps[i].Time.Add(time.Duration(i/len(ids)) * 20 * time.Millisecond)
			}
			if shape.sorted {
				slices.SortStableFunc(ps, func(a, b liftrescue.Position) int {
					return cmp.Or(cmp.Compare(a.VehicleID, b.VehicleID), a.Time.Compare(b.Time))
				})
			}
			var rb runBuffers
			for b.Loop() {
				rb.cut(ps)
				rb.copy = rb.encode(rb.copy[:0], ps, rb.singles)
				rb.copy = rb.encode(rb.copy, ps, rb.runs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*shape.size), "ns/fix")
		})
	}
}
