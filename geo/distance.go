package geo

import "math"

// EarthRadiusM is the mean radius of the Earth (the IUGG mean of the WGS-84 ellipsoid's axes), in
// metres. On a sphere of this radius haversine distances in China are within 0.5% of the
// ellipsoidal ones: far finer than any road-circuity guess.
const EarthRadiusM = 6371008.8

const rad = math.Pi / 180

// DistanceM returns the great-circle (haversine) distance in metres between two WGS-84 positions
// given in degrees.
func DistanceM(lon1, lat1, lon2, lat2 float64) float64 {
	return havToM(hav(lon1, lat1, cosDeg(lat1), lon2, lat2, cosDeg(lat2)))
}

// Every distance in this package, in a query or out of DistanceM, is computed by hav and havToM
// from the same parts, so that an ordering by the haversine value h and the metres reported agree
// exactly.

// hav returns the haversine of the central angle between two positions in degrees, given the
// cosines of their latitudes: h = sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2), which grows with the
// distance, so ordering by h orders by distance.
func hav(lon1, lat1, cos1, lon2, lat2, cos2 float64) float64 {
	return sinHalfSq((lat2-lat1)*rad) + cos1*cos2*sinHalfSq((lon2-lon1)*rad)
}

// havToM turns a haversine value into metres.
func havToM(h float64) float64 {
	switch {
	case h <= 0:
		return 0
	case h >= 1:
		return math.Pi * EarthRadiusM
	}
	s := math.Sqrt(h)
	if s < 1e-2 { // closer than 127 km: the series is exact to the last bit and 3x faster
		s2 := s * s
		return 2 * EarthRadiusM * s * (1 + s2*(1.0/6+s2*(3.0/40+s2*(5.0/112))))
	}
	return 2 * EarthRadiusM * math.Asin(s)
}

// mToHav is the haversine value of a distance in metres, the inverse of havToM.
func mToHav(m float64) float64 {
	if m >= math.Pi*EarthRadiusM {
		return 1
	}
	return sinHalfSq(m / EarthRadiusM)
}

// sinHalfSq returns sin²(x/2) for an angle x in radians. Nearly every angle the index meets is a
// small difference, for which a short series is exact to the last bit and several times faster
// than math.Sin; the index computes hundreds of these per query.
func sinHalfSq(x float64) float64 {
	y := x / 2
	var s float64
	if y > -0.1 && y < 0.1 {
		// The first omitted term, y¹¹/11!, is below 3e-18 of y: under half an ulp.
		y2 := y * y
		s = y * (1 - y2*(1.0/6)*(1-y2*(1.0/20)*(1-y2*(1.0/42)*(1-y2*(1.0/72)))))
	} else {
		s = math.Sin(y)
	}
	return s * s
}

func cosDeg(lat float64) float64 { return math.Cos(lat * rad) }

// point is a query position with the parts of the haversine formula that depend on it alone.
type point struct {
	lon, lat float64
	cos      float64 // cos φ
	sin      float64 // sin φ
	sinAbs   float64 // sin |φ|
}

func newPoint(lon, lat float64) point {
	s := math.Sin(lat * rad)
	return point{lon: lon, lat: lat, cos: cosDeg(lat), sin: s, sinAbs: math.Abs(s)}
}

// cosNear returns cos φ for a latitude near the query's, from cos(φ1+δ) = cos φ1 cos δ − sin φ1
// sin δ with short series for δ: within a rounding error of math.Cos and four times faster, for
// the hundreds of candidates of a radius query.
func (p *point) cosNear(lat float64) float64 {
	d := (lat - p.lat) * rad
	if d < -0.002 || d > 0.002 { // 13 km: the series would need more terms
		return cosDeg(lat)
	}
	d2 := d * d
	// The first omitted terms, δ⁸/8! and δ⁷/7!, are below 1e-22.
	cosD := 1 - d2*(1.0/2)*(1-d2*(1.0/12)*(1-d2*(1.0/30)))
	sinD := d * (1 - d2*(1.0/6)*(1-d2*(1.0/20)))
	return p.cos*cosD - p.sin*sinD
}

