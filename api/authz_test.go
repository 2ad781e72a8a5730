package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/api"
	"github.com/liftrescue/liftrescue/auth"
)

// access is who may use a route, as this test states it independently of the route table: a
// permission, "public" or "signed_in"; district routes act on one elevator or incident, which a
// district's staff may touch in their own district only.
type access struct {
	perm     liftrescue.Permission
	district bool
	// own: the route checks a credential of its own (a password, a device secret, a link), so
	// its 401s and 403s to those allowed in are its own business.
	own bool
}

const (
	public   liftrescue.Permission = "public"
	signedIn liftrescue.Permission = "signed_in"
)

// policy is the authorization policy, route by route. A route the server answers that is not here
// fails the test: nobody can add a route without deciding who may use it.
var policy = map[string]access{
	"GET /healthz":          {perm: public},
	"GET /readyz":           {perm: public},
	"GET /api/openapi.json": {perm: public},
	"GET /api/v1/version":   {perm: public},

	"GET /api/v1/districts":        {perm: liftrescue.PermRead},
	"GET /api/v1/districts/{code}": {perm: liftrescue.PermRead},
	"PUT /api/v1/districts/{code}": {perm: liftrescue.PermRegistry},

	"GET /api/v1/elevators":                 {perm: liftrescue.PermRead},
	"POST /api/v1/elevators":                {perm: liftrescue.PermRegistry},
	"GET /api/v1/elevators/{code}":          {perm: liftrescue.PermRead, district: true},
	"GET /api/v1/map/elevators":             {perm: liftrescue.PermRead}, // a district's account sees its own
	"PUT /api/v1/elevators/{code}":          {perm: liftrescue.PermRegistry, district: true},
	"DELETE /api/v1/elevators/{code}":       {perm: liftrescue.PermRegistry, district: true},
	"GET /api/v1/public/elevators/{code}":   {perm: public},
	"GET /api/v1/organizations":             {perm: liftrescue.PermRead},
	"POST /api/v1/organizations":            {perm: liftrescue.PermRegistry},
	"GET /api/v1/organizations/{id}":        {perm: liftrescue.PermRead},
	"PUT /api/v1/organizations/{id}":        {perm: liftrescue.PermRegistry},
	"DELETE /api/v1/organizations/{id}":     {perm: liftrescue.PermRegistry},
	"GET /api/v1/teams":                     {perm: liftrescue.PermRead},
	"POST /api/v1/teams":                    {perm: liftrescue.PermRegistry},
	"GET /api/v1/teams/{id}":                {perm: liftrescue.PermRead},
	"PUT /api/v1/teams/{id}":                {perm: liftrescue.PermRegistry},
	"DELETE /api/v1/teams/{id}":             {perm: liftrescue.PermRegistry},
	"GET /api/v1/vehicles":                  {perm: liftrescue.PermRead},
	"POST /api/v1/vehicles":                 {perm: liftrescue.PermRegistry},
	"GET /api/v1/vehicles/{id}":             {perm: liftrescue.PermRead},
	"PUT /api/v1/vehicles/{id}":             {perm: liftrescue.PermRegistry},
	"DELETE /api/v1/vehicles/{id}":          {perm: liftrescue.PermRegistry},
	"GET /api/v1/vehicles/{id}/track":       {perm: liftrescue.PermRead},
	"POST /api/v1/import/elevators":         {perm: liftrescue.PermRegistry},
	"POST /api/v1/import/districts":         {perm: liftrescue.PermRegistry},
	"POST /api/v1/import/organizations":     {perm: liftrescue.PermRegistry},
	"POST /api/v1/positions":                {perm: public, own: true}, // device secrets
	"GET /api/v1/ingest":                    {perm: liftrescue.PermRead},
	"GET /api/v1/stream":                    {perm: liftrescue.PermRead},
	"POST /api/v1/incidents":                {perm: liftrescue.PermOpenIncident},
	"GET /api/v1/incidents":                 {perm: liftrescue.PermRead},
	"GET /api/v1/incidents/{id}":            {perm: liftrescue.PermRead, district: true},
	"GET /api/v1/incidents/{id}/candidates": {perm: liftrescue.PermRead, district: true},
	"POST /api/v1/incidents/{id}/actions":   {perm: liftrescue.PermDispatch, district: true},
	"GET /api/v1/dispatch/policy":           {perm: liftrescue.PermRead},
	"POST /api/v1/alarms":                   {perm: liftrescue.PermAlarms},
	"GET /api/v1/alarms/quarantine":         {perm: liftrescue.PermRead},
	"GET /api/v1/terminals":                 {perm: liftrescue.PermRead}, // a district's account sees its own
	"GET /api/v1/terminals/summary":         {perm: liftrescue.PermRead},
	"GET /api/v1/terminals/{id}":            {perm: liftrescue.PermRead},
	"PUT /api/v1/terminals/{id}":            {perm: liftrescue.PermRegistry},
	"DELETE /api/v1/terminals/{id}":         {perm: liftrescue.PermRegistry},
	"GET /api/v1/elevators/{code}/faults":   {perm: liftrescue.PermRead, district: true},
	"GET /api/v1/faults/flagged":            {perm: liftrescue.PermRead},
	"GET /r/{token}":                        {perm: public, own: true}, // the link is the credential
	"POST /r/{token}":                       {perm: public, own: true},

	"POST /api/v1/session":         {perm: public, own: true},
	"GET /api/v1/session":          {perm: signedIn},
	"DELETE /api/v1/session":       {perm: signedIn},
	"PUT /api/v1/session/password": {perm: signedIn, own: true},
	"GET /api/v1/users":            {perm: liftrescue.PermAccounts},
	"POST /api/v1/users":           {perm: liftrescue.PermAccounts},
	"GET /api/v1/users/{id}":       {perm: liftrescue.PermAccounts},
	"PUT /api/v1/users/{id}":       {perm: liftrescue.PermAccounts},
	"GET /api/v1/keys":             {perm: liftrescue.PermAccounts},
	"POST /api/v1/keys":            {perm: liftrescue.PermAccounts},
	"DELETE /api/v1/keys/{id}":     {perm: liftrescue.PermAccounts},
	"GET /api/v1/audit":            {perm: liftrescue.PermAudit},

	"GET /api/v1/grids":                      {perm: liftrescue.PermRead},
	"GET /api/v1/plans":                      {perm: liftrescue.PermRead},
	"POST /api/v1/plans":                     {perm: liftrescue.PermGrids},
	"GET /api/v1/plans/{id}":                 {perm: liftrescue.PermRead},
	"PUT /api/v1/plans/{id}":                 {perm: liftrescue.PermGrids},
	"DELETE /api/v1/plans/{id}":              {perm: liftrescue.PermGrids},
	"GET /api/v1/plans/{id}/grids":           {perm: liftrescue.PermRead},
	"POST /api/v1/plans/{id}/grids":          {perm: liftrescue.PermGrids},
	"GET /api/v1/plans/{id}/grids/{grid}":    {perm: liftrescue.PermRead},
	"PUT /api/v1/plans/{id}/grids/{grid}":    {perm: liftrescue.PermGrids},
	"DELETE /api/v1/plans/{id}/grids/{grid}": {perm: liftrescue.PermGrids},
	"GET /api/v1/plans/{id}/check":           {perm: liftrescue.PermRead},
	"POST /api/v1/plans/{id}/publish":        {perm: liftrescue.PermGrids},
	"GET /api/v1/plans/{id}/coverage":        {perm: liftrescue.PermRead},
	"GET /api/v1/plans/{id}/whatif":          {perm: liftrescue.PermRead},
}

