package geo

import "math"

// GCJ-02 is the obfuscated datum that Chinese law requires of published maps: AMap (Gaode),
// Tencent Maps and the coordinates that property managers copy from them are GCJ-02, while GPS
// trackers and this system speak WGS-84. The two differ by a few hundred metres, enough to send a
// rescue team to the wrong building, so every coordinate is converted once at the border.
//
// The forward transform is the formula that has been public since 2013, on the Krasovsky 1940
// ellipsoid. It has no closed-form inverse.
const (
	krasovskyA  = 6378245.0              // semi-major axis, metres
	krasovskyEE = 0.00669342162296594323 // first eccentricity squared
)

// WGS84ToGCJ02 returns the GCJ-02 position of a WGS-84 one. Points outside the rough bounding box
// of China are returned unchanged, as the published algorithm does.
func WGS84ToGCJ02(lon, lat float64) (float64, float64) {
	if outOfChina(lon, lat) {
		return lon, lat
	}
	dLon, dLat := gcj02Offset(lon, lat)
	return lon + dLon, lat + dLat
}

// GCJ02ToWGS84 returns the WGS-84 position of a GCJ-02 one, to within 1e-9 degree (a tenth of a
// millimetre). Points outside the rough bounding box of China are returned unchanged.
func GCJ02ToWGS84(lon, lat float64) (float64, float64) {
	if outOfChina(lon, lat) {
		return lon, lat
	}
	// Solve w + offset(w) = g by fixed-point iteration from w = g. The offset varies slowly with
	// position, so each step shrinks the error about a hundredfold: from the 5e-3 degree of the
	// offset itself to below 1e-10 degree after four steps, the worst case over China.
	wLon, wLat := lon, lat
	for range 4 {
		dLon, dLat := gcj02Offset(wLon, wLat)
		wLon, wLat = lon-dLon, lat-dLat
	}
	return wLon, wLat
}

// outOfChina reports whether the point lies outside the box where GCJ-02 applies. It is written so
// that NaN counts as outside and passes through unchanged for the caller's validation to reject.
func outOfChina(lon, lat float64) bool {
	return !(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271)
}

// gcj02Offset returns the GCJ-02 shift, in degrees, at a WGS-84 position.
func gcj02Offset(lon, lat float64) (dLon, dLat float64) {
	x, y := lon-105.0, lat-35.0
	// The shift is first computed in metres on a plane centred on 105E 35N …
	dLat = -100.0 + 2.0*x + 3.0*y + 0.2*y*y + 0.1*x*y + 0.2*math.Sqrt(math.Abs(x))
	dLat += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	dLat += (20.0*math.Sin(y*math.Pi) + 40.0*math.Sin(y/3.0*math.Pi)) * 2.0 / 3.0
	dLat += (160.0*math.Sin(y/12.0*math.Pi) + 320.0*math.Sin(y*math.Pi/30.0)) * 2.0 / 3.0

	dLon = 300.0 + x + 2.0*y + 0.1*x*x + 0.1*x*y + 0.1*math.Sqrt(math.Abs(x))
	dLon += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	dLon += (20.0*math.Sin(x*math.Pi) + 40.0*math.Sin(x/3.0*math.Pi)) * 2.0 / 3.0
	dLon += (150.0*math.Sin(x/12.0*math.Pi) + 300.0*math.Sin(x/30.0*math.Pi)) * 2.0 / 3.0

	// … then turned into degrees with the radii of curvature of the Krasovsky ellipsoid.
	radLat := lat / 180.0 * math.Pi
	sin := math.Sin(radLat)
	magic := 1 - krasovskyEE*sin*sin
	sqrtMagic := math.Sqrt(magic)
	dLat = (dLat * 180.0) / ((krasovskyA * (1 - krasovskyEE)) / (magic * sqrtMagic) * math.Pi)
	dLon = (dLon * 180.0) / (krasovskyA / sqrtMagic * math.Cos(radLat) * math.Pi)
	return dLon, dLat
}
