package demo

import (
	"iter"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/liftrescue/liftrescue"
)

const (
	// institutionShare caps the share of hospital, school and mall lifts among the elevators
	// yielded so far, which spreads the sites through the stream and gives a small city some.
	institutionShare = 0.06
	// installYears is how far back installations go from the year before Config.Now.
	installYears = 26
	day          = 24 * time.Hour
)

// Elevators streams the city's elevators: NumElevators rows with Line numbered from 1, the same
// sequence on every call. Rows are made as they are yielded, so a million elevators never sit in
// memory at once. Units are named by the codes of City.Organizations.
func (c *City) Elevators() iter.Seq[liftrescue.ElevatorRow] {
	return func(yield func(liftrescue.ElevatorRow) bool) {
		s := &stream{
			c:           c,
			rng:         rand.New(rand.NewPCG(c.cfg.Seed, streamElevators)),
			yield:       yield,
			firstYear:   c.cfg.Now.Year() - installYears - 2, // made up to a year before installation
			serials:     make([]int, len(c.plans)*(installYears+2)*equipmentSlots),
			perDistrict: make([]int, len(c.plans)),
		}
		s.run()
	}
}

// stream is one pass over the elevators.
type stream struct {
	c     *City
	rng   *rand.Rand
	yield func(liftrescue.ElevatorRow) bool

	emitted, institutional int
	// perDistrict counts the elevators yielded in each district.
	perDistrict []int
	nextSite    int
	stopped     bool
	// serials counts the equipment codes issued per district, year of manufacture and category,
	// as a registration authority numbers them.
	serials   []int
	firstYear int
}

// building is what the lifts of one building or site share.
type building struct {
	district    int
	address     string
	userUnit    string
	maintenance string
	maker       *manufacturer
	installed   liftrescue.Date
	madeIn      int
	// inspection is when the building's lifts, inspected together, are due again.
	inspection liftrescue.Date
}

func (s *stream) run() {
	for !s.stopped && s.emitted < s.c.cfg.Elevators {
		if s.nextSite < len(s.c.sites) && float64(s.institutional) <= institutionShare*float64(s.emitted) {
			before := s.emitted
			s.site(&s.c.sites[s.nextSite])
			s.nextSite++
			s.institutional += s.emitted - before
			continue
		}
		s.compound()
	}
}

// compound yields the lifts of a residential compound (小区): a row of buildings beside a street,
// managed by a property company of the district, of one height, maker and age.
func (s *stream) compound() {
	di := s.neediestDistrict()
	d := &s.c.plans[di]
	at := d.randomPlace(s.rng)
	name := d.compounds[s.rng.IntN(len(d.compounds))]
	floors := pickFloors(s.rng)
	buildings := 2 + s.rng.IntN(6) + s.rng.IntN(6)
	maker := pickManufacturer(s.rng)
	eq := passengerLift
	if floors <= 7 && s.rng.IntN(12) == 0 {
		eq, maker = hydraulicLift, hydraulicMaker
	}
	b := s.newBuilding(di, d.property[s.rng.IntN(len(d.property))], s.c.contractor(s.rng, d, maker), maker, floors <= 7)

	// Buildings stand about 40 m apart along the street, centred on the compound's number.
	spacing := min(40, at.street.length/float64(buildings))
	run := spacing * float64(buildings-1)
	start := math.Max(0, math.Min(at.t-run/2, at.street.length-run))
	prefix := at.address + name
	for bi := 1; bi <= buildings; bi++ {
		storeys := floors
		if eq == passengerLift && s.rng.IntN(4) == 0 {
			storeys = pickFloors(s.rng)
		}
		// One lift per 单元; from 12 storeys the rules want two, one of them a fire lift.
		units, lifts := 2+s.rng.IntN(5), 1
		if storeys >= 12 {
			units, lifts = 1+s.rng.IntN(4), 2
		}
		centre := at.street.at(start+spacing*float64(bi-1), at.side, 30+50*s.rng.Float64())
		model := liftModel(s.rng, b.maker, eq, storeys)
		number := strconv.Itoa(bi) + "号楼"
		b.address = prefix + number
		k := 0
		for u := 1; u <= units; u++ {
			unit := number + strconv.Itoa(u) + "单元"
			for l := 1; l <= lifts; l++ {
				label := unit
				if lifts > 1 {
					label += strconv.Itoa(l) + "号梯"
				}
				if !s.emit(&b, label, eq, storeys, model, s.liftPosition(centre, at.street.dir, k)) {
					return
				}
				k++
			}
		}
	}
}

