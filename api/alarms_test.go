package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/liftrescue/liftrescue"
)

// A terminal's trapped alarm posted by its IoT platform opens an incident; a burst of a thousand
// repeats in one batch leaves that one incident; bad reports are named by index while the good
// ones are acted on; an unknown elevator is quarantined for the admin.
func TestAlarmsOverHTTP(t *testing.T) {
	w := newRescueWorld(t)
	at := w.Clock.Now().Format("2006-01-02T15:04:05Z07:00")
	item := fmt.Sprintf(`{"equipment_code":"31103704002018000001","namespace":"gbt24476","code":"93","time":%q}`, at)
	items := []string{item}
	for range 999 {
		items = append(items, item)
	}
	items = append(items, `{"equipment_code":"123","namespace":"gbt24476","code":"4"}`,
		fmt.Sprintf(`{"equipment_code":"31103704002099999999","namespace":"shmashine","code":"7","time":%q}`, at))
	var reply struct {
		Accepted int                      `json:"accepted"`
		Results  []liftrescue.AlarmResult `json:"results"`
		Rejected []liftrescue.Detail      `json:"rejected"`
	}
	w.call(t, http.StatusOK, &reply, "POST", "/api/v1/alarms", `{"alarms":[`+strings.Join(items, ",")+`]}`)
	if reply.Accepted != 1001 || len(reply.Rejected) != 1 || *reply.Rejected[0].Index != 1000 {
		t.Fatalf("accepted %d, rejected %+v; want 1,001 and index 1000", reply.Accepted, reply.Rejected)
	}
	first, last := reply.Results[0], reply.Results[len(reply.Results)-1]
	if first.Outcome != liftrescue.AlarmOpened || first.Kind != liftrescue.AlarmTrapped || first.Priority != 1 {
		t.Errorf("first report: %+v, want a trapped alarm that opened an incident", first)
	}
	for _, r := range reply.Results[1:1000] {
		if r.Outcome != liftrescue.AlarmCounted || r.IncidentID != first.IncidentID {
			t.Fatalf("repeat %d: %+v, want counted on incident %d", r.Index, r, first.IncidentID)
		}
	}
	if last.Index != 1001 || last.Outcome != liftrescue.AlarmQuarantined {
		t.Errorf("last report: %+v, want index 1001 quarantined", last)
	}
	var open liftrescue.Page[liftrescue.Incident]
	w.call(t, http.StatusOK, &open, "GET", "/api/v1/incidents?open=true", "")
	if open.Total != 1 || open.Items[0].Source != liftrescue.SourceIoT || len(open.Items[0].Assignments) != 2 {
		t.Errorf("open incidents: %+v, want one from the terminal with tier 1 told", open.Items)
	}
	var q liftrescue.Page[liftrescue.QuarantinedAlarm]
	w.call(t, http.StatusOK, &q, "GET", "/api/v1/alarms/quarantine", "")
	if q.Total != 1 || q.Items[0].EquipmentCode != "31103704002099999999" || q.Items[0].Kind != liftrescue.AlarmTrapped {
		t.Errorf("quarantine: %+v", q.Items)
	}
	for _, bad := range []struct {
		body   string
		status int
	}{
		{`{"alarms":[`, http.StatusBadRequest},
		{`{"alarms":[], "extra":1}`, http.StatusBadRequest},
		{`[]`, http.StatusBadRequest},
	} {
		if rec := w.do("POST", "/api/v1/alarms", bad.body); rec.Code != bad.status {
			t.Errorf("%s: %d %s, want %d", bad.body, rec.Code, rec.Body, bad.status)
		}
	}
}
