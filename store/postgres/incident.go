package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

// Incidents are written with the statements of sqlq (incident.go there), which both stores share,
// numbered for PostgreSQL. A change that appends events locks the head of the chain (FOR UPDATE)
// until it commits, so that appenders take their turns: each links to the event committed before
// it, and seq order is commit order.

// openIncidentIndex is the unique index of migration 0004 that keeps one incident open per elevator.
const openIncidentIndex = "incidents_open_elevator"

// Statements numbered for PostgreSQL once.
var (
	insertIncidentSQL     = sqlq.Dollar(sqlq.InsertIncident)
	updateIncidentSQL     = sqlq.Dollar(sqlq.UpdateIncident)
	insertEventSQL        = sqlq.Dollar(sqlq.InsertEvent)
	insertNotificationSQL = sqlq.Dollar(sqlq.InsertNotification)
	insertTokenSQL        = sqlq.Dollar(sqlq.InsertToken)
	recordDeliverySQL     = sqlq.Dollar(sqlq.RecordDelivery)
)

// timestamptz binds a time as itself.
func timestamptz(t time.Time) any { return t }

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
		err := db.inTx(ctx, func(tx pgx.Tx) error {
			if err := writeIncident(ctx, tx, w, create); err != nil {
				return err
			}
			return appendChange(ctx, tx, w)
		})
		return db.alreadyOpen(ctx, w, err)
	})
}

// writeIncident inserts the incident, or updates it when the stored version is the one read.
func writeIncident(ctx context.Context, tx pgx.Tx, w *sqlq.IncidentWrite, create bool) error {
	if create {
		var id int64
		if err := tx.QueryRow(ctx, insertIncidentSQL, w.InsertArgs(timestamptz)...).Scan(&id); err != nil {
			return translate(err)
		}
		w.SetID(id)
		return nil
	}
	tag, err := tx.Exec(ctx, updateIncidentSQL, w.UpdateArgs(timestamptz)...)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	var exists bool
	if err := tx.QueryRow(ctx, sqlq.Dollar(sqlq.IncidentExists), w.Incident.ID).Scan(&exists); err != nil {
		return translate(err)
	}
	return w.NotSaved(exists)
}

// alreadyOpen turns a violation of the one-open-incident index into the ECONFLICT that names the
// incident open on the elevator. The write's transaction is over, so the open incident is looked up
// anew; in the moment between, it may have been closed, which the error says instead.
func (db *DB) alreadyOpen(ctx context.Context, w *sqlq.IncidentWrite, err error) error {
	var pgErr *pgconn.PgError
	if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "23505" || pgErr.ConstraintName != openIncidentIndex {
		return err
	}
	var open int64
	lookup := db.pool.QueryRow(ctx, sqlq.Dollar(sqlq.OpenIncidentOf), w.Incident.ElevatorID, w.Incident.ID).Scan(&open)
	if lookup != nil && !errors.Is(lookup, pgx.ErrNoRows) {
		return translate(lookup)
	}
	return sqlq.AlreadyOpen(open, err)
}

// appendChange appends the events of w after the head of the chain, which it holds locked to the
// commit, moves the head, and queues the notifications. Everything after reading the head goes in
// one batch, one round trip: the head stays locked for as short a time as the network allows, and
// it is read last, after the incident's own write, for the same reason.
func appendChange(ctx context.Context, tx pgx.Tx, w *sqlq.IncidentWrite) error {
	batch := &pgx.Batch{}
	if len(w.Events) > 0 {
		var seq int64
		var hash string
		if err := tx.QueryRow(ctx, sqlq.ChainHead+` FOR UPDATE`).Scan(&seq, &hash); err != nil {
			return translate(err)
		}
		seq, hash = w.Chain(seq, hash)
		for i := range w.Events {
			batch.Queue(insertEventSQL, sqlq.EventArgs(&w.Events[i], timestamptz)...)
		}
		batch.Queue(sqlq.Dollar(sqlq.SetChainHead), seq, hash)
	}
	for _, h := range w.TokenHashes() {
		batch.Queue(insertTokenSQL, h, w.Incident.ID)
	}
	for i := range w.Notifications {
		n := &w.Notifications[i]
		batch.Queue(insertNotificationSQL, sqlq.NotificationArgs(n, timestamptz)...).QueryRow(func(row pgx.Row) error {
			return row.Scan(&n.ID)
		})
	}
	if batch.Len() == 0 {
		return nil
	}
	return translate(tx.SendBatch(ctx, batch).Close())
}

