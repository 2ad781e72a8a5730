package geo

import (
	"errors"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb"
)

// cityCores are the urban centres of the demo city, Zaozhuang, with a share of its elevators and
// their spread (a standard deviation, in degrees of latitude: 0.09° is 10 km). A million
// elevators spread so put about 600 within 500 m of the busiest centre and 240 within 500 m of an
// average elevator (700 at most): the density of the densest Chinese city centres, some 800
// elevators to the km².
var cityCores = []struct {
	lon, lat, share, sigma float64
}{
	{117.32, 34.81, 0.30, 0.09}, // Shizhong
	{117.26, 34.80, 0.15, 0.07}, // Xuecheng
	{117.16, 35.09, 0.20, 0.08}, // Tengzhou
	{117.46, 35.10, 0.08, 0.05}, // Shanting
	{117.59, 34.77, 0.08, 0.05}, // Yicheng
	{117.73, 34.56, 0.05, 0.04}, // Taierzhuang
}

// cityPoint returns a position spread as buildings are in a city: 86% in the urban cores, the
// rest anywhere in the prefecture's box.
func cityPoint(r *rand.Rand) (lon, lat float64) {
	x := r.Float64()
	for _, c := range cityCores {
		if x < c.share {
			return c.lon + r.NormFloat64()*c.sigma/math.Cos(c.lat*rad), c.lat + r.NormFloat64()*c.sigma
		}
		x -= c.share
	}
	return 116.8 + r.Float64()*1.2, 34.3 + r.Float64()*1.1
}

type testPoint struct {
	id       int64
	lon, lat float64
}

func cityPoints(seed uint64, n int) []testPoint {
	r := rand.New(rand.NewPCG(seed, 7))
	ps := make([]testPoint, n)
	for i := range ps {
		lon, lat := cityPoint(r)
		ps[i] = testPoint{int64(i + 1), lon, lat}
	}
	return ps
}

func seqOf(ps []testPoint) iter.Seq2[int64, orb.Point] {
	return func(yield func(int64, orb.Point) bool) {
		for _, p := range ps {
			if !yield(p.id, orb.Point{p.lon, p.lat}) {
				return
			}
		}
	}
}

func mustIndex(tb testing.TB) *Index {
	tb.Helper()
	ix, err := NewIndex(IndexOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return ix
}

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func fixAt(lon, lat float64, at time.Time) liftrescue.Fix {
	return liftrescue.Fix{DeviceID: "d", Lon: lon, Lat: lat, Time: at, SpeedKmh: 20, Heading: 90, AccuracyM: 5, AltitudeM: math.NaN(), Battery: math.NaN()}
}

func mustVehicles(tb testing.TB, ix *Index, ps []testPoint) {
	tb.Helper()
	for _, p := range ps {
		if !ix.MoveVehicle(p.id, fixAt(p.lon, p.lat, t0)) {
			tb.Fatalf("vehicle %d not placed", p.id)
		}
	}
}

func TestNewIndexOptions(t *testing.T) {
	tests := []struct {
		res, want int
		wantErr   bool
	}{
		{0, 9, false}, {7, 7, false}, {15, 15, false}, {-1, 0, true}, {16, 0, true},
	}
	for _, tt := range tests {
		ix, err := NewIndex(IndexOptions{H3Resolution: tt.res})
		if (err != nil) != tt.wantErr {
			t.Fatalf("NewIndex(res %d) error = %v, want error %v", tt.res, err, tt.wantErr)
		}
		if err != nil {
			if liftrescue.ErrorCode(err) != liftrescue.EINVALID {
				t.Errorf("NewIndex(res %d) error code %q, want invalid", tt.res, liftrescue.ErrorCode(err))
			}
			continue
		}
		if got := ix.H3Resolution(); got != tt.want {
			t.Errorf("NewIndex(res %d).H3Resolution() = %d, want %d", tt.res, got, tt.want)
		}
		if c := ix.CellOf(117.32, 34.81); c.Resolution() != tt.want {
			t.Errorf("cell %s has resolution %d, want %d", c, c.Resolution(), tt.want)
		}
	}
}

func bruteNearest(ps []testPoint, lon, lat float64, k int, keep func(id int64) bool) []Neighbor {
	var all []Neighbor
	for _, p := range ps {
		if keep == nil || keep(p.id) {
			all = append(all, Neighbor{p.id, DistanceM(lon, lat, p.lon, p.lat)})
		}
	}
	slices.SortFunc(all, compareNeighbors)
	return all[:min(k, len(all))]
}

func sameNeighbors(t *testing.T, what string, got, want []Neighbor) {
	t.Helper()
	show := func(s []Neighbor) []Neighbor { return s[:min(len(s), 12)] }
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d\ngot  %v…\nwant %v…", what, len(got), len(want), show(got), show(want))
	}
	// Distances agree with DistanceM to a rounding error (a radius query computes the cosine of
	// a latitude another way). Entries as far as each other may come in either order, and at the
	// k-th place either may be chosen; others must be the same.
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, b) }
	for i := range got {
		tie := i > 0 && near(want[i-1].DistanceM, want[i].DistanceM) || i+1 < len(want) && near(want[i+1].DistanceM, want[i].DistanceM)
		if !near(got[i].DistanceM, want[i].DistanceM) || got[i].ID != want[i].ID && !tie {
			t.Fatalf("%s: result %d is %v, want %v", what, i, got[i], want[i])
		}
		if i > 0 && compareNeighbors(got[i-1], got[i]) > 0 && !tie {
			t.Fatalf("%s: results %d and %d out of order: %v, %v", what, i-1, i, got[i-1], got[i])
		}
	}
}

