package geo

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"
	"github.com/uber/h3-go/v4"
)

// GridMapResolution is the H3 resolution a GridMap covers its areas with: the index's default, so
// that an elevator's cell, kept by the index, finds its grid without computing the cell again.
const GridMapResolution = DefaultH3Resolution

// GridMap says which of a plan's rescue grids holds a position, in constant time: every area is
// covered with H3 cells; a cell wholly inside one area answers from a hash map, and only a cell
// that a boundary crosses tests the position against the few boundary edges that cross it.
//
// That test needs no walk around the polygon: the cell's centre is known to be inside or outside
// when the map is built, and a straight segment from the centre to the position, which stays in
// the cell's box, crosses the boundary an odd number of times exactly when the position is on the
// other side. Edges are planar in degrees, as the polygons drawn on a web map are.
//
// A GridMap is immutable and safe for concurrent use.
type GridMap struct {
	res   int
	cells map[Cell]int32 // ≥ 0: the one area holding the whole cell; < 0: -1-i for claims[i]
	// claims lists, for each cell a boundary crosses or two areas hold, every area that reaches
	// into it, in the order of the areas.
	claims [][]cellClaim
	areas  int
}

// cellClaim is one area's part of a cell.
type cellClaim struct {
	area int32
	// whole: the area holds the whole cell and edges is empty.
	whole bool
	// centreIn says whether the cell's centre (cx, cy) is inside the area.
	centreIn bool
	cx, cy   float64
	edges    []segment // the area's edges that reach into the cell's box
}

type segment struct{ ax, ay, bx, by float64 }

// NewGridMap covers the areas (in their order: where two overlap, the first wins) at
// GridMapResolution. Areas must be valid (CheckArea).
func NewGridMap(areas []orb.MultiPolygon) (*GridMap, error) {
	m := &GridMap{res: GridMapResolution, cells: map[Cell]int32{}, areas: len(areas)}
	for i, mp := range areas {
		edges := newEdgeSet(mp)
		whole, touched, err := coverCells(mp, m.res)
		if err != nil {
			return nil, fmt.Errorf("grid area %d: %w", i, err)
		}
		for _, c := range touched {
			claim := cellClaim{area: int32(i)}
			if whole[c] {
				claim.whole = true
			} else {
				lon, lat := c.Center()
				claim.cx, claim.cy = lon, lat
				claim.centreIn = edges.contains(lon, lat)
				claim.edges = edges.within(cellBox(c))
			}
			m.add(c, claim)
		}
	}
	return m, nil
}

// add records an area's claim on a cell.
func (m *GridMap) add(c Cell, claim cellClaim) {
	v, ok := m.cells[c]
	switch {
	case !ok && claim.whole:
		m.cells[c] = claim.area
	case !ok:
		m.claims = append(m.claims, []cellClaim{claim})
		m.cells[c] = int32(-len(m.claims))
	case v >= 0:
		m.claims = append(m.claims, []cellClaim{{area: v, whole: true}, claim})
		m.cells[c] = int32(-len(m.claims))
	default:
		m.claims[-v-1] = append(m.claims[-v-1], claim)
	}
}

// Resolution returns the resolution of the cells the map answers from.
func (m *GridMap) Resolution() int { return m.res }

// Areas returns how many areas the map was built from.
func (m *GridMap) Areas() int { return m.areas }

// Cells returns how many cells the map holds, and of them how many a boundary crosses.
func (m *GridMap) Cells() (all, boundary int) { return len(m.cells), len(m.claims) }

// Locate returns the index of the area holding a position, -1 when none does.
func (m *GridMap) Locate(lon, lat float64) int {
	c, err := h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lon}, m.res)
	if err != nil {
		return -1
	}
	return m.LocateIn(Cell(c), lon, lat)
}

// LocateIn is Locate for a position whose cell at the map's resolution is known.
func (m *GridMap) LocateIn(c Cell, lon, lat float64) int {
	v, ok := m.cells[c]
	switch {
	case !ok:
		return -1
	case v >= 0:
		return int(v)
	}
	for i := range m.claims[-v-1] {
		if cl := &m.claims[-v-1][i]; cl.holds(lon, lat) {
			return int(cl.area)
		}
	}
	return -1
}

