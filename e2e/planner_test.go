package e2e

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestPlannerDrawsAndPublishes is a planner's change to the city: start a draft from the plan in
// force, draw a new grid on the map by clicking its corners (a crossed one first, which the server
// refuses and the map marks where), name it, give it a unit, save, check and publish, confirming
// over the report; the plan is then the active one, for the page and for the API, and the grid is
// in it.
func TestPlannerDrawsAndPublishes(t *testing.T) {
	srv := startDemo(t, "--rescues=false")
	ctx := newBrowser(t, 1400, 900)
	if err := openConsole(ctx, srv); err != nil {
		t.Fatal(err)
	}
	if err := signIn(ctx, "planner", demoPasswords["planner"]); err != nil {
		t.Fatal(err)
	}
	// The planner's view, from the header's switch.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#views button[data-view="planner"]`)), chromedp.WaitVisible(chromedp.CSS("#plan-list li"))); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, "the planner's path", `location.pathname === "/planner"`); err != nil {
		t.Error(err)
	}
	const name = "测试方案 e2e"
	if err := chromedp.Do(ctx, retype("#plan-new-name", name), chromedp.Click(chromedp.ID("plan-create"))); err != nil {
		t.Fatal(err)
	}
	if err := waitText(ctx, "#plan-title", name); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("grid-draw"))); err != nil {
		t.Fatal(err)
	}
	planID, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`Number(document.querySelector("#plan-list li button[aria-current='true']")?.closest("li").dataset.planId ?? 0)`))
	if err != nil || planID == 0 {
		t.Fatalf("the new draft is not the selected plan (%d, %v)", planID, err)
	}
	shot(t, ctx, "draft")

	// The corners around the map's centre, in screen pixels.
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.getElementById("map").getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()`))
	if err != nil {
		t.Fatal(err)
	}
	cx, cy := box[0], box[1]
	draw := func(corners ...[2]float64) []chromedp.Action[chromedp.Void] {
		steps := []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.ID("grid-draw"))}
		for _, c := range append(corners, corners[0]) { // the first corner again closes the ring
			steps = append(steps, chromedp.MouseClickXY(cx+c[0], cy+c[1]))
		}
		return append(steps, chromedp.WaitVisible(chromedp.ID("grid-form")))
	}
	fill := []chromedp.Action[chromedp.Void]{
		retype("#grid-name", "测试网格"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#grid-units").options[0].selected = true`),
		chromedp.Click(chromedp.ID("grid-save")),
	}

	// A crossed outline: refused, and marked on the map where the edges cross; the shape stays.
	if err := chromedp.Do(ctx, append(draw([2]float64{-60, -60}, [2]float64{60, 60}, [2]float64{60, -60}, [2]float64{-60, 60}), fill...)...); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, "the crossing marked on the map and in the form", `document.querySelector(".planner-problem") && document.querySelector("#grid-geometry-error li")`); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "refused")
	var grids struct {
		Features []struct {
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	path := fmt.Sprintf("/api/v1/plans/%d/grids", planID)
	srv.MustDo(t, http.MethodGet, path, nil, &grids)
	before := len(grids.Features)
	for _, f := range grids.Features {
		if f.Properties["name"] == "测试网格" {
			t.Fatal("the refused grid was saved")
		}
	}

	// Drawn again, square: saved.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("grid-cancel"))); err != nil {
		t.Logf("no cancel button (%v): drawing over the refused shape", err)
	}
	if err := chromedp.Do(ctx, append(draw([2]float64{-60, -60}, [2]float64{60, -60}, [2]float64{60, 60}, [2]float64{-60, 60}), fill...)...); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, "the grid saved", `document.querySelector("#planner-message.ok")`); err != nil {
		t.Fatal(err)
	}
	srv.MustDo(t, http.MethodGet, path, nil, &grids)
	if len(grids.Features) != before+1 {
		t.Fatalf("the draft has %d grids, want %d", len(grids.Features), before+1)
	}
	shot(t, ctx, "saved")

	// Publish: the new grid overlaps the plan's others, so the report asks to confirm.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("plan-publish"))); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, "the confirmation or the active plan", fmt.Sprintf(`document.getElementById("plan-publish-confirm")?.offsetParent || document.querySelector('#plan-list li.active[data-plan-id="%d"]')`, planID)); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "report")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("plan-publish-confirm"))); err != nil {
		t.Logf("published without confirming: %v", err)
	}
	if err := waitJS(ctx, "the plan marked active", fmt.Sprintf(`document.querySelector('#plan-list li.active[data-plan-id="%d"] button[aria-current="true"]')`, planID)); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "active")
	var plan struct {
		Status string `json:"status"`
	}
	srv.MustDo(t, http.MethodGet, fmt.Sprintf("/api/v1/plans/%d", planID), nil, &plan)
	if plan.Status != "active" {
		t.Errorf("the plan published is %q, want active", plan.Status)
	}
	// The desk's map follows at once: the active grids now hold the new one.
	if err := waitJS(ctx, "the new grid on the desk's map", `(() => { let n = 0; window.liftrescue.map.eachLayer((l) => { if (l.feature?.properties?.name === "测试网格") n++; }); return n > 0; })()`); err != nil {
		t.Error(err)
	}
}
