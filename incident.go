package liftrescue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// IncidentState is where an incident stands. The allowed moves between states are the rules of
// Decide (incident_rules.go); nothing else changes an incident.
type IncidentState string

const (
	// IncidentOpened: recorded, its tier-1 units not yet told. It lasts only inside Decide; a
	// stored incident is at least notified.
	IncidentOpened IncidentState = "opened"
	// IncidentNotified: units of the current tier are told and none has accepted yet.
	IncidentNotified IncidentState = "notified"
	// IncidentAwaitingDispatch: tier 2 is due and the dispatcher picks the unit (the policy does
	// not dispatch automatically), or no unit is left to pick.
	IncidentAwaitingDispatch IncidentState = "awaiting_dispatch"
	// IncidentAcknowledged: a unit accepted the job.
	IncidentAcknowledged IncidentState = "acknowledged"
	// IncidentEnRoute: a unit said it is on its way.
	IncidentEnRoute IncidentState = "en_route"
	// IncidentArrived: a unit is at the elevator (by its own word, the dispatcher's or its GPS).
	IncidentArrived IncidentState = "arrived"
	// IncidentReleased: the passengers are out; the dispatcher still calls back and files the cause.
	IncidentReleased IncidentState = "released"
	// IncidentClosed: called back, cause filed; the record is complete.
	IncidentClosed IncidentState = "closed"
	// IncidentCancelled: a false alarm, a self-rescue, a duplicate.
	IncidentCancelled IncidentState = "cancelled"
)

// IncidentStates lists every state in the order of a rescue.
var IncidentStates = []IncidentState{IncidentOpened, IncidentNotified, IncidentAwaitingDispatch,
	IncidentAcknowledged, IncidentEnRoute, IncidentArrived, IncidentReleased, IncidentClosed, IncidentCancelled}

// Valid reports whether s is one of IncidentStates.
func (s IncidentState) Valid() bool { return oneOf(s, IncidentStates) }

// Ended reports whether the incident is over: closed or cancelled.
func (s IncidentState) Ended() bool { return s == IncidentClosed || s == IncidentCancelled }

// IncidentSource says how the centre learned of the trapped passengers.
type IncidentSource string

const (
	SourceCall    IncidentSource = "call"    // the passenger pressed the car's alarm and was put through
	SourceIoT     IncidentSource = "iot"     // the elevator's IoT terminal raised a trapped alarm
	SourceHotline IncidentSource = "hotline" // a call to 96333/12345 passed on by the hotline
	SourceManual  IncidentSource = "manual"  // entered by a dispatcher (a map click, a walk-in)
)

// IncidentSources lists every source.
var IncidentSources = []IncidentSource{SourceCall, SourceIoT, SourceHotline, SourceManual}

// Valid reports whether s is one of IncidentSources.
func (s IncidentSource) Valid() bool { return oneOf(s, IncidentSources) }

// FaultCause is the fixed classification of why passengers were trapped, filed when an incident
// closes (the provincial standards publish statistics by it).
type FaultCause string

const (
	CauseDoorSystem    FaultCause = "door_system"    // 门系统
	CausePowerLoss     FaultCause = "power_loss"     // 停电
	CauseController    FaultCause = "controller"     // 控制系统
	CauseBrake         FaultCause = "brake"          // 制动器
	CauseSafetyCircuit FaultCause = "safety_circuit" // 安全回路
	CauseTraction      FaultCause = "traction"       // 曳引系统
	CauseMisuse        FaultCause = "misuse"         // 人为因素 / 使用不当
	CauseExternal      FaultCause = "external"       // 外部因素 (water, fire, vandalism)
	CauseOther         FaultCause = "other"
)

// FaultCauses lists every cause in the order forms show them.
var FaultCauses = []FaultCause{CauseDoorSystem, CausePowerLoss, CauseController, CauseBrake,
	CauseSafetyCircuit, CauseTraction, CauseMisuse, CauseExternal, CauseOther}

// Valid reports whether c is one of FaultCauses.
func (c FaultCause) Valid() bool { return oneOf(c, FaultCauses) }

// CancelReason says why an incident was cancelled.
type CancelReason string

const (
	CancelFalseAlarm  CancelReason = "false_alarm"
	CancelSelfRescued CancelReason = "self_rescued" // the passengers got out by themselves
	CancelDuplicate   CancelReason = "duplicate"
	CancelOther       CancelReason = "other"
)

