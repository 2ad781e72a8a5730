package postgres

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

// positionsLock is the advisory lock that orders batches and deletes of vehicles (see migrations
// 0002 and 0008, whose trigger function names the same key): "liftposn" in ASCII. It must never
// change.
const positionsLock int64 = 0x6c696674706f736e

// copyChunk is how many rows one COPY carries. PostgreSQL before 17 records the slot of each row
// that a COPY buffers (up to 1,000) with its resource owner, in a hash keyed by the tuple
// descriptor, which is the same for every row, so each row probes past all the earlier ones:
// quadratic in the rows of one COPY, a sixth of the server's time in a COPY of 1,000. Two COPYs
// of 500 in the one transaction cost a round trip more and half the probes; measured, they beat
// one of 1,000 and four of 250.
const copyChunk = 500

// AppendPositions cuts the batch into runs (see migration 0008) and writes them with COPY in one
// transaction. Holding positionsLock shared, it checks the vehicles of the batch, once each, where
// a foreign key would check them once per row; vehicles already seen to exist since the last
// delete of a vehicle are not asked about again.
func (db *DB) AppendPositions(ctx context.Context, ps []liftrescue.Position) error {
	if len(ps) == 0 {
		return nil
	}
	if err := sqlq.CheckPositions(ps); err != nil {
		return err
	}
	buf := copyBuffers.Get().(*runBuffers)
	defer copyBuffers.Put(buf)
	buf.cut(ps)
	ids := buf.vehicles
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
		for _, c := range [...]struct {
			runs []run
			sql  string
		}{{buf.singles, copySingles}, {buf.runs, copyRuns}} {
			for i := 0; i < len(c.runs); i += copyChunk {
				buf.copy = buf.encode(buf.copy[:0], ps, c.runs[i:min(i+copyChunk, len(c.runs))])
				if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(buf.copy), c.sql); err != nil {
					return translate(err)
				}
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

var copyBuffers = sync.Pool{New: func() any { return new(runBuffers) }}

// runFixes is the most fixes one row of position_runs holds (see migration 0008, which cuts the
// rows it moves the same way).
const runFixes = 20

// runBuffers cut a batch into runs and encode them; one append reuses what the last left.
type runBuffers struct {
	fixes    []runFix // the batch in order of vehicle and time
	singles  []run    // runs of one fix
	runs     []run    // runs of more
	vehicles []int64  // the distinct vehicles of the batch, ascending
	copy     []byte
}

// runFix is a position of a batch by the keys that place it in a run.
type runFix struct {
	vehicle, us int64 // us: the time in Unix microseconds, as the database keeps it
	i           int32 // index in the batch
}

// run is fixes[start:end] of runBuffers: a row of position_runs, its newest fix last.
type run struct{ start, end int32 }

// minuteOf is the minute (in Unix microseconds) in which the time us falls: rounded down, before
// 1970 too, as migration 0008 computes it.
func minuteOf(us int64) int64 {
	m := us - us%60_000_000
	if us%60_000_000 < 0 {
		m -= 60_000_000
	}
	return m
}

// cut orders the batch by vehicle and time, ties in the order of the batch, and cuts it into runs
// of one vehicle and one minute, at most runFixes each.
func (rb *runBuffers) cut(ps []liftrescue.Position) {
	rb.fixes = rb.fixes[:0]
	for i := range ps {
		rb.fixes = append(rb.fixes, runFix{ps[i].VehicleID, ps[i].Time.UnixMicro(), int32(i)})
	}
	order := func(a, b runFix) int {
		if c := cmp.Compare(a.vehicle, b.vehicle); c != 0 {
			return c
		}
		if c := cmp.Compare(a.us, b.us); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	}
	// A batch that comes in this order costs one pass to see it.
	if !slices.IsSortedFunc(rb.fixes, order) {
		slices.SortFunc(rb.fixes, order)
	}
	rb.singles, rb.runs, rb.vehicles = rb.singles[:0], rb.runs[:0], rb.vehicles[:0]
	start := 0
	for i := 1; i <= len(rb.fixes); i++ {
		if i < len(rb.fixes) && rb.fixes[i].vehicle == rb.fixes[start].vehicle && i-start < runFixes &&
			minuteOf(rb.fixes[i].us) == minuteOf(rb.fixes[start].us) {
			continue
		}
		if v := rb.fixes[start].vehicle; len(rb.vehicles) == 0 || rb.vehicles[len(rb.vehicles)-1] != v {
			rb.vehicles = append(rb.vehicles, v)
		}
		if i-start == 1 {
			rb.singles = append(rb.singles, run{int32(start), int32(i)})
		} else {
			rb.runs = append(rb.runs, run{int32(start), int32(i)})
		}
		start = i
	}
}

// copySingles and copyRuns name the columns in the order encode writes them, of runs of one fix
// and of more. A run of one fix leaves the arrays out, and so NULL: it costs the wire and the
// server what a row of migration 0002's table did.
const (
	copySingles = `COPY position_runs (vehicle_id, time, received_at, lat, lon, speed_kmh, heading, accuracy_m,
	altitude_m, battery, flags, alarm) FROM STDIN (FORMAT binary)`
	copyRuns = `COPY position_runs (vehicle_id, time, received_at, lat, lon, speed_kmh, heading, accuracy_m,
	altitude_m, battery, flags, alarm, earlier_time, earlier_received_at, earlier_lat, earlier_lon,
	earlier_speed_kmh, earlier_heading, earlier_accuracy_m, earlier_altitude_m, earlier_battery,
	earlier_flags, earlier_alarm) FROM STDIN (FORMAT binary)`
)

// pgEpoch is where PostgreSQL counts timestamps from, in Unix microseconds.
const pgEpoch = 946_684_800_000_000

// Element types of the arrays, by OID.
const (
	oidInt8        = 20
	oidText        = 25
	oidFloat8      = 701
	oidTimestamptz = 1184
)

// encode appends the runs, all of one fix or all of more, to b in PostgreSQL's binary COPY format: a header, then each row as its
// field count and each field as its length (-1 for NULL) and its bytes, then a trailer; an array
// is its dimensions and then its elements, each as a field. By hand, since it is the whole of the
// client's work in an append, where pgx's general encoder looks up a plan for every value.
func (rb *runBuffers) encode(b []byte, ps []liftrescue.Position, runs []run) []byte {
	b = append(b, "PGCOPY\n\xff\r\n\x00"...)
	b = be32(b, 0) // flags
	b = be32(b, 0) // header extension
	for _, r := range runs {
		newest := rb.fixes[r.end-1]
		p := &ps[newest.i]
		earlier := rb.fixes[r.start : r.end-1]
		if len(earlier) == 0 {
			b = binary.BigEndian.AppendUint16(b, 12)
		} else {
			b = binary.BigEndian.AppendUint16(b, 23)
		}
		b = i64(b, newest.vehicle)
		// timestamptz is microseconds since 2000; UnixMicro truncates, as the SQLite store does.
		b = i64(b, newest.us-pgEpoch)
		b = i64(b, p.ReceivedAt.UnixMicro()-pgEpoch)
		for k := range measures {
			b = f64(b, measure(p, k))
		}
		b = i64(b, int64(p.Flags))
		b = be32(b, uint32(len(p.Alarm)))
		b = append(b, p.Alarm...)

		if len(earlier) == 0 {
			continue
		}
		// A loop per array keeps each loop's work to one field.
		var at int
		b, at = beginArray(b, oidTimestamptz, len(earlier))
		for _, f := range earlier {
			b = i64(b, f.us-pgEpoch)
		}
		b = endArray(b, at)
		b, at = beginArray(b, oidTimestamptz, len(earlier))
		for _, f := range earlier {
			b = i64(b, ps[f.i].ReceivedAt.UnixMicro()-pgEpoch)
		}
		b = endArray(b, at)
		for k := range measures {
			b, at = beginArray(b, oidFloat8, len(earlier))
			for _, f := range earlier {
				b = f64(b, measure(&ps[f.i], k))
			}
			b = endArray(b, at)
		}
		b, at = beginArray(b, oidInt8, len(earlier))
		for _, f := range earlier {
			b = i64(b, int64(ps[f.i].Flags))
		}
		b = endArray(b, at)
		b, at = beginArray(b, oidText, len(earlier))
		for _, f := range earlier {
			b = be32(b, uint32(len(ps[f.i].Alarm)))
			b = append(b, ps[f.i].Alarm...)
		}
		b = endArray(b, at)
	}
	return binary.BigEndian.AppendUint16(b, 0xffff) // trailer
}

// measures is how many float columns a position has: those of measure, in the order of copyRuns.
const measures = 7

// measure returns the float column k of p.
func measure(p *liftrescue.Position, k int) float64 {
	switch k {
	case 0:
		return p.Lat
	case 1:
		return p.Lon
	case 2:
		return p.SpeedKmh
	case 3:
		return p.Heading
	case 4:
		return p.AccuracyM
	case 5:
		return p.AltitudeM
	default:
		return p.Battery
	}
}

func be32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

// i64 appends an 8-byte field.
func i64(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(be32(b, 8), uint64(v))
}

// f64 appends a float8 field; NaN, an unknown measure, is NULL, as in SQLite, although
// PostgreSQL could keep the NaN.
func f64(b []byte, f float64) []byte {
	if math.IsNaN(f) {
		return be32(b, 0xffffffff)
	}
	return binary.BigEndian.AppendUint64(be32(b, 8), math.Float64bits(f))
}

// beginArray appends the head of a one-dimensional array field of n elements of the type oid and
// returns where its length goes, which endArray fills in.
func beginArray(b []byte, oid uint32, n int) ([]byte, int) {
	at := len(b)
	b = be32(b, 0)   // the field's length, for endArray
	b = be32(b, 1)   // dimensions
	b = be32(b, 0)   // "has NULLs": the server works that out for itself
	b = be32(b, oid) // element type
	b = be32(b, uint32(n))
	b = be32(b, 1) // lower bound
	return b, at
}

func endArray(b []byte, at int) []byte {
	binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	return b
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

// Track reads the vehicle's rows from from on and orders their fixes here, where the server would
// have to unnest each row's arrays into rows and sort them: decoding the arrays costs the client
// less than that costs the server, and they come over the wire in fewer bytes than rows would.
//
// A row's fixes are of the minute of its time, the newest, and its earlier ones come oldest first
// (see migration 0008), so:
//   - counting along the rows of [from, to) in order of time, each row's own fix, and its earlier
//     ones when the oldest is at from or after, counts fixes of the track; where the count reaches
//     limit, at the row of time bound, the track's first limit fixes are all at bound or before
//     it: before cut, bound's next microsecond (or to, if the count never gets there);
//   - a fix before cut is in a row whose time is before cut, or whose oldest fix is, and whose
//     time is before the end of the minute of cut's previous microsecond: until.
//
// So the rows read are about limit fixes' worth, where reading every row of [from, to) would take
// a long range whole however small the limit. The count reads at most limit rows.
func (db *DB) Track(ctx context.Context, vehicleID int64, from, to time.Time, limit int) ([]liftrescue.Position, error) {
	limit, err := sqlq.TrackLimit(from, to, limit)
	if err != nil {
		return nil, err
	}
	args := []any{pgx.QueryResultFormats{pgx.BinaryFormatCode}, vehicleID, from, to, limit}
	if db.pool.Config().ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeSimpleProtocol {
		// The simple protocol gives text; the extended one without a prepared statement (which
		// connection poolers accept) gives the binary that decodeRun reads.
		args = append([]any{pgx.QueryExecModeExec}, args...)
	}
	rows, err := db.pool.Query(ctx, `WITH cut AS MATERIALIZED (
			SELECT t, date_bin('1 minute', t - interval '1 microsecond', timestamptz 'epoch') + interval '1 minute' AS until
			FROM (SELECT coalesce((
				SELECT time + interval '1 microsecond' FROM (
					SELECT time, sum(CASE WHEN earlier_time[1] >= $2 THEN 1 + cardinality(earlier_time) ELSE 1 END)
						OVER (ORDER BY time ROWS UNBOUNDED PRECEDING) AS fixes
					FROM (SELECT time, earlier_time FROM position_runs
						WHERE vehicle_id = $1 AND time >= $2 AND time < $3 ORDER BY time LIMIT $4) first
				) counted
				WHERE fixes >= $4 ORDER BY time LIMIT 1), $3) AS t) bound
		)
		SELECT `+runColumns+` FROM position_runs
		WHERE vehicle_id = $1 AND time >= $2 AND time < (SELECT until FROM cut)
			AND (time < (SELECT t FROM cut) OR earlier_time[1] < (SELECT t FROM cut))`, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []liftrescue.Position{}
	span := [2]int64{from.UnixMicro(), to.UnixMicro()}
	for rows.Next() {
		if out, err = decodeRun(out, vehicleID, rows.RawValues(), span); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	if len(out) > 0 {
		slices.SortStableFunc(out, func(a, b liftrescue.Position) int { return a.Time.Compare(b.Time) })
		return out[:min(len(out), limit)], nil
	}
	// Only an empty track costs the second look, at whether the vehicle exists.
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM vehicles WHERE id = $1)`, vehicleID).Scan(&exists); err != nil {
		return nil, translate(err)
	}
	if !exists {
		return nil, sqlq.NoSuchVehicle(vehicleID)
	}
	return out, nil
}

// runColumns are the columns of a row of position_runs in the order decodeRun reads them.
const runColumns = `time, received_at, lat, lon, speed_kmh, heading, accuracy_m, altitude_m, battery, flags, alarm,
	earlier_time, earlier_received_at, earlier_lat, earlier_lon, earlier_speed_kmh, earlier_heading,
	earlier_accuracy_m, earlier_altitude_m, earlier_battery, earlier_flags, earlier_alarm`

// decodeRun appends to out the fixes of the vehicle's row raw (runColumns in PostgreSQL's binary
// format) that were taken in [span[0], span[1]) (Unix microseconds), the earlier ones first.
func decodeRun(out []liftrescue.Position, vehicle int64, raw [][]byte, span [2]int64) ([]liftrescue.Position, error) {
	if len(raw) != 22 {
		return out, fmt.Errorf("read position_runs: %d columns, want 22", len(raw))
	}
	var earlier [11]arrayReader
	for k := range earlier {
		if err := earlier[k].start(raw[11+k]); err != nil {
			return out, fmt.Errorf("read position_runs: column %d: %w", 12+k, err)
		}
		if earlier[k].n != earlier[0].n {
			return out, fmt.Errorf("read position_runs: arrays of %d and %d fixes in a row", earlier[0].n, earlier[k].n)
		}
	}
	var fix [11][]byte // the columns of one fix, as in runColumns
	for j := 0; j <= earlier[0].n; j++ {
		if j == earlier[0].n {
			copy(fix[:], raw[:11]) // the newest
		} else {
			for k := range earlier {
				var err error
				if fix[k], err = earlier[k].next(); err != nil {
					return out, fmt.Errorf("read position_runs: column %d: %w", 12+k, err)
				}
			}
		}
		if len(fix[0]) != 8 || len(fix[1]) != 8 || len(fix[9]) != 8 {
			return out, errors.New("read position_runs: a time or flags that is not 8 bytes")
		}
		us := int64(binary.BigEndian.Uint64(fix[0])) + pgEpoch
		if us < span[0] || us >= span[1] {
			continue
		}
		out = append(out, liftrescue.Position{
			VehicleID: vehicle,
			Fix: liftrescue.Fix{Time: time.UnixMicro(us).UTC(), Lat: float(fix[2]), Lon: float(fix[3]),
				SpeedKmh: float(fix[4]), Heading: float(fix[5]), AccuracyM: float(fix[6]), AltitudeM: float(fix[7]),
				Battery: float(fix[8]), Flags: binary.BigEndian.Uint64(fix[9]), Alarm: string(fix[10])},
			ReceivedAt: time.UnixMicro(int64(binary.BigEndian.Uint64(fix[1])) + pgEpoch).UTC(),
		})
	}
	return out, nil
}

// float reads a float8 in binary; NULL, an unknown measure, is NaN.
func float(b []byte) float64 {
	if len(b) != 8 {
		return liftrescue.Unknown
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b))
}

// arrayReader reads the elements of a one-dimensional array in PostgreSQL's binary format: its
// dimensions, then each element as its length (-1 for NULL) and its bytes.
type arrayReader struct {
	b []byte // the elements not yet read
	n int    // how many elements the array has
}

var errShortArray = errors.New("an array shorter than it says")

// start reads the head of the array b; NULL, or no dimension, is an array of no element.
func (r *arrayReader) start(b []byte) error {
	*r = arrayReader{}
	if len(b) == 0 {
		return nil
	}
	if len(b) < 12 {
		return errShortArray
	}
	switch dims := binary.BigEndian.Uint32(b); {
	case dims == 0:
		return nil
	case dims != 1:
		return fmt.Errorf("an array of %d dimensions", dims)
	case len(b) < 20:
		return errShortArray
	}
	// Dimensions, the NULL flag and the element type, then the length and lower bound.
	r.n, r.b = int(binary.BigEndian.Uint32(b[12:])), b[20:]
	return nil
}

// next returns the next element's bytes, nil for NULL.
func (r *arrayReader) next() ([]byte, error) {
	if len(r.b) < 4 {
		return nil, errShortArray
	}
	n := int32(binary.BigEndian.Uint32(r.b))
	r.b = r.b[4:]
	switch {
	case n < 0:
		return nil, nil
	case int(n) > len(r.b):
		return nil, errShortArray
	}
	e := r.b[:n]
	r.b = r.b[n:]
	return e, nil
}

// positionSelect is the order in which scanPosition reads a position: the columns of a row's
// newest fix.
const positionSelect = `vehicle_id, time, received_at, lat, lon, speed_kmh, heading, accuracy_m, altitude_m, battery, flags, alarm`

// LatestPositions reads each vehicle's newest fix from the end of its range of
// position_runs_vehicle_time, one index probe per vehicle, rather than going through the whole
// history as DISTINCT ON would. A row's newest fix is in its columns, not its arrays.
func (db *DB) LatestPositions(ctx context.Context) ([]liftrescue.Position, error) {
	out, err := all(ctx, db.pool, scanPosition, `SELECT p.* FROM vehicles v
		CROSS JOIN LATERAL (SELECT `+positionSelect+` FROM position_runs WHERE vehicle_id = v.id ORDER BY time DESC LIMIT 1) p
		ORDER BY v.id`)
	if out == nil && err == nil {
		out = []liftrescue.Position{}
	}
	return out, err
}

// DeletePositionsBefore deletes in one statement: under MVCC a long delete holds up no COPY.
// Rows whose newest fix is before t go whole; rows from t on whose minute began before t, which
// may hold earlier fixes before t, are written again without those. Naming every vehicle lets the
// planner take one range of position_runs_vehicle_time per vehicle when little is old, instead of
// reading the whole history; the cascade means that every row has its vehicle.
func (db *DB) DeletePositionsBefore(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `WITH gone AS (
			DELETE FROM position_runs
			WHERE vehicle_id = ANY (ARRAY(SELECT id FROM vehicles)) AND time < $1
			RETURNING 1 + coalesce(cardinality(earlier_time), 0) AS n
		), kept AS (
			-- The earlier fixes from t on of each row that has some before t, in their order.
			SELECT r.ctid AS run, count(*) FILTER (WHERE e.time < $1) AS n,
				array_agg(e.time ORDER BY e.i) FILTER (WHERE e.time >= $1) AS time,
				array_agg(e.received_at ORDER BY e.i) FILTER (WHERE e.time >= $1) AS received_at,
				array_agg(e.lat ORDER BY e.i) FILTER (WHERE e.time >= $1) AS lat,
				array_agg(e.lon ORDER BY e.i) FILTER (WHERE e.time >= $1) AS lon,
				array_agg(e.speed_kmh ORDER BY e.i) FILTER (WHERE e.time >= $1) AS speed_kmh,
				array_agg(e.heading ORDER BY e.i) FILTER (WHERE e.time >= $1) AS heading,
				array_agg(e.accuracy_m ORDER BY e.i) FILTER (WHERE e.time >= $1) AS accuracy_m,
				array_agg(e.altitude_m ORDER BY e.i) FILTER (WHERE e.time >= $1) AS altitude_m,
				array_agg(e.battery ORDER BY e.i) FILTER (WHERE e.time >= $1) AS battery,
				array_agg(e.flags ORDER BY e.i) FILTER (WHERE e.time >= $1) AS flags,
				array_agg(e.alarm ORDER BY e.i) FILTER (WHERE e.time >= $1) AS alarm
			FROM position_runs r
			CROSS JOIN LATERAL unnest(r.earlier_time, r.earlier_received_at, r.earlier_lat, r.earlier_lon,
				r.earlier_speed_kmh, r.earlier_heading, r.earlier_accuracy_m, r.earlier_altitude_m,
				r.earlier_battery, r.earlier_flags, r.earlier_alarm) WITH ORDINALITY
				AS e (time, received_at, lat, lon, speed_kmh, heading, accuracy_m, altitude_m, battery, flags, alarm, i)
			WHERE r.vehicle_id = ANY (ARRAY(SELECT id FROM vehicles))
				AND r.time >= $1 AND r.time < $1 + interval '1 minute'
				AND date_bin('1 minute', r.time, timestamptz 'epoch') < $1
			GROUP BY r.ctid
			HAVING count(*) FILTER (WHERE e.time < $1) > 0
		), cut AS (
			UPDATE position_runs r SET earlier_time = k.time, earlier_received_at = k.received_at,
				earlier_lat = k.lat, earlier_lon = k.lon, earlier_speed_kmh = k.speed_kmh,
				earlier_heading = k.heading, earlier_accuracy_m = k.accuracy_m, earlier_altitude_m = k.altitude_m,
				earlier_battery = k.battery, earlier_flags = k.flags, earlier_alarm = k.alarm
			FROM kept k WHERE r.ctid = k.run
			RETURNING k.n
		)
		SELECT ((SELECT coalesce(sum(n), 0) FROM gone) + (SELECT coalesce(sum(n), 0) FROM cut))::bigint`, t).Scan(&n)
	if err != nil {
		return 0, translate(err)
	}
	return n, nil
}