func TestNearestVehiclesMatchesBruteForce(t *testing.T) {
	ix := mustIndex(t)
	ps := cityPoints(1, 5000)
	mustVehicles(t, ix, ps)
	r := rand.New(rand.NewPCG(9, 9))
	preds := []struct {
		name string
		keep func(id int64) bool
	}{
		{"all", nil},
		{"every third", func(id int64) bool { return id%3 == 0 }},
		{"one in 500", func(id int64) bool { return id%500 == 7 }},
		{"none", func(int64) bool { return false }},
	}
	for _, p := range preds {
		t.Run(p.name, func(t *testing.T) {
			var pred func(VehicleState) bool
			if p.keep != nil {
				pred = func(s VehicleState) bool { return p.keep(s.ID) }
			}
			for i := range 300 {
				lon, lat := cityPoint(r)
				if i%10 == 0 { // some queries far outside the city
					lon, lat = 100+r.Float64()*30, 20+r.Float64()*20
				}
				k := []int{1, 5, 20, 100}[i%4]
				want := bruteNearest(ps, lon, lat, k, p.keep)
				sameNeighbors(t, "nearest", ix.NearestVehicles(lon, lat, k, pred), want)
				// Both ways of answering, whichever NearestVehicles took.
				q := newPoint(lon, lat)
				ix.vmu.RLock()
				best := ix.nearestBestFirst(&q, k, pred)
				grid, ok := ix.nearestOnGrid(&q, k, pred)
				ix.vmu.RUnlock()
				sameNeighbors(t, "best first", best, want)
				if ok {
					sameNeighbors(t, "grid", grid, want)
				}
			}
		})
	}
	if got := ix.NearestVehicles(117.3, 34.8, 0, nil); got != nil {
		t.Errorf("k = 0 gave %v", got)
	}
	if got := ix.NearestVehicles(math.NaN(), 34.8, 3, nil); got != nil {
		t.Errorf("a NaN position gave %v", got)
	}
}

func TestNearestAcrossTheAntimeridian(t *testing.T) {
	ix := mustIndex(t)
	ps := []testPoint{{1, 179.99, 0.5}, {2, -179.95, 0.5}, {3, 179.0, 0.5}, {4, -179.0, 0.5}}
	mustVehicles(t, ix, ps)
	sameNeighbors(t, "nearest", ix.NearestVehicles(-179.999, 0.5, 4, nil), bruteNearest(ps, -179.999, 0.5, 4, nil))
	got := ix.VehiclesWithin(-179.999, 0.5, 20000, nil)
	sameNeighbors(t, "within", got, bruteNearest(ps, -179.999, 0.5, 2, nil))
}

func bruteWithin(ps []testPoint, lon, lat, m float64, keep func(id int64) bool) []Neighbor {
	var out []Neighbor
	for _, p := range ps {
		if d := DistanceM(lon, lat, p.lon, p.lat); d <= m && (keep == nil || keep(p.id)) {
			out = append(out, Neighbor{p.id, d})
		}
	}
	slices.SortFunc(out, compareNeighbors)
	return out
}

func TestWithinMatchesBruteForce(t *testing.T) {
	ix := mustIndex(t)
	ps := cityPoints(2, 20000)
	if n, err := ix.LoadElevators(seqOf(ps)); err != nil || n != len(ps) {
		t.Fatalf("LoadElevators = %d, %v", n, err)
	}
	mustVehicles(t, ix, ps[:5000])
	r := rand.New(rand.NewPCG(5, 5))
	odd := func(id int64) bool { return id%2 == 1 }
	for i := range 300 {
		lon, lat := cityPoint(r)
		m := []float64{0, 100, 500, 2000, 30000}[i%5]
		var keep func(int64) bool
		var vpred func(VehicleState) bool
		if i%3 == 0 {
			keep, vpred = odd, func(s VehicleState) bool { return odd(s.ID) }
		}
		sameNeighbors(t, "elevators within", ix.ElevatorsWithin(lon, lat, m, keep), bruteWithin(ps, lon, lat, m, keep))
		sameNeighbors(t, "vehicles within", ix.VehiclesWithin(lon, lat, m, vpred), bruteWithin(ps[:5000], lon, lat, m, keep))
	}
	if got := ix.ElevatorsWithin(117.3, 34.8, -1, nil); got != nil {
		t.Errorf("a negative radius gave %d results", len(got))
	}
	if got := ix.ElevatorsWithin(117.3, 34.8, math.Inf(1), nil); len(got) != len(ps) {
		t.Errorf("an infinite radius gave %d results, want %d", len(got), len(ps))
	}
}

