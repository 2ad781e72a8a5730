package storetest

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb"
)

// gridOrgs are the organisations that the grids of a test name.
type gridOrgs struct {
	vol1, vol2, vol3 *liftrescue.Organization // volunteer units
	fire1, fire2     *liftrescue.Organization // fire stations
	user             *liftrescue.Organization // a user unit: neither
}

// gridCity makes the districts of city, three volunteer units, two fire stations and a user unit.
func (f *fixture) gridCity(tb testing.TB) *gridOrgs {
	tb.Helper()
	f.district(tb, "370402", "市中区")
	f.district(tb, "370403", "薛城区")
	return &gridOrgs{
		vol1:  f.org(tb, "91370400VOL0000001", liftrescue.OrgVolunteer, "370402"),
		vol2:  f.org(tb, "91370400VOL0000002", liftrescue.OrgVolunteer, "370402"),
		vol3:  f.org(tb, "91370400VOL0000003", liftrescue.OrgVolunteer, "370403"),
		fire1: f.org(tb, "91370400FIRE000001", liftrescue.OrgFire, "370402"),
		fire2: f.org(tb, "91370400FIRE000002", liftrescue.OrgFire, "370403"),
		user:  f.org(tb, "91370400USER000001", liftrescue.OrgUserUnit, "370402"),
	}
}

// gridArea is a small square around lon 117.3 lat 34.8, moved east by dx: a closed ring, counter-clockwise.
func gridArea(dx float64) orb.MultiPolygon {
	return orb.MultiPolygon{square(117.3+dx, 34.8, 0.01)}
}

// plan makes a draft with the name, copying the grids of from (0: none).
func (f *fixture) plan(tb testing.TB, name string, from int64) *liftrescue.Plan {
	tb.Helper()
	p := &liftrescue.Plan{Name: name, Notes: "说明 " + name, CreatedBy: "zhang.san"}
	MustOK(tb, f.s.CreatePlan(f.ctx, p, from))
	return p
}

// newGrid is a good grid of the plan, in 370402, with the units given and the fire station.
func newGrid(plan int64, name string, fire *liftrescue.Organization, units ...*liftrescue.Organization) *liftrescue.Grid {
	g := &liftrescue.Grid{PlanID: plan, Name: name, District: "370402", Area: gridArea(0), FireStation: fire.ID, Notes: "网格 " + name}
	for _, u := range units {
		g.Units = append(g.Units, u.ID)
	}
	return g
}

// grid stores a good grid of the plan.
func (f *fixture) grid(tb testing.TB, plan int64, name string, fire *liftrescue.Organization, units ...*liftrescue.Organization) *liftrescue.Grid {
	tb.Helper()
	g := newGrid(plan, name, fire, units...)
	MustOK(tb, f.s.CreateGrid(f.ctx, g))
	return g
}

// mustSameGrid compares grids field by field, the area point by point.
func mustSameGrid(tb testing.TB, what string, got, want *liftrescue.Grid) {
	tb.Helper()
	mustJSON(tb, what, got, want)
	if !reflect.DeepEqual(got.Area, want.Area) {
		tb.Fatalf("%s: area\n got %v\nwant %v", what, got.Area, want.Area)
	}
}

func (f *fixture) findPlan(tb testing.TB, id int64) *liftrescue.Plan {
	tb.Helper()
	p, err := f.s.FindPlan(f.ctx, id)
	MustOK(tb, err)
	return p
}

func (f *fixture) listGrids(tb testing.TB, plan int64) []*liftrescue.Grid {
	tb.Helper()
	grids, err := f.s.ListGrids(f.ctx, plan)
	MustOK(tb, err)
	return grids
}

// now is the clock's time as the stores keep it.
func (f *fixture) now() time.Time { return f.clock.T.UTC().Truncate(time.Microsecond) }

