package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/api"
	"github.com/liftrescue/liftrescue/auth"
	"github.com/liftrescue/liftrescue/dispatch"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/liftrescue/liftrescue/gps"
	"github.com/liftrescue/liftrescue/iot"
	"github.com/liftrescue/liftrescue/live"
	"github.com/liftrescue/liftrescue/notify"
	"github.com/liftrescue/liftrescue/planning"
	"github.com/liftrescue/liftrescue/store/postgres"
	"github.com/liftrescue/liftrescue/store/sqlite"
	"github.com/liftrescue/liftrescue/stream"
	"github.com/liftrescue/liftrescue/ui"
)

// Main is the running service. Tests start it the way the command does, on 127.0.0.1:0.
type Main struct {
	Config Config
	Logger *slog.Logger
	// SQLiteName names the embedded database file in the data directory.
	SQLiteName string

	Store    liftrescue.Store // the database, wrapped so that registry writes reach the live state
	Index    *geo.Index
	Ingest   *gps.Pipeline
	Stream   *stream.Hub
	Dispatch *dispatch.Engine
	Monitor  *iot.Monitor // the IoT terminals: every alarm passes through it to Dispatch
	Planner  *planning.Planner
	Outbox   *notify.Outbox
	Auth     *auth.Service
	feed     *stream.VehicleFeed
	listener net.Listener
	server   *http.Server
	db       liftrescue.Store // the database itself

	// The tracker servers, each nil when its address is empty.
	osmandListener net.Listener
	osmand         *http.Server
	osmandHandler  *gps.OsmAndHandler
	jt808Listener  net.Listener
	jt808          *gps.JT808Server
	// The IoT terminals' alarms over MQTT, nil when --mqtt-broker is empty.
	mqtt *iot.Subscriber
}

// Open opens the database (migrating it) and the listener.
func (m *Main) Open(ctx context.Context) error {
	if err := m.Config.Validate(); err != nil {
		return err
	}
	db, err := openStore(ctx, &m.Config, m.SQLiteName)
	if err != nil {
		return err
	}
	m.db, m.Store = db, db
	if err := m.openLive(ctx); err != nil {
		m.Close()
		return err
	}
	if err := m.listen(); err != nil {
		m.Close()
		return err
	}
	if err := m.openDispatch(); err != nil {
		m.Close()
		return err
	}
	if m.mqtt = m.Config.subscriber(); m.mqtt != nil {
		m.mqtt.Logger = m.Logger
		m.mqtt.Handle = func(ctx context.Context, a liftrescue.Alarm, sender string) error {
			_, err := m.Monitor.Report(ctx, a, sender)
			return err
		}
	}
	m.Auth = auth.New(m.Store, nil, m.Logger)
	var baseMap *api.BaseMap
	if m.Config.Tiles != "" && m.Config.Tiles != "none" {
		baseMap = &api.BaseMap{URL: m.Config.Tiles, Attribution: m.Config.TilesAttribution}
	}
	handler := api.New(api.Config{Store: m.Store, Logger: m.Logger, Version: version, UI: ui.Handler(), Location: m.Config.location, BaseMap: baseMap,
		Index: m.Index, Ingest: m.Ingest, Stream: m.Stream, Liveness: m.liveness(), IngestKey: m.Config.IngestKey, ServerStats: m.serverStats,
		Dispatch: m.Dispatch, Terminals: m.Monitor, Planner: m.Planner, Auth: m.Auth, BehindProxy: m.Config.BehindProxy, SecureCookies: m.Config.SecureCookies,
		Limits: api.Limits{KeyRate: m.Config.KeyRate, UserRate: m.Config.UserRate}})
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

// listen opens the listeners of the API and of the tracker servers.
func (m *Main) listen() error {
	for _, l := range []struct {
		name, addr string
		ln         *net.Listener
	}{{"HTTP", m.Config.Addr, &m.listener}, {"OsmAnd", m.Config.OsmAndAddr, &m.osmandListener}, {"JT/T 808", m.Config.JT808Addr, &m.jt808Listener}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("listen for %s on %s: %w", l.name, l.addr, err)
		}
		*l.ln = ln
	}
	if m.osmandListener != nil {
		m.osmandHandler = gps.NewOsmAndHandler(m.Ingest, gps.OsmAndOptions{Logger: m.Logger})
		m.osmand = &http.Server{
			Handler:           m.osmandHandler,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       5 * time.Minute, // phones report every few seconds to minutes
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelDebug),
		}
	}
	if m.jt808Listener != nil {
		m.jt808 = &gps.JT808Server{Pipeline: m.Ingest, DisableRegistration: !m.Config.JT808Register, Logger: m.Logger,
			MaxConnsPerAddr: m.Config.JT808PerAddr}
	}
	return nil
}

