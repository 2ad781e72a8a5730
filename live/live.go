// Package live keeps the service's in-memory state true to its database: the live index of
// elevators and vehicles, and the ingest pipeline's device registry. It loads them at start-up
// and wraps the store so that every registry write reaches them as well.
//
// It imports the root package, geo and gps.
package live

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/liftrescue/liftrescue/gps"
	"github.com/paulmach/orb"
)

// Loaded says what Load put in the index.
type Loaded struct {
	Elevators int
	Vehicles  int // vehicles placed at their latest stored position
	Took      time.Duration
}

// Load fills an empty index from the store: every elevator at its position and every vehicle at
// its newest stored position. The elevators are read and inserted at once: the index builds while
// the database streams.
func Load(ctx context.Context, s liftrescue.Store, ix *geo.Index) (Loaded, error) {
	start := time.Now()
	var out Loaded
	n, err := loadElevators(ctx, s, ix)
	if err != nil {
		return out, err
	}
	out.Elevators = n
	latest, err := s.LatestPositions(ctx)
	if err != nil {
		return out, fmt.Errorf("load latest positions: %w", err)
	}
	for _, p := range latest {
		if ix.MoveVehicle(p.VehicleID, p.Fix) {
			out.Vehicles++
		}
	}
	out.Took = time.Since(start)
	return out, nil
}

// loadElevators streams every elevator of the store into the index. An index that has elevators
// already gets each one set again, so that an import that moved some is reflected.
func loadElevators(ctx context.Context, s liftrescue.Store, ix *geo.Index) (int, error) {
	var readErr error
	seq := func(yield func(int64, orb.Point) bool) {
		stop := fmt.Errorf("stop")
		err := s.EachElevatorPosition(ctx, func(id int64, lon, lat float64) error {
			if !yield(id, orb.Point{lon, lat}) {
				return stop
			}
			return nil
		})
		if err != nil && err != stop {
			readErr = err
		}
	}
	n, err := ix.LoadElevators(seq)
	if readErr != nil {
		return n, fmt.Errorf("load elevators: %w", readErr)
	}
	if liftrescue.ErrorCode(err) == liftrescue.EINVALID {
		// Positions the store holds are checked on the way in; one that is not a real place
		// should not stop the service.
		slog.Default().Warn("elevators left out of the live index", "err", err)
		err = nil
	}
	return n, err
}

// Store is a liftrescue.Store whose registry writes also reach the live index and the ingest's
// device registry, after the database has taken them. A write the database refuses changes
// nothing in memory.
type Store struct {
	liftrescue.Store
	Index  *geo.Index
	Ingest *gps.Pipeline
	Logger *slog.Logger
	// Changed, when set, is told after teams, vehicles or organisations were written (dispatch
	// reads its units again).
	Changed func()
}

func (s *Store) changed() {
	if s.Changed != nil {
		s.Changed()
	}
}

// CreateOrganization stores the organisation; a new fire station or volunteer unit matters to dispatch.
func (s *Store) CreateOrganization(ctx context.Context, o *liftrescue.Organization) error {
	err := s.Store.CreateOrganization(ctx, o)
	if err == nil {
		s.changed()
	}
	return err
}

// UpdateOrganization stores the organisation.
func (s *Store) UpdateOrganization(ctx context.Context, o *liftrescue.Organization) error {
	err := s.Store.UpdateOrganization(ctx, o)
	if err == nil {
		s.changed()
	}
	return err
}

// UpsertDistrict stores the district; whether it is rural sets the arrival limit of its incidents.
func (s *Store) UpsertDistrict(ctx context.Context, d *liftrescue.District) error {
	err := s.Store.UpsertDistrict(ctx, d)
	if err == nil {
		s.changed()
	}
	return err
}

// CreateTeam stores the team.
func (s *Store) CreateTeam(ctx context.Context, t *liftrescue.Team) error {
	err := s.Store.CreateTeam(ctx, t)
	if err == nil {
		s.changed()
	}
	return err
}

