package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// incidentElevators makes the city and n elevators for incidents to happen on.
func (f *fixture) incidentElevators(tb testing.TB, n int) []*liftrescue.Elevator {
	tb.Helper()
	user, maint := f.city(tb)
	es := make([]*liftrescue.Elevator, n)
	for i := range es {
		es[i] = f.elevator("7"+pad(i+1, 5), "311037040220170"+pad(i+1, 5), 117.55+float64(i)*0.001, 34.86, user, maint)
		MustOK(tb, f.s.CreateElevator(f.ctx, es[i]))
	}
	return es
}

// newIncident is an incident on e reported now, as the dispatch engine stores one: notified, its
// maintenance company told and accepted, a deadline met and one pending. Its times carry
// nanoseconds and a zone, which the store keeps in UTC to the microsecond.
func (f *fixture) newIncident(e *liftrescue.Elevator) *liftrescue.Incident {
	at := f.clock.T.In(time.FixedZone("CST", 8*3600))
	accepted := at.Add(90 * time.Second)
	distance := 1234.5
	return &liftrescue.Incident{
		ElevatorID: e.ID, District: e.District, Source: liftrescue.SourceCall, Trapped: 2, CallerPhone: "13800000001",
		Note: "两人被困 3 楼与 4 楼之间", State: liftrescue.IncidentAcknowledged, Tier: 1, ReportedAt: at, ArriveBy: at.Add(30 * time.Minute),
		Elevator: liftrescue.ElevatorSnapshot{RescueCode: e.RescueCode, EquipmentCode: e.EquipmentCode, Address: e.Address,
			Building: e.Building, Lat: e.Lat, Lon: e.Lon, UserUnitID: e.UserUnitID, MaintenanceUnitID: e.MaintenanceUnitID},
		Assignments: []liftrescue.Assignment{{ID: 1, Tier: 1, State: liftrescue.AssignmentAccepted, NotifiedAt: at, AcceptedAt: &accepted,
			Unit: liftrescue.Unit{Role: liftrescue.OrgMaintenance, OrganizationID: e.MaintenanceUnitID, OrganizationName: "迅达维保",
				Phones: []string{"0632-3311000", "13900000000"}, DistanceM: &distance},
			TokenHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", TokenExpires: at.Add(2 * time.Hour)}},
		Deadlines: []liftrescue.Deadline{
			{ID: 1, Kind: liftrescue.DeadlineAcknowledge, Tier: 1, Due: at.Add(5 * time.Minute), MetAt: &accepted},
			{ID: 2, Kind: liftrescue.DeadlineArrive, Tier: 1, AssignmentID: 1, Due: at.Add(30 * time.Minute)},
		},
	}
}

// event is an event of the kind by a dispatcher at the given time.
func event(kind string, state liftrescue.IncidentState, at time.Time) liftrescue.IncidentEvent {
	return liftrescue.IncidentEvent{At: at, Kind: kind, Actor: liftrescue.Actor{Kind: liftrescue.ActorDispatcher, Name: "zhang.san"},
		State: state, Tier: 1, AssignmentID: 1, Text: "事件 " + kind}
}

// notification is an SMS to the recipient, due at next (zero: when it is stored).
func notification(recipient string, next time.Time) liftrescue.Notification {
	return liftrescue.Notification{AssignmentID: 1, Channel: liftrescue.ChannelSMS, Recipient: recipient, Kind: "dispatch",
		Body: "【电梯救援】光明路128号 3号楼2单元 两人被困", NextAttemptAt: next}
}

// opened is the change that stores a new incident on e with an event and a notification.
func (f *fixture) opened(e *liftrescue.Elevator) *liftrescue.IncidentChange {
	return &liftrescue.IncidentChange{Incident: f.newIncident(e),
		Events:        []liftrescue.IncidentEvent{event("reported", liftrescue.IncidentNotified, f.clock.T)},
		Notifications: []liftrescue.Notification{notification("0632-3311000", time.Time{})}}
}

// events reads the whole chain.
func (f *fixture) events(tb testing.TB) []liftrescue.IncidentEvent {
	tb.Helper()
	return AllEvents(tb, f.s)
}

// AllEvents reads the whole chain of s.
func AllEvents(tb testing.TB, s liftrescue.Store) []liftrescue.IncidentEvent {
	tb.Helper()
	var out []liftrescue.IncidentEvent
	MustOK(tb, s.EachIncidentEvent(context.Background(), func(ev *liftrescue.IncidentEvent) error {
		out = append(out, *ev)
		return nil
	}))
	return out
}

// pending reads every notification that is pending, whenever it is due.
func (f *fixture) pending(tb testing.TB) []*liftrescue.Notification {
	tb.Helper()
	due, err := f.s.DueNotifications(f.ctx, f.clock.T.AddDate(10, 0, 0), liftrescue.MaxLimit, nil)
	MustOK(tb, err)
	return due
}

// MustChain checks that events are the whole chain: seq 1, 2, ... in order, each linked to the one
// before it by PrevHash, each Hash recomputed.
func MustChain(tb testing.TB, events []liftrescue.IncidentEvent) {
	tb.Helper()
	prev := ""
	for i := range events {
		ev := &events[i]
		if ev.Seq != int64(i+1) || ev.PrevHash != prev || ev.Hash != ev.ChainHash(prev) {
			tb.Fatalf("event %d of the chain: seq %d, prev %q, hash %q; want seq %d after %q, hash %q",
				i, ev.Seq, ev.PrevHash, ev.Hash, i+1, prev, ev.ChainHash(prev))
		}
		prev = ev.Hash
	}
}

// mustJSON fails unless got and want encode alike.
func mustJSON(tb testing.TB, what string, got, want any) {
	tb.Helper()
	g, err := json.Marshal(got)
	MustOK(tb, err)
	w, err := json.Marshal(want)
	MustOK(tb, err)
	if string(g) != string(w) {
		tb.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// mustSameIncident compares the incidents' own fields, token hashes included, and not their
// timelines or notifications.
func mustSameIncident(tb testing.TB, got, want *liftrescue.Incident) {
	tb.Helper()
	mustJSON(tb, "incident", got.Clone(), want.Clone())
	for i := range want.Assignments {
		if got.Assignments[i].TokenHash != want.Assignments[i].TokenHash {
			tb.Fatalf("assignment %d token hash %q, want %q", i+1, got.Assignments[i].TokenHash, want.Assignments[i].TokenHash)
		}
	}
}

// An incident comes back as it was stored, with its times in UTC to the microsecond, its timeline
// and its notifications; it stands when its elevator is deleted.
func testIncidentRoundTrip(t *testing.T, f *fixture) {
	e := f.incidentElevators(t, 1)[0]
	now := f.clock.T.Truncate(time.Microsecond)
	ch := f.opened(e)
	ch.Events = append(ch.Events, event("notified", liftrescue.IncidentNotified, f.clock.T.Add(time.Second)))
	inc := ch.Incident
	MustOK(t, f.s.CreateIncident(f.ctx, ch))
	if inc.ID == 0 || inc.Version != 1 || !inc.CreatedAt.Equal(now) || !inc.UpdatedAt.Equal(now) {
		t.Fatalf("created incident: id %d, version %d, created %v, updated %v; want an id, version 1 and %v", inc.ID, inc.Version, inc.CreatedAt, inc.UpdatedAt, now)
	}
	if inc.ReportedAt != now || inc.ReportedAt.Location() != time.UTC || *inc.Assignments[0].AcceptedAt != now.Add(90*time.Second) {
		t.Fatalf("created incident reported at %v, accepted at %v; want UTC to the microsecond", inc.ReportedAt, inc.Assignments[0].AcceptedAt)
	}
	got, err := f.s.FindIncident(f.ctx, inc.ID)
	MustOK(t, err)
	mustSameIncident(t, got, inc)
	if got.Elevator.RescueCode != e.RescueCode || got.Elevator.Lat != e.Lat || *got.Assignments[0].Unit.DistanceM != 1234.5 ||
		len(got.Assignments[0].Unit.Phones) != 2 || !got.Deadlines[1].Due.Equal(now.Add(30*time.Minute)) || got.Deadlines[1].MetAt != nil {
		t.Fatalf("FindIncident = %+v", got)
	}
	mustJSON(t, "timeline", got.Timeline, ch.Events)
	n := ch.Notifications[0]
	if n.ID == 0 || n.IncidentID != inc.ID || n.State != liftrescue.NotificationPending || !n.CreatedAt.Equal(now) || !n.NextAttemptAt.Equal(now) {
		t.Fatalf("stored notification %+v, want an id, the incident, pending, created and due now", n)
	}
	mustJSON(t, "notifications", got.Notifications, ch.Notifications)

	// No foreign key: the record stands when the elevator goes.
	MustOK(t, f.s.DeleteElevator(f.ctx, e.ID))
	again, err := f.s.FindIncident(f.ctx, inc.ID)
	MustOK(t, err)
	mustSameIncident(t, again, inc)
	_, err = f.s.FindIncident(f.ctx, inc.ID+100)
	MustCode(t, err, liftrescue.ENOTFOUND)

	// Bad changes are refused whole.
	stored := inc.ID
	for name, ch := range map[string]*liftrescue.IncidentChange{
		"no incident":  {},
		"an id":        {Incident: inc},
		"a bad state":  {Incident: &liftrescue.Incident{ElevatorID: 99, State: "stuck"}},
		"data no JSON": {Incident: &liftrescue.Incident{ElevatorID: 99, State: liftrescue.IncidentNotified}, Events: []liftrescue.IncidentEvent{{Data: json.RawMessage(`{"a":`)}}},
		"a NUL": {Incident: &liftrescue.Incident{ElevatorID: 99, State: liftrescue.IncidentNotified},
			Notifications: []liftrescue.Notification{{Channel: liftrescue.ChannelSMS, Body: "a\x00b"}}},
		"a bad notification state": {Incident: &liftrescue.Incident{ElevatorID: 99, State: liftrescue.IncidentNotified},
			Notifications: []liftrescue.Notification{{Channel: liftrescue.ChannelSMS, State: "sent"}}},
	} {
		if err := f.s.CreateIncident(f.ctx, ch); liftrescue.ErrorCode(err) != liftrescue.EINVALID {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if inc.ID != stored {
		t.Fatalf("a refused create changed the incident's id to %d", inc.ID)
	}
	page, err := f.s.ListIncidents(f.ctx, liftrescue.IncidentFilter{})
	MustOK(t, err)
	if page.Total != 1 || len(f.events(t)) != 2 || len(f.pending(t)) != 1 {
		t.Fatalf("refused creates wrote: %d incidents, %d events, %d notifications", page.Total, len(f.events(t)), len(f.pending(t)))
	}
}

// The events of all incidents form one hash chain, in the order they were stored; each keeps its
// data byte for byte.
func testIncidentChain(t *testing.T, f *fixture) {
	es := f.incidentElevators(t, 2)
	const data = `{"b":1, "a":[2]}`
	odd := f.clock.T.In(time.FixedZone("CST", 8*3600)).Add(time.Second + 999)
	a := f.opened(es[0])
	a.Events = append(a.Events, event("notified", liftrescue.IncidentNotified, odd))
	a.Events[1].Data = json.RawMessage(data)
	MustOK(t, f.s.CreateIncident(f.ctx, a))
	b := f.opened(es[1])
	MustOK(t, f.s.CreateIncident(f.ctx, b))
	a.Incident.State = liftrescue.IncidentEnRoute
	step := &liftrescue.IncidentChange{Incident: a.Incident, Events: []liftrescue.IncidentEvent{event("en_route", liftrescue.IncidentEnRoute, f.clock.T.Add(time.Minute))}}
	MustOK(t, f.s.UpdateIncident(f.ctx, step))

	written := append(append(append([]liftrescue.IncidentEvent{}, a.Events...), b.Events...), step.Events...)
	MustChain(t, written)
	for i, want := range []int64{a.Incident.ID, a.Incident.ID, b.Incident.ID, a.Incident.ID} {
		if written[i].IncidentID != want {
			t.Fatalf("event %d belongs to incident %d, want %d", i+1, written[i].IncidentID, want)
		}
	}
	if want := odd.UTC().Truncate(time.Microsecond); written[1].At != want {
		t.Fatalf("event at %v, want %v: UTC to the microsecond before hashing", written[1].At, want)
	}
	stored := f.events(t)
	mustJSON(t, "the chain read back", stored, written)
	MustChain(t, stored)
	if string(stored[1].Data) != data || stored[0].Data != nil {
		t.Fatalf("event data %q and %q, want %q byte for byte and none", stored[1].Data, stored[0].Data, data)
	}
	if seq, hash, err := f.s.ChainHead(f.ctx); err != nil || seq != 4 || hash != written[3].Hash {
		t.Fatalf("ChainHead = %d, %q, %v; want the last event's seq 4 and hash %q", seq, hash, err, written[3].Hash)
	}
	if r, err := liftrescue.VerifyChain(f.ctx, f.s); err != nil || r.Broken != nil || r.Events != 4 {
		t.Fatalf("VerifyChain = %+v, %v; want 4 events whole", r, err)
	}
	got, err := f.s.FindIncident(f.ctx, a.Incident.ID)
	MustOK(t, err)
	if len(got.Timeline) != 3 || got.Timeline[0].Seq != 1 || got.Timeline[1].Seq != 2 || got.Timeline[2].Seq != 4 {
		t.Fatalf("timeline of the first incident: %+v, want events 1, 2 and 4", got.Timeline)
	}

	// EachIncidentEvent stops at fn's error and returns it, and honours its context.
	stop, calls := errors.New("stop"), 0
	err = f.s.EachIncidentEvent(f.ctx, func(*liftrescue.IncidentEvent) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("EachIncidentEvent = %v after %d calls, want fn's error after one", err, calls)
	}
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	if err := f.s.EachIncidentEvent(ctx, func(*liftrescue.IncidentEvent) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("EachIncidentEvent with a cancelled context = %v", err)
	}
}

// One incident at a time is open on an elevator: a second is a conflict that names the first and
// writes nothing, until the first is closed.
func testIncidentOpenConflict(t *testing.T, f *fixture) {
	es := f.incidentElevators(t, 2)
	first := f.opened(es[0])
	MustOK(t, f.s.CreateIncident(f.ctx, first))
	events, pending := len(f.events(t)), len(f.pending(t))

	second := f.opened(es[0])
	err := f.s.CreateIncident(f.ctx, second)
	MustCode(t, err, liftrescue.ECONFLICT)
	if id := liftrescue.ErrorExtra(err)["incident_id"]; id != first.Incident.ID {
		t.Fatalf("extra incident_id = %v (%T), want %d", id, id, first.Incident.ID)
	}
	if msg, want := liftrescue.ErrorMessage(err), fmt.Sprintf("incident %d is already open on this elevator", first.Incident.ID); msg != want {
		t.Fatalf("message %q, want %q", msg, want)
	}
	if second.Incident.ID != 0 || second.Incident.Version != 0 || second.Events[0].Seq != 0 || second.Notifications[0].ID != 0 {
		t.Fatalf("a refused create set the caller's values: %+v", second)
	}
	if len(f.events(t)) != events || len(f.pending(t)) != pending {
		t.Fatal("a refused create appended events or queued notifications")
	}
	MustOK(t, f.s.CreateIncident(f.ctx, f.opened(es[1])))

	// Closed, the first leaves the elevator free.
	closed := f.clock.T
	first.Incident.State, first.Incident.ClosedAt = liftrescue.IncidentClosed, &closed
	MustOK(t, f.s.UpdateIncident(f.ctx, &liftrescue.IncidentChange{Incident: first.Incident}))
	MustOK(t, f.s.CreateIncident(f.ctx, second))
	if second.Incident.ID <= first.Incident.ID {
		t.Fatalf("second incident id %d, want one after %d", second.Incident.ID, first.Incident.ID)
	}
	got, err := f.s.FindIncident(f.ctx, first.Incident.ID)
	MustOK(t, err)
	if got.State != liftrescue.IncidentClosed || got.ClosedAt == nil || !got.ClosedAt.Equal(closed.Truncate(time.Microsecond)) {
		t.Fatalf("closed incident: state %s, closed at %v", got.State, got.ClosedAt)
	}

	// Opening the first again while the second is open is the same conflict.
	events = len(f.events(t))
	reopen := got.Clone()
	reopen.State, reopen.ClosedAt = liftrescue.IncidentNotified, nil
	err = f.s.UpdateIncident(f.ctx, &liftrescue.IncidentChange{Incident: reopen,
		Events: []liftrescue.IncidentEvent{event("reopened", liftrescue.IncidentNotified, f.clock.T)}})
	MustCode(t, err, liftrescue.ECONFLICT)
	if id := liftrescue.ErrorExtra(err)["incident_id"]; id != second.Incident.ID {
		t.Fatalf("extra incident_id = %v, want %d", id, second.Incident.ID)
	}
	if len(f.events(t)) != events || reopen.Version != got.Version {
		t.Fatal("a refused update appended events or set the caller's version")
	}
	// Cancelled frees the elevator too.
	second.Incident.State = liftrescue.IncidentCancelled
	second.Incident.CancelReason = liftrescue.CancelFalseAlarm
	MustOK(t, f.s.UpdateIncident(f.ctx, &liftrescue.IncidentChange{Incident: second.Incident}))
	MustOK(t, f.s.UpdateIncident(f.ctx, &liftrescue.IncidentChange{Incident: reopen}))
}

// An update names the version it read: a stale one is a conflict that writes nothing.
func testIncidentVersions(t *testing.T, f *fixture) {
	e := f.incidentElevators(t, 1)[0]
	ch := f.opened(e)
	MustOK(t, f.s.CreateIncident(f.ctx, ch))
	inc := ch.Incident
	created := inc.CreatedAt
	stale := inc.Clone()

	f.clock.T = f.clock.T.Add(time.Minute)
	inc.State = liftrescue.IncidentArrived
	step := &liftrescue.IncidentChange{Incident: inc, Events: []liftrescue.IncidentEvent{event("arrived", liftrescue.IncidentArrived, f.clock.T)},
		Notifications: []liftrescue.Notification{notification("13900000000", time.Time{})}}
	MustOK(t, f.s.UpdateIncident(f.ctx, step))
	if inc.Version != 2 || !inc.UpdatedAt.Equal(f.clock.T.Truncate(time.Microsecond)) || !inc.CreatedAt.Equal(created) {
		t.Fatalf("updated incident: version %d, created %v, updated %v", inc.Version, inc.CreatedAt, inc.UpdatedAt)
	}
	if step.Events[0].Seq != 2 || step.Notifications[0].ID == 0 || step.Notifications[0].IncidentID != inc.ID {
		t.Fatalf("update wrote event %+v and notification %+v", step.Events[0], step.Notifications[0])
	}
	events, pending := len(f.events(t)), len(f.pending(t))

	stale.Note = "stale"
	err := f.s.UpdateIncident(f.ctx, &liftrescue.IncidentChange{Incident: stale,
		Events:        []liftrescue.IncidentEvent{event("noted", liftrescue.IncidentAcknowledged, f.clock.T)},
		Notifications: []liftrescue.Notification{notification("13900000000", time.Time{})}})
	MustCode(t, err, liftrescue.ECONFLICT)
	if msg, want := liftrescue.ErrorMessage(err), fmt.Sprintf("incident %d was changed by someone else; read it again", inc.ID); msg != want {
		t.Fatalf("message %q, want %q", msg, want)
	}
	if stale.Version != 1 || len(f.events(t)) != events || len(f.pending(t)) != pending {
		t.Fatal("a stale update set the caller's version, appended events or queued notifications")
	}
	got, err := f.s.FindIncident(f.ctx, inc.ID)
	MustOK(t, err)
	if got.Version != 2 || got.Note == "stale" || got.State != liftrescue.IncidentArrived || len(got.Timeline) != 2 || len(got.Notifications) != 2 {
		t.Fatalf("after a stale update: %+v", got)
	}

	ghost := inc.Clone()
	ghost.ID += 1000
	MustCode(t, f.s.UpdateIncident(f.ctx, &liftrescue.IncidentChange{Incident: ghost}), liftrescue.ENOTFOUND)
	ghost.ID = 0
	MustCode(t, f.s.UpdateIncident(f.ctx, &liftrescue.IncidentChange{Incident: ghost}), liftrescue.EINVALID)
	MustCode(t, f.s.UpdateIncident(f.ctx, &liftrescue.IncidentChange{}), liftrescue.EINVALID)
}

// Lists come newest first, filtered and paged; OpenIncidents are those not over, oldest first.
func testIncidentList(t *testing.T, f *fixture) {
	es := f.incidentElevators(t, 6)
	var ids []int64
	for i, e := range es {
		ch := f.opened(e)
		if i%2 == 1 {
			ch.Incident.District = "370403"
		}
		MustOK(t, f.s.CreateIncident(f.ctx, ch))
		ids = append(ids, ch.Incident.ID)
		switch i {
		case 2:
			ch.Incident.State = liftrescue.IncidentClosed
		case 3:
			ch.Incident.State = liftrescue.IncidentCancelled
		case 4:
			ch.Incident.State = liftrescue.IncidentNotified
		default:
			continue
		}
		MustOK(t, f.s.UpdateIncident(f.ctx, &liftrescue.IncidentChange{Incident: ch.Incident}))
	}
	// list pages through the incidents f selects, two at a time, and gives their ids.
	list := func(filter liftrescue.IncidentFilter) []int64 {
		t.Helper()
		var got []int64
		for cursor := ""; ; {
			filter.Paging = liftrescue.Paging{Limit: 2, Cursor: cursor}
			p, err := f.s.ListIncidents(f.ctx, filter)
			MustOK(t, err)
			for _, inc := range p.Items {
				if inc.Timeline != nil || inc.Notifications != nil || inc.Version == 0 {
					t.Fatalf("listed incident %+v, want no timeline or notifications", inc)
				}
				got = append(got, inc.ID)
			}
			if cursor = p.NextCursor; cursor == "" {
				if p.Total != len(got) {
					t.Fatalf("%+v: total %d, paged through %d", filter, p.Total, len(got))
				}
				return got
			}
		}
	}
	for _, tt := range []struct {
		filter liftrescue.IncidentFilter
		want   []int64
	}{
		{liftrescue.IncidentFilter{}, []int64{ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{liftrescue.IncidentFilter{State: liftrescue.IncidentAcknowledged}, []int64{ids[5], ids[1], ids[0]}},
		{liftrescue.IncidentFilter{District: "370403"}, []int64{ids[5], ids[3], ids[1]}},
		{liftrescue.IncidentFilter{Open: true}, []int64{ids[5], ids[4], ids[1], ids[0]}},
		{liftrescue.IncidentFilter{Open: true, District: "370402"}, []int64{ids[4], ids[0]}},
		{liftrescue.IncidentFilter{ElevatorID: es[2].ID}, []int64{ids[2]}},
		{liftrescue.IncidentFilter{State: liftrescue.IncidentClosed, Open: true}, nil},
	} {
		if got := list(tt.filter); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%+v: %v, want %v", tt.filter, got, tt.want)
		}
	}
	first, err := f.s.ListIncidents(f.ctx, liftrescue.IncidentFilter{Paging: liftrescue.Paging{Limit: 4}})
	MustOK(t, err)
	if first.Total != 6 || len(first.Items) != 4 {
		t.Fatalf("first page of 4: total %d, %d items", first.Total, len(first.Items))
	}
	_, err = f.s.ListIncidents(f.ctx, liftrescue.IncidentFilter{State: "stuck"})
	MustCode(t, err, liftrescue.EINVALID)
	_, err = f.s.ListIncidents(f.ctx, liftrescue.IncidentFilter{Paging: liftrescue.Paging{Cursor: "garbage!"}})
	MustCode(t, err, liftrescue.EINVALID)

	open, err := f.s.OpenIncidents(f.ctx)
	MustOK(t, err)
	var got []int64
	for _, inc := range open {
		if inc.Timeline != nil || inc.ElevatorID == 0 {
			t.Fatalf("open incident %+v", inc)
		}
		got = append(got, inc.ID)
	}
	if want := []int64{ids[0], ids[1], ids[4], ids[5]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("OpenIncidents = %v, want %v", got, want)
	}
}

// The outbox gives the notifications due, oldest first, and counts each attempt.
func testIncidentNotifications(t *testing.T, f *fixture) {
	e := f.incidentElevators(t, 1)[0]
	t0 := f.clock.T.Truncate(time.Microsecond)
	ch := f.opened(e)
	ch.Notifications = []liftrescue.Notification{
		notification("n0", time.Time{}), notification("n1", t0.Add(time.Minute)), notification("n2", t0.Add(time.Minute)),
		notification("n3", t0.Add(10*time.Minute)),
	}
	MustOK(t, f.s.CreateIncident(f.ctx, ch))
	n := make([]int64, len(ch.Notifications))
	for i, x := range ch.Notifications {
		n[i] = x.ID
	}
	due := func(now time.Time, limit int, skip ...int64) []int64 {
		t.Helper()
		list, err := f.s.DueNotifications(f.ctx, now, limit, skip)
		MustOK(t, err)
		var ids []int64
		for _, x := range list {
			if x.State != liftrescue.NotificationPending || x.IncidentID != ch.Incident.ID || x.NextAttemptAt.After(now) {
				t.Fatalf("due at %v: %+v", now, x)
			}
			ids = append(ids, x.ID)
		}
		return ids
	}
	for _, tt := range []struct {
		now   time.Time
		limit int
		skip  []int64
		want  []int64
	}{
		{t0.Add(-time.Second), 10, nil, nil},
		{t0, 10, nil, []int64{n[0]}},
		{t0.Add(time.Minute), 10, nil, []int64{n[0], n[1], n[2]}},
		{t0.Add(time.Minute), 2, nil, []int64{n[0], n[1]}},
		{t0.Add(time.Minute), 0, []int64{n[1]}, []int64{n[0], n[2]}},
		{t0.Add(time.Hour), 10, []int64{n[0], n[1], n[2]}, []int64{n[3]}},
	} {
		if got := due(tt.now, tt.limit, tt.skip...); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("due at %v, limit %d, skipping %v: %v, want %v", tt.now.Sub(t0), tt.limit, tt.skip, got, tt.want)
		}
	}
	_, err := f.s.DueNotifications(f.ctx, t0, -1, nil)
	MustCode(t, err, liftrescue.EINVALID)
	mustNext := func(want time.Time, pending bool) {
		t.Helper()
		next, ok, err := f.s.NextNotificationDue(f.ctx)
		MustOK(t, err)
		if ok != pending || !next.Equal(want) {
			t.Fatalf("NextNotificationDue = %v, %v; want %v, %v", next, ok, want, pending)
		}
	}
	mustNext(t0, true)

	delivered := t0.Add(5 * time.Second)
	MustOK(t, f.s.RecordDelivery(f.ctx, n[0], liftrescue.DeliveryResult{State: liftrescue.NotificationDelivered, Receipt: "msg-0001", At: delivered}))
	MustOK(t, f.s.RecordDelivery(f.ctx, n[1], liftrescue.DeliveryResult{State: liftrescue.NotificationPending,
		NextAttemptAt: t0.Add(5 * time.Minute), Error: "gateway timeout", At: delivered}))
	MustOK(t, f.s.RecordDelivery(f.ctx, n[2], liftrescue.DeliveryResult{State: liftrescue.NotificationFailed, Error: "number unreachable", At: delivered}))
	mustNext(t0.Add(5*time.Minute), true)
	if got := due(t0.Add(time.Minute), 10); got != nil {
		t.Fatalf("due after the attempts: %v, want none", got)
	}
	if got := due(t0.Add(5*time.Minute), 10); fmt.Sprint(got) != fmt.Sprint([]int64{n[1]}) {
		t.Fatalf("due at the retry: %v, want %d", got, n[1])
	}
	MustOK(t, f.s.RecordDelivery(f.ctx, n[1], liftrescue.DeliveryResult{State: liftrescue.NotificationPending,
		NextAttemptAt: t0.Add(20 * time.Minute), Error: "gateway timeout again"}))

	got, err := f.s.FindIncident(f.ctx, ch.Incident.ID)
	MustOK(t, err)
	if len(got.Notifications) != 4 {
		t.Fatalf("%d notifications, want 4", len(got.Notifications))
	}
	for i, want := range []struct {
		state     liftrescue.NotificationState
		attempts  int
		next      time.Time
		lastError string
		receipt   string
		delivered bool
	}{
		{liftrescue.NotificationDelivered, 1, t0, "", "msg-0001", true},
		{liftrescue.NotificationPending, 2, t0.Add(20 * time.Minute), "gateway timeout again", "", false},
		{liftrescue.NotificationFailed, 1, t0.Add(time.Minute), "number unreachable", "", false},
		{liftrescue.NotificationPending, 0, t0.Add(10 * time.Minute), "", "", false},
	} {
		x := got.Notifications[i]
		if x.ID != n[i] || x.State != want.state || x.Attempts != want.attempts || !x.NextAttemptAt.Equal(want.next) ||
			x.LastError != want.lastError || x.Receipt != want.receipt || (x.DeliveredAt != nil) != want.delivered ||
			want.delivered && !x.DeliveredAt.Equal(delivered) || !x.CreatedAt.Equal(t0) || x.Recipient != fmt.Sprintf("n%d", i) {
			t.Errorf("notification %d: %+v, want %+v", i, x, want)
		}
	}

	MustCode(t, f.s.RecordDelivery(f.ctx, n[3]+100, liftrescue.DeliveryResult{State: liftrescue.NotificationDelivered}), liftrescue.ENOTFOUND)
	MustCode(t, f.s.RecordDelivery(f.ctx, n[3], liftrescue.DeliveryResult{State: "lost"}), liftrescue.EINVALID)
	MustCode(t, f.s.RecordDelivery(f.ctx, n[3], liftrescue.DeliveryResult{State: liftrescue.NotificationPending}), liftrescue.EINVALID)
	for _, id := range []int64{n[1], n[3]} {
		MustOK(t, f.s.RecordDelivery(f.ctx, id, liftrescue.DeliveryResult{State: liftrescue.NotificationDelivered}))
	}
	mustNext(time.Time{}, false)
}

// Writers at once: of the reports of one trapping, one opens the incident and the others are told
// which; appenders to the chain take their turns, and it stays whole.
func testIncidentConcurrentWrites(t *testing.T, f *fixture) {
	es := f.incidentElevators(t, 4)
	const reports = 8
	chs := make([]*liftrescue.IncidentChange, reports)
	for i := range chs {
		chs[i] = f.opened(es[0])
	}
	errs := make([]error, reports)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range chs {
		wg.Go(func() {
			<-start
			errs[i] = f.s.CreateIncident(f.ctx, chs[i])
		})
	}
	close(start)
	wg.Wait()
	var opened []int64
	for i, err := range errs {
		if err == nil {
			opened = append(opened, chs[i].Incident.ID)
		}
	}
	if len(opened) != 1 {
		t.Fatalf("incidents %v opened on one elevator, want one", opened)
	}
	winner := opened[0]
	for _, err := range errs {
		if err != nil && (liftrescue.ErrorCode(err) != liftrescue.ECONFLICT || liftrescue.ErrorExtra(err)["incident_id"] != winner) {
			t.Errorf("%v (extra %v), want a conflict naming incident %d", err, liftrescue.ErrorExtra(err), winner)
		}
	}

	const steps = 5
	for _, e := range es[1:] {
		wg.Go(func() {
			ch := f.opened(e)
			if err := f.s.CreateIncident(f.ctx, ch); err != nil {
				t.Error(err)
				return
			}
			for i := range steps {
				ch.Events = []liftrescue.IncidentEvent{event(fmt.Sprintf("step %d", i), liftrescue.IncidentAcknowledged, f.clock.T)}
				ch.Notifications = nil
				if err := f.s.UpdateIncident(f.ctx, ch); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	events := f.events(t)
	if want := 1 + len(es[1:])*(1+steps); len(events) != want {
		t.Fatalf("%d events, want %d", len(events), want)
	}
	MustChain(t, events)
}

// MustRefuseEventChanges stores an incident with two events, then runs each statement with exec,
// which reaches the store's database past the store, and checks that the database refuses it and
// the chain stands as it was: the timeline is append-only.
func MustRefuseEventChanges(t *testing.T, s liftrescue.Store, exec func(statement string) error, statements ...string) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 2, 30, 0, 0, time.UTC)
	ch := &liftrescue.IncidentChange{
		Incident: &liftrescue.Incident{ElevatorID: 1, District: "370402", State: liftrescue.IncidentNotified, Tier: 1, ReportedAt: now},
		Events: []liftrescue.IncidentEvent{event("reported", liftrescue.IncidentOpened, now),
			event("notified", liftrescue.IncidentNotified, now.Add(time.Second))},
	}
	MustOK(t, s.CreateIncident(ctx, ch))
	for _, statement := range statements {
		if err := exec(statement); err == nil {
			t.Errorf("%s: the database took it", statement)
		}
		stored := AllEvents(t, s)
		mustJSON(t, "the chain after "+statement, stored, ch.Events)
	}
}
