package gps

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/storetest"
)

// secretOf returns the device secret the store gave the vehicle.
func (f *pipeFixture) secretOf(tb testing.TB, vehicleID int64) string {
	tb.Helper()
	v, err := f.store.FindVehicle(f.ctx, vehicleID)
	storetest.MustOK(tb, err)
	if v.DeviceSecret == "" {
		tb.Fatalf("vehicle %d has no device secret", vehicleID)
	}
	return v.DeviceSecret
}

func (f *pipeFixture) plateOf(tb testing.TB, vehicleID int64) string {
	tb.Helper()
	v, err := f.store.FindVehicle(f.ctx, vehicleID)
	storetest.MustOK(tb, err)
	return v.Plate
}

// addDevices adds a vehicle for each device id and reloads the pipeline's registry; it returns
// the vehicles by device id.
func (f *pipeFixture) addDevices(tb testing.TB, ids ...string) map[string]int64 {
	tb.Helper()
	v, err := f.store.FindVehicle(f.ctx, f.vehicles[0])
	storetest.MustOK(tb, err)
	out := map[string]int64{}
	for i, id := range ids {
		nv := &liftrescue.Vehicle{TeamID: v.TeamID, Plate: "鲁D9" + strconv.Itoa(1000+i), DeviceID: id, OnDuty: true}
		storetest.MustOK(tb, f.store.CreateVehicle(f.ctx, nv))
		out[id] = nv.ID
	}
	storetest.MustOK(tb, f.p.Reload(f.ctx))
	return out
}

// osmAndServer serves the handler over the pipeline on a loopback port.
func osmAndServer(tb testing.TB, f *pipeFixture) (*OsmAndHandler, *httptest.Server) {
	tb.Helper()
	h := NewOsmAndHandler(f.p, OsmAndOptions{Now: func() time.Time { return pipeT0 }, Logger: f.p.log})
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return h, srv
}

type osmAndCall struct {
	method, target, contentType, body string
	header                            map[string]string
}

type osmAndReply struct {
	status int
	body   string
	header http.Header
}

func (c osmAndCall) do(tb testing.TB, srv *httptest.Server) osmAndReply {
	tb.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, srv.URL+c.target, body)
	if err != nil {
		tb.Fatal(err)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return osmAndReply{resp.StatusCode, string(b), resp.Header}
}

// TestOsmAndServerVectors sends the requests of the vectors as the clients send them, with the
// device's token in the query string of the server URL, as Traccar Client keeps it.
func TestOsmAndServerVectors(t *testing.T) {
	f := MustPipeline(t, 1, PipelineConfig{})
	vectors := osmAndVectors(t)
	vehicles := f.addDevices(t, "48241179", "658765", "8737767034", "902064", "353861053849681", "123456",
		"861001000719969", "123456789012345")
	h, srv := osmAndServer(t, f)
	token := func(device string) string { return url.QueryEscape(f.secretOf(t, vehicles[device])) }
	for _, tc := range []struct {
		id     string
		method string
		status int
	}{
		// Traccar Client 9: POST of the JSON body to the server URL, whose query has the token.
		{"OSM-J1", "POST", 200},
		{"OSM-J2", "POST", 200},
		{"OSM-J3", "POST", 200},
		{"OSM-J4", "POST", 200},
		// The OsmAnd app: GET with the parameters of its URL template.
		{"OSM-Q1", "GET", 400}, // no position
		{"OSM-Q2", "GET", 400}, // no id
		{"OSM-Q3", "GET", 200},
		{"OSM-Q4", "GET", 200}, // older than Q3's fix: history only, but accepted
		{"OSM-Q5", "GET", 200},
		{"OSM-Q6", "POST", 200},
		{"OSM-Q7", "POST", 200},
		{"OSM-Q8", "GET", 200},
		{"OSM-Q9", "GET", 200},
		{"OSM-Q10", "GET", 200},
		{"OSM-Q11", "POST", 200},
		// The legacy Traccar Client: POST, parameters in the query string, empty body; 0,0 in 1989.
		{"TC-1", "POST", 400},
		{"TC-2", "POST", 400},
		{"TC-3", "POST", 400},
	} {
		t.Run(tc.id, func(t *testing.T) {
			v := vectors[tc.id]
			var call osmAndCall
			var want *http.Request // the request as ParseOsmAnd reads it, for the position expected
			if strings.HasPrefix(tc.id, "OSM-J") {
				device := strings.TrimSuffix(v[strings.LastIndex(v, `"device_id":"`)+len(`"device_id":"`):], `"}`)
				call = osmAndCall{method: tc.method, target: "/?token=" + token(device), contentType: "application/json", body: v}
				want = osmAndRequest("POST", "/", "application/json", v)
			} else {
				u, err := url.Parse(v)
				if err != nil {
					t.Fatal(err)
				}
				q := u.Query()
				if device := cmpOr(q.Get("id"), q.Get("deviceid")); vehicles[device] != 0 {
					u.RawQuery += "&token=" + token(device)
				}
				call = osmAndCall{method: tc.method, target: u.RequestURI()}
				want = osmAndRequest("GET", v, "", "")
			}
			got := call.do(t, srv)
			if got.status != tc.status {
				t.Fatalf("status %d %q, want %d", got.status, got.body, tc.status)
			}
			if tc.status != 200 {
				if ct := got.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || strings.Count(got.body, "\n") != 1 || len(got.body) < 5 {
					t.Errorf("answer %q (%s), want a one-line text reason", got.body, ct)
				}
				return
			}
			if got.body != "" {
				t.Errorf("body %q, want none", got.body)
			}
			fix, err := ParseOsmAnd(want, pipeT0)
			if err != nil {
				t.Fatal(err)
			}
			s, ok := f.index.Vehicle(vehicles[fix.DeviceID])
			if !ok || s.Lat != fix.Lat || s.Lon != fix.Lon {
				t.Errorf("vehicle of %s at %+v (%v), want %v,%v", fix.DeviceID, s, ok, fix.Lat, fix.Lon)
			}
		})
	}
	st := h.Stats()
	if st.Requests != 18 || st.Accepted != 13 || st.Refused[400] != 5 {
		t.Errorf("stats = %+v", st)
	}
	if ps := f.p.Stats(); ps.Accepted != 13 || ps.OutOfOrder != 4 {
		t.Errorf("pipeline stats = %+v, want 13 accepted, Q4, Q7, Q10 and J2 out of order", ps)
	}
}

