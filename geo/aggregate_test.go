package geo

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/liftrescue/liftrescue"
	"github.com/uber/h3-go/v4"
)

// bruteCells counts what ElevatorCellsInBBox should, one position at a time through H3 itself.
func bruteCells(t *testing.T, ps []testPoint, minLon, minLat, maxLon, maxLat float64, res int, keep func(ElevatorPoint) bool) map[Cell]CellCount {
	t.Helper()
	out := map[Cell]CellCount{}
	for _, p := range ps {
		inLon := p.lon >= minLon && p.lon <= maxLon
		if minLon > maxLon {
			inLon = p.lon >= minLon || p.lon <= maxLon
		}
		if !inLon || p.lat < minLat || p.lat > maxLat {
			continue
		}
		c9, err := CellAt(p.lon, p.lat, DefaultH3Resolution)
		if err != nil {
			t.Fatal(err)
		}
		if keep != nil && !keep(ElevatorPoint{ID: p.id, Lon: p.lon, Lat: p.lat, Cell: c9}) {
			continue
		}
		// The ancestor, not the cell of the position at res: H3's children do not tile their
		// parent exactly, and a position near the edge of a child may lie in the parent's neighbour.
		hp, err := h3.Cell(c9).Parent(res)
		if err != nil {
			t.Fatal(err)
		}
		c := Cell(hp)
		if c9.Parent(res) != c {
			t.Fatalf("Parent(%d) of %s = %s, H3 says %s", res, c9, c9.Parent(res), c)
		}
		cc := out[c]
		cc.Cell = c
		cc.Count++
		cc.Lon += p.lon
		cc.Lat += p.lat
		out[c] = cc
	}
	for c, cc := range out {
		cc.Lon /= float64(cc.Count)
		cc.Lat /= float64(cc.Count)
		out[c] = cc
	}
	return out
}

func checkCells(t *testing.T, name string, got []CellCount, want map[Cell]CellCount) {
	t.Helper()
	if !slices.IsSortedFunc(got, func(a, b CellCount) int { return int(a.Cell>>1) - int(b.Cell>>1) }) {
		t.Errorf("%s: cells not in ascending order", name)
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d cells, want %d", name, len(got), len(want))
	}
	for _, g := range got {
		w, ok := want[g.Cell]
		switch {
		case !ok:
			t.Errorf("%s: cell %s (%d elevators) should not be there", name, g.Cell, g.Count)
		case g.Count != w.Count || math.Abs(g.Lon-w.Lon) > 1e-9 || math.Abs(g.Lat-w.Lat) > 1e-9:
			t.Errorf("%s: cell %s = %+v, want %+v", name, g.Cell, g, w)
		}
	}
}

func TestElevatorCellsInBBox(t *testing.T) {
	ps := cityPoints(31, 20_000)
	// Some on the very edges of the boxes below and on the line between two strips.
	ps = append(ps, testPoint{900_001, 117.2, 34.7}, testPoint{900_002, 117.5, 34.9}, testPoint{900_003, 117.35, 34.8},
		testPoint{900_004, 117.35, 34.7}, testPoint{900_005, 117.35, 34.7})
	ix := mustIndex(t)
	if _, err := ix.LoadElevators(seqOf(ps)); err != nil {
		t.Fatal(err)
	}
	odd := func(p ElevatorPoint) bool { return p.ID%2 == 1 }
	for _, parallel := range []bool{false, true} {
		if parallel {
			defer func(old int) { aggregateParallelMin = old }(aggregateParallelMin)
			aggregateParallelMin = 0
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
		}
		for _, tc := range []struct {
			name                           string
			minLon, minLat, maxLon, maxLat float64
			res                            int
			keep                           func(ElevatorPoint) bool
		}{
			{"city at 7", 116.8, 34.3, 118.0, 35.4, 7, nil},
			{"core at 9", 117.2, 34.7, 117.5, 34.9, 9, nil},
			{"core at 8, odd ids", 117.2, 34.7, 117.5, 34.9, 8, odd},
			{"world at 0", -180, -90, 180, 90, 0, nil},
			{"a point", 117.35, 34.7, 117.35, 34.7, 5, nil},
			{"nothing there", 10, 10, 11, 11, 6, nil},
			{"across the antimeridian", 170, 30, 117.3, 40, 6, nil},
		} {
			got, err := ix.ElevatorCellsInBBox(tc.minLon, tc.minLat, tc.maxLon, tc.maxLat, tc.res, tc.keep)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			name := tc.name
			if parallel {
				name += " (in strips)"
			}
			checkCells(t, name, got, bruteCells(t, ps, tc.minLon, tc.minLat, tc.maxLon, tc.maxLat, tc.res, tc.keep))
			total := 0
			for _, c := range got {
				total += c.Count
			}
			if n := len(ix.ElevatorPointsInBBox(tc.minLon, tc.minLat, tc.maxLon, tc.maxLat, tc.keep, 0)); n != total {
				t.Errorf("%s: ElevatorPointsInBBox has %d, the cells hold %d", name, n, total)
			}
		}
	}
	for _, res := range []int{-1, 10, 15} {
		if _, err := ix.ElevatorCellsInBBox(116, 34, 118, 36, res, nil); liftrescue.ErrorCode(err) != liftrescue.EINVALID {
			t.Errorf("resolution %d: err = %v, want EINVALID", res, err)
		}
	}
}