func TestSortNeighbors(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{0, 1, 2, 13, 100, 1000, 5000} {
		for _, kind := range []string{"random", "sorted", "reversed", "few distances"} {
			s := make([]Neighbor, n)
			for i := range s {
				s[i] = Neighbor{ID: int64(r.IntN(1 << 30)), DistanceM: r.Float64() * 500}
				switch kind {
				case "sorted":
					s[i].DistanceM = float64(i)
				case "reversed":
					s[i].DistanceM = float64(n - i)
				case "few distances":
					s[i].DistanceM = float64(r.IntN(3))
				}
			}
			want := slices.Clone(s)
			slices.SortFunc(want, compareNeighbors)
			sortNeighbors(s)
			if !slices.Equal(s, want) {
				t.Fatalf("sortNeighbors of %d %s neighbours is wrong", n, kind)
			}
		}
	}
}

func TestMoveVehicleNeverBackwards(t *testing.T) {
	ix := mustIndex(t)
	steps := []struct {
		name      string
		lon, lat  float64
		at        time.Time
		wantMoved bool
		wantLon   float64
	}{
		{"first fix", 117.30, 34.80, t0, true, 117.30},
		{"newer", 117.31, 34.80, t0.Add(10 * time.Second), true, 117.31},
		{"older, buffered by the tracker", 117.20, 34.80, t0.Add(5 * time.Second), false, 117.31},
		{"same time again", 117.25, 34.80, t0.Add(10 * time.Second), false, 117.31},
		{"newer, same place", 117.31, 34.80, t0.Add(20 * time.Second), true, 117.31},
		{"not a real place", math.NaN(), 34.80, t0.Add(30 * time.Second), false, 117.31},
		{"0,0", 0, 0, t0.Add(30 * time.Second), false, 117.31},
		{"newer again", 117.32, 34.81, t0.Add(40 * time.Second), true, 117.32},
	}
	for _, s := range steps {
		if got := ix.MoveVehicle(7, fixAt(s.lon, s.lat, s.at)); got != s.wantMoved {
			t.Errorf("%s: moved = %v, want %v", s.name, got, s.wantMoved)
		}
		v, ok := ix.Vehicle(7)
		if !ok || v.Lon != s.wantLon {
			t.Errorf("%s: vehicle at %v (found %v), want lon %v", s.name, v.Lon, ok, s.wantLon)
		}
		// The tree must agree with the state: the vehicle is found where it is, and only there.
		if got := ix.NearestVehicles(v.Lon, v.Lat, 5, nil); len(got) != 1 || got[0].ID != 7 || got[0].DistanceM != 0 {
			t.Errorf("%s: nearest to the vehicle's own position = %v", s.name, got)
		}
	}
	v, _ := ix.Vehicle(7)
	want := VehicleState{ID: 7, Lon: 117.32, Lat: 34.81, Time: t0.Add(40 * time.Second), SpeedKmh: 20, Heading: 90, Cell: ix.CellOf(117.32, 34.81)}
	if v != want {
		t.Errorf("state = %+v, want %+v", v, want)
	}
	if ix.VehicleCount() != 1 {
		t.Errorf("VehicleCount = %d, want 1", ix.VehicleCount())
	}
}

