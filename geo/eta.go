package geo

import (
	"math"
	"time"

	"github.com/liftrescue/liftrescue"
)

// ETAModel estimates how long a rescue vehicle takes to drive from one WGS-84 position to another.
// The dispatch core ranks vehicles and checks the 30-minute arrival limit with it; models must be
// safe for concurrent use and quick (it is called for every candidate of every dispatch).
type ETAModel interface {
	ETA(fromLon, fromLat, toLon, toLat float64) time.Duration
}

// Defaults of StraightLineETA.
const (
	// DefaultCircuity is the ratio of road to straight-line distance commonly measured in Chinese
	// and European cities (1.2 to 1.6; 1.4 is a usual middle).
	DefaultCircuity = 1.4
	// DefaultUrbanSpeedKmh is a rescue van's average urban speed including junctions.
	DefaultUrbanSpeedKmh = 30
)

// StraightLineETA is the first ETA model: the great-circle distance, stretched by a circuity
// factor to a road distance, at a constant speed. Zero fields take the defaults.
type StraightLineETA struct {
	Circuity float64 // road distance ÷ straight-line distance, 1 to 3; 0 means DefaultCircuity
	SpeedKmh float64 // average speed, above 0 and at most 150; 0 means DefaultUrbanSpeedKmh
}

var _ ETAModel = StraightLineETA{}

// Validate fills in defaults and checks the fields.
func (m *StraightLineETA) Validate() error {
	if m.Circuity == 0 {
		m.Circuity = DefaultCircuity
	}
	if m.SpeedKmh == 0 {
		m.SpeedKmh = DefaultUrbanSpeedKmh
	}
	if !(m.Circuity >= 1 && m.Circuity <= 3) {
		return liftrescue.Invalid("circuity", "must be between 1 and 3 (road distance ÷ straight-line distance)")
	}
	if !(m.SpeedKmh > 0 && m.SpeedKmh <= 150) {
		return liftrescue.Invalid("speed_kmh", "must be above 0 and at most 150")
	}
	return nil
}

// ETA returns the distance × circuity ÷ speed, to the nanosecond. It does not validate m: zero
// fields take the defaults, other values are used as they are. A position that is not a number
// gives the longest Duration, so that it never ranks first.
func (m StraightLineETA) ETA(fromLon, fromLat, toLon, toLat float64) time.Duration {
	c, v := m.Circuity, m.SpeedKmh
	if c == 0 {
		c = DefaultCircuity
	}
	if v == 0 {
		v = DefaultUrbanSpeedKmh
	}
	s := DistanceM(fromLon, fromLat, toLon, toLat) * c / (v / 3.6)
	if !(s < math.MaxInt64/float64(time.Second)) {
		return math.MaxInt64
	}
	return time.Duration(s * float64(time.Second))
}
