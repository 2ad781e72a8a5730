package geo

import (
	"math"
	"math/bits"
)

// vehicleGrid holds every vehicle's state, for nearest queries above all: in cells of a grid of
// latitude and longitude 1/gridPerDegree of a degree wide (1.7 km by 1.4 km in China), each cell
// an array of its vehicles' states. A nearest query reads the cells in rings
// around its position, the first before the second, and stops when everything outside the rings
// read is provably farther than the k-th qualified vehicle found (nearestOnGrid).
//
// The R-tree answered nearest queries by probing circles, but met every vehicle through a
// callback after testing the boxes of all the entries of each node it opened, and then looked
// the vehicle's state up elsewhere in memory: some 40 ns a vehicle, and a query in a district
// where one vehicle in four qualifies met about 80. Here a candidate costs its distance, read
// from the cell's array, and the predicate, which runs only for one that would be among the k
// nearest, reads the state from where the distance did.
//
// A fix that stays in its cell, as nearly all do, writes the new state over the old one; a
// vehicle that leaves its cell moves to the end of another's array and the last vehicle of its
// old cell takes its place. A cell that empties is dropped.
type vehicleGrid struct {
	cells   cellTable // cell key → index in buckets
	buckets []gridBucket
	free    []int32 // indexes of buckets no cell uses, to reuse
}

// gridPerDegree: cells of 1/64°. Smaller cells would put fewer vehicles beside the answer into
// a query, but make more cells to look up where vehicles are sparse.
const gridPerDegree = 64

const (
	gridRows = 180 * gridPerDegree
	gridCols = 360 * gridPerDegree
)

type gridBucket struct {
	key     uint64
	entries []gridEntry
}

// gridEntry is a vehicle's state in its cell, with the cosine of its latitude, which every
// distance to it needs, and its slot in the index.
type gridEntry struct {
	VehicleState
	cos  float64
	slot int32
}

func gridRow(lat float64) int {
	return min(max(int(math.Floor((lat+90)*gridPerDegree)), 0), gridRows-1)
}

// gridColumn returns the column of a longitude not yet wrapped: 0 to gridCols, the last for 180°,
// which is the column 0 of -180°.
func gridColumn(lon float64) int {
	return min(max(int(math.Floor((lon+180)*gridPerDegree)), 0), gridCols)
}

// gridKey returns the key of the cell at a row and a column, which may lie outside [0, gridCols)
// by less than a turn of the globe.
func gridKey(row, col int) uint64 {
	if col < 0 {
		col += gridCols
	} else if col >= gridCols {
		col -= gridCols
	}
	return uint64(row)<<32 | uint64(col)
}

func gridKeyOf(lon, lat float64) uint64 { return gridKey(gridRow(lat), gridColumn(lon)) }

// add puts a vehicle's entry in its cell and returns where it went.
func (g *vehicleGrid) add(e *gridEntry) (bucket, pos int32) {
	key := gridKeyOf(e.Lon, e.Lat)
	b, ok := g.cells.get(key)
	if !ok {
		if n := len(g.free); n > 0 {
			b, g.free = g.free[n-1], g.free[:n-1]
		} else {
			b = int32(len(g.buckets))
			g.buckets = append(g.buckets, gridBucket{})
		}
		g.buckets[b].key = key
		g.cells.put(key, b)
	}
	bk := &g.buckets[b]
	bk.entries = append(bk.entries, *e)
	return b, int32(len(bk.entries) - 1)
}

// remove takes out the entry at pos of a bucket. The last entry of the bucket takes its place:
// remove returns that vehicle's slot, whose entry is now at pos, or -1 if none moved.
func (g *vehicleGrid) remove(bucket, pos int32) (moved int32) {
	bk := &g.buckets[bucket]
	last := len(bk.entries) - 1
	moved = -1
	if int(pos) != last {
		bk.entries[pos] = bk.entries[last]
		moved = bk.entries[pos].slot
	}
	bk.entries = bk.entries[:last]
	if last == 0 {
		g.cells.remove(bk.key)
		if cap(bk.entries) > 64 { // a crowd that has left: do not keep its memory
			bk.entries = nil
		}
		g.free = append(g.free, bucket)
	}
	return moved
}

// entriesAt returns the entries of the cell at a row and a column (see gridKey).
func (g *vehicleGrid) entriesAt(row, col int) []gridEntry {
	if b, ok := g.cells.get(gridKey(row, col)); ok {
		return g.buckets[b].entries
	}
	return nil
}

