package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

// Faults are written with the statements of sqlq (terminal.go there), which both stores share. A
// batch is one immediate transaction, which holds the write lock from the check of its elevators
// to the commit, so that no elevator goes in between; the foreign key checks each row again.

// AppendFaults inserts the faults one by one with a statement prepared once, each returning its id:
// a batch of 1,000 takes some 35 ms (BenchmarkAppendFaults1000).
func (db *DB) AppendFaults(ctx context.Context, fs []*liftrescue.Fault) error {
	return sqlq.AppendFaults(fs, func(w []liftrescue.Fault) error {
		return db.inTx(ctx, func(tx *sql.Tx) error {
			found, err := elevatorsIn(ctx, tx, sqlq.ElevatorsInArgs(w))
			if err != nil {
				return err
			}
			if err := sqlq.FaultElevators(w, found); err != nil {
				return err
			}
			insert, err := tx.PrepareContext(ctx, sqlq.InsertFault)
			if err != nil {
				return translate(err)
			}
			defer insert.Close()
			for i := range w {
				if err := insert.QueryRowContext(ctx, sqlq.FaultArgs(&w[i], textTime)...).Scan(&w[i].ID); err != nil {
					return translate(err)
				}
			}
			return nil
		})
	})
}

func (db *DB) AddFaultRepeats(ctx context.Context, rs []liftrescue.FaultRepeat) error {
	if len(rs) == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		for _, args := range sqlq.AddFaultRepeatArgs(rs, textTime) {
			if _, err := tx.ExecContext(ctx, sqlq.AddFaultRepeat, args...); err != nil {
				return translate(err)
			}
		}
		return nil
	})
}

// ListFaults reads the page and, when the page does not tell, the total from one snapshot.
func (db *DB) ListFaults(ctx context.Context, f liftrescue.FaultFilter) (*liftrescue.Page[*liftrescue.Fault], error) {
	l, err := sqlq.ListFaults(f, textTime)
	if err != nil {
		return nil, err
	}
	var page *liftrescue.Page[*liftrescue.Fault]
	err = db.reading(ctx, func(tx *sql.Tx) error {
		items, err := all(ctx, tx, scanFault, l.Query, l.Args...)
		if err != nil {
			return err
		}
		page, err = l.Page(items, func() (n int, err error) {
			err = translate(tx.QueryRowContext(ctx, l.Count, l.CountArgs...).Scan(&n))
			return
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

func (db *DB) CountFaults(ctx context.Context, since time.Time, atLeast int) ([]liftrescue.FaultCount, error) {
	return all(ctx, db.db, func(r rowScanner) (c liftrescue.FaultCount, err error) {
		err = translate(r.Scan(sqlq.FaultCountDest(&c, timeText{&c.LastAt})...))
		return
	}, countFaultsSQL, sqlq.CountFaultsArgs(since, atLeast, textTime)...)
}

// countFaultsSQL names the index to read. Left to itself, SQLite reads every fault through
// faults_elevator, which gives them in the order of the GROUP BY, rather than the period's counting
// faults through faults_counting and sort those: with 300,000 faults over a year, a month's count
// was ten times faster this way in a trial.
var countFaultsSQL = sqlq.CountFaults(`faults INDEXED BY faults_counting`)

// elevatorsIn says which of the elevators named (ids, int64 each) exist.
func elevatorsIn(ctx context.Context, q queryer, ids []any) (map[int64]bool, error) {
	found := make(map[int64]bool, len(ids))
	err := each(ctx, q, func(r rowScanner) (id int64, err error) {
		err = translate(r.Scan(&id))
		return
	}, func(id int64) error {
		found[id] = true
		return nil
	}, sqlq.ElevatorsIn(len(ids)), ids...)
	return found, err
}

func scanFault(r rowScanner) (*liftrescue.Fault, error) {
	var f liftrescue.Fault
	var state *string
	if err := r.Scan(sqlq.FaultDest(&f, &state, timeText{&f.FirstAt}, timeText{&f.LastAt})...); err != nil {
		return nil, translate(err)
	}
	return &f, sqlq.DecodeState(&f, state)
}
