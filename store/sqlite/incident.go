package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
	sqlite3 "modernc.org/sqlite/lib"
)

// Incidents are written with the statements of sqlq (incident.go there), which both stores share.
// A change is one immediate transaction: SQLite's single write lock orders the writers, so the head
// of the event chain needs no lock of its own.

// textTime binds a time as the fixed-width text the tables keep.
func textTime(t time.Time) any { return formatTime(t) }

func (db *DB) CreateIncident(ctx context.Context, ch *liftrescue.IncidentChange) error {
	return db.saveIncident(ctx, ch, true)
}

func (db *DB) UpdateIncident(ctx context.Context, ch *liftrescue.IncidentChange) error {
	return db.saveIncident(ctx, ch, false)
}

// saveIncident writes the incident of ch, appends its events to the chain and queues its
// notifications, all in one transaction; the caller's values are set once it has committed.
func (db *DB) saveIncident(ctx context.Context, ch *liftrescue.IncidentChange, create bool) error {
	return sqlq.SaveIncident(ch, create, db.stamp(), func(w *sqlq.IncidentWrite) error {
		return db.inTx(ctx, func(tx *sql.Tx) error {
			if err := writeIncident(ctx, tx, w, create); err != nil {
				return err
			}
			return appendChange(ctx, tx, w)
		})
	})
}

// writeIncident inserts the incident, or updates it when the stored version is the one read.
func writeIncident(ctx context.Context, tx *sql.Tx, w *sqlq.IncidentWrite, create bool) error {
	if create {
		var id int64
		if err := tx.QueryRowContext(ctx, sqlq.InsertIncident, w.InsertArgs(textTime)...).Scan(&id); err != nil {
			return alreadyOpen(ctx, tx, w, err)
		}
		w.SetID(id)
		return nil
	}
	res, err := tx.ExecContext(ctx, sqlq.UpdateIncident, w.UpdateArgs(textTime)...)
	if err != nil {
		return alreadyOpen(ctx, tx, w, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate(err)
	} else if n > 0 {
		return nil
	}
	var exists bool
	if err := tx.QueryRowContext(ctx, sqlq.IncidentExists, w.Incident.ID).Scan(&exists); err != nil {
		return translate(err)
	}
	return w.NotSaved(exists)
}

// alreadyOpen explains the failed write of an incident. The one-open-incident index is the only
// unique constraint a write can meet (the id is the table's own), so a unique violation is an
// ECONFLICT naming the incident open on the elevator. The statement alone was undone; the
// transaction goes on and finds it.
func alreadyOpen(ctx context.Context, tx *sql.Tx, w *sqlq.IncidentWrite, err error) error {
	if !isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
		return translate(err)
	}
	var open int64
	lookup := tx.QueryRowContext(ctx, sqlq.OpenIncidentOf, w.Incident.ElevatorID, w.Incident.ID).Scan(&open)
	if lookup != nil && lookup != sql.ErrNoRows {
		return translate(lookup)
	}
	return sqlq.AlreadyOpen(open, err)
}

// appendChange appends the events of w after the head of the chain, moves the head, and queues the
// notifications.
func appendChange(ctx context.Context, tx *sql.Tx, w *sqlq.IncidentWrite) error {
	if len(w.Events) > 0 {
		var seq int64
		var hash string
		if err := tx.QueryRowContext(ctx, sqlq.ChainHead).Scan(&seq, &hash); err != nil {
			return translate(err)
		}
		seq, hash = w.Chain(seq, hash)
		for i := range w.Events {
			if _, err := tx.ExecContext(ctx, sqlq.InsertEvent, sqlq.EventArgs(&w.Events[i], textTime)...); err != nil {
				return translate(err)
			}
		}
		if _, err := tx.ExecContext(ctx, sqlq.SetChainHead, seq, hash); err != nil {
			return translate(err)
		}
	}
	for _, h := range w.TokenHashes() {
		if _, err := tx.ExecContext(ctx, sqlq.InsertToken, h, w.Incident.ID); err != nil {
			return translate(err)
		}
	}
	for i := range w.Notifications {
		n := &w.Notifications[i]
		if err := tx.QueryRowContext(ctx, sqlq.InsertNotification, sqlq.NotificationArgs(n, textTime)...).Scan(&n.ID); err != nil {
			return translate(err)
		}
	}
	return nil
}

// FindIncident reads the incident, its timeline and its notifications in one read transaction.
func (db *DB) FindIncident(ctx context.Context, id int64) (*liftrescue.Incident, error) {
	var inc *liftrescue.Incident
	err := db.reading(ctx, func(tx *sql.Tx) error {
		var err error
		if inc, err = scanIncident(tx.QueryRowContext(ctx, sqlq.FindIncident, id)); err != nil {
			if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
				return sqlq.NoIncident(id)
			}
			return err
		}
		err = each(ctx, tx, scanEvent, func(ev *liftrescue.IncidentEvent) error {
			inc.Timeline = append(inc.Timeline, *ev)
			return nil
		}, sqlq.Timeline, id)
		if err != nil {
			return err
		}
		return each(ctx, tx, scanNotification, func(n *liftrescue.Notification) error {
			inc.Notifications = append(inc.Notifications, *n)
			return nil
		}, sqlq.NotificationsOf, id)
	})
	if err != nil {
		return nil, err
	}
	return inc, nil
}

