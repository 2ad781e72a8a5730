package geo

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// naiveDistanceM is the textbook haversine with math.Sin everywhere, to check the fast one against.
func naiveDistanceM(lon1, lat1, lon2, lat2 float64) float64 {
	s1 := math.Sin((lat2 - lat1) * rad / 2)
	s2 := math.Sin((lon2 - lon1) * rad / 2)
	h := s1*s1 + math.Cos(lat1*rad)*math.Cos(lat2*rad)*s2*s2
	return 2 * EarthRadiusM * math.Asin(math.Sqrt(math.Min(h, 1)))
}

func TestDistanceM(t *testing.T) {
	tests := []struct {
		name                   string
		lon1, lat1, lon2, lat2 float64
		want                   float64 // metres
		tol                    float64 // relative
	}{
		{"same point", 117.32, 34.81, 117.32, 34.81, 0, 0},
		// Along a meridian, and along the equator, the distance is R × the angle exactly.
		{"one degree of a meridian", 117.3, 34.8, 117.3, 35.8, EarthRadiusM * math.Pi / 180, 1e-12},
		{"one degree of the equator", 10, 0, 11, 0, EarthRadiusM * math.Pi / 180, 1e-12},
		{"a quarter of the equator", 0, 0, 90, 0, EarthRadiusM * math.Pi / 2, 1e-12},
		{"pole to pole", 0, 90, 0, -90, EarthRadiusM * math.Pi, 1e-12},
		{"antipodes on the equator", 0, 0, 180, 0, EarthRadiusM * math.Pi, 1e-12},
		{"across the antimeridian", 179.5, 0, -179.5, 0, EarthRadiusM * math.Pi / 180, 1e-12},
		// Rosetta Code's haversine task: Nashville BNA to Los Angeles LAX is 2887.2599506 km on a
		// sphere of radius 6372.8 km; scaled to our radius.
		{"BNA to LAX", -86.67, 36.12, -118.40, 33.94, 2887259.9506 * EarthRadiusM / 6372800, 1e-9},
		// Zaozhuang (Shizhong) to Tengzhou, about 35 km by road sign; 36.4 km in a straight line.
		{"Zaozhuang to Tengzhou", 117.32, 34.81, 117.16, 35.11, 36400, 1e-2},
		{"a metre north", 117.32, 34.81, 117.32, 34.81 + 1/(EarthRadiusM*rad), 1, 1e-9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DistanceM(tt.lon1, tt.lat1, tt.lon2, tt.lat2)
			if math.Abs(got-tt.want) > tt.tol*tt.want {
				t.Errorf("DistanceM = %.6f m, want %.6f m (±%g)", got, tt.want, tt.tol)
			}
			if back := DistanceM(tt.lon2, tt.lat2, tt.lon1, tt.lat1); back != got {
				t.Errorf("DistanceM is not symmetric: %v one way, %v the other", got, back)
			}
		})
	}
}

func TestDistanceMMatchesTextbookFormula(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for i := range 100000 {
		lon1, lat1 := r.Float64()*360-180, r.Float64()*180-90
		// Mostly near pairs (the series path), some anywhere on the globe.
		scale := []float64{1e-5, 1e-3, 0.1, 5, 360}[i%5]
		lon2 := math.Mod(lon1+(r.Float64()-0.5)*scale+540, 360) - 180
		lat2 := math.Max(-90, math.Min(90, lat1+(r.Float64()-0.5)*scale/2))
		got, want := DistanceM(lon1, lat1, lon2, lat2), naiveDistanceM(lon1, lat1, lon2, lat2)
		if math.Abs(got-want) > 1e-12*want+1e-9 {
			t.Fatalf("DistanceM(%v, %v, %v, %v) = %.9f, textbook %.9f", lon1, lat1, lon2, lat2, got, want)
		}
	}
}

func TestBoxLowerBound(t *testing.T) {
	// The nearest-neighbour search is exact only if a box's bound is never above the haversine
	// value of a point inside it. Random boxes of every size, points inside them, queries anywhere
	// (and many near the box, where the bound is tight).
	r := rand.New(rand.NewPCG(2, 2))
	for range 200000 {
		size := []float64{1e-4, 1e-2, 1, 30}[r.IntN(4)]
		minLon, minLat := r.Float64()*360-180, r.Float64()*180-90
		maxLon, maxLat := math.Min(180, minLon+r.Float64()*size), math.Min(90, minLat+r.Float64()*size)
		var q point
		if r.IntN(2) == 0 {
			q = newPoint(r.Float64()*360-180, r.Float64()*180-90)
		} else {
			q = newPoint(math.Max(-180, math.Min(180, minLon+(r.Float64()*3-1)*size)), math.Max(-90, math.Min(90, minLat+(r.Float64()*3-1)*size)))
		}
		lb := q.boxLowerBound([2]float64{minLon, minLat}, [2]float64{maxLon, maxLat})
		for range 8 {
			lon, lat := minLon+r.Float64()*(maxLon-minLon), minLat+r.Float64()*(maxLat-minLat)
			switch r.IntN(4) { // corners and edges too
			case 0:
				lon = []float64{minLon, maxLon}[r.IntN(2)]
			case 1:
				lat = []float64{minLat, maxLat}[r.IntN(2)]
			}
			if h := hav(q.lon, q.lat, q.cos, lon, lat, cosDeg(lat)); lb > h {
				t.Fatalf("bound %g above h %g: query %v,%v box %v,%v..%v,%v point %v,%v", lb, h, q.lon, q.lat, minLon, minLat, maxLon, maxLat, lon, lat)
			}
		}
	}
}

