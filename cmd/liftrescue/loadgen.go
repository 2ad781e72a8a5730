package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/liftrescue/liftrescue/iot"
	"github.com/liftrescue/liftrescue/loadgen"
)

const loadgenUsage = `liftrescue loadgen [flags]: drive a running server with simulated trackers or elevator IoT terminals, for tests, benchmarks and demos

Trackers: simulated rescue vans (devices 19900000001, 19900000002, …, plates LG00001, …) move
about a district at 20–60 km/h and report their positions over one protocol for a bounded time:
  json    batches of --batch fixes POSTed to --url/api/v1/positions
  osmand  one fix per HTTP request to --osmand-addr, as Traccar Client sends it
  jt808   one TCP connection per device to --jt808-addr: register, auth, then location
          reports with --window frames in flight
Every fix must come from a registered device with its secret: --provision creates the
organisation LOADGEN-1, its team and a vehicle per device through the REST API (and updates
them when they exist); without it the devices must have been provisioned with the same
--secret-seed. At the end a report: fixes sent, accepted, rejected by reason, errors,
fixes/s and latency; --verify then checks that the server wrote every accepted fix.
The command fails when no fix was accepted or the verification fails.

IoT terminals: a fleet of --devices terminals, one on each of the first elevators of
--district (of the city without it), with ids LG-<elevator id>, reports over one protocol:
  alarms  batches of up to --batch reports POSTed to --url/api/v1/alarms, as an IoT platform
          forwards them (with --ingest-key, or else --api-key: the alarms permission)
  mqtt    one JSON report per message, QoS 1, on --mqtt-pattern (lift/LG-<id>/alarm) at
          --mqtt-broker, as terminals publish them
Each terminal sends a heartbeat (a status report: no code, the car's running state) every
--heartbeat; a --faulty share raise a fault (GB/T 24476 "2" door close fault, "41" power lost,
…) and a --trapped share a trapped-passenger alarm (aftermarket "7"/"8", GB/T 24476 "11"/"93",
…) at a random point of the first half of the run, and repeat it every --repeat to the end.
Only elevators without an open incident are dealt those roles. The rate follows from the fleet:
about devices/heartbeat + (trapped + faulty)/repeat reports a second (--rate is for trackers).
The alarms clients gather what falls due and post together at most about 160 requests a second,
within the server's default limit per API key.
Reports name their terminal, which must be registered on its elevator: --provision registers
them (PUT /api/v1/terminals/LG-<id>, registry:write); --by-equipment-code names the elevator
by its equipment code instead, which needs no registration.
At the end a report: reports sent by kind, accepted, rejected, what the service made of them
(alarms: opened, attached, counted, recorded, quarantined), reports/s, how late they went out
against their timetable, and the trapped alarm → incident latency: over HTTP the round trip of
the request that opened it (it carried the batch's other reports too: a small --batch measures
the alarm alone), over MQTT from the publication to the incident's event on the live stream
(/api/v1/stream, opened first: --api-key must read). --verify then checks through the REST API
that the service opened exactly one incident per trapped elevator and none on the others.
The command fails when no report was accepted or the verification fails.

Examples:
  liftrescue loadgen --protocol jt808 --devices 1000 --rate 0 --duration 30s --provision --verify
  liftrescue loadgen --protocol alarms --devices 10000 --heartbeat 1s --duration 60s --provision --verify
  liftrescue loadgen --protocol mqtt --devices 1000 --trapped 0.1 --duration 30s --verify`

// loadgenFlags are the command's flags as read, before they become a loadgen.Config.
type loadgenFlags struct {
	protocol, url, osmandAddr, jt808Addr string
	devices, rate, batch, conns, window  int
	duration, verifyTimeout, progress    string
	method, version                      string
	provision, verify, jsonOut, register bool
	ingestKey, secretSeed, district      string
	apiKey                               string
	center                               string
	radius                               int
	heartbeat, repeat                    string
	trapped, faulty                      float64
	byCode                               bool
	mqttBroker, mqttPattern              string
	mqttUsername, mqttPassword           string
}

