package storetest

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// elevators stores the city (f.city) and n elevators in it, in ascending id order, the first in
// 370402, the second in 370403, and so on.
func (f *fixture) elevators(tb testing.TB, n int) []*liftrescue.Elevator {
	tb.Helper()
	user, maint := f.city(tb)
	es := make([]*liftrescue.Elevator, n)
	for i := range es {
		es[i] = f.elevator("7"+pad(i+1, 5), "311037040220170"+pad(i+1, 5), 117.55, 34.86, user, maint)
		if i%2 == 1 {
			es[i].District = "370403"
		}
		MustOK(tb, f.s.CreateElevator(f.ctx, es[i]))
	}
	return es
}

// terminal registers a terminal on the elevator.
func (f *fixture) terminal(tb testing.TB, id string, elevator int64) *liftrescue.Terminal {
	tb.Helper()
	t := &liftrescue.Terminal{ID: id, ElevatorID: elevator, Platform: "迅达物联", Model: "ESB-100"}
	created, err := f.s.PutTerminal(f.ctx, t)
	MustOK(tb, err)
	if !created {
		tb.Fatalf("PutTerminal(%s) replaced a terminal, want it created", id)
	}
	return t
}

func (f *fixture) findTerminal(tb testing.TB, id string) *liftrescue.Terminal {
	tb.Helper()
	t, err := f.s.FindTerminal(f.ctx, id)
	MustOK(tb, err)
	return t
}