// CancelReasons lists every reason.
var CancelReasons = []CancelReason{CancelFalseAlarm, CancelSelfRescued, CancelDuplicate, CancelOther}

// Valid reports whether r is one of CancelReasons.
func (r CancelReason) Valid() bool { return oneOf(r, CancelReasons) }

// AssignmentState is where one unit stands in an incident.
type AssignmentState string

const (
	AssignmentNotified AssignmentState = "notified" // told, no answer yet
	AssignmentAccepted AssignmentState = "accepted"
	AssignmentEnRoute  AssignmentState = "en_route"
	AssignmentArrived  AssignmentState = "arrived"
	AssignmentReleased AssignmentState = "released" // this unit freed the passengers
	AssignmentDeclined AssignmentState = "declined" // cannot come, with a reason
	AssignmentTimedOut AssignmentState = "timed_out"
	// AssignmentStoodDown: no longer needed (another unit rescued, the incident was cancelled).
	AssignmentStoodDown AssignmentState = "stood_down"
)

// Active reports whether the unit is still expected to act.
func (s AssignmentState) Active() bool {
	return s == AssignmentNotified || s == AssignmentAccepted || s == AssignmentEnRoute || s == AssignmentArrived
}

// Committed reports whether the unit has taken the job and not finished or dropped it.
func (s AssignmentState) Committed() bool {
	return s == AssignmentAccepted || s == AssignmentEnRoute || s == AssignmentArrived
}

// Unit is an organisation, and for tier 2 the team and vehicle, that can be asked to rescue. The
// dispatch engine gathers units from the registry and the live index; Decide only chooses among
// the units it is given.
type Unit struct {
	Role             OrgKind  `json:"role"`
	OrganizationID   int64    `json:"organization_id"`
	OrganizationName string   `json:"organization_name"`
	TeamID           int64    `json:"team_id,omitempty"`
	VehicleID        int64    `json:"vehicle_id,omitempty"`
	Plate            string   `json:"plate,omitempty"`
	Phones           []string `json:"phones"`
	// DistanceM and ETAS are from the vehicle's (or base's) position to the elevator when known.
	DistanceM *float64 `json:"distance_m,omitempty"`
	ETAS      *float64 `json:"eta_s,omitempty"`
}

// Assignment is one unit's part in an incident.
type Assignment struct {
	// ID numbers the incident's assignments from 1.
	ID    int             `json:"id"`
	Tier  int             `json:"tier"`
	Unit  Unit            `json:"unit"`
	State AssignmentState `json:"state"`
	// Auto says the system chose the unit (tier-2 nearest, tier-3 designated) rather than a dispatcher.
	Auto       bool       `json:"auto"`
	NotifiedAt time.Time  `json:"notified_at"`
	AcceptedAt *time.Time `json:"accepted_at"`
	ArrivedAt  *time.Time `json:"arrived_at"`
	// ArrivedBy says how the arrival was known: "gps", "responder" or "dispatcher".
	ArrivedBy string     `json:"arrived_by,omitempty"`
	EndedAt   *time.Time `json:"ended_at"`
	// Reason is why the unit declined or was stood down.
	Reason string `json:"reason,omitempty"`
	// TokenHash is the SHA-256 of the responder link's token; the token itself is only in the
	// notification sent to the unit. TokenExpires ends the link. The API leaves the hash out.
	TokenHash    string    `json:"token_hash,omitempty" openapi:"-"`
	TokenExpires time.Time `json:"token_expires"`
}

// DeadlineKind names what must happen by a deadline.
type DeadlineKind string

const (
	DeadlineAcknowledge DeadlineKind = "acknowledge" // a unit of the tier accepts
	DeadlineArrive      DeadlineKind = "arrive"      // a unit is at the elevator
)

// Deadline is a time by which something must happen, kept with the incident so that it survives
// any restart. It fires exactly once: when it is due and still pending, the engine applies it
// through Decide and the store writes it fired with the consequences, or not at all.
type Deadline struct {
	ID   int          `json:"id"` // from 1 within the incident
	Kind DeadlineKind `json:"kind"`
	// Tier is the tier whose units the deadline watches; AssignmentID narrows it to one unit
	// (tier 2 and 3), 0 for the whole tier (tier 1).
	Tier         int        `json:"tier"`
	AssignmentID int        `json:"assignment_id,omitempty"`
	Due          time.Time  `json:"due"`
	FiredAt      *time.Time `json:"fired_at"`
	// MetAt is set when what the deadline waited for happened, or became moot, before it was due.
	MetAt *time.Time `json:"met_at"`
}

