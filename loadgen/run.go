package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// requestTimeout bounds one HTTP request, so that a run ends at most this long after its
// duration even against a server that stopped answering.
const requestTimeout = 10 * time.Second

// drainGrace is how long JT/T 808 connections wait for the answers to their last frames.
const drainGrace = 5 * time.Second

// errorBackoff is how long a client waits after a failed request before the next one, so that
// a server that refuses connections is not hammered in a tight loop.
const errorBackoff = 50 * time.Millisecond

// Run drives the server for cfg.Duration and reports what it did.
//
// In order: with cfg.Provision it provisions the devices (Provision); it finds the area the devices
// move in (cfg.Center, or the district's outline); with cfg.Verify it reads the server's ingest
// counters; it sends fixes over cfg.Protocol until the duration is up, at cfg.Rate, and waits for
// the answers to what it sent; with cfg.Verify it waits (up to cfg.VerifyTimeout) for the server's
// backlog to drain and checks that the history grew by at least the fixes accepted.
//
// The error is nil with a report of a run that went through. A run that could not start (a bad
// configuration, provisioning or the REST API failing) returns an error and, when provisioning
// got that far, a partial report. A run that went through returns its report and ErrLost when the
// verification failed, ErrNothingAccepted when no fix was accepted. Cancelling ctx ends the run
// early, with the report of what was done.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if cfg.Protocol.Fleet() {
		return nil, fmt.Errorf("protocol %q plays IoT terminals: use RunFleet", cfg.Protocol)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rep := &Report{Protocol: cfg.Protocol, Devices: cfg.Devices, Connections: cfg.Conns, Rate: cfg.Rate,
		Duration: cfg.Duration.Seconds()}
	api := newAPIClient(cfg.URL, 2, cfg.APIKey)
	defer api.close()

	district := cfg.District
	if cfg.Provision {
		pr, err := Provision(ctx, cfg)
		rep.Provision = pr
		if err != nil {
			return rep, fmt.Errorf("provision: %w", err)
		}
		district = pr.District
	}
	area, err := resolveArea(ctx, api, &cfg, district)
	if err != nil {
		return rep, err
	}
	rep.Area = area
	var before Counters
	if cfg.Verify {
		if before, err = api.counters(ctx); err != nil {
			return rep, fmt.Errorf("verify: the ingest counters before the run: %w", err)
		}
	}

	seed := cfg.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	e := &runEnv{cfg: &cfg, devices: Devices(cfg.Devices, cfg.SecretSeed), area: &area, seed: seed}
	var ws []*workerStats
	switch cfg.Protocol {
	case JSON:
		ws = e.runJSON(ctx)
	case OsmAnd:
		ws = e.runOsmAnd(ctx)
	case JT808:
		ws, rep.Login = e.runJT808(ctx)
		rep.Connections = len(ws)
	}
	rep.Elapsed = e.elapsed(ctx, ws).Seconds()
	rep.collect(ws)

	if cfg.Verify {
		rep.Verify = verify(ctx, api, before, rep.FixesAccepted, cfg.VerifyTimeout)
	}
	switch {
	case rep.FixesAccepted == 0:
		return rep, ErrNothingAccepted
	case rep.Verify != nil && !rep.Verify.OK:
		return rep, ErrLost
	}
	return rep, nil
}

// resolveArea finds where the devices move.
func resolveArea(ctx context.Context, api *apiClient, cfg *Config, district string) (Area, error) {
	if cfg.Center != nil {
		a := CenterArea(cfg.Center[0], cfg.Center[1], cfg.RadiusM)
		a.District = district
		return a, nil
	}
	ds, err := api.districts(ctx)
	if err != nil {
		return Area{}, fmt.Errorf("find the area to move in (or give a center): %w", err)
	}
	d, err := pickDistrict(ds, district)
	if err != nil {
		return Area{}, err
	}
	a, ok := districtArea(d)
	if !ok {
		return Area{}, fmt.Errorf("district %s has no outline to move in: give a center (lon,lat)", d.Code)
	}
	return a, nil
}

// runEnv is what the workers of a run share.
type runEnv struct {
	cfg     *Config
	devices []Device
	area    *Area
	seed    uint64

	start, deadline time.Time
	stop            chan struct{} // closed at the deadline or when the run's context ends
}

// share returns the devices of worker w of n: every n-th one.
func (e *runEnv) share(w, n int) []Device {
	var ds []Device
	for i := w; i < len(e.devices); i += n {
		ds = append(ds, e.devices[i])
	}
	return ds
}

// rng returns the random source of worker w.
func (e *runEnv) rng(w int) *rand.Rand { return rand.New(rand.NewPCG(e.seed, uint64(w))) }

func newStats(n int) []*workerStats {
	ws := make([]*workerStats, n)
	for i := range ws {
		ws[i] = newWorkerStats()
	}
	return ws
}

