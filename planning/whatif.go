package planning

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
)

// WhatIfOptions choose the cases a plan is tried on.
type WhatIfOptions struct {
	// Against is the plan compared with; 0 means the active plan.
	Against int64
	// Days of past incidents to replay (default 365).
	Days int
	// Sample is how many elevators to draw, weighted by their incident history, when there are
	// fewer than MinIncidents past incidents to replay (default 2000).
	Sample int
}

// MinIncidents is the fewest past incidents a what-if replays; with fewer it draws elevators.
const MinIncidents = 30

// maxReplayed bounds the incidents replayed, newest first.
const maxReplayed = 20000

// maxRows bounds the cases a what-if lists one by one.
const maxRows = 500

// UnitName names a unit in reports.
type UnitName struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Outcome is who a plan would send to a case, and how soon it would be there.
type Outcome struct {
	Grid *GridName `json:"grid"`
	Unit *UnitName `json:"unit"`
	// InGrid says the unit is one of the grid's; false when the grid has none to send (or there is
	// no grid) and the nearest unit from elsewhere stands in.
	InGrid bool     `json:"in_grid"`
	ETAS   *float64 `json:"eta_s"`
	Within bool     `json:"within_limit"`
}

// Case is one past incident, or one drawn elevator, under both plans.
type Case struct {
	IncidentID int64      `json:"incident_id,omitempty"`
	ReportedAt *time.Time `json:"reported_at,omitempty"`
	ElevatorID int64      `json:"elevator_id"`
	Lon        float64    `json:"lon"`
	Lat        float64    `json:"lat"`
	// District is the incident's; a drawn elevator takes its grid's.
	District string `json:"district,omitempty"`
	// Weight is how much the case counts: 1 for an incident, 1 + its past incidents for an elevator.
	Weight  int     `json:"weight"`
	Plan    Outcome `json:"plan"`
	Against Outcome `json:"against"`

	rural *bool // as the incident knew it; nil for a drawn elevator
}

// Summary is how a plan does over all cases.
type Summary struct {
	PlanID int64  `json:"plan_id"`
	Name   string `json:"name"`
	// WithinLimit is the weighted share of cases reached within their arrival limit.
	WithinLimit float64 `json:"within_limit"`
	MedianS     float64 `json:"median_s"`
	P90S        float64 `json:"p90_s"`
	NoGrid      int     `json:"no_grid"`      // cases in no grid
	OutsideGrid int     `json:"outside_grid"` // cases answered by a unit from elsewhere
}

// WhatIf compares two plans on the same cases.
type WhatIf struct {
	// Source is "incidents" (past incidents replayed) or "elevators" (drawn by incident history).
	Source  string    `json:"source"`
	Since   time.Time `json:"since"`
	Cases   int       `json:"cases"`
	Plan    Summary   `json:"plan"`
	Against Summary   `json:"against"`
	// Changed counts the cases sent a different unit; Faster and Slower those whose estimated
	// arrival moves by more than a minute.
	Changed int `json:"changed"`
	Faster  int `json:"faster"`
	Slower  int `json:"slower"`
	// Rows lists cases, those that change most first, at most 500.
	Rows   []Case  `json:"rows"`
	TookMS float64 `json:"took_ms"`
}

