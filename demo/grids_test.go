package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// gridSeeds are the cities whose grids the tests check: the default one and a few others.
var gridSeeds = []uint64{DefaultSeed, 1, 2, 42}

func forEachGridCity(t *testing.T, test func(t *testing.T, c *City, grids []GridSeed)) {
	for _, seed := range gridSeeds {
		t.Run(fmt.Sprintf("seed=%#x", seed), func(t *testing.T) {
			c := Generate(Config{Elevators: 1, Seed: seed})
			test(t, c, c.Grids())
		})
	}
}

func TestGridsAreValid(t *testing.T) {
	forEachGridCity(t, func(t *testing.T, c *City, grids []GridSeed) {
		ids := map[string]int64{} // a stand-in id per organisation code
		orgs := map[string]liftrescue.Organization{}
		for i, o := range c.Organizations {
			ids[o.Code], orgs[o.Code] = int64(i+1), o
		}
		numbered := map[string]int{} // grids so far by district code
		for _, gs := range grids {
			g := gs.Grid
			g.PlanID = 1
			for _, code := range gs.UnitCodes {
				g.Units = append(g.Units, ids[code])
			}
			g.FireStation = ids[gs.FireStationCode]
			if err := (&g).Validate(); err != nil {
				t.Errorf("%s: %v", gs.Grid.Name, err)
			}
			if g.Name != gs.Grid.Name || g.District != gs.Grid.District {
				t.Errorf("%s: Validate changed the name or district", gs.Grid.Name)
			}
			d := slices.IndexFunc(c.Districts, func(d liftrescue.District) bool { return d.Code == g.District })
			if d < 0 {
				t.Errorf("%s: no district %s", g.Name, g.District)
				continue
			}
			numbered[g.District]++
			if want := fmt.Sprintf("%s第%d网格", c.Districts[d].Name, numbered[g.District]); g.Name != want {
				t.Errorf("grid %q, want %q", g.Name, want)
			}

			if len(g.Area) != 1 || len(g.Area[0]) != 1 {
				t.Errorf("%s: want one polygon without holes, got %d polygons", g.Name, len(g.Area))
				continue
			}
			checkGridRing(t, g.Name, g.Area[0][0])

			if n := len(gs.UnitCodes); n < 2 || n > 4 {
				t.Errorf("%s names %d volunteer units, want 2 to 4", g.Name, n)
			}
			seen := map[string]bool{}
			for _, code := range gs.UnitCodes {
				if o, ok := orgs[code]; !ok || o.Kind != liftrescue.OrgVolunteer {
					t.Errorf("%s: unit %s is a %q, not a volunteer unit", g.Name, code, o.Kind)
				}
				if seen[code] {
					t.Errorf("%s names %s twice", g.Name, code)
				}
				seen[code] = true
			}
			if o, ok := orgs[gs.FireStationCode]; !ok || o.Kind != liftrescue.OrgFire {
				t.Errorf("%s: fire station %q is a %q", g.Name, gs.FireStationCode, o.Kind)
			}
		}
	})
}

// checkGridRing checks that r is closed, counter-clockwise, convex, rounded to 1e-7 degrees, and
// has at least 4 points and no point twice in a row.
func checkGridRing(t *testing.T, name string, r orb.Ring) {
	t.Helper()
	if len(r) < 4 || !r.Closed() || r.Orientation() != orb.CCW {
		t.Errorf("%s: want a closed counter-clockwise ring of at least 4 points, got %v", name, r)
		return
	}
	for i, p := range r {
		if p[0] != round7(p[0]) || p[1] != round7(p[1]) {
			t.Errorf("%s: point %d %v is not rounded to 1e-7 degrees", name, i, p)
		}
		if i > 0 && p == r[i-1] {
			t.Errorf("%s: point %d repeats %v", name, i, p)
		}
	}
	// Convex in metres, where the turn at a vertex is measured as a sine; the rounding to a
	// centimetre may bend a straight run a little either way.
	m := metres(r[:len(r)-1])
	for i := range m {
		a, b, c := m[i], m[(i+1)%len(m)], m[(i+2)%len(m)]
		e, f := b.sub(a), c.sub(b)
		if sin := e.cross(f) / (e.length() * f.length()); sin < -1e-6 {
			t.Errorf("%s turns clockwise at %v", name, r[(i+1)%len(m)])
		}
	}
}

