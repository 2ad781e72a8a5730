package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/liftrescue/liftrescue/store/sqlite"
	"github.com/liftrescue/liftrescue/store/storetest"
	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The database itself refuses to change or remove an event of the chain, whoever asks: its
// triggers abort the statement.
func TestIncidentEventsAppendOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "liftrescue.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	storetest.MustOK(t, err)
	defer db.Close()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	storetest.MustOK(t, err)
	defer raw.Close()
	storetest.MustRefuseEventChanges(t, db, func(statement string) error {
		_, err := raw.ExecContext(ctx, statement)
		if se := (*sqlitedriver.Error)(nil); err != nil && (!errors.As(err, &se) || se.Code() != sqlite3.SQLITE_CONSTRAINT_TRIGGER) {
			t.Errorf("%s: %v, want a trigger's refusal", statement, err)
		}
		return err
	}, `UPDATE incident_events SET text = 'changed' WHERE seq = 1`, `UPDATE incident_events SET hash = ''`,
		`DELETE FROM incident_events WHERE seq = 2`, `DELETE FROM incident_events`)
}
