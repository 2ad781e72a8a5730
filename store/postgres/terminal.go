package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

// Terminals are written with the statements of sqlq (terminal.go there), which both stores share,
// numbered for PostgreSQL. A write locks the elevator it names (FOR KEY SHARE) when it checks that
// it exists, so that the elevator stays until the write commits.

// Statements numbered for PostgreSQL once.
var (
	elevatorOfTerminalSQL = sqlq.Dollar(sqlq.ElevatorOfTerminal + sqlq.ForKeyShare)
	insertTerminalSQL     = sqlq.Dollar(sqlq.InsertTerminal)
	replaceTerminalSQL    = sqlq.Dollar(sqlq.ReplaceTerminal)
	findTerminalSQL       = sqlq.Dollar(sqlq.FindTerminal)
	deleteTerminalSQL     = sqlq.Dollar(sqlq.DeleteTerminal)
	touchTerminalSQL      = sqlq.Dollar(sqlq.TouchTerminal)
)

// putTerminalAttempts bounds how often PutTerminal goes back to inserting a terminal that was
// deleted between its insert, which found the terminal there, and its update.
const putTerminalAttempts = 3

// PutTerminal inserts the terminal unless one has its id, and else replaces it. Each statement
// sees what was committed before it began (READ COMMITTED): an insert that finds the id taken
// waits for the writer that took it, and the update then finds the terminal, unless it was
// deleted in between, when the insert is tried again.
func (db *DB) PutTerminal(ctx context.Context, t *liftrescue.Terminal) (bool, error) {
	return sqlq.PutTerminal(t, db.stamp(), func(w *liftrescue.Terminal) (created bool, err error) {
		err = db.inTx(ctx, func(tx pgx.Tx) error {
			switch err := tx.QueryRow(ctx, elevatorOfTerminalSQL, w.ElevatorID).Scan(&w.EquipmentCode, &w.District); {
			case errors.Is(err, pgx.ErrNoRows):
				return sqlq.NoTerminalElevator(w.ElevatorID)
			case err != nil:
				return translate(err)
			}
			for range putTerminalAttempts {
				tag, err := tx.Exec(ctx, insertTerminalSQL, sqlq.TerminalArgs(w, timestamptz)...)
				if err != nil {
					return translate(err)
				}
				if created = tag.RowsAffected() == 1; created {
					return nil
				}
				err = tx.QueryRow(ctx, replaceTerminalSQL, sqlq.ReplaceTerminalArgs(w, timestamptz)...).Scan(&w.CreatedAt, &w.LastSeen)
				if !errors.Is(err, pgx.ErrNoRows) {
					return translate(err)
				}
			}
			return sqlq.TerminalChanged(w.ID)
		})
		return created, err
	})
}

func (db *DB) FindTerminal(ctx context.Context, id string) (*liftrescue.Terminal, error) {
	if !sqlq.IsStorable(id) {
		return nil, sqlq.NoTerminal(id)
	}
	t, err := scanTerminal(db.pool.QueryRow(ctx, findTerminalSQL, id))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, sqlq.NoTerminal(id)
	}
	return t, err
}

func (db *DB) ListTerminals(ctx context.Context, f liftrescue.TerminalFilter) ([]*liftrescue.Terminal, bool, error) {
	query, args, limit, err := sqlq.ListTerminals(f)
	if err != nil {
		return nil, false, err
	}
	ts, err := all(ctx, db.pool, scanTerminal, sqlq.Dollar(query), args...)
	if err != nil {
		return nil, false, err
	}
	ts, more := sqlq.PageTerminals(ts, limit)
	return ts, more, nil
}

func (db *DB) DeleteTerminal(ctx context.Context, id string) error {
	if !sqlq.IsStorable(id) {
		return sqlq.NoTerminal(id)
	}
	return db.execOne(ctx, sqlq.NoTerminal(id), deleteTerminalSQL, id)
}

// TouchTerminals sends every update in one batch, one round trip.
func (db *DB) TouchTerminals(ctx context.Context, seen map[string]time.Time) error {
	args := sqlq.TouchTerminalArgs(seen, timestamptz)
	if len(args) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, a := range args {
		batch.Queue(touchTerminalSQL, a...)
	}
	return db.inTx(ctx, func(tx pgx.Tx) error { return tx.SendBatch(ctx, batch).Close() })
}

func scanTerminal(r rowScanner) (*liftrescue.Terminal, error) {
	var t liftrescue.Terminal
	if err := r.Scan(sqlq.TerminalDest(&t, &t.CreatedAt, &t.UpdatedAt, &t.LastSeen)...); err != nil {
		return nil, translate(err)
	}
	return &t, nil
}
