package geo

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// Test areas are drawn on a lattice of 0.001° (about 100 m) from 117.3E 34.8N, in Zaozhuang.

// areaAt returns the lattice point x, y.
func areaAt(x, y float64) orb.Point { return orb.Point{117.3 + x*0.001, 34.8 + y*0.001} }

// areaRingOf returns the ring through the lattice points x0, y0, x1, y1, … as given: it is closed
// only if the last point repeats the first.
func areaRingOf(xy ...float64) orb.Ring {
	r := make(orb.Ring, 0, len(xy)/2)
	for i := 0; i+1 < len(xy); i += 2 {
		r = append(r, areaAt(xy[i], xy[i+1]))
	}
	return r
}

// areaSquare returns the closed counter-clockwise square from x0, y0 to x1, y1.
func areaSquare(x0, y0, x1, y1 float64) orb.Ring {
	return areaRingOf(x0, y0, x1, y0, x1, y1, x0, y1, x0, y0)
}

func areaReversed(r orb.Ring) orb.Ring {
	out := make(orb.Ring, len(r))
	for i, p := range r {
		out[len(r)-1-i] = p
	}
	return out
}

// areaCircle returns a closed ring of n vertices, the last repeating the first, on a circle of
// 2 km around the lattice origin.
func areaCircle(n int, clockwise bool) orb.Ring {
	r := make(orb.Ring, n)
	for i := range n - 1 {
		a := 2 * math.Pi * float64(i) / float64(n-1)
		if clockwise {
			a = -a
		}
		r[i] = orb.Point{117.3 + 0.02*math.Cos(a)/math.Cos(34.8*math.Pi/180), 34.8 + 0.02*math.Sin(a)}
	}
	r[n-1] = r[0]
	return r
}

// areaStar returns a closed star of long spikes around the lattice origin, valid, but a shape no
// grid separates: every spike runs from the rim almost to the centre.
func areaStar(spikes int) orb.Ring {
	ring := make(orb.Ring, 0, 2*spikes+1)
	for i := range 2 * spikes {
		r := 0.02
		if i%2 == 1 {
			r = 0.001
		}
		a := math.Pi * float64(i) / float64(spikes)
		ring = append(ring, orb.Point{117.3 + r*math.Cos(a), 34.8 + r*math.Sin(a)})
	}
	return append(ring, ring[0])
}

// areaComb returns a closed counter-clockwise comb of n tall teeth on a base: every tooth spans
// the comb's whole height.
func areaComb(n int) orb.Ring {
	r := areaRingOf(0, -1, float64(2*n+1), -1, float64(2*n+1), 10)
	for i := n; i >= 1; i-- {
		x := float64(2 * i)
		r = append(r, areaAt(x, 10), areaAt(x, 0), areaAt(x-1, 0), areaAt(x-1, 10))
	}
	return append(r, areaAt(0, 10), areaAt(0, -1))
}

type areaProblem struct{ field, phrase string }

