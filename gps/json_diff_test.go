package gps

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/liftrescue/liftrescue"
)

// The decoder's corners, random batches and mutations of them are checked against the reference
// on encoding/json (json_test.go); the pooled decoder against itself.

// batchDiff describes the first difference between two decodings, "" for none.
func batchDiff(got Batch, err error, want Batch, wantErr error) string {
	if (err == nil) != (wantErr == nil) || err != nil && (err.Error() != wantErr.Error() ||
		liftrescue.ErrorCode(err) != liftrescue.ErrorCode(wantErr)) {
		return fmt.Sprintf("error %v, the original %v", err, wantErr)
	}
	if len(got.Fixes) != len(want.Fixes) || (got.Fixes == nil) != (want.Fixes == nil) {
		return fmt.Sprintf("%d fixes, the original %d", len(got.Fixes), len(want.Fixes))
	}
	for i := range got.Fixes {
		if !sameFix(&got.Fixes[i], &want.Fixes[i]) {
			return fmt.Sprintf("fix %d\n got %+v\nwant %+v", i, got.Fixes[i], want.Fixes[i])
		}
	}
	if fmt.Sprint(got.Positions) != fmt.Sprint(want.Positions) || (got.Positions == nil) != (want.Positions == nil) {
		return fmt.Sprintf("positions %v, the original %v", got.Positions, want.Positions)
	}
	if fmt.Sprintf("%q", got.Tokens) != fmt.Sprintf("%q", want.Tokens) || (got.Tokens == nil) != (want.Tokens == nil) {
		return fmt.Sprintf("tokens %q, the original %q", got.Tokens, want.Tokens)
	}
	if len(got.Rejected) != len(want.Rejected) || (got.Rejected == nil) != (want.Rejected == nil) {
		return fmt.Sprintf("rejected %s, the original %s", details(got.Rejected), details(want.Rejected))
	}
	for i := range got.Rejected {
		g, w := got.Rejected[i], want.Rejected[i]
		if *g.Index != *w.Index || g.Field != w.Field || g.Value != w.Value || g.Reason != w.Reason || g.Line != w.Line {
			return fmt.Sprintf("rejected %s, the original %s", details(got.Rejected), details(want.Rejected))
		}
	}
	return ""
}

func details(ds []liftrescue.Detail) string {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprintf("%d:%s:%s", *d.Index, d.Field, d.Reason))
	}
	return fmt.Sprintf("%q", s)
}

// sameFix compares two fixes field by field, measures bit for bit (NaN included) and times to the
// representation.
func sameFix(a, b *liftrescue.Fix) bool {
	bits := math.Float64bits
	return a.DeviceID == b.DeviceID && a.Time == b.Time && a.Alarm == b.Alarm && a.Flags == b.Flags &&
		a.Unlocated == b.Unlocated && bits(a.Lat) == bits(b.Lat) && bits(a.Lon) == bits(b.Lon) &&
		bits(a.SpeedKmh) == bits(b.SpeedKmh) && bits(a.Heading) == bits(b.Heading) &&
		bits(a.AccuracyM) == bits(b.AccuracyM) && bits(a.AltitudeM) == bits(b.AltitudeM) &&
		bits(a.Battery) == bits(b.Battery)
}

