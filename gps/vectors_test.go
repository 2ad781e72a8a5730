package gps

import (
	"bufio"
	"encoding/hex"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The JT/T 808 conformance vectors come from the test suites of public implementations, gathered in
// testdata/protocols/jt808_vectors.txt. Each has the frame in hex, what its source asserts (in
// words) and what an independent decoder derived from it. The values the sources assert are
// checked by hand-written tables; the DERIVED values are checked wholesale against this decoder, so
// that every disagreement is either a bug here or listed, with the reason, in derivedWrong.

type jtVector struct {
	ID       string
	Hex      string
	Asserted string
	Derived  []string
}

// source returns the letter of the repository the vector comes from: T, S, G, F or R.
func (v *jtVector) source() string { return v.ID[:1] }

// wire returns the vector's bytes, and whether they still need unescaping: Traccar's vectors are
// fed to its decoder after its frame decoder, already unescaped (but one), the others are
// frames as sent.
func (v *jtVector) wire(t testing.TB) (b []byte, escaped bool) {
	t.Helper()
	b, err := hex.DecodeString(v.Hex)
	if err != nil {
		t.Fatalf("%s: hex: %v", v.ID, err)
	}
	escaped = v.source() != "T" || strings.Contains(strings.Join(v.Derived, "\n"), "still in ESCAPED wire form")
	return b, escaped
}

// frame returns the vector unescaped and without its flags, as FrameReader gives frames.
func (v *jtVector) frame(t testing.TB) []byte {
	t.Helper()
	b, escaped := v.wire(t)
	if len(b) < 2 || b[0] != flagByte || b[len(b)-1] != flagByte {
		t.Fatalf("%s: not a 7e…7e frame", v.ID)
	}
	b = b[1 : len(b)-1]
	if !escaped {
		return b
	}
	f, err := Unescape(nil, b)
	if err != nil {
		t.Fatalf("%s: unescape: %v", v.ID, err)
	}
	return f
}

var vectorID = regexp.MustCompile(`^\[([A-Z]+-\d+)\]$`)

// jt808Vectors reads the vector file, keeping the vectors whose hex is a binary frame.
func jt808Vectors(t testing.TB) []*jtVector {
	t.Helper()
	file, err := os.Open("testdata/protocols/jt808_vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var all []*jtVector
	var v *jtVector
	derived := false
	sc := bufio.NewScanner(file)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case vectorID.MatchString(trimmed):
			v = &jtVector{ID: vectorID.FindStringSubmatch(trimmed)[1]}
			all = append(all, v)
			derived = false
		case v == nil:
		case strings.HasPrefix(trimmed, "hex: "):
			v.Hex = strings.ToLower(strings.TrimPrefix(trimmed, "hex: "))
		case strings.HasPrefix(trimmed, "ASSERTED by source: "):
			v.Asserted = strings.TrimPrefix(trimmed, "ASSERTED by source: ")
		case strings.HasPrefix(trimmed, "DERIVED"):
			derived = true
		case trimmed == "" || strings.HasPrefix(line, "---") || strings.HasPrefix(line, "==="):
			derived = false
			if strings.HasPrefix(line, "---") || strings.HasPrefix(line, "===") {
				v = nil
			}
		case derived:
			v.Derived = append(v.Derived, trimmed)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	var frames []*jtVector
	for _, v := range all {
		if strings.HasPrefix(v.Hex, "7e") {
			frames = append(frames, v)
		}
	}
	if len(frames) < 170 {
		t.Fatalf("read %d frame vectors of %d, want about 175: has the file's layout changed?", len(frames), len(all))
	}
	return frames
}

func findVector(t testing.TB, id string) *jtVector {
	t.Helper()
	for _, v := range jt808Vectors(t) {
		if v.ID == id {
			return v
		}
	}
	t.Fatalf("no vector %s", id)
	return nil
}

// derivedPacket is what the DERIVED lines of a vector say.
type derivedPacket struct {
	msg, attr          uint16
	bodyLen            int
	layout             string // "2011/2013", "2019" or "2013" (a 2013 header despite the 2019 flag)
	protoVer           int
	phone              string
	serial             int
	checksumOK         bool
	lengthField, bytes int // from "!! body length field X != actual Y"
	imei               string
	batchCount         int
	batchType          int
	locs               []derivedLoc
	dicts              map[string]map[string]string // register, auth, ack, reg_ack
}

type derivedLoc struct {
	alarm, status uint32
	lat, lon      string
	alt           int
	speedRaw      int
	course        int
	time          string // UTC, RFC 3339
	extras        []string
	overrun       bool
	swapped       bool
}

var (
	reHeader   = regexp.MustCompile(`^msg=0x([0-9a-f]{4}) attr=0x([0-9a-f]{4}) body_len=(\d+) layout=(\S+)(?: \(despite bit14\))?(?: proto_ver=(\d+))? phone\(BCD\)=([0-9a-f]+) serial=(\d+)`)
	reChecksum = regexp.MustCompile(`^checksum 0x[0-9a-f]{2} computed 0x[0-9a-f]{2} -> (OK|MISMATCH)$`)
	reAlarm    = regexp.MustCompile(`^alarm=0x([0-9a-f]{8}) status=0x([0-9a-f]{8})`)
	reLatLon   = regexp.MustCompile(`^lat=(-?[\d.]+) \(raw \d+\) lon=(-?[\d.]+) \(raw \d+\)$`)
	reAlt      = regexp.MustCompile(`^alt=(-?\d+) m speed=[\d.]+ km/h \(raw (\d+)\) course=(\d+)$`)
	reTime     = regexp.MustCompile(`^time BCD=\d{12} -> .* = (\S+)$`)
	reBatch    = regexp.MustCompile(`^batch count=(\d+) type=(\d+)`)
	reLength   = regexp.MustCompile(`^!! body length field (\d+) != actual (\d+)$`)
	reIMEI     = regexp.MustCompile(`Traccar-style binary IMEI = (\d+)$`)
	reDict     = regexp.MustCompile(`^(register|auth|ack|reg_ack): (\{.*\})$`)
)

func parseDerived(t testing.TB, v *jtVector) (d derivedPacket, ok bool) {
	t.Helper()
	d.dicts = map[string]map[string]string{}
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s: %v", v.ID, err)
		}
		return n
	}
	hex32 := func(s string) uint32 {
		n, err := strconv.ParseUint(s, 16, 32)
		if err != nil {
			t.Fatalf("%s: %v", v.ID, err)
		}
		return uint32(n)
	}
	var loc *derivedLoc
	for _, line := range v.Derived {
		switch {
		case reHeader.MatchString(line):
			m := reHeader.FindStringSubmatch(line)
			ok = true
			d.msg, d.attr = uint16(hex32(m[1])), uint16(hex32(m[2]))
			d.bodyLen, d.layout, d.phone, d.serial = atoi(m[3]), m[4], m[6], atoi(m[7])
			if strings.Contains(line, "despite bit14") {
				d.layout = "2013"
			}
			if m[5] != "" {
				d.protoVer = atoi(m[5])
			}
		case reChecksum.MatchString(line):
			d.checksumOK = reChecksum.FindStringSubmatch(line)[1] == "OK"
		case reAlarm.MatchString(line):
			m := reAlarm.FindStringSubmatch(line)
			d.locs = append(d.locs, derivedLoc{alarm: hex32(m[1]), status: hex32(m[2])})
			loc = &d.locs[len(d.locs)-1]
		case reLatLon.MatchString(line):
			m := reLatLon.FindStringSubmatch(line)
			loc.lat, loc.lon = m[1], m[2]
		case reAlt.MatchString(line):
			m := reAlt.FindStringSubmatch(line)
			loc.alt, loc.speedRaw, loc.course = atoi(m[1]), atoi(m[2]), atoi(m[3])
		case reTime.MatchString(line):
			loc.time = reTime.FindStringSubmatch(line)[1]
		case strings.HasPrefix(line, "extras: "):
			items := strings.TrimPrefix(line, "extras: ")
			if i := strings.Index(items, "(!!"); i >= 0 {
				loc.overrun = true
				items = items[:i]
			}
			loc.extras = strings.Fields(items)
		case strings.Contains(line, "latitude out of range"):
			loc.swapped = true
		case reBatch.MatchString(line):
			m := reBatch.FindStringSubmatch(line)
			d.batchCount, d.batchType = atoi(m[1]), atoi(m[2])
		case reLength.MatchString(line):
			m := reLength.FindStringSubmatch(line)
			d.lengthField, d.bytes = atoi(m[1]), atoi(m[2])
		case reIMEI.MatchString(line):
			d.imei = reIMEI.FindStringSubmatch(line)[1]
		case reDict.MatchString(line):
			m := reDict.FindStringSubmatch(line)
			d.dicts[m[1]] = parsePyDict(t, v.ID, m[2])
		}
	}
	return d, ok
}

