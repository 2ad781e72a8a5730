package gps

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// testNow is the clock of the decoder tests.
var testNow = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// osmAndVectors reads the requests of testdata/protocols/osmand_vectors.txt: the query of each
// [OSM-Qn] and [TC-n] line and the JSON body of each [OSM-Jn].
func osmAndVectors(t testing.TB) map[string]string {
	t.Helper()
	f, err := os.Open("testdata/protocols/osmand_vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	line := regexp.MustCompile(`^\[((?:OSM-[QJ]|TC-)\d+)\]\s*(\S*)`)
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	pending := ""
	for sc.Scan() {
		s := sc.Text()
		if m := line.FindStringSubmatch(s); m != nil {
			if strings.HasPrefix(m[1], "OSM-J") {
				pending = m[1]
				continue
			}
			out[m[1]] = m[2]
			continue
		}
		if pending != "" && strings.HasPrefix(s, "{") {
			out[pending], pending = s, ""
		}
	}
	if len(out) != 4+11+3 {
		t.Fatalf("read %d OsmAnd vectors, want 18: has the file's layout changed?", len(out))
	}
	return out
}

// osmAndRequest builds the request a client sends: the URL (with its query) and a body.
func osmAndRequest(method, target, contentType, body string) *http.Request {
	u, err := url.Parse(target)
	if err != nil {
		panic(err)
	}
	r := &http.Request{Method: method, URL: u, Header: http.Header{}, Body: http.NoBody}
	if body != "" {
		r.Body = io.NopCloser(strings.NewReader(body))
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// fixString prints a fix with NaN as "?" so that expectations read plainly.
func fixString(f liftrescue.Fix) string {
	n := func(v float64) string {
		if math.IsNaN(v) {
			return "?"
		}
		return fmt.Sprintf("%.12g", v)
	}
	return fmt.Sprintf("%s %s %s,%s speed=%s heading=%s acc=%s alt=%s batt=%s alarm=%q", f.DeviceID, f.Time.Format(time.RFC3339Nano),
		n(f.Lat), n(f.Lon), n(f.SpeedKmh), n(f.Heading), n(f.AccuracyM), n(f.AltitudeM), n(f.Battery), f.Alarm)
}

// TestOsmAndVectors checks the requests of Traccar's tests and the clients' own against the values
// their sources assert and (reviewed) Traccar derives. Where this decoder differs from Traccar on
// purpose, the case says why.
func TestOsmAndVectors(t *testing.T) {
	vectors := osmAndVectors(t)
	now := testNow.Format(time.RFC3339)
	for _, tc := range []struct {
		id   string
		want string // the fix, or the error code and field
	}{
		// Traccar Client 9: speed in m/s, heading -1 for unknown, battery level 0–1.
		{"OSM-J1", "48241179 2025-06-15T13:45:12.862Z 37.4219983,-122.084 speed=0 heading=? acc=5 alt=5 batt=1 alarm=\"\""},
		{"OSM-J2", "48241179 2025-06-15T13:45:12.862Z 37.4219983,-122.084 speed=0 heading=? acc=5 alt=5 batt=1 alarm=\"\""},
		{"OSM-J3", "658765 2025-05-09T04:11:30.579Z 37.785834,-122.406417 speed=? heading=? acc=5 alt=0 batt=? alarm=\"\""},
		{"OSM-J4", "8737767034 2021-07-21T08:06:34.444Z -6.1148096,106.6837015 speed=67.212 heading=63 acc=3.8 alt=35.7 batt=0.79 alarm=\"\""},
		// Without a position Traccar copies the device's last one; a fix here needs its own.
		{"OSM-Q1", "invalid lat"},
		{"OSM-Q2", "invalid id"},
		{"OSM-Q3", "902064 2016-01-27T18:55:47Z 42.06288,-88.23412 speed=0 heading=? acc=? alt=224 batt=? alarm=\"\""},
		{"OSM-Q4", "902064 2015-09-12T14:38:06.579Z 42.06288,-88.23412 speed=0 heading=? acc=? alt=224 batt=? alarm=\"\""},
		// A time without a zone is UTC here (Traccar takes its server's zone).
		{"OSM-Q5", "353861053849681 2014-06-04T09:10:11Z 49.60688,6.15788 speed=0 heading=? acc=? alt=384.7 batt=? alarm=\"\""},
		{"OSM-Q6", "123456 2013-08-22T13:14:27Z 60,30 speed=0 heading=0 acc=? alt=0 batt=? alarm=\"\""},
		{"OSM-Q7", "123456 2013-08-22T13:14:27Z 60,30 speed=? heading=? acc=? alt=? batt=? alarm=\"\""},
		{"OSM-Q8", "123456 " + now + " 60,30 speed=0 heading=0 acc=? alt=0 batt=? alarm=\"\""},
		{"OSM-Q9", "861001000719969 " + now + " 41.666667,-0.883333 speed=0 heading=? acc=? alt=350.059479 batt=0.87 alarm=\"\""},
		{"OSM-Q10", "123456 2013-08-22T13:14:27Z 60,30 speed=? heading=? acc=? alt=? batt=? alarm=\"\""},
		{"OSM-Q11", "123456789012345 2017-09-07T05:56:50Z 40.7232948571,-74.0061408571 speed=74.08 heading=7.19889788244 acc=? alt=? batt=? alarm=\"\""},
		// The legacy client's test requests are at 0,0 in 1989: both refused.
		{"TC-1", "invalid lat"},
		{"TC-2", "invalid lat"},
		{"TC-3", "invalid lat"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			var r *http.Request
			switch v := vectors[tc.id]; {
			case strings.HasPrefix(tc.id, "OSM-J"):
				r = osmAndRequest("POST", "/", "application/json", v)
			case strings.HasPrefix(tc.id, "TC-"):
				r = osmAndRequest("POST", v, "", "") // the legacy client: POST, query string, no body
			default:
				r = osmAndRequest("GET", v, "", "")
			}
			f, err := ParseOsmAnd(r, testNow)
			got := fixString(f)
			if err != nil {
				got = liftrescue.ErrorCode(err) + " " + detailField(err)
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}

	// TC-3 with a real time and place: the alarm, and the zeros the client sends for unknown.
	q := strings.NewReplacer("timestamp=619315200", "timestamp=1763716000", "lat=0.0", "lat=34.86", "lon=0.0", "lon=117.55").Replace(vectors["TC-3"])
	f, err := ParseOsmAnd(osmAndRequest("POST", q, "", ""), testNow)
	if want := "123456789012345 2025-11-21T09:06:40Z 34.86,117.55 speed=0 heading=0 acc=0 alt=0 batt=0 alarm=\"alert message\""; err != nil || fixString(f) != want {
		t.Errorf("TC-3 moved:\n got %s %v\nwant %s", fixString(f), err, want)
	}
}

func detailField(err error) string {
	if d := liftrescue.ErrorDetails(err); len(d) > 0 {
		return d[0].Field
	}
	return ""
}

// TestOsmAndTransports sends one position in each way the clients do.
func TestOsmAndTransports(t *testing.T) {
	params := "id=353861053849681&lat=49.60688&lon=6.15788&timestamp=1763716000&speed=10&bearing=90&altitude=384.7&accuracy=4.5&batt=87&charge=true&alarm=SOS"
	want := "353861053849681 2025-11-21T09:06:40Z 49.60688,6.15788 speed=18.52 heading=90 acc=4.5 alt=384.7 batt=0.87 alarm=\"sos\""
	j1 := osmAndVectors(t)["OSM-J1"]
	for _, tc := range []struct {
		name string
		r    *http.Request
		want string
	}{
		{"GET query", osmAndRequest("GET", "/?"+params, "", ""), want},
		{"POST query, empty body", osmAndRequest("POST", "/?"+params, "", ""), want},
		{"POST form", osmAndRequest("POST", "/", "application/x-www-form-urlencoded", params), want},
		{"query and form", osmAndRequest("POST", "/?id=353861053849681&lat=49.60688", "application/x-www-form-urlencoded",
			"lon=6.15788&timestamp=1763716000&speed=10&bearing=90&altitude=384.7&accuracy=4.5&batt=87&alarm=sos&lat=1"), want},
		{"ISO time with offset", osmAndRequest("GET", "/?id=1&lat=1&lon=2&timestamp=2025-11-21T17:06:40.5%2B08:00", "", ""),
			"1 2025-11-21T09:06:40.5Z 1,2 speed=? heading=? acc=? alt=? batt=? alarm=\"\""},
		{"seconds with a fraction", osmAndRequest("GET", "/?id=1&lat=1&lon=2&timestamp=1763716000.25", "", ""),
			"1 2025-11-21T09:06:40.25Z 1,2 speed=? heading=? acc=? alt=? batt=? alarm=\"\""},
		{"heading alias, negative unknowns", osmAndRequest("GET", "/?deviceid=7&lat=1&lon=2&heading=45&speed=-1&accuracy=-1&batt=-1", "", ""),
			"7 " + testNow.Format(time.RFC3339) + " 1,2 speed=? heading=45 acc=? alt=? batt=? alarm=\"\""},
		// curl -d sends JSON as a form: it is recognised by its first byte.
		{"JSON sent as a form", osmAndRequest("POST", "/", "application/x-www-form-urlencoded", j1),
			"48241179 2025-06-15T13:45:12.862Z 37.4219983,-122.084 speed=0 heading=? acc=5 alt=5 batt=1 alarm=\"\""},
		{"JSON alarm in extras", osmAndRequest("POST", "/", "application/json",
			`{"device_id":"9","location":{"timestamp":"2025-11-21T09:06:40Z","coords":{"latitude":1,"longitude":2},"extras":{"alarm":"sos"}}}`),
			"9 2025-11-21T09:06:40Z 1,2 speed=? heading=? acc=? alt=? batt=? alarm=\"sos\""},
	} {
		f, err := ParseOsmAnd(tc.r, testNow)
		if got := fixString(f); err != nil || got != tc.want {
			t.Errorf("%s:\n got %s %v\nwant %s", tc.name, got, err, tc.want)
		}
	}
}

func TestOsmAndErrors(t *testing.T) {
	ok := "/?id=1&lat=1&lon=2&timestamp=1763716000"
	for _, tc := range []struct {
		name, target, contentType, body string
		code, field                     string
	}{
		{"no id", "/?lat=1&lon=2", "", "", liftrescue.EINVALID, "id"},
		{"no lon", "/?id=1&lat=1", "", "", liftrescue.EINVALID, "lon"},
		{"lat not a number", "/?id=1&lat=abc&lon=2", "", "", liftrescue.EBADREQUEST, "lat"},
		{"lat NaN", "/?id=1&lat=NaN&lon=2", "", "", liftrescue.EBADREQUEST, "lat"},
		{"lat Inf", "/?id=1&lat=1e999&lon=2", "", "", liftrescue.EBADREQUEST, "lat"},
		{"lat hex", "/?id=1&lat=0x1p3&lon=2", "", "", liftrescue.EBADREQUEST, "lat"},
		{"lat out of range", "/?id=1&lat=91&lon=2", "", "", liftrescue.EINVALID, "lat"},
		{"bad location", "/?id=1&location=60", "", "", liftrescue.EBADREQUEST, "location"},
		{"bad timestamp", "/?id=1&lat=1&lon=2&timestamp=yesterday", "", "", liftrescue.EBADREQUEST, "timestamp"},
		{"future", "/?id=1&lat=1&lon=2&timestamp=1900000000", "", "", liftrescue.EINVALID, "timestamp"},
		{"before 2000", "/?id=1&lat=1&lon=2&timestamp=900000000", "", "", liftrescue.EINVALID, "timestamp"},
		{"bearing over 360", ok + "&bearing=400", "", "", liftrescue.EINVALID, "bearing"},
		{"battery over 100", ok + "&batt=150", "", "", liftrescue.EINVALID, "batt"},
		{"speed absurd", ok + "&speed=5000", "", "", liftrescue.EINVALID, "speed"},
		{"id too long", "/?lat=1&lon=2&id=" + strings.Repeat("x", 65), "", "", liftrescue.EINVALID, "id"},
		{"id with control characters", "/?lat=1&lon=2&id=a%00b", "", "", liftrescue.EINVALID, "id"},
		{"bad escape", "/?id=1&lat=1&lon=2&alarm=50%", "", "", liftrescue.EBADREQUEST, ""},
		{"semicolons", "/?id=1;lat=1;lon=2", "", "", liftrescue.EBADREQUEST, ""},
		{"body too large", "/", "application/x-www-form-urlencoded", "id=1&x=" + strings.Repeat("a", MaxOsmAndBody), liftrescue.ETOOLARGE, ""},
		{"JSON array", "/", "application/json", `[{"id":"1"}]`, liftrescue.EBADREQUEST, ""},
		{"JSON malformed", "/", "application/json", `{"device_id":"1",`, liftrescue.EBADREQUEST, ""},
		{"JSON type, no body", "/?lat=1&lon=2", "application/json", ``, liftrescue.EINVALID, "id"},
		{"JSON not JSON", "/", "application/json", `id=1`, liftrescue.EBADREQUEST, ""},
		{"JSON wrong type", "/", "application/json", `{"device_id":"1","location":{"coords":{"latitude":"x","longitude":2}}}`, liftrescue.EBADREQUEST, "location.coords.latitude"},
		{"JSON no device", "/", "application/json", `{"location":{"coords":{"latitude":1,"longitude":2}}}`, liftrescue.EINVALID, "device_id"},
		{"JSON no coords", "/", "application/json", `{"device_id":"1","location":{}}`, liftrescue.EINVALID, "location.coords"},
		{"JSON 0,0", "/", "application/json", `{"device_id":"1","location":{"coords":{"latitude":0,"longitude":0}}}`, liftrescue.EINVALID, "location.coords.latitude"},
		{"JSON battery in percent", "/", "application/json", `{"device_id":"1","location":{"coords":{"latitude":1,"longitude":2},"battery":{"level":79}}}`, liftrescue.EINVALID, "location.battery.level"},
		{"JSON bad time", "/", "application/json", `{"device_id":"1","location":{"timestamp":"soon","coords":{"latitude":1,"longitude":2}}}`, liftrescue.EBADREQUEST, "location.timestamp"},
	} {
		_, err := ParseOsmAnd(osmAndRequest("POST", tc.target, tc.contentType, tc.body), testNow)
		var e *liftrescue.Error
		if !errors.As(err, &e) || e.Code != tc.code || detailField(err) != tc.field || e.Message == "" {
			t.Errorf("%s: got %v (field %q), want %s on %q", tc.name, err, detailField(err), tc.code, tc.field)
		}
	}
}

// parseOsmAndReference is ParseOsmAnd as it was before it read the parameters itself: through
// url.ParseQuery and a merge of url.Values. The differential tests hold the parser to it.
func parseOsmAndReference(r *http.Request, now time.Time) (liftrescue.Fix, error) {
	body, err := readBody(r.Body, MaxOsmAndBody)
	if err != nil {
		return liftrescue.Fix{}, err
	}
	if j := bytes.TrimLeft(body, " \t\r\n"); len(j) > 0 && (j[0] == '{' || j[0] == '[' ||
		strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/json")) {
		return parseOsmAndJSON(j, now)
	}
	var raw string
	if r.URL != nil {
		raw = r.URL.RawQuery
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return liftrescue.Fix{}, liftrescue.Errorf(liftrescue.EBADREQUEST, "malformed query string: %s", queryProblem(err))
	}
	if len(body) > 0 {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return liftrescue.Fix{}, liftrescue.Errorf(liftrescue.EBADREQUEST, "malformed form body: %s", queryProblem(err))
		}
		for k, v := range form {
			if _, ok := q[k]; !ok {
				q[k] = v
			}
		}
	}
	return parseOsmAndQueryReference(q, now)
}

func parseOsmAndQueryReference(q url.Values, now time.Time) (liftrescue.Fix, error) {
	f := liftrescue.Fix{SpeedKmh: liftrescue.Unknown, Heading: liftrescue.Unknown, AccuracyM: liftrescue.Unknown,
		AltitudeM: liftrescue.Unknown, Battery: liftrescue.Unknown}
	_, id := referenceParam(q, "id", "deviceid")
	if f.DeviceID = strings.TrimSpace(id); f.DeviceID == "" {
		return liftrescue.Fix{}, liftrescue.Invalid("id", "missing: send the device id as id or deviceid")
	}

	lat, okLat, err := referenceNumber(q, "lat")
	if err != nil {
		return liftrescue.Fix{}, err
	}
	lon, okLon, err := referenceNumber(q, "lon")
	if err != nil {
		return liftrescue.Fix{}, err
	}
	if _, loc := referenceParam(q, "location"); !okLat && !okLon && loc != "" {
		s, t, found := strings.Cut(loc, ",")
		la, err1 := parseNumber(s)
		lo, err2 := parseNumber(t)
		if !found || err1 != nil || err2 != nil {
			return liftrescue.Fix{}, badParam("location", loc, "want latitude,longitude in degrees")
		}
		lat, lon, okLat, okLon = la, lo, true, true
	}
	if !okLat {
		return liftrescue.Fix{}, liftrescue.Invalid("lat", "missing: send lat and lon, or location=lat,lon")
	}
	if !okLon {
		return liftrescue.Fix{}, liftrescue.Invalid("lon", "missing: send lat and lon, or location=lat,lon")
	}
	f.Lat, f.Lon = lat, lon

	f.Time = now
	if _, ts := referenceParam(q, "timestamp"); ts != "" {
		t, ok := parseTimestamp(ts)
		if !ok {
			return liftrescue.Fix{}, badParam("timestamp", ts, "want Unix seconds, Unix milliseconds or an ISO 8601 time")
		}
		f.Time = t
	}
	f.Time = fixTime(f.Time)

	for _, m := range []struct {
		dst   *float64
		keys  []string
		scale float64
		sign  bool // negative values mean unknown
	}{
		{&f.SpeedKmh, []string{"speed"}, kmhPerKnot, true},
		{&f.Heading, []string{"bearing", "heading"}, 1, true},
		{&f.AltitudeM, []string{"altitude"}, 1, false},
		{&f.AccuracyM, []string{"accuracy"}, 1, true},
		{&f.Battery, []string{"batt"}, 0.01, true},
	} {
		v, ok, err := referenceNumber(q, m.keys...)
		if err != nil {
			return liftrescue.Fix{}, err
		}
		if !ok {
			continue
		}
		if m.sign {
			v = positive(v)
		}
		*m.dst = v * m.scale
	}
	_, f.Alarm = referenceParam(q, "alarm")
	f.Alarm = strings.ToLower(strings.TrimSpace(f.Alarm))
	return f, checkOsmAnd(&f, now, osmAndQueryFields)
}

// referenceParam returns the first key of keys that has a non-empty value, and its first value.
func referenceParam(q url.Values, keys ...string) (key, value string) {
	for _, k := range keys {
		if v := q[k]; len(v) > 0 && v[0] != "" {
			return k, v[0]
		}
	}
	return "", ""
}

// referenceNumber reads the parameter named by the first of keys present; ok is false when none is.
func referenceNumber(q url.Values, keys ...string) (v float64, ok bool, err error) {
	k, s := referenceParam(q, keys...)
	if k == "" {
		return 0, false, nil
	}
	v, err = parseNumber(s)
	if err != nil {
		return 0, false, badParam(k, s, "want a decimal number")
	}
	return v, true, nil
}

// osmAndDiff returns how ParseOsmAnd and parseOsmAndReference read a request differently, given as
// its query string and, for a POST, its form body, or "" when they give the same fix to the bit,
// or the same error with the same message and details.
func osmAndDiff(query, body string, post bool, contentType string) string {
	request := func() *http.Request {
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/", RawQuery: query}, Header: http.Header{}, Body: http.NoBody}
		if post {
			r.Method = "POST"
			r.Header.Set("Content-Type", contentType)
			r.Body = io.NopCloser(strings.NewReader(body))
		}
		return r
	}
	got, gotErr := ParseOsmAnd(request(), testNow)
	want, wantErr := parseOsmAndReference(request(), testNow)
	if gotErr != nil || wantErr != nil {
		var g, w *liftrescue.Error
		if !errors.As(gotErr, &g) || !errors.As(wantErr, &w) || !reflect.DeepEqual(g, w) {
			return fmt.Sprintf("query %q, body %q (post %v, %q):\n got %#v\nwant %#v", query, body, post, contentType, gotErr, wantErr)
		}
		return ""
	}
	same := func(a, b float64) bool {
		return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
	}
	if got.DeviceID != want.DeviceID || got.Alarm != want.Alarm || got.Flags != want.Flags || got.Unlocated != want.Unlocated ||
		!got.Time.Equal(want.Time) || got.Time.Location() != want.Time.Location() ||
		!same(got.Lat, want.Lat) || !same(got.Lon, want.Lon) || !same(got.SpeedKmh, want.SpeedKmh) ||
		!same(got.Heading, want.Heading) || !same(got.AccuracyM, want.AccuracyM) ||
		!same(got.AltitudeM, want.AltitudeM) || !same(got.Battery, want.Battery) {
		return fmt.Sprintf("query %q, body %q (post %v, %q):\n got %+v\nwant %+v", query, body, post, contentType, got, want)
	}
	return ""
}

// osmAndRequestSeed is a request as osmAndDiff takes it.
type osmAndRequestSeed struct {
	query, body string
	post        bool
	contentType string
}

// formType is the Content-Type of a form body.
const formType = "application/x-www-form-urlencoded"

// osmAndDifferentialSeeds are requests at the edges of url.ParseQuery, of the merge of the query
// string and the form body, and of telling a JSON body from a form.
var osmAndDifferentialSeeds = []osmAndRequestSeed{
	{"id=1&lat=1&lon=2&timestamp=1763716000", "", false, ""},
	{"id=353861053849681&timestamp=1763716000&lat=49.606880&lon=6.157880&speed=10.25&bearing=90.0&altitude=384.7&accuracy=4.5&batt=87&charge=true", "", false, ""},
	{"i%64=1&l%61t=1&%6c%6Fn=2&timestamp=2025-11-21T17:06:40.5%2B08:00&al%61rm=S%4fS+now", "", false, ""},
	{"id=+7+&lat=+1&lon=2+&alarm=a+b&time+stamp=x", "", false, ""},
	{"id=&id=5&deviceid=6&lat=1&lon=2", "", false, ""},
	{"id=1&lat=&lat=3&lon=2&location=4,5", "", false, ""},
	{"id=1&location=60,30&heading=45&bearing=", "", false, ""},
	{"id=1&lat=1&lon=2&bearing=x&heading=45", "", false, ""},
	{"id=1&lat=1&lon=2&alarm=50%", "", false, ""},
	{"id=1&lat=1&lon=2&alarm=50%&x=a;b", "", false, ""},
	{"id=1;lat=1;lon=2", "", false, ""},
	{"%zz=1&id=1&lat=1&lon=2&a=%4", "", false, ""},
	{"id=1&lat=1&lon=2&x=%g0&y=%%", "", false, ""},
	{"=1&&&id==1&lat=1=2&lon=2", "", false, ""},
	{"id=1&lat=1&lon=2&time%73tamp=1763716000&%74imestamp%31=0&timestampx=0&longerthananyname=1", "", false, ""},
	{"id=1&lat=1", "lon=2&lat=3&id=4", true, formType},
	{"id=1&lat=&lon=2", "lat=3", true, formType},
	{"id=1&lat=1&lon=2", "alarm=%zz", true, formType},
	{"id=1&lat=1&lon=2", "a=1;b", true, formType},
	{"id=1&lat=%zz", "a=1;b", true, formType},
	{"id=1&lat=1&lon=2", " \r\n", true, "application/json"},
	{"", "deviceid=9&location=1,2&timestamp=1763716000123&batt=-1&speed=-1&accuracy=-1", true, ""},
	{"id=1&lat=1&lon=2", "alarm=sos", true, "Application/JSON; charset=utf-8"},
	{"id=1&lat=1&lon=2", "alarm=sos", true, "appl\u0130cation/json"},
	{"id=1&lat=1&lon=2", "alarm=sos", true, "application/jso"},
	{"id=1&lat=1&lon=2", "alarm=sos", true, "text/json\xff"},
	{"", `{"device_id":"1","location":{"coords":{"latitude":1,"longitude":2}}}`, true, formType},
}

func TestOsmAndMatchesReference(t *testing.T) {
	// Past manyParams parameters; past url.ParseQuery's limit (too large to seed the fuzzer with).
	many := []osmAndRequestSeed{
		{"id=1&lat=1&lon=2&" + strings.Repeat("x=1&", 150) + "alarm=%zz", "", false, ""},
		{"id=1&lat=1&lon=2&" + strings.Repeat("x=1&", 150) + "alarm=sos", "", false, ""},
		{"id=1&lat=1&lon=2&" + strings.Repeat("&", 10001), "", false, ""},
		{"id=1&lat=1&lon=2", strings.Repeat("&", 10001) + "alarm=sos", true, formType},
	}
	for _, s := range append(many, osmAndDifferentialSeeds...) {
		if d := osmAndDiff(s.query, s.body, s.post, s.contentType); d != "" {
			t.Error(d)
		}
	}
	for id, v := range osmAndVectors(t) {
		if !strings.HasPrefix(id, "OSM-J") {
			u, _ := url.Parse(v)
			if d := osmAndDiff(u.RawQuery, "", false, "") + osmAndDiff("", u.RawQuery, true, formType); d != "" {
				t.Errorf("%s: %s", id, d)
			}
		}
	}

	// Random requests from the pieces that matter: names (plain, escaped, near misses), values
	// (numbers, times, escapes good and bad, spaces) and separators.
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(seed, 0))
	names := []string{"id", "deviceid", "lat", "lon", "location", "timestamp", "speed", "bearing", "heading",
		"altitude", "accuracy", "batt", "alarm", "token", "l%61t", "LAT", "i%64", "al+arm", "", "x"}
	values := []string{"", "1", "-1", "2.5", "49.606880", "6.15788", "1e999", "NaN", "0x1p3", "1763716000",
		"1763716000123", "2025-11-21T17:06:40.5%2B08:00", "2025-11-21+09:06:40", "60,30", "1,", "sos", "S%4FS",
		"%zz", "%4", "%", "+7+", "a%00b", "400", "150", "5000", "%E2%82%AC", "abc"}
	seps := []string{"&", "&", "&", "&", "&&", ";", "=", "&="}
	piece := func() string {
		var b strings.Builder
		for n := r.IntN(12); n > 0; n-- {
			b.WriteString(names[r.IntN(len(names))])
			if r.IntN(8) > 0 {
				b.WriteString("=")
			}
			b.WriteString(values[r.IntN(len(values))])
			b.WriteString(seps[r.IntN(len(seps))])
		}
		return b.String()
	}
	for range 20000 {
		query, body, post := "id=1&lat=1&lon=2&"+piece(), piece(), r.IntN(2) == 0
		if r.IntN(4) == 0 {
			query = piece()
		}
		if d := osmAndDiff(query, body, post, formType); d != "" {
			t.Fatalf("random request (seed %d): %s", seed, d)
		}
	}
}

// FuzzOsmAndDifferential holds ParseOsmAnd to the url.ParseQuery reference on any query string,
// form body and Content-Type.
func FuzzOsmAndDifferential(f *testing.F) {
	for _, s := range osmAndDifferentialSeeds {
		f.Add(s.query, s.body, s.post, s.contentType)
	}
	for id, v := range osmAndVectors(f) {
		if !strings.HasPrefix(id, "OSM-J") {
			u, _ := url.Parse(v)
			f.Add(u.RawQuery, "", false, "")
			f.Add("", u.RawQuery, true, formType)
		}
	}
	f.Fuzz(func(t *testing.T, query, body string, post bool, contentType string) {
		if d := osmAndDiff(query, body, post, contentType); d != "" {
			t.Fatal(d)
		}
	})
}
