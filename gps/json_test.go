package gps

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

func TestDecodePositions(t *testing.T) {
	fix := func(id string, i int) string {
		return fmt.Sprintf(`{"device_id":%q,"lat":34.86%d,"lon":117.55,"time":"2026-11-21T08:30:0%dZ"}`, id, i, i)
	}
	for _, tc := range []struct {
		name     string
		body     string
		fixes    []string // fixString of each accepted fix
		rejected []string // index:field:reason
		code     string
	}{
		{"one of each", `{"positions":[{"device_id":"van-7","lat":34.86,"lon":117.55,"time":"2026-11-21T16:30:00.123456789+08:00",` +
			`"speed_kmh":42.5,"heading":270,"accuracy_m":4,"altitude_m":-3.5}]}`,
			[]string{`van-7 2026-11-21T08:30:00.123456Z 34.86,117.55 speed=42.5 heading=270 acc=4 alt=-3.5 batt=? alarm=""`}, nil, ""},
		{"nulls and spaces", " {\n\"positions\" : [ {\"device_id\":\"a\\u00e9\\ud83d\\ude91\",\"lat\":1,\"lon\":2,\"time\":\"2026-11-21T08:30:00Z\",\"speed_kmh\":null,\"heading\":null} ] } \n",
			[]string{`aé🚑 2026-11-21T08:30:00Z 1,2 speed=? heading=? acc=? alt=? batt=? alarm=""`}, nil, ""},
		{"empty", `{"positions":[]}`, nil, nil, ""},
		{"one bad fix of three", `{"positions":[` + fix("a", 1) + `,{"device_id":"b","lat":91,"lon":2,"time":"2026-11-21T08:30:00Z"},` + fix("c", 3) + `]}`,
			[]string{`a 2026-11-21T08:30:01Z 34.861,117.55 speed=? heading=? acc=? alt=? batt=? alarm=""`,
				`c 2026-11-21T08:30:03Z 34.863,117.55 speed=? heading=? acc=? alt=? batt=? alarm=""`},
			[]string{"1:lat:latitude must be between -90 and 90"}, ""},
		{"problems by fix", `{"positions":[` + strings.Join([]string{
			`{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z","latitude":1}`,
			`{"device_id":"a","lat":"1","lon":2,"time":"2026-11-21T08:30:00Z"}`,
			`{"device_id":"a","lat":1,"lon":2}`,
			`{"device_id":"a","lat":1,"lon":2,"time":"21/11/2026"}`,
			`{"device_id":7,"lat":1,"lon":2,"time":"2026-11-21T08:30:00Z"}`,
			`{"device_id":"a","lat":1e400,"lon":2,"time":"2026-11-21T08:30:00Z"}`,
			`{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T12:30:00Z"}`,
			`{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z","heading":-1}`,
			`{"device_id":null,"lat":1,"lon":2,"time":"2026-11-21T08:30:00Z"}`,
			`[1,2]`,
			`{"device_id":"a","lat":1,"lat":1,"lon":2,"time":"2026-11-21T08:30:00Z"}`,
			`{"device_id":"a\u0000b","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z"}`,
			`{}`,
		}, ",") + `]}`, nil, []string{
			"0:latitude:unknown field",
			"1:lat:want a number",
			"2:time:missing",
			`3:time:want an RFC 3339 time like 2026-11-21T08:30:00Z, got "21/11/2026"`,
			"4:device_id:want a string",
			"5:lat:number out of range",
			"6:time:time 2026-11-21T12:30:00Z is in the future",
			"7:heading:heading out of range",
			"8:device_id:missing",
			"9::want an object",
			"10:lat:given twice",
			"11:device_id:contains control characters",
			"12:device_id:missing",
		}, ""},
		{"not JSON", `positions`, nil, nil, liftrescue.EBADREQUEST},
		{"empty body", ``, nil, nil, liftrescue.EBADREQUEST},
		{"no positions", `{}`, nil, nil, liftrescue.EBADREQUEST},
		{"positions null", `{"positions":null}`, nil, nil, liftrescue.EBADREQUEST},
		{"positions twice", `{"positions":[],"positions":[]}`, nil, nil, liftrescue.EBADREQUEST},
		{"unknown member", `{"positions":[],"device":"x"}`, nil, nil, liftrescue.EBADREQUEST},
		{"an array", `[` + fix("a", 1) + `]`, nil, nil, liftrescue.EBADREQUEST},
		{"cut short", `{"positions":[` + fix("a", 1), nil, nil, liftrescue.EBADREQUEST},
		{"data after", `{"positions":[]} {}`, nil, nil, liftrescue.EBADREQUEST},
		{"bad number", `{"positions":[{"lat":01}]}`, nil, nil, liftrescue.EBADREQUEST},
		{"bad string", `{"positions":[{"device_id":"a` + "\t" + `"}]}`, nil, nil, liftrescue.EBADREQUEST},
		{"bad escape", `{"positions":[{"device_id":"\x"}]}`, nil, nil, liftrescue.EBADREQUEST},
		{"bad value in an unknown field", `{"positions":[{"x":[1,}]}`, nil, nil, liftrescue.EBADREQUEST},
		{"too many", `{"positions":[` + strings.Repeat(fix("a", 1)+",", MaxBatch) + fix("a", 1) + `]}`, nil, nil, liftrescue.ETOOLARGE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fixes, rejected, err := DecodePositions([]byte(tc.body), testNow)
			if liftrescue.ErrorCode(err) != tc.code {
				t.Fatalf("error %v, want code %q", err, tc.code)
			}
			var got []string
			for _, f := range fixes {
				got = append(got, fixString(f))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.fixes) {
				t.Errorf("fixes\n got %q\nwant %q", got, tc.fixes)
			}
			got = nil
			for _, d := range rejected {
				got = append(got, fmt.Sprintf("%d:%s:%s", *d.Index, d.Field, d.Reason))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.rejected) {
				t.Errorf("rejected\n got %q\nwant %q", got, tc.rejected)
			}
			// The reference decoder agrees.
			compareReference(t, []byte(tc.body), testNow)
		})
	}

	// A full batch passes.
	var b strings.Builder
	b.WriteString(`{"positions":[`)
	for i := range MaxBatch {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(fix(fmt.Sprint("van-", i%50), i%10))
	}
	b.WriteString(`]}`)
	fixes, rejected, err := ReadPositions(strings.NewReader(b.String()), testNow)
	if err != nil || len(fixes) != MaxBatch || len(rejected) != 0 {
		t.Errorf("a full batch: %d fixes, %d rejected, %v", len(fixes), len(rejected), err)
	}
}

