package live_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/liftrescue/liftrescue/gps"
	"github.com/liftrescue/liftrescue/live"
	"github.com/liftrescue/liftrescue/store/sqlite"
	"github.com/liftrescue/liftrescue/store/storetest"
)

type fixture struct {
	ctx    context.Context
	db     *sqlite.DB
	index  *geo.Index
	ingest *gps.Pipeline
	store  *live.Store
}

// open loads the live state from a database as the service does at start-up.
func open(t *testing.T, db *sqlite.DB) *fixture {
	t.Helper()
	f := &fixture{ctx: context.Background(), db: db}
	var err error
	f.index, err = geo.NewIndex(geo.IndexOptions{})
	storetest.MustOK(t, err)
	if _, err := live.Load(f.ctx, db, f.index); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.ingest, err = gps.NewPipeline(f.ctx, gps.PipelineConfig{Store: db, Index: f.index, FlushInterval: time.Hour, Logger: logger})
	storetest.MustOK(t, err)
	t.Cleanup(func() { f.ingest.Close(f.ctx) })
	f.store = &live.Store{Store: db, Index: f.index, Ingest: f.ingest, Logger: logger}
	return f
}

func newDB(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "live.db"), sqlite.Options{})
	storetest.MustOK(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestElevatorWritesReachTheIndex(t *testing.T) {
	db := newDB(t)
	storetest.MustUnits(t, db)
	rows := storetest.ElevatorRows(3)
	if _, err := db.ImportElevators(context.Background(), rows, liftrescue.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	f := open(t, db)
	if n := f.index.ElevatorCount(); n != 3 {
		t.Fatalf("loaded %d elevators, want 3", n)
	}
	e, err := db.FindElevatorByCode(f.ctx, rows[0].Elevator.RescueCode)
	storetest.MustOK(t, err)

	// Moved: the index follows.
	e.Lat, e.Lon = 34.9, 117.6
	storetest.MustOK(t, f.store.UpdateElevator(f.ctx, e))
	if s, ok := f.index.Elevator(e.ID); !ok || s.Lat != 34.9 || s.Lon != 117.6 {
		t.Errorf("after a move the index has %+v", s)
	}
	// A refused write changes nothing in memory.
	bad := *e
	bad.Lat = 91
	if err := f.store.UpdateElevator(f.ctx, &bad); liftrescue.ErrorCode(err) != liftrescue.EINVALID {
		t.Fatalf("update to latitude 91: %v", err)
	}
	if s, _ := f.index.Elevator(e.ID); s.Lat != 34.9 {
		t.Errorf("a refused write moved the elevator to %+v", s)
	}
	// Created and deleted.
	n := rows[0].Elevator
	n.RescueCode, n.EquipmentCode, n.UserUnitID, n.MaintenanceUnitID = "99999", "31103704029999999999", e.UserUnitID, e.MaintenanceUnitID
	storetest.MustOK(t, f.store.CreateElevator(f.ctx, &n))
	if _, ok := f.index.Elevator(n.ID); !ok {
		t.Error("a new elevator is not in the index")
	}
	storetest.MustOK(t, f.store.DeleteElevator(f.ctx, e.ID))
	if _, ok := f.index.Elevator(e.ID); ok {
		t.Error("a deleted elevator is still in the index")
	}
	// An import that moves one and adds others: all of them where the database has them.
	more := storetest.ElevatorRows(5)
	more[1].Elevator.Lat = 34.7
	res, err := f.store.ImportElevators(f.ctx, more, liftrescue.ImportOptions{})
	if err != nil || res.Created+res.Updated != 5 {
		t.Fatalf("import: %+v %v", res, err)
	}
	if n := f.index.ElevatorCount(); n != 6 {
		t.Errorf("after the import the index has %d elevators, want 6", n)
	}
	moved, err := db.FindElevatorByCode(f.ctx, more[1].Elevator.RescueCode)
	storetest.MustOK(t, err)
	if s, _ := f.index.Elevator(moved.ID); s.Lat != 34.7 {
		t.Errorf("the imported move is not in the index: %+v", s)
	}
}

func TestVehicleWritesReachTheIngest(t *testing.T) {
	db := newDB(t)
	ids := storetest.MustVehicles(t, db, 2)
	// A position in the history places the vehicle at start-up.
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Microsecond)
	storetest.MustOK(t, db.AppendPositions(context.Background(), []liftrescue.Position{{VehicleID: ids[0], ReceivedAt: at,
		Fix: liftrescue.Fix{Time: at, Lat: 34.8, Lon: 117.5, SpeedKmh: liftrescue.Unknown, Heading: liftrescue.Unknown,
			AccuracyM: liftrescue.Unknown, AltitudeM: liftrescue.Unknown, Battery: liftrescue.Unknown}}}))
	f := open(t, db)
	if s, ok := f.index.Vehicle(ids[0]); !ok || s.Lat != 34.8 || !s.Time.Equal(at) {
		t.Errorf("at start-up the vehicle is at %+v, want its latest stored position", s)
	}

	v, err := db.FindVehicle(f.ctx, ids[1])
	storetest.MustOK(t, err)
	old := v.DeviceID
	v.DeviceID, v.DeviceSecret = "867530912345678", "new-tracker-secret"
	storetest.MustOK(t, f.store.UpdateVehicle(f.ctx, v))
	if _, ok := f.ingest.VehicleOf(old); ok {
		t.Error("the old tracker still reports for the vehicle")
	}
	if id, err := f.ingest.Authenticate("867530912345678", "new-tracker-secret"); err != nil || id != v.ID {
		t.Errorf("the new tracker: %d, %v", id, err)
	}

	// A team moved to another organisation: the fleet says so at once.
	team, err := db.FindTeam(f.ctx, v.TeamID)
	storetest.MustOK(t, err)
	other := &liftrescue.Organization{Code: "V-OTHER", Kind: liftrescue.OrgVolunteer, Name: "另一救援队", District: "370405"}
	storetest.MustOK(t, db.CreateOrganization(f.ctx, other))
	team.OrganizationID = other.ID
	storetest.MustOK(t, f.store.UpdateTeam(f.ctx, team))
	for _, fv := range f.ingest.Fleet() {
		if fv.OrganizationID != other.ID {
			t.Errorf("vehicle %d is still of organisation %d", fv.ID, fv.OrganizationID)
		}
	}

	storetest.MustOK(t, f.store.DeleteVehicle(f.ctx, ids[0]))
	if _, ok := f.index.Vehicle(ids[0]); ok {
		t.Error("a deleted vehicle is still on the map")
	}
	if len(f.ingest.Fleet()) != 1 {
		t.Errorf("fleet = %d vehicles, want 1", len(f.ingest.Fleet()))
	}
}
