package geo

import (
	"cmp"
	"math"
	"slices"
)

// elevatorBands holds every elevator's position beside the R-tree, for radius queries: cut into
// bands of latitude 1/bandsPerDegree of a degree tall, each band an array of its elevators sorted
// by longitude. A radius query takes the bands its box spans and, in each, the run of elevators
// between the box's longitudes, found through the band's columns and read in order from memory.
//
// The R-tree answers the same query from the same box, but reaches each elevator through a
// callback, after testing the boxes of all 64 entries of every node it opens. Here the work per
// candidate is its distance; the price is the part of the first and last bands outside the box,
// some 20% more candidates than the box holds (370 for 300 in a 500 m query in the city centre).
//
// It takes 24 bytes per elevator and half a byte for the columns; the ID table, which finds an
// elevator's band, holds no position (elevatorTable). Bands are kept sorted on every write (a
// look-up and a move of the band's tail: microseconds, and writes to the registry are rare); a
// load builds all of them at once.
type elevatorBands struct {
	first int    // the band number of bands[0]
	bands []band // by band number less first
}

// band is one band of latitude: its elevators by longitude, and columns that say where in them a
// longitude is. A bisection over the thousands of elevators in a band of a city centre would wait
// on memory at every step, a dozen times in each of the five or six bands of a query; the
// columns find the place in one or two reads.
//
// The band's span of longitudes is cut into columns of equal width, about one for every
// entriesPerColumn elevators, and cols[c] is the first elevator whose column is c or more (the
// last value is the number of elevators). Column numbers are computed by colOf, which never
// decreases as the longitude grows: an elevator before cols[colOf(x)] is west of x, and one at
// or after cols[colOf(x)+1] is east of it, so the first one at or east of x lies between the two.
type band struct {
	es     []bandEntry
	west   float64 // the western edge of column 0
	perDeg float64 // columns per degree
	cols   []int32 // len(cols)-1 columns
}

const entriesPerColumn = 8

// bandsPerDegree: bands 217 m tall. Taller ones put more elevators beside the circle into the
// scan; shorter ones cost more bisections (a 500 m query spans 5 or 6 bands).
const bandsPerDegree = 512

const bandCount = 180 * bandsPerDegree

type bandEntry struct {
	lon, lat float64
	id       int64
}

// bandOf returns the band of a latitude. It never decreases as the latitude grows (the product by
// a power of two is exact), so the bands of a box's edges enclose those of everything inside it.
func bandOf(lat float64) int {
	return min(max(int(math.Floor((lat+90)*bandsPerDegree)), 0), bandCount-1)
}

func (b *band) colOf(lon float64) int {
	c := (lon - b.west) * b.perDeg
	if !(c >= 0) {
		return 0
	}
	return int(min(c, float64(len(b.cols)-2)))
}

// index builds the columns, after the elevators have changed more than setCols can follow.
func (b *band) index() {
	n := len(b.es)
	if n == 0 {
		b.cols, b.west, b.perDeg = nil, 0, 0
		return
	}
	ncols := n/entriesPerColumn + 1
	b.west = b.es[0].lon
	if span := b.es[n-1].lon - b.west; span > 0 {
		b.perDeg = float64(ncols) / span
	} else {
		b.perDeg = 0
	}
	if cap(b.cols) >= ncols+1 {
		b.cols = b.cols[:ncols+1]
	} else {
		b.cols = make([]int32, ncols+1)
	}
	i := 0
	for c := range ncols {
		for i < n && b.colOf(b.es[i].lon) < c {
			i++
		}
		b.cols[c] = int32(i)
	}
	b.cols[ncols] = int32(n)
}

// firstEast returns the position of the first entry of a band at or east of lon.
func (b *band) firstEast(lon float64) int {
	if len(b.es) == 0 {
		return 0
	}
	c := b.colOf(lon)
	return firstEast(b.es, lon, int(b.cols[c]), int(b.cols[c+1]))
}

