package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

// positionSelect is the order in which every statement here writes and reads a position: the
// table's own order (see migration 0002).
const positionSelect = `vehicle_id, time, received_at, lat, lon, speed_kmh, heading, accuracy_m, altitude_m, battery, flags, alarm`

// positionsLock is the advisory lock that orders batches and deletes of vehicles (see migration
// 0002, whose trigger names the same key): "liftposn" in ASCII. It must never change.
const positionsLock int64 = 0x6c696674706f736e

// copyChunk is how many rows one COPY carries. PostgreSQL before 17 records the slot of each row
// that a COPY buffers (up to 1,000) with its resource owner, in a hash keyed by the tuple
// descriptor, which is the same for every row, so each row probes past all the earlier ones:
// quadratic in the rows of one COPY, a sixth of the server's time in a COPY of 1,000. Two COPYs
// of 500 in the one transaction cost a round trip more and half the probes; measured, they beat
// one of 1,000 and four of 250.
const copyChunk = 500

// AppendPositions writes the batch with COPY in one transaction. Holding positionsLock shared, it
// checks the vehicles of the batch, once each, where a foreign key would check them once per
// row; vehicles already seen to exist since the last delete of a vehicle are not asked about
// again.
func (db *DB) AppendPositions(ctx context.Context, ps []liftrescue.Position) error {
	if len(ps) == 0 {
		return nil
	}
	if err := sqlq.CheckPositions(ps); err != nil {
		return err
	}
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	ids := sqlq.VehicleIDs(ps)
	return db.inTx(ctx, func(tx pgx.Tx) error {
		// Statements in one round trip; the epoch is read once the lock is held, so it sees
		// every delete of vehicles that was committed while the lock was awaited.
		var epoch int64
		b := &pgx.Batch{}
		// The commit does not wait for the WAL to reach the disk: a crash of PostgreSQL may lose
		// the last few hundred milliseconds of positions (3 × wal_writer_delay at most), which
		// the ingest's own flush interval already allows a crash to lose, and never leaves a
		// batch half-written. Waiting for the flush would make every writer idle through it.
		b.Queue(`SET LOCAL synchronous_commit TO off`)
		b.Queue(`SELECT pg_advisory_xact_lock_shared($1)`, positionsLock)
		b.Queue(`SELECT epoch FROM vehicle_deletions`).QueryRow(func(r pgx.Row) error { return r.Scan(&epoch) })
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return translate(err)
		}
		if unknown := db.vehicles.unknown(epoch, ids); len(unknown) > 0 {
			missing, err := missingVehicles(ctx, tx, unknown)
			if err != nil {
				return err
			}
			if err := sqlq.NoVehicle(ps, missing); err != nil {
				return err
			}
			db.vehicles.add(epoch, unknown)
		}
		for start := 0; start < len(ps); start += copyChunk {
			*buf = encodePositions((*buf)[:0], ps[start:min(start+copyChunk, len(ps))])
			if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(*buf), copyPositions); err != nil {
				return translate(err)
			}
		}
		return nil
	})
}

// missingVehicles returns those of ids that name no vehicle. The subquery probes the primary key
// once for each id, so the cost follows the batch, where a join would read every vehicle.
func missingVehicles(ctx context.Context, q querier, ids []int64) ([]int64, error) {
	rows, err := q.Query(ctx, `SELECT b.id FROM unnest($1::bigint[]) AS b (id)
		WHERE (SELECT v.id FROM vehicles v WHERE v.id = b.id) IS NULL ORDER BY b.id`, ids)
	if err != nil {
		return nil, translate(err)
	}
	missing, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	return missing, translate(err)
}

// knownVehicles are vehicles that an append found to exist, valid while the epoch of
// vehicle_deletions, which every delete of vehicles increments, stays the same. Between the
// shared positionsLock and the commit no delete can increment it, so a batch that reads the epoch
// under the lock may trust what was known at that epoch; other instances' deletes count too.
type knownVehicles struct {
	mu    sync.Mutex
	epoch int64
	ids   map[int64]struct{}
}

