package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/gps"
)

const testIngestKey = "gateway-key-0123456789"

// van registers a vehicle with a tracker through the API and returns it as answered: with the
// device secret the store made up.
func (f *fixture) van(t *testing.T, plate, device string) liftrescue.Vehicle {
	t.Helper()
	rec := f.do("POST", "/api/v1/vehicles", "application/json",
		strings.NewReader(fmt.Sprintf(`{"team_id":%d,"plate":%q,"device_id":%q,"on_duty":true}`, f.team.ID, plate, device)))
	if rec.Code != http.StatusCreated {
		t.Fatalf("create vehicle: %d %s", rec.Code, rec.Body)
	}
	var v liftrescue.Vehicle
	mustJSON(t, rec, &v)
	if len(v.DeviceSecret) < liftrescue.MinDeviceSecret {
		t.Fatalf("vehicle created without a device secret: %+v", v)
	}
	return v
}

func mustJSON(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("%s: %v", rec.Body, err)
	}
}

// post sends a batch with an optional Authorization header.
func (f *fixture) post(auth, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/api/v1/positions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	f.server.ServeHTTP(rec, req)
	return rec
}

func fixJSON(device, token string, at time.Time, lat, lon float64) string {
	tok := ""
	if token != "" {
		tok = fmt.Sprintf(`,"token":%q`, token)
	}
	return fmt.Sprintf(`{"device_id":%q,"lat":%v,"lon":%v,"time":%q,"speed_kmh":32.5,"heading":90%s}`, device, lat, lon, at.Format(time.RFC3339), tok)
}

func batch(fixes ...string) string { return `{"positions":[` + strings.Join(fixes, ",") + `]}` }

type reply struct {
	Accepted int                 `json:"accepted"`
	Rejected []liftrescue.Detail `json:"rejected"`
}

func (r reply) String() string {
	var parts []string
	for _, d := range r.Rejected {
		parts = append(parts, fmt.Sprintf("%d %s: %s", *d.Index, d.Field, d.Reason))
	}
	return fmt.Sprintf("%d accepted; %s", r.Accepted, strings.Join(parts, "; "))
}

func TestPostPositions(t *testing.T) {
	f := newFixture(t)
	a := f.van(t, "鲁D12345", "013912345678")
	b := f.van(t, "鲁D54321", "867530912345678")
	at := f.now.Add(-5 * time.Second)
	for _, c := range []struct {
		name, auth, body string
		status           int
		want             string // the reply, or the error code
	}{
		{"no credentials at all", "", batch(fixJSON(a.DeviceID, "", at, 34.86, 117.55)), 401, "unauthorized"},
		{"a token per fix", "", batch(fixJSON(a.DeviceID, a.DeviceSecret, at, 34.86, 117.55), fixJSON(b.DeviceID, b.DeviceSecret, at, 34.87, 117.56)), 200, "2 accepted; "},
		{"the device secret as bearer", "Bearer " + a.DeviceSecret, batch(fixJSON("13912345678", "", at.Add(time.Second), 34.86, 117.551)), 200, "1 accepted; "},
		{"one device's secret does not cover another", "Bearer " + a.DeviceSecret, batch(fixJSON(b.DeviceID, "", at.Add(time.Second), 34.87, 117.56)), 200, "0 accepted; 0 token: bad device secret"},
		{"the ingest key covers all", "Bearer " + testIngestKey, batch(fixJSON(b.DeviceID, "", at.Add(2*time.Second), 34.87, 117.561)), 200, "1 accepted; "},
		{"bad fixes named by their place in the batch", "", batch(
			fixJSON(a.DeviceID, "wrong-secret", at, 34.86, 117.55),
			fixJSON(a.DeviceID, a.DeviceSecret, at, 0, 0),
			fixJSON("139000", a.DeviceSecret, at, 34.86, 117.55),
			fixJSON(a.DeviceID, a.DeviceSecret, at.Add(3*time.Second), 34.86, 117.552),
			`{"device_id":"x"}`), 200,
			"1 accepted; 0 token: bad device secret; 1 lat: 0/0 is no position; 2 device_id: unknown device; 4 time: missing"},
		{"not JSON", "", "positions", 400, "bad_request"},
		{"an unknown member", "", `{"positions":[],"extra":1}`, 400, "bad_request"},
	} {
		rec := f.post(c.auth, c.body)
		var got string
		if rec.Code == http.StatusOK {
			var r reply
			mustJSON(t, rec, &r)
			got = r.String()
		} else {
			var e struct{ Error struct{ Code string } }
			mustJSON(t, rec, &e)
			got = e.Error.Code
		}
		if rec.Code != c.status || !strings.HasPrefix(got, strings.SplitN(c.want, ":", 2)[0]) || (rec.Code == 200 && !sameReasons(got, c.want)) {
			t.Errorf("%s: %d %s\nwant %d %s", c.name, rec.Code, got, c.status, c.want)
		}
	}
	st := f.ingest.Stats()
	if st.Accepted != 5 || st.Rejected["bad device secret"] != 2 || st.Rejected["unknown device"] != 1 {
		t.Errorf("ingest stats = %+v", st)
	}
}

