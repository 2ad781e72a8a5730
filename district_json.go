package liftrescue

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

type districtJSON struct {
	Code    string          `json:"code"`
	Name    string          `json:"name"`
	Rural   bool            `json:"rural"`
	Outline json.RawMessage `json:"outline"`
}

// MarshalJSON writes the outline as a GeoJSON MultiPolygon, or null when there is none.
func (d District) MarshalJSON() ([]byte, error) {
	out := districtJSON{Code: d.Code, Name: d.Name, Rural: d.Rural, Outline: json.RawMessage("null")}
	if len(d.Outline) > 0 {
		b, err := geojson.NewGeometry(d.Outline).MarshalJSON()
		if err != nil {
			return nil, err
		}
		out.Outline = b
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the outline from a GeoJSON Polygon or MultiPolygon. Unknown fields are
// refused, as everywhere in the API: a misspelt "rural" would silently halve the arrival limit.
func (d *District) UnmarshalJSON(b []byte) error {
	var in districtJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return err
	}
	outline, err := ParseOutline(in.Outline)
	if err != nil {
		return err
	}
	*d = District{Code: in.Code, Name: in.Name, Rural: in.Rural, Outline: outline}
	return nil
}

// ParseOutline reads a GeoJSON Polygon or MultiPolygon geometry; null or empty input is no outline.
func ParseOutline(b []byte) (orb.MultiPolygon, error) {
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	g, err := geojson.UnmarshalGeometry(b)
	if err != nil {
		return nil, fmt.Errorf("outline: not a GeoJSON geometry: %w", err)
	}
	switch v := g.Geometry().(type) {
	case orb.Polygon:
		return orb.MultiPolygon{v}, nil
	case orb.MultiPolygon:
		return v, nil
	default:
		return nil, fmt.Errorf("outline: want a Polygon or MultiPolygon, got %s", g.Type)
	}
}