// us is a time as the stores keep it: UTC, to the microsecond.
func us(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Registering, replacing (moving to another elevator) and deleting a terminal; what is refused
// writes nothing. A terminal is read with its elevator's equipment code and district, as they are
// now.
func testTerminals(t *testing.T, f *fixture) {
	es := f.elevators(t, 2)
	now := us(f.clock.T)
	bogus := now.Add(-48 * time.Hour)

	// A new terminal: the store sets the times, the elevator's code and district, and keeps no
	// LastSeen of the caller's.
	term := &liftrescue.Terminal{ID: "SH-0001", ElevatorID: es[0].ID, EquipmentCode: es[1].EquipmentCode, District: "370403",
		Platform: "  迅达物联 ", Model: "ESB-100", LastSeen: &bogus}
	created, err := f.s.PutTerminal(f.ctx, term)
	MustOK(t, err)
	if !created {
		t.Fatal("PutTerminal of a new id said it replaced one")
	}
	want := liftrescue.Terminal{ID: "SH-0001", ElevatorID: es[0].ID, EquipmentCode: es[0].EquipmentCode, District: "370402",
		Platform: "迅达物联", Model: "ESB-100", CreatedAt: now, UpdatedAt: now}
	mustJSON(t, "terminal registered", term, want)
	mustJSON(t, "terminal found", f.findTerminal(t, "SH-0001"), want)

	// Heard from, then replaced an hour later: moved to the second elevator, with the creation time
	// and the time last heard from kept, whatever the caller says of the latter.
	seen := now.Add(10 * time.Minute)
	MustOK(t, f.s.TouchTerminals(f.ctx, map[string]time.Time{"SH-0001": seen}))
	f.clock.T = f.clock.T.Add(time.Hour)
	moved := &liftrescue.Terminal{ID: "SH-0001", ElevatorID: es[1].ID, Model: "ESB-200", LastSeen: &bogus}
	created, err = f.s.PutTerminal(f.ctx, moved)
	MustOK(t, err)
	if created {
		t.Fatal("PutTerminal of a stored id said it created one")
	}
	want = liftrescue.Terminal{ID: "SH-0001", ElevatorID: es[1].ID, EquipmentCode: es[1].EquipmentCode, District: "370403", Model: "ESB-200",
		CreatedAt: now, UpdatedAt: us(f.clock.T), LastSeen: &seen}
	mustJSON(t, "terminal replaced", moved, want)
	mustJSON(t, "replaced terminal found", f.findTerminal(t, "SH-0001"), want)

	// Refused: nothing is written, and the detail names the field.
	for _, tt := range []struct {
		name  string
		t     liftrescue.Terminal
		field string
	}{
		{"empty id", liftrescue.Terminal{ElevatorID: es[0].ID}, "terminal_id"},
		{"space in the id", liftrescue.Terminal{ID: "SH 0002", ElevatorID: es[0].ID}, "terminal_id"},
		{"id too long", liftrescue.Terminal{ID: strings.Repeat("x", 65), ElevatorID: es[0].ID}, "terminal_id"},
		{"no elevator", liftrescue.Terminal{ID: "SH-0002"}, "elevator_id"},
		{"unknown elevator", liftrescue.Terminal{ID: "SH-0002", ElevatorID: es[1].ID + 1000}, "elevator_id"},
		{"moved to an unknown elevator", liftrescue.Terminal{ID: "SH-0001", ElevatorID: es[1].ID + 1000}, "elevator_id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			created, err := f.s.PutTerminal(f.ctx, &tt.t)
			MustCode(t, err, liftrescue.EINVALID)
			if created {
				t.Error("a refused PutTerminal said it created the terminal")
			}
			if d := liftrescue.ErrorDetails(err); len(d) == 0 || d[0].Field != tt.field {
				t.Fatalf("details = %+v, want field %s", d, tt.field)
			}
		})
	}
	_, err = f.s.PutTerminal(f.ctx, &liftrescue.Terminal{ID: "SH-0002", ElevatorID: es[1].ID + 1000})
	if d := liftrescue.ErrorDetails(err); len(d) != 1 || d[0].Value != strconv.FormatInt(es[1].ID+1000, 10) {
		t.Errorf("unknown elevator: details = %+v, want one naming elevator %d", d, es[1].ID+1000)
	}
	_, err = f.s.FindTerminal(f.ctx, "SH-0002")
	MustCode(t, err, liftrescue.ENOTFOUND)
	mustJSON(t, "terminal after refused writes", f.findTerminal(t, "SH-0001"), want)

	// Replaced again: still created when it was first registered.
	f.clock.T = f.clock.T.Add(time.Hour)
	back := &liftrescue.Terminal{ID: "SH-0001", ElevatorID: es[0].ID, Platform: "迅达物联"}
	created, err = f.s.PutTerminal(f.ctx, back)
	MustOK(t, err)
	want = liftrescue.Terminal{ID: "SH-0001", ElevatorID: es[0].ID, EquipmentCode: es[0].EquipmentCode, District: "370402",
		Platform: "迅达物联", CreatedAt: now, UpdatedAt: us(f.clock.T), LastSeen: &seen}
	if created {
		t.Fatal("PutTerminal of a stored id said it created one")
	}
	mustJSON(t, "terminal replaced again", back, want)
	mustJSON(t, "terminal replaced again, found", f.findTerminal(t, "SH-0001"), want)

	// The elevator's code and district are read as they are now.
	es[0].EquipmentCode, es[0].District = "31103704022017099999", "370403"
	MustOK(t, f.s.UpdateElevator(f.ctx, es[0]))
	want.EquipmentCode, want.District = es[0].EquipmentCode, es[0].District
	mustJSON(t, "terminal of a changed elevator", f.findTerminal(t, "SH-0001"), want)
	ts, _, err := f.s.ListTerminals(f.ctx, liftrescue.TerminalFilter{})
	MustOK(t, err)
	if len(ts) != 1 {
		t.Fatalf("ListTerminals = %+v, want SH-0001", ts)
	}
	mustJSON(t, "terminal listed", ts[0], want)

	MustOK(t, f.s.DeleteTerminal(f.ctx, "SH-0001"))
	MustCode(t, f.s.DeleteTerminal(f.ctx, "SH-0001"), liftrescue.ENOTFOUND)
	_, err = f.s.FindTerminal(f.ctx, "SH-0001")
	MustCode(t, err, liftrescue.ENOTFOUND)
	// Text that no terminal id can be finds nothing; it is no internal error.
	for _, bad := range []string{"SH\x00", "\xff\xfe", ""} {
		_, err = f.s.FindTerminal(f.ctx, bad)
		MustCode(t, err, liftrescue.ENOTFOUND)
		MustCode(t, f.s.DeleteTerminal(f.ctx, bad), liftrescue.ENOTFOUND)
	}
	// Registered again after the delete, it is new.
	again := f.terminal(t, "SH-0001", es[0].ID)
	if again.LastSeen != nil {
		t.Errorf("a terminal registered again kept LastSeen %v", again.LastSeen)
	}
}

