package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

const elevatorColumns = `id, rescue_code, equipment_code, address, building, district, lat, lon, kind, floors,
	manufacturer, model, installed_on, user_unit_id, maintenance_unit_id, last_maintained_at,
	inspection_valid_until, status, created_at, updated_at`

func (db *DB) FindElevatorByCode(ctx context.Context, code string) (*liftrescue.Elevator, error) {
	column := "rescue_code"
	if liftrescue.IsEquipmentCode(code) {
		column = "equipment_code"
	}
	e, err := scanElevator(db.db.QueryRowContext(ctx, `SELECT `+elevatorColumns+` FROM elevators WHERE `+column+` = ?`, code))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, liftrescue.Errorf(liftrescue.ENOTFOUND, "no elevator has the code %q", code)
	}
	return e, err
}

func (db *DB) FindElevator(ctx context.Context, id int64) (*liftrescue.Elevator, error) {
	return findElevator(ctx, db.db, id)
}

func findElevator(ctx context.Context, q queryer, id int64) (*liftrescue.Elevator, error) {
	e, err := scanElevator(q.QueryRowContext(ctx, `SELECT `+elevatorColumns+` FROM elevators WHERE id = ?`, id))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, liftrescue.Errorf(liftrescue.ENOTFOUND, "no elevator has the id %d", id)
	}
	return e, err
}

func (db *DB) ListElevators(ctx context.Context, f liftrescue.ElevatorFilter) (*liftrescue.Page[*liftrescue.Elevator], error) {
	return page(ctx, db.db, "elevators", sqlq.Elevators(f, dialect), f.Paging, elevatorColumns, scanElevator,
		func(e *liftrescue.Elevator) int64 { return e.ID })
}

func (db *DB) CreateElevator(ctx context.Context, e *liftrescue.Elevator) error {
	if err := e.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkElevatorRefs(ctx, tx, e); err != nil {
			return err
		}
		now := db.stamp()
		err := tx.QueryRowContext(ctx, `INSERT INTO elevators (rescue_code, equipment_code, address, building, district, lat, lon, kind,
			floors, manufacturer, model, installed_on, user_unit_id, maintenance_unit_id, last_maintained_at, inspection_valid_until,
			status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			append(elevatorValues(e), formatTime(now), formatTime(now))...).Scan(&e.ID)
		if err != nil {
			return translate(err)
		}
		e.CreatedAt, e.UpdatedAt = now, now
		return nil
	})
}

func (db *DB) UpdateElevator(ctx context.Context, e *liftrescue.Elevator) error {
	if err := e.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		old, err := findElevator(ctx, tx, e.ID)
		if err != nil {
			return err
		}
		if err := checkElevatorRefs(ctx, tx, e); err != nil {
			return err
		}
		now := db.stamp()
		_, err = tx.ExecContext(ctx, `UPDATE elevators SET rescue_code = ?, equipment_code = ?, address = ?, building = ?, district = ?,
			lat = ?, lon = ?, kind = ?, floors = ?, manufacturer = ?, model = ?, installed_on = ?, user_unit_id = ?,
			maintenance_unit_id = ?, last_maintained_at = ?, inspection_valid_until = ?, status = ?, updated_at = ? WHERE id = ?`,
			append(elevatorValues(e), formatTime(now), e.ID)...)
		if err != nil {
			return translate(err)
		}
		e.CreatedAt, e.UpdatedAt = old.CreatedAt, now
		return nil
	})
}

func (db *DB) DeleteElevator(ctx context.Context, id int64) error {
	res, err := db.db.ExecContext(ctx, `DELETE FROM elevators WHERE id = ?`, id)
	if err != nil {
		return translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return liftrescue.Errorf(liftrescue.ENOTFOUND, "no elevator has the id %d", id)
	}
	return nil
}

// elevatorValues lists e's writable columns in the order of the INSERT and UPDATE statements.
func elevatorValues(e *liftrescue.Elevator) []any {
	return []any{e.RescueCode, e.EquipmentCode, e.Address, e.Building, e.District, e.Lat, e.Lon, e.Kind,
		e.Floors, e.Manufacturer, e.Model, nullDate(e.InstalledOn), e.UserUnitID, e.MaintenanceUnitID,
		nullTime(e.LastMaintainedAt), nullDate(e.InspectionValidUntil), e.Status}
}

// checkElevatorRefs checks, inside the writing transaction, what Validate cannot: that the district
// and both units exist with the right kinds, and that no other elevator holds either code.
func checkElevatorRefs(ctx context.Context, q queryer, e *liftrescue.Elevator) error {
	if err := checkDistrict(ctx, q, e.District); err != nil {
		return err
	}
	for _, ref := range []struct {
		field string
		id    int64
		kind  liftrescue.OrgKind
	}{{"user_unit_id", e.UserUnitID, liftrescue.OrgUserUnit}, {"maintenance_unit_id", e.MaintenanceUnitID, liftrescue.OrgMaintenance}} {
		var kind liftrescue.OrgKind
		err := q.QueryRowContext(ctx, `SELECT kind FROM organizations WHERE id = ?`, ref.id).Scan(&kind)
		if err != nil && err != sql.ErrNoRows {
			return translate(err)
		}
		if reason := liftrescue.UnitKindProblem(err == nil, kind, ref.kind); reason != "" {
			return liftrescue.Invalid(ref.field, fmt.Sprintf("organization %d %s", ref.id, reason))
		}
	}
	for _, code := range []struct{ field, value string }{{"rescue_code", e.RescueCode}, {"equipment_code", e.EquipmentCode}} {
		var holder int64
		err := q.QueryRowContext(ctx, `SELECT id FROM elevators WHERE `+code.field+` = ? AND id <> ?`, code.value, e.ID).Scan(&holder)
		switch {
		case err == sql.ErrNoRows:
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
	var installed, maintained, inspection sql.NullString
	var created, updated string
	err := r.Scan(&e.ID, &e.RescueCode, &e.EquipmentCode, &e.Address, &e.Building, &e.District, &e.Lat, &e.Lon, &e.Kind, &e.Floors,
		&e.Manufacturer, &e.Model, &installed, &e.UserUnitID, &e.MaintenanceUnitID, &maintained, &inspection, &e.Status, &created, &updated)
	if err != nil {
		return nil, translate(err)
	}
	if installed.Valid {
		if e.InstalledOn, err = liftrescue.ParseDate(installed.String); err != nil {
			return nil, err
		}
	}
	if inspection.Valid {
		if e.InspectionValidUntil, err = liftrescue.ParseDate(inspection.String); err != nil {
			return nil, err
		}
	}
	if maintained.Valid {
		t, err := parseTime(maintained.String)
		if err != nil {
			return nil, err
		}
		e.LastMaintainedAt = &t
	}
	if e.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if e.UpdatedAt, err = parseTime(updated); err != nil {
		return nil, err
	}
	return &e, nil
}
