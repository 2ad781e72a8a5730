package geo

import (
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/tidwall/rtree"
	"github.com/uber/h3-go/v4"
)

// DefaultH3Resolution is the resolution of the H3 cell the index keeps for every entry unless told
// otherwise: cells of about 0.1 km², 174 m to an edge, a few buildings across.
const DefaultH3Resolution = 9

// IndexOptions configure an Index.
type IndexOptions struct {
	// H3Resolution is the resolution of the cell kept for every entry, from 1 (cells of 600,000 km²)
	// to 15 (1 m²); 0 means DefaultH3Resolution.
	H3Resolution int
}

// Validate fills in defaults and checks the options.
func (o *IndexOptions) Validate() error {
	if o.H3Resolution == 0 {
		o.H3Resolution = DefaultH3Resolution
	}
	if o.H3Resolution < 1 || o.H3Resolution > 15 {
		return liftrescue.Invalid("h3_resolution", "must be between 1 and 15")
	}
	return nil
}

// Index is the live spatial index: every elevator and every vehicle, in memory, each kind in its
// own R-tree over positions (so that box, polygon and cell queries open only the nodes near the
// answer) with the H3 cell of every entry beside it. Each kind also has a second layout made for
// its hottest query, which reads its candidates from consecutive memory instead of reaching each
// through the tree: elevators in bands of latitude sorted by longitude, for radius queries
// (elevatorBands); vehicles in a grid of cells, for nearest queries (vehicleGrid). Vehicles are in
// their R-tree in small boxes, so that most fixes leave it alone, and the shapes of their H3 cells
// are kept, so that most fixes need no call to H3 (cellShape).
//
// An Index is safe for concurrent use. Each kind has its own read-write lock: queries share it,
// a write holds it alone, briefly (a fix for a few hundred nanoseconds, an elevator move for a
// few microseconds), and an elevator write never waits for a vehicle query or the other way
// round. The H3 cell of a new position is computed before the lock is taken. Query predicates run
// while the read lock of their kind is held: they must be quick and must not call back into the
// index (a writer waiting on the lock would deadlock them).
//
// Positions are WGS-84 degrees. Distances are great-circle (haversine) metres. Radius, box and
// nearest queries work across the antimeridian; polygon queries are planar in degrees, as the
// polygons drawn on a web map are.
type Index struct {
	res int

	emu       sync.RWMutex
	elevTree  rtree.RTreeG[elevatorItem]
	elevBands elevatorBands // the positions again, for radius queries
	elevators elevatorTable // ID → band

	vmu      sync.RWMutex
	vehTree  rtree.RTreeG[int32] // slots in vehSlots, in boxes round the vehicles' positions
	vehGrid  vehicleGrid         // the vehicles' states, by cell, for nearest queries
	vehIDs   slotTable           // vehicle ID → slot
	vehSlots []vehicleSlot
	vehFree  []int32    // slots of removed vehicles, to reuse
	shapes   shapeCache // of the cells vehicles have been in lately
}

// elevatorItem is an elevator's entry in the R-tree: with the position there, 48 bytes in all and
// no pointers, so that a million of them cost the garbage collector nothing to scan. The cell is
// a function of the position, computed again whenever the entry has to be found for removal.
type elevatorItem struct {
	id   int64
	cell Cell
}

// NewIndex returns an empty index.
func NewIndex(opt IndexOptions) (*Index, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	return &Index{res: opt.H3Resolution}, nil
}

// H3Resolution returns the resolution of the cells the index keeps.
func (ix *Index) H3Resolution() int { return ix.res }

// CellOf returns the cell at the index's resolution that holds a position, 0 for a position that
// is not a real place (see liftrescue.CheckLonLat).
func (ix *Index) CellOf(lon, lat float64) Cell {
	if liftrescue.CheckLonLat(lon, lat) != "" {
		return 0
	}
	return ix.cellOf(lon, lat)
}

// cellOf is CellOf for a position already checked.
func (ix *Index) cellOf(lon, lat float64) Cell {
	c, err := h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lon}, ix.res)
	if err != nil {
		return 0
	}
	return Cell(c)
}

// ElevatorState is where the index has an elevator.
type ElevatorState struct {
	ID       int64
	Lon, Lat float64
	Cell     Cell
}