func TestRemove(t *testing.T) {
	ix := mustIndex(t)
	ps := cityPoints(3, 1000)
	mustVehicles(t, ix, ps)
	if _, err := ix.LoadElevators(seqOf(ps)); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps[:500] {
		if !ix.RemoveVehicle(p.id) || !ix.RemoveElevator(p.id) {
			t.Fatalf("%d not removed", p.id)
		}
	}
	if ix.RemoveVehicle(ps[0].id) || ix.RemoveElevator(ps[0].id) {
		t.Error("removed twice")
	}
	if got, want := ix.VehicleCount(), 500; got != want {
		t.Errorf("VehicleCount = %d, want %d", got, want)
	}
	if got, want := ix.ElevatorCount(), 500; got != want {
		t.Errorf("ElevatorCount = %d, want %d", got, want)
	}
	rest := ps[500:]
	sameNeighbors(t, "vehicles", ix.NearestVehicles(117.3, 34.8, 1000, nil), bruteNearest(rest, 117.3, 34.8, 1000, nil))
	sameNeighbors(t, "elevators", ix.ElevatorsWithin(117.3, 34.8, 1e6, nil), bruteNearest(rest, 117.3, 34.8, 1000, nil))
	if _, ok := ix.Vehicle(ps[0].id); ok {
		t.Error("a removed vehicle is still there")
	}
	if _, ok := ix.Elevator(ps[0].id); ok {
		t.Error("a removed elevator is still there")
	}
	// Freed slots are reused by new vehicles, and the states stay right.
	mustVehicles(t, ix, []testPoint{{100001, 117.5, 34.9}, {100002, 117.6, 34.9}})
	vs := ix.Vehicles()
	if len(vs) != 502 || vs[len(vs)-1].ID != 100002 || vs[len(vs)-1].Lon != 117.6 || !slices.IsSortedFunc(vs, func(a, b VehicleState) int { return int(a.ID - b.ID) }) {
		t.Errorf("Vehicles() has %d, last %+v", len(vs), vs[len(vs)-1])
	}
}

func TestSetElevatorAndLoad(t *testing.T) {
	ix := mustIndex(t)
	if err := ix.SetElevator(1, 117.3, 34.8); err != nil {
		t.Fatal(err)
	}
	if err := ix.SetElevator(2, 117.4, 34.8); err != nil {
		t.Fatal(err)
	}
	if err := ix.SetElevator(3, 200, 34.8); liftrescue.ErrorCode(err) != liftrescue.EINVALID {
		t.Errorf("SetElevator off the globe: %v, want invalid", err)
	}
	if err := ix.SetElevator(1, 117.31, 34.8); err != nil { // a move
		t.Fatal(err)
	}
	// The load moves 2, brings 4 and 5 (5 twice: the later place wins) and reports the bad one.
	load := []testPoint{{2, 117.5, 34.9}, {4, 117.6, 34.9}, {5, 117.0, 35.0}, {6, math.NaN(), 35}, {5, 117.1, 35.1}}
	n, err := ix.LoadElevators(seqOf(load))
	var e *liftrescue.Error
	if n != 4 || !errors.As(err, &e) || e.Code != liftrescue.EINVALID || len(e.Details) != 1 {
		t.Fatalf("LoadElevators = %d, %v; want 4 and one invalid position", n, err)
	}
	want := []testPoint{{1, 117.31, 34.8}, {2, 117.5, 34.9}, {4, 117.6, 34.9}, {5, 117.1, 35.1}}
	if got := ix.ElevatorCount(); got != len(want) {
		t.Errorf("ElevatorCount = %d, want %d", got, len(want))
	}
	for _, w := range want {
		got, ok := ix.Elevator(w.id)
		if !ok || got.Lon != w.lon || got.Lat != w.lat || got.Cell != ix.CellOf(w.lon, w.lat) {
			t.Errorf("elevator %d = %+v, want at %v,%v", w.id, got, w.lon, w.lat)
		}
	}
	// Nothing stale is left in the tree: a query over everything finds each elevator once.
	sameNeighbors(t, "all", ix.ElevatorsWithin(117.3, 34.8, 1e6, nil), bruteNearest(want, 117.3, 34.8, 10, nil))
}

