package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

// elevatorFields are the columns a write sets, in the order of elevatorValues.
var elevatorFields = []string{"rescue_code", "equipment_code", "address", "building", "district", "lat", "lon", "kind",
	"floors", "manufacturer", "model", "installed_on", "user_unit_id", "maintenance_unit_id", "last_maintained_at",
	"inspection_valid_until", "status"}

var elevatorColumns = "id, " + strings.Join(elevatorFields, ", ") + ", created_at, updated_at"

// elevatorValues lists e's writable columns in the order of elevatorFields. Kinds go as plain
// strings so that pgx needs no reflection to encode them, which shows in a 100,000-row import.
func elevatorValues(e *liftrescue.Elevator) []any {
	return []any{e.RescueCode, e.EquipmentCode, e.Address, e.Building, e.District, e.Lat, e.Lon, string(e.Kind),
		e.Floors, e.Manufacturer, e.Model, date{&e.InstalledOn}, e.UserUnitID, e.MaintenanceUnitID,
		e.LastMaintainedAt, date{&e.InspectionValidUntil}, string(e.Status)}
}

func (db *DB) FindElevatorByCode(ctx context.Context, code string) (*liftrescue.Elevator, error) {
	column := "rescue_code"
	if liftrescue.IsEquipmentCode(code) {
		column = "equipment_code"
	}
	return one(db.pool.QueryRow(ctx, `SELECT `+elevatorColumns+` FROM elevators WHERE `+column+` = $1`, code), scanElevator,
		"no elevator has the code %q", code)
}

func (db *DB) FindElevator(ctx context.Context, id int64) (*liftrescue.Elevator, error) {
	return findElevator(ctx, db.pool, id)
}

func findElevator(ctx context.Context, q querier, id int64) (*liftrescue.Elevator, error) {
	return one(q.QueryRow(ctx, `SELECT `+elevatorColumns+` FROM elevators WHERE id = $1`, id), scanElevator,
		"no elevator has the id %d", id)
}

func (db *DB) ListElevators(ctx context.Context, f liftrescue.ElevatorFilter) (*liftrescue.Page[*liftrescue.Elevator], error) {
	return page(ctx, db.pool, "elevators", sqlq.Elevators(f, dialect), f.Paging, elevatorColumns, scanElevator,
		func(e *liftrescue.Elevator) int64 { return e.ID })
}

func (db *DB) CreateElevator(ctx context.Context, e *liftrescue.Elevator) error {
	if err := e.Validate(); err != nil {
		return err
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := checkElevatorRefs(ctx, tx, e); err != nil {
			return err
		}
		now := db.stamp()
		var id int64
		if err := tx.QueryRow(ctx, insertSQL("elevators", elevatorFields), append(elevatorValues(e), now, now)...).Scan(&id); err != nil {
			return translate(err)
		}
		e.ID, e.CreatedAt, e.UpdatedAt = id, now, now
		return nil
	})
	return db.explainTaken(ctx, err, 0, elevatorCodes(e))
}

// elevatorCodes gives e's value of a unique field, for explainTaken.
func elevatorCodes(e *liftrescue.Elevator) func(string) string {
	return func(field string) string {
		if field == "rescue_code" {
			return e.RescueCode
		}
		return e.EquipmentCode
	}
}

func (db *DB) UpdateElevator(ctx context.Context, e *liftrescue.Elevator) error {
	if err := e.Validate(); err != nil {
		return err
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		old, err := findElevator(ctx, tx, e.ID)
		if err != nil {
			return err
		}
		if err := checkElevatorRefs(ctx, tx, e); err != nil {
			return err
		}
		now := db.stamp()
		if _, err := tx.Exec(ctx, updateSQL("elevators", elevatorFields), append(elevatorValues(e), now, e.ID)...); err != nil {
			return translate(err)
		}
		e.CreatedAt, e.UpdatedAt = old.CreatedAt, now
		return nil
	})
	return db.explainTaken(ctx, err, e.ID, elevatorCodes(e))
}

func (db *DB) DeleteElevator(ctx context.Context, id int64) error {
	return deleteByID(ctx, db.pool, "elevators", "elevator", id)
}

// checkElevatorRefs checks, inside the writing transaction, what Validate cannot: that the district
// and both units exist with the right kinds, and that no other elevator holds either code.
func checkElevatorRefs(ctx context.Context, q querier, e *liftrescue.Elevator) error {
	if err := checkDistrict(ctx, q, e.District); err != nil {
		return err
	}
	for _, ref := range []struct {
		field string
		id    int64
		kind  liftrescue.OrgKind
	}{{"user_unit_id", e.UserUnitID, liftrescue.OrgUserUnit}, {"maintenance_unit_id", e.MaintenanceUnitID, liftrescue.OrgMaintenance}} {
		var kind liftrescue.OrgKind
		err := q.QueryRow(ctx, `SELECT kind FROM organizations WHERE id = $1`, ref.id).Scan(&kind)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return translate(err)
		}
		if reason := liftrescue.UnitKindProblem(err == nil, kind, ref.kind); reason != "" {
			return liftrescue.Invalid(ref.field, fmt.Sprintf("organization %d %s", ref.id, reason))
		}
	}
	for _, code := range []struct{ field, value string }{{"rescue_code", e.RescueCode}, {"equipment_code", e.EquipmentCode}} {
		var holder int64
		err := q.QueryRow(ctx, `SELECT id FROM elevators WHERE `+code.field+` = $1 AND id <> $2`, code.value, e.ID).Scan(&holder)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			continue
		case err != nil:
			return translate(err)
		}
		return liftrescue.CodeTaken(code.field, code.value, holder)
	}
	return nil
}

func scanElevator(r rowScanner) (*liftrescue.Elevator, error) {
	var e liftrescue.Elevator
	err := r.Scan(&e.ID, &e.RescueCode, &e.EquipmentCode, &e.Address, &e.Building, &e.District, &e.Lat, &e.Lon, &e.Kind, &e.Floors,
		&e.Manufacturer, &e.Model, date{&e.InstalledOn}, &e.UserUnitID, &e.MaintenanceUnitID, &e.LastMaintainedAt,
		date{&e.InspectionValidUntil}, &e.Status, &e.CreatedAt, &e.UpdatedAt)
	if err != nil {
		return nil, translate(err)
	}
	return &e, nil
}
