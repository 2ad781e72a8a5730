package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue/gps"
)

// mustRun runs cfg and fails the test on an error other than the wanted one.
func mustRun(tb testing.TB, cfg Config, want error) *Report {
	tb.Helper()
	rep, err := Run(context.Background(), cfg)
	if !errors.Is(err, want) || (want == nil && err != nil) {
		tb.Fatalf("Run: %v, want %v", err, want)
	}
	if rep == nil {
		tb.Fatal("Run returned no report")
	}
	if got := rep.FixesAccepted + rep.FixesRejected + rep.FixesUnanswered; got != rep.FixesSent {
		tb.Errorf("accepted %d + rejected %d + unanswered %d = %d, want sent %d", rep.FixesAccepted,
			rep.FixesRejected, rep.FixesUnanswered, got, rep.FixesSent)
	}
	return rep
}

// checkAgainst checks that the fake saw what the report says and that every fix was a good one.
func checkAgainst(t *testing.T, f *fake, rep *Report) {
	t.Helper()
	received, accepted, jumps, stale := f.snapshot()
	if rep.FixesSent == 0 || rep.FixesAccepted != rep.FixesSent {
		t.Errorf("sent %d, accepted %d, rejected %v, errors %v", rep.FixesSent, rep.FixesAccepted, rep.RejectedBy, rep.ErrorsBy)
	}
	if received != rep.FixesSent || accepted != rep.FixesAccepted {
		t.Errorf("the server received %d and accepted %d, the report says sent %d, accepted %d",
			received, accepted, rep.FixesSent, rep.FixesAccepted)
	}
	if jumps != 0 || stale != 0 {
		t.Errorf("%d impossible jumps, %d fixes with a time far from now", jumps, stale)
	}
	if rep.Latency.Count == 0 || rep.Latency.P50 <= 0 || rep.Latency.P99 < rep.Latency.P50 || rep.Latency.Max < rep.Latency.P99 {
		t.Errorf("latency %+v", rep.Latency)
	}
	if rep.Elapsed < rep.Duration*0.9 || rep.Elapsed > rep.Duration+3 {
		t.Errorf("elapsed %.3f s for a duration of %.3f s", rep.Elapsed, rep.Duration)
	}
}

func TestJSON(t *testing.T) {
	f := newFake(t)
	cfg := f.config(JSON)
	f.register(cfg.Devices, DefaultSecretSeed)
	cfg.Batch, cfg.Conns = 50, 3
	rep := mustRun(t, cfg, nil)
	checkAgainst(t, f, rep)
	if rep.Requests == 0 || rep.FixesSent != rep.Requests*50 {
		t.Errorf("%d fixes in %d requests of 50", rep.FixesSent, rep.Requests)
	}
	if tokens, bearer := f.count(&f.tokens), f.count(&f.bearer); tokens != rep.FixesSent || bearer != 0 {
		t.Errorf("%d fixes with a token and %d requests with the ingest key, want %d and 0", tokens, bearer, rep.FixesSent)
	}
	if rep.Area.District != "370402" || rep.Area.MinLon != 117.50 || rep.Area.MaxLat != 34.90 {
		t.Errorf("area %+v, want the outline of 370402", rep.Area)
	}
}

func TestJSONIngestKey(t *testing.T) {
	f := newFake(t)
	f.ingestKey = "k3y-for-the-test"
	cfg := f.config(JSON)
	f.register(cfg.Devices, DefaultSecretSeed)
	cfg.IngestKey = f.ingestKey
	rep := mustRun(t, cfg, nil)
	checkAgainst(t, f, rep)
	if tokens, bearer := f.count(&f.tokens), f.count(&f.bearer); tokens != 0 || bearer != rep.Requests {
		t.Errorf("%d fixes with a token and %d requests with the key, want 0 and %d", tokens, bearer, rep.Requests)
	}

	// A key that is not the server's is taken for a device secret, which it is not either.
	cfg.IngestKey = "wrong"
	rep = mustRun(t, cfg, ErrNothingAccepted)
	if rep.RejectedBy[gps.ReasonBadSecret] != rep.FixesSent {
		t.Errorf("rejected %v, want all as %s", rep.RejectedBy, gps.ReasonBadSecret)
	}
}