// phase runs fn(i) for every worker in a goroutine of its own from now until the deadline, and
// reports progress meanwhile. fn must stop sending once e.stop is closed or the deadline passed,
// and return when it has the answers to what it sent.
func (e *runEnv) phase(ctx context.Context, ws []*workerStats, fn func(i int)) {
	e.start = time.Now()
	e.deadline = e.start.Add(e.cfg.Duration)
	e.stop = make(chan struct{})
	var once sync.Once
	end := func() { once.Do(func() { close(e.stop) }) }
	timer := time.AfterFunc(e.cfg.Duration, end)
	defer timer.Stop()
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			end()
		case <-done:
		}
	}()
	var wg sync.WaitGroup
	if e.cfg.Progress != nil && e.cfg.ProgressEvery > 0 {
		wg.Go(func() { e.progress(ws, done) })
	}
	var workers sync.WaitGroup
	for i := range ws {
		workers.Go(func() { fn(i) })
	}
	workers.Wait()
	close(done)
	wg.Wait()
}

func (e *runEnv) progress(ws []*workerStats, done <-chan struct{}) {
	t := time.NewTicker(e.cfg.ProgressEvery)
	defer t.Stop()
	var prev int64
	prevT := e.start
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			var p Progress
			for _, w := range ws {
				p.Sent += w.sent.Load()
				p.Accepted += w.accepted.Load()
				p.Rejected += w.rejected.Load()
				p.Errors += w.errors.Load()
			}
			p.Elapsed = now.Sub(e.start)
			if dt := now.Sub(prevT).Seconds(); dt > 0 {
				p.FixesPerSec = float64(p.Sent-prev) / dt
			}
			prev, prevT = p.Sent, now
			e.cfg.Progress(p)
		}
	}
}

// elapsed runs from the start to the deadline, or to the last answer when that came later: a
// paced worker may finish a little before the deadline, but the run lasted its duration. A run
// cut short by its context ends when it was cut.
func (e *runEnv) elapsed(ctx context.Context, ws []*workerStats) time.Duration {
	if e.start.IsZero() {
		return 0
	}
	end := e.deadline
	if now := time.Now(); ctx.Err() != nil && now.Before(end) {
		end = now
	}
	for _, w := range ws {
		if w.last.After(end) {
			end = w.last
		}
	}
	return end.Sub(e.start)
}

// VerifyReport says whether the server wrote to its history every fix it accepted during the run.
type VerifyReport struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	// Accepted counts the fixes the answers said were accepted.
	Accepted int64 `json:"accepted"`
	// ServerAccepted and Flushed are how much the server's accepted and flushed counters grew;
	// other traffic to the server adds to them.
	ServerAccepted int64   `json:"server_accepted"`
	Flushed        int64   `json:"flushed"`
	Backlog        int64   `json:"backlog"` // at the end of the wait
	Waited         float64 `json:"waited_s"`
}

// verifySettle is how long the flushed counter may lag behind an empty backlog.
const verifySettle = 2 * time.Second

// verify waits for the server's backlog to drain and compares its flushed counter with what was
// accepted.
func verify(ctx context.Context, api *apiClient, before Counters, accepted int64, timeout time.Duration) *VerifyReport {
	v := &VerifyReport{Accepted: accepted}
	start := time.Now()
	deadline := start.Add(timeout)
	var drained time.Time
	var lastErr error
	for {
		c, err := api.counters(ctx)
		now := time.Now()
		if err == nil {
			lastErr = nil
			v.ServerAccepted, v.Flushed, v.Backlog = c.Accepted-before.Accepted, c.Flushed-before.Flushed, c.Backlog
			if c.Backlog == 0 && drained.IsZero() {
				drained = now
			}
			if c.Backlog == 0 && v.Flushed >= accepted {
				v.OK = true
				break
			}
			if !drained.IsZero() && now.Sub(drained) > min(verifySettle, timeout/4) {
				break
			}
		} else {
			lastErr = err
		}
		if now.After(deadline) || ctx.Err() != nil {
			break
		}
		if !sleep(100*time.Millisecond, ctx.Done()) {
			break
		}
	}
	v.Waited = time.Since(start).Seconds()
	switch {
	case v.OK:
		v.Message = fmt.Sprintf("the history grew by %d positions, the server accepted %d fixes: none lost", v.Flushed, accepted)
	case lastErr != nil:
		v.Message = fmt.Sprintf("the ingest counters could not be read: %v", lastErr)
	case v.Backlog > 0:
		v.Message = fmt.Sprintf("the backlog still held %d positions after %.0f s", v.Backlog, v.Waited)
	default:
		v.Message = fmt.Sprintf("the server accepted %d fixes but its history grew by %d: %d lost", accepted, v.Flushed, accepted-v.Flushed)
	}
	return v
}
