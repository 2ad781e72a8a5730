package geo

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"slices"
	"strconv"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb"
)

// maxAreaDetails caps the problems CheckArea reports. An outline scribbled by mistake crosses
// itself thousands of times; the first fifty tell the planner enough to redraw it, and the check
// stops looking once it has them.
const maxAreaDetails = 50

// maxAreaWork bounds the work of one check, counted in edge-pair tests, grid cells filled and edges
// met by point-in-ring tests, to some 20 ms. Real outlines stay far below it: a 20,000-vertex
// circle needs 80,000, a 7,000-vertex shell with 2,499 holes 230,000. A contrived one gets there,
// such as thousands of long spikes meeting in one place, which no grid separates, and is refused
// as too complex rather than holding a request for a second.
const maxAreaWork = 1_000_000

// CheckArea checks a rescue grid's area and returns it normalised, or the problems found.
//
// Each problem is a Detail whose Field points into GeoJSON MultiPolygon coordinates
// ("geometry.coordinates[0][1][5]" is vertex 5 of ring 1 of polygon 0) and whose Reason says in
// words what is wrong and where, vertices and edges numbered as in the input. An area is valid
// when it has at most liftrescue.MaxGridVertices vertices (checked first and alone, so that a
// huge file is refused at once); every vertex is a real place; every ring is closed, has three
// distinct points or more and some area, and neither crosses nor touches itself; the holes of a
// polygon lie inside its shell, outside each other, and touch neither the shell nor each other;
// and no two polygons overlap or touch. Edges are straight lines in longitude and latitude, as
// on a web map, and every predicate is exact, so that the answer never depends on rounding.
//
// Normalising drops points that repeat the one before them and turns every shell
// counter-clockwise and every hole clockwise, as RFC 7946 asks; everything else is returned as
// given, in new slices: mp is not modified. At most 50 problems are returned.
func CheckArea(mp orb.MultiPolygon) (orb.MultiPolygon, []liftrescue.Detail) {
	if n := liftrescue.VertexCount(mp); n > liftrescue.MaxGridVertices {
		return nil, []liftrescue.Detail{{
			Field:  "geometry",
			Value:  strconv.Itoa(n),
			Reason: fmt.Sprintf("has %d vertices, at most %d are allowed", n, liftrescue.MaxGridVertices),
		}}
	}
	if len(mp) == 0 {
		return nil, []liftrescue.Detail{{Field: "geometry", Reason: "has no polygon: draw at least one"}}
	}
	c := &areaCheck{flawed: make([]bool, len(mp)), ringPairs: map[[2]int]bool{}}
	c.readPolygons(mp)
	for i := range c.polys {
		c.sweepPolygon(i)
	}
	for i := range c.polys {
		c.checkHoles(i)
	}
	c.comparePolygons()
	if len(c.details) > 0 {
		return nil, c.details
	}
	return c.normalised(), nil
}

// areaRing is a ring of the input once read: cleaned of repeated points, and whether it is fit
// for the tests between rings.
type areaRing struct {
	poly, index int // polygon and ring number in the input
	// pts are the distinct points in order, without the closing one: edge k runs from pts[k] to
	// pts[k+1], the last one back to pts[0].
	pts []orb.Point
	// last[k] is the input index of the last repeat of pts[k], so that edge k is the input's edge
	// last[k]–last[k]+1: the numbers the planner's file knows it by.
	last []int
	// closed is pts with the closing point, for the answer.
	closed orb.Ring
	box    orb.Bound
	// ok: well formed and, once the edges are swept, not crossing or touching itself.
	ok bool
	// touches are the places where the ring was found touching itself, so that a figure 8, where
	// four pairs of edges meet in one vertex, is reported once.
	touches map[orb.Point]bool
	bands   *areaBands // made for the first point-in-ring test
}

func (r *areaRing) edge(k int) (orb.Point, orb.Point) {
	return r.pts[k], r.pts[(k+1)%len(r.pts)]
}

func (r *areaRing) edgeName(k int) string {
	return fmt.Sprintf("%d–%d", r.last[k], r.last[k]+1)
}

func (r *areaRing) field() string {
	return fmt.Sprintf("geometry.coordinates[%d][%d]", r.poly, r.index)
}

func (r *areaRing) name() string {
	return fmt.Sprintf("polygon %d ring %d", r.poly, r.index)
}

// areaEdge names edge k of c.rings[ring].
type areaEdge struct{ ring, k int32 }

// areaCheck is one run of CheckArea.
type areaCheck struct {
	rings []areaRing
	polys [][2]int // polygon i is rings[polys[i][0]:polys[i][1]], its shell first
	// flawed marks the polygons with a problem reported, which the tests between polygons, made
	// for valid ones, skip.
	flawed []bool
	// ringPairs are the pairs of rings of one polygon found meeting, reported once per pair.
	ringPairs  map[[2]int]bool
	details    []liftrescue.Detail
	work       int
	tooComplex bool
}