func TestOsmAnd(t *testing.T) {
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			f := newFake(t)
			cfg := f.config(OsmAnd)
			f.register(cfg.Devices, DefaultSecretSeed)
			cfg.Method, cfg.Conns = method, 4
			rep := mustRun(t, cfg, nil)
			checkAgainst(t, f, rep)
			f.mu.Lock()
			methods := f.methods
			f.mu.Unlock()
			if methods[method] != rep.Requests || rep.Requests != rep.FixesSent {
				t.Errorf("methods %v, want %d %s requests", methods, rep.Requests, method)
			}
		})
	}
}

func TestJT808(t *testing.T) {
	for _, v := range []gps.Version{gps.Version2013, gps.Version2019} {
		t.Run(v.String(), func(t *testing.T) {
			f := newFake(t)
			cfg := f.config(JT808)
			f.register(cfg.Devices, DefaultSecretSeed)
			cfg.JT808Version, cfg.Window = v, 3
			rep := mustRun(t, cfg, nil)
			checkAgainst(t, f, rep)
			if rep.Login == nil || rep.Login.Connected != cfg.Devices || rep.Login.Failed != 0 || rep.Connections != cfg.Devices {
				t.Errorf("login %+v, connections %d", rep.Login, rep.Connections)
			}
			if rep.Requests != rep.FixesSent || rep.FixesUnanswered != 0 {
				t.Errorf("%d frames for %d fixes, %d unanswered", rep.Requests, rep.FixesSent, rep.FixesUnanswered)
			}
		})
	}
}

// Against a server with registration turned off, terminals authenticate with their secret.
func TestJT808NoRegister(t *testing.T) {
	f := newFake(t)
	f.noRegister = true
	cfg := f.config(JT808)
	f.register(cfg.Devices, DefaultSecretSeed)
	rep := mustRun(t, cfg, ErrNothingAccepted)
	if rep.Login.FailedBy["register refused: result 4 (no such terminal)"] != int64(cfg.Devices) {
		t.Errorf("login %+v", rep.Login)
	}
	cfg.JT808NoRegister = true
	rep = mustRun(t, cfg, nil)
	checkAgainst(t, f, rep)

	cfg.SecretSeed = "another seed"
	rep = mustRun(t, cfg, ErrNothingAccepted)
	if rep.Login.FailedBy["auth refused: result 1 (failure)"] != int64(cfg.Devices) {
		t.Errorf("login with wrong secrets %+v", rep.Login)
	}
}

// A terminal with nothing to report for a while sends heartbeats.
func TestJT808Heartbeat(t *testing.T) {
	defer func(d time.Duration) { heartbeatEvery = d }(heartbeatEvery)
	heartbeatEvery = 50 * time.Millisecond
	f := newFake(t)
	cfg := f.config(JT808)
	cfg.Devices, cfg.Rate, cfg.Duration = 2, 2, 1200*time.Millisecond // a fix a second per terminal
	f.register(cfg.Devices, DefaultSecretSeed)
	rep := mustRun(t, cfg, nil)
	if beats := f.count(&f.beats); beats < 2*10 || rep.FixesSent != 2 {
		t.Errorf("%d heartbeats, %d fixes sent; want about 2×20 and 2", beats, rep.FixesSent)
	}
}

// Devices the server does not know are refused in each protocol's way, and the run says so.
func TestUnknownDevices(t *testing.T) {
	for _, tc := range []struct {
		p    Protocol
		want string
	}{
		{JSON, gps.ReasonUnknownDevice},
		{OsmAnd, "HTTP 401"},
		{JT808, ""},
	} {
		t.Run(string(tc.p), func(t *testing.T) {
			f := newFake(t)
			cfg := f.config(tc.p)
			cfg.Duration = 100 * time.Millisecond
			rep := mustRun(t, cfg, ErrNothingAccepted)
			if tc.p == JT808 {
				if rep.Login.Failed != cfg.Devices || rep.Login.FailedBy["register refused: result 4 (no such terminal)"] != int64(cfg.Devices) {
					t.Errorf("login %+v", rep.Login)
				}
				return
			}
			if rep.FixesSent == 0 || rep.RejectedBy[tc.want] != rep.FixesSent {
				t.Errorf("sent %d, rejected %v, want all %q", rep.FixesSent, rep.RejectedBy, tc.want)
			}
		})
	}
}

