package gps

import (
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/liftrescue/liftrescue"
)

// MaxBatch is the most fixes one native JSON batch may carry.
const MaxBatch = 10_000

// MaxBatchBody is the largest batch body ReadPositions reads: 10,000 pretty-printed fixes with
// room to spare.
const MaxBatchBody = 16 << 20

// maxDepth is how deeply JSON may nest, as encoding/json allows.
const maxDepth = 10_000

// ReadPositions reads a native JSON batch of at most MaxBatchBody bytes from r and decodes it as
// DecodePositions does; a larger body is ETOOLARGE.
func ReadPositions(r io.Reader, now time.Time) (fixes []liftrescue.Fix, rejected []liftrescue.Detail, err error) {
	body, err := readBody(r, MaxBatchBody)
	if err != nil {
		return nil, nil, err
	}
	return DecodePositions(body, now)
}

// ReadBatch reads a native JSON batch of at most MaxBatchBody bytes from r and decodes it as
// DecodeBatch does; a larger body is ETOOLARGE.
func ReadBatch(r io.Reader, now time.Time) (Batch, error) {
	body, err := readBody(r, MaxBatchBody)
	if err != nil {
		return Batch{}, err
	}
	return DecodeBatch(body, now)
}

// Batch is a native JSON batch as DecodeBatch reads it.
type Batch struct {
	// Fixes are the fixes that can be used, in the order of the body.
	Fixes []liftrescue.Fix
	// Positions gives the index in the body's positions array of each of Fixes, so that what
	// the pipeline says of Fixes[i] can be told of the fix the sender knows.
	Positions []int
	// Tokens holds the device secret each of Fixes carried in its "token" member ("" for none);
	// nil when none did.
	Tokens []string
	// Rejected are the fixes left out, by their index in the body.
	Rejected []liftrescue.Detail
}

// Reindex returns the details of a result about Fixes with their indexes turned into those of
// the body.
func (b *Batch) Reindex(details []liftrescue.Detail) []liftrescue.Detail {
	for i := range details {
		if d := &details[i]; d.Index != nil && *d.Index >= 0 && *d.Index < len(b.Positions) {
			d.Index = index(b.Positions[*d.Index])
		}
	}
	return details
}

// DecodeBatch decodes a native JSON batch as DecodePositions does, where each fix may also carry
// its device's secret in a "token" member.
func DecodeBatch(body []byte, now time.Time) (Batch, error) {
	d := decoder{b: body, now: now}
	err := d.batch()
	if err != nil {
		return Batch{}, err
	}
	if !d.tokens {
		d.out.Tokens = nil
	}
	return d.out, nil
}

// DecodePositions decodes the native JSON batch
//
//	{"positions":[{"device_id":"…","lat":…,"lon":…,"time":"RFC 3339",
//	               "speed_kmh":…,"heading":…,"accuracy_m":…,"altitude_m":…}, …]}
//
// device_id, lat, lon and time are required; a "token" (see DecodeBatch) is allowed and ignored; the others may be absent or null (Unknown). Each fix
// is read and checked (liftrescue.CheckFix at now) on its own: one with an unknown or repeated
// field, a wrong type or a value out of range is left out and reported in rejected, with its
// Index, the field and the reason, and the others are kept. Field names match exactly.
//
// err is EBADREQUEST for a body that is not JSON or not such an object (an unknown member beside
// positions included), ETOOLARGE for more than MaxBatch fixes; then there are no fixes.
func DecodePositions(body []byte, now time.Time) (fixes []liftrescue.Fix, rejected []liftrescue.Detail, err error) {
	b, err := DecodeBatch(body, now)
	return b.Fixes, b.Rejected, err
}

