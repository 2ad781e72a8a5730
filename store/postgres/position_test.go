package postgres_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/postgres"
	"github.com/liftrescue/liftrescue/store/postgres/pgtest"
	"github.com/liftrescue/liftrescue/store/storetest"
)

// BenchmarkAppendPositions1000 writes batches of 1,000 fixes from 1,000 vehicles, one fix of
// each, from one writer and from four at once, into a fresh database each: the worst case of the
// history, with nothing of a vehicle's to share a row.
func BenchmarkAppendPositions1000(b *testing.B) {
	for _, writers := range []int{1, 4} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			benchmarkAppendPositions(b, writers, 1000, 1000)
		})
	}
}

// BenchmarkAppendPositions1000Runs writes batches of 1,000 fixes in which each vehicle has
// several: 20 of each of 50 vehicles, 5 of each of 200.
func BenchmarkAppendPositions1000Runs(b *testing.B) {
	for _, vehicles := range []int{50, 200} {
		for _, writers := range []int{1, 4} {
			b.Run(fmt.Sprintf("vehicles=%d/writers=%d", vehicles, writers), func(b *testing.B) {
				benchmarkAppendPositions(b, writers, 1000, vehicles)
			})
		}
	}
}

// BenchmarkAppendPositions50000 writes the flushes of the end-to-end benchmark: 10,000 vehicles
// reporting 50 fixes a second, 5 fixes of each in a flush of 50,000, from one writer and two.
func BenchmarkAppendPositions50000(b *testing.B) {
	for _, writers := range []int{1, 2} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			benchmarkAppendPositions(b, writers, 50_000, 10_000)
		})
	}
}

// BenchmarkTrack reads a vehicle's track from a history of 10 vehicles that reported 50 fixes a
// second for 2,000 seconds, flushed every second: the whole of it (limit 100,000, the most a
// track gives), and 100 fixes from the middle of it.
func BenchmarkTrack(b *testing.B) {
	ctx := context.Background()
	db := MustOpen(b, nil)
	ids := storetest.MustVehicles(b, db, 10)
	at := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	for sec := range 2000 {
		batch := storetest.PositionBatch(ids, 500, at.Add(time.Duration(sec)*time.Second))
		for i := range batch {
			batch[i].Time = batch[i].Time.Add(time.Duration(i/len(ids)) * 20 * time.Millisecond)
		}
		storetest.MustOK(b, db.AppendPositions(ctx, batch))
	}
	for _, tt := range []struct {
		name     string
		from, to time.Time
		limit    int
	}{
		{"whole", at, at.Add(time.Hour), 0},
		{"limit=100", at.Add(1000500 * time.Millisecond), at.Add(time.Hour), 100},
	} {
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				ps, err := db.Track(ctx, ids[3], tt.from, tt.to, tt.limit)
				storetest.MustOK(b, err)
				if want := min(100_000, cmp.Or(tt.limit, 100_000)); len(ps) != want {
					b.Fatalf("%d positions, want %d", len(ps), want)
				}
			}
		})
	}
}

// benchmarkAppendPositions runs storetest.BenchmarkAppendPositionsOf on a fresh database. Besides
// fixes/s, which on a shared machine says as much about the neighbours as about the store, it
// reports the CPU time that the appends cost, per fix: the server's (the database's backends, read
// from /proc when the server runs on this machine) and the client's (this process).
func benchmarkAppendPositions(b *testing.B, writers, size, vehicles int) {
	dbURL := pgtest.MustDatabase(b)
	db, err := postgres.Open(context.Background(), dbURL, postgres.Options{})
	storetest.MustOK(b, err)
	b.Cleanup(func() { db.Close() })
	s := &cpuStore{DB: db, dbURL: dbURL}
	storetest.BenchmarkAppendPositionsOf(b, s, writers, size, vehicles)
	if s.server == nil {
		return
	}
	server, client := s.cpu(b)
	fixes := float64(b.N * writers * size)
	if server > 0 {
		b.ReportMetric(float64(server.Nanoseconds())/1e3/fixes, "server-µs/fix")
	}
	b.ReportMetric(float64(client.Nanoseconds())/1e3/fixes, "client-µs/fix")
}

