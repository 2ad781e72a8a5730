package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

const teamColumns = `id, organization_id, name, duty_phone, certified_staff, on_duty, created_at, updated_at`

func (db *DB) FindTeam(ctx context.Context, id int64) (*liftrescue.Team, error) {
	return findTeam(ctx, db.db, id)
}

func findTeam(ctx context.Context, q queryer, id int64) (*liftrescue.Team, error) {
	t, err := scanTeam(q.QueryRowContext(ctx, `SELECT `+teamColumns+` FROM teams WHERE id = ?`, id))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, liftrescue.Errorf(liftrescue.ENOTFOUND, "no team has the id %d", id)
	}
	return t, err
}

func (db *DB) ListTeams(ctx context.Context, f liftrescue.TeamFilter) (*liftrescue.Page[*liftrescue.Team], error) {
	return page(ctx, db.db, "teams", sqlq.Teams(f), f.Paging, teamColumns, scanTeam, func(t *liftrescue.Team) int64 { return t.ID })
}

func (db *DB) CreateTeam(ctx context.Context, t *liftrescue.Team) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkExists(ctx, tx, "organizations", "organization_id", t.OrganizationID); err != nil {
			return err
		}
		now := db.stamp()
		err := tx.QueryRowContext(ctx, `INSERT INTO teams (organization_id, name, duty_phone, certified_staff, on_duty, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			t.OrganizationID, t.Name, t.DutyPhone, t.CertifiedStaff, t.OnDuty, formatTime(now), formatTime(now)).Scan(&t.ID)
		if err != nil {
			return translate(err)
		}
		t.CreatedAt, t.UpdatedAt = now, now
		return nil
	})
}

func (db *DB) UpdateTeam(ctx context.Context, t *liftrescue.Team) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		old, err := findTeam(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		if err := checkExists(ctx, tx, "organizations", "organization_id", t.OrganizationID); err != nil {
			return err
		}
		now := db.stamp()
		_, err = tx.ExecContext(ctx, `UPDATE teams SET organization_id = ?, name = ?, duty_phone = ?, certified_staff = ?, on_duty = ?,
			updated_at = ? WHERE id = ?`, t.OrganizationID, t.Name, t.DutyPhone, t.CertifiedStaff, t.OnDuty, formatTime(now), t.ID)
		if err != nil {
			return translate(err)
		}
		t.CreatedAt, t.UpdatedAt = old.CreatedAt, now
		return nil
	})
}

func (db *DB) DeleteTeam(ctx context.Context, id int64) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		var vehicles int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM vehicles WHERE team_id = ?`, id).Scan(&vehicles); err != nil {
			return translate(err)
		}
		if vehicles > 0 {
			return liftrescue.Errorf(liftrescue.ECONFLICT, "team %d still has %d vehicles, so it cannot be deleted", id, vehicles)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM teams WHERE id = ?`, id)
		if err != nil {
			return translate(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return liftrescue.Errorf(liftrescue.ENOTFOUND, "no team has the id %d", id)
		}
		return nil
	})
}

// checkExists returns EINVALID naming field when table has no row with the id.
func checkExists(ctx context.Context, q queryer, table, field string, id int64) error {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE id = ?`, id).Scan(&n); err != nil {
		return translate(err)
	}
	if n == 0 {
		return liftrescue.Invalid(field, fmt.Sprintf("%d does not exist", id))
	}
	return nil
}

func scanTeam(r rowScanner) (*liftrescue.Team, error) {
	var t liftrescue.Team
	var created, updated string
	if err := r.Scan(&t.ID, &t.OrganizationID, &t.Name, &t.DutyPhone, &t.CertifiedStaff, &t.OnDuty, &created, &updated); err != nil {
		return nil, translate(err)
	}
	var err error
	if t.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	t.UpdatedAt, err = parseTime(updated)
	return &t, err
}