// site yields the lifts of a hospital, school or mall.
func (s *stream) site(st *site) {
	b := s.newBuilding(st.district, st.userUnit, st.maintenance, st.maker, false)
	base := st.place.address + st.name
	// wing yields count lifts of one kind in the site's n-th building, labelled with the building
	// and a running number. The lifts of a site fill one grid, so that none share a position.
	placed := 0
	wing := func(n int, structure string, eq equipment, count, floors int, label func(i int) string) bool {
		t := math.Min(st.place.t+50*float64(n), st.place.street.length)
		centre := st.place.street.at(t, st.place.side, 40)
		b.address = base + structure
		for i := range count {
			model := liftModel(s.rng, b.maker, eq, floors)
			if !s.emit(&b, label(i+1), eq, floors, model, s.liftPosition(centre, st.place.street.dir, placed)) {
				return false
			}
			placed++
		}
		return true
	}
	numbered := func(prefix, suffix string) func(int) string {
		return func(i int) string { return prefix + strconv.Itoa(i) + suffix }
	}
	switch st.kind {
	case hospital:
		for n, ward := range []string{"门诊楼", "住院楼", "医技楼"}[:2+s.rng.IntN(2)] {
			floors := 5 + s.rng.IntN(18)
			if !wing(n, ward, passengerLift, 2+s.rng.IntN(5), floors, numbered(ward, "号梯")) {
				return
			}
			// Wards send meals and drugs up in a dumbwaiter.
			if ward == "住院楼" && s.rng.IntN(2) == 0 && !wing(n, ward, dumbwaiter, 1, floors, numbered(ward+"杂物梯", "号")) {
				return
			}
		}
	case school:
		for n, hall := range []string{"教学楼", "实验楼", "图书馆", "学生公寓"}[:1+s.rng.IntN(4)] {
			if !wing(n, hall, passengerLift, 1+s.rng.IntN(2), 5+s.rng.IntN(3), numbered(hall, "号梯")) {
				return
			}
		}
	case shoppingMall:
		floors := 4 + s.rng.IntN(4)
		// Escalators and moving walks have no landings to count.
		for _, w := range []struct {
			eq     equipment
			count  int
			floors int
			label  string
		}{
			{escalator, 6 + s.rng.IntN(11), 0, "扶梯"},
			{movingWalk, s.rng.IntN(3), 0, "自动人行道"},
			{passengerLift, 2 + s.rng.IntN(5), floors, "客梯"},
			{freightLift, 1 + s.rng.IntN(2), floors, "货梯"},
		} {
			if !wing(0, "", w.eq, w.count, w.floors, numbered(w.label, "号")) {
				return
			}
		}
	}
}

// newBuilding draws the installation and inspection dates shared by a building's lifts.
// Retrofitted lifts of old walk-ups (加装电梯) are all recent.
func (s *stream) newBuilding(district int, userUnit, maintenance string, maker int, retrofit bool) building {
	year := s.c.cfg.Now.Year() - 1
	if retrofit {
		year -= s.rng.IntN(8)
	} else {
		// Installations rose steeply through the 2010s; u^1.6 favours recent years.
		year -= int(installYears * math.Pow(s.rng.Float64(), 1.6))
	}
	installed := time.Date(year, time.January, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(s.rng.IntN(365)) * day)
	madeIn := year
	if s.rng.IntN(3) == 0 {
		madeIn--
	}
	return building{
		district:    district,
		userUnit:    userUnit,
		maintenance: maintenance,
		maker:       &manufacturers[maker],
		installed:   liftrescue.DateOf(installed),
		madeIn:      madeIn,
		inspection:  liftrescue.DateOf(s.c.cfg.Now.Add(time.Duration(1+s.rng.IntN(365)) * day)),
	}
}

