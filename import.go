package liftrescue

import (
	"context"
	"errors"
	"fmt"
)

// UnitRef is what an import needs to know of an organisation named by its code.
type UnitRef struct {
	ID   int64
	Kind OrgKind
}

// ElevatorImportCheck holds the checks of an elevator import that need no database round trip, so
// that both stores judge rows alike: units resolved by code, Validate, the district, and codes
// repeated inside the file.
type ElevatorImportCheck struct {
	units       map[string]UnitRef
	districts   map[string]bool
	seenRescue  map[string]int
	seenEquipNo map[string]int
}

// NewElevatorImportCheck starts the checks of one import against the organisations and districts
// the store holds.
func NewElevatorImportCheck(units map[string]UnitRef, districts map[string]bool) *ElevatorImportCheck {
	return &ElevatorImportCheck{units: units, districts: districts, seenRescue: map[string]int{}, seenEquipNo: map[string]int{}}
}

// Row resolves the row's unit codes into its elevator's ids and returns the row's problems.
func (c *ElevatorImportCheck) Row(row *ElevatorRow) []Detail {
	e := &row.Elevator
	var bad []Detail
	for _, u := range []struct {
		field, code string
		kind        OrgKind
		id          *int64
	}{
		{"user_unit_code", row.UserUnitCode, OrgUserUnit, &e.UserUnitID},
		{"maintenance_unit_code", row.MaintenanceUnitCode, OrgMaintenance, &e.MaintenanceUnitID},
	} {
		ref, ok := c.units[u.code]
		if reason := UnitKindProblem(ok, ref.Kind, u.kind); reason != "" {
			bad = append(bad, Detail{Line: row.Line, Field: u.field, Value: u.code, Reason: "organization " + reason})
			*u.id = -1 // keeps Validate from reporting the same unit as missing
			continue
		}
		*u.id = ref.ID
	}
	for _, d := range RowProblems(row.Line, e.Validate()) {
		if d.Field != "user_unit_id" && d.Field != "maintenance_unit_id" {
			bad = append(bad, d)
		}
	}
	if len(bad) > 0 {
		return bad
	}
	if !c.districts[e.District] {
		bad = append(bad, Detail{Line: row.Line, Field: "district", Value: e.District, Reason: "no district has this code"})
	}
	for _, code := range []struct {
		field, value string
		seen         map[string]int
	}{{"rescue_code", e.RescueCode, c.seenRescue}, {"equipment_code", e.EquipmentCode, c.seenEquipNo}} {
		if first, dup := code.seen[code.value]; dup {
			bad = append(bad, Detail{Line: row.Line, Field: code.field, Value: code.value, Reason: fmt.Sprintf("repeats line %d", first)})
			continue
		}
		code.seen[code.value] = row.Line
	}
	return bad
}

// RescueCodeHeld is the row problem of a rescue code that another elevator of the registry holds.
func RescueCodeHeld(line int, code string, holder int64, holderEquipment string) Detail {
	return Detail{Line: line, Field: "rescue_code", Value: code,
		Reason: fmt.Sprintf("already used by elevator %d (equipment code %s)", holder, holderEquipment)}
}

// RowProblems turns a Validate error into the details of one import row.
func RowProblems(line int, err error) []Detail {
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) || len(e.Details) == 0 {
		return []Detail{{Line: line, Reason: ErrorMessage(err)}}
	}
	out := make([]Detail, len(e.Details))
	for i, d := range e.Details {
		d.Line = line
		out[i] = d
	}
	return out
}

// UpsertDistricts stores districts read from a boundary file, which has been checked whole before.
// It returns how many were new and how many replaced.
func UpsertDistricts(ctx context.Context, svc DistrictService, ds []District) (*ImportResult, error) {
	res := &ImportResult{Rows: len(ds), Errors: []Detail{}}
	for i := range ds {
		switch _, err := svc.FindDistrict(ctx, ds[i].Code); ErrorCode(err) {
		case "":
			res.Updated++
		case ENOTFOUND:
			res.Created++
		default:
			return nil, err
		}
		if err := svc.UpsertDistrict(ctx, &ds[i]); err != nil {
			return nil, fmt.Errorf("district %s: %w", ds[i].Code, err)
		}
	}
	return res, nil
}
