package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/postgres"
	"github.com/liftrescue/liftrescue/store/postgres/pgtest"
	"github.com/liftrescue/liftrescue/store/storetest"
)

// BenchmarkAppendPositions1000 writes batches of 1,000 fixes from 1,000 vehicles, from one writer
// and from four at once, into a fresh database each.
func BenchmarkAppendPositions1000(b *testing.B) {
	for _, writers := range []int{1, 4} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			storetest.BenchmarkAppendPositions(b, MustOpen(b, nil), writers)
		})
	}
}

// Vehicles deleted while batches are written, by this instance or another, take their history
// with them, and no batch leaves positions of a deleted vehicle behind: each batch either fails
// naming the vehicle or commits before the vehicle's history is deleted.
func TestAppendPositionsRacesDeleteVehicle(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.MustDatabase(t)
	var dbs [2]*postgres.DB
	for i := range dbs {
		db, err := postgres.Open(ctx, dbURL, postgres.Options{})
		storetest.MustOK(t, err)
		defer db.Close()
		dbs[i] = db
	}
	const vehicles = 40
	ids := storetest.MustVehicles(t, dbs[0], vehicles)
	at := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	// Both instances know every vehicle before the deletes begin.
	for _, db := range dbs {
		storetest.MustOK(t, db.AppendPositions(ctx, storetest.PositionBatch(ids, vehicles, at)))
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			db := dbs[w%2]
			for i := range 50 {
				err := db.AppendPositions(ctx, storetest.PositionBatch(ids, 200, at.Add(time.Duration(w*1000+i)*time.Second)))
				if err != nil && liftrescue.ErrorCode(err) != liftrescue.EINVALID {
					t.Error(err)
					return
				}
			}
		})
	}
	for _, id := range ids[:vehicles/2] {
		storetest.MustOK(t, dbs[1].DeleteVehicle(ctx, id))
	}
	wg.Wait()
	for _, db := range dbs {
		err := db.AppendPositions(ctx, storetest.PositionBatch(ids, vehicles, at))
		storetest.MustCode(t, err, liftrescue.EINVALID)
		if d := liftrescue.ErrorDetails(err); len(d) != vehicles/2 {
			t.Errorf("%d details, want one for each of the %d deleted vehicles", len(d), vehicles/2)
		}
	}
	conn, err := pgx.Connect(ctx, dbURL)
	storetest.MustOK(t, err)
	defer conn.Close(ctx)
	var orphans int
	storetest.MustOK(t, conn.QueryRow(ctx, `SELECT count(*) FROM positions p WHERE NOT EXISTS (SELECT 1 FROM vehicles v WHERE v.id = p.vehicle_id)`).Scan(&orphans))
	if orphans != 0 {
		t.Fatalf("%d positions of deleted vehicles", orphans)
	}
}