func (c *areaCheck) done() bool { return len(c.details) >= maxAreaDetails || c.tooComplex }

// report adds a problem of polygon poly.
func (c *areaCheck) report(poly int, field, value, format string, args ...any) {
	c.flawed[poly] = true
	if len(c.details) < maxAreaDetails {
		c.details = append(c.details, liftrescue.Detail{Field: field, Value: value, Reason: fmt.Sprintf(format, args...)})
	}
}

// spend counts work and reports whether the check may go on.
func (c *areaCheck) spend(n int) bool {
	c.work += n
	if c.work > maxAreaWork && !c.tooComplex {
		c.tooComplex = true
		c.details = append(c.details, liftrescue.Detail{Field: "geometry",
			Reason: "is too complex to check: too many long edges crowded together, or too many holes; simplify it"})
	}
	return !c.done()
}

func (c *areaCheck) readPolygons(mp orb.MultiPolygon) {
	for i, poly := range mp {
		if len(poly) == 0 {
			c.report(i, fmt.Sprintf("geometry.coordinates[%d]", i), "", "polygon %d has no ring", i)
		}
		start := len(c.rings)
		for j, ring := range poly {
			c.rings = append(c.rings, c.readRing(i, j, ring))
		}
		c.polys = append(c.polys, [2]int{start, len(c.rings)})
	}
}

// readRing checks what can be checked of a ring alone, short of its edges meeting, and cleans it.
func (c *areaCheck) readRing(i, j int, ring orb.Ring) areaRing {
	r := areaRing{poly: i, index: j}
	for k, p := range ring {
		if why := liftrescue.CheckLonLat(p[0], p[1]); why != "" {
			c.report(i, fmt.Sprintf("%s[%d]", r.field(), k), fmt.Sprintf("%v,%v", p[0], p[1]),
				"%s vertex %d: %s", r.name(), k, why)
			return r
		}
	}
	switch {
	case len(ring) < 4:
		c.report(i, r.field(), "", "%s has %d points, a closed ring needs at least 4", r.name(), len(ring))
		return r
	case ring[0] != ring[len(ring)-1]:
		c.report(i, r.field(), "", "%s is not closed: its last point must repeat its first", r.name())
		return r
	}
	pts := make([]orb.Point, 0, len(ring))
	last := make([]int, 0, len(ring))
	for k, p := range ring[:len(ring)-1] {
		if len(pts) > 0 && pts[len(pts)-1] == p {
			last[len(last)-1] = k
			continue
		}
		pts = append(pts, p)
		last = append(last, k)
	}
	// Points just before the closing one that repeat the first belong to the closing point.
	if len(pts) > 1 && pts[len(pts)-1] == pts[0] {
		pts, last = pts[:len(pts)-1], last[:len(last)-1]
	}
	if len(pts) < 3 {
		points := "points"
		if len(pts) == 1 {
			points = "point"
		}
		c.report(i, r.field(), "", "%s has only %d distinct %s, a ring needs at least 3", r.name(), len(pts), points)
		return r
	}
	if !slices.ContainsFunc(pts[2:], func(p orb.Point) bool { return areaOrient(pts[0], pts[1], p) != 0 }) {
		c.report(i, r.field(), "", "%s has no area: all its points lie on one line", r.name())
		return r
	}
	r.pts, r.last = pts, last
	r.closed = append(append(make(orb.Ring, 0, len(pts)+1), pts...), pts[0])
	r.box = r.closed.Bound()
	r.ok = true
	return r
}

// sweepPolygon finds the edges of a polygon's rings that meet: in one ring, a ring crossing or
// touching itself; in two, a hole meeting its shell or another hole.
func (c *areaCheck) sweepPolygon(i int) {
	if c.done() {
		return
	}
	edges, box := c.polygonEdges(i)
	c.sweep(edges, box, func(x, y areaEdge) bool {
		if x.ring == y.ring {
			c.meetSelf(int(x.ring), int(x.k), int(y.k))
		} else {
			c.meetRings(x, y)
		}
		return !c.done()
	})
}

// polygonEdges returns the edges of polygon i's well-formed rings and the box around them.
func (c *areaCheck) polygonEdges(i int) ([]areaEdge, orb.Bound) {
	var edges []areaEdge
	var box orb.Bound
	for r := c.polys[i][0]; r < c.polys[i][1]; r++ {
		ring := &c.rings[r]
		if !ring.ok {
			continue
		}
		if len(edges) == 0 {
			box = ring.box
		} else {
			box = box.Union(ring.box)
		}
		for k := range ring.pts {
			edges = append(edges, areaEdge{int32(r), int32(k)})
		}
	}
	return edges, box
}

