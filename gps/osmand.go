package gps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/liftrescue/liftrescue"
)

// MaxOsmAndBody is the largest request body ParseOsmAnd reads. A Traccar Client location is
// under 1 KB; the limit leaves room for custom attributes.
const MaxOsmAndBody = 64 << 10

// kmhPerKnot converts the OsmAnd protocol's speed, in knots, to km/h.
const kmhPerKnot = 1.852

// ParseOsmAnd reads the one position of a request in the OsmAnd protocol, on its own port, as the
// OsmAnd app and the Traccar Client apps send it:
//
//   - parameters in the query string or a form body (GET or POST): id or deviceid; lat and lon,
//     or location=lat,lon; timestamp in Unix seconds, Unix milliseconds or ISO 8601 (without a
//     zone it is UTC); speed in knots; bearing or heading; altitude; accuracy in metres; batt in
//     percent; alarm. Other parameters (hdop, custom attributes) are ignored.
//   - the JSON body of Traccar Client 9: device_id and location{timestamp, coords{latitude,
//     longitude, speed in m/s, heading, altitude, accuracy}, battery{level 0–1}, alarm}. A body
//     that starts with '{' is read as JSON whatever its Content-Type, as curl -d sends it as a
//     form; a JSON Content-Type without a body leaves the query string to read.
//
// Without a timestamp the fix is taken at now. Negative speed, heading, accuracy and battery mean
// "not known", as the iOS client sends -1. The fix is checked as liftrescue.CheckFix does at now.
//
// Returns EBADREQUEST when the request cannot be read (a malformed number or JSON, a wrong type),
// ETOOLARGE for a body over MaxOsmAndBody, EINVALID when a value is missing or breaks a rule; the
// error's details name the parameter.
func ParseOsmAnd(r *http.Request, now time.Time) (liftrescue.Fix, error) {
	body, err := readBody(r.Body, MaxOsmAndBody)
	if err != nil {
		return liftrescue.Fix{}, err
	}
	if j := bytes.TrimLeft(body, " \t\r\n"); len(j) > 0 && (j[0] == '{' || j[0] == '[' || jsonContentType(r.Header)) {
		return parseOsmAndJSON(j, now)
	}
	var p osmAndParams
	if r.URL != nil {
		if err := p.read(r.URL.RawQuery); err != nil {
			return liftrescue.Fix{}, liftrescue.Errorf(liftrescue.EBADREQUEST, "malformed query string: %s", queryProblem(err))
		}
	}
	if len(body) > 0 {
		if err := p.read(string(body)); err != nil {
			return liftrescue.Fix{}, liftrescue.Errorf(liftrescue.EBADREQUEST, "malformed form body: %s", queryProblem(err))
		}
	}
	return p.fix(now)
}

// jsonContentType reports whether the Content-Type starts with application/json in any case, as
// strings.HasPrefix(strings.ToLower(ct), "application/json") does, without lowering the whole type
// of every form.
func jsonContentType(h http.Header) bool {
	const want = "application/json"
	var ct string
	if v := h["Content-Type"]; len(v) > 0 {
		ct = v[0]
	}
	for i := 0; i < len(ct) && i < len(want); i++ {
		if ct[i] >= utf8.RuneSelf { // strings.ToLower lowers İ to i
			return strings.HasPrefix(strings.ToLower(ct), want)
		}
	}
	return len(ct) >= len(want) && strings.EqualFold(ct[:len(want)], want)
}

// readBody reads at most max bytes of a request body.
func readBody(body io.Reader, max int64) ([]byte, error) {
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(body, max+1))
	if err != nil {
		return nil, &liftrescue.Error{Code: liftrescue.EBADREQUEST, Message: "the request body could not be read", Err: err}
	}
	if int64(len(b)) > max {
		return nil, liftrescue.Errorf(liftrescue.ETOOLARGE, "the request body is larger than %d bytes", max)
	}
	return b, nil
}

