package demo

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// memStore is the part of a Store that Seed and Seeded use, kept in memory with the checks a real
// store makes: validation, references by code and id (a grid's units must be volunteer units, its
// fire station a fire station), unique codes, plates and device ids, only drafts changing. It
// lets the package test Seed before a real store exists; seed_test.go runs it against SQLite.
type memStore struct {
	liftrescue.Store // the rest is not implemented: calling it panics

	districts []*liftrescue.District
	orgs      []liftrescue.Organization
	orgByCode map[string]int // index in orgs
	teams     []liftrescue.Team
	vehicles  []liftrescue.Vehicle
	elevators []liftrescue.Elevator
	// imports records the rows of each ImportElevators call.
	imports []int
	taken   map[string]bool   // rescue and equipment codes, plates and device ids
	plans   []liftrescue.Plan // by id − 1
	grids   []liftrescue.Grid // by id − 1
}

// memNow is the memStore's clock, which never moves.
var memNow = time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)

func newMemStore() *memStore {
	return &memStore{orgByCode: map[string]int{}, taken: map[string]bool{}}
}

func (m *memStore) ListDistricts(context.Context) ([]*liftrescue.District, error) {
	return slices.Clone(m.districts), nil
}

func (m *memStore) UpsertDistrict(_ context.Context, d *liftrescue.District) error {
	if err := d.Validate(); err != nil {
		return err
	}
	m.districts = slices.DeleteFunc(m.districts, func(o *liftrescue.District) bool { return o.Code == d.Code })
	m.districts = append(m.districts, d)
	return nil
}

func (m *memStore) ImportOrganizations(_ context.Context, rows []liftrescue.OrganizationRow, opt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
	if opt.Partial || opt.DryRun || opt.Columns != nil {
		return nil, liftrescue.Errorf(liftrescue.EINVALID, "want an all-or-nothing import")
	}
	for _, row := range rows {
		o := row.Org
		if err := o.Validate(); err != nil {
			return nil, err
		}
		if !m.hasDistrict(o.District) {
			return nil, liftrescue.Invalid("district", "unknown district "+o.District)
		}
		o.ID = int64(len(m.orgs) + 1)
		if _, ok := m.orgByCode[o.Code]; !ok { // the first with a code is the one found
			m.orgByCode[o.Code] = len(m.orgs)
		}
		m.orgs = append(m.orgs, o)
	}
	return &liftrescue.ImportResult{Rows: len(rows), Created: len(rows)}, nil
}

func (m *memStore) FindOrganizationByCode(_ context.Context, code string) (*liftrescue.Organization, error) {
	if i, ok := m.orgByCode[code]; ok {
		o := m.orgs[i]
		return &o, nil
	}
	return nil, liftrescue.Errorf(liftrescue.ENOTFOUND, "no organisation %s", code)
}

func (m *memStore) CreateTeam(_ context.Context, t *liftrescue.Team) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if t.OrganizationID > int64(len(m.orgs)) {
		return liftrescue.Invalid("organization_id", "no such organisation")
	}
	t.ID = int64(len(m.teams) + 1)
	m.teams = append(m.teams, *t)
	return nil
}

func (m *memStore) CreateVehicle(_ context.Context, v *liftrescue.Vehicle) error {
	if err := v.Validate(); err != nil {
		return err
	}
	if v.TeamID > int64(len(m.teams)) {
		return liftrescue.Invalid("team_id", "no such team")
	}
	if err := m.take("plate "+v.Plate, "device "+v.DeviceID); err != nil {
		return err
	}
	v.ID = int64(len(m.vehicles) + 1)
	m.vehicles = append(m.vehicles, *v)
	return nil
}

func (m *memStore) ImportElevators(ctx context.Context, rows []liftrescue.ElevatorRow, opt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
	if opt.Partial || opt.DryRun || opt.Columns != nil {
		return nil, liftrescue.Errorf(liftrescue.EINVALID, "want an all-or-nothing import")
	}
	m.imports = append(m.imports, len(rows))
	for _, row := range rows {
		e := row.Elevator
		for _, unit := range []struct {
			code string
			kind liftrescue.OrgKind
			id   *int64
		}{
			{row.UserUnitCode, liftrescue.OrgUserUnit, &e.UserUnitID},
			{row.MaintenanceUnitCode, liftrescue.OrgMaintenance, &e.MaintenanceUnitID},
		} {
			o, err := m.FindOrganizationByCode(ctx, unit.code)
			if err != nil || o.Kind != unit.kind {
				return nil, liftrescue.Invalid("unit", unit.code+" is not a "+string(unit.kind))
			}
			*unit.id = o.ID
		}
		if err := e.Validate(); err != nil {
			return nil, err
		}
		if !m.hasDistrict(e.District) {
			return nil, liftrescue.Invalid("district", "unknown district "+e.District)
		}
		if err := m.take("rescue "+e.RescueCode, "equipment "+e.EquipmentCode); err != nil {
			return nil, err
		}
		m.elevators = append(m.elevators, e)
	}
	return &liftrescue.ImportResult{Rows: len(rows), Created: len(rows)}, nil
}