// serverStats are the tracker servers' counters, for GET /api/v1/ingest.
func (m *Main) serverStats() map[string]any {
	out := map[string]any{}
	if m.osmandHandler != nil {
		out["osmand"] = m.osmandHandler.Stats()
	}
	if m.jt808 != nil {
		out["jt808"] = m.jt808.Stats()
	}
	if m.mqtt != nil {
		out["mqtt"] = m.mqtt.Stats()
	}
	return out
}

// printTrackers says where trackers report, and where the terminals' alarms come from.
func (m *Main) printTrackers(w io.Writer) {
	if a := m.OsmAndAddr(); a != "" {
		fmt.Fprintf(w, "  trackers  OsmAnd / Traccar Client  http://%s/?id=DEVICE&lat=…&lon=…&token=SECRET\n", a)
	}
	if a := m.JT808Addr(); a != "" {
		fmt.Fprintf(w, "  trackers  JT/T 808                 tcp://%s\n", a)
	}
	if m.mqtt != nil {
		fmt.Fprintf(w, "  alarms    MQTT %s %s\n", iot.Redacted(m.mqtt.Broker), m.mqtt.Filter())
	}
}

// OsmAndAddr and JT808Addr are where the tracker servers listen, "" when off.
func (m *Main) OsmAndAddr() string { return addrOf(m.osmandListener) }
func (m *Main) JT808Addr() string  { return addrOf(m.jt808Listener) }

