package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// fault is one report of a stop outside the door zone (a counting fault) on the elevator at the
// time, from no terminal, with no state and no incident.
func fault(elevator int64, at time.Time) *liftrescue.Fault {
	kind := liftrescue.AlarmStoppedOutsideDoorZone
	return &liftrescue.Fault{ElevatorID: elevator, Namespace: liftrescue.NamespaceGBT24476, Code: "4", Kind: kind, Priority: kind.Priority(),
		FirstAt: at, LastAt: at, Repeats: 1, Sender: "iot/gbt24476/370402", Counts: kind.IsFault()}
}

// faultTotal is the number of the elevator's faults.
func (f *fixture) faultTotal(tb testing.TB, elevator int64) int {
	tb.Helper()
	page, err := f.s.ListFaults(f.ctx, liftrescue.FaultFilter{ElevatorID: elevator})
	MustOK(tb, err)
	return page.Total
}

// faultsByID reads every fault of the elevators.
func (f *fixture) faultsByID(tb testing.TB, elevators ...int64) map[int64]*liftrescue.Fault {
	tb.Helper()
	out := map[int64]*liftrescue.Fault{}
	for _, e := range elevators {
		MustOK(tb, liftrescue.EachPage(f.ctx, func(p liftrescue.Paging) (*liftrescue.Page[*liftrescue.Fault], error) {
			return f.s.ListFaults(f.ctx, liftrescue.FaultFilter{ElevatorID: e, Paging: p})
		}, func(x *liftrescue.Fault) { out[x.ID] = x }))
	}
	return out
}

// Every field of a fault comes back as it was appended, its times in UTC to the microsecond; a
// state comes back with every field reported (false ones too), an empty state empty and none as
// none. The caller's faults get their IDs and the times as stored.
func testFaultsRoundTrip(t *testing.T, f *fixture) {
	es := f.elevators(t, 2)
	at := time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	full := &liftrescue.Fault{ElevatorID: es[0].ID, TerminalID: "SH-0001", Namespace: liftrescue.NamespaceShmashine, Code: "8",
		Kind: liftrescue.AlarmTrapped, Priority: 1,
		State: &liftrescue.RunningState{ServiceMode: new(liftrescue.ModeNormal), Running: new(false), Direction: new(liftrescue.DirectionDown),
			DoorZone: new(false), DoorsLocked: new(true), PassengerPresent: new(true), Floor: new("B2")},
		FirstAt: at, LastAt: at.Add(90 * time.Second), Repeats: 3, IncidentID: 42, Sender: "mqtt/shmashine/alarm", Counts: true}
	bare := &liftrescue.Fault{ElevatorID: es[1].ID, Namespace: liftrescue.NamespaceGBT24476, Code: "42", Kind: liftrescue.AlarmModeChange,
		Priority: 3, FirstAt: at.Add(time.Minute), LastAt: at.Add(time.Minute), Repeats: 1, Sender: "gbt24476"}
	empty := fault(es[0].ID, at.Add(2*time.Minute))
	empty.State, empty.Kind, empty.Priority = &liftrescue.RunningState{}, liftrescue.AlarmDoorOpenFault, 3
	batch := []*liftrescue.Fault{full, bare, empty}
	want := make([]liftrescue.Fault, len(batch))
	for i, x := range batch {
		want[i] = *x
		want[i].FirstAt, want[i].LastAt = us(x.FirstAt), us(x.LastAt)
	}

	MustOK(t, f.s.AppendFaults(f.ctx, batch))
	ids := map[int64]bool{}
	for i, x := range batch {
		if x.ID <= 0 || ids[x.ID] {
			t.Fatalf("fault %d got the id %d, want a new one each", i, x.ID)
		}
		ids[x.ID] = true
		want[i].ID = x.ID
		mustJSON(t, fmt.Sprintf("fault %d as appended", i), x, want[i])
	}
	stored := f.faultsByID(t, es[0].ID, es[1].ID)
	if len(stored) != len(batch) {
		t.Fatalf("%d faults stored, want %d", len(stored), len(batch))
	}
	for i := range want {
		mustJSON(t, fmt.Sprintf("fault %d read back", i), stored[want[i].ID], want[i])
	}
	if s := stored[bare.ID].State; s != nil {
		t.Errorf("no state came back as %+v", s)
	}
	if s := stored[empty.ID].State; s == nil || *s != (liftrescue.RunningState{}) {
		t.Errorf("an empty state came back as %+v", s)
	}

	MustOK(t, f.s.AppendFaults(f.ctx, nil))
	MustOK(t, f.s.AppendFaults(f.ctx, []*liftrescue.Fault{}))
	if n := f.faultTotal(t, es[0].ID); n != 2 {
		t.Errorf("elevator %d has %d faults after empty batches, want 2", es[0].ID, n)
	}
}

