package demo

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/liftrescue/liftrescue"
)

// memStore is the part of a Store that Seed and Seeded use, kept in memory with the checks a real
// store makes: validation, references by code and id, unique codes, plates and device ids. It
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
	taken   map[string]bool // rescue and equipment codes, plates and device ids
}

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
	if len(s.teams) != 0 || len(s.elevators) != 0 {
		t.Errorf("%d teams and %d elevators stored after the error", len(s.teams), len(s.elevators))
	}
}
