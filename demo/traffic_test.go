package demo

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb"
)

var trafficStart = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

// demoStep is how often the demo steps its traffic.
const demoStep = 5 * time.Second

// defaultHour is the fixes of the default city's first hour of traffic, step by 5-s step. It is
// simulated once: TestTrafficIsPlausible checks it, and the tests of determinism and step sizes
// compare other runs with it. They only read it.
var defaultHour = sync.OnceValue(func() [][]liftrescue.Fix {
	return hourOf(Generate(Config{Elevators: 1}), TrafficConfig{})
})

// hourOf returns the fixes of the city's first hour of traffic from trafficStart, step by 5-s step.
func hourOf(c *City, cfg TrafficConfig) [][]liftrescue.Fix {
	var steps [][]liftrescue.Fix
	stepThrough(c.Traffic(cfg, trafficStart), trafficStart, trafficStart.Add(time.Hour), demoStep,
		func(_ time.Time, fixes []liftrescue.Fix) { steps = append(steps, fixes) })
	return steps
}

// stepThrough steps the traffic from start to end by step and hands report each step's fixes.
func stepThrough(tr *Traffic, start, end time.Time, step time.Duration, report func(now time.Time, fixes []liftrescue.Fix)) {
	for now := start.Add(step); !now.After(end); now = now.Add(step) {
		report(now, tr.Step(now))
	}
}

// drive steps the traffic from its start to end by step and returns every fix in order.
func drive(tr *Traffic, start, end time.Time, step time.Duration) []liftrescue.Fix {
	var fixes []liftrescue.Fix
	stepThrough(tr, start, end, step, func(_ time.Time, f []liftrescue.Fix) { fixes = append(fixes, f...) })
	return fixes
}

// sameFixes compares fixes, in order, taking the unknown battery (NaN) to equal itself.
func sameFixes(a, b []liftrescue.Fix) bool {
	return slices.EqualFunc(a, b, func(f, g liftrescue.Fix) bool {
		if !math.IsNaN(f.Battery) || !math.IsNaN(g.Battery) {
			return f == g
		}
		f.Battery, g.Battery = 0, 0
		return f == g
	})
}

// replay compares the fixes of a run's steps, one step after another, with want: sameFixes of
// their concatenation, without keeping an hour of fixes per run.
type replay struct {
	want []liftrescue.Fix
	got  int // fixes reported so far
	same int // how many of them, from the first, are want's
}

func (r *replay) step(fixes []liftrescue.Fix) {
	if r.same == r.got && len(fixes) <= len(r.want)-r.got && sameFixes(fixes, r.want[r.got:r.got+len(fixes)]) {
		r.same += len(fixes)
	}
	r.got += len(fixes)
}

func (r *replay) ok() bool { return r.same == r.got && r.got == len(r.want) }

func TestTrafficIsDeterministic(t *testing.T) {
	c := Generate(Config{Elevators: 1})
	end := trafficStart.Add(20 * time.Minute)
	run := func(cfg TrafficConfig) []liftrescue.Fix {
		return drive(c.Traffic(cfg, trafficStart), trafficStart, end, demoStep)
	}
	// The first 20 minutes of the default hour, simulated from another City of the same Config.
	a := slices.Concat(defaultHour()[:end.Sub(trafficStart)/demoStep]...)
	if len(a) == 0 {
		t.Fatal("no fixes")
	}
	if !sameFixes(a, run(TrafficConfig{})) {
		t.Error("two runs with the same city, config and start differ")
	}
	if sameFixes(a, run(TrafficConfig{Seed: 42})) {
		t.Error("a different seed gives the same fixes")
	}
	if !sameFixes(a, run(TrafficConfig{Seed: DefaultSeed, Every: DefaultTrafficEvery})) {
		t.Error("the zero config is not the default")
	}
}

