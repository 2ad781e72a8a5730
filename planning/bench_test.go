package planning_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/liftrescue/liftrescue/geo/geotest"
	"github.com/liftrescue/liftrescue/planning"
	"github.com/paulmach/orb"
)

// planStore is the part of a Store a planner reads, in memory: a city of 200 grids with a
// volunteer unit (base and two vans) in each and twelve fire stations.
type planStore struct {
	liftrescue.Store // the rest is not used: calling it panics
	plans            map[int64]*liftrescue.Plan
	grids            map[int64][]*liftrescue.Grid
	orgs             []*liftrescue.Organization
	teams            []*liftrescue.Team
	vehicles         []*liftrescue.Vehicle
}

var bigCity = orb.Bound{Min: orb.Point{117.00, 34.60}, Max: orb.Point{117.66, 35.00}}

func newPlanStore(tb testing.TB, ix *geo.Index, now time.Time, grids int) *planStore {
	s := &planStore{plans: map[int64]*liftrescue.Plan{}, grids: map[int64][]*liftrescue.Grid{}}
	areas := geotest.Tiling(20, grids/20, bigCity, 60, 1)
	for i, a := range areas {
		c := a.Bound().Center()
		lon, lat := c[0], c[1]
		unit := &liftrescue.Organization{ID: int64(i + 1), Kind: liftrescue.OrgVolunteer, Name: fmt.Sprintf("救援站%d", i), District: "370402", Lon: &lon, Lat: &lat}
		s.orgs = append(s.orgs, unit)
		team := &liftrescue.Team{ID: int64(i + 1), OrganizationID: unit.ID, CertifiedStaff: 2, OnDuty: true}
		s.teams = append(s.teams, team)
		for v := 0; v < 2; v++ {
			id := int64(2*i + v + 1)
			s.vehicles = append(s.vehicles, &liftrescue.Vehicle{ID: id, TeamID: team.ID, OnDuty: true})
			ix.MoveVehicle(id, liftrescue.Fix{Lon: lon + 0.01*float64(v), Lat: lat, Time: now})
		}
	}
	for p := int64(1); p <= 2; p++ {
		s.plans[p] = &liftrescue.Plan{ID: p, Name: fmt.Sprintf("方案%d", p), Status: liftrescue.PlanDraft, UpdatedAt: now}
		for i, a := range areas {
			units := []int64{int64(i + 1), int64((i+int(p))%len(areas) + 1)}
			s.grids[p] = append(s.grids[p], &liftrescue.Grid{ID: p*1000 + int64(i), PlanID: p, Name: fmt.Sprintf("网格%d", (i+int(p)-1)%len(areas)),
				District: "370402", Area: a, Units: units, FireStation: 9999})
		}
	}
	return s
}

func (s *planStore) FindPlan(_ context.Context, id int64) (*liftrescue.Plan, error) {
	if p := s.plans[id]; p != nil {
		c := *p
		return &c, nil
	}
	return nil, liftrescue.Errorf(liftrescue.ENOTFOUND, "no plan %d", id)
}

func (s *planStore) ActivePlan(context.Context) (*liftrescue.Plan, error) {
	for _, p := range s.plans {
		if p.Status == liftrescue.PlanActive {
			c := *p
			return &c, nil
		}
	}
	return nil, liftrescue.Errorf(liftrescue.ENOTFOUND, "no active plan")
}

func (s *planStore) PublishPlan(_ context.Context, id int64, by string) (*liftrescue.Plan, error) {
	for _, p := range s.plans {
		if p.Status == liftrescue.PlanActive {
			p.Status = liftrescue.PlanDraft // so that the benchmark can publish in turn
		}
	}
	s.plans[id].Status, s.plans[id].PublishedBy = liftrescue.PlanActive, by
	c := *s.plans[id]
	return &c, nil
}

func (s *planStore) ListGrids(_ context.Context, plan int64) ([]*liftrescue.Grid, error) {
	return s.grids[plan], nil
}

