package gps

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// derivedWrong lists the DERIVED values of the vector file that are wrong, by vector and field,
// with the reason; TestJT808Derived checks every other one.
var derivedWrong = map[string]string{}

// withChecksum returns a copy of the frame with its checksum byte corrected, so that a frame the
// source decoded without checking the checksum can be read on.
func withChecksum(frame []byte) []byte {
	f := append([]byte(nil), frame...)
	var x byte
	for _, c := range f[:len(f)-1] {
		x ^= c
	}
	f[len(f)-1] = x
	return f
}

func TestJT808Derived(t *testing.T) {
	checked := 0
	for _, v := range jt808Vectors(t) {
		d, ok := parseDerived(t, v)
		if !ok {
			continue
		}
		checked++
		t.Run(v.ID, func(t *testing.T) {
			check := func(field string, got, want any) {
				t.Helper()
				if fmt.Sprint(got) == fmt.Sprint(want) {
					return
				}
				if why, ok := derivedWrong[v.ID+" "+field]; ok {
					t.Logf("%s: got %v, DERIVED says %v, which is wrong: %s", field, got, want, why)
					return
				}
				t.Errorf("%s: got %v, DERIVED says %v", field, got, want)
			}
			frame := v.frame(t)
			_, err := ParsePacket(frame)
			switch {
			case d.msg>>8 == 0x55:
				// A vendor's e-lock protocol in 808 clothes, with a 1-byte serial: its header is a
				// byte short of the body length it declares, and the decoder says so.
				if err == nil {
					t.Errorf("vendor e-lock message %#04x read as JT/T 808", d.msg)
				}
				return
			case !d.checksumOK:
				if !errors.Is(err, ErrChecksum) {
					t.Errorf("checksum mismatch: got error %v, want a checksum fault", err)
				}
			case d.lengthField > d.bytes:
				if !errors.Is(err, ErrLength) {
					t.Errorf("body shorter than declared: got error %v, want a length fault", err)
				}
			case err != nil:
				t.Fatalf("ParsePacket: %v", err)
			}

			// Read on whatever the checksum, as the DERIVED decoder did.
			p, err := ParsePacket(withChecksum(frame))
			if errors.Is(err, ErrLength) {
				f := withChecksum(frame)
				p = Packet{Header: readHeader(f, Version2013), Body: f[header2013 : len(f)-1]}
			} else if err != nil {
				t.Fatalf("ParsePacket with the checksum corrected: %v", err)
			}
			check("msg", fmt.Sprintf("%#04x", p.MsgID), fmt.Sprintf("%#04x", d.msg))
			check("attr", fmt.Sprintf("%#04x", p.Props), fmt.Sprintf("%#04x", d.attr))
			check("body_len", p.BodyLen(), d.bodyLen)
			wantVersion := Version2013
			if d.layout == "2019" {
				wantVersion = Version2019
				check("proto_ver", p.ProtoVersion, d.protoVer)
			}
			check("layout", p.Version, wantVersion)
			check("phone", p.Phone(), d.phone)
			check("serial", p.Serial, d.serial)
			if d.lengthField != 0 && d.lengthField < d.bytes {
				check("trailing bytes", p.Trailing, d.bytes-d.lengthField)
				// The DERIVED decoder read the additional items on into the trailing bytes and
				// found one broken there; the body the header declares ends cleanly.
				if l := &d.locs[0]; l.overrun {
					l.overrun, l.extras = false, l.extras[:len(l.extras)-1]
				}
			}
			if d.imei != "" {
				check("IMEI", p.DeviceID(), d.imei)
			}

			switch p.MsgID {
			case MsgLocation:
				l, err := ParseLocation(p.Body)
				if err != nil {
					t.Fatal(err)
				}
				checkDerivedLocation(t, check, "", &l, &d.locs[0])
			case MsgLocationBatch:
				b, err := ParseLocationBatch(p.Body)
				if err != nil {
					t.Fatal(err)
				}
				check("batch count", b.Count, d.batchCount)
				check("batch type", b.Type, d.batchType)
				check("batch items", len(b.Items), len(d.locs))
				for i := range min(len(b.Items), len(d.locs)) {
					checkDerivedLocation(t, check, fmt.Sprintf("[%d] ", i), &b.Items[i], &d.locs[i])
				}
			case MsgRegister:
				r, err := ParseRegister(p.Body, p.Version)
				if err != nil {
					t.Fatal(err)
				}
				want := d.dicts["register"]
				check("province", r.Province, want["province"])
				check("city", r.City, want["city"])
				check("plate_color", r.PlateColor, want["plate_color"])
				check("layout", r.Layout, want["layout"])
				for field, got := range map[string]string{"maker": r.Maker, "model": r.Model, "terminal_id": r.TerminalID, "plate": r.Plate} {
					w := strings.Trim(want[field], "\x00")
					if strings.ContainsFunc(w, func(r rune) bool { return r < 0x20 || r >= 0x80 && r < 0xa0 }) {
						t.Logf("%s: DERIVED %q is binary, not text; not compared", field, want[field])
						continue
					}
					check(field, got, w)
				}
			case MsgAuth:
				a, err := ParseAuth(p.Body, p.Version)
				if err != nil {
					t.Fatal(err)
				}
				want := d.dicts["auth"]
				check("code", a.Code, want["code"])
				if _, ok := want["imei"]; ok {
					check("code_len", len(a.Code), want["code_len"])
					check("imei", a.IMEI, want["imei"])
					check("sw_version", a.Software, want["sw_version"])
				}
			case MsgPlatformAck, MsgTerminalAck:
				a, err := ParseGeneralResponse(p.Body)
				if err != nil {
					t.Fatal(err)
				}
				want := d.dicts["ack"]
				check("ack_serial", a.Serial, want["ack_serial"])
				check("ack_id", fmt.Sprintf("%#04x", a.MsgID), want["ack_id"])
				check("result", a.Result, want["result"])
			case MsgRegisterAck:
				a, err := ParseRegisterResponse(p.Body)
				if err != nil {
					t.Fatal(err)
				}
				want := d.dicts["reg_ack"]
				check("ack_serial", a.Serial, want["ack_serial"])
				check("result", a.Result, want["result"])
				check("auth_code", a.AuthCode, want["auth_code"])
			}
		})
	}
	if checked < 160 {
		t.Errorf("checked %d vectors, want about 170", checked)
	}
}