func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var lf loadgenFlags
	f := newFlags("loadgen", loadgenUsage)
	f.SetOutput(stderr)
	f.String(&lf.protocol, "protocol", "json", "trackers: json, osmand or jt808; IoT terminals: alarms or mqtt")
	f.String(&lf.url, "url", loadgen.DefaultURL, "the server's HTTP address: REST API, JSON ingest, counters")
	f.String(&lf.osmandAddr, "osmand-addr", loadgen.DefaultOsmAndAddr, "host:port of the OsmAnd server")
	f.String(&lf.jt808Addr, "jt808-addr", loadgen.DefaultJT808Addr, "host:port of the JT/T 808 server")
	f.Int(&lf.devices, "devices", loadgen.DefaultDevices, fmt.Sprintf("trackers or IoT terminals simulated, 1 to %d", loadgen.MaxDevices))
	f.Int(&lf.rate, "rate", 100_000, "trackers: fixes per second in total; 0 sends as fast as the server answers")
	f.String(&lf.duration, "duration", "10s", "how long to send (required, at most 10m)")
	f.Int(&lf.batch, "batch", loadgen.DefaultBatch, "json: fixes per request; alarms: the most reports per request (mqtt: per gathering); at most 10000")
	f.Int(&lf.conns, "conns", 0, "json, osmand, alarms: concurrent HTTP clients; mqtt: publisher connections (default 2×CPUs, at least 4; osmand 64); jt808 opens one connection per device")
	f.Int(&lf.window, "window", loadgen.DefaultWindow, "jt808: location reports in flight per connection")
	f.String(&lf.method, "method", "GET", "osmand: GET, or POST with the query string and an empty body as Traccar Client for Android sends")
	f.String(&lf.version, "jt808-version", "2013", "jt808: header layout, 2013 or 2019")
	f.Bool(&lf.register, "jt808-register", true, "jt808: register (0x0100) for the auth code; off, authenticate with the device secret as a configured auth code, for a server with registration off")
	f.Bool(&lf.provision, "provision", false, "create or update the organisation, team and vehicles of the devices first")
	f.String(&lf.ingestKey, "ingest-key", "", "json: send Authorization: Bearer KEY instead of a token per fix; alarms: the IoT platform's key (alarms permission) to post with instead of --api-key")
	f.String(&lf.apiKey, "api-key", "", "an API key of the server (read; registry:write for --provision; alarms for the alarms protocol), for its REST API; the demo prints one")
	f.Bool(&lf.verify, "verify", false, "afterwards, trackers: wait for the server's backlog to drain and check that it wrote every accepted fix; IoT terminals: check that exactly one incident opened per trapped elevator, none elsewhere")
	f.String(&lf.verifyTimeout, "verify-timeout", "30s", "how long --verify waits for the backlog to drain, or for the trapped elevators' incidents")
	f.String(&lf.secretSeed, "secret-seed", loadgen.DefaultSecretSeed, "seed the device secrets are derived from")
	f.String(&lf.district, "district", "", "code of the district to provision in and move about (default: the first with an outline); IoT terminals: whose elevators to fit (default: the city's)")
	f.String(&lf.center, "center", "", "lon,lat: move about this point instead of the district's outline")
	f.Int(&lf.radius, "radius-m", loadgen.DefaultRadiusM, "with --center: how far from it, in metres")
	f.String(&lf.heartbeat, "heartbeat", loadgen.DefaultHeartbeat.String(), "IoT terminals: how often each sends a status report")
	f.String(&lf.repeat, "repeat", loadgen.DefaultRepeat.String(), "IoT terminals: how often a trapped or faulty one repeats its alarm")
	f.Float(&lf.trapped, "trapped", 0.02, "IoT terminals: the share (0 to 1) that raise a trapped-passenger alarm")
	f.Float(&lf.faulty, "faulty", 0.05, "IoT terminals: the share (0 to 1) that raise a fault")
	f.Bool(&lf.byCode, "by-equipment-code", false, "IoT terminals: name the elevator by its equipment code instead of the terminal id (needs no registration)")
	f.String(&lf.mqttBroker, "mqtt-broker", loadgen.DefaultMQTTBroker, "mqtt: the broker to publish to (tcp://host:1883, ssl://…, ws://…)")
	f.String(&lf.mqttPattern, "mqtt-pattern", iot.TopicPattern, "mqtt: the topic of a terminal's reports, its id in place of {terminal}")
	f.String(&lf.mqttUsername, "mqtt-username", "", "mqtt: user name; empty: anonymous")
	f.String(&lf.mqttPassword, "mqtt-password", "", "mqtt: password (better given in the environment than on the command line)")
	f.String(&lf.progress, "progress", "2s", "interval of the progress lines on stderr; 0 for none")
	f.Bool(&lf.jsonOut, "json", false, "print the report as JSON")
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return fmt.Errorf("loadgen: unexpected argument %q", f.Arg(0))
	}
	cfg, err := lf.config()
	if err != nil {
		return err
	}
	if cfg.ProgressEvery > 0 { // --progress 0: no progress lines
		unit := "fixes"
		if cfg.Protocol.Fleet() {
			unit = "reports"
		}
		cfg.Progress = func(p loadgen.Progress) {
			fmt.Fprintf(stderr, "loadgen: %5.1fs  sent %d  accepted %d  rejected %d  errors %d  %.0f %s/s\n",
				p.Elapsed.Seconds(), p.Sent, p.Accepted, p.Rejected, p.Errors, p.FixesPerSec, unit)
		}
	}
	if cfg.Protocol.Fleet() {
		return runFleet(ctx, cfg, lf.jsonOut, stdout, stderr)
	}
	if cfg.Provision {
		fmt.Fprintf(stderr, "loadgen: provisioning %d devices at %s…\n", cfg.Devices, cfg.URL)
	}
	rep, err := loadgen.Run(ctx, cfg)
	if rep != nil {
		if err := writeReport(stdout, lf.jsonOut, rep, printReport); err != nil {
			return err
		}
	}
	switch {
	case errors.Is(err, loadgen.ErrNothingAccepted) && rep != nil:
		return fmt.Errorf("%w%s", err, hint(rep))
	case err != nil:
		return err
	}
	return nil
}

