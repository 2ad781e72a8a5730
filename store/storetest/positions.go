package storetest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// MustVehicles stores n vehicles of one volunteer team, in a district and an organisation of their
// own, and returns their ids in ascending order.
func MustVehicles(tb testing.TB, s liftrescue.Store, n int) []int64 {
	tb.Helper()
	ctx := context.Background()
	MustOK(tb, s.UpsertDistrict(ctx, &liftrescue.District{Code: "370405", Name: "台儿庄区"}))
	vol := &liftrescue.Organization{Code: "V-FLEET", Kind: liftrescue.OrgVolunteer, Name: "救援车队", District: "370405"}
	MustOK(tb, s.CreateOrganization(ctx, vol))
	team := &liftrescue.Team{OrganizationID: vol.ID, Name: "车队", DutyPhone: "13900000000", CertifiedStaff: 2, OnDuty: true}
	MustOK(tb, s.CreateTeam(ctx, team))
	ids := make([]int64, n)
	for i := range ids {
		v := &liftrescue.Vehicle{TeamID: team.ID, Plate: fmt.Sprintf("鲁D%05d", i), DeviceID: fmt.Sprintf("0139%08d", i), OnDuty: true}
		MustOK(tb, s.CreateVehicle(ctx, v))
		ids[i] = v.ID
	}
	return ids
}

// PositionBatch makes n positions taken at the time at, received a second later, every measure
// given, as a busy ingest pipeline hands them on: from each of the vehicles in turn, in an order
// that is not the order of their ids, as fixes arrive.
func PositionBatch(vehicles []int64, n int, at time.Time) []liftrescue.Position {
	ps := make([]liftrescue.Position, n)
	for i := range ps {
		ps[i] = liftrescue.Position{
			VehicleID: vehicles[i*7919%len(vehicles)], // 7919 is prime: every vehicle in turn, shuffled
			Fix: liftrescue.Fix{
				Time: at, Lat: 34.80 + float64(i%1000)*0.0001, Lon: 117.50 + float64(i%997)*0.0001,
				SpeedKmh: float64(i % 80), Heading: float64(i % 360), AccuracyM: 5, AltitudeM: 60, Battery: 0.8, Flags: 0x3,
			},
			ReceivedAt: at.Add(time.Second),
		}
	}
	return ps
}

// positionsFixture is a store with three vehicles, of which c never reports.
type positionsFixture struct {
	*fixture
	a, b, c int64
	t0      time.Time
}

func (f *fixture) positions(tb testing.TB) *positionsFixture {
	tb.Helper()
	ids := MustVehicles(tb, f.s, 3)
	return &positionsFixture{fixture: f, a: ids[0], b: ids[1], c: ids[2], t0: time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)}
}

// at is the position of vehicle v at t0 plus minutes, with a position that tells it apart.
func (f *positionsFixture) at(v int64, minutes int) liftrescue.Position {
	t := f.t0.Add(time.Duration(minutes) * time.Minute)
	return liftrescue.Position{
		VehicleID: v,
		Fix: liftrescue.Fix{Time: t, Lat: 34.8 + float64(minutes)*0.001, Lon: 117.5 + float64(v%100)*0.001,
			SpeedKmh: 36.5, Heading: 90, AccuracyM: 4.5, AltitudeM: 61.25, Battery: 0.75, Flags: 2},
		ReceivedAt: t.Add(1500 * time.Millisecond),
	}
}

func (f *positionsFixture) track(tb testing.TB, v int64, from, to, limit int) []liftrescue.Position {
	tb.Helper()
	got, err := f.s.Track(f.ctx, v, f.t0.Add(time.Duration(from)*time.Minute), f.t0.Add(time.Duration(to)*time.Minute), limit)
	MustOK(tb, err)
	if got == nil {
		tb.Fatalf("Track(%d) = nil, want a slice even when empty", v)
	}
	return got
}

// samePositions fails unless got and want hold the same positions in the same order: NaN matches
// NaN, and times must be equal and in UTC.
func samePositions(tb testing.TB, what string, got, want []liftrescue.Position) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%s: %d positions, want %d:\n got %v\nwant %v", what, len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		floats := func(p liftrescue.Position) []float64 {
			return []float64{p.Lat, p.Lon, p.SpeedKmh, p.Heading, p.AccuracyM, p.AltitudeM, p.Battery}
		}
		same := g.VehicleID == w.VehicleID && g.Time.Equal(w.Time) && g.ReceivedAt.Equal(w.ReceivedAt) &&
			g.Time.Location() == time.UTC && g.ReceivedAt.Location() == time.UTC &&
			g.Alarm == w.Alarm && g.Flags == w.Flags && g.DeviceID == ""
		same = same && slices.EqualFunc(floats(g), floats(w), func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) })
		if !same {
			tb.Fatalf("%s: position %d is\n %+v\nwant\n %+v", what, i, g, w)
		}
	}
}