// caller is one row of the matrix: how it proves itself, and what it may do.
type caller struct {
	name     string
	role     liftrescue.Role         // for a person
	scopes   []liftrescue.Permission // for an API key
	district string
}

func (c caller) can(perm liftrescue.Permission) bool {
	switch {
	case perm == public:
		return true
	case c.name == "anonymous":
		return false
	case perm == signedIn:
		return true
	case c.district != "" && (perm == liftrescue.PermRegistry || perm == liftrescue.PermAccounts || perm == liftrescue.PermGrids):
		return false // kept city-wide
	case c.role != "":
		return slices.Contains(c.role.Permissions(), perm)
	}
	return slices.Contains(c.scopes, perm)
}

var callers = []caller{
	{name: "anonymous"},
	{name: "admin", role: liftrescue.RoleAdmin},
	{name: "dispatcher", role: liftrescue.RoleDispatcher},
	{name: "planner", role: liftrescue.RolePlanner},
	{name: "supervisor", role: liftrescue.RoleSupervisor},
	{name: "shizhong", role: liftrescue.RoleDispatcher, district: "370402"}, // where the incident is
	{name: "xuecheng", role: liftrescue.RoleDispatcher, district: "370403"}, // another district
	{name: "hotline-key", scopes: []liftrescue.Permission{liftrescue.PermRead, liftrescue.PermOpenIncident}},
	{name: "iot-key", scopes: []liftrescue.Permission{liftrescue.PermAlarms}},
	{name: "xuecheng-key", scopes: liftrescue.Permissions, district: "370403"},
}

