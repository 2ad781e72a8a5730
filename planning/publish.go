package planning

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
)

// GridName names a grid in reports.
type GridName struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

func nameOf(g *liftrescue.Grid) GridName { return GridName{ID: g.ID, Name: g.Name} }

// Overlap is a place two grids of a plan both claim.
type Overlap struct {
	A      GridName   `json:"a"`
	B      GridName   `json:"b"`
	AreaM2 float64    `json:"area_m2"`
	At     [2]float64 `json:"at"` // lon, lat of a point in it
}

// PlacedElevator is an elevator where the index has it.
type PlacedElevator struct {
	ID  int64   `json:"id"`
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
}

// Gaps are the elevators a plan leaves in no grid: tier 2 has no grid to start from for them.
type Gaps struct {
	Elevators int `json:"elevators"`
	// Sample lists some of them, lowest IDs first, to find them on the map.
	Sample []PlacedElevator `json:"sample"`
}

// gapSample bounds the elevators a report lists by name.
const gapSample = 20

// GridCount is how many elevators a grid holds.
type GridCount struct {
	GridName
	Elevators int `json:"elevators"`
}

// Report is what a plan does, before or on publication.
type Report struct {
	PlanID    int64       `json:"plan_id"`
	Grids     int         `json:"grids"`
	Elevators int         `json:"elevators"`
	PerGrid   []GridCount `json:"per_grid"`
	// Changed counts the elevators whose grid differs from the one under the active plan.
	Changed  int       `json:"changed"`
	Overlaps []Overlap `json:"overlaps"`
	Gaps     Gaps      `json:"gaps"`
	// NeedsConfirmation: overlaps or gaps must be confirmed to publish.
	NeedsConfirmation bool    `json:"needs_confirmation"`
	TookMS            float64 `json:"took_ms"`
}

// Check reports what publishing the plan would do, without doing it.
func (p *Planner) Check(ctx context.Context, id int64) (*Report, error) {
	a, err := p.assignment(ctx, id)
	if err != nil {
		return nil, err
	}
	return p.report(a, p.Active()), nil
}

func (p *Planner) report(a, against *Assignment) *Report {
	start := time.Now()
	r := &Report{PlanID: a.PlanID(), Grids: len(a.Grids), Overlaps: []Overlap{}, Gaps: Gaps{Sample: []PlacedElevator{}}}
	counts := make([]int, len(a.Grids))
	var gaps []PlacedElevator
	p.cfg.Index.EachElevator(func(e geo.ElevatorPoint) bool {
		r.Elevators++
		i := a.indexOf(e)
		if i < 0 {
			r.Gaps.Elevators++
			gaps = keepLowest(gaps, PlacedElevator{ID: e.ID, Lon: e.Lon, Lat: e.Lat})
		} else {
			counts[i]++
		}
		if gridID(a, i) != gridID(against, against.indexOf(e)) {
			r.Changed++
		}
		return true
	})
	r.Gaps.Sample = append(r.Gaps.Sample, gaps...)
	for i, g := range a.Grids {
		r.PerGrid = append(r.PerGrid, GridCount{GridName: nameOf(g), Elevators: counts[i]})
	}
	if a.m != nil {
		for _, o := range a.m.Overlaps() {
			r.Overlaps = append(r.Overlaps, Overlap{A: nameOf(a.Grids[o.A]), B: nameOf(a.Grids[o.B]), AreaM2: o.AreaM2, At: [2]float64{o.Lon, o.Lat}})
		}
	}
	slices.SortFunc(r.PerGrid, func(a, b GridCount) int { return cmp.Compare(a.ID, b.ID) })
	r.NeedsConfirmation = len(r.Overlaps) > 0 || r.Gaps.Elevators > 0
	r.TookMS = float64(time.Since(start).Microseconds()) / 1000
	return r
}

// gridID identifies the grid at index i of an assignment across plans: a copied grid keeps its
// name, not its ID, so an elevator "changes grid" when the name it answers to changes.
func gridID(a *Assignment, i int) string {
	if i < 0 || a == nil || a.Plan == nil {
		return ""
	}
	return a.Grids[i].Name
}

// keepLowest keeps the gapSample elevators of lowest ID, in order.
func keepLowest(s []PlacedElevator, e PlacedElevator) []PlacedElevator {
	if len(s) == gapSample && e.ID > s[len(s)-1].ID {
		return s
	}
	i := len(s)
	for i > 0 && s[i-1].ID > e.ID {
		i--
	}
	if len(s) < gapSample {
		s = append(s, PlacedElevator{})
	}
	copy(s[i+1:], s[i:len(s)-1])
	s[i] = e
	return s
}

// Publish makes a draft the active plan and re-assigns every elevator and vehicle to its grids at
// once. A plan that leaves elevators in no grid or whose grids overlap is published only when
// confirmed; otherwise Publish answers ECONFLICT with the report in Extra["report"].
func (p *Planner) Publish(ctx context.Context, id int64, by string, confirm bool) (*liftrescue.Plan, *Report, error) {
	p.publish.Lock()
	defer p.publish.Unlock()
	plan, err := p.cfg.Store.FindPlan(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if plan.Status != liftrescue.PlanDraft {
		return nil, nil, liftrescue.Errorf(liftrescue.ECONFLICT, "plan %d is %s: only a draft is published", id, plan.Status)
	}
	a, err := p.assignment(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	r := p.report(a, p.Active())
	if r.NeedsConfirmation && !confirm {
		return nil, r, &liftrescue.Error{Code: liftrescue.ECONFLICT, Message: confirmMessage(r),
			Extra: map[string]any{"report": r}}
	}
	published, err := p.cfg.Store.PublishPlan(ctx, id, by)
	if err != nil {
		return nil, r, err
	}
	p.active.Store(&Assignment{Plan: published, Grids: a.Grids, m: a.m})
	p.cfg.Logger.Info("rescue grid plan published", "plan", id, "by", by, "grids", r.Grids,
		"changed", r.Changed, "gaps", r.Gaps.Elevators, "overlaps", len(r.Overlaps))
	return published, r, nil
}

func confirmMessage(r *Report) string {
	var parts []string
	if n := r.Gaps.Elevators; n > 0 {
		parts = append(parts, fmt.Sprintf("leaves %d %s in no grid", n, plural(n, "elevator", "elevators")))
	}
	if n := len(r.Overlaps); n > 0 {
		parts = append(parts, fmt.Sprintf("has %d %s between grids", n, plural(n, "overlap", "overlaps")))
	}
	return "the plan " + strings.Join(parts, " and ") + ": publish with confirm to accept"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
