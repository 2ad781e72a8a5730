package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb"
)

const (
	// DefaultElevators is the size of the demo city when Config.Elevators is 0: about what a real
	// city of Zaozhuang's size registers.
	DefaultElevators = 10_000
	// DefaultSeed picks the demo city when Config.Seed is 0.
	DefaultSeed uint64 = 0x3704_0000_2026_1101
	// MaxElevators is the most elevators a city can have: the 7-digit rescue codes run out there.
	MaxElevators = 9_000_000
)

// Each part of the city draws from its own PCG stream, so that asking for more elevators changes
// neither the streets nor the organisations.
const (
	streamStreets uint64 = iota + 1
	streamOrganizations
	streamElevators
	streamTraffic // the vehicles' streams are streamTraffic<<32 | their index
)

// Config chooses the demo city. The zero Config is the default city.
type Config struct {
	// Elevators is how many elevators the city has; 0 means DefaultElevators. Rescue codes have 6
	// digits up to 900,000 elevators and 7 above. Generate panics above MaxElevators.
	Elevators int
	// Seed picks one of many cities of the same shape; 0 means DefaultSeed.
	Seed uint64
	// Now is the reference time that maintenance and inspection dates are relative to; the zero
	// time means 2026-11-01T00:00:00Z. It is never the wall clock, so that output is reproducible.
	Now time.Time
}

func (cfg Config) withDefaults() Config {
	if cfg.Elevators == 0 {
		cfg.Elevators = DefaultElevators
	}
	if cfg.Elevators < 0 || cfg.Elevators > MaxElevators {
		panic(fmt.Sprintf("demo: Config.Elevators must be between 0 and %d, got %d", MaxElevators, cfg.Elevators))
	}
	if cfg.Seed == 0 {
		cfg.Seed = DefaultSeed
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)
	}
	cfg.Now = cfg.Now.UTC()
	return cfg
}

// TeamSeed is a rescue team of the demo city before it is stored.
type TeamSeed struct {
	// OrgCode is the code of the team's organisation in City.Organizations.
	OrgCode string
	// Team has no OrganizationID yet; Seed fills it in.
	Team liftrescue.Team
}

// VehicleSeed is a rescue vehicle of the demo city before it is stored.
type VehicleSeed struct {
	// Team is the index of the vehicle's team in City.Teams.
	Team int
	// Vehicle has no TeamID yet; Seed fills it in.
	Vehicle liftrescue.Vehicle
}

// City is a generated demo city. The exported slices are small and held in memory; the elevators,
// which may number millions, are streamed by Elevators.
type City struct {
	Districts []liftrescue.District
	// Organizations have no IDs; teams and elevators refer to them by code.
	Organizations []liftrescue.Organization
	Teams         []TeamSeed
	Vehicles      []VehicleSeed

	cfg     Config
	outline []vec
	// plans are parallel to Districts.
	plans []districtPlan
	// branches are the org codes of the makers' branch offices, by manufacturer index.
	branches []string
	// sites are the hospitals, schools and malls, in the order the elevator stream reaches them.
	sites       []site
	rescueCodes rescueCodes
}

// districtPlan is what the generator knows about a district beyond its liftrescue.District.
type districtPlan struct {
	spec    *districtSpec
	cell    []vec
	streets []street
	// reach[i] is the length of streets[:i+1], to pick points uniformly along all streets.
	reach     []float64
	compounds []string
	// Org codes of the district's property companies and local maintenance companies.
	property    []string
	maintenance []string
}

// Generate builds the demo city for cfg. The same cfg always gives the same city.
func Generate(cfg Config) *City {
	cfg = cfg.withDefaults()
	c := &City{cfg: cfg, rescueCodes: newRescueCodes(cfg.Elevators, cfg.Seed)}
	c.planDistricts(rand.New(rand.NewPCG(cfg.Seed, streamStreets)))
	newOrgMaker(c, rand.New(rand.NewPCG(cfg.Seed, streamOrganizations))).run()
	return c
}

// NumElevators returns how many elevators Elevators yields.
func (c *City) NumElevators() int { return c.cfg.Elevators }

const (
	// streetMargin keeps streets this far (metres) inside their district, so that buildings up to
	// 80 m off a street, and the lifts around them, never cross a district boundary.
	streetMargin = 150.0
	// minStreetLength drops the stubs that clipping leaves near a boundary.
	minStreetLength = 400.0
	// houseFrontage is the length of street one house number covers.
	houseFrontage = 25.0
)

func (c *City) planDistricts(rng *rand.Rand) {
	c.outline = make([]vec, len(cityOutline))
	for i, p := range cityOutline {
		c.outline[i] = project(p[0], p[1])
	}
	centres := make([]vec, len(districtSpecs))
	weights := make([]float64, len(districtSpecs))
	for i, spec := range districtSpecs {
		centres[i] = project(spec.lon, spec.lat)
		weights[i] = spec.boundaryWeight * 1e6 // km² to m²
	}
	cells := powerCells(c.outline, centres, weights)
	for i := range districtSpecs {
		spec := &districtSpecs[i]
		p := districtPlan{
			spec:      spec,
			cell:      cells[i],
			streets:   planStreets(rng, spec, centres[i], cells[i]),
			compounds: append(slices.Clone(compoundNames), spec.localCompounds...),
		}
		total := 0.0
		for _, s := range p.streets {
			total += s.length
			p.reach = append(p.reach, total)
		}
		c.plans = append(c.plans, p)
		c.Districts = append(c.Districts, liftrescue.District{
			Code:    spec.code,
			Name:    spec.name,
			Rural:   spec.rural,
			Outline: orb.MultiPolygon{{ring(cells[i])}},
		})
	}
}