// TestOsmAndServer checks the transports, the ways of sending the token and every answer.
func TestOsmAndServer(t *testing.T) {
	f := MustPipeline(t, 2, PipelineConfig{})
	h, srv := osmAndServer(t, f)
	secret := f.secretOf(t, f.vehicles[0])
	other := f.secretOf(t, f.vehicles[1])
	at := func(seconds int) string {
		return strconv.FormatInt(pipeT0.Add(time.Duration(seconds)*time.Second).Unix(), 10)
	}
	params := func(seconds int) string {
		return "id=" + dev(0) + "&lat=34.86&lon=117.55&timestamp=" + at(seconds) + "&speed=10&bearing=90&batt=87"
	}
	basic := "Basic " + "ZGV2aWNlOg==" // "device:" without a password
	type tc struct {
		name string
		call osmAndCall
		want int
		at   int // the fix's seconds whose time the vehicle then has; 0 when it must not move
	}
	unauthorized := ""
	for i, c := range []tc{
		{"GET, token in the query", osmAndCall{method: "GET", target: "/?" + params(-100) + "&token=" + secret}, 200, -100},
		{"POST, token in the query, empty body", osmAndCall{method: "POST", target: "/?" + params(-90) + "&token=" + secret}, 200, -90},
		{"POST form, token in the query", osmAndCall{method: "POST", target: "/?token=" + secret,
			contentType: "application/x-www-form-urlencoded", body: params(-80)}, 200, -80},
		{"POST form, token in the body", osmAndCall{method: "POST", target: "/",
			contentType: "application/x-www-form-urlencoded", body: params(-70) + "&token=" + secret}, 200, -70},
		{"any path", osmAndCall{method: "POST", target: "/osmand/path?token=" + secret, body: params(-65),
			contentType: "application/x-www-form-urlencoded"}, 200, -65},
		{"Bearer token", osmAndCall{method: "GET", target: "/?" + params(-60), header: map[string]string{"Authorization": "Bearer " + secret}}, 200, -60},
		{"Basic password", osmAndCall{method: "GET", target: "/?" + params(-50),
			header: map[string]string{"Authorization": "Basic " + basicAuth("device", secret)}}, 200, -50},
		{"JSON body", osmAndCall{method: "POST", target: "/?token=" + secret, contentType: "application/json",
			body: `{"device_id":"` + dev(0) + `","location":{"timestamp":"` + pipeT0.Add(-40*time.Second).Format(time.RFC3339) +
				`","coords":{"latitude":34.86,"longitude":117.55,"speed":3,"heading":90}}}`}, 200, -40},
		{"out of order: kept, not moved", osmAndCall{method: "GET", target: "/?" + params(-1000) + "&token=" + secret}, 200, -40},
		{"no token", osmAndCall{method: "GET", target: "/?" + params(-30)}, 401, 0},
		{"empty Basic password", osmAndCall{method: "GET", target: "/?" + params(-30), header: map[string]string{"Authorization": basic}}, 401, 0},
		{"another device's token", osmAndCall{method: "GET", target: "/?" + params(-30) + "&token=" + other}, 401, 0},
		{"a wrong token in the body", osmAndCall{method: "POST", target: "/", contentType: "application/x-www-form-urlencoded",
			body: params(-30) + "&token=x" + secret}, 401, 0},
		{"unknown device", osmAndCall{method: "GET", target: "/?id=013999999999&lat=34.86&lon=117.55&token=" + secret}, 401, 0},
		{"malformed number", osmAndCall{method: "GET", target: "/?id=" + dev(0) + "&lat=abc&lon=117.55&token=" + secret}, 400, 0},
		{"NaN", osmAndCall{method: "GET", target: "/?id=" + dev(0) + "&lat=NaN&lon=117.55&token=" + secret}, 400, 0},
		{"0,0", osmAndCall{method: "GET", target: "/?id=" + dev(0) + "&lat=0&lon=0&token=" + secret}, 400, 0},
		{"future", osmAndCall{method: "GET", target: "/?" + params(3600) + "&token=" + secret}, 400, 0},
		{"malformed JSON", osmAndCall{method: "POST", target: "/?token=" + secret, contentType: "application/json", body: `{"device_id":`}, 400, 0},
		{"too large", osmAndCall{method: "POST", target: "/?token=" + secret, contentType: "application/x-www-form-urlencoded",
			body: params(-20) + "&x=" + strings.Repeat("a", MaxOsmAndBody)}, 413, 0},
		{"PUT", osmAndCall{method: "PUT", target: "/?" + params(-20) + "&token=" + secret}, 405, 0},
	} {
		got := c.call.do(t, srv)
		if got.status != c.want {
			t.Errorf("%s: status %d %q, want %d", c.name, got.status, got.body, c.want)
			continue
		}
		switch {
		case c.want == 200 && got.body != "":
			t.Errorf("%s: body %q, want none", c.name, got.body)
		case c.want != 200 && (!strings.HasPrefix(got.header.Get("Content-Type"), "text/plain") || strings.Count(got.body, "\n") != 1):
			t.Errorf("%s: answer %q, want one line of text", c.name, got.body)
		case c.want == 401 && got.header.Get("WWW-Authenticate") == "":
			t.Errorf("%s: 401 without WWW-Authenticate", c.name)
		case c.want == 401 && unauthorized == "":
			unauthorized = got.body
		case c.want == 401 && got.body != unauthorized:
			t.Errorf("%s: 401 says %q, another said %q: they must not tell the cases apart", c.name, got.body, unauthorized)
		case c.want == 405 && got.header.Get("Allow") != "GET, POST":
			t.Errorf("%s: Allow %q", c.name, got.header.Get("Allow"))
		}
		if c.at != 0 {
			if s := f.where(t, f.vehicles[0]); !s.Time.Equal(pipeT0.Add(time.Duration(c.at) * time.Second)) {
				t.Errorf("%s (#%d): vehicle at %v, want the fix of %d s", c.name, i, s.Time, c.at)
			}
		}
	}
	if strings.Contains(unauthorized, "secret") || strings.Contains(unauthorized, "unknown") {
		t.Errorf("401 says %q: it must not say which of device and token is wrong", unauthorized)
	}
	st := h.Stats()
	want := OsmAndStats{Requests: 21, Accepted: 9, Refused: map[int]int64{400: 5, 401: 5, 405: 1, 413: 1, 429: 0, 503: 0}}
	if st.Requests != want.Requests || st.Accepted != want.Accepted || len(st.Refused) != len(want.Refused) {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	for k, v := range want.Refused {
		if st.Refused[k] != v {
			t.Errorf("refused %d = %d, want %d", k, st.Refused[k], v)
		}
	}
	ps := f.p.Stats()
	if ps.Rejected[ReasonBadSecret] != 4 || ps.Rejected[ReasonUnknownDevice] != 1 {
		t.Errorf("pipeline rejected %v, want 4 bad secrets and 1 unknown device", ps.Rejected)
	}
}

func basicAuth(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// postFix sends vehicle 0's fix of pipeT0 plus seconds as Traccar Client does.
func postFix(tb testing.TB, f *pipeFixture, srv *httptest.Server, seconds int) osmAndReply {
	tb.Helper()
	return osmAndCall{method: "POST", target: "/?token=" + f.secretOf(tb, f.vehicles[0]), contentType: "application/x-www-form-urlencoded",
		body: "id=" + dev(0) + "&lat=34.86&lon=117.55&timestamp=" + strconv.FormatInt(pipeT0.Unix()+int64(seconds), 10)}.do(tb, srv)
}

// TestOsmAndServerUnavailable: while the ingest refuses fixes for its backlog or its shutdown, the
// client is told to send them again later.
func TestOsmAndServerUnavailable(t *testing.T) {
	f := MustPipeline(t, 1, PipelineConfig{MaxBacklog: 1})
	f.store.fail.Store(true)
	h, srv := osmAndServer(t, f)
	if got := postFix(t, f, srv, -20); got.status != 200 {
		t.Fatalf("first fix: %d %q", got.status, got.body)
	}
	got := postFix(t, f, srv, -10)
	if got.status != 503 || got.header.Get("Retry-After") != "10" {
		t.Errorf("backlog full: %d %q, Retry-After %q; want 503 and 10 s", got.status, got.body, got.header.Get("Retry-After"))
	}
	f.store.fail.Store(false)
	storetest.MustOK(t, f.p.Close(f.ctx))
	if got := postFix(t, f, srv, -5); got.status != 503 || got.header.Get("Retry-After") == "" {
		t.Errorf("pipeline closed: %d %q", got.status, got.body)
	}
	if st := h.Stats(); st.Refused[503] != 2 || st.Accepted != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// TestOsmAndServerRateLimited: a device over its rate limit is answered 429 with the time its
// next fix takes to be allowed, and its fix is taken once that time has passed.
func TestOsmAndServerRateLimited(t *testing.T) {
	var clock testClock
	f := MustPipeline(t, 1, PipelineConfig{Now: clock.Now, DeviceRate: 0.25, DeviceBurst: 2})
	h, srv := osmAndServer(t, f)
	for i, want := range []int{200, 200, 429} {
		got := postFix(t, f, srv, -30+i)
		if got.status != want {
			t.Fatalf("fix %d: %d %q, want %d", i, got.status, got.body, want)
		}
		if want == 429 && (got.header.Get("Retry-After") != "4" || strings.Count(got.body, "\n") != 1 ||
			!strings.HasPrefix(got.header.Get("Content-Type"), "text/plain")) {
			t.Errorf("429 with Retry-After %q, body %q; want 4 s and one line of text", got.header.Get("Retry-After"), got.body)
		}
	}
	clock.Add(4 * time.Second)
	if got := postFix(t, f, srv, -27); got.status != 200 {
		t.Errorf("after Retry-After: %d %q", got.status, got.body)
	}
	if st := h.Stats(); st.Refused[429] != 1 || st.Accepted != 3 || st.Requests != 4 {
		t.Errorf("stats = %+v", st)
	}
	if ps := f.p.Stats(); ps.Rejected[ReasonRateLimited] != 1 {
		t.Errorf("pipeline rejected %v, want 1 for the rate limit", ps.Rejected)
	}
}

func TestFormValue(t *testing.T) {
	for _, c := range []struct{ q, want string }{
		{"token=abc", "abc"},
		{"id=1&token=abc&lat=2", "abc"},
		{"token=&token=abc", "abc"},
		{"tokens=x&xtoken=y", ""},
		{"token=a%2Bb+c", "a+b c"},
		{"token=%zz&token=ok", "ok"},
		{"to%6Ben=esc", "esc"},
		{"", ""},
		{"token", ""},
	} {
		if got := formValue(c.q, "token"); got != c.want {
			t.Errorf("formValue(%q) = %q, want %q", c.q, got, c.want)
		}
	}
}

// FuzzFormValue checks the token scanner against url.ParseQuery on what the latter accepts.
func FuzzFormValue(f *testing.F) {
	for _, s := range []string{"token=abc", "id=1&token=a%2Bb+c&lat=2", "token=&token=%20x%20", "to%6Ben=esc", "token=%zz&token=ok", "a;token=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := formValue(s, "token")
		q, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		want := ""
		for _, v := range q["token"] {
			if v = strings.TrimSpace(v); v != "" {
				want = v
				break
			}
		}
		if got != want {
			t.Fatalf("formValue(%q) = %q, url.ParseQuery gives %q", s, got, want)
		}
	})
}
