package geo

import (
	"math"

	"github.com/uber/h3-go/v4"
)

// cellShape is a hexagonal H3 cell drawn so that the index can tell, without H3, whether a
// vehicle's next fix is still in it, and if not, whether it is in the neighbour it crossed into.
// Asking H3 costs half a microsecond through cgo, and fetching a cell's boundary twice that: most
// of the cost of a fix, when a quarter of fixes left the circle inside the cell that the index
// used to test and one in ten changed cell.
//
// H3 draws a cell as a straight-edged hexagon on a gnomonic projection of a face of its
// icosahedron, whose straight lines are great circles: a cell is the intersection of the
// hemispheres bounded by the great circles through its edges. On the plate carrée, in a frame
// centred on the cell, a great-circle arc as short as a cell's edge is straight to within
// L²(1 + |tan φ|)/8R (half a millimetre at resolution 9 in China; measured, the bow is 45% of
// that at 35° and 93% at 80°); each edge is drawn as the straight line between its corners, moved
// inward by a margin far wider than that bow and any rounding. A position inside all six lines
// is in the cell. One in the margin, a strip of about 2% of the cell, is left to H3.
//
// Shapes are shared: vehicles in the same cell hold the same one, and the index keeps the shapes
// of recently visited cells (shapeCache), so that a vehicle entering a cell that others have been
// in needs no call to H3 at all. A shape learns which cell lies across an edge from the first fix
// that crosses it and has H3 say where it went; it changes only under the vehicles' write lock.
type cellShape struct {
	cell             Cell
	lon0, lat0, cos0 float64 // the frame: x = (lon - lon0)·cos0, y = lat - lat0, in degrees
	// edges[i]: a position is inside edge i when a·x + b·y ≤ c; (a, b) has unit length, so the
	// excess is a distance in degrees of latitude.
	edges [6]struct{ a, b, c float64 }
	// across[i] is the cell a fix beyond edge i was last found in, 0 before any was: the
	// neighbour across the edge, as a rule, whose shape is then the first to try.
	across [6]Cell
}

// Shapes are made only for cells small enough that the bow of their edges is tiny next to them
// (edges under 3 km: resolution 7 and finer) and far enough from the poles that the plate carrée
// does not stretch them out of shape.
const (
	shapeMaxEdgeM = 3000
	shapeMaxLat   = 80
)

// shapeOf returns the shape of a cell, nil for a pentagon, a cell across faces of the
// icosahedron (more than six corners), one too coarse or too near a pole.
func shapeOf(c Cell) *cellShape {
	b, err := h3.CellToBoundary(h3.Cell(c))
	if err != nil || len(b) != 6 {
		return nil
	}
	// The frame is centred on the mean of the corners, their longitudes taken relative to the
	// first so that a cell across the antimeridian is not averaged to the far side of the globe.
	s := &cellShape{cell: c}
	var dlon float64
	for _, ll := range b {
		dlon += wrapLon(ll.Lng - b[0].Lng)
		s.lat0 += ll.Lat
	}
	s.lon0, s.lat0 = wrapLon(b[0].Lng+dlon/6), s.lat0/6
	if math.Abs(s.lat0) > shapeMaxLat {
		return nil
	}
	s.cos0 = cosDeg(s.lat0)
	var xs, ys [6]float64
	for i, ll := range b {
		xs[i], ys[i] = s.local(ll.Lng, ll.Lat)
	}
	maxEdge, inradius := 0.0, math.Inf(1)
	for i := range 6 {
		j := (i + 1) % 6
		dx, dy := xs[j]-xs[i], ys[j]-ys[i]
		n := math.Hypot(dx, dy)
		if n == 0 {
			return nil
		}
		maxEdge = max(maxEdge, n)
		e := &s.edges[i]
		e.a, e.b = dy/n, -dx/n
		e.c = e.a*xs[i] + e.b*ys[i]
		if e.c < 0 { // the normal points inward: turn it round
			e.a, e.b, e.c = -e.a, -e.b, -e.c
		}
		inradius = min(inradius, e.c)
	}
	const mPerDeg = EarthRadiusM * rad
	edgeM := maxEdge * mPerDeg
	if edgeM > shapeMaxEdgeM || !(inradius > 0) {
		return nil
	}
	// The margin is ten times the bound of the bow, plus 1% of the inradius, plus a millimetre.
	bowM := edgeM * edgeM * (1 + math.Abs(math.Tan(s.lat0*rad))) / (8 * EarthRadiusM)
	margin := 10*bowM/mPerDeg + inradius/100 + 0.001/mPerDeg
	for i := range s.edges {
		s.edges[i].c -= margin
	}
	return s
}

func wrapLon(d float64) float64 {
	switch {
	case d > 180:
		return d - 360
	case d < -180:
		return d + 360
	}
	return d
}

// local returns a position in the shape's frame.
func (s *cellShape) local(lon, lat float64) (x, y float64) {
	return wrapLon(lon-s.lon0) * s.cos0, lat - s.lat0
}

// holds reports whether a position is in the cell, and if not, the edge it is farthest beyond.
// A nil shape holds nothing.
func (s *cellShape) holds(lon, lat float64) (in bool, beyond int) {
	if s == nil {
		return false, -1
	}
	x, y := s.local(lon, lat)
	worst, beyond := 0.0, -1
	for i := range s.edges {
		e := &s.edges[i]
		if v := e.a*x + e.b*y - e.c; v > worst {
			worst, beyond = v, i
		}
	}
	return beyond < 0, beyond
}

// shapeCache keeps the shapes of the cells vehicles have been in lately: two generations of up to
// shapeCacheGen each; a shape found in the old one moves to the new one, and when the new one is
// full the old one is dropped. It is guarded by the vehicles' lock: peek needs the read lock, the
// rest the write lock.
type shapeCache struct {
	cur, old map[Cell]*cellShape
}

// shapeCacheGen: 16,384 shapes of 224 bytes, about 4 MB a generation, enough for the cells of a
// city's fleet.
const shapeCacheGen = 1 << 14

func (sc *shapeCache) get(c Cell) *cellShape {
	if s, ok := sc.cur[c]; ok {
		return s
	}
	if s, ok := sc.old[c]; ok {
		sc.put(s)
		return s
	}
	return nil
}

// peek is get for a reader: it leaves the shape where it is.
func (sc *shapeCache) peek(c Cell) *cellShape {
	if s, ok := sc.cur[c]; ok {
		return s
	}
	return sc.old[c]
}

// put adds a shape, or returns the one already kept for its cell.
func (sc *shapeCache) put(s *cellShape) *cellShape {
	if k, ok := sc.cur[s.cell]; ok {
		return k
	}
	if sc.cur == nil || len(sc.cur) >= shapeCacheGen {
		sc.old, sc.cur = sc.cur, make(map[Cell]*cellShape, 256)
	}
	sc.cur[s.cell] = s
	return s
}

// next returns the shape of the cell that holds a position beyond an edge of a shape, if it is
// the cell across that edge and its shape is kept; nil otherwise.
func (sc *shapeCache) next(s *cellShape, beyond int, lon, lat float64) *cellShape {
	if s == nil || beyond < 0 || s.across[beyond] == 0 {
		return nil
	}
	n := sc.get(s.across[beyond])
	if in, _ := n.holds(lon, lat); in {
		return n
	}
	return nil
}

// learn records that a position beyond an edge of a shape is in cell c.
func (s *cellShape) learn(beyond int, c Cell) {
	if s != nil && beyond >= 0 && c != s.cell {
		s.across[beyond] = c
	}
}
