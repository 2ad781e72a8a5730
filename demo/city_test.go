package demo

import (
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb"
)

// collect returns the first n elevators of the city (all when n < 0).
func collect(c *City, n int) []liftrescue.ElevatorRow {
	var rows []liftrescue.ElevatorRow
	for row := range c.Elevators() {
		if len(rows) == n {
			break
		}
		rows = append(rows, row)
	}
	return rows
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := Generate(Config{}), Generate(Config{})
	for _, part := range []struct {
		name      string
		got, want any
	}{
		{"districts", a.Districts, b.Districts},
		{"organizations", a.Organizations, b.Organizations},
		{"teams", a.Teams, b.Teams},
		{"vehicles", a.Vehicles, b.Vehicles},
		{"elevators", collect(a, 1000), collect(b, 1000)},
		{"elevators streamed twice", collect(a, 1000), collect(a, 1000)},
	} {
		if !reflect.DeepEqual(part.got, part.want) {
			t.Errorf("%s differ between two runs with the same Config", part.name)
		}
	}

	other := Generate(Config{Seed: 42})
	if reflect.DeepEqual(collect(a, 10), collect(other, 10)) {
		t.Error("a different seed gives the same elevators")
	}
}

// A smaller city is a prefix of a larger one, so a demo can grow without changing what it showed.
func TestSmallerCityIsPrefix(t *testing.T) {
	small := collect(Generate(Config{Elevators: 1000}), -1)
	large := collect(Generate(Config{Elevators: 5000}), 1000)
	if len(small) != 1000 {
		t.Fatalf("got %d elevators, want 1000", len(small))
	}
	if !reflect.DeepEqual(small, large) {
		t.Error("the 1,000-elevator city is not the start of the 5,000-elevator one")
	}
}

func TestCodesAreUnique(t *testing.T) {
	c := Generate(Config{Elevators: 100_000})
	unique := func(what string, values []string) {
		t.Helper()
		seen := make(map[string]bool, len(values))
		for _, v := range values {
			if seen[v] {
				t.Errorf("%s %q appears twice", what, v)
				return
			}
			seen[v] = true
		}
	}
	var rescue, equipment []string
	for row := range c.Elevators() {
		rescue = append(rescue, row.Elevator.RescueCode)
		equipment = append(equipment, row.Elevator.EquipmentCode)
	}
	if len(rescue) != 100_000 {
		t.Fatalf("got %d elevators, want 100000", len(rescue))
	}
	unique("rescue code", rescue)
	unique("equipment code", equipment)

	var orgCodes, orgNames, plates, devices []string
	for _, o := range c.Organizations {
		orgCodes, orgNames = append(orgCodes, o.Code), append(orgNames, o.Name)
	}
	for _, v := range c.Vehicles {
		plates, devices = append(plates, v.Vehicle.Plate), append(devices, v.Vehicle.DeviceID)
	}
	unique("organisation code", orgCodes)
	unique("organisation name", orgNames)
	unique("plate", plates)
	unique("device id", devices)
}

