package liftrescue

import (
	"encoding/json"
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
	// Unlocated says the device had no satellite fix and sent its last known position (JT/T 808
	// status bit 1 clear): the report is kept, its alarm raised, but it moves no vehicle. The
	// history keeps it in Flags.
	Unlocated bool `json:"-"`
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

// fixJSON is Fix on the wire: JSON has no NaN, so a measure the device did not report is null.
type fixJSON struct {
	DeviceID  string    `json:"device_id"`
	Time      time.Time `json:"time"`
	Lat       float64   `json:"lat"`
	Lon       float64   `json:"lon"`
	SpeedKmh  *float64  `json:"speed_kmh"`
	Heading   *float64  `json:"heading"`
	AccuracyM *float64  `json:"accuracy_m"`
	AltitudeM *float64  `json:"altitude_m"`
	Battery   *float64  `json:"battery"`
	Alarm     string    `json:"alarm,omitempty"`
	Flags     uint64    `json:"flags,omitempty"`
}

// MarshalJSON writes unknown measures as null.
func (f Fix) MarshalJSON() ([]byte, error) {
	return json.Marshal(fixJSON{f.DeviceID, f.Time, f.Lat, f.Lon, Known(f.SpeedKmh), Known(f.Heading),
		Known(f.AccuracyM), Known(f.AltitudeM), Known(f.Battery), f.Alarm, f.Flags})
}

// UnmarshalJSON reads null or absent measures as Unknown.
func (f *Fix) UnmarshalJSON(b []byte) error {
	var in fixJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	value := func(p *float64) float64 {
		if p == nil {
			return Unknown
		}
		return *p
	}
	*f = Fix{DeviceID: in.DeviceID, Time: in.Time, Lat: in.Lat, Lon: in.Lon, SpeedKmh: value(in.SpeedKmh),
		Heading: value(in.Heading), AccuracyM: value(in.AccuracyM), AltitudeM: value(in.AltitudeM),
		Battery: value(in.Battery), Alarm: in.Alarm, Flags: in.Flags}
	return nil
}

// positionExtra is what a Position adds to its Fix on the wire.
type positionExtra struct {
	VehicleID  int64     `json:"vehicle_id"`
	ReceivedAt time.Time `json:"received_at"`
}

// MarshalJSON writes the fix's fields with the vehicle and the time received; without it the
// embedded Fix's MarshalJSON would stand for the whole position.
func (p Position) MarshalJSON() ([]byte, error) {
	head, err := json.Marshal(positionExtra{p.VehicleID, p.ReceivedAt})
	if err != nil {
		return nil, err
	}
	fix, err := p.Fix.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return append(append(head[:len(head)-1], ','), fix[1:]...), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Position) UnmarshalJSON(b []byte) error {
	var extra positionExtra
	if err := json.Unmarshal(b, &extra); err != nil {
		return err
	}
	if err := p.Fix.UnmarshalJSON(b); err != nil {
		return err
	}
	p.VehicleID, p.ReceivedAt = extra.VehicleID, extra.ReceivedAt
	return nil
}
