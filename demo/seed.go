package demo

import (
	"context"
	"fmt"
	"slices"

	"github.com/liftrescue/liftrescue"
)

// SeedChunk is how many elevators Seed imports at a time: large enough that import overhead does not
// dominate, small enough that a chunk's rows and the store's transaction stay modest.
const SeedChunk = 20_000

// Seed stores the city in s: districts, organisations, teams, vehicles, the city's plan of rescue
// grids (published by PlanAuthor), then the elevators in chunks of SeedChunk, calling progress (if
// not nil) after each chunk with the elevators stored so far and the total. Every import is
// all-or-nothing, but Seed as a whole is not: it is meant for an empty store (callers ask Seeded
// first), and a failure part way leaves what was stored before it. The plan comes before the
// elevators, so that a store that holds all the elevators holds the published plan too.
func Seed(ctx context.Context, s liftrescue.Store, city *City, progress func(done, total int)) error {
	for _, d := range city.Districts {
		d.Outline = d.Outline.Clone() // the store may normalise what it is given
		if err := s.UpsertDistrict(ctx, &d); err != nil {
			return fmt.Errorf("seed district %s: %w", d.Code, err)
		}
	}

	orgs := make([]liftrescue.OrganizationRow, len(city.Organizations))
	for i, o := range city.Organizations {
		o.DutyPhones, o.Contacts = slices.Clone(o.DutyPhones), slices.Clone(o.Contacts)
		orgs[i] = liftrescue.OrganizationRow{Line: i + 1, Org: o}
	}
	if _, err := s.ImportOrganizations(ctx, orgs, liftrescue.ImportOptions{}); err != nil {
		return fmt.Errorf("seed organisations: %w", err)
	}

	orgIDs := make(map[string]int64) // by code, looked up once per organisation referred to
	orgID := func(code string) (int64, error) {
		if id, ok := orgIDs[code]; ok {
			return id, nil
		}
		o, err := s.FindOrganizationByCode(ctx, code)
		if err != nil {
			return 0, fmt.Errorf("find organisation %s: %w", code, err)
		}
		orgIDs[code] = o.ID
		return o.ID, nil
	}
	teamIDs := make([]int64, len(city.Teams))
	for i, ts := range city.Teams {
		id, err := orgID(ts.OrgCode)
		if err != nil {
			return fmt.Errorf("seed team %q: %w", ts.Team.Name, err)
		}
		t := ts.Team
		t.OrganizationID = id
		if err := s.CreateTeam(ctx, &t); err != nil {
			return fmt.Errorf("seed team %q of %s: %w", t.Name, ts.OrgCode, err)
		}
		teamIDs[i] = t.ID
	}
	for _, vs := range city.Vehicles {
		v := vs.Vehicle
		v.TeamID = teamIDs[vs.Team]
		if err := s.CreateVehicle(ctx, &v); err != nil {
			return fmt.Errorf("seed vehicle %s: %w", v.Plate, err)
		}
	}

	if err := seedGrids(ctx, s, city, orgID); err != nil {
		return err
	}

	total, done := city.NumElevators(), 0
	chunk := make([]liftrescue.ElevatorRow, 0, min(SeedChunk, total))
	flush := func() error {
		if _, err := s.ImportElevators(ctx, chunk, liftrescue.ImportOptions{}); err != nil {
			return fmt.Errorf("seed elevators, lines %d–%d: %w", chunk[0].Line, chunk[len(chunk)-1].Line, err)
		}
		done += len(chunk)
		chunk = chunk[:0]
		if progress != nil {
			progress(done, total)
		}
		return nil
	}
	for row := range city.Elevators() {
		chunk = append(chunk, row)
		if len(chunk) == SeedChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(chunk) > 0 {
		return flush()
	}
	return nil
}

// seedGrids stores the city's grids in a new plan and publishes it, with the organisations' IDs
// that orgID finds for their codes.
func seedGrids(ctx context.Context, s liftrescue.Store, city *City, orgID func(code string) (int64, error)) error {
	plan := liftrescue.Plan{Name: PlanName, Notes: PlanNotes, CreatedBy: PlanAuthor}
	if err := s.CreatePlan(ctx, &plan, 0); err != nil {
		return fmt.Errorf("seed grid plan: %w", err)
	}
	for _, gs := range city.Grids() {
		g := gs.Grid
		g.PlanID = plan.ID
		g.Area = g.Area.Clone()
		g.Units = make([]int64, len(gs.UnitCodes))
		for k, code := range gs.UnitCodes {
			id, err := orgID(code)
			if err != nil {
				return fmt.Errorf("seed grid %s: unit: %w", g.Name, err)
			}
			g.Units[k] = id
		}
		id, err := orgID(gs.FireStationCode)
		if err != nil {
			return fmt.Errorf("seed grid %s: fire station: %w", g.Name, err)
		}
		g.FireStation = id
		if err := s.CreateGrid(ctx, &g); err != nil {
			return fmt.Errorf("seed grid %s: %w", g.Name, err)
		}
	}
	if _, err := s.PublishPlan(ctx, plan.ID, PlanAuthor); err != nil {
		return fmt.Errorf("publish grid plan %d: %w", plan.ID, err)
	}
	return nil
}

// Seeded reports whether s already holds the demo districts, so that the demo can reuse a database
// seeded before instead of seeding it again.
func Seeded(ctx context.Context, s liftrescue.Store) (bool, error) {
	stored, err := s.ListDistricts(ctx)
	if err != nil {
		return false, fmt.Errorf("list districts: %w", err)
	}
	for _, spec := range districtSpecs {
		if !slices.ContainsFunc(stored, func(d *liftrescue.District) bool { return d.Code == spec.code }) {
			return false, nil
		}
	}
	return true, nil
}
