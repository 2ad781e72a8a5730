// Package planning is where rescue grids meet the live city: it checks the grids planners draw,
// says which grid holds every elevator and vehicle under the active plan, publishes plans with
// a report of what they change, and estimates the tier-2 coverage of any plan, now and against
// past incidents.
//
// It imports the root package and geo.
package planning

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// Config wires a Planner.
type Config struct {
	Store    liftrescue.Store
	Index    *geo.Index
	Policy   liftrescue.Policy
	Liveness liftrescue.Liveness
	ETA      geo.ETAModel // nil: geo.StraightLineETA with its defaults
	Now      func() time.Time
	Logger   *slog.Logger
	// ReloadEvery is how often the active plan is looked up again, for plans published by
	// another replica (default 30 s).
	ReloadEvery time.Duration
}

// Planner holds the active plan's assignment and runs the planners' work on plans.
type Planner struct {
	cfg     Config
	active  atomic.Pointer[Assignment]
	publish sync.Mutex // one publication at a time

	drafts struct {
		sync.Mutex
		key  draftKey
		a    *Assignment
		busy chan struct{}
	}
}

// draftKey names a draft as it stood: any change to it moves UpdatedAt.
type draftKey struct {
	id      int64
	updated time.Time
}

// New checks the config; Load reads the active plan.
func New(cfg Config) (*Planner, error) {
	if cfg.Store == nil || cfg.Index == nil {
		return nil, errors.New("planning: Store and Index are required")
	}
	if err := cfg.Policy.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.Liveness.Validate(); err != nil {
		return nil, err
	}
	if cfg.ETA == nil {
		cfg.ETA = geo.StraightLineETA{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReloadEvery <= 0 {
		cfg.ReloadEvery = 30 * time.Second
	}
	p := &Planner{cfg: cfg}
	p.active.Store(&Assignment{})
	return p, nil
}

// Load reads the active plan and makes it the assignment in force.
func (p *Planner) Load(ctx context.Context) error {
	plan, err := p.cfg.Store.ActivePlan(ctx)
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		p.active.Store(&Assignment{})
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the active plan: %w", err)
	}
	a, err := p.build(ctx, plan)
	if err != nil {
		return err
	}
	p.active.Store(a)
	p.cfg.Logger.Info("rescue grids loaded", "plan", plan.ID, "grids", len(a.Grids))
	return nil
}

// Run looks for a plan published elsewhere every ReloadEvery until ctx ends.
func (p *Planner) Run(ctx context.Context) {
	t := time.NewTicker(p.cfg.ReloadEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		plan, err := p.cfg.Store.ActivePlan(ctx)
		if err != nil || plan.ID == p.Active().PlanID() {
			continue
		}
		if err := p.Load(ctx); err != nil && ctx.Err() == nil {
			p.cfg.Logger.Error("could not load the plan published elsewhere", "plan", plan.ID, "err", err)
		}
	}
}

// Active returns the assignment in force; its Plan is nil before the first publication.
func (p *Planner) Active() *Assignment { return p.active.Load() }

// GridAt returns the active plan's grid that holds a position, nil when none does.
func (p *Planner) GridAt(lon, lat float64) *liftrescue.Grid { return p.active.Load().GridAt(lon, lat) }

var _ liftrescue.GridLocator = (*Planner)(nil)

// CheckGrid normalises a grid's area and checks the whole grid, reporting the geometry's
// problems with the fields' in one error.
func CheckGrid(g *liftrescue.Grid) error {
	var details []liftrescue.Detail
	err := g.Validate()
	details = append(details, liftrescue.ErrorDetails(err)...)
	if err != nil && len(details) == 0 {
		return err
	}
	if len(g.Area) > 0 {
		area, bad := geo.CheckArea(g.Area)
		if len(bad) == 0 {
			g.Area = area
		}
		details = append(details, bad...)
	}
	if len(details) == 0 {
		return nil
	}
	msg := fmt.Sprintf("invalid grid: %s: %s", details[0].Field, details[0].Reason)
	if len(details) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(details)-1)
	}
	return &liftrescue.Error{Code: liftrescue.EINVALID, Message: msg, Details: details}
}

// CreateGrid checks a grid and adds it to its draft.
func (p *Planner) CreateGrid(ctx context.Context, g *liftrescue.Grid) error {
	if err := CheckGrid(g); err != nil {
		return err
	}
	return p.cfg.Store.CreateGrid(ctx, g)
}