// meetSelf tests edges i < j of one ring.
func (c *areaCheck) meetSelf(r, i, j int) {
	ring := &c.rings[r]
	m := len(ring.pts)
	if j == i+1 || i == 0 && j == m-1 {
		// Adjacent edges share a vertex and meet nowhere else, unless they fold back on each other.
		first, second := i, j
		if j != i+1 {
			first, second = j, i
		}
		a, b, d := ring.pts[first], ring.pts[second], ring.pts[(second+1)%m]
		if areaOrient(a, b, d) == 0 && (areaCmp(a, b) < 0) == (areaCmp(d, b) < 0) && ring.firstTouch(b) {
			c.report(ring.poly, ring.field(), areaPlace(b), "%s: edges %s and %s fold back on each other at %s (a spike)",
				ring.name(), ring.edgeName(first), ring.edgeName(second), areaPlace(b))
		}
		return
	}
	a, b := ring.edge(i)
	p, q := ring.edge(j)
	kind, at := areaContact(a, b, p, q)
	if kind == areaApart || !ring.firstTouch(at) {
		return
	}
	c.report(ring.poly, ring.field(), areaPlace(at), "%s: edges %s and %s %s %s",
		ring.name(), ring.edgeName(i), ring.edgeName(j), kind.verb(), areaPlace(at))
}

// firstTouch marks the ring as meeting itself and reports whether at is a new place of it.
func (r *areaRing) firstTouch(at orb.Point) bool {
	r.ok = false
	if r.touches[at] {
		return false
	}
	if r.touches == nil {
		r.touches = map[orb.Point]bool{}
	}
	r.touches[at] = true
	return true
}

// meetRings tests an edge of one ring against an edge of a later ring of the same polygon.
func (c *areaCheck) meetRings(x, y areaEdge) {
	rx, ry := &c.rings[x.ring], &c.rings[y.ring]
	a, b := rx.edge(int(x.k))
	p, q := ry.edge(int(y.k))
	kind, at := areaContact(a, b, p, q)
	key := [2]int{int(x.ring), int(y.ring)}
	if kind == areaApart || c.ringPairs[key] {
		return
	}
	c.ringPairs[key] = true
	if rx.index == 0 {
		c.report(ry.poly, ry.field(), areaPlace(at), "%s (a hole) %s its shell %s %s: the hole's edge %s, the shell's edge %s",
			ry.name(), kind.verb3(), kind.preposition(), areaPlace(at), ry.edgeName(int(y.k)), rx.edgeName(int(x.k)))
		return
	}
	c.report(ry.poly, ry.field(), areaPlace(at), "polygon %d: holes %d and %d %s %s: edge %s of ring %d, edge %s of ring %d",
		ry.poly, rx.index, ry.index, kind.verb(), areaPlace(at), rx.edgeName(int(x.k)), rx.index, ry.edgeName(int(y.k)), ry.index)
}

// checkHoles checks that each hole of polygon i lies inside the shell and outside the other
// holes. Their edges do not meet (or that has been reported), so one vertex of a hole tells
// where the whole hole is.
func (c *areaCheck) checkHoles(i int) {
	lo, hi := c.polys[i][0], c.polys[i][1]
	if c.done() || hi-lo < 2 || !c.rings[lo].ok {
		return
	}
	shell := &c.rings[lo]
	var holes []int
	for r := lo + 1; r < hi; r++ {
		h := &c.rings[r]
		if !h.ok || c.ringPairs[[2]int{lo, r}] {
			continue
		}
		if !areaWithin(h.box, shell.box) || !c.ringContains(shell, h.pts[0]) {
			c.report(i, h.field(), "", "%s (a hole) is not inside its shell, ring 0", h.name())
			continue
		}
		holes = append(holes, r)
	}
	boxes := make([]orb.Bound, len(holes))
	for k, r := range holes {
		boxes[k] = c.rings[r].box
	}
	c.boxPairs(boxes, func(k, l int) bool {
		a, b := holes[k], holes[l]
		if c.ringPairs[[2]int{a, b}] {
			return true
		}
		ha, hb := &c.rings[a], &c.rings[b]
		switch {
		case areaWithin(ha.box, hb.box) && c.ringContains(hb, ha.pts[0]):
			c.report(i, ha.field(), "", "%s (a hole) lies inside ring %d, another hole", ha.name(), hb.index)
		case areaWithin(hb.box, ha.box) && c.ringContains(ha, hb.pts[0]):
			c.report(i, hb.field(), "", "%s (a hole) lies inside ring %d, another hole", hb.name(), ha.index)
		}
		return !c.done()
	})
}

