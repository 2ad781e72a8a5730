package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

// Plans and grids are written with the statements of sqlq (grid.go there), which both stores share,
// numbered for PostgreSQL. Where SQLite's one writer keeps what a write checked true until it
// commits, row locks do here:
//
//   - a write to a plan or its grids locks the plan's row (FOR UPDATE) before it checks that the
//     plan is a draft, so writes to one plan take turns, a name checked free stays free, the count
//     of grids stays right, and no publication comes between;
//   - it reads the kinds of the organisations that a grid names FOR SHARE, and a delete or a change
//     of an organisation locks its row (FOR UPDATE) before it looks for grids that name it, so
//     that no grid comes to name an organisation that is gone or of another kind;
//   - publications take turns on an advisory lock, so that two drafts published at once are both
//     published, one after the other, and the one-active-plan index never has to refuse one.
//
// Locks are taken in the order advisory lock, plan, organisations, so that no two writers wait on
// each other.

// publishLock is the key of the transaction-level advisory lock that publications take ("liftplan"
// in ASCII). It must never change, and never equal migrationLock.
const publishLock int64 = 0x6c696674706c616e

// Statements numbered for PostgreSQL once.
var (
	insertPlanSQL      = sqlq.Dollar(sqlq.InsertPlan)
	findPlanSQL        = sqlq.Dollar(sqlq.FindPlan)
	lockPlanSQL        = sqlq.Dollar(sqlq.PlanStatus + sqlq.ForUpdate)
	sharePlanSQL       = sqlq.Dollar(sqlq.PlanStatus + sqlq.ForShare)
	planStatusSQL      = sqlq.Dollar(sqlq.PlanStatus)
	updatePlanSQL      = sqlq.Dollar(sqlq.UpdatePlan)
	deletePlanSQL      = sqlq.Dollar(sqlq.DeletePlan)
	touchPlanSQL       = sqlq.Dollar(sqlq.TouchPlan)
	countGridsSQL      = sqlq.Dollar(sqlq.CountGrids)
	retireActiveSQL    = sqlq.Dollar(sqlq.RetireActive)
	activatePlanSQL    = sqlq.Dollar(sqlq.ActivatePlan)
	copyGridsSQL       = sqlq.Dollar(sqlq.CopyGrids)
	copyGridUnitsSQL   = sqlq.Dollar(sqlq.CopyGridUnits)
	planGridRefsSQL    = sqlq.Dollar(sqlq.PlanGridRefs)
	planOrgKindsSQL    = sqlq.Dollar(sqlq.PlanOrgKinds + sqlq.ForShare)
	findGridSQL        = sqlq.Dollar(sqlq.FindGrid)
	listGridsSQL       = sqlq.Dollar(sqlq.ListGrids)
	gridUnitsSQL       = sqlq.Dollar(sqlq.GridUnits)
	planGridUnitsSQL   = sqlq.Dollar(sqlq.PlanGridUnits)
	gridPlanSQL        = sqlq.Dollar(sqlq.GridPlan)
	gridNameHolderSQL  = sqlq.Dollar(sqlq.GridNameHolder)
	insertGridSQL      = sqlq.Dollar(sqlq.InsertGrid)
	updateGridSQL      = sqlq.Dollar(sqlq.UpdateGrid)
	deleteGridUnitsSQL = sqlq.Dollar(sqlq.DeleteGridUnits)
	deleteGridSQL      = sqlq.Dollar(sqlq.DeleteGrid)
	districtExistsSQL  = sqlq.Dollar(sqlq.DistrictExists)
	orgGridUseSQL      = sqlq.Dollar(sqlq.OrgGridUse)
)

// snapshot is how a read of a grid, or of a plan's grids, sees the database: one snapshot, so that
// a grid and its units agree.
var snapshot = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}