func TestCheckAreaRefuses(t *testing.T) {
	const ring00 = "geometry.coordinates[0][0]"
	bigRing := areaCircle(liftrescue.MaxGridVertices+1, false)
	bigRing[5] = orb.Point{math.NaN(), 34.8} // never looked at: the count alone refuses the ring
	// A scribble: 101 points on a circle joined by taking every 50th, so that each edge crosses
	// nearly every other, some 5,000 crossings in all.
	scribble := make(orb.Ring, 0, 102)
	for i := range 101 {
		a := 2 * math.Pi * float64(i*50%101) / 101
		scribble = append(scribble, orb.Point{117.3 + 0.01*math.Cos(a), 34.8 + 0.01*math.Sin(a)})
	}
	scribble = append(scribble, scribble[0])
	tests := []struct {
		name string
		in   orb.MultiPolygon
		want []areaProblem
	}{
		{"empty", orb.MultiPolygon{}, []areaProblem{{"geometry", "has no polygon"}}},
		{"polygon without ring", orb.MultiPolygon{{areaSquare(0, 0, 1, 1)}, {}},
			[]areaProblem{{"geometry.coordinates[1]", "polygon 1 has no ring"}}},
		{"over the vertex cap", orb.MultiPolygon{{bigRing}},
			[]areaProblem{{"geometry", "has 20001 vertices, at most 20000 are allowed"}}},
		{"NaN", orb.MultiPolygon{{areaRingOf(0, 0, 1, 0, math.NaN(), 1, 0, 1, 0, 0)}},
			[]areaProblem{{ring00 + "[2]", "polygon 0 ring 0 vertex 2: coordinates must be finite numbers"}}},
		{"first bad vertex of each ring", orb.MultiPolygon{
			{{{117.3, 34.8}, {200, 34.8}, {117.31, 95}, {117.3, 34.8}}},
			{{{117.3, 34.8}, {0, 0}, {117.31, 34.81}, {117.3, 34.8}}},
		}, []areaProblem{
			{ring00 + "[1]", "polygon 0 ring 0 vertex 1: longitude must be between -180 and 180"},
			{"geometry.coordinates[1][0][1]", "polygon 1 ring 0 vertex 1: 0,0 is not a real position"},
		}},
		{"unclosed ring", orb.MultiPolygon{{areaRingOf(0, 0, 1, 0, 1, 1, 0, 1)}},
			[]areaProblem{{ring00, "polygon 0 ring 0 is not closed: its last point must repeat its first"}}},
		{"3-point ring", orb.MultiPolygon{{areaRingOf(0, 0, 1, 0, 1, 1)}},
			[]areaProblem{{ring00, "polygon 0 ring 0 has 3 points, a closed ring needs at least 4"}}},
		{"two distinct points", orb.MultiPolygon{{areaRingOf(0, 0, 1, 0, 1, 0, 0, 0)}},
			[]areaProblem{{ring00, "has only 2 distinct points"}}},
		{"one point repeated", orb.MultiPolygon{{areaRingOf(0, 0, 0, 0, 0, 0, 0, 0)}},
			[]areaProblem{{ring00, "has only 1 distinct point, a ring needs at least 3"}}},
		{"collinear points", orb.MultiPolygon{{areaRingOf(0, 0, 1, 0, 2, 0, 0, 0)}},
			[]areaProblem{{ring00, "polygon 0 ring 0 has no area"}}},
		{"bowtie", orb.MultiPolygon{{areaRingOf(0, 0, 1, 1, 1, 0, 0, 1, 0, 0)}},
			[]areaProblem{{ring00, "polygon 0 ring 0: edges 0–1 and 2–3 cross near 117.3005000,34.8005000"}}},
		{"bowtie named by input edges despite a repeated point", orb.MultiPolygon{{areaRingOf(0, 0, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0)}},
			[]areaProblem{{ring00, "edges 1–2 and 3–4 cross"}}},
		{"figure 8 touching itself at one vertex", orb.MultiPolygon{{areaRingOf(0, 0, 1, 1, 2, 0, 2, 2, 1, 1, 0, 2, 0, 0)}},
			[]areaProblem{{ring00, "touch at 117.3010000,34.8010000"}}},
		{"spike", orb.MultiPolygon{{areaRingOf(0, 0, 2, 0, 2, 1, 3, 1, 2, 1, 2, 2, 0, 2, 0, 0)}},
			[]areaProblem{
				{ring00, "edges 2–3 and 3–4 fold back on each other at 117.3030000,34.8010000 (a spike)"},
				{ring00, "touch at 117.3020000,34.8010000"},
			}},
		{"spike at the closing point", orb.MultiPolygon{{areaRingOf(-1, 0, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, -1, 0)}},
			[]areaProblem{
				{ring00, "edges 5–6 and 0–1 fold back on each other at 117.2990000,34.8000000 (a spike)"},
				{ring00, "touch at 117.3000000,34.8000000"},
			}},
		{"hole outside its shell", orb.MultiPolygon{{areaSquare(0, 0, 4, 4), areaSquare(5, 1, 6, 2)}},
			[]areaProblem{{"geometry.coordinates[0][1]", "polygon 0 ring 1 (a hole) is not inside its shell"}}},
		{"shell inside its hole", orb.MultiPolygon{{areaSquare(1, 1, 2, 2), areaSquare(0, 0, 4, 4)}},
			[]areaProblem{{"geometry.coordinates[0][1]", "is not inside its shell"}}},
		{"hole crossing its shell", orb.MultiPolygon{{areaSquare(0, 0, 4, 4), areaSquare(3, 1, 5, 2)}},
			[]areaProblem{{"geometry.coordinates[0][1]", "polygon 0 ring 1 (a hole) crosses its shell near"}}},
		{"hole touching its shell", orb.MultiPolygon{{areaSquare(0, 0, 4, 4), areaRingOf(4, 2, 3, 3, 3, 1, 4, 2)}},
			[]areaProblem{{"geometry.coordinates[0][1]", "touches its shell at 117.3040000,34.8020000"}}},
		{"hole inside a hole", orb.MultiPolygon{{areaSquare(0, 0, 10, 10), areaSquare(1, 1, 9, 9), areaSquare(3, 3, 5, 5)}},
			[]areaProblem{{"geometry.coordinates[0][2]", "polygon 0 ring 2 (a hole) lies inside ring 1, another hole"}}},
		{"holes crossing", orb.MultiPolygon{{areaSquare(0, 0, 10, 10), areaSquare(1, 1, 5, 5), areaSquare(4, 4, 6, 6)}},
			[]areaProblem{{"geometry.coordinates[0][2]", "polygon 0: holes 1 and 2 cross near"}}},
		{"overlapping polygons", orb.MultiPolygon{{areaSquare(0, 0, 2, 2)}, {areaSquare(1, 1, 3, 3)}},
			[]areaProblem{{"geometry.coordinates[1]", "polygons 0 and 1 overlap: their edges cross near"}}},
		{"polygon inside another", orb.MultiPolygon{{areaSquare(0, 0, 4, 4)}, {areaSquare(1, 1, 2, 2)}},
			[]areaProblem{{"geometry.coordinates[1]", "polygons 0 and 1 overlap: polygon 1 lies inside polygon 0"}}},
		{"polygon around another", orb.MultiPolygon{{areaSquare(1, 1, 2, 2)}, {areaSquare(0, 0, 4, 4)}},
			[]areaProblem{{"geometry.coordinates[1]", "polygon 0 lies inside polygon 1"}}},
		{"polygons touching at a corner", orb.MultiPolygon{{areaSquare(0, 0, 1, 1)}, {areaSquare(1, 1, 2, 2)}},
			[]areaProblem{{"geometry.coordinates[1]", "polygons 0 and 1 touch at 117.3010000,34.8010000"}}},
		{"polygons sharing an edge", orb.MultiPolygon{{areaSquare(0, 0, 1, 1)}, {areaSquare(1, 0, 2, 1)}},
			[]areaProblem{{"geometry.coordinates[1]", "polygons 0 and 1 touch at"}}},
		{"too complex", orb.MultiPolygon{{areaStar(liftrescue.MaxGridVertices/2 - 1)}},
			[]areaProblem{{"geometry", "is too complex to check"}}},
		{"problems capped at 50", orb.MultiPolygon{{scribble}}, func() []areaProblem {
			want := make([]areaProblem, maxAreaDetails)
			for i := range want {
				want[i] = areaProblem{ring00, "cross near"}
			}
			return want
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, details := CheckArea(tt.in)
			if got != nil {
				t.Errorf("returned an area with problems: %v", got)
			}
			assertAreaProblems(t, details, tt.want)
		})
	}
}