// config turns the flags into a run's configuration; the loadgen package validates the rest.
func (lf *loadgenFlags) config() (loadgen.Config, error) {
	var errs []error
	duration := func(name, s string) time.Duration {
		d, err := time.ParseDuration(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s %q: want a duration such as 10s or 2m", name, s))
		}
		return d
	}
	cfg := loadgen.Config{
		URL: lf.url, OsmAndAddr: lf.osmandAddr, JT808Addr: lf.jt808Addr,
		Devices: lf.devices, Rate: float64(lf.rate), Batch: lf.batch, Conns: lf.conns, Window: lf.window,
		Method: lf.method, JT808NoRegister: !lf.register, IngestKey: lf.ingestKey, APIKey: lf.apiKey, SecretSeed: lf.secretSeed,
		Provision: lf.provision, Verify: lf.verify, District: lf.district, RadiusM: float64(lf.radius),
		Duration:      duration("duration", lf.duration),
		VerifyTimeout: duration("verify-timeout", lf.verifyTimeout),
		ProgressEvery: duration("progress", lf.progress),
		Heartbeat:     duration("heartbeat", lf.heartbeat),
		Repeat:        duration("repeat", lf.repeat),
		TrappedShare:  lf.trapped, FaultyShare: lf.faulty, ByEquipmentCode: lf.byCode,
		MQTTBroker: lf.mqttBroker, MQTTPattern: lf.mqttPattern, MQTTUsername: lf.mqttUsername, MQTTPassword: lf.mqttPassword,
	}
	var err error
	if cfg.Protocol, err = loadgen.ParseProtocol(lf.protocol); err != nil {
		errs = append(errs, fmt.Errorf("--protocol: %w", err))
	}
	if cfg.JT808Version, err = loadgen.ParseVersion(lf.version); err != nil {
		errs = append(errs, fmt.Errorf("--jt808-version: %w", err))
	}
	if lf.center != "" {
		if cfg.Center, err = loadgen.ParseCenter(lf.center); err != nil {
			errs = append(errs, fmt.Errorf("--center: %w", err))
		}
	}
	// Zero is each of these flags' "not set"; the package would take its default.
	for _, v := range []struct {
		name string
		n    int
	}{{"devices", lf.devices}, {"batch", lf.batch}, {"window", lf.window}, {"radius-m", lf.radius}} {
		if v.n <= 0 {
			errs = append(errs, fmt.Errorf("--%s %d: want a positive number", v.name, v.n))
		}
	}
	if lf.conns < 0 {
		errs = append(errs, fmt.Errorf("--conns %d: want a positive number, or 0 for the default", lf.conns))
	}
	if lf.heartbeat != "" && cfg.Heartbeat <= 0 || lf.repeat != "" && cfg.Repeat <= 0 {
		errs = append(errs, fmt.Errorf("--heartbeat and --repeat: want a duration above 0"))
	}
	if cfg.ProgressEvery < 0 || cfg.VerifyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--progress and --verify-timeout must not be negative, and --verify-timeout not 0"))
	}
	// The duration and the rest are checked by loadgen.Run, after its defaults.
	return cfg, errors.Join(errs...)
}