// However the caller steps, the fixes are the same and in the same order; a long step gives the
// last TrafficBacklog of them.
func TestTrafficStepSizeIndependent(t *testing.T) {
	c := Generate(Config{Elevators: 1})
	end := trafficStart.Add(time.Hour)
	want := slices.Concat(defaultHour()...) // of 5-s steps

	every := func(step time.Duration) func(*Traffic, func([]liftrescue.Fix)) {
		return func(tr *Traffic, report func([]liftrescue.Fix)) {
			stepThrough(tr, trafficStart, end, step, func(_ time.Time, fixes []liftrescue.Fix) { report(fixes) })
		}
	}
	irregular := func(tr *Traffic, report func([]liftrescue.Fix)) {
		rng := rand.New(rand.NewPCG(1, 2))
		for now := trafficStart; now.Before(end); {
			if now = now.Add(time.Duration(rng.Int64N(int64(TrafficBacklog)))); now.After(end) {
				now = end
			}
			report(tr.Step(now))
			report(tr.Step(now)) // again: nothing more
			report(tr.Step(now.Add(-time.Minute)))
		}
	}
	for _, tc := range []struct {
		name string
		run  func(*Traffic, func([]liftrescue.Fix))
	}{
		{"1 s", every(time.Second)},
		{"37 s", func(tr *Traffic, report func([]liftrescue.Fix)) {
			every(37*time.Second)(tr, report)
			report(tr.Step(end))
		}},
		{"2 min", every(TrafficBacklog)},
		{"irregular", irregular},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := replay{want: want}
			tc.run(c.Traffic(TrafficConfig{}, trafficStart), r.step)
			if !r.ok() {
				t.Errorf("got %d fixes, the first %d as they should be; want the %d of 5-s steps", r.got, r.same, len(want))
			}
		})
	}

	t.Run("one long step", func(t *testing.T) {
		end := trafficStart.Add(2 * time.Hour)
		var last []liftrescue.Fix // the last of 2-minute steps: the fixes of the last TrafficBacklog
		stepThrough(c.Traffic(TrafficConfig{}, trafficStart), trafficStart, end, TrafficBacklog,
			func(_ time.Time, fixes []liftrescue.Fix) { last = fixes })
		tr := c.Traffic(TrafficConfig{}, trafficStart)
		stepThrough(tr, trafficStart, trafficStart.Add(10*time.Minute), demoStep, func(time.Time, []liftrescue.Fix) {})
		got := tr.Step(end)
		if len(got) == 0 || !sameFixes(got, last) {
			t.Errorf("a 2-hour step gave %d fixes, want the %d of its last 2 minutes", len(got), len(last))
		}
	})
}

// One simulated hour of the city looks like plausible traffic and passes the ingest pipeline's
// checks.
func TestTrafficIsPlausible(t *testing.T) {
	other := Generate(Config{Elevators: 1, Seed: 42})
	for _, tc := range []struct {
		name string
		city *City
		hour func() [][]liftrescue.Fix
	}{
		{"default", Generate(Config{Elevators: 1}), defaultHour},
		{"other city, 30 s reports", other, func() [][]liftrescue.Fix {
			return hourOf(other, TrafficConfig{Every: 30 * time.Second})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkTraffic(t, tc.city, tc.hour())
		})
	}
}

