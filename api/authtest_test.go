package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/api"
	"github.com/liftrescue/liftrescue/auth"
)

// testLimits let tests send requests as fast as they like; the limits have their own tests.
var testLimits = api.Limits{KeyRate: 1e9, KeyBurst: 1e9, UserRate: 1e9, UserBurst: 1e9, SignInRate: 1e9, SignInBurst: 1e9}

// testAuth returns the account service of a test server and an admin API key for its requests.
func testAuth(tb testing.TB, store liftrescue.AccountService) (*auth.Service, string) {
	tb.Helper()
	svc := auth.New(store, nil, nil)
	key, err := svc.NewAPIKey(context.Background(), &liftrescue.APIKey{Name: "test-admin", Scopes: liftrescue.Permissions, CreatedBy: "test"})
	if err != nil {
		tb.Fatal(err)
	}
	return svc, key
}

// signIn makes a user (once) with a test password, signs them in through the API, and returns the
// header pairs that carry the session: the cookie and the CSRF token.
func (w *rescueWorld) signIn(tb testing.TB, username string, role liftrescue.Role, district string) []string {
	tb.Helper()
	return signInWith(tb, w.server, w.auth, username, role, district)
}

const testPassword = "correct horse battery"

func signInWith(tb testing.TB, h http.Handler, svc *auth.Service, username string, role liftrescue.Role, district string) []string {
	tb.Helper()
	err := svc.CreateUser(context.Background(), &liftrescue.User{Username: username, Role: role, District: district}, testPassword)
	if err != nil && liftrescue.ErrorCode(err) != liftrescue.ECONFLICT {
		tb.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/api/v1/session", strings.NewReader(`{"username":"`+username+`","password":"`+testPassword+`"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		tb.Fatalf("sign in as %s = %d %s", username, rec.Code, rec.Body)
	}
	var info api.SessionInfo
	if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil || info.CSRFToken == "" {
		tb.Fatalf("sign in answer %s: %v", rec.Body, err)
	}
	var cookie string
	for _, c := range rec.Result().Cookies() {
		if c.Name == "liftrescue_session" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		tb.Fatalf("sign in set no session cookie: %v", rec.Header())
	}
	// An empty Authorization drops the test's admin key, which would otherwise win over the cookie.
	return []string{"Authorization", "", "Cookie", cookie, "X-CSRF-Token", info.CSRFToken}
}