// SetElevator puts an elevator at a position, or moves it there. It returns EINVALID, and changes
// nothing, for a position that is not a real place.
func (ix *Index) SetElevator(id int64, lon, lat float64) error {
	if r := liftrescue.CheckLonLat(lon, lat); r != "" {
		return liftrescue.Invalid("position", fmt.Sprintf("elevator %d: %s", id, r))
	}
	cell := ix.cellOf(lon, lat)
	ix.emu.Lock()
	defer ix.emu.Unlock()
	ix.setElevatorLocked(id, lon, lat, cell)
	return nil
}

// setElevatorLocked is SetElevator under the write lock, for a position checked, in cell.
func (ix *Index) setElevatorLocked(id int64, lon, lat float64, cell Cell) {
	if band, existed := ix.elevators.set(id, int32(bandOf(lat))); existed {
		old := ix.elevBands.find(int(band), id, lon)
		if old.lon == lon && old.lat == lat {
			return
		}
		ix.deleteElevatorItem(id, old)
		ix.elevBands.remove(id, old.lon, old.lat)
	}
	ix.elevTree.Insert(pt(lon, lat), pt(lon, lat), elevatorItem{id: id, cell: cell})
	ix.elevBands.insert(id, lon, lat)
}

func (ix *Index) deleteElevatorItem(id int64, p lonLat) {
	ix.elevTree.Delete(pt(p.lon, p.lat), pt(p.lon, p.lat), elevatorItem{id: id, cell: ix.cellOf(p.lon, p.lat)})
}

// RemoveElevator takes an elevator out of the index and reports whether it was there.
func (ix *Index) RemoveElevator(id int64) bool {
	ix.emu.Lock()
	defer ix.emu.Unlock()
	band, ok := ix.elevators.remove(id)
	if ok {
		p := ix.elevBands.find(int(band), id, math.NaN())
		ix.deleteElevatorItem(id, p)
		ix.elevBands.remove(id, p.lon, p.lat)
	}
	return ok
}

// Elevator returns where the index has an elevator.
func (ix *Index) Elevator(id int64) (ElevatorState, bool) {
	ix.emu.RLock()
	band, ok := ix.elevators.get(id)
	var p lonLat
	if ok {
		p = ix.elevBands.find(int(band), id, math.NaN())
	}
	ix.emu.RUnlock()
	if !ok {
		return ElevatorState{}, false
	}
	return ElevatorState{ID: id, Lon: p.lon, Lat: p.lat, Cell: ix.cellOf(p.lon, p.lat)}, true
}

// ElevatorCount returns the number of elevators in the index.
func (ix *Index) ElevatorCount() int {
	ix.emu.RLock()
	defer ix.emu.RUnlock()
	return ix.elevators.len()
}

