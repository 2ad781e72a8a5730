package api_test

// Benchmarks of the elevators on the map (BENCHMARKS.md, "Elevators on the map"): the answer to
// the views a dispatcher's map asks for, through the whole handler (credential, index, registry,
// JSON), on the demo city of 100,000 and of 1,000,000 elevators in SQLite:
//
//	go test -run '^$' -bench MapElevators -benchtime 20x -timeout 30m ./api
//
// The cities are seeded once into $LIFTRESCUE_BENCH_DIR (default $TMPDIR/liftrescue-bench), the
// files the registry benchmarks of cmd/liftrescue use too: about 10 s and a minute.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/api"
	"github.com/liftrescue/liftrescue/auth"
	"github.com/liftrescue/liftrescue/demo"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/liftrescue/liftrescue/store/sqlite"
)

// openDemoCity opens the demo city of n elevators, seeding it first when it is not there yet.
func openDemoCity(b *testing.B, n int) *sqlite.DB {
	b.Helper()
	ctx := context.Background()
	dir := os.Getenv("LIFTRESCUE_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "liftrescue-bench")
	}
	path := filepath.Join(dir, fmt.Sprintf("demo-%d.db", n))
	if _, err := os.Stat(path); err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		partial := path + ".partial"
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(partial + suffix)
		}
		db, err := sqlite.Open(ctx, partial, sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("seeding the demo city of %d elevators into %s", n, path)
		if err := demo.Seed(ctx, db, demo.Generate(demo.Config{Elevators: n}), nil); err != nil {
			b.Fatal(err)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(partial, path); err != nil {
			b.Fatal(err)
		}
	}
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// viewHolding returns a box of a screen's shape around a point that holds at most want elevators
// of the index, and nearly as many: the most dots one answer carries.
func viewHolding(ix *geo.Index, lon, lat float64, want int) string {
	lo, hi := 0.0, 1.0 // half the width, in degrees
	box := func(w float64) (float64, float64, float64, float64) {
		h := w * 900 / 1400 * math.Cos(lat*math.Pi/180)
		return lon - w, lat - h, lon + w, lat + h
	}
	for range 40 {
		mid := (lo + hi) / 2
		a, b, c, d := box(mid)
		if len(ix.ElevatorPointsInBBox(a, b, c, d, nil, want+1)) > want {
			hi = mid
		} else {
			lo = mid
		}
	}
	a, b, c, d := box(lo)
	const in = 1e-8 // rounded to 9 decimals, the box must not grow
	return fmt.Sprintf("%.9f,%.9f,%.9f,%.9f", a+in, b+in, c-in, d-in)
}

// view is a map of 1400 × 900 pixels at a zoom around a point, padded by a quarter of its size on
// every side as the page asks for it.
func view(lon, lat, zoom float64) string {
	degPerPx := 360 / (256 * math.Exp2(zoom))
	w, h := 1400*degPerPx*1.5, 900*degPerPx*math.Cos(lat*math.Pi/180)*1.5
	return fmt.Sprintf("%.6f,%.6f,%.6f,%.6f", lon-w/2, lat-h/2, lon+w/2, lat+h/2)
}

func BenchmarkMapElevators(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			db := openDemoCity(b, n)
			ix, err := geo.NewIndex(geo.IndexOptions{})
			if err != nil {
				b.Fatal(err)
			}
			loadIndex(b, db, ix)
			svc := auth.New(db, nil, nil)
			key := func(district string) string {
				k, err := svc.NewAPIKey(ctx, &liftrescue.APIKey{Name: "bench " + district, Scopes: []liftrescue.Permission{liftrescue.PermRead}, District: district})
				if err != nil {
					b.Fatal(err)
				}
				return k
			}
			city, shizhong := key(""), key("370402")
			srv := api.New(api.Config{Store: db, Index: ix, Auth: svc, Limits: testLimits,
				Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))})
			// The city's bbox: every district's outline.
			ds, err := db.ListDistricts(ctx)
			if err != nil {
				b.Fatal(err)
			}
			bound := ds[0].Outline.Bound()
			for _, d := range ds[1:] {
				bound = bound.Union(d.Outline.Bound())
			}
			cityBox := fmt.Sprintf("%f,%f,%f,%f", bound.Min[0], bound.Min[1], bound.Max[0], bound.Max[1])
			const coreLon, coreLat = 117.556, 34.864 // the middle of Shizhong, the densest core
			for _, tc := range []struct {
				name, bbox, zoom, key string
			}{
				{"city_zoom11", cityBox, "11", city},
				{"city_zoom11_as_Shizhong", cityBox, "11", shizhong},
				{"city_zoom9", cityBox, "9", city},
				{"core_zoom14", view(coreLon, coreLat, 14), "14", city},
				{"street_zoom16", view(coreLon, coreLat, 16), "16", city},
				{"street_zoom16_as_Shizhong", view(coreLon, coreLat, 16), "16", shizhong},
				{"street_zoom17_edge", view(coreLon+0.04, coreLat+0.03, 17), "17", city},
				{"street_zoom17_edge_as_Shizhong", view(coreLon+0.04, coreLat+0.03, 17), "17", shizhong},
				{"street_zoom17_core", view(coreLon, coreLat, 17), "17", city},
				{"most_dots_zoom15", viewHolding(ix, coreLon, coreLat, 3000), "15", city},
				{"most_dots_zoom16", viewHolding(ix, coreLon, coreLat, 5000), "16", city},
			} {
				b.Run(tc.name, func(b *testing.B) {
					path := mapPath(tc.bbox, tc.zoom)
					var rec *httptest.ResponseRecorder
					for b.Loop() {
						rec = serve(srv, "GET", path, "", "Authorization", "Bearer "+tc.key)
						if rec.Code != 200 {
							b.Fatalf("%d %s", rec.Code, rec.Body)
						}
					}
					var m api.MapElevators
					if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(m.Total), "elevators")
					b.ReportMetric(float64(len(m.Cells)), "cells")
					b.ReportMetric(float64(len(m.Elevators)), "dots")
					b.ReportMetric(float64(rec.Body.Len())/1024, "KiB")
				})
			}
		})
	}
}