// readBodyInto is readBody reading into b, from its start, grown as needed: the caller keeps the
// buffer for the next body.
func readBodyInto(b []byte, body io.Reader, max int64) ([]byte, error) {
	b = b[:0]
	if body == nil || body == http.NoBody {
		return b, nil
	}
	if cap(b) < 512 {
		b = make([]byte, 0, 512)
	}
	limit := int(min(max+1, int64(^uint(0)>>1)))
	for len(b) < limit {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := body.Read(b[len(b):min(cap(b), limit)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return b, &liftrescue.Error{Code: liftrescue.EBADREQUEST, Message: "the request body could not be read", Err: err}
		}
	}
	if len(b) > int(max) {
		return b, liftrescue.Errorf(liftrescue.ETOOLARGE, "the request body is larger than %d bytes", max)
	}
	return b, nil
}

// queryProblem words a url.ParseQuery error without Go's wording.
func queryProblem(err error) string {
	var esc url.EscapeError
	if errors.As(err, &esc) {
		return fmt.Sprintf("bad %%-escape %q", string(esc))
	}
	if strings.Contains(err.Error(), "semicolon") {
		return "parameters must be separated by &, not ;"
	}
	return "cannot be decoded"
}

// osmAndKey is a parameter ParseOsmAnd reads from a query string or a form body.
type osmAndKey uint8

const (
	keyID osmAndKey = iota
	keyDeviceID
	keyLat
	keyLon
	keyLocation
	keyTimestamp
	keySpeed
	keyBearing
	keyHeading
	keyAltitude
	keyAccuracy
	keyBatt
	keyAlarm
	numOsmAndKeys
	noKey = numOsmAndKeys // any other parameter
)

// osmAndKeyNames are the parameters' names, as errors give them.
var osmAndKeyNames = [numOsmAndKeys]string{"id", "deviceid", "lat", "lon", "location", "timestamp",
	"speed", "bearing", "heading", "altitude", "accuracy", "batt", "alarm"}

// maxKeyLen is the length of the longest name in osmAndKeyNames.
const maxKeyLen = len("timestamp")

// lookupKey returns the parameter a decoded name stands for, or noKey.
func lookupKey(name string) osmAndKey {
	switch name {
	case "id":
		return keyID
	case "deviceid":
		return keyDeviceID
	case "lat":
		return keyLat
	case "lon":
		return keyLon
	case "location":
		return keyLocation
	case "timestamp":
		return keyTimestamp
	case "speed":
		return keySpeed
	case "bearing":
		return keyBearing
	case "heading":
		return keyHeading
	case "altitude":
		return keyAltitude
	case "accuracy":
		return keyAccuracy
	case "batt":
		return keyBatt
	case "alarm":
		return keyAlarm
	}
	return noKey
}

// osmAndParams holds the parameters ParseOsmAnd reads, read straight from the query string and the
// form body without building url.Values: this is most of the OsmAnd handler's work, and
// url.ParseQuery with a merge of two url.Values cost three times as much and 13 allocations. It
// gives the values the merge gave: a parameter's first value, from the query string when the name
// is there at all (even with an empty value), else from the form body.
type osmAndParams struct {
	val  [numOsmAndKeys]string // decoded first values; "" when absent
	seen uint16                // bit k: a value for key k has been read
}

// manyParams is the number of '&' from which read lets url.ParseQuery check a source first, for
// the limit it puts on the number of parameters (GODEBUG urlmaxqueryparams, 10,000 by default; a
// limit under manyParams+1 is not applied to requests with fewer parameters).
const manyParams = 100

// formSpecial marks the bytes read looks at in a query string or form body.
var formSpecial = [256]bool{'&': true, ';': true, '=': true, '%': true, '+': true}

// errSemicolon is url.ParseQuery's error for a ';' in a parameter.
var errSemicolon = errors.New("invalid semicolon separator in query")

// read reads the parameters of a query string or form body that p does not have yet. It refuses
// what url.ParseQuery refuses, with the error it gives (a ';' anywhere, else the first bad
// %-escape), and decodes only the values it keeps that have a '%' or '+'. One loop finds the
// separators and escapes of a pair: on pairs this short, a strings.IndexByte per separator costs
// more.
func (p *osmAndParams) read(s string) error {
	if strings.Count(s, "&") >= manyParams {
		if _, err := url.ParseQuery(s); err != nil {
			return err
		}
	}
	for i := 0; i < len(s); {
		start, eq, escaped := i, -1, 0
		for ; i < len(s); i++ {
			c := s[i]
			if !formSpecial[c] {
				continue
			}
			if c == '&' {
				break
			}
			switch c {
			case ';':
				return errSemicolon
			case '=':
				if eq < 0 {
					eq = i
				}
			case '%', '+':
				if eq < 0 {
					escaped |= 1 // in the name
				} else {
					escaped |= 2 // in the value
				}
			}
		}
		end := i
		i++ // past '&'
		if start == end {
			continue
		}
		name, v := s[start:end], ""
		if eq >= 0 {
			name, v = s[start:eq], s[eq+1:end]
		}
		var k osmAndKey
		var err error
		if escaped&1 == 0 {
			k = lookupKey(name)
		} else {
			k, err = decodeKey(name)
		}
		if err == nil && escaped&2 != 0 {
			if k != noKey && p.seen&(1<<k) == 0 {
				v, err = url.QueryUnescape(v)
			} else {
				err = checkEscapes(v)
			}
		}
		if err != nil {
			if i < len(s) && strings.IndexByte(s[i:], ';') >= 0 {
				return errSemicolon // url.ParseQuery reports a later ';' over a bad escape
			}
			return err
		}
		if k != noKey && p.seen&(1<<k) == 0 {
			p.seen |= 1 << k
			p.val[k] = v
		}
	}
	return nil
}

// decodeKey returns the parameter a name stands for once decoded, without allocating.
func decodeKey(name string) (osmAndKey, error) {
	if err := checkEscapes(name); err != nil {
		return noKey, err
	}
	var buf [maxKeyLen]byte
	n := 0
	for i := 0; i < len(name); i++ {
		if n == len(buf) {
			return noKey, nil // longer than any name
		}
		c := name[i]
		switch c {
		case '%':
			c = unhex(name[i+1])<<4 | unhex(name[i+2])
			i += 2
		case '+':
			c = ' '
		}
		buf[n] = c
		n++
	}
	return lookupKey(string(buf[:n])), nil
}

// checkEscapes returns the error url.QueryUnescape gives s, without decoding it.
func checkEscapes(s string) error {
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			return nil
		}
		if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
			return url.EscapeError(s[i:min(i+3, len(s))])
		}
		s = s[i+3:]
	}
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

