package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// The tests here hold a store to the PositionService wherever a store may keep several fixes of
// a vehicle together (PostgreSQL keeps up to 20 of one batch and one minute in a row): many fixes
// of a vehicle in a batch, out of order, over minute boundaries, in batches that overlap in time;
// bounds, limits and retention that fall inside such a group.

// fix is a position of vehicle v taken at t0 plus d, every measure telling it apart from its
// neighbours: some unknown, some zero, alarms of any length.
func (f *positionsFixture) fix(v int64, d time.Duration) liftrescue.Position {
	t := f.t0.Add(d)
	k := int(d / time.Millisecond)
	p := liftrescue.Position{
		VehicleID: v,
		Fix: liftrescue.Fix{Time: t, Lat: 34.8 + float64(k%100_000)*1e-7, Lon: 117.5 + float64(v%100)*0.001 + float64(k%7)*1e-6,
			SpeedKmh: float64(k % 90), Heading: float64(k % 360), AccuracyM: 3.25, AltitudeM: -2.5 + float64(k%11), Battery: 0.5,
			Flags: uint64(k)<<20 | 1<<63},
		ReceivedAt: t.Add(time.Duration(k%5000) * time.Millisecond),
	}
	switch uint64(k) * 0x9e3779b97f4a7c15 >> 62 { // one of four, mixed up whatever the step of d
	case 1:
		p.SpeedKmh, p.Battery = liftrescue.Unknown, liftrescue.Unknown
	case 2:
		p.Heading, p.AccuracyM, p.AltitudeM = liftrescue.Unknown, liftrescue.Unknown, 0
		p.Alarm = "sos"
	case 3:
		p.Alarm = fmt.Sprintf("超速 %d", k)
	}
	return p
}

// fixes is vehicle v's fixes from t0 plus from, every step, until t0 plus to.
func (f *positionsFixture) fixes(v int64, from, to, step time.Duration) []liftrescue.Position {
	var ps []liftrescue.Position
	for d := from; d < to; d += step {
		ps = append(ps, f.fix(v, d))
	}
	return ps
}

// trackAt is Track from t0 plus from to t0 plus to.
func (f *positionsFixture) trackAt(tb testing.TB, v int64, from, to time.Duration, limit int) []liftrescue.Position {
	tb.Helper()
	got, err := f.s.Track(f.ctx, v, f.t0.Add(from), f.t0.Add(to), limit)
	MustOK(tb, err)
	if got == nil {
		tb.Fatalf("Track(%d) = nil, want a slice even when empty", v)
	}
	return got
}

// between is those of ps (in order of time) taken from t0 plus from until t0 plus to.
func (f *positionsFixture) between(ps []liftrescue.Position, from, to time.Duration) []liftrescue.Position {
	var out []liftrescue.Position
	for _, p := range ps {
		if !p.Time.Before(f.t0.Add(from)) && p.Time.Before(f.t0.Add(to)) {
			out = append(out, p)
		}
	}
	return out
}

// shuffle puts ps in an order that is neither theirs nor its reverse, the same every run.
func shuffle(ps []liftrescue.Position) []liftrescue.Position {
	out := make([]liftrescue.Position, len(ps))
	for i := range ps {
		out[i] = ps[i*7919%len(ps)] // 7919 is prime: each once, when len(ps) is not a multiple
	}
	return out
}

// byTime sorts positions by time, keeping the order of ties.
func byTime(ps []liftrescue.Position) []liftrescue.Position {
	ps = slices.Clone(ps)
	slices.SortStableFunc(ps, func(a, b liftrescue.Position) int { return a.Time.Compare(b.Time) })
	return ps
}