// hint says what usually makes a server refuse every fix.
func hint(rep *loadgen.Report) string {
	switch {
	case rep.Login != nil && rep.Login.Connected == 0:
		return ": no JT/T 808 terminal could log in (are the devices provisioned? try --provision)"
	case rejectedFor(rep.RejectedBy, "unknown device", "bad device secret", "HTTP 401"):
		return ": the server does not know the devices or their secrets (try --provision, or the --secret-seed they were provisioned with; with --ingest-key, the server's key)"
	case rep.Errors > 0:
		return ": requests failed (is the server running at the addresses given?)"
	}
	return ""
}

// rejectedFor reports whether fixes or reports were rejected for a reason that starts with one of
// prefixes.
func rejectedFor(by map[string]int64, prefixes ...string) bool {
	for k := range by {
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
	}
	return false
}

func printReport(w io.Writer, r *loadgen.Report) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	rate := "as fast as possible"
	if r.Rate > 0 {
		rate = strconv.FormatFloat(r.Rate, 'f', -1, 64) + " fixes/s"
	}
	p("loadgen %s: %d devices over %d connections, %s for %gs", r.Protocol, r.Devices, r.Connections, rate, r.Duration)
	if v := r.Provision; v != nil {
		p("  provisioned   district %s, organisation %d, team %d: %d created, %d updated, %d unchanged in %.1fs",
			v.District, v.OrganizationID, v.TeamID, v.Created, v.Updated, v.Unchanged, v.Seconds)
	}
	if l := r.Login; l != nil {
		p("  logged in     %d terminals in %.2fs, %d failed%s", l.Connected, l.Seconds, l.Failed, counts(l.FailedBy))
	}
	p("  fixes         %d sent, %d accepted, %d rejected, %d unanswered", r.FixesSent, r.FixesAccepted, r.FixesRejected, r.FixesUnanswered)
	if len(r.RejectedBy) > 0 {
		p("  rejected      %s", strings.TrimPrefix(counts(r.RejectedBy), ": "))
	}
	if r.Errors > 0 {
		p("  errors        %d%s", r.Errors, counts(r.ErrorsBy))
	}
	unit := "requests"
	if r.Protocol == loadgen.JT808 {
		unit = "frames"
	}
	p("  throughput    %.0f fixes/s sent, %.0f accepted, %.0f %s/s over %.2fs", r.FixesPerSec, r.AcceptedPerSec, r.RequestsPerSec, unit, r.Elapsed)
	if l := r.Latency; l.Count > 0 {
		p("  latency       p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (%d %s)", l.P50, l.P90, l.P99, l.Max, l.Count, unit)
	}
	if v := r.Verify; v != nil {
		verdict := "FAILED"
		if v.OK {
			verdict = "ok"
		}
		p("  verify        %s: %s (server accepted %d, backlog %d, waited %.1fs)", verdict, v.Message, v.ServerAccepted, v.Backlog, v.Waited)
	}
}

