package liftrescue

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Action is something done to an incident: by a dispatcher, by a unit through its link, or by the
// system when a deadline falls due or a vehicle's GPS reaches the elevator.
type Action string

const (
	ActionOpen         Action = "open"
	ActionAccept       Action = "accept"
	ActionDecline      Action = "decline"
	ActionEnRoute      Action = "en_route"
	ActionArrived      Action = "arrived"
	ActionReleased     Action = "released"
	ActionCallbackDone Action = "callback_done"
	ActionClose        Action = "close"
	ActionCancel       Action = "cancel"
	ActionNote         Action = "note"
	ActionEscalate     Action = "escalate"
	ActionDispatch     Action = "dispatch"
	ActionDeadline     Action = "deadline"
	// ActionAlarm attaches IoT alarms of the elevator to its open incident (the system's).
	ActionAlarm Action = "alarm"
)

// Input is one action with everything Decide needs to apply it.
type Input struct {
	Action Action `json:"action"`
	Actor  Actor  `json:"-"`
	// AssignmentID names the unit for accept, decline, en_route, arrived and released.
	AssignmentID int `json:"assignment_id"`
	// DeadlineID names the deadline that fell due (the system's deadline action).
	DeadlineID int `json:"-"`
	// Reason says why a unit declines or a dispatcher escalates; Note is free text.
	Reason       string       `json:"reason"`
	CancelReason CancelReason `json:"cancel_reason"`
	Note         string       `json:"note"`
	// Released is how many passengers came out.
	Released *int       `json:"released"`
	Cause    FaultCause `json:"cause"`
	// LifeInDanger on escalate goes straight to the fire brigade.
	LifeInDanger bool `json:"life_in_danger"`
	// Predicted marks the system's early start of tier 2 (tier 1's vehicle cannot make it).
	Predicted bool `json:"-"`
	// Alarm is the terminal's report an alarm action attaches; Repeats is how many reports it
	// stands for (repeats within a window are counted, not recorded one by one).
	Alarm   *Alarm `json:"-"`
	Repeats int    `json:"-"`
	// VehicleID is, for dispatch, the volunteer vehicle the dispatcher chose and, for accept, the
	// vehicle the unit sends; the engine resolves it into Facts.Chosen.
	VehicleID int64 `json:"vehicle_id"`
	// OrganizationID is, for dispatch, a unit without a tracked vehicle (a fire station).
	OrganizationID int64 `json:"organization_id"`
	Facts          Facts `json:"-"`
}

// Facts are what the engine found out about the world for an action: Decide is pure and asks no one.
type Facts struct {
	// Tier1 are the elevator's legal rescue units, for open.
	Tier1 []Unit
	// Tier2 are the volunteer candidates ranked best first, for any step that may escalate.
	Tier2 []Unit
	// Fire is the fire station designated for the elevator, else the nearest.
	Fire *Unit
	// Chosen is the unit of a dispatch, or the vehicle of an accept.
	Chosen *Unit
}

// Notice asks the engine to tell a unit something: "dispatch" (with a responder link),
// "stand_down", "reminder".
type Notice struct {
	AssignmentID int    `json:"assignment_id"`
	Kind         string `json:"kind"`
}

// Outcome is what an action did: the incident as it is now, the events for the timeline and the
// notices to send.
type Outcome struct {
	Incident *Incident
	Events   []IncidentEvent
	Notices  []Notice
}

// Notice kinds.
const (
	NoticeDispatch  = "dispatch"
	NoticeStandDown = "stand_down"
	NoticeReminder  = "reminder"
)

// NewIncident is a report of trapped passengers as a dispatcher, the hotline or a terminal gives it.
type NewIncident struct {
	// Elevator is a rescue code or an equipment code; ElevatorID names it directly (a map click).
	Elevator     string         `json:"elevator"`
	ElevatorID   int64          `json:"elevator_id"`
	Source       IncidentSource `json:"source"`
	Trapped      int            `json:"trapped"`
	CallerPhone  string         `json:"caller_phone"`
	Note         string         `json:"note"`
	LifeInDanger bool           `json:"life_in_danger"`
}

