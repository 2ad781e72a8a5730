package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

// vehicleFields are the columns a create sets, in the order of vehicleValues.
var vehicleFields = []string{"team_id", "plate", "device_id", "device_secret", "on_duty"}

// vehicleColumns joins the team for the derived organisation id. A vehicle without a tracker has
// a NULL device_id, so that the unique index lets many of them be; the domain calls that "".
const vehicleColumns = `v.id, v.team_id, t.organization_id, v.plate, coalesce(v.device_id, '') AS device_id, v.device_secret,
	v.on_duty, v.created_at, v.updated_at`

func vehicleValues(v *liftrescue.Vehicle) []any {
	return []any{v.TeamID, v.Plate, nullString(v.DeviceID), sqlq.DeviceSecret(v), v.OnDuty}
}

// updateVehicleSQL replaces a vehicle; its arguments are those of vehicleValues but for the
// secret, which takes those of sqlq.KeepDeviceSecret, then updated_at and the id. The secret is
// settled on the row as the UPDATE finds it, after any write committed before it.
var updateVehicleSQL = sqlq.Dollar(`UPDATE vehicles SET team_id = ?, plate = ?, device_id = ?,
	device_secret = ` + sqlq.KeepDeviceSecret + `, on_duty = ?, updated_at = ? WHERE id = ?`)

func updateVehicleValues(v *liftrescue.Vehicle, now time.Time) []any {
	args := append([]any{v.TeamID, v.Plate, nullString(v.DeviceID)}, sqlq.KeepDeviceSecretArgs(v)...)
	return append(args, v.OnDuty, now, v.ID)
}

func (db *DB) FindVehicle(ctx context.Context, id int64) (*liftrescue.Vehicle, error) {
	return findVehicle(ctx, db.pool, id)
}

func findVehicle(ctx context.Context, q querier, id int64) (*liftrescue.Vehicle, error) {
	return one(q.QueryRow(ctx, `SELECT `+vehicleColumns+` FROM `+sqlq.VehicleFrom+` WHERE v.id = $1`, id), scanVehicle,
		"no vehicle has the id %d", id)
}

func (db *DB) ListVehicles(ctx context.Context, f liftrescue.VehicleFilter) (*liftrescue.Page[*liftrescue.Vehicle], error) {
	w := sqlq.Vehicles(f)
	// page orders and pages by "id"; a subquery gives the joined rows that unqualified column.
	from := `(SELECT ` + vehicleColumns + ` FROM ` + sqlq.VehicleFrom + w.String() + `) AS v`
	return page(ctx, db.pool, from, sqlq.Where{Args: w.Args}, f.Paging, "*", scanVehicle, func(v *liftrescue.Vehicle) int64 { return v.ID })
}

func (db *DB) CreateVehicle(ctx context.Context, v *liftrescue.Vehicle) error {
	if err := v.Validate(); err != nil {
		return err
	}
	var id int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := checkVehicleRefs(ctx, tx, v); err != nil {
			return err
		}
		now := db.stamp()
		if err := tx.QueryRow(ctx, insertSQL("vehicles", vehicleFields), append(vehicleValues(v), now, now)...).Scan(&id); err != nil {
			return translate(err)
		}
		saved, err := findVehicle(ctx, tx, id)
		if err != nil {
			return err
		}
		*v = *saved
		return nil
	})
	return db.explainTaken(ctx, err, 0, vehicleKeys(v))
}

// vehicleKeys gives v's value of a unique field, for explainTaken.
func vehicleKeys(v *liftrescue.Vehicle) func(string) string {
	return func(field string) string {
		if field == "plate" {
			return v.Plate
		}
		return v.DeviceID
	}
}

func (db *DB) UpdateVehicle(ctx context.Context, v *liftrescue.Vehicle) error {
	if err := v.Validate(); err != nil {
		return err
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := findVehicle(ctx, tx, v.ID); err != nil {
			return err
		}
		if err := checkVehicleRefs(ctx, tx, v); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, updateVehicleSQL, updateVehicleValues(v, db.stamp())...); err != nil {
			return translate(err)
		}
		return reloadVehicle(ctx, tx, v)
	})
	return db.explainTaken(ctx, err, v.ID, vehicleKeys(v))
}

// reloadVehicle reads back what a write stored, for the organisation id it derives from the team.
func reloadVehicle(ctx context.Context, q querier, v *liftrescue.Vehicle) error {
	saved, err := findVehicle(ctx, q, v.ID)
	if err != nil {
		return err
	}
	*v = *saved
	return nil
}

func (db *DB) DeleteVehicle(ctx context.Context, id int64) error {
	return deleteByID(ctx, db.pool, "vehicles", "vehicle", id)
}

// checkVehicleRefs checks that the team exists and that no other vehicle has the plate or device.
func checkVehicleRefs(ctx context.Context, q querier, v *liftrescue.Vehicle) error {
	if err := checkExists(ctx, q, "teams", "team_id", v.TeamID); err != nil {
		return err
	}
	for _, f := range []struct{ field, value string }{{"plate", v.Plate}, {"device_id", v.DeviceID}} {
		if f.value == "" {
			continue
		}
		var holder int64
		err := q.QueryRow(ctx, `SELECT id FROM vehicles WHERE `+f.field+` = $1 AND id <> $2`, f.value, v.ID).Scan(&holder)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			continue
		case err != nil:
			return translate(err)
		}
		return liftrescue.Taken("vehicle", f.field, f.value, holder)
	}
	return nil
}

func scanVehicle(r rowScanner) (*liftrescue.Vehicle, error) {
	var v liftrescue.Vehicle
	if err := r.Scan(&v.ID, &v.TeamID, &v.OrganizationID, &v.Plate, &v.DeviceID, &v.DeviceSecret, &v.OnDuty, &v.CreatedAt, &v.UpdatedAt); err != nil {
		return nil, translate(err)
	}
	return &v, nil
}