func checkDerivedLocation(t *testing.T, check func(string, any, any), prefix string, l *Location, want *derivedLoc) {
	t.Helper()
	deg := func(v float64) string {
		return strings.Replace(strconv.FormatFloat(v, 'f', 6, 64), "-0.000000", "0.000000", 1)
	}
	check(prefix+"alarm", fmt.Sprintf("%08x", l.Alarm), fmt.Sprintf("%08x", want.alarm))
	check(prefix+"status", fmt.Sprintf("%08x", l.Status), fmt.Sprintf("%08x", want.status))
	check(prefix+"lat", deg(l.Lat), strings.Replace(want.lat, "-0.000000", "0.000000", 1))
	check(prefix+"lon", deg(l.Lon), strings.Replace(want.lon, "-0.000000", "0.000000", 1))
	check(prefix+"alt", l.AltitudeM, want.alt)
	check(prefix+"speed", l.Speed, want.speedRaw)
	check(prefix+"course", l.Direction, want.course)
	check(prefix+"time", l.Time.Format(time.RFC3339), want.time)
	var items []string
	for id, v := range l.Items() {
		items = append(items, fmt.Sprintf("%02x[%d]", id, len(v)))
	}
	wantItems := want.extras
	if want.overrun {
		wantItems = wantItems[:len(wantItems)-1]
	}
	check(prefix+"extras", strings.Join(items, " "), strings.Join(wantItems, " "))
	check(prefix+"broken extra", l.ExtraBroken, want.overrun)
	if want.swapped {
		f := l.Fix("1")
		if r, _ := checkFix(&f, l.Time.Add(time.Hour)); r == "" {
			t.Errorf("%sa fix at lat %v (swapped in the sample) passes the checks", prefix, l.Lat)
		}
	}
}

// TestJT808Index checks the file's CORE INDEX, one line a vector with its first fix, against the
// decoder, so that the summary a reader looks at first agrees with the details.
func TestJT808Index(t *testing.T) {
	vectors := map[string]*jtVector{}
	for _, v := range jt808Vectors(t) {
		vectors[v.ID] = v
	}
	b, err := os.ReadFile("testdata/protocols/jt808_vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^([A-Z]-\d+)\s+0x([0-9a-f]{4}) (\d{4})\s+([0-9a-f]+) (?:-|n=(\d+) lat=(\S+) lon=(\S+) (\S+) ([\d.]+)km/h crs=(\d+) alarm=([0-9a-f]{8}))`)
	lines := 0
	for _, line := range strings.Split(string(b), "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		lines++
		v := vectors[m[1]]
		if v == nil {
			t.Errorf("index line for %s, which has no frame", m[1])
			continue
		}
		p, err := ParsePacket(withChecksum(v.frame(t)))
		if err != nil {
			if errors.Is(err, ErrLength) {
				continue // DIRTY: the details cover it
			}
			t.Errorf("%s: %v", v.ID, err)
			continue
		}
		got := fmt.Sprintf("0x%04x %s %s", p.MsgID, p.Version, p.Phone())
		want := fmt.Sprintf("0x%s %s %s", m[2], m[3], m[4])
		if got != want {
			t.Errorf("%s: index says %s, decoder %s", v.ID, want, got)
		}
		if m[5] == "" {
			continue
		}
		var fixes []Location
		if p.MsgID == MsgLocation {
			l, err := ParseLocation(p.Body)
			if err != nil {
				t.Errorf("%s: %v", v.ID, err)
				continue
			}
			fixes = []Location{l}
		} else {
			batch, err := ParseLocationBatch(p.Body)
			if err != nil {
				t.Errorf("%s: %v", v.ID, err)
				continue
			}
			fixes = batch.Items
		}
		l := fixes[0]
		got = fmt.Sprintf("n=%d lat=%.6f lon=%.6f %s %.1fkm/h crs=%d alarm=%08x", len(fixes), l.Lat, l.Lon,
			l.Time.Format(time.RFC3339), float64(l.Speed)/10, l.Direction, l.Alarm)
		want = fmt.Sprintf("n=%s lat=%s lon=%s %s %skm/h crs=%s alarm=%s", m[5], m[6], m[7], m[8], m[9], m[10], m[11])
		if strings.ReplaceAll(got, "-0.000000", "0.000000") != strings.ReplaceAll(want, "-0.000000", "0.000000") {
			t.Errorf("%s: index says\n\t%s\ndecoder gives\n\t%s", v.ID, want, got)
		}
	}
	if lines < 150 {
		t.Errorf("read %d index lines, want about 160", lines)
	}
}