// LocateAll appends to dst the index of every area holding a position, in order.
func (m *GridMap) LocateAll(dst []int, lon, lat float64) []int {
	c, err := h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lon}, m.res)
	if err != nil {
		return dst
	}
	v, ok := m.cells[Cell(c)]
	switch {
	case !ok:
		return dst
	case v >= 0:
		return append(dst, int(v))
	}
	for i := range m.claims[-v-1] {
		if cl := &m.claims[-v-1][i]; cl.holds(lon, lat) {
			dst = append(dst, int(cl.area))
		}
	}
	return dst
}

// holds reports whether the claim's area holds a position of its cell.
func (cl *cellClaim) holds(x, y float64) bool {
	if cl.whole {
		return true
	}
	in := cl.centreIn
	// Most edges in the cell pass wide of the short segment: a box test turns them away before
	// any cross product.
	minX, maxX, minY, maxY := min(cl.cx, x), max(cl.cx, x), min(cl.cy, y), max(cl.cy, y)
	for i := range cl.edges {
		e := &cl.edges[i]
		if max(e.ax, e.bx) < minX || min(e.ax, e.bx) > maxX || max(e.ay, e.by) < minY || min(e.ay, e.by) > maxY {
			continue
		}
		if crosses(cl.cx, cl.cy, x, y, e) {
			in = !in
		}
	}
	return in
}

// crosses reports whether the segment from c to p crosses the edge. A vertex on the line through c
// and p counts as lying on its left, so that a path through a vertex where the boundary passes
// is one crossing and where it only touches is none or two: the parity comes out right.
func crosses(cx, cy, px, py float64, e *segment) bool {
	if left(cx, cy, px, py, e.ax, e.ay) == left(cx, cy, px, py, e.bx, e.by) {
		return false
	}
	oc := orient(e.ax, e.ay, e.bx, e.by, cx, cy)
	op := orient(e.ax, e.ay, e.bx, e.by, px, py)
	return (oc < 0) != (op < 0)
}

func orient(ax, ay, bx, by, cx, cy float64) float64 {
	return (bx-ax)*(cy-ay) - (by-ay)*(cx-ax)
}

func left(ax, ay, bx, by, px, py float64) bool { return orient(ax, ay, bx, by, px, py) >= 0 }

// Overlap is a place where two areas of the map overlap.
type Overlap struct {
	A, B int // the areas, A < B
	// AreaM2 estimates the overlap's size; overlaps narrower than about 25 m may be missed, which
	// lets neighbours drawn by hand along the same street pass.
	AreaM2 float64
	// Lon, Lat is a point in the overlap, to show it on the map.
	Lon, Lat float64
}

// overlapSampleSteps is how many resolutions finer than the map's at which cells that two areas reach into are sampled: 49
// samples of 2,200 m² each in a cell of resolution 9.
const overlapSampleSteps = 2

// Overlaps returns every pair of areas that overlap, largest first.
func (m *GridMap) Overlaps() []Overlap {
	found := map[[2]int]*Overlap{}
	note := func(a, b int, area, lon, lat float64) {
		k := [2]int{min(a, b), max(a, b)}
		o := found[k]
		if o == nil {
			o = &Overlap{A: k[0], B: k[1], Lon: lon, Lat: lat}
			found[k] = o
		}
		o.AreaM2 += area
	}
	var in []int
	for c, v := range m.cells {
		if v >= 0 || len(m.claims[-v-1]) < 2 {
			continue
		}
		claims := m.claims[-v-1]
		var wholes []int
		for _, cl := range claims {
			if cl.whole {
				wholes = append(wholes, int(cl.area))
			}
		}
		cellArea, _ := h3.CellAreaM2(h3.Cell(c))
		if len(wholes) >= 2 {
			lon, lat := c.Center()
			for i := 1; i < len(wholes); i++ {
				note(wholes[0], wholes[i], cellArea, lon, lat)
			}
			continue
		}
		kids, err := h3.Cell(c).Children(m.res + overlapSampleSteps)
		if err != nil {
			continue
		}
		for _, k := range kids {
			ll, err := k.LatLng()
			if err != nil {
				continue
			}
			if own, _ := h3.LatLngToCell(ll, m.res); Cell(own) != c {
				continue // a child's centre outside its parent: the neighbour samples it
			}
			in = in[:0]
			for i := range claims {
				if claims[i].holds(ll.Lng, ll.Lat) {
					in = append(in, int(claims[i].area))
				}
			}
			for i := 1; i < len(in); i++ {
				note(in[0], in[i], cellArea/float64(len(kids)), ll.Lng, ll.Lat)
			}
		}
	}
	out := make([]Overlap, 0, len(found))
	for _, o := range found {
		o.AreaM2 = math.Round(o.AreaM2)
		out = append(out, *o)
	}
	slices.SortFunc(out, func(a, b Overlap) int {
		return cmp.Or(cmp.Compare(b.AreaM2, a.AreaM2), cmp.Compare(a.A, b.A), cmp.Compare(a.B, b.B))
	})
	return out
}

