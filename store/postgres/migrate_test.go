package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/migrations"
	"github.com/liftrescue/liftrescue/store/postgres"
	"github.com/liftrescue/liftrescue/store/postgres/pgtest"
	"github.com/liftrescue/liftrescue/store/storetest"
)

// A database made before device secrets (at version 2) gets a secret for every vehicle with a
// tracker when it is opened: 16 hex digits, each its own; a vehicle without one gets none.
func TestMigrateDeviceSecrets(t *testing.T) {
	ctx := context.Background()
	dbURL, old := databaseAtVersion(t, 2)
	seedOldFleet(t, old, `(1, 1, '鲁D00001', '013900000001', now(), now()),
		(2, 1, '鲁D00002', NULL, now(), now()),
		(3, 1, '鲁D00003', '013900000003', now(), now())`)
	storetest.MustOK(t, old.Close(ctx))

	db, err := postgres.Open(ctx, dbURL, postgres.Options{})
	storetest.MustOK(t, err)
	defer db.Close()
	storetest.MustOK(t, db.Ready(ctx))
	page, err := db.ListVehicles(ctx, liftrescue.VehicleFilter{})
	storetest.MustOK(t, err)
	storetest.MustMigratedSecrets(t, page.Items)
}

// databaseAtVersion makes a database migrated up to version and no further, as an older release
// left it, and returns its URL and a connection to it (closed at the end of the test).
// seedOldFleet writes, in SQL that the tables of every version since the first take, a district,
// a volunteer organisation (1) with its team (1), and the vehicles: rows of (id, team_id, plate,
// device_id, created_at, updated_at).
func seedOldFleet(t *testing.T, old *pgx.Conn, vehicles string) {
	t.Helper()
	for _, q := range []string{
		`INSERT INTO districts (code, name) VALUES ('370402', '市中区')`,
		`INSERT INTO organizations (id, code, kind, name, district, created_at, updated_at)
			VALUES (1, 'V1', 'volunteer', '救援队', '370402', now(), now())`,
		`INSERT INTO teams (id, organization_id, name, created_at, updated_at) VALUES (1, 1, '一队', now(), now())`,
		`INSERT INTO vehicles (id, team_id, plate, device_id, created_at, updated_at) VALUES ` + vehicles,
	} {
		_, err := old.Exec(context.Background(), q)
		storetest.MustOK(t, err)
	}
}

func databaseAtVersion(t *testing.T, version int) (string, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	dbURL := pgtest.MustDatabase(t)
	old, err := pgx.Connect(ctx, dbURL)
	storetest.MustOK(t, err)
	t.Cleanup(func() { old.Close(ctx) })
	ms, err := migrations.Load("postgres")
	storetest.MustOK(t, err)
	_, err = old.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`)
	storetest.MustOK(t, err)
	for _, m := range ms {
		if m.Version > version {
			break
		}
		_, err := old.Exec(ctx, m.SQL)
		storetest.MustOK(t, err)
		_, err = old.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, $2, now())`, m.Version, m.Name)
		storetest.MustOK(t, err)
	}
	return dbURL, old
}
