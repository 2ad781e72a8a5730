package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the centre's zone must load on a machine without zoneinfo

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/liftrescue/liftrescue/gps"
	"github.com/liftrescue/liftrescue/iot"
	"github.com/liftrescue/liftrescue/notify"
)

// Config is read once per command: defaults, overridden by LIFTRESCUE_* environment variables,
// overridden by flags. It is validated before anything starts.
type Config struct {
	Addr     string // HTTP listen address
	DataDir  string // directory of the embedded database
	DB       string // PostgreSQL URL; empty selects the embedded SQLite database
	TimeZone string // the centre's zone, for times shown and local times read
	// Tiles is the base map's XYZ URL ("none" or empty: no base map), TilesAttribution its credit.
	Tiles, TilesAttribution string
	LogLevel                string
	LogJSON                 bool

	// Tracker ingest and the live index.
	OsmAndAddr     string  // OsmAnd / Traccar Client HTTP listen address; empty turns it off
	JT808Addr      string  // JT/T 808 TCP listen address; empty turns it off
	JT808Register  bool    // answer JT/T 808 registrations with the auth code
	IngestKey      string  // lets a gateway post fixes of any device to /api/v1/positions
	BehindProxy    bool    // trust X-Forwarded-For/-Proto from a private or loopback proxy
	SecureCookies  bool    // the session cookie is Secure even over plain HTTP (TLS ends at a proxy)
	KeyRate        float64 // requests a second per API key
	UserRate       float64 // requests a second per signed-in person
	DeviceRate     float64 // fixes a second one tracker may keep up; 0: no limit
	JT808PerAddr   int     // JT/T 808 connections from one address; 0: no cap
	MaxStreams     int     // live streams open at once; 0: no cap
	H3Resolution   int
	StaleAfter     time.Duration
	OfflineAfter   time.Duration
	MaxSpeedKmh    int
	FlushInterval  time.Duration
	HistoryWriters int           // history transactions at once; 0 picks by database
	Retention      time.Duration // position history kept; 0 keeps it all
	DebugAddr      string        // Go's profiler (/debug/pprof/), for benchmarks; empty turns it off

	// Dispatch and notifications.
	PolicyFile    string // JSON escalation policy; empty: the defaults
	PublicURL     string // the address responders reach, for the links in their texts
	SMSURL        string // HTTP SMS gateway; empty: units' texts go to the log
	SMSBody       string // the gateway's request body template
	SMSKey        string // sent as Authorization: Bearer KEY to the gateway, when set
	Webhooks      string // name=url,... external systems that receive every incident event
	WebhookSecret string // signs the webhooks (HMAC-SHA256)

	// IoT terminals' alarms over MQTT.
	MQTTBroker   string // tcp://host:1883 …; empty turns the subscriber off
	MQTTTopic    string // subscription filter; empty: MQTTPattern with {terminal} as +
	MQTTPattern  string // where the terminal id is in a topic
	MQTTUsername string
	MQTTPassword string
	// The terminals' health and the elevators' fault records.
	TerminalOfflineAfter time.Duration // a terminal silent this long is offline
	FaultFlagCount       int           // this many faults of an elevator …
	FaultFlagPeriod      time.Duration // … within this period flag it for the supervisor

	location *time.Location
}

// envPrefix starts the environment variable of every flag: --addr reads LIFTRESCUE_ADDR.
const envPrefix = "LIFTRESCUE_"

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// flags registers flags whose defaults come from the environment, and remembers environment values
// that do not parse so that the command can refuse them.
type flags struct {
	*flag.FlagSet
	errs []error
}

func newFlags(name, usage string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	f := &flags{FlagSet: fs}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nFlags (each also read from the environment variable shown):\n", usage)
		fs.VisitAll(func(fl *flag.Flag) {
			def := ""
			if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" {
				def = fmt.Sprintf(" (default %q)", fl.DefValue)
			}
			fmt.Fprintf(fs.Output(), "  --%s  [%s]\n      %s%s\n", fl.Name, envName(fl.Name), fl.Usage, def)
		})
	}
	return f
}

func (f *flags) String(p *string, name, def, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		def = v
	}
	f.StringVar(p, name, def, usage)
}

func (f *flags) Int(p *int, name string, def int, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q: want an integer", envName(name), v))
		}
		def = n
	}
	f.IntVar(p, name, def, usage)
}

func (f *flags) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q: want a duration such as 90s or 2h", envName(name), v))
		}
		def = d
	}
	f.DurationVar(p, name, def, usage)
}

func (f *flags) Float(p *float64, name string, def float64, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || x < 0 {
			f.errs = append(f.errs, fmt.Errorf("%s=%q: want a number, 0 or more", envName(name), v))
		}
		def = x
	}
	f.Float64Var(p, name, def, usage)
}