// Validate normalises the report's text and checks its fields.
func (n *NewIncident) Validate() error {
	var p problems
	n.Elevator = strings.TrimSpace(n.Elevator)
	n.CallerPhone = strings.TrimSpace(n.CallerPhone)
	n.Note = strings.TrimSpace(n.Note)
	switch {
	case n.Elevator == "" && n.ElevatorID == 0:
		p.add("elevator", "give the rescue code or equipment code read from the sign, or elevator_id")
	case n.Elevator != "" && n.ElevatorID != 0:
		p.add("elevator_id", "give the code or elevator_id, not both: they may name two elevators")
	case n.Elevator != "" && !IsRescueCode(n.Elevator) && !IsEquipmentCode(n.Elevator):
		p.add("elevator", "must be a %d to %d digit rescue code or a 20-digit equipment code", RescueCodeMinLen, RescueCodeMaxLen)
	case n.ElevatorID < 0:
		p.add("elevator_id", "must be positive")
	}
	if n.Source == "" {
		n.Source = SourceCall
	}
	if !n.Source.Valid() {
		p.add("source", "must be one of call, iot, hotline, manual")
	}
	if n.Trapped < 0 || n.Trapped > 100 {
		p.add("trapped", "must be between 0 (unknown) and 100")
	}
	if n.CallerPhone != "" {
		checkPhone(&p, "caller_phone", n.CallerPhone)
	}
	checkText(&p, "note", n.Note, false, 1000)
	return p.err("incident")
}

// OpenIncident makes the incident a report opens on an elevator, before Decide notifies anyone.
func OpenIncident(n *NewIncident, e *Elevator, d *District) *Incident {
	return &Incident{
		ElevatorID: e.ID,
		Elevator: ElevatorSnapshot{RescueCode: e.RescueCode, EquipmentCode: e.EquipmentCode, Address: e.Address,
			Building: e.Building, Lat: e.Lat, Lon: e.Lon, UserUnitID: e.UserUnitID, MaintenanceUnitID: e.MaintenanceUnitID},
		District: e.District, Rural: d != nil && d.Rural, Source: n.Source, Trapped: n.Trapped,
		CallerPhone: n.CallerPhone, Note: n.Note, LifeInDanger: n.LifeInDanger, State: IncidentOpened,
		Assignments: []Assignment{}, Deadlines: []Deadline{},
	}
}

// Decide applies an action to an incident at now under the policy and returns the outcome, or an
// error that leaves inc untouched: ECONFLICT for an action the incident's state does not allow
// (Extra["allowed"] lists what is), EINVALID for a missing or bad field, ENOTFOUND for an
// unknown assignment or deadline. It is a pure function: the engine gathers the Facts first and
// persists the outcome after.
func Decide(inc *Incident, in Input, now time.Time, p *Policy) (*Outcome, error) {
	s := &step{inc: inc.Clone(), in: &in, now: now.UTC().Truncate(time.Microsecond), p: p}
	if in.Actor.Kind == "" {
		return nil, Invalid("actor", "is required")
	}
	// Free texts go into the append-only record whatever the action: bounded and printable there.
	var texts problems
	checkText(&texts, "reason", in.Reason, false, 500)
	checkText(&texts, "note", in.Note, false, 2000)
	if err := texts.err("action"); err != nil {
		return nil, err
	}
	if err := s.apply(); err != nil {
		return nil, err
	}
	s.inc.State = s.derivedState()
	for i := range s.out.Events {
		s.out.Events[i].State = s.inc.State
	}
	s.out.Incident = s.inc
	return &s.out, nil
}

// AllowedActions lists the dispatcher's actions the incident's state allows now.
func AllowedActions(inc *Incident) []Action {
	switch {
	case inc.State == IncidentOpened:
		return []Action{ActionOpen}
	case inc.State.Ended():
		return []Action{ActionNote}
	case inc.State == IncidentReleased && inc.CallbackAt == nil:
		return []Action{ActionCallbackDone, ActionNote}
	case inc.State == IncidentReleased:
		return []Action{ActionClose, ActionNote}
	}
	allowed := []Action{}
	if inc.State == IncidentArrived {
		// A unit on site may still need the fire brigade (escalate, dispatch) to free the
		// passengers, and the units already told go on answering.
		allowed = append(allowed, ActionReleased)
	}
	if inc.Tier < 3 {
		allowed = append(allowed, ActionEscalate)
	}
	allowed = append(allowed, ActionDispatch)
	for _, a := range inc.Assignments {
		if a.State == AssignmentNotified || a.State == AssignmentTimedOut {
			allowed = append(allowed, ActionAccept)
		}
		// A unit that timed out may still turn up late: Decide lets it go on.
		if a.State.Active() || a.State == AssignmentTimedOut {
			allowed = append(allowed, ActionDecline, ActionEnRoute, ActionArrived)
		}
	}
	allowed = append(allowed, ActionCancel, ActionNote)
	slices.Sort(allowed)
	return slices.Compact(allowed)
}