func TestEverythingValidates(t *testing.T) {
	c := Generate(Config{Elevators: 20_000})
	for _, d := range c.Districts {
		if err := d.Validate(); err != nil {
			t.Errorf("district %s: %v", d.Code, err)
		}
	}
	kinds := map[string]liftrescue.OrgKind{}
	for _, o := range c.Organizations {
		kinds[o.Code] = o.Kind
		if err := o.Validate(); err != nil {
			t.Errorf("organisation %s: %v", o.Name, err)
		}
		if !isSocialCreditCode(o.Code) {
			t.Errorf("organisation %s: %q is not a unified social credit code", o.Name, o.Code)
		}
	}
	for i, ts := range c.Teams {
		team := ts.Team
		team.OrganizationID = 1
		if err := team.Validate(); err != nil {
			t.Errorf("team %d: %v", i, err)
		}
		if k := kinds[ts.OrgCode]; k != liftrescue.OrgMaintenance && k != liftrescue.OrgVolunteer {
			t.Errorf("team %d belongs to %q, a %q", i, ts.OrgCode, k)
		}
	}
	for i, vs := range c.Vehicles {
		v := vs.Vehicle
		v.TeamID = 1
		if err := v.Validate(); err != nil {
			t.Errorf("vehicle %d: %v", i, err)
		}
		if vs.Team < 0 || vs.Team >= len(c.Teams) {
			t.Errorf("vehicle %d: no team %d", i, vs.Team)
		}
		if !strings.HasPrefix(v.Plate, "鲁D") || len([]rune(v.Plate)) != 7 {
			t.Errorf("vehicle %d: plate %q is not 鲁D and five characters", i, v.Plate)
		}
		if len(v.DeviceID) != 12 || strings.Trim(v.DeviceID, "0123456789") != "" {
			t.Errorf("vehicle %d: device id %q is not 12 digits", i, v.DeviceID)
		}
	}
	line := 0
	for row := range c.Elevators() {
		line++
		e := row.Elevator
		e.UserUnitID, e.MaintenanceUnitID = 1, 2
		if err := e.Validate(); err != nil {
			t.Fatalf("elevator on line %d: %v", row.Line, err)
		}
		if row.Line != line {
			t.Fatalf("line %d follows line %d", row.Line, line-1)
		}
		if kinds[row.UserUnitCode] != liftrescue.OrgUserUnit || kinds[row.MaintenanceUnitCode] != liftrescue.OrgMaintenance {
			t.Fatalf("elevator on line %d: units %q (%s) and %q (%s)", row.Line,
				row.UserUnitCode, kinds[row.UserUnitCode], row.MaintenanceUnitCode, kinds[row.MaintenanceUnitCode])
		}
		checkEquipmentCode(t, row)
	}
}

func checkEquipmentCode(t *testing.T, row liftrescue.ElevatorRow) {
	t.Helper()
	e := row.Elevator
	category := map[liftrescue.ElevatorKind][]string{
		liftrescue.KindTraction:   {"3110", "3120"},
		liftrescue.KindHydraulic:  {"3210"},
		liftrescue.KindEscalator:  {"3310"},
		liftrescue.KindMovingWalk: {"3320"},
		liftrescue.KindDumbwaiter: {"3430"},
	}[e.Kind]
	code := e.EquipmentCode
	if !slices.Contains(category, code[:4]) || code[4:10] != e.District || code[10:14] > e.InstalledOn.String()[:4] {
		t.Fatalf("elevator on line %d: equipment code %s does not fit a %s in %s installed %s",
			row.Line, code, e.Kind, e.District, e.InstalledOn)
	}
}

func TestElevatorsLieInTheirDistrict(t *testing.T) {
	c := Generate(Config{Elevators: 100_000})
	outlines := map[string]orb.Ring{}
	for _, d := range c.Districts {
		outlines[d.Code] = d.Outline[0][0]
	}
	for _, o := range c.Organizations {
		if o.Lat != nil && !inRing(outlines[o.District], orb.Point{*o.Lon, *o.Lat}) {
			t.Errorf("%s lies outside %s", o.Name, o.District)
		}
	}
	for row := range c.Elevators() {
		e := row.Elevator
		if !inRing(outlines[e.District], orb.Point{e.Lon, e.Lat}) {
			t.Fatalf("elevator on line %d at %v,%v lies outside %s", row.Line, e.Lat, e.Lon, e.District)
		}
	}
}

func TestDistrictsPartitionTheCity(t *testing.T) {
	c := Generate(Config{})
	city := ring(c.outline)
	if !isConvex(c.outline) {
		t.Fatal("the city outline is not convex and counter-clockwise")
	}
	total := 0.0
	for i, d := range c.Districts {
		r := d.Outline[0][0]
		if len(d.Outline) != 1 || len(d.Outline[0]) != 1 || !r.Closed() || r.Orientation() != orb.CCW {
			t.Errorf("%s: want one closed counter-clockwise ring", d.Name)
		}
		spec := districtSpecs[i]
		if !inRing(r, orb.Point{spec.lon, spec.lat}) {
			t.Errorf("%s does not contain its centre", d.Name)
		}
		if len(c.plans[i].streets) < 3 {
			t.Errorf("%s has only %d streets", d.Name, len(c.plans[i].streets))
		}
		total += ringArea(r)
	}
	if got, want := total, ringArea(city); math.Abs(got-want) > 1e-6*want {
		t.Errorf("districts cover %g square degrees, the city %g", got, want)
	}

	bound := city.Bound()
	const steps = 300
	for i := range steps {
		for j := range steps {
			// Offsets by irrational fractions keep the grid off the boundaries.
			p := orb.Point{
				bound.Min[0] + (float64(i)+0.5/math.Sqrt2)*(bound.Max[0]-bound.Min[0])/steps,
				bound.Min[1] + (float64(j)+0.5/math.Sqrt(3))*(bound.Max[1]-bound.Min[1])/steps,
			}
			in := 0
			for _, d := range c.Districts {
				if inRing(d.Outline[0][0], p) {
					in++
				}
			}
			want := 0
			if inRing(city, p) {
				want = 1
			}
			if in != want {
				t.Fatalf("%v lies in %d districts, want %d", p, in, want)
			}
		}
	}
}

