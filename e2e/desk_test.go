package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// deskIncident is what the desk test reads of an incident from the API.
type deskIncident struct {
	ID          int64  `json:"id"`
	State       string `json:"state"`
	Tier        int    `json:"tier"`
	Trapped     int    `json:"trapped"`
	CallerPhone string `json:"caller_phone"`
	Cause       string `json:"cause"`
	CallbackAt  *any   `json:"callback_at"`
	Assignments []struct {
		ID    int    `json:"id"`
		Tier  int    `json:"tier"`
		State string `json:"state"`
		Unit  struct {
			VehicleID int64  `json:"vehicle_id"`
			Plate     string `json:"plate"`
		} `json:"unit"`
	} `json:"assignments"`
}

// TestDispatcherHandlesRescue is a rescue at the desk from the code to the close, as a dispatcher
// does it with the caller on the line: the code and Enter find the elevator, Enter again opens the
// incident, which joins the list and the map; the dispatcher sends the nearest volunteer van at
// once and watches it move; then records the release, the callback and the cause, and closes.
// The demo's simulated units answer as real ones would (the van accepts and drives there), so the
// steps they may take first are waited for rather than assumed.
func TestDispatcherHandlesRescue(t *testing.T) {
	srv := startDemo(t)
	// The crews drive at the demo's pace: more time than the usual bound, on a busy machine.
	ctx := newBrowserTimeout(t, 1400, 900, 3*time.Minute)
	var list struct {
		Items []elevator `json:"items"`
	}
	srv.MustDo(t, http.MethodGet, "/api/v1/elevators?limit=1", nil, &list)
	el := list.Items[0]

	if err := openConsole(ctx, srv); err != nil {
		t.Fatal(err)
	}
	if err := signIn(ctx, "dispatcher", demoPasswords["dispatcher"]); err != nil {
		t.Fatal(err)
	}
	// The code, Enter: the elevator and under it the incident form, prefilled.
	if err := chromedp.Do(ctx, chromedp.KeyEvent(el.RescueCode+kb.Enter), chromedp.WaitVisible(chromedp.ID("incident-form"))); err != nil {
		t.Fatalf("type %s and Enter: %v", el.RescueCode, err)
	}
	if err := waitText(ctx, "#address", el.Address); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, retype("#trapped", "3"), retype("#caller-phone", "13800138000")); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "form")
	// Enter again in the code box opens the incident, which opens beside the map.
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.ID("code")), chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, "the incident opened beside the map", `document.getElementById("incident").dataset.incident > 0`); err != nil {
		t.Fatal(err)
	}
	id, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`Number(document.getElementById("incident").dataset.incident)`))
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/incidents/" + strconv.FormatInt(id, 10)
	var inc deskIncident
	srv.MustDo(t, http.MethodGet, path, nil, &inc)
	if inc.Trapped != 3 || inc.CallerPhone != "13800138000" || inc.Tier != 1 || len(inc.Assignments) != 2 {
		t.Fatalf("the incident opened is %+v, want 3 trapped, the caller's phone, tier 1 with its two units", inc)
	}
	for what, expr := range map[string]string{
		"the incident in the list":  fmt.Sprintf(`document.querySelector('#incidents li[data-incident="%d"]')`, id),
		"its ring on the map":       fmt.Sprintf(`window.liftrescue.incidents.has(%d)`, id),
		"the address in the detail": fmt.Sprintf(`document.getElementById("incident").textContent.includes(%s)`, jsString(el.Address)),
		"a live countdown":          `/\d+:\d\d/.test(document.querySelector("#incidents .countdown")?.textContent ?? "")`,
		"the code box emptied":      `document.getElementById("code").value === ""`,
	} {
		if err := waitJS(ctx, what, expr); err != nil {
			t.Error(err)
		}
	}
	shot(t, ctx, "opened")

	// The nearest volunteer van, dispatched at once from the candidates.
	if err := waitJS(ctx, "the volunteer vans nearby", `document.querySelector("#candidates tr[data-vehicle] button.dispatch")`); err != nil {
		t.Fatal(err)
	}
	van, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`Number(document.querySelector("#candidates tr[data-vehicle]").dataset.vehicle)`))
	if err != nil {
		t.Fatal(err)
	}
	startAt := `window.startAt = window.liftrescue.fleet.get(` + strconv.FormatInt(van, 10) + `).v.position; true`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](startAt)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#candidates tr[data-vehicle="`+strconv.FormatInt(van, 10)+`"] button.dispatch`))); err != nil {
		t.Fatal(err)
	}
	waitAPI(t, ctx, srv, path, "the van dispatched", func(inc deskIncident) bool {
		for _, a := range inc.Assignments {
			if a.Tier == 2 && a.Unit.VehicleID == van {
				return true
			}
		}
		return false
	})
	if err := waitJS(ctx, "the van in the units and its line to the elevator",
		`document.querySelectorAll("#assignments tr").length === 3 && document.querySelector("path.assignment-line")`); err != nil {
		t.Error(err)
	}
	shot(t, ctx, "dispatched")
	// The van accepts (the simulated crew) and drives: the map follows it.
	moved := fmt.Sprintf(`(() => { const p = window.liftrescue.fleet.get(%d).v.position;
		return window.liftrescue.map.distance([p.lat, p.lon], [window.startAt.lat, window.startAt.lon]) > 30; })()`, van)
	if err := waitJS(ctx, "the dispatched van to move on the map", moved); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "van-moving")

	// Released (the dispatcher records what the crew says on the phone, unless they tapped it
	// first), the callback to the caller, and the close with the cause.
	step(t, ctx, srv, path, "arrived or released", `#assignments tr button[data-action="arrived"]`, nil,
		func(inc deskIncident) bool { return inc.State == "arrived" || inc.State == "released" })
	step(t, ctx, srv, path, "released", `#incident .actions button[data-action="released"]`, nil,
		func(inc deskIncident) bool { return inc.State == "released" })
	step(t, ctx, srv, path, "the callback", `#incident .actions button[data-action="callback_done"]`,
		retype(`#action-form input[name="note"]`, "乘客已安全离开"),
		func(inc deskIncident) bool { return inc.CallbackAt != nil })
	step(t, ctx, srv, path, "closed", `#incident .actions button[data-action="close"]`,
		chromedp.SetValue(chromedp.CSS(`#action-form select[name="cause"]`), "door_system"),
		func(inc deskIncident) bool { return inc.State == "closed" })
	srv.MustDo(t, http.MethodGet, path, nil, &inc)
	if inc.Cause != "door_system" {
		t.Errorf("closed with cause %q, want door_system", inc.Cause)
	}
	if err := waitJS(ctx, "the closed incident to leave the list", fmt.Sprintf(`!document.querySelector('#incidents li[data-incident="%d"]') && !window.liftrescue.incidents.has(%d)`, id, id)); err != nil {
		t.Error(err)
	}
	if err := waitText(ctx, "#incident-state", "已结案"); err != nil {
		t.Error(err)
	}
	shot(t, ctx, "closed")
}

