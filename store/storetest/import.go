package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

func orgRow(line int, code string, kind liftrescue.OrgKind, district string) liftrescue.OrganizationRow {
	return liftrescue.OrganizationRow{Line: line, Org: liftrescue.Organization{Code: code, Kind: kind, Name: "单位" + code, District: district}}
}

func testImportOrganizations(t *testing.T, f *fixture) {
	f.district(t, "370402", "市中区")
	rows := []liftrescue.OrganizationRow{
		orgRow(2, "U1", liftrescue.OrgUserUnit, "370402"),
		orgRow(3, "M1", liftrescue.OrgMaintenance, "370402"),
		orgRow(4, "F1", liftrescue.OrgFire, "370402"),
	}
	res, err := f.s.ImportOrganizations(f.ctx, rows, liftrescue.ImportOptions{})
	MustOK(t, err)
	if res.Created != 3 || res.Updated != 0 || res.Rejected != 0 {
		t.Fatalf("first import = %+v, want 3 created", res)
	}
	// Re-importing is safe: the same codes update.
	rows[0].Org.Name = "阳光物业"
	res, err = f.s.ImportOrganizations(f.ctx, rows, liftrescue.ImportOptions{})
	MustOK(t, err)
	if res.Created != 0 || res.Updated != 3 {
		t.Fatalf("second import = %+v, want 3 updated", res)
	}
	u1, err := f.s.FindOrganizationByCode(f.ctx, "U1")
	MustOK(t, err)
	if u1.Name != "阳光物业" {
		t.Fatalf("U1 name = %q after re-import", u1.Name)
	}

	// One bad row (unknown district), one repeated code: nothing is written.
	bad := []liftrescue.OrganizationRow{
		orgRow(2, "NEW1", liftrescue.OrgVolunteer, "370402"),
		orgRow(3, "NEW2", liftrescue.OrgVolunteer, "370499"),
		orgRow(4, "NEW1", liftrescue.OrgVolunteer, "370402"),
		orgRow(5, "", liftrescue.OrgVolunteer, "370402"),
	}
	_, err = f.s.ImportOrganizations(f.ctx, bad, liftrescue.ImportOptions{})
	MustCode(t, err, liftrescue.EINVALID)
	details := liftrescue.ErrorDetails(err)
	if len(details) != 3 || details[0].Line != 3 || details[0].Field != "district" || details[1].Line != 4 || details[1].Field != "code" || details[2].Line != 5 {
		t.Fatalf("details = %+v, want lines 3 (district), 4 (code), 5", details)
	}
	_, err = f.s.FindOrganizationByCode(f.ctx, "NEW1")
	MustCode(t, err, liftrescue.ENOTFOUND)
}

func elevatorRow(line int, rescue, equipment, user, maint string) liftrescue.ElevatorRow {
	return liftrescue.ElevatorRow{
		Line: line,
		Elevator: liftrescue.Elevator{RescueCode: rescue, EquipmentCode: equipment, Address: "市中区光明路" + rescue + "号",
			District: "370402", Lat: 34.86, Lon: 117.55, Kind: liftrescue.KindTraction, Floors: 12},
		UserUnitCode: user, MaintenanceUnitCode: maint,
	}
}

func (f *fixture) importCity(tb testing.TB) {
	tb.Helper()
	f.district(tb, "370402", "市中区")
	_, err := f.s.ImportOrganizations(f.ctx, []liftrescue.OrganizationRow{
		orgRow(2, "U1", liftrescue.OrgUserUnit, "370402"),
		orgRow(3, "M1", liftrescue.OrgMaintenance, "370402"),
		orgRow(4, "M2", liftrescue.OrgMaintenance, "370402"),
		orgRow(5, "F1", liftrescue.OrgFire, "370402"),
	}, liftrescue.ImportOptions{})
	MustOK(tb, err)
}

