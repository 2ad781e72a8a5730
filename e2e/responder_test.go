package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
)

// incident is what the tests read of an incident from the API.
type incident struct {
	ID          int64  `json:"id"`
	State       string `json:"state"`
	Assignments []struct {
		ID    int    `json:"id"`
		Tier  int    `json:"tier"`
		State string `json:"state"`
	} `json:"assignments"`
	Notifications []struct {
		AssignmentID int    `json:"assignment_id"`
		Kind         string `json:"kind"`
		Body         string `json:"body"`
	} `json:"notifications"`
}

// responderToken matches the link in a unit's text: /r/ and the token (api/responder.go).
var responderToken = regexp.MustCompile(`/r/([A-Za-z0-9_-]{16,})`)

// TestResponderAccepts is the other end of a dispatch: the maintenance company's engineer gets the
// text, opens its link on a phone, sees where to go, and taps Accept; the centre then sees the
// job taken.
func TestResponderAccepts(t *testing.T) {
	// Without the simulated units (--rescues=false): they answer every notification, tier 1 after
	// 30 s at the earliest (demo/rescues.go), and a slow run could see its link answered by them.
	// Here the engineer alone answers, so the outcome is the test's.
	srv := startDemo(t, "--rescues=false")
	var list struct {
		Items []elevator `json:"items"`
	}
	srv.MustDo(t, http.MethodGet, "/api/v1/elevators?limit=1", nil, &list)
	el := list.Items[0]
	var opened incident
	srv.MustDo(t, http.MethodPost, "/api/v1/incidents",
		map[string]any{"elevator": el.RescueCode, "trapped": 2, "caller_phone": "13800000000"}, &opened)
	assignment, token := responderLink(t, srv, opened.ID)

	ctx := newBrowser(t, 390, 844)
	if err := chromedp.Do(ctx, chromedp.Emulate(device.IPhone13), chromedp.Navigate(srv.URL+"/r/"+token)); err != nil {
		t.Fatal(err)
	}
	if err := waitText(ctx, ".card .big", el.Address+" "+el.Building); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, "the job waiting for an answer", `document.getElementById("state")?.dataset.state === "notified"`); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("accept"))); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "link-opened")

	// The button posts its form: wait for the page that answers, as the phone would.
	resp, err := chromedp.RunResponse(ctx, chromedp.Tap(chromedp.ID("accept")))
	if err != nil {
		t.Fatalf("tap Accept: %v", err)
	}
	if resp.Status != http.StatusOK {
		t.Errorf("tap Accept: the answer is HTTP %d, want 200", resp.Status)
	}
	// The answer is the page again, saying what was recorded, in both languages.
	if err := waitJS(ctx, "the page to say the answer was recorded",
		`(document.querySelector(".card.done")?.textContent ?? "").includes("已记录") && document.querySelector(".card.done").textContent.includes("Recorded")`); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, "the job accepted", `document.getElementById("state")?.dataset.state === "accepted"`); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitNotPresent(chromedp.ID("accept"))); err != nil {
		t.Errorf("the page still offers to accept: %v", err)
	}
	shot(t, ctx, "accepted")

	var after incident
	srv.MustDo(t, http.MethodGet, fmt.Sprintf("/api/v1/incidents/%d", opened.ID), nil, &after)
	for _, a := range after.Assignments {
		if a.ID == assignment && a.State != "accepted" {
			t.Errorf("incident %d: the assignment %d the engineer accepted is %q in the API, want accepted", after.ID, a.ID, a.State)
		}
	}
	if after.State != "acknowledged" {
		t.Errorf("incident %d is %q after the tier-1 unit accepted, want acknowledged", after.ID, after.State)
	}
}

// responderLink returns a tier-1 assignment of the incident and the token of the link its unit
// was texted, as the admin key reads them in the incident's notifications. The texts are queued
// in the same transaction that opens the incident, so they are there as soon as it is.
func responderLink(t *testing.T, srv *Server, id int64) (assignment int, token string) {
	t.Helper()
	var inc incident
	srv.MustDo(t, http.MethodGet, fmt.Sprintf("/api/v1/incidents/%d", id), nil, &inc)
	for _, n := range inc.Notifications {
		m := responderToken.FindStringSubmatch(n.Body)
		if m == nil || n.Kind != "dispatch" {
			continue
		}
		for _, a := range inc.Assignments {
			if a.ID == n.AssignmentID && a.Tier == 1 {
				return a.ID, m[1]
			}
		}
	}
	t.Fatalf("incident %d: no tier-1 text with a responder link among %d notifications: %+v", id, len(inc.Notifications), inc.Notifications)
	return 0, ""
}