// comparePolygons checks that no two polygons overlap or touch: no edges meet, and neither lies
// inside the other (which one vertex of its shell tells, when no edges meet).
func (c *areaCheck) comparePolygons() {
	if c.done() || len(c.polys) < 2 {
		return
	}
	boxes := make([]orb.Bound, len(c.polys))
	for i := range c.polys {
		edges, box := c.polygonEdges(i)
		if len(edges) == 0 {
			box = orb.Bound{Min: orb.Point{math.Inf(1), math.Inf(1)}, Max: orb.Point{math.Inf(-1), math.Inf(-1)}}
		}
		boxes[i] = box
	}
	c.boxPairs(boxes, func(i, j int) bool {
		if c.polygonsMeet(i, j, areaOverlap(boxes[i], boxes[j])) || c.flawed[i] || c.flawed[j] {
			return !c.done()
		}
		si, sj := &c.rings[c.polys[i][0]], &c.rings[c.polys[j][0]]
		switch {
		case areaWithin(sj.box, si.box) && c.polygonContains(i, sj.pts[0]):
			c.report(j, fmt.Sprintf("geometry.coordinates[%d]", j), "", "polygons %d and %d overlap: polygon %d lies inside polygon %d", i, j, j, i)
		case areaWithin(si.box, sj.box) && c.polygonContains(j, si.pts[0]):
			c.report(j, fmt.Sprintf("geometry.coordinates[%d]", j), "", "polygons %d and %d overlap: polygon %d lies inside polygon %d", i, j, i, j)
		}
		return !c.done()
	})
}

// polygonsMeet reports the first place where edges of polygons i < j meet, if any, looking only
// in the part of the map where their boxes overlap.
func (c *areaCheck) polygonsMeet(i, j int, overlap orb.Bound) bool {
	var edges []areaEdge
	for _, p := range [2]int{i, j} {
		all, _ := c.polygonEdges(p)
		c.spend(len(all))
		for _, e := range all {
			a, b := c.rings[e.ring].edge(int(e.k))
			if min(a[0], b[0]) <= overlap.Max[0] && max(a[0], b[0]) >= overlap.Min[0] &&
				min(a[1], b[1]) <= overlap.Max[1] && max(a[1], b[1]) >= overlap.Min[1] {
				edges = append(edges, e)
			}
		}
	}
	met := false
	c.sweep(edges, overlap, func(x, y areaEdge) bool {
		rx, ry := &c.rings[x.ring], &c.rings[y.ring]
		if rx.poly == ry.poly {
			return true
		}
		a, b := rx.edge(int(x.k))
		p, q := ry.edge(int(y.k))
		kind, at := areaContact(a, b, p, q)
		if kind == areaApart {
			return true
		}
		met = true
		what, why := "overlap: their edges cross near", ""
		if kind == areaTouch {
			what, why = "touch at", ": the polygons of an area must not share a point"
		}
		c.report(j, fmt.Sprintf("geometry.coordinates[%d]", j), areaPlace(at), "polygons %d and %d %s %s (%s edge %s, %s edge %s)%s",
			i, j, what, areaPlace(at), rx.name(), rx.edgeName(int(x.k)), ry.name(), ry.edgeName(int(y.k)), why)
		return false
	})
	return met
}

// ringContains reports whether p, which is on no edge of the ring, is inside it.
func (c *areaCheck) ringContains(r *areaRing, p orb.Point) bool {
	if r.bands == nil {
		r.bands = newAreaBands(r)
		c.spend(len(r.pts) + len(r.bands.edges))
	}
	in, visited := r.bands.contains(r, p)
	c.spend(visited)
	return in
}

// areaBands index a ring's edges by latitude, for point-in-ring tests that meet only the edges
// near the point's latitude: a hole tested against a 20,000-vertex shell meets a few dozen, where
// walking the ring (as planar.RingContains does) meets all 20,000, some 500 µs a hole.
type areaBands struct {
	minY, height float64
	n            int
	// edges[start[i]:start[i+1]] are the edges whose latitude span meets band i.
	start, edges []int32
}

// newAreaBands cuts the ring's latitude span into about one band per 4 edges, but no thinner
// than keeps the edges in about 5 bands each on average: a comb of tall teeth gets few bands.
func newAreaBands(r *areaRing) *areaBands {
	b := &areaBands{minY: r.box.Min[1]}
	h := r.box.Max[1] - r.box.Min[1]
	rise := 0.0
	for k := range r.pts {
		a, c := r.edge(k)
		rise += math.Abs(c[1] - a[1])
	}
	b.n = max(1, min(len(r.pts)/4, int(4*float64(len(r.pts))*h/rise)))
	b.height = h / float64(b.n)
	b.start = make([]int32, b.n+1)
	for k := range r.pts {
		lo, hi := b.span(r, k)
		for i := lo; i <= hi; i++ {
			b.start[i+1]++
		}
	}
	for i := 1; i <= b.n; i++ {
		b.start[i] += b.start[i-1]
	}
	b.edges = make([]int32, b.start[b.n])
	next := slices.Clone(b.start[:b.n])
	for k := range r.pts {
		lo, hi := b.span(r, k)
		for i := lo; i <= hi; i++ {
			b.edges[next[i]] = int32(k)
			next[i]++
		}
	}
	return b
}

