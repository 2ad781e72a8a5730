package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/migrations"
	"github.com/liftrescue/liftrescue/store/sqlite"
	"github.com/liftrescue/liftrescue/store/storetest"
)

// A database made before device secrets (at version 2) gets a secret for every vehicle with a
// tracker when it is opened: 16 hex digits, each its own; a vehicle without one gets none.
func TestMigrateDeviceSecrets(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	storetest.MustOK(t, err)
	ms, err := migrations.Load("sqlite")
	storetest.MustOK(t, err)
	const stamp = "2026-11-21T02:30:00.000000Z"
	_, err = old.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
	storetest.MustOK(t, err)
	for _, m := range ms {
		if m.Version >= 3 {
			break
		}
		_, err := old.ExecContext(ctx, m.SQL)
		storetest.MustOK(t, err)
		_, err = old.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?, ?)`, m.Version, m.Name, stamp)
		storetest.MustOK(t, err)
	}
	for _, q := range []string{
		`INSERT INTO districts (code, name) VALUES ('370402', '市中区')`,
		`INSERT INTO organizations (id, code, kind, name, district, created_at, updated_at)
			VALUES (1, 'V1', 'volunteer', '救援队', '370402', '` + stamp + `', '` + stamp + `')`,
		`INSERT INTO teams (id, organization_id, name, created_at, updated_at) VALUES (1, 1, '一队', '` + stamp + `', '` + stamp + `')`,
		`INSERT INTO vehicles (id, team_id, plate, device_id, created_at, updated_at) VALUES
			(1, 1, '鲁D00001', '013900000001', '` + stamp + `', '` + stamp + `'),
			(2, 1, '鲁D00002', NULL, '` + stamp + `', '` + stamp + `'),
			(3, 1, '鲁D00003', '013900000003', '` + stamp + `', '` + stamp + `')`,
	} {
		_, err := old.ExecContext(ctx, q)
		storetest.MustOK(t, err)
	}
	storetest.MustOK(t, old.Close())

	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	storetest.MustOK(t, err)
	defer db.Close()
	storetest.MustOK(t, db.Ready(ctx))
	page, err := db.ListVehicles(ctx, liftrescue.VehicleFilter{})
	storetest.MustOK(t, err)
	storetest.MustMigratedSecrets(t, page.Items)
}
