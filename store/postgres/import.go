package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/upsert"
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
		check := upsert.NewOrgCheck(districts)
		good := make([]*liftrescue.OrganizationRow, 0, len(rows))
		for i := range rows {
			if bad := check.Row(&rows[i]); len(bad) > 0 {
				res.Errors = append(res.Errors, bad...)
				continue
			}
			good = append(good, &rows[i])
		}

		// An organisation whose kind changes while elevators or teams rely on it is a row error,
		// as UpdateOrganization refuses it; the foreign keys on (id, kind) would refuse it anyway,
		// but only for the whole file.
		s := staging{table: "organizations", key: "code", fields: orgFields, update: upsert.OrgColumns}
		type match struct {
			pos              int
			kind, stored     liftrescue.OrgKind
			id               int64
			elevators, teams int
		}
		matches, err := stageAndMatch(ctx, tx, s, len(good), func(i int) []any { return orgValues(&good[i].Org) },
			`SELECT t.pos, t.kind, o.kind, o.id, `+orgReferences("o.id")+` FROM `+s.temp()+` t JOIN organizations o ON o.code = t.code`,
			func(r rowScanner) (m match, err error) {
				err = r.Scan(&m.pos, &m.kind, &m.stored, &m.id, &m.elevators, &m.teams)
				return
			})
		if err != nil {
			return err
		}
		skip := []int{}
		for _, m := range matches {
			if m.kind != m.stored && opt.Has("kind") && m.elevators+m.teams > 0 {
				res.Errors = append(res.Errors, upsert.KindInUse(good[m.pos].Line, m.id, m.kind, m.stored))
				skip = append(skip, m.pos)
				continue
			}
			res.Updated++
		}
		res.Created = len(good) - len(skip) - res.Updated

		write, err := res.Settle(opt, "organization")
		if !write || err != nil {
			return err
		}
		if db.beforeImportWrite != nil {
			db.beforeImportWrite()
		}
		if err := s.upsert(ctx, tx, opt, skip, db.stamp()); err != nil {
			if isCode(err, "23503") { // foreign_key_violation
				return &liftrescue.Error{Code: liftrescue.ECONFLICT, Err: err,
					Message: "elevators or teams came to rely on an organization whose kind the file changes while it was imported; nothing was imported"}
			}
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
	good := make([]*liftrescue.ElevatorRow, 0, len(rows))
	skip := []int{} // positions in good
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
		for i := range rows {
			if bad := check.Row(&rows[i]); len(bad) > 0 {
				res.Errors = append(res.Errors, bad...)
				continue
			}
			good = append(good, &rows[i])
		}

		// Both codes are unique in the registry, so each staged row meets at most one holder of its
		// rescue code and at most one elevator with its equipment code.
		s := staging{table: "elevators", key: "equipment_code", fields: elevatorFields, update: upsert.ElevatorColumns}
		type match struct {
			pos             int
			rescueCode      string
			holder          *int64
			holderEquipment *string
			exists          bool
		}
		matches, err := stageAndMatch(ctx, tx, s, len(good), func(i int) []any { return elevatorValues(&good[i].Elevator) },
			`SELECT t.pos, t.rescue_code, held.id, held.equipment_code, existing.id IS NOT NULL
			FROM `+s.temp()+` t
			LEFT JOIN elevators held ON held.rescue_code = t.rescue_code AND held.equipment_code <> t.equipment_code
			LEFT JOIN elevators existing ON existing.equipment_code = t.equipment_code
			WHERE held.id IS NOT NULL OR existing.id IS NOT NULL`,
			func(r rowScanner) (m match, err error) {
				err = r.Scan(&m.pos, &m.rescueCode, &m.holder, &m.holderEquipment, &m.exists)
				return
			})
		if err != nil {
			return err
		}
		for _, m := range matches {
			if m.holder != nil {
				res.Errors = append(res.Errors, liftrescue.RescueCodeHeld(good[m.pos].Line, m.rescueCode, *m.holder, *m.holderEquipment))
				skip = append(skip, m.pos)
				continue
			}
			res.Updated++
		}
		res.Created = len(good) - len(skip) - res.Updated

		write, err := res.Settle(opt, "elevator")
		if !write || err != nil {
			return err
		}
		if db.beforeImportWrite != nil {
			db.beforeImportWrite()
		}
		return s.upsert(ctx, tx, opt, skip, db.stamp())
	})
	if err != nil {
		// Every code the registry held was checked above, so a conflict means that another session
		// wrote since then. It is explained once the transaction has given back its connection.
		return nil, db.elevatorWriteConflict(ctx, good, skip, err)
	}
	return res, nil
}