// number reads the first of keys that has a value; ok is false when none has.
func (p *osmAndParams) number(keys ...osmAndKey) (v float64, ok bool, err error) {
	for _, k := range keys {
		if s := p.val[k]; s != "" {
			if v, err = parseNumber(s); err != nil {
				return 0, false, badParam(osmAndKeyNames[k], s, "want a decimal number")
			}
			return v, true, nil
		}
	}
	return 0, false, nil
}

// fix makes the fix of the parameters and checks it at now.
func (p *osmAndParams) fix(now time.Time) (liftrescue.Fix, error) {
	f := liftrescue.Fix{SpeedKmh: liftrescue.Unknown, Heading: liftrescue.Unknown, AccuracyM: liftrescue.Unknown,
		AltitudeM: liftrescue.Unknown, Battery: liftrescue.Unknown}
	id := p.val[keyID]
	if id == "" {
		id = p.val[keyDeviceID]
	}
	if f.DeviceID = strings.TrimSpace(id); f.DeviceID == "" {
		return liftrescue.Fix{}, liftrescue.Invalid("id", "missing: send the device id as id or deviceid")
	}

	lat, okLat, err := p.number(keyLat)
	if err != nil {
		return liftrescue.Fix{}, err
	}
	lon, okLon, err := p.number(keyLon)
	if err != nil {
		return liftrescue.Fix{}, err
	}
	if loc := p.val[keyLocation]; !okLat && !okLon && loc != "" {
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
	if ts := p.val[keyTimestamp]; ts != "" {
		t, ok := parseTimestamp(ts)
		if !ok {
			return liftrescue.Fix{}, badParam("timestamp", ts, "want Unix seconds, Unix milliseconds or an ISO 8601 time")
		}
		f.Time = t
	}
	f.Time = fixTime(f.Time)

	// Negative speed, heading, accuracy and battery mean unknown.
	if v, ok, err := p.number(keySpeed); err != nil {
		return liftrescue.Fix{}, err
	} else if ok {
		f.SpeedKmh = positive(v) * kmhPerKnot
	}
	if v, ok, err := p.number(keyBearing, keyHeading); err != nil {
		return liftrescue.Fix{}, err
	} else if ok {
		f.Heading = positive(v)
	}
	if v, ok, err := p.number(keyAltitude); err != nil {
		return liftrescue.Fix{}, err
	} else if ok {
		f.AltitudeM = v
	}
	if v, ok, err := p.number(keyAccuracy); err != nil {
		return liftrescue.Fix{}, err
	} else if ok {
		f.AccuracyM = positive(v)
	}
	if v, ok, err := p.number(keyBatt); err != nil {
		return liftrescue.Fix{}, err
	} else if ok {
		f.Battery = positive(v) * 0.01
	}
	f.Alarm = strings.ToLower(strings.TrimSpace(p.val[keyAlarm]))
	return f, checkOsmAnd(&f, now, osmAndQueryFields)
}

// parseNumber reads a finite decimal number; strconv alone would take "NaN", "Inf" and hex.
func parseNumber(s string) (float64, error) {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return 0, strconv.ErrSyntax
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, strconv.ErrSyntax
	}
	return v, nil
}

