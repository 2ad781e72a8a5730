package sqlite

import (
	"context"
	"database/sql"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
	sqlite3 "modernc.org/sqlite/lib"
)

// Plans and grids are written with the statements of sqlq (grid.go there), which both stores share.
// Every write is one immediate transaction, so what it checks (the plan a draft, the name free, the
// units there and of their kinds) stays so until it commits: SQLite has one writer at a time.
// Reads of a grid or of a plan's grids take one snapshot, so that a grid and its units agree.

func (db *DB) CreatePlan(ctx context.Context, p *liftrescue.Plan, from int64) error {
	w, err := sqlq.NewPlan(p, from, db.stamp())
	if err != nil {
		return err
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		if from != 0 {
			if _, err := planStatus(ctx, tx, from); err != nil {
				return err
			}
			if err := checkCopy(ctx, tx, from); err != nil {
				return err
			}
		}
		if err := tx.QueryRowContext(ctx, sqlq.InsertPlan, sqlq.PlanArgs(w, textTime)...).Scan(&w.ID); err != nil {
			return translate(err)
		}
		if from == 0 {
			return nil
		}
		res, err := tx.ExecContext(ctx, sqlq.CopyGrids, w.ID, from)
		if err != nil {
			return translate(err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return translate(err)
		}
		w.Grids = int(n)
		_, err = tx.ExecContext(ctx, sqlq.CopyGridUnits, from, w.ID)
		return translate(err)
	})
	if err != nil {
		return err
	}
	*p = *w
	return nil
}

func (db *DB) FindPlan(ctx context.Context, id int64) (*liftrescue.Plan, error) {
	return findPlan(ctx, db.db, id)
}

func findPlan(ctx context.Context, q queryer, id int64) (*liftrescue.Plan, error) {
	p, err := scanPlan(q.QueryRowContext(ctx, sqlq.FindPlan, id))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, sqlq.NoPlan(id)
	}
	return p, err
}

func (db *DB) ActivePlan(ctx context.Context) (*liftrescue.Plan, error) {
	p, err := scanPlan(db.db.QueryRowContext(ctx, sqlq.ActivePlan))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, sqlq.NoActivePlan()
	}
	return p, err
}

func (db *DB) ListPlans(ctx context.Context) ([]*liftrescue.Plan, error) {
	return all(ctx, db.db, scanPlan, sqlq.ListPlans)
}

func (db *DB) UpdatePlan(ctx context.Context, p *liftrescue.Plan) error {
	args, err := sqlq.UpdatePlanArgs(p, db.stamp(), textTime)
	if err != nil {
		return err
	}
	var saved *liftrescue.Plan
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		if err := lockDraft(ctx, tx, p.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sqlq.UpdatePlan, args...); err != nil {
			return translate(err)
		}
		saved, err = findPlan(ctx, tx, p.ID)
		return err
	})
	if err != nil {
		return err
	}
	*p = *saved
	return nil
}

// DeletePlan deletes the draft; its grids and their units go with it (ON DELETE CASCADE).
func (db *DB) DeletePlan(ctx context.Context, id int64) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := lockDraft(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, sqlq.DeletePlan, id)
		return translate(err)
	})
}

func (db *DB) PublishPlan(ctx context.Context, id int64, by string) (*liftrescue.Plan, error) {
	if err := sqlq.Publisher(by); err != nil {
		return nil, err
	}
	now := textTime(db.stamp())
	var saved *liftrescue.Plan
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := lockDraft(ctx, tx, id); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, sqlq.CountGrids, id).Scan(&n); err != nil {
			return translate(err)
		}
		if n == 0 {
			return sqlq.EmptyPlan(id)
		}
		if _, err := tx.ExecContext(ctx, sqlq.RetireActive, now, now); err != nil {
			return translate(err)
		}
		if _, err := tx.ExecContext(ctx, sqlq.ActivatePlan, by, now, now, id); err != nil {
			if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
				return sqlq.PublishedMeanwhile(id, err)
			}
			return translate(err)
		}
		var err error
		saved, err = findPlan(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return saved, nil
}

