package demo_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/demo"
	"github.com/liftrescue/liftrescue/store/sqlite"
)

// TestSeedSQLite seeds a real SQLite store with a city of more than one import chunk and reads it
// back through the Store interface.
//
// Under the race detector the city is one chunk: SQLite is C translated to Go, the detector checks
// its every memory access, and a chunk takes half a minute. Seed runs on one goroutine, so a
// second chunk would show the detector nothing new. TestSeedStoresTheCity checks the chunks and
// the progress against a store that rejects any code two chunks share, and the store conformance
// suite checks that an import adds to the elevators a SQLite store already holds.
func TestSeedSQLite(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "demo.db"), sqlite.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var s liftrescue.Store = db

	size := demo.SeedChunk + 5000
	if raceEnabled {
		size = 100
	}
	city := demo.Generate(demo.Config{Elevators: size})
	if seeded, err := demo.Seeded(ctx, s); err != nil || seeded {
		t.Fatalf("Seeded on a new database = %v, %v; want false", seeded, err)
	}
	calls := 0
	if err := demo.Seed(ctx, s, city, func(done, total int) { calls++ }); err != nil {
		t.Fatal(err)
	}
	if want := (size + demo.SeedChunk - 1) / demo.SeedChunk; calls != want {
		t.Errorf("progress called %d times, want %d", calls, want)
	}
	if seeded, err := demo.Seeded(ctx, s); err != nil || !seeded {
		t.Fatalf("Seeded after Seed = %v, %v; want true", seeded, err)
	}

	districts, err := s.ListDistricts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	orgs, err := s.ListOrganizations(ctx, liftrescue.OrganizationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	teams, err := s.ListTeams(ctx, liftrescue.TeamFilter{})
	if err != nil {
		t.Fatal(err)
	}
	vehicles, err := s.ListVehicles(ctx, liftrescue.VehicleFilter{})
	if err != nil {
		t.Fatal(err)
	}
	elevators, err := s.ListElevators(ctx, liftrescue.ElevatorFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []struct {
		what      string
		got, want int
	}{
		{"districts", len(districts), len(city.Districts)},
		{"organisations", orgs.Total, len(city.Organizations)},
		{"teams", teams.Total, len(city.Teams)},
		{"vehicles", vehicles.Total, len(city.Vehicles)},
		{"elevators", elevators.Total, city.NumElevators()},
	} {
		if n.got != n.want {
			t.Errorf("%d %s stored, want %d", n.got, n.what, n.want)
		}
	}

	// The last elevator is found by its rescue code, with its units resolved from their codes.
	var last liftrescue.ElevatorRow
	for row := range city.Elevators() {
		last = row
	}
	e, err := s.FindElevatorByCode(ctx, last.Elevator.RescueCode)
	if err != nil {
		t.Fatal(err)
	}
	if e.EquipmentCode != last.Elevator.EquipmentCode || e.Address != last.Elevator.Address {
		t.Errorf("rescue code %s found %s at %s, want %s at %s", last.Elevator.RescueCode,
			e.EquipmentCode, e.Address, last.Elevator.EquipmentCode, last.Elevator.Address)
	}
	for _, unit := range []struct {
		id   int64
		code string
	}{{e.UserUnitID, last.UserUnitCode}, {e.MaintenanceUnitID, last.MaintenanceUnitCode}} {
		o, err := s.FindOrganization(ctx, unit.id)
		if err != nil {
			t.Fatal(err)
		}
		if o.Code != unit.code {
			t.Errorf("unit %d has code %s, want %s", unit.id, o.Code, unit.code)
		}
	}
}
