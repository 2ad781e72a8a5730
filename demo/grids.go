package demo

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb"
)

// The demo's plan of rescue grids, which Seed stores and publishes.
const (
	PlanName  = "示范网格方案"
	PlanNotes = "演示城市自动生成的救援网格方案，仅供演示：各区按志愿救援单位的数量划分网格，城区分片、外围分区；" +
		"网格内驻有的志愿救援单位优先，不足时由就近单位补充；消防救援站取离网格中心最近的一处。"
	// PlanAuthor creates and publishes the demo's plan.
	PlanAuthor = "demo"
)

const (
	// maxGrids and maxRuralGrids bound a district's grids.
	maxGrids      = 8
	maxRuralGrids = 3
	// innerRing and outerRing (in core radii) are how far from the district's centre the points
	// the urban and the outlying grids are drawn around lie. Their bisector runs about one core
	// radius out, where the streets end.
	innerRing = 0.35
	outerRing = 1.6
	// Grids name minGridUnits to maxGridUnits volunteer units: those based in the grid, then the
	// nearest others as backup, at least one unless the grid's own fill it.
	minGridUnits = 3
	maxGridUnits = 4
)

// GridSeed is a rescue grid of the demo city before it is stored.
type GridSeed struct {
	// UnitCodes are the codes of the grid's volunteer units in City.Organizations, the first
	// preferred.
	UnitCodes []string
	// FireStationCode is the code of the grid's fire station in City.Organizations.
	FireStationCode string
	// Grid has no plan, units or fire station yet; Seed fills them in.
	Grid liftrescue.Grid
}

// base is an organisation of the city and the position its rescuers leave from.
type base struct {
	code string
	pos  vec
}

// Grids returns the city's plan of rescue grids, district by district, as a planner might draw
// them: a district gets about one grid per volunteer unit based in it (a rural one about one per
// two units), at most maxGrids; the urban core is cut into pie slices and the outskirts around it
// into sectors reaching to the district's line (see gridSites). The grids are the Voronoi cells
// of those sites clipped to the district, so they are convex, do not overlap and cover the
// district exactly. Grids are derived from the city alone, so the same Config gives the same grids.
func (c *City) Grids() []GridSeed {
	var fires, vols []base
	units := make(map[string]int) // volunteer units by district code
	for _, o := range c.Organizations {
		if o.Lon == nil || o.Lat == nil {
			continue
		}
		b := base{o.Code, project(*o.Lon, *o.Lat)}
		switch o.Kind {
		case liftrescue.OrgFire:
			fires = append(fires, b)
		case liftrescue.OrgVolunteer:
			vols = append(vols, b)
			units[o.District]++
		}
	}

	var out []GridSeed
	for i := range c.plans {
		d := &c.plans[i]
		n := units[d.spec.code]
		if d.spec.rural {
			n = min((n+1)/2, maxRuralGrids)
		}
		sites := gridSites(project(d.spec.lon, d.spec.lat), d.spec.coreRadius, d.spec.gridBearing, min(max(n, 1), maxGrids))
		for k, cell := range powerCells(d.cell, sites, make([]float64, len(sites))) {
			g := GridSeed{Grid: liftrescue.Grid{
				Name:     d.spec.name + "第" + strconv.Itoa(k+1) + "网格",
				District: d.spec.code,
				Area:     orb.MultiPolygon{{gridRing(cell)}},
			}}
			mid := centroid(cell)
			g.UnitCodes = gridUnits(vols, cell, mid)
			if len(fires) > 0 {
				g.FireStationCode = nearest(fires, mid).code
			}
			out = append(out, g)
		}
	}
	return out
}

// gridSites returns the n points a district's grids are drawn around, the core's first. One grid
// is the whole district; two or three are sectors meeting at the centre. From four on, up to four
// points on an outer ring cut the outskirts into sectors and the rest cut the core: one point at
// the centre makes it one grid, more on an inner ring cut it into slices, so that the busiest
// districts have the most urban grids. Points on a ring are spread evenly and turned so that a
// boundary runs through the centre along the street grid's bearing, as grid boundaries follow
// main roads; the boundaries between a ring's neighbours are rays from the centre.
func gridSites(centre vec, radius, gridBearing float64, n int) []vec {
	around := func(k int, r float64) []vec {
		sites := make([]vec, k)
		for j := range sites {
			angle := gridBearing + (180+360*float64(j))/float64(k)
			sites[j] = centre.add(bearing(angle).scale(r * radius))
		}
		return sites
	}
	switch {
	case n <= 1:
		return []vec{centre}
	case n <= 3:
		return around(n, outerRing)
	}
	outer := min(n-1, 4)
	core := []vec{centre}
	if inner := n - outer; inner > 1 {
		core = around(inner, innerRing)
	}
	return append(core, around(outer, outerRing)...)
}

// gridUnits lists a grid's volunteer units: those based in it, then the others, each group
// nearest to the grid's centroid first; its own up to maxGridUnits, then backups up to
// minGridUnits in all and always one unless the grid's own fill it.
func gridUnits(vols []base, cell []vec, mid vec) []string {
	type candidate struct {
		code   string
		inside bool
		dist   float64
	}
	cands := make([]candidate, len(vols))
	own := 0
	for k, b := range vols {
		cands[k] = candidate{b.code, insideConvex(cell, b.pos), b.pos.sub(mid).length()}
		if cands[k].inside {
			own++
		}
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		if a.inside != b.inside {
			if a.inside {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.dist, b.dist)
	})
	n := min(max(own+1, minGridUnits), maxGridUnits, len(cands))
	codes := make([]string, n)
	for k := range n {
		codes[k] = cands[k].code
	}
	return codes
}

// nearest returns the base nearest to p; bases must not be empty.
func nearest(bases []base, p vec) base {
	return slices.MinFunc(bases, func(a, b base) int {
		return cmp.Compare(a.pos.sub(p).length(), b.pos.sub(p).length())
	})
}

// insideConvex reports whether p is inside the convex counter-clockwise polygon or on its boundary.
func insideConvex(poly []vec, p vec) bool {
	for i, a := range poly {
		b := poly[(i+1)%len(poly)]
		if b.sub(a).cross(p.sub(a)) < 0 {
			return false
		}
	}
	return true
}

// centroid returns the centre of mass of a simple polygon.
func centroid(poly []vec) vec {
	var area2 float64
	var sum vec
	o := poly[0] // relative to a vertex, for precision far from the origin
	for i := range poly {
		a, b := poly[i].sub(o), poly[(i+1)%len(poly)].sub(o)
		w := a.cross(b)
		area2 += w
		sum = sum.add(a.add(b).scale(w))
	}
	if area2 == 0 {
		return o
	}
	return o.add(sum.scale(1 / (3 * area2)))
}

// gridRing is ring without the repeated points that rounding to 1e-7 degrees can make of two
// vertices less than a centimetre apart.
func gridRing(poly []vec) orb.Ring {
	r := ring(poly)
	out := r[:1]
	for _, p := range r[1:] {
		if p != out[len(out)-1] {
			out = append(out, p)
		}
	}
	if len(out) < 4 || out[0] != out[len(out)-1] {
		panic("demo: a rescue grid collapsed to fewer than three corners")
	}
	return out
}
