package sqlite

import (
	"context"
	"database/sql"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

// vehicleColumns joins the team for the derived organisation id.
const vehicleColumns = `v.id, v.team_id, t.organization_id, v.plate, v.device_id, v.device_secret, v.on_duty, v.created_at,
	v.updated_at`

func (db *DB) FindVehicle(ctx context.Context, id int64) (*liftrescue.Vehicle, error) {
	return findVehicle(ctx, db.db, id)
}

func findVehicle(ctx context.Context, q queryer, id int64) (*liftrescue.Vehicle, error) {
	v, err := scanVehicle(q.QueryRowContext(ctx, `SELECT `+vehicleColumns+` FROM `+sqlq.VehicleFrom+` WHERE v.id = ?`, id))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, liftrescue.Errorf(liftrescue.ENOTFOUND, "no vehicle has the id %d", id)
	}
	return v, err
}

func (db *DB) ListVehicles(ctx context.Context, f liftrescue.VehicleFilter) (*liftrescue.Page[*liftrescue.Vehicle], error) {
	w := sqlq.Vehicles(f)
	// page orders and pages by "id"; a subquery gives the joined rows that unqualified column.
	from := `(SELECT ` + vehicleColumns + ` FROM ` + sqlq.VehicleFrom + w.String() + `)`
	return page(ctx, db.db, from, sqlq.Where{Args: w.Args}, f.Paging, "*", scanVehicle, func(v *liftrescue.Vehicle) int64 { return v.ID })
}

func (db *DB) CreateVehicle(ctx context.Context, v *liftrescue.Vehicle) error {
	if err := v.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkVehicleRefs(ctx, tx, v); err != nil {
			return err
		}
		now := db.stamp()
		err := tx.QueryRowContext(ctx, `INSERT INTO vehicles (team_id, plate, device_id, device_secret, on_duty, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, v.TeamID, v.Plate, nullString(v.DeviceID), sqlq.DeviceSecret(v), v.OnDuty,
			formatTime(now), formatTime(now)).Scan(&v.ID)
		if err != nil {
			return translate(err)
		}
		return reloadVehicle(ctx, tx, v)
	})
}

func (db *DB) UpdateVehicle(ctx context.Context, v *liftrescue.Vehicle) error {
	if err := v.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := findVehicle(ctx, tx, v.ID); err != nil {
			return err
		}
		if err := checkVehicleRefs(ctx, tx, v); err != nil {
			return err
		}
		// KeepDeviceSecret compares with the device_id stored before this update.
		args := append([]any{v.TeamID, v.Plate, nullString(v.DeviceID)}, sqlq.KeepDeviceSecretArgs(v)...)
		_, err := tx.ExecContext(ctx, `UPDATE vehicles SET team_id = ?, plate = ?, device_id = ?, device_secret = `+sqlq.KeepDeviceSecret+`,
			on_duty = ?, updated_at = ? WHERE id = ?`, append(args, v.OnDuty, formatTime(db.stamp()), v.ID)...)
		if err != nil {
			return translate(err)
		}
		return reloadVehicle(ctx, tx, v)
	})
}

// reloadVehicle reads back what a write stored, for the organisation id it derives from the team.
func reloadVehicle(ctx context.Context, q queryer, v *liftrescue.Vehicle) error {
	saved, err := findVehicle(ctx, q, v.ID)
	if err != nil {
		return err
	}
	*v = *saved
	return nil
}

func (db *DB) DeleteVehicle(ctx context.Context, id int64) error {
	res, err := db.db.ExecContext(ctx, `DELETE FROM vehicles WHERE id = ?`, id)
	if err != nil {
		return translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return liftrescue.Errorf(liftrescue.ENOTFOUND, "no vehicle has the id %d", id)
	}
	return nil
}

// checkVehicleRefs checks that the team exists and that no other vehicle has the plate or device.
func checkVehicleRefs(ctx context.Context, q queryer, v *liftrescue.Vehicle) error {
	if err := checkExists(ctx, q, "teams", "team_id", v.TeamID); err != nil {
		return err
	}
	for _, f := range []struct{ field, value string }{{"plate", v.Plate}, {"device_id", v.DeviceID}} {
		if f.value == "" {
			continue
		}
		var holder int64
		err := q.QueryRowContext(ctx, `SELECT id FROM vehicles WHERE `+f.field+` = ? AND id <> ?`, f.value, v.ID).Scan(&holder)
		switch {
		case err == sql.ErrNoRows:
			continue
		case err != nil:
			return translate(err)
		}
		return liftrescue.Taken("vehicle", f.field, f.value, holder)
	}
	return nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func scanVehicle(r rowScanner) (*liftrescue.Vehicle, error) {
	var v liftrescue.Vehicle
	var device sql.NullString
	var created, updated string
	if err := r.Scan(&v.ID, &v.TeamID, &v.OrganizationID, &v.Plate, &device, &v.DeviceSecret, &v.OnDuty, &created, &updated); err != nil {
		return nil, translate(err)
	}
	v.DeviceID = device.String
	var err error
	if v.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	v.UpdatedAt, err = parseTime(updated)
	return &v, err
}