// parsePyDict reads the Python dict literal of a DERIVED line: keys map to the text of integers and
// the values of strings.
func parsePyDict(t testing.TB, id, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	for len(s) > 0 {
		s = strings.TrimLeft(s, ", ")
		key, rest, ok := pyString(s)
		if !ok {
			t.Fatalf("%s: dict key in %q", id, s)
		}
		rest = strings.TrimPrefix(rest, ": ")
		if rest != "" && (rest[0] == '\'' || rest[0] == '"') {
			val, r, ok := pyString(rest)
			if !ok {
				t.Fatalf("%s: dict value in %q", id, rest)
			}
			out[key], s = val, r
			continue
		}
		end := strings.IndexAny(rest, ",")
		if end < 0 {
			end = len(rest)
		}
		out[key], s = strings.TrimSpace(rest[:end]), rest[end:]
	}
	return out
}

// pyString reads a Python string literal (repr) at the start of s.
func pyString(s string) (val, rest string, ok bool) {
	if s == "" || (s[0] != '\'' && s[0] != '"') {
		return "", s, false
	}
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), s[i+1:], true
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'x':
				n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
				if err != nil {
					return "", s, false
				}
				b.WriteRune(rune(n))
				i += 2
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(s[i])
			}
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			b.WriteRune(r)
			i += size - 1
		}
	}
	return "", s, false
}