// One batch with a hundred and more fixes of a vehicle, shuffled, over minute boundaries, with
// some taken at the same instant, between the fixes of another vehicle: every fix comes back, in
// order, with every measure; bounds, limits and the latest position fall anywhere among them.
func testPositionsManyOfOneVehicle(t *testing.T, f *fixture) {
	p := f.positions(t)
	// 50 s before t0 to 130 s after: three minute boundaries (t0 is on one), a fix every 1.5 s.
	a := p.fixes(p.a, -50*time.Second, 130*time.Second, 1500*time.Millisecond)
	// Two more at the instant of others, told apart by their place.
	for _, i := range []int{7, 60} {
		twin := a[i]
		twin.Lat, twin.Alarm = -twin.Lat, "twin"
		a = append(a, twin)
	}
	b := p.fixes(p.b, -30*time.Second, 30*time.Second, 10*time.Second)
	batch := shuffle(append(slices.Clone(a), b...))
	MustOK(t, p.s.AppendPositions(p.ctx, batch))

	// Ties come in no set order: sameTrack checks the order of got, then compares it with want
	// with the ties of both in one order.
	sameTrack := func(what string, got, want []liftrescue.Position) {
		t.Helper()
		for i := 1; i < len(got); i++ {
			if got[i].Time.Before(got[i-1].Time) {
				t.Fatalf("%s: position %d at %v after one at %v", what, i, got[i].Time, got[i-1].Time)
			}
		}
		canonical := func(ps []liftrescue.Position) []liftrescue.Position {
			ps = slices.Clone(ps)
			slices.SortStableFunc(ps, func(a, b liftrescue.Position) int {
				if c := a.Time.Compare(b.Time); c != 0 {
					return c
				}
				return cmp.Compare(a.Lat, b.Lat)
			})
			return ps
		}
		samePositions(t, what, canonical(got), canonical(want))
	}
	all := byTime(a)
	sameTrack("whole track", p.trackAt(t, p.a, -time.Hour, time.Hour, 0), all)
	sameTrack("the other vehicle", p.trackAt(t, p.b, -time.Hour, time.Hour, 0), byTime(b))
	for _, r := range []struct{ from, to time.Duration }{
		{0, time.Minute},                        // one whole minute
		{-50 * time.Second, 0},                  // up to a minute boundary
		{-20*time.Second - 1, 20 * time.Second}, // over a boundary, bounds inside minutes
		{10500 * time.Millisecond, 10500 * time.Millisecond},
		{10500 * time.Millisecond, 10500*time.Millisecond + time.Microsecond}, // the fix at 10.5 s alone
		{61 * time.Second, 62 * time.Second},                                  // between two fixes
		{59 * time.Second, 61 * time.Second},                                  // on both sides of a boundary
		{-2 * time.Hour, -50 * time.Second},                                   // before the first
		{130 * time.Second, time.Hour},                                        // after the last
	} {
		sameTrack(fmt.Sprintf("from %v to %v", r.from, r.to), p.trackAt(t, p.a, r.from, r.to, 0), p.between(all, r.from, r.to))
	}
	// Limits about the multiples of 20; none falls between two twins.
	for _, limit := range []int{1, 19, 20, 21, 39, 41, 60, len(all) - 1, len(all)} {
		sameTrack(fmt.Sprintf("limit %d", limit), p.trackAt(t, p.a, -time.Hour, time.Hour, limit), all[:limit])
		from := 5 * time.Second
		within := p.between(all, from, time.Hour)
		sameTrack(fmt.Sprintf("from %v, limit %d", from, limit), p.trackAt(t, p.a, from, time.Hour, limit), within[:min(limit, len(within))])
	}
	latest, err := p.s.LatestPositions(p.ctx)
	MustOK(t, err)
	samePositions(t, "latest", latest, []liftrescue.Position{all[len(all)-1], byTime(b)[len(b)-1]})
}

