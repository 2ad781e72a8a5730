package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

// Terminals are written with the statements of sqlq (terminal.go there), which both stores share.
// A write is one immediate transaction, so the elevator it checks stays until it commits.

func (db *DB) PutTerminal(ctx context.Context, t *liftrescue.Terminal) (bool, error) {
	return sqlq.PutTerminal(t, db.stamp(), func(w *liftrescue.Terminal) (created bool, err error) {
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			switch err := tx.QueryRowContext(ctx, sqlq.ElevatorOfTerminal, w.ElevatorID).Scan(&w.EquipmentCode, &w.District); {
			case errors.Is(err, sql.ErrNoRows):
				return sqlq.NoTerminalElevator(w.ElevatorID)
			case err != nil:
				return translate(err)
			}
			res, err := tx.ExecContext(ctx, sqlq.InsertTerminal, sqlq.TerminalArgs(w, textTime)...)
			if err != nil {
				return translate(err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return translate(err)
			}
			if created = n == 1; created {
				return nil
			}
			// The write lock held since the insert keeps the terminal there.
			return translate(tx.QueryRowContext(ctx, sqlq.ReplaceTerminal, sqlq.ReplaceTerminalArgs(w, textTime)...).
				Scan(timeText{&w.CreatedAt}, nullTimeText{&w.LastSeen}))
		})
		return created, err
	})
}

func (db *DB) FindTerminal(ctx context.Context, id string) (*liftrescue.Terminal, error) {
	if !sqlq.IsStorable(id) {
		return nil, sqlq.NoTerminal(id)
	}
	t, err := scanTerminal(db.db.QueryRowContext(ctx, sqlq.FindTerminal, id))
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
	ts, err := all(ctx, db.db, scanTerminal, query, args...)
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
	return db.execOne(ctx, sqlq.NoTerminal(id), sqlq.DeleteTerminal, id)
}

func (db *DB) TouchTerminals(ctx context.Context, seen map[string]time.Time) error {
	args := sqlq.TouchTerminalArgs(seen, textTime)
	if len(args) == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		for _, a := range args {
			if _, err := tx.ExecContext(ctx, sqlq.TouchTerminal, a...); err != nil {
				return translate(err)
			}
		}
		return nil
	})
}

func scanTerminal(r rowScanner) (*liftrescue.Terminal, error) {
	var t liftrescue.Terminal
	if err := r.Scan(sqlq.TerminalDest(&t, timeText{&t.CreatedAt}, timeText{&t.UpdatedAt}, nullTimeText{&t.LastSeen})...); err != nil {
		return nil, translate(err)
	}
	return &t, nil
}