func (db *DB) CreatePlan(ctx context.Context, p *liftrescue.Plan, from int64) error {
	w, err := sqlq.NewPlan(p, from, db.stamp())
	if err != nil {
		return err
	}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		if from != 0 {
			// The plan copied stays as it is until the copy is made.
			if _, err := planStatus(ctx, tx, sharePlanSQL, from); err != nil {
				return err
			}
			if err := checkCopy(ctx, tx, from); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, insertPlanSQL, sqlq.PlanArgs(w, timestamptz)...).Scan(&w.ID); err != nil {
			return translate(err)
		}
		if from == 0 {
			return nil
		}
		tag, err := tx.Exec(ctx, copyGridsSQL, w.ID, from)
		if err != nil {
			return translate(err)
		}
		w.Grids = int(tag.RowsAffected())
		_, err = tx.Exec(ctx, copyGridUnitsSQL, from, w.ID)
		return translate(err)
	})
	if err != nil {
		return err
	}
	*p = *w
	return nil
}

func (db *DB) FindPlan(ctx context.Context, id int64) (*liftrescue.Plan, error) {
	return findPlan(ctx, db.pool, id)
}

func findPlan(ctx context.Context, q querier, id int64) (*liftrescue.Plan, error) {
	return one(q.QueryRow(ctx, findPlanSQL, id), scanPlan, "no plan has the id %d", id)
}

func (db *DB) ActivePlan(ctx context.Context) (*liftrescue.Plan, error) {
	return one(db.pool.QueryRow(ctx, sqlq.ActivePlan), scanPlan, "no plan has been published")
}

func (db *DB) ListPlans(ctx context.Context) ([]*liftrescue.Plan, error) {
	plans, err := all(ctx, db.pool, scanPlan, sqlq.ListPlans)
	if err != nil {
		return nil, err
	}
	if plans == nil {
		plans = []*liftrescue.Plan{}
	}
	return plans, nil
}

func (db *DB) UpdatePlan(ctx context.Context, p *liftrescue.Plan) error {
	args, err := sqlq.UpdatePlanArgs(p, db.stamp(), timestamptz)
	if err != nil {
		return err
	}
	var saved *liftrescue.Plan
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockDraft(ctx, tx, p.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, updatePlanSQL, args...); err != nil {
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
	return db.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockDraft(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, deletePlanSQL, id)
		return translate(err)
	})
}

func (db *DB) PublishPlan(ctx context.Context, id int64, by string) (*liftrescue.Plan, error) {
	if err := sqlq.Publisher(by); err != nil {
		return nil, err
	}
	now := db.stamp()
	var saved *liftrescue.Plan
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		// Every statement after the lock sees the publications committed before it was granted.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, publishLock); err != nil {
			return translate(err)
		}
		if err := lockDraft(ctx, tx, id); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, countGridsSQL, id).Scan(&n); err != nil {
			return translate(err)
		}
		if n == 0 {
			return sqlq.EmptyPlan(id)
		}
		if _, err := tx.Exec(ctx, retireActiveSQL, now, now); err != nil {
			return translate(err)
		}
		if _, err := tx.Exec(ctx, activatePlanSQL, by, now, now, id); err != nil {
			if isCode(err, "23505") { // unique_violation of plans_one_active
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
	grids := []*liftrescue.Grid{}
	err := pgx.BeginTxFunc(ctx, db.pool, snapshot, func(tx pgx.Tx) error {
		if _, err := planStatus(ctx, tx, planStatusSQL, plan); err != nil {
			return err
		}
		list, err := all(ctx, tx, scanGrid, listGridsSQL, plan)
		if err != nil {
			return err
		}
		grids = append(grids, list...)
		units, err := all(ctx, tx, scanGridUnit, planGridUnitsSQL, plan)
		if err != nil {
			return err
		}
		addUnits(grids, units)
		return nil
	})
	if err != nil {
		return nil, translate(err)
	}
	return grids, nil
}

func (db *DB) FindGrid(ctx context.Context, id int64) (*liftrescue.Grid, error) {
	var g *liftrescue.Grid
	err := pgx.BeginTxFunc(ctx, db.pool, snapshot, func(tx pgx.Tx) error {
		var err error
		if g, err = one(tx.QueryRow(ctx, findGridSQL, id), scanGrid, "no grid has the id %d", id); err != nil {
			return err
		}
		g.Units, err = all(ctx, tx, func(r rowScanner) (id int64, err error) {
			err = translate(r.Scan(&id))
			return
		}, gridUnitsSQL, id)
		return err
	})
	if err != nil {
		return nil, translate(err)
	}
	return g, nil
}

func (db *DB) CreateGrid(ctx context.Context, g *liftrescue.Grid) error {
	return sqlq.WriteGrid(g, db.stamp(), func(w *liftrescue.Grid, area string) error {
		return db.inTx(ctx, func(tx pgx.Tx) error {
			if err := lockDraft(ctx, tx, w.PlanID); err != nil {
				return err
			}
			if err := checkGrid(ctx, tx, w, true); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, insertGridSQL, sqlq.GridArgs(w, area, timestamptz)...).Scan(&w.ID); err != nil {
				return translate(err)
			}
			return writeGridUnits(ctx, tx, w)
		})
	})
}