// sameReasons compares replies on the fields and reasons, which are what a sender acts on.
func sameReasons(got, want string) bool {
	norm := func(s string) string {
		var out []string
		for _, part := range strings.Split(s, "; ") {
			field, _, _ := strings.Cut(part, ":")
			out = append(out, field)
		}
		return strings.Join(out, "; ")
	}
	return norm(got) == norm(want)
}

func TestLiveVehicles(t *testing.T) {
	f := newFixture(t)
	a := f.van(t, "鲁D12345", "013912345678")
	f.van(t, "鲁D54321", "867530912345678")
	spare := f.do("POST", "/api/v1/vehicles", "application/json", strings.NewReader(fmt.Sprintf(`{"team_id":%d,"plate":"鲁D00001"}`, f.team.ID)))
	if spare.Code != http.StatusCreated || !strings.Contains(spare.Body.String(), `"device_secret":""`) {
		t.Fatalf("vehicle without tracker: %d %s", spare.Code, spare.Body)
	}
	at := f.now.Add(-30 * time.Second)
	if rec := f.post("", batch(fixJSON(a.DeviceID, a.DeviceSecret, at, 34.86, 117.55))); rec.Code != 200 {
		t.Fatalf("post: %d %s", rec.Code, rec.Body)
	}
	list := func(query string) []liftrescue.LiveVehicle {
		t.Helper()
		rec := f.do("GET", "/api/v1/vehicles"+query, "", nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /api/v1/vehicles%s: %d %s", query, rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), "device_secret") {
			t.Fatalf("the live list shows device secrets: %s", rec.Body)
		}
		var page liftrescue.Page[liftrescue.LiveVehicle]
		mustJSON(t, rec, &page)
		if page.Total != len(page.Items) {
			t.Errorf("total %d for %d items", page.Total, len(page.Items))
		}
		return page.Items
	}
	statuses := func(vs []liftrescue.LiveVehicle) string {
		var out []string
		for _, v := range vs {
			out = append(out, v.Plate+" "+string(v.Status))
		}
		return strings.Join(out, ", ")
	}
	if got := statuses(list("")); got != "鲁D12345 live, 鲁D54321 no_fix, 鲁D00001 no_fix" {
		t.Errorf("vehicles = %s", got)
	}
	vs := list("?status=live")
	if len(vs) != 1 || vs[0].Position == nil || vs[0].Position.Lat != 34.86 || vs[0].Position.AgeS != 30 ||
		*vs[0].Position.SpeedKmh != 32.5 || vs[0].Position.Cell == "" {
		t.Fatalf("live vehicles = %+v", vs)
	}
	f.now = f.now.Add(2 * time.Minute)
	if got := statuses(list("?status=stale,offline")); got != "鲁D12345 stale" {
		t.Errorf("after 150 s of silence: %s", got)
	}
	f.now = f.now.Add(20 * time.Minute)
	if got := statuses(list("?status=offline&team_id=" + fmt.Sprint(f.team.ID))); got != "鲁D12345 offline" {
		t.Errorf("after 20 min of silence: %s", got)
	}
	if rec := f.do("GET", "/api/v1/vehicles?status=lost", "", nil); rec.Code != http.StatusBadRequest {
		t.Errorf("unknown status: %d", rec.Code)
	}

	// One vehicle: the registry record, secret included, with where it is.
	rec := f.do("GET", fmt.Sprintf("/api/v1/vehicles/%d", a.ID), "", nil)
	var one struct {
		liftrescue.Vehicle
		Status   liftrescue.VehicleStatus
		Position *liftrescue.LivePosition
	}
	mustJSON(t, rec, &one)
	if one.DeviceSecret != a.DeviceSecret || one.Status != liftrescue.StatusOffline || one.Position == nil {
		t.Errorf("GET vehicle = %s", rec.Body)
	}

	// A new tracker on the vehicle: the old secret no longer works, the new one does.
	rec = f.do("PUT", fmt.Sprintf("/api/v1/vehicles/%d", a.ID), "application/json",
		strings.NewReader(fmt.Sprintf(`{"team_id":%d,"plate":"鲁D12345","device_id":"013900000009","device_secret":"new-secret-1","on_duty":true}`, f.team.ID)))
	if rec.Code != http.StatusOK {
		t.Fatalf("PUT vehicle: %d %s", rec.Code, rec.Body)
	}
	at = f.now.Add(-time.Second)
	var r reply
	mustJSON(t, f.post("", batch(fixJSON("013900000009", a.DeviceSecret, at, 34.86, 117.55), fixJSON("013900000009", "new-secret-1", at, 34.861, 117.55),
		fixJSON(a.DeviceID, a.DeviceSecret, at, 34.86, 117.55))), &r)
	if got := r.String(); got != "1 accepted; 0 token: bad device secret; 2 device_id: unknown device" {
		t.Errorf("after the tracker changed: %s", got)
	}

	// Deleted, it leaves the map.
	if rec := f.do("DELETE", fmt.Sprintf("/api/v1/vehicles/%d", a.ID), "", nil); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d", rec.Code)
	}
	if got := statuses(list("")); got != "鲁D54321 no_fix, 鲁D00001 no_fix" {
		t.Errorf("after delete: %s", got)
	}
	if _, ok := f.index.Vehicle(a.ID); ok {
		t.Error("the deleted vehicle is still in the index")
	}
}

