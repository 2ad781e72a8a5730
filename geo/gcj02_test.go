package geo

import (
	"math"
	"testing"
)

func TestWGS84ToGCJ02KnownVector(t *testing.T) {
	// The vector every public implementation of the formula quotes (Beijing, near Tiananmen).
	gotLon, gotLat := WGS84ToGCJ02(116.404, 39.915)
	wantLon, wantLat := 116.41024449916938, 39.91640428150164
	if math.Abs(gotLon-wantLon) > 1e-9 || math.Abs(gotLat-wantLat) > 1e-9 {
		t.Errorf("WGS84ToGCJ02(116.404, 39.915) = %.14f, %.14f, want %.14f, %.14f", gotLon, gotLat, wantLon, wantLat)
	}
}

func TestGCJ02RoundTripAcrossChina(t *testing.T) {
	// A grid over the mainland, kept a degree inside the box so that no point crosses its edge.
	for lat := 18.0; lat <= 53.5; lat += 0.5 {
		for lon := 74.0; lon <= 135.0; lon += 0.5 {
			gLon, gLat := WGS84ToGCJ02(lon, lat)
			if gLon == lon && gLat == lat {
				t.Fatalf("WGS84ToGCJ02(%v, %v) did not move the point", lon, lat)
			}
			gotLon, gotLat := GCJ02ToWGS84(gLon, gLat)
			if math.Abs(gotLon-lon) > 1e-6 || math.Abs(gotLat-lat) > 1e-6 {
				t.Fatalf("round trip of %v, %v gave %v, %v", lon, lat, gotLon, gotLat)
			}
		}
	}
}

func TestGCJ02OutsideChinaUnchanged(t *testing.T) {
	tests := []struct {
		name     string
		lon, lat float64
	}{
		{"London", -0.1246, 51.5007},
		{"Tokyo", 139.7454, 35.6586},
		{"Singapore", 103.8198, 0.35},
		{"Moscow", 37.6173, 55.7558},
		{"north of the box", 100, 56},
		{"NaN", math.NaN(), 35},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for name, convert := range map[string]func(float64, float64) (float64, float64){
				"WGS84ToGCJ02": WGS84ToGCJ02,
				"GCJ02ToWGS84": GCJ02ToWGS84,
			} {
				gotLon, gotLat := convert(tt.lon, tt.lat)
				if !same(gotLon, tt.lon) || !same(gotLat, tt.lat) {
					t.Errorf("%s(%v, %v) = %v, %v, want the point unchanged", name, tt.lon, tt.lat, gotLon, gotLat)
				}
			}
		})
	}
}

func TestGCJ02OffsetNearZaozhuang(t *testing.T) {
	lon, lat := 117.32, 34.81
	gLon, gLat := WGS84ToGCJ02(lon, lat)
	got := haversineMetres(lon, lat, gLon, gLat)
	if got < 100 || got > 700 {
		t.Errorf("offset at Zaozhuang = %.0f m, want between 100 and 700 m", got)
	}
	t.Logf("GCJ-02 offset at Zaozhuang: %.0f m", got)
}

func BenchmarkGCJ02ToWGS84(b *testing.B) {
	for b.Loop() {
		GCJ02ToWGS84(117.32, 34.81)
	}
}

// same reports whether a and b are equal, counting NaN as equal to itself.
func same(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

// haversineMetres is a local great-circle distance so that this test stands alone.
func haversineMetres(lon1, lat1, lon2, lat2 float64) float64 {
	const earthRadius = 6371008.8
	rad := math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadius * math.Asin(math.Sqrt(h))
}