// TestDecodeBatchMatchesReference runs hand-picked corners, random batches and mutations of them
// through the decoder and the reference.
func TestDecodeBatchMatchesReference(t *testing.T) {
	bodies := []string{
		``, ` `, `{`, `}`, `[]`, `{}`, `{"positions":[]}`, `{"positions":null}`, `{"positions":[],"x":1}`,
		`{"positions":[{}]}`, `{"positions":[1,"a",null,true,[],{}]}`, `{"positions":[{"lat":01}]}`,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z"}]}  `,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z","token":"t"},` +
			`{"device_id":"b","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z"}]}`,
		`{"positions":[{"device_id":"b","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z"},` +
			`{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z","token":"t"}]}`,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z","token":null}]}`,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z","token":""}]}`,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z","heading":null,"heading":1}]}`,
		`{"positions":[{"device_id":null,"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z"}]}`,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z","x":1,"lat":2}]}`,
		`{"positions":[{"device_id":"a","lat":"1","lat":2,"lon":2,"time":"2026-11-21T08:30:00Z"}]}`,
		`{"positions":[{"device_id":"a","lat":nul,"lon":2,"time":"2026-11-21T08:30:00Z"}]}`,
		`{"positions":[{"device_id":"a","lat":-0,"lon":-0.0e0,"time":"2026-11-21T08:30:00Z","speed_kmh":0e999}]}`,
		`{"positions":[{"device_id":"a","lat":1e-400,"lon":123456789012345678901234567890e-28,"time":"2026-11-21T08:30:00Z"}]}`,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00.1234567891234+08:00"}]}`,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21t08:30:00z"}]}`,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2024-02-29T08:30:00-23:59"}]}`,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-02-29T08:30:00Z"}]}`,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T24:00:00Z"}]}`,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:60Z"}]}`,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00,5Z"}]}`,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00.Z"}]}`,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00+0800"}]}`,
		`{"positions":[{"device_id":"中文-7","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z"}]}`,
		"{\"positions\":[{\"device_id\":\"a\xffb\",\"lat\":1,\"lon\":2,\"time\":\"2026-11-21T08:30:00Z\"}]}",
		`{"positions":[{"device_id":"` + strings.Repeat("x", 65) + `","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z"}]}`,
		`{"positions":[{"` + strings.Repeat("y", 80) + `":1}]}`,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z"}],"positions":[]}`,
		`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z"},]}`,
		`{"positions":[` + strings.Repeat(`[`, maxDepth) + strings.Repeat(`]`, maxDepth) + `]}`,
		`{"positions":[` + strings.Repeat(`[`, maxDepth+1) + strings.Repeat(`]`, maxDepth+1) + `]}`,
	}
	// The reference knows no device tokens (TestDecodeBatchTokensAndPositions checks them).
	check := func(b []byte) {
		if !bytes.Contains(b, []byte(`"token"`)) {
			compareReference(t, b, testNow)
		}
	}
	for _, b := range bodies {
		check([]byte(b))
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		check(randomBatch(r, 1+r.IntN(60)))
		check(mutate(r, randomBatch(r, 1+r.IntN(5))))
	}
}

// mutate changes a few bytes of b, inserts escapes and cuts it, as a fuzzer would.
func mutate(r *rand.Rand, b []byte) []byte {
	b = bytes.Clone(b)
	for range 1 + r.IntN(4) {
		i := r.IntN(len(b))
		switch r.IntN(5) {
		case 0:
			b[i] = "{}[]:,\"\\nu0-.eE9 "[r.IntN(17)]
		case 1:
			b = append(b[:i:i], append([]byte(`\u00`+strconv.Itoa(40+r.IntN(60))), b[i:]...)...)
		case 2:
			b = b[:i]
		case 3:
			b[i] ^= 0x80
		default:
			b = append(b[:i:i], append([]byte(`"token":"s",`), b[i:]...)...)
		}
		if len(b) == 0 {
			return b
		}
	}
	return b
}

// TestDecodeBatchEscapedNames: a member name and its value both escaped are read as encoding/json
// reads them. The original decoder unescaped the value over the name and misread the member.
func TestDecodeBatchEscapedNames(t *testing.T) {
	body := []byte(`{"positions":[{"device\u005fid":"\u0061","lat":1,"lon":2,"time":"2026-11-21T01:30:00Z"},` +
		`{"device_id":"b","lat":1,"lon":2,"time":"2026-11-21T01:30:00Z","\u0078":"\u0041"}]}`)
	b, err := DecodeBatch(body, testNow)
	if err != nil || len(b.Fixes) != 1 || b.Fixes[0].DeviceID != "a" || len(b.Rejected) != 1 || b.Rejected[0].Field != "x" {
		t.Fatalf("DecodeBatch = %+v, %v", b, err)
	}
	compareReference(t, body, testNow)
}