// WhatIf tries a plan against another on past incidents (or elevators drawn by their incident
// history): which unit each would have sent, with today's units and vehicles, and how soon.
func (p *Planner) WhatIf(ctx context.Context, id int64, opt WhatIfOptions) (*WhatIf, error) {
	if opt.Days <= 0 {
		opt.Days = 365
	}
	if opt.Sample <= 0 {
		opt.Sample = 2000
	}
	if opt.Days > 3660 || opt.Sample > 100000 {
		return nil, liftrescue.Invalid("days", "days must be at most 3660 and sample at most 100000")
	}
	plan, err := p.assignment(ctx, id)
	if err != nil {
		return nil, err
	}
	against := p.Active()
	if opt.Against != 0 {
		if against, err = p.assignment(ctx, opt.Against); err != nil {
			return nil, err
		}
	}
	f, err := p.fleet(ctx)
	if err != nil {
		return nil, err
	}
	rural, err := p.ruralDistricts(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	w := &WhatIf{Since: p.cfg.Now().AddDate(0, 0, -opt.Days).UTC(), Rows: []Case{}}
	cases, history, err := p.pastIncidents(ctx, w.Since)
	if err != nil {
		return nil, err
	}
	w.Source = "incidents"
	if len(cases) < MinIncidents {
		w.Source = "elevators"
		cases = p.drawElevators(history, opt.Sample)
	}
	limit := func(district string, known *bool) time.Duration {
		if known != nil {
			return p.cfg.Policy.ArriveLimit(district, *known)
		}
		return p.cfg.Policy.ArriveLimit(district, rural[district])
	}
	var etaPlan, etaAgainst []weighted
	for i := range cases {
		c := &cases[i]
		c.Plan = p.outcome(plan, f, c, limit)
		c.Against = p.outcome(against, f, c, limit)
		etaPlan = append(etaPlan, weighted{eta(c.Plan), c.Weight, c.Plan.Within})
		etaAgainst = append(etaAgainst, weighted{eta(c.Against), c.Weight, c.Against.Within})
		if unitID(c.Plan) != unitID(c.Against) {
			w.Changed++
		}
		switch d := eta(c.Plan) - eta(c.Against); {
		case d < -60:
			w.Faster++
		case d > 60:
			w.Slower++
		}
	}
	w.Cases = len(cases)
	w.Plan = summarise(plan, etaPlan, cases, func(c *Case) Outcome { return c.Plan })
	w.Against = summarise(against, etaAgainst, cases, func(c *Case) Outcome { return c.Against })
	slices.SortStableFunc(cases, func(a, b Case) int {
		return cmp.Compare(math.Abs(eta(b.Plan)-eta(b.Against)), math.Abs(eta(a.Plan)-eta(a.Against)))
	})
	w.Rows = append(w.Rows, cases[:min(len(cases), maxRows)]...)
	w.TookMS = float64(time.Since(start).Microseconds()) / 1000
	return w, nil
}

// pastIncidents returns the incidents reported since a time as cases (newest first, false alarms
// and duplicates left out), and every elevator's count of incidents seen.
func (p *Planner) pastIncidents(ctx context.Context, since time.Time) ([]Case, map[int64]int, error) {
	var cases []Case
	history := map[int64]int{}
	pg := liftrescue.Paging{Limit: liftrescue.MaxLimit}
	for len(cases) < maxReplayed {
		page, err := p.cfg.Store.ListIncidents(ctx, liftrescue.IncidentFilter{Paging: pg})
		if err != nil {
			return nil, nil, err
		}
		done := false
		for _, inc := range page.Items {
			if inc.ReportedAt.Before(since) {
				done = true
				break
			}
			if inc.State == liftrescue.IncidentCancelled && (inc.CancelReason == liftrescue.CancelFalseAlarm || inc.CancelReason == liftrescue.CancelDuplicate) {
				continue
			}
			history[inc.ElevatorID]++
			at, isRural := inc.ReportedAt, inc.Rural
			cases = append(cases, Case{IncidentID: inc.ID, ReportedAt: &at, ElevatorID: inc.ElevatorID,
				Lon: inc.Elevator.Lon, Lat: inc.Elevator.Lat, District: inc.District, Weight: 1, rural: &isRural})
		}
		if done || page.NextCursor == "" {
			break
		}
		pg.Cursor = page.NextCursor
	}
	return cases, history, nil
}

// drawElevators draws n elevators, each with odds of 1 + its past incidents (weighted sampling
// without replacement, Efraimidis–Spirakis), the same draw for the same city.
func (p *Planner) drawElevators(history map[int64]int, n int) []Case {
	rng := rand.New(rand.NewPCG(20261121, 96333))
	h := &keyHeap{}
	p.cfg.Index.EachElevator(func(e geo.ElevatorPoint) bool {
		weight := 1 + history[e.ID]
		key := math.Log(rng.Float64()+1e-300) / float64(weight) // larger is kept
		if h.Len() < n {
			heap.Push(h, keyed{key, e, weight})
		} else if key > (*h)[0].key {
			(*h)[0] = keyed{key, e, weight}
			heap.Fix(h, 0)
		}
		return true
	})
	out := make([]Case, 0, h.Len())
	for _, k := range *h {
		out = append(out, Case{ElevatorID: k.e.ID, Lon: k.e.Lon, Lat: k.e.Lat, Weight: k.weight})
	}
	slices.SortFunc(out, func(a, b Case) int { return cmp.Compare(a.ElevatorID, b.ElevatorID) })
	return out
}

type keyed struct {
	key    float64
	e      geo.ElevatorPoint
	weight int
}

type keyHeap []keyed

func (h keyHeap) Len() int           { return len(h) }
func (h keyHeap) Less(i, j int) bool { return h[i].key < h[j].key }
func (h keyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *keyHeap) Push(x any)        { *h = append(*h, x.(keyed)) }
func (h *keyHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// outcome is who the assignment's grid would send to the case.
func (p *Planner) outcome(a *Assignment, f *fleet, c *Case, limit func(string, *bool) time.Duration) Outcome {
	var o Outcome
	var g *liftrescue.Grid
	if a != nil && a.m != nil {
		if i := a.m.Locate(c.Lon, c.Lat); i >= 0 {
			g = a.Grids[i]
			n := nameOf(g)
			o.Grid = &n
		}
	}
	var srcs []source
	if g != nil {
		srcs = f.gridSources(g)
	}
	o.InGrid = len(srcs) > 0
	if !o.InGrid {
		srcs = f.all
	}
	s, t, ok := nearest(p.cfg.ETA, srcs, c.Lon, c.Lat)
	if !ok {
		return o
	}
	u := UnitName{ID: s.unit}
	if org := f.orgs[s.unit]; org != nil {
		u.Name = org.Name
	}
	o.Unit = &u
	sec := math.Round(t.Seconds())
	o.ETAS = &sec
	district := c.District
	if c.rural == nil && g != nil {
		district = g.District
	}
	o.Within = t <= limit(district, c.rural)
	return o
}

type weighted struct {
	eta    float64
	weight int
	within bool
}

func eta(o Outcome) float64 {
	if o.ETAS == nil {
		return math.Inf(1)
	}
	return *o.ETAS
}

func unitID(o Outcome) int64 {
	if o.Unit == nil {
		return 0
	}
	return o.Unit.ID
}

func summarise(a *Assignment, ws []weighted, cases []Case, pick func(*Case) Outcome) Summary {
	s := Summary{PlanID: a.PlanID()}
	if a.Plan != nil {
		s.Name = a.Plan.Name
	}
	total, within := 0, 0
	for i := range cases {
		o := pick(&cases[i])
		if o.Grid == nil {
			s.NoGrid++
		}
		if !o.InGrid {
			s.OutsideGrid++
		}
	}
	slices.SortFunc(ws, func(a, b weighted) int { return cmp.Compare(a.eta, b.eta) })
	for _, w := range ws {
		total += w.weight
		if w.within {
			within += w.weight
		}
	}
	if total == 0 {
		return s
	}
	s.WithinLimit = math.Round(float64(within)/float64(total)*1000) / 1000
	s.MedianS = quantile(ws, total, 0.5)
	s.P90S = quantile(ws, total, 0.9)
	return s
}

// quantile is the weighted quantile of sorted values; an unreachable case counts as -1.
func quantile(ws []weighted, total int, q float64) float64 {
	need := int(math.Ceil(q * float64(total)))
	acc := 0
	for _, w := range ws {
		acc += w.weight
		if acc >= need {
			if math.IsInf(w.eta, 1) {
				return -1
			}
			return w.eta
		}
	}
	return -1
}

func (p *Planner) ruralDistricts(ctx context.Context) (map[string]bool, error) {
	ds, err := p.cfg.Store.ListDistricts(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the districts: %w", err)
	}
	out := map[string]bool{}
	for _, d := range ds {
		out[d.Code] = d.Rural
	}
	return out, nil
}
