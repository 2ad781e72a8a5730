package gps

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// packetOf decodes a conformance vector that must be a good frame.
func packetOf(t *testing.T, id string) (*jtVector, Packet) {
	t.Helper()
	v := findVector(t, id)
	p, err := ParsePacket(v.frame(t))
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	return v, p
}

// local reads a time as the terminals' clocks show it, in UTC+8.
func local(s string) time.Time {
	t, err := time.ParseInLocation(time.DateTime, s, time.FixedZone("UTC+8", 8*3600))
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func micro(deg float64) int64 { return int64(math.Round(deg * 1e6)) }

// TestJT808AssertedLocations checks the location reports against the values their sources assert
// (raw units: 1e-6 degrees, 0.1 km/h, the BCD time in UTC+8).
func TestJT808AssertedLocations(t *testing.T) {
	for _, tc := range []struct {
		id            string
		version       Version
		phone         string
		serial        uint16
		alarm, status uint32
		lat, lon      int64
		alt           int16
		speed, dir    uint16
		time          string
		mileageKm     float64
		fuelL         float64
	}{
		// SmallChi JT808_0x0200Test Test5, francistm Test_Unmarshal "mesg 0200 - 1" (same frame).
		{"S-114", Version2013, "112233445566", 8888, 1, 2, 12222222, 132444444, 40, 60, 0, "2018-07-15 10:10:10", 10, 5.5},
		{"R-178", Version2013, "112233445566", 8888, 1, 2, 12222222, 132444444, 40, 60, 0, "2018-07-15 10:10:10", 10, 5.5},
		{"S-115", Version2013, "011223344550", 0, 1, 2, 12222222, 132444444, 40, 60, 0, "2018-07-15 10:10:10", 10, 5.5},
		// go-jt808's simulator (latitude and longitude swapped in the sample).
		{"G-152", Version2013, "123456782011", 1, 1024, 2048, 116307629, 40058359, 312, 3, 99, "2024-10-01 23:59:59", math.NaN(), math.NaN()},
		{"G-154", Version2013, "123456782013", 1, 1024, 2048, 116307629, 40058359, 312, 3, 99, "2024-10-01 23:59:59", math.NaN(), math.NaN()},
		{"G-156", Version2019, "12345678901234562019", 1, 1024, 2048, 116307629, 40058359, 312, 3, 99, "2024-10-01 23:59:59", math.NaN(), math.NaN()},
		// go-jt808 parse_test: the latitude holds an escaped 0x7e (7d 02).
		{"G-164", Version2013, "012345678901", 0, 1024, 2048, 119552894, 40058359, 312, 3, 99, "2024-10-01 23:59:59", math.NaN(), math.NaN()},
		{"G-175", Version2019, "00000000017299841738", 0, 1024, 2048, 119552894, 40058359, 312, 3, 99, "2020-07-07 19:23:59", math.NaN(), math.NaN()},
	} {
		t.Run(tc.id, func(t *testing.T) {
			_, p := packetOf(t, tc.id)
			if p.MsgID != MsgLocation || p.Version != tc.version || p.Phone() != tc.phone || p.Serial != tc.serial {
				t.Errorf("header: msg %#04x %v phone %s serial %d, want 0x0200 %v %s %d", p.MsgID, p.Version, p.Phone(), p.Serial, tc.version, tc.phone, tc.serial)
			}
			if p.Subpackage() || p.Encryption() != 0 {
				t.Errorf("subpackage %v encryption %d, want neither", p.Subpackage(), p.Encryption())
			}
			l, err := ParseLocation(p.Body)
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprint(l.Alarm, l.Status, micro(l.Lat), micro(l.Lon), l.AltitudeM, l.Speed, l.Direction, l.Time)
			want := fmt.Sprint(tc.alarm, tc.status, tc.lat, tc.lon, tc.alt, tc.speed, tc.dir, local(tc.time))
			if got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if fmt.Sprint(l.MileageKm, l.FuelL) != fmt.Sprint(tc.mileageKm, tc.fuelL) {
				t.Errorf("mileage %v km, fuel %v L; want %v, %v", l.MileageKm, l.FuelL, tc.mileageKm, tc.fuelL)
			}
		})
	}
}

func TestJT808AssertedExtras(t *testing.T) {
	// SmallChi Test_all_attcahids: every standard additional item.
	_, p := packetOf(t, "S-116")
	l, err := ParseLocation(p.Body)
	if err != nil {
		t.Fatal(err)
	}
	items := map[byte]string{}
	for id, v := range l.Items() {
		items[id] = hex.EncodeToString(v)
	}
	want := map[byte]string{
		0x01: "00000064",       // mileage 100
		0x02: "0037",           // oil 55
		0x03: "0038",           // speed 56
		0x04: "0001",           // event id 1
		0x11: "0100000001",     // circular area 1
		0x12: "010000000101",   // area type 1, id 1, out
		0x13: "00000002002201", // route 2, 34 s, overlength
		0x25: "00000017",       // vehicle signal 23
		0x2a: "00f4",           // IO 244
		0x2b: "000000f2",       // analog [0, 242]
		0x30: "02",             // signal strength 2
		0x31: "05",             // GNSS satellites 5
	}
	if fmt.Sprint(items) != fmt.Sprint(want) {
		t.Errorf("items\n got %v\nwant %v", items, want)
	}
	if l.MileageKm != 10 || l.FuelL != 5.5 || l.RecorderSpeedKmh != 5.6 || l.Signal != 2 || l.Satellites != 5 || l.ExtraBroken {
		t.Errorf("decoded items: %v km, %v L, %v km/h, signal %d, %d satellites, broken %v", l.MileageKm, l.FuelL, l.RecorderSpeedKmh, l.Signal, l.Satellites, l.ExtraBroken)
	}

	// SmallChi Test7 and Test8 are real devices' reports that SmallChi reads with its checksum
	// check off; here the frames are refused for their checksum, and their bodies still read.
	for _, tc := range []struct {
		id     string
		items  int
		broken bool
	}{
		{"S-117", 7, false}, // its odd items (id 0x00) are kept raw
		{"S-118", 18, true}, // the last item, F6, declares 4 bytes and has 2
	} {
		v := findVector(t, tc.id)
		if _, err := ParsePacket(v.frame(t)); !errors.Is(err, ErrChecksum) {
			t.Errorf("%s: got %v, want a checksum fault", tc.id, err)
		}
		p, err := ParsePacket(withChecksum(v.frame(t)))
		if err != nil {
			t.Fatal(err)
		}
		l, err := ParseLocation(p.Body)
		if err != nil {
			t.Fatalf("%s: %v", tc.id, err)
		}
		n := 0
		for range l.Items() {
			n++
		}
		if n != tc.items || l.ExtraBroken != tc.broken {
			t.Errorf("%s: %d items, broken %v; want %d, %v", tc.id, n, l.ExtraBroken, tc.items, tc.broken)
		}
	}
}

func TestJT808AssertedBatches(t *testing.T) {
	// SmallChi JT808_0x0704Test Test2.
	_, p := packetOf(t, "S-121")
	if p.MsgID != MsgLocationBatch || p.Serial != 8888 || p.Phone() != "112233445566" {
		t.Errorf("header %#04x %d %s", p.MsgID, p.Serial, p.Phone())
	}
	b, err := ParseLocationBatch(p.Body)
	if err != nil {
		t.Fatal(err)
	}
	if b.Count != 2 || b.Type != 0 || len(b.Items) != 2 {
		t.Fatalf("count %d type %d items %d", b.Count, b.Type, len(b.Items))
	}
	for i, want := range []string{
		"1 2 12222222 132444444 0 60 " + local("2018-07-15 10:10:10").String() + " 10 5.5",
		"2 1 13333333 132555555 120 54 " + local("2018-07-15 10:10:30").String() + " 9.6 6.6",
	} {
		l := b.Items[i]
		got := fmt.Sprint(l.Alarm, l.Status, micro(l.Lat), micro(l.Lon), l.Direction, l.Speed, l.Time, l.MileageKm, l.FuelL)
		if got != want {
			t.Errorf("[%d] got %s, want %s", i, got, want)
		}
	}

	// go-jt808: two items of 28 bytes in each header version.
	for _, id := range []string{"G-158", "G-160", "G-162", "G-165"} {
		_, p := packetOf(t, id)
		b, err := ParseLocationBatch(p.Body)
		if err != nil || b.Count != 2 || b.Type != 0 || len(b.Items) != 2 {
			t.Errorf("%s: count %d type %d items %d, %v", id, b.Count, b.Type, len(b.Items), err)
		}
		for _, l := range b.Items {
			if l.Alarm != 1024 || l.Status != 2048 || l.Speed != 3 || l.Direction != 99 || l.AltitudeM != 312 {
				t.Errorf("%s: %+v", id, l)
			}
		}
		fixes, err := AppendFixes(nil, &p)
		if err != nil || len(fixes) != 2 {
			t.Errorf("%s: %d fixes, %v", id, len(fixes), err)
		}
	}
}

func TestJT808AssertedRegister(t *testing.T) {
	for _, tc := range []struct {
		id             string
		deviceID       string
		serial         uint16
		province, city uint16
		maker, model   string
		terminalID     string
		color          byte
		plate          string
		layout         int
	}{
		{"S-122", "123456789", 10, 40, 50, "1234", "smallchi123", "CHI123", 1, "粤A12345", 2013},
		{"S-123", "123456789", 10, 40, 50, "1234", "smallchi123", "CHI123", 1, "粤A12345", 2019},
		{"S-125", "123456789", 10, 40, 50, "1234", "tk12345", "CHI123", 1, "粤A12345", 2011},
		{"G-140", "123456782011", 1, 31, 110, "cd123", "www.808.", "7654321", 1, "测A12345678", 2011},
		{"G-142", "123456782013", 1, 31, 110, "cd123", "www.808.com", "7654321", 1, "测A12345678", 2013},
		{"G-144", "12345678901234562019", 1, 31, 110, "cd123456789", "www.808.com", "7654321", 1, "测A12345678", 2019},
		{"G-168", "12345678901", 0, 31, 115, "cd", "www.808.", "7654321", 1, "测A1234", 2011},
		{"G-169", "12345678901", 0, 31, 115, "cd", "www.808.com", "7654321", 1, "测A1234", 2013},
		{"G-170", "17299841738", 0, 31, 115, "cd", "www.808.com", "7654321", 1, "测A1234", 2019},
		{"R-180", "17224600094", 3, 0, 0, "", "", "4600094", 0, "11111111111111111", 2013},
	} {
		t.Run(tc.id, func(t *testing.T) {
			_, p := packetOf(t, tc.id)
			if p.MsgID != MsgRegister || p.DeviceID() != tc.deviceID || p.Serial != tc.serial {
				t.Errorf("header %#04x device %s serial %d", p.MsgID, p.DeviceID(), p.Serial)
			}
			r, err := ParseRegister(p.Body, p.Version)
			if err != nil {
				t.Fatal(err)
			}
			want := Register{tc.province, tc.city, tc.maker, tc.model, tc.terminalID, tc.color, tc.plate, tc.layout}
			if r != want {
				t.Errorf("got  %+v\nwant %+v", r, want)
			}
		})
	}
	// francistm also asserts the body length and checksum of its frame.
	if v, p := packetOf(t, "R-180"); p.BodyLen() != 0x36 || v.frame(t)[len(v.frame(t))-1] != 0x99 {
		t.Errorf("R-180: body length %#x", p.BodyLen())
	}

	// SmallChi Test2019_4_2: the device left-pads texts with ASCII '0'; SmallChi's test trims them.
	_, p := packetOf(t, "S-124")
	r, err := ParseRegister(p.Body, p.Version)
	if err != nil {
		t.Fatal(err)
	}
	if p.DeviceID() != "22222222222" || p.ProtoVersion != 1 || r.Province != 0 || r.City != 0 || r.PlateColor != 2 || r.Plate != "粤A12346" {
		t.Errorf("S-124: %s %d %+v", p.DeviceID(), p.ProtoVersion, r)
	}
	for _, s := range []string{r.Maker, r.Model, r.TerminalID} {
		if strings.TrimLeft(s, "0") != "Koike002" {
			t.Errorf("S-124: %q, want Koike002 after its padding", s)
		}
	}
}

func TestJT808AssertedAuth(t *testing.T) {
	for _, tc := range []struct {
		id             string
		deviceID       string
		serial         uint16
		code           string
		imei, software string
	}{
		{"S-126", "12345678900", 12345, "456121111", "", ""},
		{"G-146", "123456782011", 1, "987654321", "", ""},
		{"G-148", "123456782013", 1, "987654321", "", ""},
		{"G-150", "12345678901234562019", 1, "987654321", "123456789012345", "3.7.15"},
		{"G-166", "12345678901", 0, "17299841738", "", ""},
		{"G-167", "17299841738", 0, "17299841738", "123456789012345", "3.7.15"},
		// The quirky device of SmallChi Test5_3: the 2019 flag on a 2013 header.
		{"S-120", "10030000681", 2306, "J10030000681", "", ""},
	} {
		_, p := packetOf(t, tc.id)
		a, err := ParseAuth(p.Body, p.Version)
		if err != nil {
			t.Fatal(err)
		}
		if p.MsgID != MsgAuth || p.DeviceID() != tc.deviceID || p.Serial != tc.serial || a != (Auth{tc.code, tc.imei, tc.software}) {
			t.Errorf("%s: %#04x %s %d %+v", tc.id, p.MsgID, p.DeviceID(), p.Serial, a)
		}
	}
	// SmallChi Test2019_2: a 2019 auth body alone.
	body, _ := hex.DecodeString("05343536313231323334353637383930616263646576322E302E300000000000000000000000000000")
	a, err := ParseAuth(body, Version2019)
	if err != nil || a != (Auth{"45612", "1234567890abcde", "v2.0.0"}) {
		t.Errorf("S-127: %+v %v", a, err)
	}
}

func TestJT808AssertedHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		id      string
		version Version
		phone   string
		serial  uint16
	}{
		{"S-128", Version2013, "012345678900", 10},
		{"S-129", Version2013, "040021679287", 43}, // its checksum is 0x7e, sent as 7d 02
		{"G-134", Version2013, "123456782011", 1},
		{"G-136", Version2013, "123456782013", 1},
		{"G-138", Version2019, "12345678901234562019", 1},
		{"G-171", Version2013, "012345678901", 0},
	} {
		_, p := packetOf(t, tc.id)
		if p.MsgID != MsgHeartbeat || p.Version != tc.version || p.Phone() != tc.phone || p.Serial != tc.serial || len(p.Body) != 0 {
			t.Errorf("%s: %#04x %v %s %d body %x", tc.id, p.MsgID, p.Version, p.Phone(), p.Serial, p.Body)
		}
		if fixes, err := AppendFixes(nil, &p); len(fixes) != 0 || err != nil {
			t.Errorf("%s: a heartbeat gives %d fixes, %v", tc.id, len(fixes), err)
		}
	}
}

