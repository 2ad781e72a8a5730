package api_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/api"
	"github.com/liftrescue/liftrescue/dispatch/dispatchtest"
	"github.com/liftrescue/liftrescue/planning"
)

// newGridWorld is the rescue world with rescue grids: its elevators in the live index, a planner
// the engine and the server share.
func newGridWorld(t testing.TB) (*rescueWorld, *planning.Planner) {
	t.Helper()
	w := newRescueWorld(t)
	for _, e := range []*liftrescue.Elevator{w.Elevator, w.Elevator2, w.Elevator3} {
		dispatchtest.Must(t, w.Index.SetElevator(e.ID, e.Lon, e.Lat))
	}
	p, err := planning.New(planning.Config{Store: w.Store, Index: w.Index, Now: w.Clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	dispatchtest.Must(t, err)
	dispatchtest.Must(t, p.Load(w.Ctx))
	w.Grids = p
	w.StartEngine(t, liftrescue.DefaultPolicy())
	w.server = api.New(api.Config{Store: w.Store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: "test",
		Index: w.Index, Dispatch: w.Engine, Planner: p, Now: w.Clock.Now, Auth: w.auth, Limits: testLimits})
	return w, p
}

// square is a closed ring around a point, d degrees to each side, as GeoJSON coordinates.
func square(lon, lat, d float64) string {
	return fmt.Sprintf("[[[%[1]f,%[2]f],[%[3]f,%[2]f],[%[3]f,%[4]f],[%[1]f,%[4]f],[%[1]f,%[2]f]]]", lon-d, lat-d, lon+d, lat+d)
}

// gridFeature is a grid as a planner's GIS file has it.
func gridFeature(name, coordinates, units, fire string) string {
	return `{"type":"Feature","geometry":{"type":"Polygon","coordinates":` + coordinates + `},
		"properties":{"name":"` + name + `","district":"370402","units":` + units + `,"fire_station":` + fire + `,"notes":"光明路以东"}}`
}

var geoJSON = []string{"Content-Type", "application/geo+json"}

func TestAPlannerDraftsChecksAndPublishesAGridThatDispatchThenUses(t *testing.T) {
	w, planner := newGridWorld(t)
	var plan liftrescue.Plan
	w.call(t, 201, &plan, "POST", "/api/v1/plans", `{"name":"2027 年网格方案","notes":"市中区试点"}`)
	if plan.Status != liftrescue.PlanDraft || plan.BasedOn != 0 || plan.Grids != 0 {
		t.Fatalf("new plan = %+v, want an empty draft (nothing is active yet)", plan)
	}
	grids := fmt.Sprintf("/api/v1/plans/%d/grids", plan.ID)

	// The grid covers 123456 and 323232 (2 km north), not 223344 (5.5 km north); its unit is
	// named by code, as GIS files do, its fire station by id.
	area := square(dispatchtest.Lon, dispatchtest.Lat+0.01, 0.015)
	var made struct {
		ID         int64          `json:"id"`
		Properties map[string]any `json:"properties"`
	}
	w.call(t, 201, &made, "POST", grids, gridFeature("市中区第1网格", area, `["`+w.Volunteer.Code+`"]`, fmt.Sprint(w.Fire.ID)), geoJSON...)
	if made.Properties["unit_names"].([]any)[0] != w.Volunteer.Name || made.Properties["fire_station_name"] != w.Fire.Name {
		t.Errorf("the grid's units and station by name = %v", made.Properties)
	}

	// Bad grids: each a clear error, none stored.
	bowtie := fmt.Sprintf("[[[%f,%f],[%f,%f],[%f,%f],[%f,%f],[%f,%f]]]", 117.30, 34.70, 117.32, 34.72, 117.32, 34.70, 117.30, 34.72, 117.30, 34.70)
	for _, c := range []struct {
		name, body string
		status     int
		field      string
	}{
		{"bowtie", gridFeature("蝴蝶", bowtie, fmt.Sprintf("[%d]", w.Volunteer.ID), fmt.Sprint(w.Fire.ID)), 422, "geometry.coordinates[0][0]"},
		{"unclosed", gridFeature("缺口", "[[[117.30,34.70],[117.32,34.70],[117.32,34.72],[117.30,34.72]]]", fmt.Sprintf("[%d]", w.Volunteer.ID), fmt.Sprint(w.Fire.ID)), 422, "geometry.coordinates[0][0]"},
		{"a line", strings.Replace(gridFeature("一条线", "[[117.30,34.70],[117.32,34.70]]", fmt.Sprintf("[%d]", w.Volunteer.ID), fmt.Sprint(w.Fire.ID)), `"Polygon"`, `"LineString"`, 1), 422, "geometry"},
		{"a maintenance company as unit", gridFeature("维保", square(117.5, 34.9, 0.01), fmt.Sprintf("[%d]", w.Maint.ID), fmt.Sprint(w.Fire.ID)), 422, "units[0]"},
		{"an unknown unit code", gridFeature("无名", square(117.5, 34.9, 0.01), `["91370400NOBODY0001"]`, fmt.Sprint(w.Fire.ID)), 422, "units[0]"},
		{"a missing fire station", gridFeature("无站", square(117.5, 34.9, 0.01), fmt.Sprintf("[%d]", w.Volunteer.ID), "999999"), 422, "fire_station"},
		{"the same name", gridFeature("市中区第1网格", square(117.5, 34.9, 0.01), fmt.Sprintf("[%d]", w.Volunteer.ID), fmt.Sprint(w.Fire.ID)), 409, "name"},
		{"an unknown property", strings.Replace(gridFeature("多余", square(117.5, 34.9, 0.01), fmt.Sprintf("[%d]", w.Volunteer.ID), fmt.Sprint(w.Fire.ID)), `"notes"`, `"colour":"red","notes"`, 1), 400, "colour"},
		{"not a feature", `{"type":"FeatureCollection","features":[]}`, 400, ""},
	} {
		rec := w.do("POST", grids, c.body, geoJSON...)
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), `"code"`) || (c.field != "" && !strings.Contains(rec.Body.String(), `"field":"`+c.field)) {
			t.Errorf("%s: %d %s, want %d naming %s", c.name, rec.Code, rec.Body, c.status, c.field)
		}
	}
	huge := `{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[` + strings.Repeat("[117.300000001,34.700000001],", 400_000) + `[117.3,34.7]]]},"properties":{}}`
	if rec := w.do("POST", grids, huge, geoJSON...); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 10 MB polygon: %d %.200s", rec.Code, rec.Body)
	}
	var fc struct {
		Features []any `json:"features"`
	}
	w.call(t, 200, &fc, "GET", grids, "")
	if len(fc.Features) != 1 {
		t.Fatalf("the draft holds %d grids after the bad ones, want 1", len(fc.Features))
	}

	// The check and the publication name the elevator left out; publishing needs confirming.
	var report planning.Report
	w.call(t, 200, &report, "GET", fmt.Sprintf("/api/v1/plans/%d/check", plan.ID), "")
	if report.Elevators != 3 || report.Gaps.Elevators != 1 || report.Gaps.Sample[0].ID != w.Elevator2.ID || report.PerGrid[0].Elevators != 2 || !report.NeedsConfirmation || report.Changed != 2 {
		t.Errorf("check = %+v", report)
	}
	var coverage planning.Coverage
	w.call(t, 200, &coverage, "GET", fmt.Sprintf("/api/v1/plans/%d/coverage", plan.ID), "")
	g := coverage.Grids[0]
	if coverage.Unassigned != 1 || g.Elevators != 2 || g.Units != 1 || g.VehiclesOnDuty != 2 || g.ETA == nil || g.ETA.WithinLimit != 1 || coverage.Layer == nil || len(coverage.Layer.Features) == 0 {
		t.Errorf("coverage = %+v, grid %+v", coverage, g)
	}
	var whatif planning.WhatIf
	w.call(t, 200, &whatif, "GET", fmt.Sprintf("/api/v1/plans/%d/whatif", plan.ID), "")
	if whatif.Source != "elevators" || whatif.Cases != 3 || whatif.Plan.NoGrid != 1 || whatif.Against.NoGrid != 3 || whatif.Against.PlanID != 0 {
		t.Errorf("what-if = %+v", whatif)
	}

	publish := fmt.Sprintf("/api/v1/plans/%d/publish", plan.ID)
	rec := w.do("POST", publish, `{}`)
	if rec.Code != 409 || !strings.Contains(rec.Body.String(), `"report"`) || !strings.Contains(rec.Body.String(), "1 elevator in no grid") {
		t.Fatalf("publish unconfirmed = %d %s", rec.Code, rec.Body)
	}
	if planner.Active().PlanID() != 0 {
		t.Fatal("a refused publication changed the assignment")
	}
	var published api.Published
	w.call(t, 200, &published, "POST", publish, `{"confirm":true}`)
	if published.Plan.Status != liftrescue.PlanActive || published.Plan.PublishedBy != "test-admin" || published.Report.Changed != 2 {
		t.Errorf("published = %+v %+v", published.Plan, published.Report)
	}
	w.call(t, 200, &fc, "GET", "/api/v1/grids", "")
	if len(fc.Features) != 1 {
		t.Errorf("the active grids: %d features", len(fc.Features))
	}
	if rec := w.do("POST", grids, gridFeature("迟到", square(117.5, 34.9, 0.01), fmt.Sprintf("[%d]", w.Volunteer.ID), fmt.Sprint(w.Fire.ID)), geoJSON...); rec.Code != 409 {
		t.Errorf("a grid added to the published plan: %d %s", rec.Code, rec.Body)
	}

	// The elevators and the vans know their grid.
	var lift struct {
		Grid *planning.GridName `json:"grid"`
	}
	w.call(t, 200, &lift, "GET", "/api/v1/elevators/123456", "")
	if lift.Grid == nil || lift.Grid.Name != "市中区第1网格" {
		t.Errorf("elevator 123456's grid = %+v", lift.Grid)
	}
	w.call(t, 200, &lift, "GET", "/api/v1/elevators/223344", "")
	if lift.Grid != nil {
		t.Errorf("elevator 223344 is in no grid, got %+v", lift.Grid)
	}
	var van api.VehicleDetail
	w.call(t, 200, &van, "GET", fmt.Sprintf("/api/v1/vehicles/%d", w.Vehicles["鲁D00001"].ID), "")
	if van.Grid == nil || van.Grid.Name != "市中区第1网格" {
		t.Errorf("the van 300 m east of 123456 is in grid %+v", van.Grid)
	}

	// An incident opened afterwards in the area keeps the grid and ranks its units first.
	var inc liftrescue.Incident
	w.call(t, 201, &inc, "POST", "/api/v1/incidents", `{"elevator":"123456","trapped":1}`)
	if inc.Grid == nil || inc.Grid.Name != "市中区第1网格" || inc.Grid.PlanID != plan.ID {
		t.Fatalf("the incident's grid = %+v", inc.Grid)
	}
	var cands liftrescue.Candidates
	w.call(t, 200, &cands, "GET", fmt.Sprintf("/api/v1/incidents/%d/candidates", inc.ID), "")
	if len(cands.Candidates) == 0 || !cands.Candidates[0].InGrid || cands.Candidates[0].Grid != "市中区第1网格" {
		t.Errorf("candidates = %+v", cands.Candidates)
	}

	// A second draft starts from the active plan; the history lists both.
	var next liftrescue.Plan
	w.call(t, 201, &next, "POST", "/api/v1/plans", `{"name":"2028 年网格方案"}`)
	if next.BasedOn != plan.ID || next.Grids != 1 {
		t.Errorf("the next draft = %+v, want a copy of plan %d", next, plan.ID)
	}
	var history liftrescue.Page[*liftrescue.Plan]
	w.call(t, 200, &history, "GET", "/api/v1/plans", "")
	if len(history.Items) != 2 || history.Items[0].ID != next.ID || history.Items[1].Status != liftrescue.PlanActive {
		t.Errorf("history = %+v", history.Items)
	}
}

func TestGridRoutesAreForPlanners(t *testing.T) {
	w, _ := newGridWorld(t)
	planner := w.signIn(t, "zhang.planner", liftrescue.RolePlanner, "")
	if rec := w.do("POST", "/api/v1/plans", `{"name":"规划科草案"}`, planner...); rec.Code != 201 {
		t.Errorf("a planner drafts a plan: %d %s", rec.Code, rec.Body)
	}
	dispatcher := w.signIn(t, "li.dispatch", liftrescue.RoleDispatcher, "")
	if rec := w.do("POST", "/api/v1/plans", `{"name":"调度员草案"}`, dispatcher...); rec.Code != 403 {
		t.Errorf("a dispatcher drafts a plan: %d %s", rec.Code, rec.Body)
	}
	if rec := w.do("GET", "/api/v1/grids", "", dispatcher...); rec.Code != 200 {
		t.Errorf("a dispatcher reads the grids: %d %s", rec.Code, rec.Body)
	}
}