// maxGridK is the most nearest vehicles the grid search finds; maxGridRing is the most rings
// around the query's cell it reads, 8 (17 × 17 cells, 25 km across) before it leaves the query to
// the R-tree: beyond, qualified vehicles are so few that the tree's best-first search, which
// skips empty space, is quicker than reading more empty cells.
const (
	maxGridK    = 64
	maxGridRing = 8
)

// gridEdgeMargin widens the edges of cells in the bounds of nearestOnGrid by far more than the
// rounding of the products that put a position in its cell (1e-9° is 0.1 mm).
const gridEdgeMargin = 1e-9

// nearCandidate is a vehicle among the k nearest found so far.
type nearCandidate struct {
	h  float64 // haversine value of the distance
	id int64
}

// precedes orders candidates as the answer is: by distance, then ID.
func precedes(h float64, id int64, c *nearCandidate) bool {
	return h < c.h || h == c.h && id < c.id
}

// nearestOnGrid returns the k (at most maxGridK) vehicles nearest to q that pred accepts, by
// distance then ID, if it can settle them within maxGridRing rings of q's cell; it returns false
// otherwise. The caller holds the vehicles' read lock.
//
// The search is exact. After the cells of ring d are read, every vehicle not yet met is outside
// the square of (2d+1)² cells around q's: south or north of it, where its distance is at least
// the difference of latitude, or east or west, where it is at least the distance to the meridian
// of the square's nearer side. Once that bound exceeds the k-th qualified vehicle found, no
// vehicle outside can come before it. And once every vehicle of the index has been met, fewer
// than k qualify and all of them have been found: a city whose free vehicles have run out asks
// that, and it is answered without a second search through the tree.
func (ix *Index) nearestOnGrid(q *point, k int, pred func(VehicleState) bool) ([]Neighbor, bool) {
	if k > maxGridK || q.lat > 80 || q.lat < -80 {
		return nil, false
	}
	g := &ix.vehGrid
	met, all := 0, ix.vehIDs.len()
	var bestArr [maxGridK]nearCandidate
	best := bestArr[:0]
	kth := math.Inf(1) // the k-th candidate's h once there are k, +Inf before
	r0, c0 := gridRow(q.lat), gridColumn(q.lon)
	// A cell wholly farther than the k-th is not looked up. The bound of a cell
	// (point.boxLowerBound) is made of a part that depends on its row and one that depends on its
	// column: each is computed once, for the row or column offset, as the rings reach it.
	const mid = maxGridRing
	var rowH, rowCos, colH [2*maxGridRing + 1]float64
	bounds := func(d int) {
		for _, o := range [2]int{-d, d} {
			r, c := r0+o, c0+o
			rowH[mid+o], rowCos[mid+o] = q.latBound(float64(r)/gridPerDegree-90-gridEdgeMargin, float64(r+1)/gridPerDegree-90+gridEdgeMargin)
			colH[mid+o] = q.lonBound(float64(c)/gridPerDegree-180-gridEdgeMargin, float64(c+1)/gridPerDegree-180+gridEdgeMargin)
		}
	}
	cellBound := func(dr, dc int) float64 { return rowH[mid+dr] + rowCos[mid+dr]*colH[mid+dc] }
	visit := func(dr, dc int) {
		row := r0 + dr
		if row < 0 || row >= gridRows || len(best) == k && cellBound(dr, dc) > kth {
			return
		}
		es := g.entriesAt(row, c0+dc)
		met += len(es)
		for i := range es {
			e := &es[i]
			h := q.havTo(e.Lon, e.Lat, e.cos)
			if h > kth || len(best) == k && !precedes(h, e.ID, &best[k-1]) {
				continue
			}
			if pred != nil && !pred(e.VehicleState) {
				continue
			}
			if len(best) == k {
				best = best[:k-1]
			}
			j := len(best)
			best = append(best, nearCandidate{})
			for ; j > 0 && precedes(h, e.ID, &best[j-1]); j-- {
				best[j] = best[j-1]
			}
			best[j] = nearCandidate{h: h, id: e.ID}
			if len(best) == k {
				kth = best[k-1].h
			}
		}
	}
	// The cells of a ring are read nearest first, so that the k-th comes near early and more of
	// the far cells are passed over.
	type ringCell struct {
		bound  float64
		dr, dc int
	}
	var ringArr [8 * maxGridRing]ringCell
	for d := 0; d <= maxGridRing; d++ {
		bounds(d)
		if d == 0 {
			visit(0, 0)
		} else {
			ring := ringArr[:0]
			add := func(dr, dc int) {
				b := cellBound(dr, dc)
				i := len(ring)
				ring = append(ring, ringCell{})
				for ; i > 0 && ring[i-1].bound > b; i-- {
					ring[i] = ring[i-1]
				}
				ring[i] = ringCell{b, dr, dc}
			}
			for o := -d; o <= d; o++ {
				add(-d, o)
				add(d, o)
			}
			for o := -d + 1; o <= d-1; o++ {
				add(o, -d)
				add(o, d)
			}
			for _, c := range ring {
				if len(best) == k && c.bound > kth {
					break
				}
				visit(c.dr, c.dc)
			}
		}
		if len(best) == k && q.outsideSquare(r0, c0, d) > kth || met == all {
			out := make([]Neighbor, len(best))
			for i, c := range best {
				out[i] = Neighbor{ID: c.id, DistanceM: havToM(c.h)}
			}
			return out, true
		}
	}
	return nil, false
}