// firstEast returns the position of the first entry of es[lo:hi] at or east of lon, hi if none;
// the entries before lo must be west of it.
func firstEast(es []bandEntry, lon float64, lo, hi int) int {
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if es[m].lon < lon {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// build replaces the contents with the records given.
func (t *elevatorBands) build(recs []elevatorRec) {
	*t = elevatorBands{}
	if len(recs) == 0 {
		return
	}
	lo, hi := bandCount, -1
	for i := range recs {
		b := bandOf(recs[i].lat)
		lo, hi = min(lo, b), max(hi, b)
	}
	// A counting sort by band, then a sort of each band by longitude.
	starts := make([]int32, hi-lo+2)
	for i := range recs {
		starts[bandOf(recs[i].lat)-lo+1]++
	}
	for i := 1; i < len(starts); i++ {
		starts[i] += starts[i-1]
	}
	all := make([]bandEntry, len(recs))
	next := slices.Clone(starts[:len(starts)-1])
	for i := range recs {
		r := &recs[i]
		b := bandOf(r.lat) - lo
		all[next[b]] = bandEntry{lon: r.lon, lat: r.lat, id: r.id}
		next[b]++
	}
	t.first = lo
	t.bands = make([]band, hi-lo+1)
	for i := range t.bands {
		b := &t.bands[i]
		// Capped, so that an insert into one band moves that band out instead of writing over the
		// next one.
		b.es = all[starts[i]:starts[i+1]:starts[i+1]]
		slices.SortFunc(b.es, func(x, y bandEntry) int { return cmp.Compare(x.lon, y.lon) })
		b.index()
	}
}

// insert adds an elevator at a position.
func (t *elevatorBands) insert(id int64, lon, lat float64) {
	n := bandOf(lat)
	switch {
	case len(t.bands) == 0:
		t.first = n
		t.bands = make([]band, 1)
	case n < t.first:
		t.bands = slices.Insert(t.bands, 0, make([]band, t.first-n)...)
		t.first = n
	case n >= t.first+len(t.bands):
		t.bands = append(t.bands, make([]band, n-t.first-len(t.bands)+1)...)
	}
	b := &t.bands[n-t.first]
	i := b.firstEast(lon)
	b.es = slices.Insert(b.es, i, bandEntry{lon: lon, lat: lat, id: id})
	b.shift(lon, 1)
}

// shift follows the insertion (d = 1) or removal (d = -1) of an entry at lon: the columns east of
// lon's start one place later or earlier, and the others stay right. Columns are built again when
// they hold twice the elevators they were made for, or an elevator comes outside the band's span
// (it would go to the first or last column, and so would the next ones).
func (b *band) shift(lon float64, d int32) {
	ncols := len(b.cols) - 1
	if ncols < 1 || len(b.es) == 0 || len(b.es) > 2*entriesPerColumn*ncols {
		b.index()
		return
	}
	if c := (lon - b.west) * b.perDeg; d > 0 && !(c >= 0 && c < float64(ncols)) {
		b.index()
		return
	}
	for c := b.colOf(lon) + 1; c <= ncols; c++ {
		b.cols[c] += d
	}
}

// find returns the position of an elevator in a band. It looks first among the elevators at
// longitude near, where a load that sets elevators again finds most of them unmoved, then
// through the whole band.
func (t *elevatorBands) find(band int, id int64, near float64) lonLat {
	n := band - t.first
	if n < 0 || n >= len(t.bands) {
		return lonLat{math.NaN(), math.NaN()}
	}
	b := &t.bands[n]
	for i := b.firstEast(near); i < len(b.es) && b.es[i].lon == near; i++ {
		if b.es[i].id == id {
			return lonLat{b.es[i].lon, b.es[i].lat}
		}
	}
	for i := range b.es {
		if b.es[i].id == id {
			return lonLat{b.es[i].lon, b.es[i].lat}
		}
	}
	return lonLat{math.NaN(), math.NaN()}
}

// remove takes out the elevator at a position; it reports whether it was there.
func (t *elevatorBands) remove(id int64, lon, lat float64) bool {
	n := bandOf(lat) - t.first
	if n < 0 || n >= len(t.bands) {
		return false
	}
	b := &t.bands[n]
	for i := b.firstEast(lon); i < len(b.es) && b.es[i].lon == lon; i++ {
		if b.es[i].id == id && b.es[i].lat == lat {
			b.es = slices.Delete(b.es, i, i+1)
			b.shift(lon, -1)
			return true
		}
	}
	return false
}

// appendWithin appends to hits the elevators within radiusM metres of q inside the box bx, which
// holds the whole circle, that pred accepts, with their distances: the elevators an R-tree search
// of bx would meet, put to the same test as in ElevatorsWithin. hr is the haversine value that
// screens candidates before their metres are computed.
func (t *elevatorBands) appendWithin(hits []Neighbor, q *point, bx box, hr, radiusM float64, pred func(id int64) bool) []Neighbor {
	lo := max(bandOf(bx.min[1])-t.first, 0)
	hi := min(bandOf(bx.max[1])-t.first, len(t.bands)-1)
	minLon, maxLon, minLat, maxLat := bx.min[0], bx.max[0], bx.min[1], bx.max[1]
	// The start of each band's run is found first, for all the bands, so that the processor waits
	// for their memory all at once rather than band after band.
	var startArr [16]int
	starts := startArr[:0]
	if hi-lo+1 > len(startArr) {
		starts = make([]int, 0, hi-lo+1)
	}
	for n := lo; n <= hi; n++ {
		starts = append(starts, t.bands[n].firstEast(minLon))
	}
	for n := lo; n <= hi; n++ {
		es := t.bands[n].es
		for i := starts[n-lo]; i < len(es); i++ {
			e := &es[i]
			if e.lon > maxLon {
				break
			}
			if e.lat < minLat || e.lat > maxLat {
				continue
			}
			if h := q.havNear(e.lon, e.lat); h <= hr {
				if d := havToM(h); d <= radiusM && (pred == nil || pred(e.id)) {
					hits = append(hits, Neighbor{ID: e.id, DistanceM: d})
				}
			}
		}
	}
	return hits
}
