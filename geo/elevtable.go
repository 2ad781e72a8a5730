package geo

import (
	"cmp"
	"math"
	"slices"
)

// elevatorTable finds an elevator's position by its ID, which the index needs to move or remove
// its R-tree entry. A Go map of a million entries costs 84 bytes each, more than the R-tree; this
// table costs 24: an array sorted by ID, searched by bisection, beside a small map of the IDs
// added since it was last sorted. Removed entries stay in the array as tombstones (NaN longitude).
// When the map and the tombstones together reach a sixteenth of the array, both are merged into
// a new array, in linear time: a few milliseconds per million elevators, every 60,000 changes at
// the least. Registry changes are rare next to reads, and the start-up load builds the array in
// one go.
type elevatorTable struct {
	sorted []elevatorRec // by ID
	dead   int           // tombstones in sorted
	extra  map[int64]lonLat
	n      int // live entries
}

type elevatorRec struct {
	id       int64
	lon, lat float64 // lon is NaN for a removed elevator
}

type lonLat struct{ lon, lat float64 }

func (t *elevatorTable) len() int { return t.n }

// find returns the position of id in sorted, or -1.
func (t *elevatorTable) find(id int64) int {
	i, ok := slices.BinarySearchFunc(t.sorted, id, func(r elevatorRec, id int64) int { return cmp.Compare(r.id, id) })
	if !ok {
		return -1
	}
	return i
}

func (t *elevatorTable) get(id int64) (lonLat, bool) {
	if p, ok := t.extra[id]; ok {
		return p, true
	}
	if i := t.find(id); i >= 0 && !math.IsNaN(t.sorted[i].lon) {
		return lonLat{t.sorted[i].lon, t.sorted[i].lat}, true
	}
	return lonLat{}, false
}

// set puts id at p and returns where it was before, if anywhere.
func (t *elevatorTable) set(id int64, p lonLat) (old lonLat, existed bool) {
	if old, ok := t.extra[id]; ok {
		t.extra[id] = p
		return old, true
	}
	if i := t.find(id); i >= 0 {
		r := &t.sorted[i]
		old, existed = lonLat{r.lon, r.lat}, !math.IsNaN(r.lon)
		if !existed {
			t.dead--
			t.n++
		}
		r.lon, r.lat = p.lon, p.lat
		return old, existed
	}
	if t.extra == nil {
		t.extra = map[int64]lonLat{}
	}
	t.extra[id] = p
	t.n++
	t.maybeCompact()
	return lonLat{}, false
}

// remove takes id out and returns where it was.
func (t *elevatorTable) remove(id int64) (lonLat, bool) {
	if p, ok := t.extra[id]; ok {
		delete(t.extra, id)
		t.n--
		return p, true
	}
	i := t.find(id)
	if i < 0 || math.IsNaN(t.sorted[i].lon) {
		return lonLat{}, false
	}
	r := &t.sorted[i]
	p := lonLat{r.lon, r.lat}
	r.lon = math.NaN()
	t.dead++
	t.n--
	t.maybeCompact()
	return p, true
}

func (t *elevatorTable) maybeCompact() {
	if len(t.extra)+t.dead > max(4096, len(t.sorted)/16) {
		t.compact()
	}
}

// compact merges the map into the array and drops the tombstones.
func (t *elevatorTable) compact() {
	add := make([]elevatorRec, 0, len(t.extra))
	for id, p := range t.extra {
		add = append(add, elevatorRec{id, p.lon, p.lat})
	}
	slices.SortFunc(add, func(a, b elevatorRec) int { return cmp.Compare(a.id, b.id) })
	merged := make([]elevatorRec, 0, t.n)
	i := 0
	for _, r := range t.sorted {
		for i < len(add) && add[i].id < r.id {
			merged = append(merged, add[i])
			i++
		}
		if !math.IsNaN(r.lon) {
			merged = append(merged, r)
		}
	}
	merged = append(merged, add[i:]...)
	t.sorted, t.extra, t.dead = merged, nil, 0
}

// build replaces an empty table with the records given, which it may reorder; of records with
// the same ID the one latest in the slice wins. It returns the ones that lost.
func (t *elevatorTable) build(recs []elevatorRec) (lost []elevatorRec) {
	byID := func(a, b elevatorRec) int { return cmp.Compare(a.id, b.id) }
	// A table scan returns elevators by ID, already in order.
	if !slices.IsSortedFunc(recs, byID) {
		slices.SortStableFunc(recs, byID)
	}
	out := recs[:0]
	for i, r := range recs {
		if i+1 < len(recs) && recs[i+1].id == r.id {
			lost = append(lost, r)
			continue
		}
		out = append(out, r)
	}
	t.sorted, t.extra, t.dead, t.n = slices.Clip(out), nil, 0, len(out)
	return lost
}
