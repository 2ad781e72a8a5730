package geo

import "iter"

// slotTable maps vehicle IDs to their slots. IDs are a database's serial numbers, small and close
// together, so those below denseIDs are kept in a slice indexed by ID: a lookup, made for every
// fix, reads one word of a 4-byte-per-ID array that stays in the processor's cache, where a map
// reads its control word and then its slot. Other IDs go to a map.
type slotTable struct {
	dense []int32 // by ID: slot+1, 0 for none
	other map[int64]int32
	n     int
}

// denseIDs bounds the IDs kept in the slice, and so its size (4 MiB).
const denseIDs = 1 << 20

func (t *slotTable) get(id int64) (int32, bool) {
	if uint64(id) < uint64(len(t.dense)) {
		s := t.dense[id]
		return s - 1, s != 0
	}
	if id >= 0 && id < denseIDs {
		return 0, false
	}
	s, ok := t.other[id]
	return s, ok
}

// set maps id, not in the table, to slot.
func (t *slotTable) set(id int64, slot int32) {
	t.n++
	if id >= 0 && id < denseIDs {
		if id >= int64(len(t.dense)) {
			grown := make([]int32, min(max(2*len(t.dense), int(id)+1, 1024), denseIDs))
			copy(grown, t.dense)
			t.dense = grown
		}
		t.dense[id] = slot + 1
		return
	}
	if t.other == nil {
		t.other = map[int64]int32{}
	}
	t.other[id] = slot
}

// remove takes id, in the table, out.
func (t *slotTable) remove(id int64) {
	t.n--
	if id >= 0 && id < denseIDs {
		t.dense[id] = 0
		return
	}
	delete(t.other, id)
}

func (t *slotTable) len() int { return t.n }

// all yields every ID with its slot.
func (t *slotTable) all() iter.Seq2[int64, int32] {
	return func(yield func(int64, int32) bool) {
		for id, s := range t.dense {
			if s != 0 && !yield(int64(id), s-1) {
				return
			}
		}
		for id, s := range t.other {
			if !yield(id, s) {
				return
			}
		}
	}
}