func TestRadiusBoxesHoldTheCircle(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	inBoxes := func(bs []box, lon, lat float64) bool {
		for _, b := range bs {
			if lon >= b.min[0] && lon <= b.max[0] && lat >= b.min[1] && lat <= b.max[1] {
				return true
			}
		}
		return false
	}
	for range 100000 {
		lon, lat := r.Float64()*360-180, r.Float64()*178-89
		m := []float64{10, 500, 50000, 3e6}[r.IntN(4)]
		bs := radiusBoxes(lon, lat, m)
		// Points on the circle itself, where a box that is too small would miss them.
		bearing := r.Float64() * 2 * math.Pi
		d := m / EarthRadiusM * (1 - 1e-12)
		lat2 := math.Asin(math.Sin(lat*rad)*math.Cos(d) + math.Cos(lat*rad)*math.Sin(d)*math.Cos(bearing))
		lon2 := lon*rad + math.Atan2(math.Sin(bearing)*math.Sin(d)*math.Cos(lat*rad), math.Cos(d)-math.Sin(lat*rad)*math.Sin(lat2))
		lon2deg := math.Mod(lon2/rad+540, 360) - 180
		if !inBoxes(bs, lon2deg, lat2/rad) {
			t.Fatalf("a point %v m from %v,%v (bearing %.2f) at %v,%v is outside the boxes %v", m, lon, lat, bearing, lon2deg, lat2/rad, bs)
		}
	}
}

func TestStraightLineETA(t *testing.T) {
	tests := []struct {
		name  string
		model StraightLineETA
		want  time.Duration
	}{
		// 36.38 km × 1.4 at 30 km/h: 101.9 minutes.
		{"defaults", StraightLineETA{}, time.Duration(DistanceM(117.32, 34.81, 117.16, 35.11) * 1.4 / (30 / 3.6) * float64(time.Second))},
		{"straight at 36 km/h", StraightLineETA{Circuity: 1, SpeedKmh: 36}, time.Duration(DistanceM(117.32, 34.81, 117.16, 35.11) / 10 * float64(time.Second))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.model.ETA(117.32, 34.81, 117.16, 35.11); got != tt.want {
				t.Errorf("ETA = %v, want %v", got, tt.want)
			}
		})
	}
	var m ETAModel = StraightLineETA{}
	if got := m.ETA(117.32, 34.81, 117.32, 34.81+1000/(EarthRadiusM*rad)); got.Round(time.Millisecond) != 168*time.Second {
		t.Errorf("1 km at the defaults = %v, want 2m48s (1.4 km at 30 km/h)", got)
	}
}

func TestStraightLineETAValidate(t *testing.T) {
	tests := []struct {
		in      StraightLineETA
		want    StraightLineETA
		wantErr bool
	}{
		{StraightLineETA{}, StraightLineETA{Circuity: 1.4, SpeedKmh: 30}, false},
		{StraightLineETA{Circuity: 1.2, SpeedKmh: 45}, StraightLineETA{Circuity: 1.2, SpeedKmh: 45}, false},
		{StraightLineETA{Circuity: 0.9}, StraightLineETA{}, true},
		{StraightLineETA{Circuity: math.NaN()}, StraightLineETA{}, true},
		{StraightLineETA{SpeedKmh: -5}, StraightLineETA{}, true},
		{StraightLineETA{SpeedKmh: 400}, StraightLineETA{}, true},
	}
	for _, tt := range tests {
		m := tt.in
		err := m.Validate()
		if (err != nil) != tt.wantErr {
			t.Errorf("Validate(%+v) error = %v, want error %v", tt.in, err, tt.wantErr)
		}
		if err == nil && m != tt.want {
			t.Errorf("Validate(%+v) gave %+v, want %+v", tt.in, m, tt.want)
		}
	}
}

// TestFusedHaversine checks that havNear and havTo, hav written out for the query loops, give
// the very bits hav does, for differences small and large, on both sides of the thresholds where
// the series hand over to math.Sin and math.Cos.
func TestFusedHaversine(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 21))
	// Differences of latitude round cosNear's threshold (0.002 rad) and of longitude round
	// sinHalfSq's (0.2 rad), and everyday ones.
	spreads := []float64{1e-6, 1e-3, 0.05, 0.114, 0.1146, 0.1147, 0.12, 1, 11.45, 11.46, 11.5, 30, 180}
	for i := range 200000 {
		lon1, lat1 := r.Float64()*360-180, r.Float64()*178-89
		if i%2 == 0 {
			lon1, lat1 = cityPoint(r)
		}
		s := spreads[i%len(spreads)]
		lon2 := math.Mod(lon1+(r.Float64()*2-1)*s+540, 360) - 180
		lat2 := math.Max(-90, math.Min(90, lat1+(r.Float64()*2-1)*s))
		if i%5 == 0 { // the same latitude or longitude exactly
			lat2 = lat1
		}
		q := newPoint(lon1, lat1)
		if got, want := q.havNear(lon2, lat2), hav(q.lon, q.lat, q.cos, lon2, lat2, q.cosNear(lat2)); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("havNear from %v,%v to %v,%v = %v, hav = %v", lon1, lat1, lon2, lat2, got, want)
		}
		cos2 := cosDeg(lat2)
		if got, want := q.havTo(lon2, lat2, cos2), hav(q.lon, q.lat, q.cos, lon2, lat2, cos2); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("havTo from %v,%v to %v,%v = %v, hav = %v", lon1, lat1, lon2, lat2, got, want)
		}
	}
}