func testPlans(t *testing.T, f *fixture) {
	_, err := f.s.ActivePlan(f.ctx)
	MustCode(t, err, liftrescue.ENOTFOUND)
	plans, err := f.s.ListPlans(f.ctx)
	MustOK(t, err)
	if plans == nil || len(plans) != 0 {
		t.Fatalf("ListPlans of none = %#v, want an empty list", plans)
	}

	p := &liftrescue.Plan{Name: "  2027年网格  ", Notes: "按街道划分\n第二行", CreatedBy: "zhang.san", Status: liftrescue.PlanActive, Grids: 7}
	MustOK(t, f.s.CreatePlan(f.ctx, p, 0))
	if p.ID == 0 || p.Name != "2027年网格" || p.Status != liftrescue.PlanDraft || p.BasedOn != 0 || p.Grids != 0 ||
		!p.CreatedAt.Equal(f.now()) || !p.UpdatedAt.Equal(f.now()) || p.PublishedAt != nil || p.RetiredAt != nil || p.PublishedBy != "" {
		t.Fatalf("CreatePlan left %+v, want a draft with an id, trimmed, created now", p)
	}
	mustJSON(t, "FindPlan", f.findPlan(t, p.ID), p)
	_, err = f.s.FindPlan(f.ctx, p.ID+100)
	MustCode(t, err, liftrescue.ENOTFOUND)

	// Bad plans, and a copy of a plan that does not exist, store nothing.
	for _, bad := range []struct {
		plan liftrescue.Plan
		from int64
		code string
	}{
		{liftrescue.Plan{Name: "  "}, 0, liftrescue.EINVALID},
		{liftrescue.Plan{Name: strings.Repeat("网", 101)}, 0, liftrescue.EINVALID},
		{liftrescue.Plan{Name: "x", Notes: "a\x00b"}, 0, liftrescue.EINVALID},
		{liftrescue.Plan{Name: "x", CreatedBy: "zhang\x00san"}, 0, liftrescue.EINVALID},
		{liftrescue.Plan{Name: "x"}, p.ID + 100, liftrescue.ENOTFOUND},
	} {
		err := f.s.CreatePlan(f.ctx, &bad.plan, bad.from)
		MustCode(t, err, bad.code)
		if bad.plan.ID != 0 {
			t.Errorf("a refused plan %q got id %d", bad.plan.Name, bad.plan.ID)
		}
	}

	// Newest first.
	f.clock.T = f.clock.T.Add(time.Minute)
	second := f.plan(t, "第二版", 0)
	third := f.plan(t, "第三版", 0)
	plans, err = f.s.ListPlans(f.ctx)
	MustOK(t, err)
	mustJSON(t, "ListPlans", plans, []*liftrescue.Plan{third, second, p})

	// A draft's name and notes change; nothing else does.
	f.clock.T = f.clock.T.Add(time.Hour)
	edit := *p
	edit.Name, edit.Notes, edit.Status, edit.CreatedBy, edit.BasedOn = "2027年网格(修订)", "", liftrescue.PlanActive, "li.si", third.ID
	MustOK(t, f.s.UpdatePlan(f.ctx, &edit))
	want := *p
	want.Name, want.Notes, want.UpdatedAt = "2027年网格(修订)", "", f.now()
	mustJSON(t, "UpdatePlan left", &edit, &want)
	mustJSON(t, "after UpdatePlan", f.findPlan(t, p.ID), &want)
	bad := want
	bad.Name = ""
	MustCode(t, f.s.UpdatePlan(f.ctx, &bad), liftrescue.EINVALID)
	bad = want
	bad.ID = third.ID + 100
	MustCode(t, f.s.UpdatePlan(f.ctx, &bad), liftrescue.ENOTFOUND)
	mustJSON(t, "after refused updates", f.findPlan(t, p.ID), &want)

	// A draft is deleted with its grids.
	orgs := f.gridCity(t)
	g := f.grid(t, second.ID, "东区一网格", orgs.fire1, orgs.vol1)
	MustOK(t, f.s.DeletePlan(f.ctx, second.ID))
	_, err = f.s.FindPlan(f.ctx, second.ID)
	MustCode(t, err, liftrescue.ENOTFOUND)
	_, err = f.s.FindGrid(f.ctx, g.ID)
	MustCode(t, err, liftrescue.ENOTFOUND)
	_, err = f.s.ListGrids(f.ctx, second.ID)
	MustCode(t, err, liftrescue.ENOTFOUND)
	MustCode(t, f.s.DeletePlan(f.ctx, second.ID), liftrescue.ENOTFOUND)
	plans, err = f.s.ListPlans(f.ctx)
	MustOK(t, err)
	if len(plans) != 2 || plans[0].ID != third.ID || plans[1].ID != p.ID {
		t.Fatalf("ListPlans after a delete = %+v, want the third and the first", plans)
	}
}