type step struct {
	inc *Incident
	in  *Input
	now time.Time
	p   *Policy
	out Outcome
}

func (s *step) apply() error {
	in := s.in
	if s.inc.State == IncidentOpened && in.Action != ActionOpen {
		return s.refuse("the incident is not open yet")
	}
	switch in.Action {
	case ActionOpen:
		return s.open()
	case ActionNote:
		in.Note = strings.TrimSpace(in.Note)
		if in.Note == "" {
			return Invalid("note", "is required")
		}
		var p problems
		if checkText(&p, "note", in.Note, true, 2000); len(p) > 0 {
			return p.err("note")
		}
		s.event("note", 0, in.Note, nil)
		return nil
	case ActionDeadline:
		return s.deadline()
	case ActionAlarm:
		return s.alarm()
	}
	if s.inc.State.Ended() || (s.inc.State == IncidentReleased && in.Action != ActionCallbackDone && in.Action != ActionClose) {
		return s.refuse("incident %d is %s", s.inc.ID, s.inc.State)
	}
	switch in.Action {
	case ActionAccept:
		return s.accept()
	case ActionDecline:
		return s.decline()
	case ActionEnRoute:
		a, err := s.assignment(AssignmentAccepted, AssignmentNotified, AssignmentTimedOut)
		if err != nil {
			return err
		}
		s.commit(a)
		a.State = AssignmentEnRoute
		s.event("en_route", a.ID, "", nil)
		return nil
	case ActionArrived:
		return s.arrived()
	case ActionReleased:
		return s.released()
	case ActionCallbackDone:
		if s.inc.State != IncidentReleased {
			return s.refuse("the passengers are not released yet")
		}
		if s.inc.CallbackAt != nil {
			return s.refuse("the callback is already done")
		}
		s.inc.CallbackAt = &s.now
		s.inc.CallbackNote = strings.TrimSpace(in.Note)
		s.event("callback_done", 0, s.inc.CallbackNote, nil)
		return nil
	case ActionClose:
		return s.close()
	case ActionCancel:
		return s.cancel()
	case ActionEscalate:
		return s.escalateAction()
	case ActionDispatch:
		return s.dispatchAction()
	}
	return Invalid("action", fmt.Sprintf("%q is not an action", in.Action))
}

// alarm counts a terminal's reports on the incident, and takes a running state that shows the
// doors open at a floor, once the rescuers are there, as evidence of the release.
func (s *step) alarm() error {
	a := s.in.Alarm
	if a == nil {
		return Invalid("alarm", "is required")
	}
	if s.inc.State.Ended() {
		return s.refuse("incident %d is %s", s.inc.ID, s.inc.State)
	}
	n := max(1, s.in.Repeats)
	s.inc.Alarms += n
	if a.Code != "" {
		text := string(a.Kind)
		if n > 1 {
			text = fmt.Sprintf("%s ×%d", a.Kind, n)
		}
		s.event("alarm", 0, text, map[string]any{"namespace": a.Namespace, "code": a.Code, "kind": a.Kind,
			"priority": a.Priority, "count": n, "time": a.Time})
	}
	if a.State != nil && a.State.Released() && s.inc.ArrivedAt != nil && !s.inc.ReleaseSeen {
		s.inc.ReleaseSeen = true
		s.event("release_evidence", 0, "the terminal reports the doors open at a floor", map[string]any{"time": a.Time})
	}
	return nil
}

