package gps

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/liftrescue/liftrescue"
)

// The decoders of outside input must never panic, keep their memory bounded by their input, and
// whatever fix they return must hold together. Run one with, for example,
//
//	go test -run '^$' -fuzz FuzzJT808Frame -fuzztime 20s ./gps

// fixInvariants fails when a decoded fix does not hold together: what every decoder guarantees
// whether or not the fix passes the checks.
func fixInvariants(t *testing.T, f *liftrescue.Fix) {
	t.Helper()
	if f.DeviceID == "" || !utf8.ValidString(f.DeviceID) || !utf8.ValidString(f.Alarm) {
		t.Fatalf("device id %q, alarm %q", f.DeviceID, f.Alarm)
	}
	if math.IsNaN(f.Lat) || math.IsNaN(f.Lon) || math.IsInf(f.Lat, 0) || math.IsInf(f.Lon, 0) {
		t.Fatalf("position %v,%v", f.Lat, f.Lon)
	}
	for _, v := range []float64{f.SpeedKmh, f.Heading, f.AccuracyM, f.AltitudeM, f.Battery} {
		if math.IsInf(v, 0) {
			t.Fatalf("an infinite measure in %+v", f)
		}
	}
	if f.Time.Location() != time.UTC || !f.Time.Equal(f.Time.Truncate(time.Microsecond)) {
		t.Fatalf("time %v is not UTC to the microsecond", f.Time)
	}
}

// checkedFix fails when a fix a decoder accepted after its checks does not pass them.
func checkedFix(t *testing.T, f *liftrescue.Fix, now time.Time) {
	t.Helper()
	fixInvariants(t, f)
	if field, reason := checkFix(f, now); reason != "" {
		t.Fatalf("accepted a fix that fails its checks: %s: %s: %+v", field, reason, *f)
	}
}

func frameFault(t *testing.T, err error) {
	t.Helper()
	var fe *FrameError
	if err != nil && (!errors.As(err, &fe) || fe.Fault == 0 || fe.Error() == "") {
		t.Fatalf("error %v is not a *FrameError", err)
	}
}

func FuzzJT808Frame(f *testing.F) {
	for _, v := range jt808Vectors(f) {
		b, escaped := v.wire(f)
		if !escaped {
			b = AppendEscaped([]byte{flagByte}, b[1:len(b)-1])
			b = append(b, flagByte)
		}
		f.Add(b)
	}
	f.Add([]byte{0x7e, 0x02, 0x00, 0x7d, 0x03, 0x7e})
	f.Fuzz(func(t *testing.T, wire []byte) {
		_, err := DecodeFrame(wire)
		frameFault(t, err)
		// Then the bytes as the inside of a frame with its checksum put right, so that mutations
		// get past the checksum to the header and body decoders.
		inner := bytes.TrimSuffix(bytes.TrimPrefix(wire, []byte{flagByte}), []byte{flagByte})
		if u, err := Unescape(nil, inner); err == nil {
			inner = u
		}
		if len(inner) == 0 {
			return
		}
		p, err := ParsePacket(withChecksum(inner))
		frameFault(t, err)
		if err != nil {
			return
		}
		if len(p.Body) != p.BodyLen() || p.Trailing < 0 {
			t.Fatalf("body of %d bytes, header says %d", len(p.Body), p.BodyLen())
		}
		if id := p.DeviceID(); id == "" || len(id) > 20 {
			t.Fatalf("device id %q", id)
		}

		// The platform can answer it, and its answer reads back.
		ans, err := DecodeFrame(AppendGeneralResponse(nil, &p.Header, 7, ResultOK))
		if err != nil || ans.Version != p.Version || ans.Phone() != p.Phone() || ans.MsgID != MsgPlatformAck {
			t.Fatalf("answer: %+v, %v", ans.Header, err)
		}
		if r, err := ParseGeneralResponse(ans.Body); err != nil || r != (GeneralResponse{p.Serial, p.MsgID, ResultOK}) {
			t.Fatalf("answer body: %+v, %v", r, err)
		}
		// A frame re-encoded decodes to the same message.
		if !p.Subpackage() {
			again, err := DecodeFrame(AppendMessage(nil, &p.Header, p.Body))
			if err != nil || again.Header.MsgID != p.MsgID || again.Version != p.Version || again.Phone() != p.Phone() ||
				again.Serial != p.Serial || !bytes.Equal(again.Body, p.Body) {
				t.Fatalf("re-encoded: %+v %x, %v", again.Header, again.Body, err)
			}
		}

		// Every body decoder copes with every body.
		for _, v := range []Version{Version2013, Version2019} {
			r, err := ParseRegister(p.Body, v)
			frameFault(t, err)
			if !utf8.ValidString(r.Maker + r.Model + r.TerminalID + r.Plate) {
				t.Fatalf("register texts are not UTF-8: %+v", r)
			}
			_, err = ParseAuth(p.Body, v)
			frameFault(t, err)
		}
		_, err = ParseGeneralResponse(p.Body)
		frameFault(t, err)
		_, err = ParseRegisterResponse(p.Body)
		frameFault(t, err)
		b, err := ParseLocationBatch(p.Body)
		frameFault(t, err)
		if len(b.Items) > len(p.Body)/locationLen {
			t.Fatalf("%d items in %d bytes", len(b.Items), len(p.Body))
		}

		if l, err := ParseLocation(p.Body); err == nil {
			again, err := ParseLocation(AppendLocation(nil, &l))
			const signs = StatusSouth | StatusWest
			if err != nil || fmt.Sprint(again.Alarm, again.Status&^signs, again.Lat, again.Lon, again.AltitudeM, again.Speed, again.Direction, again.Time) !=
				fmt.Sprint(l.Alarm, l.Status&^signs, l.Lat, l.Lon, l.AltitudeM, l.Speed, l.Direction, l.Time) || !bytes.Equal(again.Extra, l.Extra) {
				t.Fatalf("location round trip:\n%+v\n%+v, %v", l, again, err)
			}
		} else {
			frameFault(t, err)
		}

		for _, msg := range []uint16{MsgLocation, MsgLocationBatch} {
			q := p
			q.MsgID = msg
			fixes, err := AppendFixes(nil, &q)
			frameFault(t, err)
			for i := range fixes {
				fx := &fixes[i]
				fixInvariants(t, fx)
				if fx.SpeedKmh < 0 || fx.SpeedKmh > 6553.5 || fx.Heading < 0 || fx.Heading > 360 ||
					!math.IsNaN(fx.AccuracyM) || !math.IsNaN(fx.Battery) || math.Abs(fx.Lat) > 4294.967295 ||
					(fx.Alarm == "sos") != (fx.Flags>>32&uint64(AlarmSOS) != 0) ||
					!fx.Time.IsZero() && (fx.Time.Year() < 1999 || fx.Time.Year() > 2099) {
					t.Fatalf("fix %+v", *fx)
				}
			}
		}
	})
}