// Batches that overlap in time, of one vehicle and one minute, come back as one track in order of
// time, whichever batch a fix came in; the latest position is the newest by time even when a later
// batch of its minute held only older fixes; a limit counts fixes, whatever batch holds them.
func testPositionsOverlappingBatches(t *testing.T, f *fixture) {
	p := f.positions(t)
	sec := time.Second
	// Written in this order: the even seconds of a minute, then the odd ones, then a few late
	// fixes of the minute before, then the first half of the minute again, each second's second
	// fix a quarter second after.
	batches := [][]liftrescue.Position{
		p.fixes(p.a, 0, 60*sec, 2*sec),
		p.fixes(p.a, sec, 60*sec, 2*sec),
		p.fixes(p.a, -3*sec, 0, sec),
		p.fixes(p.a, 250*time.Millisecond, 30*sec, sec),
	}
	var all []liftrescue.Position
	for i, batch := range batches {
		if i%2 == 1 {
			slices.Reverse(batch)
		}
		MustOK(t, p.s.AppendPositions(p.ctx, batch))
		all = append(all, batch...)
	}
	all = byTime(all)
	samePositions(t, "whole track", p.trackAt(t, p.a, -time.Hour, time.Hour, 0), all)
	for _, limit := range []int{1, 2, 3, 4, 5, 10, 25, 64, 90} {
		samePositions(t, fmt.Sprintf("limit %d", limit), p.trackAt(t, p.a, -time.Hour, time.Hour, limit), all[:limit])
	}
	samePositions(t, "from 10 s to 12.5 s", p.trackAt(t, p.a, 10*sec, 12500*time.Millisecond, 0), p.between(all, 10*sec, 12500*time.Millisecond))
	samePositions(t, "from 10 s, limit 5", p.trackAt(t, p.a, 10*sec, time.Hour, 5), p.between(all, 10*sec, time.Hour)[:5])
	latest, err := p.s.LatestPositions(p.ctx)
	MustOK(t, err)
	samePositions(t, "latest", latest, all[len(all)-1:])

	// A later batch whose fixes are all older than the latest, in the latest's minute and the one
	// before: the latest stays.
	late := p.fixes(p.a, 20*sec+time.Millisecond, 25*sec, sec)
	MustOK(t, p.s.AppendPositions(p.ctx, append(late, p.fix(p.a, -10*sec))))
	latest, err = p.s.LatestPositions(p.ctx)
	MustOK(t, err)
	samePositions(t, "latest after older fixes", latest, all[len(all)-1:])
}

// Retention cuts through a minute in which the vehicle has many fixes, from several batches: the
// fixes before the cut go, and are counted, the others stay, all of their measures with them.
func testPositionsRetentionWithinMinute(t *testing.T, f *fixture) {
	p := f.positions(t)
	sec := time.Second
	a1 := p.fixes(p.a, -90*sec, 90*sec, 700*time.Millisecond) // t0 is on a minute boundary
	a2 := p.fixes(p.a, 100*time.Millisecond, 59*sec, 3*sec)
	b := p.fixes(p.b, -10*sec, 10*sec, 5*sec)
	MustOK(t, p.s.AppendPositions(p.ctx, shuffle(append(slices.Clone(a1), b...))))
	MustOK(t, p.s.AppendPositions(p.ctx, a2))
	all := byTime(append(slices.Clone(a1), a2...))

	deleted := 0 // of a and b
	for _, cut := range []time.Duration{
		-75 * sec,                    // inside the first minute
		-75 * sec,                    // again: nothing more
		-60 * sec,                    // on a boundary
		20*sec + 50*time.Millisecond, // inside the busy minute
		20*sec + 50*time.Millisecond,
		22 * sec, // on the instant of a fix, which stays
	} {
		n, err := p.s.DeletePositionsBefore(p.ctx, p.t0.Add(cut))
		MustOK(t, err)
		gone := len(p.between(all, -time.Hour, cut)) + len(p.between(b, -time.Hour, cut))
		if int(n) != gone-deleted {
			t.Fatalf("DeletePositionsBefore(t0%+v) deleted %d, want %d", cut, n, gone-deleted)
		}
		deleted = gone
		kept := p.between(all, cut, time.Hour)
		samePositions(t, fmt.Sprintf("a after a cut at %v", cut), p.trackAt(t, p.a, -time.Hour, time.Hour, 0), kept)
		samePositions(t, fmt.Sprintf("a from the cut at %v, limit 3", cut), p.trackAt(t, p.a, cut-time.Minute, time.Hour, 3), kept[:3])
		samePositions(t, fmt.Sprintf("b after a cut at %v", cut), p.trackAt(t, p.b, -time.Hour, time.Hour, 0), p.between(byTime(b), cut, time.Hour))
	}
	latest, err := p.s.LatestPositions(p.ctx)
	MustOK(t, err)
	samePositions(t, "latest", latest, all[len(all)-1:])
	// More of the cut minute, written after the cut and before it, and cut again.
	MustOK(t, p.s.AppendPositions(p.ctx, []liftrescue.Position{p.fix(p.a, 21*sec), p.fix(p.a, 23500*time.Millisecond)}))
	n, err := p.s.DeletePositionsBefore(p.ctx, p.t0.Add(22*sec))
	MustOK(t, err)
	if n != 1 {
		t.Fatalf("DeletePositionsBefore deleted %d, want the one fix written before the cut", n)
	}
	n, err = p.s.DeletePositionsBefore(p.ctx, p.t0.Add(time.Hour))
	MustOK(t, err)
	if want := len(all) + len(b) - deleted + 1; int(n) != want {
		t.Fatalf("DeletePositionsBefore deleted %d, want the other %d", n, want)
	}
	latest, err = p.s.LatestPositions(p.ctx)
	MustOK(t, err)
	samePositions(t, "latest when all are gone", latest, nil)
}