func (db *DB) UpdateGrid(ctx context.Context, g *liftrescue.Grid) error {
	return sqlq.WriteGrid(g, db.stamp(), func(w *liftrescue.Grid, area string) error {
		return db.inTx(ctx, func(tx pgx.Tx) error {
			if err := gridPlan(ctx, tx, w.ID, &w.PlanID, &w.CreatedAt); err != nil {
				return err
			}
			if err := lockDraft(ctx, tx, w.PlanID); err != nil {
				return err
			}
			if err := checkGrid(ctx, tx, w, false); err != nil {
				return err
			}
			// The grid may have been deleted while this waited for its plan.
			tag, err := tx.Exec(ctx, updateGridSQL, sqlq.UpdateGridArgs(w, area, timestamptz)...)
			if err := sqlq.OneChanged(tag.RowsAffected(), translate(err), sqlq.NoGrid(w.ID)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, deleteGridUnitsSQL, w.ID); err != nil {
				return translate(err)
			}
			return writeGridUnits(ctx, tx, w)
		})
	})
}

func (db *DB) DeleteGrid(ctx context.Context, id int64) error {
	now := db.stamp()
	return db.inTx(ctx, func(tx pgx.Tx) error {
		var plan int64
		var created time.Time
		if err := gridPlan(ctx, tx, id, &plan, &created); err != nil {
			return err
		}
		if err := lockDraft(ctx, tx, plan); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, deleteGridSQL, id)
		if err := sqlq.OneChanged(tag.RowsAffected(), translate(err), sqlq.NoGrid(id)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, touchPlanSQL, now, plan)
		return translate(err)
	})
}

// gridPlan reads the plan and the creation time of a grid; ENOTFOUND when there is none.
func gridPlan(ctx context.Context, q querier, id int64, plan *int64, created any) error {
	err := q.QueryRow(ctx, gridPlanSQL, id).Scan(plan, created)
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlq.NoGrid(id)
	}
	return translate(err)
}

// writeGridUnits stores the units of the grid written, in order, and moves its plan's updated_at.
func writeGridUnits(ctx context.Context, tx pgx.Tx, w *liftrescue.Grid) error {
	if _, err := tx.Exec(ctx, sqlq.Dollar(sqlq.InsertGridUnits(len(w.Units))), sqlq.InsertGridUnitsArgs(w)...); err != nil {
		return translate(err)
	}
	_, err := tx.Exec(ctx, touchPlanSQL, w.UpdatedAt, w.PlanID)
	return translate(err)
}

// planStatus reads the status of a plan with the statement given (locking or not); ENOTFOUND when
// there is none.
func planStatus(ctx context.Context, q querier, statement string, id int64) (liftrescue.PlanStatus, error) {
	var status liftrescue.PlanStatus
	switch err := q.QueryRow(ctx, statement, id).Scan(&status); {
	case errors.Is(err, pgx.ErrNoRows):
		return "", sqlq.NoPlan(id)
	case err != nil:
		return "", translate(err)
	}
	return status, nil
}

// lockDraft locks the plan's row until the transaction ends, and returns ENOTFOUND when no plan has
// the id, ECONFLICT when the plan is not a draft.
func lockDraft(ctx context.Context, q querier, id int64) error {
	status, err := planStatus(ctx, q, lockPlanSQL, id)
	if err != nil {
		return err
	}
	return sqlq.Draft(id, status)
}