func metres(r orb.Ring) []vec {
	out := make([]vec, len(r))
	for i, p := range r {
		out[i] = project(p[0], p[1])
	}
	return out
}

// distanceToEdges returns how far (metres) p lies from the nearest edge of any of the rings.
func distanceToEdges(p orb.Point, rings ...orb.Ring) float64 {
	pm := project(p[0], p[1])
	d := math.Inf(1)
	for _, r := range rings {
		m := metres(r)
		for i := 0; i+1 < len(m); i++ {
			a, b := m[i], m[i+1]
			e := b.sub(a)
			t := min(max(pm.sub(a).dot(e)/e.dot(e), 0), 1)
			d = min(d, pm.sub(a.add(e.scale(t))).length())
		}
	}
	return d
}

// TestGridsTileTheirDistricts samples points inside each district: each lies in exactly one grid,
// one of that district, unless it is within a metre of an edge. The grids' areas also add up to
// the district's.
func TestGridsTileTheirDistricts(t *testing.T) {
	forEachGridCity(t, func(t *testing.T, c *City, grids []GridSeed) {
		rng := rand.New(rand.NewPCG(1, 2))
		var edges []orb.Ring
		for _, gs := range grids {
			edges = append(edges, gs.Grid.Area[0][0])
		}
		for _, d := range c.Districts {
			var own []GridSeed
			area := 0.0
			for _, gs := range grids {
				if gs.Grid.District == d.Code {
					own = append(own, gs)
					area += ringArea(gs.Grid.Area[0][0])
				}
			}
			if want := ringArea(d.Outline[0][0]); math.Abs(area-want) > 1e-6*want {
				t.Errorf("%s: its grids cover %g square degrees, the district %g", d.Name, area, want)
			}

			bound := d.Outline.Bound()
			const samples = 5000
			for k := 0; k < samples; {
				p := orb.Point{
					bound.Min[0] + rng.Float64()*(bound.Max[0]-bound.Min[0]),
					bound.Min[1] + rng.Float64()*(bound.Max[1]-bound.Min[1]),
				}
				if !planar.MultiPolygonContains(d.Outline, p) {
					continue
				}
				k++
				if distanceToEdges(p, edges...) < 1 {
					continue
				}
				var in []string
				for _, gs := range grids {
					if planar.MultiPolygonContains(gs.Grid.Area, p) {
						in = append(in, gs.Grid.Name)
					}
				}
				if len(in) != 1 || !slices.ContainsFunc(own, func(gs GridSeed) bool { return gs.Grid.Name == in[0] }) {
					t.Fatalf("%v in %s lies in the grids %v, want one grid of %s", p, d.Name, in, d.Name)
				}
			}
		}
	})
}

// TestGridUnits checks whom the grids call: first the volunteer units based in the grid, then the
// nearest others; the fire station nearest to the grid's centroid; every volunteer unit in some
// grid.
func TestGridUnits(t *testing.T) {
	forEachGridCity(t, func(t *testing.T, c *City, grids []GridSeed) {
		bases := map[string]orb.Point{}
		var vols, fires []string
		for _, o := range c.Organizations {
			if o.Lon == nil {
				continue
			}
			switch o.Kind {
			case liftrescue.OrgVolunteer:
				vols = append(vols, o.Code)
			case liftrescue.OrgFire:
				fires = append(fires, o.Code)
			}
			bases[o.Code] = orb.Point{*o.Lon, *o.Lat}
		}
		dist := func(code string, p orb.Point) float64 {
			return project(bases[code][0], bases[code][1]).sub(project(p[0], p[1])).length()
		}
		served := map[string]bool{}
		for _, gs := range grids {
			name := gs.Grid.Name
			mid, _ := planar.CentroidArea(gs.Grid.Area)
			var own []string
			for _, code := range vols {
				if planar.MultiPolygonContains(gs.Grid.Area, bases[code]) {
					own = append(own, code)
				}
			}
			for k, code := range gs.UnitCodes {
				served[code] = true
				isOwn := slices.Contains(own, code)
				switch {
				case k < min(len(own), maxGridUnits) && !isOwn:
					t.Errorf("%s: unit %d %s is not based in the grid, but %v are", name, k, code, own)
				case k >= len(own) && isOwn:
					t.Errorf("%s: unit %d %s is based in the grid but comes after others", name, k, code)
				case k > len(own) && dist(code, mid) < dist(gs.UnitCodes[k-1], mid)-1:
					t.Errorf("%s: backup unit %d %s is nearer than the one before it", name, k, code)
				}
			}
			if len(own) < maxGridUnits {
				// The nearest unit not named is no nearer than the farthest backup named.
				backups := gs.UnitCodes[len(own):]
				for _, code := range vols {
					if !slices.Contains(gs.UnitCodes, code) && len(backups) > 0 && dist(code, mid) < dist(backups[len(backups)-1], mid)-1 {
						t.Errorf("%s: %s is nearer than the backup units %v", name, code, backups)
					}
				}
			}
			for _, code := range fires {
				if dist(code, mid) < dist(gs.FireStationCode, mid)-1 {
					t.Errorf("%s: fire station %s is nearer to its centre than %s", name, code, gs.FireStationCode)
				}
			}
		}
		for _, code := range vols {
			if !served[code] {
				t.Errorf("volunteer unit %s serves no grid", code)
			}
		}
	})
}

