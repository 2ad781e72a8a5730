package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

const orgColumns = `id, code, kind, name, district, address, lat, lon, duty_phones, contacts, created_at, updated_at`

func (db *DB) FindOrganization(ctx context.Context, id int64) (*liftrescue.Organization, error) {
	o, err := scanOrganization(db.db.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = ?`, id))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, liftrescue.Errorf(liftrescue.ENOTFOUND, "no organization has the id %d", id)
	}
	return o, err
}

func (db *DB) FindOrganizationByCode(ctx context.Context, code string) (*liftrescue.Organization, error) {
	o, err := scanOrganization(db.db.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations WHERE code = ?`, code))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, liftrescue.Errorf(liftrescue.ENOTFOUND, "no organization has the code %q", code)
	}
	return o, err
}

func (db *DB) ListOrganizations(ctx context.Context, f liftrescue.OrganizationFilter) (*liftrescue.Page[*liftrescue.Organization], error) {
	return page(ctx, db.db, "organizations", sqlq.Organizations(f, dialect), f.Paging, orgColumns, scanOrganization,
		func(o *liftrescue.Organization) int64 { return o.ID })
}

func (db *DB) CreateOrganization(ctx context.Context, o *liftrescue.Organization) error {
	if err := o.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkDistrict(ctx, tx, o.District); err != nil {
			return err
		}
		if err := checkOrgCodeFree(ctx, tx, o.Code, 0); err != nil {
			return err
		}
		now := db.stamp()
		phones, contacts := orgJSON(o)
		err := tx.QueryRowContext(ctx, `INSERT INTO organizations (code, kind, name, district, address, lat, lon, duty_phones, contacts, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			o.Code, o.Kind, o.Name, o.District, o.Address, o.Lat, o.Lon, phones, contacts, formatTime(now), formatTime(now)).Scan(&o.ID)
		if err != nil {
			return translate(err)
		}
		o.CreatedAt, o.UpdatedAt = now, now
		return nil
	})
}

func (db *DB) UpdateOrganization(ctx context.Context, o *liftrescue.Organization) error {
	if err := o.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		old, err := scanOrganization(tx.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = ?`, o.ID))
		if err != nil {
			if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
				return liftrescue.Errorf(liftrescue.ENOTFOUND, "no organization has the id %d", o.ID)
			}
			return err
		}
		if err := checkDistrict(ctx, tx, o.District); err != nil {
			return err
		}
		if err := checkOrgCodeFree(ctx, tx, o.Code, o.ID); err != nil {
			return err
		}
		if old.Kind != o.Kind {
			if err := checkOrgUnused(ctx, tx, o.ID, "its kind cannot change"); err != nil {
				return err
			}
			if err := checkOrgGrids(ctx, tx, o.ID, o.Kind, "its kind cannot change"); err != nil {
				return err
			}
		}
		now := db.stamp()
		phones, contacts := orgJSON(o)
		_, err = tx.ExecContext(ctx, `UPDATE organizations SET code = ?, kind = ?, name = ?, district = ?, address = ?, lat = ?, lon = ?,
			duty_phones = ?, contacts = ?, updated_at = ? WHERE id = ?`,
			o.Code, o.Kind, o.Name, o.District, o.Address, o.Lat, o.Lon, phones, contacts, formatTime(now), o.ID)
		if err != nil {
			return translate(err)
		}
		o.CreatedAt, o.UpdatedAt = old.CreatedAt, now
		return nil
	})
}

func (db *DB) DeleteOrganization(ctx context.Context, id int64) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkOrgUnused(ctx, tx, id, "it cannot be deleted"); err != nil {
			return err
		}
		if err := checkOrgGrids(ctx, tx, id, "", "it cannot be deleted"); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM organizations WHERE id = ?`, id)
		if err != nil {
			return translate(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return liftrescue.Errorf(liftrescue.ENOTFOUND, "no organization has the id %d", id)
		}
		return nil
	})
}

// checkOrgCodeFree returns ECONFLICT when another organisation than self holds the code.
func checkOrgCodeFree(ctx context.Context, q queryer, code string, self int64) error {
	var id int64
	err := q.QueryRowContext(ctx, `SELECT id FROM organizations WHERE code = ? AND id <> ?`, code, self).Scan(&id)
	switch {
	case err == sql.ErrNoRows:
		return nil
	case err != nil:
		return translate(err)
	}
	return liftrescue.Taken("organization", "code", code, id)
}

// checkOrgUnused returns ECONFLICT, saying what still refers to the organisation, when elevators or
// teams do.
func checkOrgUnused(ctx context.Context, q queryer, id int64, consequence string) error {
	var elevators, teams int
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM elevators WHERE user_unit_id = ?1 OR maintenance_unit_id = ?1),
		(SELECT count(*) FROM teams WHERE organization_id = ?1)`, id).Scan(&elevators, &teams)
	if err != nil {
		return translate(err)
	}
	if elevators+teams > 0 {
		return liftrescue.Errorf(liftrescue.ECONFLICT, "organization %d is referred to by %d elevators and %d teams, so %s", id, elevators, teams, consequence)
	}
	return nil
}

// checkOrgGrids returns ECONFLICT, naming the first such grid, when a grid of a draft or of the
// active plan names the organisation in a role it could no longer fill: any role when it is
// deleted (kind ""), else a role that kind does not fill. Grids have no foreign keys to
// organisations, so this check is what keeps them true; a retired plan holds nobody back.
func checkOrgGrids(ctx context.Context, q queryer, id int64, kind liftrescue.OrgKind, consequence string) error {
	var grid, plan int64
	var name string
	var fireStation bool
	var n int
	switch err := q.QueryRowContext(ctx, sqlq.OrgGridUse, sqlq.OrgGridUseArgs(id, kind)...).Scan(&grid, &name, &plan, &fireStation, &n); {
	case err == sql.ErrNoRows:
		return nil
	case err != nil:
		return translate(err)
	}
	return sqlq.OrgInGrid(id, grid, name, plan, fireStation, n, consequence)
}

func orgJSON(o *liftrescue.Organization) (phones, contacts string) {
	p, _ := json.Marshal(o.DutyPhones)
	c, _ := json.Marshal(o.Contacts)
	return string(p), string(c)
}

func scanOrganization(r rowScanner) (*liftrescue.Organization, error) {
	var o liftrescue.Organization
	var lat, lon sql.NullFloat64
	var phones, contacts, created, updated string
	if err := r.Scan(&o.ID, &o.Code, &o.Kind, &o.Name, &o.District, &o.Address, &lat, &lon, &phones, &contacts, &created, &updated); err != nil {
		return nil, translate(err)
	}
	if lat.Valid && lon.Valid {
		o.Lat, o.Lon = &lat.Float64, &lon.Float64
	}
	if err := json.Unmarshal([]byte(phones), &o.DutyPhones); err != nil {
		return nil, fmt.Errorf("organization %d duty_phones: %w", o.ID, err)
	}
	if err := json.Unmarshal([]byte(contacts), &o.Contacts); err != nil {
		return nil, fmt.Errorf("organization %d contacts: %w", o.ID, err)
	}
	var err error
	if o.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if o.UpdatedAt, err = parseTime(updated); err != nil {
		return nil, err
	}
	return &o, nil
}