func (m *memStore) CreatePlan(_ context.Context, p *liftrescue.Plan, from int64) error {
	if err := p.Validate(); err != nil {
		return err
	}
	var copied []liftrescue.Grid
	if from != 0 {
		if _, err := m.plan(from); err != nil {
			return err
		}
		for _, g := range m.grids {
			if g.PlanID == from {
				copied = append(copied, g)
			}
		}
	}
	p.ID, p.Status, p.BasedOn, p.Grids = int64(len(m.plans)+1), liftrescue.PlanDraft, from, 0
	p.CreatedAt, p.UpdatedAt, p.PublishedBy, p.PublishedAt, p.RetiredAt = memNow, memNow, "", nil, nil
	m.plans = append(m.plans, *p)
	for _, g := range copied {
		g.PlanID = p.ID
		if err := m.CreateGrid(context.Background(), &g); err != nil {
			return err
		}
	}
	*p = m.plans[p.ID-1]
	return nil
}

func (m *memStore) CreateGrid(_ context.Context, g *liftrescue.Grid) error {
	p, err := m.plan(g.PlanID)
	if err != nil {
		return err
	}
	if p.Status != liftrescue.PlanDraft {
		return liftrescue.Errorf(liftrescue.ECONFLICT, "plan %d is %s, not a draft", p.ID, p.Status)
	}
	if err := g.Validate(); err != nil {
		return err
	}
	if slices.ContainsFunc(m.grids, func(o liftrescue.Grid) bool { return o.PlanID == g.PlanID && o.Name == g.Name }) {
		return liftrescue.Errorf(liftrescue.ECONFLICT, "plan %d has a grid named %s", p.ID, g.Name)
	}
	if !m.hasDistrict(g.District) {
		return liftrescue.Invalid("district", "unknown district "+g.District)
	}
	if p.Grids >= liftrescue.MaxPlanGrids {
		return liftrescue.Invalid("plan_id", "the plan is full")
	}
	kind := func(id int64) (liftrescue.OrgKind, bool) {
		if id < 1 || id > int64(len(m.orgs)) {
			return "", false
		}
		return m.orgs[id-1].Kind, true
	}
	for i, id := range g.Units {
		k, ok := kind(id)
		if why := liftrescue.UnitKindProblem(ok, k, liftrescue.OrgVolunteer); why != "" {
			return liftrescue.Invalid(fmt.Sprintf("units[%d]", i), why)
		}
	}
	k, ok := kind(g.FireStation)
	if why := liftrescue.UnitKindProblem(ok, k, liftrescue.OrgFire); why != "" {
		return liftrescue.Invalid("fire_station", why)
	}
	g.ID, g.CreatedAt, g.UpdatedAt = int64(len(m.grids)+1), memNow, memNow
	stored := *g
	stored.Area, stored.Units = g.Area.Clone(), slices.Clone(g.Units)
	m.grids = append(m.grids, stored)
	p.Grids++
	p.UpdatedAt = memNow
	return nil
}

func (m *memStore) PublishPlan(_ context.Context, id int64, by string) (*liftrescue.Plan, error) {
	p, err := m.plan(id)
	if err != nil {
		return nil, err
	}
	if p.Status != liftrescue.PlanDraft {
		return nil, liftrescue.Errorf(liftrescue.ECONFLICT, "plan %d is %s, not a draft", p.ID, p.Status)
	}
	now := memNow
	for i := range m.plans {
		if m.plans[i].Status == liftrescue.PlanActive {
			m.plans[i].Status, m.plans[i].RetiredAt, m.plans[i].UpdatedAt = liftrescue.PlanRetired, &now, now
		}
	}
	p.Status, p.PublishedBy, p.PublishedAt, p.UpdatedAt = liftrescue.PlanActive, by, &now, now
	published := *p
	return &published, nil
}

// plan returns the stored plan with the id, to change in place.
func (m *memStore) plan(id int64) (*liftrescue.Plan, error) {
	if id < 1 || id > int64(len(m.plans)) {
		return nil, liftrescue.Errorf(liftrescue.ENOTFOUND, "no plan %d", id)
	}
	return &m.plans[id-1], nil
}

func (m *memStore) hasDistrict(code string) bool {
	return slices.ContainsFunc(m.districts, func(d *liftrescue.District) bool { return d.Code == code })
}

func (m *memStore) take(keys ...string) error {
	for _, k := range keys {
		if m.taken[k] {
			return liftrescue.Errorf(liftrescue.ECONFLICT, "%s is taken", k)
		}
		m.taken[k] = true
	}
	return nil
}