// counts lists counts by key, largest first: ": a 3, b 1".
func counts(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	var b strings.Builder
	for i, k := range loadgen.SortedKeys(m) {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %s %d", k, m[k])
	}
	return ":" + b.String()
}

// runFleet runs a fleet of IoT terminals and prints its report.
func runFleet(ctx context.Context, cfg loadgen.Config, jsonOut bool, stdout, stderr io.Writer) error {
	if cfg.Provision {
		fmt.Fprintf(stderr, "loadgen: registering %d terminals at %s…\n", cfg.Devices, cfg.URL)
	}
	rep, err := loadgen.RunFleet(ctx, cfg)
	if rep != nil {
		if err := writeReport(stdout, jsonOut, rep, printFleetReport); err != nil {
			return err
		}
	}
	switch {
	case (errors.Is(err, loadgen.ErrNoReportAccepted) || errors.Is(err, loadgen.ErrIncidents)) && rep != nil:
		return fmt.Errorf("%w%s", err, fleetHint(rep))
	case err != nil:
		return err
	}
	return nil
}

// fleetHint says what usually makes a fleet's run fail.
func fleetHint(rep *loadgen.FleetReport) string {
	switch {
	case rejectedFor(rep.RejectedBy, "HTTP 401", "HTTP 403"):
		return ": the server refused the key (--api-key, or --ingest-key for an IoT platform's key, needs the alarms permission)"
	case rep.Outcomes["quarantined"] > 0 || rep.Incidents.FirstOutcomes["quarantined"] > 0:
		return ": the server does not know the terminals (register them with --provision, or name the elevators with --by-equipment-code)"
	case rep.Incidents.FirstOutcomes["attached"] > 0:
		return ": incidents were already open on trapped elevators (another run's or another client's?)"
	case rep.Protocol == loadgen.MQTT && rep.Accepted > 0 && rep.Incidents.Opened == 0:
		return ": no incident showed on the live stream (is the server subscribed to the broker, with the same --mqtt-pattern?)"
	case rep.Errors > 0:
		return ": requests failed (is the server running at the address given?)"
	}
	return ""
}

