package sqlq

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb/geojson"
)

// Both stores keep plans, their grids and the grids' units (migration 0006) with the statements
// below, which differ between them only in their placeholders (Dollar), in how a time is bound
// (TimeArg) and read (the destinations that the Dest functions take), and in the row locks that
// PostgreSQL takes where SQLite's one writer needs none. What a write stores is settled here, and
// its refusals worded here, so that both stores answer alike.

// The columns read back, in the order of PlanDest and GridDest. A plan's grids are counted, and a
// plan based on none reads 0.
const (
	PlanColumns = `id, name, notes, status, coalesce(based_on, 0), created_by, created_at, updated_at, published_by, published_at,
	retired_at, (SELECT count(*) FROM grids WHERE grids.plan_id = plans.id)`
	GridColumns = `id, plan_id, name, district, area, fire_station, notes, created_at, updated_at`
)

// The statements of the grid service.
const (
	// InsertPlan takes PlanArgs and returns the id.
	InsertPlan = `INSERT INTO plans (name, notes, status, based_on, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
	RETURNING id`
	FindPlan   = `SELECT ` + PlanColumns + ` FROM plans WHERE id = ?`
	ActivePlan = `SELECT ` + PlanColumns + ` FROM plans WHERE status = 'active'`
	ListPlans  = `SELECT ` + PlanColumns + ` FROM plans ORDER BY id DESC`
	// PlanStatus reads the status of a plan that a write changes; PostgreSQL locks the row with
	// it (ForUpdate), so that the plan stays a draft until the write commits.
	PlanStatus = `SELECT status FROM plans WHERE id = ?`
	// UpdatePlan takes the name, the notes, the time and the id.
	UpdatePlan = `UPDATE plans SET name = ?, notes = ?, updated_at = ? WHERE id = ?`
	DeletePlan = `DELETE FROM plans WHERE id = ?`
	// TouchPlan takes the time and the id: a change to a plan's grids is a change to the plan.
	TouchPlan  = `UPDATE plans SET updated_at = ? WHERE id = ?`
	CountGrids = `SELECT count(*) FROM grids WHERE plan_id = ?`
	// RetireActive takes the time twice; ActivatePlan the publisher, the time twice and the id.
	RetireActive = `UPDATE plans SET status = 'retired', retired_at = ?, updated_at = ? WHERE status = 'active'`
	ActivatePlan = `UPDATE plans SET status = 'active', published_by = ?, published_at = ?, updated_at = ? WHERE id = ?`

	// CopyGrids takes the new plan, whose creation time the copies take, and the plan copied. They
	// are made in the order of the originals, so that they list in the same order. (No argument
	// stands among the columns selected, where PostgreSQL could not tell its type.)
	CopyGrids = `INSERT INTO grids (plan_id, name, district, area, fire_station, notes, created_at, updated_at)
	SELECT p.id, g.name, g.district, g.area, g.fire_station, g.notes, p.created_at, p.created_at
	FROM grids g JOIN plans p ON p.id = ? WHERE g.plan_id = ? ORDER BY g.id`
	// CopyGridUnits takes the plan copied and the new plan; a grid's name is unique in its plan,
	// so it ties each copy to its original.
	CopyGridUnits = `INSERT INTO grid_units (grid_id, position, org_id)
	SELECT n.id, u.position, u.org_id FROM grids n JOIN grids o ON o.plan_id = ? AND o.name = n.name JOIN grid_units u ON u.grid_id = o.id
	WHERE n.plan_id = ?`
	// PlanGridRefs lists the grids of a plan with their fire stations, for CopyProblems.
	PlanGridRefs = `SELECT id, name, fire_station FROM grids WHERE plan_id = ? ORDER BY id`
	// PlanOrgKinds takes a plan twice and gives the id and kind of each organisation that its grids
	// name and that exists.
	PlanOrgKinds = `SELECT id, kind FROM organizations WHERE id IN (SELECT u.org_id FROM grid_units u JOIN grids g ON g.id = u.grid_id
	WHERE g.plan_id = ? UNION SELECT fire_station FROM grids WHERE plan_id = ?)`

	FindGrid  = `SELECT ` + GridColumns + ` FROM grids WHERE id = ?`
	ListGrids = `SELECT ` + GridColumns + ` FROM grids WHERE plan_id = ? ORDER BY id`
	GridUnits = `SELECT org_id FROM grid_units WHERE grid_id = ? ORDER BY position`
	// PlanGridUnits gives the grid id and the unit of every unit of a plan's grids, in the order
	// of ListGrids and each grid's units in order.
	PlanGridUnits = `SELECT u.grid_id, u.org_id FROM grid_units u JOIN grids g ON g.id = u.grid_id WHERE g.plan_id = ?
	ORDER BY u.grid_id, u.position`
	// GridPlan gives the plan and the creation time of a grid.
	GridPlan = `SELECT plan_id, created_at FROM grids WHERE id = ?`
	// GridNameHolder takes the plan, the name and the grid written (0 for a new one).
	GridNameHolder = `SELECT id FROM grids WHERE plan_id = ? AND name = ? AND id <> ?`
	// InsertGrid takes GridArgs and returns the id.
	InsertGrid = `INSERT INTO grids (plan_id, name, district, area, fire_station, notes, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	// UpdateGrid takes UpdateGridArgs. The plan is not among what it sets: a grid stays in its plan.
	UpdateGrid      = `UPDATE grids SET name = ?, district = ?, area = ?, fire_station = ?, notes = ?, updated_at = ? WHERE id = ?`
	DeleteGridUnits = `DELETE FROM grid_units WHERE grid_id = ?`
	DeleteGrid      = `DELETE FROM grids WHERE id = ?`
	DistrictExists  = `SELECT count(*) FROM districts WHERE code = ?`

	// OrgGridUse takes OrgGridUseArgs and gives the first grid of a draft or of the active plan
	// that names an organisation in the roles asked about: its id, name and plan, whether it names
	// the organisation as its fire station (else as a unit), and how many grids do.
	OrgGridUse = `SELECT g.id, g.name, g.plan_id, g.fire_station = ?, count(*) OVER ()
	FROM grids g JOIN plans p ON p.id = g.plan_id
	WHERE p.status IN ('draft', 'active') AND (? AND g.fire_station = ? OR ? AND g.id IN (SELECT grid_id FROM grid_units WHERE org_id = ?))
	ORDER BY g.id LIMIT 1`
)

// ForUpdate and ForShare are what PostgreSQL appends to a statement that reads rows a write
// relies on: a plan whose status it checks, organisations whose kinds it checks.
const (
	ForUpdate = ` FOR UPDATE`
	ForShare  = ` FOR SHARE`
)

// OrgKinds selects the id and kind of those of n organisations (n > 0) that exist.
func OrgKinds(n int) string {
	return `SELECT id, kind FROM organizations WHERE id IN (` + marks(n) + `)`
}

// InsertGridUnits inserts n units (n > 0) of a grid; it takes InsertGridUnitsArgs.
func InsertGridUnits(n int) string {
	return `INSERT INTO grid_units (grid_id, position, org_id) VALUES ` + strings.Repeat(`(?, ?, ?), `, n-1) + `(?, ?, ?)`
}

// InsertGridUnitsArgs are the arguments of InsertGridUnits(len(g.Units)).
func InsertGridUnitsArgs(g *liftrescue.Grid) []any {
	args := make([]any, 0, 3*len(g.Units))
	for i, id := range g.Units {
		args = append(args, g.ID, i, id)
	}
	return args
}

func marks(n int) string {
	return strings.Repeat("?, ", n-1) + "?"
}

// NewPlan checks p for CreatePlan and settles what is written: a draft based on from, created and
// updated at now (in UTC to the microsecond), with no grids yet. p is changed only once the write
// has succeeded, through the plan returned.
func NewPlan(p *liftrescue.Plan, from int64, now time.Time) (*liftrescue.Plan, error) {
	w := *p
	if err := w.Validate(); err != nil {
		return nil, err
	}
	var pr problems
	pr.text("", "created_by", w.CreatedBy)
	if from < 0 {
		pr.add("based_on", "must be a plan id, or 0 for none")
	}
	if err := pr.err(); err != nil {
		return nil, err
	}
	w.Status, w.BasedOn = liftrescue.PlanDraft, from
	w.CreatedAt, w.UpdatedAt = us(now), us(now)
	w.PublishedBy, w.PublishedAt, w.RetiredAt, w.Grids = "", nil, nil, 0
	return &w, nil
}

// PlanArgs are the arguments of InsertPlan; a plan based on none stores NULL.
func PlanArgs(p *liftrescue.Plan, t TimeArg) []any {
	var from any
	if p.BasedOn != 0 {
		from = p.BasedOn
	}
	return []any{p.Name, p.Notes, string(p.Status), from, p.CreatedBy, t(p.CreatedAt), t(p.UpdatedAt)}
}

// UpdatePlanArgs checks p for UpdatePlan and gives the arguments of UpdatePlan, updated at now.
func UpdatePlanArgs(p *liftrescue.Plan, now time.Time, t TimeArg) ([]any, error) {
	w := *p
	if err := w.Validate(); err != nil {
		return nil, err
	}
	return []any{w.Name, w.Notes, t(us(now)), w.ID}, nil
}

// Publisher checks who publishes a plan: text that both databases keep.
func Publisher(by string) error {
	var p problems
	p.text("", "published_by", by)
	return p.err()
}

// PlanDest are the destinations of a row of PlanColumns; the time destinations receive the times
// as the store reads them.
func PlanDest(p *liftrescue.Plan, created, updated, published, retired any) []any {
	return []any{&p.ID, &p.Name, &p.Notes, &p.Status, &p.BasedOn, &p.CreatedBy, created, updated, &p.PublishedBy, published, retired,
		&p.Grids}
}

// NoPlan is the ENOTFOUND of a plan id.
func NoPlan(id int64) error {
	return liftrescue.Errorf(liftrescue.ENOTFOUND, "no plan has the id %d", id)
}

// NoActivePlan is the ENOTFOUND of ActivePlan before the first publication.
func NoActivePlan() error {
	return liftrescue.Errorf(liftrescue.ENOTFOUND, "no plan has been published")
}

// NotDraft is the ECONFLICT of a change to a plan, or to its grids, once it has been published.
func NotDraft(id int64, status liftrescue.PlanStatus) error {
	return liftrescue.Errorf(liftrescue.ECONFLICT, "plan %d is %s: only a draft changes", id, status)
}

// Draft returns nil when a plan with the status read by PlanStatus may change, NotDraft when it
// may not.
func Draft(id int64, status liftrescue.PlanStatus) error {
	if status != liftrescue.PlanDraft {
		return NotDraft(id, status)
	}
	return nil
}

// EmptyPlan is the EINVALID of publishing a plan without grids: dispatch would find no grid
// anywhere.
func EmptyPlan(id int64) error {
	return &liftrescue.Error{Code: liftrescue.EINVALID, Message: fmt.Sprintf("plan %d has no grids: a plan is published with one at least", id),
		Details: []liftrescue.Detail{{Field: "grids", Reason: "a plan is published with one grid at least"}}}
}

// PublishedMeanwhile is the ECONFLICT of a publication that the one-active-plan index refused:
// another plan was published at the same time.
func PublishedMeanwhile(id int64, cause error) error {
	return &liftrescue.Error{Code: liftrescue.ECONFLICT, Err: cause,
		Message: fmt.Sprintf("plan %d was not published: another plan was published at the same time", id)}
}

// PlanFull is the EINVALID of a grid added to a plan that holds liftrescue.MaxPlanGrids.
func PlanFull(id int64) error {
	return liftrescue.Invalid("plan_id", fmt.Sprintf("plan %d holds %d grids, the most a plan may", id, liftrescue.MaxPlanGrids))
}

// NoGrid is the ENOTFOUND of a grid id.
func NoGrid(id int64) error {
	return liftrescue.Errorf(liftrescue.ENOTFOUND, "no grid has the id %d", id)
}

// GridNameTaken is the ECONFLICT of a name that the grid holder has in the same plan.
func GridNameTaken(name string, holder int64) *liftrescue.Error {
	return liftrescue.Taken("grid", "name", name, holder)
}

// WriteGrid checks g for CreateGrid or UpdateGrid and settles what is written, on a copy: its text
// normalised, its area as GeoJSON text, created and updated at now (in UTC to the microsecond).
// write stores the copy in one transaction; it sets the copy's ID (and, for an update, its plan and
// creation time) from what is stored. Once write has succeeded the caller's g gets what was
// stored, so that a refused write leaves g as it was.
func WriteGrid(g *liftrescue.Grid, now time.Time, write func(w *liftrescue.Grid, area string) error) error {
	w := *g
	w.Units = slices.Clone(g.Units)
	if err := w.Validate(); err != nil {
		return err
	}
	b, err := geojson.NewGeometry(w.Area).MarshalJSON()
	if err != nil {
		return liftrescue.Invalid("geometry", "cannot be written as GeoJSON: "+err.Error())
	}
	w.CreatedAt, w.UpdatedAt = us(now), us(now)
	if err := write(&w, string(b)); err != nil {
		return err
	}
	*g = w
	return nil
}

// GridArgs are the arguments of InsertGrid.
func GridArgs(g *liftrescue.Grid, area string, t TimeArg) []any {
	return []any{g.PlanID, g.Name, g.District, area, g.FireStation, g.Notes, t(g.CreatedAt), t(g.UpdatedAt)}
}

// UpdateGridArgs are the arguments of UpdateGrid.
func UpdateGridArgs(g *liftrescue.Grid, area string, t TimeArg) []any {
	return []any{g.Name, g.District, area, g.FireStation, g.Notes, t(g.UpdatedAt), g.ID}
}

// GridDest are the destinations of a row of GridColumns; area receives the GeoJSON text, for
// DecodeArea, and the time destinations the times as the store reads them.
func GridDest(g *liftrescue.Grid, area *string, created, updated any) []any {
	return []any{&g.ID, &g.PlanID, &g.Name, &g.District, area, &g.FireStation, &g.Notes, created, updated}
}

// DecodeArea reads the area column into g.
func DecodeArea(g *liftrescue.Grid, area string) error {
	mp, err := liftrescue.ParseOutline([]byte(area))
	if err != nil {
		return fmt.Errorf("grid %d: area: %w", g.ID, err)
	}
	g.Area = mp
	return nil
}

// GridRefs is what a grid names: its units in order and its fire station.
type GridRefs struct {
	ID          int64
	Name        string
	Units       []int64
	FireStation int64
}

// RefIDs are the organisations that grids name, each once, in ascending order.
func RefIDs(grids ...GridRefs) []any {
	var ids []int64
	for _, g := range grids {
		ids = append(ids, g.Units...)
		ids = append(ids, g.FireStation)
	}
	slices.Sort(ids)
	return anys(slices.Compact(ids))
}

// refProblems are the details of what is wrong with what a grid names, given the kinds of the
// organisations that exist: one per unit that is missing or not a volunteer unit, then one for a
// fire station that is missing or not a fire station. Each names the organisation's id as its
// value and says what is wrong with it as UnitKindProblem words it.
func refProblems(g GridRefs, kinds map[int64]liftrescue.OrgKind) []liftrescue.Detail {
	var bad []liftrescue.Detail
	check := func(field string, id int64, want liftrescue.OrgKind) {
		kind, ok := kinds[id]
		if reason := liftrescue.UnitKindProblem(ok, kind, want); reason != "" {
			bad = append(bad, liftrescue.Detail{Field: field, Value: strconv.FormatInt(id, 10), Reason: reason})
		}
	}
	for i, id := range g.Units {
		check(fmt.Sprintf("units[%d]", i), id, liftrescue.OrgVolunteer)
	}
	check("fire_station", g.FireStation, liftrescue.OrgFire)
	return bad
}

// GridProblems is the EINVALID of a grid written whose district does not exist (districtOK false)
// or whose units or fire station are missing or of the wrong kind, given the kinds of the
// organisations it names that exist; nil when there is none.
func GridProblems(g *liftrescue.Grid, districtOK bool, kinds map[int64]liftrescue.OrgKind) error {
	var bad []liftrescue.Detail
	if !districtOK {
		bad = append(bad, liftrescue.Detail{Field: "district", Value: g.District, Reason: fmt.Sprintf("no district has the code %q", g.District)})
	}
	bad = append(bad, refProblems(GridRefs{Units: g.Units, FireStation: g.FireStation}, kinds)...)
	if len(bad) == 0 {
		return nil
	}
	first := bad[0].Reason
	if bad[0].Field != "district" {
		first = "organization " + bad[0].Value + " " + first
	}
	return &liftrescue.Error{Code: liftrescue.EINVALID, Details: bad,
		Message: fmt.Sprintf("invalid grid: %s: %s%s", bad[0].Field, first, more(len(bad)))}
}

// CopyProblems is the EINVALID of a plan copied whose grids name organisations that are gone or
// have changed kind since (a retired plan keeps naming them), given the kinds of those that exist;
// nil when there is none. Each detail's reason names the grid.
func CopyProblems(from int64, grids []GridRefs, kinds map[int64]liftrescue.OrgKind) error {
	var bad []liftrescue.Detail
	for _, g := range grids {
		for _, d := range refProblems(g, kinds) {
			d.Reason = fmt.Sprintf("grid %d %q: organization %s %s", g.ID, g.Name, d.Value, d.Reason)
			bad = append(bad, d)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &liftrescue.Error{Code: liftrescue.EINVALID, Details: bad,
		Message: fmt.Sprintf("the grids of plan %d cannot be copied: %s%s", from, bad[0].Reason, more(len(bad)))}
}

// OrgGridUseArgs are the arguments of OrgGridUse for organisation id. A delete (kind "") asks
// about both roles; a change to kind about the roles that the organisation could not fill then: a
// unit unless it stays a volunteer unit, a fire station unless it stays a fire station.
func OrgGridUseArgs(id int64, kind liftrescue.OrgKind) []any {
	asFireStation := kind != liftrescue.OrgFire
	asUnit := kind != liftrescue.OrgVolunteer
	return []any{id, asFireStation, id, asUnit, id}
}

// OrgInGrid is the ECONFLICT of a delete or a change of kind of organisation org while n grids of
// a draft or of the active plan name it, grid (of plan, called name) the first; consequence says
// what the organisation cannot do.
func OrgInGrid(org, grid int64, name string, plan int64, fireStation bool, n int, consequence string) error {
	role := "a unit"
	if fireStation {
		role = "the fire station"
	}
	others := ""
	switch {
	case n == 2:
		others = " (and of 1 more grid)"
	case n > 2:
		others = fmt.Sprintf(" (and of %d more grids)", n-1)
	}
	return liftrescue.Errorf(liftrescue.ECONFLICT, "organization %d is %s of grid %d %q in plan %d%s, so %s", org, role, grid, name, plan,
		others, consequence)
}