func TestDefaultCity(t *testing.T) {
	c := Generate(Config{})
	kinds := map[liftrescue.OrgKind]int{}
	orgKind := map[string]liftrescue.OrgKind{}
	orgDistrict := map[string]string{}
	for _, o := range c.Organizations {
		kinds[o.Kind]++
		orgKind[o.Code], orgDistrict[o.Code] = o.Kind, o.District
	}
	volunteerVehicles := 0
	for _, v := range c.Vehicles {
		if orgKind[c.Teams[v.Team].OrgCode] == liftrescue.OrgVolunteer {
			volunteerVehicles++
		}
	}
	for _, n := range []struct {
		what     string
		got      int
		min, max int
	}{
		{"maintenance companies", kinds[liftrescue.OrgMaintenance], 55, 65},
		{"user units", kinds[liftrescue.OrgUserUnit], 280, 320},
		{"fire stations", kinds[liftrescue.OrgFire], 10, 14},
		{"regulators", kinds[liftrescue.OrgRegulator], 1, 1},
		{"volunteer vehicles", volunteerVehicles, 35, 45},
	} {
		if n.got < n.min || n.got > n.max {
			t.Errorf("%d %s, want %d to %d", n.got, n.what, n.min, n.max)
		}
	}

	var elevators, escalators, overdue, expired, stopped, localMaintenance int
	perDistrict := map[string]int{}
	now := c.cfg.Now
	for row := range c.Elevators() {
		e := row.Elevator
		elevators++
		perDistrict[e.District]++
		if len(e.RescueCode) != 6 {
			t.Fatalf("rescue code %q is not 6 digits", e.RescueCode)
		}
		if e.Kind == liftrescue.KindEscalator {
			escalators++
		}
		if strings.Contains(e.Building, "单元") && (e.Floors < 6 || e.Floors > 33) {
			t.Errorf("a residential building of %d floors", e.Floors)
		}
		if !e.LastMaintainedAt.Before(now) || e.InstalledOn.Year < 2000 || e.InstalledOn.Year > 2025 {
			t.Fatalf("elevator on line %d: maintained %v, installed %v", row.Line, e.LastMaintainedAt, e.InstalledOn)
		}
		if now.Sub(*e.LastMaintainedAt) > 15*day {
			overdue++
		}
		if e.InspectionValidUntil.Before(liftrescue.DateOf(now)) {
			expired++
		}
		if e.Status != liftrescue.InService {
			stopped++
		}
		if orgDistrict[row.UserUnitCode] != e.District {
			t.Errorf("elevator on line %d in %s has a user unit in %s", row.Line, e.District, orgDistrict[row.UserUnitCode])
		}
		if orgDistrict[row.MaintenanceUnitCode] == e.District {
			localMaintenance++
		}
	}
	if elevators != DefaultElevators {
		t.Errorf("%d elevators, want %d", elevators, DefaultElevators)
	}
	for _, share := range []struct {
		what     string
		count    int
		min, max float64
	}{
		{"escalators", escalators, 0.002, 0.05},
		{"overdue for maintenance", overdue, 0.015, 0.05},
		{"inspection expired", expired, 0.01, 0.035},
		{"out of service", stopped, 0.005, 0.03},
		{"maintained from their district", localMaintenance, 0.6, 0.95},
	} {
		if got := float64(share.count) / float64(elevators); got < share.min || got > share.max {
			t.Errorf("%.1f%% %s, want %.1f%% to %.1f%%", 100*got, share.what, 100*share.min, 100*share.max)
		}
	}
	// Tengzhou, Shizhong and Xuecheng are the big ones, Shanting the smallest.
	bySize := slices.Clone(c.Districts)
	slices.SortFunc(bySize, func(a, b liftrescue.District) int { return perDistrict[b.Code] - perDistrict[a.Code] })
	var order []string
	for _, d := range bySize {
		order = append(order, d.Code)
	}
	if top := order[:3]; !slices.Contains(top, "370402") || !slices.Contains(top, "370403") || !slices.Contains(top, "370481") || order[5] != "370406" {
		t.Errorf("districts by elevators: %v", order)
	}
}