// refuse is the ECONFLICT of an action out of order, with the actions allowed now.
func (s *step) refuse(format string, args ...any) error {
	e := Errorf(ECONFLICT, format, args...)
	e.Extra = map[string]any{"allowed": AllowedActions(s.inc), "state": s.inc.State}
	return e
}

func (s *step) open() error {
	inc := s.inc
	if inc.State != IncidentOpened {
		return s.refuse("the incident is already open")
	}
	if len(s.in.Facts.Tier1) == 0 {
		return Errorf(EINVALID, "the elevator has no legal rescue unit to notify")
	}
	inc.ReportedAt = s.now
	inc.ArriveBy = s.now.Add(s.p.arriveTimeout(inc.District, inc.Rural))
	inc.Tier = 1
	s.event("opened", 0, inc.Note, map[string]any{"source": inc.Source, "trapped": inc.Trapped,
		"rescue_code": inc.Elevator.RescueCode, "arrive_by": inc.ArriveBy})
	for _, u := range s.in.Facts.Tier1 {
		s.assign(1, u, true)
	}
	s.addDeadline(DeadlineAcknowledge, 1, 0, s.now.Add(s.p.ackTimeout(1, inc.District)))
	s.addDeadline(DeadlineArrive, 1, 0, inc.ArriveBy)
	if inc.LifeInDanger {
		s.escalate(3, "life in danger")
	}
	return nil
}

func (s *step) accept() error {
	a, err := s.assignment(AssignmentNotified, AssignmentTimedOut)
	if err != nil {
		return err
	}
	if c := s.in.Facts.Chosen; c != nil && s.in.VehicleID != 0 {
		a.Unit.TeamID, a.Unit.VehicleID, a.Unit.Plate = c.TeamID, c.VehicleID, c.Plate
	}
	s.commit(a)
	return nil
}

// commit records that a unit took the job: its acceptance and the acknowledge deadline met.
func (s *step) commit(a *Assignment) {
	if a.AcceptedAt != nil {
		return
	}
	a.AcceptedAt = &s.now
	a.State = AssignmentAccepted
	s.meet(func(d *Deadline) bool {
		return d.Kind == DeadlineAcknowledge && (d.AssignmentID == a.ID || d.AssignmentID == 0 && d.Tier == a.Tier && rescues(a))
	})
	s.event("accepted", a.ID, "", vehicleData(a))
}

func (s *step) decline() error {
	a, err := s.assignment(AssignmentNotified, AssignmentAccepted, AssignmentEnRoute, AssignmentTimedOut)
	if err != nil {
		return err
	}
	reason := strings.TrimSpace(s.in.Reason)
	if reason == "" {
		return Invalid("reason", "say why the unit cannot come")
	}
	var p problems
	if checkText(&p, "reason", reason, true, 500); len(p) > 0 {
		return p.err("decline")
	}
	s.end(a, AssignmentDeclined, reason)
	s.event("declined", a.ID, reason, nil)
	s.afterLoss(a, "declined: "+reason)
	return nil
}

// afterLoss moves on when a unit drops out (declined, timed out) instead of waiting for the clock:
// the next tier-2 candidate, or the next tier, unless another unit of the tier still has the job.
func (s *step) afterLoss(a *Assignment, why string) {
	if s.inc.ArrivedAt != nil || s.tierHolds(a.Tier) {
		return
	}
	switch a.Tier {
	case 1:
		if s.inc.Tier < 2 {
			s.escalate(2, "tier 1 "+why)
		}
	case 2:
		if !s.tierHolds(3) {
			s.nextCandidate("tier 2 " + why)
		}
	case 3:
		s.event("attention", a.ID, "the fire station "+why+"; the dispatcher must act", nil)
	}
}

// rescues reports whether the unit can free trapped passengers. A user unit's staff (the property
// company) open the machine room and reassure, but only certified rescuers release: its
// acceptance neither meets tier 1's deadline nor keeps tier 2 from being asked.
func rescues(a *Assignment) bool { return a.Unit.Role != OrgUserUnit }

// tierAsked reports whether any unit of the tier was asked.
func (s *step) tierAsked(tier int) bool {
	for _, a := range s.inc.Assignments {
		if a.Tier == tier {
			return true
		}
	}
	return false
}

