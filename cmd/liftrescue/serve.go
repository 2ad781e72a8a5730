package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/api"
	"github.com/liftrescue/liftrescue/store/postgres"
	"github.com/liftrescue/liftrescue/store/sqlite"
	"github.com/liftrescue/liftrescue/ui"
)

// Main is the running service. Tests start it the way the command does, on 127.0.0.1:0.
type Main struct {
	Config Config
	Logger *slog.Logger
	// SQLiteName names the embedded database file in the data directory.
	SQLiteName string

	Store    liftrescue.Store
	listener net.Listener
	server   *http.Server
}

// Open opens the database (migrating it) and the listener.
func (m *Main) Open(ctx context.Context) error {
	if err := m.Config.Validate(); err != nil {
		return err
	}
	store, err := openStore(ctx, &m.Config, m.SQLiteName)
	if err != nil {
		return err
	}
	m.Store = store
	if m.listener, err = net.Listen("tcp", m.Config.Addr); err != nil {
		store.Close()
		return fmt.Errorf("listen on %s: %w", m.Config.Addr, err)
	}
	handler := api.New(api.Config{Store: store, Logger: m.Logger, Version: version, UI: ui.Handler(), Location: m.Config.location})
	m.server = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		// Imports of a few hundred thousand rows take a while to upload and to write.
		ReadTimeout:    2 * time.Minute,
		WriteTimeout:   2 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	return nil
}

// URL is where the service answers.
func (m *Main) URL() string {
	addr := m.listener.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

// Run serves until ctx ends, then lets requests in flight finish for up to 10 seconds.
func (m *Main) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- m.server.Serve(m.listener) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	m.Logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.server.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close releases the database.
func (m *Main) Close() error {
	if m.Store != nil {
		return m.Store.Close()
	}
	return nil
}

// openStore opens PostgreSQL when --db names it, else the embedded database.
func openStore(ctx context.Context, cfg *Config, sqliteName string) (liftrescue.Store, error) {
	if cfg.DB != "" {
		db, err := postgres.Open(ctx, cfg.DB, postgres.Options{})
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL: %w", err)
		}
		return db, nil
	}
	db, err := sqlite.Open(ctx, cfg.sqlitePath(sqliteName), sqlite.Options{})
	if err != nil {
		return nil, fmt.Errorf("open embedded database: %w", err)
	}
	return db, nil
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	f := newFlags("serve", "liftrescue serve [flags]: run the dispatch service")
	f.SetOutput(stderr)
	cfg.serveFlags(f)
	if err := f.parse(args); err != nil {
		return err
	}
	m := &Main{Config: cfg, Logger: newLogger(&cfg, stderr), SQLiteName: "liftrescue"}
	if err := m.Open(ctx); err != nil {
		return err
	}
	defer m.Close()
	fmt.Fprintf(stdout, "liftrescue %s serving on %s\n", version, m.URL())
	return m.Run(ctx)
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	f := newFlags("migrate", "liftrescue migrate [flags]: apply pending database migrations and exit")
	f.SetOutput(stderr)
	cfg.storeFlags(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	store, err := openStore(ctx, &cfg, "liftrescue")
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Ready(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "database schema is up to date")
	return nil
}