// checkTraffic checks the city's first hour of traffic from trafficStart, step by 5-s step.
func checkTraffic(t *testing.T, c *City, hour [][]liftrescue.Fix) {
	const (
		step        = demoStep
		maxKmh      = 60.0
		slackM      = 100.0
		maxHeadingΔ = 30.0
	)
	outlines := map[string]orb.Ring{}
	for _, d := range c.Districts {
		outlines[d.Code] = d.Outline[0][0]
	}
	orgDistrict := map[string]string{}
	for _, o := range c.Organizations {
		orgDistrict[o.Code] = o.District
	}
	district := map[string]string{} // by device id
	for _, v := range c.Vehicles {
		district[v.Vehicle.DeviceID] = orgDistrict[c.Teams[v.Team].OrgCode]
	}

	type track struct {
		last           *liftrescue.Fix
		moving, parked int
		metres         float64
	}
	tracks := map[string]*track{}
	var movingNow, parkedNow int // at the half hour, by their last fix
	var headings, wrongHeadings int
	if len(hour) != int(time.Hour/step) {
		t.Fatalf("%d steps in an hour, want %d", len(hour), time.Hour/step)
	}
	for s, fixes := range hour {
		now := trafficStart.Add(time.Duration(s+1) * step)
		for i := range fixes {
			f := &fixes[i]
			if i > 0 && f.Time.Before(fixes[i-1].Time) {
				t.Fatalf("at %v: fixes out of time order", now)
			}
			if r := liftrescue.CheckFix(f, now); r != "" {
				t.Fatalf("%+v: %s", f, r)
			}
			if f.Time.Location() != time.UTC || !f.Time.After(now.Add(-step)) || f.Time.After(now) ||
				!math.IsNaN(f.Battery) || f.AccuracyM < 5 || f.AccuracyM > 15 || f.Heading >= 360 ||
				math.IsNaN(f.Heading+f.SpeedKmh+f.AltitudeM) {
				t.Fatalf("at %v: %+v", now, f)
			}
			if !inRing(outlines[district[f.DeviceID]], orb.Point{f.Lon, f.Lat}) {
				t.Fatalf("%+v lies outside its district %s", f, district[f.DeviceID])
			}
			k := tracks[f.DeviceID]
			if k == nil {
				k = &track{}
				tracks[f.DeviceID] = k
			}
			switch {
			case f.SpeedKmh > 5:
				k.moving++
			case f.SpeedKmh == 0:
				k.parked++
			}
			if p := k.last; p != nil {
				move := project(f.Lon, f.Lat).sub(project(p.Lon, p.Lat))
				if limit := maxKmh/3.6*f.Time.Sub(p.Time).Seconds() + slackM; move.length() > limit {
					t.Fatalf("%s moves %.0f m in %v, more than %.0f m", f.DeviceID, move.length(), f.Time.Sub(p.Time), limit)
				}
				if p.SpeedKmh > 0 || f.SpeedKmh > 0 {
					k.metres += move.length()
				}
				// Between two fixes on one stretch of street (the same heading and speed) the way
				// agrees with the heading.
				if p.SpeedKmh > 5 && angleBetween(p.Heading, f.Heading) <= 2 &&
					math.Abs(f.SpeedKmh-p.SpeedKmh) < 0.1*p.SpeedKmh && move.length() > 20 {
					way := math.Mod(math.Atan2(move.x, move.y)*180/math.Pi+360, 360)
					if angleBetween(way, f.Heading) > maxHeadingΔ {
						t.Logf("%s heads %.0f° but moves towards %.0f° between %v and %v", f.DeviceID, f.Heading, way, p.Time, f.Time)
						wrongHeadings++
					}
					headings++
				}
			}
			k.last = f
		}
		if now.Equal(trafficStart.Add(30 * time.Minute)) {
			for _, k := range tracks {
				if k.last.SpeedKmh > 0 {
					movingNow++
				} else {
					parkedNow++
				}
			}
		}
	}

	both, far, still := 0, 0, 0
	for _, v := range c.Vehicles {
		k := tracks[v.Vehicle.DeviceID]
		if k == nil {
			t.Fatalf("vehicle %s made no fix in an hour", v.Vehicle.Plate)
		}
		if k.moving > 0 && k.parked > 0 {
			both++
		}
		if k.moving == 0 {
			still++
		}
		if k.metres > 2000 {
			far++
		}
	}
	n := len(c.Vehicles)
	t.Logf("%d vehicles: %d both moved and parked, %d stayed, %d drove over 2 km; at the half hour %d moving, %d parked; %d of %d headings off",
		n, both, still, far, movingNow, parkedNow, wrongHeadings, headings)
	if both < n*6/10 {
		t.Errorf("only %d of %d vehicles both moved and parked in an hour", both, n)
	}
	if far < 5 {
		t.Errorf("only %d vehicles drove more than 2 km in an hour", far)
	}
	if still == 0 || still > n*4/10 {
		t.Errorf("%d of %d vehicles never moved, want some but not many", still, n)
	}
	if movingNow < n/5 || parkedNow < n/5 {
		t.Errorf("at the half hour %d vehicles were moving and %d parked, want a mix", movingNow, parkedNow)
	}
	// A heading convention gone wrong would show in most pairs. A few pairs can pass two
	// corners in one interval (out of a yard, along a few metres of street, round the corner),
	// the more the longer the interval.
	if headings < 1000 || wrongHeadings > headings/100 {
		t.Errorf("%d of %d pairs of fixes on one stretch of street move against their heading", wrongHeadings, headings)
	}
}

