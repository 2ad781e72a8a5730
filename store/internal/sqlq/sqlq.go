// Package sqlq holds the SQL that both stores build alike: the WHERE clause of a list query, the
// conditions that each list filter of the root package stands for, the patterns and ranges of a
// search; the checks and errors of a batch of positions and of a track, so that both stores
// answer them alike; and how a write of a vehicle settles its device secret. What the two
// dialects spell differently (the spatial index, the case-blind LIKE) each store gives in its
// Dialect; the rest of its SQL stays in the store.
//
// Conditions are written with ? placeholders, as SQLite takes them; the PostgreSQL store numbers
// them $1, $2, … with Dollar once its statement is whole.
//
// It imports the root package only.
package sqlq

import (
	"strconv"
	"strings"

	"github.com/liftrescue/liftrescue"
)

// Where collects the conditions of a list query, joined by AND, and their arguments in order.
type Where struct {
	Conds []string
	Args  []any
}

// Add appends a condition whose ? placeholders take args.
func (w *Where) Add(cond string, args ...any) {
	w.Conds = append(w.Conds, cond)
	w.Args = append(w.Args, args...)
}

// String is the WHERE clause with a leading space, or "" when there is no condition.
func (w Where) String() string {
	if len(w.Conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.Conds, " AND ")
}

// Dollar numbers the ? placeholders of a whole statement $1, $2, … in the order they stand, for
// PostgreSQL; a ? inside a quoted string literal is left alone. The statement must be whole, so
// that the numbers follow the order of all its arguments: a subquery's, then its WHERE's, then
// its LIMIT's.
func Dollar(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 8)
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		switch c := query[i]; {
		case c == '\'':
			quoted = !quoted // '' inside a literal toggles twice
			b.WriteByte(c)
		case c == '?' && !quoted:
			n++
			b.WriteString("$" + strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// LikePattern escapes LIKE wildcards in user text and puts prefix and suffix around it; the
// conditions use ESCAPE '\'.
func LikePattern(prefix, s, suffix string) string {
	return prefix + likeEscaper.Replace(s) + suffix
}

// IsDigits reports whether s is made of ASCII digits only, as the codes are.
func IsDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// PrefixEnd returns the least string above every string that starts with the digits q: q with
// its last byte incremented. A digit's successor is ':', so there is always one.
func PrefixEnd(q string) string {
	return q[:len(q)-1] + string(rune(q[len(q)-1]+1))
}

// Dialect is what a store spells its own way in the conditions of a list.
type Dialect struct {
	// Like is the operator of a search in text. SQLite's LIKE ignores ASCII case and
	// PostgreSQL's does not, so PostgreSQL uses ILIKE and both stores find the same rows.
	Like string
	// BBox adds the condition that finds the elevators in b through the store's spatial index.
	// It may take in rows just outside the edges: an exact condition follows it.
	BBox func(w *Where, b *liftrescue.BBox)
}

// like is a search of column for one pattern argument.
func (d Dialect) like(column string) string {
	return column + " " + d.Like + ` ? ESCAPE '\'`
}

// Elevators gives the conditions of f over the elevators table.
func Elevators(f liftrescue.ElevatorFilter, d Dialect) Where {
	var w Where
	if b := f.BBox; b != nil {
		d.BBox(&w, b)
		w.Add(`lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?`, b.MinLon, b.MaxLon, b.MinLat, b.MaxLat)
	}
	if f.District != "" {
		w.Add("district = ?", f.District)
	}
	if f.UserUnitID != 0 {
		w.Add("user_unit_id = ?", f.UserUnitID)
	}
	if f.MaintenanceUnitID != 0 {
		w.Add("maintenance_unit_id = ?", f.MaintenanceUnitID)
	}
	switch {
	case f.Q == "":
	case IsDigits(f.Q):
		// A code prefix as a range, so that each code's unique index is searched rather than
		// every row. SQLite's LIKE could use them only under case_sensitive_like; in PostgreSQL
		// the code columns are COLLATE "C", so the range is in byte order, as the index is,
		// whatever the database's locale.
		lo, hi := f.Q, PrefixEnd(f.Q)
		w.Add(`(rescue_code >= ? AND rescue_code < ? OR equipment_code >= ? AND equipment_code < ?)`, lo, hi, lo, hi)
	default:
		part := LikePattern("%", f.Q, "%")
		w.Add(`(`+d.like("address")+` OR `+d.like("building")+`)`, part, part)
	}
	return w
}

// Organizations gives the conditions of f over the organizations table: Q is a prefix of the code
// or a part of the name.
func Organizations(f liftrescue.OrganizationFilter, d Dialect) Where {
	var w Where
	if f.Kind != "" {
		// A plain string, so that no driver needs reflection to encode it.
		w.Add("kind = ?", string(f.Kind))
	}
	if f.District != "" {
		w.Add("district = ?", f.District)
	}
	if f.Q != "" {
		w.Add(`(`+d.like("code")+` OR `+d.like("name")+`)`, LikePattern("", f.Q, "%"), LikePattern("%", f.Q, "%"))
	}
	return w
}

// Teams gives the conditions of f over the teams table.
func Teams(f liftrescue.TeamFilter) Where {
	var w Where
	if f.OrganizationID != 0 {
		w.Add("organization_id = ?", f.OrganizationID)
	}
	return w
}

// VehicleFrom joins each vehicle (v) to its team (t), which gives its organisation.
const VehicleFrom = `vehicles v JOIN teams t ON t.id = v.team_id`

// Vehicles gives the conditions of f over VehicleFrom.
func Vehicles(f liftrescue.VehicleFilter) Where {
	var w Where
	if f.TeamID != 0 {
		w.Add("v.team_id = ?", f.TeamID)
	}
	if f.OrganizationID != 0 {
		w.Add("t.organization_id = ?", f.OrganizationID)
	}
	return w
}

// DeviceSecret is the secret a write of v offers to store: the one v gives, else a new one when a
// tracker is fitted, else none. An update stores it through KeepDeviceSecret, which may keep the
// stored one instead.
func DeviceSecret(v *liftrescue.Vehicle) string {
	switch {
	case v.DeviceID == "":
		return ""
	case v.DeviceSecret != "":
		return v.DeviceSecret
	}
	return liftrescue.NewDeviceSecret()
}

// KeepDeviceSecret is the value an UPDATE of vehicles sets device_secret to. Its arguments are
// whether the caller gave no secret, the device id written and DeviceSecret(v): with no secret
// given and the same tracker still fitted, the stored secret stays (a tracker keeps working when
// its vehicle is edited); a secret given, a new tracker or none takes the offered one. The
// decision is made on the row that the UPDATE changes, as it stands then, so that no write
// committed in between is missed. An empty stored secret (a row written by an older binary) is
// replaced.
const KeepDeviceSecret = `CASE WHEN ? AND device_id = ? AND device_secret <> '' THEN device_secret ELSE ? END`

// KeepDeviceSecretArgs are the arguments of KeepDeviceSecret for a write of v.
func KeepDeviceSecretArgs(v *liftrescue.Vehicle) []any {
	return []any{v.DeviceSecret == "", v.DeviceID, DeviceSecret(v)}
}