// assertAreaProblems checks that every wanted problem was reported, and nothing else.
func assertAreaProblems(t *testing.T, details []liftrescue.Detail, want []areaProblem) {
	t.Helper()
	used := make([]bool, len(details))
	for _, w := range want {
		found := false
		for i, d := range details {
			if !used[i] && d.Field == w.field && strings.Contains(d.Reason, w.phrase) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("no problem at %s saying %q", w.field, w.phrase)
		}
	}
	for i, d := range details {
		if !used[i] {
			t.Errorf("unexpected problem at %s: %s", d.Field, d.Reason)
		}
	}
}

func TestCheckAreaNormalises(t *testing.T) {
	circle := areaCircle(liftrescue.MaxGridVertices, true)
	tests := []struct {
		name     string
		in, want orb.MultiPolygon
	}{
		{"clockwise square turned counter-clockwise",
			orb.MultiPolygon{{areaRingOf(0, 0, 0, 1, 1, 1, 1, 0, 0, 0)}},
			orb.MultiPolygon{{areaRingOf(0, 0, 1, 0, 1, 1, 0, 1, 0, 0)}}},
		{"counter-clockwise square unchanged",
			orb.MultiPolygon{{areaSquare(0, 0, 1, 1)}},
			orb.MultiPolygon{{areaSquare(0, 0, 1, 1)}}},
		{"counter-clockwise hole turned clockwise",
			orb.MultiPolygon{{areaSquare(0, 0, 4, 4), areaSquare(1, 1, 2, 2)}},
			orb.MultiPolygon{{areaSquare(0, 0, 4, 4), areaReversed(areaSquare(1, 1, 2, 2))}}},
		{"repeated points dropped",
			orb.MultiPolygon{{areaRingOf(0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0)}},
			orb.MultiPolygon{{areaSquare(0, 0, 1, 1)}}},
		{"polygons side by side",
			orb.MultiPolygon{{areaSquare(0, 0, 1, 1)}, {areaReversed(areaSquare(2, 0, 3, 1))}},
			orb.MultiPolygon{{areaSquare(0, 0, 1, 1)}, {areaSquare(2, 0, 3, 1)}}},
		{"polygon in another's hole",
			orb.MultiPolygon{{areaSquare(0, 0, 10, 10), areaReversed(areaSquare(2, 2, 8, 8))}, {areaSquare(4, 4, 6, 6)}},
			orb.MultiPolygon{{areaSquare(0, 0, 10, 10), areaReversed(areaSquare(2, 2, 8, 8))}, {areaSquare(4, 4, 6, 6)}}},
		{"20,000-vertex circle", orb.MultiPolygon{{circle}}, orb.MultiPolygon{{areaReversed(circle)}}},
		{"comb of 1,000 teeth", orb.MultiPolygon{{areaComb(1000)}}, orb.MultiPolygon{{areaComb(1000)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.in.Clone()
			got, details := CheckArea(tt.in)
			if len(details) > 0 {
				t.Fatalf("problems in a valid area: %+v", details)
			}
			if !got.Equal(tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
			if !tt.in.Equal(before) {
				t.Errorf("the input was modified")
			}
			for _, poly := range got {
				for j, ring := range poly {
					want := orb.CW
					if j == 0 {
						want = orb.CCW
					}
					if ring.Orientation() != want {
						t.Errorf("ring %d winds %v, want %v", j, ring.Orientation(), want)
					}
				}
			}
		})
	}
}

// TestCheckAreaVertexCapDoesNoOtherWork shows that an area over the cap is refused without being
// read: the bytes allocated to refuse 200,000 vertices are a sliver of the area, where a full
// check would copy, clean and sweep it. (Bytes, not a count of allocations, which the race
// detector changes.)
func TestCheckAreaVertexCapDoesNoOtherWork(t *testing.T) {
	n := 10 * liftrescue.MaxGridVertices
	in := orb.MultiPolygon{{areaCircle(n, false)}}
	if _, details := CheckArea(in); len(details) != 1 {
		t.Fatalf("%d problems, want the cap alone", len(details))
	}
	inBytes := uint64(n) * uint64(unsafe.Sizeof(orb.Point{}))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		CheckArea(in)
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > inBytes/100 {
		t.Errorf("%d bytes allocated to refuse an area of %d bytes: it was read", per, inBytes)
	}
}

// TestAreaOrientIsExact compares the orientation predicate with rational arithmetic on triples
// on one line or within a few ulps of it: in one city, where coordinate differences are exact and
// the float64 expansion stage must settle every case, and across the globe, where they are not
// and the plain float64 determinant often gets the sign wrong.
func TestAreaOrientIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, family := range []struct {
		name                string
		lon, lat, w, h      float64
		expansionSettlesAll bool
	}{
		{"city", 117.3, 34.8, 0.01, 0.01, true},
		{"globe", -180, -90, 360, 180, false},
	} {
		naiveWrong := 0
		for range 20_000 {
			a := orb.Point{family.lon + rng.Float64()*family.w, family.lat + rng.Float64()*family.h}
			b := orb.Point{family.lon + rng.Float64()*family.w, family.lat + rng.Float64()*family.h}
			s := rng.Float64() * 2
			c := orb.Point{a[0] + s*(b[0]-a[0]), a[1] + s*(b[1]-a[1])}
			for range rng.IntN(3) {
				axis := rng.IntN(2)
				c[axis] = math.Nextafter(c[axis], math.Inf(2*rng.IntN(2)-1))
			}
			want := areaOrientExact(a, b, c)
			if got := areaOrient(a, b, c); got != want {
				t.Fatalf("%s: areaOrient(%v, %v, %v) = %d, want %d", family.name, a, b, c, got, want)
			}
			got, ok := areaOrientExpansion(a, b, c)
			if ok && got != want || !ok && family.expansionSettlesAll {
				t.Fatalf("%s: areaOrientExpansion(%v, %v, %v) = %d, %v, want %d", family.name, a, b, c, got, ok, want)
			}
			naive := (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
			if naive > 0 && want <= 0 || naive < 0 && want >= 0 || naive == 0 && want != 0 {
				naiveWrong++
			}
		}
		if family.name == "globe" && naiveWrong == 0 {
			t.Errorf("no triple was hard for plain float64: the test proves nothing")
		}
	}
	// Underflow: every product is below the smallest normal float64.
	p, q, r := orb.Point{1e-300, 1e-300}, orb.Point{2e-300, 3e-300}, orb.Point{3e-300, 4e-300}
	if got, want := areaOrient(p, q, r), areaOrientExact(p, q, r); got != want || want == 0 {
		t.Errorf("tiny: areaOrient = %d, exact %d", got, want)
	}
}

// TestAreaRingContainsAgreesWithPlanar checks the banded exact point-in-ring test against orb's
// planar.RingContains, at random points, which are never close enough to an edge for rounding
// to sway planar's answer.
func TestAreaRingContainsAgreesWithPlanar(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	wobbly := make(orb.Ring, 0, 1001)
	for i := range 1000 {
		a := 2 * math.Pi * float64(i) / 1000
		r := 0.01 * (1 + 0.8*rng.Float64())
		wobbly = append(wobbly, orb.Point{117.3 + r*math.Cos(a), 34.8 + r*math.Sin(a)})
	}
	wobbly = append(wobbly, wobbly[0])
	for name, ring := range map[string]orb.Ring{
		"square":   areaSquare(0, 0, 1, 1),
		"circle":   areaCircle(2000, false),
		"comb":     areaComb(300),
		"wobbly":   wobbly,
		"star":     areaStar(200),
		"reversed": areaReversed(wobbly),
	} {
		t.Run(name, func(t *testing.T) {
			c := &areaCheck{flawed: make([]bool, 1)}
			r := c.readRing(0, 0, ring)
			if !r.ok {
				t.Fatalf("not a ring: %v", c.details)
			}
			box := ring.Bound().Pad(0.001)
			for range 2000 {
				p := orb.Point{box.Min[0] + rng.Float64()*(box.Max[0]-box.Min[0]), box.Min[1] + rng.Float64()*(box.Max[1]-box.Min[1])}
				if got, want := c.ringContains(&r, p), planar.RingContains(ring, p); got != want {
					t.Fatalf("ringContains(%v) = %v, planar says %v", p, got, want)
				}
			}
		})
	}
}

// TestAreaSweepFindsEveryMeeting compares the grid's pairs with all pairs: every two edges that
// meet must be tested, at city scale, at the scale of rounding, across half the globe and on a
// lattice where edges run along each other and through each other's vertices.
func TestAreaSweepFindsEveryMeeting(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	scales := []struct {
		name      string
		lon, lat  float64
		size      float64
		onLattice bool
	}{
		{"city", 117.3, 34.8, 0.01, false},
		{"city lattice", 117.3, 34.8, 0.01, true},
		{"millimetres", 117.3, 34.8, 1e-8, false},
		{"a few ulps", 117.3, 34.8, 1e-13, false},
		{"half the globe", -60, -40, 150, false},
	}
	for _, sc := range scales {
		t.Run(sc.name, func(t *testing.T) {
			for trial := range 40 {
				n := 3 + rng.IntN(300)
				pts := make([]orb.Point, 0, n)
				for len(pts) < n {
					x, y := rng.Float64(), rng.Float64()
					if trial%2 == 1 { // long thin strokes and short steps mixed
						x = x * x * x
					}
					if sc.onLattice {
						x, y = math.Round(x*8)/8, math.Round(y*8)/8
					}
					p := orb.Point{sc.lon + x*sc.size, sc.lat + y*sc.size}
					if len(pts) > 0 && (p == pts[len(pts)-1] || len(pts) == n-1 && p == pts[0]) {
						continue
					}
					pts = append(pts, p)
				}
				c := &areaCheck{rings: []areaRing{{pts: pts, box: orb.MultiPoint(pts).Bound(), ok: true}}, polys: [][2]int{{0, 1}}}
				edges, box := c.polygonEdges(0)
				want := map[[2]int32]bool{}
				for i := range edges {
					for j := i + 1; j < len(edges); j++ {
						a, b := c.rings[0].edge(i)
						p, q := c.rings[0].edge(j)
						if kind, _ := areaContact(a, b, p, q); kind != areaApart {
							want[[2]int32{int32(i), int32(j)}] = true
						}
					}
				}
				got := map[[2]int32]bool{}
				c.sweep(edges, box, func(x, y areaEdge) bool {
					if got[[2]int32{x.k, y.k}] {
						t.Fatalf("pair %d, %d tested twice", x.k, y.k)
					}
					got[[2]int32{x.k, y.k}] = true
					return true
				})
				if c.tooComplex {
					continue
				}
				for pair := range want {
					if !got[pair] {
						a, b := c.rings[0].edge(int(pair[0]))
						p, q := c.rings[0].edge(int(pair[1]))
						t.Fatalf("trial %d: edges %v (%v–%v) and %v (%v–%v) meet but were never tested", trial, pair[0], a, b, pair[1], p, q)
					}
				}
			}
		})
	}
}
