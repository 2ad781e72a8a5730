package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/api"
	"github.com/liftrescue/liftrescue/auth"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/liftrescue/liftrescue/gps"
	"github.com/liftrescue/liftrescue/live"
	"github.com/liftrescue/liftrescue/store/sqlite"
	"github.com/liftrescue/liftrescue/ui"
)

// fixture is a server on a fresh embedded database holding one district, a user unit, a
// maintenance company, a volunteer unit with a team, and one elevator with rescue code 123456.
type fixture struct {
	store  *sqlite.DB
	server *api.Server
	index  *geo.Index
	ingest *gps.Pipeline
	now    time.Time // the server's clock
	user   *liftrescue.Organization
	maint  *liftrescue.Organization
	vol    *liftrescue.Organization
	team   *liftrescue.Team
	lift   *liftrescue.Elevator
	auth   *auth.Service
	key    string // an admin API key, sent by do
	// keyLookups counts the API keys the auth service looked up in the store.
	keyLookups atomic.Int64
}

// countingAccounts counts FindAPIKey calls.
type countingAccounts struct {
	liftrescue.AccountService
	n *atomic.Int64
}

func (c countingAccounts) FindAPIKey(ctx context.Context, hash string) (*liftrescue.APIKey, error) {
	c.n.Add(1)
	return c.AccountService.FindAPIKey(ctx, hash)
}

// newFixture builds the fixture; options change the ingest pipeline's configuration.
func newFixture(t *testing.T, options ...func(*gps.PipelineConfig)) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "api.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.UpsertDistrict(ctx, &liftrescue.District{Code: "370402", Name: "市中区"}))
	f := &fixture{store: db}
	f.user = &liftrescue.Organization{Code: "91370400USER000001", Kind: liftrescue.OrgUserUnit, Name: "阳光物业", District: "370402", DutyPhones: []string{"0632-3311000"}}
	f.maint = &liftrescue.Organization{Code: "91370400MAINT00001", Kind: liftrescue.OrgMaintenance, Name: "枣庄电梯工程有限公司", District: "370402", DutyPhones: []string{"13800000001"}}
	f.vol = &liftrescue.Organization{Code: "91370400VOL0000001", Kind: liftrescue.OrgVolunteer, Name: "网格救援一站", District: "370402"}
	for _, o := range []*liftrescue.Organization{f.user, f.maint, f.vol} {
		must(db.CreateOrganization(ctx, o))
	}
	f.team = &liftrescue.Team{OrganizationID: f.vol.ID, Name: "一队", CertifiedStaff: 3, OnDuty: true}
	must(db.CreateTeam(ctx, f.team))
	f.lift = &liftrescue.Elevator{RescueCode: "123456", EquipmentCode: "31103704022015000001", Address: "市中区光明路128号",
		Building: "3号楼2单元", District: "370402", Lat: 34.86, Lon: 117.55, Kind: liftrescue.KindTraction, Floors: 18,
		UserUnitID: f.user.ID, MaintenanceUnitID: f.maint.ID}
	must(db.CreateElevator(ctx, f.lift))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.now = time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	clock := func() time.Time { return f.now }
	var err2 error
	f.index, err2 = geo.NewIndex(geo.IndexOptions{})
	must(err2)
	_, err2 = live.Load(ctx, db, f.index)
	must(err2)
	pc := gps.PipelineConfig{Store: db, Index: f.index, Now: clock, FlushInterval: time.Hour, Logger: logger}
	for _, o := range options {
		o(&pc)
	}
	f.ingest, err2 = gps.NewPipeline(ctx, pc)
	must(err2)
	t.Cleanup(func() { f.ingest.Close(ctx) })
	f.auth, f.key = testAuth(t, countingAccounts{db, &f.keyLookups})
	f.server = api.New(api.Config{Store: &live.Store{Store: db, Index: f.index, Ingest: f.ingest, Logger: logger}, Logger: logger,
		Version: "test", UI: ui.Handler(), Index: f.index, Ingest: f.ingest, Now: clock, IngestKey: testIngestKey, Auth: f.auth, Limits: testLimits})
	return f
}