func testImportElevators(t *testing.T, f *fixture) {
	f.importCity(t)
	rows := []liftrescue.ElevatorRow{
		elevatorRow(2, "100001", "31103704022015000001", "U1", "M1"),
		elevatorRow(3, "100002", "31103704022015000002", "U1", "M1"),
	}
	res, err := f.s.ImportElevators(f.ctx, rows, liftrescue.ImportOptions{})
	MustOK(t, err)
	if res.Created != 2 || res.Updated != 0 {
		t.Fatalf("first import = %+v", res)
	}
	// Upsert by equipment code: a new rescue code and a new maintenance company, plus one new row.
	rows[0].Elevator.RescueCode, rows[0].MaintenanceUnitCode = "100009", "M2"
	rows = append(rows, elevatorRow(4, "100003", "31103704022015000003", "U1", "M2"))
	res, err = f.s.ImportElevators(f.ctx, rows, liftrescue.ImportOptions{})
	MustOK(t, err)
	if res.Created != 1 || res.Updated != 2 {
		t.Fatalf("second import = %+v, want 1 created, 2 updated", res)
	}
	got, err := f.s.FindElevatorByCode(f.ctx, "31103704022015000001")
	MustOK(t, err)
	m2, err := f.s.FindOrganizationByCode(f.ctx, "M2")
	MustOK(t, err)
	if got.RescueCode != "100009" || got.MaintenanceUnitID != m2.ID {
		t.Fatalf("re-imported elevator = %+v", got)
	}
	page, err := f.s.ListElevators(f.ctx, liftrescue.ElevatorFilter{})
	MustOK(t, err)
	if page.Total != 3 {
		t.Fatalf("total after re-import = %d, want 3", page.Total)
	}

	// Every kind of bad row is reported with its line and column, and nothing is written.
	bad := []liftrescue.ElevatorRow{
		elevatorRow(2, "200001", "31103704022015100001", "U1", "M1"),   // good
		elevatorRow(3, "200002", "31103704022015100002", "NOPE", "M1"), // unknown user unit
		elevatorRow(4, "200003", "31103704022015100003", "U1", "F1"),   // a fire station as maintenance company
		elevatorRow(5, "100002", "31103704022015100005", "U1", "M1"),   // rescue code held by another elevator
		elevatorRow(6, "200001", "31103704022015100006", "U1", "M1"),   // rescue code repeats line 2
		elevatorRow(7, "200007", "31103704022015100001", "U1", "M1"),   // equipment code repeats line 2
		elevatorRow(8, "12", "31103704022015100008", "U1", "M1"),       // malformed rescue code
		elevatorRow(9, "200009", "31103704022015100009", "U1", "M1"),   // unknown district
	}
	bad[7].Elevator.District = "370499"
	_, err = f.s.ImportElevators(f.ctx, bad, liftrescue.ImportOptions{})
	MustCode(t, err, liftrescue.EINVALID)
	want := []struct {
		line  int
		field string
	}{{3, "user_unit_code"}, {4, "maintenance_unit_code"}, {5, "rescue_code"}, {6, "rescue_code"}, {7, "equipment_code"}, {8, "rescue_code"}, {9, "district"}}
	details := liftrescue.ErrorDetails(err)
	if len(details) != len(want) {
		t.Fatalf("details = %+v, want %d", details, len(want))
	}
	for i, w := range want {
		if details[i].Line != w.line || details[i].Field != w.field {
			t.Fatalf("detail %d = %+v, want line %d field %s", i, details[i], w.line, w.field)
		}
	}
	_, err = f.s.FindElevatorByCode(f.ctx, "200001")
	MustCode(t, err, liftrescue.ENOTFOUND)
}

func testImportElevatorsPartialAndDryRun(t *testing.T, f *fixture) {
	f.importCity(t)
	rows := []liftrescue.ElevatorRow{
		elevatorRow(2, "300001", "31103704022015300001", "U1", "M1"),
		elevatorRow(3, "300002", "31103704022015300002", "U9", "M1"),
		elevatorRow(4, "300003", "31103704022015300003", "U1", "M1"),
	}
	// A dry run reports what a real run would do and writes nothing, even when all rows are good.
	res, err := f.s.ImportElevators(f.ctx, []liftrescue.ElevatorRow{rows[0]}, liftrescue.ImportOptions{DryRun: true})
	MustOK(t, err)
	if res.Created != 1 || !res.DryRun {
		t.Fatalf("dry run = %+v", res)
	}
	_, err = f.s.FindElevatorByCode(f.ctx, "300001")
	MustCode(t, err, liftrescue.ENOTFOUND)
	// All-or-nothing on a dry run fails as a real run would.
	_, err = f.s.ImportElevators(f.ctx, rows, liftrescue.ImportOptions{DryRun: true})
	MustCode(t, err, liftrescue.EINVALID)

	res, err = f.s.ImportElevators(f.ctx, rows, liftrescue.ImportOptions{Partial: true})
	MustOK(t, err)
	if res.Rows != 3 || res.Created != 2 || res.Rejected != 1 || len(res.Errors) != 1 || res.Errors[0].Line != 3 {
		t.Fatalf("partial import = %+v", res)
	}
	for _, code := range []string{"300001", "300003"} {
		_, err := f.s.FindElevatorByCode(f.ctx, code)
		MustOK(t, err)
	}
}