func TestElevatorPointsInBBox(t *testing.T) {
	ix := mustIndex(t)
	ps := cityPoints(32, 5000)
	if _, err := ix.LoadElevators(seqOf(ps)); err != nil {
		t.Fatal(err)
	}
	calls := 0
	keep := func(ElevatorPoint) bool { calls++; return true }
	if got := ix.ElevatorPointsInBBox(116.8, 34.3, 118.0, 35.4, keep, 101); len(got) != 101 || calls != 101 {
		t.Errorf("with limit 101: %d points after %d calls, want 101 and 101", len(got), calls)
	}
	got := ix.ElevatorPointsInBBox(117.2, 34.7, 117.5, 34.9, nil, 0)
	var want []int64
	for _, p := range ps {
		if p.lon >= 117.2 && p.lon <= 117.5 && p.lat >= 34.7 && p.lat <= 34.9 {
			want = append(want, p.id)
		}
	}
	ids := make([]int64, len(got))
	for i, p := range got {
		ids[i] = p.ID
		if q := ps[p.ID-1]; p.Lon != q.lon || p.Lat != q.lat || p.Cell != mustCell(t, q.lon, q.lat, DefaultH3Resolution) {
			t.Errorf("point %+v, elevator at %v,%v", p, q.lon, q.lat)
		}
	}
	slices.Sort(ids)
	if !slices.Equal(ids, want) {
		t.Errorf("%d points, want %d", len(ids), len(want))
	}
	if got := ix.ElevatorPointsInBBox(math.NaN(), 34.3, 118.0, 35.4, nil, 0); len(got) != 0 {
		t.Errorf("NaN box: %d points, want none", len(got))
	}
}

func TestCoarsenCells(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 33))
	ix := mustIndex(t)
	ps := cityPoints(34, 3000)
	if _, err := ix.LoadElevators(seqOf(ps)); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		fine := 6 + r.IntN(4)
		coarse := r.IntN(fine + 1)
		cells, err := ix.ElevatorCellsInBBox(116.8, 34.3, 118.0, 35.4, fine, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ix.ElevatorCellsInBBox(116.8, 34.3, 118.0, 35.4, coarse, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := CoarsenCells(cells, coarse)
		if len(got) != len(want) {
			t.Fatalf("%d → %d: %d cells, want %d", fine, coarse, len(got), len(want))
		}
		for i := range got {
			if got[i].Cell != want[i].Cell || got[i].Count != want[i].Count ||
				math.Abs(got[i].Lon-want[i].Lon) > 1e-9 || math.Abs(got[i].Lat-want[i].Lat) > 1e-9 {
				t.Errorf("%d → %d: %+v, want %+v", fine, coarse, got[i], want[i])
			}
		}
	}
	if got := CoarsenCells([]CellCount{{Cell: mustCell(t, 117.3, 34.8, 5), Count: 3}}, 7); len(got) != 0 {
		t.Errorf("a cell coarser than asked: %+v, want it dropped", got)
	}
}

func mustCell(t *testing.T, lon, lat float64, res int) Cell {
	t.Helper()
	c, err := CellAt(lon, lat, res)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
