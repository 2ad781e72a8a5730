package api_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
)

// FuzzGridFeature: whatever a planner's file holds, adding it as a grid answers a JSON error
// (400, 409, 413, 415 or 422) and stores nothing, or stores a grid whose area passes every check
// as it is read back.
func FuzzGridFeature(f *testing.F) {
	w, _ := newGridWorld(f)
	var plan liftrescue.Plan
	rec := w.do("POST", "/api/v1/plans", `{"name":"模糊测试","from":"empty"}`)
	if rec.Code != 201 || json.Unmarshal(rec.Body.Bytes(), &plan) != nil {
		f.Fatalf("draft: %d %s", rec.Code, rec.Body)
	}
	grids := fmt.Sprintf("/api/v1/plans/%d/grids", plan.ID)
	units, fire := fmt.Sprintf("[%d]", w.Volunteer.ID), fmt.Sprint(w.Fire.ID)
	f.Add(gridFeature("一", square(117.32, 34.81, 0.01), units, fire))
	f.Add(gridFeature("二", "[[[117.30,34.70],[117.32,34.72],[117.32,34.70],[117.30,34.72],[117.30,34.70]]]", units, fire))
	f.Add(gridFeature("三", "[[[117.30,34.70],[117.32,34.70],[117.32,34.72]]]", `["91370400VOLUN0001"]`, `"x"`))
	f.Add(`{"type":"Feature","geometry":{"type":"MultiPolygon","coordinates":[[[[1e309,0],[0,0]]]]},"properties":{}}`)
	f.Add(`{"type":"Feature","geometry":null,"properties":{"units":[1.5,"a",null]}}`)
	f.Add(`{"type":"Feature","geometry":{"type":"GeometryCollection","geometries":[]},"properties":{"fire_station":[]}}`)
	f.Fuzz(func(t *testing.T, body string) {
		rec := w.do("POST", grids, body, geoJSON...)
		switch rec.Code {
		case 400, 409, 413, 415, 422:
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%d without a JSON error: %s", rec.Code, rec.Body)
			}
			return
		case 201:
		default:
			t.Fatalf("%d for %q: %s", rec.Code, body, rec.Body)
		}
		var made struct {
			ID       int64           `json:"id"`
			Geometry json.RawMessage `json:"geometry"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &made); err != nil {
			t.Fatal(err)
		}
		area, err := liftrescue.ParseOutline(made.Geometry)
		if err != nil {
			t.Fatalf("the stored area does not read back: %v", err)
		}
		if _, bad := geo.CheckArea(area); len(bad) > 0 {
			t.Fatalf("a stored area fails its checks: %+v", bad)
		}
		if rec := w.do("DELETE", fmt.Sprintf("%s/%d", grids, made.ID), ""); rec.Code != 204 {
			t.Fatalf("delete: %d %s", rec.Code, rec.Body)
		}
	})
}
