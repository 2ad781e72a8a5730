package geo

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/liftrescue/liftrescue"
)

// CellCount is how many elevators one H3 cell holds, and where they are on average.
type CellCount struct {
	Cell  Cell
	Count int
	// Lon, Lat is the mean position of the elevators counted: where a symbol standing for them
	// belongs, which the cell's centre need not be (a cell half over a lake or a hill).
	Lon, Lat float64
}

// ElevatorPointsInBBox returns the elevators inside a box that keep accepts (nil accepts all), in
// no order, at most limit of them when limit > 0: a caller that wants them only if there are no
// more than N passes N+1, and the search stops there. Edges count as inside; a box whose minLon
// is greater than its maxLon crosses the antimeridian. keep runs under the elevators' read lock
// (see Index).
func (ix *Index) ElevatorPointsInBBox(minLon, minLat, maxLon, maxLat float64, keep func(ElevatorPoint) bool, limit int) []ElevatorPoint {
	var out []ElevatorPoint
	ix.emu.RLock()
	defer ix.emu.RUnlock()
	for _, b := range bboxBoxes(minLon, minLat, maxLon, maxLat) {
		ix.elevTree.Search(b.min, b.max, func(p, _ [2]float64, e elevatorItem) bool {
			ep := ElevatorPoint{ID: e.id, Lon: p[0], Lat: p[1], Cell: e.cell}
			if keep == nil || keep(ep) {
				out = append(out, ep)
			}
			return limit <= 0 || len(out) < limit
		})
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out
}

// aggregateParallelMin is the number of elevators in the index from which ElevatorCellsInBBox
// splits its box into strips searched side by side: below it, starting goroutines costs more than
// it saves. A variable for the tests.
var aggregateParallelMin = 200_000

// ElevatorCellsInBBox counts the elevators inside a box that keep accepts (nil accepts all) by the
// ancestor of their cell at resolution res, from 0 to the index's own (anything else is
// EINVALID), in ascending order of cell. A cell that reaches out of the box counts only the
// elevators inside the box. Edges count as inside; a box whose minLon is greater than its maxLon
// crosses the antimeridian.
//
// It is the aggregation of the map's overview: every elevator in the box is visited once (a
// million in a few tens of milliseconds, on all cores when the index is large), under the
// elevators' read lock, which keep runs under too.
func (ix *Index) ElevatorCellsInBBox(minLon, minLat, maxLon, maxLat float64, res int, keep func(ElevatorPoint) bool) ([]CellCount, error) {
	if res < 0 || res > ix.res {
		return nil, liftrescue.Invalid("resolution", fmt.Sprintf("must be between 0 and %d, the index's", ix.res))
	}
	boxes := bboxBoxes(minLon, minLat, maxLon, maxLat)
	ix.emu.RLock()
	defer ix.emu.RUnlock()
	parts := 1
	if ix.elevators.len() >= aggregateParallelMin {
		parts = min(runtime.GOMAXPROCS(0), 8)
	}
	if parts == 1 {
		var t cellTally
		for _, b := range boxes {
			ix.tallyBox(&t, b, res, keep, false)
		}
		return t.counts(), nil
	}
	// Each strip of the box gets its own tally, merged at the end. A position on the line between
	// two strips is found by both searches (they include their edges): the eastern one leaves it.
	var strips []strip
	for _, b := range boxes {
		w := (b.max[0] - b.min[0]) / float64(parts)
		for i := range parts {
			s := strip{box: b, first: i == 0}
			if i > 0 {
				s.box.min[0] = b.min[0] + w*float64(i)
			}
			if i < parts-1 {
				s.box.max[0] = b.min[0] + w*float64(i+1)
			}
			strips = append(strips, s)
		}
	}
	tallies := make([]cellTally, len(strips))
	var wg sync.WaitGroup
	for i := range strips {
		wg.Go(func() { ix.tallyBox(&tallies[i], strips[i].box, res, keep, !strips[i].first) })
	}
	wg.Wait()
	for i := 1; i < len(tallies); i++ {
		tallies[0].merge(&tallies[i])
	}
	return tallies[0].counts(), nil
}

type strip struct {
	box   box
	first bool // the westernmost strip of its box keeps its western edge
}

// tallyBox adds the elevators of one box to t; with openWest, those on its western edge are left
// to the strip west of it. The caller holds the read lock.
func (ix *Index) tallyBox(t *cellTally, b box, res int, keep func(ElevatorPoint) bool, openWest bool) {
	west := b.min[0]
	ix.elevTree.Search(b.min, b.max, func(p, _ [2]float64, e elevatorItem) bool {
		if openWest && p[0] == west {
			return true
		}
		if keep == nil || keep(ElevatorPoint{ID: e.id, Lon: p[0], Lat: p[1], Cell: e.cell}) {
			t.add(e.cell.Parent(res), p[0], p[1])
		}
		return true
	})
}

// cellTally adds up elevators by cell. The map holds an index into accs, whose entries are small
// enough that a tally of thousands of cells stays in the processor's cache.
type cellTally struct {
	index map[Cell]int32
	accs  []cellAcc
	// last is the entry the previous elevator went to: the R-tree's leaves hold neighbours, which
	// share a cell more often than not, and skip the map.
	last int32
}

type cellAcc struct {
	cell     Cell
	n        int
	lon, lat float64 // sums
}

// add counts one elevator at a position in cell c.
func (t *cellTally) add(c Cell, lon, lat float64) { t.addSums(c, 1, lon, lat) }

// addSums adds n elevators whose positions sum to lon, lat.
func (t *cellTally) addSums(c Cell, n int, lon, lat float64) {
	i := t.last
	if len(t.accs) == 0 || t.accs[i].cell != c {
		if t.index == nil {
			t.index = make(map[Cell]int32, 256)
		}
		var ok bool
		if i, ok = t.index[c]; !ok {
			i = int32(len(t.accs))
			t.index[c] = i
			t.accs = append(t.accs, cellAcc{cell: c})
		}
		t.last = i
	}
	a := &t.accs[i]
	a.n += n
	a.lon += lon
	a.lat += lat
}

func (t *cellTally) merge(o *cellTally) {
	for _, a := range o.accs {
		t.addSums(a.cell, a.n, a.lon, a.lat)
	}
}

func (t *cellTally) counts() []CellCount {
	out := make([]CellCount, len(t.accs))
	for i, a := range t.accs {
		out[i] = CellCount{Cell: a.cell, Count: a.n, Lon: a.lon / float64(a.n), Lat: a.lat / float64(a.n)}
	}
	slices.SortFunc(out, func(a, b CellCount) int { return cmp.Compare(a.Cell, b.Cell) })
	return out
}

// CoarsenCells merges cell counts into those of their ancestors at resolution res, which must not
// be finer than any of the cells (a finer one is dropped): what a map does when a view at one
// resolution holds too many cells. Mean positions are weighted by count. The answer is in
// ascending order of cell.
func CoarsenCells(cells []CellCount, res int) []CellCount {
	var t cellTally
	for _, c := range cells {
		p := c.Cell.Parent(res)
		if p == 0 {
			continue
		}
		t.addSums(p, c.Count, c.Lon*float64(c.Count), c.Lat*float64(c.Count))
	}
	return t.counts()
}
