package geo

import (
	"cmp"
	"math"
	"slices"
	"sync"
)

// Neighbor is an entry of the index found near a position, with its great-circle distance.
type Neighbor struct {
	ID        int64   `json:"id"`
	DistanceM float64 `json:"distance_m"`
}

func compareNeighbors(a, b Neighbor) int {
	if c := cmp.Compare(a.DistanceM, b.DistanceM); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

func lessNeighbor(a, b *Neighbor) bool {
	return a.DistanceM < b.DistanceM || a.DistanceM == b.DistanceM && a.ID < b.ID
}

// Sorting the answer of a radius query is a large part of its cost: hundreds of neighbours in a
// dense district. Neighbours within a radius r of a position are spread about evenly over the
// disk, so their (d/r)² are about evenly spread over [0, 1]: sortedWithin deals them into as many
// buckets, which leaves one or two in each, and sorts each bucket on its own, in linear time where
// any comparison sort takes n log n (and slices.SortFunc makes a call of every comparison).

var sortScratch = sync.Pool{New: func() any { return new(scratch) }}

// scratch is the working memory of a radius query, reused from one to the next: the answer is
// gathered here and sorted into a new slice of its final size.
type scratch struct {
	hits    []Neighbor
	buckets []int32
	counts  []int32
}

// sortedWithin returns sc.hits, neighbours no farther than r, in a new slice sorted by distance
// then ID.
func (sc *scratch) sortedWithin(r float64) []Neighbor {
	s := sc.hits
	if len(s) == 0 {
		return nil
	}
	if cap(s) > 1<<16 { // do not keep the memory of an exceptional query
		sc.hits = nil
	}
	n := len(s)
	if n <= 16 || !(r > 0) || math.IsInf(r, 1) || n > 1<<30 {
		out := slices.Clone(s)
		sortNeighbors(out)
		return out
	}
	if cap(sc.buckets) < n || cap(sc.counts) < n+1 {
		sc.buckets = make([]int32, n)
		sc.counts = make([]int32, n+1)
	}
	buckets, counts := sc.buckets[:n], sc.counts[:n+1]
	clear(counts)
	scale := float64(n) / (r * r)
	for i := range s {
		d := s[i].DistanceM
		b := int32(max(min(int(d*d*scale), n-1), 0)) // d ≤ r; a NaN converts to some int that is bounded
		buckets[i] = b
		counts[b+1]++
	}
	for i := 1; i <= n; i++ {
		counts[i] += counts[i-1]
	}
	out := make([]Neighbor, n)
	for i := range s {
		b := buckets[i]
		out[counts[b]] = s[i]
		counts[b]++
	}
	// counts[b] is now the end of bucket b, and the start of bucket b+1. Most buckets hold one or
	// two neighbours; an insertion sort written here settles those without a call.
	start := 0
	for b := 0; b < n; b++ {
		end := int(counts[b])
		switch m := end - start; {
		case m > 12:
			sortNeighbors(out[start:end])
		case m > 1:
			for i := start + 1; i < end; i++ {
				for j := i; j > start && lessNeighbor(&out[j], &out[j-1]); j-- {
					out[j], out[j-1] = out[j-1], out[j]
				}
			}
		}
		start = end
	}
	if cap(sc.buckets) > 1<<16 {
		sc.buckets, sc.counts = nil, nil
	}
	return out
}

// sortNeighbors orders by distance, then ID: a quicksort with the comparison written in, several
// times faster than slices.SortFunc on a few hundred neighbours. Pivots are the median of three
// pseudo-random elements, so that no pattern of the input makes it quadratic, and it hands over
// to slices.SortFunc should partitions still go badly, so the worst case stays n log n.
func sortNeighbors(s []Neighbor) {
	depth := 0
	for n := len(s); n > 0; n >>= 1 {
		depth += 2
	}
	quickNeighbors(s, depth, uint64(len(s))*0x9e3779b97f4a7c15|1)
}

func quickNeighbors(s []Neighbor, depth int, seed uint64) {
	for len(s) > 12 {
		if depth == 0 {
			slices.SortFunc(s, compareNeighbors)
			return
		}
		depth--
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		n := uint64(len(s))
		a, b, c := &s[seed%n], &s[(seed>>21)%n], &s[(seed>>42)%n]
		if lessNeighbor(b, a) {
			a, b = b, a
		}
		if lessNeighbor(c, b) {
			b = c
			if lessNeighbor(b, a) {
				b = a
			}
		}
		p := *b // the median
		// Hoare partition: afterwards s[:j+1] ≤ p ≤ s[i:].
		i, j := 0, len(s)-1
		for i <= j {
			for lessNeighbor(&s[i], &p) {
				i++
			}
			for lessNeighbor(&p, &s[j]) {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		// Recurse into the smaller side, loop on the larger.
		if j < len(s)-1-i {
			quickNeighbors(s[:j+1], depth, seed)
			s = s[i:]
		} else {
			quickNeighbors(s[i:], depth, seed)
			s = s[:j+1]
		}
	}
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && lessNeighbor(&s[j], &s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
