package geo

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// ReadDistricts reads district outlines from a GeoJSON FeatureCollection: one Polygon or
// MultiPolygon feature per district, with properties "code" (or "adcode", as the boundary files
// published for Chinese maps name it), "name" and optionally "rural". crs is "wgs84" (or "") or
// "gcj02", in which case every vertex is converted to WGS-84: most Chinese boundary files are in
// GCJ-02. Every bad feature is reported, by index, in one EINVALID error.
func ReadDistricts(r io.Reader, crs string) ([]liftrescue.District, error) {
	convert, err := converter(crs)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	fc, err := geojson.UnmarshalFeatureCollection(b)
	if err != nil {
		return nil, liftrescue.Errorf(liftrescue.EBADREQUEST, "not a GeoJSON FeatureCollection: %s", firstLine(err.Error()))
	}
	if len(fc.Features) == 0 {
		return nil, liftrescue.Errorf(liftrescue.EINVALID, "the FeatureCollection has no features")
	}
	var out []liftrescue.District
	var bad []liftrescue.Detail
	seen := map[string]int{}
	for i, f := range fc.Features {
		index := i
		fail := func(field, format string, args ...any) {
			bad = append(bad, liftrescue.Detail{Index: &index, Field: field, Reason: fmt.Sprintf(format, args...)})
		}
		d := liftrescue.District{Code: propertyString(f.Properties, "code", "adcode"), Name: propertyString(f.Properties, "name")}
		if rural, ok := f.Properties["rural"].(bool); ok {
			d.Rural = rural
		}
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			d.Outline = orb.MultiPolygon{g}
		case orb.MultiPolygon:
			d.Outline = g
		default:
			fail("geometry", "want a Polygon or MultiPolygon, got %T", f.Geometry)
			continue
		}
		d.Outline = convertOutline(d.Outline, convert)
		if err := d.Validate(); err != nil {
			for _, p := range liftrescue.ErrorDetails(err) {
				fail(p.Field, "%s", p.Reason)
			}
			continue
		}
		if first, dup := seen[d.Code]; dup {
			fail("code", "district %s repeats feature %d", d.Code, first)
			continue
		}
		seen[d.Code] = i
		out = append(out, d)
	}
	if len(bad) > 0 {
		return nil, &liftrescue.Error{Code: liftrescue.EINVALID, Message: fmt.Sprintf("%d of %d district features are invalid", len(bad), len(fc.Features)), Details: bad}
	}
	return out, nil
}

// propertyString reads the first of the keys present as a string; boundary files give codes as
// numbers.
func propertyString(props geojson.Properties, keys ...string) string {
	for _, k := range keys {
		switch v := props[k].(type) {
		case string:
			return strings.TrimSpace(v)
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		case json.Number:
			return v.String()
		}
	}
	return ""
}

// converter returns the function that brings a vertex in crs to WGS-84.
func converter(crs string) (func(lon, lat float64) (float64, float64), error) {
	switch strings.ToLower(crs) {
	case "", "wgs84":
		return nil, nil
	case "gcj02":
		return GCJ02ToWGS84, nil
	}
	return nil, liftrescue.Invalid("crs", "must be wgs84 or gcj02")
}

func convertOutline(mp orb.MultiPolygon, convert func(lon, lat float64) (float64, float64)) orb.MultiPolygon {
	if convert == nil {
		return mp
	}
	for _, poly := range mp {
		for _, ring := range poly {
			for k, p := range ring {
				lon, lat := convert(p.Lon(), p.Lat())
				ring[k] = orb.Point{lon, lat}
			}
		}
	}
	return mp
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
