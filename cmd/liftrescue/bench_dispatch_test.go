package main

// Benchmarks of the dispatch engine's speed targets (BENCHMARKS.md, issue 4):
//   - opening an incident, through its tier-1 notifications queued: p99 under 5 ms server-side;
//   - the tier-2 candidates of an incident among 10,000 vehicles and 1,000,000 elevators: p99
//     under 1 ms over HTTP at 500 requests a second;
//   - 10,000 incidents open at once with live timers: no deadline fires more than 1 s late.
// Like the registry's, they run only when asked for with -bench.

import (
	"context"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/api"
	"github.com/liftrescue/liftrescue/demo"
	"github.com/liftrescue/liftrescue/dispatch"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/liftrescue/liftrescue/store/postgres"
	"github.com/liftrescue/liftrescue/store/postgres/pgtest"
	"github.com/liftrescue/liftrescue/store/sqlite"
	"github.com/paulmach/orb"
)

// benchT0 is when the benchmarks' held clocks stand.
var benchT0 = time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)

var benchDispatcher = liftrescue.Actor{Kind: liftrescue.ActorDispatcher, Name: "bench"}

// benchClock is the wall clock moved by an offset, or held at one time while pinned.
type benchClock struct {
	mu     sync.Mutex
	pinned time.Time
	offset time.Duration
}

func (c *benchClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.pinned.IsZero() {
		return c.pinned
	}
	return time.Now().Add(c.offset)
}

// Pin holds the clock at t.
func (c *benchClock) Pin(t time.Time) {
	c.mu.Lock()
	c.pinned = t
	c.mu.Unlock()
}

// Follow lets the clock run with the wall clock, offset ahead of it.
func (c *benchClock) Follow(offset time.Duration) {
	c.mu.Lock()
	c.pinned, c.offset = time.Time{}, offset
	c.mu.Unlock()
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
}

// reportLatencyRange reports the median, the 99th percentile and the slowest of the latencies, in
// microseconds, as reportLatencies does, each unit prefixed with what.
func reportLatencyRange(b *testing.B, what string, lat []time.Duration) {
	if len(lat) == 0 {
		b.Fatal("nothing measured")
	}
	slices.Sort(lat)
	for _, q := range []struct {
		name string
		at   float64
	}{{"p50", 0.50}, {"p99", 0.99}, {"max", 1}} {
		b.ReportMetric(float64(lat[int(q.at*float64(len(lat)-1))])/float64(time.Microsecond), what+q.name+"-µs")
	}
}

// timedStore times the calls that Engine.Open makes: the reads before the write (summed until
// taken), and the write.
type timedStore struct {
	liftrescue.Store
	mu     sync.Mutex
	reads  time.Duration
	writes []time.Duration
}

func (s *timedStore) read(start time.Time) {
	s.mu.Lock()
	s.reads += time.Since(start)
	s.mu.Unlock()
}

// takeReads returns the time spent reading since the last call.
func (s *timedStore) takeReads() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.reads
	s.reads = 0
	return d
}

func (s *timedStore) FindElevatorByCode(ctx context.Context, code string) (*liftrescue.Elevator, error) {
	defer s.read(time.Now())
	return s.Store.FindElevatorByCode(ctx, code)
}

func (s *timedStore) FindDistrict(ctx context.Context, code string) (*liftrescue.District, error) {
	defer s.read(time.Now())
	return s.Store.FindDistrict(ctx, code)
}

func (s *timedStore) FindOrganization(ctx context.Context, id int64) (*liftrescue.Organization, error) {
	defer s.read(time.Now())
	return s.Store.FindOrganization(ctx, id)
}

func (s *timedStore) CreateIncident(ctx context.Context, ch *liftrescue.IncidentChange) error {
	start := time.Now()
	err := s.Store.CreateIncident(ctx, ch)
	s.mu.Lock()
	s.writes = append(s.writes, time.Since(start))
	s.mu.Unlock()
	return err
}

// inZaozhuang returns a random point in the box around Zaozhuang that the synthetic elevators and
// the fleet fill: 117.0–117.8 E, 34.5–35.2 N.
func inZaozhuang(r *rand.Rand) (lon, lat float64) {
	return 117.0 + 0.8*r.Float64(), 34.5 + 0.7*r.Float64()
}