func FuzzFrameReader(f *testing.F) {
	var stream []byte
	for _, id := range []string{"G-134", "G-164", "S-129", "T-059", "G-162"} {
		stream = append(stream, findVector(f, id).Hex...)
	}
	all := mustHex(string(stream))
	f.Add(all, uint16(0), uint8(16))
	f.Add(append([]byte("\r\n$$"), all...), uint16(40), uint8(0))
	f.Add(bytes.ReplaceAll(all, []byte{0x7e, 0x7e}, []byte{0x7e}), uint16(100), uint8(255))
	f.Add([]byte{0x7e, 0x7d, 0x7e, 0x7e, 0x7d, 0x03, 0x7e}, uint16(3), uint8(16))
	f.Fuzz(func(t *testing.T, data []byte, max uint16, size uint8) {
		fr := NewFrameReader(bufio.NewReaderSize(bytes.NewReader(data), 16+int(size)), int(max))
		limit := int(max)
		if limit == 0 {
			limit = DefaultMaxFrame
		}
		frames := 0
		for range len(data) + 2 {
			frame, err := fr.Next()
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				if fr.Skipped() > int64(len(data)) {
					t.Fatalf("skipped %d of %d bytes", fr.Skipped(), len(data))
				}
				if cap(fr.buf) > 2*(limit+16+int(size)) {
					t.Fatalf("buffer of %d bytes for frames of %d", cap(fr.buf), limit)
				}
				return
			}
			if err != nil {
				frameFault(t, err)
				continue
			}
			frames++
			if len(frame) == 0 || len(frame) > limit {
				t.Fatalf("frame of %d bytes, the limit is %d", len(frame), limit)
			}
			p, err := ParsePacket(frame)
			frameFault(t, err)
			if err == nil {
				if _, err := AppendFixes(nil, &p); err != nil {
					frameFault(t, err)
				}
			}
		}
		t.Fatalf("no end after %d calls on %d bytes", len(data)+2, len(data))
	})
}