// A batch with a fault of no elevator, or with text neither database keeps, writes nothing and
// names each bad fault by its index.
func testFaultsAllOrNothing(t *testing.T, f *fixture) {
	es := f.elevators(t, 1)
	at := us(f.clock.T)
	unknown := es[0].ID + 1000
	batch := []*liftrescue.Fault{fault(es[0].ID, at), fault(unknown, at), fault(es[0].ID, at), fault(unknown+1, at)}
	err := f.s.AppendFaults(f.ctx, batch)
	MustCode(t, err, liftrescue.EINVALID)
	d := liftrescue.ErrorDetails(err)
	if len(d) != 2 || d[0].Index == nil || *d[0].Index != 1 || d[1].Index == nil || *d[1].Index != 3 ||
		d[0].Field != "elevator_id" || d[0].Value != strconv.FormatInt(unknown, 10) || d[1].Value != strconv.FormatInt(unknown+1, 10) {
		t.Fatalf("details = %+v, want elevator_id of faults 1 (%d) and 3 (%d)", d, unknown, unknown+1)
	}
	for i, x := range batch {
		if x.ID != 0 {
			t.Errorf("fault %d of a refused batch got the id %d", i, x.ID)
		}
	}
	if n := f.faultTotal(t, es[0].ID); n != 0 {
		t.Fatalf("a refused batch stored %d faults", n)
	}

	nul := fault(es[0].ID, at)
	nul.Sender = "iot/\x00"
	badFloor := fault(es[0].ID, at)
	badFloor.State = &liftrescue.RunningState{Floor: new("\xff")}
	err = f.s.AppendFaults(f.ctx, []*liftrescue.Fault{fault(es[0].ID, at), nul, badFloor})
	MustCode(t, err, liftrescue.EINVALID)
	d = liftrescue.ErrorDetails(err)
	if len(d) != 2 || d[0].Index == nil || *d[0].Index != 1 || d[0].Field != "sender" || d[1].Index == nil || *d[1].Index != 2 ||
		d[1].Field != "state.floor" {
		t.Fatalf("details = %+v, want sender of fault 1 and state.floor of fault 2", d)
	}
	if n := f.faultTotal(t, es[0].ID); n != 0 {
		t.Fatalf("a refused batch stored %d faults", n)
	}
}

// A batch of 1,000 faults, the most the intake writes at once, goes in whole.
func testFaultsBatch(t *testing.T, f *fixture) {
	es := f.elevators(t, 10)
	batch := FaultBatch(elevatorIDs(es), 1000, us(f.clock.T))
	MustOK(t, f.s.AppendFaults(f.ctx, batch))
	ids := map[int64]bool{}
	for _, x := range batch {
		ids[x.ID] = true
	}
	if len(ids) != len(batch) || ids[0] {
		t.Fatalf("%d distinct ids for %d faults", len(ids), len(batch))
	}
	total := 0
	for _, e := range es {
		total += f.faultTotal(t, e.ID)
	}
	if total != len(batch) {
		t.Fatalf("%d faults stored, want %d", total, len(batch))
	}
}

