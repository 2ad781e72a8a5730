package liftrescue

import (
	"fmt"
	"math"
	"time"
)

// VehicleStatus says how far a vehicle's latest fix can be trusted as where it is now. Dispatch
// ranks only live vehicles by their position; a stale one may still be asked, an offline one not.
type VehicleStatus string

const (
	// StatusNoFix: no fix has come since the tracker was fitted (or ever).
	StatusNoFix VehicleStatus = "no_fix"
	// StatusLive: the latest fix is younger than Liveness.StaleAfter.
	StatusLive VehicleStatus = "live"
	// StatusStale: the tracker has been silent a while; the vehicle is probably near its fix.
	StatusStale VehicleStatus = "stale"
	// StatusOffline: silent longer than Liveness.OfflineAfter; the position says little.
	StatusOffline VehicleStatus = "offline"
)

// Liveness defaults: trackers report every 5 to 30 seconds while they move and every minute or
// two while parked, so two minutes of silence is worth a warning.
const (
	DefaultStaleAfter   = 120 * time.Second
	DefaultOfflineAfter = 15 * time.Minute
)

// Liveness holds the silences after which a vehicle turns stale and then offline.
type Liveness struct {
	StaleAfter   time.Duration `json:"stale_after"`
	OfflineAfter time.Duration `json:"offline_after"`
}

// Validate fills in the defaults and checks that offline comes after stale.
func (l *Liveness) Validate() error {
	if l.StaleAfter == 0 {
		l.StaleAfter = DefaultStaleAfter
	}
	if l.OfflineAfter == 0 {
		l.OfflineAfter = max(DefaultOfflineAfter, l.StaleAfter)
	}
	switch {
	case l.StaleAfter < 0:
		return Invalid("stale_after", "must be positive")
	case l.OfflineAfter < l.StaleAfter:
		return Invalid("offline_after", fmt.Sprintf("must be at least stale_after (%s)", l.StaleAfter))
	}
	return nil
}

// Status returns the status, at now, of a vehicle whose latest fix was taken at fixTime (the zero
// time for none). A fix from a little in the future (a clock ahead) counts as live.
func (l Liveness) Status(fixTime, now time.Time) VehicleStatus {
	if fixTime.IsZero() {
		return StatusNoFix
	}
	switch age := now.Sub(fixTime); {
	case age > l.OfflineAfter:
		return StatusOffline
	case age > l.StaleAfter:
		return StatusStale
	}
	return StatusLive
}

// LiveVehicle is a vehicle with where it is now, as the map, the vehicle list and the live stream
// show it. Unlike Vehicle it never carries the device secret.
type LiveVehicle struct {
	ID             int64         `json:"id"`
	TeamID         int64         `json:"team_id"`
	OrganizationID int64         `json:"organization_id"`
	Plate          string        `json:"plate"`
	DeviceID       string        `json:"device_id"`
	OnDuty         bool          `json:"on_duty"`
	Status         VehicleStatus `json:"status"`
	// Position is the latest fix that moved the vehicle; null before the first.
	Position *LivePosition `json:"position"`
}

// LivePosition is a vehicle's latest position.
type LivePosition struct {
	Lat  float64   `json:"lat"`
	Lon  float64   `json:"lon"`
	Time time.Time `json:"time"` // when the device took the fix, UTC
	// AgeS is how old the fix was, in seconds, when the answer was made.
	AgeS float64 `json:"age_s"`
	// SpeedKmh and Heading are null when the device did not say.
	SpeedKmh *float64 `json:"speed_kmh"`
	Heading  *float64 `json:"heading"`
	// Cell is the H3 cell of the position at the live index's resolution, in hex.
	Cell string `json:"cell"`
}

// NewLiveVehicle joins a vehicle of the registry with its latest position (nil for none) as of now.
func NewLiveVehicle(v *Vehicle, p *LivePosition, l Liveness, now time.Time) LiveVehicle {
	lv := LiveVehicle{ID: v.ID, TeamID: v.TeamID, OrganizationID: v.OrganizationID, Plate: v.Plate,
		DeviceID: v.DeviceID, OnDuty: v.OnDuty, Status: StatusNoFix, Position: p}
	if p != nil {
		lv.Status = l.Status(p.Time, now)
		p.AgeS = math.Round(max(0, now.Sub(p.Time).Seconds())*10) / 10
	}
	return lv
}

// Known returns a pointer to v, or nil when v is NaN: the JSON of an unknown measure is null.
func Known(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}