// Pending reports whether the deadline is still to fire.
func (d *Deadline) Pending() bool { return d.FiredAt == nil && d.MetAt == nil }

// ElevatorSnapshot is what an incident keeps of its elevator, so that the record stands even when
// the archive changes later.
type ElevatorSnapshot struct {
	RescueCode        string  `json:"rescue_code"`
	EquipmentCode     string  `json:"equipment_code"`
	Address           string  `json:"address"`
	Building          string  `json:"building"`
	Lat               float64 `json:"lat"`
	Lon               float64 `json:"lon"`
	UserUnitID        int64   `json:"user_unit_id"`
	MaintenanceUnitID int64   `json:"maintenance_unit_id"`
}

// Incident is one report of trapped passengers and everything done about it.
type Incident struct {
	ID         int64            `json:"id"`
	ElevatorID int64            `json:"elevator_id"`
	Elevator   ElevatorSnapshot `json:"elevator"`
	District   string           `json:"district"`
	// Rural districts have the longer arrival limit.
	Rural bool `json:"rural"`
	// Grid is the rescue grid of the active plan the elevator was in when the incident opened,
	// nil when it was in none (or no plan was published).
	Grid        *IncidentGrid  `json:"grid"`
	Source      IncidentSource `json:"source"`
	Trapped     int            `json:"trapped"` // passengers reported trapped, 0 when unknown
	CallerPhone string         `json:"caller_phone"`
	Note        string         `json:"note"`
	// LifeInDanger sends the fire brigade at once, beside the other tiers.
	LifeInDanger bool          `json:"life_in_danger"`
	State        IncidentState `json:"state"`
	// Tier is the highest tier asked so far (1 to 3).
	Tier       int       `json:"tier"`
	ReportedAt time.Time `json:"reported_at"`
	// ArriveBy is the legal arrival limit counted from the report (30 or 60 minutes).
	ArriveBy time.Time `json:"arrive_by"`
	// Predicted says tier 2 was started early because tier 1's vehicle could not make ArriveBy.
	Predicted bool `json:"predicted"`
	// Alarms counts the elevator terminal's alarms on the incident, repeats included;
	// ReleaseSeen says its running state showed the doors open at a floor after the arrival.
	Alarms        int          `json:"alarms"`
	ReleaseSeen   bool         `json:"release_seen"`
	ArrivedAt     *time.Time   `json:"arrived_at"`
	ReleasedAt    *time.Time   `json:"released_at"`
	ReleasedCount int          `json:"released_count"`
	RescuedBy     int          `json:"rescued_by"` // the assignment whose unit freed the passengers, 0 if none
	Cause         FaultCause   `json:"cause"`
	CallbackAt    *time.Time   `json:"callback_at"`
	CallbackNote  string       `json:"callback_note"`
	ClosedAt      *time.Time   `json:"closed_at"`
	CancelReason  CancelReason `json:"cancel_reason"`
	Assignments   []Assignment `json:"assignments"`
	Deadlines     []Deadline   `json:"deadlines"`
	// Version counts the incident's saves; a save must name the version it read.
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// Timeline and Notifications are read with FindIncident; lists leave them nil.
	Timeline      []IncidentEvent `json:"timeline,omitempty"`
	Notifications []Notification  `json:"notifications,omitempty"`
	// Allowed is what the reader may do to the incident now (AllowedActions), filled by the API
	// for those who may dispatch, so that a console offers only the actions that will be taken.
	Allowed []Action `json:"allowed,omitempty"`
}

// Assignment returns the assignment with the id, or nil.
func (inc *Incident) Assignment(id int) *Assignment {
	if id >= 1 && id <= len(inc.Assignments) && inc.Assignments[id-1].ID == id {
		return &inc.Assignments[id-1]
	}
	for i := range inc.Assignments {
		if inc.Assignments[i].ID == id {
			return &inc.Assignments[i]
		}
	}
	return nil
}

// NextDeadline returns the earliest pending deadline, or nil.
func (inc *Incident) NextDeadline() *Deadline {
	var next *Deadline
	for i := range inc.Deadlines {
		d := &inc.Deadlines[i]
		if d.Pending() && (next == nil || d.Due.Before(next.Due)) {
			next = d
		}
	}
	return next
}

