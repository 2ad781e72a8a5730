package sqlq

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/liftrescue/liftrescue"
)

// Both stores keep the terminals registered on elevators and the elevators' fault records
// (migration 0007) with the statements below, which differ between them only in their
// placeholders (Dollar), in how a time is bound (TimeArg) and read (the destinations that the Dest
// functions take), and in the row locks that PostgreSQL takes where SQLite's one writer needs
// none. What a write stores is settled here, and its refusals worded here, so that both stores
// answer alike.

// The columns read back, in the order of TerminalDest and FaultDest: a terminal (t) with its
// elevator's equipment code and district (e, TerminalFrom), and a fault, which reads 0 for no
// incident.
const (
	TerminalColumns = `t.id, t.elevator_id, e.equipment_code, e.district, t.platform, t.model, t.created_at, t.updated_at,
	t.last_seen`
	FaultColumns = `id, elevator_id, terminal_id, namespace, code, kind, priority, state, first_at, last_at, repeats,
	coalesce(incident_id, 0), sender, counts`
)

// CountingFault is the condition of a fault that counts towards the repeated-fault flag, written
// exactly as the partial index faults_counting of migration 0007 is, so that the planners use it.
const CountingFault = `counts`

// The statements of the terminal and fault services.
const (
	// TerminalFrom joins each terminal (t) to its elevator (e).
	TerminalFrom = `terminals t JOIN elevators e ON e.id = t.elevator_id`
	// ElevatorOfTerminal gives the equipment code and the district of the elevator that a terminal
	// written names, no row when there is none. PostgreSQL locks the elevator with it
	// (ForKeyShare).
	ElevatorOfTerminal = `SELECT equipment_code, district FROM elevators WHERE id = ?`
	// InsertTerminal takes TerminalArgs; it changes no row when a terminal has the id, and then
	// ReplaceTerminal, which takes ReplaceTerminalArgs, writes it and returns the creation time and
	// the last_seen that it keeps (no row when the terminal is gone meanwhile).
	InsertTerminal = `INSERT INTO terminals (id, elevator_id, platform, model, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO NOTHING`
	ReplaceTerminal = `UPDATE terminals SET elevator_id = ?, platform = ?, model = ?, updated_at = ? WHERE id = ?
	RETURNING created_at, last_seen`
	FindTerminal   = `SELECT ` + TerminalColumns + ` FROM ` + TerminalFrom + ` WHERE t.id = ?`
	DeleteTerminal = `DELETE FROM terminals WHERE id = ?`
	// TouchTerminal takes TouchTerminalArgs. The time only moves forward: instances that flush
	// what they heard in any order leave the latest.
	TouchTerminal = `UPDATE terminals SET last_seen = CASE WHEN last_seen IS NULL OR last_seen < ? THEN ? ELSE last_seen END
	WHERE id = ?`

	// InsertFault takes FaultArgs and returns the id.
	InsertFault = `INSERT INTO faults (elevator_id, terminal_id, namespace, code, kind, priority, state, first_at, last_at, repeats,
	incident_id, sender, counts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	// AddFaultRepeat takes AddFaultRepeatArgs. LastAt only moves forward.
	AddFaultRepeat = `UPDATE faults SET repeats = repeats + ?, last_at = CASE WHEN last_at < ? THEN ? ELSE last_at END WHERE id = ?`
)

// CountFaults selects from the faults (from names the table and how to read it) the elevators
// with their counting faults and the latest one's first_at; it takes CountFaultsArgs. It reads
// the period's counting faults from the partial index faults_counting and groups them.
func CountFaults(from string) string {
	return `SELECT elevator_id, count(*), max(first_at) FROM ` + from + ` WHERE ` + CountingFault + ` AND first_at >= ?
	GROUP BY elevator_id HAVING count(*) >= ? ORDER BY count(*) DESC, max(first_at) DESC, elevator_id`
}

// ElevatorsIn selects those of n elevators (n > 0) that exist, for the elevators of a batch of
// faults (ElevatorsInArgs). PostgreSQL locks them with it (ForKeyShare).
func ElevatorsIn(n int) string {
	return `SELECT id FROM elevators WHERE id IN (` + marks(n) + `)`
}

// ForKeyShare is what PostgreSQL appends to ElevatorsIn and ElevatorOfTerminal: the elevators
// found stay until the write that relies on them commits, as the foreign keys would keep them,
// without blocking their updates.
const ForKeyShare = ` FOR KEY SHARE`

// NoTerminalElevator is the EINVALID of a terminal registered on an elevator that does not exist.
func NoTerminalElevator(id int64) error {
	reason := "no elevator has this id"
	return &liftrescue.Error{Code: liftrescue.EINVALID, Message: fmt.Sprintf("invalid terminal: elevator_id: no elevator has the id %d", id),
		Details: []liftrescue.Detail{{Field: "elevator_id", Value: strconv.FormatInt(id, 10), Reason: reason}}}
}

// NoTerminal is the ENOTFOUND of a terminal id.
func NoTerminal(id string) error {
	return liftrescue.Errorf(liftrescue.ENOTFOUND, "no terminal has the id %q", id)
}

// TerminalChanged is the ECONFLICT of a terminal that other writers kept inserting and deleting
// while PutTerminal tried to write it.
func TerminalChanged(id string) error {
	return liftrescue.Errorf(liftrescue.ECONFLICT, "terminal %q was registered and deleted meanwhile; try again", id)
}

// PutTerminal checks t and settles what is stored, on a copy: its text normalised, created and
// updated at now (in UTC to the microsecond), never heard from. write stores the copy in one
// transaction and sets the elevator's equipment code and district on it (what the caller gives
// there is not stored); when it replaces a stored terminal it sets the copy's creation time and
// LastSeen to the stored ones. Once write has succeeded the caller's t gets what was stored, as a
// read gives it back, so that a refused write leaves t as it was.
func PutTerminal(t *liftrescue.Terminal, now time.Time, write func(w *liftrescue.Terminal) (created bool, err error)) (bool, error) {
	w := *t
	if err := w.Validate(); err != nil {
		return false, err
	}
	w.EquipmentCode, w.District = "", ""
	w.CreatedAt, w.UpdatedAt, w.LastSeen = us(now), us(now), nil
	created, err := write(&w)
	if err != nil {
		return false, err
	}
	*t = w
	return created, nil
}

// TerminalArgs are the arguments of InsertTerminal.
func TerminalArgs(t *liftrescue.Terminal, tm TimeArg) []any {
	return []any{t.ID, t.ElevatorID, t.Platform, t.Model, tm(t.CreatedAt), tm(t.UpdatedAt)}
}

// ReplaceTerminalArgs are the arguments of ReplaceTerminal.
func ReplaceTerminalArgs(t *liftrescue.Terminal, tm TimeArg) []any {
	return []any{t.ElevatorID, t.Platform, t.Model, tm(t.UpdatedAt), t.ID}
}

// TerminalDest are the destinations of a row of TerminalColumns; the time destinations receive the
// times as the store reads them.
func TerminalDest(t *liftrescue.Terminal, created, updated, lastSeen any) []any {
	return []any{&t.ID, &t.ElevatorID, &t.EquipmentCode, &t.District, &t.Platform, &t.Model, created, updated, lastSeen}
}

// ListTerminals gives the query of a list of terminals and its arguments, and the limit of the
// page: the query asks for one row more, which says whether more follow. Returns EINVALID for a
// limit out of range, and for an After that no terminal id can follow (it is not text both
// databases keep).
func ListTerminals(f liftrescue.TerminalFilter) (query string, args []any, limit int, err error) {
	p := liftrescue.Paging{Limit: f.Limit}
	if _, err := p.Normalize(); err != nil {
		return "", nil, 0, err
	}
	var w Where
	if f.ElevatorID != 0 {
		w.Add("t.elevator_id = ?", f.ElevatorID)
	}
	if f.After != "" {
		if !IsStorable(f.After) {
			return "", nil, 0, liftrescue.Invalid("after", "not a terminal id")
		}
		w.Add("t.id > ?", f.After)
	}
	query = `SELECT ` + TerminalColumns + ` FROM ` + TerminalFrom + w.String() + ` ORDER BY t.id LIMIT ?`
	return query, append(w.Args, p.Limit+1), p.Limit, nil
}

// PageTerminals cuts the rows of ListTerminals to the limit and says whether more follow.
func PageTerminals(ts []*liftrescue.Terminal, limit int) ([]*liftrescue.Terminal, bool) {
	if ts == nil {
		ts = []*liftrescue.Terminal{}
	}
	if len(ts) > limit {
		return ts[:limit], true
	}
	return ts, false
}

// TouchTerminalArgs are the arguments of TouchTerminal for each terminal heard from, in ascending
// id order, so that two instances touching the same terminals lock their rows in the same order
// and never deadlock. An id that is not text both databases keep names no terminal and is left
// out.
func TouchTerminalArgs(seen map[string]time.Time, t TimeArg) [][]any {
	ids := make([]string, 0, len(seen))
	for id := range seen {
		if IsStorable(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([][]any, len(ids))
	for i, id := range ids {
		at := t(us(seen[id]))
		out[i] = []any{at, at, id}
	}
	return out
}

// AppendFaults checks a batch of faults and settles what is stored, on copies: their times in UTC
// to the microsecond. write stores the copies in one transaction and sets their IDs; once it has
// succeeded the caller's faults get what was stored, so that a refused batch keeps no IDs. An
// empty batch writes nothing.
func AppendFaults(fs []*liftrescue.Fault, write func(w []liftrescue.Fault) error) error {
	if len(fs) == 0 {
		return nil
	}
	if err := checkFaults(fs); err != nil {
		return err
	}
	w := make([]liftrescue.Fault, len(fs))
	for i, f := range fs {
		w[i] = *f
		w[i].ID, w[i].FirstAt, w[i].LastAt = 0, us(f.FirstAt), us(f.LastAt)
	}
	if err := write(w); err != nil {
		return err
	}
	for i, f := range fs {
		*f = w[i]
	}
	return nil
}

// checkFaults returns the EINVALID error of a batch that no database could store alike: text that
// is not UTF-8 or holds a NUL character, which PostgreSQL refuses (in the state's JSON too). The
// details name each bad fault by index.
func checkFaults(fs []*liftrescue.Fault) error {
	var bad []liftrescue.Detail
	for i, f := range fs {
		fields := []string{"terminal_id", f.TerminalID, "namespace", string(f.Namespace), "code", f.Code, "kind", string(f.Kind),
			"sender", f.Sender}
		if s := f.State; s != nil {
			for _, v := range []struct {
				field string
				value *string
			}{{"state.service_mode", s.ServiceMode}, {"state.direction", s.Direction}, {"state.floor", s.Floor}} {
				if v.value != nil {
					fields = append(fields, v.field, *v.value)
				}
			}
		}
		var p problems
		p.text("", fields...)
		for _, d := range p {
			d.Index = new(i)
			bad = append(bad, d)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &liftrescue.Error{Code: liftrescue.EINVALID, Details: bad,
		Message: fmt.Sprintf("fault %d: %s: %s%s; nothing was stored", *bad[0].Index, bad[0].Field, bad[0].Reason, more(len(bad)))}
}

// ElevatorsInArgs are the distinct elevators that a batch of faults names, in ascending order: the
// arguments of ElevatorsIn(len(args)).
func ElevatorsInArgs(fs []liftrescue.Fault) []any {
	ids := make([]int64, len(fs))
	for i := range fs {
		ids[i] = fs[i].ElevatorID
	}
	slices.Sort(ids)
	return anys(slices.Compact(ids))
}

// FaultElevators is the EINVALID error of a batch in which faults name elevators that do not
// exist (are not among found), with a detail for each such fault, by index; nil when there is none.
func FaultElevators(fs []liftrescue.Fault, found map[int64]bool) error {
	var bad []liftrescue.Detail
	for i := range fs {
		if id := fs[i].ElevatorID; !found[id] {
			bad = append(bad, liftrescue.Detail{Index: new(i), Field: "elevator_id", Value: strconv.FormatInt(id, 10),
				Reason: "no elevator has this id"})
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &liftrescue.Error{Code: liftrescue.EINVALID, Details: bad,
		Message: fmt.Sprintf("fault %d: no elevator has the id %s%s; nothing was stored", *bad[0].Index, bad[0].Value, more(len(bad)))}
}

// FaultArgs are the arguments of InsertFault: the state as JSON text, NULL when there is none, and
// the incident NULL when there is none.
func FaultArgs(f *liftrescue.Fault, t TimeArg) []any {
	var state, incident any
	if f.State != nil {
		b, _ := json.Marshal(f.State) // pointers to strings and bools always marshal
		state = string(b)
	}
	if f.IncidentID != 0 {
		incident = f.IncidentID
	}
	return []any{f.ElevatorID, f.TerminalID, string(f.Namespace), f.Code, string(f.Kind), f.Priority, state, t(f.FirstAt), t(f.LastAt),
		f.Repeats, incident, f.Sender, f.Counts}
}

// FaultDest are the destinations of a row of FaultColumns; state receives the JSON text or nil,
// for DecodeState, and the time destinations the times as the store reads them.
func FaultDest(f *liftrescue.Fault, state **string, first, last any) []any {
	return []any{&f.ID, &f.ElevatorID, &f.TerminalID, &f.Namespace, &f.Code, &f.Kind, &f.Priority, state, first, last, &f.Repeats,
		&f.IncidentID, &f.Sender, &f.Counts}
}

// DecodeState reads the state column into f: nil stays nil.
func DecodeState(f *liftrescue.Fault, state *string) error {
	f.State = nil
	if state == nil {
		return nil
	}
	var s liftrescue.RunningState
	if err := json.Unmarshal([]byte(*state), &s); err != nil {
		return fmt.Errorf("fault %d: state: %w", f.ID, err)
	}
	f.State = &s
	return nil
}

// AddFaultRepeatArgs are the arguments of AddFaultRepeat for each repeat, in ascending id order,
// so that two instances adding to the same faults lock their rows in the same order and never
// deadlock.
func AddFaultRepeatArgs(rs []liftrescue.FaultRepeat, t TimeArg) [][]any {
	sorted := slices.Clone(rs)
	slices.SortStableFunc(sorted, func(a, b liftrescue.FaultRepeat) int { return cmp.Compare(a.ID, b.ID) })
	out := make([][]any, len(sorted))
	for i, r := range sorted {
		at := t(us(r.LastAt))
		out[i] = []any{r.Repeats, at, at, r.ID}
	}
	return out
}

// FaultList is a page of an elevator's faults as a store reads it: the page query, newest first,
// asks for one row more than Limit, which says whether a next page follows; the count query gives
// the total, which the first page often knows without it.
type FaultList struct {
	Query, Count    string
	Args, CountArgs []any
	Limit           int
	after           int64
}

// ListFaults gives the queries of a page of faults. The list is ordered by first_at, then id, both
// newest first, and the cursor is the id of the last fault of the page before: the page goes on
// below that fault's first_at and id, which never change. (Faults are deleted only with their
// elevator, so the fault of a cursor is there as long as its list is.) An ElevatorID of 0 lists
// every elevator's faults. Returns EINVALID for bad paging.
func ListFaults(f liftrescue.FaultFilter, t TimeArg) (*FaultList, error) {
	after, err := f.Paging.Normalize()
	if err != nil {
		return nil, err
	}
	var w Where
	if f.ElevatorID != 0 {
		w.Add("elevator_id = ?", f.ElevatorID)
	}
	if !f.Since.IsZero() {
		w.Add("first_at >= ?", t(us(f.Since)))
	}
	l := &FaultList{Limit: f.Limit, after: after,
		Count: `SELECT count(*) FROM faults` + w.String(), CountArgs: slices.Clone(w.Args)}
	if after > 0 {
		w.Add("(first_at, id) < ((SELECT first_at FROM faults WHERE id = ?), ?)", after, after)
	}
	l.Query = `SELECT ` + FaultColumns + ` FROM faults` + w.String() + ` ORDER BY first_at DESC, id DESC LIMIT ?`
	l.Args = append(w.Args, f.Limit+1)
	return l, nil
}

// Page makes the page of the faults that Query read; count runs Count when the total is not known
// without it.
func (l *FaultList) Page(items []*liftrescue.Fault, count func() (int, error)) (*liftrescue.Page[*liftrescue.Fault], error) {
	if items == nil {
		items = []*liftrescue.Fault{}
	}
	out := &liftrescue.Page[*liftrescue.Fault]{Items: items}
	if total, known := liftrescue.TotalOfFirstPage(items, l.Limit, l.after); known {
		out.Total = total
	} else {
		var err error
		if out.Total, err = count(); err != nil {
			return nil, err
		}
	}
	if len(items) > l.Limit {
		out.Items = items[:l.Limit]
		out.NextCursor = liftrescue.EncodeCursor(out.Items[l.Limit-1].ID)
	}
	return out, nil
}

// CountFaultsArgs are the arguments of CountFaults: the start of the period and the least number
// of faults.
func CountFaultsArgs(since time.Time, atLeast int, t TimeArg) []any {
	return []any{t(us(since)), atLeast}
}

// FaultCountDest are the destinations of a row of CountFaults; last receives the time as the store
// reads it.
func FaultCountDest(c *liftrescue.FaultCount, last any) []any {
	return []any{&c.ElevatorID, &c.Faults, last}
}
