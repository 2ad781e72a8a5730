package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

// teamFields are the columns a write sets, in the order of teamValues.
var teamFields = []string{"organization_id", "name", "duty_phone", "certified_staff", "on_duty"}

const teamColumns = `id, organization_id, name, duty_phone, certified_staff, on_duty, created_at, updated_at`

func teamValues(t *liftrescue.Team) []any {
	return []any{t.OrganizationID, t.Name, t.DutyPhone, t.CertifiedStaff, t.OnDuty}
}

func (db *DB) FindTeam(ctx context.Context, id int64) (*liftrescue.Team, error) {
	return findTeam(ctx, db.pool, id)
}

func findTeam(ctx context.Context, q querier, id int64) (*liftrescue.Team, error) {
	return one(q.QueryRow(ctx, `SELECT `+teamColumns+` FROM teams WHERE id = $1`, id), scanTeam, "no team has the id %d", id)
}

func (db *DB) ListTeams(ctx context.Context, f liftrescue.TeamFilter) (*liftrescue.Page[*liftrescue.Team], error) {
	return page(ctx, db.pool, "teams", sqlq.Teams(f), f.Paging, teamColumns, scanTeam, func(t *liftrescue.Team) int64 { return t.ID })
}

func (db *DB) CreateTeam(ctx context.Context, t *liftrescue.Team) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx pgx.Tx) error {
		if err := checkExists(ctx, tx, "organizations", "organization_id", t.OrganizationID); err != nil {
			return err
		}
		now := db.stamp()
		if err := tx.QueryRow(ctx, insertSQL("teams", teamFields), append(teamValues(t), now, now)...).Scan(&t.ID); err != nil {
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
	return db.inTx(ctx, func(tx pgx.Tx) error {
		old, err := findTeam(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		if err := checkExists(ctx, tx, "organizations", "organization_id", t.OrganizationID); err != nil {
			return err
		}
		now := db.stamp()
		if _, err := tx.Exec(ctx, updateSQL("teams", teamFields), append(teamValues(t), now, t.ID)...); err != nil {
			return translate(err)
		}
		t.CreatedAt, t.UpdatedAt = old.CreatedAt, now
		return nil
	})
}

func (db *DB) DeleteTeam(ctx context.Context, id int64) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		var vehicles int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM vehicles WHERE team_id = $1`, id).Scan(&vehicles); err != nil {
			return translate(err)
		}
		if vehicles > 0 {
			return liftrescue.Errorf(liftrescue.ECONFLICT, "team %d still has %d vehicles, so it cannot be deleted", id, vehicles)
		}
		return deleteByID(ctx, tx, "teams", "team", id)
	})
}

// checkExists returns EINVALID naming field when table has no row with the id.
func checkExists(ctx context.Context, q querier, table, field string, id int64) error {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE id = $1)`, id).Scan(&ok); err != nil {
		return translate(err)
	}
	if !ok {
		return liftrescue.Invalid(field, fmt.Sprintf("%d does not exist", id))
	}
	return nil
}

func scanTeam(r rowScanner) (*liftrescue.Team, error) {
	var t liftrescue.Team
	if err := r.Scan(&t.ID, &t.OrganizationID, &t.Name, &t.DutyPhone, &t.CertifiedStaff, &t.OnDuty, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return nil, translate(err)
	}
	return &t, nil
}