// tierActive reports whether a unit of the tier is still expected to act.
func (s *step) tierActive(tier int) bool {
	for _, a := range s.inc.Assignments {
		if a.Tier == tier && a.State.Active() {
			return true
		}
	}
	return false
}

// tierHolds reports whether a unit of the tier that can free the passengers has taken the job
// and still has it.
func (s *step) tierHolds(tier int) bool {
	for _, a := range s.inc.Assignments {
		if a.Tier == tier && a.State.Committed() && rescues(&a) {
			return true
		}
	}
	return false
}

func (s *step) arrived() error {
	a, err := s.assignment(AssignmentNotified, AssignmentAccepted, AssignmentEnRoute, AssignmentTimedOut)
	if err != nil {
		return err
	}
	s.commit(a)
	a.State = AssignmentArrived
	a.ArrivedAt = &s.now
	a.ArrivedBy = arrivedBy(s.in.Actor.Kind)
	if s.inc.ArrivedAt == nil {
		s.inc.ArrivedAt = &s.now
	}
	// Someone is at the elevator: nothing is left to escalate for.
	s.meet(func(*Deadline) bool { return true })
	s.event("arrived", a.ID, "", map[string]any{"by": a.ArrivedBy,
		"minutes_from_report": roundTo(s.now.Sub(s.inc.ReportedAt).Minutes(), 0.1)})
	return nil
}

func arrivedBy(k ActorKind) string {
	switch k {
	case ActorSystem, ActorDevice:
		return "gps"
	case ActorUnit:
		return "responder"
	}
	return "dispatcher"
}

func (s *step) released() error {
	if s.inc.State != IncidentArrived {
		return s.refuse("no unit has arrived yet")
	}
	if s.in.Released == nil || *s.in.Released < 0 || *s.in.Released > 100 {
		return Invalid("released", "say how many passengers came out (0 to 100)")
	}
	if s.in.Cause != "" && !s.in.Cause.Valid() {
		return Invalid("cause", "must be one of "+joinValues(FaultCauses))
	}
	var by *Assignment
	if s.in.AssignmentID != 0 {
		a, err := s.assignment(AssignmentArrived)
		if err != nil {
			return err
		}
		by = a
	} else {
		for i := range s.inc.Assignments {
			if a := &s.inc.Assignments[i]; a.State == AssignmentArrived && (by == nil || a.ArrivedAt.Before(*by.ArrivedAt)) {
				by = a
			}
		}
	}
	by.State = AssignmentReleased
	by.EndedAt = &s.now
	s.inc.ReleasedAt = &s.now
	s.inc.ReleasedCount = *s.in.Released
	s.inc.RescuedBy = by.ID
	if s.in.Cause != "" {
		s.inc.Cause = s.in.Cause
	}
	s.event("released", by.ID, strings.TrimSpace(s.in.Note), map[string]any{"count": s.inc.ReleasedCount,
		"minutes_from_report": roundTo(s.now.Sub(s.inc.ReportedAt).Minutes(), 0.1)})
	s.standDownAll("the passengers are released")
	return nil
}

func (s *step) close() error {
	if s.inc.State != IncidentReleased {
		return s.refuse("an incident closes after its passengers are released")
	}
	if s.inc.CallbackAt == nil {
		return s.refuse("call the caller or the user unit back first (callback_done)")
	}
	if s.in.Cause != "" {
		if !s.in.Cause.Valid() {
			return Invalid("cause", "must be one of "+joinValues(FaultCauses))
		}
		s.inc.Cause = s.in.Cause
	}
	if s.inc.Cause == "" {
		return Invalid("cause", "file the fault cause: one of "+joinValues(FaultCauses))
	}
	s.inc.ClosedAt = &s.now
	s.inc.State = IncidentClosed
	s.event("closed", 0, strings.TrimSpace(s.in.Note), map[string]any{"cause": s.inc.Cause})
	return nil
}

func (s *step) cancel() error {
	if !s.in.CancelReason.Valid() {
		return Invalid("cancel_reason", "must be one of "+joinValues(CancelReasons))
	}
	s.inc.CancelReason = s.in.CancelReason
	s.inc.ClosedAt = &s.now
	s.inc.State = IncidentCancelled
	s.standDownAll("the incident is cancelled: " + string(s.in.CancelReason))
	s.meet(func(*Deadline) bool { return true })
	s.event("cancelled", 0, strings.TrimSpace(s.in.Note), map[string]any{"reason": s.in.CancelReason})
	return nil
}

