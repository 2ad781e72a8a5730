package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/liftrescue/liftrescue/api"
)

// FuzzCredentials: whatever a client sends as its credential (an Authorization header, a session
// cookie, a sign-in body), the answer is never a 500 and never lets it in: a refusal is a 401,
// 403, 400, 422 or 429 with a JSON error, and only the right password signs in.
func FuzzCredentials(f *testing.F) {
	f.Add("Bearer lrk_aaaa", "liftrescue_session=abc", `{"username":"zhangmin","password":"wrong"}`)
	f.Add("Basic YWRtaW46YWRtaW4=", "", `{"username":"zhangmin","password":"`+testPassword+`x"}`)
	f.Add("bearer ", "liftrescue_session=", `{"username":"","password":""}`)
	f.Add("Bearer "+strings.Repeat("a", 5000), "liftrescue_session=\x00", `{"username":"zhangmin"`)
	f.Add("", "a=b; liftrescue_session=x; liftrescue_session=y", `{"username":["x"]}`)
	f.Add("Bearer lrk_\xff", "", "\xff")
	w := newRescueWorld(f)
	w.signIn(f, "zhangmin", "dispatcher", "") // the user exists
	f.Fuzz(func(t *testing.T, authorization, cookie, body string) {
		header := []string{"Authorization", authorization, "Cookie", cookie}
		for _, rec := range []struct{ method, path, body string }{
			{"GET", "/api/v1/incidents", ""},
			{"POST", "/api/v1/incidents", `{"elevator":"123456"}`},
			{"POST", "/api/v1/session", body},
		} {
			got := w.do(rec.method, rec.path, rec.body, header...)
			if got.Code < 400 && !(rec.path == "/api/v1/session" && strings.Contains(body, testPassword)) {
				t.Fatalf("%s %s with %q / %q / %q = %d: let in", rec.method, rec.path, authorization, cookie, body, got.Code)
			}
			if got.Code >= 500 {
				t.Fatalf("%s %s with %q / %q / %q = %d %s", rec.method, rec.path, authorization, cookie, body, got.Code, got.Body)
			}
			var e api.ErrorBody
			if got.Code >= 400 && (json.Unmarshal(got.Body.Bytes(), &e) != nil || e.Error.Code == "") {
				t.Fatalf("%s %s = %d without a JSON error: %s", rec.method, rec.path, got.Code, got.Body)
			}
		}
	})
}
