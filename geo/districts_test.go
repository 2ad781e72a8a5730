package geo_test

import (
	"math"
	"strings"
	"testing"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
)

const twoDistricts = `{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"adcode":370402,"name":"市中区"},"geometry":{"type":"Polygon","coordinates":[[[117.5,34.8],[117.6,34.8],[117.6,34.9],[117.5,34.8]]]}},
 {"type":"Feature","properties":{"code":"370406","name":"山亭区","rural":true},"geometry":{"type":"MultiPolygon","coordinates":[[[[117.4,35.0],[117.5,35.0],[117.5,35.1],[117.4,35.0]]]]}}]}`

func TestReadDistricts(t *testing.T) {
	ds, err := geo.ReadDistricts(strings.NewReader(twoDistricts), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Code != "370402" || ds[0].Name != "市中区" || ds[0].Rural || !ds[1].Rural || len(ds[1].Outline) != 1 {
		t.Fatalf("ReadDistricts = %+v", ds)
	}
	// GCJ-02 vertices move by a few hundred metres towards WGS-84.
	conv, err := geo.ReadDistricts(strings.NewReader(twoDistricts), "gcj02")
	if err != nil {
		t.Fatal(err)
	}
	a, b := ds[0].Outline[0][0][0], conv[0].Outline[0][0][0]
	if d := math.Hypot(a.Lon()-b.Lon(), a.Lat()-b.Lat()); d < 0.001 || d > 0.01 {
		t.Fatalf("gcj02 moved the first vertex by %v degrees", d)
	}
}

func TestReadDistrictsRefusesBadInput(t *testing.T) {
	for _, tt := range []struct {
		name, in, crs, code string
	}{
		{"not JSON", `{`, "", liftrescue.EBADREQUEST},
		{"not a collection", `{"type":"Point","coordinates":[1,2]}`, "", liftrescue.EBADREQUEST},
		{"no features", `{"type":"FeatureCollection","features":[]}`, "", liftrescue.EINVALID},
		{"point feature", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"370402","name":"x"},"geometry":{"type":"Point","coordinates":[1,2]}}]}`, "", liftrescue.EINVALID},
		{"open ring", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"370402","name":"x"},"geometry":{"type":"Polygon","coordinates":[[[1,2],[2,2],[2,3],[1,3]]]}}]}`, "", liftrescue.EINVALID},
		{"no code", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"x"},"geometry":{"type":"Polygon","coordinates":[[[1,2],[2,2],[2,3],[1,2]]]}}]}`, "", liftrescue.EINVALID},
		{"repeated code", strings.Replace(twoDistricts, `"370406"`, `"370402"`, 1), "", liftrescue.EINVALID},
		{"unknown crs", twoDistricts, "bd09", liftrescue.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := geo.ReadDistricts(strings.NewReader(tt.in), tt.crs)
			if got := liftrescue.ErrorCode(err); got != tt.code {
				t.Fatalf("code %q (%v), want %q", got, err, tt.code)
			}
		})
	}
}

func FuzzReadDistricts(f *testing.F) {
	f.Add(twoDistricts)
	f.Add(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":1},"geometry":null}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		ds, err := geo.ReadDistricts(strings.NewReader(in), "")
		if err != nil {
			if c := liftrescue.ErrorCode(err); c != liftrescue.EINVALID && c != liftrescue.EBADREQUEST {
				t.Fatalf("error code %q: %v", c, err)
			}
			return
		}
		for _, d := range ds {
			if err := d.Validate(); err != nil {
				t.Fatalf("accepted an invalid district: %v", err)
			}
		}
	})
}
