package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/postgres"
	"github.com/liftrescue/liftrescue/store/postgres/pgtest"
	"github.com/liftrescue/liftrescue/store/storetest"
)

// The database itself refuses to change or remove an event of the chain or an entry of the audit
// log, whoever asks: its triggers raise an exception (raise_exception, P0001), TRUNCATE included.
func TestAppendOnlyTables(t *testing.T) {
	for _, tt := range []struct {
		name       string
		refuse     func(*testing.T, liftrescue.Store, func(string) error, ...string)
		statements []string
	}{
		{"incident_events", storetest.MustRefuseEventChanges, []string{`UPDATE incident_events SET text = 'changed' WHERE seq = 1`,
			`UPDATE incident_events SET hash = ''`, `DELETE FROM incident_events WHERE seq = 2`, `DELETE FROM incident_events`,
			`TRUNCATE incident_events`, `TRUNCATE incidents CASCADE`}},
		{"audit_log", storetest.MustRefuseAuditChanges, []string{`UPDATE audit_log SET status = 200 WHERE id = 2`,
			`UPDATE audit_log SET actor_name = 'nobody'`, `DELETE FROM audit_log WHERE id = 1`, `DELETE FROM audit_log`,
			`TRUNCATE audit_log`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dbURL := pgtest.MustDatabase(t)
			db, err := postgres.Open(ctx, dbURL, postgres.Options{})
			storetest.MustOK(t, err)
			defer db.Close()
			tt.refuse(t, db, func(statement string) error {
				err := pgtest.Exec(ctx, dbURL, statement)
				if pgErr := (*pgconn.PgError)(nil); err != nil && (!errors.As(err, &pgErr) || pgErr.Code != "P0001") {
					t.Errorf("%s: %v, want a trigger's refusal", statement, err)
				}
				return err
			}, tt.statements...)
		})
	}
}
