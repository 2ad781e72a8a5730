package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/api"
	"github.com/liftrescue/liftrescue/auth"
	"github.com/liftrescue/liftrescue/dispatch/dispatchtest"
	"github.com/liftrescue/liftrescue/iot"
)

// rescueWorld is a server with the dispatch engine over the small city of dispatchtest: elevator
// 123456 with its user unit and maintenance company, two more elevators, a volunteer unit whose
// vans stand east of 123456 in the live index, and a fire station.
type rescueWorld struct {
	*dispatchtest.World
	server *api.Server
	key    string // an admin API key, sent by do unless the header pairs name another
	auth   *auth.Service
	// monitor takes the alarms on their way to the engine; its loops run, Flush writes its faults
	// at once.
	monitor *iot.Monitor
}

func newRescueWorld(tb testing.TB) *rescueWorld {
	tb.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := &rescueWorld{World: dispatchtest.New(tb, dispatchtest.WithLogger(quiet))} // its engine's loops stopped
	w.auth, w.key = testAuth(tb, w.Store)
	w.monitor = &iot.Monitor{Store: w.Store, Dispatch: w.Engine, Now: w.Clock.Now, Logger: quiet}
	dispatchtest.Must(tb, w.monitor.Start(w.Ctx))
	tb.Cleanup(w.monitor.Close)
	w.server = api.New(api.Config{Store: w.Store, Logger: quiet, Version: "test",
		Index: w.Index, Dispatch: w.Engine, Terminals: w.monitor, Now: w.Clock.Now, Auth: w.auth, Limits: testLimits})
	return w
}

// do sends a request with a body (as JSON unless a Content-Type is among the header pairs) and
// returns the recorder.
func (w *rescueWorld) do(method, path, body string, header ...string) *httptest.ResponseRecorder {
	return serve(w.server, method, path, body, append([]string{"Authorization", "Bearer " + w.key}, header...)...)
}

// serve sends a request to h with a body (as JSON unless a Content-Type is among the header
// pairs) and returns the recorder.
func serve(h http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// call is do for a request that must succeed with the status; it decodes the answer into v.
func (w *rescueWorld) call(t *testing.T, status int, v any, method, path, body string, header ...string) {
	t.Helper()
	rec := w.do(method, path, body, header...)
	if rec.Code != status {
		t.Fatalf("%s %s %s = %d, want %d\n%s", method, path, body, rec.Code, status, rec.Body)
	}
	noTokenHash(t, rec)
	if v != nil {
		mustJSON(t, rec, v)
	}
}

// open reports trapped passengers and returns the incident as answered.
func (w *rescueWorld) open(t *testing.T, body string) *liftrescue.Incident {
	t.Helper()
	var inc liftrescue.Incident
	w.call(t, http.StatusCreated, &inc, "POST", "/api/v1/incidents", body)
	return &inc
}

// act posts a dispatcher's action and returns the incident as answered.
func (w *rescueWorld) act(t *testing.T, id int64, body string) *liftrescue.Incident {
	t.Helper()
	var inc liftrescue.Incident
	w.call(t, http.StatusOK, &inc, "POST", fmt.Sprintf("/api/v1/incidents/%d/actions", id), body)
	return &inc
}

func (w *rescueWorld) get(t *testing.T, id int64) *liftrescue.Incident {
	t.Helper()
	var inc liftrescue.Incident
	w.call(t, http.StatusOK, &inc, "GET", fmt.Sprintf("/api/v1/incidents/%d", id), "")
	return &inc
}

// noTokenHash fails when an answer shows the hash of a responder link.
func noTokenHash(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if strings.Contains(rec.Body.String(), "token_hash") {
		t.Errorf("the answer shows token_hash:\n%s", rec.Body)
	}
}

// errorOf decodes an error answer: its code and the whole error object.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) (string, map[string]any) {
	t.Helper()
	var body struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == nil {
		t.Fatalf("error answer is not an error body: %v\n%s", err, rec.Body)
	}
	code, _ := body.Error["code"].(string)
	if msg, _ := body.Error["message"].(string); code == "" || msg == "" {
		t.Fatalf("error answer without a code or a message: %s", rec.Body)
	}
	return code, body.Error
}

// lastEvent returns the incident's last event of the kind, or a zero event.
func lastEvent(inc *liftrescue.Incident, kind string) liftrescue.IncidentEvent {
	for i := len(inc.Timeline) - 1; i >= 0; i-- {
		if inc.Timeline[i].Kind == kind {
			return inc.Timeline[i]
		}
	}
	return liftrescue.IncidentEvent{}
}