func testGrids(t *testing.T, f *fixture) {
	orgs := f.gridCity(t)
	p := f.plan(t, "2027年网格", 0)
	empty := f.plan(t, "空白", 0)

	// An area as a planner draws it: two polygons, the first with a hole (clockwise), vertices at
	// full precision and in the order written.
	area := orb.MultiPolygon{
		{
			{{117.30000000000001, 34.79}, {117.31234567890123, 34.790000000000006}, {117.31, 34.812345678901234}, {117.29, 34.81}, {117.30000000000001, 34.79}},
			{{117.3, 34.8}, {117.299, 34.801}, {117.301, 34.801}, {117.3, 34.8}},
		},
		square(117.35, 34.85, 0.005),
	}
	f.clock.T = f.clock.T.Add(time.Minute)
	g := &liftrescue.Grid{PlanID: p.ID, Name: " 东区一网格 ", District: "370402", Area: area,
		Units: []int64{orgs.vol3.ID, orgs.vol1.ID, orgs.vol2.ID}, FireStation: orgs.fire1.ID, Notes: "含光明路以东\n夜间由二队值守"}
	MustOK(t, f.s.CreateGrid(f.ctx, g))
	if g.ID == 0 || g.PlanID != p.ID || g.Name != "东区一网格" || !g.CreatedAt.Equal(f.now()) || !g.UpdatedAt.Equal(f.now()) {
		t.Fatalf("CreateGrid left %+v, want an id, the plan, the name trimmed, created now", g)
	}
	got, err := f.s.FindGrid(f.ctx, g.ID)
	MustOK(t, err)
	mustSameGrid(t, "FindGrid", got, g)
	if fmt.Sprint(got.Units) != fmt.Sprint([]int64{orgs.vol3.ID, orgs.vol1.ID, orgs.vol2.ID}) {
		t.Fatalf("units %v, want them in the order written", got.Units)
	}
	_, err = f.s.FindGrid(f.ctx, g.ID+100)
	MustCode(t, err, liftrescue.ENOTFOUND)
	if plan := f.findPlan(t, p.ID); plan.Grids != 1 || !plan.UpdatedAt.Equal(f.now()) || !plan.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("plan after a grid was added: %+v, want 1 grid, updated now", plan)
	}

	second := f.grid(t, p.ID, "西区网格", orgs.fire2, orgs.vol2)
	grids := f.listGrids(t, p.ID)
	if len(grids) != 2 {
		t.Fatalf("ListGrids = %d grids, want 2", len(grids))
	}
	mustSameGrid(t, "listed first", grids[0], g)
	mustSameGrid(t, "listed second", grids[1], second)
	if grids := f.listGrids(t, empty.ID); grids == nil || len(grids) != 0 {
		t.Fatalf("ListGrids of an empty plan = %#v, want an empty list", grids)
	}
	_, err = f.s.ListGrids(f.ctx, empty.ID+100)
	MustCode(t, err, liftrescue.ENOTFOUND)

	// An update replaces everything but the plan and the creation time.
	f.clock.T = f.clock.T.Add(time.Hour)
	edit := *got
	edit.PlanID = empty.ID // ignored: a grid stays in its plan
	edit.Name, edit.District, edit.Area, edit.Units, edit.FireStation, edit.Notes =
		"东区网格", "370403", gridArea(0.02), []int64{orgs.vol2.ID, orgs.vol3.ID}, orgs.fire2.ID, ""
	MustOK(t, f.s.UpdateGrid(f.ctx, &edit))
	want := edit
	want.PlanID, want.CreatedAt, want.UpdatedAt = p.ID, g.CreatedAt, f.now()
	mustSameGrid(t, "UpdateGrid left", &edit, &want)
	got, err = f.s.FindGrid(f.ctx, g.ID)
	MustOK(t, err)
	mustSameGrid(t, "after UpdateGrid", got, &want)
	if grids := f.listGrids(t, empty.ID); len(grids) != 0 {
		t.Fatalf("an update moved a grid to plan %d", empty.ID)
	}
	if plan := f.findPlan(t, p.ID); plan.Grids != 2 || !plan.UpdatedAt.Equal(f.now()) {
		t.Fatalf("plan after a grid changed: %+v, want 2 grids, updated now", plan)
	}
	missing := want
	missing.ID = second.ID + 100
	MustCode(t, f.s.UpdateGrid(f.ctx, &missing), liftrescue.ENOTFOUND)

	// A delete takes the grid and its units, and moves the plan's time.
	f.clock.T = f.clock.T.Add(time.Hour)
	MustOK(t, f.s.DeleteGrid(f.ctx, second.ID))
	_, err = f.s.FindGrid(f.ctx, second.ID)
	MustCode(t, err, liftrescue.ENOTFOUND)
	MustCode(t, f.s.DeleteGrid(f.ctx, second.ID), liftrescue.ENOTFOUND)
	if plan := f.findPlan(t, p.ID); plan.Grids != 1 || !plan.UpdatedAt.Equal(f.now()) {
		t.Fatalf("plan after a grid was deleted: %+v, want 1 grid, updated now", plan)
	}
	grids = f.listGrids(t, p.ID)
	if len(grids) != 1 {
		t.Fatalf("ListGrids after a delete = %d grids, want 1", len(grids))
	}
	mustSameGrid(t, "the grid left", grids[0], &want)
}