// The number of a district's grids changes with the seed; every number must give grids of a
// sensible size.
func TestEveryDistrictTakesAnyGridCount(t *testing.T) {
	c := Generate(Config{Elevators: 1})
	for i := range c.plans {
		d := &c.plans[i]
		for n := 1; n <= maxGrids; n++ {
			sites := gridSites(project(d.spec.lon, d.spec.lat), d.spec.coreRadius, d.spec.gridBearing, n)
			if len(sites) != n {
				t.Errorf("%s: %d sites for %d grids", d.spec.name, len(sites), n)
			}
			for k, cell := range powerCells(d.cell, sites, make([]float64, len(sites))) {
				if len(cell) < 3 {
					t.Errorf("%s: grid %d of %d is empty", d.spec.name, k+1, n)
					continue
				}
				checkGridRing(t, fmt.Sprintf("%s grid %d of %d", d.spec.name, k+1, n), gridRing(cell))
				if a := polygonArea(cell); a < 3e6 {
					t.Errorf("%s: grid %d of %d covers %.1f km², want at least 3", d.spec.name, k+1, n, a/1e6)
				}
			}
		}
	}
}

// polygonArea returns the area (m²) of a counter-clockwise polygon.
func polygonArea(poly []vec) float64 {
	sum := 0.0
	for i, a := range poly {
		sum += a.cross(poly[(i+1)%len(poly)])
	}
	return sum / 2
}

func TestGridCounts(t *testing.T) {
	forEachGridCity(t, func(t *testing.T, c *City, grids []GridSeed) {
		units := map[string]int{}
		for _, o := range c.Organizations {
			if o.Kind == liftrescue.OrgVolunteer {
				units[o.District]++
			}
		}
		per := map[string]int{}
		for _, gs := range grids {
			per[gs.Grid.District]++
		}
		for _, d := range c.Districts {
			// About one grid per volunteer unit based in the district, one per two in rural ones.
			want := min(max(units[d.Code], 1), maxGrids)
			if d.Rural {
				want = min(max((units[d.Code]+1)/2, 1), maxRuralGrids)
			}
			if per[d.Code] != want {
				t.Errorf("%s has %d grids for %d volunteer units, want %d", d.Name, per[d.Code], units[d.Code], want)
			}
			t.Logf("%s: %d volunteer units, %d grids", d.Name, units[d.Code], per[d.Code])
		}
	})
}

func TestGridsAreDeterministic(t *testing.T) {
	a := Generate(Config{}).Grids()
	if b := Generate(Config{}).Grids(); !reflect.DeepEqual(a, b) {
		t.Error("the grids differ between two runs with the same Config")
	}
	if b := Generate(Config{Elevators: 100}).Grids(); !reflect.DeepEqual(a, b) {
		t.Error("the grids depend on the number of elevators")
	}
	if b := Generate(Config{Seed: 42}).Grids(); reflect.DeepEqual(a, b) {
		t.Error("a different seed gives the same grids")
	}
}