func TestIncidentScenarios(t *testing.T) {
	w := newRescueWorld(t)
	a := w.open(t, `{"elevator":"123456","trapped":2,"caller_phone":"13912345678"}`)
	incidents := "/api/v1/incidents"
	actions := fmt.Sprintf("/api/v1/incidents/%d/actions", a.ID)
	van := func(plate string) int64 { return w.Vehicles[plate].ID }
	tests := []struct {
		name, method, path, body string
		contentType, dispatcher  string
		signedIn                 string // a dispatcher signed in to the console makes the request
		status                   int
		code                     string   // the error code, for error answers
		extra                    string   // a member the error object must have beside code and message
		contains                 []string // pieces of the body
	}{
		{name: "a second report by equipment code", method: "POST", path: incidents, body: `{"elevator":"31103704002018000001"}`, status: 409, code: "conflict", extra: "incident_id", contains: []string{fmt.Sprintf(`"incident_id":%d`, a.ID)}},
		{name: "a second report by elevator id", method: "POST", path: incidents, body: fmt.Sprintf(`{"elevator_id":%d}`, w.Elevator.ID), status: 409, code: "conflict", extra: "incident_id"},
		{name: "a code one digit off", method: "POST", path: incidents, body: `{"elevator":"123457","district":"370402"}`, status: 404, code: "not_found", extra: "near_matches", contains: []string{`"rescue_code":"123456"`}},
		{name: "two digits swapped", method: "POST", path: incidents, body: `{"elevator":"124356"}`, status: 404, code: "not_found", extra: "near_matches", contains: []string{`"rescue_code":"123456"`}},
		{name: "a code nothing is near", method: "POST", path: incidents, body: `{"elevator":"987654"}`, status: 404, code: "not_found", contains: []string{`"near_matches":[]`}},
		{name: "an unknown elevator id", method: "POST", path: incidents, body: `{"elevator_id":9999}`, status: 404, code: "not_found"},
		{name: "malformed JSON", method: "POST", path: incidents, body: `{"elevator":`, status: 400, code: "bad_request"},
		{name: "empty body", method: "POST", path: incidents, body: ``, status: 400, code: "bad_request"},
		{name: "empty object", method: "POST", path: incidents, body: `{}`, status: 422, code: "invalid", contains: []string{`"field":"elevator"`}},
		{name: "unknown source", method: "POST", path: incidents, body: `{"elevator":"123456","source":"pigeon"}`, status: 422, code: "invalid", contains: []string{`"details":[{"field":"source"`}},
		{name: "trapped -1", method: "POST", path: incidents, body: `{"elevator":"123456","trapped":-1}`, status: 422, code: "invalid", contains: []string{`"field":"trapped"`}},
		{name: "caller phone abc", method: "POST", path: incidents, body: `{"elevator":"123456","caller_phone":"abc"}`, status: 422, code: "invalid", contains: []string{`"field":"caller_phone"`}},
		{name: "a code of letters", method: "POST", path: incidents, body: `{"elevator":"12ab"}`, status: 422, code: "invalid", contains: []string{`"field":"elevator"`}},
		{name: "trapped as a string", method: "POST", path: incidents, body: `{"elevator":"123456","trapped":"2"}`, status: 400, code: "bad_request"},
		{name: "unknown field", method: "POST", path: incidents, body: `{"rescueCode":"123456"}`, status: 400, code: "bad_request"},
		{name: "two JSON values", method: "POST", path: incidents, body: `{"elevator":"123456"}{}`, status: 400, code: "bad_request"},
		{name: "not JSON", method: "POST", path: incidents, body: `elevator=123456`, contentType: "application/x-www-form-urlencoded", status: 415, code: "unsupported_media_type"},
		{name: "body too large", method: "POST", path: incidents, body: `{"elevator":"123456","note":"` + strings.Repeat("x", 2<<20) + `"}`, status: 413, code: "too_large"},
		{name: "open by equipment code", method: "POST", path: incidents, body: `{"elevator":"31103704032019000002","trapped":1}`, status: 201, contains: []string{`"rescue_code":"223344"`, `"district":"370403"`}},
		{name: "open by elevator id", method: "POST", path: incidents, body: fmt.Sprintf(`{"elevator_id":%d,"source":"manual"}`, w.Elevator3.ID), status: 201, contains: []string{`"rescue_code":"323232"`, `"source":"manual"`}},

		{name: "list", method: "GET", path: incidents, status: 200, contains: []string{`"total":3`}},
		{name: "list by state", method: "GET", path: incidents + "?state=notified", status: 200, contains: []string{`"total":3`}},
		{name: "list by district", method: "GET", path: incidents + "?district=370403", status: 200, contains: []string{`"total":1`, `"rescue_code":"223344"`}},
		{name: "list by elevator", method: "GET", path: fmt.Sprintf("%s?elevator_id=%d", incidents, w.Elevator3.ID), status: 200, contains: []string{`"total":1`, `"rescue_code":"323232"`}},
		{name: "list the open ones", method: "GET", path: incidents + "?open=true", status: 200, contains: []string{`"total":3`}},
		{name: "list the closed ones", method: "GET", path: incidents + "?state=closed", status: 200, contains: []string{`"total":0`}},
		{name: "list by a state that is none", method: "GET", path: incidents + "?state=lost", status: 422, code: "invalid"},
		{name: "open neither true nor false", method: "GET", path: incidents + "?open=maybe", status: 400, code: "bad_request"},
		{name: "elevator id not a number", method: "GET", path: incidents + "?elevator_id=x", status: 400, code: "bad_request"},
		{name: "limit 0", method: "GET", path: incidents + "?limit=0", status: 422, code: "invalid"},
		{name: "bad cursor", method: "GET", path: incidents + "?cursor=xyz", status: 422, code: "invalid"},

		{name: "get", method: "GET", path: fmt.Sprintf("%s/%d", incidents, a.ID), status: 200, contains: []string{`"timeline":[`, `"notifications":[`}},
		{name: "get unknown", method: "GET", path: incidents + "/999", status: 404, code: "not_found"},
		{name: "get id x", method: "GET", path: incidents + "/x", status: 400, code: "bad_request"},
		{name: "get id 0", method: "GET", path: incidents + "/0", status: 400, code: "bad_request"},
		{name: "candidates", method: "GET", path: fmt.Sprintf("%s/%d/candidates", incidents, a.ID), status: 200, contains: []string{`"plate":"鲁D00003"`, `"reason":"off_duty"`}},
		{name: "candidates of no incident", method: "GET", path: incidents + "/999/candidates", status: 404, code: "not_found"},
		{name: "candidates of id x", method: "GET", path: incidents + "/x/candidates", status: 400, code: "bad_request"},

		{name: "close right after open", method: "POST", path: actions, body: `{"action":"close","cause":"door_system"}`, status: 409, code: "conflict", extra: "allowed",
			contains: []string{`"allowed":["accept","arrived","cancel","decline","dispatch","en_route","escalate","note"]`}},
		{name: "released before arrival", method: "POST", path: actions, body: `{"action":"released","released":2}`, status: 409, code: "conflict", extra: "allowed"},
		{name: "callback before release", method: "POST", path: actions, body: `{"action":"callback_done"}`, status: 409, code: "conflict", extra: "allowed"},
		{name: "unknown action", method: "POST", path: actions, body: `{"action":"fly"}`, status: 422, code: "invalid", contains: []string{`"field":"action"`}},
		{name: "the system's deadline", method: "POST", path: actions, body: `{"action":"deadline"}`, status: 422, code: "invalid"},
		{name: "open is not an action on an incident", method: "POST", path: actions, body: `{"action":"open"}`, status: 422, code: "invalid"},
		{name: "no action", method: "POST", path: actions, body: `{}`, status: 422, code: "invalid"},
		{name: "an actor is not the client's to say", method: "POST", path: actions, body: `{"action":"note","note":"x","actor":{"kind":"system","name":"gps"}}`, status: 400, code: "bad_request"},
		{name: "malformed action", method: "POST", path: actions, body: `{"action":`, status: 400, code: "bad_request"},
		{name: "empty action body", method: "POST", path: actions, body: ``, status: 400, code: "bad_request"},
		{name: "action on no incident", method: "POST", path: incidents + "/999/actions", body: `{"action":"note","note":"x"}`, status: 404, code: "not_found"},
		{name: "action on id x", method: "POST", path: incidents + "/x/actions", body: `{"action":"note","note":"x"}`, status: 400, code: "bad_request"},
		{name: "accept for no assignment", method: "POST", path: actions, body: `{"action":"accept","assignment_id":99}`, status: 404, code: "not_found", contains: []string{`"field":"assignment_id"`}},
		{name: "decline without a reason", method: "POST", path: actions, body: `{"action":"decline","assignment_id":1}`, status: 422, code: "invalid", contains: []string{`"field":"reason"`}},
		{name: "a note without text", method: "POST", path: actions, body: `{"action":"note"}`, status: 422, code: "invalid"},
		{name: "cancel without a reason", method: "POST", path: actions, body: `{"action":"cancel","cancel_reason":"bored"}`, status: 422, code: "invalid"},
		{name: "dispatch nothing", method: "POST", path: actions, body: `{"action":"dispatch"}`, status: 422, code: "invalid"},
		{name: "dispatch no vehicle", method: "POST", path: actions, body: `{"action":"dispatch","vehicle_id":99999}`, status: 422, code: "invalid", contains: []string{`"field":"vehicle_id"`}},
		{name: "a reason longer than the record takes", method: "POST", path: actions, body: `{"action":"escalate","reason":"` + strings.Repeat("无人接听", 126) + `"}`, status: 422,
			contains: []string{`"field":"reason"`, "longer than 500"}},
		{name: "a note with a NUL", method: "POST", path: actions, body: `{"action":"cancel","cancel_reason":"false_alarm","note":"a\u0000b"}`, status: 422,
			contains: []string{`"field":"note"`, "control characters"}},
		{name: "an API key acts as the system it belongs to", method: "POST", path: actions, body: `{"action":"note","note":"乘客情绪稳定"}`, status: 200,
			contains: []string{`"kind":"note","actor":{"kind":"caller","name":"test-admin"}`}},
		{name: "a X-Dispatcher header names nobody", method: "POST", path: actions, body: `{"action":"note","note":"乘客情绪稳定"}`, dispatcher: "wanglei", status: 200,
			contains: []string{`"kind":"note","actor":{"kind":"caller","name":"test-admin"}`}},
		{name: "escalate to the nearest qualified van", method: "POST", path: actions, body: `{"action":"escalate","reason":"维保单位电话无人接听"}`, signedIn: "wanglei", status: 200,
			contains: []string{`"kind":"escalated","actor":{"kind":"dispatcher","name":"wanglei"}`, `"tier":2`, `"plate":"鲁D00003"`}},
		{name: "dispatch a van already on it", method: "POST", path: actions, body: fmt.Sprintf(`{"action":"dispatch","vehicle_id":%d}`, van("鲁D00003")), status: 409, code: "conflict", extra: "allowed"},
		{name: "dispatch a chosen van", method: "POST", path: actions, body: fmt.Sprintf(`{"action":"dispatch","vehicle_id":%d}`, van("鲁D00004")), status: 200, contains: []string{`"plate":"鲁D00004"`}},
		{name: "arrived", method: "POST", path: actions, body: `{"action":"arrived","assignment_id":3}`, status: 200, contains: []string{`"arrived_by":"dispatcher"`, `"state":"arrived"`}},
		{name: "released without a count", method: "POST", path: actions, body: `{"action":"released"}`, status: 422, code: "invalid", contains: []string{`"field":"released"`}},
		{name: "released", method: "POST", path: actions, body: `{"action":"released","released":2}`, status: 200, contains: []string{`"state":"released"`, `"released_count":2`}},
		{name: "close before the callback", method: "POST", path: actions, body: `{"action":"close","cause":"door_system"}`, status: 409, code: "conflict", contains: []string{`"allowed":["callback_done","note"]`}},
		{name: "callback done", method: "POST", path: actions, body: `{"action":"callback_done","note":"乘客已安全离开"}`, status: 200, contains: []string{`"callback_note":"乘客已安全离开"`}},
		{name: "close without a cause", method: "POST", path: actions, body: `{"action":"close"}`, status: 422, code: "invalid", contains: []string{`"field":"cause"`}},
		{name: "close with a cause that is none", method: "POST", path: actions, body: `{"action":"close","cause":"gremlins"}`, status: 422, code: "invalid"},
		{name: "close", method: "POST", path: actions, body: `{"action":"close","cause":"door_system"}`, status: 200, contains: []string{`"state":"closed"`, `"cause":"door_system"`}},
		{name: "escalate a closed incident", method: "POST", path: actions, body: `{"action":"escalate"}`, status: 409, code: "conflict", contains: []string{`"allowed":["note"]`}},
		{name: "cancel a closed incident", method: "POST", path: actions, body: `{"action":"cancel","cancel_reason":"duplicate"}`, status: 409, code: "conflict", extra: "allowed"},
		{name: "an unknown action on a closed incident", method: "POST", path: actions, body: `{"action":"fly"}`, status: 422, code: "invalid"},
		{name: "a note on a closed incident", method: "POST", path: actions, body: `{"action":"note","note":"维保单位已提交整改报告"}`, status: 200, contains: []string{`"kind":"note"`}},
		{name: "list after the close", method: "GET", path: incidents + "?state=closed", status: 200, contains: []string{`"total":1`}},
		{name: "the open ones after the close", method: "GET", path: incidents + "?open=true", status: 200, contains: []string{`"total":2`}},
		{name: "a new report once the first closed", method: "POST", path: incidents, body: `{"elevator":"123456"}`, status: 201, contains: []string{`"state":"notified"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header []string
			if tt.contentType != "" {
				header = append(header, "Content-Type", tt.contentType)
			}
			if tt.dispatcher != "" {
				header = append(header, "X-Dispatcher", tt.dispatcher)
			}
			if tt.signedIn != "" {
				header = append(header, w.signIn(t, tt.signedIn, liftrescue.RoleDispatcher, "")...)
			}
			rec := w.do(tt.method, tt.path, tt.body, header...)
			if rec.Code != tt.status {
				t.Fatalf("%s %s = %d, want %d\n%.2000s", tt.method, tt.path, rec.Code, tt.status, rec.Body)
			}
			noTokenHash(t, rec)
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			if tt.status == http.StatusCreated && !regexp.MustCompile(`^/api/v1/incidents/[1-9][0-9]*$`).MatchString(rec.Header().Get("Location")) {
				t.Errorf("Location = %q", rec.Header().Get("Location"))
			}
			if tt.code != "" {
				code, obj := errorOf(t, rec)
				if code != tt.code {
					t.Errorf("error code %s, want %s: %s", code, tt.code, rec.Body)
				}
				if _, ok := obj[tt.extra]; tt.extra != "" && !ok {
					t.Errorf("the error lacks %s: %s", tt.extra, rec.Body)
				}
				for _, leak := range []string{"sqlite", "SQL", "constraint", "goroutine", ".go:", "liftrescue."} {
					if strings.Contains(rec.Body.String(), leak) {
						t.Errorf("the error leaks internals (%q): %s", leak, rec.Body)
					}
				}
			}
			for _, piece := range tt.contains {
				if !strings.Contains(rec.Body.String(), piece) {
					t.Errorf("body lacks %s:\n%.3000s", piece, rec.Body)
				}
			}
		})
	}
}

func TestOpenIncidentAnswer(t *testing.T) {
	w := newRescueWorld(t)
	rec := w.do("POST", "/api/v1/incidents", `{"elevator":" 123456 ","trapped":2,"caller_phone":"13912345678","note":"老人被困"}`,
		w.signIn(t, "zhangmin", liftrescue.RoleDispatcher, "")...)
	if rec.Code != http.StatusCreated {
		t.Fatalf("open = %d %s", rec.Code, rec.Body)
	}
	noTokenHash(t, rec)
	var inc liftrescue.Incident
	mustJSON(t, rec, &inc)
	if loc := rec.Header().Get("Location"); loc != fmt.Sprintf("/api/v1/incidents/%d", inc.ID) {
		t.Errorf("Location = %q for incident %d", loc, inc.ID)
	}
	if inc.State != liftrescue.IncidentNotified || inc.Tier != 1 || inc.ElevatorID != w.Elevator.ID || inc.Trapped != 2 || inc.Source != liftrescue.SourceCall {
		t.Errorf("incident = %s tier %d elevator %d trapped %d source %s", inc.State, inc.Tier, inc.ElevatorID, inc.Trapped, inc.Source)
	}
	if want := []string{"1 鲁南电梯维保 notified", "1 市中物业 notified"}; !slices.Equal(dispatchtest.TierUnits(&inc), want) {
		t.Errorf("assignments = %q, want %q", dispatchtest.TierUnits(&inc), want)
	}
	if !inc.ArriveBy.Equal(w.Clock.Now().Add(30*time.Minute)) || len(inc.Deadlines) != 2 {
		t.Errorf("arrive by %s with deadlines %+v, want 30 min from the report", inc.ArriveBy, inc.Deadlines)
	}
	if want := []string{"opened", "notified", "notified"}; !slices.Equal(dispatchtest.Kinds(&inc), want) {
		t.Errorf("timeline = %q, want %q", dispatchtest.Kinds(&inc), want)
	}
	if ev := inc.Timeline[0]; ev.Actor != (liftrescue.Actor{Kind: liftrescue.ActorDispatcher, Name: "zhangmin"}) || ev.Text != "老人被困" || ev.Hash == "" {
		t.Errorf("opened event = %+v", ev)
	}
	var phones []string
	for _, n := range inc.Notifications {
		phones = append(phones, n.Recipient)
		if n.Kind != "dispatch" || n.State != liftrescue.NotificationPending {
			t.Errorf("notification = %+v, want a pending dispatch", n)
		}
	}
	if want := []string{"0632-3300002", "0632-3300001"}; !slices.Equal(phones, want) {
		t.Errorf("notified %q, want %q", phones, want)
	}
	if tok := dispatchtest.Tokens(&inc); len(tok) != 2 || tok[1] == tok[2] {
		t.Errorf("responder links = %v, want one per unit", tok)
	}
	// What GET answers is what POST did.
	got := w.get(t, inc.ID)
	if got.Version != inc.Version || len(got.Timeline) != len(inc.Timeline) || len(got.Notifications) != len(inc.Notifications) {
		t.Errorf("GET = version %d, %d events, %d notifications; POST answered %d, %d, %d", got.Version, len(got.Timeline),
			len(got.Notifications), inc.Version, len(inc.Timeline), len(inc.Notifications))
	}
}

// Callers report the same elevator at once: one report opens the incident, every other one is
// told which incident is open.
func TestSimultaneousReportsOpenOne(t *testing.T) {
	w := newRescueWorld(t)
	recs := make([]*httptest.ResponseRecorder, 8)
	var wg sync.WaitGroup
	for i := range recs {
		wg.Go(func() { recs[i] = w.do("POST", "/api/v1/incidents", `{"elevator":"123456","source":"iot"}`) })
	}
	wg.Wait()
	var opened int64
	for _, rec := range recs {
		if rec.Code == http.StatusCreated {
			var inc liftrescue.Incident
			mustJSON(t, rec, &inc)
			if opened != 0 {
				t.Fatalf("two incidents opened: %d and %d", opened, inc.ID)
			}
			opened = inc.ID
		}
	}
	for _, rec := range recs {
		if rec.Code == http.StatusCreated {
			continue
		}
		if code, obj := errorOf(t, rec); rec.Code != http.StatusConflict || code != "conflict" || obj["incident_id"] != float64(opened) {
			t.Errorf("a simultaneous report = %d %s, want 409 naming incident %d", rec.Code, rec.Body, opened)
		}
	}
}

func TestListIncidentsPages(t *testing.T) {
	w := newRescueWorld(t)
	var want []int64
	for _, e := range []*liftrescue.Elevator{w.Elevator, w.Elevator2, w.Elevator3} {
		want = slices.Insert(want, 0, w.open(t, fmt.Sprintf(`{"elevator_id":%d}`, e.ID)).ID) // newest first
	}
	var got []int64
	path := "/api/v1/incidents?limit=2"
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("the pages do not end")
		}
		var page liftrescue.Page[*liftrescue.Incident]
		w.call(t, http.StatusOK, &page, "GET", path, "")
		if page.Total != 3 {
			t.Errorf("total = %d, want 3", page.Total)
		}
		for _, inc := range page.Items {
			got = append(got, inc.ID)
			if inc.Timeline != nil || len(inc.Assignments) != 2 {
				t.Errorf("listed incident %d has %d events and %d assignments; want no timeline, both units", inc.ID, len(inc.Timeline), len(inc.Assignments))
			}
		}
		path = ""
		if page.NextCursor != "" {
			path = "/api/v1/incidents?limit=2&cursor=" + page.NextCursor
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages list %v, want %v", got, want)
	}
}

func TestIncidentCandidates(t *testing.T) {
	w := newRescueWorld(t)
	inc := w.open(t, `{"elevator":"123456"}`)
	path := fmt.Sprintf("/api/v1/incidents/%d/candidates", inc.ID)
	ranked := func() (plates []string, reasons map[string]string) {
		var c liftrescue.Candidates
		w.call(t, http.StatusOK, &c, "GET", path, "")
		if c.IncidentID != inc.ID {
			t.Errorf("candidates of incident %d, want %d", c.IncidentID, inc.ID)
		}
		for i, cand := range c.Candidates {
			plates = append(plates, cand.Plate)
			if cand.ETAS == nil || cand.DistanceM == nil || cand.Status != liftrescue.StatusLive || i > 0 && *cand.ETAS < *c.Candidates[i-1].ETAS {
				t.Errorf("candidate %d = %+v, want live with distance and ETA, by ETA", i, cand)
			}
		}
		reasons = map[string]string{}
		for _, x := range c.Excluded {
			reasons[x.Plate] = x.Reason
		}
		return plates, reasons
	}
	plates, reasons := ranked()
	if want := []string{"鲁D00003", "鲁D00004"}; !slices.Equal(plates, want) {
		t.Errorf("candidates = %q, want %q", plates, want)
	}
	if want := map[string]string{"鲁D00001": liftrescue.ExcludedOffDuty, "鲁D00002": liftrescue.ExcludedStale}; !maps.Equal(reasons, want) {
		t.Errorf("excluded = %v, want %v (the maintenance company's own van is no volunteer)", reasons, want)
	}
	w.act(t, inc.ID, `{"action":"escalate"}`)
	plates, reasons = ranked()
	if !slices.Equal(plates, []string{"鲁D00004"}) || reasons["鲁D00003"] != liftrescue.ExcludedAlreadyAsked {
		t.Errorf("after escalating: candidates %q, excluded %v; want 鲁D00003 already asked", plates, reasons)
	}
}

// The whole rescue over HTTP: tier 1 silent, tier 2 dispatched by the deadline, its GPS marks the
// arrival, and the dispatcher finishes the record.
func TestRescueOverHTTP(t *testing.T) {
	w := newRescueWorld(t)
	inc := w.open(t, `{"elevator":"123456","trapped":2,"caller_phone":"13912345678"}`)

	w.Tick(5*time.Minute + time.Second)
	w.Engine.RunDue(w.Ctx)
	got := w.get(t, inc.ID)
	if want := []string{"1 鲁南电梯维保 timed_out", "1 市中物业 timed_out", "2 鲁D00003 notified"}; got.Tier != 2 || !slices.Equal(dispatchtest.TierUnits(got), want) {
		t.Fatalf("after tier 1 was silent: tier %d, %q; want tier 2, %q", got.Tier, dispatchtest.TierUnits(got), want)
	}
	if a := got.Assignment(3); !a.Auto || a.Unit.ETAS == nil || dispatchtest.Tokens(got)[3] == "" {
		t.Errorf("tier-2 assignment = %+v, want chosen by the system with an ETA and a link", a)
	}

	// The van drives to the elevator and its tracker says so: 60 m away is there.
	w.Move("鲁D00003", dispatchtest.East(60), dispatchtest.Lat, 0)
	w.Tick(2 * time.Minute)
	w.Engine.Watch(w.Ctx)
	got = w.get(t, inc.ID)
	if a := got.Assignment(3); got.State != liftrescue.IncidentArrived || a.State != liftrescue.AssignmentArrived || a.ArrivedBy != "gps" || got.ArrivedAt == nil {
		t.Fatalf("after the van reached the elevator: %s, assignment %s by %q", got.State, a.State, a.ArrivedBy)
	}

	w.Tick(8 * time.Minute)
	got = w.act(t, inc.ID, `{"action":"released","released":2}`)
	if got.State != liftrescue.IncidentReleased || got.RescuedBy != 3 || got.ReleasedCount != 2 {
		t.Errorf("after release: %s, rescued by %d, %d released", got.State, got.RescuedBy, got.ReleasedCount)
	}
	w.act(t, inc.ID, `{"action":"callback_done","note":"回访乘客，已安全"}`)
	got = w.act(t, inc.ID, `{"action":"close","cause":"power_loss","note":"小区停电"}`)
	if got.State != liftrescue.IncidentClosed || got.Cause != liftrescue.CausePowerLoss || got.ClosedAt == nil {
		t.Errorf("after close: %s, cause %s", got.State, got.Cause)
	}
	if want := []string{"opened", "notified", "notified", "deadline_missed", "timed_out", "timed_out", "escalated", "notified",
		"accepted", "arrived", "released", "stood_down", "stood_down", "callback_done", "closed"}; !slices.Equal(dispatchtest.Kinds(got), want) {
		t.Errorf("timeline = %q\nwant %q", dispatchtest.Kinds(got), want)
	}
	if ev := lastEvent(got, "arrived"); ev.Actor != (liftrescue.Actor{Kind: liftrescue.ActorSystem, Name: "gps"}) {
		t.Errorf("the arrival was recorded by %+v, want the system's gps", ev.Actor)
	}
	standDowns := 0
	for _, n := range got.Notifications {
		if n.Kind == "stand_down" {
			standDowns++
		}
	}
	if standDowns != 2 {
		t.Errorf("%d stand-down messages, want one to each tier-1 unit that timed out", standDowns)
	}
	r, err := liftrescue.VerifyChain(w.Ctx, w.Store)
	if err != nil || r.Broken != nil || r.Events != int64(len(got.Timeline)) {
		t.Errorf("chain = %+v, %v; want whole with %d events", r, err, len(got.Timeline))
	}
}

// The tier-2 van declines through its link; its organisation's other van answers to the same duty
// desk and is not asked: the fire station is.
func TestTier2DeclinesReachTheFireStation(t *testing.T) {
	w := newRescueWorld(t)
	inc := w.open(t, `{"elevator":"123456","trapped":1}`)
	w.Tick(5*time.Minute + time.Second)
	w.Engine.RunDue(w.Ctx)
	for i, c := range []struct {
		assignment int
		reason     string
		want       []string
	}{
		{3, "人员不足", []string{"2 鲁D00003 declined", "3 市中消防救援站 notified"}},
	} {
		tok := dispatchtest.Tokens(w.get(t, inc.ID))[c.assignment]
		var v liftrescue.ResponderView
		w.call(t, http.StatusOK, &v, "POST", "/r/"+tok, fmt.Sprintf(`{"action":"decline","reason":%q}`, c.reason))
		if v.Assignment.ID != c.assignment || v.Assignment.State != liftrescue.AssignmentDeclined || v.Assignment.Reason != c.reason {
			t.Errorf("decline %d answered %+v", i, v.Assignment)
		}
		got := w.get(t, inc.ID)
		if all := dispatchtest.TierUnits(got); !slices.Equal(all[len(all)-2:], c.want) {
			t.Fatalf("after decline %d: %q, want it to end with %q", i, all, c.want)
		}
		if rec := w.do("POST", "/r/"+tok, `{"action":"accept"}`); rec.Code != http.StatusGone {
			t.Errorf("the declined link accepts: %d %s", rec.Code, rec.Body)
		}
	}
	got := w.get(t, inc.ID)
	fire := got.Assignment(4)
	if got.Tier != 3 || fire.Unit.OrganizationID != w.Fire.ID || !fire.Auto {
		t.Fatalf("tier %d, assignment 4 = %+v; want the fire station at tier 3", got.Tier, fire)
	}
	var told bool
	for _, n := range got.Notifications {
		told = told || n.AssignmentID == 4 && n.Recipient == "0632-3300119" && dispatchtest.LinkRE.MatchString(n.Body)
	}
	if !told {
		t.Errorf("the fire station's duty phone got no message with a link: %+v", got.Notifications)
	}
	if ev := lastEvent(got, "declined"); ev.Actor.Kind != liftrescue.ActorUnit || ev.Kind != "declined" || ev.Text != "人员不足" {
		t.Errorf("the decline was recorded as %+v", ev)
	}
}

func TestResponderPage(t *testing.T) {
	w := newRescueWorld(t)
	inc := w.open(t, `{"elevator":"123456","trapped":2}`)
	tok := dispatchtest.Tokens(inc)
	maint, user := "/r/"+tok[1], "/r/"+tok[2]
	const html, form, jsonType = "text/html", "application/x-www-form-urlencoded", "application/json"
	for _, c := range []struct {
		name, method, path, body string
		contentType, accept      string
		status                   int
		contains                 []string // pieces of the page, or the error code of a JSON error
	}{
		{name: "the page", method: "GET", path: maint, accept: "text/html,application/xhtml+xml", status: 200,
			contains: []string{"光明路 18 号", "鲁南电梯维保", `id="accept"`, `id="decline"`, `data-state="notified">待确认 <span class="en">waiting for you<`, `href="geo:34.810000,117.320000"`}},
		{name: "the view as JSON", method: "GET", path: maint, accept: jsonType, status: 200, contains: []string{`"incident_state":"notified"`, `"actions":["accept","decline","arrived"]`, `"accept_by":"`}},
		{name: "JSON by the query", method: "GET", path: maint + "?format=json", status: 200, contains: []string{`"organization_name":"鲁南电梯维保"`}},
		{name: "an action that is not a responder's", method: "POST", path: maint, body: `{"action":"close"}`, contentType: jsonType, status: 422, contains: []string{"invalid"}},
		{name: "malformed JSON", method: "POST", path: maint, body: `{"action":`, contentType: jsonType, status: 400, contains: []string{"bad_request"}},
		{name: "released before arrival, from the page", method: "POST", path: maint, body: "action=released&released=2", contentType: form, accept: html, status: 409,
			contains: []string{`role="alert"`, `id="accept"`}},
		{name: "a form that does not parse", method: "POST", path: maint, body: "action=%zz", contentType: form, accept: html, status: 400, contains: []string{`role="alert"`, `id="accept"`}},
		{name: "a count that is no number", method: "POST", path: maint, body: "action=released&released=two", contentType: form, accept: html, status: 422, contains: []string{`role="alert"`}},
		{name: "accept from the page", method: "POST", path: maint, body: "action=accept", contentType: form, accept: html, status: 200,
			contains: []string{`data-state="accepted">已接受`, `已记录：接受任务 <span class="en">Recorded: accepted`, `id="en_route"`}},
		{name: "accept twice", method: "POST", path: maint, body: `{"action":"accept"}`, contentType: jsonType, status: 409, contains: []string{`"code":"conflict"`, `"allowed":["en_route","arrived","decline"]`}},
		{name: "decline from an app", method: "POST", path: user, body: `{"action":"decline","reason":"值班人员外出"}`, contentType: jsonType, status: 200, contains: []string{`"state":"declined"`}},
		{name: "a used link, the page", method: "GET", path: user, accept: html, status: 410, contains: []string{`role="alert"`}},
		{name: "a used link, JSON", method: "GET", path: user, accept: jsonType, status: 410, contains: []string{"gone"}},
		{name: "a used link takes no action", method: "POST", path: user, body: "action=accept", contentType: form, accept: html, status: 410, contains: []string{`role="alert"`}},
		{name: "an unknown link, the page", method: "GET", path: "/r/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", accept: html, status: 404, contains: []string{`role="alert"`}},
		{name: "an unknown link, JSON", method: "GET", path: "/r/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", accept: jsonType, status: 404, contains: []string{"not_found"}},
		{name: "a short link", method: "GET", path: "/r/abc", accept: jsonType, status: 404, contains: []string{"not_found"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			header := []string{"Accept", c.accept}
			if c.contentType != "" {
				header = append(header, "Content-Type", c.contentType)
			}
			rec := w.do(c.method, c.path, c.body, header...)
			if rec.Code != c.status {
				t.Fatalf("%s %s = %d, want %d\n%s", c.method, c.path, rec.Code, c.status, rec.Body)
			}
			checkResponderAnswer(t, rec, c.accept == html || strings.HasPrefix(c.accept, "text/html"))
			for _, piece := range c.contains {
				if !strings.Contains(rec.Body.String(), piece) {
					t.Errorf("answer lacks %s:\n%s", piece, rec.Body)
				}
			}
		})
	}

	// A body sent without a length is stopped as it is read: the page says so and nothing is done.
	req := httptest.NewRequest("POST", maint, strings.NewReader("action=en_route&note="+strings.Repeat("x", 2<<20)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", form)
	rec := httptest.NewRecorder()
	w.server.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), `role="alert"`) {
		t.Errorf("a form too large = %d %.300s", rec.Code, rec.Body)
	}
	checkResponderAnswer(t, rec, true)
	if a := w.get(t, inc.ID).Assignment(1); a.State != liftrescue.AssignmentAccepted {
		t.Errorf("after a form too large the unit is %s, want still accepted", a.State)
	}

	// A day later the link of the unit that accepted has expired.
	w.Tick(time.Duration(w.Engine.Policy().ResponderLinkTTL) + time.Second)
	for _, accept := range []string{html, jsonType} {
		rec := w.do("GET", maint, "", "Accept", accept)
		if rec.Code != http.StatusGone || !strings.Contains(rec.Body.String(), "expired") {
			t.Errorf("an expired link (%s) = %d %s", accept, rec.Code, rec.Body)
		}
		checkResponderAnswer(t, rec, accept == html)
	}
}

// checkResponderAnswer checks what every answer of a responder link must be: HTML or JSON as
// asked, never stored by a cache, never sending the link on as a referrer, no token hash.
func checkResponderAnswer(t *testing.T, rec *httptest.ResponseRecorder, page bool) {
	t.Helper()
	noTokenHash(t, rec)
	ct := rec.Header().Get("Content-Type")
	if page != strings.HasPrefix(ct, "text/html") || !page && !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want the page: %v", ct, page)
	}
	if page && !strings.Contains(rec.Body.String(), "<!doctype html>") {
		t.Errorf("not a page: %.300s", rec.Body)
	}
	if !page && rec.Code >= 400 {
		errorOf(t, rec)
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := rec.Header().Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy = %q, want no-referrer", got)
	}
}

// A server without the dispatch engine answers its incident routes 503 and still lists incidents.
func TestIncidentRoutesWithoutDispatch(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/api/v1/incidents", `{"elevator":"123456"}`, 503},
		{"POST", "/api/v1/incidents/1/actions", `{"action":"note","note":"x"}`, 503},
		{"GET", "/api/v1/incidents/1/candidates", "", 503},
		{"GET", "/api/v1/dispatch/policy", "", 503},
		{"GET", "/r/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "", 503},
		{"GET", "/api/v1/incidents", "", 200},
		{"GET", "/api/v1/incidents/1", "", 404},
	} {
		rec := f.do(c.method, c.path, "application/json", strings.NewReader(c.body))
		if rec.Code != c.status || c.status == 503 && !strings.Contains(rec.Body.String(), `"code":"unavailable"`) {
			t.Errorf("%s %s = %d %s, want %d", c.method, c.path, rec.Code, rec.Body, c.status)
		}
	}
}

func TestOpenAPIListsIncidentRoutes(t *testing.T) {
	w := newRescueWorld(t)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	// Not call: the document's Assignment schema names token_hash, which no answer holds.
	mustJSON(t, w.do("GET", "/api/openapi.json", ""), &doc)
	for path, methods := range map[string][]string{
		"/api/v1/incidents":                 {"get", "post"},
		"/api/v1/incidents/{id}":            {"get"},
		"/api/v1/incidents/{id}/candidates": {"get"},
		"/api/v1/incidents/{id}/actions":    {"post"},
		"/api/v1/dispatch/policy":           {"get"},
		"/r/{token}":                        {"get", "post"},
	} {
		for _, m := range methods {
			if _, ok := doc.Paths[path][m]; !ok {
				t.Errorf("the OpenAPI document lacks %s %s", strings.ToUpper(m), path)
			}
		}
	}
}