func testPlanCopy(t *testing.T, f *fixture) {
	orgs := f.gridCity(t)
	from := f.plan(t, "2026年网格", 0)
	a := f.grid(t, from.ID, "东区", orgs.fire1, orgs.vol2, orgs.vol1)
	b := newGrid(from.ID, "西区", orgs.fire2, orgs.vol3)
	b.Area, b.District = gridArea(0.05), "370403"
	MustOK(t, f.s.CreateGrid(f.ctx, b))
	c := f.grid(t, from.ID, "北区", orgs.fire1, orgs.vol1, orgs.vol3, orgs.vol2)
	MustOK(t, f.s.DeleteGrid(f.ctx, a.ID)) // the copies follow the grids' order, not their names'
	a = f.grid(t, from.ID, "东区", orgs.fire1, orgs.vol2, orgs.vol1)
	originals := f.listGrids(t, from.ID)

	f.clock.T = f.clock.T.Add(time.Hour)
	cp := f.plan(t, "2027年网格", from.ID)
	if cp.BasedOn != from.ID || cp.Grids != 3 || cp.Status != liftrescue.PlanDraft || !cp.CreatedAt.Equal(f.now()) {
		t.Fatalf("copy = %+v, want a draft based on %d with 3 grids", cp, from.ID)
	}
	mustJSON(t, "FindPlan of the copy", f.findPlan(t, cp.ID), cp)
	copies := f.listGrids(t, cp.ID)
	if len(copies) != 3 {
		t.Fatalf("the copy has %d grids, want 3", len(copies))
	}
	for i, g := range copies {
		o := originals[i]
		if g.ID <= a.ID || g.PlanID != cp.ID || !g.CreatedAt.Equal(f.now()) || !g.UpdatedAt.Equal(f.now()) {
			t.Fatalf("copy %d = %+v, want a new id in plan %d, created now", i, g, cp.ID)
		}
		want := *o
		want.ID, want.PlanID, want.CreatedAt, want.UpdatedAt = g.ID, cp.ID, g.CreatedAt, g.UpdatedAt
		mustSameGrid(t, fmt.Sprintf("copy of %s", o.Name), g, &want)
	}
	if copies[0].Name != "西区" || copies[1].Name != "北区" || copies[2].Name != "东区" {
		t.Fatalf("copies in the order %s %s %s, want the originals' order", copies[0].Name, copies[1].Name, copies[2].Name)
	}

	// The copy and the original are apart: a change to one leaves the other.
	edit := *copies[1]
	edit.Units = []int64{orgs.vol2.ID}
	MustOK(t, f.s.UpdateGrid(f.ctx, &edit))
	MustOK(t, f.s.DeleteGrid(f.ctx, copies[0].ID))
	got, err := f.s.FindGrid(f.ctx, c.ID)
	MustOK(t, err)
	mustSameGrid(t, "the original after its copy changed", got, c)
	mustJSON(t, "the original plan's grids", f.listGrids(t, from.ID), originals)

	// A copy of an empty plan is empty; a copy of a copy names the copy.
	empty := f.plan(t, "空白", 0)
	if e := f.plan(t, "空白副本", empty.ID); e.Grids != 0 || e.BasedOn != empty.ID || len(f.listGrids(t, e.ID)) != 0 {
		t.Fatalf("copy of an empty plan = %+v", e)
	}
	if cc := f.plan(t, "副本的副本", cp.ID); cc.Grids != 2 || cc.BasedOn != cp.ID {
		t.Fatalf("copy of a copy = %+v, want 2 grids based on %d", cc, cp.ID)
	}
}

