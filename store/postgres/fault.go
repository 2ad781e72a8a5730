package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

// Faults are written with the statements of sqlq (terminal.go there), which both stores share,
// numbered for PostgreSQL.

// Statements numbered for PostgreSQL once.
var (
	insertFaultSQL    = sqlq.Dollar(sqlq.InsertFault)
	addFaultRepeatSQL = sqlq.Dollar(sqlq.AddFaultRepeat)
	countFaultsSQL    = sqlq.Dollar(sqlq.CountFaults(`faults`))
)

// AppendFaults checks and locks the elevators of the batch (FOR KEY SHARE), so that none is
// deleted before the batch commits, then sends every insert in one batch, one round trip, each
// returning its id.
func (db *DB) AppendFaults(ctx context.Context, fs []*liftrescue.Fault) error {
	return sqlq.AppendFaults(fs, func(w []liftrescue.Fault) error {
		return db.inTx(ctx, func(tx pgx.Tx) error {
			found, err := elevatorsIn(ctx, tx, sqlq.ElevatorsInArgs(w))
			if err != nil {
				return err
			}
			if err := sqlq.FaultElevators(w, found); err != nil {
				return err
			}
			batch := &pgx.Batch{}
			for i := range w {
				batch.Queue(insertFaultSQL, sqlq.FaultArgs(&w[i], timestamptz)...).QueryRow(func(row pgx.Row) error {
					return row.Scan(&w[i].ID)
				})
			}
			return translate(tx.SendBatch(ctx, batch).Close())
		})
	})
}

// AddFaultRepeats sends every update in one batch, one round trip; the updates lock the faults in
// ascending id order.
func (db *DB) AddFaultRepeats(ctx context.Context, rs []liftrescue.FaultRepeat) error {
	if len(rs) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, args := range sqlq.AddFaultRepeatArgs(rs, timestamptz) {
		batch.Queue(addFaultRepeatSQL, args...)
	}
	return db.inTx(ctx, func(tx pgx.Tx) error { return tx.SendBatch(ctx, batch).Close() })
}

// ListFaults reads the page and, when the page does not tell, the total from one snapshot.
func (db *DB) ListFaults(ctx context.Context, f liftrescue.FaultFilter) (*liftrescue.Page[*liftrescue.Fault], error) {
	l, err := sqlq.ListFaults(f, timestamptz)
	if err != nil {
		return nil, err
	}
	var page *liftrescue.Page[*liftrescue.Fault]
	err = pgx.BeginTxFunc(ctx, db.pool, snapshot, func(tx pgx.Tx) error {
		items, err := all(ctx, tx, scanFault, sqlq.Dollar(l.Query), l.Args...)
		if err != nil {
			return err
		}
		page, err = l.Page(items, func() (n int, err error) {
			err = translate(tx.QueryRow(ctx, sqlq.Dollar(l.Count), l.CountArgs...).Scan(&n))
			return
		})
		return err
	})
	if err != nil {
		return nil, translate(err)
	}
	return page, nil
}

func (db *DB) CountFaults(ctx context.Context, since time.Time, atLeast int) ([]liftrescue.FaultCount, error) {
	counts, err := all(ctx, db.pool, func(r rowScanner) (c liftrescue.FaultCount, err error) {
		err = translate(r.Scan(sqlq.FaultCountDest(&c, &c.LastAt)...))
		return
	}, countFaultsSQL, sqlq.CountFaultsArgs(since, atLeast, timestamptz)...)
	if err != nil {
		return nil, err
	}
	if counts == nil {
		counts = []liftrescue.FaultCount{}
	}
	return counts, nil
}

// elevatorsIn says which of the elevators named (ids, int64 each) exist, and locks those that do
// until the transaction ends.
func elevatorsIn(ctx context.Context, q querier, ids []any) (map[int64]bool, error) {
	found, err := all(ctx, q, func(r rowScanner) (id int64, err error) {
		err = translate(r.Scan(&id))
		return
	}, sqlq.Dollar(sqlq.ElevatorsIn(len(ids))+sqlq.ForKeyShare), ids...)
	if err != nil {
		return nil, err
	}
	set := make(map[int64]bool, len(found))
	for _, id := range found {
		set[id] = true
	}
	return set, nil
}

func scanFault(r rowScanner) (*liftrescue.Fault, error) {
	var f liftrescue.Fault
	var state *string
	if err := r.Scan(sqlq.FaultDest(&f, &state, &f.FirstAt, &f.LastAt)...); err != nil {
		return nil, translate(err)
	}
	return &f, sqlq.DecodeState(&f, state)
}
