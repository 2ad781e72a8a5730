package demo

import (
	"fmt"
	"math/rand/v2"

	"github.com/liftrescue/liftrescue"
)

// Where the city-level bodies sit: the city government, and with it the regulator and the special
// duty fire station, is in Xuecheng; the makers' branch offices alternate between the two centres.
const (
	shizhong = 0 // index in districtSpecs
	xuecheng = 1
)

// cityAdminCode is Zaozhuang's administrative code, used in the codes of city-level bodies.
const cityAdminCode = "370400"

// Kinds of body in a unified social credit code.
const (
	kindCompany     = "91"
	kindGovernment  = "11"
	kindInstitution = "12"
)

// siteKind says what a non-residential site is, which decides the lifts it has.
type siteKind int

const (
	hospital siteKind = iota
	school
	shoppingMall
)

// site is a hospital, school or mall: one place whose own organisation is the user unit of its
// lifts.
type site struct {
	kind        siteKind
	district    int
	name        string // shown in the address: 枣庄市立医院, 万达广场
	place       place
	userUnit    string // org codes
	maintenance string
	maker       int
}

// orgMaker adds the organisations, teams and vehicles to a city. The taken sets only answer "is
// this used?"; output order comes from the loops over the district table.
type orgMaker struct {
	c                             *City
	rng                           *rand.Rand
	codes, names, plates, devices map[string]bool
}

func newOrgMaker(c *City, rng *rand.Rand) *orgMaker {
	return &orgMaker{c: c, rng: rng, codes: map[string]bool{}, names: map[string]bool{},
		plates: map[string]bool{}, devices: map[string]bool{}}
}

func (m *orgMaker) run() {
	m.regulator()
	m.fireStations()
	m.maintenanceCompanies()
	m.volunteerUnits()
	m.userUnits()
}

func (m *orgMaker) regulator() {
	d := &m.c.plans[xuecheng]
	m.add(liftrescue.Organization{
		Code: m.code(kindGovernment, cityAdminCode, false),
		Kind: liftrescue.OrgRegulator,
		Name: m.fixedName("枣庄市市场监督管理局"),
	}, d, d.randomPlace(m.rng), false, regulatorRoles)
}

// fireStations puts the stations on distinct streets of their districts and names them after the
// street, as fire brigades do.
func (m *orgMaker) fireStations() {
	for i := range m.c.plans {
		d := &m.c.plans[i]
		order := m.rng.Perm(len(d.streets))
		for k := range min(d.spec.fireStations, len(order)) {
			s := &d.streets[order[k]]
			m.fireStation(d, "枣庄市消防救援支队"+d.spec.name+s.name+"消防救援站", d.placeAt(m.rng, s, m.rng.Float64()*s.length))
		}
	}
	d := &m.c.plans[xuecheng]
	m.fireStation(d, "枣庄市消防救援支队特勤消防救援站", d.randomPlace(m.rng))
}

func (m *orgMaker) fireStation(d *districtPlan, name string, at place) {
	m.add(liftrescue.Organization{
		Code: m.code(kindGovernment, cityAdminCode, false),
		Kind: liftrescue.OrgFire,
		Name: m.fixedName(name),
	}, d, at, true, fireRoles)
}

// maintenanceCompanies adds the makers' branch offices, then each district's local companies.
// Every maintenance company keeps one rescue team with a van.
func (m *orgMaker) maintenanceCompanies() {
	for i := range branchedMakers {
		d := &m.c.plans[[2]int{shizhong, xuecheng}[i%2]]
		name := m.fixedName(manufacturers[i].name + "枣庄分公司")
		code := m.company(liftrescue.OrgMaintenance, d, cityAdminCode, name, maintenanceRoles)
		m.c.branches = append(m.c.branches, code)
		m.team(code, "应急救援队")
	}
	for i := range m.c.plans {
		d := &m.c.plans[i]
		for range d.spec.maintenance {
			name := m.localName(d, maintenanceSuffixes)
			code := m.company(liftrescue.OrgMaintenance, d, d.spec.registeredAt, name, maintenanceRoles)
			d.maintenance = append(d.maintenance, code)
			m.team(code, "应急救援队")
		}
	}
}