// TestJT808Responses has the platform answer the terminal messages of the vectors, and checks the
// frames against the answers the sources expect, byte for byte.
func TestJT808Responses(t *testing.T) {
	for _, tc := range []struct {
		request, response string
		serial            uint16
		result            byte
		authCode          string // for a register response
	}{
		{"G-134", "G-135", 1, ResultOK, ""},
		{"G-136", "G-137", 1, ResultOK, ""},
		{"G-138", "G-139", 1, ResultOK, ""},
		{"G-140", "G-141", 1, RegisterOK, "123456782011"},
		{"G-142", "G-143", 1, RegisterOK, "123456782013"},
		{"G-144", "G-145", 1, RegisterOK, "12345678901234562019"},
		{"G-146", "G-147", 1, ResultFailed, ""},
		{"G-148", "G-149", 1, ResultFailed, ""},
		{"G-150", "G-151", 1, ResultFailed, ""},
		{"G-152", "G-153", 1, ResultOK, ""},
		{"G-154", "G-155", 1, ResultOK, ""},
		{"G-156", "G-157", 1, ResultOK, ""},
		{"G-158", "G-159", 1, ResultOK, ""},
		{"G-160", "G-161", 1, ResultOK, ""},
		{"G-162", "G-163", 1, ResultOK, ""},
	} {
		_, req := packetOf(t, tc.request)
		want := findVector(t, tc.response).Hex
		var got []byte
		if req.MsgID == MsgRegister {
			got = AppendRegisterResponse(nil, &req.Header, tc.serial, tc.result, tc.authCode)
		} else {
			got = AppendGeneralResponse(nil, &req.Header, tc.serial, tc.result)
		}
		if hex.EncodeToString(got) != want {
			t.Errorf("answer to %s:\n got %x\nwant %s (%s)", tc.request, got, want, tc.response)
		}
	}

	// Answers whose requests are not among the vectors: the header they answer is built.
	for _, tc := range []struct {
		id                    string
		to                    func() Header
		serial                uint16
		register              bool
		result                byte
		authCode              string
		wantAckSerial, wantID uint16
	}{
		{"S-130", header13(MsgLocation, 100, "12345678900"), 10, false, ResultOK, "", 100, MsgLocation},
		{"S-131", header13(MsgRegister, 100, "12345678900"), 10, true, RegisterOK, "123456", 100, 0},
		{"S-132", header13(MsgRegister, 100, "12345678900"), 10, true, RegisterNoSuchTerminal, "123456", 100, 0},
		{"S-133", header13(MsgRegister, 100, "12345678900"), 10, true, RegisterOK, "zssdaf23124sfdsc", 100, 0},
		{"G-172", header13(MsgHeartbeat, 32767, "12345678901"), 0, false, ResultOK, "", 32767, MsgHeartbeat},
		{"G-173", header13(MsgRegister, 0, "12345678901"), 0, true, RegisterOK, "12345678901", 0, 0},
	} {
		to := tc.to()
		var got []byte
		if tc.register {
			got = AppendRegisterResponse(nil, &to, tc.serial, tc.result, tc.authCode)
		} else {
			got = AppendGeneralResponse(nil, &to, tc.serial, tc.result)
		}
		if want := findVector(t, tc.id).Hex; hex.EncodeToString(got) != want {
			t.Errorf("%s:\n got %x\nwant %s", tc.id, got, want)
		}
		// And the answers read back as the sources assert.
		p, err := DecodeFrame(got)
		if err != nil {
			t.Fatal(err)
		}
		if tc.register {
			r, _ := ParseRegisterResponse(p.Body)
			wantCode := tc.authCode
			if tc.result != RegisterOK {
				wantCode = ""
			}
			if r != (RegisterResponse{tc.wantAckSerial, tc.result, wantCode}) {
				t.Errorf("%s: %+v", tc.id, r)
			}
		} else if r, _ := ParseGeneralResponse(p.Body); r != (GeneralResponse{tc.wantAckSerial, tc.wantID, tc.result}) {
			t.Errorf("%s: %+v", tc.id, r)
		}
	}

	// The terminal that sets the 2019 flag on a 2013 header is answered in a 2013 header.
	_, quirk := packetOf(t, "S-120")
	if quirk.Version != Version2013 || quirk.Props&propVersion2019 == 0 {
		t.Fatalf("S-120: version %v props %#04x", quirk.Version, quirk.Props)
	}
	ans, err := DecodeFrame(AppendGeneralResponse(nil, &quirk.Header, 7, ResultOK))
	if err != nil || ans.Version != Version2013 || ans.Props&propVersion2019 != 0 || ans.Phone() != quirk.Phone() {
		t.Errorf("answer to S-120: %+v, %v", ans.Header, err)
	}
}

