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

	"github.com/liftrescue/liftrescue/loadgen"
)

const loadgenUsage = `liftrescue loadgen [flags]: drive a running server over a tracker protocol, for benchmarks and demos

Simulated rescue vans (devices 19900000001, 19900000002, …, plates LG00001, …) move about a
district at 20–60 km/h and report their positions over one protocol for a bounded time:
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

Example:
  liftrescue loadgen --protocol jt808 --devices 1000 --rate 0 --duration 30s --provision --verify`

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
}

func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var lf loadgenFlags
	f := newFlags("loadgen", loadgenUsage)
	f.SetOutput(stderr)
	f.String(&lf.protocol, "protocol", "json", "json, osmand or jt808")
	f.String(&lf.url, "url", loadgen.DefaultURL, "the server's HTTP address: REST API, JSON ingest, counters")
	f.String(&lf.osmandAddr, "osmand-addr", loadgen.DefaultOsmAndAddr, "host:port of the OsmAnd server")
	f.String(&lf.jt808Addr, "jt808-addr", loadgen.DefaultJT808Addr, "host:port of the JT/T 808 server")
	f.Int(&lf.devices, "devices", loadgen.DefaultDevices, fmt.Sprintf("devices simulated, 1 to %d", loadgen.MaxDevices))
	f.Int(&lf.rate, "rate", 100_000, "fixes per second in total; 0 sends as fast as the server answers")
	f.String(&lf.duration, "duration", "10s", "how long to send (required, at most 10m)")
	f.Int(&lf.batch, "batch", loadgen.DefaultBatch, "json: fixes per request, at most 10000")
	f.Int(&lf.conns, "conns", 0, "json, osmand: concurrent HTTP clients (default json 2×CPUs, at least 4; osmand 64); jt808 opens one connection per device")
	f.Int(&lf.window, "window", loadgen.DefaultWindow, "jt808: location reports in flight per connection")
	f.String(&lf.method, "method", "GET", "osmand: GET, or POST with the query string and an empty body as Traccar Client for Android sends")
	f.String(&lf.version, "jt808-version", "2013", "jt808: header layout, 2013 or 2019")
	f.Bool(&lf.register, "jt808-register", true, "jt808: register (0x0100) for the auth code; off, authenticate with the device secret as a configured auth code, for a server with registration off")
	f.Bool(&lf.provision, "provision", false, "create or update the organisation, team and vehicles of the devices first")
	f.String(&lf.ingestKey, "ingest-key", "", "json: send Authorization: Bearer KEY instead of a token per fix")
	f.String(&lf.apiKey, "api-key", "", "an API key of the server (read; registry:write for --provision), for its REST API; the demo prints one")
	f.Bool(&lf.verify, "verify", false, "afterwards, wait for the server's backlog to drain and check that it wrote every accepted fix")
	f.String(&lf.verifyTimeout, "verify-timeout", "30s", "how long --verify waits for the backlog to drain")
	f.String(&lf.secretSeed, "secret-seed", loadgen.DefaultSecretSeed, "seed the device secrets are derived from")
	f.String(&lf.district, "district", "", "code of the district to provision in and move about (default: the first with an outline)")
	f.String(&lf.center, "center", "", "lon,lat: move about this point instead of the district's outline")
	f.Int(&lf.radius, "radius-m", loadgen.DefaultRadiusM, "with --center: how far from it, in metres")
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
		cfg.Progress = func(p loadgen.Progress) {
			fmt.Fprintf(stderr, "loadgen: %5.1fs  sent %d  accepted %d  rejected %d  errors %d  %.0f fixes/s\n",
				p.Elapsed.Seconds(), p.Sent, p.Accepted, p.Rejected, p.Errors, p.FixesPerSec)
		}
	}
	if cfg.Provision {
		fmt.Fprintf(stderr, "loadgen: provisioning %d devices at %s…\n", cfg.Devices, cfg.URL)
	}
	rep, err := loadgen.Run(ctx, cfg)
	if rep != nil {
		if lf.jsonOut {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(rep); err != nil {
				return err
			}
		} else {
			printReport(stdout, rep)
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
	case rejectedFor(rep, "unknown device", "bad device secret", "HTTP 401"):
		return ": the server does not know the devices or their secrets (try --provision, or the --secret-seed they were provisioned with; with --ingest-key, the server's key)"
	case rep.Errors > 0:
		return ": requests failed (is the server running at the addresses given?)"
	}
	return ""
}

// rejectedFor reports whether fixes were rejected for a reason that starts with one of prefixes.
func rejectedFor(rep *loadgen.Report, prefixes ...string) bool {
	for k := range rep.RejectedBy {
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