// Append, then read back: from inclusive, to exclusive, oldest first, at most limit, whatever
// order the batches came in.
func testPositionsTrack(t *testing.T, f *fixture) {
	p := f.positions(t)
	MustOK(t, p.s.AppendPositions(p.ctx, nil))
	MustOK(t, p.s.AppendPositions(p.ctx, []liftrescue.Position{}))
	var a []liftrescue.Position
	for m := range 10 {
		a = append(a, p.at(p.a, m))
	}
	// Out of order, interleaved with another vehicle, over three batches.
	MustOK(t, p.s.AppendPositions(p.ctx, []liftrescue.Position{a[5], p.at(p.b, 5), a[9], a[0]}))
	MustOK(t, p.s.AppendPositions(p.ctx, []liftrescue.Position{a[3], a[1], p.at(p.b, 1), a[2]}))
	MustOK(t, p.s.AppendPositions(p.ctx, []liftrescue.Position{a[8], a[4], a[7], a[6]}))

	samePositions(t, "whole track", p.track(t, p.a, 0, 10, 0), a)
	samePositions(t, "from 2 to 7", p.track(t, p.a, 2, 7, 0), a[2:7])
	samePositions(t, "from 2 to 7, limit 3", p.track(t, p.a, 2, 7, 3), a[2:5])
	samePositions(t, "limit MaxTrackPoints", p.track(t, p.a, -60, 60, liftrescue.MaxTrackPoints), a)
	samePositions(t, "from = to", p.track(t, p.a, 4, 4, 0), nil)
	samePositions(t, "before the first", p.track(t, p.a, -10, 0, 0), nil)
	samePositions(t, "the other vehicle", p.track(t, p.b, 0, 10, 0), []liftrescue.Position{p.at(p.b, 1), p.at(p.b, 5)})
	samePositions(t, "a vehicle with no position", p.track(t, p.c, 0, 10, 0), nil)

	// A batch larger than any one statement of a store.
	big := make([]liftrescue.Position, 2550)
	for i := range big {
		big[i] = p.at(p.c, 0)
		big[i].Time = p.t0.Add(time.Duration(len(big)-i) * time.Second)
	}
	MustOK(t, p.s.AppendPositions(p.ctx, big))
	got := p.track(t, p.c, 0, 60, 0)
	slices.Reverse(big)
	samePositions(t, "a batch of 2550", got, big)
}

// Bad ranges and limits are EINVALID; a vehicle that does not exist is ENOTFOUND.
func testPositionsTrackErrors(t *testing.T, f *fixture) {
	p := f.positions(t)
	MustOK(t, p.s.AppendPositions(p.ctx, []liftrescue.Position{p.at(p.a, 1)}))
	for _, tt := range []struct {
		from, to, limit int
		field           string
	}{
		{5, 4, 0, "to"},
		{0, 10, -1, "limit"},
		{0, 10, liftrescue.MaxTrackPoints + 1, "limit"},
	} {
		_, err := p.s.Track(p.ctx, p.a, p.t0.Add(time.Duration(tt.from)*time.Minute), p.t0.Add(time.Duration(tt.to)*time.Minute), tt.limit)
		MustCode(t, err, liftrescue.EINVALID)
		if d := liftrescue.ErrorDetails(err); len(d) != 1 || d[0].Field != tt.field {
			t.Errorf("Track(from %d, to %d, limit %d): details %+v, want one on %s", tt.from, tt.to, tt.limit, d, tt.field)
		}
	}
	_, err := p.s.Track(p.ctx, 424242, p.t0, p.t0.Add(time.Hour), 0)
	MustCode(t, err, liftrescue.ENOTFOUND)
}