// boxLowerBound returns a haversine value no greater than that of any position inside the box
// [min, max] (degrees, min ≤ max on both axes). It is what makes a best-first R-tree search in
// true metres exact: a node is opened before any entry farther than its bound is reported.
//
// h = sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2) has two non-negative terms, each bounded below on its
// own: |Δφ| is at least the latitude gap to the box, |Δλ| (taken round the globe, so at most 180°)
// at least the longitude gap, and cos φ2 at least the cosine of the box's latitude farthest from
// the equator.
func (p *point) boxLowerBound(min, max [2]float64) float64 {
	h, c := p.latBound(min[1], max[1])
	return h + c*p.lonBound(min[0], max[0])
}

// latBound returns the parts of boxLowerBound that depend on the box's latitudes alone: the
// first term's bound, and that of cos φ1 cos φ2.
func (p *point) latBound(minLat, maxLat float64) (h, cos float64) {
	var dlat float64
	if p.lat < minLat {
		dlat = minLat - p.lat
	} else if p.lat > maxLat {
		dlat = p.lat - maxLat
	}
	return sinHalfSq(dlat * rad), p.cos * p.minCos(math.Max(math.Abs(minLat), math.Abs(maxLat)))
}

// lonBound returns the part of boxLowerBound that depends on the box's longitudes alone: the
// bound of sin²(Δλ/2), 0 when the box spans the query's longitude.
func (p *point) lonBound(minLon, maxLon float64) float64 {
	if p.lon >= minLon && p.lon <= maxLon {
		return 0
	}
	a := minLon - p.lon
	if a < 0 {
		a += 360
	}
	b := p.lon - maxLon
	if b < 0 {
		b += 360
	}
	return sinHalfSq(math.Min(a, b) * rad)
}

// minCos returns a lower bound of cos φ for |φ| ≤ far degrees, cheaply: cos φ1 if far is no
// farther from the equator than the query, else the Taylor bound
// cos(|φ1|+δ) ≥ cos φ1 − δ sin|φ1| − δ²/2 (the second derivative of cos is at least −1).
func (p *point) minCos(far float64) float64 {
	d := (far - math.Abs(p.lat)) * rad
	if d <= 0 {
		return p.cos
	}
	c := p.cos - d*p.sinAbs - d*d/2
	if c < 0 {
		return 0
	}
	return c
}

// box is a search rectangle in degrees, min ≤ max on both axes.
type box struct{ min, max [2]float64 }

// radiusBoxes returns the one or two boxes (two when the circle crosses the antimeridian) that
// hold every position within m metres of (lon, lat), after Matuschek's bounding coordinates: the
// latitude reaches ±m/R, the longitude ±asin(sin(m/R)/cos φ) unless the circle holds a pole.
func radiusBoxes(lon, lat, m float64) []box {
	ang := m / EarthRadiusM
	if ang >= math.Pi {
		return []box{{[2]float64{-180, -90}, [2]float64{180, 90}}}
	}
	// A margin of 1e-9 degree (0.1 mm) keeps rounding from losing a position on the edge.
	const margin = 1e-9
	dlat := ang/rad + margin
	minLat, maxLat := lat-dlat, lat+dlat
	if minLat <= -90 || maxLat >= 90 {
		return []box{{[2]float64{-180, math.Max(minLat, -90)}, [2]float64{180, math.Min(maxLat, 90)}}}
	}
	dlon := math.Asin(math.Min(1, math.Sin(ang)/cosDeg(lat)))/rad*(1+1e-12) + margin
	return lonBoxes(lon-dlon, minLat, lon+dlon, maxLat)
}

