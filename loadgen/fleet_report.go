package loadgen

import (
	"errors"
	"slices"

	"github.com/liftrescue/liftrescue"
)

// FleetReport is what a fleet's run did and what the server made of it. Every report sent is
// accepted, rejected or unanswered: Sent = Accepted + Rejected + Unanswered. Over MQTT, accepted
// means acknowledged by the broker (PUBACK): what the service then made of a report is seen only
// in the incidents it opened.
type FleetReport struct {
	Protocol Protocol `json:"protocol"`
	District string   `json:"district,omitempty"` // the elevators', when a district was asked for
	// NamedBy is how the reports name the elevator: terminal_id or equipment_code.
	NamedBy   string `json:"named_by"`
	Terminals int    `json:"terminals"`
	Trapped   int    `json:"trapped"`
	Faulty    int    `json:"faulty"`
	// Busy counts the elevators with an incident open before the run, whose terminals kept to
	// heartbeats.
	Busy        int     `json:"busy"`
	Heartbeat   float64 `json:"heartbeat_s"`
	Repeat      float64 `json:"repeat_s"`
	Connections int     `json:"connections"`
	Batch       int     `json:"batch,omitempty"` // the most reports per request (alarms)
	Duration    float64 `json:"duration_s"`      // asked for
	// Elapsed runs from the start to the deadline, or to the last answer when that came later.
	Elapsed float64 `json:"elapsed_s"`
	// Offered is the reports a second the fleet's timetable holds.
	Offered float64 `json:"offered_per_s"`

	Provision *TerminalProvisionReport `json:"provision,omitempty"`

	Sent       int64 `json:"reports_sent"`
	Accepted   int64 `json:"reports_accepted"`
	Rejected   int64 `json:"reports_rejected"`
	Unanswered int64 `json:"reports_unanswered"`
	// SentBy counts the reports sent by kind: heartbeat, trapped, trapped repeat, fault, fault
	// repeat.
	SentBy     map[string]int64 `json:"sent_by"`
	RejectedBy map[string]int64 `json:"rejected_by"`
	// Outcomes counts what the answers said of the accepted reports (alarms): opened, attached,
	// counted, recorded, quarantined.
	Outcomes map[string]int64 `json:"outcomes,omitempty"`
	// Requests counts HTTP requests (alarms) or messages published (mqtt).
	Requests int64            `json:"requests"`
	Errors   int64            `json:"errors"`
	ErrorsBy map[string]int64 `json:"errors_by"`

	ReportsPerSec  float64 `json:"reports_per_s"`
	AcceptedPerSec float64 `json:"accepted_per_s"`
	RequestsPerSec float64 `json:"requests_per_s"`
	// Latency is per HTTP request (alarms), or from a message's publication to the broker's
	// acknowledgement (mqtt).
	Latency Latency `json:"latency_ms"`
	// Lag is how late the reports went out against their timetable: a server that keeps up holds
	// it to the few milliseconds a client gathers reports for.
	Lag Latency `json:"lag_ms"`

	Incidents IncidentFigures `json:"incidents"`
	Stream    *StreamReport   `json:"stream,omitempty"` // mqtt: the live stream the incidents were seen on
	// Subscriber says how many of the messages the broker acknowledged the server's MQTT
	// subscriber received (mqtt), when its ingest counters say: a broker drops what it cannot
	// queue for a subscriber that falls behind.
	Subscriber *SubscriberFigures `json:"subscriber,omitempty"`

	Verify *FleetVerify `json:"verify,omitempty"`
	// TerminalStatus is the server's summary of its terminals after the run (GET
	// /api/v1/terminals/summary), when it has one; TerminalStatusNote says why not.
	TerminalStatus     *liftrescue.TerminalsReport `json:"terminal_status,omitempty"`
	TerminalStatusNote string                      `json:"terminal_status_note,omitempty"`
}