// TestAuthorizationMatrix sends every route as every caller and checks the answer: 401 for an
// anonymous caller on a route that needs a credential, 403 for a caller without the permission
// or outside the district, anything else for the rest. Each caller gets a fresh world, as its
// writes (deletes, a sign-out) would spoil the next caller's.
func TestAuthorizationMatrix(t *testing.T) {
	routes := newRescueWorld(t).server.Routes()
	for _, r := range routes {
		if _, ok := policy[r]; !ok {
			t.Errorf("route %s is not in the authorization policy of this test: decide who may use it", r)
		}
	}
	for r := range policy {
		if !slices.Contains(routes, r) {
			t.Errorf("the policy names %s, which the server does not answer", r)
		}
	}
	// Signing out goes last: it ends the session the other routes use.
	slices.SortStableFunc(routes, func(a, b string) int {
		return boolInt(a == "DELETE /api/v1/session") - boolInt(b == "DELETE /api/v1/session")
	})
	for _, who := range callers {
		t.Run(who.name, func(t *testing.T) {
			w := newRescueWorld(t)
			inc := w.open(t, `{"elevator":"123456","trapped":1}`)
			header := w.credential(t, who)
			for _, r := range routes {
				a := policy[r]
				method, path, _ := strings.Cut(r, " ")
				path = strings.NewReplacer("{code}", "123456", "{id}", strconv.FormatInt(inc.ID, 10), "{token}", "not-a-link").Replace(path)
				body := ""
				if method != http.MethodGet && method != http.MethodDelete {
					body = "{}"
				}
				rec := w.do(method, path, body, header...)
				var want []int // the statuses allowed; nil means "not 401 nor 403"
				switch {
				case !who.can(a.perm) && who.name == "anonymous":
					want = []int{http.StatusUnauthorized}
				case !who.can(a.perm):
					want = []int{http.StatusForbidden}
				case a.district && who.district != "" && who.district != w.Elevator.District:
					want = []int{http.StatusForbidden}
				case a.own:
					continue
				}
				got := rec.Code
				if want == nil && (got == http.StatusUnauthorized || got == http.StatusForbidden) ||
					want != nil && !slices.Contains(want, got) {
					t.Errorf("%s as %s = %d, want %v (none = not 401/403)\n%.300s", r, who.name, got, want, rec.Body)
				}
				if got == http.StatusUnauthorized || got == http.StatusForbidden {
					var body api.ErrorBody
					if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
						t.Errorf("%s as %s: %d without a JSON error: %s", r, who.name, got, rec.Body)
					}
				}
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// credential returns the header pairs of a caller: a signed-in session or an API key; for the
// anonymous caller, an empty Authorization that drops the world's admin key.
func (w *rescueWorld) credential(tb testing.TB, who caller) []string {
	tb.Helper()
	switch {
	case who.name == "anonymous":
		return []string{"Authorization", ""}
	case who.role != "":
		return w.signIn(tb, who.name, who.role, who.district)
	}
	key, err := w.auth.NewAPIKey(context.Background(), &liftrescue.APIKey{Name: who.name, Scopes: who.scopes, District: who.district, CreatedBy: "test"})
	if err != nil {
		tb.Fatal(err)
	}
	return []string{"Authorization", "Bearer " + key}
}

// TestDistrictScoping: a district's dispatcher lists only their district's elevators and
// incidents, cannot ask for another's, and cannot open an incident on another's elevator.
func TestDistrictScoping(t *testing.T) {
	w := newRescueWorld(t)
	w.open(t, `{"elevator":"123456","trapped":1}`) // Shizhong
	w.open(t, `{"elevator":"223344","trapped":1}`) // Xuecheng
	xc := w.signIn(t, "xuecheng", liftrescue.RoleDispatcher, "370403")

	var incidents liftrescue.Page[liftrescue.Incident]
	w.call(t, 200, &incidents, "GET", "/api/v1/incidents", "", xc...)
	if len(incidents.Items) != 1 || incidents.Items[0].District != "370403" {
		t.Errorf("Xuecheng's dispatcher lists %+v, want Xuecheng's one incident", incidents.Items)
	}
	var elevators liftrescue.Page[liftrescue.Elevator]
	w.call(t, 200, &elevators, "GET", "/api/v1/elevators", "", xc...)
	for _, e := range elevators.Items {
		if e.District != "370403" {
			t.Errorf("Xuecheng's dispatcher sees elevator %s of %s", e.RescueCode, e.District)
		}
	}
	if rec := w.do("GET", "/api/v1/elevators?district=370402", "", xc...); rec.Code != 403 || !strings.Contains(rec.Body.String(), `"district":"370402"`) {
		t.Errorf("listing another district = %d %s, want 403 naming it", rec.Code, rec.Body)
	}
	rec := w.do("POST", "/api/v1/incidents", `{"elevator":"123456","trapped":1}`, xc...)
	if rec.Code != 403 {
		t.Errorf("opening on another district's elevator = %d %s, want 403", rec.Code, rec.Body)
	}
	// The units of every district stay visible: volunteers cross district lines.
	w.call(t, 200, nil, "GET", "/api/v1/organizations", "", xc...)
}

// TestSignIn covers the console's session: cookie flags, CSRF on writes, wrong passwords that lock
// the account, sign-out, and the audit lines of it all.
func TestSignIn(t *testing.T) {
	w := newRescueWorld(t)
	ctx := context.Background()
	if err := w.auth.CreateUser(ctx, &liftrescue.User{Username: "zhangmin", Name: "张敏", Role: liftrescue.RoleDispatcher}, testPassword); err != nil {
		t.Fatal(err)
	}
	anon := []string{"Authorization", ""}
	signIn := func(pw string) *httptest.ResponseRecorder {
		return w.do("POST", "/api/v1/session", `{"username":"ZhangMin ","password":"`+pw+`"}`, anon...)
	}
	rec := signIn(testPassword)
	if rec.Code != 200 {
		t.Fatalf("sign in = %d %s", rec.Code, rec.Body)
	}
	var cookie *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "liftrescue_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/", cookie)
	}
	var info api.SessionInfo
	mustJSON(t, rec, &info)
	if info.Principal.Name != "zhangmin" || info.Principal.Role != liftrescue.RoleDispatcher || info.CSRFToken == "" {
		t.Errorf("sign in answer = %+v", info)
	}
	session := []string{"Authorization", "", "Cookie", cookie.Name + "=" + cookie.Value}
	w.call(t, 200, nil, "GET", "/api/v1/incidents", "", session...)
	// A reloaded console gets its CSRF token back from the session.
	var again api.SessionInfo
	w.call(t, 200, &again, "GET", "/api/v1/session", "", session...)
	if again.CSRFToken != info.CSRFToken || again.Principal.Name != "zhangmin" {
		t.Errorf("GET /api/v1/session = %+v, want the session's CSRF token", again)
	}
	// A write without the CSRF token is what another site's form would send.
	if rec := w.do("POST", "/api/v1/incidents", `{"elevator":"123456","trapped":1}`, session...); rec.Code != 403 || !strings.Contains(rec.Body.String(), "X-CSRF-Token") {
		t.Errorf("write without CSRF token = %d %s, want 403", rec.Code, rec.Body)
	}
	if rec := w.do("POST", "/api/v1/incidents", `{"elevator":"123456","trapped":1}`, append(session, "X-CSRF-Token", "forged")...); rec.Code != 403 {
		t.Errorf("write with a wrong CSRF token = %d, want 403", rec.Code)
	}
	var inc liftrescue.Incident
	w.call(t, 201, &inc, "POST", "/api/v1/incidents", `{"elevator":"123456","trapped":1}`, append(session, "X-CSRF-Token", info.CSRFToken)...)
	if inc.Timeline[0].Actor != (liftrescue.Actor{Kind: liftrescue.ActorDispatcher, Name: "zhangmin"}) {
		t.Errorf("opened by %+v, want the signed-in dispatcher", inc.Timeline[0].Actor)
	}

	// Wrong passwords: the same answer as an unknown user, then a lock the right password does
	// not open.
	for i := 0; i < auth.LockAfter; i++ {
		if rec := signIn("wrong password " + strconv.Itoa(i)); rec.Code != 401 || !strings.Contains(rec.Body.String(), "wrong username or password") {
			t.Fatalf("wrong password %d = %d %s", i, rec.Code, rec.Body)
		}
	}
	if rec := w.do("POST", "/api/v1/session", `{"username":"nobody","password":"whatever it is"}`, anon...); rec.Code != 401 || !strings.Contains(rec.Body.String(), "wrong username or password") {
		t.Errorf("unknown user = %d %s, want the same 401", rec.Code, rec.Body)
	}
	rec = signIn(testPassword)
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), "locked_until") {
		t.Errorf("right password on a locked account = %d %s, want 403 with locked_until", rec.Code, rec.Body)
	}
	u, err := w.Store.FindUserByName(ctx, "zhangmin")
	if err != nil || u.FailedSignIns != auth.LockAfter || u.LockedUntil == nil {
		t.Errorf("user after %d failures = %+v, %v", auth.LockAfter, u, err)
	}

	// Signing out ends the session at once.
	w.call(t, 204, nil, "DELETE", "/api/v1/session", "", append(session, "X-CSRF-Token", info.CSRFToken)...)
	if rec := w.do("GET", "/api/v1/incidents", "", session...); rec.Code != 401 {
		t.Errorf("after sign-out = %d, want 401", rec.Code)
	}

	// The audit log has the sign-ins, the refusals and the write, with their actors.
	var audit liftrescue.Page[liftrescue.AuditEntry]
	w.call(t, 200, &audit, "GET", "/api/v1/audit?limit=100", "")
	var lines []string
	for _, e := range audit.Items {
		lines = append(lines, e.ActorName+" "+e.Action+" "+strconv.Itoa(e.Status))
	}
	for _, want := range []string{
		"zhangmin POST /api/v1/session 200",
		" POST /api/v1/session 401",
		" POST /api/v1/session 403",
		"zhangmin POST /api/v1/incidents 201",
		"zhangmin POST /api/v1/incidents 403",
		"zhangmin DELETE /api/v1/session 204",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("audit log lacks %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

// TestAPIKeys: an admin makes a key, the key is shown once and works within its scopes, a
// revoked key stops at once, and the keys' list never shows a key.
func TestAPIKeys(t *testing.T) {
	w := newRescueWorld(t)
	var made api.NewKey
	w.call(t, 201, &made, "POST", "/api/v1/keys", `{"name":"12345 热线","scopes":["read","incidents:open"]}`)
	if !strings.HasPrefix(made.Key, auth.KeyPrefix) || made.APIKey.ID == 0 || !strings.HasPrefix(made.Key, made.APIKey.Prefix) {
		t.Fatalf("new key = %+v", made)
	}
	hotline := []string{"Authorization", "Bearer " + made.Key}
	var inc liftrescue.Incident
	w.call(t, 201, &inc, "POST", "/api/v1/incidents", `{"elevator":"123456","trapped":1}`, hotline...)
	if inc.Timeline[0].Actor != (liftrescue.Actor{Kind: liftrescue.ActorCaller, Name: "12345 热线"}) {
		t.Errorf("opened by %+v, want the hotline", inc.Timeline[0].Actor)
	}
	if rec := w.do("POST", "/api/v1/incidents/"+strconv.FormatInt(inc.ID, 10)+"/actions", `{"action":"cancel","reason":"误报"}`, hotline...); rec.Code != 403 || !strings.Contains(rec.Body.String(), "incidents:act") {
		t.Errorf("hotline key cancelling = %d %s, want 403 naming the permission", rec.Code, rec.Body)
	}
	rec := w.do("GET", "/api/v1/keys", "")
	if rec.Code != 200 || strings.Contains(rec.Body.String(), made.Key) || strings.Contains(rec.Body.String(), `"hash"`) {
		t.Errorf("key list = %d %s, must not show keys or hashes", rec.Code, rec.Body)
	}
	w.call(t, 204, nil, "DELETE", "/api/v1/keys/"+strconv.FormatInt(made.APIKey.ID, 10), "")
	if rec := w.do("GET", "/api/v1/incidents", "", hotline...); rec.Code != 401 || !strings.Contains(rec.Body.String(), "revoked") {
		t.Errorf("revoked key = %d %s, want 401", rec.Code, rec.Body)
	}
	for _, bad := range []string{`{"name":"x","scopes":[]}`, `{"name":"x","scopes":["everything"]}`, `{"name":"","scopes":["read"]}`, `{"name":"x","scopes":["read"],"district":"33"}`} {
		if rec := w.do("POST", "/api/v1/keys", bad); rec.Code != 422 {
			t.Errorf("key %s = %d %s, want 422", bad, rec.Code, rec.Body)
		}
	}
}

// TestRateLimit: a key past its burst gets 429 with Retry-After, and other keys are not held up.
func TestRateLimit(t *testing.T) {
	w := newRescueWorld(t)
	srv := api.New(api.Config{Store: w.Store, Index: w.Index, Dispatch: w.Engine, Now: w.Clock.Now, Auth: w.auth,
		Limits: api.Limits{KeyRate: 1, KeyBurst: 3}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	get := func(key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/api/v1/districts", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}
	for i := 0; i < 3; i++ {
		if rec := get(w.key); rec.Code != 200 {
			t.Fatalf("request %d = %d", i, rec.Code)
		}
	}
	rec := get(w.key)
	if rec.Code != 429 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"code":"rate_limited"`) {
		t.Errorf("past the burst = %d %q %s, want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	other, err := w.auth.NewAPIKey(context.Background(), &liftrescue.APIKey{Name: "other", Scopes: []liftrescue.Permission{liftrescue.PermRead}})
	if err != nil {
		t.Fatal(err)
	}
	if rec := get(other); rec.Code != 200 {
		t.Errorf("another key = %d, want 200", rec.Code)
	}
}

// blockingStream holds every stream open until its request's context ends.
type blockingStream struct{}

func (blockingStream) ServeScoped(w http.ResponseWriter, r *http.Request, district string) error {
	<-r.Context().Done()
	return nil
}

// TestStreamEndsWithCredential: a live stream does not outlive the session or key it began with.
func TestStreamEndsWithCredential(t *testing.T) {
	defer api.SetRecheckEvery(20 * time.Millisecond)()
	w := newRescueWorld(t)
	srv := api.New(api.Config{Store: w.Store, Index: w.Index, Dispatch: w.Engine, Now: w.Clock.Now, Auth: w.auth,
		Stream: blockingStream{}, Limits: testLimits, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	open := func(header []string) <-chan int {
		done := make(chan int, 1)
		go func() { done <- serve(srv, "GET", "/api/v1/stream", "", header...).Code }()
		return done
	}
	ended := func(name string, done <-chan int) {
		t.Helper()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("%s: the stream is still open", name)
		}
	}
	session := signInWith(t, srv, w.auth, "zhangmin", liftrescue.RoleDispatcher, "")
	byCookie := open(session)
	key, err := w.auth.NewAPIKey(context.Background(), &liftrescue.APIKey{Name: "wall", Scopes: []liftrescue.Permission{liftrescue.PermRead}})
	if err != nil {
		t.Fatal(err)
	}
	byKey := open([]string{"Authorization", "Bearer " + key})
	select {
	case <-byCookie:
		t.Fatal("the stream ended while its session holds")
	case <-time.After(100 * time.Millisecond):
	}
	if rec := serve(srv, "DELETE", "/api/v1/session", "", session...); rec.Code != 204 {
		t.Fatalf("sign out = %d %s", rec.Code, rec.Body)
	}
	ended("after signing out", byCookie)
	keys, _ := w.Store.ListAPIKeys(context.Background())
	for _, k := range keys {
		if k.Name == "wall" {
			w.auth.RevokeAPIKey(context.Background(), k.ID)
		}
	}
	ended("after revoking the key", byKey)
}

// TestSecretsStayOutOfLogs: passwords, keys, session tokens and responder links never reach the
// log, nor the audit log.
func TestSecretsStayOutOfLogs(t *testing.T) {
	w := newRescueWorld(t)
	var logs strings.Builder
	srv := api.New(api.Config{Store: w.Store, Index: w.Index, Dispatch: w.Engine, Now: w.Clock.Now, Auth: w.auth, Limits: testLimits,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	session := signInWith(t, srv, w.auth, "zhangmin", liftrescue.RoleDispatcher, "")
	const link = "abcdefghijklmnopqrstuvwxyz234567"
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/r/" + link, ""},
		{"POST", "/r/" + link, `{"action":"accept"}`},
		{"GET", "/api/v1/incidents", ""},
		{"POST", "/api/v1/session", `{"username":"zhangmin","password":"` + testPassword + `"}`},
	} {
		req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+w.key)
		req.Header.Set("Cookie", session[3])
		srv.ServeHTTP(httptest.NewRecorder(), req)
	}
	var audit strings.Builder
	entries, err := w.Store.ListAudit(context.Background(), liftrescue.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	json.NewEncoder(&audit).Encode(entries)
	cookie := strings.TrimPrefix(session[3], "liftrescue_session=")
	for _, secret := range []string{link, testPassword, w.key, cookie} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds a secret %.12s…:\n%s", secret, logs.String())
		}
		if strings.Contains(audit.String(), secret) {
			t.Errorf("the audit log holds a secret %.12s…", secret)
		}
	}
	if !strings.Contains(logs.String(), "/r/…") {
		t.Errorf("the log does not show the redacted link:\n%s", logs.String())
	}
}

// scopeStream records the district a stream was served for.
type scopeStream struct{ got chan string }

func (s scopeStream) ServeScoped(w http.ResponseWriter, r *http.Request, district string) error {
	s.got <- district
	return nil
}

// TestStreamScopedToDistrict: a district's dispatcher gets a stream of their district, city-wide
// staff the whole city's.
func TestStreamScopedToDistrict(t *testing.T) {
	w := newRescueWorld(t)
	st := scopeStream{got: make(chan string, 1)}
	srv := api.New(api.Config{Store: w.Store, Index: w.Index, Dispatch: w.Engine, Now: w.Clock.Now, Auth: w.auth,
		Stream: st, Limits: testLimits, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, who := range []struct{ name, district string }{{"xuecheng", "370403"}, {"city", ""}} {
		header := signInWith(t, srv, w.auth, who.name, liftrescue.RoleDispatcher, who.district)
		serve(srv, "GET", "/api/v1/stream", "", header...)
		if got := <-st.got; got != who.district {
			t.Errorf("%s's stream is scoped to %q, want %q", who.name, got, who.district)
		}
	}
}

// TestResponderLinksOnlyForDispatchers: the links in the texts sent to units are credentials; a
// supervisor or a read-only key sees the texts without them, and no actions to take.
func TestResponderLinksOnlyForDispatchers(t *testing.T) {
	w := newRescueWorld(t)
	inc := w.open(t, `{"elevator":"123456","trapped":1}`)
	path := "/api/v1/incidents/" + strconv.FormatInt(inc.ID, 10)
	link := regexp.MustCompile(`/r/[a-z2-7]{16,}`)
	const allowed = `"allowed":["accept","arrived","cancel","decline","dispatch","en_route","escalate","note"]`
	if rec := w.do("GET", path, ""); !link.MatchString(rec.Body.String()) || !strings.Contains(rec.Body.String(), allowed) {
		t.Fatalf("the admin key sees no responder link in the texts, or not what it may do: %.500s", rec.Body)
	}
	for _, who := range []caller{{name: "supervisor", role: liftrescue.RoleSupervisor}, {name: "reader", scopes: []liftrescue.Permission{liftrescue.PermRead}}} {
		rec := w.do("GET", path, "", w.credential(t, who)...)
		if rec.Code != 200 || link.MatchString(rec.Body.String()) || !strings.Contains(rec.Body.String(), "/r/…") {
			t.Errorf("%s reads %d with the links: %.500s", who.name, rec.Code, rec.Body)
		}
		// Those who may not dispatch are offered no action.
		if strings.Contains(rec.Body.String(), `"allowed"`) {
			t.Errorf("%s is told of actions: %.500s", who.name, rec.Body)
		}
	}
}
