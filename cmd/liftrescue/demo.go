package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/demo"
	"github.com/liftrescue/liftrescue/gps"
	"github.com/liftrescue/liftrescue/iot"
	"github.com/liftrescue/liftrescue/store/sqlite"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	var elevators int
	var reset, traffic, rescues, terminals bool
	var rescueEvery time.Duration
	f := newFlags("demo", `liftrescue demo [flags]: run the service on a demo city

Seeds a Zaozhuang-like city (six districts, elevators in buildings along streets, maintenance
companies, user units, volunteer rescue vehicles, fire stations) into its own database file,
data/demo.db, unless it is there already, then serves it. Its vans drive the streets, trapped
passengers are reported now and then, and simulated units answer, drive there and free them.
Unless --policy is given, the deadlines are shortened so that escalations come within minutes.`)
	f.SetOutput(stderr)
	cfg.serveFlags(f)
	f.Int(&elevators, "elevators", demo.DefaultElevators, "number of elevators in the demo city (up to 1000000)")
	f.Bool(&reset, "reset", false, "delete the demo database and seed it again")
	f.Bool(&traffic, "traffic", true, "drive the demo city's rescue vehicles along its streets, as their trackers would report")
	f.Bool(&rescues, "rescues", true, "report trapped passengers now and then, and play every notified unit (on incidents you open too): answer, drive there, free them")
	f.Duration(&rescueEvery, "rescue-every", demo.DefaultRescueEvery, "the mean time between the simulated reports of trapped passengers")
	f.Bool(&terminals, "terminals", true, "play the IoT terminals of two in five elevators: heartbeats, a few going quiet, faults, now and then a trapped passenger")
	if err := f.parse(args); err != nil {
		return err
	}
	if elevators < 1 || elevators > 1_000_000 {
		return fmt.Errorf("--elevators %d: want 1 to 1000000", elevators)
	}
	if rescueEvery < time.Second {
		return fmt.Errorf("--rescue-every %s: want at least 1s", rescueEvery)
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
	demoPolicy := cfg.PolicyFile == ""
	if demoPolicy {
		// config.go reads the policy from a file; the demo's goes beside its database.
		path, err := writeDemoPolicy(cfg.DataDir)
		if err != nil {
			return err
		}
		cfg.PolicyFile = path
	}
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
	var terms *demo.Terminals
	if terminals {
		// Before the city is announced: a demo stopped while its terminals are registered stops
		// as any other, without an error.
		if terms, err = demoTerminals(ctx, m.Store); err != nil && ctx.Err() == nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\nliftrescue demo city: %d elevators\n  open      %s/\n", sample.Total, m.URL())
	key, err := m.ensureDemoAccounts(ctx, stdout)
	if err != nil {
		return err
	}
	if len(sample.Items) > 0 {
		fmt.Fprintf(stdout, "  try       curl -H 'Authorization: Bearer %s' %s/api/v1/elevators/%s\n", key, m.URL(), sample.Items[0].RescueCode)
	}
	fmt.Fprintf(stdout, "  API       %s/api/openapi.json\n", m.URL())
	m.printTrackers(stdout)
	policy := m.Dispatch.Policy()
	if demoPolicy {
		fmt.Fprintf(stdout, "  policy    demo deadlines, shorter than TSG T5002's: accept %s (volunteers %s), arrive %s (rural %s); --policy FILE for your own\n",
			time.Duration(policy.AckTimeout), time.Duration(policy.Tier2AckTimeout), time.Duration(policy.ArriveTimeout), time.Duration(policy.RuralArriveTimeout))
	}
	var sim *demo.RescueConfig
	if rescues {
		sim = &demo.RescueConfig{Every: rescueEvery, Pace: demo.RescuePace(policy), Elevators: sample.Total}
		fmt.Fprintf(stdout, "  rescues   trapped passengers reported about every %s, up to %d at once (--rescues=false stops them)\n",
			rescueEvery, demo.DefaultRescueMaxOpen)
	}
	if terms != nil {
		fmt.Fprintf(stdout, "  IoT       %d terminals report every minute, a few go quiet, faults now and then, a trapped passenger about every %s (--terminals=false stops them)\n",
			terms.Len(), demo.DefaultIoTTrappedEvery)
	}
	fmt.Fprintf(stdout, "  stop      Ctrl-C\n\n")
	if traffic || rescues || terms != nil {
		// The city stops before the service closes (deferred above), also when Run ends on a
		// failed listener: nothing then feeds a closed ingest or acts on a closed database.
		cityCtx, stopCity := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); driveDemo(cityCtx, m, demo.Generate(city), traffic, sim, terms) }()
		defer func() { stopCity(); <-done }()
	}
	return m.Run(ctx)
}

// writeDemoPolicy writes the demo's escalation policy into the data directory and returns its path.
// It is written on every start, so that a newer demo's policy replaces an older one.
func writeDemoPolicy(dir string) (string, error) {
	b, err := json.MarshalIndent(demo.Policy(), "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "demo-policy.json")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write the demo policy: %w", err)
	}
	return path, nil
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

// demoTerminals registers the demo's IoT terminals unless some are registered, and plays those
// registered.
func demoTerminals(ctx context.Context, s liftrescue.Store) (*demo.Terminals, error) {
	if _, err := demo.SeedTerminals(ctx, s); err != nil {
		return nil, err
	}
	var ids []string
	f := liftrescue.TerminalFilter{Limit: liftrescue.MaxLimit}
	for {
		page, more, err := s.ListTerminals(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, t := range page {
			ids = append(ids, t.ID)
		}
		if !more || len(page) == 0 {
			break
		}
		f.After = page[len(page)-1].ID
	}
	return demo.NewTerminals(demo.TerminalConfig{}, ids, time.Now()), nil
}

// driveDemo runs the demo city until ctx ends. Every second the vehicles' new fixes go to the
// ingest as a tracker's would, in-process, and the rescue simulation, when rescues is not nil,
// takes its steps through the dispatch engine. Both step on this goroutine: the simulation sends
// the vans that the traffic drives.
func driveDemo(ctx context.Context, m *Main, city *demo.City, traffic bool, rescues *demo.RescueConfig, terms *demo.Terminals) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	start := time.Now()
	var tr *demo.Traffic
	if traffic {
		tr = city.Traffic(demo.TrafficConfig{}, start)
	}
	var rs *demo.Rescues
	if rescues != nil {
		rs = city.Rescues(*rescues, m.Dispatch, m.Store, tr, start)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if tr != nil {
				if fixes := tr.Step(now); len(fixes) > 0 {
					m.Ingest.Accept(ctx, fixes, gps.Proof{Trusted: true})
				}
			}
			if terms != nil && m.Monitor.Started() {
				for _, a := range terms.Step(now) {
					err := a.Normalize(now, iot.MaxSkew, iot.MaxAge)
					if err == nil {
						_, err = m.Monitor.Report(ctx, a, "demo")
					}
					if err != nil && ctx.Err() == nil {
						m.Logger.Warn("demo terminal report", "terminal", a.TerminalID, "err", err)
					}
				}
			}
			if rs != nil {
				if err := rs.Step(ctx, now); err != nil && ctx.Err() == nil {
					m.Logger.Warn("demo rescue simulation", "err", err)
				}
			}
		}
	}
}