func printFleetReport(w io.Writer, r *loadgen.FleetReport) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	where := "the city's elevators"
	if r.District != "" {
		where = "elevators of district " + r.District
	}
	p("loadgen %s: %d terminals on %s (%d trapped, %d faulty, %d heartbeats only), heartbeat %gs, repeat %gs, %d connections, for %gs",
		r.Protocol, r.Terminals, where, r.Trapped, r.Faulty, r.Terminals-r.Trapped-r.Faulty, r.Heartbeat, r.Repeat, r.Connections, r.Duration)
	if v := r.Provision; v != nil {
		p("  registered    %d terminals: %d created, %d replaced in %.1fs", v.Terminals, v.Created, v.Replaced, v.Seconds)
	}
	if r.Sent == 0 && r.Elapsed == 0 {
		return // the run did not start
	}
	busy := ""
	if r.Busy > 0 {
		busy = fmt.Sprintf("; %d elevators with an incident open before the run kept to heartbeats", r.Busy)
	}
	p("  named by      %s%s", r.NamedBy, busy)
	acc := "accepted"
	if r.Protocol == loadgen.MQTT {
		acc = "acknowledged by the broker"
	}
	p("  reports       %d sent%s; %d %s, %d rejected, %d unanswered", r.Sent, counts(r.SentBy), r.Accepted, acc, r.Rejected, r.Unanswered)
	if len(r.Outcomes) > 0 {
		p("  outcomes      %s", strings.TrimPrefix(counts(r.Outcomes), ": "))
	}
	if len(r.RejectedBy) > 0 {
		p("  rejected      %s", strings.TrimPrefix(counts(r.RejectedBy), ": "))
	}
	if r.Errors > 0 {
		p("  errors        %d%s", r.Errors, counts(r.ErrorsBy))
	}
	unit := "requests"
	if r.Protocol == loadgen.MQTT {
		unit = "messages"
	}
	p("  throughput    %.0f reports/s sent (the timetable holds %.0f), %.0f %s, %.0f %s/s over %.2fs",
		r.ReportsPerSec, r.Offered, r.AcceptedPerSec, acc, r.RequestsPerSec, unit, r.Elapsed)
	if l := r.Latency; l.Count > 0 {
		what := "per request"
		if r.Protocol == loadgen.MQTT {
			what = "publish → broker's ack"
		}
		p("  latency       %s: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (%d)", what, l.P50, l.P90, l.P99, l.Max, l.Count)
	}
	if l := r.Lag; l.Count > 0 {
		p("  lag           behind the timetable: p50 %.2f ms, p99 %.2f ms, max %.2f ms", l.P50, l.P99, l.Max)
	}
	in := r.Incidents
	what := "round trip of the request that opened it"
	if r.Protocol == loadgen.MQTT {
		what = "publish → incident on the live stream"
	}
	p("  trapped       %d terminals reached the server, incidents seen opening on %d elevators%s", in.Reached, in.Opened, counts(in.FirstOutcomes))
	if l := in.Latency; l.Count > 0 {
		p("  to incident   %s: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (%d)", what, l.P50, l.P90, l.P99, l.Max, l.Count)
	}
	if in.NotOpenedCount+in.OpenedTwiceCount+in.UnexpectedCount > 0 {
		p("  anomalies     %d trapped elevators without an incident %v, %d with several %v, %d others with one %v",
			in.NotOpenedCount, in.NotOpened, in.OpenedTwiceCount, in.OpenedTwice, in.UnexpectedCount, in.Unexpected)
	}
	if s := r.Stream; s != nil {
		p("  stream        %d incident events, %d reconnects", s.Events, s.Reconnects)
	}
	if s := r.Subscriber; s != nil {
		note := ""
		if s.Missing > 0 {
			note = ": the broker dropped what the server's subscriber could not take"
		}
		p("  subscriber    the server's MQTT subscriber received %d of the %d acknowledged, %d missing%s", s.Received, r.Accepted, s.Missing, note)
	}
	if v := r.Verify; v != nil {
		verdict := "FAILED"
		if v.OK {
			verdict = "ok"
		}
		p("  verify        %s: %s (waited %.1fs)", verdict, v.Message, v.Waited)
		if !v.OK {
			p("                missing %v, duplicated %v, unexpected %v, not iot %v", v.Missing, v.Duplicated, v.Unexpected, v.NotIoT)
		}
	}
	if s := r.TerminalStatus; s != nil {
		p("  terminals     the server's: %d registered, %d online (%.1f%%), %d offline, %d never heard from (offline after %gs)",
			s.Registered, s.Online, 100*s.ShareOnline, s.Offline, s.Never, s.OfflineAfterS)
	}
}

// writeReport writes a load generator's report as indented JSON, or for people with print.
func writeReport[R any](w io.Writer, asJSON bool, rep R, print func(io.Writer, R)) error {
	if !asJSON {
		print(w, rep)
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