// Clone returns a deep copy of the incident's own fields; Decide works on a copy so that a refused
// step leaves the caller's incident as it was.
func (inc *Incident) Clone() *Incident {
	c := *inc
	c.Assignments = make([]Assignment, len(inc.Assignments))
	for i, a := range inc.Assignments {
		a.Unit.Phones = append([]string(nil), a.Unit.Phones...)
		c.Assignments[i] = a
	}
	c.Deadlines = append([]Deadline(nil), inc.Deadlines...)
	if inc.Grid != nil {
		g := *inc.Grid
		g.Units = append([]int64(nil), g.Units...)
		c.Grid = &g
	}
	c.Timeline = nil
	c.Notifications = nil
	c.Allowed = nil
	return &c
}

// ActorKind says who did something to an incident.
type ActorKind string

const (
	ActorDispatcher ActorKind = "dispatcher"
	ActorUnit       ActorKind = "unit"   // a responder, through the link sent to the unit
	ActorSystem     ActorKind = "system" // deadlines, GPS arrival, predictions
	ActorDevice     ActorKind = "device" // an IoT terminal
	ActorCaller     ActorKind = "caller" // an external system on a caller's behalf (the hotline)
)

// Actor is who did something: a kind and a name within it (a dispatcher's login, a unit's
// organisation id, "deadline").
type Actor struct {
	Kind ActorKind `json:"kind"`
	Name string    `json:"name"`
}

// IncidentEvent is one line of an incident's timeline. Events form one hash chain over all
// incidents: each stores the hash of the event before it, so that changing or removing one breaks
// every link after it. The store appends them and fills Seq, PrevHash and Hash.
type IncidentEvent struct {
	Seq        int64         `json:"seq"`
	IncidentID int64         `json:"incident_id"`
	At         time.Time     `json:"at"`
	Kind       string        `json:"kind"`
	Actor      Actor         `json:"actor"`
	State      IncidentState `json:"state"` // the incident's state after the event
	Tier       int           `json:"tier,omitempty"`
	// AssignmentID names the unit the event is about, 0 for the incident as a whole.
	AssignmentID int    `json:"assignment_id,omitempty"`
	Text         string `json:"text,omitempty"` // reason, note, or what happened in words
	// Data holds the event's facts as JSON, kept byte for byte because the hash covers it.
	Data     json.RawMessage `json:"data,omitempty"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// ChainHash returns the hash of the event when it follows an event with hash prev ("" for the
// first event): SHA-256 over prev and every field but Hash, in hex. Stores set PrevHash and Hash
// with it; `liftrescue verify` recomputes it.
func (e *IncidentEvent) ChainHash(prev string) string {
	var b strings.Builder
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	field(prev)
	field(strconv.FormatInt(e.Seq, 10))
	field(strconv.FormatInt(e.IncidentID, 10))
	field(e.At.UTC().Format(time.RFC3339Nano))
	field(e.Kind)
	field(string(e.Actor.Kind))
	field(e.Actor.Name)
	field(string(e.State))
	field(strconv.Itoa(e.Tier))
	field(strconv.Itoa(e.AssignmentID))
	field(e.Text)
	field(string(e.Data))
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// NotificationChannel is how a notification travels.
type NotificationChannel string

const (
	ChannelSMS     NotificationChannel = "sms"     // a text to a duty phone through the SMS gateway
	ChannelWebhook NotificationChannel = "webhook" // a signed JSON POST to an external system
	ChannelLog     NotificationChannel = "log"     // written to the service log (the demo)
)

// NotificationState is where a notification stands in the outbox.
type NotificationState string

const (
	NotificationPending   NotificationState = "pending"   // waiting for its next attempt
	NotificationDelivered NotificationState = "delivered" // the receiver took it
	NotificationFailed    NotificationState = "failed"    // given up after the last attempt, or refused for good
)

// Notification is one message in the durable outbox. It is written in the same transaction as
// the incident change that causes it, and delivered afterwards with retries, so that a slow or
// dead receiver never holds up dispatch and a crash loses nothing.
type Notification struct {
	ID           int64               `json:"id"`
	IncidentID   int64               `json:"incident_id"`
	AssignmentID int                 `json:"assignment_id,omitempty"`
	Channel      NotificationChannel `json:"channel"`
	// Recipient is a phone number (sms), a webhook's name (webhook) or a unit's name (log).
	Recipient string `json:"recipient"`
	// Kind says what the message is about: "dispatch", "stand_down", "event".
	Kind string `json:"kind"`
	// Body is the SMS text or the webhook's JSON.
	Body          string            `json:"body"`
	State         NotificationState `json:"state"`
	Attempts      int               `json:"attempts"`
	NextAttemptAt time.Time         `json:"next_attempt_at"`
	LastError     string            `json:"last_error,omitempty"`
	// Receipt is what the receiver answered on delivery (a gateway's message id).
	Receipt     string     `json:"receipt,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	DeliveredAt *time.Time `json:"delivered_at"`
}