func (db *DB) ListIncidents(ctx context.Context, f liftrescue.IncidentFilter) (*liftrescue.Page[*liftrescue.Incident], error) {
	w, err := sqlq.Incidents(f)
	if err != nil {
		return nil, err
	}
	return pageOrdered(ctx, db.db, "incidents", w, f.Paging, sqlq.IncidentColumns, scanIncident,
		func(inc *liftrescue.Incident) int64 { return inc.ID }, true)
}

func (db *DB) FindIncidentByToken(ctx context.Context, hash string) (*liftrescue.Incident, error) {
	inc, err := scanIncident(db.db.QueryRowContext(ctx, sqlq.IncidentByToken, hash))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, sqlq.NoToken()
	}
	return inc, err
}

func (db *DB) ChainHead(ctx context.Context) (seq int64, hash string, err error) {
	err = db.db.QueryRowContext(ctx, sqlq.ChainHead).Scan(&seq, &hash)
	return seq, hash, translate(err)
}

func (db *DB) OpenIncidents(ctx context.Context) ([]*liftrescue.Incident, error) {
	return all(ctx, db.db, scanIncident, sqlq.OpenIncidents)
}

// EachIncidentEvent reads the chain in one statement, which reads one snapshot.
func (db *DB) EachIncidentEvent(ctx context.Context, fn func(*liftrescue.IncidentEvent) error) error {
	return each(ctx, db.db, scanEvent, fn, sqlq.AllEvents)
}

func (db *DB) DueNotifications(ctx context.Context, now time.Time, limit int, skip []int64) ([]*liftrescue.Notification, error) {
	query, args, err := sqlq.DueNotifications(now, limit, skip, textTime)
	if err != nil {
		return nil, err
	}
	return all(ctx, db.db, scanNotification, query, args...)
}

func (db *DB) NextNotificationDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullString
	if err := db.db.QueryRowContext(ctx, sqlq.NextNotificationDue).Scan(&next); err != nil || !next.Valid {
		return time.Time{}, false, translate(err)
	}
	t, err := parseTime(next.String)
	return t, err == nil, err
}

func (db *DB) RecordDelivery(ctx context.Context, id int64, r liftrescue.DeliveryResult) error {
	args, err := sqlq.DeliveryArgs(id, r, db.stamp(), textTime)
	if err != nil {
		return err
	}
	res, err := db.db.ExecContext(ctx, sqlq.RecordDelivery, args...)
	if err != nil {
		return translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return sqlq.NoNotification(id)
	}
	return nil
}

// each calls fn with every row of the query, read by scan, as the rows come. It stops at the first
// error of scan or fn, and when ctx ends, and returns that error; fn's is returned as it is.
func each[T any](ctx context.Context, q queryer, scan func(rowScanner) (T, error), fn func(T) error, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		v, err := scan(rows)
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return translate(rows.Err())
}

// all reads every row of the query.
func all[T any](ctx context.Context, q queryer, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	out := []T{}
	if err := each(ctx, q, scan, func(v T) error { out = append(out, v); return nil }, query, args...); err != nil {
		return nil, err
	}
	return out, nil
}

func scanIncident(r rowScanner) (*liftrescue.Incident, error) {
	var id int64
	var version int
	var created, updated, doc string
	if err := r.Scan(&id, &version, &created, &updated, &doc); err != nil {
		return nil, translate(err)
	}
	c, err := parseTime(created)
	if err != nil {
		return nil, err
	}
	u, err := parseTime(updated)
	if err != nil {
		return nil, err
	}
	return sqlq.DecodeIncident(doc, id, version, c, u)
}

func scanEvent(r rowScanner) (*liftrescue.IncidentEvent, error) {
	var ev liftrescue.IncidentEvent
	var at string
	if err := r.Scan(sqlq.EventDest(&ev, &at)...); err != nil {
		return nil, translate(err)
	}
	var err error
	ev.At, err = parseTime(at)
	return &ev, err
}

func scanNotification(r rowScanner) (*liftrescue.Notification, error) {
	var n liftrescue.Notification
	var next, created string
	var delivered sql.NullString
	if err := r.Scan(sqlq.NotificationDest(&n, &next, &created, &delivered)...); err != nil {
		return nil, translate(err)
	}
	var err error
	if n.NextAttemptAt, err = parseTime(next); err != nil {
		return nil, err
	}
	if n.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if delivered.Valid {
		at, err := parseTime(delivered.String)
		if err != nil {
			return nil, err
		}
		n.DeliveredAt = &at
	}
	return &n, nil
}