// batch reads the whole body into d.out.
func (d *decoder) batch() error {
	d.ws()
	if d.peek() != '{' {
		if d.i == len(d.b) {
			return liftrescue.Errorf(liftrescue.EBADREQUEST, `the body is empty: want {"positions":[…]}`)
		}
		return d.errorf(`want a JSON object {"positions":[…]}`)
	}
	d.i++
	d.depth++
	seen, tooLarge := false, false
	d.ws()
	if d.peek() == '}' {
		d.i++
	} else {
		for {
			d.ws()
			key, err := d.str()
			if err != nil {
				return err
			}
			if err := d.colon(); err != nil {
				return err
			}
			if string(key) != "positions" {
				return liftrescue.Errorf(liftrescue.EBADREQUEST, "unknown member %q: the body has only positions", shorten(string(key)))
			}
			if d.peek() != '[' {
				return liftrescue.Errorf(liftrescue.EBADREQUEST, "positions: want an array of fixes")
			}
			if seen {
				return liftrescue.Errorf(liftrescue.EBADREQUEST, "positions: given twice")
			}
			seen = true
			if tooLarge, err = d.positions(); err != nil {
				return err
			}
			d.ws()
			if d.peek() == ',' {
				d.i++
				continue
			}
			if d.peek() == '}' {
				d.i++
				break
			}
			return d.errorf("want , or } after a member")
		}
	}
	d.ws()
	if d.i != len(d.b) {
		return d.errorf("data after the JSON object")
	}
	switch {
	case !seen:
		return liftrescue.Errorf(liftrescue.EBADREQUEST, `positions: missing: want {"positions":[…]}`)
	case tooLarge:
		return liftrescue.Errorf(liftrescue.ETOOLARGE, "more than %d fixes in one batch: send them in several", MaxBatch)
	}
	return nil
}

// decoder reads one batch. It checks the JSON syntax as it goes, like encoding/json, so that a
// body is either rejected whole or read whole.
type decoder struct {
	b       []byte
	i       int
	depth   int
	now     time.Time
	scratch []byte            // unescaped strings
	ids     map[string]string // device ids seen: a batch repeats a few
	out     Batch
	tokens  bool // a fix carried a token
}

// intern returns s as a string, the same string for the same id throughout the batch.
func (d *decoder) intern(s []byte) string {
	if id, ok := d.ids[string(s)]; ok {
		return id
	}
	id := string(s)
	if d.ids == nil {
		d.ids = make(map[string]string)
	}
	if len(d.ids) < 1024 {
		d.ids[id] = id
	}
	return id
}

// positions reads the array of fixes at d.i. Past MaxBatch it goes on checking the syntax only.
func (d *decoder) positions() (tooLarge bool, err error) {
	fixes, rejected := &d.out.Fixes, &d.out.Rejected
	if err := d.open(); err != nil {
		return false, err
	}
	d.ws()
	if d.peek() == ']' {
		d.i++
		d.depth--
		return false, nil
	}
	for n := 0; ; n++ {
		d.ws()
		switch {
		case n >= MaxBatch:
			tooLarge = true
			err = d.skip()
		case d.peek() == '{':
			var f liftrescue.Fix
			var field, reason, token string
			f, token, field, reason, err = d.position()
			if err == nil && reason == "" {
				field, reason = checkFix(&f, d.now)
			}
			if err == nil && reason != "" {
				*rejected = append(*rejected, liftrescue.Detail{Index: index(n), Field: field, Reason: reason})
			} else if err == nil {
				*fixes = append(*fixes, f)
				d.out.Positions = append(d.out.Positions, n)
				d.out.Tokens = append(d.out.Tokens, token)
				d.tokens = d.tokens || token != ""
			}
		default:
			if err = d.skip(); err == nil {
				*rejected = append(*rejected, liftrescue.Detail{Index: index(n), Reason: "want an object"})
			}
		}
		if err != nil {
			return false, err
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			d.depth--
			return tooLarge, nil
		default:
			return false, d.errorf("want , or ] after a fix")
		}
	}
}

func index(n int) *int { return &n }

// Fields present in a fix.
const (
	hasID = 1 << iota
	hasLat
	hasLon
	hasTime
	hasSpeed
	hasHeading
	hasAccuracy
	hasAltitude
	hasToken
)