func TestLoadLargeMatchesSetElevator(t *testing.T) {
	ps := cityPoints(4, 30000)
	// Twice, so that the second load moves every elevator that is already there.
	moved := cityPoints(5, 30000)
	a, b := mustIndex(t), mustIndex(t)
	if _, err := a.LoadElevators(seqOf(ps)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.LoadElevators(seqOf(moved[:10000])); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := b.SetElevator(p.id, p.lon, p.lat); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range moved[:10000] {
		if err := b.SetElevator(p.id, p.lon, p.lat); err != nil {
			t.Fatal(err)
		}
	}
	if a.ElevatorCount() != b.ElevatorCount() || a.ElevatorCount() != 30000 {
		t.Fatalf("counts %d and %d, want 30000", a.ElevatorCount(), b.ElevatorCount())
	}
	sameNeighbors(t, "everything", a.ElevatorsWithin(117.3, 34.8, 1e6, nil), b.ElevatorsWithin(117.3, 34.8, 1e6, nil))
	for _, p := range ps {
		ea, _ := a.Elevator(p.id)
		eb, _ := b.Elevator(p.id)
		if ea != eb {
			t.Fatalf("elevator %d: loaded %+v, set %+v", p.id, ea, eb)
		}
	}
}

func TestBBox(t *testing.T) {
	ix := mustIndex(t)
	ps := []testPoint{{1, 117.30, 34.80}, {2, 117.35, 34.85}, {3, 117.40, 34.90}, {4, 179.9, 10}, {5, -179.9, 10}, {6, 117.30, 34.90}}
	mustVehicles(t, ix, ps)
	if _, err := ix.LoadElevators(seqOf(ps)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                           string
		minLon, minLat, maxLon, maxLat float64
		want                           []int64
	}{
		{"edges count", 117.30, 34.80, 117.35, 34.85, []int64{1, 2}},
		{"all of the city", 117, 34, 118, 35, []int64{1, 2, 3, 6}},
		{"across the antimeridian", 179, 0, -179, 20, []int64{4, 5}},
		{"empty", 100, 10, 101, 11, nil},
		{"upside down", 117, 35, 118, 34, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ix.ElevatorsInBBox(tt.minLon, tt.minLat, tt.maxLon, tt.maxLat, nil); !slices.Equal(got, tt.want) {
				t.Errorf("elevators %v, want %v", got, tt.want)
			}
			var got []int64
			for _, v := range ix.VehiclesInBBox(tt.minLon, tt.minLat, tt.maxLon, tt.maxLat, nil) {
				got = append(got, v.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("vehicles %v, want %v", got, tt.want)
			}
		})
	}
	if got := ix.ElevatorsInBBox(117, 34, 118, 35, func(id int64) bool { return id != 2 }); !slices.Equal(got, []int64{1, 3, 6}) {
		t.Errorf("with a predicate: %v", got)
	}
}

func TestPolygonWithHole(t *testing.T) {
	ix := mustIndex(t)
	// A square of 0.2° around 117.3, 34.8 with a square hole of 0.1° in the middle, and a second
	// square polygon to the east.
	outer := orb.Ring{{117.2, 34.7}, {117.4, 34.7}, {117.4, 34.9}, {117.2, 34.9}, {117.2, 34.7}}
	hole := orb.Ring{{117.25, 34.75}, {117.35, 34.75}, {117.35, 34.85}, {117.25, 34.85}, {117.25, 34.75}}
	east := orb.Polygon{{{117.5, 34.7}, {117.6, 34.7}, {117.6, 34.8}, {117.5, 34.7}}} // a triangle
	mp := orb.MultiPolygon{{outer, hole}, east}
	ps := []testPoint{
		{1, 117.22, 34.72}, // in the ring
		{2, 117.30, 34.80}, // in the hole
		{3, 117.38, 34.88}, // in the ring
		{4, 117.45, 34.80}, // between the two
		{5, 117.58, 34.72}, // in the triangle
		{6, 117.52, 34.78}, // in the triangle's box, outside the triangle
		{7, 117.20, 34.80}, // on the outer edge: in
		{8, 117.25, 34.80}, // on the hole's edge: out
	}
	mustVehicles(t, ix, ps)
	if _, err := ix.LoadElevators(seqOf(ps)); err != nil {
		t.Fatal(err)
	}
	want := []int64{1, 3, 5, 7}
	if got := ix.ElevatorsInPolygon(mp, nil); !slices.Equal(got, want) {
		t.Errorf("elevators %v, want %v", got, want)
	}
	var got []int64
	for _, v := range ix.VehiclesInPolygon(mp, func(s VehicleState) bool { return s.ID != 3 }) {
		got = append(got, v.ID)
	}
	if !slices.Equal(got, []int64{1, 5, 7}) {
		t.Errorf("vehicles but 3: %v, want [1 5 7]", got)
	}
	// Degenerate input is ignored, not a panic.
	for _, bad := range []orb.MultiPolygon{nil, {{}}, {{{}}}, {{{{117, 34}, {118, 35}}}}, {{outer, orb.Ring{}}}} {
		_ = ix.ElevatorsInPolygon(bad, nil)
		_ = ix.VehiclesInPolygon(bad, nil)
	}
	if got := ix.ElevatorsInPolygon(orb.MultiPolygon{{outer, orb.Ring{}}}, nil); !slices.Equal(got, []int64{1, 2, 3, 7, 8}) {
		t.Errorf("with an empty hole: %v", got)
	}
}

func TestCellsAndRings(t *testing.T) {
	ix := mustIndex(t)
	center := ix.CellOf(117.32, 34.81)
	if !center.Valid() || center.Resolution() != 9 {
		t.Fatalf("CellOf = %v, resolution %d", center, center.Resolution())
	}
	if ix.CellOf(math.NaN(), 1) != 0 || ix.CellOf(0, 0) != 0 {
		t.Error("CellOf of no place is not 0")
	}
	// The cell's text form round-trips, and JSON writes it as a string.
	if c, err := ParseCell(center.String()); err != nil || c != center {
		t.Errorf("ParseCell(%q) = %v, %v", center.String(), c, err)
	}
	if _, err := ParseCell("not a cell"); liftrescue.ErrorCode(err) != liftrescue.EINVALID {
		t.Errorf("ParseCell of rubbish: %v", err)
	}
	if b, _ := center.MarshalText(); len(b) != 15 {
		t.Errorf("text form %q, want 15 hex digits", b)
	}
	// Place one elevator and one vehicle at the centre of every cell of rings 0 to 3, plus one
	// more in the centre cell, and count them ring by ring.
	disk3, err := center.Disk(3)
	if err != nil || len(disk3) != 37 {
		t.Fatalf("Disk(3) = %d cells, %v; want 37", len(disk3), err)
	}
	var ps []testPoint
	for i, c := range disk3 {
		lon, lat := c.Center()
		if ix.CellOf(lon, lat) != c {
			t.Fatalf("the centre of %s is in %s", c, ix.CellOf(lon, lat))
		}
		ps = append(ps, testPoint{int64(i + 1), lon, lat})
	}
	clon, clat := center.Center()
	ps = append(ps, testPoint{100, clon + 1e-5, clat})
	mustVehicles(t, ix, ps)
	if _, err := ix.LoadElevators(seqOf(ps)); err != nil {
		t.Fatal(err)
	}
	for k, want := range []int{2, 8, 20, 38} { // 1 + 6k(k+1)/2 cells, plus the extra one
		got, err := ix.ElevatorsInCell(center, k, nil)
		if err != nil || len(got) != want {
			t.Errorf("ring %d: %d elevators (%v), want %d", k, len(got), err, want)
		}
		vs, err := ix.VehiclesInCell(center, k, nil)
		if err != nil || len(vs) != want {
			t.Errorf("ring %d: %d vehicles (%v), want %d", k, len(vs), err, want)
		}
	}
	got, _ := ix.ElevatorsInCell(center, 0, func(id int64) bool { return id == 100 })
	if !slices.Equal(got, []int64{100}) {
		t.Errorf("cell with a predicate: %v, want [100]", got)
	}
	// The cell must be a cell, at the index's resolution, and the ring small enough.
	parent, _ := CellAt(117.32, 34.81, 7)
	for _, bad := range []struct {
		c Cell
		k int
	}{{0, 1}, {parent, 1}, {center, -1}, {center, MaxRing + 1}} {
		if _, err := ix.ElevatorsInCell(bad.c, bad.k, nil); liftrescue.ErrorCode(err) != liftrescue.EINVALID {
			t.Errorf("ElevatorsInCell(%v, %d): %v, want invalid", bad.c, bad.k, err)
		}
	}
	if b := center.Boundary(); len(b) != 7 || b[0] != b[6] {
		t.Errorf("Boundary = %v, want a closed hexagon", b)
	}
}

// TestConcurrentUse runs writers and readers of both kinds at once; with -race it checks the
// locking, and at the end the index must still agree with a brute-force view of it.
func TestConcurrentUse(t *testing.T) {
	ix := mustIndex(t)
	ps := cityPoints(6, 3000)
	if _, err := ix.LoadElevators(seqOf(ps)); err != nil {
		t.Fatal(err)
	}
	mustVehicles(t, ix, ps[:500])
	const rounds = 2000
	var wg sync.WaitGroup
	for w := range 2 { // vehicle writers: even and odd vehicles
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range rounds {
				id := int64(r.IntN(250)*2 + w + 1)
				lon, lat := cityPoint(r)
				ix.MoveVehicle(id, fixAt(lon, lat, t0.Add(time.Duration(i+1)*time.Second)))
				if i%100 == 0 {
					ix.RemoveVehicle(id)
				}
			}
		})
	}
	wg.Go(func() { // elevator writer
		r := rand.New(rand.NewPCG(3, 1))
		for i := range rounds {
			lon, lat := cityPoint(r)
			if err := ix.SetElevator(int64(r.IntN(3000)+1), lon, lat); err != nil {
				t.Error(err)
			}
			if i%100 == 0 {
				ix.RemoveElevator(int64(r.IntN(3000) + 1))
			}
		}
	})
	for g := range 3 { // readers
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 2))
			for range rounds / 2 {
				lon, lat := cityPoint(r)
				ix.NearestVehicles(lon, lat, 5, func(s VehicleState) bool { return s.ID%2 == 0 })
				ix.VehiclesWithin(lon, lat, 1000, nil)
				ix.ElevatorsWithin(lon, lat, 500, nil)
				ix.ElevatorsInBBox(lon-0.01, lat-0.01, lon+0.01, lat+0.01, nil)
				ix.ElevatorsInCell(ix.CellOf(lon, lat), 1, nil)
				ix.Vehicles()
				ix.Vehicle(int64(r.IntN(500) + 1))
			}
		})
	}
	wg.Wait()

	var vs []testPoint
	for _, v := range ix.Vehicles() {
		vs = append(vs, testPoint{v.ID, v.Lon, v.Lat})
	}
	sameNeighbors(t, "vehicles after", ix.NearestVehicles(117.3, 34.8, len(vs)+10, nil), bruteNearest(vs, 117.3, 34.8, len(vs), nil))
	var es []testPoint
	for _, p := range ps {
		if e, ok := ix.Elevator(p.id); ok {
			es = append(es, testPoint{p.id, e.Lon, e.Lat})
		}
	}
	sameNeighbors(t, "elevators after", ix.ElevatorsWithin(117.3, 34.8, 1e6, nil), bruteNearest(es, 117.3, 34.8, len(es), nil))
}

