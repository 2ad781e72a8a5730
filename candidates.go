package liftrescue

// Candidate is a volunteer unit that may be dispatched to an incident (tier 2), with what ranks it.
type Candidate struct {
	Unit
	Status VehicleStatus `json:"status"`
	// PositionAgeS is how old the vehicle's fix is, in seconds.
	PositionAgeS float64 `json:"position_age_s"`
	// InGrid says the unit is one of the incident's rescue grid's, which rank first; Grid is then
	// that grid's name.
	InGrid bool   `json:"in_grid"`
	Grid   string `json:"grid"`
}

// Reasons a unit is left out of the candidates.
const (
	ExcludedStale        = "stale_position" // the tracker has been silent too long to trust the position
	ExcludedOffline      = "offline"
	ExcludedOffDuty      = "off_duty" // the vehicle or its team is off duty
	ExcludedNotCertified = "not_certified"
	ExcludedBusy         = "busy"          // on another incident
	ExcludedAlreadyAsked = "already_asked" // declined or did not answer on this incident
)

// ExcludedUnit is a volunteer vehicle near the elevator that is not a candidate, and why.
type ExcludedUnit struct {
	Unit
	Reason string `json:"reason"`
	// Detail says more: the busy vehicle's incident, the position's age.
	Detail string `json:"detail,omitempty"`
}

// Candidates ranks the tier-2 units for an incident: best first by ETA, each excluded nearby unit
// with its reason.
type Candidates struct {
	IncidentID int64          `json:"incident_id"`
	Candidates []Candidate    `json:"candidates"`
	Excluded   []ExcludedUnit `json:"excluded"`
}