// volunteerUnits adds units of one to three teams until each district has its quota of volunteer
// teams, one van each.
func (m *orgMaker) volunteerUnits() {
	for i := range m.c.plans {
		d := &m.c.plans[i]
		for left := d.spec.volunteerTeams; left > 0; {
			code := m.company(liftrescue.OrgVolunteer, d, d.spec.registeredAt, m.localName(d, volunteerSuffixes), volunteerRoles)
			teams := min(1+m.rng.IntN(3), left)
			for k := range teams {
				m.team(code, teamNames[k])
			}
			left -= teams
		}
	}
}

// userUnits adds each district's property companies, then its hospitals, schools and malls, each
// at a fixed site with its own maintenance contract.
func (m *orgMaker) userUnits() {
	for i := range m.c.plans {
		d := &m.c.plans[i]
		for range d.spec.property {
			// National property companies run compounds only in the big districts, through a
			// local branch of which there is one per town.
			name := ""
			if d.spec.elevatorWeight >= 15 && m.rng.IntN(12) == 0 {
				branch := nationalPropertyBranches[m.rng.IntN(len(nationalPropertyBranches))] + d.spec.town + "分公司"
				if !m.names[branch] {
					name = m.fixedName(branch)
				}
			}
			if name == "" {
				name = m.localName(d, propertySuffixes)
			}
			code := m.company(liftrescue.OrgUserUnit, d, d.spec.registeredAt, name, userUnitRoles)
			d.property = append(d.property, code)
		}
	}
	for i := range m.c.plans {
		d := &m.c.plans[i]
		for _, name := range d.spec.hospitals {
			m.site(i, hospital, name, name, kindInstitution)
		}
		for _, name := range d.spec.schools {
			m.site(i, school, name, name, kindInstitution)
		}
		for _, mall := range d.spec.malls {
			m.site(i, shoppingMall, mall.site, mall.operator, kindCompany)
		}
	}
	// Interleave the districts' sites so that a small city still gets some of each district's.
	m.c.sites = interleave(m.c.sites, len(m.c.plans))
}

func (m *orgMaker) site(district int, kind siteKind, siteName, orgName, codeKind string) {
	d := &m.c.plans[district]
	at := d.randomPlace(m.rng)
	code := m.code(codeKind, d.spec.registeredAt, codeKind == kindCompany && m.rng.IntN(2) == 0)
	roles := institutionRoles
	if kind == shoppingMall {
		roles = userUnitRoles
	}
	m.add(liftrescue.Organization{
		Code: code,
		Kind: liftrescue.OrgUserUnit,
		Name: m.fixedName(orgName),
	}, d, at, false, roles)
	maker := pickManufacturer(m.rng)
	m.c.sites = append(m.c.sites, site{
		kind: kind, district: district, name: siteName, place: at,
		userUnit: code, maintenance: m.c.contractor(m.rng, d, maker), maker: maker,
	})
}

// interleave reorders sites, grouped by district, to take one from each district in turn.
func interleave(sites []site, districts int) []site {
	byDistrict := make([][]site, districts)
	for _, s := range sites {
		byDistrict[s.district] = append(byDistrict[s.district], s)
	}
	out := make([]site, 0, len(sites))
	for round := 0; len(out) < len(sites); round++ {
		for _, ds := range byDistrict {
			if round < len(ds) {
				out = append(out, ds[round])
			}
		}
	}
	return out
}

// company adds a company based in the district and returns its code. The name must have been
// taken from m.names.
func (m *orgMaker) company(kind liftrescue.OrgKind, d *districtPlan, adminCode, name string, roles []string) string {
	code := m.code(kindCompany, adminCode, m.rng.IntN(3) > 0)
	m.add(liftrescue.Organization{
		Code: code,
		Kind: kind,
		Name: name,
	}, d, d.randomPlace(m.rng), kind != liftrescue.OrgUserUnit, roles)
	return code
}

