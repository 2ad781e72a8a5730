package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/liftrescue/liftrescue"
)

// ImportOrganizations upserts by code inside one transaction: every row is checked against the file
// and the database before anything is written, so an all-or-nothing import that fails leaves the
// registry as it was.
func (db *DB) ImportOrganizations(ctx context.Context, rows []liftrescue.OrganizationRow, opt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
	res := &liftrescue.ImportResult{Rows: len(rows)}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		districts, err := districtSet(ctx, tx)
		if err != nil {
			return err
		}
		existing, err := tx.PrepareContext(ctx, `SELECT id, kind FROM organizations WHERE code = ?`)
		if err != nil {
			return translate(err)
		}
		defer existing.Close()
		seen := map[string]int{}
		good := make([]*liftrescue.Organization, 0, len(rows))
		for i := range rows {
			row := &rows[i]
			o := &row.Org
			bad := liftrescue.RowProblems(row.Line, o.Validate())
			if len(bad) == 0 {
				if !districts[o.District] {
					bad = append(bad, liftrescue.Detail{Line: row.Line, Field: "district", Value: o.District, Reason: "no district has this code"})
				}
				if first, dup := seen[o.Code]; dup {
					bad = append(bad, liftrescue.Detail{Line: row.Line, Field: "code", Value: o.Code, Reason: fmt.Sprintf("repeats line %d", first)})
				}
				seen[o.Code] = row.Line
			}
			if len(bad) == 0 {
				var id int64
				var kind liftrescue.OrgKind
				switch err := existing.QueryRowContext(ctx, o.Code).Scan(&id, &kind); {
				case err == sql.ErrNoRows:
					res.Created++
				case err != nil:
					return translate(err)
				case kind != o.Kind && checkOrgUnused(ctx, tx, id, "") != nil:
					bad = append(bad, liftrescue.Detail{Line: row.Line, Field: "kind", Value: string(o.Kind),
						Reason: fmt.Sprintf("organization %d is a %s that elevators or teams rely on; its kind cannot change", id, kind)})
				default:
					res.Updated++
				}
			}
			if len(bad) > 0 {
				res.Errors = append(res.Errors, bad...)
				continue
			}
			good = append(good, o)
		}
		write, err := res.Settle(opt, "organization")
		if !write || err != nil {
			return err
		}
		upsert, err := tx.PrepareContext(ctx, `INSERT INTO organizations (code, kind, name, district, address, lat, lon, duty_phones, contacts, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (code) DO UPDATE SET kind = excluded.kind, name = excluded.name, district = excluded.district,
				address = excluded.address, lat = excluded.lat, lon = excluded.lon, duty_phones = excluded.duty_phones,
				contacts = excluded.contacts, updated_at = excluded.updated_at`)
		if err != nil {
			return translate(err)
		}
		defer upsert.Close()
		now := formatTime(db.stamp())
		for _, o := range good {
			phones, contacts := orgJSON(o)
			if _, err := upsert.ExecContext(ctx, o.Code, o.Kind, o.Name, o.District, o.Address, o.Lat, o.Lon, phones, contacts, now, now); err != nil {
				return fmt.Errorf("import organization %s: %w", o.Code, translate(err))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// ImportElevators upserts by equipment code inside one transaction. Units are named by
// organisation code and resolved here; a rescue code held by another elevator is a row error.
func (db *DB) ImportElevators(ctx context.Context, rows []liftrescue.ElevatorRow, opt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
	res := &liftrescue.ImportResult{Rows: len(rows)}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		districts, err := districtSet(ctx, tx)
		if err != nil {
			return err
		}
		units, err := unitsByCode(ctx, tx)
		if err != nil {
			return err
		}
		byRescue, err := tx.PrepareContext(ctx, `SELECT id, equipment_code FROM elevators WHERE rescue_code = ?`)
		if err != nil {
			return translate(err)
		}
		defer byRescue.Close()
		byEquipment, err := tx.PrepareContext(ctx, `SELECT id FROM elevators WHERE equipment_code = ?`)
		if err != nil {
			return translate(err)
		}
		defer byEquipment.Close()

		check := liftrescue.NewElevatorImportCheck(units, districts)
		good := make([]*liftrescue.Elevator, 0, len(rows))
		for i := range rows {
			row := &rows[i]
			bad := check.Row(row)
			e := &row.Elevator
			if len(bad) == 0 {
				var holder int64
				var holderEquipment string
				switch err := byRescue.QueryRowContext(ctx, e.RescueCode).Scan(&holder, &holderEquipment); {
				case err == sql.ErrNoRows:
				case err != nil:
					return translate(err)
				case holderEquipment != e.EquipmentCode:
					bad = append(bad, liftrescue.RescueCodeHeld(row.Line, e.RescueCode, holder, holderEquipment))
				}
			}
			if len(bad) > 0 {
				res.Errors = append(res.Errors, bad...)
				continue
			}
			switch err := byEquipment.QueryRowContext(ctx, e.EquipmentCode).Scan(new(int64)); {
			case err == sql.ErrNoRows:
				res.Created++
			case err != nil:
				return translate(err)
			default:
				res.Updated++
			}
			good = append(good, e)
		}
		write, err := res.Settle(opt, "elevator")
		if !write || err != nil {
			return err
		}
		upsert, err := tx.PrepareContext(ctx, `INSERT INTO elevators (rescue_code, equipment_code, address, building, district, lat, lon, kind,
			floors, manufacturer, model, installed_on, user_unit_id, maintenance_unit_id, last_maintained_at, inspection_valid_until,
			status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (equipment_code) DO UPDATE SET rescue_code = excluded.rescue_code, address = excluded.address,
				building = excluded.building, district = excluded.district, lat = excluded.lat, lon = excluded.lon,
				kind = excluded.kind, floors = excluded.floors, manufacturer = excluded.manufacturer, model = excluded.model,
				installed_on = excluded.installed_on, user_unit_id = excluded.user_unit_id,
				maintenance_unit_id = excluded.maintenance_unit_id, last_maintained_at = excluded.last_maintained_at,
				inspection_valid_until = excluded.inspection_valid_until, status = excluded.status, updated_at = excluded.updated_at`)
		if err != nil {
			return translate(err)
		}
		defer upsert.Close()
		now := formatTime(db.stamp())
		for _, e := range good {
			if _, err := upsert.ExecContext(ctx, append(elevatorValues(e), now, now)...); err != nil {
				// The checks above ran in this transaction, so only a broken invariant gets here.
				return fmt.Errorf("import elevator %s: %w", e.EquipmentCode, translate(err))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func districtSet(ctx context.Context, q queryer) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT code FROM districts`)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	set := map[string]bool{}
	for rows.Next() {
		var code string
		if err := rows.Scan(&code); err != nil {
			return nil, translate(err)
		}
		set[code] = true
	}
	return set, translate(rows.Err())
}

// unitsByCode loads every organisation's id and kind by code; a city has thousands at most.
func unitsByCode(ctx context.Context, q queryer) (map[string]liftrescue.UnitRef, error) {
	rows, err := q.QueryContext(ctx, `SELECT code, id, kind FROM organizations`)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	units := map[string]liftrescue.UnitRef{}
	for rows.Next() {
		var code string
		var u liftrescue.UnitRef
		if err := rows.Scan(&code, &u.ID, &u.Kind); err != nil {
			return nil, translate(err)
		}
		units[code] = u
	}
	return units, translate(rows.Err())
}