// CreateElevator stores the elevator and puts it in the index.
func (s *Store) CreateElevator(ctx context.Context, e *liftrescue.Elevator) error {
	if err := s.Store.CreateElevator(ctx, e); err != nil {
		return err
	}
	s.setElevator(e)
	return nil
}

// UpdateElevator stores the elevator and moves it in the index.
func (s *Store) UpdateElevator(ctx context.Context, e *liftrescue.Elevator) error {
	if err := s.Store.UpdateElevator(ctx, e); err != nil {
		return err
	}
	s.setElevator(e)
	return nil
}

func (s *Store) setElevator(e *liftrescue.Elevator) {
	if err := s.Index.SetElevator(e.ID, e.Lon, e.Lat); err != nil {
		s.logger().Error("elevator stored but not indexed", "id", e.ID, "err", err)
	}
}

// DeleteElevator deletes the elevator and takes it out of the index.
func (s *Store) DeleteElevator(ctx context.Context, id int64) error {
	if err := s.Store.DeleteElevator(ctx, id); err != nil {
		return err
	}
	s.Index.RemoveElevator(id)
	return nil
}

// ImportElevators imports and then sets every elevator in the index again: an import may add or
// move thousands, and reading them all back costs about a second per million.
func (s *Store) ImportElevators(ctx context.Context, rows []liftrescue.ElevatorRow, opt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
	res, err := s.Store.ImportElevators(ctx, rows, opt)
	if err != nil || res.DryRun || res.Created+res.Updated == 0 {
		return res, err
	}
	if _, err := loadElevators(context.WithoutCancel(ctx), s.Store, s.Index); err != nil {
		s.logger().Error("elevators imported but the live index not refreshed", "err", err)
	}
	return res, nil
}

// CreateVehicle stores the vehicle and puts it in the device registry.
func (s *Store) CreateVehicle(ctx context.Context, v *liftrescue.Vehicle) error {
	return s.putVehicle(ctx, s.Store.CreateVehicle(ctx, v), v)
}

// UpdateVehicle stores the vehicle and replaces it in the device registry: its tracker may have
// changed.
func (s *Store) UpdateVehicle(ctx context.Context, v *liftrescue.Vehicle) error {
	return s.putVehicle(ctx, s.Store.UpdateVehicle(ctx, v), v)
}

// putVehicle puts a vehicle just written (err == nil) in the device registry as the store has it
// (its organisation comes from its team).
func (s *Store) putVehicle(ctx context.Context, err error, v *liftrescue.Vehicle) error {
	if err != nil {
		return err
	}
	s.changed()
	stored, ferr := s.Store.FindVehicle(context.WithoutCancel(ctx), v.ID)
	if ferr != nil {
		s.logger().Error("vehicle stored but the device registry not updated", "id", v.ID, "err", ferr)
		return nil
	}
	s.Ingest.PutVehicle(stored)
	return nil
}

// DeleteVehicle deletes the vehicle and takes it off the map and out of the device registry.
func (s *Store) DeleteVehicle(ctx context.Context, id int64) error {
	if err := s.Store.DeleteVehicle(ctx, id); err != nil {
		return err
	}
	s.Index.RemoveVehicle(id)
	s.Ingest.RemoveVehicle(id)
	s.changed()
	return nil
}

// UpdateTeam stores the team and reloads the device registry, whose vehicles carry their team's
// organisation.
func (s *Store) UpdateTeam(ctx context.Context, t *liftrescue.Team) error {
	if err := s.Store.UpdateTeam(ctx, t); err != nil {
		return err
	}
	s.changed()
	if err := s.Ingest.Reload(context.WithoutCancel(ctx)); err != nil {
		s.logger().Error("team stored but the device registry not reloaded", "err", err)
	}
	return nil
}

func (s *Store) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}
