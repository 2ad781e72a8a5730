package liftrescue

import "time"

// AlarmOutcome says what the dispatch engine did with one terminal report.
type AlarmOutcome string

const (
	// AlarmOpened: a priority-1 alarm opened an incident on the elevator and tier 1 was told.
	AlarmOpened AlarmOutcome = "opened"
	// AlarmAttached: the report was written on the elevator's open incident.
	AlarmAttached AlarmOutcome = "attached"
	// AlarmCounted: a repeat within the window, counted and written with the next one.
	AlarmCounted AlarmOutcome = "counted"
	// AlarmRecorded: a fault or a status report on an elevator without an open incident.
	AlarmRecorded AlarmOutcome = "recorded"
	// AlarmQuarantined: the elevator or terminal is unknown; the report is kept for the admin.
	AlarmQuarantined AlarmOutcome = "quarantined"
)

// AlarmResult is the answer for one report of a batch.
type AlarmResult struct {
	Index      int          `json:"index"`
	Outcome    AlarmOutcome `json:"outcome"`
	Kind       AlarmKind    `json:"kind"`
	Priority   int          `json:"priority"`
	ElevatorID int64        `json:"elevator_id,omitempty"`
	IncidentID int64        `json:"incident_id,omitempty"`
	Reason     string       `json:"reason,omitempty"`
}

// QuarantinedAlarm is a report whose elevator or terminal is not known, kept so that an admin
// can register what is missing rather than the alarm being lost.
type QuarantinedAlarm struct {
	Alarm
	Reason     string    `json:"reason"`
	Sender     string    `json:"sender"`
	ReceivedAt time.Time `json:"received_at"`
}