func testReady(t *testing.T, f *fixture) {
	MustOK(t, f.s.Ready(f.ctx))
}

// Columns left out of an import keep what is stored on records that exist; new records get the
// zero values. nil Columns means every column.
func testImportKeepsColumnsLeftOut(t *testing.T, f *fixture) {
	user, maint := f.city(t)
	stored := f.org(t, "91370400USER000002", liftrescue.OrgUserUnit, "370402")
	orgByCode := func(code string) *liftrescue.Organization {
		t.Helper()
		o, err := f.s.FindOrganizationByCode(f.ctx, code)
		MustOK(t, err)
		return o
	}

	// The four required columns of an organisation file: the phones, contacts, address and
	// position stay.
	f.clock.T = f.clock.T.Add(time.Hour)
	res, err := f.s.ImportOrganizations(f.ctx, []liftrescue.OrganizationRow{
		orgRow(2, stored.Code, liftrescue.OrgUserUnit, "370403"),
		orgRow(3, "V1", liftrescue.OrgVolunteer, "370402"),
	}, liftrescue.ImportOptions{Columns: []string{"code", "kind", "name", "district"}})
	MustOK(t, err)
	if res.Created != 1 || res.Updated != 1 {
		t.Fatalf("import = %+v, want 1 created, 1 updated", res)
	}
	got := orgByCode(stored.Code)
	if got.Name != "单位"+stored.Code || got.District != "370403" || !got.UpdatedAt.After(stored.UpdatedAt) || !got.CreatedAt.Equal(stored.CreatedAt) {
		t.Errorf("the columns given were not written: %+v", got)
	}
	if got.Address != stored.Address || got.Lat == nil || *got.Lat != *stored.Lat || got.Lon == nil || *got.Lon != *stored.Lon ||
		!reflect.DeepEqual(got.DutyPhones, stored.DutyPhones) || !reflect.DeepEqual(got.Contacts, stored.Contacts) {
		t.Errorf("columns left out were overwritten:\n got %+v\nwant %+v", got, stored)
	}
	if v1 := orgByCode("V1"); v1.Address != "" || v1.Lat != nil || len(v1.DutyPhones) != 0 || len(v1.Contacts) != 0 {
		t.Errorf("new organization = %+v, want the zero values of the columns left out", v1)
	}

	// A column given empty is written empty. A position is written only with both columns, so a
	// lat column alone leaves it as it was.
	res, err = f.s.ImportOrganizations(f.ctx, []liftrescue.OrganizationRow{orgRow(2, stored.Code, liftrescue.OrgUserUnit, "370402")},
		liftrescue.ImportOptions{Columns: []string{"code", "kind", "name", "district", "duty_phones", "lat"}})
	MustOK(t, err)
	got = orgByCode(stored.Code)
	if len(got.DutyPhones) != 0 || got.Lat == nil || got.Lon == nil || len(got.Contacts) != 1 {
		t.Errorf("after importing empty duty_phones and lat alone: %+v, want no phones and the position and contact kept", got)
	}

	// Elevators: only the required columns, with a new address and position.
	e := f.elevator("123456", "31103704022015000001", 117.55, 34.86, user, maint)
	e.Status = liftrescue.OutOfService
	MustOK(t, f.s.CreateElevator(f.ctx, e))
	required := []string{"rescue_code", "equipment_code", "address", "district", "lat", "lon", "kind", "user_unit_code", "maintenance_unit_code"}
	rows := []liftrescue.ElevatorRow{
		elevatorRow(2, "123456", "31103704022015000001", user.Code, maint.Code),
		elevatorRow(3, "123457", "31103704022015000002", user.Code, maint.Code),
	}
	f.clock.T = f.clock.T.Add(time.Hour)
	res, err = f.s.ImportElevators(f.ctx, rows, liftrescue.ImportOptions{Columns: required})
	MustOK(t, err)
	if res.Created != 1 || res.Updated != 1 {
		t.Fatalf("elevator import = %+v, want 1 created, 1 updated", res)
	}
	got1, err := f.s.FindElevator(f.ctx, e.ID)
	MustOK(t, err)
	if got1.Address != rows[0].Elevator.Address || got1.Lat != rows[0].Elevator.Lat || !got1.UpdatedAt.After(e.UpdatedAt) {
		t.Errorf("the columns given were not written: %+v", got1)
	}
	if got1.Status != liftrescue.OutOfService || got1.Floors != e.Floors || got1.Manufacturer != e.Manufacturer || got1.Model != e.Model ||
		got1.Building != e.Building || got1.InstalledOn != e.InstalledOn || got1.InspectionValidUntil != e.InspectionValidUntil ||
		got1.LastMaintainedAt == nil || !got1.LastMaintainedAt.Equal(*e.LastMaintainedAt) {
		t.Errorf("columns left out were overwritten:\n got %+v\nwant %+v", got1, e)
	}
	got2, err := f.s.FindElevatorByCode(f.ctx, "123457")
	MustOK(t, err)
	if got2.Status != liftrescue.InService || got2.Floors != 12 || got2.Manufacturer != "" || got2.LastMaintainedAt != nil {
		t.Errorf("new elevator = %+v, want its row's values and the zero values of the columns left out", got2)
	}

	// Every column, as a JSON batch gives them: the row replaces what is stored.
	_, err = f.s.ImportElevators(f.ctx, rows[:1], liftrescue.ImportOptions{})
	MustOK(t, err)
	got1, err = f.s.FindElevator(f.ctx, e.ID)
	MustOK(t, err)
	if got1.Status != liftrescue.InService || got1.Manufacturer != "" || got1.LastMaintainedAt != nil || !got1.InstalledOn.IsZero() {
		t.Errorf("after an import of every column: %+v, want the row's values", got1)
	}
}