// TestDecodeBatchPooled: what a decoder hands out stays as it was while the pooled decoder reads
// other batches, from other goroutines too.
func TestDecodeBatchPooled(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	bodies := make([][]byte, 64)
	for i := range bodies {
		bodies[i] = randomBatch(r, 1+r.IntN(200))
		if i%2 == 1 {
			bodies[i] = bytes.ReplaceAll(bodies[i], []byte(`"dev-`), []byte(`"d\u0065v\u00e9-`))
		}
	}
	first := make([]Batch, len(bodies))
	for i, b := range bodies {
		var err error
		first[i], err = DecodeBatch(b, testNow)
		if err != nil {
			t.Fatal(err)
		}
	}
	want := make([]Batch, len(first))
	for i := range first {
		want[i] = cloneBatch(first[i])
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := range 200 {
				i := (g*31 + k) % len(bodies)
				got, err := ReadBatch(iotest.HalfReader(bytes.NewReader(bodies[i])), testNow)
				if diff := batchDiff(got, err, want[i], nil); diff != "" {
					t.Errorf("body %d: %s", i, diff)
					return
				}
			}
		})
	}
	wg.Wait()
	for i := range first {
		if diff := batchDiff(first[i], nil, want[i], nil); diff != "" {
			t.Errorf("body %d changed after other batches: %s", i, diff)
		}
	}
}

// cloneBatch copies a batch, its strings too, so that nothing of it is shared with the decoder's.
func cloneBatch(b Batch) Batch {
	c := Batch{Fixes: slices.Clone(b.Fixes), Positions: slices.Clone(b.Positions), Rejected: slices.Clone(b.Rejected)}
	for i := range c.Fixes {
		c.Fixes[i].DeviceID = strings.Clone(c.Fixes[i].DeviceID)
		c.Fixes[i].Alarm = strings.Clone(c.Fixes[i].Alarm)
	}
	if b.Tokens != nil {
		c.Tokens = make([]string, len(b.Tokens))
		for i, tok := range b.Tokens {
			c.Tokens[i] = strings.Clone(tok)
		}
	}
	for i := range c.Rejected {
		c.Rejected[i].Value = strings.Clone(c.Rejected[i].Value)
	}
	return c
}

// TestReadBatchBodies: ReadBatch reads bodies as readBody does, whatever the reader does.
func TestReadBatchBodies(t *testing.T) {
	ok := []byte(`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z"}]}`)
	broken := errors.New("connection reset")
	for _, tc := range []struct {
		name string
		r    func() io.Reader
		max  int64
	}{
		{"whole", func() io.Reader { return bytes.NewReader(ok) }, 1 << 20},
		{"byte by byte", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(ok)) }, 1 << 20},
		{"data with EOF", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(ok)) }, 1 << 20},
		{"timeout", func() io.Reader { return iotest.TimeoutReader(iotest.HalfReader(bytes.NewReader(ok))) }, 1 << 20},
		{"error", func() io.Reader { return io.MultiReader(bytes.NewReader(ok[:10]), iotest.ErrReader(broken)) }, 1 << 20},
		{"nil", func() io.Reader { return nil }, 1 << 20},
		{"exactly the limit", func() io.Reader { return bytes.NewReader(ok) }, int64(len(ok))},
		{"one over", func() io.Reader { return bytes.NewReader(ok) }, int64(len(ok)) - 1},
		{"large", func() io.Reader { return bytes.NewReader(bytes.Repeat([]byte(" "), 3000)) }, 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, wantErr := readBody(tc.r(), tc.max)
			for _, start := range [][]byte{nil, make([]byte, 5, 7), make([]byte, 0, 4096)} {
				got, err := readBodyInto(start, tc.r(), tc.max)
				if fmt.Sprint(err) != fmt.Sprint(wantErr) || liftrescue.ErrorCode(err) != liftrescue.ErrorCode(wantErr) {
					t.Fatalf("error %v, readBody %v", err, wantErr)
				}
				if wantErr == nil && !bytes.Equal(got, want) {
					t.Fatalf("body %q, readBody %q", got, want)
				}
			}
		})
	}
	// Through ReadBatch, pooled buffers included.
	for range 3 {
		b, err := ReadBatch(iotest.OneByteReader(bytes.NewReader(ok)), testNow)
		if err != nil || len(b.Fixes) != 1 {
			t.Fatalf("ReadBatch = %+v, %v", b, err)
		}
		if _, err := ReadBatch(strings.NewReader(strings.Repeat(" ", MaxBatchBody+1)), testNow); liftrescue.ErrorCode(err) != liftrescue.ETOOLARGE {
			t.Fatalf("a body over MaxBatchBody: %v", err)
		}
	}
}

