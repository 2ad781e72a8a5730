package sqlite

import (
	"context"
	"database/sql"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

// positionColumns is the order in which every statement here writes and reads a position.
const positionColumns = `vehicle_id, time, received_at, lat, lon, speed_kmh, heading, accuracy_m, altitude_m, battery, alarm, flags`

const positionArgs = 12

// positionsPerInsert is how many rows one INSERT of a batch carries: 1,200 parameters, well
// within SQLite's limit of 32,766.
const positionsPerInsert = 100

// positionInserts keeps the prepared multi-row INSERT of each row count, so that a batch prepares
// nothing: a full statement of positionsPerInsert rows, and one for each size of a batch's tail.
type positionInserts struct {
	mu    sync.Mutex
	stmts map[int]*sql.Stmt
}

func (pi *positionInserts) get(ctx context.Context, db *sql.DB, rows int) (*sql.Stmt, error) {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	if s, ok := pi.stmts[rows]; ok {
		return s, nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO positions (` + positionColumns + `) VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?,?,?,?,?,?,?,?,?,?,?,?)`)
	}
	s, err := db.PrepareContext(ctx, b.String())
	if err != nil {
		return nil, translate(err)
	}
	if pi.stmts == nil {
		pi.stmts = map[int]*sql.Stmt{}
	}
	pi.stmts[rows] = s
	return s, nil
}

func (pi *positionInserts) close() {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	for _, s := range pi.stmts {
		s.Close()
	}
	pi.stmts = nil
}

// AppendPositions writes the batch in one immediate transaction, which holds the write lock from
// the check of the vehicles to the commit, so that no vehicle goes in between; the foreign key
// checks each row again.
func (db *DB) AppendPositions(ctx context.Context, ps []liftrescue.Position) error {
	if len(ps) == 0 {
		return nil
	}
	if err := sqlq.CheckPositions(ps); err != nil {
		return err
	}
	// Prepared before the transaction: preparing takes a connection of its own.
	var full, tail *sql.Stmt
	var err error
	if len(ps) >= positionsPerInsert {
		if full, err = db.inserts.get(ctx, db.db, positionsPerInsert); err != nil {
			return err
		}
	}
	if n := len(ps) % positionsPerInsert; n > 0 {
		if tail, err = db.inserts.get(ctx, db.db, n); err != nil {
			return err
		}
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		missing, err := missingVehicles(ctx, tx, sqlq.VehicleIDs(ps))
		if err != nil {
			return err
		}
		if err := sqlq.NoVehicle(ps, missing); err != nil {
			return err
		}
		args := make([]any, 0, min(len(ps), positionsPerInsert)*positionArgs)
		var stmt *sql.Stmt
		for start := 0; start < len(ps); start += positionsPerInsert {
			chunk := ps[start:min(start+positionsPerInsert, len(ps))]
			switch {
			case len(chunk) < positionsPerInsert:
				stmt = tx.StmtContext(ctx, tail)
			case stmt == nil:
				stmt = tx.StmtContext(ctx, full)
			}
			args = args[:0]
			for i := range chunk {
				args = appendPositionArgs(args, &chunk[i])
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				return translate(err)
			}
		}
		return nil
	})
}

// missingVehicles returns those of ids that name no vehicle. The ids go in as one JSON array, so
// that a batch of any size is one statement.
func missingVehicles(ctx context.Context, q queryer, ids []int64) ([]int64, error) {
	b := make([]byte, 0, len(ids)*8+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	b = append(b, ']')
	rows, err := q.QueryContext(ctx, `SELECT value FROM json_each(?) WHERE value NOT IN (SELECT id FROM vehicles)`, string(b))
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var missing []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, translate(err)
		}
		missing = append(missing, id)
	}
	return missing, translate(rows.Err())
}

func appendPositionArgs(args []any, p *liftrescue.Position) []any {
	return append(args, p.VehicleID, micros(p.Time), micros(p.ReceivedAt), p.Lat, p.Lon,
		nullFloat(p.SpeedKmh), nullFloat(p.Heading), nullFloat(p.AccuracyM), nullFloat(p.AltitudeM), nullFloat(p.Battery),
		p.Alarm, int64(p.Flags))
}

// micros is how the positions table keeps a time (see migration 0002): microseconds since the
// epoch, which truncates as formatTime does.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullFloat stores an unknown measure (NaN) as NULL.
func nullFloat(f float64) any {
	if math.IsNaN(f) {
		return nil
	}
	return f
}

func scanPosition(r rowScanner) (liftrescue.Position, error) {
	var p liftrescue.Position
	var t, received, flags int64
	var speed, heading, accuracy, altitude, battery sql.NullFloat64
	if err := r.Scan(&p.VehicleID, &t, &received, &p.Lat, &p.Lon, &speed, &heading, &accuracy, &altitude, &battery, &p.Alarm, &flags); err != nil {
		return p, translate(err)
	}
	p.Time, p.ReceivedAt, p.Flags = fromMicros(t), fromMicros(received), uint64(flags)
	p.SpeedKmh, p.Heading, p.AccuracyM, p.AltitudeM, p.Battery = orNaN(speed), orNaN(heading), orNaN(accuracy), orNaN(altitude), orNaN(battery)
	return p, nil
}

func orNaN(f sql.NullFloat64) float64 {
	if !f.Valid {
		return liftrescue.Unknown
	}
	return f.Float64
}

func collectPositions(ctx context.Context, q queryer, query string, args ...any) ([]liftrescue.Position, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []liftrescue.Position{}
	for rows.Next() {
		p, err := scanPosition(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, translate(rows.Err())
}

func (db *DB) Track(ctx context.Context, vehicleID int64, from, to time.Time, limit int) ([]liftrescue.Position, error) {
	limit, err := sqlq.TrackLimit(from, to, limit)
	if err != nil {
		return nil, err
	}
	out, err := collectPositions(ctx, db.db, `SELECT `+positionColumns+` FROM positions
		WHERE vehicle_id = ? AND time >= ? AND time < ? ORDER BY time LIMIT ?`, vehicleID, micros(from), micros(to), limit)
	if err != nil || len(out) > 0 {
		return out, err
	}
	// Only an empty track costs the second look, at whether the vehicle exists.
	var exists bool
	if err := db.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM vehicles WHERE id = ?)`, vehicleID).Scan(&exists); err != nil {
		return nil, translate(err)
	}
	if !exists {
		return nil, sqlq.NoSuchVehicle(vehicleID)
	}
	return out, nil
}