// IncidentChange is one step of an incident, saved in one transaction: the incident as it is now,
// the events to append to the chain, and the notifications to queue.
type IncidentChange struct {
	// Incident is the new state. On update, its Version is the version read; the store saves it
	// as Version+1 and sets Version and UpdatedAt.
	Incident      *Incident
	Events        []IncidentEvent
	Notifications []Notification
}

// DeliveryResult is what one delivery attempt of a notification came to.
type DeliveryResult struct {
	State NotificationState // delivered, pending (try again at NextAttemptAt) or failed
	// NextAttemptAt is when to try again, for pending.
	NextAttemptAt time.Time
	Error         string // why the attempt failed
	Receipt       string // the receiver's answer, on delivery
	At            time.Time
}

// IncidentFilter selects incidents.
type IncidentFilter struct {
	State    IncidentState
	District string
	// Open selects the incidents that are not closed or cancelled.
	Open       bool
	ElevatorID int64
	Paging
}

// IncidentService keeps incidents, their hash-chained timeline and the notification outbox.
type IncidentService interface {
	// CreateIncident stores a new incident (ID 0, Version 0) with its first events and
	// notifications, and sets the incident's ID, Version (1) and timestamps, the events' IncidentID,
	// Seq and hashes, and the notifications' IDs. Returns EINVALID, and ECONFLICT when an incident
	// is already open on the elevator; that error's Extra["incident_id"] is the open incident's id.
	CreateIncident(ctx context.Context, ch *IncidentChange) error
	// UpdateIncident saves a step of a stored incident. Returns ENOTFOUND, and ECONFLICT when the
	// stored version is not ch.Incident.Version (someone else saved first: read again and retry).
	UpdateIncident(ctx context.Context, ch *IncidentChange) error
	// FindIncident returns the incident with its timeline (oldest first) and notifications.
	// Returns ENOTFOUND.
	FindIncident(ctx context.Context, id int64) (*Incident, error)
	// ListIncidents returns a page of incidents, newest first (by id, descending), without their
	// timelines. Returns EINVALID for a bad filter.
	ListIncidents(ctx context.Context, f IncidentFilter) (*Page[*Incident], error)
	// FindIncidentByToken returns the incident (without its timeline) one of whose assignments holds
	// the responder link with the token hash. Returns ENOTFOUND.
	FindIncidentByToken(ctx context.Context, tokenHash string) (*Incident, error)
	// OpenIncidents returns every incident that is not closed or cancelled, by id, without their
	// timelines: the dispatch engine's working set at start-up.
	OpenIncidents(ctx context.Context) ([]*Incident, error)
	// EachIncidentEvent calls fn with every event of the chain in Seq order, streaming, until fn
	// returns an error, which it returns.
	// ChainHead returns the seq and hash of the last event appended ("" and 0 before the first), as
	// kept apart from the events: a walk of the chain cannot see events cut from its end without it.
	EachIncidentEvent(ctx context.Context, fn func(*IncidentEvent) error) error
	ChainHead(ctx context.Context) (seq int64, hash string, err error)
	// DueNotifications returns up to limit pending notifications whose NextAttemptAt is at or
	// before now, oldest first, leaving out the ids in skip (those being delivered now).
	DueNotifications(ctx context.Context, now time.Time, limit int, skip []int64) ([]*Notification, error)
	// NextNotificationDue returns the earliest NextAttemptAt of a pending notification, and false
	// when none is pending.
	NextNotificationDue(ctx context.Context) (time.Time, bool, error)
	// RecordDelivery writes the outcome of an attempt and counts it. Returns ENOTFOUND.
	RecordDelivery(ctx context.Context, id int64, r DeliveryResult) error
}

// IncidentAlreadyOpen is the ECONFLICT of a report on an elevator with an incident open: repeated
// calls about one car are the norm, and the caller joins the open incident.
func IncidentAlreadyOpen(id int64) *Error {
	return &Error{Code: ECONFLICT, Message: fmt.Sprintf("incident %d is already open on this elevator", id),
		Extra: map[string]any{"incident_id": id}}
}

func oneOf[T comparable](v T, all []T) bool {
	for _, x := range all {
		if v == x {
			return true
		}
	}
	return false
}