// coverCells returns the cells an area reaches into and, of those, the ones it holds whole.
func coverCells(mp orb.MultiPolygon, res int) (whole map[Cell]bool, touched []Cell, err error) {
	whole = map[Cell]bool{}
	seen := map[Cell]bool{}
	add := func(c Cell) {
		if !seen[c] {
			seen[c] = true
			touched = append(touched, c)
		}
	}
	for _, poly := range mp {
		gp := h3Polygon(poly)
		full, err := h3.PolygonToCellsExperimental(gp, res, h3.ContainmentFull)
		if err != nil {
			return nil, nil, err
		}
		over, err := h3.PolygonToCellsExperimental(gp, res, h3.ContainmentOverlapping)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range full {
			whole[Cell(c)] = true
		}
		for _, c := range over {
			add(Cell(c))
		}
		// Every vertex's cell too: a sliver thinner than a cell may slip between the centres
		// and corners H3 tests.
		for _, ring := range poly {
			for _, p := range ring {
				if c, err := h3.LatLngToCell(h3.LatLng{Lat: p.Lat(), Lng: p.Lon()}, res); err == nil {
					add(Cell(c))
				}
			}
		}
	}
	return whole, touched, nil
}

func h3Polygon(poly orb.Polygon) h3.GeoPolygon {
	loop := func(r orb.Ring) h3.GeoLoop {
		l := make(h3.GeoLoop, 0, len(r))
		for i, p := range r {
			if i == len(r)-1 && len(r) > 1 && p == r[0] {
				break
			}
			l = append(l, h3.LatLng{Lat: p.Lat(), Lng: p.Lon()})
		}
		return l
	}
	gp := h3.GeoPolygon{GeoLoop: loop(poly[0])}
	for _, h := range poly[1:] {
		gp.Holes = append(gp.Holes, loop(h))
	}
	return gp
}

// cellBox is a cell's bounding box, padded by about a metre: its edges are geodesic, a hair off
// the straight lines between its corners.
func cellBox(c Cell) orb.Bound {
	b := c.Boundary().Bound()
	const pad = 1e-5
	return orb.Bound{Min: orb.Point{b.Min[0] - pad, b.Min[1] - pad}, Max: orb.Point{b.Max[0] + pad, b.Max[1] + pad}}
}

// edgeSet is every edge of an area in an R-tree, for the point-in-area and edges-near-a-cell
// questions the cover asks once per boundary cell.
type edgeSet struct {
	tree  rtree.RTreeG[segment]
	bound orb.Bound
}

func newEdgeSet(mp orb.MultiPolygon) *edgeSet {
	s := &edgeSet{bound: mp.Bound()}
	for _, poly := range mp {
		for _, ring := range poly {
			for i := 0; i+1 < len(ring); i++ {
				a, b := ring[i], ring[i+1]
				s.tree.Insert([2]float64{min(a[0], b[0]), min(a[1], b[1])}, [2]float64{max(a[0], b[0]), max(a[1], b[1])},
					segment{a[0], a[1], b[0], b[1]})
			}
		}
	}
	return s
}

// contains is the even-odd rule along a ray east of the point, meeting only the edges that span
// its latitude.
func (s *edgeSet) contains(x, y float64) bool {
	in := false
	s.tree.Search([2]float64{x, y}, [2]float64{s.bound.Max[0] + 1, y}, func(_, _ [2]float64, e segment) bool {
		if (e.ay > y) != (e.by > y) && x < e.ax+(y-e.ay)*(e.bx-e.ax)/(e.by-e.ay) {
			in = !in
		}
		return true
	})
	return in
}

// within returns the edges whose boxes meet b.
func (s *edgeSet) within(b orb.Bound) []segment {
	var out []segment
	s.tree.Search([2]float64(b.Min), [2]float64(b.Max), func(_, _ [2]float64, e segment) bool {
		out = append(out, e)
		return true
	})
	return out
}

// Whole reports whether one area holds the whole cell, so that no boundary is tested in it.
func (m *GridMap) Whole(c Cell) bool {
	v, ok := m.cells[c]
	return ok && v >= 0
}
