package liftrescue

import "time"

// ResponderView is what a responder's link shows: the job, where it is, by when, and what the
// responder can do now.
type ResponderView struct {
	IncidentID    int64            `json:"incident_id"`
	IncidentState IncidentState    `json:"incident_state"`
	Elevator      ElevatorSnapshot `json:"elevator"`
	District      string           `json:"district"`
	Trapped       int              `json:"trapped"`
	ReportedAt    time.Time        `json:"reported_at"`
	Assignment    Assignment       `json:"assignment"`
	// AcceptBy and ArriveBy are the unit's deadlines; AcceptBy is null once it accepted.
	AcceptBy *time.Time `json:"accept_by"`
	ArriveBy time.Time  `json:"arrive_by"`
	Actions  []Action   `json:"actions"`
}