// do sends a request and returns the recorder.
func (f *fixture) do(method, path, contentType string, body io.Reader) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+f.key)
	rec := httptest.NewRecorder()
	f.server.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) elevatorJSON(edit func(m map[string]any)) string {
	m := map[string]any{
		"rescue_code": "654321", "equipment_code": "31103704022015000002", "address": "市中区君山路9号", "building": "1号楼",
		"district": "370402", "lat": 34.861, "lon": 117.551, "kind": "traction", "floors": 11,
		"user_unit_id": f.user.ID, "maintenance_unit_id": f.maint.ID, "installed_on": "2018-04-01",
	}
	if edit != nil {
		edit(m)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestScenarios(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, method, path, body string
		contentType              string
		status                   int
		code                     string // the error code, for error answers
		contains                 string // a piece of the success body
	}{
		{name: "lookup by rescue code", method: "GET", path: "/api/v1/elevators/123456", status: 200, contains: `"maintenance_unit":{"id":`},
		{name: "lookup by equipment code", method: "GET", path: "/api/v1/elevators/31103704022015000001", status: 200, contains: `"rescue_code":"123456"`},
		{name: "lookup shows the units' duty phones", method: "GET", path: "/api/v1/elevators/123456", status: 200, contains: `"duty_phones":["13800000001"]`},
		{name: "unknown rescue code", method: "GET", path: "/api/v1/elevators/999999", status: 404, code: "not_found"},
		{name: "malformed code", method: "GET", path: "/api/v1/elevators/12ab", status: 422, code: "invalid"},
		{name: "no such route", method: "GET", path: "/api/v1/nothing", status: 404, code: "not_found"},
		{name: "a typo in an API path is not the UI", method: "GET", path: "/api/v1/elevator/123456", status: 404, code: "not_found"},
		{name: "an unknown API path with another method", method: "DELETE", path: "/api/v1/nothing", status: 404, code: "not_found"},
		{name: "the UI", method: "GET", path: "/", status: 200, contains: `lang="zh-CN"`},
		{name: "the UI owns its other paths", method: "GET", path: "/incidents/42", status: 200, contains: `lang="zh-CN"`},
		{name: "HEAD on healthz", method: "HEAD", path: "/healthz", status: 200},
		{name: "HEAD on an elevator", method: "HEAD", path: "/api/v1/elevators/123456", status: 200},
		{name: "NUL in a query", method: "GET", path: "/api/v1/elevators?q=%00", status: 400, code: "bad_request"},
		{name: "broken UTF-8 in a query", method: "GET", path: "/api/v1/organizations?q=%C3%28", status: 400, code: "bad_request"},
		{name: "broken UTF-8 in a path", method: "GET", path: "/api/v1/districts/%FF", status: 400, code: "bad_request"},
		{name: "version carries the centre's zone", method: "GET", path: "/api/v1/version", status: 200, contains: `"time_zone":"Asia/Shanghai"`},
		{name: "version says there is no base map when none is set", method: "GET", path: "/api/v1/version", status: 200, contains: `"base_map":null`},
		{name: "wrong method", method: "PATCH", path: "/api/v1/elevators", status: 405, code: "method_not_allowed"},

		{name: "create elevator", method: "POST", path: "/api/v1/elevators", body: f.elevatorJSON(nil), status: 201, contains: `"rescue_code":"654321"`},
		{name: "rescue code taken", method: "POST", path: "/api/v1/elevators", body: f.elevatorJSON(func(m map[string]any) { m["rescue_code"] = "123456"; m["equipment_code"] = "31103704022015000009" }), status: 409, code: "conflict"},
		{name: "equipment code taken", method: "POST", path: "/api/v1/elevators", body: f.elevatorJSON(func(m map[string]any) { m["rescue_code"] = "111111"; m["equipment_code"] = "31103704022015000001" }), status: 409, code: "conflict"},
		{name: "latitude out of range", method: "POST", path: "/api/v1/elevators", body: f.elevatorJSON(func(m map[string]any) { m["lat"] = 91 }), status: 422, code: "invalid"},
		{name: "longitude out of range", method: "POST", path: "/api/v1/elevators", body: f.elevatorJSON(func(m map[string]any) { m["lon"] = -180.5 }), status: 422, code: "invalid"},
		{name: "null island", method: "POST", path: "/api/v1/elevators", body: f.elevatorJSON(func(m map[string]any) { m["lat"], m["lon"] = 0, 0 }), status: 422, code: "invalid"},
		{name: "NaN is not JSON", method: "POST", path: "/api/v1/elevators", body: strings.Replace(f.elevatorJSON(nil), `"lat":34.861`, `"lat":NaN`, 1), status: 400, code: "bad_request"},
		{name: "coordinates as strings", method: "POST", path: "/api/v1/elevators", body: f.elevatorJSON(func(m map[string]any) { m["lat"] = "34.8" }), status: 400, code: "bad_request"},
		{name: "missing user unit", method: "POST", path: "/api/v1/elevators", body: f.elevatorJSON(func(m map[string]any) { m["user_unit_id"] = 9999 }), status: 422, code: "invalid"},
		{name: "a volunteer unit as maintenance company", method: "POST", path: "/api/v1/elevators", body: f.elevatorJSON(func(m map[string]any) { m["maintenance_unit_id"] = f.vol.ID }), status: 422, code: "invalid"},
		{name: "unknown field", method: "POST", path: "/api/v1/elevators", body: f.elevatorJSON(func(m map[string]any) { m["rescueCode"] = "1" }), status: 400, code: "bad_request"},
		{name: "malformed JSON", method: "POST", path: "/api/v1/elevators", body: `{"rescue_code":`, status: 400, code: "bad_request"},
		{name: "empty body", method: "POST", path: "/api/v1/elevators", body: ``, status: 400, code: "bad_request"},
		{name: "two JSON values", method: "POST", path: "/api/v1/elevators", body: f.elevatorJSON(nil) + `{}`, status: 400, code: "bad_request"},
		{name: "malformed date", method: "POST", path: "/api/v1/elevators", body: f.elevatorJSON(func(m map[string]any) { m["installed_on"] = "01/04/2018" }), status: 400, code: "bad_request"},
		{name: "not JSON", method: "POST", path: "/api/v1/elevators", body: "a,b", contentType: "text/csv", status: 415, code: "unsupported_media_type"},
		{name: "JSON in GBK by its charset", method: "POST", path: "/api/v1/elevators", body: f.elevatorJSON(nil), contentType: "application/json; charset=GBK", status: 415, code: "unsupported_media_type"},
		{name: "JSON that is not UTF-8", method: "POST", path: "/api/v1/organizations", body: "{\"code\":\"X7\",\"kind\":\"fire\",\"name\":\"\xd4\xe6\xd7\xaf\",\"district\":\"370402\"}", status: 400, code: "bad_request"},
		{name: "malformed time", method: "POST", path: "/api/v1/elevators", body: f.elevatorJSON(func(m map[string]any) { m["last_maintained_at"] = "yesterday" }), status: 400, code: "bad_request"},
		{name: "organization id in a query not a number", method: "GET", path: "/api/v1/teams?organization_id=abc", status: 400, code: "bad_request"},
		{name: "oversized body", method: "POST", path: "/api/v1/elevators", body: `{"address":"` + strings.Repeat("x", 2<<20) + `"}`, status: 413, code: "too_large"},

		{name: "update by rescue code", method: "PUT", path: "/api/v1/elevators/123456", body: f.elevatorJSON(func(m map[string]any) {
			m["rescue_code"] = "123456"
			m["equipment_code"] = "31103704022015000001"
			m["floors"] = 20
			m["address"] = "市中区光明路128号"
		}), status: 200, contains: `"floors":20`},
		{name: "update unknown", method: "PUT", path: "/api/v1/elevators/777777", body: f.elevatorJSON(nil), status: 404, code: "not_found"},

		{name: "list elevators", method: "GET", path: "/api/v1/elevators?limit=1", status: 200, contains: `"total":2`},
		{name: "list by bbox", method: "GET", path: "/api/v1/elevators?bbox=117.54,34.85,117.555,34.865", status: 200, contains: `"total":2`},
		{name: "list by empty bbox", method: "GET", path: "/api/v1/elevators?bbox=100,20,100.1,20.1", status: 200, contains: `"total":0`},
		{name: "bad bbox", method: "GET", path: "/api/v1/elevators?bbox=1,2,3", status: 422, code: "invalid"},
		{name: "inverted bbox", method: "GET", path: "/api/v1/elevators?bbox=118,35,117,34", status: 422, code: "invalid"},
		{name: "bad limit", method: "GET", path: "/api/v1/elevators?limit=5000", status: 422, code: "invalid"},
		{name: "bad cursor", method: "GET", path: "/api/v1/elevators?cursor=xyz", status: 422, code: "invalid"},
		{name: "q by address", method: "GET", path: "/api/v1/elevators?q=君山路", status: 200, contains: `"total":1`},

		{name: "list organizations by kind", method: "GET", path: "/api/v1/organizations?kind=maintenance", status: 200, contains: `"total":1`},
		{name: "bad organization kind", method: "GET", path: "/api/v1/organizations?kind=police", status: 422, code: "invalid"},
		{name: "get organization", method: "GET", path: fmt.Sprintf("/api/v1/organizations/%d", f.user.ID), status: 200, contains: `"name":"阳光物业"`},
		{name: "organization id not a number", method: "GET", path: "/api/v1/organizations/abc", status: 400, code: "bad_request"},
		{name: "create organization", method: "POST", path: "/api/v1/organizations", body: `{"code":"91370400FIRE000001","kind":"fire","name":"市中区消防救援站","district":"370402","lat":34.85,"lon":117.55,"duty_phones":["119"]}`, status: 201, contains: `"kind":"fire"`},
		{name: "organization in an unknown district", method: "POST", path: "/api/v1/organizations", body: `{"code":"X9","kind":"fire","name":"站","district":"370499"}`, status: 422, code: "invalid"},
		{name: "organization with only lat", method: "POST", path: "/api/v1/organizations", body: `{"code":"X8","kind":"fire","name":"站","district":"370402","lat":34.8}`, status: 422, code: "invalid"},
		{name: "delete a unit elevators rely on", method: "DELETE", path: fmt.Sprintf("/api/v1/organizations/%d", f.maint.ID), status: 409, code: "conflict"},

		{name: "create vehicle", method: "POST", path: "/api/v1/vehicles", body: fmt.Sprintf(`{"team_id":%d,"plate":"鲁D12345","device_id":"013912345678","on_duty":true}`, f.team.ID), status: 201, contains: fmt.Sprintf(`"organization_id":%d`, f.vol.ID)},
		{name: "plate taken", method: "POST", path: "/api/v1/vehicles", body: fmt.Sprintf(`{"team_id":%d,"plate":"鲁D12345"}`, f.team.ID), status: 409, code: "conflict"},
		{name: "vehicle of a missing team", method: "POST", path: "/api/v1/vehicles", body: `{"team_id":999,"plate":"鲁D99999"}`, status: 422, code: "invalid"},
		{name: "list teams of an organization", method: "GET", path: fmt.Sprintf("/api/v1/teams?organization_id=%d", f.vol.ID), status: 200, contains: `"certified_staff":3`},
		{name: "delete a team with vehicles", method: "DELETE", path: fmt.Sprintf("/api/v1/teams/%d", f.team.ID), status: 409, code: "conflict"},

		{name: "list districts", method: "GET", path: "/api/v1/districts", status: 200, contains: `"name":"市中区"`},
		{name: "put district", method: "PUT", path: "/api/v1/districts/370403", body: `{"name":"薛城区","outline":{"type":"Polygon","coordinates":[[[117.2,34.7],[117.3,34.7],[117.3,34.8],[117.2,34.7]]]}}`, status: 200, contains: `"outline":{"type":"MultiPolygon"`},
		{name: "district outline not a polygon", method: "PUT", path: "/api/v1/districts/370403", body: `{"name":"薛城区","outline":{"type":"Point","coordinates":[117.2,34.7]}}`, status: 400, code: "bad_request"},
		{name: "district with a misspelt field", method: "PUT", path: "/api/v1/districts/370403", body: `{"name":"薛城区","rurl":true}`, status: 400, code: "bad_request"},
		{name: "district with a ring that does not close", method: "PUT", path: "/api/v1/districts/370403", body: `{"name":"薛城区","outline":{"type":"Polygon","coordinates":[[[117,34],[118,34],[118,35],[119,36]]]}}`, status: 422, code: "invalid"},
		{name: "district with no rings", method: "PUT", path: "/api/v1/districts/370403", body: `{"name":"薛城区","outline":{"type":"Polygon","coordinates":[]}}`, status: 422, code: "invalid"},
		{name: "import districts from GeoJSON", method: "POST", path: "/api/v1/import/districts", contentType: "application/geo+json", body: `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"adcode":370405,"name":"台儿庄区"},"geometry":{"type":"Polygon","coordinates":[[[117.7,34.5],[117.8,34.5],[117.8,34.6],[117.7,34.5]]]}}]}`, status: 200, contains: `"created":1`},
		{name: "import districts that are not GeoJSON", method: "POST", path: "/api/v1/import/districts", contentType: "application/geo+json", body: `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"x"},"geometry":{"type":"Point","coordinates":[1,2]}}]}`, status: 422, code: "invalid"},
		{name: "district with an open ring", method: "PUT", path: "/api/v1/districts/370403", body: `{"name":"薛城区","outline":{"type":"Polygon","coordinates":[[[117.2,34.7],[117.3,34.7],[117.2,34.7]]]}}`, status: 422, code: "invalid"},

		{name: "delete elevator", method: "DELETE", path: "/api/v1/elevators/654321", status: 204},
		{name: "deleted elevator is gone", method: "GET", path: "/api/v1/elevators/654321", status: 404, code: "not_found"},

		{name: "healthz", method: "GET", path: "/healthz", status: 200, contains: `"ok"`},
		{name: "readyz", method: "GET", path: "/readyz", status: 200, contains: `"ready"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" && tt.body != "" {
				ct = "application/json"
			}
			rec := f.do(tt.method, tt.path, ct, strings.NewReader(tt.body))
			if rec.Code != tt.status {
				t.Fatalf("%s %s = %d, want %d\n%s", tt.method, tt.path, rec.Code, tt.status, rec.Body)
			}
			if rec.Header().Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id header")
			}
			if tt.method == "HEAD" && rec.Body.Len() > 0 && rec.Result().ContentLength == 0 {
				t.Error("HEAD answered with a body")
			}
			if tt.code != "" {
				var body api.ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("error body is not JSON: %s", rec.Body)
				}
				if body.Error.Code != tt.code || body.Error.Message == "" {
					t.Fatalf("error = %+v, want code %s and a message", body.Error, tt.code)
				}
				for _, leak := range []string{"sqlite", "SQL", "constraint", "goroutine", ".go:"} {
					if strings.Contains(body.Error.Message, leak) {
						t.Fatalf("error message leaks internals (%q): %s", leak, body.Error.Message)
					}
				}
			}
			if tt.contains != "" && !strings.Contains(rec.Body.String(), tt.contains) {
				t.Fatalf("body lacks %s:\n%s", tt.contains, rec.Body)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct{ sent, kept string }{
		{"hotline-2026-11-21-0042", "hotline-2026-11-21-0042"},
		{strings.Repeat("x", 65), ""},
		{`a"b<script>`, ""},
	} {
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.Header.Set("X-Request-Id", tt.sent)
		rec := httptest.NewRecorder()
		f.server.ServeHTTP(rec, req)
		got := rec.Header().Get("X-Request-Id")
		if tt.kept != "" && got != tt.kept || tt.kept == "" && (got == tt.sent || len(got) != 16) {
			t.Errorf("sent %q, got back %q", tt.sent, got)
		}
	}
}

// A refused write leaves nothing behind: the elevator count is the same before and after.
func TestRefusedWritesLeaveNothing(t *testing.T) {
	f := newFixture(t)
	before, err := f.store.ListElevators(context.Background(), liftrescue.ElevatorFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		f.elevatorJSON(func(m map[string]any) { m["lat"] = 95 }),
		f.elevatorJSON(func(m map[string]any) { m["rescue_code"] = "123456" }),
		f.elevatorJSON(func(m map[string]any) { m["user_unit_id"] = f.maint.ID }),
		`{"rescue_code":"7777"`,
	} {
		if rec := f.do("POST", "/api/v1/elevators", "application/json", strings.NewReader(body)); rec.Code < 400 {
			t.Fatalf("accepted %s", body)
		}
	}
	after, err := f.store.ListElevators(context.Background(), liftrescue.ElevatorFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Total != before.Total {
		t.Fatalf("elevators %d → %d after refused writes", before.Total, after.Total)
	}
}

func TestImportCSV(t *testing.T) {
	f := newFixture(t)
	header := "rescue_code,equipment_code,address,district,lat,lon,kind,user_unit_code,maintenance_unit_code\n"
	good := "200001,31103704022015200001,市中区文化路1号,370402,34.85,117.55,traction,91370400USER000001,91370400MAINT00001\n"
	bad := "200002,31103704022015200002,市中区文化路2号,370402,abc,117.55,traction,91370400USER000001,91370400MAINT00001\n"

	rec := f.do("POST", "/api/v1/import/elevators", "text/csv", strings.NewReader(header+good+bad))
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), `"line":3`) {
		t.Fatalf("all-or-nothing with a bad row = %d %s, want 422 naming line 3", rec.Code, rec.Body)
	}
	if r := f.do("GET", "/api/v1/elevators/200001", "", nil); r.Code != 404 {
		t.Fatalf("a failed import wrote line 2: %d", r.Code)
	}
	rec = f.do("POST", "/api/v1/import/elevators?partial=true", "text/csv", strings.NewReader(header+good+bad))
	var res liftrescue.ImportResult
	if err := json.Unmarshal(rec.Body.Bytes(), &res); rec.Code != 200 || err != nil || res.Created != 1 || res.Rejected != 1 {
		t.Fatalf("partial import = %d %s", rec.Code, rec.Body)
	}
	if r := f.do("GET", "/api/v1/elevators/200001", "", nil); r.Code != 200 {
		t.Fatalf("partial import did not write line 2: %d", r.Code)
	}
	// The same file as a form upload, again: an upsert, so it updates.
	var form bytes.Buffer
	boundary := "xYzZy"
	fmt.Fprintf(&form, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"e.csv\"\r\nContent-Type: text/csv\r\n\r\n%s%s\r\n--%s--\r\n", boundary, header, good, boundary)
	rec = f.do("POST", "/api/v1/import/elevators", "multipart/form-data; boundary="+boundary, &form)
	if err := json.Unmarshal(rec.Body.Bytes(), &res); rec.Code != 200 || err != nil || res.Updated != 1 {
		t.Fatalf("form upload = %d %s", rec.Code, rec.Body)
	}
	rec = f.do("POST", "/api/v1/import/elevators?partial=maybe", "text/csv", strings.NewReader(header+good))
	if rec.Code != 400 {
		t.Fatalf("partial=maybe = %d", rec.Code)
	}
}

// The OpenAPI document describes exactly the routes the server answers.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f := newFixture(t)
	rec := f.do("GET", "/api/openapi.json", "", nil)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json: %v %s", err, rec.Body.String()[:min(200, rec.Body.Len())])
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := f.server.Routes()
	for _, r := range served {
		if !documented[r] {
			t.Errorf("route %s is served but missing from the OpenAPI document", r)
		}
		delete(documented, r)
	}
	for r := range documented {
		t.Errorf("route %s is documented but not served", r)
	}
	if len(served) < 25 {
		t.Fatalf("only %d routes served", len(served))
	}
}