func (s *step) escalateAction() error {
	if s.inc.Tier >= 3 {
		return s.refuse("the fire brigade is already asked")
	}
	to := s.inc.Tier + 1
	why := strings.TrimSpace(s.in.Reason)
	if s.in.LifeInDanger {
		s.inc.LifeInDanger = true
		to = 3
		why = strings.TrimSpace("life in danger " + why)
	}
	if s.in.Predicted {
		if s.p.NoPrediction {
			return s.refuse("the policy does not start tier 2 on a prediction")
		}
		if s.inc.Tier != 1 || s.inc.Predicted || s.inc.ArrivedAt != nil {
			return s.refuse("tier 2 is already asked")
		}
		s.inc.Predicted = true
	}
	if why == "" {
		why = "by the dispatcher"
	}
	s.escalate(to, why)
	return nil
}

func (s *step) dispatchAction() error {
	u := s.in.Facts.Chosen
	if u == nil {
		return Invalid("vehicle_id", "name the vehicle (or organization_id) to dispatch")
	}
	for _, a := range s.inc.Assignments {
		if a.State.Active() && a.Unit.OrganizationID == u.OrganizationID && a.Unit.VehicleID == u.VehicleID {
			e := s.refuse("this unit is already on the incident (assignment %d)", a.ID)
			return e
		}
	}
	tier := 2
	if u.Role == OrgFire {
		tier = 3
	}
	s.inc.Tier = max(s.inc.Tier, tier)
	s.assign(tier, *u, false)
	return nil
}

func (s *step) deadline() error {
	var d *Deadline
	for i := range s.inc.Deadlines {
		if s.inc.Deadlines[i].ID == s.in.DeadlineID {
			d = &s.inc.Deadlines[i]
		}
	}
	if d == nil {
		return Errorf(ENOTFOUND, "incident %d has no deadline %d", s.inc.ID, s.in.DeadlineID)
	}
	if !d.Pending() {
		return s.refuse("deadline %d of incident %d is no longer pending", d.ID, s.inc.ID)
	}
	if s.now.Before(d.Due) {
		return s.refuse("deadline %d of incident %d is not due until %s", d.ID, s.inc.ID, d.Due.Format(time.RFC3339))
	}
	d.FiredAt = &s.now
	late := map[string]any{"deadline": d.ID, "kind": d.Kind, "due": d.Due}
	switch {
	case d.Kind == DeadlineAcknowledge && d.AssignmentID == 0:
		s.event("deadline_missed", 0, fmt.Sprintf("no tier-%d unit accepted in time", d.Tier), late)
		for i := range s.inc.Assignments {
			if a := &s.inc.Assignments[i]; a.Tier == d.Tier && a.State == AssignmentNotified {
				a.State = AssignmentTimedOut
				s.event("timed_out", a.ID, "", nil)
			}
		}
		if !s.tierAsked(d.Tier + 1) {
			// Also when the fire brigade is already out (life in danger): tier 2 goes beside it.
			s.escalate(d.Tier+1, fmt.Sprintf("tier %d did not accept in time", d.Tier))
		}
	case d.Kind == DeadlineAcknowledge:
		a := s.inc.Assignment(d.AssignmentID)
		if a.Tier >= 3 {
			s.event("deadline_missed", a.ID, "the fire station has not accepted; reminded", late)
			s.notice(a.ID, NoticeReminder)
			return nil
		}
		s.event("deadline_missed", a.ID, "the unit did not accept in time", late)
		s.end(a, AssignmentTimedOut, "did not accept in time")
		s.afterLoss(a, "did not accept in time")
	default: // arrive
		s.event("deadline_missed", d.AssignmentID, fmt.Sprintf("no tier-%d unit arrived in time", d.Tier), late)
		switch {
		case !s.tierAsked(d.Tier + 1):
			s.escalate(d.Tier+1, fmt.Sprintf("tier %d did not arrive in time", d.Tier))
		case d.Tier == 1 && !s.tierActive(2) && !s.tierAsked(3):
			// Tier 2 was asked but nobody of it is coming (the dispatcher has not picked one, or
			// every one dropped out): the fire brigade is the backstop.
			s.escalate(3, "tier 1 did not arrive in time and no tier-2 unit is coming")
		}
	}
	return nil
}