func (f *flags) Bool(p *bool, name string, def bool, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q: want true or false", envName(name), v))
		}
		def = b
	}
	f.BoolVar(p, name, def, usage)
}

// parse parses the arguments and reports bad environment values as well.
func (f *flags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		return err
	}
	return errors.Join(f.errs...)
}

// storeFlags registers the flags that choose the database.
func (c *Config) storeFlags(f *flags) {
	f.String(&c.DataDir, "data", "data", "directory of the embedded SQLite database")
	f.String(&c.DB, "db", "", "PostgreSQL URL (postgres://user@host:5432/db); empty uses the embedded database in --data")
	f.String(&c.TimeZone, "tz", "Asia/Shanghai", "the centre's time zone: times are shown and local times in imports are read in it")
	f.String(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	f.Bool(&c.LogJSON, "log-json", false, "write logs as JSON lines")
}

// serveFlags registers the flags of the commands that serve HTTP.
func (c *Config) serveFlags(f *flags) {
	c.storeFlags(f)
	f.String(&c.Addr, "addr", "127.0.0.1:8080", "HTTP listen address (host:port; port 0 picks a free one)")
	f.String(&c.OsmAndAddr, "osmand-addr", "127.0.0.1:5055", "listen address of the OsmAnd / Traccar Client protocol (HTTP); empty turns it off. Trackers on the road need 0.0.0.0:5055")
	f.String(&c.JT808Addr, "jt808-addr", "127.0.0.1:6808", "listen address of JT/T 808 trackers (TCP); empty turns it off")
	f.Bool(&c.JT808Register, "jt808-register", true, "answer JT/T 808 registrations (0x0100) of known terminals with their auth code; off, terminals must be configured with it")
	f.String(&c.IngestKey, "ingest-key", "", "a key that lets a gateway post fixes of any device to /api/v1/positions (Authorization: Bearer KEY); empty: only device secrets")
	f.Bool(&c.BehindProxy, "behind-proxy", false, "a reverse proxy on a private or loopback address ends TLS: trust its X-Forwarded-For and X-Forwarded-Proto")
	f.String(&c.Tiles, "tiles", DefaultTiles, "the map's base tiles, an XYZ URL with {z}, {x} and {y} ({s} for subdomains a, b, c), in WGS-84: a centre's own tile server in production (OpenStreetMap's servers allow light use only); \"none\" draws the map on the district outlines alone")
	f.String(&c.TilesAttribution, "tiles-attribution", DefaultTilesAttribution, "the credit the tiles' licence asks for, shown on the map (plain text or simple HTML)")
	f.Bool(&c.SecureCookies, "secure-cookies", false, "mark the session cookie Secure even when the request says plain HTTP (TLS ends at a proxy that does not say so)")
	f.Float(&c.KeyRate, "key-rate", 200, "requests a second each API key may keep up (beyond a burst of twice that: 429 with Retry-After)")
	f.Float(&c.UserRate, "user-rate", 30, "requests a second each signed-in person may keep up")
	f.Float(&c.DeviceRate, "device-rate", 10, "fixes a second one tracker may keep up, beyond a burst of 600 (a tunnel's backlog): more are refused (OsmAnd 429, JT/T 808 result 1); 0 turns the limit off (load benchmarks)")
	f.Int(&c.JT808PerAddr, "jt808-conns-per-addr", 1024, "JT/T 808 connections one address may hold (carriers put many trackers behind one NAT address); 0: no cap")
	f.Int(&c.MaxStreams, "max-streams", 1000, "live streams (SSE) open at once; beyond: 503 with Retry-After; 0: no cap")
	f.Int(&c.H3Resolution, "h3-res", geo.DefaultH3Resolution, "H3 resolution of the live index's cells (1–15)")
	f.Duration(&c.StaleAfter, "stale-after", liftrescue.DefaultStaleAfter, "a vehicle silent this long is stale")
	f.Duration(&c.OfflineAfter, "offline-after", liftrescue.DefaultOfflineAfter, "a vehicle silent this long is offline")
	f.Int(&c.MaxSpeedKmh, "max-speed-kmh", gps.DefaultMaxSpeedKmh, "a fix farther from the last than this speed allows is an impossible jump")
	f.Duration(&c.FlushInterval, "flush-interval", gps.DefaultFlushInterval, "the position history is written at least this often; a crash loses at most this much")
	f.Int(&c.HistoryWriters, "history-writers", 0, "position history transactions at once (0: 4 on PostgreSQL, 1 on SQLite)")
	f.String(&c.DebugAddr, "debug-addr", "", "listen address of Go's profiler, /debug/pprof/ (keep it on loopback); empty turns it off")
	f.Duration(&c.Retention, "retention", 90*24*time.Hour, "position history older than this is deleted (checked hourly); 0 keeps it all")
	f.String(&c.PolicyFile, "policy", "", "escalation policy file (JSON: ack_timeout, arrive_timeout, rural_arrive_timeout, tier2_ack_timeout, tier3_ack_timeout, manual_dispatch, arrival_radius_m, districts, …); empty: the defaults of TSG T5002")
	f.String(&c.PublicURL, "public-url", "", "the service's address as responders' phones reach it, for the links in their texts; empty: the listen address")
	f.String(&c.SMSURL, "sms-url", "", "HTTP SMS gateway URL; empty: texts to units are written to the log")
	f.String(&c.SMSBody, "sms-body", "", "the gateway's request body, a Go template with .Phone .Text .ID .IncidentID and the funcs json and urlquery; empty: {\"phone\":…,\"text\":…,\"id\":…}")
	f.String(&c.SMSKey, "sms-key", "", "sent to the SMS gateway as Authorization: Bearer KEY")
	f.String(&c.Webhooks, "webhooks", "", "external systems that receive every incident event, as name=https://host/path,name2=…")
	f.String(&c.WebhookSecret, "webhook-secret", "", "the secret that signs webhooks (X-Liftrescue-Signature: t=…,v1=HMAC-SHA256); at least 16 characters")
	f.String(&c.MQTTBroker, "mqtt-broker", "", "MQTT broker of the elevator IoT terminals' alarms (tcp://host:1883, ssl://host:8883, ws://host:port/path, mqtt://…); empty turns it off")
	f.String(&c.MQTTTopic, "mqtt-topic", "", "MQTT subscription filter; empty: --mqtt-pattern with {terminal} as +, i.e. "+iot.DefaultTopic+" by default")
	f.String(&c.MQTTPattern, "mqtt-pattern", iot.TopicPattern, "where the terminal id is in an alarm's MQTT topic: its level written {terminal}, the others literal, + or # (last)")
	f.String(&c.MQTTUsername, "mqtt-username", "", "MQTT user name; empty: anonymous")
	f.String(&c.MQTTPassword, "mqtt-password", "", "MQTT password (better given in the environment than on the command line)")
	f.Duration(&c.TerminalOfflineAfter, "terminal-offline-after", iot.DefaultOfflineAfter, "an IoT terminal silent this long (no alarm, status report or heartbeat) is offline")
	f.Int(&c.FaultFlagCount, "fault-flag-count", iot.DefaultFlagFaults, "an elevator with this many faults within --fault-flag-period is flagged for the supervisor")
	f.Duration(&c.FaultFlagPeriod, "fault-flag-period", iot.DefaultFlagPeriod, "the period of --fault-flag-count")
}

// subscriber is the MQTT subscriber of the flags, without its Handle; nil when --mqtt-broker is
// empty.
func (c *Config) subscriber() *iot.Subscriber {
	if c.MQTTBroker == "" {
		return nil
	}
	return &iot.Subscriber{Broker: c.MQTTBroker, Topic: c.MQTTTopic, Pattern: c.MQTTPattern,
		Username: c.MQTTUsername, Password: c.MQTTPassword}
}

// policy reads the escalation policy file, or returns the defaults.
func (c *Config) policy() (liftrescue.Policy, error) {
	if c.PolicyFile == "" {
		return liftrescue.DefaultPolicy(), nil
	}
	b, err := os.ReadFile(c.PolicyFile)
	if err != nil {
		return liftrescue.Policy{}, fmt.Errorf("--policy: %w", err)
	}
	p, err := liftrescue.ReadPolicy(b)
	if err != nil {
		return p, fmt.Errorf("--policy %s: %s", c.PolicyFile, liftrescue.ErrorMessage(err))
	}
	return p, nil
}

// webhookTargets reads --webhooks.
func (c *Config) webhookTargets() ([]notify.WebhookTarget, error) {
	var out []notify.WebhookTarget
	for _, item := range strings.Split(c.Webhooks, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		name, url, ok := strings.Cut(item, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--webhooks %q: want name=https://host/path", item)
		}
		out = append(out, notify.WebhookTarget{Name: name, URL: url, Secret: c.WebhookSecret})
	}
	if len(out) > 0 && len(c.WebhookSecret) < 16 {
		return nil, fmt.Errorf("--webhook-secret: webhooks need a secret of at least 16 characters")
	}
	return out, nil
}

// Validate checks the configuration once, before anything starts.
func (c *Config) Validate() error {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return fmt.Errorf("--tz %q: not a time zone name such as Asia/Shanghai", c.TimeZone)
	}
	c.location = loc
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			return fmt.Errorf("--addr %q: want host:port, e.g. 127.0.0.1:8080", c.Addr)
		}
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		return fmt.Errorf("--db: want a postgres:// URL, or nothing for the embedded database")
	}
	if c.Addr != "" { // a command that serves
		if err := c.validateServe(); err != nil {
			return err
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// sqlitePath is the embedded database file of a command ("liftrescue" or "demo").
func (c *Config) sqlitePath(name string) string { return filepath.Join(c.DataDir, name+".db") }

// The default base map: OpenStreetMap's tiles, fine for a demo (see their tile usage policy).
const (
	DefaultTiles            = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
	DefaultTilesAttribution = `&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors`
)

// checkTiles refuses a tile URL the map could not use: it needs the tile's place in it.
func checkTiles(tiles string) error {
	if tiles == "" || tiles == "none" {
		return nil
	}
	u, err := url.Parse(tiles)
	if err != nil || !(u.Scheme == "https" || u.Scheme == "http" || (u.Scheme == "" && strings.HasPrefix(tiles, "/"))) {
		return fmt.Errorf("--tiles %q: want an http(s) URL or a path from this server's root, or none", tiles)
	}
	for _, p := range []string{"{z}", "{x}", "{y}"} {
		if !strings.Contains(tiles, p) {
			return fmt.Errorf("--tiles %q: the URL has no %s (want e.g. https://tiles.example.cn/{z}/{x}/{y}.png)", tiles, p)
		}
	}
	return nil
}

// validateServe checks the flags of the commands that serve.
func (c *Config) validateServe() error {
	for _, a := range []struct{ flag, addr string }{{"osmand-addr", c.OsmAndAddr}, {"jt808-addr", c.JT808Addr}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("--%s %q: want host:port, or nothing to turn it off", a.flag, a.addr)
		}
	}
	if err := checkTiles(c.Tiles); err != nil {
		return err
	}
	if c.H3Resolution < 1 || c.H3Resolution > 15 {
		return fmt.Errorf("--h3-res %d: want 1 to 15", c.H3Resolution)
	}
	if c.StaleAfter <= 0 || c.OfflineAfter < c.StaleAfter {
		return fmt.Errorf("--stale-after %s, --offline-after %s: want a positive stale-after and offline-after no shorter", c.StaleAfter, c.OfflineAfter)
	}
	if c.MaxSpeedKmh < 10 || c.MaxSpeedKmh > 1000 {
		return fmt.Errorf("--max-speed-kmh %d: want 10 to 1000", c.MaxSpeedKmh)
	}
	if c.FlushInterval < 10*time.Millisecond || c.FlushInterval > time.Minute {
		return fmt.Errorf("--flush-interval %s: want 10ms to 1m", c.FlushInterval)
	}
	if c.HistoryWriters < 0 || c.HistoryWriters > 64 {
		return fmt.Errorf("--history-writers %d: want 0 to 64", c.HistoryWriters)
	}
	if c.Retention != 0 && c.Retention < time.Hour {
		return fmt.Errorf("--retention %s: want at least 1h, or 0 to keep everything", c.Retention)
	}
	if _, err := c.policy(); err != nil {
		return err
	}
	if _, err := c.webhookTargets(); err != nil {
		return err
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		return fmt.Errorf("--public-url %q: want http:// or https://", c.PublicURL)
	}
	if c.IngestKey != "" && len(c.IngestKey) < 16 {
		return fmt.Errorf("--ingest-key: want at least 16 characters")
	}
	// Zero is the monitor's default (a Config built in code, not from flags).
	if c.TerminalOfflineAfter != 0 && (c.TerminalOfflineAfter < 10*time.Second || c.TerminalOfflineAfter > 7*24*time.Hour) {
		return fmt.Errorf("--terminal-offline-after %s: want 10s to 168h", c.TerminalOfflineAfter)
	}
	if c.FaultFlagCount != 0 && (c.FaultFlagCount < 2 || c.FaultFlagCount > 1000) {
		return fmt.Errorf("--fault-flag-count %d: want 2 to 1000", c.FaultFlagCount)
	}
	if c.FaultFlagPeriod != 0 && (c.FaultFlagPeriod < time.Hour || c.FaultFlagPeriod > 366*24*time.Hour) {
		return fmt.Errorf("--fault-flag-period %s: want 1h to 8784h", c.FaultFlagPeriod)
	}
	if s := c.subscriber(); s != nil {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("--mqtt-broker, --mqtt-topic, --mqtt-pattern: %w", err)
		}
	}
	return nil
}