// Instances that register the same new terminal at once all succeed, and exactly one creates it.
func testTerminalsConcurrentPut(t *testing.T, f *fixture) {
	es := f.elevators(t, 2)
	const writers = 8
	created := make(chan bool, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			c, err := f.s.PutTerminal(f.ctx, &liftrescue.Terminal{ID: "SH-0001", ElevatorID: es[i%2].ID, Model: strconv.Itoa(i)})
			if err != nil {
				t.Error(err)
			}
			created <- c
		})
	}
	wg.Wait()
	close(created)
	n := 0
	for c := range created {
		if c {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d of %d writers created the terminal, want 1", n, writers)
	}
	got := f.findTerminal(t, "SH-0001")
	if got.ElevatorID != es[0].ID && got.ElevatorID != es[1].ID {
		t.Errorf("terminal on elevator %d, want one of the writers'", got.ElevatorID)
	}
}

// Terminals are listed by id in byte order, page after page, all of them or one elevator's.
func testTerminalList(t *testing.T, f *fixture) {
	es := f.elevators(t, 2)
	// In byte order digits come before capitals, capitals before '_' and small letters; a
	// database's locale would put them otherwise.
	ids := []string{"t-0", "T-a1", "T-B2", "T-10", "T-A3", "T-_"}
	var second []string
	for i, id := range ids {
		e := es[i%2]
		f.terminal(t, id, e.ID)
		if e == es[1] {
			second = append(second, id)
		}
	}
	all := slices.Sorted(slices.Values(ids))
	slices.Sort(second)

	list := func(filter liftrescue.TerminalFilter) (got []string, pages int) {
		t.Helper()
		for {
			ts, more, err := f.s.ListTerminals(f.ctx, filter)
			MustOK(t, err)
			pages++
			for _, term := range ts {
				got = append(got, term.ID)
			}
			if !more {
				return got, pages
			}
			if len(ts) == 0 {
				t.Fatal("an empty page says more follow")
			}
			filter.After = ts[len(ts)-1].ID
		}
	}
	for _, tt := range []struct {
		filter liftrescue.TerminalFilter
		want   []string
		pages  int
	}{
		{liftrescue.TerminalFilter{}, all, 1},
		{liftrescue.TerminalFilter{Limit: 4}, all, 2},
		{liftrescue.TerminalFilter{Limit: 6}, all, 1}, // a full page and nothing after it
		{liftrescue.TerminalFilter{Limit: 5}, all, 2},
		{liftrescue.TerminalFilter{Limit: 1, ElevatorID: es[1].ID}, second, 3},
		{liftrescue.TerminalFilter{After: all[3]}, all[4:], 1},
		{liftrescue.TerminalFilter{After: all[5]}, nil, 1},
		{liftrescue.TerminalFilter{ElevatorID: es[1].ID + 1000}, nil, 1},
	} {
		got, pages := list(tt.filter)
		if !slices.Equal(got, tt.want) || pages != tt.pages {
			t.Errorf("%+v: listed %q in %d pages, want %q in %d", tt.filter, got, pages, tt.want, tt.pages)
		}
	}
	ts, more, err := f.s.ListTerminals(f.ctx, liftrescue.TerminalFilter{ElevatorID: es[0].ID, Limit: 1})
	MustOK(t, err)
	if len(ts) != 1 || !more || ts[0].ElevatorID != es[0].ID || ts[0].Platform != "迅达物联" || ts[0].CreatedAt.IsZero() {
		t.Errorf("first terminal of elevator %d: %+v, more %v", es[0].ID, ts, more)
	}
	for _, limit := range []int{-1, liftrescue.MaxLimit + 1} {
		_, _, err := f.s.ListTerminals(f.ctx, liftrescue.TerminalFilter{Limit: limit})
		MustCode(t, err, liftrescue.EINVALID)
	}
}