// span returns the bands of edge k. The band of a latitude only grows with it, rounding
// included, so a point whose latitude is in the edge's span finds the edge in its band.
func (b *areaBands) span(r *areaRing, k int) (int, int) {
	a, c := r.edge(k)
	return b.band(min(a[1], c[1])), b.band(max(a[1], c[1]))
}

func (b *areaBands) band(y float64) int {
	if b.n == 1 {
		return 0
	}
	return areaCellOf((y-b.minY)/b.height, b.n)
}

// contains counts the edges crossed by the ray east of p, exactly, and returns whether it
// crossed an odd number, with how many edges it looked at. An edge counts when one end is north
// of p and the other is not, so that a ray through a vertex counts it once, or twice where the
// ring only touches the ray there.
func (b *areaBands) contains(r *areaRing, p orb.Point) (in bool, visited int) {
	i := b.band(p[1])
	for _, k := range b.edges[b.start[i]:b.start[i+1]] {
		a, c := r.edge(int(k))
		if (a[1] > p[1]) != (c[1] > p[1]) {
			// An edge going north crosses the ray if p is on its left; one going south, on its right.
			if o := areaOrient(a, c, p); (o > 0) == (c[1] > a[1]) {
				in = !in
			}
		}
	}
	return in, int(b.start[i+1] - b.start[i])
}

// polygonContains reports whether p is in polygon i's area: in its shell and in none of its holes.
func (c *areaCheck) polygonContains(i int, p orb.Point) bool {
	lo, hi := c.polys[i][0], c.polys[i][1]
	if !c.ringContains(&c.rings[lo], p) {
		return false
	}
	for r := lo + 1; r < hi; r++ {
		if h := &c.rings[r]; h.box.Contains(p) && c.ringContains(h, p) {
			return false
		}
	}
	return true
}

// boxPairs calls fn(i, j), i < j, for every two boxes that meet, sorting them by their west edge
// so that boxes far apart are never compared, until fn returns false or the work runs out.
func (c *areaCheck) boxPairs(boxes []orb.Bound, fn func(i, j int) bool) {
	order := make([]int, 0, len(boxes))
	for i, b := range boxes {
		if b.Min[0] <= b.Max[0] {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(boxes[a].Min[0], boxes[b].Min[0]) })
	for n, i := range order {
		for _, j := range order[n+1:] {
			if boxes[j].Min[0] > boxes[i].Max[0] {
				break
			}
			if !c.spend(1) {
				return
			}
			if boxes[j].Min[1] <= boxes[i].Max[1] && boxes[i].Min[1] <= boxes[j].Max[1] && !fn(min(i, j), max(i, j)) {
				return
			}
		}
	}
}