// LatestPositions looks up each vehicle's newest position at the end of its range of
// positions_vehicle_time, rather than grouping the whole history.
func (db *DB) LatestPositions(ctx context.Context) ([]liftrescue.Position, error) {
	return collectPositions(ctx, db.db, `SELECT `+qualified("p", positionColumns)+` FROM vehicles v
		JOIN positions p ON p.rowid = (SELECT rowid FROM positions WHERE vehicle_id = v.id ORDER BY time DESC LIMIT 1)
		ORDER BY v.id`)
}

// qualified puts alias. before each of the comma-separated columns.
func qualified(alias, columns string) string {
	return alias + "." + strings.ReplaceAll(columns, ", ", ", "+alias+".")
}

// deleteChunk bounds the rows that one retention transaction deletes, so that ingest, which needs
// the same write lock, waits milliseconds for it rather than seconds.
const deleteChunk = 5000

// DeletePositionsBefore deletes vehicle by vehicle, each a range of positions_vehicle_time, in
// transactions of at most deleteChunk rows. An error may come after some positions went; the count
// says how many, and running it again finishes the job.
func (db *DB) DeletePositionsBefore(ctx context.Context, t time.Time) (int64, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id FROM vehicles ORDER BY id`)
	if err != nil {
		return 0, translate(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, translate(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, translate(err)
	}
	var total int64
	for _, id := range ids {
		for {
			res, err := db.db.ExecContext(ctx, `DELETE FROM positions WHERE rowid IN
				(SELECT rowid FROM positions WHERE vehicle_id = ? AND time < ? LIMIT ?)`, id, micros(t), deleteChunk)
			if err != nil {
				return total, translate(err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return total, translate(err)
			}
			total += n
			if n < deleteChunk {
				break
			}
		}
	}
	return total, nil
}