func addrOf(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
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

// Run serves until ctx ends, then lets requests in flight finish for up to 10 seconds. The
// ingest is closed, writing what it accepted, by Close.
func (m *Main) Run(ctx context.Context) error {
	errc := make(chan error, 4)
	go func() { errc <- m.server.Serve(m.listener) }()
	if m.osmand != nil {
		go func() { errc <- m.osmand.Serve(m.osmandListener) }()
	}
	if m.jt808 != nil {
		go func() { errc <- m.jt808.Serve(m.jt808Listener) }()
	}
	bg, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	// Loading is short and must finish even when a stop came already: the shutdown below follows.
	// The grids first: an incident opened at start takes its grid.
	if err := m.Planner.Load(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	go m.Planner.Run(bg)
	if err := m.Dispatch.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	defer m.Dispatch.Close()
	if err := m.Monitor.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	defer m.Monitor.Close() // after the API and the subscriber stopped handing it reports
	// The subscriber stops before the monitor and the engine it hands alarms to close.
	mqttDone := make(chan struct{})
	if m.mqtt != nil {
		go func() {
			defer close(mqttDone)
			if err := m.mqtt.Run(bg); err != nil {
				errc <- err
			}
		}()
	} else {
		close(mqttDone)
	}
	defer func() { stopBackground(); <-mqttDone }()
	outboxDone := make(chan struct{})
	go func() { defer close(outboxDone); m.Outbox.Run(bg) }()
	defer func() { stopBackground(); <-outboxDone }()
	if m.Config.Retention > 0 {
		go m.keepHistory(bg, time.Hour)
	}
	go m.feed.Run(bg)
	go every(bg, time.Hour, m.Auth.Sweep)
	if m.Config.DebugAddr != "" {
		go m.serveProfiler(bg)
	}
	select {
	case err := <-errc:
		return err // a listener failed: Close shuts down the rest
	case <-ctx.Done():
	}
	m.Logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The live streams end first (they would hold the API's shutdown), then the trackers, so
	// that nothing new comes in while the API drains.
	m.Stream.Close()
	var errs []error
	if m.jt808 != nil {
		errs = append(errs, m.jt808.Shutdown(shutdownCtx))
	}
	if m.osmand != nil {
		errs = append(errs, m.osmand.Shutdown(shutdownCtx))
	}
	errs = append(errs, m.server.Shutdown(shutdownCtx))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Close writes what the ingest has accepted and releases the database.
func (m *Main) Close() error {
	var errs []error
	if m.Stream != nil {
		m.Stream.Close()
	}
	if m.Ingest != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		errs = append(errs, m.Ingest.Close(ctx))
		cancel()
	}
	for _, ln := range []net.Listener{m.listener, m.osmandListener, m.jt808Listener} {
		if ln != nil {
			ln.Close() // already closed by a shutdown, or never served
		}
	}
	if m.db != nil {
		errs = append(errs, m.db.Close())
	}
	return errors.Join(errs...)
}

// openLive builds the live index from the database and starts the ingest pipeline.
func (m *Main) openLive(ctx context.Context) error {
	ix, err := geo.NewIndex(geo.IndexOptions{H3Resolution: m.Config.H3Resolution})
	if err != nil {
		return err
	}
	loaded, err := live.Load(ctx, m.db, ix)
	if err != nil {
		return err
	}
	m.Logger.Info("live index loaded", "elevators", loaded.Elevators, "vehicles", loaded.Vehicles, "took", loaded.Took.Round(time.Millisecond))
	writers, batch, flushAt := m.Config.HistoryWriters, gps.DefaultFlushSize, 0
	if m.Config.DB != "" {
		// PostgreSQL writes COPY batches side by side, and larger transactions spread the
		// round trips of each over more rows. It keeps the fixes of a vehicle in a batch as one
		// row: a flush waits (within its interval) for up to a fifth of the backlog, so that a
		// fleet reporting often gets long runs, and costs the database a fraction per fix.
		batch = 5000
		flushAt = gps.DefaultBacklogFlushes * batch / 5
		if writers == 0 {
			writers = 4
		}
	}
	// A minute of vehicle events at a thousand a second: a map that lost its connection for
	// that long resumes without reloading.
	hub := stream.NewHub(stream.HubConfig{Buffer: 60_000, Logger: m.Logger, MaxClients: m.Config.MaxStreams})
	p, err := gps.NewPipeline(ctx, gps.PipelineConfig{Store: m.db, Index: ix, FlushInterval: m.Config.FlushInterval, FlushSize: batch, FlushAt: flushAt,
		DeviceRate:  m.Config.DeviceRate,
		MaxSpeedKmh: float64(m.Config.MaxSpeedKmh), Writers: writers, Logger: m.Logger,
		OnAlarm: func(vehicleID int64, f liftrescue.Fix) {
			m.Logger.Warn("tracker alarm", "vehicle_id", vehicleID, "alarm", f.Alarm, "lat", f.Lat, "lon", f.Lon)
			hub.Publish(stream.KindVehicleAlarm, vehicleAlarm{VehicleID: vehicleID, Alarm: f.Alarm, Time: f.Time, Lat: f.Lat, Lon: f.Lon})
		}})
	if err != nil {
		hub.Close()
		return err
	}
	feed, err := stream.NewVehicleFeed(stream.VehicleFeedConfig{Hub: hub, Index: ix, Fleet: p.Fleet, Liveness: m.liveness(), Logger: m.Logger})
	if err != nil {
		hub.Close()
		return err
	}
	m.Index, m.Ingest, m.Stream, m.feed = ix, p, hub, feed
	m.Store = &live.Store{Store: m.db, Index: ix, Ingest: p, Logger: m.Logger}
	return nil
}

// openDispatch makes the dispatch engine and the outbox that delivers its notifications.
func (m *Main) openDispatch() error {
	policy, err := m.Config.policy()
	if err != nil {
		return err
	}
	targets, err := m.Config.webhookTargets()
	if err != nil {
		return err
	}
	senders := map[liftrescue.NotificationChannel]notify.Sender{liftrescue.ChannelLog: notify.LogSender{Logger: m.Logger}}
	if m.Config.SMSURL != "" {
		gw := &notify.SMSGateway{URL: m.Config.SMSURL, Body: m.Config.SMSBody}
		if m.Config.SMSKey != "" {
			gw.Headers = map[string]string{"Authorization": "Bearer " + m.Config.SMSKey}
		}
		if err := gw.Validate(); err != nil {
			return fmt.Errorf("--sms-url/--sms-body: %w", err)
		}
		senders[liftrescue.ChannelSMS] = gw
	}
	var names []string
	if len(targets) > 0 {
		hooks := &notify.Webhooks{Targets: targets}
		if err := hooks.Validate(); err != nil {
			return fmt.Errorf("--webhooks: %w", err)
		}
		senders[liftrescue.ChannelWebhook] = hooks
		for _, t := range targets {
			names = append(names, t.Name)
		}
	}
	m.Outbox = &notify.Outbox{Store: m.db, Senders: senders, Logger: m.Logger}
	publicURL := m.Config.PublicURL
	if publicURL == "" {
		publicURL = m.URL()
	}
	m.Planner, err = planning.New(planning.Config{Store: m.db, Index: m.Index, Policy: policy, Liveness: m.liveness(), Logger: m.Logger})
	if err != nil {
		return err
	}
	m.Dispatch, err = dispatch.New(dispatch.Config{Store: m.db, Index: m.Index, Policy: policy, Liveness: m.liveness(),
		Grids: m.Planner, Logger: m.Logger, BaseURL: publicURL, Location: m.Config.location, SMS: m.Config.SMSURL != "", Webhooks: names,
		Queued: m.Outbox.Kick, Published: func(inc *liftrescue.Incident) {
			m.Stream.PublishIn(stream.KindIncident, inc.District, incidentSummary(inc))
		}})
	if err != nil {
		return err
	}
	m.Store.(*live.Store).Changed = m.Dispatch.RegistryChanged
	m.Monitor = &iot.Monitor{Store: m.db, Dispatch: m.Dispatch, OfflineAfter: m.Config.TerminalOfflineAfter,
		FlagFaults: m.Config.FaultFlagCount, FlagPeriod: m.Config.FaultFlagPeriod, Logger: m.Logger}
	return nil
}

// incidentEvent is what the live stream says of an incident at each step.
type incidentEvent struct {
	ID         int64                    `json:"id"`
	State      liftrescue.IncidentState `json:"state"`
	Tier       int                      `json:"tier"`
	ElevatorID int64                    `json:"elevator_id"`
	RescueCode string                   `json:"rescue_code"`
	Address    string                   `json:"address"`
	District   string                   `json:"district"`
	Lat        float64                  `json:"lat"`
	Lon        float64                  `json:"lon"`
	Trapped    int                      `json:"trapped"`
	ReportedAt time.Time                `json:"reported_at"`
	ArriveBy   time.Time                `json:"arrive_by"`
	Version    int                      `json:"version"`
}

func incidentSummary(inc *liftrescue.Incident) incidentEvent {
	return incidentEvent{ID: inc.ID, State: inc.State, Tier: inc.Tier, ElevatorID: inc.ElevatorID, RescueCode: inc.Elevator.RescueCode,
		Address: inc.Elevator.Address, District: inc.District, Lat: inc.Elevator.Lat, Lon: inc.Elevator.Lon, Trapped: inc.Trapped,
		ReportedAt: inc.ReportedAt, ArriveBy: inc.ArriveBy, Version: inc.Version}
}

// vehicleAlarm is the event of a tracker's alarm (its SOS button).
type vehicleAlarm struct {
	VehicleID int64     `json:"vehicle_id"`
	Alarm     string    `json:"alarm"`
	Time      time.Time `json:"time"`
	Lat       float64   `json:"lat"`
	Lon       float64   `json:"lon"`
}

func (m *Main) liveness() liftrescue.Liveness {
	return liftrescue.Liveness{StaleAfter: m.Config.StaleAfter, OfflineAfter: m.Config.OfflineAfter}
}

// serveProfiler serves Go's profiler until ctx ends.
func (m *Main) serveProfiler(ctx context.Context) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: m.Config.DebugAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		m.Logger.Error("profiler", "addr", m.Config.DebugAddr, "err", err)
	}
}

// keepHistory deletes positions older than the retention every interval, the first time at once.
func (m *Main) keepHistory(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		cutoff := time.Now().Add(-m.Config.Retention)
		n, err := m.db.DeletePositionsBefore(ctx, cutoff)
		switch {
		case err != nil && ctx.Err() == nil:
			m.Logger.Error("delete old positions", "before", cutoff, "err", err)
		case n > 0:
			m.Logger.Info("old positions deleted", "before", cutoff.Format(time.RFC3339), "positions", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
	m.printTrackers(stdout)
	if err := m.bootstrapAdmin(ctx, stdout); err != nil {
		return err
	}
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

// every runs fn each period until ctx ends.
func every(ctx context.Context, period time.Duration, fn func(context.Context)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}