// TestCellShape checks the shortcut that spares H3 on most fixes: a position the shape of a cell
// holds must be in that cell, and one the shape sends to the cell across an edge must be in that
// cell. Positions are drawn round cell centres out to past the corners, ten in each cell, at
// several resolutions and latitudes; every shape must hold nearly all of its cell, and learn its
// neighbours.
func TestCellShape(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, res := range []int{7, 9, 12, 15} {
		var cache shapeCache
		inCell, held, crossed := 0, 0, 0
		for i := range 2000 {
			lon, lat := r.Float64()*360-180, r.Float64()*160-80
			switch i % 4 {
			case 0, 1:
				lon, lat = cityPoint(r)
			case 2: // round the antimeridian
				lon = math.Mod(180+r.NormFloat64()*0.05+540, 360) - 180
			}
			c, err := CellAt(lon, lat, res)
			if err != nil {
				t.Fatal(err)
			}
			s := shapeOf(c)
			if s == nil {
				continue // a pentagon, a cell across faces, or too near a pole
			}
			s = cache.put(s)
			clon, clat := c.Center()
			corner := c.Boundary()[0]
			reach := DistanceM(clon, clat, corner.Lon(), corner.Lat()) / EarthRadiusM * 1.3
			for range 10 {
				// A position up to 1.3 times the cell's corner distance from its centre, any way.
				radius := reach * math.Sqrt(r.Float64())
				bearing := r.Float64() * 2 * math.Pi
				φ1, λ1 := clat*rad, clon*rad
				φ2 := math.Asin(math.Sin(φ1)*math.Cos(radius) + math.Cos(φ1)*math.Sin(radius)*math.Cos(bearing))
				λ2 := λ1 + math.Atan2(math.Sin(bearing)*math.Sin(radius)*math.Cos(φ1), math.Cos(radius)-math.Sin(φ1)*math.Sin(φ2))
				plon, plat := math.Mod(λ2/rad+540, 360)-180, φ2/rad
				got, _ := CellAt(plon, plat, res)
				if got == c {
					inCell++
				}
				in, beyond := s.holds(plon, plat)
				if in {
					held++
					if got != c {
						t.Fatalf("resolution %d: the shape of %s holds %v,%v, which is in %s", res, c, plon, plat, got)
					}
					continue
				}
				if n := cache.next(s, beyond, plon, plat); n != nil {
					crossed++
					if got != n.cell {
						t.Fatalf("resolution %d: %v,%v beyond edge %d of %s is said to be in %s, but is in %s", res, plon, plat, beyond, c, n.cell, got)
					}
					continue
				}
				// What a fix that H3 placed teaches the index.
				s.learn(beyond, got)
				if n := shapeOf(got); n != nil {
					cache.put(n)
				}
			}
		}
		if held < inCell*97/100 {
			t.Errorf("resolution %d: shapes held %d of the %d positions in their cells", res, held, inCell)
		}
		if crossed < 1000 {
			t.Errorf("resolution %d: only %d positions found across an edge", res, crossed)
		}
	}
	// Coarse cells and cells near a pole have no shape: H3 decides for them.
	for _, c := range []struct {
		lon, lat float64
		res      int
	}{{117.3, 34.8, 5}, {10, 85, 9}, {10, -85, 9}} {
		cell, _ := CellAt(c.lon, c.lat, c.res)
		if shapeOf(cell) != nil {
			t.Errorf("cell %s at %v,%v, resolution %d, has a shape", cell, c.lon, c.lat, c.res)
		}
	}
}

