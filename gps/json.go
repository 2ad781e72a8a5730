package gps

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

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
	b, err := ReadBatch(r, now)
	return b.Fixes, b.Rejected, err
}

// ReadBatch reads a native JSON batch of at most MaxBatchBody bytes from r and decodes it as
// DecodeBatch does; a larger body is ETOOLARGE.
func ReadBatch(r io.Reader, now time.Time) (Batch, error) {
	// The body is read into a buffer kept from request to request: nothing decoded refers to it.
	buf := bodies.Get().(*[]byte)
	defer putBody(buf)
	body, err := readBodyInto((*buf)[:0], r, MaxBatchBody)
	*buf = body
	if err != nil {
		return Batch{}, err
	}
	return DecodeBatch(body, now)
}

// bodies holds the buffers ReadBatch reads bodies into.
var bodies = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBody is the largest body buffer kept for the next request: 10,000 compact fixes fit.
const maxPooledBody = 4 << 20

func putBody(buf *[]byte) {
	if cap(*buf) > maxPooledBody {
		*buf = nil
	}
	*buf = (*buf)[:0]
	bodies.Put(buf)
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

// Release gives the batch's fixes and positions back for the next batch to be decoded into; the
// batch must not be used after. A caller that never calls it (the fixes are kept, or it is not
// worth it) leaves them to the collector.
func (b *Batch) Release() {
	if b.Fixes != nil && cap(b.Fixes) <= MaxBatch {
		// The fixes are not cleared: every one is written whole before it is read again, and
		// what they point to (device ids, cut from decoders' arenas) is small.
		batches.Put(&pooledBatch{b.Fixes[:0], b.Positions[:0]})
	}
	*b = Batch{}
}

// pooledBatch is a released Batch's buffers.
type pooledBatch struct {
	fixes     []liftrescue.Fix
	positions []int
}

var batches sync.Pool

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
	d := decoders.Get().(*decoder)
	d.b, d.i, d.depth, d.now, d.est = body, 0, 0, now, -1
	err := d.batch()
	out := d.out
	d.release()
	if err != nil {
		return Batch{}, err
	}
	return out, nil
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
			key, err := d.key()
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
// body is either rejected whole or read whole. Decoders are kept in a pool with their buffers and
// the device ids they have seen; what they hand out (Batch) is never reused.
type decoder struct {
	b       []byte
	i       int
	depth   int
	now     time.Time
	array   int    // where the positions array starts
	est     int    // an upper bound of the fixes in the body; -1 until counted
	scratch []byte // unescaped string values
	keys    []byte // unescaped member names, apart from values, which may follow
	arena   []byte // the bytes of the device ids and tokens handed out; see text
	out     Batch
}

var decoders = sync.Pool{New: func() any { return new(decoder) }}

// arenaSize is the size of the blocks device ids and tokens are cut from: a batch of 1,000
// fixes from trackers with IMEIs takes one.
const arenaSize = 16 << 10

// release puts the decoder back in the pool, without the batch it read.
func (d *decoder) release() {
	d.b, d.out = nil, Batch{}
	if cap(d.scratch) > 64<<10 {
		d.scratch = nil
	}
	if cap(d.keys) > 64<<10 {
		d.keys = nil
	}
	decoders.Put(d)
}

// text returns s as a string cut from the decoder's arena, a block that strings are appended to
// and never changed in, so that a batch's device ids take one allocation rather than one each,
// and no lookup. A string keeps its block alive: whatever keeps a device id for long (the
// pipeline's unknown devices) clones it.
func (d *decoder) text(s []byte) string {
	if len(s) == 0 {
		return ""
	}
	if len(d.arena)+len(s) > cap(d.arena) {
		d.arena = make([]byte, 0, max(arenaSize, len(s)))
	}
	at := len(d.arena)
	d.arena = append(d.arena, s...)
	return unsafe.String(&d.arena[at], len(s))
}

// capacity returns the room to make for the batch's fixes: the number of objects in the body,
// which bounds them, counted on the first fix.
func (d *decoder) capacity() int {
	if d.est < 0 {
		d.est = min(max(bytes.Count(d.b[d.array:], []byte{'{'}), 1), MaxBatch)
	}
	return d.est
}

// positions reads the array of fixes at d.i. Past MaxBatch it goes on checking the syntax only.
func (d *decoder) positions() (tooLarge bool, err error) {
	d.array = d.i
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
			err = d.position(n)
		default:
			if err = d.skip(); err == nil {
				d.out.Rejected = append(d.out.Rejected, liftrescue.Detail{Index: index(n), Reason: "want an object"})
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

// The members of a fix, as bits of the set of those seen.
const (
	fieldUnknown = iota
	fieldID
	fieldLat
	fieldLon
	fieldTime
	fieldSpeed
	fieldHeading
	fieldAccuracy
	fieldAltitude
	fieldToken
)

// fieldOf returns the member a name is, fieldUnknown for none.
func fieldOf(key []byte) int {
	switch string(key) {
	case "device_id":
		return fieldID
	case "lat":
		return fieldLat
	case "lon":
		return fieldLon
	case "time":
		return fieldTime
	case "speed_kmh":
		return fieldSpeed
	case "heading":
		return fieldHeading
	case "accuracy_m":
		return fieldAccuracy
	case "altitude_m":
		return fieldAltitude
	case "token":
		return fieldToken
	}
	return fieldUnknown
}

// fieldNames are the members' names, by field.
var fieldNames = [...]string{fieldID: "device_id", fieldLat: "lat", fieldLon: "lon", fieldTime: "time",
	fieldSpeed: "speed_kmh", fieldHeading: "heading", fieldAccuracy: "accuracy_m", fieldAltitude: "altitude_m",
	fieldToken: "token"}

// position reads fix number n, an object at d.i, and adds it to d.out, or its first problem (then
// liftrescue.CheckFix's) to d.out.Rejected; err is for JSON that cannot be read.
func (d *decoder) position(n int) error {
	if err := d.open(); err != nil {
		return err
	}
	f := liftrescue.Fix{SpeedKmh: liftrescue.Unknown, Heading: liftrescue.Unknown, AccuracyM: liftrescue.Unknown,
		AltitudeM: liftrescue.Unknown, Battery: liftrescue.Unknown}
	var token, field, reason string
	var seen, have uint // the members named, and those with a value (not null, of the right type)
	d.ws()
	if d.peek() == '}' {
		d.i++
	} else {
		for {
			d.ws()
			key, err := d.key()
			if err != nil {
				return err
			}
			if err := d.colon(); err != nil {
				return err
			}
			fl := fieldOf(key)
			if fl != fieldUnknown {
				if seen&(1<<fl) != 0 && reason == "" {
					field, reason = fieldNames[fl], "given twice"
				}
				seen |= 1 << fl
			}
			switch c := d.peek(); fl {
			case fieldID, fieldTime, fieldToken:
				switch c {
				case '"':
					text, err := d.str()
					if err != nil {
						return err
					}
					have |= 1 << fl
					switch fl {
					case fieldID:
						f.DeviceID = d.text(text)
					case fieldToken:
						token = d.text(text)
					default:
						t, ok := parseTime(text)
						if !ok && reason == "" {
							field, reason = "time", fmt.Sprintf("want an RFC 3339 time like 2026-11-21T08:30:00Z, got %q", shorten(string(text)))
						}
						f.Time = t
					}
				case 'n':
					if err := d.literal("null"); err != nil {
						return err
					}
				default:
					if reason == "" {
						field, reason = fieldNames[fl], "want a string"
					}
					if err := d.skip(); err != nil {
						return err
					}
				}
			case fieldLat, fieldLon, fieldSpeed, fieldHeading, fieldAccuracy, fieldAltitude:
				var num *float64
				switch fl {
				case fieldLat:
					num = &f.Lat
				case fieldLon:
					num = &f.Lon
				case fieldSpeed:
					num = &f.SpeedKmh
				case fieldHeading:
					num = &f.Heading
				case fieldAccuracy:
					num = &f.AccuracyM
				default:
					num = &f.AltitudeM
				}
				switch {
				case c == '-' || c >= '0' && c <= '9':
					v, ok, err := d.float()
					if err != nil {
						return err
					}
					if !ok && reason == "" {
						field, reason = fieldNames[fl], "number out of range"
					}
					*num, have = v, have|1<<fl
				case c == 'n':
					if err := d.literal("null"); err != nil {
						return err
					}
				default:
					if err := d.skip(); err != nil {
						return err
					}
					if reason == "" {
						field, reason = fieldNames[fl], "want a number"
					}
				}
			default:
				if reason == "" {
					field, reason = shorten(string(key)), "unknown field"
				}
				if err := d.skip(); err != nil {
					return err
				}
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
			return d.errorf("want , or } after a field")
		}
	}
	d.depth--
	if reason == "" {
		switch {
		case have&(1<<fieldID) == 0:
			field, reason = "device_id", "missing"
		case have&(1<<fieldTime) == 0:
			field, reason = "time", "missing"
		case have&(1<<fieldLat) == 0:
			field, reason = "lat", "missing"
		case have&(1<<fieldLon) == 0:
			field, reason = "lon", "missing"
		default:
			field, reason = checkFix(&f, d.now)
		}
	}
	if reason != "" {
		d.out.Rejected = append(d.out.Rejected, liftrescue.Detail{Index: index(n), Field: field, Reason: reason})
		return nil
	}
	out := &d.out
	if out.Fixes == nil {
		c := d.capacity()
		if pb, ok := batches.Get().(*pooledBatch); ok && cap(pb.fixes) >= c {
			out.Fixes, out.Positions = pb.fixes, pb.positions
		} else {
			out.Fixes, out.Positions = make([]liftrescue.Fix, 0, c), make([]int, 0, c)
		}
	}
	out.Fixes = append(out.Fixes, f)
	out.Positions = append(out.Positions, n)
	if token != "" && out.Tokens == nil {
		out.Tokens = make([]string, len(out.Fixes)-1, cap(out.Fixes))
	}
	if out.Tokens != nil {
		out.Tokens = append(out.Tokens, token)
	}
	return nil
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
				if err := d.skipString(); err != nil {
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
		return d.skipString()
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

// float reads a JSON number at d.i and returns its value as atof does. The short decimals of
// trackers are read and converted in one pass; the rest goes to number and atof.
func (d *decoder) float() (v float64, ok bool, err error) {
	b, i := d.b, d.i
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	var mant uint64
	digits, exp := 0, 0
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i]-'1' <= 8:
		start := i
		for ; i < len(b) && b[i]-'0' <= 9; i++ {
			mant = mant*10 + uint64(b[i]-'0')
		}
		digits = i - start
	default:
		return d.slowFloat()
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for ; i < len(b) && b[i]-'0' <= 9; i++ {
			mant = mant*10 + uint64(b[i]-'0')
		}
		if i == start {
			return d.slowFloat()
		}
		exp = start - i
		digits -= exp
	}
	if digits > 15 || i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		return d.slowFloat()
	}
	if mant != 0 {
		v = float64(mant) / pow10[-exp]
	}
	if neg {
		v = -v
	}
	d.i = i
	return v, true, nil
}

// slowFloat is float for the numbers it does not read itself, and for what is no number.
func (d *decoder) slowFloat() (float64, bool, error) {
	tok, err := d.number()
	if err != nil {
		return 0, false, err
	}
	v, ok := atof(tok)
	return v, ok, nil
}

// pow10 are the powers of ten that float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// atof returns the value of a JSON number as strconv.ParseFloat does, bit for bit, and false
// where ParseFloat fails (out of range: then ±Inf). Numbers of at most 15 significant digits and
// small exponents, what trackers send, are read here exactly: their digits and the power of ten
// are both exact float64s, so that one multiplication or division rounds once, as ParseFloat
// does; the others go to ParseFloat.
func atof(tok []byte) (float64, bool) {
	if v, ok := atofFast(tok); ok {
		return v, true
	}
	v, err := strconv.ParseFloat(string(tok), 64)
	return v, err == nil
}

func atofFast(s []byte) (float64, bool) {
	i, neg := 0, false
	if len(s) > 0 && s[0] == '-' {
		neg, i = true, 1
	}
	var mant uint64
	digits, exp := 0, 0 // significant digits in mant; mant × 10^exp is the number
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if mant == 0 && s[i] == '0' {
			continue
		}
		if digits++; digits > 15 {
			return 0, false
		}
		mant = mant*10 + uint64(s[i]-'0')
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			exp--
			if mant == 0 && s[i] == '0' {
				continue
			}
			if digits++; digits > 15 {
				return 0, false
			}
			mant = mant*10 + uint64(s[i]-'0')
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		sign := 1
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			if s[i] == '-' {
				sign = -1
			}
			i++
		}
		e := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if e > 1000 {
				return 0, false
			}
			e = e*10 + int(s[i]-'0')
		}
		exp += sign * e
	}
	switch {
	case i != len(s):
		return 0, false
	case mant == 0:
		if neg {
			return math.Copysign(0, -1), true
		}
		return 0, true
	}
	v := float64(mant)
	switch {
	case exp == 0:
	case exp > 0 && exp < len(pow10):
		v *= pow10[exp]
	case exp < 0 && -exp < len(pow10):
		v /= pow10[-exp]
	default:
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// parseTime returns an RFC 3339 time as time.Parse(time.RFC3339, …) and fixTime make it. The
// form every tracker sends, 2026-11-21T08:30:00.123Z or with a ±hh:mm offset, is read here; the
// rest goes to time.Parse.
func parseTime(s []byte) (time.Time, bool) {
	if t, ok := parseRFC3339(s); ok {
		return t, true
	}
	t, err := time.Parse(time.RFC3339, string(s))
	if err != nil {
		return fixTime(t), false
	}
	return fixTime(t), true
}

// parseRFC3339 reads what the time package's own fast path for RFC 3339 accepts, by the same
// rules, and returns it as fixTime would; ok is false for anything else.
func parseRFC3339(s []byte) (t time.Time, ok bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return t, false
	}
	ok = true
	num := func(b []byte, lo, hi int) int {
		x := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				ok = false
				return lo
			}
			x = x*10 + int(c-'0')
		}
		if x < lo || x > hi {
			ok = false
		}
		return x
	}
	year := num(s[0:4], 0, 9999)
	month := num(s[5:7], 1, 12)
	if !ok {
		return t, false
	}
	day := num(s[8:10], 1, monthDays(month, year))
	hour := num(s[11:13], 0, 23)
	minute := num(s[14:16], 0, 59)
	sec := num(s[17:19], 0, 59)
	if !ok {
		return t, false
	}
	s = s[19:]
	nsec := 0
	if len(s) >= 2 && s[0] == '.' && s[1] >= '0' && s[1] <= '9' {
		n := 1
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			if n <= 9 {
				nsec = nsec*10 + int(s[n]-'0')
			}
			n++
		}
		for k := n; k <= 9; k++ {
			nsec *= 10
		}
		s = s[n:]
	}
	offset := 0
	if len(s) != 1 || s[0] != 'Z' {
		if len(s) != len("-07:00") || s[0] != '+' && s[0] != '-' || s[3] != ':' {
			return t, false
		}
		hh, mm := num(s[1:3], 0, 23), num(s[4:6], 0, 59)
		if !ok {
			return t, false
		}
		if offset = (hh*60 + mm) * 60; s[0] == '-' {
			offset = -offset
		}
	}
	unix := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec-offset)
	return time.Unix(unix, int64(nsec-nsec%1000)).UTC(), true
}