// step takes one of the dispatcher's actions when the page offers it: click the button, fill the
// form it opens (fill may be nil), confirm. It waits until done holds in the API's answer; the
// simulated crew may have done it first, so the button is clicked only while it is there.
func step(t *testing.T, ctx context.Context, srv *Server, path, what, button string, fill chromedp.Action[chromedp.Void], done func(deskIncident) bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		var inc deskIncident
		srv.MustDo(t, http.MethodGet, path, nil, &inc)
		if done(inc) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the incident is still %s", what, inc.State)
		}
		offered, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector(`+jsString(button)+`)`))
		if err != nil {
			t.Fatal(err)
		}
		if offered {
			actions := []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.CSS(button))}
			if fill != nil || button != `#assignments tr button[data-action="arrived"]` {
				// Every action but a unit's arrival asks first.
				actions = append(actions, chromedp.WaitVisible(chromedp.ID("action-form")))
				if fill != nil {
					actions = append(actions, fill)
				}
				actions = append(actions, chromedp.Click(chromedp.CSS(`#action-form button[type="submit"]`)))
			}
			if err := chromedp.Do(ctx, actions...); err != nil {
				t.Logf("%s: %v (the page moved on; looking again)", what, err)
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// waitAPI polls the incident until ok holds, for up to 30 s.
func waitAPI(t *testing.T, ctx context.Context, srv *Server, path, what string, ok func(deskIncident) bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		var inc deskIncident
		srv.MustDo(t, http.MethodGet, path, nil, &inc)
		if ok(inc) {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: not so after 30 s: %+v", what, inc)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