// TouchTerminals keeps the later of the stored and the given time, in UTC to the microsecond, and
// skips ids that are not registered.
func testTerminalsTouch(t *testing.T, f *fixture) {
	es := f.elevators(t, 1)
	a, b := f.terminal(t, "A-1", es[0].ID), f.terminal(t, "B-1", es[0].ID)
	heard := time.Date(2026, 11, 21, 10, 40, 0, 123456789, time.FixedZone("CST", 8*3600))
	mustSeen := func(id string, want time.Time) {
		t.Helper()
		got := f.findTerminal(t, id)
		mustJSON(t, id+" last seen", got.LastSeen, us(want))
		if !got.UpdatedAt.Equal(got.CreatedAt) {
			t.Errorf("%s: being heard from moved updated_at to %v", id, got.UpdatedAt)
		}
	}
	MustOK(t, f.s.TouchTerminals(f.ctx, map[string]time.Time{a.ID: heard, b.ID: heard.Add(time.Minute), "GHOST": heard}))
	mustSeen(a.ID, heard)
	mustSeen(b.ID, heard.Add(time.Minute))
	_, err := f.s.FindTerminal(f.ctx, "GHOST")
	MustCode(t, err, liftrescue.ENOTFOUND)

	// An earlier time leaves the later one; a later time moves it.
	MustOK(t, f.s.TouchTerminals(f.ctx, map[string]time.Time{a.ID: heard.Add(-time.Hour), b.ID: heard.Add(time.Hour)}))
	mustSeen(a.ID, heard)
	mustSeen(b.ID, heard.Add(time.Hour))

	MustOK(t, f.s.TouchTerminals(f.ctx, nil))
	MustOK(t, f.s.TouchTerminals(f.ctx, map[string]time.Time{"A-\x00": heard.Add(2 * time.Hour), "\xff": heard}))
	mustSeen(a.ID, heard)
}

// Deleting an elevator deletes its terminals and its faults, and no other elevator's; deleting a
// terminal leaves its faults.
func testTerminalsAndFaultsCascade(t *testing.T, f *fixture) {
	es := f.elevators(t, 2)
	f.terminal(t, "T-0", es[0].ID)
	f.terminal(t, "T-1", es[1].ID)
	at := us(f.clock.T)
	faults := []*liftrescue.Fault{fault(es[0].ID, at), fault(es[0].ID, at.Add(time.Minute)), fault(es[1].ID, at)}
	faults[2].TerminalID = "T-1"
	MustOK(t, f.s.AppendFaults(f.ctx, faults))

	MustOK(t, f.s.DeleteElevator(f.ctx, es[0].ID))
	_, err := f.s.FindTerminal(f.ctx, "T-0")
	MustCode(t, err, liftrescue.ENOTFOUND)
	ts, _, err := f.s.ListTerminals(f.ctx, liftrescue.TerminalFilter{})
	MustOK(t, err)
	if len(ts) != 1 || ts[0].ID != "T-1" {
		t.Fatalf("terminals after the elevator went: %+v, want only T-1", ts)
	}
	if n := f.faultTotal(t, es[0].ID); n != 0 {
		t.Errorf("%d faults of the deleted elevator are left", n)
	}
	if n := f.faultTotal(t, es[1].ID); n != 1 {
		t.Errorf("the other elevator has %d faults, want 1", n)
	}
	counts, err := f.s.CountFaults(f.ctx, time.Time{}, 1)
	MustOK(t, err)
	if len(counts) != 1 || counts[0].ElevatorID != es[1].ID {
		t.Errorf("CountFaults after the elevator went = %+v, want only elevator %d", counts, es[1].ID)
	}

	MustOK(t, f.s.DeleteTerminal(f.ctx, "T-1"))
	page, err := f.s.ListFaults(f.ctx, liftrescue.FaultFilter{ElevatorID: es[1].ID})
	MustOK(t, err)
	if page.Total != 1 || page.Items[0].TerminalID != "T-1" {
		t.Errorf("faults after the terminal went: %+v, want the one of T-1", page.Items)
	}
}
