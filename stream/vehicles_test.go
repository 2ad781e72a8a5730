package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func fix(lon, lat float64, at time.Time) liftrescue.Fix {
	return liftrescue.Fix{DeviceID: "d", Lon: lon, Lat: lat, Time: at, SpeedKmh: 20, Heading: math.NaN(),
		AccuracyM: 5, AltitudeM: math.NaN(), Battery: math.NaN()}
}

// feedFixture is a feed on a fake clock with a fleet the test changes and a subscriber to see
// what it publishes.
type feedFixture struct {
	hub   *Hub
	ix    *geo.Index
	clock *clock
	feed  *VehicleFeed
	sub   subscription

	mu    sync.Mutex
	fleet []*liftrescue.Vehicle
}

func newFeedFixture(tb testing.TB, fleet ...*liftrescue.Vehicle) *feedFixture {
	tb.Helper()
	ix, err := geo.NewIndex(geo.IndexOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	f := &feedFixture{ix: ix, clock: &clock{t: t0}, fleet: fleet}
	f.hub = mustHub(tb, HubConfig{Now: f.clock.Now, Buffer: 100_000, SubscriberBuffer: 100_000})
	f.sub = mustSubscribe(tb, f.hub, "", filter{})
	f.feed, err = NewVehicleFeed(VehicleFeedConfig{Hub: f.hub, Index: ix, Fleet: f.Fleet, Now: f.clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func (f *feedFixture) Fleet() []*liftrescue.Vehicle {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fleet
}

func (f *feedFixture) setFleet(fleet ...*liftrescue.Vehicle) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fleet = fleet
}

// published is an event as a client reads it.
type published struct {
	kind string
	v    liftrescue.LiveVehicle // for vehicle
	id   int64                  // for vehicle_removed
}

func (p published) String() string {
	if p.kind == KindVehicleRemoved {
		return fmt.Sprintf("removed %d", p.id)
	}
	return fmt.Sprintf("%d %s", p.v.ID, p.v.Status)
}

// tick advances the clock, ticks and returns what was published.
func (f *feedFixture) tick(tb testing.TB, d time.Duration) []published {
	tb.Helper()
	if err := f.feed.Tick(f.clock.Add(d)); err != nil {
		tb.Fatal(err)
	}
	var out []published
	for _, ev := range queued(f.sub.subscriber) {
		kind, data, _ := strings.Cut(strings.TrimPrefix(string(ev.body), "event: "), "\ndata: ")
		p := published{kind: kind}
		var err error
		if kind == KindVehicleRemoved {
			var r removed
			err = json.Unmarshal([]byte(data), &r)
			p.id = r.ID
		} else {
			err = json.Unmarshal([]byte(data), &p.v)
		}
		if err != nil {
			tb.Fatalf("%s: %v", ev.body, err)
		}
		out = append(out, p)
	}
	return out
}

func expectPublished(tb testing.TB, got []published, want string) {
	tb.Helper()
	if s := fmt.Sprint(got); s != want {
		tb.Fatalf("published %s, want %s", s, want)
	}
}

func TestVehicleFeed(t *testing.T) {
	v1 := &liftrescue.Vehicle{ID: 1, TeamID: 10, OrganizationID: 100, Plate: "鲁D 1", DeviceID: "dev1", DeviceSecret: "s1", OnDuty: true}
	v2 := &liftrescue.Vehicle{ID: 2, TeamID: 10, OrganizationID: 100, Plate: "鲁D 2", DeviceID: "dev2", DeviceSecret: "s2"}
	v3 := &liftrescue.Vehicle{ID: 3, TeamID: 11, OrganizationID: 101, Plate: "鲁D 3"}
	f := newFeedFixture(t, v3, v1, v2) // out of order: the feed copes
	f.ix.MoveVehicle(1, fix(117.55, 34.86, t0.Add(-3*time.Second)))
	f.ix.MoveVehicle(2, fix(117.56, 34.87, t0.Add(-time.Second)))
	f.ix.MoveVehicle(9, fix(117.57, 34.88, t0)) // not in the fleet: never published

	got := f.tick(t, 0) // the first tick announces everyone
	expectPublished(t, got, "[1 live 2 live 3 no_fix]")
	p := got[0].v.Position
	if p == nil || p.Lat != 34.86 || p.Lon != 117.55 || !p.Time.Equal(t0.Add(-3*time.Second)) || p.AgeS != 3 ||
		p.SpeedKmh == nil || *p.SpeedKmh != 20 || p.Heading != nil || p.Cell != f.ix.CellOf(117.55, 34.86).String() || p.Cell == "" {
		t.Errorf("position %+v", p)
	}
	if v := got[0].v; v.Plate != "鲁D 1" || v.DeviceID != "dev1" || !v.OnDuty || v.TeamID != 10 || v.OrganizationID != 100 {
		t.Errorf("vehicle %+v", v)
	}
	if got[2].v.Position != nil {
		t.Errorf("vehicle 3 has a position: %+v", got[2].v.Position)
	}

	expectPublished(t, f.tick(t, time.Second), "[]") // unchanged, though older

	// A hundred fixes between two ticks are one event, of the latest.
	for i := range 100 {
		f.ix.MoveVehicle(1, fix(117.55+float64(i)*1e-4, 34.86, t0.Add(time.Duration(i)*10*time.Millisecond)))
	}
	got = f.tick(t, time.Second)
	expectPublished(t, got, "[1 live]")
	if p := got[0].v.Position; p.Lon != 117.55+99*1e-4 {
		t.Errorf("lon %v, want the latest fix's", p.Lon)
	}
	expectPublished(t, f.tick(t, time.Second), "[]")

	// Silence turns the trackers stale, then offline, with no fix to tell.
	expectPublished(t, f.tick(t, liftrescue.DefaultStaleAfter), "[1 stale 2 stale]")
	expectPublished(t, f.tick(t, time.Second), "[]")
	expectPublished(t, f.tick(t, liftrescue.DefaultOfflineAfter), "[1 offline 2 offline]")

	// Registry changes: vehicle 2 deleted, vehicle 3 renamed; the index losing vehicle 1.
	v3b := *v3
	v3b.Plate = "鲁D 33"
	f.setFleet(v1, &v3b)
	f.ix.RemoveVehicle(1)
	got = f.tick(t, time.Second)
	expectPublished(t, got, "[1 no_fix removed 2 3 no_fix]")
	if got[0].v.Position != nil || got[2].v.Plate != "鲁D 33" {
		t.Errorf("got %+v", got)
	}
	f.setFleet()
	expectPublished(t, f.tick(t, time.Second), "[removed 1 removed 3]")
	expectPublished(t, f.tick(t, time.Second), "[]")
}

func TestVehicleFeedRun(t *testing.T) {
	f := newFeedFixture(t, &liftrescue.Vehicle{ID: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.feed.Run(ctx) }()
	select { // the first tick comes at once
	case ev := <-f.sub.ch:
		if !strings.HasPrefix(string(ev.body), "event: vehicle\n") {
			t.Errorf("event %q", ev.body)
		}
	case <-time.After(failAfter):
		t.Fatal("no event")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}

	f.hub.Close()
	if err := f.feed.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Run on a closed hub: %v", err)
	}
}

func TestNewVehicleFeedRequires(t *testing.T) {
	h := mustHub(t, HubConfig{})
	ix, _ := geo.NewIndex(geo.IndexOptions{})
	fleet := func() []*liftrescue.Vehicle { return nil }
	for _, tc := range []struct {
		field string
		cfg   VehicleFeedConfig
	}{
		{"hub", VehicleFeedConfig{Index: ix, Fleet: fleet}},
		{"index", VehicleFeedConfig{Hub: h, Fleet: fleet}},
		{"fleet", VehicleFeedConfig{Hub: h, Index: ix}},
		{"interval", VehicleFeedConfig{Hub: h, Index: ix, Fleet: fleet, Interval: -1}},
		{"offline_after", VehicleFeedConfig{Hub: h, Index: ix, Fleet: fleet, Liveness: liftrescue.Liveness{StaleAfter: time.Hour, OfflineAfter: time.Minute}}},
	} {
		_, err := NewVehicleFeed(tc.cfg)
		if d := liftrescue.ErrorDetails(err); len(d) != 1 || d[0].Field != tc.field {
			t.Errorf("%s: %v", tc.field, err)
		}
	}
}
