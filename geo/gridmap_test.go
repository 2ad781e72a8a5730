package geo_test

import (
	"math/rand/v2"
	"testing"

	"github.com/liftrescue/liftrescue/geo"
	"github.com/liftrescue/liftrescue/geo/geotest"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/uber/h3-go/v4"
)

var cityBox = orb.Bound{Min: orb.Point{117.20, 34.75}, Max: orb.Point{117.50, 34.95}}

// reference is the slow answer: the first area that holds the point, by a walk around every ring.
func reference(areas []orb.MultiPolygon, p orb.Point) int {
	for i, a := range areas {
		if planar.MultiPolygonContains(a, p) {
			return i
		}
	}
	return -1
}

// cShape is a concave grid with a hole, around (117.30, 34.85).
func cShape() orb.MultiPolygon {
	shell := orb.Ring{{117.28, 34.83}, {117.33, 34.83}, {117.33, 34.835}, {117.29, 34.835}, {117.29, 34.865},
		{117.33, 34.865}, {117.33, 34.87}, {117.28, 34.87}, {117.28, 34.83}}
	hole := orb.Ring{{117.282, 34.84}, {117.282, 34.86}, {117.286, 34.86}, {117.286, 34.84}, {117.282, 34.84}}
	return orb.MultiPolygon{{shell, hole}, {{{117.35, 34.80}, {117.36, 34.80}, {117.36, 34.81}, {117.35, 34.80}}}}
}

func TestGridMapAgreesWithPointInPolygon(t *testing.T) {
	areas := append(geotest.Tiling(6, 4, orb.Bound{Min: orb.Point{117.40, 34.75}, Max: orb.Point{117.50, 34.95}}, 30, 1), cShape())
	m, err := geo.NewGridMap(areas)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	var dst []int
	for i := 0; i < 50000; i++ {
		p := orb.Point{cityBox.Min[0] + rng.Float64()*(cityBox.Max[0]-cityBox.Min[0]), cityBox.Min[1] + rng.Float64()*(cityBox.Max[1]-cityBox.Min[1])}
		want := reference(areas, p)
		if got := m.Locate(p[0], p[1]); got != want {
			t.Fatalf("Locate(%v) = %d, the polygons say %d", p, got, want)
		}
		dst = m.LocateAll(dst[:0], p[0], p[1])
		if (want < 0) != (len(dst) == 0) || (want >= 0 && dst[0] != want) {
			t.Fatalf("LocateAll(%v) = %v, want first %d", p, dst, want)
		}
	}
	if all, boundary := m.Cells(); boundary == 0 || boundary >= all {
		t.Errorf("cells %d, boundary %d: want some of each", all, boundary)
	}
	if o := m.Overlaps(); len(o) != 0 {
		t.Errorf("a tiling and a separate shape overlap: %+v", o)
	}
}

func TestGridMapKnownCellAnswersAlike(t *testing.T) {
	areas := geotest.Tiling(5, 5, cityBox, 20, 2)
	m, err := geo.NewGridMap(areas)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range geotest.Points(20000, cityBox, 3) {
		c, err := geo.CellAt(p[0], p[1], m.Resolution())
		if err != nil {
			t.Fatal(err)
		}
		if a, b := m.Locate(p[0], p[1]), m.LocateIn(c, p[0], p[1]); a != b || a < 0 {
			t.Fatalf("%v: Locate %d, LocateIn %d (the tiling covers the box)", p, a, b)
		}
	}
}