// Vehicles deleted while writers append batches with several fixes of each vehicle: a batch that
// names a deleted vehicle writes nothing, and written again without that vehicle's fixes (as the
// ingest pipeline does) writes the rest. In the end every fix of a vehicle still there is kept,
// once, and nothing is left of the deleted ones.
func testPositionsDeleteVehicleWhileAppending(t *testing.T, f *fixture) {
	const vehicles, writers, batches, perVehicle = 12, 4, 10, 5
	ids := MustVehicles(t, f.s, vehicles)
	p := &positionsFixture{fixture: f, t0: time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)}
	start := make(chan struct{})
	written := make(chan struct{}, writers*batches) // a batch went in
	var wg sync.WaitGroup
	var mu sync.Mutex
	kept := map[int64]int{} // fixes written per vehicle
	for w := range writers {
		wg.Go(func() {
			<-start
			for i := range batches {
				var batch []liftrescue.Position
				for _, v := range ids {
					// Each writer its own instants: no two fixes the same, over a minute boundary.
					base := time.Duration((w*batches+i)*perVehicle)*500*time.Millisecond - 20*time.Second
					batch = append(batch, p.fixes(v, base, base+perVehicle*500*time.Millisecond, 500*time.Millisecond)...)
				}
				batch = shuffle(batch)
				for len(batch) > 0 {
					err := p.s.AppendPositions(p.ctx, batch)
					if err == nil {
						mu.Lock()
						for _, q := range batch {
							kept[q.VehicleID]++
						}
						mu.Unlock()
						written <- struct{}{}
						break
					}
					var e *liftrescue.Error
					if !errors.As(err, &e) || e.Code != liftrescue.EINVALID || len(e.Details) == 0 {
						t.Error(err)
						return
					}
					bad := map[int]bool{}
					for _, d := range e.Details {
						if d.Index == nil || d.Field != "vehicle_id" {
							t.Errorf("detail %+v, want one naming a position's vehicle", d)
							return
						}
						bad[*d.Index] = true
					}
					var rest []liftrescue.Position
					for j, q := range batch {
						if !bad[j] {
							rest = append(rest, q)
						}
					}
					batch = rest
				}
			}
		})
	}
	// Each delete once another batch went in, so that they fall among the batches, not before
	// them; a store that already wrote a vehicle's fixes must not take it for granted.
	deleted := map[int64]bool{}
	close(start)
	for _, v := range ids[:vehicles/2] {
		<-written
		MustOK(t, p.s.DeleteVehicle(p.ctx, v))
		deleted[v] = true
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	latest, err := p.s.LatestPositions(p.ctx)
	MustOK(t, err)
	for _, q := range latest {
		if deleted[q.VehicleID] {
			t.Errorf("latest position of deleted vehicle %d", q.VehicleID)
		}
	}
	if len(latest) != vehicles/2 {
		t.Errorf("%d latest positions, want one for each of the %d vehicles left", len(latest), vehicles/2)
	}
	for _, v := range ids {
		got, err := p.s.Track(p.ctx, v, p.t0.Add(-time.Hour), p.t0.Add(time.Hour), 0)
		if deleted[v] {
			MustCode(t, err, liftrescue.ENOTFOUND)
			continue
		}
		MustOK(t, err)
		if want := writers * batches * perVehicle; len(got) != want || kept[v] != want {
			t.Errorf("vehicle %d: %d positions kept, %d written, want %d", v, len(got), kept[v], want)
		}
		for i := 1; i < len(got); i++ {
			if !got[i].Time.After(got[i-1].Time) {
				t.Fatalf("vehicle %d: position %d at %v after one at %v", v, i, got[i].Time, got[i-1].Time)
			}
		}
	}
	n, err := p.s.DeletePositionsBefore(p.ctx, p.t0.Add(time.Hour))
	MustOK(t, err)
	if want := vehicles / 2 * writers * batches * perVehicle; int(n) != want {
		t.Errorf("retention deleted %d positions, want the %d of the vehicles left", n, want)
	}
}