func header13(msgID, serial uint16, phone string) func() Header {
	return func() Header {
		h, err := NewHeader(Version2013, msgID, serial, phone)
		if err != nil {
			panic(err)
		}
		return h
	}
}

func TestJT808Quirks(t *testing.T) {
	// SmallChi Test5_4: the 2019 flag, a 2013 header; forced to 2013 there, found by length here.
	_, p := packetOf(t, "S-119")
	l, err := ParseLocation(p.Body)
	if err != nil || p.Version != Version2013 || p.Phone() != "010030000681" || micro(l.Lat) != 40670063 || micro(l.Lon) != 122452300 {
		t.Errorf("S-119: %v %s %v %v, %v", p.Version, p.Phone(), l.Lat, l.Lon, err)
	}

	// francistm "mesg 0200 - 2": a real device's report with 3 bytes after the declared body,
	// covered by the checksum; the body the header declares is read.
	_, p = packetOf(t, "R-179")
	if p.Trailing != 3 || p.BodyLen() != 60 || p.MsgID != MsgLocation {
		t.Errorf("R-179: trailing %d, body %d", p.Trailing, p.BodyLen())
	}
	if fixes, err := AppendFixes(nil, &p); err != nil || len(fixes) != 1 {
		t.Errorf("R-179: %v %v", fixes, err)
	}

	// francistm's 0x0001 reads the answered id before the serial; the standard has the serial first.
	_, p = packetOf(t, "R-181")
	if r, err := ParseGeneralResponse(p.Body); err != nil || r != (GeneralResponse{0x1011, 0x1213, 0x14}) || p.BodyLen() != 5 {
		t.Errorf("R-181: %+v %v", r, err)
	}

	// F-177: fakeyanss asserts the header fields and the body.
	_, p = packetOf(t, "F-177")
	if p.MsgID != MsgLocation || p.BodyLen() != 28 || p.Version != Version2013 || p.Phone() != "223456789015" || p.Serial != 0 ||
		fmt.Sprintf("%X", p.Body) != "000000000002080301CD779E0728C032003C0000008F230125145158" {
		t.Errorf("F-177: %+v %X", p.Header, p.Body)
	}

	// Frames their sources expect to fail.
	for _, id := range []string{"F-176", "R-182"} {
		if _, err := ParsePacket(findVector(t, id).frame(t)); !errors.Is(err, ErrChecksum) {
			t.Errorf("%s: got %v, want a checksum fault", id, err)
		}
	}
}