// LoadElevators puts every elevator the sequence yields at its position (X is the longitude), as
// SetElevator would one by one but several times faster: it is the start-up path, a million
// elevators in well under a second on two cores. When an ID comes twice the later position wins.
// Positions that are not real places are skipped and reported together in one EINVALID error; the
// others are loaded all the same. It returns the number of elevators loaded. While it builds, it
// holds the elevator write lock (elevator queries wait; vehicle ones do not).
func (ix *Index) LoadElevators(seq iter.Seq2[int64, orb.Point]) (int, error) {
	var entries []loadEntry
	var bad []liftrescue.Detail
	badCount := 0
	for id, p := range seq {
		if r := liftrescue.CheckLonLat(p.Lon(), p.Lat()); r != "" {
			if badCount++; len(bad) < 100 {
				bad = append(bad, liftrescue.Detail{Field: "position", Value: fmt.Sprint(id), Reason: fmt.Sprintf("elevator %d: %s", id, r)})
			}
			continue
		}
		entries = append(entries, loadEntry{id: id, lon: p.Lon(), lat: p.Lat()})
	}
	n := len(entries)

	// The R-tree is built by inserting one entry after another: in the random order of a shuffle,
	// every node fills evenly. Input sorted along an axis, as a table scan may well be, leaves half
	// the nodes half full, and takes twice the time and a third more memory.
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	shuffle := rand.New(rand.NewPCG(uint64(n), 0x9e3779b97f4a7c15))
	shuffle.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })

	ix.emu.Lock()
	defer ix.emu.Unlock()
	// Other goroutines compute the H3 cells (a third of a microsecond each) a chunk at a time, in
	// the order of the shuffle, while this one inserts the chunks that are ready into the tree.
	const chunk = 1 << 14
	ready := make([]chan struct{}, (n+chunk-1)/chunk)
	for c := range ready {
		ready[c] = make(chan struct{})
	}
	var next atomic.Int64
	for range min(runtime.GOMAXPROCS(0), len(ready)) {
		go func() {
			for c := int(next.Add(1) - 1); c < len(ready); c = int(next.Add(1) - 1) {
				for _, i := range order[c*chunk : min((c+1)*chunk, n)] {
					entries[i].cell = ix.cellOf(entries[i].lon, entries[i].lat)
				}
				close(ready[c])
			}
		}()
	}
	eachReady := func(f func(e *loadEntry)) {
		for c := range ready {
			<-ready[c]
			for _, i := range order[c*chunk : min((c+1)*chunk, n)] {
				f(&entries[i])
			}
		}
	}

	if ix.elevators.len() > 0 {
		// Elevators are already there: each one is set as SetElevator would.
		eachReady(func(e *loadEntry) {})
		for i := range entries {
			e := &entries[i]
			ix.setElevatorLocked(e.id, e.lon, e.lat, e.cell)
		}
	} else {
		// An empty index: the ID table is built from scratch, on yet another goroutine, and the
		// tree entries of IDs that came more than once are taken out again at the end.
		var lost []elevatorRec
		tableDone := make(chan struct{})
		go func() {
			defer close(tableDone)
			recs := make([]elevatorRec, n)
			for i := range entries { // field by field: the cell is being written meanwhile
				e := &entries[i]
				recs[i] = elevatorRec{id: e.id, lon: e.lon, lat: e.lat}
			}
			var won []elevatorRec
			won, lost = ix.elevators.build(recs)
			ix.elevBands.build(won)
		}()
		eachReady(func(e *loadEntry) {
			ix.elevTree.Insert(pt(e.lon, e.lat), pt(e.lon, e.lat), elevatorItem{id: e.id, cell: e.cell})
		})
		<-tableDone
		for _, r := range lost {
			ix.deleteElevatorItem(r.id, lonLat{r.lon, r.lat})
		}
	}

	if badCount > 0 {
		return n, &liftrescue.Error{
			Code:    liftrescue.EINVALID,
			Message: fmt.Sprintf("%d elevators have no usable position and were not loaded; the first: %s", badCount, bad[0].Reason),
			Details: bad,
		}
	}
	return n, nil
}

type loadEntry struct {
	id       int64
	lon, lat float64
	cell     Cell
}

func pt(lon, lat float64) [2]float64 { return [2]float64{lon, lat} }

// ElevatorsWithin returns the elevators within radiusM metres of a position that pred accepts
// (nil accepts all), nearest first.
func (ix *Index) ElevatorsWithin(lon, lat, radiusM float64, pred func(id int64) bool) []Neighbor {
	if liftrescue.CheckLonLat(lon, lat) != "" || !(radiusM >= 0) {
		return nil
	}
	q := newPoint(lon, lat)
	// Candidates are screened on the haversine value, with a little slack for rounding; the few
	// near the edge are then decided on the very metres reported.
	hr := mToHav(radiusM) * (1 + 1e-9)
	sc := sortScratch.Get().(*scratch)
	defer sortScratch.Put(sc)
	hits := sc.hits[:0]
	func() {
		ix.emu.RLock()
		defer ix.emu.RUnlock()
		for _, b := range radiusBoxes(lon, lat, radiusM) {
			hits = ix.elevBands.appendWithin(hits, &q, b, hr, radiusM, pred)
		}
	}()
	sc.hits = hits
	return sc.sortedWithin(radiusM)
}

// ElevatorsInBBox returns the IDs of the elevators inside a box that pred accepts (nil accepts
// all), in ascending order. Edges count as inside. A box whose minLon is greater than its maxLon
// crosses the antimeridian.
func (ix *Index) ElevatorsInBBox(minLon, minLat, maxLon, maxLat float64, pred func(id int64) bool) []int64 {
	var out []int64
	ix.emu.RLock()
	defer ix.emu.RUnlock()
	for _, b := range bboxBoxes(minLon, minLat, maxLon, maxLat) {
		ix.elevTree.Search(b.min, b.max, func(_, _ [2]float64, e elevatorItem) bool {
			if pred == nil || pred(e.id) {
				out = append(out, e.id)
			}
			return true
		})
	}
	slices.Sort(out)
	return out
}