// escalate asks the next tier: the best tier-2 candidate (or the dispatcher's choice), or the fire station.
func (s *step) escalate(to int, why string) {
	if to > 3 {
		s.event("attention", 0, why+"; no tier is left, the dispatcher must act", nil)
		return
	}
	s.inc.Tier = max(s.inc.Tier, to)
	s.event("escalated", 0, why, map[string]any{"to_tier": to})
	if to == 2 {
		s.nextCandidate(why)
		return
	}
	for _, a := range s.inc.Assignments {
		if a.Tier == 3 && a.State.Active() {
			return
		}
	}
	if s.in.Facts.Fire == nil {
		s.event("attention", 0, "no fire station is known for this elevator; call 119", nil)
		return
	}
	s.assign(3, *s.in.Facts.Fire, true)
}

// nextCandidate dispatches the best tier-2 candidate not yet asked, or waits for the dispatcher
// under a manual policy, or goes to tier 3 when no candidate is left.
func (s *step) nextCandidate(why string) {
	if s.p.ManualDispatch {
		s.event("awaiting_dispatch", 0, "choose a tier-2 unit", nil)
		return
	}
	for _, u := range s.in.Facts.Tier2 {
		if !s.asked(u) {
			s.assign(2, u, true)
			return
		}
	}
	if s.inc.Tier < 3 {
		s.escalate(3, "no tier-2 unit is left to ask")
	}
}

// asked reports whether the unit's vehicle (or, without one, the organisation) was already asked,
// or its organisation already declined or let a request time out at tier 2 or above: its other
// vans answer to the same duty desk.
func (s *step) asked(u Unit) bool {
	for _, a := range s.inc.Assignments {
		if u.VehicleID != 0 && a.Unit.VehicleID == u.VehicleID || u.VehicleID == 0 && a.Unit.VehicleID == 0 && a.Unit.OrganizationID == u.OrganizationID {
			return true
		}
		if OrgDeclined(&a) && a.Unit.OrganizationID == u.OrganizationID {
			return true
		}
	}
	return false
}

// OrgDeclined reports whether the assignment shows its organisation will not come to a tier-2 or
// tier-3 call: it declined, or let the request time out.
func OrgDeclined(a *Assignment) bool {
	return a.Tier >= 2 && (a.State == AssignmentDeclined || a.State == AssignmentTimedOut)
}

// assign adds a unit to the incident, with its deadlines and a dispatch notice.
func (s *step) assign(tier int, u Unit, auto bool) *Assignment {
	id := len(s.inc.Assignments) + 1
	u.Phones = append([]string{}, u.Phones...)
	s.inc.Assignments = append(s.inc.Assignments, Assignment{ID: id, Tier: tier, Unit: u, State: AssignmentNotified,
		Auto: auto, NotifiedAt: s.now, TokenExpires: s.now.Add(time.Duration(s.p.ResponderLinkTTL))})
	if tier > 1 {
		s.addDeadline(DeadlineAcknowledge, tier, id, s.now.Add(s.p.ackTimeout(tier, s.inc.District)))
	}
	if tier == 2 {
		s.addDeadline(DeadlineArrive, tier, id, s.now.Add(s.p.arriveTimeout(s.inc.District, s.inc.Rural)))
	}
	data := map[string]any{"role": u.Role, "organization_id": u.OrganizationID, "organization": u.OrganizationName}
	if u.VehicleID != 0 {
		data["vehicle_id"], data["plate"] = u.VehicleID, u.Plate
	}
	if u.DistanceM != nil {
		data["distance_m"] = *u.DistanceM
	}
	if u.ETAS != nil {
		data["eta_s"] = *u.ETAS
	}
	s.event("notified", id, u.OrganizationName, data)
	s.notice(id, NoticeDispatch)
	return &s.inc.Assignments[id-1]
}

