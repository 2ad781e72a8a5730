package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb/geojson"
)

func (db *DB) ListDistricts(ctx context.Context) ([]*liftrescue.District, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT code, name, rural, outline FROM districts ORDER BY code`)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []*liftrescue.District{}
	for rows.Next() {
		d, err := scanDistrict(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, translate(rows.Err())
}

func (db *DB) FindDistrict(ctx context.Context, code string) (*liftrescue.District, error) {
	d, err := scanDistrict(db.db.QueryRowContext(ctx, `SELECT code, name, rural, outline FROM districts WHERE code = ?`, code))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, liftrescue.Errorf(liftrescue.ENOTFOUND, "no district has the code %q", code)
	}
	return d, err
}

func (db *DB) UpsertDistrict(ctx context.Context, d *liftrescue.District) error {
	if err := d.Validate(); err != nil {
		return err
	}
	var outline any
	if len(d.Outline) > 0 {
		b, err := geojson.NewGeometry(d.Outline).MarshalJSON()
		if err != nil {
			return fmt.Errorf("encode outline: %w", err)
		}
		outline = string(b)
	}
	_, err := db.db.ExecContext(ctx, `INSERT INTO districts (code, name, rural, outline) VALUES (?, ?, ?, ?)
		ON CONFLICT (code) DO UPDATE SET name = excluded.name, rural = excluded.rural, outline = excluded.outline`,
		d.Code, d.Name, d.Rural, outline)
	return translate(err)
}

func scanDistrict(r rowScanner) (*liftrescue.District, error) {
	var d liftrescue.District
	var outline sql.NullString
	if err := r.Scan(&d.Code, &d.Name, &d.Rural, &outline); err != nil {
		return nil, translate(err)
	}
	mp, err := liftrescue.ParseOutline([]byte(outline.String))
	if err != nil {
		return nil, fmt.Errorf("district %s: %w", d.Code, err)
	}
	d.Outline = mp
	return &d, nil
}

// checkDistrict returns EINVALID when no district has the code, so that a write names the field
// instead of failing on the foreign key.
func checkDistrict(ctx context.Context, q queryer, code string) error {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM districts WHERE code = ?`, code).Scan(&n); err != nil {
		return translate(err)
	}
	if n == 0 {
		return liftrescue.Invalid("district", fmt.Sprintf("no district has the code %q", code))
	}
	return nil
}
