package upsert

import (
	"fmt"

	"github.com/liftrescue/liftrescue"
)

// OrgCheck holds the checks of an organisation import that need no database round trip, as
// liftrescue.ElevatorImportCheck does for elevators: Validate, the district, and codes repeated
// inside the file.
type OrgCheck struct {
	districts map[string]bool
	seen      map[string]int
}

// NewOrgCheck starts the checks of one import against the districts the store holds.
func NewOrgCheck(districts map[string]bool) *OrgCheck {
	return &OrgCheck{districts: districts, seen: map[string]int{}}
}

// Row returns the row's problems.
func (c *OrgCheck) Row(row *liftrescue.OrganizationRow) []liftrescue.Detail {
	o := &row.Org
	bad := liftrescue.RowProblems(row.Line, o.Validate())
	if len(bad) > 0 {
		return bad
	}
	if !c.districts[o.District] {
		bad = append(bad, liftrescue.Detail{Line: row.Line, Field: "district", Value: o.District, Reason: "no district has this code"})
	}
	if first, dup := c.seen[o.Code]; dup {
		bad = append(bad, liftrescue.Detail{Line: row.Line, Field: "code", Value: o.Code, Reason: fmt.Sprintf("repeats line %d", first)})
	}
	c.seen[o.Code] = row.Line
	return bad
}

// KindInUse is the row problem of an import that changes the kind of organisation id from stored
// to kind while elevators or teams rely on it, which UpdateOrganization refuses too.
func KindInUse(line int, id int64, kind, stored liftrescue.OrgKind) liftrescue.Detail {
	return liftrescue.Detail{Line: line, Field: "kind", Value: string(kind),
		Reason: fmt.Sprintf("organization %d is a %s that elevators or teams rely on; its kind cannot change", id, stored)}
}

// CodeTaken is the ECONFLICT of an elevator import whose row lost its rescue code to another
// write made after the rows were checked. The whole import is rolled back.
func CodeTaken(row *liftrescue.ElevatorRow, holder int64, holderEquipment string, cause error) error {
	taken := liftrescue.CodeTaken("rescue_code", row.Elevator.RescueCode, holder)
	taken.Message = fmt.Sprintf("line %d: %s (equipment code %s), which took it during the import; nothing was imported",
		row.Line, taken.Message, holderEquipment)
	taken.Details = []liftrescue.Detail{liftrescue.RescueCodeHeld(row.Line, row.Elevator.RescueCode, holder, holderEquipment)}
	taken.Err = cause
	return taken
}
