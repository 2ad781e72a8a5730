package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/liftrescue/liftrescue"
)

// An admin registers a terminal on an elevator by its equipment code; the terminal's trapped alarm,
// naming only the terminal, opens an incident; the terminal shows online in the list, the
// summary and the elevator's card, and the alarm is on the elevator's fault record. Bad
// registrations are refused with the field named and leave nothing behind.
func TestTerminalsOverHTTP(t *testing.T) {
	w := newRescueWorld(t)
	var reg liftrescue.TerminalState
	w.call(t, http.StatusCreated, &reg, "PUT", "/api/v1/terminals/ZZ-0001", `{"equipment_code":"31103704002018000001","platform":"鲁南电梯物联网","model":"CT-3"}`)
	if reg.ElevatorID != w.Elevator.ID || reg.Status != liftrescue.TerminalNever || reg.Platform != "鲁南电梯物联网" {
		t.Fatalf("registered: %+v", reg)
	}
	w.call(t, http.StatusOK, &reg, "PUT", "/api/v1/terminals/ZZ-0001", fmt.Sprintf(`{"elevator_id":%d,"model":"CT-4"}`, w.Elevator.ID))
	for _, bad := range []struct{ path, body, field string }{
		{"/api/v1/terminals/ZZ-0002", `{"elevator_id":999999}`, "elevator_id"},
		{"/api/v1/terminals/ZZ-0002", `{"equipment_code":"31103704002099999999"}`, "equipment_code"},
		{"/api/v1/terminals/ZZ-0002", `{"elevator_id":1,"equipment_code":"31103704002018000001"}`, "equipment_code"},
		{"/api/v1/terminals/ZZ-0002", `{}`, "elevator_id"},
		{"/api/v1/terminals/" + strings.Repeat("x", 65), `{"elevator_id":1}`, "terminal_id"},
	} {
		rec := w.do("PUT", bad.path, bad.body)
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"field":"`+bad.field+`"`) {
			t.Errorf("PUT %s %s = %d %s, want 422 naming %s", bad.path, bad.body, rec.Code, rec.Body, bad.field)
		}
	}
	if rec := w.do("PUT", "/api/v1/terminals/ZZ-0002", `{"elevator_id":"one"}`); rec.Code != http.StatusBadRequest {
		t.Errorf("elevator_id as text: %d %s, want 400", rec.Code, rec.Body)
	}
	var reply struct {
		Results []liftrescue.AlarmResult `json:"results"`
	}
	at := w.Clock.Now().Format("2006-01-02T15:04:05Z07:00")
	w.call(t, http.StatusOK, &reply, "POST", "/api/v1/alarms", fmt.Sprintf(`{"alarms":[
		{"terminal_id":"ZZ-0001","namespace":"shmashine","code":"8","time":%q},
		{"terminal_id":"ZZ-0001","namespace":"shmashine","code":"8","time":%q},
		{"terminal_id":"ZZ-0002","namespace":"shmashine","code":"8","time":%q}]}`, at, at, at))
	if r := reply.Results; r[0].Outcome != liftrescue.AlarmOpened || r[1].Outcome != liftrescue.AlarmCounted || r[2].Outcome != liftrescue.AlarmQuarantined {
		t.Fatalf("results: %+v, want opened, counted, quarantined", r)
	}
	w.monitor.Flush(w.Ctx)
	var list liftrescue.Page[liftrescue.TerminalState]
	w.call(t, http.StatusOK, &list, "GET", "/api/v1/terminals?status=online", "")
	if list.Total != 1 || list.Items[0].ID != "ZZ-0001" || list.Items[0].Model != "CT-4" || list.Items[0].LastSeen == nil {
		t.Errorf("online terminals: %+v", list)
	}
	var summary liftrescue.TerminalsReport
	w.call(t, http.StatusOK, &summary, "GET", "/api/v1/terminals/summary", "")
	if summary.Registered != 1 || summary.ShareOnline != 1 || summary.OfflineAfterS != 300 || len(summary.Districts) != 1 {
		t.Errorf("summary: %+v", summary)
	}
	var card struct {
		Terminals    []liftrescue.TerminalState `json:"terminals"`
		RecentFaults int                        `json:"recent_faults"`
	}
	w.call(t, http.StatusOK, &card, "GET", "/api/v1/elevators/123456", "")
	if len(card.Terminals) != 1 || card.Terminals[0].Status != liftrescue.TerminalOnline || card.RecentFaults != 1 {
		t.Errorf("elevator card: %+v, want its terminal online and one recent fault", card)
	}
	var faults liftrescue.Page[liftrescue.Fault]
	w.call(t, http.StatusOK, &faults, "GET", "/api/v1/elevators/123456/faults", "")
	if faults.Total != 1 || faults.Items[0].Repeats != 2 || faults.Items[0].Kind != liftrescue.AlarmTrapped || faults.Items[0].IncidentID != reply.Results[0].IncidentID {
		t.Errorf("fault record: %+v", faults.Items)
	}
	var flagged liftrescue.FlaggedReport
	w.call(t, http.StatusOK, &flagged, "GET", "/api/v1/faults/flagged", "")
	if len(flagged.Items) != 0 || flagged.Min != 3 {
		t.Errorf("flagged: %+v, want none yet under the rule of 3", flagged)
	}
	for _, bad := range []struct {
		path   string
		status int
	}{
		{"/api/v1/terminals?status=asleep", http.StatusUnprocessableEntity},
		{"/api/v1/terminals?limit=0", http.StatusUnprocessableEntity},
		{"/api/v1/terminals?elevator_id=x", http.StatusBadRequest},
		{"/api/v1/elevators/123456/faults?since=yesterday", http.StatusBadRequest},
		{"/api/v1/terminals/ZZ-9999", http.StatusNotFound},
	} {
		if rec := w.do("GET", bad.path, ""); rec.Code != bad.status {
			t.Errorf("GET %s = %d %s, want %d", bad.path, rec.Code, rec.Body, bad.status)
		}
	}
	w.call(t, http.StatusNoContent, nil, "DELETE", "/api/v1/terminals/ZZ-0001", "")
	if rec := w.do("DELETE", "/api/v1/terminals/ZZ-0001", ""); rec.Code != http.StatusNotFound {
		t.Errorf("second delete: %d, want 404", rec.Code)
	}
	w.call(t, http.StatusOK, &list, "GET", "/api/v1/terminals", "")
	if list.Total != 0 {
		t.Errorf("after unregistering: %+v", list)
	}
}