func (db *DB) ListGrids(ctx context.Context, plan int64) ([]*liftrescue.Grid, error) {
	var grids []*liftrescue.Grid
	err := db.reading(ctx, func(tx *sql.Tx) error {
		if _, err := planStatus(ctx, tx, plan); err != nil {
			return err
		}
		var err error
		if grids, err = all(ctx, tx, scanGrid, sqlq.ListGrids, plan); err != nil {
			return err
		}
		byID := make(map[int64]*liftrescue.Grid, len(grids))
		for _, g := range grids {
			byID[g.ID] = g
		}
		return each(ctx, tx, scanGridUnit, func(u gridUnit) error {
			if g := byID[u.grid]; g != nil {
				g.Units = append(g.Units, u.org)
			}
			return nil
		}, sqlq.PlanGridUnits, plan)
	})
	if err != nil {
		return nil, err
	}
	return grids, nil
}

func (db *DB) FindGrid(ctx context.Context, id int64) (*liftrescue.Grid, error) {
	var g *liftrescue.Grid
	err := db.reading(ctx, func(tx *sql.Tx) error {
		var err error
		if g, err = scanGrid(tx.QueryRowContext(ctx, sqlq.FindGrid, id)); err != nil {
			if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
				return sqlq.NoGrid(id)
			}
			return err
		}
		g.Units, err = all(ctx, tx, func(r rowScanner) (id int64, err error) {
			err = translate(r.Scan(&id))
			return
		}, sqlq.GridUnits, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

func (db *DB) CreateGrid(ctx context.Context, g *liftrescue.Grid) error {
	return sqlq.WriteGrid(g, db.stamp(), func(w *liftrescue.Grid, area string) error {
		return db.inTx(ctx, func(tx *sql.Tx) error {
			if err := lockDraft(ctx, tx, w.PlanID); err != nil {
				return err
			}
			if err := checkGrid(ctx, tx, w, true); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, sqlq.InsertGrid, sqlq.GridArgs(w, area, textTime)...).Scan(&w.ID); err != nil {
				return translate(err)
			}
			return writeGridUnits(ctx, tx, w)
		})
	})
}

func (db *DB) UpdateGrid(ctx context.Context, g *liftrescue.Grid) error {
	return sqlq.WriteGrid(g, db.stamp(), func(w *liftrescue.Grid, area string) error {
		return db.inTx(ctx, func(tx *sql.Tx) error {
			if err := tx.QueryRowContext(ctx, sqlq.GridPlan, w.ID).Scan(&w.PlanID, timeText{&w.CreatedAt}); err != nil {
				if err == sql.ErrNoRows {
					return sqlq.NoGrid(w.ID)
				}
				return translate(err)
			}
			if err := lockDraft(ctx, tx, w.PlanID); err != nil {
				return err
			}
			if err := checkGrid(ctx, tx, w, false); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, sqlq.UpdateGrid, sqlq.UpdateGridArgs(w, area, textTime)...); err != nil {
				return translate(err)
			}
			if _, err := tx.ExecContext(ctx, sqlq.DeleteGridUnits, w.ID); err != nil {
				return translate(err)
			}
			return writeGridUnits(ctx, tx, w)
		})
	})
}

func (db *DB) DeleteGrid(ctx context.Context, id int64) error {
	now := db.stamp()
	return db.inTx(ctx, func(tx *sql.Tx) error {
		var plan int64
		var created string
		if err := tx.QueryRowContext(ctx, sqlq.GridPlan, id).Scan(&plan, &created); err != nil {
			if err == sql.ErrNoRows {
				return sqlq.NoGrid(id)
			}
			return translate(err)
		}
		if err := lockDraft(ctx, tx, plan); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sqlq.DeleteGrid, id); err != nil {
			return translate(err)
		}
		_, err := tx.ExecContext(ctx, sqlq.TouchPlan, textTime(now), plan)
		return translate(err)
	})
}

// writeGridUnits stores the units of the grid written, in order, and moves its plan's updated_at.
func writeGridUnits(ctx context.Context, tx *sql.Tx, w *liftrescue.Grid) error {
	if _, err := tx.ExecContext(ctx, sqlq.InsertGridUnits(len(w.Units)), sqlq.InsertGridUnitsArgs(w)...); err != nil {
		return translate(err)
	}
	_, err := tx.ExecContext(ctx, sqlq.TouchPlan, textTime(w.UpdatedAt), w.PlanID)
	return translate(err)
}

// planStatus reads the status of a plan; ENOTFOUND when there is none.
func planStatus(ctx context.Context, q queryer, id int64) (liftrescue.PlanStatus, error) {
	var status liftrescue.PlanStatus
	switch err := q.QueryRowContext(ctx, sqlq.PlanStatus, id).Scan(&status); {
	case err == sql.ErrNoRows:
		return "", sqlq.NoPlan(id)
	case err != nil:
		return "", translate(err)
	}
	return status, nil
}

