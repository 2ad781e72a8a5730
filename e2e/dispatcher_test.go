package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/liftrescue/liftrescue/loadgen"
)

// TestDispatcherFindsElevator is the dispatcher's first minute of a call: sign in, type the code
// the caller reads off the sign in the car, press Enter, read the address back to the caller; a
// misread digit offers the near codes instead, one click away; and the page speaks English for a
// colleague who needs it.
func TestDispatcherFindsElevator(t *testing.T) {
	srv := startDemo(t)
	ctx := newBrowser(t, 1400, 900)
	el, misread, near := misreadCode(t, srv)

	if err := openConsole(ctx, srv); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "signin")
	if err := signIn(ctx, "dispatcher", demoPasswords["dispatcher"]); err != nil {
		t.Fatal(err)
	}
	// The code box has the focus: a dispatcher on the phone types the code at once.
	if err := waitJS(ctx, "the focus in the code box", `document.activeElement?.id === "code"`); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "signed-in")

	// KeyEvent types into whatever has the focus, as the keyboard does.
	if err := chromedp.Do(ctx, chromedp.KeyEvent(el.RescueCode+kb.Enter), chromedp.WaitVisible(chromedp.ID("elevator"))); err != nil {
		t.Fatalf("type %s and Enter: %v", el.RescueCode, err)
	}
	if err := waitText(ctx, "#address", el.Address); err != nil {
		t.Fatal(err)
	}
	if err := waitText(ctx, "#facts dd", el.RescueCode); err != nil { // the first fact is the code
		t.Fatal(err)
	}
	shot(t, ctx, "found")

	// A misread last digit: no such elevator, and the codes that share the rest are offered.
	if err := chromedp.Do(ctx, retype("#code", misread+kb.Enter)); err != nil {
		t.Fatal(err)
	}
	if err := waitText(ctx, "#message", "未找到该编码的电梯"); err != nil {
		t.Fatal(err)
	}
	const offered = `[...document.querySelectorAll("#suggestions li button")].map((b) => b.textContent.split(" — ")[0])`
	if err := waitJS(ctx, "the suggestions", fmt.Sprintf(`%s.length === %d`, offered, len(near))); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](offered))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, near) {
		t.Errorf("suggestions for %s: got %v, want %v", misread, got, near)
	}
	if hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("elevator").hidden`)); err != nil || !hidden {
		t.Errorf("the elevator found before is still shown under the misread code (hidden %v, %v)", hidden, err)
	}
	shot(t, ctx, "suggestions")

	// The caller confirms the right one: a click shows it.
	i := slices.Index(got, el.RescueCode)
	if i < 0 {
		t.Fatalf("the code %s is not among the suggestions %v", el.RescueCode, got)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf("#suggestions li:nth-child(%d) button", i+2)))); err != nil {
		t.Fatal(err) // +2: the first item is the heading, and nth-child counts from 1
	}
	if err := waitText(ctx, "#address", el.Address); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, "the picked code in the code box", `document.getElementById("code").value === `+jsString(el.RescueCode)); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "suggestion-picked")

	// The language switch turns the page into English, the shown elevator too, and back.
	for _, lang := range []struct{ code, title, firstFact, button string }{
		{"en", "Elevator emergency rescue dispatch", "Rescue code", "中文"},
		{"zh-CN", "电梯应急救援调度", "救援识别码", "English"},
	} {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("lang"))); err != nil {
			t.Fatal(err)
		}
		for _, c := range [][2]string{{"header h1", lang.title}, {"#facts dt", lang.firstFact}, {"#lang", lang.button}} {
			if err := waitText(ctx, c[0], c[1]); err != nil {
				t.Error(err)
			}
		}
		if err := waitJS(ctx, "the document's language", `document.documentElement.lang === `+jsString(lang.code)); err != nil {
			t.Error(err)
		}
		shot(t, ctx, "lang-"+lang.code)
	}
}

// misreadCode picks an elevator of the demo and a misreading of its code: the last digit changed
// to one no elevator has. It returns the codes the page should offer for it, as the API lists
// them for the rest of the code (the page asks the same question).
func misreadCode(t *testing.T, srv *Server) (el elevator, misread string, near []string) {
	t.Helper()
	var list struct {
		Items []elevator `json:"items"`
	}
	srv.MustDo(t, http.MethodGet, "/api/v1/elevators?limit=20", nil, &list)
	for _, el := range list.Items {
		code := el.RescueCode
		if len(code) < 5 { // the page suggests only for codes of 5 digits or more
			continue
		}
		prefix := code[:len(code)-1]
		for d := '0'; d <= '9'; d++ {
			misread := prefix + string(d)
			if misread == code {
				continue
			}
			err := srv.Do(t.Context(), http.MethodGet, "/api/v1/elevators/"+misread, nil, nil)
			var apiErr *loadgen.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
				continue // an elevator has it, or the API failed: try another
			}
			var page struct {
				Items []elevator `json:"items"`
			}
			srv.MustDo(t, http.MethodGet, "/api/v1/elevators?limit=5&q="+url.QueryEscape(prefix), nil, &page)
			for _, e := range page.Items {
				near = append(near, e.RescueCode)
			}
			if !slices.Contains(near, code) {
				t.Fatalf("the API does not list %s among the codes that start with %s: %v", code, prefix, near)
			}
			return el, misread, near
		}
	}
	t.Fatalf("no elevator among %d has a code whose last digit can be misread", len(list.Items))
	return
}
