package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/liftrescue/liftrescue"
)

// The two JSON routes that change incidents take arbitrary bytes: whatever comes, the answer is
// never a 500, an error is an error body with a code, and a refused request writes nothing. Each
// target runs one server for all its inputs.

func FuzzOpenIncidentBody(f *testing.F) {
	for _, seed := range []string{
		`{"elevator":"123456","trapped":2,"caller_phone":"13912345678"}`,
		`{"elevator":"31103704002018000001","source":"iot"}`,
		`{"elevator_id":1,"source":"manual","note":"地图点选"}`,
		`{"elevator":"123456","life_in_danger":true}`,
		`{"elevator":"123457","district":"370402"}`,
		`{"elevator":"123456","caller_phone":"abc","trapped":-1,"source":"x"}`,
		`{"elevator_id":-5}`, `{"elevator":"123456","note":"\u0000"}`, `{"elevator":1}`,
		`{`, ``, `null`, `[]`, `{}{}`, "{\"elevator\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	w := newRescueWorld(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		before := w.ledger(t)
		rec := w.do("POST", "/api/v1/incidents", string(body))
		if inc := checkFuzzAnswer(t, w, rec, before); inc != nil {
			// The next input finds the elevator free again.
			w.cancel(t, inc.ID)
		}
	})
}

func FuzzActionBody(f *testing.F) {
	for _, seed := range []string{
		`{"action":"escalate","reason":"无人接听"}`, `{"action":"escalate","life_in_danger":true}`,
		`{"action":"accept","assignment_id":1,"vehicle_id":5}`, `{"action":"decline","assignment_id":2,"reason":"外出"}`,
		`{"action":"en_route","assignment_id":1}`, `{"action":"arrived","assignment_id":1}`,
		`{"action":"dispatch","vehicle_id":3}`, `{"action":"dispatch","organization_id":4}`,
		`{"action":"released","released":2}`, `{"action":"callback_done"}`, `{"action":"close","cause":"door_system"}`,
		`{"action":"cancel","cancel_reason":"false_alarm"}`, `{"action":"note","note":"乘客情绪稳定"}`,
		`{"action":"deadline"}`, `{"action":"open"}`, `{"action":"fly"}`, `{"action":"accept","assignment_id":-1}`,
		`{"action":"released","released":101}`, `{"action":"dispatch","vehicle_id":-9223372036854775808}`,
		`{`, ``, `null`, `{"action":null}`, `{"action":"note","note":"a","actor":{"kind":"system"}}`,
	} {
		f.Add([]byte(seed))
	}
	w := newRescueWorld(f)
	id := w.openFresh(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		before := w.ledger(t)
		rec := w.do("POST", fmt.Sprintf("/api/v1/incidents/%d/actions", id), string(body))
		if inc := checkFuzzAnswer(t, w, rec, before); inc != nil {
			// Every input meets an incident just opened.
			w.cancel(t, id)
			id = w.openFresh(t)
		}
	})
}

// ledger is what a refused request must leave as it was.
type ledger struct {
	incidents int
	events    int
}

func (w *rescueWorld) ledger(tb testing.TB) ledger {
	tb.Helper()
	page, err := w.Store.ListIncidents(w.Ctx, liftrescue.IncidentFilter{Paging: liftrescue.Paging{Limit: 1}})
	if err != nil {
		tb.Fatal(err)
	}
	l := ledger{incidents: page.Total}
	if err := w.Store.EachIncidentEvent(w.Ctx, func(*liftrescue.IncidentEvent) error { l.events++; return nil }); err != nil {
		tb.Fatal(err)
	}
	return l
}

// checkFuzzAnswer checks an answer to arbitrary input and returns the incident a success answered.
func checkFuzzAnswer(t *testing.T, w *rescueWorld, rec *httptest.ResponseRecorder, before ledger) *liftrescue.Incident {
	t.Helper()
	switch {
	case rec.Code >= 500:
		t.Fatalf("answered %d: %s", rec.Code, rec.Body)
	case rec.Code >= 400:
		errorOf(t, rec)
		if after := w.ledger(t); after != before {
			t.Fatalf("refused with %d %s, yet incidents and events went from %+v to %+v", rec.Code, rec.Body, before, after)
		}
		return nil
	case rec.Code != http.StatusOK && rec.Code != http.StatusCreated:
		t.Fatalf("answered %d: %s", rec.Code, rec.Body)
	}
	var inc liftrescue.Incident
	mustJSON(t, rec, &inc)
	for _, a := range inc.Assignments {
		if a.TokenHash != "" {
			t.Fatalf("the answer shows assignment %d's token hash", a.ID)
		}
	}
	return &inc
}

var fuzzDispatcher = liftrescue.Actor{Kind: liftrescue.ActorDispatcher, Name: "fuzz"}

// openFresh opens an incident on elevator 123456 through the engine.
func (w *rescueWorld) openFresh(tb testing.TB) int64 {
	tb.Helper()
	inc, err := w.Engine.Open(w.Ctx, liftrescue.NewIncident{Elevator: "123456", Trapped: 2}, "", fuzzDispatcher)
	if err != nil {
		tb.Fatal(err)
	}
	return inc.ID
}

// cancel ends an incident unless it has ended already.
func (w *rescueWorld) cancel(tb testing.TB, id int64) {
	tb.Helper()
	_, err := w.Engine.Act(w.Ctx, id, liftrescue.Input{Action: liftrescue.ActionCancel, CancelReason: liftrescue.CancelDuplicate, Actor: fuzzDispatcher})
	if err != nil {
		if inc, ferr := w.Store.FindIncident(w.Ctx, id); ferr != nil || !inc.State.Ended() {
			tb.Fatalf("cancel incident %d: %v", id, err)
		}
	}
}