func (s *step) addDeadline(kind DeadlineKind, tier, assignment int, due time.Time) {
	s.inc.Deadlines = append(s.inc.Deadlines, Deadline{ID: len(s.inc.Deadlines) + 1, Kind: kind, Tier: tier,
		AssignmentID: assignment, Due: due.UTC().Truncate(time.Microsecond)})
}

// meet marks the pending deadlines that pred picks as met now.
func (s *step) meet(pred func(*Deadline) bool) {
	for i := range s.inc.Deadlines {
		if d := &s.inc.Deadlines[i]; d.Pending() && pred(d) {
			d.MetAt = &s.now
		}
	}
}

// end finishes an assignment and meets its own deadlines.
func (s *step) end(a *Assignment, state AssignmentState, reason string) {
	a.State = state
	a.EndedAt = &s.now
	a.Reason = reason
	s.meet(func(d *Deadline) bool { return d.AssignmentID == a.ID })
	if state == AssignmentTimedOut {
		s.event("timed_out", a.ID, reason, nil)
	}
}

// standDownAll tells every unit still on the incident that it is no longer needed.
func (s *step) standDownAll(why string) {
	for i := range s.inc.Assignments {
		if a := &s.inc.Assignments[i]; a.State.Active() || a.State == AssignmentTimedOut {
			// A unit that timed out may still be on its way (its link works): tell it too.
			s.end(a, AssignmentStoodDown, why)
			s.event("stood_down", a.ID, why, nil)
			s.notice(a.ID, NoticeStandDown)
		}
	}
}

// assignment returns the assignment the input names, if it is in one of the states.
func (s *step) assignment(states ...AssignmentState) (*Assignment, error) {
	a := s.inc.Assignment(s.in.AssignmentID)
	if a == nil {
		return nil, &Error{Code: ENOTFOUND, Message: fmt.Sprintf("incident %d has no assignment %d", s.inc.ID, s.in.AssignmentID),
			Details: []Detail{{Field: "assignment_id", Reason: "no such assignment"}}}
	}
	if !slices.Contains(states, a.State) {
		return nil, s.refuse("assignment %d (%s) is %s", a.ID, a.Unit.OrganizationName, a.State)
	}
	return a, nil
}

// derivedState is the incident's state from its assignments: the furthest any unit has got.
func (s *step) derivedState() IncidentState {
	inc := s.inc
	switch {
	case inc.State.Ended():
		return inc.State
	case inc.ReleasedAt != nil:
		return IncidentReleased
	}
	// IncidentStates lists awaiting_dispatch after notified, so rank from no state at all: any
	// notified unit makes the incident notified, and awaiting_dispatch is left for when none is active.
	best := IncidentState("")
	rank := map[AssignmentState]IncidentState{AssignmentNotified: IncidentNotified, AssignmentAccepted: IncidentAcknowledged,
		AssignmentEnRoute: IncidentEnRoute, AssignmentArrived: IncidentArrived}
	for _, a := range inc.Assignments {
		if st, ok := rank[a.State]; ok && slices.Index(IncidentStates, st) > slices.Index(IncidentStates, best) {
			best = st
		}
	}
	if best == "" {
		return IncidentAwaitingDispatch
	}
	return best
}

func (s *step) event(kind string, assignment int, text string, data map[string]any) {
	ev := IncidentEvent{IncidentID: s.inc.ID, At: s.now, Kind: kind, Actor: s.in.Actor, Tier: s.inc.Tier,
		AssignmentID: assignment, Text: text}
	if assignment != 0 {
		ev.Tier = s.inc.Assignment(assignment).Tier
	}
	if len(data) > 0 {
		ev.Data, _ = json.Marshal(data) // maps of plain values always marshal
	}
	s.out.Events = append(s.out.Events, ev)
}

func (s *step) notice(assignment int, kind string) {
	s.out.Notices = append(s.out.Notices, Notice{AssignmentID: assignment, Kind: kind})
}

func vehicleData(a *Assignment) map[string]any {
	if a.Unit.VehicleID == 0 {
		return nil
	}
	return map[string]any{"vehicle_id": a.Unit.VehicleID, "plate": a.Unit.Plate}
}

func roundTo(v, unit float64) float64 { return float64(int64(v/unit+0.5)) * unit }

func joinValues[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