// timeLayouts are the ISO 8601 forms clients send; time.Parse takes fractional seconds in each.
var timeLayouts = []string{
	time.RFC3339,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05Z0700",
	"2006-01-02 15:04:05",
}

// parseTimestamp reads Unix seconds (with a fraction or not), Unix milliseconds (any number past
// 2^31-1, as Traccar tells them apart) or an ISO 8601 time, UTC when it has no zone.
func parseTimestamp(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	whole, frac, _ := strings.Cut(s, ".")
	if whole != "" && isDecimal([]byte(whole)) && isDecimal([]byte(frac)) && len(whole) <= 18 {
		n, err := strconv.ParseInt(whole, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		if n > math.MaxInt32 {
			return time.UnixMilli(n), true
		}
		ns := 0
		for i := range 9 {
			ns *= 10
			if i < len(frac) {
				ns += int(frac[i] - '0')
			}
		}
		return time.Unix(n, int64(ns)), true
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// badParam is the EBADREQUEST error of a parameter that cannot be read.
func badParam(field, value, reason string) *liftrescue.Error {
	return &liftrescue.Error{Code: liftrescue.EBADREQUEST, Message: field + ": " + reason,
		Details: []liftrescue.Detail{{Field: field, Value: shorten(value), Reason: reason}}}
}

// shorten cuts a value quoted back to a client to at most 64 bytes, on a rune boundary.
func shorten(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && s[i]&0xc0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}

// The parameter names the protocols give the fields checkFix names.
var (
	osmAndQueryFields = map[string]string{"device_id": "id", "speed_kmh": "speed", "heading": "bearing",
		"accuracy_m": "accuracy", "altitude_m": "altitude", "battery": "batt", "time": "timestamp"}
	osmAndJSONFields = map[string]string{"device_id": "device_id", "lat": "location.coords.latitude",
		"lon": "location.coords.longitude", "speed_kmh": "location.coords.speed",
		"heading": "location.coords.heading", "accuracy_m": "location.coords.accuracy",
		"altitude_m": "location.coords.altitude", "battery": "location.battery.level",
		"time": "location.timestamp", "alarm": "location.alarm"}
)

// checkOsmAnd checks the fix and words a problem with the protocol's parameter names.
func checkOsmAnd(f *liftrescue.Fix, now time.Time, names map[string]string) error {
	field, reason := checkFix(f, now)
	if reason == "" {
		return nil
	}
	if n, ok := names[field]; ok {
		field = n
	}
	if field == "" {
		return liftrescue.Errorf(liftrescue.EINVALID, "%s", reason)
	}
	return liftrescue.Invalid(field, reason)
}

// osmAndJSON is the body Traccar Client 9 sends (the flutter_background_geolocation location).
// Members not listed (is_moving, odometer, activity, uuid…) are ignored.
type osmAndJSON struct {
	DeviceID json.RawMessage `json:"device_id"`
	Location *struct {
		Timestamp json.RawMessage `json:"timestamp"`
		Coords    *struct {
			Latitude  *float64 `json:"latitude"`
			Longitude *float64 `json:"longitude"`
			Accuracy  *float64 `json:"accuracy"`
			Speed     *float64 `json:"speed"`
			Heading   *float64 `json:"heading"`
			Altitude  *float64 `json:"altitude"`
		} `json:"coords"`
		Battery *struct {
			Level *float64 `json:"level"`
		} `json:"battery"`
		Alarm  json.RawMessage `json:"alarm"`
		Extras json.RawMessage `json:"extras"`
	} `json:"location"`
}

func parseOsmAndJSON(body []byte, now time.Time) (liftrescue.Fix, error) {
	if body[0] == '[' {
		return liftrescue.Fix{}, liftrescue.Errorf(liftrescue.EBADREQUEST,
			"a JSON array is not accepted here: send one object {device_id, location}, or a batch to /api/v1/positions")
	}
	var in osmAndJSON
	if err := json.Unmarshal(body, &in); err != nil {
		return liftrescue.Fix{}, jsonProblem(err)
	}
	f := liftrescue.Fix{SpeedKmh: liftrescue.Unknown, Heading: liftrescue.Unknown, AccuracyM: liftrescue.Unknown,
		AltitudeM: liftrescue.Unknown, Battery: liftrescue.Unknown}
	id, ok := jsonText(in.DeviceID)
	if f.DeviceID = strings.TrimSpace(id); !ok || f.DeviceID == "" {
		return liftrescue.Fix{}, liftrescue.Invalid("device_id", "missing: want the device id as a string")
	}
	loc := in.Location
	if loc == nil || loc.Coords == nil || loc.Coords.Latitude == nil || loc.Coords.Longitude == nil {
		return liftrescue.Fix{}, liftrescue.Invalid("location.coords", "missing: want latitude and longitude")
	}
	c := loc.Coords
	f.Lat, f.Lon = *c.Latitude, *c.Longitude
	f.Time = now
	if ts, ok := jsonText(loc.Timestamp); ok && ts != "" {
		t, ok := parseTimestamp(ts)
		if !ok {
			return liftrescue.Fix{}, badParam("location.timestamp", ts, "want an ISO 8601 time or Unix seconds or milliseconds")
		}
		f.Time = t
	}
	f.Time = fixTime(f.Time)
	if c.Speed != nil {
		f.SpeedKmh = positive(*c.Speed) * 3.6
	}
	if c.Heading != nil {
		f.Heading = positive(*c.Heading)
	}
	if c.Accuracy != nil {
		f.AccuracyM = positive(*c.Accuracy)
	}
	if c.Altitude != nil {
		f.AltitudeM = *c.Altitude
	}
	if loc.Battery != nil && loc.Battery.Level != nil {
		f.Battery = positive(*loc.Battery.Level)
	}
	alarm, _ := jsonText(loc.Alarm)
	if alarm == "" && len(loc.Extras) > 0 {
		var extras map[string]json.RawMessage
		if json.Unmarshal(loc.Extras, &extras) == nil {
			alarm, _ = jsonText(extras["alarm"])
		}
	}
	f.Alarm = strings.ToLower(strings.TrimSpace(alarm))
	return f, checkOsmAnd(&f, now, osmAndJSONFields)
}

// jsonText returns a JSON string's value, or a number's text; ok is false for anything else.
func jsonText(raw json.RawMessage) (s string, ok bool) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
		return "", false
	case raw[0] == '"':
		return s, json.Unmarshal(raw, &s) == nil
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		return string(raw), true
	}
	return "", false
}

// jsonProblem words an encoding/json error for a client, without Go's type names.
func jsonProblem(err error) *liftrescue.Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &liftrescue.Error{Code: liftrescue.EBADREQUEST, Message: fmt.Sprintf("malformed JSON at byte %d", syn.Offset), Err: err}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		reason := "wrong type: " + typ.Value
		return &liftrescue.Error{Code: liftrescue.EBADREQUEST, Message: field + ": " + reason,
			Details: []liftrescue.Detail{{Field: field, Reason: reason}}, Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &liftrescue.Error{Code: liftrescue.EBADREQUEST, Message: "malformed JSON: the body ends too early", Err: err}
	}
	return &liftrescue.Error{Code: liftrescue.EBADREQUEST, Message: "malformed JSON", Err: err}
}
