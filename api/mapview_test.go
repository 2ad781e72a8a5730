package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/api"
	"github.com/liftrescue/liftrescue/dispatch/dispatchtest"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/paulmach/orb"
)

// mapWorld is the rescue world with a crowd of elevators for the map: 3,500 in Shizhong (south of
// 34.845° N), 1,000 in Xuecheng (north of it), one Xuecheng elevator misfiled at a position in
// Shizhong, and one of Shizhong's out of service; all of them in the live index.
type mapWorld struct {
	*rescueWorld
	xuecheng map[string]bool // the rescue codes of Xuecheng's elevators
	stopped  string          // the rescue code of the elevator out of service
	misfiled string
}

const (
	mapShizhong, mapXuecheng = 3500 + 2, 1000 + 1 // with the world's own three elevators
	mapAll                   = mapShizhong + mapXuecheng + 1
	mapWorldBBox             = "117.19,34.69,117.46,34.96"
)

func newMapWorld(t testing.TB) *mapWorld {
	t.Helper()
	w := &mapWorld{rescueWorld: newRescueWorld(t), xuecheng: map[string]bool{"223344": true}}
	ctx := context.Background()
	band := func(minLat, maxLat float64) orb.MultiPolygon {
		return orb.MultiPolygon{{{{117.20, minLat}, {117.45, minLat}, {117.45, maxLat}, {117.20, maxLat}, {117.20, minLat}}}}
	}
	w.setOutlines(t, band(34.70, 34.845), band(34.845, 34.95))
	var rows []liftrescue.ElevatorRow
	add := func(district string, lon, lat float64, status liftrescue.ElevatorStatus) string {
		i := len(rows)
		code := fmt.Sprint(500000 + i)
		rows = append(rows, liftrescue.ElevatorRow{Line: i + 2, UserUnitCode: w.User.Code, MaintenanceUnitCode: w.Maint.Code, Elevator: liftrescue.Elevator{
			RescueCode: code, EquipmentCode: fmt.Sprintf("3110%s%010d", district, i), Address: fmt.Sprintf("文化路 %d 号", i), District: district,
			Lon: lon, Lat: lat, Kind: liftrescue.KindTraction, Floors: 12, Status: status}})
		if district == "370403" {
			w.xuecheng[code] = true
		}
		return code
	}
	for i := range 3500 {
		status := liftrescue.InService
		if i == 0 {
			status = liftrescue.OutOfService
		}
		code := add("370402", 117.22+float64(i%70)*0.003, 34.72+float64(i/70)*0.0024, status)
		if i == 0 {
			w.stopped = code
		}
	}
	for i := range 1000 {
		add("370403", 117.22+float64(i%50)*0.004, 34.86+float64(i/50)*0.004, liftrescue.InService)
	}
	w.misfiled = add("370403", 117.30, 34.80, liftrescue.InService)
	if _, err := w.Store.ImportElevators(ctx, rows, liftrescue.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	loadIndex(t, w.Store, w.Index)
	return w
}

// setOutlines draws Shizhong's and Xuecheng's outlines (nil: none).
func (w *mapWorld) setOutlines(t testing.TB, shizhong, xuecheng orb.MultiPolygon) {
	t.Helper()
	ctx := context.Background()
	dispatchtest.Must(t, w.Store.UpsertDistrict(ctx, &liftrescue.District{Code: "370402", Name: "市中区", Outline: shizhong}))
	dispatchtest.Must(t, w.Store.UpsertDistrict(ctx, &liftrescue.District{Code: "370403", Name: "薛城区", Outline: xuecheng}))
}

// loadIndex puts every elevator of the store in the index, as the service does at start-up.
func loadIndex(t testing.TB, s liftrescue.Store, ix *geo.Index) {
	t.Helper()
	_, err := ix.LoadElevators(func(yield func(int64, orb.Point) bool) {
		s.EachElevatorPosition(context.Background(), func(id int64, lon, lat float64) error {
			yield(id, orb.Point{lon, lat})
			return nil
		})
	})
	dispatchtest.Must(t, err)
}

// mapAnswer decodes an answer of the map and checks its keys and sums.
func mapAnswer(t *testing.T, rec *httptest.ResponseRecorder) api.MapElevators {
	t.Helper()
	var keys map[string]json.RawMessage
	var m api.MapElevators
	mustJSON(t, rec, &keys)
	mustJSON(t, rec, &m)
	var want []string
	switch m.Mode {
	case "points":
		want = []string{"elevators", "mode", "total"}
		if m.Total != len(m.Elevators) {
			t.Errorf("total %d for %d elevators", m.Total, len(m.Elevators))
		}
	case "cells":
		want = []string{"cells", "mode", "resolution", "total"}
		sum := 0
		for _, c := range m.Cells {
			sum += c.Count
			if cell, err := geo.ParseCell(c.Cell); err != nil || cell.Resolution() != m.Resolution || c.Count <= 0 {
				t.Errorf("cell %+v in an answer at resolution %d", c, m.Resolution)
			}
		}
		if sum != m.Total {
			t.Errorf("total %d, the cells hold %d", m.Total, sum)
		}
	default:
		t.Fatalf("mode %q", m.Mode)
	}
	got := slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			yield(k)
		}
	})
	if !slices.Equal(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "private, max-age=5" {
		t.Errorf("Cache-Control %q", cc)
	}
	return m
}