// The server answers while a slow import holds the database: reads do not wait for writes (WAL).
func TestReadsDuringImport(t *testing.T) {
	f := newFixture(t)
	var csv strings.Builder
	csv.WriteString("rescue_code,equipment_code,address,district,lat,lon,kind,user_unit_code,maintenance_unit_code\n")
	for i := range 3000 {
		fmt.Fprintf(&csv, "%d,311037040220153%05d,市中区文化路%d号,370402,34.85,117.55,traction,91370400USER000001,91370400MAINT00001\n", 300000+i, i, i)
	}
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- f.do("POST", "/api/v1/import/elevators", "text/csv", strings.NewReader(csv.String())) }()
	deadline := time.Now().Add(2 * time.Minute)
	lookups := 0
	for {
		select {
		case rec := <-done:
			if rec.Code != 200 {
				t.Fatalf("import = %d %s", rec.Code, rec.Body)
			}
			if lookups == 0 {
				t.Log("the import finished before any lookup ran")
			}
			return
		default:
		}
		if rec := f.do("GET", "/api/v1/elevators/123456", "", nil); rec.Code != 200 {
			t.Fatalf("lookup during import = %d %s", rec.Code, rec.Body)
		}
		lookups++
		if time.Now().After(deadline) {
			t.Fatal("import did not finish in 2 minutes")
		}
	}
}

// The list's own encoder writes what encoding/json would: the page decodes back to what the store
// returned.
func TestElevatorListJSON(t *testing.T) {
	f := newFixture(t)
	rec := f.do("GET", "/api/v1/elevators?limit=1000", "", nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("list = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	var got liftrescue.Page[*liftrescue.Elevator]
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	want, err := f.store.ListElevators(context.Background(), liftrescue.ElevatorFilter{Paging: liftrescue.Paging{Limit: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(got)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Fatalf("list body decodes to\n%s\nwant\n%s", gotJSON, wantJSON)
	}
}