// position reads one fix object at d.i. A problem with the fix (the first one) comes back as
// field and reason; err is for JSON that cannot be read.
func (d *decoder) position() (f liftrescue.Fix, token, field, reason string, err error) {
	if err := d.open(); err != nil {
		return f, "", "", "", err
	}
	f = liftrescue.Fix{SpeedKmh: liftrescue.Unknown, Heading: liftrescue.Unknown, AccuracyM: liftrescue.Unknown,
		AltitudeM: liftrescue.Unknown, Battery: liftrescue.Unknown}
	have, seen := 0, 0
	problem := func(fl, r string) {
		if reason == "" {
			field, reason = fl, r
		}
	}
	d.ws()
	if d.peek() == '}' {
		d.i++
	} else {
		for {
			d.ws()
			key, err := d.str()
			if err != nil {
				return f, "", "", "", err
			}
			if err := d.colon(); err != nil {
				return f, "", "", "", err
			}
			var num *float64
			var bit int
			if b := fieldBit(key); b != 0 {
				if seen&b != 0 {
					problem(string(key), "given twice")
				}
				seen |= b
			}
			switch string(key) {
			case "device_id", "time", "token":
				var text []byte
				var present bool
				text, present, err = d.text(key, problem)
				switch {
				case err != nil || !present:
				case string(key) == "device_id":
					f.DeviceID, have = d.intern(text), have|hasID
				case string(key) == "token":
					token = d.intern(text)
				default:
					t, perr := time.Parse(time.RFC3339, string(text))
					if perr != nil {
						problem("time", fmt.Sprintf("want an RFC 3339 time like 2026-11-21T08:30:00Z, got %q", shorten(string(text))))
					}
					f.Time, have = fixTime(t), have|hasTime
				}
			case "lat":
				num, bit = &f.Lat, hasLat
			case "lon":
				num, bit = &f.Lon, hasLon
			case "speed_kmh":
				num = &f.SpeedKmh
			case "heading":
				num = &f.Heading
			case "accuracy_m":
				num = &f.AccuracyM
			case "altitude_m":
				num = &f.AltitudeM
			default:
				err = d.skip()
				problem(shorten(string(key)), "unknown field")
			}
			if num != nil {
				switch c := d.peek(); {
				case c == '-' || c >= '0' && c <= '9':
					tok, err := d.number()
					if err != nil {
						return f, "", "", "", err
					}
					v, perr := strconv.ParseFloat(string(tok), 64)
					if perr != nil {
						problem(string(key), "number out of range")
					}
					*num, have = v, have|bit
				case c == 'n':
					err = d.skip()
				default:
					err = d.skip()
					problem(string(key), "want a number")
				}
			}
			if err != nil {
				return f, "", "", "", err
			}
			d.ws()
			if d.peek() == ',' {
				d.i++
				continue
			}
			if d.peek() == '}' {
				d.i++
				break
			}
			return f, "", "", "", d.errorf("want , or } after a field")
		}
	}
	d.depth--
	switch {
	case have&hasID == 0:
		problem("device_id", "missing")
	case have&hasTime == 0:
		problem("time", "missing")
	case have&hasLat == 0:
		problem("lat", "missing")
	case have&hasLon == 0:
		problem("lon", "missing")
	}
	return f, token, field, reason, nil
}

// text reads a string member's value at d.i: present is false for null, and for any other type,
// which is reported to problem as the field's fault; err is for JSON that cannot be read.
func (d *decoder) text(field []byte, problem func(field, reason string)) (s []byte, present bool, err error) {
	switch d.peek() {
	case '"':
		s, err = d.str()
		return s, err == nil, err
	case 'n':
		return nil, false, d.skip()
	}
	problem(string(field), "want a string")
	return nil, false, d.skip()
}

