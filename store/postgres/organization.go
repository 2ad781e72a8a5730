package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

// orgFields are the columns a write sets, in the order of orgValues.
var orgFields = []string{"code", "kind", "name", "district", "address", "lat", "lon", "duty_phones", "contacts"}

const orgColumns = `id, code, kind, name, district, address, lat, lon, duty_phones, contacts, created_at, updated_at`

// orgValues lists o's writable columns in the order of orgFields. The jsonb codec marshals the
// phone and contact slices.
func orgValues(o *liftrescue.Organization) []any {
	return []any{o.Code, string(o.Kind), o.Name, o.District, o.Address, o.Lat, o.Lon, o.DutyPhones, o.Contacts}
}

func (db *DB) FindOrganization(ctx context.Context, id int64) (*liftrescue.Organization, error) {
	return findOrganization(ctx, db.pool, id)
}

func findOrganization(ctx context.Context, q querier, id int64) (*liftrescue.Organization, error) {
	return one(q.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = $1`, id), scanOrganization,
		"no organization has the id %d", id)
}

func (db *DB) FindOrganizationByCode(ctx context.Context, code string) (*liftrescue.Organization, error) {
	return one(db.pool.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations WHERE code = $1`, code), scanOrganization,
		"no organization has the code %q", code)
}

func (db *DB) ListOrganizations(ctx context.Context, f liftrescue.OrganizationFilter) (*liftrescue.Page[*liftrescue.Organization], error) {
	return page(ctx, db.pool, "organizations", sqlq.Organizations(f, dialect), f.Paging, orgColumns, scanOrganization,
		func(o *liftrescue.Organization) int64 { return o.ID })
}

func (db *DB) CreateOrganization(ctx context.Context, o *liftrescue.Organization) error {
	if err := o.Validate(); err != nil {
		return err
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := checkDistrict(ctx, tx, o.District); err != nil {
			return err
		}
		if err := checkOrgCodeFree(ctx, tx, o.Code, 0); err != nil {
			return err
		}
		now := db.stamp()
		var id int64
		if err := tx.QueryRow(ctx, insertSQL("organizations", orgFields), append(orgValues(o), now, now)...).Scan(&id); err != nil {
			return translate(err)
		}
		o.ID, o.CreatedAt, o.UpdatedAt = id, now, now
		return nil
	})
	return db.explainTaken(ctx, err, 0, func(string) string { return o.Code })
}

func (db *DB) UpdateOrganization(ctx context.Context, o *liftrescue.Organization) error {
	if err := o.Validate(); err != nil {
		return err
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		old, err := lockOrganization(ctx, tx, o.ID)
		if err != nil {
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
		if _, err := tx.Exec(ctx, updateSQL("organizations", orgFields), append(orgValues(o), now, o.ID)...); err != nil {
			return translate(err)
		}
		o.CreatedAt, o.UpdatedAt = old.CreatedAt, now
		return nil
	})
	return db.explainTaken(ctx, err, o.ID, func(string) string { return o.Code })
}

func (db *DB) DeleteOrganization(ctx context.Context, id int64) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := lockOrganization(ctx, tx, id); err != nil {
			return err
		}
		if err := checkOrgUnused(ctx, tx, id, "it cannot be deleted"); err != nil {
			return err
		}
		if err := checkOrgGrids(ctx, tx, id, "", "it cannot be deleted"); err != nil {
			return err
		}
		return deleteByID(ctx, tx, "organizations", "organization", id)
	})
}

// lockOrganization reads the organisation and locks its row until the transaction ends. A change or
// a delete takes it before checkOrgGrids: a grid written meanwhile reads the kinds of the
// organisations it names FOR SHARE, so it either commits before the check, which then sees it, or
// waits for the change and sees that.
func lockOrganization(ctx context.Context, q querier, id int64) (*liftrescue.Organization, error) {
	return one(q.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = $1 FOR UPDATE`, id), scanOrganization,
		"no organization has the id %d", id)
}

// checkOrgCodeFree returns ECONFLICT when another organisation than self holds the code.
func checkOrgCodeFree(ctx context.Context, q querier, code string, self int64) error {
	var id int64
	err := q.QueryRow(ctx, `SELECT id FROM organizations WHERE code = $1 AND id <> $2`, code, self).Scan(&id)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return translate(err)
	}
	return liftrescue.Taken("organization", "code", code, id)
}

// orgReferences selects the number of elevators and of teams that refer to the organisation whose
// id is the SQL expression id. A change of kind or a delete checks it first, so that the refusal
// says what still relies on the organisation rather than which foreign key fired.
func orgReferences(id string) string {
	return `(SELECT count(*) FROM elevators WHERE user_unit_id = ` + id + ` OR maintenance_unit_id = ` + id + `),
		(SELECT count(*) FROM teams WHERE organization_id = ` + id + `)`
}

// checkOrgUnused returns ECONFLICT, saying what still refers to the organisation, when elevators or
// teams do.
func checkOrgUnused(ctx context.Context, q querier, id int64, consequence string) error {
	var elevators, teams int
	if err := q.QueryRow(ctx, `SELECT `+orgReferences("$1"), id).Scan(&elevators, &teams); err != nil {
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
func checkOrgGrids(ctx context.Context, q querier, id int64, kind liftrescue.OrgKind, consequence string) error {
	var grid, plan int64
	var name string
	var fireStation bool
	var n int
	switch err := q.QueryRow(ctx, orgGridUseSQL, sqlq.OrgGridUseArgs(id, kind)...).Scan(&grid, &name, &plan, &fireStation, &n); {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return translate(err)
	}
	return sqlq.OrgInGrid(id, grid, name, plan, fireStation, n, consequence)
}

func scanOrganization(r rowScanner) (*liftrescue.Organization, error) {
	var o liftrescue.Organization
	if err := r.Scan(&o.ID, &o.Code, &o.Kind, &o.Name, &o.District, &o.Address, &o.Lat, &o.Lon, &o.DutyPhones, &o.Contacts,
		&o.CreatedAt, &o.UpdatedAt); err != nil {
		return nil, translate(err)
	}
	return &o, nil
}

// unitsByCode loads every organisation's id and kind by code for the checks of an elevator import;
// a city has thousands at most.
func unitsByCode(ctx context.Context, q querier) (map[string]liftrescue.UnitRef, error) {
	type unit struct {
		code string
		ref  liftrescue.UnitRef
	}
	list, err := all(ctx, q, func(r rowScanner) (u unit, err error) {
		err = r.Scan(&u.code, &u.ref.ID, &u.ref.Kind)
		return
	}, `SELECT code, id, kind FROM organizations`)
	if err != nil {
		return nil, err
	}
	units := make(map[string]liftrescue.UnitRef, len(list))
	for _, u := range list {
		units[u.code] = u.ref
	}
	return units, nil
}