// unknown returns those of ids not known to exist at the epoch.
func (k *knownVehicles) unknown(epoch int64, ids []int64) []int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if epoch != k.epoch {
		return ids
	}
	var out []int64
	for _, id := range ids {
		if _, ok := k.ids[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// add records that the vehicles exist at the epoch; a later epoch forgets the earlier one's.
func (k *knownVehicles) add(epoch int64, ids []int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case epoch < k.epoch:
		return
	case epoch > k.epoch || k.ids == nil:
		k.epoch, k.ids = epoch, make(map[int64]struct{}, len(ids))
	}
	for _, id := range ids {
		k.ids[id] = struct{}{}
	}
}

var copyBuffers = sync.Pool{New: func() any { return new([]byte) }}

// copyPositions names the columns in the order encodePositions writes them.
const copyPositions = `COPY positions (` + positionSelect + `) FROM STDIN (FORMAT binary)`

// pgEpoch is where PostgreSQL counts timestamps from, in Unix microseconds.
const pgEpoch = 946_684_800_000_000

// encodePositions appends ps to b in PostgreSQL's binary COPY format: a header, then each row as its field count and each field as its length (-1 for
// NULL) and its bytes, then a trailer. By hand, since it is the whole of the client's work in an
// append, where pgx's general encoder looks up a plan for every value.
func encodePositions(b []byte, ps []liftrescue.Position) []byte {
	b = append(b, "PGCOPY\n\xff\r\n\x00"...)
	b = binary.BigEndian.AppendUint32(b, 0) // flags
	b = binary.BigEndian.AppendUint32(b, 0) // header extension
	i64 := func(b []byte, v int64) []byte {
		return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(b, 8), uint64(v))
	}
	f64 := func(b []byte, f float64) []byte {
		if math.IsNaN(f) { // an unknown measure is NULL, as in SQLite, although PostgreSQL could keep the NaN
			return binary.BigEndian.AppendUint32(b, 0xffffffff)
		}
		return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(b, 8), math.Float64bits(f))
	}
	for i := range ps {
		p := &ps[i]
		b = binary.BigEndian.AppendUint16(b, 12)
		b = i64(b, p.VehicleID)
		// timestamptz is microseconds since 2000; UnixMicro truncates, as the SQLite store does.
		b = i64(b, p.Time.UnixMicro()-pgEpoch)
		b = i64(b, p.ReceivedAt.UnixMicro()-pgEpoch)
		b = f64(b, p.Lat)
		b = f64(b, p.Lon)
		b = f64(b, p.SpeedKmh)
		b = f64(b, p.Heading)
		b = f64(b, p.AccuracyM)
		b = f64(b, p.AltitudeM)
		b = f64(b, p.Battery)
		b = i64(b, int64(p.Flags))
		b = binary.BigEndian.AppendUint32(b, uint32(len(p.Alarm)))
		b = append(b, p.Alarm...)
	}
	return binary.BigEndian.AppendUint16(b, 0xffff) // trailer
}

func scanPosition(r rowScanner) (liftrescue.Position, error) {
	var p liftrescue.Position
	var flags int64
	var speed, heading, accuracy, altitude, battery pgtype.Float8
	if err := r.Scan(&p.VehicleID, &p.Time, &p.ReceivedAt, &p.Lat, &p.Lon, &speed, &heading, &accuracy, &altitude, &battery, &flags, &p.Alarm); err != nil {
		return p, translate(err)
	}
	p.Flags = uint64(flags)
	p.SpeedKmh, p.Heading, p.AccuracyM, p.AltitudeM, p.Battery = orNaN(speed), orNaN(heading), orNaN(accuracy), orNaN(altitude), orNaN(battery)
	return p, nil
}

func orNaN(f pgtype.Float8) float64 {
	if !f.Valid {
		return liftrescue.Unknown
	}
	return f.Float64
}

func (db *DB) Track(ctx context.Context, vehicleID int64, from, to time.Time, limit int) ([]liftrescue.Position, error) {
	limit, err := sqlq.TrackLimit(from, to, limit)
	if err != nil {
		return nil, err
	}
	out, err := all(ctx, db.pool, scanPosition, `SELECT `+positionSelect+` FROM positions
		WHERE vehicle_id = $1 AND time >= $2 AND time < $3 ORDER BY time LIMIT $4`, vehicleID, from, to, limit)
	if err != nil || len(out) > 0 {
		return out, err
	}
	// Only an empty track costs the second look, at whether the vehicle exists.
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM vehicles WHERE id = $1)`, vehicleID).Scan(&exists); err != nil {
		return nil, translate(err)
	}
	if !exists {
		return nil, sqlq.NoSuchVehicle(vehicleID)
	}
	return []liftrescue.Position{}, nil
}

// LatestPositions reads each vehicle's newest position from the end of its range of
// positions_vehicle_time, one index probe per vehicle, rather than going through the whole
// history as DISTINCT ON would.
func (db *DB) LatestPositions(ctx context.Context) ([]liftrescue.Position, error) {
	out, err := all(ctx, db.pool, scanPosition, `SELECT p.* FROM vehicles v
		CROSS JOIN LATERAL (SELECT `+positionSelect+` FROM positions WHERE vehicle_id = v.id ORDER BY time DESC LIMIT 1) p
		ORDER BY v.id`)
	if out == nil && err == nil {
		out = []liftrescue.Position{}
	}
	return out, err
}

// DeletePositionsBefore deletes in one statement: under MVCC a long delete holds up no COPY.
// Naming every vehicle lets the planner take one range of positions_vehicle_time per vehicle
// when little is old, instead of reading the whole history; the foreign key's cascade means that
// every position has its vehicle.
func (db *DB) DeletePositionsBefore(ctx context.Context, t time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM positions WHERE vehicle_id = ANY (ARRAY(SELECT id FROM vehicles)) AND time < $1`, t)
	if err != nil {
		return 0, translate(err)
	}
	return tag.RowsAffected(), nil
}