// TestDecodePositionsRandom checks batches of random fixes, good and bad, against the reference.
func TestDecodePositionsRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		body := randomBatch(r, 1+r.IntN(50))
		compareReference(t, body, testNow)
	}
}

// randomBatch writes n fixes with some of everything that can be wrong with one.
func randomBatch(r *rand.Rand, n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"positions":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fields := []string{
			fmt.Sprintf(`"device_id":"dev-%d"`, r.IntN(20)),
			fmt.Sprintf(`"lat":%.6f`, r.Float64()*200-100),
			fmt.Sprintf(`"lon":%.6f`, r.Float64()*400-200),
			fmt.Sprintf(`"time":%q`, testNow.Add(time.Duration(r.Int64N(int64(20*time.Minute)))-15*time.Minute).Format(time.RFC3339Nano)),
			fmt.Sprintf(`"speed_kmh":%g`, r.Float64()*200-10),
			fmt.Sprintf(`"heading":%d`, r.IntN(400)-20),
			`"accuracy_m":null`,
			fmt.Sprintf(`"altitude_m":%g`, r.NormFloat64()*100),
			`"extra":1`,
			`"lat":"x"`,
		}
		r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
		b.WriteString("{" + strings.Join(fields[:4+r.IntN(6)], ",") + "}")
	}
	b.WriteString("]}")
	return b.Bytes()
}

// compareReference decodes body with DecodePositions and with referencePositions, a slow decoder
// on encoding/json, and fails on any difference in the error code, the fixes or the indexes of
// the rejected fixes.
func compareReference(t testing.TB, body []byte, now time.Time) {
	t.Helper()
	fixes, rejected, err := DecodePositions(body, now)
	wantFixes, wantRejected, wantCode := referencePositions(body, now)
	if code := liftrescue.ErrorCode(err); code != wantCode {
		t.Fatalf("%q: error %v, the reference says %q", body, err, wantCode)
	}
	if len(fixes) != len(wantFixes) {
		t.Fatalf("%q: %d fixes, the reference %d", body, len(fixes), len(wantFixes))
	}
	for i := range fixes {
		if got, want := fixString(fixes[i]), fixString(wantFixes[i]); got != want || fixes[i].DeviceID != wantFixes[i].DeviceID {
			t.Fatalf("%q: fix %d\n got %s\nwant %s", body, i, got, want)
		}
	}
	var got []int
	for _, d := range rejected {
		got = append(got, *d.Index)
	}
	if fmt.Sprint(got) != fmt.Sprint(wantRejected) {
		t.Fatalf("%q: rejected %v, the reference %v", body, got, wantRejected)
	}
}