// With a rate of 2000 fixes a second for half a second, about 1000 fixes go out.
func TestRate(t *testing.T) {
	for _, p := range Protocols {
		t.Run(string(p), func(t *testing.T) {
			f := newFake(t)
			cfg := f.config(p)
			cfg.Devices = 100
			f.register(cfg.Devices, DefaultSecretSeed)
			cfg.Rate, cfg.Duration = 2000, 500*time.Millisecond
			start := time.Now()
			rep := mustRun(t, cfg, nil)
			if took := time.Since(start); took < 450*time.Millisecond || took > 3*time.Second {
				t.Errorf("the run took %v", took)
			}
			if rep.FixesSent < 500 || rep.FixesSent > 1500 {
				t.Errorf("sent %d fixes, want about 1000", rep.FixesSent)
			}
			t.Logf("%s: %d fixes in %.3f s", p, rep.FixesSent, rep.Elapsed)
			checkAgainst(t, f, rep)
		})
	}
}

func TestProvision(t *testing.T) {
	f := newFake(t)
	cfg := f.config(JSON)
	cfg.Devices, cfg.SecretSeed = 30, "seed-1"
	ctx := context.Background()

	rep, err := Provision(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 30 || rep.Updated != 0 || rep.Unchanged != 0 || rep.District != "370402" || rep.TeamID == 0 {
		t.Errorf("first provisioning: %+v", rep)
	}
	if again, err := Provision(ctx, cfg); err != nil || again.Unchanged != 30 || again.OrganizationID != rep.OrganizationID || again.TeamID != rep.TeamID {
		t.Errorf("second provisioning: %+v, %v", again, err)
	}
	f.mu.Lock()
	if f.posts["organization"] != 1 || f.posts["team"] != 1 {
		t.Errorf("posts %v: the organisation and the team must be reused", f.posts)
	}
	f.mu.Unlock()

	// A device fitted to a vehicle of another team: the create answers 409, and the vehicle is
	// replaced to carry the device with the new secret. Another's secret changed: it is replaced.
	f.mu.Lock()
	f.devices[DeviceID(3)].TeamID = 99
	f.devices[DeviceID(4)].DeviceSecret = "stale-secret"
	f.mu.Unlock()
	cfg.SecretSeed = "seed-2" // every secret changes
	rep, err = Provision(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if conflicts := f.count(&f.conflicts); rep.Updated != 30 || rep.Created != 0 || conflicts != 1 {
		t.Errorf("provisioning with new secrets: %+v, %d conflicts", rep, conflicts)
	}
	f.mu.Lock()
	for _, d := range Devices(30, "seed-2") {
		if v := f.devices[d.ID]; v == nil || v.DeviceSecret != d.Secret || v.TeamID != rep.TeamID || v.Plate != d.Plate {
			t.Errorf("device %s: vehicle %+v", d.ID, v)
		}
	}
	if len(f.vehicles) != 30 {
		t.Errorf("%d vehicles, want 30", len(f.vehicles))
	}
	f.mu.Unlock()

	// The provisioned devices are those a run sends as.
	cfg.Provision = true
	run := mustRun(t, cfg, nil)
	if run.Provision == nil || run.Provision.Unchanged != 30 {
		t.Errorf("provision report %+v", run.Provision)
	}
	checkAgainst(t, f, run)
}

func TestVerify(t *testing.T) {
	f := newFake(t)
	f.flushStep = 40 // the backlog drains over several reads
	cfg := f.config(JSON)
	f.register(cfg.Devices, DefaultSecretSeed)
	cfg.Verify, cfg.Rate, cfg.Batch = true, 1000, 10
	rep := mustRun(t, cfg, nil)
	if rep.Verify == nil || !rep.Verify.OK || rep.Verify.Flushed != rep.FixesAccepted || rep.Verify.Backlog != 0 {
		t.Errorf("verify %+v, accepted %d", rep.Verify, rep.FixesAccepted)
	}

	f.mu.Lock()
	f.lose = 1
	f.mu.Unlock()
	cfg.VerifyTimeout = 2 * time.Second
	rep = mustRun(t, cfg, ErrLost)
	if rep.Verify == nil || rep.Verify.OK || rep.Verify.Flushed != rep.FixesAccepted-1 || !strings.Contains(rep.Verify.Message, "1 lost") {
		t.Errorf("verify %+v, accepted %d", rep.Verify, rep.FixesAccepted)
	}
}

func TestVerifyBacklogDoesNotDrain(t *testing.T) {
	f := newFake(t)
	f.flushStep = 1
	cfg := f.config(OsmAnd)
	f.register(cfg.Devices, DefaultSecretSeed)
	cfg.Verify, cfg.VerifyTimeout, cfg.Duration = true, 300*time.Millisecond, 100*time.Millisecond
	rep := mustRun(t, cfg, ErrLost)
	if rep.Verify.OK || rep.Verify.Backlog == 0 || !strings.Contains(rep.Verify.Message, "backlog") {
		t.Errorf("verify %+v", rep.Verify)
	}
}

func TestBadConfig(t *testing.T) {
	good := Config{Protocol: JSON, Duration: time.Second}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no duration", func(c *Config) { c.Duration = 0 }, "bounded"},
		{"too long", func(c *Config) { c.Duration = 11 * time.Minute }, "at most 10m"},
		{"unknown protocol", func(c *Config) { c.Protocol = "amqp" }, "unknown protocol"},
		{"no protocol", func(c *Config) { c.Protocol = "" }, "unknown protocol"},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "rate"},
		{"huge batch", func(c *Config) { c.Batch = 10_001 }, "batch"},
		{"window", func(c *Config) { c.Window = -1 }, "window"},
		{"method", func(c *Config) { c.Method = "PUT" }, "method"},
		{"devices", func(c *Config) { c.Devices = 100_000 }, "devices"},
		{"url", func(c *Config) { c.URL = "127.0.0.1:8080" }, "url"},
		{"jt808 address", func(c *Config) { c.JT808Addr = "localhost" }, "jt808 address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			rep, err := Run(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || rep != nil {
				t.Errorf("Run: %v, want an error about %q and no report", err, tc.want)
			}
		})
	}
	if err := good.Validate(); err != nil {
		t.Errorf("good config: %v", err)
	}
	if _, err := ParseProtocol("JT808"); err != nil {
		t.Error(err)
	}
	if _, err := ParseCenter("117.55,34.85"); err != nil {
		t.Error(err)
	}
	for _, s := range []string{"", "117.55", "34.85,117.55,1", "0,0", "200,10", "a,b"} {
		if _, err := ParseCenter(s); err == nil {
			t.Errorf("ParseCenter(%q) took it", s)
		}
	}
}