// staging is a temporary table holding the checked rows of one import with their positions in
// the batch, so that what they collide with in the registry is found by one join and they are
// written by one statement: a round trip per row would make a city's 100,000 elevators take
// minutes. Rows are told apart by position, never by line: a JSON batch gives every row line 0.
type staging struct {
	table  string          // the registry table the rows go to
	key    string          // the unique column rows are upserted by
	fields []string        // the written columns, in the order the rows give their values
	update []upsert.Column // the columns an upsert may update on a stored row
}

// temp names the temporary table. It lives in the session's own schema and is dropped when the
// transaction ends, so concurrent imports on other connections never see it.
func (s staging) temp() string { return "import_" + s.table }

// stageAndMatch copies n rows into the staging table, each with its position (0 to n-1) in the
// column pos, then returns what query (over s.temp()) finds for them, read with scan. With no
// rows, it touches nothing and finds nothing.
func stageAndMatch[T any](ctx context.Context, tx pgx.Tx, s staging, n int, row func(i int) []any, query string, scan func(rowScanner) (T, error)) ([]T, error) {
	if n == 0 {
		return nil, nil
	}
	// Shaped by the registry table itself, so column types never drift from the migrations.
	_, err := tx.Exec(ctx, `CREATE TEMP TABLE `+s.temp()+` ON COMMIT DROP AS SELECT 0 AS pos, `+strings.Join(s.fields, ", ")+
		` FROM `+s.table+` WITH NO DATA`)
	if err != nil {
		return nil, translate(err)
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{s.temp()}, append([]string{"pos"}, s.fields...), pgx.CopyFromSlice(n, func(i int) ([]any, error) {
		return append([]any{i}, row(i)...), nil
	}))
	if err != nil {
		return nil, translate(err)
	}
	return all(ctx, tx, scan, query)
}

// upsert writes the staged rows but those at the skipped positions, in batch order so that new
// ids follow the file. A row whose key exists updates the columns the import carries and keeps
// its created_at.
func (s staging) upsert(ctx context.Context, tx pgx.Tx, opt liftrescue.ImportOptions, skip []int, now time.Time) error {
	cols := strings.Join(s.fields, ", ")
	// skip must not be nil: pgx sends a nil slice as NULL, and "<> ALL (NULL)" keeps no row.
	if skip == nil {
		skip = []int{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+s.table+` (`+cols+`, created_at, updated_at)
		SELECT `+cols+`, $1::timestamptz, $1::timestamptz FROM `+s.temp()+` WHERE pos <> ALL ($2::integer[]) ORDER BY pos
		ON CONFLICT (`+s.key+`) DO UPDATE SET `+upsert.Set(s.update, opt), now, skip)
	return translate(err)
}

// elevatorWriteConflict explains the failure of an elevator import whose checked rows another
// session collided with: the first row, in batch order, whose rescue code another elevator now
// holds is named. Other errors pass through.
func (db *DB) elevatorWriteConflict(ctx context.Context, good []*liftrescue.ElevatorRow, skip []int, err error) error {
	switch {
	case isCode(err, "23503"): // foreign_key_violation
		return &liftrescue.Error{Code: liftrescue.ECONFLICT, Err: err,
			Message: "a unit of an elevator in the file was deleted or changed kind while it was imported; nothing was imported"}
	case !isCode(err, "23505"):
		return err
	}
	skipped := make(map[int]bool, len(skip))
	for _, pos := range skip {
		skipped[pos] = true
	}
	codes := make([]string, 0, len(good))
	for pos, row := range good {
		if !skipped[pos] {
			codes = append(codes, row.Elevator.RescueCode)
		}
	}
	type holder struct {
		id                    int64
		rescue, equipmentCode string
	}
	holders, lookup := all(ctx, db.pool, func(r rowScanner) (h holder, err error) {
		err = r.Scan(&h.id, &h.rescue, &h.equipmentCode)
		return
	}, `SELECT id, rescue_code, equipment_code FROM elevators WHERE rescue_code = ANY ($1)`, codes)
	if lookup != nil {
		return err
	}
	byCode := make(map[string]holder, len(holders))
	for _, h := range holders {
		byCode[h.rescue] = h
	}
	for pos, row := range good {
		if h, ok := byCode[row.Elevator.RescueCode]; ok && !skipped[pos] && h.equipmentCode != row.Elevator.EquipmentCode {
			return upsert.CodeTaken(row, h.id, h.equipmentCode, err)
		}
	}
	return fmt.Errorf("import elevators: %w", err)
}