func testPlanPublish(t *testing.T, f *fixture) {
	orgs := f.gridCity(t)
	first := f.plan(t, "2026年网格", 0)
	g := f.grid(t, first.ID, "东区", orgs.fire1, orgs.vol1)
	empty := f.plan(t, "空白", 0)

	_, err := f.s.PublishPlan(f.ctx, empty.ID, "zhang.san")
	MustCode(t, err, liftrescue.EINVALID)
	_, err = f.s.PublishPlan(f.ctx, empty.ID+100, "zhang.san")
	MustCode(t, err, liftrescue.ENOTFOUND)
	_, err = f.s.PublishPlan(f.ctx, first.ID, "zhang\x00san")
	MustCode(t, err, liftrescue.EINVALID)
	if p := f.findPlan(t, empty.ID); p.Status != liftrescue.PlanDraft {
		t.Fatalf("a refused publication left the plan %s", p.Status)
	}

	f.clock.T = f.clock.T.Add(time.Hour)
	published := f.now()
	p, err := f.s.PublishPlan(f.ctx, first.ID, "zhang.san")
	MustOK(t, err)
	if p.Status != liftrescue.PlanActive || p.PublishedBy != "zhang.san" || p.PublishedAt == nil || !p.PublishedAt.Equal(published) ||
		!p.UpdatedAt.Equal(published) || p.RetiredAt != nil || p.Grids != 1 || !p.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("PublishPlan = %+v, want it active, published by zhang.san now", p)
	}
	mustJSON(t, "FindPlan after publishing", f.findPlan(t, first.ID), p)
	active, err := f.s.ActivePlan(f.ctx)
	MustOK(t, err)
	mustJSON(t, "ActivePlan", active, p)

	_, err = f.s.PublishPlan(f.ctx, first.ID, "li.si")
	MustCode(t, err, liftrescue.ECONFLICT)
	if want := fmt.Sprintf("plan %d is active: only a draft changes", first.ID); liftrescue.ErrorMessage(err) != want {
		t.Fatalf("publishing again: %q, want %q", liftrescue.ErrorMessage(err), want)
	}

	// The next publication retires the plan in force.
	second := f.plan(t, "2027年网格", first.ID)
	f.clock.T = f.clock.T.Add(time.Hour)
	retired := f.now()
	p2, err := f.s.PublishPlan(f.ctx, second.ID, "li.si")
	MustOK(t, err)
	if p2.Status != liftrescue.PlanActive || p2.PublishedBy != "li.si" || !p2.PublishedAt.Equal(retired) {
		t.Fatalf("second publication = %+v", p2)
	}
	old := f.findPlan(t, first.ID)
	if old.Status != liftrescue.PlanRetired || old.RetiredAt == nil || !old.RetiredAt.Equal(retired) || !old.PublishedAt.Equal(published) ||
		old.PublishedBy != "zhang.san" || !old.UpdatedAt.Equal(retired) {
		t.Fatalf("the plan replaced = %+v, want it retired now, its publication kept", old)
	}
	active, err = f.s.ActivePlan(f.ctx)
	MustOK(t, err)
	if active.ID != second.ID {
		t.Fatalf("ActivePlan = %d, want %d", active.ID, second.ID)
	}
	plans, err := f.s.ListPlans(f.ctx)
	MustOK(t, err)
	var statuses []string
	for _, p := range plans {
		statuses = append(statuses, fmt.Sprintf("%d:%s", p.ID, p.Status))
	}
	if got, want := strings.Join(statuses, " "), fmt.Sprintf("%d:active %d:draft %d:retired", second.ID, empty.ID, first.ID); got != want {
		t.Fatalf("ListPlans = %s, want %s", got, want)
	}

	// Only a draft changes, nor do its grids.
	copied := f.listGrids(t, second.ID)[0]
	for _, tt := range []struct {
		plan  int64
		grid  *liftrescue.Grid
		state string
	}{{first.ID, g, "retired"}, {second.ID, copied, "active"}} {
		want := fmt.Sprintf("plan %d is %s: only a draft changes", tt.plan, tt.state)
		before := f.findPlan(t, tt.plan)
		edit := *before
		edit.Name = "改名"
		for name, err := range map[string]error{
			"UpdatePlan": f.s.UpdatePlan(f.ctx, &edit),
			"DeletePlan": f.s.DeletePlan(f.ctx, tt.plan),
			"CreateGrid": f.s.CreateGrid(f.ctx, newGrid(tt.plan, "新网格", orgs.fire2, orgs.vol2)),
			"UpdateGrid": f.s.UpdateGrid(f.ctx, &liftrescue.Grid{ID: tt.grid.ID, Name: "改名", District: "370402", Area: gridArea(0),
				Units: []int64{orgs.vol2.ID}, FireStation: orgs.fire2.ID}),
			"DeleteGrid": f.s.DeleteGrid(f.ctx, tt.grid.ID),
		} {
			MustCode(t, err, liftrescue.ECONFLICT)
			if liftrescue.ErrorMessage(err) != want {
				t.Errorf("%s of a %s plan: %q, want %q", name, tt.state, liftrescue.ErrorMessage(err), want)
			}
		}
		mustJSON(t, "a "+tt.state+" plan after refused changes", f.findPlan(t, tt.plan), before)
		grids := f.listGrids(t, tt.plan)
		if len(grids) != 1 {
			t.Fatalf("a %s plan has %d grids after refused changes, want 1", tt.state, len(grids))
		}
		mustSameGrid(t, "a grid of a "+tt.state+" plan", grids[0], tt.grid)
	}
}

