package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
)

// eachElevatorPositionSQL reads the covering index of migration 0003, about 30 bytes an elevator,
// rather than the table's rows of over 300; INDEXED BY keeps the planner from choosing otherwise
// and fails loudly should the index be missing.
const eachElevatorPositionSQL = `SELECT id, lon, lat FROM elevators INDEXED BY elevators_id_position ORDER BY id`

// EachElevatorPosition reads the elevators in one statement, which reads one snapshot: in WAL mode
// its read transaction lasts until its rows are closed, and writers do not wait for it.
//
// It talks to the driver's connection directly: database/sql's Scan converts each value through
// reflection, and at a million rows that was a quarter of the time. The driver hands values over as
// int64 and float64, whatever the column's declared type, for the values SQLite holds as INTEGER
// and REAL; the columns are NOT NULL and lon and lat have REAL affinity.
func (db *DB) EachElevatorPosition(ctx context.Context, fn func(id int64, lon, lat float64) error) error {
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return translate(err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("sqlite: the driver's connection %T cannot query", dc)
		}
		rows, err := q.QueryContext(ctx, eachElevatorPositionSQL, nil)
		if err != nil {
			return translate(err)
		}
		defer rows.Close()
		done := ctx.Done()
		row := make([]driver.Value, 3)
		for {
			if err := rows.Next(row); err == io.EOF {
				return nil
			} else if err != nil {
				return translate(err)
			}
			id, ok1 := row[0].(int64)
			lon, ok2 := row[1].(float64)
			lat, ok3 := row[2].(float64)
			if !ok1 || !ok2 || !ok3 {
				return fmt.Errorf("sqlite: elevator position %v of types %T, %T, %T", row, row[0], row[1], row[2])
			}
			select {
			case <-done:
				return ctx.Err()
			default:
			}
			if err := fn(id, lon, lat); err != nil {
				return err
			}
		}
	})
}
