package planning

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// LayerResolution is the resolution of the coverage map's cells: about 0.74 km², a few blocks.
const LayerResolution = 8

// source is a place a volunteer unit can start from: its base, or one of its vehicles on duty
// with a live position.
type source struct {
	unit     int64
	vehicle  int64 // 0: the base
	lon, lat float64
}

// fleet is the volunteer units as they stand now.
type fleet struct {
	orgs     map[int64]*liftrescue.Organization
	sources  map[int64][]source // by unit
	vehicles map[int64]int      // vehicles on duty and live, by unit
	all      []source
}

// fleet reads the volunteer units, their bases and their vehicles that could answer now.
func (p *Planner) fleet(ctx context.Context) (*fleet, error) {
	f := &fleet{orgs: map[int64]*liftrescue.Organization{}, sources: map[int64][]source{}, vehicles: map[int64]int{}}
	err := liftrescue.EachPage(ctx, func(pg liftrescue.Paging) (*liftrescue.Page[*liftrescue.Organization], error) {
		return p.cfg.Store.ListOrganizations(ctx, liftrescue.OrganizationFilter{Kind: liftrescue.OrgVolunteer, Paging: pg})
	}, func(o *liftrescue.Organization) {
		f.orgs[o.ID] = o
		if o.Lon != nil && o.Lat != nil {
			f.sources[o.ID] = append(f.sources[o.ID], source{unit: o.ID, lon: *o.Lon, lat: *o.Lat})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read the volunteer units: %w", err)
	}
	teams := map[int64]*liftrescue.Team{}
	if err := liftrescue.EachPage(ctx, func(pg liftrescue.Paging) (*liftrescue.Page[*liftrescue.Team], error) {
		return p.cfg.Store.ListTeams(ctx, liftrescue.TeamFilter{Paging: pg})
	}, func(t *liftrescue.Team) { teams[t.ID] = t }); err != nil {
		return nil, fmt.Errorf("read the teams: %w", err)
	}
	now := p.cfg.Now()
	if err := liftrescue.EachPage(ctx, func(pg liftrescue.Paging) (*liftrescue.Page[*liftrescue.Vehicle], error) {
		return p.cfg.Store.ListVehicles(ctx, liftrescue.VehicleFilter{Paging: pg})
	}, func(v *liftrescue.Vehicle) {
		t := teams[v.TeamID]
		if t == nil || f.orgs[t.OrganizationID] == nil || !v.OnDuty || !t.OnDuty || t.CertifiedStaff == 0 {
			return
		}
		st, ok := p.cfg.Index.Vehicle(v.ID)
		if !ok || p.cfg.Liveness.Status(st.Time, now) != liftrescue.StatusLive {
			return
		}
		f.vehicles[t.OrganizationID]++
		f.sources[t.OrganizationID] = append(f.sources[t.OrganizationID], source{unit: t.OrganizationID, vehicle: v.ID, lon: st.Lon, lat: st.Lat})
	}); err != nil {
		return nil, fmt.Errorf("read the vehicles: %w", err)
	}
	for _, id := range slices.Sorted(maps.Keys(f.sources)) {
		f.all = append(f.all, f.sources[id]...)
	}
	return f, nil
}

// gridSources is every place the grid's units can start from.
func (f *fleet) gridSources(g *liftrescue.Grid) []source {
	var out []source
	for _, u := range g.Units {
		out = append(out, f.sources[u]...)
	}
	return out
}

// nearest returns the source with the shortest estimated time to a position, and that time.
func nearest(eta geo.ETAModel, srcs []source, lon, lat float64) (source, time.Duration, bool) {
	var best source
	bestT := time.Duration(math.MaxInt64)
	for _, s := range srcs {
		if t := eta.ETA(s.lon, s.lat, lon, lat); t < bestT {
			best, bestT = s, t
		}
	}
	return best, bestT, len(srcs) > 0
}

// ETAStats summarises estimated tier-2 arrival times, in seconds.
type ETAStats struct {
	MedianS float64 `json:"median_s"`
	P90S    float64 `json:"p90_s"`
	WorstS  float64 `json:"worst_s"`
	// WithinLimit is the share (0 to 1) reached within the district's arrival limit.
	WithinLimit float64 `json:"within_limit"`
}

// GridCoverage is one grid's tier-2 cover.
type GridCoverage struct {
	GridName
	District  string `json:"district"`
	Elevators int    `json:"elevators"`
	// Units counts the volunteer units named; UnitsWithBase those whose base is known.
	Units         int `json:"units"`
	UnitsWithBase int `json:"units_with_base"`
	// VehiclesOnDuty counts the units' vehicles on duty with a live position now.
	VehiclesOnDuty int `json:"vehicles_on_duty"`
	// ETA is from the nearest base or vehicle of the grid's units to each of its elevators; nil
	// when the grid has no elevator or its units have no known place.
	ETA *ETAStats `json:"eta"`
}

// Coverage is a plan's tier-2 cover of the city's elevators.
type Coverage struct {
	PlanID     int64          `json:"plan_id"`
	Elevators  int            `json:"elevators"`
	Unassigned int            `json:"unassigned"` // elevators in no grid
	Grids      []GridCoverage `json:"grids"`
	// Layer holds one feature per cell of LayerResolution with elevators: the cell's hexagon,
	// its elevators and their mean and worst estimated tier-2 arrival, for the map.
	Layer  *geojson.FeatureCollection `json:"layer,omitempty"`
	TookMS float64                    `json:"took_ms"`
}

type cellAgg struct {
	n           int
	sum, worst  float64
	grid        int64
	unassigned  int
	withinLimit int
}

// Coverage estimates how quickly each grid's volunteer units reach its elevators under a plan,
// from the units' bases and their vehicles' positions now.
func (p *Planner) Coverage(ctx context.Context, id int64, withLayer bool) (*Coverage, error) {
	a, err := p.assignment(ctx, id)
	if err != nil {
		return nil, err
	}
	f, err := p.fleet(ctx)
	if err != nil {
		return nil, err
	}
	limits, err := p.limits(ctx, a)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	srcs := make([][]source, len(a.Grids))
	for i, g := range a.Grids {
		srcs[i] = f.gridSources(g)
	}
	etas := make([][]float32, len(a.Grids))
	counts := make([]int, len(a.Grids))
	cv := &Coverage{PlanID: a.PlanID(), Grids: []GridCoverage{}}
	cells := map[geo.Cell]*cellAgg{}
	p.cfg.Index.EachElevator(func(e geo.ElevatorPoint) bool {
		cv.Elevators++
		var agg *cellAgg
		if withLayer {
			c := e.Cell.Parent(LayerResolution)
			if agg = cells[c]; agg == nil {
				agg = &cellAgg{}
				cells[c] = agg
			}
		}
		i := a.indexOf(e)
		if i < 0 {
			cv.Unassigned++
			if agg != nil {
				agg.unassigned++
			}
			return true
		}
		counts[i]++
		_, t, ok := nearest(p.cfg.ETA, srcs[i], e.Lon, e.Lat)
		if !ok {
			return true
		}
		s := t.Seconds()
		etas[i] = append(etas[i], float32(s))
		if agg != nil {
			agg.n++
			agg.sum += s
			agg.worst = max(agg.worst, s)
			agg.grid = a.Grids[i].ID
			if t <= limits[i] {
				agg.withinLimit++
			}
		}
		return true
	})
	for i, g := range a.Grids {
		gc := GridCoverage{GridName: nameOf(g), District: g.District, Elevators: counts[i], Units: len(g.Units)}
		for _, u := range g.Units {
			if o := f.orgs[u]; o != nil && o.Lon != nil {
				gc.UnitsWithBase++
			}
			gc.VehiclesOnDuty += f.vehicles[u]
		}
		gc.ETA = stats(etas[i], limits[i])
		cv.Grids = append(cv.Grids, gc)
	}
	slices.SortFunc(cv.Grids, func(a, b GridCoverage) int { return cmp.Compare(a.ID, b.ID) })
	if withLayer {
		cv.Layer = layer(cells)
	}
	cv.TookMS = float64(time.Since(start).Microseconds()) / 1000
	return cv, nil
}

// limits returns each grid's arrival limit, by its district.
func (p *Planner) limits(ctx context.Context, a *Assignment) ([]time.Duration, error) {
	rural, err := p.ruralDistricts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]time.Duration, len(a.Grids))
	for i, g := range a.Grids {
		out[i] = p.cfg.Policy.ArriveLimit(g.District, rural[g.District])
	}
	return out, nil
}