// angleBetween returns the difference of two headings in degrees, 0 to 180.
func angleBetween(a, b float64) float64 {
	d := math.Mod(math.Abs(a-b), 360)
	return min(d, 360-d)
}

func TestTrafficReportsTrackedVehiclesOnly(t *testing.T) {
	c := *Generate(Config{Elevators: 1})
	c.Vehicles = slices.Clone(c.Vehicles)
	untracked := c.Vehicles[3].Vehicle.DeviceID
	c.Vehicles[3].Vehicle.DeviceID = ""
	devices := map[string]bool{}
	for _, f := range drive(c.Traffic(TrafficConfig{}, trafficStart), trafficStart, trafficStart.Add(time.Minute), time.Minute) {
		devices[f.DeviceID] = true
	}
	if len(devices) != len(c.Vehicles)-1 || devices[untracked] || devices[""] {
		t.Errorf("%d devices reported, want the %d tracked vehicles", len(devices), len(c.Vehicles)-1)
	}
}

// Trackers stamp whole seconds; a start between seconds, with a monotonic clock reading as
// time.Now has, changes neither that nor the time order.
func TestTrafficReportsOnWholeSeconds(t *testing.T) {
	start := time.Now().Add(700 * time.Millisecond)
	fixes := drive(Generate(Config{Elevators: 1}).Traffic(TrafficConfig{}, start), start, start.Add(time.Minute), 10*time.Second)
	if len(fixes) == 0 {
		t.Fatal("no fixes")
	}
	for i, f := range fixes {
		if f.Time.Nanosecond() != 0 || !f.Time.After(start) || f.Time.Location() != time.UTC ||
			i > 0 && f.Time.Before(fixes[i-1].Time) {
			t.Fatalf("fix %d at %v, the start at %v", i, f.Time, start)
		}
	}
}

func TestTrafficConfig(t *testing.T) {
	c := Generate(Config{Elevators: 1})
	for _, tc := range []struct {
		every  time.Duration
		panics bool
	}{
		{0, false},
		{time.Second, false},
		{time.Minute, false},
		{time.Second - 1, true},
		{-time.Second, true},
	} {
		t.Run(tc.every.String(), func(t *testing.T) {
			defer func() {
				if got := recover() != nil; got != tc.panics {
					t.Errorf("panics %v, want %v", got, tc.panics)
				}
			}()
			c.Traffic(TrafficConfig{Every: tc.every}, trafficStart)
		})
	}
}

// BenchmarkTrafficStep steps the default city's vehicles 5 s at a time, as the demo does.
func BenchmarkTrafficStep(b *testing.B) {
	tr := Generate(Config{Elevators: 1}).Traffic(TrafficConfig{}, trafficStart)
	now, fixes := trafficStart, 0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(5 * time.Second)
		fixes += len(tr.Step(now))
	}
	b.ReportMetric(float64(fixes)/float64(b.N), "fixes/step")
}

// BenchmarkTrafficStepHour is a caller that wakes up an hour late: the vehicles drive the hour
// through, and only the last TrafficBacklog is reported.
func BenchmarkTrafficStepHour(b *testing.B) {
	tr := Generate(Config{Elevators: 1}).Traffic(TrafficConfig{}, trafficStart)
	now := trafficStart
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Hour)
		tr.Step(now)
	}
}