// referencePositions decodes a batch with encoding/json, the slow and obvious way.
func referencePositions(body []byte, now time.Time) (fixes []liftrescue.Fix, rejected []int, code string) {
	if !json.Valid(body) {
		return nil, nil, liftrescue.EBADREQUEST
	}
	members, ok := objectMembers(body)
	if !ok || len(members) != 1 || members[0].key != "positions" {
		return nil, nil, liftrescue.EBADREQUEST
	}
	raw := members[0].value
	var elems []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
		return nil, nil, liftrescue.EBADREQUEST
	}
	if len(elems) > MaxBatch {
		return nil, nil, liftrescue.ETOOLARGE
	}
	for i, e := range elems {
		f, ok := referenceFix(e, now)
		if ok {
			fixes = append(fixes, f)
		} else {
			rejected = append(rejected, i)
		}
	}
	return fixes, rejected, ""
}

func referenceFix(e json.RawMessage, now time.Time) (liftrescue.Fix, bool) {
	f := liftrescue.Fix{SpeedKmh: math.NaN(), Heading: math.NaN(), AccuracyM: math.NaN(), AltitudeM: math.NaN(), Battery: math.NaN()}
	members, ok := objectMembers(e)
	if !ok {
		return f, false
	}
	seen, set := map[string]bool{}, map[string]bool{}
	for _, m := range members {
		if seen[m.key] {
			return f, false // given twice
		}
		seen[m.key] = true
		var num *float64
		switch m.key {
		case "device_id", "time", "lat", "lon", "speed_kmh", "heading", "accuracy_m", "altitude_m":
			if string(m.value) == "null" {
				continue
			}
			set[m.key] = true
		default:
			return f, false
		}
		switch m.key {
		case "device_id":
			if json.Unmarshal(m.value, &f.DeviceID) != nil {
				return f, false
			}
		case "time":
			var s string
			if json.Unmarshal(m.value, &s) != nil {
				return f, false
			}
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return f, false
			}
			f.Time = t.UTC().Truncate(time.Microsecond)
		case "lat":
			num = &f.Lat
		case "lon":
			num = &f.Lon
		case "speed_kmh":
			num = &f.SpeedKmh
		case "heading":
			num = &f.Heading
		case "accuracy_m":
			num = &f.AccuracyM
		case "altitude_m":
			num = &f.AltitudeM
		}
		if num != nil && json.Unmarshal(m.value, num) != nil {
			return f, false
		}
	}
	for _, k := range []string{"device_id", "time", "lat", "lon"} {
		if !set[k] {
			return f, false
		}
	}
	_, reason := checkFix(&f, now)
	return f, reason == ""
}

type member struct {
	key   string
	value json.RawMessage
}

// objectMembers lists the members of a JSON object in order, repeated names included.
func objectMembers(b []byte) ([]member, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		out = append(out, member{tok.(string), v})
	}
	return out, true
}

func newRand() *rand.Rand { return rand.New(rand.NewPCG(3, 4)) }

func TestDecodeBatchTokensAndPositions(t *testing.T) {
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	body := `{"positions":[
		{"device_id":"a","lat":34.8,"lon":117.5,"time":"2026-11-21T07:59:00Z","token":"s3cret-a"},
		{"device_id":"b","lat":0,"lon":0,"time":"2026-11-21T07:59:00Z","token":"s3cret-b"},
		{"device_id":"c","lat":34.8,"lon":117.5,"time":"2026-11-21T07:59:00Z"},
		{"device_id":"d","lat":34.8,"lon":117.5,"time":"2026-11-21T07:59:00Z","token":7},
		{"device_id":"e","lat":34.8,"lon":117.5,"time":"2026-11-21T07:59:00Z","token":"x","token":"y"}]}`
	b, err := DecodeBatch([]byte(body), now)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(b.Positions, b.Tokens); got != "[0 2] [s3cret-a ]" {
		t.Errorf("positions, tokens = %s", got)
	}
	var rejected []string
	for _, d := range b.Rejected {
		rejected = append(rejected, fmt.Sprintf("%d %s %s", *d.Index, d.Field, d.Reason))
	}
	if got := strings.Join(rejected, "; "); !strings.HasPrefix(got, "1 ") || !strings.Contains(got, "3 token want a string") || !strings.Contains(got, "4 token given twice") {
		t.Errorf("rejected = %s", got)
	}
	// What the pipeline says of the second usable fix is told of the third in the body.
	two := 1
	if d := b.Reindex([]liftrescue.Detail{{Index: &two}}); *d[0].Index != 2 {
		t.Errorf("Reindex = %d, want 2", *d[0].Index)
	}
	// Without tokens there are none to carry.
	b, err = DecodeBatch([]byte(`{"positions":[{"device_id":"c","lat":34.8,"lon":117.5,"time":"2026-11-21T07:59:00Z"}]}`), now)
	if err != nil || b.Tokens != nil || len(b.Fixes) != 1 {
		t.Errorf("DecodeBatch without tokens = %+v, %v", b, err)
	}
}
