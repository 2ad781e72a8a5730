package geo

import (
	"cmp"
	"slices"
)

// elevatorTable finds, by its ID, the band of latitude (elevatorBands) that holds an elevator's
// position, which the index needs to move or remove the elevator: the position itself is then
// found in the band. A Go map of a million entries costs 84 bytes each, more than the R-tree;
// this table costs 4 bytes an elevator, or 12 at worst.
//
// IDs are a database's serial numbers: they fill most of the range between the smallest and the
// largest. While they fill at least half of it, the table is an array of bands indexed by the ID
// less the smallest (dense), -1 where there is no elevator. Otherwise it is the IDs sorted and
// searched by bisection, with their bands in a parallel array (-1 for a removed elevator: a
// tombstone). Either way a small map holds the IDs added since the arrays were last built. When
// the map, with the tombstones of the sorted form, reaches a sixteenth of the arrays, the arrays
// are built again, in linear time: a few milliseconds per million elevators, every 60,000
// changes at the least. Registry changes are rare next to reads, and the start-up load builds the
// arrays in one go.
type elevatorTable struct {
	dense bool
	base  int64   // dense: the ID of bands[0]
	ids   []int64 // sorted form: ascending
	bands []int32 // the band of each ID, -1 for none
	dead  int     // sorted form: tombstones
	extra map[int64]int32
	n     int // live entries
}

// elevatorRec is an elevator as a load brings it.
type elevatorRec struct {
	id       int64
	lon, lat float64
}

type lonLat struct{ lon, lat float64 }

func (t *elevatorTable) len() int { return t.n }

// find returns the place of id in the arrays, or -1.
func (t *elevatorTable) find(id int64) int {
	if t.dense {
		if id >= t.base && uint64(id-t.base) < uint64(len(t.bands)) {
			return int(id - t.base)
		}
		return -1
	}
	i, ok := slices.BinarySearch(t.ids, id)
	if !ok {
		return -1
	}
	return i
}

// get returns the band of an elevator.
func (t *elevatorTable) get(id int64) (int32, bool) {
	if b, ok := t.extra[id]; ok {
		return b, true
	}
	if i := t.find(id); i >= 0 && t.bands[i] >= 0 {
		return t.bands[i], true
	}
	return 0, false
}

// set puts id in band b and returns the band it was in before, if any.
func (t *elevatorTable) set(id int64, b int32) (old int32, existed bool) {
	if old, ok := t.extra[id]; ok {
		t.extra[id] = b
		return old, true
	}
	if i := t.find(id); i >= 0 {
		old, existed = t.bands[i], t.bands[i] >= 0
		if !existed {
			t.n++
			if !t.dense {
				t.dead--
			}
		}
		t.bands[i] = b
		return old, existed
	}
	if t.extra == nil {
		t.extra = map[int64]int32{}
	}
	t.extra[id] = b
	t.n++
	t.maybeCompact()
	return 0, false
}

// remove takes id out and returns the band it was in.
func (t *elevatorTable) remove(id int64) (int32, bool) {
	if b, ok := t.extra[id]; ok {
		delete(t.extra, id)
		t.n--
		return b, true
	}
	i := t.find(id)
	if i < 0 || t.bands[i] < 0 {
		return 0, false
	}
	b := t.bands[i]
	t.bands[i] = -1
	t.n--
	if !t.dense {
		t.dead++
	}
	t.maybeCompact()
	return b, true
}

func (t *elevatorTable) maybeCompact() {
	if len(t.extra)+t.dead > max(4096, len(t.bands)/16) {
		t.compact()
	}
}

// compact builds the arrays again from everything the table holds.
func (t *elevatorTable) compact() {
	ids, bands := make([]int64, 0, t.n), make([]int32, 0, t.n)
	add := make([]int64, 0, len(t.extra))
	for id := range t.extra {
		add = append(add, id)
	}
	slices.Sort(add)
	j := 0
	for i, b := range t.bands {
		if b < 0 {
			continue
		}
		id := t.base + int64(i)
		if !t.dense {
			id = t.ids[i]
		}
		for j < len(add) && add[j] < id {
			ids, bands = append(ids, add[j]), append(bands, t.extra[add[j]])
			j++
		}
		ids, bands = append(ids, id), append(bands, b)
	}
	for _, id := range add[j:] {
		ids, bands = append(ids, id), append(bands, t.extra[id])
	}
	t.fill(ids, bands)
}

// fill makes the arrays from IDs in ascending order, none twice, and their bands, choosing the
// dense form when the IDs fill at least half their range.
func (t *elevatorTable) fill(ids []int64, bands []int32) {
	*t = elevatorTable{n: len(ids)}
	if len(ids) == 0 {
		return
	}
	if span := uint64(ids[len(ids)-1] - ids[0]); span < 2*uint64(len(ids)) {
		t.dense, t.base = true, ids[0]
		t.bands = make([]int32, span+1)
		for i := range t.bands {
			t.bands[i] = -1
		}
		for i, id := range ids {
			t.bands[id-t.base] = bands[i]
		}
		return
	}
	t.ids, t.bands = ids, bands
}

// build replaces an empty table with the records given, which it reorders by ID; of records with
// the same ID the one latest in the slice wins. It returns the winners, by ID, and the ones that
// lost.
func (t *elevatorTable) build(recs []elevatorRec) (won, lost []elevatorRec) {
	byID := func(a, b elevatorRec) int { return cmp.Compare(a.id, b.id) }
	// A table scan returns elevators by ID, already in order.
	if !slices.IsSortedFunc(recs, byID) {
		slices.SortStableFunc(recs, byID)
	}
	won = recs[:0]
	for i, r := range recs {
		if i+1 < len(recs) && recs[i+1].id == r.id {
			lost = append(lost, r)
			continue
		}
		won = append(won, r)
	}
	ids, bands := make([]int64, len(won)), make([]int32, len(won))
	for i, r := range won {
		ids[i], bands[i] = r.id, int32(bandOf(r.lat))
	}
	t.fill(ids, bands)
	return won, lost
}
