package main

// Benchmarks of the registry's speed targets (BENCHMARKS.md):
//   - elevator lookup by code over HTTP: p99 under 1 ms at 1,000,000 elevators;
//   - bbox listing of 1,000 elevators out of 1,000,000: under 5 ms server-side;
//   - import of 100,000 elevators from CSV: under 10 s on either store;
//   - reading the position of every one of 1,000,000 elevators at start-up: about 1 s or less.
// The demo city they run on is seeded once and kept (SQLite: a file in $LIFTRESCUE_BENCH_DIR,
// PostgreSQL: the database liftrescue_bench_N), because seeding 1,000,000 elevators takes a minute.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/api"
	"github.com/liftrescue/liftrescue/auth"
	"github.com/liftrescue/liftrescue/csvimport"
	"github.com/liftrescue/liftrescue/demo"
	"github.com/liftrescue/liftrescue/store/postgres"
	"github.com/liftrescue/liftrescue/store/postgres/pgtest"
	"github.com/liftrescue/liftrescue/store/sqlite"
)

// benchElevators is the size of the benchmark city: 1,000,000 unless LIFTRESCUE_BENCH_ELEVATORS says.
func benchElevators(b *testing.B) int {
	n := 1_000_000
	if s := os.Getenv("LIFTRESCUE_BENCH_ELEVATORS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("LIFTRESCUE_BENCH_ELEVATORS=%q", s)
		}
		n = v
	}
	return n
}

// benchStores runs fn on the demo city of n elevators in each store that is available.
func benchStores(b *testing.B, fn func(b *testing.B, s liftrescue.Store, n int)) {
	n := benchElevators(b)
	ctx := context.Background()
	b.Run("sqlite", func(b *testing.B) {
		dir := os.Getenv("LIFTRESCUE_BENCH_DIR")
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "liftrescue-bench")
		}
		path := filepath.Join(dir, fmt.Sprintf("demo-%d.db", n))
		if err := seedDemoFile(ctx, path, demo.Config{Elevators: n}, false, io.Discard); err != nil {
			b.Fatal(err)
		}
		db, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		fn(b, db, n)
	})
	b.Run("postgres", func(b *testing.B) {
		server := pgtest.ServerURL(b)
		u, _ := url.Parse(server)
		name := fmt.Sprintf("liftrescue_bench_%d", n)
		_ = pgtest.Exec(ctx, server, "CREATE DATABASE "+name) // kept between runs; an error means it exists
		u.Path = "/" + name
		db, err := postgres.Open(ctx, u.String(), postgres.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		if err := seedDemoStore(ctx, db, demo.Config{Elevators: n}, io.Discard); err != nil {
			b.Fatal(err)
		}
		fn(b, db, n)
	})
}

// sampleElevators takes every k-th elevator of the demo city so that lookups spread over the whole
// registry rather than one hot page.
func sampleElevators(n, want int) []liftrescue.Elevator {
	step := max(1, n/want)
	var out []liftrescue.Elevator
	i := 0
	for row := range demo.Generate(demo.Config{Elevators: n}).Elevators() {
		if i%step == 0 {
			out = append(out, row.Elevator)
		}
		i++
	}
	return out
}

// reportLatencies adds the median and the 99th percentile to the benchmark's figures.
func reportLatencies(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Microsecond) }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

func quietAPI(tb testing.TB, s liftrescue.Store) http.Handler {
	return withKey(tb, api.Config{Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))})
}

// withKey is the API server cfg describes, with an admin API key of its store sent on every
// request that carries none: the benchmarks measure the checked path a real client takes.
func withKey(tb testing.TB, cfg api.Config) http.Handler {
	tb.Helper()
	cfg.Auth = auth.New(cfg.Store, nil, nil)
	cfg.Limits = api.Limits{KeyRate: 1e9, KeyBurst: 1e9}
	key, err := cfg.Auth.NewAPIKey(context.Background(), &liftrescue.APIKey{Name: "bench", Scopes: liftrescue.Permissions})
	if err != nil {
		tb.Fatal(err)
	}
	srv := api.New(cfg)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			r.Header.Set("Authorization", "Bearer "+key)
		}
		srv.ServeHTTP(w, r)
	})
}

// BenchmarkLookupByCodeHTTP is the dispatcher's lookup, over a real loopback connection: the
// elevator with its district and both tier-1 units.
func BenchmarkLookupByCodeHTTP(b *testing.B) {
	benchStores(b, func(b *testing.B, s liftrescue.Store, n int) {
		sample := sampleElevators(n, 10_000)
		srv := httptest.NewServer(quietAPI(b, s))
		defer srv.Close()
		client := srv.Client()
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			e := sample[i%len(sample)]
			code := e.RescueCode
			if i%2 == 1 {
				code = e.EquipmentCode
			}
			start := time.Now()
			res, err := client.Get(srv.URL + "/api/v1/elevators/" + code)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			lat = append(lat, time.Since(start))
			if res.StatusCode != http.StatusOK {
				b.Fatalf("GET %s = %d", code, res.StatusCode)
			}
		}
		reportLatencies(b, lat)
	})
}