// syntheticElevators yields n elevator positions spread over the box.
func syntheticElevators(n int) iter.Seq2[int64, orb.Point] {
	return func(yield func(int64, orb.Point) bool) {
		r := rand.New(rand.NewPCG(1, 1))
		for id := int64(1); id <= int64(n); id++ {
			lon, lat := inZaozhuang(r)
			if !yield(id, orb.Point{lon, lat}) {
				return
			}
		}
	}
}

func emptyIndex(b *testing.B) *geo.Index {
	ix, err := geo.NewIndex(geo.IndexOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return ix
}

// placeVehicles gives every vehicle a fix at a random place of the box, taken before now: most a
// few seconds old, one in twenty stale and one in twenty offline.
func placeVehicles(b *testing.B, ix *geo.Index, ids []int64, now time.Time) {
	r := rand.New(rand.NewPCG(2, 2))
	for i, id := range ids {
		age := time.Duration(r.IntN(60)) * time.Second
		switch i % 20 {
		case 0:
			age = 5 * time.Minute
		case 1:
			age = 30 * time.Minute
		}
		lon, lat := inZaozhuang(r)
		f := liftrescue.Fix{Time: now.Add(-age), Lon: lon, Lat: lat, SpeedKmh: liftrescue.Unknown, Heading: liftrescue.Unknown,
			AccuracyM: liftrescue.Unknown, AltitudeM: liftrescue.Unknown, Battery: liftrescue.Unknown}
		if !ix.MoveVehicle(id, f) {
			b.Fatalf("vehicle %d not placed", id)
		}
	}
}

// The fleet: 250 volunteer organisations of 4 teams with 10 vans each.
const fleetOrgs, fleetTeams, fleetVans = 250, 4, 10

// seedFleet registers the fleet in the store's districts and returns its vehicles' ids. One team
// in ten is off duty, one in fifteen has no certified staff, and one van in twelve is off duty, so
// that rankings leave some out for each reason.
func seedFleet(b *testing.B, ctx context.Context, s liftrescue.Store) []int64 {
	districts, err := s.ListDistricts(ctx)
	if err != nil || len(districts) == 0 {
		b.Fatalf("districts: %v (%d)", err, len(districts))
	}
	var ids []int64
	team, van := 0, 0
	for o := range fleetOrgs {
		org := &liftrescue.Organization{Code: fmt.Sprintf("BENCHVOLUNTEER%04d", o), Kind: liftrescue.OrgVolunteer,
			Name: fmt.Sprintf("枣庄志愿救援队 %d", o), District: districts[o%len(districts)].Code,
			DutyPhones: []string{fmt.Sprintf("1390632%04d", o)}}
		if err := s.CreateOrganization(ctx, org); err != nil {
			b.Fatal(err)
		}
		for k := range fleetTeams {
			t := &liftrescue.Team{OrganizationID: org.ID, Name: fmt.Sprintf("%d 队", k+1), DutyPhone: fmt.Sprintf("1380632%04d", team),
				CertifiedStaff: 3, OnDuty: team%10 != 9}
			if team%15 == 7 {
				t.CertifiedStaff = 0
			}
			team++
			if err := s.CreateTeam(ctx, t); err != nil {
				b.Fatal(err)
			}
			for range fleetVans {
				v := &liftrescue.Vehicle{TeamID: t.ID, Plate: fmt.Sprintf("鲁DD%05d", van), OnDuty: van%12 != 5}
				van++
				if err := s.CreateVehicle(ctx, v); err != nil {
					b.Fatal(err)
				}
				ids = append(ids, v.ID)
			}
		}
	}
	return ids
}

// dispatchCity is a store holding the demo city of some elevators and the fleet, the index the
// fleet reports into, and the clock the store and the engines run on.
type dispatchCity struct {
	store liftrescue.Store
	codes []string // the elevators' rescue codes
	index *geo.Index
	fleet []int64
	clock *benchClock
}

func newDispatchCity(b *testing.B, ctx context.Context, s liftrescue.Store, clock *benchClock, elevators int) *dispatchCity {
	start := time.Now()
	if err := seedCity(ctx, s, demo.Config{Elevators: elevators}, io.Discard); err != nil {
		b.Fatal(err)
	}
	c := &dispatchCity{store: s, index: emptyIndex(b), clock: clock, fleet: seedFleet(b, ctx, s)}
	for _, e := range sampleElevators(elevators, elevators) {
		c.codes = append(c.codes, e.RescueCode)
	}
	b.Logf("seeded %d elevators and %d vans in %s", elevators, len(c.fleet), time.Since(start).Round(time.Millisecond))
	return c
}

// engine starts an engine on the city; it closes when the benchmark ends, if not before.
func (c *dispatchCity) engine(b *testing.B, ctx context.Context) *dispatch.Engine {
	e, err := dispatch.New(dispatch.Config{Store: c.store, Index: c.index, Policy: liftrescue.DefaultPolicy(), Now: c.clock.Now,
		Logger: quietLogger(), BaseURL: "http://centre.test"})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Close)
	return e
}