// FindIncident reads the incident, its timeline and its notifications from one snapshot.
func (db *DB) FindIncident(ctx context.Context, id int64) (*liftrescue.Incident, error) {
	var inc *liftrescue.Incident
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if inc, err = one(tx.QueryRow(ctx, sqlq.Dollar(sqlq.FindIncident), id), scanIncident, "no incident has the id %d", id); err != nil {
			return err
		}
		timeline, err := all(ctx, tx, scanEvent, sqlq.Dollar(sqlq.Timeline), id)
		if err != nil {
			return err
		}
		notifications, err := all(ctx, tx, scanNotification, sqlq.Dollar(sqlq.NotificationsOf), id)
		if err != nil {
			return err
		}
		for _, ev := range timeline {
			inc.Timeline = append(inc.Timeline, *ev)
		}
		for _, n := range notifications {
			inc.Notifications = append(inc.Notifications, *n)
		}
		return nil
	})
	if err != nil {
		return nil, translate(err)
	}
	return inc, nil
}

func (db *DB) ListIncidents(ctx context.Context, f liftrescue.IncidentFilter) (*liftrescue.Page[*liftrescue.Incident], error) {
	w, err := sqlq.Incidents(f)
	if err != nil {
		return nil, err
	}
	return pageOrdered(ctx, db.pool, "incidents", w, f.Paging, sqlq.IncidentColumns, scanIncident,
		func(inc *liftrescue.Incident) int64 { return inc.ID }, true)
}

func (db *DB) FindIncidentByToken(ctx context.Context, hash string) (*liftrescue.Incident, error) {
	inc, err := scanIncident(db.pool.QueryRow(ctx, sqlq.Dollar(sqlq.IncidentByToken), hash))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, sqlq.NoToken()
	}
	return inc, err
}

func (db *DB) ChainHead(ctx context.Context) (seq int64, hash string, err error) {
	err = db.pool.QueryRow(ctx, sqlq.ChainHead).Scan(&seq, &hash)
	return seq, hash, translate(err)
}

func (db *DB) OpenIncidents(ctx context.Context) ([]*liftrescue.Incident, error) {
	return all(ctx, db.pool, scanIncident, sqlq.OpenIncidents)
}

// EachIncidentEvent reads the chain in one statement, which reads one snapshot. When fn stops early,
// the rest of the rows are drained by closing them.
func (db *DB) EachIncidentEvent(ctx context.Context, fn func(*liftrescue.IncidentEvent) error) error {
	rows, err := db.pool.Query(ctx, sqlq.AllEvents)
	if err != nil {
		return translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		ev, err := scanEvent(rows)
		if err != nil {
			return err
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return translate(rows.Err())
}

func (db *DB) DueNotifications(ctx context.Context, now time.Time, limit int, skip []int64) ([]*liftrescue.Notification, error) {
	query, args, err := sqlq.DueNotifications(now, limit, skip, timestamptz)
	if err != nil {
		return nil, err
	}
	return all(ctx, db.pool, scanNotification, sqlq.Dollar(query), args...)
}

func (db *DB) NextNotificationDue(ctx context.Context) (time.Time, bool, error) {
	var next *time.Time
	if err := db.pool.QueryRow(ctx, sqlq.NextNotificationDue).Scan(&next); err != nil || next == nil {
		return time.Time{}, false, translate(err)
	}
	return *next, true, nil
}

func (db *DB) RecordDelivery(ctx context.Context, id int64, r liftrescue.DeliveryResult) error {
	args, err := sqlq.DeliveryArgs(id, r, db.stamp(), timestamptz)
	if err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, recordDeliverySQL, args...)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return sqlq.NoNotification(id)
	}
	return nil
}

func scanIncident(r rowScanner) (*liftrescue.Incident, error) {
	var id int64
	var version int
	var created, updated time.Time
	var doc string
	if err := r.Scan(&id, &version, &created, &updated, &doc); err != nil {
		return nil, translate(err)
	}
	return sqlq.DecodeIncident(doc, id, version, created, updated)
}

func scanEvent(r rowScanner) (*liftrescue.IncidentEvent, error) {
	var ev liftrescue.IncidentEvent
	if err := r.Scan(sqlq.EventDest(&ev, &ev.At)...); err != nil {
		return nil, translate(err)
	}
	return &ev, nil
}

func scanNotification(r rowScanner) (*liftrescue.Notification, error) {
	var n liftrescue.Notification
	if err := r.Scan(sqlq.NotificationDest(&n, &n.NextAttemptAt, &n.CreatedAt, &n.DeliveredAt)...); err != nil {
		return nil, translate(err)
	}
	return &n, nil
}
