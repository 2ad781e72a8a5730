package planning_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/liftrescue/liftrescue/planning"
	"github.com/paulmach/orb"
)

func box(minLon, minLat, maxLon, maxLat float64) orb.MultiPolygon {
	return orb.MultiPolygon{{{{minLon, minLat}, {maxLon, minLat}, {maxLon, maxLat}, {minLon, maxLat}, {minLon, minLat}}}}
}

func TestTheSmallerGridHoldsAnOverlapAndTheReportSaysSo(t *testing.T) {
	now := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	ix, err := geo.NewIndex(geo.IndexOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Elevator 1 in the hospital campus, 2 elsewhere in the district's grid, 3 outside both.
	for id, p := range map[int64][2]float64{1: {117.305, 34.805}, 2: {117.35, 34.85}, 3: {117.50, 34.95}} {
		if err := ix.SetElevator(id, p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	s := &planStore{plans: map[int64]*liftrescue.Plan{1: {ID: 1, Name: "草案", Status: liftrescue.PlanDraft, UpdatedAt: now}},
		grids: map[int64][]*liftrescue.Grid{1: {
			{ID: 10, PlanID: 1, Name: "市中区第1网格", District: "370402", Area: box(117.30, 34.80, 117.40, 34.90), Units: []int64{1}, FireStation: 9},
			{ID: 11, PlanID: 1, Name: "市立医院", District: "370402", Area: box(117.30, 34.80, 117.31, 34.81), Units: []int64{2}, FireStation: 9},
		}}}
	p, err := planning.New(planning.Config{Store: s, Index: ix, Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := p.Check(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Overlaps) != 1 || r.Gaps.Elevators != 1 || r.Gaps.Sample[0].ID != 3 || !r.NeedsConfirmation ||
		r.PerGrid[0].ID != 10 || r.PerGrid[0].Elevators != 1 || r.PerGrid[1].Elevators != 1 {
		t.Fatalf("report = %+v", r)
	}
	if a := r.Overlaps[0].AreaM2; a < 0.8e6 || a > 1.2e6 {
		t.Errorf("the overlap is the campus, about 1 km²: %.0f m²", a)
	}
	if _, _, err := p.Publish(ctx, 1, "zhang", false); liftrescue.ErrorCode(err) != liftrescue.ECONFLICT {
		t.Fatalf("unconfirmed publish: %v", err)
	}
	if p.GridAt(117.305, 34.805) != nil {
		t.Fatal("nothing is in force before the publication")
	}
	if _, _, err := p.Publish(ctx, 1, "zhang", true); err != nil {
		t.Fatal(err)
	}
	if g := p.GridAt(117.305, 34.805); g == nil || g.ID != 11 {
		t.Errorf("in the campus: %+v, want the hospital's grid", g)
	}
	if g := p.GridAt(117.35, 34.85); g == nil || g.ID != 10 {
		t.Errorf("elsewhere: %+v, want the district's grid", g)
	}
	if g := p.GridAt(117.50, 34.95); g != nil {
		t.Errorf("outside: %+v", g)
	}
}
