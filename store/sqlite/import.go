package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/upsert"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// An import runs in two steps so that it holds SQLite's one write lock no longer than writing
// takes. Rescue data is written live while a city's registry is imported, and a writer that waits
// longer than the busy timeout fails.
//
//  1. Every row is checked in a read transaction: a snapshot that, under WAL, never blocks a
//     writer. A dry run, and an import that Settle says must not write, end here.
//  2. The good rows are upserted in one write transaction, so the import is still all or nothing.
//     Another writer may have changed the registry between the steps; the constraints catch what
//     matters (a rescue code taken meanwhile, a unit deleted), and the import is rolled back with
//     an ECONFLICT that names the row.

// reading runs fn in a read transaction: one snapshot for all its queries, and no write lock.
func (db *DB) reading(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// importWrite ends an import whose rows have been checked into res: when Settle says it may write,
// fn writes the good rows in one write transaction.
func (db *DB) importWrite(ctx context.Context, res *liftrescue.ImportResult, opt liftrescue.ImportOptions, what string, fn func(*sql.Tx) error) (*liftrescue.ImportResult, error) {
	write, err := res.Settle(opt, what)
	if err != nil {
		return nil, err
	}
	if !write {
		return res, nil
	}
	if db.beforeImportWrite != nil {
		db.beforeImportWrite()
	}
	if err := db.inTx(ctx, fn); err != nil {
		return nil, err
	}
	return res, nil
}

// ImportOrganizations upserts by code. Every row is checked against the file and the registry
// before anything is written, so an all-or-nothing import that fails leaves the registry as it was.
func (db *DB) ImportOrganizations(ctx context.Context, rows []liftrescue.OrganizationRow, opt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
	res := &liftrescue.ImportResult{Rows: len(rows)}
	good := make([]*liftrescue.OrganizationRow, 0, len(rows))
	err := db.reading(ctx, func(tx *sql.Tx) error {
		districts, err := districtSet(ctx, tx)
		if err != nil {
			return err
		}
		existing, err := tx.PrepareContext(ctx, `SELECT id, kind FROM organizations WHERE code = ?`)
		if err != nil {
			return translate(err)
		}
		defer existing.Close()
		check := upsert.NewOrgCheck(districts)
		for i := range rows {
			row := &rows[i]
			o := &row.Org
			bad := check.Row(row)
			if len(bad) == 0 {
				var id int64
				var kind liftrescue.OrgKind
				switch err := existing.QueryRowContext(ctx, o.Code).Scan(&id, &kind); {
				case err == sql.ErrNoRows:
					res.Created++
				case err != nil:
					return translate(err)
				case kind != o.Kind && opt.Has("kind") && checkOrgUnused(ctx, tx, id, "") != nil:
					bad = append(bad, upsert.KindInUse(row.Line, id, o.Kind, kind))
				default:
					res.Updated++
				}
			}
			if len(bad) > 0 {
				res.Errors = append(res.Errors, bad...)
				continue
			}
			good = append(good, row)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return db.importWrite(ctx, res, opt, "organization", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO organizations (code, kind, name, district, address, lat, lon, duty_phones, contacts, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (code) DO UPDATE SET `+upsert.Set(upsert.OrgColumns, opt))
		if err != nil {
			return translate(err)
		}
		defer stmt.Close()
		now := formatTime(db.stamp())
		for _, row := range good {
			o := &row.Org
			phones, contacts := orgJSON(o)
			if _, err := stmt.ExecContext(ctx, o.Code, o.Kind, o.Name, o.District, o.Address, o.Lat, o.Lon, phones, contacts, now, now); err != nil {
				if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
					return &liftrescue.Error{Code: liftrescue.ECONFLICT, Err: err,
						Message: fmt.Sprintf("line %d: organization %s came to be relied on by elevators or teams during the import, so its kind cannot change; nothing was imported", row.Line, o.Code),
						Details: []liftrescue.Detail{{Line: row.Line, Field: "kind", Value: string(o.Kind), Reason: "elevators or teams came to rely on the organization during the import"}}}
				}
				return fmt.Errorf("import organization %s: %w", o.Code, translate(err))
			}
		}
		return nil
	})
}

// ImportElevators upserts by equipment code. Units are named by organisation code and resolved
// while the rows are checked; a rescue code held by another elevator is a row error.
func (db *DB) ImportElevators(ctx context.Context, rows []liftrescue.ElevatorRow, opt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
	res := &liftrescue.ImportResult{Rows: len(rows)}
	good := make([]*liftrescue.ElevatorRow, 0, len(rows))
	err := db.reading(ctx, func(tx *sql.Tx) error {
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
			good = append(good, row)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return db.importWrite(ctx, res, opt, "elevator", func(tx *sql.Tx) error {
		// Rows go in batches of upsertBatch per statement: a statement per row spends more time in
		// the driver than in SQLite, and all of it under the write lock.
		batch, err := tx.PrepareContext(ctx, upsertElevatorsSQL(upsertBatch, opt))
		if err != nil {
			return translate(err)
		}
		defer batch.Close()
		now := formatTime(db.stamp())
		args := make([]any, 0, upsertBatch*(len(upsert.ElevatorColumns)+3))
		for start := 0; start < len(good); start += upsertBatch {
			rows := good[start:min(start+upsertBatch, len(good))]
			args = args[:0]
			for _, row := range rows {
				args = append(append(args, elevatorValues(&row.Elevator)...), now, now)
			}
			var err error
			if len(rows) == upsertBatch {
				_, err = batch.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, upsertElevatorsSQL(len(rows), opt), args...)
			}
			if err == nil {
				continue
			}
			if !isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) && !isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
				return fmt.Errorf("import elevators: %w", translate(err))
			}
			// SQLite undid the failed statement only; writing its rows one by one finds the row
			// that collides with what another writer did since the checks.
			for _, row := range rows {
				if _, err := tx.ExecContext(ctx, upsertElevatorsSQL(1, opt), append(elevatorValues(&row.Elevator), now, now)...); err != nil {
					return elevatorWriteConflict(ctx, tx, row, err)
				}
			}
			return fmt.Errorf("import elevators: %w", translate(err))
		}
		return nil
	})
}

// upsertBatch is how many rows an upsert statement of an elevator import writes: 19 parameters a
// row stay far below SQLite's limit of 32,766.
const upsertBatch = 64

// upsertElevatorsSQL upserts n elevators by equipment code; the arguments are elevatorValues,
// created_at and updated_at of each row in turn.
func upsertElevatorsSQL(n int, opt liftrescue.ImportOptions) string {
	row := "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	return `INSERT INTO elevators (rescue_code, equipment_code, address, building, district, lat, lon, kind,
		floors, manufacturer, model, installed_on, user_unit_id, maintenance_unit_id, last_maintained_at, inspection_valid_until,
		status, created_at, updated_at) VALUES ` + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ") + `
		ON CONFLICT (equipment_code) DO UPDATE SET ` + upsert.Set(upsert.ElevatorColumns, opt)
}

// elevatorWriteConflict explains why the upsert of a checked row failed: another writer changed
// the registry after the checks. The whole import is rolled back.
func elevatorWriteConflict(ctx context.Context, tx *sql.Tx, row *liftrescue.ElevatorRow, err error) error {
	e := &row.Elevator
	switch {
	case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE):
		// The key is the equipment code, which the upsert updates on; so the rescue code collided.
		var holder int64
		var holderEquipment string
		lookup := tx.QueryRowContext(ctx, `SELECT id, equipment_code FROM elevators WHERE rescue_code = ? AND equipment_code <> ?`,
			e.RescueCode, e.EquipmentCode).Scan(&holder, &holderEquipment)
		if lookup != nil {
			return fmt.Errorf("import elevator %s: %w", e.EquipmentCode, translate(err))
		}
		return upsert.CodeTaken(row, holder, holderEquipment, err)
	case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY):
		return &liftrescue.Error{Code: liftrescue.ECONFLICT, Err: err,
			Message: fmt.Sprintf("line %d: a unit of elevator %s was deleted or changed kind during the import; nothing was imported", row.Line, e.EquipmentCode)}
	}
	return fmt.Errorf("import elevator %s: %w", e.EquipmentCode, translate(err))
}

// isConstraint reports whether err is the SQLite error with the extended result code.
func isConstraint(err error, code int) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == code
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
