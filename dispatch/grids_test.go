package dispatch_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/dispatch/dispatchtest"
)

// gridAround puts everything within about a kilometre of elevator 123456 in one grid.
type gridAround struct{ g *liftrescue.Grid }

func (a gridAround) GridAt(lon, lat float64) *liftrescue.Grid {
	if math.Abs(lon-dispatchtest.Lon) < 0.01 && math.Abs(lat-dispatchtest.Lat) < 0.01 {
		return a.g
	}
	return nil
}

func TestTheGridsUnitsRankFirstAndItsFireStationAnswersTier3(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	// 123456's grid is served by another volunteer unit whose van stands 8 km away, farther than
	// the first unit's two good vans, and has its own fire station, farther than the nearest.
	unit := &liftrescue.Organization{Code: "91370400VOLUN0002", Kind: liftrescue.OrgVolunteer, Name: "峄城救援队", District: "370402", DutyPhones: []string{"0632-3300004"}}
	dispatchtest.Must(t, w.Store.CreateOrganization(w.Ctx, unit))
	lon, lat := dispatchtest.East(9000), dispatchtest.Lat
	fire := &liftrescue.Organization{Code: "91370400FIRE00002", Kind: liftrescue.OrgFire, Name: "峄城消防救援站", District: "370402", DutyPhones: []string{"0632-3300120"}, Lon: &lon, Lat: &lat}
	dispatchtest.Must(t, w.Store.CreateOrganization(w.Ctx, fire))
	team := &liftrescue.Team{OrganizationID: unit.ID, Name: "峄城一队", CertifiedStaff: 2, OnDuty: true}
	dispatchtest.Must(t, w.Store.CreateTeam(w.Ctx, team))
	w.Vehicle(t, "鲁D00009", team, dispatchtest.East(8000), 0)
	w.Grids = gridAround{&liftrescue.Grid{ID: 7, PlanID: 3, Name: "市中区第1网格", Units: []int64{unit.ID}, FireStation: fire.ID}}
	w.StartEngine(t, liftrescue.DefaultPolicy())

	inc := w.open(t)
	if inc.Grid == nil || inc.Grid.ID != 7 || inc.Grid.Name != "市中区第1网格" || !slices.Equal(inc.Grid.Units, []int64{unit.ID}) {
		t.Fatalf("the incident's grid = %+v, want grid 7 with its unit", inc.Grid)
	}
	ranked := func() []string {
		c, err := w.Engine.Candidates(w.Ctx, inc.ID)
		dispatchtest.Must(t, err)
		var out []string
		for _, cand := range c.Candidates {
			out = append(out, cand.Plate+map[bool]string{true: " in grid", false: ""}[cand.InGrid])
		}
		return out
	}
	want := []string{"鲁D00009 in grid", "鲁D00003", "鲁D00004"}
	if got := ranked(); !slices.Equal(got, want) {
		t.Fatalf("candidates = %q, want %q", got, want)
	}

	// A plan published meanwhile moves the elevator out of any grid: the open incident keeps its own.
	w.Grids = gridAround{}
	w.StartEngine(t, liftrescue.DefaultPolicy())
	if got := ranked(); !slices.Equal(got, want) {
		t.Fatalf("after a new plan, candidates = %q, want still %q", got, want)
	}

	// Nobody answers: tier 2 sends the grid's van first, and tier 3 the grid's fire station.
	for i := 0; i < 30 && w.find(t, inc.ID).Tier < 3; i++ {
		w.Tick(5*time.Minute + time.Second)
		w.Engine.RunDue(w.Ctx)
	}
	got := w.find(t, inc.ID)
	var tier2, tier3 []string
	for _, a := range got.Assignments {
		switch a.Tier {
		case 2:
			tier2 = append(tier2, a.Unit.Plate)
		case 3:
			tier3 = append(tier3, a.Unit.OrganizationName)
		}
	}
	if len(tier2) == 0 || tier2[0] != "鲁D00009" {
		t.Errorf("tier 2 asked %q, want the grid's van first", tier2)
	}
	if !slices.Equal(tier3, []string{"峄城消防救援站"}) {
		t.Errorf("tier 3 asked %q, want the grid's designated station (units %q)", tier3, dispatchtest.Units(got))
	}
}

func TestWithoutGridsTheIncidentHasNone(t *testing.T) {
	w := newWorld(t, liftrescue.DefaultPolicy())
	if inc := w.open(t); inc.Grid != nil {
		t.Errorf("grid = %+v, want none", inc.Grid)
	}
}