// An unknown measure (NaN) comes back as NaN, a zero as zero; times come back in UTC to the
// microsecond; every bit of the flags survives.
func testPositionsRoundTrip(t *testing.T, f *fixture) {
	p := f.positions(t)
	cst := time.FixedZone("CST", 8*3600)
	unknown := liftrescue.Position{VehicleID: p.a, Fix: liftrescue.Fix{
		Time: time.Date(2026, 11, 21, 10, 0, 0, 123456789, cst), Lat: -33.8688, Lon: 151.2093,
		SpeedKmh: liftrescue.Unknown, Heading: liftrescue.Unknown, AccuracyM: liftrescue.Unknown, AltitudeM: liftrescue.Unknown,
		Battery: liftrescue.Unknown,
	}, ReceivedAt: time.Date(2026, 11, 21, 10, 0, 1, 999999999, cst)}
	zeros := liftrescue.Position{VehicleID: p.a, Fix: liftrescue.Fix{
		Time: p.t0.Add(time.Hour), Lat: 0, Lon: 117.5, SpeedKmh: 0, Heading: 0, AccuracyM: 0, AltitudeM: -12.5, Battery: 0,
		Alarm: "sos", Flags: 1<<63 | 1<<31 | 5,
	}, ReceivedAt: p.t0.Add(time.Hour)}
	MustOK(t, p.s.AppendPositions(p.ctx, []liftrescue.Position{zeros, unknown}))

	want := []liftrescue.Position{unknown, zeros}
	want[0].Time = time.Date(2026, 11, 21, 2, 0, 0, 123456000, time.UTC)
	want[0].ReceivedAt = time.Date(2026, 11, 21, 2, 0, 1, 999999000, time.UTC)
	samePositions(t, "track", p.track(t, p.a, 0, 120, 0), want)
	latest, err := p.s.LatestPositions(p.ctx)
	MustOK(t, err)
	samePositions(t, "latest", latest, want[1:])
	// The bounds of a track are kept to the microsecond too.
	got, err := p.s.Track(p.ctx, p.a, want[0].Time.Add(999*time.Nanosecond), want[0].Time.Add(time.Microsecond), 0)
	MustOK(t, err)
	samePositions(t, "track within the microsecond of a fix", got, want[:1])
}

// A batch with positions that name no vehicle, or that are not real places, writes nothing and
// names each bad position by its index.
func testPositionsBadBatch(t *testing.T, f *fixture) {
	p := f.positions(t)
	batch := make([]liftrescue.Position, 300)
	for i := range batch {
		batch[i] = p.at(p.a, i)
	}
	batch[1].VehicleID, batch[290].VehicleID = 424242, 424243
	err := p.s.AppendPositions(p.ctx, batch)
	MustCode(t, err, liftrescue.EINVALID)
	d := liftrescue.ErrorDetails(err)
	if len(d) != 2 || d[0].Index == nil || *d[0].Index != 1 || d[1].Index == nil || *d[1].Index != 290 ||
		d[0].Field != "vehicle_id" || d[0].Value != "424242" || d[1].Value != "424243" {
		t.Fatalf("details = %+v, want positions 1 and 290 named by index, field and value", d)
	}
	samePositions(t, "after a batch with unknown vehicles", p.track(t, p.a, 0, 1000, 0), nil)

	batch[1].VehicleID, batch[290].VehicleID = p.a, p.a
	batch[7].Lat = math.NaN()
	batch[8].Alarm = "s\x00s"
	err = p.s.AppendPositions(p.ctx, batch)
	MustCode(t, err, liftrescue.EINVALID)
	d = liftrescue.ErrorDetails(err)
	if len(d) != 2 || d[0].Index == nil || *d[0].Index != 7 || d[1].Index == nil || *d[1].Index != 8 {
		t.Fatalf("details = %+v, want positions 7 and 8", d)
	}
	samePositions(t, "after a batch with bad positions", p.track(t, p.a, 0, 1000, 0), nil)

	latest, err := p.s.LatestPositions(p.ctx)
	MustOK(t, err)
	if latest == nil || len(latest) != 0 {
		t.Fatalf("LatestPositions = %v, want an empty slice", latest)
	}
}

// The latest position of a vehicle is its newest by device time, not the last one written; a
// vehicle without positions has none; a deleted vehicle's history goes with it.
func testPositionsLatest(t *testing.T, f *fixture) {
	p := f.positions(t)
	MustOK(t, p.s.AppendPositions(p.ctx, []liftrescue.Position{p.at(p.a, 5), p.at(p.b, 1)}))
	MustOK(t, p.s.AppendPositions(p.ctx, []liftrescue.Position{p.at(p.a, 3), p.at(p.b, 2), p.at(p.a, 4)}))
	MustOK(t, p.s.AppendPositions(p.ctx, []liftrescue.Position{p.at(p.b, 0)}))
	latest, err := p.s.LatestPositions(p.ctx)
	MustOK(t, err)
	samePositions(t, "latest", latest, []liftrescue.Position{p.at(p.a, 5), p.at(p.b, 2)})

	MustOK(t, p.s.DeleteVehicle(p.ctx, p.a))
	latest, err = p.s.LatestPositions(p.ctx)
	MustOK(t, err)
	samePositions(t, "latest after deleting a vehicle", latest, []liftrescue.Position{p.at(p.b, 2)})
	_, err = p.s.Track(p.ctx, p.a, p.t0, p.t0.Add(time.Hour), 0)
	MustCode(t, err, liftrescue.ENOTFOUND)
	// A store that has written a vehicle's positions before must not take it for granted since.
	MustCode(t, p.s.AppendPositions(p.ctx, []liftrescue.Position{p.at(p.b, 9), p.at(p.a, 9)}), liftrescue.EINVALID)
	latest, err = p.s.LatestPositions(p.ctx)
	MustOK(t, err)
	samePositions(t, "latest after a batch naming the deleted vehicle", latest, []liftrescue.Position{p.at(p.b, 2)})
}