// stats sorts s in place and summarises it; nil for none.
func stats(s []float32, limit time.Duration) *ETAStats {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	within, _ := slices.BinarySearch(s, float32(limit.Seconds())+0.001)
	return &ETAStats{
		MedianS:     math.Round(float64(s[len(s)/2])),
		P90S:        math.Round(float64(s[min(len(s)-1, len(s)*9/10)])),
		WorstS:      math.Round(float64(s[len(s)-1])),
		WithinLimit: math.Round(float64(within)/float64(len(s))*1000) / 1000,
	}
}

// layer draws the cells as hexagons, in cell order.
func layer(cells map[geo.Cell]*cellAgg) *geojson.FeatureCollection {
	fc := geojson.NewFeatureCollection()
	keys := slices.SortedFunc(maps.Keys(cells), func(a, b geo.Cell) int { return cmp.Compare(a, b) })
	for _, c := range keys {
		agg := cells[c]
		f := geojson.NewFeature(orb.Polygon{c.Boundary()})
		f.Properties["cell"] = c.String()
		f.Properties["elevators"] = agg.n + agg.unassigned
		f.Properties["unassigned"] = agg.unassigned
		if agg.n > 0 {
			f.Properties["eta_s"] = math.Round(agg.sum / float64(agg.n))
			f.Properties["worst_s"] = math.Round(agg.worst)
			f.Properties["within_limit"] = math.Round(float64(agg.withinLimit)/float64(agg.n)*1000) / 1000
			f.Properties["grid"] = agg.grid
		}
		fc.Append(f)
	}
	return fc
}