// outsideSquare returns a haversine value no greater than that of any position outside the
// square of cells within d rows and columns of (r0, c0), the cell holding p, which must be far
// from the poles.
func (p *point) outsideSquare(r0, c0, d int) float64 {
	bound := math.Inf(1)
	if r0-d > 0 {
		south := float64(r0-d)/gridPerDegree - 90 - gridEdgeMargin
		bound = min(bound, sinHalfSq(max(p.lat-south, 0)*rad))
	}
	if r0+d < gridRows-1 {
		north := float64(r0+d+1)/gridPerDegree - 90 + gridEdgeMargin
		bound = min(bound, sinHalfSq(max(north-p.lat, 0)*rad))
	}
	if 2*d+1 < gridCols {
		west := float64(c0-d)/gridPerDegree - 180 - gridEdgeMargin
		east := float64(c0+d+1)/gridPerDegree - 180 + gridEdgeMargin
		gap := min(max(min(p.lon-west, east-p.lon), 0), 90)
		// The nearest point of the meridian Δλ away is at sin d = cos φ sin Δλ, and farther
		// meridians, up to the opposite one, are no nearer; h = sin²(d/2) = (1 - cos d)/2.
		sin := p.cos * math.Sin(gap*rad)
		x := sin * sin
		bound = min(bound, x/(2*(1+math.Sqrt(1-x))))
	}
	return bound
}

// gridLen returns the number of entries in the grid; for tests.
func (g *vehicleGrid) gridLen() int {
	n := 0
	for i := range g.buckets {
		n += len(g.buckets[i].entries)
	}
	return n
}

// cellTable maps the keys of the grid's cells to their buckets, by open addressing with linear
// probing in a table at most half full: a cell is found in one or two reads of adjacent memory,
// where a Go map took several. A nearest query looks up ten or twenty cells.
type cellTable struct {
	slots []cellSlot // a power of two of them
	shift uint       // 64 less log2(len(slots))
	n     int
}

type cellSlot struct {
	key    uint64 // the cell's key with cellUsed set; 0 in an empty slot
	bucket int32
}

const cellUsed = 1 << 63 // no key has it: rows fit in 31 bits

func (t *cellTable) home(key uint64) int { return int((key * 0x9e3779b97f4a7c15) >> t.shift) }

func (t *cellTable) get(key uint64) (int32, bool) {
	if t.n == 0 {
		return -1, false
	}
	mask := len(t.slots) - 1
	for i, k := t.home(key), key|cellUsed; ; i = (i + 1) & mask {
		switch t.slots[i].key {
		case k:
			return t.slots[i].bucket, true
		case 0:
			return -1, false
		}
	}
}

// put adds a key that is not in the table.
func (t *cellTable) put(key uint64, bucket int32) {
	if 2*(t.n+1) > len(t.slots) {
		old := t.slots
		size := max(64, 2*len(old))
		t.slots, t.shift = make([]cellSlot, size), uint(64-bits.TrailingZeros(uint(size)))
		for _, s := range old {
			if s.key != 0 {
				t.insert(s)
			}
		}
	}
	t.insert(cellSlot{key: key | cellUsed, bucket: bucket})
	t.n++
}

func (t *cellTable) insert(s cellSlot) {
	mask := len(t.slots) - 1
	i := t.home(s.key &^ cellUsed)
	for t.slots[i].key != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = s
}

// remove takes out a key that is in the table. The entries after it in its run that could
// stand in its place move back, so that no search stops short of them at an empty slot.
func (t *cellTable) remove(key uint64) {
	mask := len(t.slots) - 1
	i := t.home(key)
	for t.slots[i].key != key|cellUsed {
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		if t.slots[j].key == 0 {
			break
		}
		// The entry at j may move to i if its home is not in (i, j], cyclically.
		h := t.home(t.slots[j].key &^ cellUsed)
		if i <= j && (h <= i || h > j) || i > j && h <= i && h > j {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = cellSlot{}
	t.n--
}
