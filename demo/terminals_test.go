package demo_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/demo"
)

// Over ten minutes the demo's terminals each send a heartbeat a minute, spread evenly, except the
// few that go quiet after three; every report passes the intake's rules; faults come about every
// 20 s, most from the troubled few; a trapped passenger's alarm repeats every ten seconds for two
// minutes and then stops.
func TestDemoTerminals(t *testing.T) {
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = demo.TerminalID(int64(i + 1))
	}
	start := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	ts := demo.NewTerminals(demo.TerminalConfig{TrappedEvery: 4 * time.Minute, Seed: 7}, ids, start)
	heartbeats := map[string]int{}
	faultsOf := map[string]int{}
	trapped := map[string][]time.Time{}
	perSecond := 0
	for s := 1; s <= 600; s++ {
		now := start.Add(time.Duration(s) * time.Second)
		reports := ts.Step(now)
		perSecond = max(perSecond, len(reports))
		for _, a := range reports {
			if err := a.Normalize(now, time.Minute, time.Hour); err != nil {
				t.Fatalf("report %+v: %v", a, err)
			}
			switch {
			case a.Code == "":
				heartbeats[a.TerminalID]++
			case a.Kind == liftrescue.AlarmTrapped:
				if a.Priority != 1 {
					t.Fatalf("trapped alarm of priority %d", a.Priority)
				}
				trapped[a.TerminalID] = append(trapped[a.TerminalID], now)
			default:
				faultsOf[a.TerminalID]++
			}
		}
	}
	quiet := 0
	for _, id := range ids {
		switch n := heartbeats[id]; {
		case n == 3:
			quiet++
		case n < 9 || n > 11:
			t.Fatalf("%s sent %d heartbeats in ten minutes, want 10 (or 3 for a quiet one)", id, n)
		}
	}
	if quiet < 20 || quiet > 50 {
		t.Errorf("%d terminals went quiet, want about one in 30", quiet)
	}
	faults, troubled := 0, 0
	for id, n := range faultsOf {
		faults += n
		var i int
		fmt.Sscanf(id, "ZZT%08d", &i)
		if (i-1)%100 == 0 {
			troubled += n
		}
	}
	if faults < 15 || faults > 50 || troubled*2 < faults {
		t.Errorf("%d faults, %d of them from the troubled terminals; want about 30, most from those", faults, troubled)
	}
	if len(trapped) == 0 {
		t.Fatal("no trapped passenger in ten minutes at one every four")
	}
	for id, times := range trapped {
		if times[0].After(start.Add(8 * time.Minute)) {
			continue // still repeating when the test ends
		}
		span := times[len(times)-1].Sub(times[0])
		if len(times) < 10 || span > 2*time.Minute+10*time.Second {
			t.Errorf("%s: %d trapped reports over %s, want one every 10 s for two minutes", id, len(times), span)
		}
	}
	if perSecond > 40 {
		t.Errorf("up to %d reports in one second from 1,000 terminals, want them spread out", perSecond)
	}
}