// lockDraft returns ENOTFOUND when no plan has the id, ECONFLICT when the plan is not a draft. The
// transaction's write lock keeps it a draft until the commit.
func lockDraft(ctx context.Context, q queryer, id int64) error {
	status, err := planStatus(ctx, q, id)
	if err != nil {
		return err
	}
	return sqlq.Draft(id, status)
}

// checkGrid checks, inside the writing transaction, what Validate cannot: the district, the units
// and the fire station exist with the right kinds, no other grid of the plan has the name, and a
// new grid finds room in its plan.
func checkGrid(ctx context.Context, q queryer, w *liftrescue.Grid, create bool) error {
	var districts int
	if err := q.QueryRowContext(ctx, sqlq.DistrictExists, w.District).Scan(&districts); err != nil {
		return translate(err)
	}
	ids := sqlq.RefIDs(sqlq.GridRefs{Units: w.Units, FireStation: w.FireStation})
	kinds, err := orgKinds(ctx, q, sqlq.OrgKinds(len(ids)), ids...)
	if err != nil {
		return err
	}
	if err := sqlq.GridProblems(w, districts > 0, kinds); err != nil {
		return err
	}
	var holder int64
	switch err := q.QueryRowContext(ctx, sqlq.GridNameHolder, w.PlanID, w.Name, w.ID).Scan(&holder); {
	case err == nil:
		return sqlq.GridNameTaken(w.Name, holder)
	case err != sql.ErrNoRows:
		return translate(err)
	}
	if !create {
		return nil
	}
	var n int
	if err := q.QueryRowContext(ctx, sqlq.CountGrids, w.PlanID).Scan(&n); err != nil {
		return translate(err)
	}
	if n >= liftrescue.MaxPlanGrids {
		return sqlq.PlanFull(w.PlanID)
	}
	return nil
}

// checkCopy returns EINVALID when the grids of the plan copied name organisations that are gone or
// have changed kind since: a retired plan keeps naming them, a draft may not.
func checkCopy(ctx context.Context, q queryer, from int64) error {
	grids, err := all(ctx, q, func(r rowScanner) (g sqlq.GridRefs, err error) {
		err = translate(r.Scan(&g.ID, &g.Name, &g.FireStation))
		return
	}, sqlq.PlanGridRefs, from)
	if err != nil {
		return err
	}
	pos := make(map[int64]int, len(grids))
	for i, g := range grids {
		pos[g.ID] = i
	}
	err = each(ctx, q, scanGridUnit, func(u gridUnit) error {
		if i, ok := pos[u.grid]; ok {
			grids[i].Units = append(grids[i].Units, u.org)
		}
		return nil
	}, sqlq.PlanGridUnits, from)
	if err != nil {
		return err
	}
	kinds, err := orgKinds(ctx, q, sqlq.PlanOrgKinds, from, from)
	if err != nil {
		return err
	}
	return sqlq.CopyProblems(from, grids, kinds)
}

// orgKinds runs a query of organisations' ids and kinds into a map.
func orgKinds(ctx context.Context, q queryer, query string, args ...any) (map[int64]liftrescue.OrgKind, error) {
	kinds := map[int64]liftrescue.OrgKind{}
	err := each(ctx, q, func(r rowScanner) (o liftrescue.UnitRef, err error) {
		err = translate(r.Scan(&o.ID, &o.Kind))
		return
	}, func(o liftrescue.UnitRef) error {
		kinds[o.ID] = o.Kind
		return nil
	}, query, args...)
	return kinds, err
}

// gridUnit is a row of PlanGridUnits.
type gridUnit struct{ grid, org int64 }

func scanGridUnit(r rowScanner) (u gridUnit, err error) {
	err = translate(r.Scan(&u.grid, &u.org))
	return
}

func scanPlan(r rowScanner) (*liftrescue.Plan, error) {
	var p liftrescue.Plan
	if err := r.Scan(sqlq.PlanDest(&p, timeText{&p.CreatedAt}, timeText{&p.UpdatedAt}, nullTimeText{&p.PublishedAt}, nullTimeText{&p.RetiredAt})...); err != nil {
		return nil, translate(err)
	}
	return &p, nil
}

func scanGrid(r rowScanner) (*liftrescue.Grid, error) {
	var g liftrescue.Grid
	var area string
	if err := r.Scan(sqlq.GridDest(&g, &area, timeText{&g.CreatedAt}, timeText{&g.UpdatedAt})...); err != nil {
		return nil, translate(err)
	}
	return &g, sqlq.DecodeArea(&g, area)
}
