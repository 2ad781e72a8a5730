package demo

import (
	"math"

	"github.com/paulmach/orb"
)

// The city is about 100 km across, so an equirectangular projection about its middle is accurate to
// a percent. Being affine, it keeps straight lines straight: a polygon convex in metres is convex in
// degrees, and a point inside it in one is inside it in the other. All planning is done in metres.
const (
	originLon       = 117.40
	originLat       = 34.90
	metresPerDegLat = 111_320.0
)

var metresPerDegLon = metresPerDegLat * math.Cos(originLat*math.Pi/180)

// vec is a point or a direction in metres east and north of the origin.
type vec struct{ x, y float64 }

func project(lon, lat float64) vec {
	return vec{(lon - originLon) * metresPerDegLon, (lat - originLat) * metresPerDegLat}
}

// lonLat returns the WGS-84 position rounded to 1e-7 degrees (about a centimetre), so that the
// output reads cleanly.
func (v vec) lonLat() (lon, lat float64) {
	return round7(originLon + v.x/metresPerDegLon), round7(originLat + v.y/metresPerDegLat)
}

func round7(f float64) float64 { return math.Round(f*1e7) / 1e7 }

func (v vec) add(w vec) vec       { return vec{v.x + w.x, v.y + w.y} }
func (v vec) sub(w vec) vec       { return vec{v.x - w.x, v.y - w.y} }
func (v vec) scale(f float64) vec { return vec{v.x * f, v.y * f} }
func (v vec) dot(w vec) float64   { return v.x*w.x + v.y*w.y }
func (v vec) cross(w vec) float64 { return v.x*w.y - v.y*w.x }
func (v vec) length() float64     { return math.Hypot(v.x, v.y) }
func (v vec) left() vec           { return vec{-v.y, v.x} }
func (v vec) near(w vec) bool     { return v.sub(w).length() < 1e-6 }

// bearing returns the unit vector degrees counter-clockwise from east.
func bearing(degrees float64) vec {
	r := degrees * math.Pi / 180
	return vec{math.Cos(r), math.Sin(r)}
}

// clipHalfPlane returns the part of the convex polygon where n·p <= c: one step of
// Sutherland–Hodgman. The output keeps the input's orientation.
func clipHalfPlane(poly []vec, n vec, c float64) []vec {
	var out []vec
	for i, cur := range poly {
		prev := poly[(i+len(poly)-1)%len(poly)]
		dc, dp := n.dot(cur)-c, n.dot(prev)-c
		if (dc <= 0) != (dp <= 0) {
			out = append(out, prev.add(cur.sub(prev).scale(dp/(dp-dc))))
		}
		if dc <= 0 {
			out = append(out, cur)
		}
	}
	// A vertex lying on the line is emitted twice, once as itself and once as the crossing.
	dedup := out[:0]
	for _, p := range out {
		if len(dedup) == 0 || !p.near(dedup[len(dedup)-1]) {
			dedup = append(dedup, p)
		}
	}
	if len(dedup) > 1 && dedup[len(dedup)-1].near(dedup[0]) {
		dedup = dedup[:len(dedup)-1]
	}
	return dedup
}

// powerCells partitions the convex polygon outline among the sites: cell i holds the points p
// where |p−site i|² − weight i is least (a power diagram; with equal weights, the Voronoi
// diagram). Each cell is the outline cut by one line per other site, so the cells are convex, keep
// the outline's orientation and tile it exactly.
func powerCells(outline, sites []vec, weights []float64) [][]vec {
	cells := make([][]vec, len(sites))
	for i, si := range sites {
		cell := outline
		for j, sj := range sites {
			if i != j {
				// |p−si|² − wi <= |p−sj|² − wj  ⇔  p·(sj−si) <= (|sj|² − |si|² − wj + wi)/2
				cell = clipHalfPlane(cell, sj.sub(si), (sj.dot(sj)-si.dot(si)-weights[j]+weights[i])/2)
			}
		}
		cells[i] = cell
	}
	return cells
}

// clipSegment returns the part of the segment a→b that lies at least margin metres inside the
// convex counter-clockwise polygon, as parameters t0 < t1 of a + t·(b−a) (Cyrus–Beck).
func clipSegment(a, b vec, poly []vec, margin float64) (t0, t1 float64, ok bool) {
	t0, t1 = 0, 1
	d := b.sub(a)
	for i, p := range poly {
		e := poly[(i+1)%len(poly)].sub(p)
		inward := e.left().scale(1 / e.length())
		// Distance inside this edge, less the margin, along the segment: f0 + t·fd >= 0.
		f0 := inward.dot(a.sub(p)) - margin
		fd := inward.dot(d)
		switch {
		case fd == 0:
			if f0 < 0 {
				return 0, 0, false
			}
		case fd > 0:
			t0 = max(t0, -f0/fd)
		default:
			t1 = min(t1, -f0/fd)
		}
		if t0 >= t1 {
			return 0, 0, false
		}
	}
	return t0, t1, true
}

// ring converts a polygon in metres to a closed WGS-84 ring.
func ring(poly []vec) orb.Ring {
	r := make(orb.Ring, 0, len(poly)+1)
	for _, p := range poly {
		lon, lat := p.lonLat()
		r = append(r, orb.Point{lon, lat})
	}
	return append(r, r[0])
}