// TestElevatorTableMatchesMap drives the ID table with random loads, sets and removals, enough to
// compact it many times, and checks it against a map after every step: with IDs that fill their
// range (the dense form), with IDs spread over all of int64 (the sorted form), and with IDs that
// go from one to the other.
func TestElevatorTableMatchesMap(t *testing.T) {
	for _, tc := range []struct {
		name                string
		id                  func(k int) int64 // the ID of the k-th of 40,000
		denseFirst, denseAt bool              // the form after the load, and at the end
		compactions         int               // at least
	}{
		// Dense IDs compact only while new ones come past the end of the range.
		{"dense", func(k int) int64 { return int64(k) + 1000 }, true, true, 1},
		{"sparse", func(k int) int64 { return int64(uint64(k) * 0x9e3779b97f4a7c15) }, false, false, 10},
		{"dense then sparse", func(k int) int64 {
			if k < 36000 {
				return int64(k)
			}
			return int64(k) << 40
		}, true, false, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(10, 10))
			var tab elevatorTable
			model := map[int64]int32{}
			var recs []elevatorRec
			for i := range 20000 { // a third of the IDs come twice or more: the latest wins
				id := tc.id(r.IntN(20000))
				lat := r.Float64()*180 - 90
				recs = append(recs, elevatorRec{id, float64(i), lat})
				model[id] = int32(bandOf(lat))
			}
			won, lost := tab.build(slices.Clone(recs))
			if len(lost) != len(recs)-len(model) || len(won) != len(model) {
				t.Fatalf("build kept %d records and lost %d, want %d and %d", len(won), len(lost), len(model), len(recs)-len(model))
			}
			if tab.dense != tc.denseFirst {
				t.Errorf("dense after the load: %v, want %v", tab.dense, tc.denseFirst)
			}
			check := func(step int) {
				if tab.len() != len(model) {
					t.Fatalf("step %d: len %d, want %d", step, tab.len(), len(model))
				}
				for range 20 {
					id := tc.id(r.IntN(40000))
					got, ok := tab.get(id)
					want, wantOK := model[id]
					if ok != wantOK || got != want {
						t.Fatalf("step %d: get(%d) = %v, %v; want %v, %v", step, id, got, ok, want, wantOK)
					}
				}
			}
			check(0)
			compactions := 0
			for step := 1; step <= 100000; step++ {
				id := tc.id(r.IntN(40000))
				before := len(tab.bands)
				if r.IntN(3) == 0 {
					got, ok := tab.remove(id)
					want, wantOK := model[id]
					if ok != wantOK || got != want {
						t.Fatalf("step %d: remove(%d) = %v, %v; want %v, %v", step, id, got, ok, want, wantOK)
					}
					delete(model, id)
				} else {
					p := int32(step)
					old, existed := tab.set(id, p)
					want, wantExisted := model[id]
					if existed != wantExisted || existed && old != want {
						t.Fatalf("step %d: set(%d) returned %v, %v; want %v, %v", step, id, old, existed, want, wantExisted)
					}
					model[id] = p
				}
				if len(tab.bands) != before {
					compactions++
				}
				check(step)
			}
			if compactions < tc.compactions {
				t.Errorf("only %d compactions", compactions)
			}
			if tab.dense != tc.denseAt {
				t.Errorf("dense at the end: %v, want %v", tab.dense, tc.denseAt)
			}
		})
	}
	// Extreme IDs: the dense form's arithmetic must not overflow.
	var tab elevatorTable
	tab.build([]elevatorRec{{id: math.MinInt64 + 1}, {id: math.MinInt64 + 2}})
	if _, ok := tab.get(math.MaxInt64); ok || !tab.dense {
		t.Errorf("dense %v; get(MaxInt64) found", tab.dense)
	}
	tab.set(math.MaxInt64, 7)
	if b, ok := tab.get(math.MaxInt64); !ok || b != 7 {
		t.Errorf("get(MaxInt64) = %v, %v", b, ok)
	}
}