func TestVehicleTrack(t *testing.T) {
	f := newFixture(t)
	a := f.van(t, "鲁D12345", "013912345678")
	var fixes []string
	for i := range 5 {
		fixes = append(fixes, fixJSON(a.DeviceID, a.DeviceSecret, f.now.Add(time.Duration(i-10)*time.Minute), 34.86+float64(i)/1000, 117.55))
	}
	if rec := f.post("", batch(fixes...)); rec.Code != 200 {
		t.Fatalf("post: %d %s", rec.Code, rec.Body)
	}
	if err := f.ingest.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	track := func(query string) (api struct {
		Positions []liftrescue.Position
		Truncated bool
	}, code int) {
		rec := f.do("GET", fmt.Sprintf("/api/v1/vehicles/%d/track%s", a.ID, query), "", nil)
		if rec.Code == http.StatusOK {
			mustJSON(t, rec, &api)
		}
		return api, rec.Code
	}
	if tr, code := track(""); code != 200 || len(tr.Positions) != 5 || tr.Truncated || tr.Positions[0].Lat != 34.86 {
		t.Errorf("last hour: %d %+v", code, tr)
	}
	from := f.now.Add(-8 * time.Minute).In(time.FixedZone("CST", 8*3600)).Format(time.RFC3339)
	if tr, _ := track("?from=" + url.QueryEscape(from) + "&limit=2"); len(tr.Positions) != 2 || !tr.Truncated || tr.Positions[0].Lat != 34.862 {
		t.Errorf("from -8 min, 2 points: %+v", tr)
	}
	for _, q := range []string{"?from=yesterday", "?limit=0", "?from=2026-11-21T03:00:00Z&to=2026-11-21T01:00:00Z"} {
		if _, code := track(q); code != http.StatusBadRequest && code != http.StatusUnprocessableEntity {
			t.Errorf("track%s: %d, want a 4xx", q, code)
		}
	}
	if rec := f.do("GET", "/api/v1/vehicles/999/track", "", nil); rec.Code != http.StatusNotFound {
		t.Errorf("track of no vehicle: %d", rec.Code)
	}
	rec := f.do("GET", "/api/v1/ingest", "", nil)
	var st struct{ Accepted, Flushed int64 }
	mustJSON(t, rec, &st)
	if st.Accepted != 5 || st.Flushed != 5 {
		t.Errorf("ingest stats = %s", rec.Body)
	}
}