func TestSeedStoresTheCity(t *testing.T) {
	ctx := t.Context()
	city := Generate(Config{Elevators: 2*SeedChunk + 5000})
	s := newMemStore()

	if seeded, err := Seeded(ctx, s); err != nil || seeded {
		t.Fatalf("Seeded on an empty store = %v, %v; want false", seeded, err)
	}
	var progress [][2]int
	if err := Seed(ctx, s, city, func(done, total int) { progress = append(progress, [2]int{done, total}) }); err != nil {
		t.Fatal(err)
	}
	if seeded, err := Seeded(ctx, s); err != nil || !seeded {
		t.Fatalf("Seeded after Seed = %v, %v; want true", seeded, err)
	}

	total := city.NumElevators()
	if want := [][2]int{{SeedChunk, total}, {2 * SeedChunk, total}, {total, total}}; !reflect.DeepEqual(progress, want) {
		t.Errorf("progress %v, want %v", progress, want)
	}
	if want := []int{SeedChunk, SeedChunk, 5000}; !reflect.DeepEqual(s.imports, want) {
		t.Errorf("elevators imported in chunks of %v, want %v", s.imports, want)
	}
	for _, n := range []struct {
		what      string
		got, want int
	}{
		{"districts", len(s.districts), len(city.Districts)},
		{"organisations", len(s.orgs), len(city.Organizations)},
		{"teams", len(s.teams), len(city.Teams)},
		{"vehicles", len(s.vehicles), len(city.Vehicles)},
		{"elevators", len(s.elevators), total},
	} {
		if n.got != n.want {
			t.Errorf("%d %s stored, want %d", n.got, n.what, n.want)
		}
	}
	// Teams and vehicles refer to what the city says they belong to.
	for i, ts := range city.Teams {
		if got := s.orgs[s.teams[i].OrganizationID-1].Code; got != ts.OrgCode {
			t.Errorf("team %d stored under %s, want %s", i, got, ts.OrgCode)
		}
	}
	for i, vs := range city.Vehicles {
		if got, want := s.vehicles[i].TeamID, s.teams[vs.Team].ID; got != want {
			t.Errorf("vehicle %d stored under team %d, want %d", i, got, want)
		}
	}
	// The city's grids are in one published plan, their units and fire stations found by code.
	grids := city.Grids()
	if len(s.plans) != 1 {
		t.Fatalf("%d plans stored, want 1", len(s.plans))
	}
	if p := s.plans[0]; p.Name != PlanName || p.Status != liftrescue.PlanActive || p.CreatedBy != PlanAuthor ||
		p.PublishedBy != PlanAuthor || p.PublishedAt == nil || p.Grids != len(grids) {
		t.Errorf("plan %q %s created by %q, published by %q at %v with %d grids; want %q %s by %q with %d grids",
			p.Name, p.Status, p.CreatedBy, p.PublishedBy, p.PublishedAt, p.Grids, PlanName, liftrescue.PlanActive, PlanAuthor, len(grids))
	}
	if len(s.grids) != len(grids) {
		t.Fatalf("%d grids stored, want %d", len(s.grids), len(grids))
	}
	code := func(id int64) string { return s.orgs[id-1].Code }
	for i, gs := range grids {
		g := s.grids[i]
		var units []string
		for _, id := range g.Units {
			units = append(units, code(id))
		}
		if g.PlanID != s.plans[0].ID || g.Name != gs.Grid.Name || g.District != gs.Grid.District ||
			!reflect.DeepEqual(g.Area, gs.Grid.Area) || !reflect.DeepEqual(units, gs.UnitCodes) ||
			code(g.FireStation) != gs.FireStationCode {
			t.Errorf("grid %d stored as %s in %s of plan %d with units %v and fire station %s, want %s in %s with %v and %s",
				i, g.Name, g.District, g.PlanID, units, code(g.FireStation), gs.Grid.Name, gs.Grid.District, gs.UnitCodes, gs.FireStationCode)
		}
	}
	// Seed leaves the city as it was, so it can be seeded again elsewhere.
	if again := Generate(Config{Elevators: 2*SeedChunk + 5000}); !reflect.DeepEqual(again.Organizations, city.Organizations) {
		t.Error("Seed changed the city's organisations")
	}
}

func TestSeedStopsAtTheFirstError(t *testing.T) {
	ctx := t.Context()
	city := Generate(Config{Elevators: 100})
	city.Teams[0].OrgCode = "UNKNOWN"
	s := newMemStore()
	err := Seed(ctx, s, city, nil)
	if liftrescue.ErrorCode(err) != liftrescue.ENOTFOUND {
		t.Fatalf("Seed with a team of an unknown organisation: %v, want not_found", err)
	}
	if len(s.teams) != 0 || len(s.plans) != 0 || len(s.elevators) != 0 {
		t.Errorf("%d teams, %d plans and %d elevators stored after the error", len(s.teams), len(s.plans), len(s.elevators))
	}
}