// MoveVehicleWithin applies a reachable fix and refuses, as a jump, a newer one beyond the limit;
// an older fix is neither.
func TestMoveVehicleWithin(t *testing.T) {
	ix, err := NewIndex(IndexOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	lim := SpeedLimit{MetresPerSecond: 250 / 3.6, SlackM: 100}
	at := func(lon, lat float64, d time.Duration) liftrescue.Fix {
		return liftrescue.Fix{Lon: lon, Lat: lat, Time: t0.Add(d), SpeedKmh: math.NaN(), Heading: math.NaN()}
	}
	for _, c := range []struct {
		name          string
		fix           liftrescue.Fix
		moved, jumped bool
	}{
		{"first fix", at(121.47, 31.23, 0), true, false},
		{"600 m in 10 s (216 km/h)", at(121.47, 31.2354, 10*time.Second), true, false},
		{"5 km in 10 s", at(121.47, 31.28, 20*time.Second), false, true},
		{"older than the latest", at(121.0, 31.0, 5*time.Second), false, false},
		{"5 km in 10 minutes", at(121.47, 31.28, 10*time.Minute), true, false},
	} {
		moved, jumped := ix.MoveVehicleWithin(7, c.fix, lim)
		if moved != c.moved || jumped != c.jumped {
			t.Errorf("%s: moved %t, jumped %t; want %t, %t", c.name, moved, jumped, c.moved, c.jumped)
		}
	}
	if s, _ := ix.Vehicle(7); !s.Time.Equal(t0.Add(10 * time.Minute)) {
		t.Errorf("vehicle at %s, want its latest reachable fix", s.Time)
	}
}