// checkGrid checks, inside the writing transaction and under the lock of the plan, what Validate
// cannot: the district, the units and the fire station exist with the right kinds (and keep them
// until the commit), no other grid of the plan has the name, and a new grid finds room in its plan.
func checkGrid(ctx context.Context, q querier, w *liftrescue.Grid, create bool) error {
	var districts int
	if err := q.QueryRow(ctx, districtExistsSQL, w.District).Scan(&districts); err != nil {
		return translate(err)
	}
	ids := sqlq.RefIDs(sqlq.GridRefs{Units: w.Units, FireStation: w.FireStation})
	kinds, err := orgKinds(ctx, q, sqlq.Dollar(sqlq.OrgKinds(len(ids))+sqlq.ForShare), ids...)
	if err != nil {
		return err
	}
	if err := sqlq.GridProblems(w, districts > 0, kinds); err != nil {
		return err
	}
	var holder int64
	switch err := q.QueryRow(ctx, gridNameHolderSQL, w.PlanID, w.Name, w.ID).Scan(&holder); {
	case err == nil:
		return sqlq.GridNameTaken(w.Name, holder)
	case !errors.Is(err, pgx.ErrNoRows):
		return translate(err)
	}
	if !create {
		return nil
	}
	var n int
	if err := q.QueryRow(ctx, countGridsSQL, w.PlanID).Scan(&n); err != nil {
		return translate(err)
	}
	if n >= liftrescue.MaxPlanGrids {
		return sqlq.PlanFull(w.PlanID)
	}
	return nil
}

// checkCopy returns EINVALID when the grids of the plan copied name organisations that are gone or
// have changed kind since: a retired plan keeps naming them, a draft may not. The organisations
// that are there stay so until the copy commits.
func checkCopy(ctx context.Context, q querier, from int64) error {
	grids, err := all(ctx, q, func(r rowScanner) (g sqlq.GridRefs, err error) {
		err = translate(r.Scan(&g.ID, &g.Name, &g.FireStation))
		return
	}, planGridRefsSQL, from)
	if err != nil {
		return err
	}
	units, err := all(ctx, q, scanGridUnit, planGridUnitsSQL, from)
	if err != nil {
		return err
	}
	pos := make(map[int64]int, len(grids))
	for i, g := range grids {
		pos[g.ID] = i
	}
	for _, u := range units {
		if i, ok := pos[u.grid]; ok {
			grids[i].Units = append(grids[i].Units, u.org)
		}
	}
	kinds, err := orgKinds(ctx, q, planOrgKindsSQL, from, from)
	if err != nil {
		return err
	}
	return sqlq.CopyProblems(from, grids, kinds)
}

// orgKinds runs a query of organisations' ids and kinds into a map.
func orgKinds(ctx context.Context, q querier, sql string, args ...any) (map[int64]liftrescue.OrgKind, error) {
	refs, err := all(ctx, q, func(r rowScanner) (o liftrescue.UnitRef, err error) {
		err = translate(r.Scan(&o.ID, &o.Kind))
		return
	}, sql, args...)
	if err != nil {
		return nil, err
	}
	kinds := make(map[int64]liftrescue.OrgKind, len(refs))
	for _, o := range refs {
		kinds[o.ID] = o.Kind
	}
	return kinds, nil
}

// gridUnit is a row of PlanGridUnits.
type gridUnit struct{ grid, org int64 }

func scanGridUnit(r rowScanner) (u gridUnit, err error) {
	err = translate(r.Scan(&u.grid, &u.org))
	return
}

// addUnits gives each grid its units, which come in the order of PlanGridUnits.
func addUnits(grids []*liftrescue.Grid, units []gridUnit) {
	byID := make(map[int64]*liftrescue.Grid, len(grids))
	for _, g := range grids {
		byID[g.ID] = g
	}
	for _, u := range units {
		if g := byID[u.grid]; g != nil {
			g.Units = append(g.Units, u.org)
		}
	}
}

func scanPlan(r rowScanner) (*liftrescue.Plan, error) {
	var p liftrescue.Plan
	if err := r.Scan(sqlq.PlanDest(&p, &p.CreatedAt, &p.UpdatedAt, &p.PublishedAt, &p.RetiredAt)...); err != nil {
		return nil, translate(err)
	}
	return &p, nil
}

func scanGrid(r rowScanner) (*liftrescue.Grid, error) {
	var g liftrescue.Grid
	var area string
	if err := r.Scan(sqlq.GridDest(&g, &area, &g.CreatedAt, &g.UpdatedAt)...); err != nil {
		return nil, translate(err)
	}
	return &g, sqlq.DecodeArea(&g, area)
}