// Retention deletes by device time, strictly before the cut, and counts what went.
func testPositionsRetention(t *testing.T, f *fixture) {
	p := f.positions(t)
	var batch []liftrescue.Position
	for m := range 10 {
		batch = append(batch, p.at(p.a, m))
		if m < 5 {
			batch = append(batch, p.at(p.b, m))
		}
	}
	// Received long after it was taken: retention goes by when the fix was taken.
	late := p.at(p.b, 1)
	late.Time, late.ReceivedAt = p.t0.Add(-time.Hour), p.t0.Add(time.Hour)
	MustOK(t, p.s.AppendPositions(p.ctx, append(batch, late)))

	n, err := p.s.DeletePositionsBefore(p.ctx, p.t0.Add(3*time.Minute))
	MustOK(t, err)
	if n != 7 {
		t.Fatalf("DeletePositionsBefore deleted %d positions, want 7", n)
	}
	samePositions(t, "a after retention", p.track(t, p.a, -120, 120, 0), []liftrescue.Position{
		p.at(p.a, 3), p.at(p.a, 4), p.at(p.a, 5), p.at(p.a, 6), p.at(p.a, 7), p.at(p.a, 8), p.at(p.a, 9)})
	samePositions(t, "b after retention", p.track(t, p.b, -120, 120, 0), []liftrescue.Position{p.at(p.b, 3), p.at(p.b, 4)})
	n, err = p.s.DeletePositionsBefore(p.ctx, p.t0.Add(3*time.Minute))
	MustOK(t, err)
	if n != 0 {
		t.Fatalf("DeletePositionsBefore again deleted %d positions, want 0", n)
	}
	n, err = p.s.DeletePositionsBefore(p.ctx, p.t0.Add(time.Hour))
	MustOK(t, err)
	if n != 9 {
		t.Fatalf("DeletePositionsBefore deleted %d positions, want the other 9", n)
	}
}

// BenchmarkAppendPositions writes batches of 1,000 fixes, one from each of 1,000 vehicles, as the
// ingest pipeline flushes them, from writers goroutines at once, into a history that grows as it
// runs. It reports fixes/s.
func BenchmarkAppendPositions(b *testing.B, s liftrescue.Store, writers int) {
	BenchmarkAppendPositionsOf(b, s, writers, 1000, 1000)
}

// BenchmarkAppendPositionsOf writes batches of size fixes from vehicles vehicles, size/vehicles
// fixes of each, from writers goroutines at once, into a history that grows as it runs. A vehicle
// reports every 20 ms (50 fixes a second, as in the end-to-end benchmark), so that a batch holds
// the last size/vehicles × 20 ms of the fleet, shuffled as PositionBatch shuffles it; writer w's
// batches lie w/writers of a batch later than writer 0's. It reports fixes/s.
func BenchmarkAppendPositionsOf(b *testing.B, s liftrescue.Store, writers, size, vehicles int) {
	const every = 20 * time.Millisecond
	ctx := context.Background()
	ids := MustVehicles(b, s, vehicles)
	perVehicle := size / vehicles
	span := time.Duration(perVehicle) * every
	if span < time.Second {
		span = time.Second // as the batches of 1,000 vehicles always were: a second apart
	}
	batches := make([][]liftrescue.Position, writers)
	for w := range batches {
		at := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC).Add(time.Duration(w) * span / time.Duration(writers))
		batches[w] = PositionBatch(ids, size, at)
		// PositionBatch names every vehicle once in each stretch of len(vehicles) positions.
		for i := range batches[w] {
			batches[w][i].Time = batches[w][i].Time.Add(time.Duration(i/vehicles) * every)
		}
	}
	for b.Loop() {
		var wg sync.WaitGroup
		for _, batch := range batches {
			wg.Go(func() {
				for i := range batch {
					batch[i].Time = batch[i].Time.Add(span)
				}
				if err := s.AppendPositions(ctx, batch); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(size*writers)*float64(b.N)/b.Elapsed().Seconds(), "fixes/s")
}