func TestAtof(t *testing.T) {
	for _, s := range []string{"0", "-0", "0.0", "-0.0", "0e5", "-0E-5", "1", "-1", "34.861234", "117.551234",
		"1e22", "1e23", "123456789012345", "1234567890123456", "9007199254740993", "0.1", "1e-22", "1e-23",
		"4.9e-324", "1e-400", "1e400", "-1e400", "1.7976931348623157e308", "1.7976931348623159e308",
		"123.456e-2", "0.000000000000000000000000001", "12345678901234567890123", "1E+2", "2.5E-3"} {
		got, ok := atof([]byte(s))
		want, err := strconv.ParseFloat(s, 64)
		if ok != (err == nil) || math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("atof(%s) = %v, %v; ParseFloat %v, %v", s, got, ok, want, err)
		}
	}
}

// FuzzAtof checks the fast number reader against strconv.ParseFloat, bit for bit, on every JSON
// number.
func FuzzAtof(f *testing.F) {
	for _, s := range []string{"0", "-0.0", "34.861234", "1e22", "9007199254740993", "1e-400", "-12.5E+3"} {
		f.Add(s)
	}
	f.Add("01")
	f.Add("-")
	f.Add("1.")
	f.Add("1.5.2")
	f.Add("0.1234567890123456789")
	f.Fuzz(func(t *testing.T, s string) {
		// The one-pass reader of a value says what number and atof say, and stops where number
		// stops, whatever follows.
		fd, nd := decoder{b: []byte(s)}, decoder{b: []byte(s)}
		v, vok, verr := fd.float()
		ntok, nerr := nd.number()
		if fmt.Sprint(verr) != fmt.Sprint(nerr) || fd.i != nd.i {
			t.Fatalf("float(%q) stops at %d with %v; number at %d with %v", s, fd.i, verr, nd.i, nerr)
		}
		if nerr == nil {
			if w, wok := atof(ntok); vok != wok || math.Float64bits(v) != math.Float64bits(w) {
				t.Fatalf("float(%q) = %v, %v; atof %v, %v", s, v, vok, w, wok)
			}
		}

		d := decoder{b: []byte(s)}
		tok, err := d.number()
		if err != nil || len(tok) != len(s) {
			return // not a JSON number
		}
		got, ok := atof(tok)
		want, werr := strconv.ParseFloat(s, 64)
		if ok != (werr == nil) || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("atof(%s) = %v, %v; ParseFloat %v, %v", s, got, ok, want, werr)
		}
	})
}

func TestParseTime(t *testing.T) {
	for _, s := range []string{"2026-11-21T08:30:00Z", "2026-11-21T08:30:00.123456789Z", "2026-11-21T08:30:00.1234567899+08:00",
		"2026-11-21T08:30:00.9999999-23:59", "0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59.999999999-23:59",
		"2024-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "1969-12-31T23:59:59.5Z",
		"2026-11-21T08:30:00.Z", "2026-11-21T08:30:00,5Z", "2026-11-21t08:30:00Z", "2026-11-21T08:30:00z",
		"2026-11-21T08:30:00+24:00", "2026-11-21T08:30:00+08:60", "2026-11-21T08:30:00+0800", "2026-11-21 08:30:00Z",
		"2026-13-21T08:30:00Z", "2026-00-21T08:30:00Z", "2026-04-31T08:30:00Z", "+026-11-21T08:30:00Z",
		"2026-11-21T08:30:00", "2026-11-21T8:30:00Z", "2026-11-21T08:30:00.000001Z", "2026-11-21T08:30:00.0000009Z"} {
		checkParseTime(t, s)
	}
}

func checkParseTime(t *testing.T, s string) {
	t.Helper()
	got, ok := parseTime([]byte(s))
	want, err := time.Parse(time.RFC3339, s)
	if ok != (err == nil) || ok && got != fixTime(want) {
		t.Fatalf("parseTime(%q) = %v, %v; time.Parse %v, %v", s, got, ok, fixTime(want), err)
	}
	if fast, ok := parseRFC3339([]byte(s)); ok && (err != nil || fast != fixTime(want)) {
		t.Fatalf("parseRFC3339(%q) = %v; time.Parse %v, %v", s, fast, want, err)
	}
}

// FuzzParseTime checks the fast RFC 3339 reader against time.Parse and fixTime.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-11-21T08:30:00Z", "2026-11-21T16:30:00.123456789+08:00", "2024-02-29T23:59:59.9-00:30",
		"0000-01-01T00:00:00+23:59"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkParseTime(t, s) })
}
