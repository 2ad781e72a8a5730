package liftrescue

import (
	"fmt"
	"math"
	"time"
)

// Fix is one position report of a tracker, in any protocol, as the ingest pipeline hands it on.
type Fix struct {
	// DeviceID is the tracker's identifier: a JT/T 808 terminal phone number, an OsmAnd id.
	DeviceID string    `json:"device_id"`
	Time     time.Time `json:"time"` // when the device took the fix, UTC
	Lat      float64   `json:"lat"`  // WGS-84
	Lon      float64   `json:"lon"`
	// SpeedKmh, Heading (degrees clockwise from north), AccuracyM and AltitudeM are NaN when the
	// device did not say.
	SpeedKmh  float64 `json:"speed_kmh"`
	Heading   float64 `json:"heading"`
	AccuracyM float64 `json:"accuracy_m"`
	AltitudeM float64 `json:"altitude_m"`
	// Battery is the charge from 0 to 1, NaN when unknown.
	Battery float64 `json:"battery"`
	// Alarm names an alarm the device raised with this fix ("sos", …), empty for none.
	Alarm string `json:"alarm,omitempty"`
	// Flags keeps protocol status and alarm bits as the device sent them, for the record.
	Flags uint64 `json:"flags,omitempty"`
}

// Unknown is the value of a fix's optional measure that the device did not report.
var Unknown = math.NaN()

// Fix limits, as good trackers' servers apply them.
const (
	// MaxFixFuture allows for devices whose clocks run a little ahead.
	MaxFixFuture = 5 * time.Minute
)

// EarliestFix is the oldest time a fix may carry; earlier ones come from devices with no time yet.
var EarliestFix = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// CheckFix returns why a fix cannot be used at time now, or "" when it can: a position that is not
// a real place, a time before 2000 or more than a few minutes ahead, an impossible measure.
func CheckFix(f *Fix, now time.Time) string {
	if r := CheckLonLat(f.Lon, f.Lat); r != "" {
		return r
	}
	switch {
	case f.DeviceID == "":
		return "no device id"
	case f.Time.Before(EarliestFix):
		return fmt.Sprintf("time %s is before 2000", f.Time.UTC().Format(time.RFC3339))
	case f.Time.After(now.Add(MaxFixFuture)):
		return fmt.Sprintf("time %s is in the future", f.Time.UTC().Format(time.RFC3339))
	case f.SpeedKmh < 0 || f.SpeedKmh > 1000 || math.IsInf(f.SpeedKmh, 0):
		return "speed out of range"
	case f.Heading < 0 || f.Heading > 360 || math.IsInf(f.Heading, 0):
		return "heading out of range"
	case f.AccuracyM < 0 || math.IsInf(f.AccuracyM, 0):
		return "accuracy out of range"
	case f.Battery < 0 || f.Battery > 1:
		return "battery out of range"
	}
	return ""
}
