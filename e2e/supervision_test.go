package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestSupervisionSeesTerminalsAndFaults is the supervisor's look at the IoT terminals: three
// terminals registered on two elevators (one never heard from), a trapped-passenger alarm on the
// first, three different faults on the second. The supervision view shows the share online and
// the silent terminal, flags the second elevator and opens its fault record; the first one's
// record, asked for by its code, links to the incident its alarm opened. On the desk, the
// elevator's card names its terminals with their status and counts its faults. Then the
// administrator sees the report of a terminal no one registered.
func TestSupervisionSeesTerminalsAndFaults(t *testing.T) {
	// The demo's own terminals stay off: only the test's are there.
	srv := startDemo(t, "--rescues=false", "--terminals=false")
	var list struct {
		Items []struct {
			elevator
			EquipmentCode string `json:"equipment_code"`
		} `json:"items"`
	}
	srv.MustDo(t, http.MethodGet, "/api/v1/elevators?limit=2", nil, &list)
	if len(list.Items) < 2 {
		t.Fatalf("the demo has %d elevators, want 2", len(list.Items))
	}
	trapped, faulty := list.Items[0], list.Items[1]
	for _, x := range []struct{ id, code string }{{"e2e-T1", trapped.EquipmentCode}, {"e2e-T2", faulty.EquipmentCode}, {"e2e-T3", faulty.EquipmentCode}} {
		registerTerminal(t, srv, x.id, x.code)
	}
	type report struct {
		TerminalID string `json:"terminal_id"`
		Namespace  string `json:"namespace"`
		Code       string `json:"code"`
	}
	var reply struct {
		Results []struct {
			Outcome    string `json:"outcome"`
			Kind       string `json:"kind"`
			IncidentID int64  `json:"incident_id"`
		} `json:"results"`
	}
	post := func(r report) {
		t.Helper()
		srv.MustDo(t, http.MethodPost, "/api/v1/alarms", map[string][]report{"alarms": {r}}, &reply)
		if len(reply.Results) != 1 {
			t.Fatalf("alarm %+v: %+v", r, reply)
		}
	}
	// GB/T 24476 (with the regional extension): 11 trapped; 2, 1, 3 a door that would not close,
	// the safety circuit open, a door that would not open: three entries of the record.
	post(report{"e2e-T1", "gbt24476", "11"})
	if reply.Results[0].Outcome != "opened" || reply.Results[0].IncidentID == 0 {
		t.Fatalf("the trapped alarm: %+v, want an incident opened", reply.Results[0])
	}
	incident := reply.Results[0].IncidentID
	for _, code := range []string{"2", "1", "3"} {
		post(report{"e2e-T2", "gbt24476", code})
	}
	// The faults reach the store within a second or so; the view reads the flag from there.
	var flagged struct {
		Items []struct {
			RescueCode string `json:"rescue_code"`
			Faults     int    `json:"faults"`
		} `json:"items"`
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		srv.MustDo(t, http.MethodGet, "/api/v1/faults/flagged", nil, &flagged)
		if len(flagged.Items) == 1 && flagged.Items[0].RescueCode == faulty.RescueCode && flagged.Items[0].Faults == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the faulty elevator %s is not flagged with 3 faults: %+v", faulty.RescueCode, flagged)
		}
	}

	ctx := newBrowser(t, 1400, 900)
	if err := openConsole(ctx, srv); err != nil {
		t.Fatal(err)
	}
	if err := signIn(ctx, "supervisor", demoPasswords["supervisor"]); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#views button[data-view="supervision"]`)), chromedp.WaitVisible(chromedp.ID("sv-share-figure"))); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, "the supervision view's path", `location.pathname === "/supervision"`); err != nil {
		t.Error(err)
	}
	// Two of three online; the one never heard from is listed, as none is offline.
	for css, want := range map[string]string{
		"#sv-share-figure":                            "66.7%",
		`#sv-counts [data-status="online"] strong`:    "2",
		`#sv-counts [data-status="never"] strong`:     "1",
		`#sv-silent-tabs button[aria-pressed="true"]`: "从未上报 1",
	} {
		if err := waitText(ctx, css, want); err != nil {
			t.Error(err)
		}
	}
	// The terminal never heard from, by its elevator's equipment code when the API gives it.
	var never struct {
		EquipmentCode string `json:"equipment_code"`
		ElevatorID    int64  `json:"elevator_id"`
	}
	srv.MustDo(t, http.MethodGet, "/api/v1/terminals/e2e-T3", nil, &never)
	elevatorCell := "#" + fmt.Sprint(never.ElevatorID)
	if never.EquipmentCode != "" {
		elevatorCell = never.EquipmentCode
	}
	if err := waitJS(ctx, "the terminal never heard from, on its elevator", `document.querySelector('#sv-silent-table tr[data-terminal="e2e-T3"] th')?.textContent.startsWith(`+jsString(elevatorCell)+`)`); err != nil {
		t.Error(err)
	}
	if err := waitJS(ctx, "a district's row", `document.querySelectorAll("#sv-districts tbody tr").length >= 1`); err != nil {
		t.Error(err)
	}
	if err := waitJS(ctx, "no quarantine for the supervisor", `document.getElementById("sv-quarantine").hidden`); err != nil {
		t.Error(err)
	}
	// The flagged elevator, and its record opened in place: the three faults by name.
	item := fmt.Sprintf(`#sv-flagged-list li[data-code="%s"]`, faulty.RescueCode)
	if err := waitText(ctx, item+" .faults", "3 次故障"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(item+" button.toggle"))); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, "the record's three faults", `[...document.querySelectorAll(`+jsString(item+" .record tr[data-kind]")+`)].map((tr) => tr.dataset.kind).sort().join() === "door_close_fault,door_open_fault,safety_circuit_open"`); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, "the kinds named in Chinese", `document.querySelector(`+jsString(item+` .record tr[data-kind="safety_circuit_open"] th`)+`).textContent.includes("安全回路断路")`); err != nil {
		t.Error(err)
	}
	shot(t, ctx, "supervision")

	// In English, the same.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("lang"))); err != nil {
		t.Fatal(err)
	}
	if err := waitText(ctx, "#sv-share-title", "IoT terminals online"); err != nil {
		t.Error(err)
	}
	if err := waitText(ctx, item+" .faults", "3 faults"); err != nil {
		t.Error(err)
	}
	shot(t, ctx, "supervision-en")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("lang"))); err != nil {
		t.Fatal(err)
	}

	// The trapped elevator's record by its code: the alarm, linked to its incident, which the
	// link opens on the desk.
	if err := chromedp.Do(ctx, retype("#sv-find-code", trapped.RescueCode), chromedp.Click(chromedp.CSS(`#sv-find button[type="submit"]`))); err != nil {
		t.Fatal(err)
	}
	link := fmt.Sprintf(`#sv-asked-record tr[data-kind="trapped"] a[href="/incidents/%d"]`, incident)
	if err := waitJS(ctx, "the trapped alarm's incident linked in the record", `document.querySelector(`+jsString(link)+`)`); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, "the trapped elevator's terminal online", `document.querySelector('#sv-record-body [data-terminal="e2e-T1"]')?.classList.contains("online")`); err != nil {
		t.Error(err)
	}
	shot(t, ctx, "record")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(link))); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, "the incident open on the desk", fmt.Sprintf(`location.pathname === "/incidents/%d" && document.body.dataset.view === "desk" && document.getElementById("incident").dataset.incident === "%d"`, incident, incident)); err != nil {
		t.Error(err)
	}

	// Back in supervision, the flagged elevator's code looks it up on the desk: its card names its
	// terminals and counts its faults, which open under the count.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#views button[data-view="supervision"]`)), chromedp.Click(chromedp.CSS(item+" button.code"))); err != nil {
		t.Fatal(err)
	}
	if err := waitText(ctx, "#address", faulty.Address); err != nil {
		t.Fatal(err)
	}
	for what, expr := range map[string]string{
		"the terminal online":         `document.querySelector('#elevator-terminals [data-terminal="e2e-T2"]')?.dataset.status === "online"`,
		"the terminal never heard of": `document.querySelector('#elevator-terminals [data-terminal="e2e-T3"]')?.dataset.status === "never"`,
		"the desk's view":             `document.body.dataset.view === "desk" && location.pathname === "/"`,
	} {
		if err := waitJS(ctx, what, expr); err != nil {
			t.Error(err)
		}
	}
	if err := waitText(ctx, "#elevator-faults summary", "3 条"); err != nil {
		t.Error(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#elevator-faults summary"))); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, "the three faults under the count", `document.querySelectorAll("#elevator-faults li[data-kind]").length === 3`); err != nil {
		t.Error(err)
	}
	shot(t, ctx, "desk")
	// The card's link to the whole record opens it in the supervision view.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#elevator-faults a.all-faults"))); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, "the whole record in the supervision view", `document.body.dataset.view === "supervision" && document.querySelectorAll("#sv-asked-record tr[data-kind]").length === 3`); err != nil {
		t.Error(err)
	}

	// A report from a terminal no one registered: the administrator sees it in the quarantine.
	post(report{"e2e-ghost", "gbt24476", "4"})
	if reply.Results[0].Outcome != "quarantined" {
		t.Fatalf("the unregistered terminal's report: %+v, want quarantined", reply.Results[0])
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("signout"))); err != nil {
		t.Fatal(err)
	}
	if err := signIn(ctx, "admin", demoPasswords["admin"]); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#views button[data-view="supervision"]`))); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, "the ghost terminal in the quarantine", `[...document.querySelectorAll("#sv-quarantine-table tbody th")].some((th) => th.textContent.includes("e2e-ghost"))`); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.ScrollIntoView(chromedp.ID("sv-quarantine"))); err != nil {
		t.Error(err)
	}
	shot(t, ctx, "quarantine")
}

// registerTerminal registers an IoT terminal on the elevator with the equipment code. startDemo
// returns once /readyz answers, which waits for the terminals to be loaded.
func registerTerminal(t *testing.T, srv *Server, id, equipmentCode string) {
	t.Helper()
	body := map[string]string{"equipment_code": equipmentCode, "platform": "测试物联网平台", "model": "GB/T 24476"}
	srv.MustDo(t, http.MethodPut, "/api/v1/terminals/"+id, body, nil)
}