func TestSevenDigitRescueCodesAboveNineHundredThousand(t *testing.T) {
	for _, row := range collect(Generate(Config{Elevators: 900_001}), 100) {
		if len(row.Elevator.RescueCode) != 7 {
			t.Fatalf("rescue code %q in a city of 900,001 elevators", row.Elevator.RescueCode)
		}
	}
}

func TestRescueCodesArePermutation(t *testing.T) {
	sizes := []int{1000, 900_001}
	if testing.Short() {
		sizes = sizes[:1] // the 7-digit space has 9 million codes
	}
	for _, size := range sizes {
		r := newRescueCodes(size, DefaultSeed)
		// A bit per code: a bool each would make 9 MB of random writes, most of them cache misses.
		seen := make([]uint64, (r.count+63)/64)
		consecutive, previous := 0, uint64(0)
		for i := range int(r.count) {
			x := r.offset(i)
			if x >= r.count || seen[x/64]&(1<<(x%64)) != 0 {
				t.Fatalf("code %d of %d: offset %d out of range or repeated", i, r.count, x)
			}
			seen[x/64] |= 1 << (x % 64)
			if i > 0 && x == previous+1 {
				consecutive++
			}
			previous = x
		}
		if consecutive > 10 {
			t.Errorf("%d codes follow the one before", consecutive)
		}
		if got := r.code(0); len(got) != len(strconv.FormatUint(r.first, 10)) {
			t.Errorf("code %q has the wrong length for %d elevators", got, size)
		}
	}
}

func TestSocialCreditCodeCheck(t *testing.T) {
	// The published code of 腾讯科技(深圳)有限公司.
	const real = "9144030071526726XG"
	if got := orgCodeCheck(real[8:16]); got != real[16] {
		t.Errorf("organisation code check of %s = %c, want %c", real[8:16], got, real[16])
	}
	if got := usccCheck(real[:17]); got != real[17] {
		t.Errorf("check of %s = %c, want %c", real[:17], got, real[17])
	}
}

// isSocialCreditCode checks the shape and both check characters of a unified social credit code.
func isSocialCreditCode(s string) bool {
	if len(s) != 18 || !slices.Contains([]string{"91", "11", "12"}, s[:2]) || !strings.HasPrefix(s[2:], "3704") {
		return false
	}
	for i := range s {
		if strings.IndexByte(usccAlphabet, s[i]) < 0 {
			return false
		}
	}
	return orgCodeCheck(s[8:16]) == s[16] && usccCheck(s[:17]) == s[17]
}

// inRing is an even–odd ray-casting test, independent of the convex geometry the generator uses.
func inRing(r orb.Ring, p orb.Point) bool {
	in := false
	for i, j := 0, len(r)-1; i < len(r); j, i = i, i+1 {
		a, b := r[i], r[j]
		if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0]-a[0])*(p[1]-a[1])/(b[1]-a[1])+a[0] {
			in = !in
		}
	}
	return in
}

func ringArea(r orb.Ring) float64 {
	sum := 0.0
	for i := 0; i+1 < len(r); i++ {
		sum += r[i][0]*r[i+1][1] - r[i+1][0]*r[i][1]
	}
	return sum / 2
}

func isConvex(poly []vec) bool {
	for i := range poly {
		a, b, c := poly[i], poly[(i+1)%len(poly)], poly[(i+2)%len(poly)]
		if b.sub(a).cross(c.sub(b)) <= 0 {
			return false
		}
	}
	return true
}

func BenchmarkGenerate1M(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for range Generate(Config{Elevators: 1_000_000}).Elevators() {
			n++
		}
		if n != 1_000_000 {
			b.Fatalf("streamed %d elevators", n)
		}
	}
}
