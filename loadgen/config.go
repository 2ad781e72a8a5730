package loadgen

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/liftrescue/liftrescue/gps"
	"github.com/liftrescue/liftrescue/iot"
)

// Protocol is what a run speaks: a tracker protocol (Run) or an IoT terminal fleet's (RunFleet).
type Protocol string

const (
	// JSON posts native batches to {URL}/api/v1/positions.
	JSON Protocol = "json"
	// OsmAnd sends one fix per HTTP request to the OsmAnd port, as Traccar Client does.
	OsmAnd Protocol = "osmand"
	// JT808 opens one TCP connection per device to the JT/T 808 port: register, authenticate,
	// then location reports with a window of frames in flight.
	JT808 Protocol = "jt808"
	// Alarms plays a fleet of elevator IoT terminals that post their reports in batches to
	// {URL}/api/v1/alarms, as an IoT platform forwards them (see RunFleet).
	Alarms Protocol = "alarms"
	// MQTT plays a fleet of elevator IoT terminals that publish each report on their own topic
	// (MQTTPattern) to MQTTBroker (see RunFleet).
	MQTT Protocol = "mqtt"
)

// Protocols lists the tracker protocols a run can speak (see Run).
var Protocols = []Protocol{JSON, OsmAnd, JT808}

// FleetProtocols lists the protocols that play IoT terminals (see RunFleet).
var FleetProtocols = []Protocol{Alarms, MQTT}

// Fleet reports whether the protocol plays IoT terminals rather than trackers.
func (p Protocol) Fleet() bool { return p == Alarms || p == MQTT }

// Limits of a run.
const (
	// MaxDuration bounds a run: a load generator left running by mistake must stop by itself.
	MaxDuration = 10 * time.Minute
	// MaxDevices is the most devices a run simulates: plates are LG and 5 digits.
	MaxDevices = 99_999
	// MaxWindow bounds the JT/T 808 frames in flight per connection.
	MaxWindow = 1024
	// MaxConns bounds the HTTP client goroutines.
	MaxConns = 10_000
)

// Defaults a zero Config field takes.
const (
	DefaultURL           = "http://127.0.0.1:8080"
	DefaultOsmAndAddr    = "127.0.0.1:5055"
	DefaultJT808Addr     = "127.0.0.1:6808"
	DefaultDevices       = 1000
	DefaultBatch         = 1000
	DefaultWindow        = 4
	DefaultSecretSeed    = "loadgen"
	DefaultRadiusM       = 5000
	DefaultVerifyTimeout = 30 * time.Second
	DefaultOsmAndConns   = 64
	// DefaultProvisionConcurrency is how many vehicle writes provisioning runs at once.
	DefaultProvisionConcurrency = 16

	// DefaultMQTTBroker is the broker MQTT runs publish to.
	DefaultMQTTBroker = "tcp://127.0.0.1:1883"
	// DefaultHeartbeat is how often each terminal sends a status report.
	DefaultHeartbeat = 10 * time.Second
	// DefaultRepeat is how often a trapped or faulty terminal repeats its alarm.
	DefaultRepeat = 5 * time.Second
	// MinInterval bounds the heartbeat and repeat intervals from below.
	MinInterval = 10 * time.Millisecond
)