func TestGridMapReportsOverlaps(t *testing.T) {
	// Two squares of 0.02° overlapping by 0.005° of longitude: about 460 m × 2.2 km ≈ 1.0 km².
	a := orb.MultiPolygon{{{{117.30, 34.80}, {117.32, 34.80}, {117.32, 34.82}, {117.30, 34.82}, {117.30, 34.80}}}}
	b := orb.MultiPolygon{{{{117.315, 34.80}, {117.335, 34.80}, {117.335, 34.82}, {117.315, 34.82}, {117.315, 34.80}}}}
	far := orb.MultiPolygon{{{{117.40, 34.80}, {117.41, 34.80}, {117.41, 34.81}, {117.40, 34.80}}}}
	m, err := geo.NewGridMap([]orb.MultiPolygon{a, far, b})
	if err != nil {
		t.Fatal(err)
	}
	o := m.Overlaps()
	if len(o) != 1 || o[0].A != 0 || o[0].B != 2 {
		t.Fatalf("overlaps %+v, want areas 0 and 2", o)
	}
	want := 0.005 * 0.02 * 111320 * 111320 * 0.8214 // cos(34.81°)
	if o[0].AreaM2 < want*0.85 || o[0].AreaM2 > want*1.15 {
		t.Errorf("overlap %.0f m², want about %.0f", o[0].AreaM2, want)
	}
	if !planar.MultiPolygonContains(a, orb.Point{o[0].Lon, o[0].Lat}) || !planar.MultiPolygonContains(b, orb.Point{o[0].Lon, o[0].Lat}) {
		t.Errorf("the overlap's point %v,%v is not in both", o[0].Lon, o[0].Lat)
	}
	if got := m.Locate(117.318, 34.81); got != 0 {
		t.Errorf("in the overlap the first area wins: got %d", got)
	}
}

func TestGridMapOutsideAndBadPositions(t *testing.T) {
	m, err := geo.NewGridMap([]orb.MultiPolygon{cShape()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]float64{{117.285, 34.85} /* in the hole */, {117.31, 34.85} /* in the bay */, {10, 10}, {200, 95}} {
		if got := m.Locate(p[0], p[1]); got != -1 {
			t.Errorf("Locate(%v) = %d, want -1", p, got)
		}
	}
	if got := m.Locate(117.355, 34.802); got != 0 {
		t.Errorf("the area's second polygon: got %d", got)
	}
}

// bigCity is 200 grids over about 60 × 45 km, borders of 60 vertices a side.
var bigCity = orb.Bound{Min: orb.Point{117.00, 34.60}, Max: orb.Point{117.66, 35.00}}

func BenchmarkGridMapBuild200(b *testing.B) {
	areas := geotest.Tiling(20, 10, bigCity, 60, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := geo.NewGridMap(areas); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGridMapLocate(b *testing.B) {
	m, err := geo.NewGridMap(geotest.Tiling(20, 10, bigCity, 60, 1))
	if err != nil {
		b.Fatal(err)
	}
	pts := geotest.Points(1<<16, bigCity, 2)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := pts[i&(len(pts)-1)]
		m.Locate(p[0], p[1])
		i++
	}
}

// BenchmarkGridMapLocateBoundary is the worst case: every position in a cell a border crosses.
func BenchmarkGridMapLocateBoundary(b *testing.B) {
	areas := geotest.Tiling(20, 10, bigCity, 60, 1)
	m, err := geo.NewGridMap(areas)
	if err != nil {
		b.Fatal(err)
	}
	var pts []orb.Point
	for _, p := range geotest.Points(1<<18, bigCity, 2) {
		if len(m.LocateAll(nil, p[0], p[1])) > 0 {
			if c, _ := geo.CellAt(p[0], p[1], m.Resolution()); !m.Whole(c) {
				pts = append(pts, p)
			}
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := pts[i%len(pts)]
		m.Locate(p[0], p[1])
		i++
	}
}

func BenchmarkGridMapLocateIn(b *testing.B) {
	m, err := geo.NewGridMap(geotest.Tiling(20, 10, bigCity, 60, 1))
	if err != nil {
		b.Fatal(err)
	}
	pts := geotest.Points(1<<16, bigCity, 2)
	cells := make([]geo.Cell, len(pts))
	for i, p := range pts {
		cells[i], _ = geo.CellAt(p[0], p[1], m.Resolution())
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := i & (len(pts) - 1)
		m.LocateIn(cells[k], pts[k][0], pts[k][1])
		i++
	}
}

func TestCellParentIsH3s(t *testing.T) {
	for _, p := range geotest.Points(2000, cityBox, 9) {
		c, err := geo.CellAt(p[0], p[1], 11)
		if err != nil {
			t.Fatal(err)
		}
		for res := 0; res <= 11; res++ {
			want, err := h3.Cell(c).Parent(res)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Parent(res); uint64(got) != uint64(want) {
				t.Fatalf("%s.Parent(%d) = %s, H3 says %s", c, res, got, want)
			}
		}
		if c.Parent(12) != 0 {
			t.Fatal("a finer parent must be 0")
		}
	}
}
