package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/planning"
	"github.com/paulmach/orb/geojson"
)

// gridBodyLimit bounds a grid's GeoJSON: 20,000 vertices at full precision take under 1 MB.
const gridBodyLimit = 2 << 20

// orgRef names an organisation by ID (a number) or by code (a string), as GIS files carry codes.
type orgRef struct {
	ID   int64
	Code string
}

func (r *orgRef) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &r.Code)
	}
	return json.Unmarshal(b, &r.ID)
}

// gridProperties are a grid feature's properties. unit_names and fire_station_name are written
// in answers and ignored on the way in, so that a feature read can be sent back as it is.
type gridProperties struct {
	ID              *int64    `json:"id,omitempty"`
	PlanID          *int64    `json:"plan_id,omitempty"`
	Name            string    `json:"name"`
	District        string    `json:"district"`
	Units           []orgRef  `json:"units"`
	UnitNames       []string  `json:"unit_names,omitempty"`
	FireStation     orgRef    `json:"fire_station"`
	FireStationName string    `json:"fire_station_name,omitempty"`
	Notes           string    `json:"notes"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// gridFeature is a grid as a GeoJSON Feature: the area is the geometry (a Polygon or MultiPolygon,
// WGS-84), the rest its properties.
type gridFeature struct {
	Type       string          `json:"type"`
	ID         any             `json:"id,omitempty"`
	Geometry   json.RawMessage `json:"geometry" openapi:"-"`
	Properties gridProperties  `json:"properties"`
	BBox       []float64       `json:"bbox,omitempty"`
}

// decodeGrid reads a grid feature and resolves the units and the fire station given by code.
func (s *Server) decodeGrid(c echo.Context) (*liftrescue.Grid, error) {
	var f gridFeature
	if err := decodeJSON(c, &f); err != nil {
		return nil, err
	}
	g, codes, err := f.grid()
	if err != nil {
		return nil, err
	}
	if err := s.resolveCodes(c.Request().Context(), g, codes); err != nil {
		return nil, err
	}
	return g, nil
}

// grid turns the feature into a grid; codes maps the positions of units given by code (-1 for
// the fire station) to the code.
func (f *gridFeature) grid() (*liftrescue.Grid, map[int]string, error) {
	if f.Type != "Feature" {
		return nil, nil, liftrescue.Errorf(liftrescue.EBADREQUEST, "send one GeoJSON Feature (type \"Feature\"), not %q", shorten(f.Type))
	}
	area, err := liftrescue.ParseOutline(bytes.TrimSpace(f.Geometry))
	if err != nil {
		return nil, nil, &liftrescue.Error{Code: liftrescue.EINVALID, Message: strings.Replace(err.Error(), "outline:", "geometry:", 1),
			Details: []liftrescue.Detail{{Field: "geometry", Reason: "want a GeoJSON Polygon or MultiPolygon"}}}
	}
	p := f.Properties
	g := &liftrescue.Grid{Name: p.Name, District: p.District, Area: area, Notes: p.Notes, FireStation: p.FireStation.ID}
	codes := map[int]string{}
	for i, u := range p.Units {
		g.Units = append(g.Units, u.ID)
		if u.Code != "" {
			codes[i] = u.Code
		}
	}
	if p.FireStation.Code != "" {
		codes[-1] = p.FireStation.Code
	}
	return g, codes, nil
}

// resolveCodes finds the organisations named by code; an unknown code is reported where it is.
func (s *Server) resolveCodes(ctx context.Context, g *liftrescue.Grid, codes map[int]string) error {
	var bad []liftrescue.Detail
	for i, code := range codes {
		o, err := s.store.FindOrganizationByCode(ctx, code)
		field := fmt.Sprintf("units[%d]", i)
		if i < 0 {
			field = "fire_station"
		}
		switch {
		case liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND || liftrescue.ErrorCode(err) == liftrescue.EINVALID:
			bad = append(bad, liftrescue.Detail{Field: field, Value: shorten(code), Reason: "no organisation has this code"})
			continue
		case err != nil:
			return err
		}
		if i < 0 {
			g.FireStation = o.ID
		} else {
			g.Units[i] = o.ID
		}
	}
	if len(bad) > 0 {
		return &liftrescue.Error{Code: liftrescue.EINVALID, Message: "invalid grid: " + bad[0].Field + ": " + bad[0].Reason, Details: bad}
	}
	return nil
}

// orgNames is the names of the organisations grids refer to, read once per answer.
type orgNames map[int64]string

func (s *Server) orgNames(ctx context.Context) (orgNames, error) {
	names := orgNames{}
	for _, kind := range []liftrescue.OrgKind{liftrescue.OrgVolunteer, liftrescue.OrgFire} {
		err := liftrescue.EachPage(ctx, func(p liftrescue.Paging) (*liftrescue.Page[*liftrescue.Organization], error) {
			return s.store.ListOrganizations(ctx, liftrescue.OrganizationFilter{Kind: kind, Paging: p})
		}, func(o *liftrescue.Organization) { names[o.ID] = o.Name })
		if err != nil {
			return nil, err
		}
	}
	return names, nil
}

// feature writes a grid as a GeoJSON Feature.
func (n orgNames) feature(g *liftrescue.Grid) *geojson.Feature {
	f := geojson.NewFeature(g.Area)
	f.ID = g.ID
	units := make([]int64, len(g.Units))
	names := make([]string, len(g.Units))
	for i, u := range g.Units {
		units[i], names[i] = u, n[u]
	}
	f.Properties = geojson.Properties{
		"id": g.ID, "plan_id": g.PlanID, "name": g.Name, "district": g.District,
		"units": units, "unit_names": names, "fire_station": g.FireStation, "fire_station_name": n[g.FireStation],
		"notes": g.Notes, "created_at": g.CreatedAt, "updated_at": g.UpdatedAt,
	}
	return f
}

func (s *Server) withPlanner(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.cfg.Planner == nil {
			return liftrescue.Errorf(liftrescue.EUNAVAILABLE, "rescue grid planning is not running on this server")
		}
		return h(c)
	}
}

// activeGrids answers the active plan's grids (or, with ?plan=, any plan's) as a
// FeatureCollection.
func (s *Server) activeGrids(c echo.Context) error {
	id, err := queryID(c, "plan")
	if err != nil {
		return err
	}
	if id == 0 {
		plan, err := s.store.ActivePlan(c.Request().Context())
		if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
			return c.JSON(http.StatusOK, geojson.NewFeatureCollection())
		}
		if err != nil {
			return err
		}
		id = plan.ID
	}
	return s.planFeatures(c, id)
}

func (s *Server) listPlanGrids(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return s.planFeatures(c, id)
}

func (s *Server) planFeatures(c echo.Context, plan int64) error {
	ctx := c.Request().Context()
	grids, err := s.store.ListGrids(ctx, plan)
	if err != nil {
		return err
	}
	names, err := s.orgNames(ctx)
	if err != nil {
		return err
	}
	fc := geojson.NewFeatureCollection()
	for _, g := range grids {
		fc.Append(names.feature(g))
	}
	return c.JSON(http.StatusOK, fc)
}

// planGrid finds the grid the path names and checks that it is of the plan the path names.
func (s *Server) planGrid(c echo.Context) (*liftrescue.Grid, error) {
	plan, err := pathID(c)
	if err != nil {
		return nil, err
	}
	id, err := strconv.ParseInt(c.Param("grid"), 10, 64)
	if err != nil || id <= 0 {
		return nil, liftrescue.Errorf(liftrescue.EBADREQUEST, "grid must be a positive integer, not %q", shorten(c.Param("grid")))
	}
	g, err := s.store.FindGrid(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	if g.PlanID != plan {
		return nil, liftrescue.Errorf(liftrescue.ENOTFOUND, "plan %d has no grid %d", plan, id)
	}
	return g, nil
}

func (s *Server) getGrid(c echo.Context) error {
	g, err := s.planGrid(c)
	if err != nil {
		return err
	}
	names, err := s.orgNames(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, names.feature(g))
}

func (s *Server) createGrid(c echo.Context) error {
	plan, err := pathID(c)
	if err != nil {
		return err
	}
	g, err := s.decodeGrid(c)
	if err != nil {
		return err
	}
	g.PlanID = plan
	if err := s.cfg.Planner.CreateGrid(c.Request().Context(), g); err != nil {
		return err
	}
	return s.answerGrid(c, http.StatusCreated, g)
}

func (s *Server) updateGrid(c echo.Context) error {
	old, err := s.planGrid(c)
	if err != nil {
		return err
	}
	g, err := s.decodeGrid(c)
	if err != nil {
		return err
	}
	g.ID, g.PlanID = old.ID, old.PlanID
	if err := s.cfg.Planner.UpdateGrid(c.Request().Context(), g); err != nil {
		return err
	}
	return s.answerGrid(c, http.StatusOK, g)
}

func (s *Server) answerGrid(c echo.Context, status int, g *liftrescue.Grid) error {
	names, err := s.orgNames(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, fmt.Sprintf("/api/v1/plans/%d/grids/%d", g.PlanID, g.ID))
	return c.JSON(status, names.feature(g))
}

func (s *Server) deleteGrid(c echo.Context) error {
	g, err := s.planGrid(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteGrid(c.Request().Context(), g.ID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listPlans(c echo.Context) error {
	plans, err := s.store.ListPlans(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, liftrescue.Page[*liftrescue.Plan]{Items: plans, Total: len(plans)})
}

func (s *Server) getPlan(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	p, err := s.store.FindPlan(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// planFrom is where a new draft starts: "active" (the default), "empty", or a plan's ID.
type planFrom struct{ id int64 }

func (f *planFrom) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		switch s {
		case "active":
			f.id = -1
		case "empty":
			f.id = 0
		default:
			return fmt.Errorf("from: want \"active\", \"empty\" or a plan id, not %q", shorten(s))
		}
		return nil
	}
	if err := json.Unmarshal(b, &f.id); err != nil || f.id <= 0 {
		return fmt.Errorf("from: want \"active\", \"empty\" or a plan id")
	}
	return nil
}

type planBody struct {
	Name  string `json:"name"`
	Notes string `json:"notes"`
	// From is where the draft starts: "active" (a copy of the plan in force, the default),
	// "empty", or a plan's ID.
	From *planFrom `json:"from,omitempty" openapi:"-"`
}

func (s *Server) createPlan(c echo.Context) error {
	ctx := c.Request().Context()
	var b planBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	from := int64(-1)
	if b.From != nil {
		from = b.From.id
	}
	if from < 0 {
		from = 0
		active, err := s.store.ActivePlan(ctx)
		switch {
		case err == nil:
			from = active.ID
		case liftrescue.ErrorCode(err) != liftrescue.ENOTFOUND:
			return err
		}
	}
	p := &liftrescue.Plan{Name: b.Name, Notes: b.Notes, CreatedBy: principalOf(c).Name}
	if err := s.store.CreatePlan(ctx, p, from); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, fmt.Sprintf("/api/v1/plans/%d", p.ID))
	return c.JSON(http.StatusCreated, p)
}

func (s *Server) updatePlan(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var b planBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	if b.From != nil {
		return liftrescue.Invalid("from", "is only for a new plan")
	}
	p := &liftrescue.Plan{ID: id, Name: b.Name, Notes: b.Notes}
	if err := s.store.UpdatePlan(c.Request().Context(), p); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

func (s *Server) deletePlan(c echo.Context) error { return deleteByID(c, s.store.DeletePlan) }

func (s *Server) checkPlan(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	r, err := s.cfg.Planner.Check(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

type publishBody struct {
	// Confirm accepts the overlaps and the elevators left in no grid that the check reports.
	Confirm bool `json:"confirm"`
}

// Published is a plan just put in force, with what it changed.
type Published struct {
	Plan   *liftrescue.Plan `json:"plan"`
	Report *planning.Report `json:"report"`
}

func (s *Server) publishPlan(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var b publishBody
	if c.Request().ContentLength != 0 {
		if err := decodeJSON(c, &b); err != nil {
			return err
		}
	}
	p, r, err := s.cfg.Planner.Publish(c.Request().Context(), id, principalOf(c).Name, b.Confirm)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, Published{Plan: p, Report: r})
}

func (s *Server) planCoverage(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	withLayer := true
	if c.QueryParam("layer") != "" {
		if withLayer, err = queryBool(c, "layer"); err != nil {
			return err
		}
	}
	cv, err := s.cfg.Planner.Coverage(c.Request().Context(), id, withLayer)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cv)
}

func (s *Server) planWhatIf(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var opt planning.WhatIfOptions
	if v := c.QueryParam("against"); v != "" && v != "active" {
		if opt.Against, err = queryID(c, "against"); err != nil {
			return err
		}
	}
	for _, q := range []struct {
		name string
		dst  *int
	}{{"days", &opt.Days}, {"sample", &opt.Sample}} {
		if v := c.QueryParam(q.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return liftrescue.Errorf(liftrescue.EBADREQUEST, "%s must be a positive integer, not %q", q.name, shorten(v))
			}
			*q.dst = n
		}
	}
	w, err := s.cfg.Planner.WhatIf(c.Request().Context(), id, opt)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, w)
}

// gridAt names the active plan's grid that holds a position; nil without a planner or a grid.
func (s *Server) gridAt(lon, lat float64) *planning.GridName {
	if s.cfg.Planner == nil {
		return nil
	}
	if g := s.cfg.Planner.GridAt(lon, lat); g != nil {
		return &planning.GridName{ID: g.ID, Name: g.Name}
	}
	return nil
}
