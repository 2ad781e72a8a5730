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
	if j := bytes.TrimLeft(body, " \t\r\n"); len(j) > 0 && (j[0] == '{' || j[0] == '[' ||
		strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/json")) {
		return parseOsmAndJSON(j, now)
	}
	var raw string
	if r.URL != nil {
		raw = r.URL.RawQuery
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return liftrescue.Fix{}, liftrescue.Errorf(liftrescue.EBADREQUEST, "malformed query string: %s", queryProblem(err))
	}
	if len(body) > 0 {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return liftrescue.Fix{}, liftrescue.Errorf(liftrescue.EBADREQUEST, "malformed form body: %s", queryProblem(err))
		}
		for k, v := range form {
			if _, ok := q[k]; !ok {
				q[k] = v
			}
		}
	}
	return parseOsmAndQuery(q, now)
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

func parseOsmAndQuery(q url.Values, now time.Time) (liftrescue.Fix, error) {
	f := liftrescue.Fix{SpeedKmh: liftrescue.Unknown, Heading: liftrescue.Unknown, AccuracyM: liftrescue.Unknown,
		AltitudeM: liftrescue.Unknown, Battery: liftrescue.Unknown}
	_, id := param(q, "id", "deviceid")
	if f.DeviceID = strings.TrimSpace(id); f.DeviceID == "" {
		return liftrescue.Fix{}, liftrescue.Invalid("id", "missing: send the device id as id or deviceid")
	}

	lat, okLat, err := number(q, "lat")
	if err != nil {
		return liftrescue.Fix{}, err
	}
	lon, okLon, err := number(q, "lon")
	if err != nil {
		return liftrescue.Fix{}, err
	}
	if _, loc := param(q, "location"); !okLat && !okLon && loc != "" {
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
	if _, ts := param(q, "timestamp"); ts != "" {
		t, ok := parseTimestamp(ts)
		if !ok {
			return liftrescue.Fix{}, badParam("timestamp", ts, "want Unix seconds, Unix milliseconds or an ISO 8601 time")
		}
		f.Time = t
	}
	f.Time = fixTime(f.Time)

	for _, m := range []struct {
		dst   *float64
		keys  []string
		scale float64
		sign  bool // negative values mean unknown
	}{
		{&f.SpeedKmh, []string{"speed"}, kmhPerKnot, true},
		{&f.Heading, []string{"bearing", "heading"}, 1, true},
		{&f.AltitudeM, []string{"altitude"}, 1, false},
		{&f.AccuracyM, []string{"accuracy"}, 1, true},
		{&f.Battery, []string{"batt"}, 0.01, true},
	} {
		v, ok, err := number(q, m.keys...)
		if err != nil {
			return liftrescue.Fix{}, err
		}
		if !ok {
			continue
		}
		if m.sign {
			v = positive(v)
		}
		*m.dst = v * m.scale
	}
	_, f.Alarm = param(q, "alarm")
	f.Alarm = strings.ToLower(strings.TrimSpace(f.Alarm))
	return f, checkOsmAnd(&f, now, osmAndQueryFields)
}

// param returns the first key of keys that has a non-empty value, and its first value.
func param(q url.Values, keys ...string) (key, value string) {
	for _, k := range keys {
		if v := q[k]; len(v) > 0 && v[0] != "" {
			return k, v[0]
		}
	}
	return "", ""
}

// number reads the parameter named by the first of keys present; ok is false when none is.
func number(q url.Values, keys ...string) (v float64, ok bool, err error) {
	k, s := param(q, keys...)
	if k == "" {
		return 0, false, nil
	}
	v, err = parseNumber(s)
	if err != nil {
		return 0, false, badParam(k, s, "want a decimal number")
	}
	return v, true, nil
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