// TestJT808Traccar checks Traccar's vectors for what applies outside Traccar's own attributes:
// messages it decodes to no position give no fix, and those it checks with verifyPosition give
// fixes that pass the checks. Traccar does not check the checksum; frames whose checksum is wrong
// (T-088, T-109, T-110) are refused here.
func TestJT808Traccar(t *testing.T) {
	for _, v := range jt808Vectors(t) {
		if v.source() != "T" {
			continue
		}
		p, err := ParsePacket(v.frame(t))
		if err != nil {
			if d, _ := parseDerived(t, v); d.checksumOK && d.msg>>8 != 0x55 && d.lengthField <= d.bytes {
				t.Errorf("%s: %v", v.ID, err)
			}
			continue
		}
		fixes, err := AppendFixes(nil, &p)
		if err != nil {
			t.Errorf("%s: %v", v.ID, err)
			continue
		}
		switch {
		case v.Asserted == "verifyNull" && len(fixes) != 0:
			t.Errorf("%s: Traccar decodes no position, here %d fixes", v.ID, len(fixes))
		case strings.HasPrefix(v.Asserted, "verifyPosition") && (p.MsgID == MsgLocation || p.MsgID == MsgLocationBatch):
			if len(fixes) == 0 {
				t.Errorf("%s: no fix", v.ID)
			}
			for _, f := range fixes {
				if field, r := checkFix(&f, f.Time.Add(time.Minute)); r != "" {
					t.Errorf("%s: %s: %s", v.ID, field, r)
				}
			}
		}
	}
	// T-091 raises the standard SOS alarm bit.
	_, p := packetOf(t, "T-091")
	fixes, _ := AppendFixes(nil, &p)
	if len(fixes) != 1 || fixes[0].Alarm != "sos" || fixes[0].Flags != 1<<32|0x0a {
		t.Errorf("T-091: %+v", fixes)
	}
}

