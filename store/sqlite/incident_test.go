package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/sqlite"
	"github.com/liftrescue/liftrescue/store/storetest"
	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The database itself refuses to change or remove an event of the chain or an entry of the audit
// log, whoever asks: its triggers abort the statement.
func TestAppendOnlyTables(t *testing.T) {
	for _, tt := range []struct {
		name       string
		refuse     func(*testing.T, liftrescue.Store, func(string) error, ...string)
		statements []string
	}{
		{"incident_events", storetest.MustRefuseEventChanges, []string{`UPDATE incident_events SET text = 'changed' WHERE seq = 1`,
			`UPDATE incident_events SET hash = ''`, `DELETE FROM incident_events WHERE seq = 2`, `DELETE FROM incident_events`}},
		{"audit_log", storetest.MustRefuseAuditChanges, []string{`UPDATE audit_log SET status = 200 WHERE id = 2`,
			`UPDATE audit_log SET actor_name = 'nobody'`, `DELETE FROM audit_log WHERE id = 1`, `DELETE FROM audit_log`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "liftrescue.db")
			db, err := sqlite.Open(ctx, path, sqlite.Options{})
			storetest.MustOK(t, err)
			defer db.Close()
			raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
			storetest.MustOK(t, err)
			defer raw.Close()
			tt.refuse(t, db, func(statement string) error {
				_, err := raw.ExecContext(ctx, statement)
				if se := (*sqlitedriver.Error)(nil); err != nil && (!errors.As(err, &se) || se.Code() != sqlite3.SQLITE_CONSTRAINT_TRIGGER) {
					t.Errorf("%s: %v, want a trigger's refusal", statement, err)
				}
				return err
			}, tt.statements...)
		})
	}
}

// Whoever gets past the triggers (dropping them takes the database's owner) still cannot change
// the record unseen: the chain names the first event that no longer matches, and a removed
// event leaves a gap it names too.
func TestVerifyChainFindsTampering(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "liftrescue.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	storetest.MustOK(t, err)
	defer db.Close()
	now := time.Date(2026, 11, 21, 2, 30, 0, 0, time.UTC)
	ch := &liftrescue.IncidentChange{Incident: &liftrescue.Incident{ElevatorID: 1, District: "370402", State: liftrescue.IncidentNotified, Tier: 1, ReportedAt: now}}
	for i, kind := range []string{"opened", "notified", "notified", "deadline_missed"} {
		ch.Events = append(ch.Events, liftrescue.IncidentEvent{Kind: kind, At: now.Add(time.Duration(i) * time.Second),
			Actor: liftrescue.Actor{Kind: liftrescue.ActorSystem, Name: "test"}, State: liftrescue.IncidentNotified, Text: "passengers trapped"})
	}
	storetest.MustOK(t, db.CreateIncident(ctx, ch))
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	storetest.MustOK(t, err)
	defer raw.Close()
	r, err := liftrescue.VerifyChain(ctx, db)
	storetest.MustOK(t, err)
	if r.Broken != nil || r.Events != 4 {
		t.Fatalf("before tampering: %+v, want 4 events whole", r)
	}
	for _, tc := range []struct {
		statements []string
		seq        int64
		reason     string
	}{
		{[]string{`DROP TRIGGER incident_events_no_update`, `UPDATE incident_events SET text = 'nobody was trapped' WHERE seq = 3`}, 3, "does not match its hash"},
		{[]string{`UPDATE incident_events SET text = 'passengers trapped' WHERE seq = 3`, `UPDATE incident_events SET prev_hash = hash WHERE seq = 4`}, 4, "names"},
		{[]string{`UPDATE incident_events SET prev_hash = (SELECT hash FROM incident_events WHERE seq = 3) WHERE seq = 4`,
			`DROP TRIGGER incident_events_no_delete`, `DELETE FROM incident_events WHERE seq = 4`}, 4, "removed from its end"},
		{[]string{`DELETE FROM incident_events WHERE seq = 2`}, 3, "missing"},
	} {
		for _, s := range tc.statements {
			_, err := raw.ExecContext(ctx, s)
			storetest.MustOK(t, err)
		}
		r, err := liftrescue.VerifyChain(ctx, db)
		storetest.MustOK(t, err)
		if r.Broken == nil || r.Broken.Seq != tc.seq || !strings.Contains(r.Broken.Reason, tc.reason) {
			t.Errorf("after %q: broken = %+v, want event %d: %s", tc.statements, r.Broken, tc.seq, tc.reason)
		}
	}
}