// Drafts published at once from many goroutines: each is published once at most, and exactly one
// plan is active at the end, whichever order they came in.
func testPlanPublishConcurrent(t *testing.T, f *fixture) {
	orgs := f.gridCity(t)
	const drafts, callers = 3, 12
	var plans []*liftrescue.Plan
	for i := range drafts {
		p := f.plan(t, fmt.Sprintf("方案%d", i), 0)
		f.grid(t, p.ID, "东区", orgs.fire1, orgs.vol1)
		plans = append(plans, p)
	}
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			<-start
			_, errs[i] = f.s.PublishPlan(f.ctx, plans[i%drafts].ID, fmt.Sprintf("user%d", i))
		})
	}
	close(start)
	wg.Wait()
	published := map[int64]int{}
	for i, err := range errs {
		switch liftrescue.ErrorCode(err) {
		case "":
			published[plans[i%drafts].ID]++
		case liftrescue.ECONFLICT:
		default:
			t.Errorf("PublishPlan: %v, want success or a conflict", err)
		}
	}
	if len(published) == 0 {
		t.Fatal("no publication succeeded")
	}
	for id, n := range published {
		if n > 1 {
			t.Errorf("plan %d was published %d times", id, n)
		}
	}
	list, err := f.s.ListPlans(f.ctx)
	MustOK(t, err)
	var active []int64
	for _, p := range list {
		want := liftrescue.PlanDraft
		if published[p.ID] > 0 {
			want = liftrescue.PlanRetired
		}
		if p.Status == liftrescue.PlanActive {
			active = append(active, p.ID)
			continue
		}
		if p.Status != want {
			t.Errorf("plan %d is %s, want %s", p.ID, p.Status, want)
		}
	}
	if len(active) != 1 || published[active[0]] != 1 {
		t.Fatalf("active plans %v after publications of %v, want exactly one of those published", active, published)
	}
	got, err := f.s.ActivePlan(f.ctx)
	MustOK(t, err)
	if got.ID != active[0] {
		t.Fatalf("ActivePlan = %d, want %d", got.ID, active[0])
	}
}

func testGridChecks(t *testing.T, f *fixture) {
	orgs := f.gridCity(t)
	p := f.plan(t, "2027年网格", 0)
	stored := f.grid(t, p.ID, "东区", orgs.fire1, orgs.vol1, orgs.vol2)
	other := f.grid(t, p.ID, "西区", orgs.fire2, orgs.vol3)
	plan := f.findPlan(t, p.ID)
	const missing = 424242
	fireIsNoUnit := liftrescue.UnitKindProblem(true, liftrescue.OrgFire, liftrescue.OrgVolunteer)
	userIsNoUnit := liftrescue.UnitKindProblem(true, liftrescue.OrgUserUnit, liftrescue.OrgVolunteer)
	gone := liftrescue.UnitKindProblem(false, "", liftrescue.OrgVolunteer)

	for _, tt := range []struct {
		name    string
		edit    func(g *liftrescue.Grid)
		code    string
		details []liftrescue.Detail // checked when given
		field   string              // else the first detail's field
	}{
		{"a missing unit", func(g *liftrescue.Grid) { g.Units = []int64{orgs.vol1.ID, missing} }, liftrescue.EINVALID,
			[]liftrescue.Detail{{Field: "units[1]", Value: fmt.Sprint(missing), Reason: gone}}, ""},
		{"a fire station as a unit", func(g *liftrescue.Grid) { g.Units = []int64{orgs.fire2.ID, orgs.vol2.ID} }, liftrescue.EINVALID,
			[]liftrescue.Detail{{Field: "units[0]", Value: fmt.Sprint(orgs.fire2.ID), Reason: fireIsNoUnit}}, ""},
		{"every bad unit", func(g *liftrescue.Grid) { g.Units = []int64{orgs.user.ID, orgs.vol1.ID, missing, orgs.fire1.ID} }, liftrescue.EINVALID,
			[]liftrescue.Detail{
				{Field: "units[0]", Value: fmt.Sprint(orgs.user.ID), Reason: userIsNoUnit},
				{Field: "units[2]", Value: fmt.Sprint(missing), Reason: gone},
				{Field: "units[3]", Value: fmt.Sprint(orgs.fire1.ID), Reason: fireIsNoUnit},
			}, ""},
		{"a missing fire station", func(g *liftrescue.Grid) { g.FireStation = missing }, liftrescue.EINVALID,
			[]liftrescue.Detail{{Field: "fire_station", Value: fmt.Sprint(missing), Reason: liftrescue.UnitKindProblem(false, "", liftrescue.OrgFire)}}, ""},
		{"a volunteer unit as the fire station", func(g *liftrescue.Grid) { g.FireStation = orgs.vol3.ID }, liftrescue.EINVALID,
			[]liftrescue.Detail{{Field: "fire_station", Value: fmt.Sprint(orgs.vol3.ID),
				Reason: liftrescue.UnitKindProblem(true, liftrescue.OrgVolunteer, liftrescue.OrgFire)}}, ""},
		{"an unknown district", func(g *liftrescue.Grid) { g.District = "370499" }, liftrescue.EINVALID, nil, "district"},
		{"a name taken in the plan", func(g *liftrescue.Grid) { g.Name = " 西区 " }, liftrescue.ECONFLICT,
			[]liftrescue.Detail{{Field: "name", Value: "西区", Reason: fmt.Sprintf("already used by grid %d", other.ID)}}, ""},
		{"no units", func(g *liftrescue.Grid) { g.Units = nil }, liftrescue.EINVALID, nil, "units"},
		{"a unit twice", func(g *liftrescue.Grid) { g.Units = []int64{orgs.vol1.ID, orgs.vol1.ID} }, liftrescue.EINVALID, nil, "units[1]"},
		{"no area", func(g *liftrescue.Grid) { g.Area = nil }, liftrescue.EINVALID, nil, "geometry"},
		{"no name", func(g *liftrescue.Grid) { g.Name = "" }, liftrescue.EINVALID, nil, "name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, write := range []string{"create", "update"} {
				g := *stored
				g.Units = append([]int64(nil), stored.Units...)
				if write == "create" {
					g = *newGrid(p.ID, "北区", orgs.fire1, orgs.vol1)
				}
				tt.edit(&g)
				before := g
				var err error
				if write == "create" {
					err = f.s.CreateGrid(f.ctx, &g)
				} else {
					err = f.s.UpdateGrid(f.ctx, &g)
				}
				MustCode(t, err, tt.code)
				d := liftrescue.ErrorDetails(err)
				if tt.details != nil {
					if !reflect.DeepEqual(d, tt.details) {
						t.Errorf("%s: details %+v, want %+v", write, d, tt.details)
					}
				} else if len(d) == 0 || d[0].Field != tt.field {
					t.Errorf("%s: details %+v, want field %s", write, d, tt.field)
				}
				if g.ID != before.ID || !g.CreatedAt.Equal(before.CreatedAt) || g.PlanID != before.PlanID {
					t.Errorf("%s: a refused write changed the grid given: %+v", write, g)
				}
			}
			// Nothing was written.
			grids := f.listGrids(t, p.ID)
			if len(grids) != 2 {
				t.Fatalf("%d grids after refused writes, want 2", len(grids))
			}
			mustSameGrid(t, "after refused writes", grids[0], stored)
			mustJSON(t, "the plan after refused writes", f.findPlan(t, p.ID), plan)
		})
	}

	// A missing plan is not found; the name of a grid of another plan is free.
	MustCode(t, f.s.CreateGrid(f.ctx, newGrid(p.ID+100, "北区", orgs.fire1, orgs.vol1)), liftrescue.ENOTFOUND)
	next := f.plan(t, "2028年网格", 0)
	f.grid(t, next.ID, "东区", orgs.fire1, orgs.vol1)
	err := f.s.CreateGrid(f.ctx, newGrid(p.ID, "东区", orgs.fire1, orgs.vol1))
	if want := fmt.Sprintf("name 东区 is already used by grid %d", stored.ID); liftrescue.ErrorMessage(err) != want {
		t.Fatalf("taken name: %q, want %q", liftrescue.ErrorMessage(err), want)
	}
	// A grid keeps its own name.
	same := *stored
	same.Notes = "新说明"
	MustOK(t, f.s.UpdateGrid(f.ctx, &same))
}