func (s *planStore) ListOrganizations(_ context.Context, f liftrescue.OrganizationFilter) (*liftrescue.Page[*liftrescue.Organization], error) {
	return &liftrescue.Page[*liftrescue.Organization]{Items: s.orgs}, nil
}

func (s *planStore) ListTeams(context.Context, liftrescue.TeamFilter) (*liftrescue.Page[*liftrescue.Team], error) {
	return &liftrescue.Page[*liftrescue.Team]{Items: s.teams}, nil
}

func (s *planStore) ListVehicles(context.Context, liftrescue.VehicleFilter) (*liftrescue.Page[*liftrescue.Vehicle], error) {
	return &liftrescue.Page[*liftrescue.Vehicle]{Items: s.vehicles}, nil
}

func (s *planStore) ListDistricts(context.Context) ([]*liftrescue.District, error) {
	return []*liftrescue.District{{Code: "370402", Name: "市中区"}}, nil
}

// bigPlanner is a planner over n elevators spread over the city and two plans of 200 grids.
func bigPlanner(b *testing.B, n int) (*planning.Planner, *planStore) {
	b.Helper()
	now := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	ix, err := geo.NewIndex(geo.IndexOptions{})
	if err != nil {
		b.Fatal(err)
	}
	pts := geotest.Points(n, bigCity, 5)
	if _, err := ix.LoadElevators(func(yield func(int64, orb.Point) bool) {
		for i, p := range pts {
			if !yield(int64(i+1), p) {
				return
			}
		}
	}); err != nil {
		b.Fatal(err)
	}
	s := newPlanStore(b, ix, now, 200)
	p, err := planning.New(planning.Config{Store: s, Index: ix, Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	return p, s
}

// BenchmarkPublish200GridsOver1MElevators is the target: under 2 s, covering the draft's
// 200 grids, re-assigning a million elevators and counting those that change grid.
func BenchmarkPublish200GridsOver1MElevators(b *testing.B) {
	p, s := bigPlanner(b, 1_000_000)
	ctx := context.Background()
	if _, _, err := p.Publish(ctx, 1, "bench", true); err != nil {
		b.Fatal(err)
	}
	next := int64(2)
	b.ResetTimer()
	for b.Loop() {
		s.plans[next].UpdatedAt = s.plans[next].UpdatedAt.Add(time.Second) // a changed draft: covered anew
		_, r, err := p.Publish(ctx, next, "bench", true)
		if err != nil {
			b.Fatal(err)
		}
		if r.Elevators != 1_000_000 || r.Changed == 0 {
			b.Fatalf("report %d elevators, %d changed", r.Elevators, r.Changed)
		}
		next = 3 - next
	}
}

// BenchmarkCoverage200GridsOver1MElevators is the target: under 5 s, with the H3 layer.
func BenchmarkCoverage200GridsOver1MElevators(b *testing.B) {
	p, _ := bigPlanner(b, 1_000_000)
	ctx := context.Background()
	if _, _, err := p.Publish(ctx, 1, "bench", true); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		cv, err := p.Coverage(ctx, 1, true)
		if err != nil {
			b.Fatal(err)
		}
		if cv.Elevators != 1_000_000 || cv.Unassigned != 0 || len(cv.Layer.Features) == 0 {
			b.Fatalf("coverage of %d elevators, %d unassigned", cv.Elevators, cv.Unassigned)
		}
	}
}

func BenchmarkGridAt(b *testing.B) {
	p, _ := bigPlanner(b, 1000)
	if _, _, err := p.Publish(context.Background(), 1, "bench", true); err != nil {
		b.Fatal(err)
	}
	pts := geotest.Points(1<<16, bigCity, 6)
	i := 0
	for b.Loop() {
		q := pts[i&(len(pts)-1)]
		if p.GridAt(q[0], q[1]) == nil {
			b.Fatal("a point of the city in no grid")
		}
		i++
	}
}