// cpuStore takes the CPU times of the server's backends and of this process at the first append,
// after the benchmark's setup.
type cpuStore struct {
	*postgres.DB
	dbURL  string
	once   sync.Once
	server map[int]time.Duration // by backend pid
	client time.Duration
}

func (s *cpuStore) AppendPositions(ctx context.Context, ps []liftrescue.Position) error {
	s.once.Do(func() { s.server, s.client = backendCPU(ctx, s.dbURL), processCPU() })
	return s.DB.AppendPositions(ctx, ps)
}

// cpu returns the CPU time spent since the first append by the backends and by this process.
func (s *cpuStore) cpu(tb testing.TB) (server, client time.Duration) {
	for pid, t := range backendCPU(context.Background(), s.dbURL) {
		server += t - s.server[pid]
	}
	return server, processCPU() - s.client
}

// backendCPU reads the CPU time of every client backend of the database from /proc; none when
// the server runs elsewhere.
func backendCPU(ctx context.Context, dbURL string) map[int]time.Duration {
	out := map[int]time.Duration{}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return out
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`)
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return out
	}
	for _, pid := range pids {
		if t, ok := procCPU(fmt.Sprintf("/proc/%d/stat", pid)); ok {
			out[int(pid)] = t
		}
	}
	return out
}

// processCPU is the CPU time of this process so far.
func processCPU() time.Duration {
	t, _ := procCPU("/proc/self/stat")
	return t
}

// procCPU reads utime and stime from a /proc/<pid>/stat file, in clock ticks of 10 ms.
func procCPU(path string) (time.Duration, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	// The fields after the command, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// Vehicles deleted while batches are written, by this instance or another, take their history
// with them, and no batch leaves positions of a deleted vehicle behind: each batch either fails
// naming the vehicle or commits before the vehicle's history is deleted.
func TestAppendPositionsRacesDeleteVehicle(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.MustDatabase(t)
	var dbs [2]*postgres.DB
	for i := range dbs {
		db, err := postgres.Open(ctx, dbURL, postgres.Options{})
		storetest.MustOK(t, err)
		defer db.Close()
		dbs[i] = db
	}
	const vehicles = 40
	ids := storetest.MustVehicles(t, dbs[0], vehicles)
	at := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	// Both instances know every vehicle before the deletes begin.
	for _, db := range dbs {
		storetest.MustOK(t, db.AppendPositions(ctx, storetest.PositionBatch(ids, vehicles, at)))
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			db := dbs[w%2]
			for i := range 50 {
				err := db.AppendPositions(ctx, storetest.PositionBatch(ids, 200, at.Add(time.Duration(w*1000+i)*time.Second)))
				if err != nil && liftrescue.ErrorCode(err) != liftrescue.EINVALID {
					t.Error(err)
					return
				}
			}
		})
	}
	for _, id := range ids[:vehicles/2] {
		storetest.MustOK(t, dbs[1].DeleteVehicle(ctx, id))
	}
	wg.Wait()
	for _, db := range dbs {
		err := db.AppendPositions(ctx, storetest.PositionBatch(ids, vehicles, at))
		storetest.MustCode(t, err, liftrescue.EINVALID)
		if d := liftrescue.ErrorDetails(err); len(d) != vehicles/2 {
			t.Errorf("%d details, want one for each of the %d deleted vehicles", len(d), vehicles/2)
		}
	}
	conn, err := pgx.Connect(ctx, dbURL)
	storetest.MustOK(t, err)
	defer conn.Close(ctx)
	var orphans int
	storetest.MustOK(t, conn.QueryRow(ctx, `SELECT count(*) FROM positions p WHERE NOT EXISTS (SELECT 1 FROM vehicles v WHERE v.id = p.vehicle_id)`).Scan(&orphans))
	if orphans != 0 {
		t.Fatalf("%d positions of deleted vehicles", orphans)
	}
}

// A history kept one row per fix (before migration 0008) is cut into runs when the database is
// opened: every fix is still there, with every measure, in order; the latest positions are the
// same; the runs keep the rules the reads rely on; and the history goes on as before, appends and
// the cascade of a deleted vehicle included.
func TestMigratePositionRuns(t *testing.T) {
	ctx := context.Background()
	dbURL, old := databaseAtVersion(t, 7)
	seedOldFleet(t, old, `(1, 1, '鲁D00001', '013900000001', now(), now()),
		(2, 1, '鲁D00002', '013900000002', now(), now()),
		(3, 1, '鲁D00003', NULL, now(), now())`)
	// Vehicle 1: 45 fixes in one minute (more than a run holds), two of them at one instant, then
	// a few over the next minute boundary, and three on either side of 1970; vehicle 2 one fix;
	// vehicle 3 none. Written out of order.
	t0 := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	var want []liftrescue.Position
	fix := func(v int64, at time.Time, k int) liftrescue.Position {
		p := liftrescue.Position{VehicleID: v, Fix: liftrescue.Fix{Time: at, Lat: 34.8 + float64(k)*1e-5, Lon: 117.5,
			SpeedKmh: float64(k), Heading: liftrescue.Unknown, AccuracyM: 4, AltitudeM: liftrescue.Unknown, Battery: 0.5,
			Flags: 1<<63 | uint64(k)}, ReceivedAt: at.Add(time.Second)}
		if k%3 == 0 {
			p.SpeedKmh, p.Heading, p.Alarm = liftrescue.Unknown, 90, "sos"
		}
		return p
	}
	for k := range 45 {
		want = append(want, fix(1, t0.Add(time.Duration(k)*1300*time.Millisecond+time.Microsecond), k))
	}
	twin := fix(1, want[10].Time, 100)
	want = append(want, twin)
	for k := range 4 {
		want = append(want, fix(1, t0.Add(time.Minute+time.Duration(k-2)*time.Second), 200+k))
	}
	epoch := time.Unix(0, 0).UTC()
	for _, d := range []time.Duration{-59500 * time.Millisecond, -500 * time.Millisecond, 500 * time.Millisecond} {
		want = append(want, fix(1, epoch.Add(d), 300+int(d/time.Millisecond)))
	}
	want = append(want, fix(2, t0, 400))
	null := func(f float64) any {
		if math.IsNaN(f) {
			return nil
		}
		return f
	}
	for i := range want {
		p := want[(i*7)%len(want)] // 7 is prime to len(want): every one, out of order
		_, err := old.Exec(ctx, `INSERT INTO positions VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			p.VehicleID, p.Time, p.ReceivedAt, p.Lat, p.Lon, null(p.SpeedKmh), null(p.Heading), null(p.AccuracyM),
			null(p.AltitudeM), null(p.Battery), int64(p.Flags), p.Alarm)
		storetest.MustOK(t, err)
	}
	storetest.MustOK(t, old.Close(ctx))

	db, err := postgres.Open(ctx, dbURL, postgres.Options{})
	storetest.MustOK(t, err)
	defer db.Close()
	storetest.MustOK(t, db.Ready(ctx))
	slices.SortStableFunc(want, func(a, b liftrescue.Position) int {
		return cmp.Or(cmp.Compare(a.VehicleID, b.VehicleID), a.Time.Compare(b.Time))
	})
	got, err := db.Track(ctx, 1, epoch.Add(-time.Hour), t0.Add(time.Hour), 0)
	storetest.MustOK(t, err)
	got2, err := db.Track(ctx, 2, epoch.Add(-time.Hour), t0.Add(time.Hour), 0)
	storetest.MustOK(t, err)
	got = append(got, got2...)
	if len(got) != len(want) {
		t.Fatalf("%d positions after the migration, want %d", len(got), len(want))
	}
	for i := range got {
		// The twins share an instant and may come either way round.
		if i > 0 && got[i].Time.Equal(got[i-1].Time) && got[i].Lat < got[i-1].Lat {
			got[i], got[i-1] = got[i-1], got[i]
		}
	}
	slices.SortStableFunc(want, func(a, b liftrescue.Position) int {
		return cmp.Or(cmp.Compare(a.VehicleID, b.VehicleID), a.Time.Compare(b.Time), cmp.Compare(a.Lat, b.Lat))
	})
	for i := range got {
		if !samePosition(got[i], want[i]) {
			t.Fatalf("position %d after the migration is\n %+v\nwant\n %+v", i, got[i], want[i])
		}
	}
	latest, err := db.LatestPositions(ctx)
	storetest.MustOK(t, err)
	if len(latest) != 2 || !samePosition(latest[0], want[len(want)-2]) || !samePosition(latest[1], want[len(want)-1]) {
		t.Fatalf("latest positions %+v, want vehicle 1's newest and vehicle 2's", latest)
	}

	conn, err := pgx.Connect(ctx, dbURL)
	storetest.MustOK(t, err)
	defer conn.Close(ctx)
	var rows, fixes, broken int
	storetest.MustOK(t, conn.QueryRow(ctx, `SELECT count(*), sum(1 + coalesce(cardinality(earlier_time), 0)),
		count(*) FILTER (WHERE coalesce(cardinality(earlier_time), 0) > 19
			OR EXISTS (SELECT 1 FROM unnest(earlier_time) WITH ORDINALITY e (time, i)
				WHERE date_bin('1 minute', e.time, timestamptz 'epoch') <> date_bin('1 minute', r.time, timestamptz 'epoch')
					OR e.time > r.time OR e.time < earlier_time[i - 1])
			OR cardinality(earlier_time) IS DISTINCT FROM cardinality(earlier_alarm)
			OR cardinality(earlier_time) IS DISTINCT FROM cardinality(earlier_battery))
		FROM position_runs r`).Scan(&rows, &fixes, &broken))
	// Vehicle 1's 48 fixes of the first minute in runs of 20, 20 and 8, 2 of the next in one, 2
	// and 1 about 1970; and vehicle 2's one.
	if rows != 7 || fixes != len(want) || broken != 0 {
		t.Errorf("%d rows holding %d fixes, %d breaking the rules of a run; want 7 holding %d, none", rows, fixes, broken, len(want))
	}
	var viewed int
	storetest.MustOK(t, conn.QueryRow(ctx, `SELECT count(*) FROM positions`).Scan(&viewed))
	if viewed != len(want) {
		t.Errorf("the positions view shows %d fixes, want %d", viewed, len(want))
	}

	next := fix(1, t0.Add(time.Hour), 500)
	storetest.MustOK(t, db.AppendPositions(ctx, []liftrescue.Position{next, fix(2, t0.Add(time.Hour), 501)}))
	storetest.MustOK(t, db.DeleteVehicle(ctx, 1))
	var left int
	storetest.MustOK(t, conn.QueryRow(ctx, `SELECT count(*) FROM position_runs WHERE vehicle_id = 1`).Scan(&left))
	if left != 0 {
		t.Errorf("%d rows of the deleted vehicle", left)
	}
	n, err := db.DeletePositionsBefore(ctx, t0.Add(2*time.Hour))
	storetest.MustOK(t, err)
	if n != 2 {
		t.Errorf("retention deleted %d positions, want vehicle 2's 2", n)
	}
}

// samePosition says whether two positions are the same to the microsecond, NaN matching NaN.
func samePosition(a, b liftrescue.Position) bool {
	same := func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }
	return a.VehicleID == b.VehicleID && a.Time.Equal(b.Time.Truncate(time.Microsecond)) &&
		a.ReceivedAt.Equal(b.ReceivedAt.Truncate(time.Microsecond)) && same(a.Lat, b.Lat) && same(a.Lon, b.Lon) &&
		same(a.SpeedKmh, b.SpeedKmh) && same(a.Heading, b.Heading) && same(a.AccuracyM, b.AccuracyM) &&
		same(a.AltitudeM, b.AltitudeM) && same(a.Battery, b.Battery) && a.Flags == b.Flags && a.Alarm == b.Alarm
}