// An organisation that a grid of a draft or of the active plan names cannot go, nor stop being
// what the grid needs; once only retired plans name it, it can.
func testGridOrganizations(t *testing.T, f *fixture) {
	orgs := f.gridCity(t)
	p := f.plan(t, "2026年网格", 0)
	g := f.grid(t, p.ID, "东区", orgs.fire1, orgs.vol2, orgs.vol1)
	f.grid(t, p.ID, "西区", orgs.fire1, orgs.vol1)

	kind := func(o *liftrescue.Organization, k liftrescue.OrgKind) error {
		c := *o
		c.Kind = k
		return f.s.UpdateOrganization(f.ctx, &c)
	}
	mustHeld := func(state string) {
		t.Helper()
		for what, err := range map[string]error{
			"delete of a unit":                   f.s.DeleteOrganization(f.ctx, orgs.vol1.ID),
			"delete of a fire station":           f.s.DeleteOrganization(f.ctx, orgs.fire1.ID),
			"a unit turned fire station":         kind(orgs.vol1, liftrescue.OrgFire),
			"a unit turned user unit":            kind(orgs.vol2, liftrescue.OrgUserUnit),
			"a fire station turned volunteer":    kind(orgs.fire1, liftrescue.OrgVolunteer),
			"a fire station turned regulator":    kind(orgs.fire1, liftrescue.OrgRegulator),
			"delete of the second unit of grids": f.s.DeleteOrganization(f.ctx, orgs.vol2.ID),
		} {
			MustCode(t, err, liftrescue.ECONFLICT)
			if msg := liftrescue.ErrorMessage(err); !strings.Contains(msg, fmt.Sprintf("grid %d", g.ID)) || !strings.Contains(msg, "东区") {
				t.Errorf("%s (%s plan): %q does not name grid %d 东区", what, state, msg, g.ID)
			}
		}
		for _, o := range []*liftrescue.Organization{orgs.vol1, orgs.vol2, orgs.fire1} {
			got, err := f.s.FindOrganization(f.ctx, o.ID)
			MustOK(t, err)
			if got.Kind != o.Kind {
				t.Fatalf("organization %d is a %s after refused changes, want a %s", o.ID, got.Kind, o.Kind)
			}
		}
	}
	mustHeld("draft")
	err := f.s.DeleteOrganization(f.ctx, orgs.vol1.ID)
	if want := fmt.Sprintf("organization %d is a unit of grid %d \"东区\" in plan %d (and of 1 more grid), so it cannot be deleted",
		orgs.vol1.ID, g.ID, p.ID); liftrescue.ErrorMessage(err) != want {
		t.Errorf("message %q, want %q", liftrescue.ErrorMessage(err), want)
	}

	// Other changes are fine, and so is an organisation that no grid names.
	renamed := *orgs.vol1
	renamed.Name = "改名救援队"
	MustOK(t, f.s.UpdateOrganization(f.ctx, &renamed))
	MustOK(t, kind(orgs.vol3, liftrescue.OrgFire))
	MustOK(t, f.s.DeleteOrganization(f.ctx, orgs.fire2.ID))

	_, err = f.s.PublishPlan(f.ctx, p.ID, "zhang.san")
	MustOK(t, err)
	mustHeld("active")

	// Once another plan is in force, the retired one holds nobody back.
	fire3 := f.org(t, "91370400FIRE000003", liftrescue.OrgFire, "370402")
	vol4 := f.org(t, "91370400VOL0000004", liftrescue.OrgVolunteer, "370402")
	next := f.plan(t, "2027年网格", 0)
	f.grid(t, next.ID, "全市", fire3, vol4)
	_, err = f.s.PublishPlan(f.ctx, next.ID, "zhang.san")
	MustOK(t, err)
	MustOK(t, kind(orgs.fire1, liftrescue.OrgVolunteer))
	MustOK(t, kind(orgs.vol2, liftrescue.OrgUserUnit))
	MustOK(t, f.s.DeleteOrganization(f.ctx, orgs.vol1.ID))

	// The retired plan still names them as it did, but a draft copied from it would name what is
	// gone or no longer fits: the copy is refused whole.
	grids := f.listGrids(t, p.ID)
	mustSameGrid(t, "a grid of the retired plan", grids[0], g)
	before, err := f.s.ListPlans(f.ctx)
	MustOK(t, err)
	err = f.s.CreatePlan(f.ctx, &liftrescue.Plan{Name: "旧方案副本"}, p.ID)
	MustCode(t, err, liftrescue.EINVALID)
	var fields []string
	for _, d := range liftrescue.ErrorDetails(err) {
		fields = append(fields, d.Field+"="+d.Value)
	}
	want := fmt.Sprintf("units[0]=%d units[1]=%d fire_station=%d units[0]=%d fire_station=%d",
		orgs.vol2.ID, orgs.vol1.ID, orgs.fire1.ID, orgs.vol1.ID, orgs.fire1.ID)
	if got := strings.Join(fields, " "); got != want {
		t.Errorf("copy details %s, want %s", got, want)
	}
	after, err := f.s.ListPlans(f.ctx)
	MustOK(t, err)
	if len(after) != len(before) {
		t.Fatalf("%d plans after a refused copy, want %d", len(after), len(before))
	}
	// A copy of the plan in force is fine.
	if cp := f.plan(t, "新方案", next.ID); cp.Grids != 1 {
		t.Fatalf("copy of the active plan = %+v", cp)
	}
}

func testGridIDsNeverReused(t *testing.T, f *fixture) {
	orgs := f.gridCity(t)
	p := f.plan(t, "2027年网格", 0)
	g := f.grid(t, p.ID, "东区", orgs.fire1, orgs.vol1)
	MustOK(t, f.s.DeleteGrid(f.ctx, g.ID))
	again := f.grid(t, p.ID, "东区", orgs.fire1, orgs.vol1)
	if again.ID <= g.ID {
		t.Errorf("grid created after deleting %d got id %d, want a greater one", g.ID, again.ID)
	}
	MustOK(t, f.s.DeletePlan(f.ctx, p.ID))
	p2 := f.plan(t, "2027年网格", 0)
	if p2.ID <= p.ID {
		t.Errorf("plan created after deleting %d got id %d, want a greater one", p.ID, p2.ID)
	}
	g2 := f.grid(t, p2.ID, "东区", orgs.fire1, orgs.vol1)
	if g2.ID <= again.ID {
		t.Errorf("grid created after deleting its plan got id %d, want one greater than %d", g2.ID, again.ID)
	}
}