// Config is what a run does. Zero fields take the defaults above, except Protocol and Duration,
// which a run must be given, and the rate and shares, which are taken as given.
type Config struct {
	Protocol Protocol
	// URL is the server's HTTP base: the REST API (districts, provisioning, ingest counters) and
	// the native JSON ingest.
	URL        string
	OsmAndAddr string // host:port of the OsmAnd server
	JT808Addr  string // host:port of the JT/T 808 server

	// Devices is how many trackers are simulated (the first Devices of DeviceID's sequence).
	Devices int
	// Rate is the fixes per second to send in total; 0 sends as fast as the server answers.
	Rate float64
	// Duration bounds the sending: required, at most MaxDuration. Answers to what was sent before
	// it ends are still awaited, for a few seconds at most.
	Duration time.Duration
	// Batch is the most fixes per JSON request (1 to gps.MaxBatch). At a low rate batches are made
	// smaller, so that each client posts about ten times a second rather than in bursts.
	Batch int
	// Conns is the number of HTTP client goroutines, each with one request in flight (JSON
	// default 2×GOMAXPROCS, at least 4; OsmAnd default 64). JT/T 808 opens one connection per
	// device and ignores it.
	Conns int
	// Window is the JT/T 808 location reports in flight per connection.
	Window int
	// Method is the OsmAnd request's method: GET (the OsmAnd app, Traccar Client for iOS) or POST
	// with the query string and an empty body (Traccar Client for Android).
	Method string
	// JT808Version is the header layout the terminals use.
	JT808Version gps.Version
	// JT808NoRegister makes the terminals authenticate with their device secret as a configured
	// auth code, without registering first: for a server with registration turned off.
	JT808NoRegister bool

	// IngestKey, when set, is sent as "Authorization: Bearer KEY" on JSON batches, which then
	// carry no per-fix tokens.
	IngestKey string
	// APIKey is sent with the REST API's requests: provisioning (registry:write) and the
	// counters read before and after a run (read).
	APIKey string
	// SecretSeed makes the device secrets: DeviceSecret(SecretSeed, id).
	SecretSeed string
	// Provision creates or updates the organisation, team and vehicles of the devices through
	// the REST API before the run (see Provision).
	Provision bool
	// ProvisionConcurrency is how many vehicle writes run at once.
	ProvisionConcurrency int
	// Verify checks after the run that the server wrote every fix it accepted to the history.
	Verify bool
	// VerifyTimeout bounds the wait for the server's backlog to drain.
	VerifyTimeout time.Duration

	// District is the code of the district the organisation and the devices are placed in; empty
	// takes the first district with an outline.
	District string
	// Center (longitude, latitude) and RadiusM set the area the devices move in instead of the
	// district's outline. The district is still looked up for provisioning.
	Center  *[2]float64
	RadiusM float64

	// IoT terminal fleets (Alarms, MQTT; see RunFleet). Devices is the number of terminals, one
	// on each of the first Devices elevators of District (of the city when District is empty).

	// Heartbeat is how often each terminal sends a status report (no code, its running state);
	// the first at a random point of the first interval. At least MinInterval.
	Heartbeat time.Duration
	// Repeat is how often a trapped or faulty terminal repeats its alarm after raising it, until
	// the end of the run. At least MinInterval.
	Repeat time.Duration
	// TrappedShare and FaultyShare are the shares of the terminals (0 to 1, together at most 1)
	// that raise a trapped-passenger alarm and a fault (a lower-priority code) at a random point
	// of the first half of the run. Taken as given: 0 is none. Only elevators without an open
	// incident are given either role.
	TrappedShare, FaultyShare float64
	// ByEquipmentCode names the elevator in each report by its equipment code, which needs no
	// registration, instead of by terminal id (TerminalID), which does (see ProvisionTerminals).
	ByEquipmentCode bool
	// MQTTBroker is the broker MQTT runs publish to; MQTTPattern the topic scheme, whose
	// {terminal} level is replaced by the terminal's id (default iot.TopicPattern).
	MQTTBroker   string
	MQTTPattern  string
	MQTTUsername string
	MQTTPassword string

	// Seed makes the devices' movement repeatable; 0 picks one from the clock.
	Seed uint64
	// Progress, when set, is called every ProgressEvery during the run (default 2 s).
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// ParseProtocol reads a protocol name.
func ParseProtocol(s string) (Protocol, error) {
	for _, p := range Protocols {
		if strings.EqualFold(s, string(p)) {
			return p, nil
		}
	}
	for _, p := range FleetProtocols {
		if strings.EqualFold(s, string(p)) {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown protocol %q: want json, osmand, jt808, alarms or mqtt", s)
}

// ParseVersion reads a JT/T 808 edition: 2013 (also 2011) or 2019.
func ParseVersion(s string) (gps.Version, error) {
	switch s {
	case "2011", "2013":
		return gps.Version2013, nil
	case "2019":
		return gps.Version2019, nil
	}
	return 0, fmt.Errorf("unknown JT/T 808 version %q: want 2013 or 2019", s)
}

// ParseCenter reads "lon,lat".
func ParseCenter(s string) (*[2]float64, error) {
	lonS, latS, ok := strings.Cut(s, ",")
	var lon, lat float64
	if ok {
		_, err1 := fmt.Sscan(strings.TrimSpace(lonS), &lon)
		_, err2 := fmt.Sscan(strings.TrimSpace(latS), &lat)
		ok = err1 == nil && err2 == nil
	}
	if !ok || lon < -180 || lon > 180 || lat < -85 || lat > 85 || lon == 0 && lat == 0 {
		return nil, fmt.Errorf("center %q: want longitude,latitude in degrees, e.g. 117.32,34.81", s)
	}
	return &[2]float64{lon, lat}, nil
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	c.URL = strings.TrimRight(c.URL, "/")
	if c.OsmAndAddr == "" {
		c.OsmAndAddr = DefaultOsmAndAddr
	}
	if c.JT808Addr == "" {
		c.JT808Addr = DefaultJT808Addr
	}
	if c.Devices == 0 {
		c.Devices = DefaultDevices
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Method == "" {
		c.Method = "GET"
	}
	c.Method = strings.ToUpper(c.Method)
	if c.SecretSeed == "" {
		c.SecretSeed = DefaultSecretSeed
	}
	if c.ProvisionConcurrency == 0 {
		c.ProvisionConcurrency = DefaultProvisionConcurrency
	}
	if c.VerifyTimeout == 0 {
		c.VerifyTimeout = DefaultVerifyTimeout
	}
	if c.RadiusM == 0 {
		c.RadiusM = DefaultRadiusM
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = 2 * time.Second
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.Repeat == 0 {
		c.Repeat = DefaultRepeat
	}
	if c.MQTTBroker == "" {
		c.MQTTBroker = DefaultMQTTBroker
	}
	if c.MQTTPattern == "" {
		c.MQTTPattern = iot.TopicPattern
	}
	if c.Conns == 0 {
		switch c.Protocol {
		case JSON, Alarms, MQTT:
			c.Conns = max(4, 2*runtime.GOMAXPROCS(0))
		case OsmAnd:
			c.Conns = DefaultOsmAndConns
		}
	}
	if c.Protocol == JT808 {
		c.Conns = c.Devices
	}
	// Each client owns some devices, so that a device's fixes go out in order.
	c.Conns = max(1, min(c.Conns, c.Devices))
	return c
}

// Validate checks the configuration as Run would take it, defaults applied, and reports every
// problem at once.
func (c Config) Validate() error {
	d := c.withDefaults()
	return d.validate()
}

func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, err := ParseProtocol(string(c.Protocol)); err != nil {
		errs = append(errs, err)
	}
	switch {
	case c.Duration <= 0:
		bad("duration %v: a run must be bounded: give a duration above 0", c.Duration)
	case c.Duration > MaxDuration:
		bad("duration %v: at most %v", c.Duration, MaxDuration)
	}
	if c.Devices < 1 || c.Devices > MaxDevices {
		bad("devices %d: want 1 to %d", c.Devices, MaxDevices)
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		bad("rate %v: want fixes per second, 0 for as fast as possible", c.Rate)
	}
	if c.Batch < 1 || c.Batch > gps.MaxBatch {
		bad("batch %d: want 1 to %d", c.Batch, gps.MaxBatch)
	}
	if c.Conns < 1 || c.Conns > MaxConns && c.Protocol != JT808 {
		bad("conns %d: want 1 to %d", c.Conns, MaxConns)
	}
	if c.Window < 1 || c.Window > MaxWindow {
		bad("window %d: want 1 to %d", c.Window, MaxWindow)
	}
	if c.Method != "GET" && c.Method != "POST" {
		bad("method %q: want GET or POST", c.Method)
	}
	if c.JT808Version != gps.Version2013 && c.JT808Version != gps.Version2019 {
		bad("JT/T 808 version %d: want 2013 or 2019", c.JT808Version)
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("url %q: want http://host:port", c.URL)
	}
	for _, a := range []struct{ name, addr string }{{"osmand address", c.OsmAndAddr}, {"jt808 address", c.JT808Addr}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			bad("%s %q: want host:port", a.name, a.addr)
		}
	}
	if c.Protocol.Fleet() {
		errs = append(errs, c.validateFleet()...)
	}
	if len(c.SecretSeed) > 256 {
		bad("secret seed: at most 256 bytes")
	}
	if c.RadiusM < 10 || c.RadiusM > 200_000 {
		bad("radius %v m: want 10 m to 200 km", c.RadiusM)
	}
	if c.VerifyTimeout < 0 || c.ProvisionConcurrency < 1 || c.ProgressEvery < 0 {
		bad("verify timeout, provision concurrency and progress interval must not be negative")
	}
	return errors.Join(errs...)
}

// validateFleet checks what only fleets use.
func (c *Config) validateFleet() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"heartbeat", c.Heartbeat}, {"repeat", c.Repeat}} {
		if d.v < MinInterval || d.v > MaxDuration {
			bad("%s %v: want %v to %v", d.name, d.v, MinInterval, MaxDuration)
		}
	}
	share := func(name string, v float64) {
		if !(v >= 0 && v <= 1) {
			bad("%s share %v: want 0 to 1", name, v)
		}
	}
	share("trapped", c.TrappedShare)
	share("faulty", c.FaultyShare)
	if c.TrappedShare+c.FaultyShare > 1 {
		bad("trapped share %v and faulty share %v: together at most 1", c.TrappedShare, c.FaultyShare)
	}
	if c.Protocol == MQTT {
		if err := (&iot.Publisher{Broker: c.MQTTBroker}).Validate(); err != nil {
			errs = append(errs, err)
		}
		if err := iot.ValidTopic(topicOf(c.MQTTPattern, "T")); err != nil || strings.Count(c.MQTTPattern, "{terminal}") > 1 {
			bad("MQTT pattern %q: want a topic with at most one {terminal} level and no + or #, e.g. %s", c.MQTTPattern, iot.TopicPattern)
		}
	}
	return errs
}

// topicOf is the topic of a terminal in pattern.
func topicOf(pattern, terminal string) string {
	return strings.ReplaceAll(pattern, "{terminal}", terminal)
}