func TestDeviceID(t *testing.T) {
	// Traccar's Luhn check digits.
	for digits, want := range map[string]byte{"12345678901234": '7', "63070019470771": '0', "86547807010206": '8'} {
		if got := luhnDigit([]byte(digits)); got != want {
			t.Errorf("luhn(%s) = %c, want %c", digits, got, want)
		}
	}
	for _, tc := range []struct{ id, want string }{
		{"T-013", "865478070102068"}, // a binary IMEI where the BCD phone goes
		{"T-038", "868935060005020"},
		{"T-002", "0"}, // an all-zero phone
		{"S-123", "123456789"},
		{"G-138", "12345678901234562019"},
	} {
		_, p := packetOf(t, tc.id)
		if got := p.DeviceID(); got != tc.want {
			t.Errorf("%s: device %s, want %s", tc.id, got, tc.want)
		}
	}
}

func TestUnescape(t *testing.T) {
	for _, tc := range []struct{ wire, want, fault string }{
		// Traccar Jt808FrameDecoderTest.
		{"307d02087d0155", "307e087d55", ""},
		// go-jt808 Test_unescape.
		{"000140050100000000017299841738ffff007b01c803b5", "000140050100000000017299841738ffff007b01c803b5", ""},
		{"0200401c01000000000172998417380000000004000000080007203b7d0202633df7013800030063200707192359c1",
			"0200401c01000000000172998417380000000004000000080007203b7e02633df7013800030063200707192359c1", ""},
		{"02007d0100107d02", "02007d00107e", ""},
		{"02007d03", "", "0x7d followed by 0x03"},
		{"02007d", "", "0x7d at the end"},
		{"02007e00", "", "0x7e inside"},
		{"", "", ""},
	} {
		src, _ := hex.DecodeString(tc.wire)
		got, err := Unescape(nil, src)
		if tc.fault != "" {
			if !errors.Is(err, ErrEscape) || !strings.Contains(err.Error(), tc.fault) {
				t.Errorf("%s: got %x, %v; want an escape fault", tc.wire, got, err)
			}
			continue
		}
		if err != nil || hex.EncodeToString(got) != tc.want {
			t.Errorf("%s: got %x, %v; want %s", tc.wire, got, err, tc.want)
		}
		// In place, too.
		inPlace, err := Unescape(src[:0], src)
		if err != nil || hex.EncodeToString(inPlace) != tc.want {
			t.Errorf("%s in place: got %x, %v", tc.wire, inPlace, err)
		}
		if again := AppendEscaped(nil, got); !bytes.Equal(again, mustHex(tc.wire)) {
			t.Errorf("escape(%x) = %x, want %s", got, again, tc.wire)
		}
	}
	// Traccar Jt808FrameEncoderTest, go-jt808 Test_escape.
	for in, want := range map[string]string{
		"307e087d55": "307d02087d0155",
		"0800407e08010000000001727d99841738ffff0000007b000007017d": "0800407d0208010000000001727d0199841738ffff0000007b000007017d01",
	} {
		if got := AppendEscaped(nil, mustHex(in)); hex.EncodeToString(got) != want {
			t.Errorf("escape(%s) = %x, want %s", in, got, want)
		}
	}
	// go-jt808: a frame too short to hold a header.
	if _, err := DecodeFrame(mustHex("7e02")); !errors.Is(err, ErrShort) {
		t.Errorf("7e02: %v", err)
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestHeaderOnly(t *testing.T) {
	// SmallChi JT808HeaderTest.
	h := readHeader(mustHex("010200050138123456780087"), Version2013)
	if h.MsgID != MsgAuth || h.BodyLen() != 5 || h.DeviceID() != "13812345678" || h.Serial != 135 || h.Subpackage() {
		t.Errorf("2013 header: %+v", h)
	}
	h = readHeader(mustHex("010264FF0200000000013812345678008700000000"), Version2019)
	if h.Props&propVersion2019 == 0 || !h.Subpackage() || h.Encryption() != 1 || h.BodyLen() != 255 || h.ProtoVersion != 2 ||
		h.Phone() != "00000000013812345678" || h.DeviceID() != "13812345678" || h.Serial != 135 || h.PacketCount != 0 || h.PacketSeq != 0 {
		t.Errorf("2019 header: %+v", h)
	}
}

func TestParsePacketLengths(t *testing.T) {
	body := bytes.Repeat([]byte{0x11}, 5)
	for _, tc := range []struct {
		name    string
		frame   func() []byte
		version Version
		fault   *FrameError
	}{
		{"2013", func() []byte { return rawFrame(0x0000|5, 6, body, 0) }, Version2013, nil},
		{"2019", func() []byte { return rawFrame(0x4000|5, 11, body, 0) }, Version2019, nil},
		{"2019 flag, 2013 header", func() []byte { return rawFrame(0x4000|5, 6, body, 0) }, Version2013, nil},
		{"2019, trailing bytes", func() []byte { return rawFrame(0x4000|5, 11, body, 2) }, Version2019, nil},
		{"2013, trailing bytes", func() []byte { return rawFrame(5, 6, body, 3) }, Version2013, nil},
		{"body short", func() []byte { return rawFrame(6, 6, body, 0) }, 0, ErrLength},
		{"2019 body short", func() []byte { return rawFrame(0x4000|9, 11, body, 0) }, 0, ErrLength},
		{"subpackage", func() []byte { return rawFrame(0x2000|1, 6+4, body[:1], 0) }, Version2013, nil},
		{"subpackage fields missing", func() []byte { return rawFrame(0x2000|5, 6, body, 0) }, 0, ErrLength},
	} {
		p, err := ParsePacket(tc.frame())
		if tc.fault != nil {
			if !errors.Is(err, tc.fault) {
				t.Errorf("%s: got %v, want %v", tc.name, err, tc.fault)
			}
			continue
		}
		if err != nil || p.Version != tc.version || len(p.Body) != p.BodyLen() {
			t.Errorf("%s: %v %+v", tc.name, err, p)
		}
	}
}

// rawFrame builds an unescaped frame: id 0x0200, the properties, phone bytes (after a version
// byte when there are 11), serial, body, extra bytes and the checksum.
func rawFrame(props uint16, phone int, body []byte, extra int) []byte {
	f := []byte{0x02, 0x00, byte(props >> 8), byte(props)}
	f = append(f, bytes.Repeat([]byte{0x01}, phone)...)
	f = append(f, 0x00, 0x07)
	f = append(f, body...)
	f = append(f, make([]byte, extra)...)
	return withChecksum(append(f, 0))
}

func TestRoundTrip(t *testing.T) {
	for _, v := range []Version{Version2013, Version2019} {
		h, err := NewHeader(v, MsgLocation, 0x7e7d, "13812345678")
		if err != nil {
			t.Fatal(err)
		}
		l := Location{Alarm: AlarmSOS, Status: StatusLocated | StatusACC, Lat: -34.895833, Lon: -58.4, AltitudeM: -12,
			Speed: 1234, Direction: 359, Time: local("2026-11-21 08:30:00"), Extra: []byte{0x01, 0x04, 0, 0, 0x7e, 0x7d}}
		wire := AppendMessage(nil, &h, AppendLocation(nil, &l))
		if bytes.Count(wire, []byte{flagByte}) != 2 {
			t.Errorf("%v: %x has flags inside", v, wire)
		}
		p, err := DecodeFrame(wire)
		if err != nil {
			t.Fatal(err)
		}
		if p.Version != v || p.Serial != 0x7e7d || p.DeviceID() != "13812345678" {
			t.Errorf("%v: header %+v", v, p.Header)
		}
		fixes, err := AppendFixes(nil, &p)
		if err != nil || len(fixes) != 1 {
			t.Fatal(fixes, err)
		}
		f := fixes[0]
		if f.Lat != -34.895833 || f.Lon != -58.4 || f.SpeedKmh != 123.4 || f.Heading != 359 || f.AltitudeM != -12 ||
			!f.Time.Equal(l.Time) || f.Alarm != "sos" || f.Flags != uint64(AlarmSOS)<<32|uint64(StatusLocated|StatusACC|StatusSouth|StatusWest) ||
			!math.IsNaN(f.AccuracyM) || !math.IsNaN(f.Battery) || f.DeviceID != "13812345678" {
			t.Errorf("%v: %+v", v, f)
		}
		back, _ := ParseLocation(p.Body)
		if back.MileageKm != float64(0x7e7d)/10 {
			t.Errorf("%v: mileage %v", v, back.MileageKm)
		}
	}
	if _, err := NewHeader(Version2013, 0, 0, "1234567890123"); err == nil {
		t.Error("a 13-digit phone fits a 2013 header")
	}
	if _, err := NewHeader(Version2013, 0, 0, "12a"); err == nil {
		t.Error("a phone with a letter")
	}
}

func TestBCDTime(t *testing.T) {
	for in, want := range map[string]string{
		"241001235959": "2024-10-01T15:59:59Z",
		"240101000000": "2023-12-31T16:00:00Z",
		"000000000000": "0001-01-01T00:00:00Z",
		"240229120000": "2024-02-29T04:00:00Z",
		"230229120000": "bad",
		"241301000000": "bad",
		"241000000000": "bad",
		"241001240000": "bad",
		"2410012359a9": "bad",
		"24100123595f": "bad",
		"241131000000": "bad",
	} {
		got := "bad"
		if tm, ok := bcdTime(mustHex(in)); ok {
			got = tm.Format(time.RFC3339)
		}
		if got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
}

// frameStream joins wire frames, with the bytes between them.
func frameStream(t *testing.T, parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		if strings.HasPrefix(p, "=") {
			b = append(b, findVector(t, p[1:]).Hex...)
			continue
		}
		b = append(b, p...)
	}
	return mustHex(string(b))
}

func TestFrameReader(t *testing.T) {
	heartbeat := findVector(t, "G-134")
	hb := hex.EncodeToString(heartbeat.frame(t))
	loc := findVector(t, "G-164") // escapes inside
	locFrame := hex.EncodeToString(loc.frame(t))
	big := "7e" + strings.Repeat("11", 3000) + "7e"
	for _, tc := range []struct {
		name    string
		stream  []byte
		want    []string // frames in hex, or "!" and a fault
		skipped int64
	}{
		{"frames", frameStream(t, "=G-134", "=G-164", "=G-134"), []string{hb, locFrame, hb}, 0},
		{"leading garbage", frameStream(t, "2424", "=G-134"), []string{hb}, 2},
		{"garbage between", frameStream(t, "=G-134", "0d0a", "=G-164"), []string{hb, locFrame}, 2},
		{"shared flags", frameStream(t, "=G-134", strings.TrimPrefix(loc.Hex, "7e"), strings.TrimPrefix(heartbeat.Hex, "7e")), []string{hb, locFrame, hb}, 0},
		{"partial frame at the start", frameStream(t, "0200001c01", "7e", "=G-134"), []string{hb}, 5},
		{"too large", frameStream(t, big, "=G-134"), []string{"!" + ErrTooLarge.Error(), hb}, 0},
		{"bad escape", frameStream(t, "7e02007d037e", "=G-134"), []string{"!" + ErrEscape.Error(), hb}, 0},
		{"cut off", frameStream(t, "=G-134", "7e0200"), []string{hb, "!" + io.ErrUnexpectedEOF.Error()}, 2},
		{"noise only", mustHex("0102030405"), []string{}, 5},
	} {
		for _, size := range []int{16, 4096} {
			fr := NewFrameReader(bufio.NewReaderSize(bytes.NewReader(tc.stream), size), 0)
			got := []string{}
			for {
				f, err := fr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					var fe *FrameError
					if errors.As(err, &fe) {
						got = append(got, "!"+(&FrameError{Fault: fe.Fault}).Error())
						continue
					}
					got = append(got, "!"+err.Error())
					break
				}
				got = append(got, hex.EncodeToString(f))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || fr.Skipped() != tc.skipped {
				t.Errorf("%s (buffer %d):\n got %v, skipped %d\nwant %v, skipped %d", tc.name, size, got, fr.Skipped(), tc.want, tc.skipped)
			}
		}
	}
}

func TestAppendRegisterAndAuth(t *testing.T) {
	for _, v := range []Version{Version2013, Version2019} {
		in := Register{Province: 37, City: 402, Maker: "GX", Model: "GX-808", TerminalID: "T000001", PlateColor: 1, Plate: "鲁D12345"}
		r, err := ParseRegister(AppendRegister(nil, v, &in), v)
		in.Layout = map[Version]int{Version2013: 2013, Version2019: 2019}[v]
		if err != nil || r != in {
			t.Errorf("%v: register %+v, %v; want %+v", v, r, err, in)
		}
		auth := Auth{Code: "abcdef0123456789", IMEI: "860019900000001", Software: "v1.2"}
		a, err := ParseAuth(AppendAuth(nil, v, &auth), v)
		if v == Version2013 {
			auth.IMEI, auth.Software = "", ""
		}
		if err != nil || a != auth {
			t.Errorf("%v: auth %+v, %v; want %+v", v, a, err, auth)
		}
	}
}
