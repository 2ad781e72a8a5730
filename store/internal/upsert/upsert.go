// Package upsert holds what both stores' imports share: which stored columns an import may update,
// the SET list of their upserts, which SQLite and PostgreSQL spell alike, and the checks and
// errors of import rows that need no database.
//
// It imports the root package only.
package upsert

import (
	"strings"

	"github.com/liftrescue/liftrescue"
)

// Column is a column an import updates on a stored record, with the import columns (as
// ImportOptions.Columns names them) that must all be present for it to be written.
type Column struct {
	Name    string
	Carried []string
}

// Set is the SET list of an upsert: the columns of cols the rows carry, then updated_at.
// It is built from the fixed lists below only, never from input.
func Set(cols []Column, opt liftrescue.ImportOptions) string {
	set := make([]string, 0, len(cols)+1)
	for _, c := range cols {
		carried := true
		for _, name := range c.Carried {
			carried = carried && opt.Has(name)
		}
		if carried {
			set = append(set, c.Name+" = excluded."+c.Name)
		}
	}
	return strings.Join(append(set, "updated_at = excluded.updated_at"), ", ")
}

// A position is written whole or not at all: a file with a lat column and no lon column must not
// leave a stored position half erased.
var position = []string{"lat", "lon"}

// OrgColumns are the columns an organisation import updates; code is the key.
var OrgColumns = []Column{
	{"kind", []string{"kind"}},
	{"name", []string{"name"}},
	{"district", []string{"district"}},
	{"address", []string{"address"}},
	{"lat", position},
	{"lon", position},
	{"duty_phones", []string{"duty_phones"}},
	{"contacts", []string{"contacts"}},
}

// ElevatorColumns are the columns an elevator import updates; equipment_code is the key.
var ElevatorColumns = []Column{
	{"rescue_code", []string{"rescue_code"}},
	{"address", []string{"address"}},
	{"building", []string{"building"}},
	{"district", []string{"district"}},
	{"lat", position},
	{"lon", position},
	{"kind", []string{"kind"}},
	{"floors", []string{"floors"}},
	{"manufacturer", []string{"manufacturer"}},
	{"model", []string{"model"}},
	{"installed_on", []string{"installed_on"}},
	{"user_unit_id", []string{"user_unit_code"}},
	{"maintenance_unit_id", []string{"maintenance_unit_code"}},
	{"last_maintained_at", []string{"last_maintained_at"}},
	{"inspection_valid_until", []string{"inspection_valid_until"}},
	{"status", []string{"status"}},
}