// openOn opens an incident on the elevator with the code.
func openOn(ctx context.Context, e *dispatch.Engine, code, district string, i int) (*liftrescue.Incident, error) {
	return e.Open(ctx, liftrescue.NewIncident{Elevator: code, Source: liftrescue.SourceCall, Trapped: 1 + i%3,
		CallerPhone: fmt.Sprintf("1391234%04d", i%10_000)}, district, benchDispatcher)
}

func openSQLite(b *testing.B, now func() time.Time) liftrescue.Store {
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "dispatch.db"), sqlite.Options{Now: now})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func openPostgres(b *testing.B, now func() time.Time) liftrescue.Store {
	db, err := postgres.Open(context.Background(), pgtest.MustDatabase(b), postgres.Options{Now: now})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkOpenIncident times Engine.Open in the demo city of 1,000,000 elevators (benchStores):
// the lookup of the elevator by its rescue code, its district and tier-1 units, a ranking of
// tier 2, and the transaction that writes the incident, its events and its notifications. The
// engine runs as served, with the demo city's volunteer vans in its index. Each report is on
// another elevator; the incidents are cancelled afterwards and their notifications marked
// delivered, so that the kept database holds no open work.
func BenchmarkOpenIncident(b *testing.B) {
	benchStores(b, func(b *testing.B, s liftrescue.Store, n int) {
		ctx := context.Background()
		clock := &benchClock{}
		ts := &timedStore{Store: s}
		c := &dispatchCity{store: ts, index: emptyIndex(b), clock: clock}
		for p := (liftrescue.Paging{Limit: liftrescue.MaxLimit}); ; {
			page, err := s.ListVehicles(ctx, liftrescue.VehicleFilter{Paging: p})
			if err != nil {
				b.Fatal(err)
			}
			for _, v := range page.Items {
				c.fleet = append(c.fleet, v.ID)
			}
			if p.Cursor = page.NextCursor; p.Cursor == "" {
				break
			}
		}
		placeVehicles(b, c.index, c.fleet, time.Now())
		e := c.engine(b, ctx)
		busy := map[string]bool{} // elevators an earlier, interrupted run left an incident open on
		left, err := s.OpenIncidents(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, inc := range left {
			busy[inc.Elevator.RescueCode] = true
		}
		var pool []liftrescue.Elevator
		for _, el := range sampleElevators(n, 20_000) {
			if !busy[el.RescueCode] {
				pool = append(pool, el)
			}
		}
		var opened []int64
		defer func() { closeIncidents(b, ctx, e, s, opened) }()
		var lat, reads []time.Duration
		ts.takeReads()
		ts.writes = nil
		for i := 0; b.Loop(); i++ {
			if i == len(pool) {
				b.Fatalf("more than %d reports: use -benchtime Nx with a smaller N", len(pool))
			}
			el := &pool[i]
			start := time.Now()
			inc, err := openOn(ctx, e, el.RescueCode, el.District, i)
			lat = append(lat, time.Since(start))
			reads = append(reads, ts.takeReads())
			if err != nil {
				b.Fatalf("open on %s: %v", el.RescueCode, err)
			}
			opened = append(opened, inc.ID)
		}
		reportLatencyRange(b, "", lat)
		reportLatencyRange(b, "reads-", reads)
		reportLatencyRange(b, "write-", ts.writes)
	})
}

// closeIncidents cancels the incidents as false alarms and marks their notifications delivered.
func closeIncidents(b *testing.B, ctx context.Context, e *dispatch.Engine, s liftrescue.Store, ids []int64) {
	mine := map[int64]bool{}
	for _, id := range ids {
		mine[id] = true
		if _, err := e.Act(ctx, id, liftrescue.Input{Action: liftrescue.ActionCancel, CancelReason: liftrescue.CancelFalseAlarm,
			Actor: benchDispatcher}); err != nil {
			b.Errorf("cancel incident %d: %v", id, err)
			return
		}
	}
	var skip []int64
	for {
		due, err := s.DueNotifications(ctx, time.Now().Add(24*time.Hour), 1000, skip)
		if err != nil {
			b.Error(err)
			return
		}
		if len(due) == 0 {
			return
		}
		for _, n := range due {
			skip = append(skip, n.ID)
			if !mine[n.IncidentID] {
				continue
			}
			if err := s.RecordDelivery(ctx, n.ID, liftrescue.DeliveryResult{State: liftrescue.NotificationDelivered,
				Receipt: "benchmark", At: time.Now()}); err != nil {
				b.Error(err)
				return
			}
		}
	}
}

// BenchmarkCandidates ranks the tier-2 units of 200 open incidents spread over the demo city of
// 10,000 elevators (SQLite: the ranking reads no database), with 10,000 volunteer vans in an index
// that also holds 1,000,000 elevators, on a clock that stands still so that no fix ages. "rank" is
// Engine.Candidates in process, back to back; "http-500rps" is GET
// /api/v1/incidents/{id}/candidates over a loopback keep-alive connection, one request every 2 ms
// (b.N requests: -benchtime 5000x is 10 s); the two after it split that figure.
func BenchmarkCandidates(b *testing.B) {
	ctx := context.Background()
	clock := &benchClock{}
	clock.Pin(benchT0)
	s := openSQLite(b, clock.Now)
	c := newDispatchCity(b, ctx, s, clock, 10_000)
	if _, err := c.index.LoadElevators(syntheticElevators(1_000_000)); err != nil {
		b.Fatal(err)
	}
	placeVehicles(b, c.index, c.fleet, clock.Now())
	e := c.engine(b, ctx)
	var ids []int64
	for i := 0; i < len(c.codes); i += len(c.codes) / 200 {
		inc, err := openOn(ctx, e, c.codes[i], "", i)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, inc.ID)
	}
	b.Run("rank", func(b *testing.B) {
		b.ReportAllocs()
		found, excluded := 0, 0
		for i := 0; b.Loop(); i++ {
			got, err := e.Candidates(ctx, ids[i%len(ids)])
			if err != nil {
				b.Fatal(err)
			}
			found += len(got.Candidates)
			excluded += len(got.Excluded)
		}
		b.ReportMetric(float64(found)/float64(b.N), "candidates/op")
		b.ReportMetric(float64(excluded)/float64(b.N), "excluded/op")
	})
	srv := httptest.NewServer(withKey(b, api.Config{Store: s, Logger: quietLogger(), Index: c.index, Dispatch: e, Now: clock.Now}))
	defer srv.Close()
	client := srv.Client()
	b.Run("http-500rps", func(b *testing.B) {
		paced(b, func(i int) time.Duration {
			return getOK(b, client, fmt.Sprintf("%s/api/v1/incidents/%d/candidates", srv.URL, ids[i%len(ids)]))
		})
	})
	// The floor of the machine: the same pace to a route that does nothing.
	b.Run("http-500rps-healthz", func(b *testing.B) {
		paced(b, func(int) time.Duration { return getOK(b, client, srv.URL+"/healthz") })
	})
	// The ranking alone at the same pace, with the caches as cold as they are between requests.
	b.Run("rank-500rps", func(b *testing.B) {
		paced(b, func(i int) time.Duration {
			start := time.Now()
			if _, err := e.Candidates(ctx, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
			return time.Since(start)
		})
	})
}

// paced calls do b.N times, one call every 2 ms (500 a second), and reports the latencies it
// returns and the pace it kept.
func paced(b *testing.B, do func(i int) time.Duration) {
	const every = 2 * time.Millisecond
	lat := make([]time.Duration, 0, b.N)
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
		lat = append(lat, do(i))
	}
	b.ReportMetric(float64(len(lat))/time.Since(start).Seconds(), "calls/s")
	reportLatencyRange(b, "", lat)
}

// getOK GETs the URL over the client's keep-alive connection, reads the whole answer, fails unless
// it is 200 and returns how long it took.
func getOK(b *testing.B, client *http.Client, url string) time.Duration {
	start := time.Now()
	res, err := client.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	took := time.Since(start)
	if res.StatusCode != http.StatusOK {
		b.Fatalf("GET %s = %d", url, res.StatusCode)
	}
	return took
}

// BenchmarkDeadlines10000 opens an incident on each of the 10,000 elevators of a demo city with
// the 10,000-van fleet, their reports spread evenly on the engine's clock, then restarts the engine
// (as a deploy would) with its clock set so that the 10,000 tier-1 acknowledge deadlines fall due
// over 15 s of wall time (LIFTRESCUE_BENCH_SPREAD), the first 5 s after it starts. The real timer
// loop fires them; each firing ranks tier 2 and sends the best van (a write). It waits until all
// have fired and reports how late: max-late-s is the engine's own figure (due until saved);
// late-p50/p99/max-µs are FiredAt − Due from the stored incidents (due until decided). vans-sent
// counts the vans sent, vans-sent-twice the sends to a van already sent to another incident. Run
// it with -benchtime 1x: one run is the benchmark.
func BenchmarkDeadlines10000(b *testing.B) {
	const incidents, lead = 10_000, 5 * time.Second
	spread := 15 * time.Second
	if v := os.Getenv("LIFTRESCUE_BENCH_SPREAD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			b.Fatalf("LIFTRESCUE_BENCH_SPREAD=%q", v)
		}
		spread = d
	}
	run := func(b *testing.B, openStore func(*testing.B, func() time.Time) liftrescue.Store) {
		ctx := context.Background()
		clock := &benchClock{}
		clock.Pin(benchT0)
		c := newDispatchCity(b, ctx, openStore(b, clock.Now), clock, incidents)
		e := c.engine(b, ctx)
		start := time.Now()
		for i, code := range c.codes {
			clock.Pin(benchT0.Add(time.Duration(i) * spread / incidents))
			if _, err := openOn(ctx, e, code, "", i); err != nil {
				b.Fatalf("open on %s: %v", code, err)
			}
		}
		opening := time.Since(start)
		e.Close()

		firstDue := benchT0.Add(time.Duration(e.Policy().AckTimeout))
		clock.Follow(firstDue.Sub(time.Now().Add(lead)))
		placeVehicles(b, c.index, c.fleet, clock.Now())
		b.ResetTimer()
		e = c.engine(b, ctx)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for e.Stats().DeadlinesFired < incidents {
			if time.Since(start) > opening+lead+spread+5*time.Minute {
				b.Fatalf("only %d of %d deadlines fired", e.Stats().DeadlinesFired, incidents)
			}
			<-tick.C
		}
		b.StopTimer()
		st := e.Stats()
		e.Close()

		all, err := c.store.OpenIncidents(ctx)
		if err != nil {
			b.Fatal(err)
		}
		late := make([]time.Duration, 0, len(all))
		vans := map[int64]int{} // incidents each van was sent to
		for _, inc := range all {
			if d := inc.Deadlines; len(d) > 0 && d[0].ID == 1 && d[0].FiredAt != nil {
				late = append(late, d[0].FiredAt.Sub(d[0].Due))
			}
			for _, a := range inc.Assignments {
				if a.Tier == 2 && a.Unit.VehicleID != 0 {
					vans[a.Unit.VehicleID]++
				}
			}
		}
		if len(late) != incidents {
			b.Errorf("%d stored incidents with deadline 1 fired, want %d", len(late), incidents)
		}
		twice := 0
		for _, n := range vans {
			twice += n - 1
		}
		b.ReportMetric(float64(incidents)/opening.Seconds(), "opened/s")
		b.ReportMetric(st.MaxLateS, "max-late-s")
		b.ReportMetric(float64(len(vans)), "vans-sent")
		b.ReportMetric(float64(twice), "vans-sent-twice")
		reportLatencyRange(b, "late-", late)
	}
	b.Run("sqlite", func(b *testing.B) { run(b, openSQLite) })
	b.Run("postgres", func(b *testing.B) { run(b, openPostgres) })
}
