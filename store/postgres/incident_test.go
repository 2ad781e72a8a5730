package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/liftrescue/liftrescue/store/postgres"
	"github.com/liftrescue/liftrescue/store/postgres/pgtest"
	"github.com/liftrescue/liftrescue/store/storetest"
)

// The database itself refuses to change or remove an event of the chain, whoever asks: its
// triggers raise an exception (raise_exception, P0001), TRUNCATE included.
func TestIncidentEventsAppendOnly(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.MustDatabase(t)
	db, err := postgres.Open(ctx, dbURL, postgres.Options{})
	storetest.MustOK(t, err)
	defer db.Close()
	storetest.MustRefuseEventChanges(t, db, func(statement string) error {
		err := pgtest.Exec(ctx, dbURL, statement)
		if pgErr := (*pgconn.PgError)(nil); err != nil && (!errors.As(err, &pgErr) || pgErr.Code != "P0001") {
			t.Errorf("%s: %v, want a trigger's refusal", statement, err)
		}
		return err
	}, `UPDATE incident_events SET text = 'changed' WHERE seq = 1`, `UPDATE incident_events SET hash = ''`,
		`DELETE FROM incident_events WHERE seq = 2`, `DELETE FROM incident_events`, `TRUNCATE incident_events`,
		`TRUNCATE incidents CASCADE`)
}