// Rows are told apart by their place in the batch, not by their line: a JSON batch gives every
// row line 0, and a bad row must not keep the good ones from being written.
func testImportRowsWithoutLines(t *testing.T, f *fixture) {
	f.importCity(t)
	_, err := f.s.ImportElevators(f.ctx, []liftrescue.ElevatorRow{elevatorRow(2, "100001", "31103704022015000001", "U1", "M1")}, liftrescue.ImportOptions{})
	MustOK(t, err)

	rows := []liftrescue.ElevatorRow{
		elevatorRow(0, "100002", "31103704022015000002", "U1", "M1"),
		elevatorRow(0, "100001", "31103704022015000003", "U1", "M1"), // rescue code held by the first elevator
		elevatorRow(0, "100004", "31103704022015000004", "U1", "M1"),
	}
	res, err := f.s.ImportElevators(f.ctx, rows, liftrescue.ImportOptions{Partial: true})
	MustOK(t, err)
	if res.Created != 2 || res.Rejected != 1 || len(res.Errors) != 1 || res.Errors[0].Field != "rescue_code" {
		t.Fatalf("import = %+v, want 2 created and the rescue code rejected", res)
	}
	for _, code := range []string{"100002", "100004"} {
		_, err := f.s.FindElevatorByCode(f.ctx, code)
		MustOK(t, err)
	}
	_, err = f.s.FindElevatorByCode(f.ctx, "31103704022015000003")
	MustCode(t, err, liftrescue.ENOTFOUND)

	// M1 keeps elevators, so it cannot become a volunteer unit; the other rows go in.
	res, err = f.s.ImportOrganizations(f.ctx, []liftrescue.OrganizationRow{
		orgRow(0, "V1", liftrescue.OrgVolunteer, "370402"),
		orgRow(0, "M1", liftrescue.OrgVolunteer, "370402"),
		orgRow(0, "V2", liftrescue.OrgVolunteer, "370402"),
	}, liftrescue.ImportOptions{Partial: true})
	MustOK(t, err)
	if res.Created != 2 || res.Rejected != 1 || len(res.Errors) != 1 || res.Errors[0].Field != "kind" {
		t.Fatalf("organization import = %+v, want 2 created and the kind rejected", res)
	}
	for code, want := range map[string]liftrescue.OrgKind{"V1": liftrescue.OrgVolunteer, "V2": liftrescue.OrgVolunteer, "M1": liftrescue.OrgMaintenance} {
		o, err := f.s.FindOrganizationByCode(f.ctx, code)
		MustOK(t, err)
		if o.Kind != want {
			t.Errorf("%s is a %s, want %s", code, o.Kind, want)
		}
	}
}