func elevatorIDs(es []*liftrescue.Elevator) []int64 {
	ids := make([]int64, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

// FaultBatch makes n counting faults of the elevators, each in turn, a second apart from at, every
// field filled.
func FaultBatch(elevators []int64, n int, at time.Time) []*liftrescue.Fault {
	fs := make([]*liftrescue.Fault, n)
	for i := range fs {
		fs[i] = fault(elevators[i%len(elevators)], at.Add(time.Duration(i)*time.Second))
		fs[i].TerminalID = fmt.Sprintf("SH-%04d", i%50)
		fs[i].State = &liftrescue.RunningState{ServiceMode: new(liftrescue.ModeNormal), Running: new(false), DoorZone: new(false),
			PassengerPresent: new(true), Floor: new(strconv.Itoa(i % 30))}
	}
	return fs
}

// AddFaultRepeats adds to the repeats and moves LastAt forward, never back; ids not stored are
// skipped.
func testFaultRepeats(t *testing.T, f *fixture) {
	es := f.elevators(t, 1)
	t0 := us(f.clock.T)
	a, b := fault(es[0].ID, t0), fault(es[0].ID, t0.Add(time.Minute))
	MustOK(t, f.s.AppendFaults(f.ctx, []*liftrescue.Fault{a, b}))
	cst := time.FixedZone("CST", 8*3600)
	MustOK(t, f.s.AddFaultRepeats(f.ctx, []liftrescue.FaultRepeat{
		{ID: a.ID, Repeats: 2, LastAt: t0.Add(10*time.Minute + 789).In(cst)},
		{ID: b.ID + 1000, Repeats: 5, LastAt: t0.Add(time.Hour)},
		{ID: b.ID, Repeats: 1, LastAt: t0.Add(-time.Hour)},
	}))
	check := func(x *liftrescue.Fault, repeats int, last time.Time) {
		t.Helper()
		got := f.faultsByID(t, es[0].ID)[x.ID]
		want := *x
		want.Repeats, want.LastAt = repeats, last
		mustJSON(t, fmt.Sprintf("fault %d", x.ID), got, want)
	}
	check(a, 3, t0.Add(10*time.Minute))
	check(b, 2, b.LastAt)
	if n := f.faultTotal(t, es[0].ID); n != 2 {
		t.Errorf("%d faults after repeats of an unknown one, want 2", n)
	}

	// Two repeats of one fault in one call: both count, the later time wins whatever the order.
	MustOK(t, f.s.AddFaultRepeats(f.ctx, []liftrescue.FaultRepeat{
		{ID: a.ID, Repeats: 1, LastAt: t0.Add(20 * time.Minute)},
		{ID: a.ID, Repeats: 1, LastAt: t0.Add(5 * time.Minute)},
	}))
	check(a, 5, t0.Add(20*time.Minute))
	MustOK(t, f.s.AddFaultRepeats(f.ctx, nil))
	check(a, 5, t0.Add(20*time.Minute))
}

// An elevator's faults are listed newest first (ties by id, newest first), page after page, the
// total counting those since Since on every page.
func testFaultList(t *testing.T, f *fixture) {
	es := f.elevators(t, 3)
	t0 := us(f.clock.T)
	// Appended out of time order, so that the order of ids is not the list's; three share a
	// first time, and the second elevator's faults come in between.
	var batch, mine []*liftrescue.Fault
	for _, m := range []int{30, 10, 50, 30, 20, 30, 40, 0} {
		x := fault(es[0].ID, t0.Add(time.Duration(m)*time.Minute))
		batch = append(batch, x, fault(es[1].ID, x.FirstAt.Add(time.Second)))
		mine = append(mine, x)
	}
	MustOK(t, f.s.AppendFaults(f.ctx, batch))
	want := slices.Clone(mine)
	slices.SortFunc(want, func(a, b *liftrescue.Fault) int {
		if c := b.FirstAt.Compare(a.FirstAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if !want[2].FirstAt.Equal(want[3].FirstAt) {
		t.Fatal("the test wants a tie of first times across the first page's end")
	}

	list := func(filter liftrescue.FaultFilter, total int) []*liftrescue.Fault {
		t.Helper()
		var got []*liftrescue.Fault
		for {
			page, err := f.s.ListFaults(f.ctx, filter)
			MustOK(t, err)
			if page.Total != total {
				t.Fatalf("%+v: total %d, want %d", filter, page.Total, total)
			}
			got = append(got, page.Items...)
			if page.NextCursor == "" {
				return got
			}
			if len(got) > len(batch) {
				t.Fatal("the pages do not end")
			}
			filter.Cursor = page.NextCursor
		}
	}
	for _, tt := range []struct {
		filter liftrescue.FaultFilter
		want   []*liftrescue.Fault
	}{
		{liftrescue.FaultFilter{ElevatorID: es[0].ID}, want},
		{liftrescue.FaultFilter{ElevatorID: es[0].ID, Paging: liftrescue.Paging{Limit: 3}}, want},
		{liftrescue.FaultFilter{ElevatorID: es[0].ID, Paging: liftrescue.Paging{Limit: 8}}, want},
		// Since is inclusive: the three at 30 minutes are in.
		{liftrescue.FaultFilter{ElevatorID: es[0].ID, Since: t0.Add(30 * time.Minute), Paging: liftrescue.Paging{Limit: 2}}, want[:5]},
		{liftrescue.FaultFilter{ElevatorID: es[0].ID, Since: t0.Add(time.Hour)}, nil},
		{liftrescue.FaultFilter{ElevatorID: es[2].ID}, nil},
	} {
		got := list(tt.filter, len(tt.want))
		mustJSON(t, fmt.Sprintf("%+v", tt.filter), got, tt.want)
	}
	page, err := f.s.ListFaults(f.ctx, liftrescue.FaultFilter{ElevatorID: es[2].ID})
	MustOK(t, err)
	if page.Items == nil || page.NextCursor != "" {
		t.Errorf("the list of an elevator without faults = %+v, want an empty page", page)
	}
	for _, p := range []liftrescue.Paging{{Cursor: "garbage!"}, {Limit: -1}, {Limit: liftrescue.MaxLimit + 1}} {
		_, err := f.s.ListFaults(f.ctx, liftrescue.FaultFilter{ElevatorID: es[0].ID, Paging: p})
		MustCode(t, err, liftrescue.EINVALID)
	}
}

// CountFaults counts the counting faults since the time, per elevator, keeps those with at least
// the number asked for, most first, then the latest first, then by elevator id.
func testFaultCounts(t *testing.T, f *fixture) {
	es := f.elevators(t, 6)
	since := us(f.clock.T)
	var batch []*liftrescue.Fault
	add := func(e *liftrescue.Elevator, counts bool, hours ...float64) {
		for _, h := range hours {
			x := fault(e.ID, since.Add(time.Duration(h*float64(time.Hour))))
			// The latest report is two hours after the first: LastAt of a count is the latest
			// first time, not this.
			x.LastAt, x.Counts = x.FirstAt.Add(2*time.Hour), counts
			if !counts {
				x.Kind, x.Priority = liftrescue.AlarmModeChange, 3
			}
			batch = append(batch, x)
		}
	}
	a, b, c, d, e, g := es[0], es[1], es[2], es[3], es[4], es[5]
	add(a, true, 1, 2, 3, 4)
	add(b, true, 0, 1, 3) // one exactly at since
	add(c, true, 1, 2, 5)
	add(d, true, 1, 2, 3)
	add(e, true, 1, 2)
	add(e, false, 1, 2, 3, 6)
	add(g, true, 1, 6)
	add(g, true, -1.0/3600/1e6, -1, -24) // a microsecond and more before since
	MustOK(t, f.s.AppendFaults(f.ctx, batch))
	// Repeats are reports, not faults: they change no count.
	MustOK(t, f.s.AddFaultRepeats(f.ctx, []liftrescue.FaultRepeat{{ID: batch[4].ID, Repeats: 10, LastAt: since.Add(9 * time.Hour)}}))

	at := func(h int) time.Time { return since.Add(time.Duration(h) * time.Hour) }
	// counted is what a count says of the elevator: its faults, the latest first time h hours after since.
	counted := func(e *liftrescue.Elevator, faults, h int) liftrescue.FaultCount {
		return liftrescue.FaultCount{ElevatorID: e.ID, Faults: faults, LastAt: at(h)}
	}
	for _, tt := range []struct {
		since   time.Time
		atLeast int
		want    []liftrescue.FaultCount
	}{
		{since, 3, []liftrescue.FaultCount{counted(a, 4, 4), counted(c, 3, 5), counted(b, 3, 3), counted(d, 3, 3)}},
		{since, 4, []liftrescue.FaultCount{counted(a, 4, 4)}},
		{since, 1, []liftrescue.FaultCount{counted(a, 4, 4), counted(c, 3, 5), counted(b, 3, 3), counted(d, 3, 3), counted(g, 2, 6),
			counted(e, 2, 2)}},
		{since, 5, []liftrescue.FaultCount{}},
		{at(3), 1, []liftrescue.FaultCount{counted(a, 2, 4), counted(g, 1, 6), counted(c, 1, 5), counted(b, 1, 3), counted(d, 1, 3)}},
	} {
		got, err := f.s.CountFaults(f.ctx, tt.since.In(time.FixedZone("CST", 8*3600)), tt.atLeast)
		MustOK(t, err)
		mustJSON(t, fmt.Sprintf("CountFaults(%s, %d)", tt.since.Sub(since), tt.atLeast), got, tt.want)
	}
}

// BenchmarkAppendFaults writes batches of 1,000 faults of 100 elevators, as the intake flushes
// them. It reports faults/s.
func BenchmarkAppendFaults(b *testing.B, s liftrescue.Store) {
	const n = 1000
	ctx := context.Background()
	f := &fixture{ctx: ctx, s: s, clock: &Clock{T: time.Date(2026, 11, 21, 2, 30, 0, 0, time.UTC)}}
	es := f.elevators(b, 100)
	at := f.clock.T
	for b.Loop() {
		batch := FaultBatch(elevatorIDs(es), n, at)
		if err := s.AppendFaults(ctx, batch); err != nil {
			b.Fatal(err)
		}
		at = at.Add(time.Hour)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "faults/s")
}
