package gps

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/liftrescue/liftrescue"
)

// MaxDeviceID is the longest device id accepted, in bytes: IMEIs have 15 digits, JT/T 808 phone
// numbers 20; the rest is room for the ids people type into Traccar Client.
const MaxDeviceID = 64

// MaxAlarm is the longest alarm name accepted, in bytes.
const MaxAlarm = 64

// checkFix returns why the fix cannot be used at time now and the field at fault, named as in
// the native JSON, or "" when it can: liftrescue.CheckFix and what the protocols add to it, a
// device id and an alarm name that can be shown and stored.
func checkFix(f *liftrescue.Fix, now time.Time) (field, reason string) {
	if f.DeviceID != "" {
		if r := checkText(f.DeviceID, MaxDeviceID); r != "" {
			return "device_id", r
		}
	}
	if r := checkText(f.Alarm, MaxAlarm); r != "" {
		return "alarm", r
	}
	if math.IsInf(f.AltitudeM, 0) {
		return "altitude_m", "altitude out of range"
	}
	r := liftrescue.CheckFix(f, now)
	if r == "" {
		return "", ""
	}
	for _, p := range checkFields {
		if strings.HasPrefix(r, p.prefix) {
			return p.field, r
		}
	}
	return "", r
}

// checkFields names the field at fault by the start of liftrescue.CheckFix's reason.
var checkFields = []struct{ prefix, field string }{
	{"latitude", "lat"},
	{"longitude", "lon"},
	{"coordinates", "lat"},
	{"0,0", "lat"},
	{"no device id", "device_id"},
	{"time", "time"},
	{"speed", "speed_kmh"},
	{"heading", "heading"},
	{"accuracy", "accuracy_m"},
	{"battery", "battery"},
}

// checkText returns why s cannot be an identifier: too long, not UTF-8, control characters.
func checkText(s string, max int) string {
	if len(s) > max {
		return "longer than " + strconv.Itoa(max) + " bytes"
	}
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++
	}
	if i == len(s) {
		return "" // printable ASCII, as nearly every id is
	}
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "contains control characters"
		}
	}
	return ""
}

// fixTime returns t as a fix keeps it: UTC, to the microsecond (as PostgreSQL stores it).
func fixTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// positive returns v, or Unknown when it is negative: clients send -1 for "not known".
func positive(v float64) float64 {
	if v < 0 {
		return liftrescue.Unknown
	}
	return v
}