// BenchmarkBBoxList1000 lists about 1,000 elevators of a map view, server-side (handler, store and
// JSON encoding; no network).
func BenchmarkBBoxList1000(b *testing.B) {
	benchStores(b, func(b *testing.B, s liftrescue.Store, n int) {
		ctx := context.Background()
		var boxes []string
		for _, e := range sampleElevators(n, 40) {
			// Grow a square around a real elevator until it holds 800 to 1,200 elevators.
			for half := 0.0005; half < 0.2; half *= 1.25 {
				bb := &liftrescue.BBox{MinLon: e.Lon - half, MinLat: e.Lat - half, MaxLon: e.Lon + half, MaxLat: e.Lat + half}
				p, err := s.ListElevators(ctx, liftrescue.ElevatorFilter{BBox: bb, Paging: liftrescue.Paging{Limit: 1}})
				if err != nil {
					b.Fatal(err)
				}
				if p.Total >= 800 {
					if p.Total <= 1200 {
						boxes = append(boxes, fmt.Sprintf("%f,%f,%f,%f", bb.MinLon, bb.MinLat, bb.MaxLon, bb.MaxLat))
					}
					break
				}
			}
		}
		if len(boxes) < 10 {
			b.Fatalf("found only %d boxes of about 1,000 elevators", len(boxes))
		}
		h := quietAPI(b, s)
		lat := make([]time.Duration, 0, b.N)
		items := 0
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/elevators?limit=1000&bbox="+boxes[i%len(boxes)], nil)
			rec := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(rec, req)
			lat = append(lat, time.Since(start))
			if rec.Code != http.StatusOK {
				b.Fatalf("%s = %d %s", req.URL, rec.Code, rec.Body)
			}
			items += bytes.Count(rec.Body.Bytes(), []byte(`"rescue_code"`))
		}
		b.ReportMetric(float64(items)/float64(len(lat)), "elevators/op")
		reportLatencies(b, lat)
	})
}

// BenchmarkEachElevatorPosition1M reads the id and position of every elevator, as the live index
// loads at start-up.
func BenchmarkEachElevatorPosition1M(b *testing.B) {
	benchStores(b, func(b *testing.B, s liftrescue.Store, n int) {
		ctx := context.Background()
		for b.Loop() {
			count, last := 0, int64(0)
			err := s.EachElevatorPosition(ctx, func(id int64, lon, lat float64) error {
				if id <= last || lon == 0 || lat == 0 {
					return fmt.Errorf("elevator %d at %v,%v after %d", id, lon, lat, last)
				}
				count, last = count+1, id
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			if count != n {
				b.Fatalf("%d elevators, want %d", count, n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elevator")
	})
}

// BenchmarkImportCSV100k imports a 100,000-row CSV file into a registry that holds the demo city's
// districts and organisations, as `liftrescue import elevators` does.
func BenchmarkImportCSV100k(b *testing.B) {
	const rows = 100_000
	city := demo.Generate(demo.Config{Elevators: rows})
	var csv bytes.Buffer
	if err := csvimport.WriteElevators(&csv, slices.Collect(city.Elevators())); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	run := func(b *testing.B, open func(b *testing.B) liftrescue.Store) {
		for b.Loop() {
			b.StopTimer()
			s := open(b)
			noElevators := *city
			if err := seedRegistry(ctx, s, &noElevators); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			res, err := csvimport.ImportElevators(ctx, s, bytes.NewReader(csv.Bytes()), csvimport.Options{}, liftrescue.ImportOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if res.Created != rows {
				b.Fatalf("created %d of %d", res.Created, rows)
			}
			b.StopTimer()
			s.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	}
	b.Run("sqlite", func(b *testing.B) {
		run(b, func(b *testing.B) liftrescue.Store {
			db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "import.db"), sqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return db
		})
	})
	b.Run("postgres", func(b *testing.B) {
		run(b, func(b *testing.B) liftrescue.Store {
			db, err := postgres.Open(ctx, pgtest.MustDatabase(b), postgres.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return db
		})
	})
}

// seedRegistry stores the city's districts and organisations but none of its elevators.
func seedRegistry(ctx context.Context, s liftrescue.Store, city *demo.City) error {
	for _, d := range city.Districts {
		if err := s.UpsertDistrict(ctx, &d); err != nil {
			return err
		}
	}
	rows := make([]liftrescue.OrganizationRow, len(city.Organizations))
	for i, o := range city.Organizations {
		rows[i] = liftrescue.OrganizationRow{Line: i + 2, Org: o}
	}
	_, err := s.ImportOrganizations(ctx, rows, liftrescue.ImportOptions{})
	return err
}