// add completes o with the district, the address (and position, for the bases rescuers leave
// from), duty phones and contacts, and appends it to the city.
func (m *orgMaker) add(o liftrescue.Organization, d *districtPlan, at place, withPosition bool, roles []string) {
	o.District = d.spec.code
	o.Address = at.address
	if withPosition {
		lon, lat := at.pos.lonLat()
		o.Lat, o.Lon = &lat, &lon
	}
	o.DutyPhones = []string{newLandline(m.rng, d.spec.landlinePrefix)}
	if m.rng.IntN(2) == 0 {
		o.DutyPhones = append(o.DutyPhones, newMobile(m.rng))
	}
	for k := range 1 + m.rng.IntN(2) {
		o.Contacts = append(o.Contacts, liftrescue.Contact{
			Name:  newPersonName(m.rng),
			Role:  roles[k%len(roles)],
			Phone: newMobile(m.rng),
		})
	}
	m.c.Organizations = append(m.c.Organizations, o)
}

// team adds a rescue team of the organisation with one van.
func (m *orgMaker) team(orgCode, name string) {
	m.c.Teams = append(m.c.Teams, TeamSeed{
		OrgCode: orgCode,
		Team: liftrescue.Team{
			Name:           name,
			DutyPhone:      newMobile(m.rng),
			CertifiedStaff: 2 + m.rng.IntN(5),
			OnDuty:         m.rng.IntN(10) > 0,
		},
	})
	m.c.Vehicles = append(m.c.Vehicles, VehicleSeed{
		Team: len(m.c.Teams) - 1,
		Vehicle: liftrescue.Vehicle{
			Plate:    m.unique(m.plates, func() string { return newPlate(m.rng) }),
			DeviceID: m.unique(m.devices, func() string { return newDeviceID(m.rng) }),
			OnDuty:   m.rng.IntN(12) > 0,
		},
	})
}

// localName makes a company name the way local companies are named: place, trade name, legal form.
func (m *orgMaker) localName(d *districtPlan, suffixes []string) string {
	return m.unique(m.names, func() string {
		return d.spec.namePrefixes[m.rng.IntN(len(d.spec.namePrefixes))] +
			tradeNames[m.rng.IntN(len(tradeNames))] +
			suffixes[m.rng.IntN(len(suffixes))]
	})
}

// fixedName takes a name from the tables, which must not repeat.
func (m *orgMaker) fixedName(name string) string {
	if m.names[name] {
		panic("demo: two organisations named " + name)
	}
	m.names[name] = true
	return name
}

func (m *orgMaker) code(kind, adminCode string, recent bool) string {
	return m.unique(m.codes, func() string { return newSocialCreditCode(m.rng, kind, adminCode, recent) })
}

// unique calls gen until it returns a value not yet taken, and takes it.
func (m *orgMaker) unique(taken map[string]bool, gen func() string) string {
	for range 10_000 {
		if v := gen(); !taken[v] {
			taken[v] = true
			return v
		}
	}
	panic(fmt.Sprintf("demo: cannot make a new value like %q; the word pools are too small", gen()))
}

// contractor picks the maintenance company of a building: usually a company of its district,
// sometimes the maker's own branch office, now and then a company from elsewhere in the city.
func (c *City) contractor(rng *rand.Rand, d *districtPlan, maker int) string {
	switch r := rng.IntN(10); {
	case r < 7:
		return d.maintenance[rng.IntN(len(d.maintenance))]
	case r < 9 && maker < branchedMakers:
		return c.branches[maker]
	default:
		other := &c.plans[rng.IntN(len(c.plans))]
		return other.maintenance[rng.IntN(len(other.maintenance))]
	}
}