// street is a straight run of a named street. House numbers start at from and grow along dir.
type street struct {
	name   string
	from   vec
	dir    vec
	length float64
}

// at returns the point t metres along the street and offset metres to one side: side +1 is the
// left (odd numbers), -1 the right (even numbers).
func (s *street) at(t float64, side int, offset float64) vec {
	return s.from.add(s.dir.scale(t)).add(s.dir.left().scale(float64(side) * offset))
}

// houseNumber follows the Chinese convention: odd on one side, even on the other, rising away from
// the start.
func (s *street) houseNumber(t float64, side int) int {
	n := int(t/houseFrontage)*2 + 1
	if side < 0 {
		n++
	}
	return n
}

// Street families of the grid.
const (
	eastWest = iota
	northSouth
	diagonal
)

// planStreets lays a street grid over the district's core at its bearing: half the streets run
// east–west, half north–south, and every seventh is a diagonal avenue. Parallel streets are spread
// evenly across the core and get shorter away from the centre, so buildings cluster in the middle.
// Streets are clipped to stay streetMargin inside the district.
func planStreets(rng *rand.Rand, spec *districtSpec, centre vec, cell []vec) []street {
	var families [3][]int
	for k := range spec.streets {
		f := k % 2
		if k%7 == 6 {
			f = diagonal
		}
		families[f] = append(families[f], k)
	}
	names := rng.Perm(len(spec.streetNames))
	radius := spec.coreRadius
	var out []street
	for family, ks := range families {
		spacing := 1.7 * radius / float64(len(ks))
		for idx, k := range ks {
			var dir vec
			var offset float64
			if family == diagonal {
				dir = bearing(spec.gridBearing + 45 - 90*float64(idx%2))
				offset = (rng.Float64() - 0.5) * radius
			} else {
				dir = bearing(spec.gridBearing + 90*float64(family))
				offset = (float64(idx)-float64(len(ks)-1)/2)*spacing + (rng.Float64()-0.5)*0.3*spacing
			}
			half := radius * math.Sqrt(max(0.15, 1-(offset/radius)*(offset/radius)))
			mid := centre.add(dir.left().scale(offset))
			a := mid.add(dir.scale(-half * (0.9 + 0.4*rng.Float64())))
			b := mid.add(dir.scale(half * (0.9 + 0.4*rng.Float64())))
			t0, t1, ok := clipSegment(a, b, cell, streetMargin)
			if !ok || (t1-t0)*b.sub(a).length() < minStreetLength {
				continue
			}
			a, b = a.add(b.sub(a).scale(t0)), a.add(b.sub(a).scale(t1))
			name := spec.streetNames[names[k]]
			if family == diagonal || math.Abs(offset) > 0.6*spacing {
				out = append(out, street{name, a, b.sub(a).scale(1 / b.sub(a).length()), b.sub(a).length()})
				continue
			}
			out = append(out, splitStreet(name, family, a, b, centre, radius)...)
		}
	}
	return out
}

// splitStreet cuts a street that passes the district centre into 西/东 (南/北) halves, or thirds with
// a 中 part when it is long, each numbered outward from the centre as Chinese streets are. a→b runs
// east (north) because the grid bearing is within 45° of the compass.
func splitStreet(name string, family int, a, b, centre vec, radius float64) []street {
	const minPart = 600.0
	length := b.sub(a).length()
	dir := b.sub(a).scale(1 / length)
	whole := []street{{name, a, dir, length}}
	low, high := "西", "东"
	if family == northSouth {
		low, high = "南", "北"
	}
	foot := centre.sub(a).dot(dir) // where the street passes the centre
	middle := 0.0                  // half-length of the 中 part
	if length >= 1.8*radius {
		middle = 0.2 * length
	}
	lowEnd, highStart := foot-middle, foot+middle
	if lowEnd < minPart || length-highStart < minPart {
		return whole
	}
	parts := []street{
		{directional(name, low), a.add(dir.scale(lowEnd)), dir.scale(-1), lowEnd},
		{directional(name, high), a.add(dir.scale(highStart)), dir, length - highStart},
	}
	if middle > 0 {
		parts = append(parts, street{directional(name, "中"), a.add(dir.scale(lowEnd)), dir, 2 * middle})
	}
	return parts
}

// directional inserts a direction word before the street's generic part: 光明路 → 光明东路.
func directional(name, word string) string {
	for _, generic := range []string{"路", "街"} {
		if base, ok := strings.CutSuffix(name, generic); ok {
			return base + word + generic
		}
	}
	return name + word + "段"
}

// place is a point beside a street with its postal address.
type place struct {
	street  *street
	t       float64 // metres along the street
	side    int
	address string // district, street and house number: 市中区光明东路128号
	pos     vec    // the point, offset from the street
}

// randomPlace picks a point uniformly along the district's streets, 30–80 m off one side.
func (p *districtPlan) randomPlace(rng *rand.Rand) place {
	r := rng.Float64() * p.reach[len(p.reach)-1]
	i := min(sort.SearchFloat64s(p.reach, r), len(p.streets)-1)
	t := r - (p.reach[i] - p.streets[i].length)
	return p.placeAt(rng, &p.streets[i], t)
}

// placeAt returns the place t metres along s, on a random side, 30–80 m off it.
func (p *districtPlan) placeAt(rng *rand.Rand, s *street, t float64) place {
	side := 1 - 2*rng.IntN(2)
	return place{
		street:  s,
		t:       t,
		side:    side,
		address: p.spec.name + s.name + strconv.Itoa(s.houseNumber(t, side)) + "号",
		pos:     s.at(t, side, 30+50*rng.Float64()),
	}
}