// IncidentFigures say how the trapped terminals' alarms became incidents, as seen during the run:
// in the answers (alarms) or on the live stream (mqtt).
type IncidentFigures struct {
	// Latency runs from a trapped terminal's first alarm to its incident: over HTTP the round trip
	// of the request that carried it and answered "opened"; over MQTT from its publication to
	// the incident's first event on the live stream.
	Latency Latency `json:"latency_ms"`
	// Reached counts the trapped terminals with an alarm the server answered (alarms) or the
	// broker acknowledged (mqtt).
	Reached int `json:"reached"`
	// Opened counts the elevators an incident was seen opening on: one per reached trapped
	// terminal is right.
	Opened int `json:"opened"`
	// FirstOutcomes counts what the answers said of each trapped terminal's first alarm (alarms):
	// all "opened" is right; "attached" means an incident was open already, "quarantined" that the
	// server does not know the terminal.
	FirstOutcomes map[string]int64 `json:"first_outcomes,omitempty"`
	// NotOpened lists (up to 20) reached trapped terminals' elevators with no incident seen
	// opening; OpenedTwice elevators with more than one; Unexpected elevators of terminals that
	// were not trapped with one. The counts are of all of them.
	NotOpened        []int64 `json:"not_opened,omitempty"`
	NotOpenedCount   int     `json:"not_opened_count"`
	OpenedTwice      []int64 `json:"opened_twice,omitempty"`
	OpenedTwiceCount int     `json:"opened_twice_count"`
	Unexpected       []int64 `json:"unexpected,omitempty"`
	UnexpectedCount  int     `json:"unexpected_count"`
}

// StreamReport says what the live stream carried.
type StreamReport struct {
	Events     int64 `json:"events"`     // incident events of new incidents
	Reconnects int64 `json:"reconnects"` // the stream dropped and was opened again
}

// SubscriberFigures compare what the broker acknowledged with what the server's subscriber got.
// Other publishers on the server's topics add to Received.
type SubscriberFigures struct {
	Received int64 `json:"received"` // by the server's subscriber during the run and until it settled
	Missing  int64 `json:"missing"`  // acknowledged by the broker, not received: 0 is right
}

// FleetVerify says whether the service opened exactly one incident per trapped elevator and none
// on the others, as read afterwards through the REST API (GET /api/v1/incidents): the incidents
// newer than the newest before the run, on the fleet's elevators.
type FleetVerify struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	// Trapped counts the trapped terminals whose alarm reached the server; each must have one
	// incident, and the others that did not reach it at most one.
	Trapped int `json:"trapped"`
	// Incidents counts the new incidents on the fleet's elevators.
	Incidents int `json:"incidents"`
	// Missing, Duplicated and Unexpected list (up to 20) the elevators with none, more than one,
	// or one where no terminal was trapped; NotIoT those whose incident is not of source iot.
	Missing         []int64 `json:"missing,omitempty"`
	MissingCount    int     `json:"missing_count"`
	Duplicated      []int64 `json:"duplicated,omitempty"`
	DuplicatedCount int     `json:"duplicated_count"`
	Unexpected      []int64 `json:"unexpected,omitempty"`
	UnexpectedCount int     `json:"unexpected_count"`
	NotIoT          []int64 `json:"not_iot,omitempty"`
	Waited          float64 `json:"waited_s"`
}

// ErrNoReportAccepted is returned with the report when reports were sent and none was accepted.
var ErrNoReportAccepted = errors.New("loadgen: the server accepted no report")

// ErrIncidents is returned with the report when Verify finds that the service did not open
// exactly one incident per trapped elevator, or opened one elsewhere.
var ErrIncidents = errors.New("loadgen: the incidents opened are not one per trapped elevator")

// maxListed bounds the elevator ids a report lists.
const maxListed = 20

// listed returns the sorted ids, at most maxListed of them, and how many there were.
func listed(ids []int64) ([]int64, int) {
	slices.Sort(ids)
	return ids[:min(len(ids), maxListed):min(len(ids), maxListed)], len(ids)
}

// judgeIncidents compares the new incidents seen on each elevator with the terminals' roles:
// reached trapped terminals must have one, other trapped terminals at most one, the rest none.
func judgeIncidents(ts []Terminal, reached map[int64]bool, opened map[int64]int) (notOpened, twice, unexpected []int64) {
	for i := range ts {
		t := &ts[i]
		n := opened[t.ElevatorID]
		switch {
		case t.Role == RoleTrapped && reached[t.ElevatorID] && n == 0:
			notOpened = append(notOpened, t.ElevatorID)
		case t.Role == RoleTrapped && n > 1:
			twice = append(twice, t.ElevatorID)
		case t.Role != RoleTrapped && n > 0:
			unexpected = append(unexpected, t.ElevatorID)
		}
	}
	return notOpened, twice, unexpected
}
