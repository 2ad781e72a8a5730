package gps

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// locationWire is a real device's location report (Traccar's T-004: 72-byte body with additional
// items), escaped as on the wire.
func locationWire(b *testing.B) []byte {
	v := findVector(b, "T-004")
	frame := v.frame(b)
	return append(AppendEscaped([]byte{flagByte}, frame), flagByte)
}

// BenchmarkJT808Location decodes one location frame as a server does: unescape into the
// connection's buffer, check and parse the header, read the body into a fix.
func BenchmarkJT808Location(b *testing.B) {
	wire := locationWire(b)
	buf := make([]byte, 0, DefaultMaxFrame)
	fixes := make([]liftrescue.Fix, 0, 1)
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		frame, err := Unescape(buf[:0], wire[1:len(wire)-1])
		if err != nil {
			b.Fatal(err)
		}
		p, err := ParsePacket(frame)
		if err != nil {
			b.Fatal(err)
		}
		if fixes, err = AppendFixes(fixes[:0], &p); err != nil || len(fixes) != 1 {
			b.Fatal(fixes, err)
		}
	}
}

// BenchmarkJT808Stream reads 1,000 location frames from a connection's stream, answers each with a
// general response and reports fixes/s.
func BenchmarkJT808Stream(b *testing.B) {
	wire := locationWire(b)
	stream := bytes.Repeat(wire, 1000)
	r := bytes.NewReader(stream)
	br := bufio.NewReaderSize(r, 4096)
	fixes := make([]liftrescue.Fix, 0, 1000)
	answers := make([]byte, 0, 64*1000)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(stream)
		br.Reset(r)
		fr := NewFrameReader(br, 0)
		fixes, answers = fixes[:0], answers[:0]
		for serial := uint16(0); ; serial++ {
			frame, err := fr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			p, err := ParsePacket(frame)
			if err != nil {
				b.Fatal(err)
			}
			if fixes, err = AppendFixes(fixes, &p); err != nil {
				b.Fatal(err)
			}
			answers = AppendGeneralResponse(answers, &p.Header, serial, ResultOK)
		}
		if len(fixes) != 1000 {
			b.Fatal(len(fixes))
		}
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "fixes/s")
}

// BenchmarkOsmAndQuery parses one request as Traccar Client (legacy and SDK) sends it.
func BenchmarkOsmAndQuery(b *testing.B) {
	q := "id=353861053849681&timestamp=1763716000&lat=49.606880&lon=6.157880&speed=10.25&bearing=90.0&altitude=384.7&accuracy=4.5&batt=87&charge=true"
	r := &http.Request{Method: "POST", URL: &url.URL{Path: "/", RawQuery: q}, Header: http.Header{}, Body: http.NoBody}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseOsmAnd(r, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOsmAndForm parses one request as the OsmAnd server gets it from Traccar Client: a POST
// with the form body, and the token in the query string of the server URL.
func BenchmarkOsmAndForm(b *testing.B) {
	form := "id=353861053849681&lat=34.860000&lon=117.550000&timestamp=1763716000123&speed=10.25&bearing=90.0&altitude=50.0&accuracy=5.0&batt=87&charge=false"
	r := &http.Request{Method: "POST", URL: &url.URL{Path: "/", RawQuery: "token=4vV0mZ8qK2sT9xYb"},
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}
	rd := strings.NewReader(form)
	b.SetBytes(int64(len(form)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(form)
		r.Body = io.NopCloser(rd)
		if _, err := ParseOsmAnd(r, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOsmAndJSON parses one Traccar Client 9 JSON body.
func BenchmarkOsmAndJSON(b *testing.B) {
	body := osmAndVectors(b)["OSM-J4"]
	r := &http.Request{Method: "POST", URL: &url.URL{Path: "/"}, Header: http.Header{"Content-Type": {"application/json"}}}
	rd := strings.NewReader(body)
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		r.Body = io.NopCloser(rd)
		if _, err := ParseOsmAnd(r, time.Date(2021, 7, 21, 9, 0, 0, 0, time.UTC)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPositionsJSON decodes a native batch of 1,000 fixes from 100 vehicles.
func BenchmarkPositionsJSON(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`{"positions":[`)
	for i := range 1000 {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"device_id":"van-%03d","lat":%.6f,"lon":%.6f,"time":"2026-11-21T11:%02d:%02d.%03dZ","speed_kmh":%.1f,"heading":%d,"accuracy_m":%.1f,"altitude_m":%.1f}`,
			i%100, 34.8+float64(i)*1e-4, 117.5+float64(i)*1e-4, i/60%60, i%60, i%1000, float64(i%80), i%360, 3+float64(i%10), 50+float64(i%30))
	}
	buf.WriteString(`]}`)
	body := buf.Bytes()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		fixes, rejected, err := DecodePositions(body, testNow)
		if err != nil || len(fixes) != 1000 || len(rejected) != 0 {
			b.Fatal(len(fixes), rejected, err)
		}
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "fixes/s")
}
