package postgres

import (
	"context"
	"fmt"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb/geojson"
)

const districtColumns = `code, name, rural, outline`

func (db *DB) ListDistricts(ctx context.Context) ([]*liftrescue.District, error) {
	return all(ctx, db.pool, scanDistrict, `SELECT `+districtColumns+` FROM districts ORDER BY code`)
}

func (db *DB) FindDistrict(ctx context.Context, code string) (*liftrescue.District, error) {
	return one(db.pool.QueryRow(ctx, `SELECT `+districtColumns+` FROM districts WHERE code = $1`, code), scanDistrict,
		"no district has the code %q", code)
}

func (db *DB) UpsertDistrict(ctx context.Context, d *liftrescue.District) error {
	if err := d.Validate(); err != nil {
		return err
	}
	var outline any // SQL NULL when not drawn; a string is taken as JSON text by the jsonb codec
	if len(d.Outline) > 0 {
		b, err := geojson.NewGeometry(d.Outline).MarshalJSON()
		if err != nil {
			return fmt.Errorf("encode outline: %w", err)
		}
		outline = string(b)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO districts (code, name, rural, outline) VALUES ($1, $2, $3, $4)
		ON CONFLICT (code) DO UPDATE SET name = excluded.name, rural = excluded.rural, outline = excluded.outline`,
		d.Code, d.Name, d.Rural, outline)
	return translate(err)
}

func scanDistrict(r rowScanner) (*liftrescue.District, error) {
	var d liftrescue.District
	var outline []byte
	if err := r.Scan(&d.Code, &d.Name, &d.Rural, &outline); err != nil {
		return nil, translate(err)
	}
	mp, err := liftrescue.ParseOutline(outline)
	if err != nil {
		return nil, fmt.Errorf("district %s: %w", d.Code, err)
	}
	d.Outline = mp
	return &d, nil
}

// checkDistrict returns EINVALID when no district has the code, so that a write names the field
// instead of failing on the foreign key.
func checkDistrict(ctx context.Context, q querier, code string) error {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM districts WHERE code = $1)`, code).Scan(&ok); err != nil {
		return translate(err)
	}
	if !ok {
		return liftrescue.Invalid("district", fmt.Sprintf("no district has the code %q", code))
	}
	return nil
}

// districtSet loads every district code for the checks of an import; a city has a few dozen.
func districtSet(ctx context.Context, q querier) (map[string]bool, error) {
	codes, err := all(ctx, q, func(r rowScanner) (code string, err error) {
		err = r.Scan(&code)
		return
	}, `SELECT code FROM districts`)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(codes))
	for _, c := range codes {
		set[c] = true
	}
	return set, nil
}