// fieldBit returns the bit of a known field, 0 for an unknown one.
func fieldBit(key []byte) int {
	switch string(key) {
	case "device_id":
		return hasID
	case "time":
		return hasTime
	case "lat":
		return hasLat
	case "lon":
		return hasLon
	case "speed_kmh":
		return hasSpeed
	case "heading":
		return hasHeading
	case "accuracy_m":
		return hasAccuracy
	case "altitude_m":
		return hasAltitude
	case "token":
		return hasToken
	}
	return 0
}

func (d *decoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) errorf(format string, args ...any) error {
	return liftrescue.Errorf(liftrescue.EBADREQUEST, "malformed JSON at byte %d: %s", d.i, fmt.Sprintf(format, args...))
}

// open enters the object or array at d.i.
func (d *decoder) open() error {
	if d.depth++; d.depth > maxDepth {
		return d.errorf("nested too deeply")
	}
	d.i++
	return nil
}

// colon reads the colon after a member name and the space after it.
func (d *decoder) colon() error {
	d.ws()
	if d.peek() != ':' {
		return d.errorf("want : after a member name")
	}
	d.i++
	d.ws()
	return nil
}

// skip reads any value at d.i.
func (d *decoder) skip() error {
	switch c := d.peek(); {
	case c == '{' || c == '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		if err := d.open(); err != nil {
			return err
		}
		d.ws()
		if d.peek() == end {
			d.i++
			d.depth--
			return nil
		}
		for {
			d.ws()
			if c == '{' {
				if _, err := d.str(); err != nil {
					return err
				}
				if err := d.colon(); err != nil {
					return err
				}
			}
			if err := d.skip(); err != nil {
				return err
			}
			d.ws()
			switch d.peek() {
			case ',':
				d.i++
			case end:
				d.i++
				d.depth--
				return nil
			default:
				return d.errorf("want , or %c", end)
			}
		}
	case c == '"':
		_, err := d.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		_, err := d.number()
		return err
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	}
	return d.errorf("want a value")
}

func (d *decoder) literal(word string) error {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return d.errorf("want a value")
	}
	d.i += len(word)
	return nil
}

// number reads a JSON number at d.i and returns its text.
func (d *decoder) number() ([]byte, error) {
	b, i := d.b, d.i
	digits := func() bool {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		d.i = i
		return nil, d.errorf("malformed number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			d.i = i
			return nil, d.errorf("malformed number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			d.i = i
			return nil, d.errorf("malformed number")
		}
	}
	tok := b[d.i:i]
	d.i = i
	return tok, nil
}

// str reads a JSON string at d.i and returns its value, which aliases the body or the decoder's
// scratch buffer until the next call. Bytes that are not UTF-8 become U+FFFD, as in encoding/json.
func (d *decoder) str() ([]byte, error) {
	if d.peek() != '"' {
		return nil, d.errorf("want a string")
	}
	b := d.b
	start := d.i + 1
	i := start
	for i < len(b) {
		c := b[i]
		if c == '"' {
			d.i = i + 1
			if s := b[start:i]; utf8.Valid(s) {
				return s, nil
			}
			break
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		i++
	}
	buf := append(d.scratch[:0], b[start:i]...)
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			d.i = i + 1
			d.scratch = buf
			return buf, nil
		case c < 0x20:
			d.i = i
			return nil, d.errorf("control character in a string")
		case c == '\\':
			if i+1 >= len(b) {
				d.i = i
				return nil, d.errorf("unterminated string")
			}
			switch e := b[i+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(b[i+2:])
				if !ok {
					d.i = i
					return nil, d.errorf("malformed \\u escape")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(b[min(i+2, len(b)):]); ok && i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						if c := utf16.DecodeRune(r, r2); c != utf8.RuneError {
							buf = utf8.AppendRune(buf, c)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
				continue
			default:
				d.i = i
				return nil, d.errorf("malformed escape")
			}
			i += 2
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, b[i:i+size]...)
			}
			i += size
		}
	}
	d.i = i
	return nil, d.errorf("unterminated string")
}

// hex4 reads the four hexadecimal digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