// lonBoxes splits a box whose longitudes run past ±180 into boxes that do not.
func lonBoxes(minLon, minLat, maxLon, maxLat float64) []box {
	switch {
	case maxLon-minLon >= 360:
		return []box{{[2]float64{-180, minLat}, [2]float64{180, maxLat}}}
	case minLon < -180:
		return []box{{[2]float64{minLon + 360, minLat}, [2]float64{180, maxLat}}, {[2]float64{-180, minLat}, [2]float64{maxLon, maxLat}}}
	case maxLon > 180:
		return []box{{[2]float64{minLon, minLat}, [2]float64{180, maxLat}}, {[2]float64{-180, minLat}, [2]float64{maxLon - 360, maxLat}}}
	}
	return []box{{[2]float64{minLon, minLat}, [2]float64{maxLon, maxLat}}}
}

// bboxBoxes returns the boxes for a bounding-box query: a box whose minLon is greater than its
// maxLon crosses the antimeridian. It returns nil for a box with no area on the globe.
func bboxBoxes(minLon, minLat, maxLon, maxLat float64) []box {
	for _, v := range [...]float64{minLon, minLat, maxLon, maxLat} {
		if math.IsNaN(v) {
			return nil
		}
	}
	minLat, maxLat = math.Max(minLat, -90), math.Min(maxLat, 90)
	minLon, maxLon = math.Max(minLon, -180), math.Min(maxLon, 180)
	if minLat > maxLat {
		return nil
	}
	if minLon > maxLon {
		return []box{{[2]float64{minLon, minLat}, [2]float64{180, maxLat}}, {[2]float64{-180, minLat}, [2]float64{maxLon, maxLat}}}
	}
	return []box{{[2]float64{minLon, minLat}, [2]float64{maxLon, maxLat}}}
}

// The loops of the radius and nearest queries compute hundreds of distances per query, and the
// functions above are too large for the compiler to inline: each distance was four calls, with
// every value the loop keeps spilled to memory around each. havNear and havTo are hav written out
// in one piece for the small differences those loops meet, with the very operations of hav,
// sinHalfSq and cosNear in the same order, so that their results are equal to the last bit
// (TestFusedHaversine checks it); anything else goes the long way.

// havNear returns hav(p.lon, p.lat, p.cos, lon, lat, p.cosNear(lat)).
func (p *point) havNear(lon, lat float64) float64 {
	dφ := (lat - p.lat) * rad // cosNear's δ and hav's Δφ alike
	dλ := (lon - p.lon) * rad
	y, x := dφ/2, dλ/2
	if dφ < -0.002 || dφ > 0.002 || x <= -0.1 || x >= 0.1 {
		return hav(p.lon, p.lat, p.cos, lon, lat, p.cosNear(lat))
	}
	d2 := dφ * dφ
	cosD := 1 - d2*(1.0/2)*(1-d2*(1.0/12)*(1-d2*(1.0/30)))
	sinD := dφ * (1 - d2*(1.0/6)*(1-d2*(1.0/20)))
	cos2 := p.cos*cosD - p.sin*sinD
	y2 := y * y
	sy := y * (1 - y2*(1.0/6)*(1-y2*(1.0/20)*(1-y2*(1.0/42)*(1-y2*(1.0/72)))))
	x2 := x * x
	sx := x * (1 - x2*(1.0/6)*(1-x2*(1.0/20)*(1-x2*(1.0/42)*(1-x2*(1.0/72)))))
	return sy*sy + p.cos*cos2*(sx*sx)
}

// havTo returns hav(p.lon, p.lat, p.cos, lon, lat, cos).
func (p *point) havTo(lon, lat, cos float64) float64 {
	y, x := (lat-p.lat)*rad/2, (lon-p.lon)*rad/2
	if y <= -0.1 || y >= 0.1 || x <= -0.1 || x >= 0.1 {
		return hav(p.lon, p.lat, p.cos, lon, lat, cos)
	}
	y2 := y * y
	sy := y * (1 - y2*(1.0/6)*(1-y2*(1.0/20)*(1-y2*(1.0/42)*(1-y2*(1.0/72)))))
	x2 := x * x
	sx := x * (1 - x2*(1.0/6)*(1-x2*(1.0/20)*(1-x2*(1.0/42)*(1-x2*(1.0/72)))))
	return sy*sy + p.cos*cos*(sx*sx)
}