func TestCancel(t *testing.T) {
	f := newFake(t)
	cfg := f.config(JT808)
	f.register(cfg.Devices, DefaultSecretSeed)
	cfg.Duration = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	rep, err := Run(ctx, cfg)
	if err != nil || rep.FixesAccepted == 0 {
		t.Fatalf("Run: %v, %+v", err, rep)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a cancelled run took %v", took)
	}
}

func TestCenter(t *testing.T) {
	f := newFake(t)
	cfg := f.config(OsmAnd)
	f.register(cfg.Devices, DefaultSecretSeed)
	cfg.Center, cfg.RadiusM = &[2]float64{121.47, 31.23}, 1000
	rep := mustRun(t, cfg, nil)
	checkAgainst(t, f, rep)
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, fix := range f.last {
		if distanceM(121.47, 31.23, fix.Lon, fix.Lat) > 1500 {
			t.Errorf("device %s at %.5f,%.5f, outside the area", id, fix.Lon, fix.Lat)
		}
	}
}

func TestReadCountersLeniently(t *testing.T) {
	for _, body := range []string{
		`{"accepted":5,"flushed":4,"backlog":1,"rejected":{"x":1}}`,
		`{"Accepted":5,"Flushed":4,"Backlog":1,"Rejected":{}}`,
		`{"pipeline":{"accepted":5,"flushed":4,"backlog":1}}`,
		`{"ACCEPTED":"5","flushed":4.0,"back_log":1}`,
	} {
		var raw map[string]any
		if err := json.Unmarshal([]byte(body), &raw); err != nil {
			t.Fatal(err)
		}
		var got [3]int64
		for i, k := range []string{"accepted", "flushed", "backlog"} {
			got[i], _ = lookupCount(raw, k, 1)
		}
		if got != [3]int64{5, 4, 1} {
			t.Errorf("%s: %v", body, got)
		}
	}
}

func TestDevices(t *testing.T) {
	ds := Devices(3, "s")
	if ds[0].ID != "19900000001" || ds[2].Plate != "LG00003" || len(DeviceID(MaxDevices-1)) != 11 || len(Plate(MaxDevices-1)) != 7 {
		t.Errorf("devices %+v", ds)
	}
	if ds[0].Secret != DeviceSecret("s", "19900000001") || ds[0].Secret == DeviceSecret("t", "19900000001") ||
		ds[0].Secret == ds[1].Secret || len(ds[0].Secret) != 16 {
		t.Errorf("secrets %q %q", ds[0].Secret, ds[1].Secret)
	}
	h, err := gps.NewHeader(gps.Version2019, gps.MsgLocation, 1, ds[0].ID)
	if err != nil || h.DeviceID() != ds[0].ID {
		t.Errorf("JT/T 808 device id %q, %v", h.DeviceID(), err)
	}
}