// ElevatorsInPolygon returns the IDs of the elevators inside a (multi)polygon that pred accepts
// (nil accepts all), in ascending order. Points on an edge count as inside, points in a hole or on
// its edge as outside. Polygons with an outer ring of fewer than three points are ignored.
func (ix *Index) ElevatorsInPolygon(mp orb.MultiPolygon, pred func(id int64) bool) []int64 {
	area, ok := preparePolygons(mp)
	if !ok {
		return nil
	}
	var out []int64
	ix.emu.RLock()
	defer ix.emu.RUnlock()
	ix.elevTree.Search(area.bound.Min, area.bound.Max, func(p, _ [2]float64, e elevatorItem) bool {
		if area.contains(p) && (pred == nil || pred(e.id)) {
			out = append(out, e.id)
		}
		return true
	})
	slices.Sort(out)
	return out
}

// ElevatorsInCell returns the IDs of the elevators whose cell is within grid distance k of cell
// (k = 0: the cell itself, 1: and its six neighbours, up to MaxRing) that pred accepts (nil accepts
// all), in ascending order. The cell must be at the index's resolution; anything else is EINVALID.
func (ix *Index) ElevatorsInCell(cell Cell, k int, pred func(id int64) bool) ([]int64, error) {
	disk, boxes, err := ix.disk(cell, k)
	if err != nil {
		return nil, err
	}
	var out []int64
	ix.emu.RLock()
	defer ix.emu.RUnlock()
	for _, b := range boxes {
		ix.elevTree.Search(b.min, b.max, func(_, _ [2]float64, e elevatorItem) bool {
			if _, in := disk[e.cell]; in && (pred == nil || pred(e.id)) {
				out = append(out, e.id)
			}
			return true
		})
	}
	slices.Sort(out)
	return out, nil
}

// disk checks a cell query and returns the set of cells in the disk with the boxes that hold it.
func (ix *Index) disk(cell Cell, k int) (map[Cell]struct{}, []box, error) {
	if !cell.Valid() {
		return nil, nil, liftrescue.Invalid("cell", "not an H3 cell")
	}
	if r := cell.Resolution(); r != ix.res {
		return nil, nil, liftrescue.Invalid("cell", fmt.Sprintf("is at resolution %d; the index keeps cells at %d", r, ix.res))
	}
	cells, err := cell.Disk(k)
	if err != nil {
		return nil, nil, err
	}
	set := make(map[Cell]struct{}, len(cells))
	for _, c := range cells {
		set[c] = struct{}{}
	}
	return set, diskBox(cells), nil
}

// polygons is a multipolygon ready for many point tests: the bound of every polygon is computed
// once (planar.RingContains would compute it for every point) and degenerate rings are dropped.
type polygons struct {
	bound orb.Bound
	parts []polygonPart
}

type polygonPart struct {
	bound orb.Bound
	poly  orb.Polygon
}

func preparePolygons(mp orb.MultiPolygon) (polygons, bool) {
	var a polygons
	for _, p := range mp {
		if len(p) == 0 || len(p[0]) < 3 {
			continue
		}
		clean := orb.Polygon{p[0]}
		for _, hole := range p[1:] {
			if len(hole) >= 3 {
				clean = append(clean, hole)
			}
		}
		b := p[0].Bound()
		if len(a.parts) == 0 {
			a.bound = b
		} else {
			a.bound = a.bound.Union(b)
		}
		a.parts = append(a.parts, polygonPart{bound: b, poly: clean})
	}
	return a, len(a.parts) > 0
}

func (a *polygons) contains(p [2]float64) bool {
	q := orb.Point(p)
	for i := range a.parts {
		if a.parts[i].bound.Contains(q) && planar.PolygonContains(a.parts[i].poly, q) {
			return true
		}
	}
	return false
}

// ElevatorPoint is an elevator's entry in the index.
type ElevatorPoint struct {
	ID       int64
	Lon, Lat float64
	Cell     Cell // at the index's resolution
}

// EachElevator calls fn with every elevator, in no order, until it returns false. It holds the
// elevators' read lock throughout: fn must be quick and must not call back into the index.
func (ix *Index) EachElevator(fn func(ElevatorPoint) bool) {
	ix.emu.RLock()
	defer ix.emu.RUnlock()
	ix.elevTree.Scan(func(p, _ [2]float64, e elevatorItem) bool {
		return fn(ElevatorPoint{ID: e.id, Lon: p[0], Lat: p[1], Cell: e.cell})
	})
}