func TestPostPositionsWhileHistoryIsBehind(t *testing.T) {
	// The history is written only when told, and three positions fill its backlog.
	f := newFixture(t, func(c *gps.PipelineConfig) { c.MaxBacklog = 3 })
	a := f.van(t, "鲁D12345", "013912345678")
	at := f.now.Add(-time.Minute)
	var r reply
	mustJSON(t, f.post("Bearer "+testIngestKey, batch(fixJSON(a.DeviceID, "", at, 34.86, 117.55), fixJSON(a.DeviceID, "", at.Add(time.Second), 34.86, 117.55))), &r)
	if r.Accepted != 2 {
		t.Fatalf("first batch: %s", r)
	}
	// A batch that finds room for some: those are taken, the rest named for sending again.
	mustJSON(t, f.post("Bearer "+testIngestKey, batch(fixJSON(a.DeviceID, "", at.Add(2*time.Second), 34.86, 117.55), fixJSON(a.DeviceID, "", at.Add(3*time.Second), 34.86, 117.55))), &r)
	if got := r.String(); got != "1 accepted; 1 : history backlog" {
		t.Fatalf("second batch: %s", got)
	}
	// A full backlog refuses the whole batch before reading it: 503, retry later.
	rec := f.post("Bearer "+testIngestKey, batch(fixJSON(a.DeviceID, "", at.Add(3*time.Second), 34.86, 117.55)))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"unavailable"`) {
		t.Fatalf("a batch while the history is behind: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if err := f.ingest.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec := f.post("Bearer "+testIngestKey, batch(fixJSON(a.DeviceID, "", at.Add(3*time.Second), 34.86, 117.55))); rec.Code != http.StatusOK {
		t.Fatalf("once written: %d %s", rec.Code, rec.Body)
	}
}

// TestIngestKeyIsNoAPIKey: a gateway's batches with the ingest key are not looked up as API keys,
// a database query a request that could only fail.
func TestIngestKeyIsNoAPIKey(t *testing.T) {
	f := newFixture(t)
	v := f.van(t, "鲁D12345", "860000000000001")
	at := f.now.Add(-time.Minute)
	before := f.keyLookups.Load() // the admin key that registered the van
	for i := range 3 {
		if rec := f.post("Bearer "+testIngestKey, batch(fixJSON(v.DeviceID, "", at.Add(time.Duration(i)*time.Second), 34.86, 117.55))); rec.Code != 200 {
			t.Fatalf("post with the ingest key: %d %s", rec.Code, rec.Body)
		}
	}
	if n := f.keyLookups.Load() - before; n != 0 {
		t.Errorf("%d API key lookups for batches with the ingest key, want 0", n)
	}
	f.post("Bearer not-the-ingest-key-0123456789", batch(fixJSON(v.DeviceID, "", at.Add(time.Minute), 34.86, 117.55)))
	if n := f.keyLookups.Load() - before; n != 1 {
		t.Errorf("%d API key lookups for a batch with another bearer, want 1", n)
	}
}
