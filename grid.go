package liftrescue

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/paulmach/orb"
)

// PlanStatus is where a plan of rescue grids stands. A plan is drafted, published once (it is then
// the active plan, the one dispatch uses) and retired when another is published; only a draft
// changes, so an incident that names a grid of a published plan names it for good.
type PlanStatus string

const (
	PlanDraft   PlanStatus = "draft"
	PlanActive  PlanStatus = "active"
	PlanRetired PlanStatus = "retired"
)

// Plan is one way of cutting the city into rescue grids (救援网格).
type Plan struct {
	ID     int64      `json:"id"`
	Name   string     `json:"name"`
	Notes  string     `json:"notes"`
	Status PlanStatus `json:"status"`
	// BasedOn is the plan whose grids the draft started from, 0 for an empty start.
	BasedOn   int64     `json:"based_on,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt moves with every change to the plan or its grids.
	UpdatedAt   time.Time  `json:"updated_at"`
	PublishedBy string     `json:"published_by,omitempty"`
	PublishedAt *time.Time `json:"published_at"`
	RetiredAt   *time.Time `json:"retired_at"`
	// Grids counts the plan's grids.
	Grids int `json:"grids"`
}

// Validate normalises the plan's text and checks it.
func (p *Plan) Validate() error {
	var pr problems
	p.Name = strings.TrimSpace(p.Name)
	p.Notes = strings.TrimSpace(p.Notes)
	checkText(&pr, "name", p.Name, true, 100)
	checkNote(&pr, "notes", p.Notes, 2000)
	return pr.err("plan")
}

// Grid is a rescue grid: an area of the city, the volunteer units that answer tier-2 calls in it
// (in the planner's order of preference) and the fire station that answers tier 3.
type Grid struct {
	ID     int64  `json:"id"`
	PlanID int64  `json:"plan_id"`
	Name   string `json:"name"`
	// District is the administrative district the grid belongs to, for scoping and reports; a grid
	// may reach over the district's line.
	District string `json:"district"`
	// Area is WGS-84, each polygon's shell counter-clockwise and its holes clockwise (RFC 7946).
	Area orb.MultiPolygon `json:"-"`
	// Units are volunteer organisations' IDs, the first preferred.
	Units []int64 `json:"units"`
	// FireStation is the designated fire station's organisation ID.
	FireStation int64     `json:"fire_station"`
	Notes       string    `json:"notes"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Limits on a grid, so that one bad file cannot slow every lookup of the city.
const (
	// MaxGridVertices bounds the vertices of a grid's area, all rings together. A district
	// boundary at survey detail has a few thousand.
	MaxGridVertices = 20000
	// MaxGridUnits bounds the volunteer units of a grid.
	MaxGridUnits = 50
	// MaxPlanGrids bounds the grids of a plan.
	MaxPlanGrids = 2000
)

// Validate normalises the grid's text and checks its fields; the geometry beyond its presence
// and size is checked by geo.CheckArea, the units' kinds by the store.
func (g *Grid) Validate() error {
	var p problems
	g.Name = strings.TrimSpace(g.Name)
	g.District = strings.TrimSpace(g.District)
	g.Notes = strings.TrimSpace(g.Notes)
	checkText(&p, "name", g.Name, true, 100)
	checkDistrict(&p, g.District)
	checkNote(&p, "notes", g.Notes, 2000)
	if len(g.Area) == 0 {
		p.add("geometry", "is required: a Polygon or MultiPolygon")
	}
	if n := VertexCount(g.Area); n > MaxGridVertices {
		p.add("geometry", "has %d vertices, at most %d are allowed", n, MaxGridVertices)
	}
	switch {
	case len(g.Units) == 0:
		p.add("units", "name at least one volunteer unit")
	case len(g.Units) > MaxGridUnits:
		p.add("units", "name at most %d units", MaxGridUnits)
	}
	seen := map[int64]bool{}
	for i, id := range g.Units {
		switch {
		case id <= 0:
			p.add(fmt.Sprintf("units[%d]", i), "must be an organisation id")
		case seen[id]:
			p.add(fmt.Sprintf("units[%d]", i), "unit %d is named twice", id)
		}
		seen[id] = true
	}
	if g.FireStation <= 0 {
		p.add("fire_station", "is required: the designated fire station's organisation id")
	}
	return p.err("grid")
}

// VertexCount counts the vertices of all the rings of an area, closing ones included.
func VertexCount(mp orb.MultiPolygon) int {
	n := 0
	for _, poly := range mp {
		for _, ring := range poly {
			n += len(ring)
		}
	}
	return n
}

// checkNote is checkText for free text that may run over lines.
func checkNote(p *problems, field, s string, max int) {
	checkText(p, field, strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(s), false, max)
}

// IncidentGrid is what an incident keeps of the grid it was opened in: dispatch ranks and sends
// from it until the incident ends, whatever plan is published meanwhile.
type IncidentGrid struct {
	ID          int64   `json:"id"`
	PlanID      int64   `json:"plan_id"`
	Name        string  `json:"name"`
	Units       []int64 `json:"units"`
	FireStation int64   `json:"fire_station"`
}

// Ref returns what an incident keeps of the grid.
func (g *Grid) Ref() *IncidentGrid {
	return &IncidentGrid{ID: g.ID, PlanID: g.PlanID, Name: g.Name, Units: append([]int64(nil), g.Units...), FireStation: g.FireStation}
}

// GridLocator finds the grid of the active plan that holds a position, nil when none does.
type GridLocator interface {
	GridAt(lon, lat float64) *Grid
}

// GridService keeps plans and their grids.
type GridService interface {
	// CreatePlan stores a new draft with p's name and notes, created by p.CreatedBy, copying the
	// grids of the plan from (0: none). Sets p's ID, status, times and grid count. Returns
	// EINVALID, ENOTFOUND for a missing from.
	CreatePlan(ctx context.Context, p *Plan, from int64) error
	// FindPlan returns ENOTFOUND.
	FindPlan(ctx context.Context, id int64) (*Plan, error)
	// ActivePlan returns the published plan in force; ENOTFOUND before the first publication.
	ActivePlan(ctx context.Context) (*Plan, error)
	// ListPlans returns every plan, newest first.
	ListPlans(ctx context.Context) ([]*Plan, error)
	// UpdatePlan changes a draft's name and notes. Returns ENOTFOUND, EINVALID, ECONFLICT when
	// the plan is not a draft.
	UpdatePlan(ctx context.Context, p *Plan) error
	// DeletePlan discards a draft with its grids. Returns ENOTFOUND, ECONFLICT when the plan is
	// not a draft.
	DeletePlan(ctx context.Context, id int64) error
	// PublishPlan makes the draft the active plan and retires the one in force, at once. Returns
	// ENOTFOUND, ECONFLICT when the plan is not a draft.
	PublishPlan(ctx context.Context, id int64, by string) (*Plan, error)

	// ListGrids returns the plan's grids ordered by id. Returns ENOTFOUND for a missing plan.
	ListGrids(ctx context.Context, plan int64) ([]*Grid, error)
	// FindGrid returns ENOTFOUND.
	FindGrid(ctx context.Context, id int64) (*Grid, error)
	// CreateGrid adds g to the draft g.PlanID and sets its ID and times. Returns ENOTFOUND for a
	// missing plan, ECONFLICT when the plan is not a draft or the name is taken in it, EINVALID
	// (with a Detail per bad unit: missing or not a volunteer unit; the fire station missing or
	// not a fire station; an unknown district; the plan full).
	CreateGrid(ctx context.Context, g *Grid) error
	// UpdateGrid replaces the grid with g.ID (its plan stays). Errors as CreateGrid.
	UpdateGrid(ctx context.Context, g *Grid) error
	// DeleteGrid returns ENOTFOUND, ECONFLICT when the grid's plan is not a draft.
	DeleteGrid(ctx context.Context, id int64) error
}