func mapPath(bbox, zoom string) string {
	return "/api/v1/map/elevators?" + url.Values{"bbox": {bbox}, "zoom": {zoom}}.Encode()
}

func TestMapElevators(t *testing.T) {
	w := newMapWorld(t)
	city := []string{}
	shizhong := w.signIn(t, "shizhong", liftrescue.RoleDispatcher, "370402")
	xuecheng := w.signIn(t, "xuecheng", liftrescue.RoleDispatcher, "370403")
	near123456 := fmt.Sprintf("%f,%f,%f,%f", dispatchtest.Lon-0.001, dispatchtest.Lat-0.001, dispatchtest.Lon+0.001, dispatchtest.Lat+0.001)
	shizhongBand := "117.19,34.69,117.46,34.8449"
	for _, tc := range []struct {
		name       string
		who        []string
		bbox, zoom string
		mode       string
		total      int
		resolution int
		codes      func(m api.MapElevators) string // "" when the codes are right
	}{
		{name: "the city at zoom 11: cells of resolution 7", who: city, bbox: mapWorldBBox, zoom: "11", mode: "cells", total: mapAll, resolution: 7},
		{name: "the city at zoom 8.75: resolution 5", who: city, bbox: mapWorldBBox, zoom: "8.75", mode: "cells", total: mapAll, resolution: 5},
		{name: "the whole world at zoom 3", who: city, bbox: "-180,-90,180,90", zoom: "3", mode: "cells", total: mapAll, resolution: 1},
		{name: "a street: the elevators", who: city, bbox: near123456, zoom: "17", mode: "points", total: 1, codes: func(m api.MapElevators) string {
			e := m.Elevators[0]
			if e.ID != w.Elevator.ID || e.Code != "123456" || e.Lat != w.Elevator.Lat || e.Lon != w.Elevator.Lon || e.Status != liftrescue.InService {
				return fmt.Sprintf("%+v is not 123456", e)
			}
			return ""
		}},
		{name: "3,503 elevators at zoom 15.9: cells", who: city, bbox: shizhongBand, zoom: "15.9", mode: "cells", total: mapShizhong + 1, resolution: 9},
		{name: "3,503 elevators at zoom 16: dots", who: city, bbox: shizhongBand, zoom: "16", mode: "points", total: mapShizhong + 1, codes: func(m api.MapElevators) string {
			for _, e := range m.Elevators {
				if (e.Code == w.stopped) != (e.Status == liftrescue.OutOfService) {
					return fmt.Sprintf("%s is %s", e.Code, e.Status)
				}
			}
			return ""
		}},
		{name: "nothing there", who: city, bbox: "100,20,100.5,20.5", zoom: "12", mode: "points", total: 0},
		{name: "Shizhong's dispatcher counts Shizhong's, by its outline", who: shizhong, bbox: mapWorldBBox, zoom: "11", mode: "cells", total: mapShizhong + 1, resolution: 7},
		{name: "Shizhong's dispatcher north of Shizhong", who: shizhong, bbox: "117.2,34.9,117.4,34.95", zoom: "14", mode: "points", total: 0},
		{name: "Xuecheng's dispatcher sees Xuecheng's dots, by the registry", who: xuecheng, bbox: mapWorldBBox, zoom: "11", mode: "points", total: mapXuecheng + 1, codes: func(m api.MapElevators) string {
			for _, e := range m.Elevators {
				if !w.xuecheng[e.Code] {
					return e.Code + " is not Xuecheng's"
				}
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := w.do("GET", mapPath(tc.bbox, tc.zoom), "", tc.who...)
			if rec.Code != 200 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			m := mapAnswer(t, rec)
			if m.Mode != tc.mode || m.Total != tc.total || m.Resolution != tc.resolution {
				t.Errorf("mode %s, total %d, resolution %d; want %s, %d, %d", m.Mode, m.Total, m.Resolution, tc.mode, tc.total, tc.resolution)
			}
			if tc.codes != nil && len(m.Elevators) > 0 {
				if msg := tc.codes(m); msg != "" {
					t.Error(msg)
				}
			}
		})
	}

	// The cells of a district's account are the city's cells inside its outline, counted alike.
	bbox := shizhongBand // Shizhong's elevators and the misfiled one, none of Xuecheng's
	var all, own api.MapElevators
	mustJSON(t, w.do("GET", mapPath(bbox, "13"), ""), &all)
	mustJSON(t, w.do("GET", mapPath(bbox, "13"), "", shizhong...), &own)
	if all.Mode != "cells" || !slices.Equal(all.Cells, own.Cells) {
		t.Errorf("the city's cells %+v\nShizhong's %+v", all.Cells, own.Cells)
	}

	// Without outlines the registry decides a district's counts too: the misfiled elevator is
	// Xuecheng's there.
	w.setOutlines(t, nil, nil)
	rec := w.do("GET", mapPath(mapWorldBBox, "11"), "", shizhong...)
	if m := mapAnswer(t, rec); m.Mode != "cells" || m.Total != mapShizhong || m.Resolution != 7 {
		t.Errorf("Shizhong without an outline: mode %s, total %d, resolution %d; want cells of %d at 7", m.Mode, m.Total, m.Resolution, mapShizhong)
	}
	rec = w.do("GET", mapPath(mapWorldBBox, "11"), "", xuecheng...)
	if m := mapAnswer(t, rec); m.Mode != "points" || m.Total != mapXuecheng+1 {
		t.Errorf("Xuecheng without an outline: mode %s, total %d; want %d dots", m.Mode, m.Total, mapXuecheng+1)
	}
}

func TestMapElevatorsBadQuery(t *testing.T) {
	w := newRescueWorld(t)
	for _, tc := range []struct {
		query  string
		fields []string
	}{
		{"", []string{"bbox", "zoom"}},
		{"zoom=12", []string{"bbox"}},
		{"bbox=117,34,118,35", []string{"zoom"}},
		{"bbox=117,34,118&zoom=12", []string{"bbox"}},
		{"bbox=a,b,c,d&zoom=12", []string{"bbox"}},
		{"bbox=117,34,118,95&zoom=12", []string{"bbox"}},
		{"bbox=118,34,117,35&zoom=12", []string{"bbox"}}, // across the antimeridian: not here
		{"bbox=117,35,118,34&zoom=12", []string{"bbox"}},
		{"bbox=NaN,34,118,35&zoom=12", []string{"bbox"}},
		{"bbox=117,34,Inf,35&zoom=12", []string{"bbox"}},
		{"bbox=117,34,118,35&zoom=-1", []string{"zoom"}},
		{"bbox=117,34,118,35&zoom=25", []string{"zoom"}},
		{"bbox=117,34,118,35&zoom=NaN", []string{"zoom"}},
		{"bbox=117,34,118,35&zoom=twelve", []string{"zoom"}},
		{"bbox=117,34,118&zoom=Inf", []string{"bbox", "zoom"}},
	} {
		rec := w.do("GET", "/api/v1/map/elevators?"+tc.query, "")
		code, body := errorOf(t, rec)
		var fields []string
		details, _ := body["details"].([]any)
		for _, d := range details {
			fields = append(fields, d.(map[string]any)["field"].(string))
		}
		if rec.Code != 422 || code != liftrescue.EINVALID || !slices.Equal(fields, tc.fields) || body["message"] == "" {
			t.Errorf("?%s = %d %s, want 422 naming %v", tc.query, rec.Code, rec.Body, tc.fields)
		}
	}
}

func TestMapElevatorsWithoutIndex(t *testing.T) {
	w := newRescueWorld(t)
	srv := api.New(api.Config{Store: w.Store, Auth: w.auth, Limits: testLimits, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	rec := serve(srv, "GET", mapPath("117,34,118,35", "12"), "", "Authorization", "Bearer "+w.key)
	if code, _ := errorOf(t, rec); rec.Code != 503 || code != liftrescue.EUNAVAILABLE {
		t.Errorf("without an index = %d %s, want 503", rec.Code, rec.Body)
	}
}

// FuzzMapElevatorsQuery sends any bbox and zoom: the answer is a map or a 4xx error, never a
// failure of the server.
func FuzzMapElevatorsQuery(f *testing.F) {
	w := newRescueWorld(f)
	loadIndex(f, w.Store, w.Index)
	for _, seed := range [][2]string{
		{mapWorldBBox, "11"}, {"117.31,34.80,117.33,34.82", "17.25"}, {"-180,-90,180,90", "0"}, {"117,34,118", "12"},
		{"1e400,0,0,0", "1e400"}, {" 117 , 34 ,118,35", " 12 "}, {"0x1p-2,0,1,1", "0x10"}, {"117,34,118,35,", "-0"}, {"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, bbox, zoom string) {
		rec := w.do("GET", mapPath(bbox, zoom), "")
		switch rec.Code {
		case 200:
			var m api.MapElevators
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || (m.Mode != "points" && m.Mode != "cells") {
				t.Fatalf("bbox %q zoom %q: %v %s", bbox, zoom, err, rec.Body)
			}
		case 400, 422:
			var body api.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code == "" || strings.Contains(rec.Body.String(), "internal") {
				t.Fatalf("bbox %q zoom %q: %d %s", bbox, zoom, rec.Code, rec.Body)
			}
		default:
			t.Fatalf("bbox %q zoom %q: %d %s", bbox, zoom, rec.Code, rec.Body)
		}
	})
}
