package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/liftrescue/liftrescue"
)

// ImportOrganizations upserts by code inside one transaction: every row is checked against the file
// and the database before anything is written, so an all-or-nothing import that fails leaves the
// registry as it was.
func (db *DB) ImportOrganizations(ctx context.Context, rows []liftrescue.OrganizationRow, opt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
	res := &liftrescue.ImportResult{Rows: len(rows)}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		districts, err := districtSet(ctx, tx)
		if err != nil {
			return err
		}
		seen := map[string]int{}
		good := make([]*liftrescue.OrganizationRow, 0, len(rows))
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
			if len(bad) > 0 {
				res.Errors = append(res.Errors, bad...)
				continue
			}
			good = append(good, row)
		}

		// An organisation whose kind changes while elevators or teams rely on it is a row error,
		// as UpdateOrganization refuses it; the foreign keys on (id, kind) would refuse it anyway,
		// but only for the whole file.
		s := staging{table: "organizations", key: "code", fields: orgFields}
		type match struct {
			line             int
			kind, stored     liftrescue.OrgKind
			id               int64
			elevators, teams int
		}
		matches, err := stageAndMatch(ctx, tx, s, len(good), func(i int) (int, []any) { return good[i].Line, orgValues(&good[i].Org) },
			`SELECT t.line, t.kind, o.kind, o.id, `+orgReferences("o.id")+` FROM `+s.temp()+` t JOIN organizations o ON o.code = t.code`,
			func(r rowScanner) (m match, err error) {
				err = r.Scan(&m.line, &m.kind, &m.stored, &m.id, &m.elevators, &m.teams)
				return
			})
		if err != nil {
			return err
		}
		skip := []int{}
		for _, m := range matches {
			if m.kind != m.stored && m.elevators+m.teams > 0 {
				res.Errors = append(res.Errors, liftrescue.Detail{Line: m.line, Field: "kind", Value: string(m.kind),
					Reason: fmt.Sprintf("organization %d is a %s that elevators or teams rely on; its kind cannot change", m.id, m.stored)})
				skip = append(skip, m.line)
				continue
			}
			res.Updated++
		}
		res.Created = len(good) - len(skip) - res.Updated

		write, err := res.Settle(opt, "organization")
		if !write || err != nil {
			return err
		}
		if err := s.upsert(ctx, tx, skip, db.stamp()); err != nil {
			return fmt.Errorf("import organizations: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// ImportElevators upserts by equipment code inside one transaction. Units are named by
// organisation code and resolved in memory; a rescue code held by another elevator is a row error.
func (db *DB) ImportElevators(ctx context.Context, rows []liftrescue.ElevatorRow, opt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
	res := &liftrescue.ImportResult{Rows: len(rows)}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		districts, err := districtSet(ctx, tx)
		if err != nil {
			return err
		}
		units, err := unitsByCode(ctx, tx)
		if err != nil {
			return err
		}
		check := liftrescue.NewElevatorImportCheck(units, districts)
		good := make([]*liftrescue.ElevatorRow, 0, len(rows))
		for i := range rows {
			if bad := check.Row(&rows[i]); len(bad) > 0 {
				res.Errors = append(res.Errors, bad...)
				continue
			}
			good = append(good, &rows[i])
		}

		// Both codes are unique in the registry, so each staged row meets at most one holder of its
		// rescue code and at most one elevator with its equipment code.
		s := staging{table: "elevators", key: "equipment_code", fields: elevatorFields}
		type match struct {
			line            int
			rescueCode      string
			holder          *int64
			holderEquipment *string
			exists          bool
		}
		matches, err := stageAndMatch(ctx, tx, s, len(good), func(i int) (int, []any) { return good[i].Line, elevatorValues(&good[i].Elevator) },
			`SELECT t.line, t.rescue_code, held.id, held.equipment_code, existing.id IS NOT NULL
			FROM `+s.temp()+` t
			LEFT JOIN elevators held ON held.rescue_code = t.rescue_code AND held.equipment_code <> t.equipment_code
			LEFT JOIN elevators existing ON existing.equipment_code = t.equipment_code
			WHERE held.id IS NOT NULL OR existing.id IS NOT NULL`,
			func(r rowScanner) (m match, err error) {
				err = r.Scan(&m.line, &m.rescueCode, &m.holder, &m.holderEquipment, &m.exists)
				return
			})
		if err != nil {
			return err
		}
		skip := []int{}
		for _, m := range matches {
			if m.holder != nil {
				res.Errors = append(res.Errors, liftrescue.RescueCodeHeld(m.line, m.rescueCode, *m.holder, *m.holderEquipment))
				skip = append(skip, m.line)
				continue
			}
			res.Updated++
		}
		res.Created = len(good) - len(skip) - res.Updated

		write, err := res.Settle(opt, "elevator")
		if !write || err != nil {
			return err
		}
		if err := s.upsert(ctx, tx, skip, db.stamp()); err != nil {
			// Every code the registry held was checked above, so only another session writing the
			// same codes since then gets here; the unique index makes that ECONFLICT.
			return fmt.Errorf("import elevators: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// staging is a temporary table holding the checked rows of one import with their line numbers, so
// that what they collide with in the registry is found by one join and they are written by one
// statement: a round trip per row would make a city's 100,000 elevators take minutes.
type staging struct {
	table  string   // the registry table the rows go to
	key    string   // the unique column rows are upserted by
	fields []string // the written columns, in the order the rows give their values
}

// temp names the temporary table. It lives in the session's own schema and is dropped when the
// transaction ends, so concurrent imports on other connections never see it.
func (s staging) temp() string { return "import_" + s.table }

// stageAndMatch copies n rows into the staging table, then returns what query (over s.temp()) finds
// for them, read with scan. With no rows, it touches nothing and finds nothing.
func stageAndMatch[T any](ctx context.Context, tx pgx.Tx, s staging, n int, row func(i int) (line int, values []any), query string, scan func(rowScanner) (T, error)) ([]T, error) {
	if n == 0 {
		return nil, nil
	}
	// Shaped by the registry table itself, so column types never drift from the migrations.
	_, err := tx.Exec(ctx, `CREATE TEMP TABLE `+s.temp()+` ON COMMIT DROP AS SELECT 0 AS line, `+strings.Join(s.fields, ", ")+
		` FROM `+s.table+` WITH NO DATA`)
	if err != nil {
		return nil, translate(err)
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{s.temp()}, append([]string{"line"}, s.fields...), pgx.CopyFromSlice(n, func(i int) ([]any, error) {
		line, values := row(i)
		return append([]any{line}, values...), nil
	}))
	if err != nil {
		return nil, translate(err)
	}
	return all(ctx, tx, scan, query)
}

// upsert writes the staged rows but the skipped lines, in line order so that new ids follow the
// file. A row whose key exists updates it and keeps its created_at.
func (s staging) upsert(ctx context.Context, tx pgx.Tx, skip []int, now time.Time) error {
	cols := strings.Join(s.fields, ", ")
	set := make([]string, 0, len(s.fields))
	for _, f := range s.fields {
		if f != s.key {
			set = append(set, f+" = excluded."+f)
		}
	}
	set = append(set, "updated_at = excluded.updated_at")
	// skip must not be nil: pgx sends a nil slice as NULL, and "<> ALL (NULL)" keeps no row.
	if skip == nil {
		skip = []int{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+s.table+` (`+cols+`, created_at, updated_at)
		SELECT `+cols+`, $1::timestamptz, $1::timestamptz FROM `+s.temp()+` WHERE line <> ALL ($2::integer[]) ORDER BY line
		ON CONFLICT (`+s.key+`) DO UPDATE SET `+strings.Join(set, ", "), now, skip)
	return translate(err)
}