// emit yields one elevator of b; it returns false when the stream is done.
func (s *stream) emit(b *building, label string, eq equipment, floors int, model string, at vec) bool {
	d := &s.c.plans[b.district]
	slot := (b.district*(installYears+2)+b.madeIn-s.firstYear)*equipmentSlots + eq.slot
	s.serials[slot]++
	if s.serials[slot] > 999_999 {
		panic("demo: more than 999999 equipment codes in one district, year and category")
	}
	now := s.c.cfg.Now
	// Maintenance is due every 15 days; about 3% of lifts are overdue.
	ago := time.Duration(1+s.rng.IntN(15)) * day
	if s.rng.IntN(100) < 3 {
		ago = time.Duration(16+s.rng.IntN(45)) * day
	}
	maintained := now.Add(-ago + time.Duration(8*60+s.rng.IntN(10*60))*time.Minute)
	// About 2% of lifts missed their annual inspection; a third of those are stopped.
	inspection, status := b.inspection, liftrescue.InService
	if s.rng.IntN(50) == 0 {
		inspection = liftrescue.DateOf(now.Add(-time.Duration(1+s.rng.IntN(120)) * day))
		if s.rng.IntN(3) == 0 {
			status = liftrescue.OutOfService
		}
	} else if s.rng.IntN(150) == 0 {
		status = liftrescue.OutOfService
	}
	lon, lat := at.lonLat()
	row := liftrescue.ElevatorRow{
		Line: s.emitted + 1,
		Elevator: liftrescue.Elevator{
			RescueCode:           s.c.rescueCodes.code(s.emitted),
			EquipmentCode:        equipmentCode(eq, d.spec.code, b.madeIn, s.serials[slot]),
			Address:              b.address,
			Building:             label,
			District:             d.spec.code,
			Lat:                  lat,
			Lon:                  lon,
			Kind:                 eq.kind,
			Floors:               floors,
			Manufacturer:         b.maker.name,
			Model:                model,
			InstalledOn:          b.installed,
			LastMaintainedAt:     &maintained,
			InspectionValidUntil: inspection,
			Status:               status,
		},
		UserUnitCode:        b.userUnit,
		MaintenanceUnitCode: b.maintenance,
	}
	s.emitted++
	s.perDistrict[b.district]++
	if !s.yield(row) || s.emitted >= s.c.cfg.Elevators {
		s.stopped = true
	}
	return !s.stopped
}

// liftPosition places the k-th lift of a building in a grid of three columns 2 m apart, with a
// little jitter, so that lifts of one building are distinguishable on the map yet a few metres
// from each other.
func (s *stream) liftPosition(centre, dir vec, k int) vec {
	along := 2*float64(k%3-1) + 0.5*(s.rng.Float64()-0.5)
	across := 2*float64(k/3) + 0.5*(s.rng.Float64()-0.5)
	return centre.add(dir.scale(along)).add(dir.left().scale(across))
}

// neediestDistrict returns the district furthest below its share of the elevators yielded so
// far. Compounds vary from a handful of lifts to dozens, so drawing districts at random would let
// a small district outgrow a bigger one in a small city.
func (s *stream) neediestDistrict() int {
	total := 0
	for _, d := range districtSpecs {
		total += d.elevatorWeight
	}
	best, bestDeficit := 0, math.Inf(-1)
	for i, d := range districtSpecs {
		deficit := float64(d.elevatorWeight)/float64(total)*float64(s.emitted) - float64(s.perDistrict[i])
		if deficit > bestDeficit {
			best, bestDeficit = i, deficit
		}
	}
	return best
}

// pickFloors returns the storeys of a residential building.
func pickFloors(rng *rand.Rand) int {
	return residentialHeights[pickWeighted(rng, residentialHeights, func(h height) int { return h.weight })].floors
}
