package sqlq

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/liftrescue/liftrescue"
)

// Both stores keep incidents, their timeline and the notification outbox (migration 0004) with the
// statements below, which differ between them only in their placeholders (Dollar) and in how a time
// is bound (TimeArg). What a change writes is settled here, in an IncidentWrite, so that both
// stores check, normalise, chain and answer alike.

// TimeArg binds a time as the store keeps it: fixed-width text in SQLite, timestamptz in PostgreSQL.
// The time is already UTC and truncated to the microsecond.
type TimeArg func(time.Time) any

// OpenIncident is the condition of an incident that is not over, written exactly as the partial
// indexes of migration 0004 are, so that the planners use them.
const OpenIncident = `state NOT IN ('closed', 'cancelled')`

// The columns read back: in the order that DecodeIncident's callers scan, EventDest and NotificationDest.
const (
	IncidentColumns     = `id, version, created_at, updated_at, doc`
	EventColumns        = `seq, incident_id, at, kind, actor_kind, actor_name, state, tier, assignment_id, text, data, prev_hash, hash`
	NotificationColumns = `id, incident_id, assignment_id, channel, recipient, kind, body, state, attempts, next_attempt_at, last_error,
	receipt, created_at, delivered_at`
)

// The statements of the incident service.
const (
	// InsertIncident takes IncidentWrite.InsertArgs and returns the id.
	InsertIncident = `INSERT INTO incidents (elevator_id, district, state, tier, reported_at, closed_at, doc, version, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	// UpdateIncident takes IncidentWrite.UpdateArgs; it changes no row when the stored version is
	// not the one read.
	UpdateIncident = `UPDATE incidents SET elevator_id = ?, district = ?, state = ?, tier = ?, reported_at = ?, closed_at = ?, doc = ?,
	version = version + 1, updated_at = ? WHERE id = ? AND version = ?`
	IncidentExists = `SELECT EXISTS (SELECT 1 FROM incidents WHERE id = ?)`
	// OpenIncidentOf finds the open incident of an elevator (the first argument) other than the
	// incident written (the second), which the one-open-incident index refused.
	OpenIncidentOf = `SELECT id FROM incidents WHERE elevator_id = ? AND ` + OpenIncident + ` AND id <> ?`
	FindIncident   = `SELECT ` + IncidentColumns + ` FROM incidents WHERE id = ?`
	OpenIncidents  = `SELECT ` + IncidentColumns + ` FROM incidents WHERE ` + OpenIncident + ` ORDER BY id`

	// ChainHead reads the seq and hash of the last event; SetChainHead moves them.
	ChainHead    = `SELECT seq, hash FROM incident_chain WHERE id = 1`
	SetChainHead = `UPDATE incident_chain SET seq = ?, hash = ? WHERE id = 1`
	// InsertEvent takes EventArgs.
	InsertEvent = `INSERT INTO incident_events (` + EventColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	Timeline    = `SELECT ` + EventColumns + ` FROM incident_events WHERE incident_id = ? ORDER BY seq`
	AllEvents   = `SELECT ` + EventColumns + ` FROM incident_events ORDER BY seq`

	// InsertNotification takes NotificationArgs and returns the id.
	InsertNotification = `INSERT INTO notifications (incident_id, assignment_id, channel, recipient, kind, body, state, attempts,
	next_attempt_at, last_error, receipt, created_at, delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	// InsertToken indexes a responder link's token hash (TokenHashes); a hash already there stays.
	InsertToken = `INSERT INTO responder_tokens (hash, incident_id) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING`
	// IncidentByToken finds the incident that gave out a responder link.
	IncidentByToken = `SELECT ` + IncidentColumns + ` FROM incidents WHERE id = (SELECT incident_id FROM responder_tokens WHERE hash = ?)`
	NotificationsOf = `SELECT ` + NotificationColumns + ` FROM notifications WHERE incident_id = ? ORDER BY id`
	// NextNotificationDue gives NULL when nothing is pending.
	NextNotificationDue = `SELECT min(next_attempt_at) FROM notifications WHERE state = 'pending'`
	// RecordDelivery takes DeliveryArgs. A time argument that is NULL keeps what is stored.
	RecordDelivery = `UPDATE notifications SET attempts = attempts + 1, state = ?, next_attempt_at = coalesce(?, next_attempt_at),
	last_error = ?, receipt = ?, delivered_at = coalesce(?, delivered_at) WHERE id = ?`
)

// IncidentWrite is one IncidentChange as a store writes it: checked, its times in UTC to the
// microsecond, the incident's version and timestamps set, the events and notifications tied to the
// incident. It works on copies, which SaveIncident hands to the caller once the transaction has
// committed, so that a change refused leaves the caller's values as they were.
type IncidentWrite struct {
	Incident      liftrescue.Incident
	Events        []liftrescue.IncidentEvent
	Notifications []liftrescue.Notification
	read          int // the version the change was read at
	doc           string
}

// SaveIncident checks ch for a create (the incident has no id yet) or an update, with now as the
// store's time, and has write store what it comes to in one transaction. Once write has succeeded,
// it gives the caller what was stored: the incident with its id, version and times, the events
// with their place in the chain, the notifications with their ids.
func SaveIncident(ch *liftrescue.IncidentChange, create bool, now time.Time, write func(*IncidentWrite) error) error {
	w, err := newIncidentWrite(ch, create, now)
	if err != nil {
		return err
	}
	if err := write(w); err != nil {
		return err
	}
	timeline, notifications := ch.Incident.Timeline, ch.Incident.Notifications
	*ch.Incident = w.Incident
	ch.Incident.Timeline, ch.Incident.Notifications = timeline, notifications
	copy(ch.Events, w.Events)
	copy(ch.Notifications, w.Notifications)
	return nil
}

func newIncidentWrite(ch *liftrescue.IncidentChange, create bool, now time.Time) (*IncidentWrite, error) {
	if ch == nil || ch.Incident == nil {
		return nil, liftrescue.Invalid("incident", "is required")
	}
	in := ch.Incident
	switch {
	case create && in.ID != 0:
		return nil, liftrescue.Invalid("id", "must be 0 for a new incident")
	case !create && in.ID <= 0:
		return nil, liftrescue.Invalid("id", "must name a stored incident")
	}
	if err := checkState(in.State); err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Microsecond)
	w := &IncidentWrite{Incident: *in.Clone(), read: in.Version}
	inc := &w.Incident
	normalizeIncident(inc)
	inc.Version, inc.UpdatedAt = in.Version+1, now
	if create {
		inc.Version, inc.CreatedAt = 1, now
	}
	var p problems
	p.text("", "district", inc.District)
	w.Events = slices.Clone(ch.Events)
	for i := range w.Events {
		ev := &w.Events[i]
		ev.At = us(ev.At)
		if ev.At.IsZero() {
			ev.At = now
		}
		field := fmt.Sprintf("events[%d].", i)
		p.text(field, "kind", ev.Kind, "actor.kind", string(ev.Actor.Kind), "actor.name", ev.Actor.Name, "state", string(ev.State),
			"text", ev.Text)
		if len(ev.Data) > 0 && (!json.Valid(ev.Data) || !utf8.Valid(ev.Data)) {
			p.add(field+"data", "must be JSON in UTF-8")
		}
	}
	w.Notifications = slices.Clone(ch.Notifications)
	for i := range w.Notifications {
		n := &w.Notifications[i]
		n.CreatedAt = now
		if n.State == "" {
			n.State = liftrescue.NotificationPending
		}
		if n.NextAttemptAt = us(n.NextAttemptAt); n.NextAttemptAt.IsZero() {
			n.NextAttemptAt = now
		}
		n.DeliveredAt = usp(n.DeliveredAt)
		field := fmt.Sprintf("notifications[%d].", i)
		p.text(field, "channel", string(n.Channel), "recipient", n.Recipient, "kind", n.Kind, "body", n.Body,
			"last_error", n.LastError, "receipt", n.Receipt)
		if !notificationStates[n.State] {
			p.add(field+"state", "must be pending, delivered or failed")
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	w.SetID(inc.ID)
	doc, err := encodeDoc(inc)
	if err != nil {
		return nil, err
	}
	w.doc = doc
	return w, nil
}

// SetID ties the write to the incident's id, once a create has it.
func (w *IncidentWrite) SetID(id int64) {
	w.Incident.ID = id
	for i := range w.Events {
		w.Events[i].IncidentID = id
	}
	for i := range w.Notifications {
		w.Notifications[i].IncidentID = id
	}
}

// Chain links the events after the head of the chain (the seq and hash of the last event stored)
// and returns the new head.
func (w *IncidentWrite) Chain(seq int64, hash string) (int64, string) {
	for i := range w.Events {
		ev := &w.Events[i]
		seq++
		ev.Seq, ev.PrevHash = seq, hash
		ev.Hash = ev.ChainHash(hash)
		hash = ev.Hash
	}
	return seq, hash
}

// columns are the arguments that InsertIncident and UpdateIncident share.
func (w *IncidentWrite) columns(t TimeArg) []any {
	inc := &w.Incident
	return []any{inc.ElevatorID, inc.District, string(inc.State), inc.Tier, t(inc.ReportedAt), nullTime(inc.ClosedAt, t), w.doc}
}

// InsertArgs are the arguments of InsertIncident.
func (w *IncidentWrite) InsertArgs(t TimeArg) []any {
	return append(w.columns(t), w.Incident.Version, t(w.Incident.CreatedAt), t(w.Incident.UpdatedAt))
}

// UpdateArgs are the arguments of UpdateIncident.
func (w *IncidentWrite) UpdateArgs(t TimeArg) []any {
	return append(w.columns(t), t(w.Incident.UpdatedAt), w.Incident.ID, w.read)
}

// NotSaved is the error of an update that changed no row: the incident is missing, or another
// writer saved it since it was read.
func (w *IncidentWrite) NotSaved(exists bool) error {
	if !exists {
		return NoIncident(w.Incident.ID)
	}
	return liftrescue.Errorf(liftrescue.ECONFLICT, "incident %d was changed by someone else; read it again", w.Incident.ID)
}

// AlreadyOpen is the ECONFLICT of a write that the one-open-incident index refused: open is the
// incident open on the elevator, 0 when it was closed again before it could be named. cause is the
// driver's error.
func AlreadyOpen(open int64, cause error) error {
	if open == 0 {
		return &liftrescue.Error{Code: liftrescue.ECONFLICT, Err: cause,
			Message: "another incident was open on this elevator; read it again"}
	}
	err := liftrescue.IncidentAlreadyOpen(open)
	err.Err = cause
	return err
}

// NoIncident is the ENOTFOUND of an incident id.
func NoIncident(id int64) error {
	return liftrescue.Errorf(liftrescue.ENOTFOUND, "no incident has the id %d", id)
}

// NoToken is the ENOTFOUND of a responder link no incident gave out.
func NoToken() error {
	return liftrescue.Errorf(liftrescue.ENOTFOUND, "no incident gave out this responder link")
}

// NoNotification is the ENOTFOUND of a notification id.
func NoNotification(id int64) error {
	return liftrescue.Errorf(liftrescue.ENOTFOUND, "no notification has the id %d", id)
}

// EventArgs are the arguments of InsertEvent.
func EventArgs(ev *liftrescue.IncidentEvent, t TimeArg) []any {
	var data any
	if len(ev.Data) > 0 {
		data = string(ev.Data)
	}
	return []any{ev.Seq, ev.IncidentID, t(ev.At), ev.Kind, string(ev.Actor.Kind), ev.Actor.Name, string(ev.State), ev.Tier,
		ev.AssignmentID, ev.Text, data, ev.PrevHash, ev.Hash}
}

// EventDest are the destinations of a row of EventColumns; at receives the time as the store
// reads it. data, NULL when the event has none, comes back nil.
func EventDest(ev *liftrescue.IncidentEvent, at any) []any {
	return []any{&ev.Seq, &ev.IncidentID, at, &ev.Kind, &ev.Actor.Kind, &ev.Actor.Name, &ev.State, &ev.Tier, &ev.AssignmentID,
		&ev.Text, (*[]byte)(&ev.Data), &ev.PrevHash, &ev.Hash}
}

// NotificationArgs are the arguments of InsertNotification.
func NotificationArgs(n *liftrescue.Notification, t TimeArg) []any {
	return []any{n.IncidentID, n.AssignmentID, string(n.Channel), n.Recipient, n.Kind, n.Body, string(n.State), n.Attempts,
		t(n.NextAttemptAt), n.LastError, n.Receipt, t(n.CreatedAt), nullTime(n.DeliveredAt, t)}
}

// NotificationDest are the destinations of a row of NotificationColumns; next, created and
// delivered receive the times as the store reads them.
func NotificationDest(n *liftrescue.Notification, next, created, delivered any) []any {
	return []any{&n.ID, &n.IncidentID, &n.AssignmentID, &n.Channel, &n.Recipient, &n.Kind, &n.Body, &n.State, &n.Attempts,
		next, &n.LastError, &n.Receipt, created, delivered}
}

// Incidents gives the conditions of f over the incidents table. Returns EINVALID for an unknown
// state.
func Incidents(f liftrescue.IncidentFilter) (Where, error) {
	var w Where
	if f.State != "" {
		if err := checkState(f.State); err != nil {
			return w, err
		}
		w.Add("state = ?", string(f.State))
	}
	if f.District != "" {
		w.Add("district = ?", f.District)
	}
	if f.Open {
		w.Add(OpenIncident)
	}
	if f.ElevatorID != 0 {
		w.Add("elevator_id = ?", f.ElevatorID)
	}
	return w, nil
}

// DueNotifications is the query of DueNotifications and its arguments: pending notifications due
// at now, bound by t, leaving out skip, oldest first. A limit of 0 means liftrescue.DefaultLimit.
func DueNotifications(now time.Time, limit int, skip []int64, t TimeArg) (string, []any, error) {
	switch {
	case limit == 0:
		limit = liftrescue.DefaultLimit
	case limit < 0 || limit > liftrescue.MaxLimit:
		return "", nil, liftrescue.Invalid("limit", fmt.Sprintf("must be between 1 and %d", liftrescue.MaxLimit))
	}
	var w Where
	w.Add("state = 'pending'")
	w.Add("next_attempt_at <= ?", t(us(now)))
	if len(skip) > 0 {
		w.Add("id NOT IN (?"+strings.Repeat(", ?", len(skip)-1)+")", anys(skip)...)
	}
	return `SELECT ` + NotificationColumns + ` FROM notifications` + w.String() + ` ORDER BY next_attempt_at, id LIMIT ?`,
		append(w.Args, limit), nil
}

// DeliveryArgs checks the outcome of a delivery attempt of notification id and gives the arguments
// of RecordDelivery. A delivery without a time is delivered at now.
func DeliveryArgs(id int64, r liftrescue.DeliveryResult, now time.Time, t TimeArg) ([]any, error) {
	if !notificationStates[r.State] {
		return nil, liftrescue.Invalid("state", "must be pending, delivered or failed")
	}
	var p problems
	p.text("", "error", r.Error, "receipt", r.Receipt)
	if err := p.err(); err != nil {
		return nil, err
	}
	var next, delivered any
	if !r.NextAttemptAt.IsZero() {
		next = t(us(r.NextAttemptAt))
	} else if r.State == liftrescue.NotificationPending {
		return nil, liftrescue.Invalid("next_attempt_at", "is required to try again")
	}
	if r.State == liftrescue.NotificationDelivered {
		at := us(r.At)
		if at.IsZero() {
			at = us(now)
		}
		delivered = t(at)
	}
	return []any{string(r.State), next, r.Error, r.Receipt, delivered, id}, nil
}

var notificationStates = map[liftrescue.NotificationState]bool{
	liftrescue.NotificationPending: true, liftrescue.NotificationDelivered: true, liftrescue.NotificationFailed: true,
}

func checkState(s liftrescue.IncidentState) error {
	if s.Valid() {
		return nil
	}
	names := make([]string, len(liftrescue.IncidentStates))
	for i, s := range liftrescue.IncidentStates {
		names[i] = string(s)
	}
	return liftrescue.Invalid("state", "must be one of "+strings.Join(names, ", "))
}

// TokenHashes are the responder link hashes of the incident's assignments, for InsertToken.
func (w *IncidentWrite) TokenHashes() []string {
	var out []string
	for _, a := range w.Incident.Assignments {
		if a.TokenHash != "" {
			out = append(out, a.TokenHash)
		}
	}
	return out
}

// encodeDoc is what the doc column holds: the incident's JSON, without the timeline and the
// notifications, which have tables of their own.
func encodeDoc(inc *liftrescue.Incident) (string, error) {
	c := *inc
	c.Timeline, c.Notifications = nil, nil
	b, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("incident %d: %w", inc.ID, err)
	}
	return string(b), nil
}

// DecodeIncident reads a row of IncidentColumns: the doc, then what its columns hold.
func DecodeIncident(doc string, id int64, version int, created, updated time.Time) (*liftrescue.Incident, error) {
	inc := &liftrescue.Incident{}
	if err := json.Unmarshal([]byte(doc), inc); err != nil {
		return nil, fmt.Errorf("incident %d: doc: %w", id, err)
	}
	inc.ID, inc.Version, inc.CreatedAt, inc.UpdatedAt = id, version, created, updated
	return inc, nil
}

// normalizeIncident puts every time of inc in UTC to the microsecond, as the columns keep them, so
// that what a write returns equals what a read gives back. Pointers are replaced, never written
// through: a Clone shares them with the incident it was made from.
func normalizeIncident(inc *liftrescue.Incident) {
	inc.ReportedAt, inc.ArriveBy = us(inc.ReportedAt), us(inc.ArriveBy)
	inc.ArrivedAt, inc.ReleasedAt, inc.CallbackAt, inc.ClosedAt = usp(inc.ArrivedAt), usp(inc.ReleasedAt), usp(inc.CallbackAt), usp(inc.ClosedAt)
	for i := range inc.Assignments {
		a := &inc.Assignments[i]
		a.NotifiedAt, a.TokenExpires = us(a.NotifiedAt), us(a.TokenExpires)
		a.AcceptedAt, a.ArrivedAt, a.EndedAt = usp(a.AcceptedAt), usp(a.ArrivedAt), usp(a.EndedAt)
	}
	for i := range inc.Deadlines {
		d := &inc.Deadlines[i]
		d.Due, d.FiredAt, d.MetAt = us(d.Due), usp(d.FiredAt), usp(d.MetAt)
	}
}

func us(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func usp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := us(*t)
	return &u
}

func nullTime(p *time.Time, t TimeArg) any {
	if p == nil {
		return nil
	}
	return t(*p)
}

func anys[T any](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// problems gathers what is wrong with a write, so that a client learns of all of it at once.
type problems []liftrescue.Detail

func (p *problems) add(field, reason string) {
	*p = append(*p, liftrescue.Detail{Field: field, Reason: reason})
}

// text adds a problem for each field whose value is not text that both databases keep: bytes that
// are not UTF-8, or a NUL character, which PostgreSQL refuses. fields alternate a field's name
// (after prefix) and its value.
func (p *problems) text(prefix string, fields ...string) {
	for i := 0; i+1 < len(fields); i += 2 {
		if v := fields[i+1]; !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			p.add(prefix+fields[i], "contains a NUL character or bytes that are not UTF-8")
		}
	}
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &liftrescue.Error{Code: liftrescue.EINVALID, Details: p,
		Message: fmt.Sprintf("%s: %s%s; nothing was stored", p[0].Field, p[0].Reason, more(len(p)))}
}
