package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/demo"
	"github.com/liftrescue/liftrescue/gps"
	"github.com/liftrescue/liftrescue/store/sqlite"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	var elevators int
	var reset, traffic bool
	f := newFlags("demo", `liftrescue demo [flags]: run the service on a demo city

Seeds a Zaozhuang-like city (six districts, elevators in buildings along streets, maintenance
companies, user units, volunteer rescue vehicles, fire stations) into its own database file,
data/demo.db, unless it is there already, then serves it.`)
	f.SetOutput(stderr)
	cfg.serveFlags(f)
	f.Int(&elevators, "elevators", demo.DefaultElevators, "number of elevators in the demo city (up to 1000000)")
	f.Bool(&reset, "reset", false, "delete the demo database and seed it again")
	f.Bool(&traffic, "traffic", true, "drive the demo city's rescue vehicles along its streets, as their trackers would report")
	if err := f.parse(args); err != nil {
		return err
	}
	if elevators < 1 || elevators > 1_000_000 {
		return fmt.Errorf("--elevators %d: want 1 to 1000000", elevators)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if reset && cfg.DB != "" {
		return fmt.Errorf("--reset deletes only the embedded demo database; with --db, drop the PostgreSQL database yourself")
	}
	// The city is the same for everyone on a given day; maintenance and inspection dates are laid
	// out around that day, so that the usual few are overdue rather than all of them a month on.
	city := demo.Config{Elevators: elevators, Now: time.Now().UTC().Truncate(24 * time.Hour)}
	if cfg.DB == "" {
		if err := seedDemoFile(ctx, cfg.sqlitePath("demo"), city, reset, stdout); err != nil {
			return err
		}
	}
	m := &Main{Config: cfg, Logger: newLogger(&cfg, stderr), SQLiteName: "demo"}
	if err := m.Open(ctx); err != nil {
		return err
	}
	defer m.Close()
	if cfg.DB != "" {
		if err := seedDemoStore(ctx, m.Store, city, stdout); err != nil {
			return err
		}
	}
	sample, err := m.Store.ListElevators(ctx, liftrescue.ElevatorFilter{Paging: liftrescue.Paging{Limit: 1}})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nliftrescue demo city: %d elevators\n  open      %s/\n", sample.Total, m.URL())
	if len(sample.Items) > 0 {
		fmt.Fprintf(stdout, "  try       curl %s/api/v1/elevators/%s\n", m.URL(), sample.Items[0].RescueCode)
	}
	fmt.Fprintf(stdout, "  API       %s/api/openapi.json\n", m.URL())
	m.printTrackers(stdout)
	fmt.Fprintf(stdout, "  stop      Ctrl-C\n\n")
	if traffic {
		go driveDemo(ctx, m, demo.Generate(city))
	}
	return m.Run(ctx)
}

// seedDemoFile makes the embedded demo database unless it exists. It seeds a file beside it and
// renames it into place only when complete, so that an interrupted seed is never mistaken for a
// demo city.
func seedDemoFile(ctx context.Context, path string, cfg demo.Config, reset bool, stdout io.Writer) error {
	partial := path + ".partial"
	if err := removeDB(partial); err != nil {
		return err
	}
	if reset {
		if err := removeDB(path); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
	}
	if _, err := os.Stat(path); err == nil {
		fmt.Fprintln(stdout, "using the demo city already in", path, "(--reset seeds it again)")
		return nil
	}
	db, err := sqlite.Open(ctx, partial, sqlite.Options{})
	if err != nil {
		return err
	}
	err = seedCity(ctx, db, cfg, stdout)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		removeDB(partial)
		return err
	}
	return os.Rename(partial, path)
}

// seedDemoStore seeds a PostgreSQL demo database unless it already holds the demo city. A seed
// cannot be renamed into place there, so a city with fewer elevators than asked for is taken for an
// interrupted seed and refused rather than served half-made.
func seedDemoStore(ctx context.Context, s liftrescue.Store, cfg demo.Config, stdout io.Writer) error {
	seeded, err := demo.Seeded(ctx, s)
	if err != nil {
		return err
	}
	if !seeded {
		return seedCity(ctx, s, cfg, stdout)
	}
	page, err := s.ListElevators(ctx, liftrescue.ElevatorFilter{Paging: liftrescue.Paging{Limit: 1}})
	if err != nil {
		return err
	}
	if page.Total < cfg.Elevators {
		return fmt.Errorf("the database holds a demo city of %d elevators, fewer than the %d asked for: an earlier seed was interrupted or smaller; drop the database and start again", page.Total, cfg.Elevators)
	}
	fmt.Fprintln(stdout, "using the demo city already in the database")
	return nil
}

func seedCity(ctx context.Context, s liftrescue.Store, cfg demo.Config, stdout io.Writer) error {
	elevators := cfg.Elevators
	start := time.Now()
	city := demo.Generate(cfg)
	fmt.Fprintf(stdout, "seeding the demo city with %d elevators…\n", elevators)
	lastReport := time.Now()
	err := demo.Seed(ctx, s, city, func(done, total int) {
		if time.Since(lastReport) > 2*time.Second {
			fmt.Fprintf(stdout, "  %d/%d elevators\n", done, total)
			lastReport = time.Now()
		}
	})
	if err != nil {
		return fmt.Errorf("seed demo city: %w", err)
	}
	fmt.Fprintf(stdout, "seeded in %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// removeDB removes an SQLite file with its WAL and shared-memory files.
func removeDB(path string) error {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// driveDemo moves the demo city's vehicles until ctx ends: every second the simulation's new
// fixes go to the ingest as a tracker's would, in-process.
func driveDemo(ctx context.Context, m *Main, city *demo.City) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	traffic := city.Traffic(demo.TrafficConfig{}, time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if fixes := traffic.Step(now); len(fixes) > 0 {
				m.Ingest.Accept(ctx, fixes, gps.Proof{Trusted: true})
			}
		}
	}
}