func FuzzOsmAndQuery(f *testing.F) {
	for id, v := range osmAndVectors(f) {
		if !strings.HasPrefix(id, "OSM-J") {
			u, _ := url.Parse(v)
			f.Add(u.RawQuery, "", false)
			f.Add("", u.RawQuery, true)
		}
	}
	f.Add("id=1&lat=1&lon=2&timestamp=2025-11-21T09:06:40.123456789%2B08:00&batt=100&bearing=360&speed=539.9", "", false)
	f.Add("id=1&location=1,2&timestamp=1763716000123", "lat=3", true)
	f.Fuzz(func(t *testing.T, query, body string, post bool) {
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/", RawQuery: query}, Header: http.Header{}, Body: http.NoBody}
		if post {
			r.Method = "POST"
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Body = io.NopCloser(strings.NewReader(body))
		}
		fix, err := ParseOsmAnd(r, testNow)
		osmAndOutcome(t, &fix, err)
	})
}

func FuzzOsmAndJSON(f *testing.F) {
	for id, v := range osmAndVectors(f) {
		if strings.HasPrefix(id, "OSM-J") {
			f.Add(v)
		}
	}
	f.Add(`{"device_id":12,"location":{"timestamp":1763716000,"coords":{"latitude":1,"longitude":2,"speed":-1},"alarm":"SOS"}}`)
	f.Add(`{"device_id":"1","location":{"coords":{"latitude":1,"longitude":2},"extras":{"alarm":7},"battery":{"level":0.5}}}`)
	f.Fuzz(func(t *testing.T, body string) {
		r := &http.Request{Method: "POST", URL: &url.URL{Path: "/"}, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body))}
		fix, err := ParseOsmAnd(r, testNow)
		osmAndOutcome(t, &fix, err)
	})
}

func osmAndOutcome(t *testing.T, fix *liftrescue.Fix, err error) {
	t.Helper()
	if err != nil {
		var e *liftrescue.Error
		if !errors.As(err, &e) || e.Message == "" ||
			e.Code != liftrescue.EBADREQUEST && e.Code != liftrescue.EINVALID && e.Code != liftrescue.ETOOLARGE {
			t.Fatalf("error %#v", err)
		}
		return
	}
	checkedFix(t, fix, testNow)
}

func FuzzPositionsJSON(f *testing.F) {
	f.Add([]byte(`{"positions":[{"device_id":"van-7","lat":34.86,"lon":117.55,"time":"2026-11-21T16:30:00.123456789+08:00","speed_kmh":42.5,"heading":270,"accuracy_m":4,"altitude_m":-3.5}]}`))
	f.Add([]byte(`{"positions":[{"device_id":"a\u00e9\ud83d","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z","speed_kmh":null},[],{"lat":1e400},{"x":{"y":[true,false,null,"\""]}}]}`))
	f.Add([]byte(`{"positions":[{"device_id":"a","device_id":"b","lat":-0,"lon":2.5e-3,"time":"2026-11-21T08:30:00Z"}]}`))
	f.Add([]byte(`{"positions":[],"positions":[]}`))
	f.Add([]byte(`{"position\u0073":[{"device_id":"\ud83d\u0041\udc00\ud800\udbff\udfff","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z"}]}`))
	f.Add([]byte("{\"positions\":[{\"device_id\":\"\xff\xc3(\xed\xa0\x80\",\"lat\":1,\"lon\":2,\"time\":\"2026-11-21T08:30:00Z\"},{\"lat\xff\":1}]}"))
	f.Add([]byte(`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z","heading":null,"heading":null}]}`))
	f.Add([]byte(`{"positions":[{"device_id":"a","lat":1,"lon":2,"time":"2026-11-21T08:30:00Z","speed_kmh":1E+2,"accuracy_m":0.0e-0}]}`))
	f.Add(randomBatch(newRand(), 5))
	f.Add([]byte(`{"positions":[{"device\u005fid":"\u0061","lat":1,"lon":2,"time":"2026-11-21T01:30:00Z","\u0078":"\u0041"}]}`))
	f.Add([]byte(`{"positions":[{"device_id":"a","lat":0e999,"lon":-0.0,"time":"2026-11-21T08:30:00.1234567891+08:00","token":"t"},` +
		`{"device_id":"b","lat":1,"lon":1234567890123456e-10,"time":"2024-02-29T08:30:00-00:30","token":null}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		compareReference(t, body, testNow)
		fixes, rejected, err := DecodePositions(body, testNow)
		if err != nil && (fixes != nil || rejected != nil) {
			t.Fatalf("fixes with the error %v", err)
		}
		for i := range fixes {
			checkedFix(t, &fixes[i], testNow)
		}
		last := -1
		for _, d := range rejected {
			if d.Index == nil || *d.Index <= last || d.Reason == "" {
				t.Fatalf("rejected %+v", rejected)
			}
			last = *d.Index
		}
	})
}