// monthDays returns the number of days of a month of the proleptic Gregorian calendar.
func monthDays(month, year int) int {
	if month == 2 {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 30 + (month+month/8)%2
}

// daysSinceEpoch returns the days from 1970-01-01 to a date of the proleptic Gregorian calendar
// (Howard Hinnant's days_from_civil).
func daysSinceEpoch(year, month, day int) int64 {
	if month <= 2 {
		year--
	}
	era := year / 400
	if year < 0 {
		era = (year - 399) / 400
	}
	yoe := year - era*400
	doy := (153*((month+9)%12)+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// key reads a member name at d.i; its value, if unescaped, stays until the next name.
func (d *decoder) key() ([]byte, error) { return d.strInto(&d.keys) }

// str reads a JSON string value at d.i; its value, if unescaped, stays until the next value.
func (d *decoder) str() ([]byte, error) { return d.strInto(&d.scratch) }

// skipString reads a JSON string whose value does not matter.
func (d *decoder) skipString() error {
	_, err := d.strInto(&d.scratch)
	return err
}

// strInto reads a JSON string at d.i and returns its value, which aliases the body or, when it had
// to be unescaped, *buf. Bytes that are not UTF-8 become U+FFFD, as in encoding/json.
func (d *decoder) strInto(buf *[]byte) ([]byte, error) {
	if d.peek() != '"' {
		return nil, d.errorf("want a string")
	}
	b := d.b
	start := d.i + 1
	i := start
	for i < len(b) {
		c := b[i]
		if plain[c] {
			i++
			continue
		}
		if c == '"' {
			d.i = i + 1
			return b[start:i], nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			i += size
			continue
		}
		i++
	}
	out := append((*buf)[:0], b[start:i]...)
	defer func() { *buf = out }()
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			d.i = i + 1
			return out, nil
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
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
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
							out = utf8.AppendRune(out, c)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
				continue
			default:
				d.i = i
				return nil, d.errorf("malformed escape")
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, b[i:i+size]...)
			}
			i += size
		}
	}
	d.i = i
	return nil, d.errorf("unterminated string")
}

// plain holds the bytes that stand for themselves in a JSON string: ASCII but the quote, the
// backslash and control characters.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

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