// UpdateGrid checks a grid and replaces the draft's grid with its ID.
func (p *Planner) UpdateGrid(ctx context.Context, g *liftrescue.Grid) error {
	if err := CheckGrid(g); err != nil {
		return err
	}
	return p.cfg.Store.UpdateGrid(ctx, g)
}

// Assignment is a plan's grids with the map that finds them: which grid holds each position.
// It is immutable; publishing replaces the planner's whole assignment at once.
type Assignment struct {
	Plan *liftrescue.Plan // nil: no plan
	// Grids are smallest first, the order in which they claim a place.
	Grids []*liftrescue.Grid
	m     *geo.GridMap
}

// PlanID returns the plan's ID, 0 for none.
func (a *Assignment) PlanID() int64 {
	if a == nil || a.Plan == nil {
		return 0
	}
	return a.Plan.ID
}

// GridAt returns the grid that holds a position, nil when none does.
func (a *Assignment) GridAt(lon, lat float64) *liftrescue.Grid {
	if a == nil || a.m == nil {
		return nil
	}
	if i := a.m.Locate(lon, lat); i >= 0 {
		return a.Grids[i]
	}
	return nil
}

// indexOf returns the index in Grids of the grid that holds an elevator, -1 for none. The
// elevator's cell, kept by the index, spares computing it again.
func (a *Assignment) indexOf(e geo.ElevatorPoint) int {
	if a == nil || a.m == nil {
		return -1
	}
	if e.Cell.Resolution() == a.m.Resolution() {
		return a.m.LocateIn(e.Cell, e.Lon, e.Lat)
	}
	return a.m.Locate(e.Lon, e.Lat)
}

// NewAssignment covers the grids' areas; the grids must have been checked. Where grids overlap
// (a planner confirmed it), the smaller one holds the overlap: a small grid drawn over a large one
// is an exception to it, a hospital campus or a new estate with a unit of its own.
func NewAssignment(plan *liftrescue.Plan, grids []*liftrescue.Grid) (*Assignment, error) {
	grids = slices.Clone(grids)
	size := make(map[*liftrescue.Grid]float64, len(grids))
	for _, g := range grids {
		size[g] = planar.Area(g.Area)
	}
	slices.SortStableFunc(grids, func(a, b *liftrescue.Grid) int { return cmp.Compare(size[a], size[b]) })
	areas := make([]orb.MultiPolygon, len(grids))
	for i, g := range grids {
		areas[i] = g.Area
	}
	m, err := geo.NewGridMap(areas)
	if err != nil {
		return nil, fmt.Errorf("cover plan %d: %w", plan.ID, err)
	}
	return &Assignment{Plan: plan, Grids: grids, m: m}, nil
}

func (p *Planner) build(ctx context.Context, plan *liftrescue.Plan) (*Assignment, error) {
	grids, err := p.cfg.Store.ListGrids(ctx, plan.ID)
	if err != nil {
		return nil, fmt.Errorf("read the grids of plan %d: %w", plan.ID, err)
	}
	return NewAssignment(plan, grids)
}

// assignment returns the assignment of any plan: the one in force for the active plan, else the
// plan's as it stands now, built once per change (a draft of 200 grids takes about a second to
// cover; a planner looks at the coverage and the what-if of the same draft in turn).
func (p *Planner) assignment(ctx context.Context, id int64) (*Assignment, error) {
	if a := p.Active(); a.PlanID() == id && id != 0 {
		return a, nil
	}
	plan, err := p.cfg.Store.FindPlan(ctx, id)
	if err != nil {
		return nil, err
	}
	if plan.Status == liftrescue.PlanActive {
		if a := p.Active(); a.PlanID() == id {
			return a, nil
		}
	}
	key := draftKey{plan.ID, plan.UpdatedAt}
	d := &p.drafts
	for {
		d.Lock()
		if d.key == key && d.a != nil {
			a := d.a
			d.Unlock()
			return a, nil
		}
		if d.busy == nil {
			break
		}
		busy := d.busy
		d.Unlock()
		select { // another request covers a draft: wait for it, it may be this one
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	d.busy = make(chan struct{})
	d.Unlock()
	a, err := p.build(ctx, plan)
	d.Lock()
	if err == nil {
		d.key, d.a = key, a
	}
	close(d.busy)
	d.busy = nil
	d.Unlock()
	return a, err
}
