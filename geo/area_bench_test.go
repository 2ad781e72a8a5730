package geo

import (
	"math"
	"testing"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb"
)

// Benchmarks of CheckArea at the vertex cap. Run them with
//
//	go test -run '^$' -bench CheckArea ./geo

func benchmarkCheckArea(b *testing.B, in orb.MultiPolygon, wantProblems bool) {
	b.Helper()
	if _, details := CheckArea(in); (len(details) > 0) != wantProblems {
		b.Fatalf("problems: %+v", details)
	}
	b.ReportAllocs()
	for b.Loop() {
		CheckArea(in)
	}
}

// BenchmarkCheckArea20000 checks a valid circle of liftrescue.MaxGridVertices vertices, given
// clockwise so that it is turned too.
func BenchmarkCheckArea20000(b *testing.B) {
	benchmarkCheckArea(b, orb.MultiPolygon{{areaCircle(liftrescue.MaxGridVertices, true)}}, false)
}

// BenchmarkCheckAreaDenseStretch checks an outline whose vertices crowd into a twentieth of it, as
// a district boundary that follows a river in detail and a road in a few straight lines: the
// grid's cells, sized for the whole box, hold hundreds of edges there.
func BenchmarkCheckAreaDenseStretch(b *testing.B) {
	const n = liftrescue.MaxGridVertices
	ring := make(orb.Ring, 0, n)
	for i := range n - 1 {
		var a float64
		if i < n-1000 {
			a = 2 * math.Pi * 0.05 * float64(i) / float64(n-1000)
		} else {
			a = 2 * math.Pi * (0.05 + 0.95*float64(i-(n-1000))/1000)
		}
		ring = append(ring, orb.Point{117.3 + 0.02*math.Cos(a), 34.8 + 0.02*math.Sin(a)})
	}
	ring = append(ring, ring[0])
	benchmarkCheckArea(b, orb.MultiPolygon{{ring}}, false)
}

// BenchmarkCheckAreaManyHoles checks a shell of 7,000 vertices with 2,499 small square holes,
// each of which is tested against the shell.
func BenchmarkCheckAreaManyHoles(b *testing.B) {
	poly := orb.Polygon{areaCircle(7000, false)}
	for i := range 2499 {
		x, y := float64(i%50)*0.5-12.5, float64(i/50)*0.5-12.5
		poly = append(poly, areaReversed(areaSquare(x, y, x+0.25, y+0.25)))
	}
	benchmarkCheckArea(b, orb.MultiPolygon{poly}, false)
}

// BenchmarkCheckAreaStar checks a star of 9,999 long spikes, the shape no grid separates: it is
// refused as too complex, and this measures how soon.
func BenchmarkCheckAreaStar(b *testing.B) {
	benchmarkCheckArea(b, orb.MultiPolygon{{areaStar(liftrescue.MaxGridVertices/2 - 1)}}, true)
}