// A walker keeps to its speed limits and its area over an hour of fixes a second apart.
func TestWalker(t *testing.T) {
	a := CenterArea(117.55, 34.85, 2000)
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 20 {
		w := newWalker(&a, rng, start)
		for i := 1; i < 3600; i++ {
			lon, lat := w.lon, w.lat
			w.step(start.Add(time.Duration(i)*time.Second), &a, rng)
			if d := distanceM(lon, lat, w.lon, w.lat); d > 60/3.6+0.01 {
				t.Fatalf("moved %.1f m in a second", d)
			}
			if !a.inBox(w.lon, w.lat) || w.speed < 20 || w.speed > 60 || w.heading < 0 || w.heading >= 360 {
				t.Fatalf("walker %+v", w)
			}
		}
	}
}

func TestAppendFixed(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		dec  int
		want string
	}{
		{34.8512345, 6, "34.851235"}, {-0.0000004, 6, "0.000000"}, {-117.5, 6, "-117.500000"},
		{0.05, 1, "0.1"}, {12.04, 1, "12.0"}, {359.96, 0, "360"}, {1.000001, 6, "1.000001"},
	} {
		if got := string(appendFixed(nil, tc.v, tc.dec)); got != tc.want {
			t.Errorf("appendFixed(%v, %d) = %s, want %s", tc.v, tc.dec, got, tc.want)
		}
	}
	var tf timeFormatter
	for _, tm := range []time.Time{time.Date(2026, 3, 4, 5, 6, 7, 8_009_000, time.UTC),
		time.Date(2026, 3, 4, 5, 6, 7, 999_999_999, time.FixedZone("CST", 8*3600)), time.Date(2026, 3, 4, 5, 6, 8, 0, time.UTC)} {
		want := tm.UTC().Format("2006-01-02T15:04:05.000000Z")
		if got := string(tf.append(nil, tm)); got != want {
			t.Errorf("time %s, want %s", got, want)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, time.Millisecond}} {
		if got := h.quantile(tc.q); math.Abs(float64(got-tc.want)) > 0.04*float64(tc.want) {
			t.Errorf("q%.2f = %v, want %v", tc.q, got, tc.want)
		}
	}
	for v := uint64(0); v < 1<<20; v += 7 {
		i := histBucket(v)
		if mid := histValue(i); math.Abs(mid-float64(v)) > 0.035*float64(v)+1 {
			t.Fatalf("value %d: bucket %d middle %.0f", v, i, mid)
		}
	}
}

func TestRegisterBody(t *testing.T) {
	for _, v := range []gps.Version{gps.Version2013, gps.Version2019} {
		b := registerBody(nil, v, "370402", "19900000001", "LG00001")
		r, err := gps.ParseRegister(b, v)
		want := map[gps.Version]int{gps.Version2013: 2013, gps.Version2019: 2019}[v]
		if err != nil || r.Plate != "LG00001" || r.PlateColor != 1 || r.Province != 37 || r.City != 402 || r.Layout != want {
			t.Errorf("%v: %+v, %v", v, r, err)
		}
	}
}

// The pacer's bucket starts empty, holds at most 50 ms of tokens, and never less than one take.
func TestPacer(t *testing.T) {
	now := time.Now()
	near := func(got, want time.Duration) bool {
		return got > want-20*time.Millisecond && got < want+20*time.Millisecond
	}
	if d := newPacer(100, now).dueIn(10); !near(d, 100*time.Millisecond) {
		t.Errorf("a fresh bucket: 10 tokens at 100/s due in %v, want 100ms", d)
	}
	stalled := newPacer(1000, now.Add(-10*time.Second))
	if !stalled.take(20, now.Add(time.Second), nil) {
		t.Fatal("no take after a stall")
	}
	if d := stalled.dueIn(40); !near(d, 10*time.Millisecond) {
		t.Errorf("after a stall and 20 tokens: 40 more at 1000/s due in %v, want 10ms (50 ms of burst)", d)
	}
	if d := newPacer(1, now.Add(-10*time.Second)).dueIn(1); !near(d, 0) {
		t.Errorf("after a stall: 1 token at 1/s due in %v, want now", d)
	}
	p := newPacer(0, now)
	if d := p.dueIn(1000); d != 0 || !p.take(1000, now.Add(time.Second), nil) {
		t.Errorf("no rate: due in %v", d)
	}
	if p.take(1, now, nil) {
		t.Error("a take after the deadline")
	}
}