// sweep calls test(x, y) once for every two edges, x before y in the list, that share a cell of a
// grid over box, until test returns false or the work runs out. Two edges that meet inside box
// share a cell, so no meeting there is missed, while each edge of a long outline is tested
// against its few neighbours only.
//
// The cells are squares about as wide as the typical edge (see newAreaGrid), not a fixed number
// over the box: an outline whose vertices crowd into one stretch, a boundary that follows a river
// in detail and a road in a few long lines, would otherwise pile hundreds of edges into each cell
// of the stretch. Only the cells that edges pass through are kept, in a hash table.
func (c *areaCheck) sweep(edges []areaEdge, box orb.Bound, test func(x, y areaEdge) bool) {
	if len(edges) < 2 || c.done() {
		return
	}
	g := c.newAreaGrid(edges, box)
	// cells[span[k]:span[k+1]] are the cells of edge k: about 4 per edge in all, by the choice of
	// the cell's side; the limit guards the memory should rounding make it more.
	limit := 32*len(edges) + 1024
	span := make([]int32, len(edges)+1)
	cells := make([]uint64, 0, 4*len(edges))
	for k, e := range edges {
		a, b := c.rings[e.ring].edge(int(e.k))
		cells = g.appendCells(cells, a, b)
		span[k+1] = int32(len(cells))
		if len(cells) > limit {
			c.spend(maxAreaWork + 1)
			return
		}
	}
	if !c.spend(len(cells)) {
		return
	}
	// The cells are hashed into a table of at least as many buckets: cells that share a bucket
	// only add pairs to test. members[start[i]:start[i+1]] are the edges in bucket i, in the
	// order of the list.
	tableBits := bits.Len(uint(len(cells)))
	for n, cell := range cells {
		cells[n] = cell * 0x9e3779b97f4a7c15 >> (64 - tableBits) // Fibonacci hashing
	}
	start := make([]int32, 1<<tableBits+1)
	for _, bucket := range cells {
		start[bucket+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	members := make([]int32, len(cells))
	next := slices.Clone(start[:len(start)-1])
	for k := range edges {
		for _, bucket := range cells[span[k]:span[k+1]] {
			members[next[bucket]] = int32(k)
			next[bucket]++
		}
	}
	// Edge k meets each later edge in every cell they share; tested[j] == k+1 says (k, j) is done.
	tested := make([]int32, len(edges))
	pairs := 0
	for k := range edges {
		for _, bucket := range cells[span[k]:span[k+1]] {
			in := members[start[bucket]:start[bucket+1]]
			for n := len(in) - 1; n >= 0 && in[n] > int32(k); n-- {
				j := in[n]
				if tested[j] == int32(k+1) {
					continue
				}
				tested[j] = int32(k + 1)
				pairs++
				if !test(edges[k], edges[j]) {
					c.spend(pairs)
					return
				}
			}
		}
		if !c.spend(pairs) {
			return
		}
		pairs = 0
	}
}

// A grid cell is numbered col<<areaRowBits | row.
const (
	areaRowBits = 24
	areaMaxSide = 1 << areaRowBits
)

// areaGrid is a grid of square cells over a box.
type areaGrid struct {
	minX, minY float64
	cell       float64 // the side of a cell
	nx, ny     int
	// pad widens the span of an edge before its cells are counted, so that rounding in the
	// arithmetic below never drops a cell the edge passes through: a few hundred times the
	// rounding error at longitude 180, plus a billionth of a cell.
	pad float64
}

// newAreaGrid makes a grid over box for the edges. A cell is as wide as a typical edge, the power
// of two at or above the median of the edges' extents (their longer side in longitude or
// latitude), so that a cell holds a few edges wherever the outline is; but wide enough that long
// edges fill no more than about 4 cells per edge in all, few enough per side that a cell's number
// fits in areaRowBits, and not below 1e-10° (a hundredth of a millimetre), far under any real
// edge and far above the rounding of pad.
func (c *areaCheck) newAreaGrid(edges []areaEdge, box orb.Bound) areaGrid {
	// Extents from 2^-60 (1e-18) to 2^9 (512) by power of two; smaller ones count as 2^-60.
	const lowest, highest = -60, 9
	var count [highest - lowest + 1]int
	sum := 0.0
	for _, e := range edges {
		a, b := c.rings[e.ring].edge(int(e.k))
		dx, dy := math.Abs(b[0]-a[0]), math.Abs(b[1]-a[1])
		sum += dx + dy
		_, exp := math.Frexp(max(dx, dy))
		count[min(max(exp, lowest), highest)-lowest]++
	}
	median := 0.0
	for i, seen := 0, 0; i < len(count); i++ {
		if seen += count[i]; 2*seen >= len(edges) {
			median = math.Ldexp(1, i+lowest)
			break
		}
	}
	w, h := box.Max[0]-box.Min[0], box.Max[1]-box.Min[1]
	side := max(median, sum/float64(2*len(edges)), max(w, h)/(areaMaxSide-1), 1e-10)
	g := areaGrid{minX: box.Min[0], minY: box.Min[1], cell: side}
	g.nx, g.ny = min(int(w/side)+1, areaMaxSide), min(int(h/side)+1, areaMaxSide)
	g.pad = side*1e-9 + 1e-12
	return g
}

func (g *areaGrid) col(x float64) int { return areaCellOf((x-g.minX)/g.cell, g.nx) }

func (g *areaGrid) row(y float64) int { return areaCellOf((y-g.minY)/g.cell, g.ny) }

// areaCellOf returns the cell of offset f, in cells, clamped to the n cells of a side.
func areaCellOf(f float64, n int) int {
	switch {
	case !(f > 0):
		return 0
	case f >= float64(n):
		return n - 1
	}
	return int(f)
}

// appendCells appends the cells the segment ab passes through, and maybe a few it passes close
// to: column by column, the rows its latitude spans within the column.
func (g *areaGrid) appendCells(cells []uint64, a, b orb.Point) []uint64 {
	if a[0] > b[0] {
		a, b = b, a
	}
	ylo, yhi := min(a[1], b[1]), max(a[1], b[1])
	c0, c1 := g.col(a[0]-g.pad), g.col(b[0]+g.pad)
	dx, dy := b[0]-a[0], b[1]-a[1]
	for col := c0; col <= c1; col++ {
		lo, hi := ylo, yhi
		if c0 != c1 && dx > 0 {
			xl := max(a[0], g.minX+float64(col)*g.cell-g.pad)
			xr := min(b[0], g.minX+float64(col+1)*g.cell+g.pad)
			yl := a[1] + (xl-a[0])/dx*dy
			yr := a[1] + (xr-a[0])/dx*dy
			lo, hi = max(ylo, min(yl, yr)), min(yhi, max(yl, yr))
		}
		for row, last := g.row(lo-g.pad), g.row(hi+g.pad); row <= last; row++ {
			cells = append(cells, uint64(col)<<areaRowBits|uint64(row))
		}
	}
	return cells
}

// normalised returns the checked area with every shell counter-clockwise and every hole clockwise.
func (c *areaCheck) normalised() orb.MultiPolygon {
	out := make(orb.MultiPolygon, len(c.polys))
	for i, span := range c.polys {
		poly := make(orb.Polygon, 0, span[1]-span[0])
		for r := span[0]; r < span[1]; r++ {
			ring := c.rings[r].closed
			if areaCounterClockwise(c.rings[r].pts) != (c.rings[r].index == 0) {
				slices.Reverse(ring)
			}
			poly = append(poly, ring)
		}
		out[i] = poly
	}
	return out
}

// areaCounterClockwise tells the winding of a simple ring from its westernmost (then
// southernmost) vertex, where the ring turns the way it winds: its neighbours lie east of it,
// and cannot lie on one line with it without folding back, which a simple ring does not. Unlike
// the sign of a float area, the answer is exact even for a sliver.
func areaCounterClockwise(pts []orb.Point) bool {
	k := 0
	for i, p := range pts {
		if areaCmp(p, pts[k]) < 0 {
			k = i
		}
	}
	m := len(pts)
	return areaOrient(pts[(k+m-1)%m], pts[k], pts[(k+1)%m]) > 0
}

// areaOverlap returns the box where boxes a and b, which meet, overlap.
func areaOverlap(a, b orb.Bound) orb.Bound {
	return orb.Bound{
		Min: orb.Point{max(a.Min[0], b.Min[0]), max(a.Min[1], b.Min[1])},
		Max: orb.Point{min(a.Max[0], b.Max[0]), min(a.Max[1], b.Max[1])},
	}
}

// areaWithin reports whether box a lies within box b.
func areaWithin(a, b orb.Bound) bool {
	return a.Min[0] >= b.Min[0] && a.Min[1] >= b.Min[1] && a.Max[0] <= b.Max[0] && a.Max[1] <= b.Max[1]
}

// areaPlace formats a position for a Reason: seven decimals, a centimetre.
func areaPlace(p orb.Point) string {
	return strconv.FormatFloat(p[0], 'f', 7, 64) + "," + strconv.FormatFloat(p[1], 'f', 7, 64)
}

// areaCmp orders points west to east, then south to north: along any line, the order of the
// points on it.
func areaCmp(a, b orb.Point) int {
	if c := cmp.Compare(a[0], b[0]); c != 0 {
		return c
	}
	return cmp.Compare(a[1], b[1])
}

// areaOrientBound is Shewchuk's bound on the rounding error of the float64 orientation
// determinant, relative to the sum of its two products' magnitudes ("Adaptive Precision
// Floating-Point Arithmetic and Fast Robust Geometric Predicates", 1997).
const areaOrientBound = (3 + 16*0x1p-53) * 0x1p-53

// areaOrient returns +1 when a, b, c turn counter-clockwise, -1 when clockwise, 0 when they lie on
// one line, exactly. Float64 arithmetic settles nearly every case within its error bound. Points
// on one line, or nearly, which outlines drawn along straight streets are full of, take a second
// stage, still in float64 (areaOrientExpansion), and only what that cannot take, rational
// arithmetic. Products below 1e-290 may have lost bits to underflow, which neither float64 stage
// allows for, so they go the rational way.
func areaOrient(a, b, c orb.Point) int {
	x1, y1, x2, y2 := b[0]-a[0], b[1]-a[1], c[0]-a[0], c[1]-a[1]
	l, r := x1*y2, y1*x2
	det := l - r
	sum := math.Abs(l) + math.Abs(r)
	if (x1 == 0 || y2 == 0) && (y1 == 0 || x2 == 0) {
		// Both products have a factor of exactly 0 (a difference of floats is 0 only between
		// equal ones): three points on a meridian or a parallel, or two of them the same.
		return 0
	}
	if sum > 1e-290 {
		bound := areaOrientBound * sum
		switch {
		case det > bound:
			return 1
		case -det > bound:
			return -1
		}
		if sign, ok := areaOrientExpansion(a, b, c); ok {
			return sign
		}
	}
	return areaOrientExact(a, b, c)
}

// areaOrientExpansion computes the orientation determinant without rounding when the coordinate
// differences are exact in float64, as they are between points within a factor of two of each
// other (Sterbenz's lemma): any two places in one city. Each product is then split exactly into
// a float64 and its rounding error with a fused multiply-add, and the four parts are summed into a
// non-overlapping expansion (Shewchuk's two-sum), whose largest part has the sign of the whole.
func areaOrientExpansion(a, b, c orb.Point) (sign int, ok bool) {
	x1, ok1 := areaExactDiff(b[0], a[0])
	y1, ok2 := areaExactDiff(b[1], a[1])
	x2, ok3 := areaExactDiff(c[0], a[0])
	y2, ok4 := areaExactDiff(c[1], a[1])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, false
	}
	lh, rh := x1*y2, y1*x2
	parts := [4]float64{lh, math.FMA(x1, y2, -lh), -rh, -math.FMA(y1, x2, -rh)}
	// Grow the expansion one part at a time: e holds non-overlapping components, smallest first.
	var e [4]float64
	n := 0
	for _, q := range parts {
		for i := range n {
			q, e[i] = areaTwoSum(q, e[i])
		}
		e[n] = q
		n++
	}
	for i := n - 1; i >= 0; i-- {
		switch {
		case e[i] > 0:
			return 1, true
		case e[i] < 0:
			return -1, true
		}
	}
	return 0, true
}

// areaExactDiff returns p-q and whether it is exact (Knuth's two-difference, error zero).
func areaExactDiff(p, q float64) (float64, bool) {
	d := p - q
	qv := p - d
	pv := d + qv
	return d, (p-pv)+(qv-q) == 0
}

// areaTwoSum returns p+q rounded and its rounding error, exactly (Knuth's two-sum).
func areaTwoSum(p, q float64) (sum, err float64) {
	sum = p + q
	qv := sum - p
	pv := sum - qv
	return sum, (p - pv) + (q - qv)
}

func areaOrientExact(a, b, c orb.Point) int {
	rat := func(f float64) *big.Rat { return new(big.Rat).SetFloat64(f) }
	bx := new(big.Rat).Sub(rat(b[0]), rat(a[0]))
	by := new(big.Rat).Sub(rat(b[1]), rat(a[1]))
	cx := new(big.Rat).Sub(rat(c[0]), rat(a[0]))
	cy := new(big.Rat).Sub(rat(c[1]), rat(a[1]))
	return bx.Mul(bx, cy).Cmp(by.Mul(by, cx))
}

// areaContactKind is how two segments meet.
type areaContactKind int

const (
	areaApart areaContactKind = iota
	areaCross                 // each passes from one side of the other to the other side
	areaTouch                 // an end of one lies on the other, or they overlap along a line
)

func (k areaContactKind) verb() string {
	if k == areaCross {
		return "cross near"
	}
	return "touch at"
}

func (k areaContactKind) verb3() string {
	if k == areaCross {
		return "crosses"
	}
	return "touches"
}

func (k areaContactKind) preposition() string {
	if k == areaCross {
		return "near"
	}
	return "at"
}

// areaContact reports whether the closed segments ab and cd, each of two distinct points, meet,
// and a point where they do: exact for a touch, rounded for a crossing.
func areaContact(a, b, c, d orb.Point) (areaContactKind, orb.Point) {
	if max(a[0], b[0]) < min(c[0], d[0]) || max(c[0], d[0]) < min(a[0], b[0]) ||
		max(a[1], b[1]) < min(c[1], d[1]) || max(c[1], d[1]) < min(a[1], b[1]) {
		return areaApart, orb.Point{}
	}
	o1, o2 := areaOrient(a, b, c), areaOrient(a, b, d)
	if o1*o2 > 0 {
		return areaApart, orb.Point{}
	}
	o3, o4 := areaOrient(c, d, a), areaOrient(c, d, b)
	if o3*o4 > 0 {
		return areaApart, orb.Point{}
	}
	if o1 == 0 && o2 == 0 {
		// On one line: they meet if their spans along it overlap, first at the later start.
		lo1, hi1 := areaSorted(a, b)
		lo2, hi2 := areaSorted(c, d)
		lo, hi := lo1, hi2
		if areaCmp(lo2, lo1) > 0 {
			lo = lo2
		}
		if areaCmp(hi1, hi2) < 0 {
			hi = hi1
		}
		if areaCmp(lo, hi) > 0 {
			return areaApart, orb.Point{}
		}
		return areaTouch, lo
	}
	// Not on one line: an end on the other segment's line lies on that segment, since the other
	// segment's ends are on both sides of its own line.
	switch {
	case o1 == 0:
		return areaTouch, c
	case o2 == 0:
		return areaTouch, d
	case o3 == 0:
		return areaTouch, a
	case o4 == 0:
		return areaTouch, b
	}
	return areaCross, areaCrossPoint(a, b, c, d)
}

func areaSorted(a, b orb.Point) (orb.Point, orb.Point) {
	if areaCmp(a, b) > 0 {
		return b, a
	}
	return a, b
}

// areaCrossPoint returns about where segments ab and cd, known to cross, do; for a message.
func areaCrossPoint(a, b, c, d orb.Point) orb.Point {
	rx, ry := b[0]-a[0], b[1]-a[1]
	sx, sy := d[0]-c[0], d[1]-c[1]
	t := ((c[0]-a[0])*sy - (c[1]-a[1])*sx) / (rx*sy - ry*sx)
	if !(t >= 0) {
		t = 0
	}
	t = min(t, 1)
	return orb.Point{a[0] + t*rx, a[1] + t*ry}
}
