// Package storetest is the conformance suite every Store implementation runs, so that the embedded
// SQLite store and the PostgreSQL store behave alike down to their error codes.
//
// It imports the root package only.
package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb"
)

// Opener opens a fresh, empty, migrated store whose clock is now. It registers its own cleanup.
type Opener func(tb testing.TB, now func() time.Time) liftrescue.Store

// Run runs the whole suite, each subtest on a fresh store.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, *fixture)
	}{
		{"Districts", testDistricts},
		{"Organizations", testOrganizations},
		{"OrganizationReferences", testOrganizationReferences},
		{"Elevators", testElevators},
		{"ElevatorConflicts", testElevatorConflicts},
		{"ElevatorList", testElevatorList},
		{"ElevatorListByUnit", testElevatorListByUnit},
		{"EachElevatorPosition", testEachElevatorPosition},
		{"EachElevatorPositionStops", testEachElevatorPositionStops},
		{"EachElevatorPositionSnapshot", testEachElevatorPositionSnapshot},
		{"IDsNeverReused", testIDsNeverReused},
		{"BadTextInLookups", testBadTextInLookups},
		{"TeamsAndVehicles", testTeamsAndVehicles},
		{"VehicleDeviceSecrets", testVehicleDeviceSecrets},
		{"ImportOrganizations", testImportOrganizations},
		{"ImportElevators", testImportElevators},
		{"ImportElevatorsPartialAndDryRun", testImportElevatorsPartialAndDryRun},
		{"ImportKeepsColumnsLeftOut", testImportKeepsColumnsLeftOut},
		{"ImportRowsWithoutLines", testImportRowsWithoutLines},
		{"Ready", testReady},
		{"PositionsTrack", testPositionsTrack},
		{"PositionsTrackErrors", testPositionsTrackErrors},
		{"PositionsRoundTrip", testPositionsRoundTrip},
		{"PositionsBadBatch", testPositionsBadBatch},
		{"PositionsLatest", testPositionsLatest},
		{"PositionsRetention", testPositionsRetention},
		{"PositionsManyOfOneVehicle", testPositionsManyOfOneVehicle},
		{"PositionsOverlappingBatches", testPositionsOverlappingBatches},
		{"PositionsRetentionWithinMinute", testPositionsRetentionWithinMinute},
		{"PositionsDeleteVehicleWhileAppending", testPositionsDeleteVehicleWhileAppending},
		{"IncidentRoundTrip", testIncidentRoundTrip},
		{"IncidentChain", testIncidentChain},
		{"IncidentOpenConflict", testIncidentOpenConflict},
		{"IncidentVersions", testIncidentVersions},
		{"IncidentList", testIncidentList},
		{"IncidentNotifications", testIncidentNotifications},
		{"IncidentConcurrentWrites", testIncidentConcurrentWrites},
		{"Users", testUsers},
		{"UsersConcurrentCreate", testUsersConcurrentCreate},
		{"UserUpdate", testUserUpdate},
		{"SignIns", testSignIns},
		{"Sessions", testSessions},
		{"APIKeys", testAPIKeys},
		{"Audit", testAudit},
		{"AuditKeepsAnything", testAuditKeepsAnything},
		{"Plans", testPlans},
		{"Grids", testGrids},
		{"PlanCopy", testPlanCopy},
		{"PlanPublish", testPlanPublish},
		{"PlanPublishConcurrent", testPlanPublishConcurrent},
		{"GridChecks", testGridChecks},
		{"GridOrganizations", testGridOrganizations},
		{"GridIDsNeverReused", testGridIDsNeverReused},
		{"Terminals", testTerminals},
		{"TerminalsConcurrentPut", testTerminalsConcurrentPut},
		{"TerminalList", testTerminalList},
		{"TerminalsTouch", testTerminalsTouch},
		{"TerminalsAndFaultsCascade", testTerminalsAndFaultsCascade},
		{"FaultsRoundTrip", testFaultsRoundTrip},
		{"FaultsAllOrNothing", testFaultsAllOrNothing},
		{"FaultsBatch", testFaultsBatch},
		{"FaultRepeats", testFaultRepeats},
		{"FaultList", testFaultList},
		{"FaultCounts", testFaultCounts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &Clock{T: time.Date(2026, 11, 21, 2, 30, 0, 123456789, time.UTC)}
			f := &fixture{ctx: context.Background(), clock: clock}
			f.s = open(t, clock.Now)
			tt.fn(t, f)
		})
	}
}

// Clock is a settable clock for stores under test.
type Clock struct{ T time.Time }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return c.T }

type fixture struct {
	ctx   context.Context
	s     liftrescue.Store
	clock *Clock
}

// MustCode fails the test unless err carries the code.
func MustCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := liftrescue.ErrorCode(err); got != code {
		tb.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

// MustOK fails the test on err.
func MustOK(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// square is a small closed ring around lon, lat.
func square(lon, lat, r float64) orb.Polygon {
	return orb.Polygon{{{lon - r, lat - r}, {lon + r, lat - r}, {lon + r, lat + r}, {lon - r, lat + r}, {lon - r, lat - r}}}
}

func (f *fixture) district(tb testing.TB, code, name string) *liftrescue.District {
	tb.Helper()
	d := &liftrescue.District{Code: code, Name: name, Outline: orb.MultiPolygon{square(117.5, 34.8, 0.1)}}
	MustOK(tb, f.s.UpsertDistrict(f.ctx, d))
	return d
}

func (f *fixture) org(tb testing.TB, code string, kind liftrescue.OrgKind, district string) *liftrescue.Organization {
	tb.Helper()
	lat, lon := 34.86, 117.55
	o := &liftrescue.Organization{Code: code, Kind: kind, Name: "单位 " + code, District: district, Address: "光明路1号",
		Lat: &lat, Lon: &lon, DutyPhones: []string{"0632-3311000"}, Contacts: []liftrescue.Contact{{Name: "张三", Role: "站长", Phone: "13800000000"}}}
	MustOK(tb, f.s.CreateOrganization(f.ctx, o))
	return o
}

// city makes two districts, a user unit and a maintenance company.
func (f *fixture) city(tb testing.TB) (user, maint *liftrescue.Organization) {
	tb.Helper()
	f.district(tb, "370402", "市中区")
	f.district(tb, "370403", "薛城区")
	return f.org(tb, "91370400USER000001", liftrescue.OrgUserUnit, "370402"), f.org(tb, "91370400MAINT00001", liftrescue.OrgMaintenance, "370402")
}

func (f *fixture) elevator(rescue, equipment string, lon, lat float64, user, maint *liftrescue.Organization) *liftrescue.Elevator {
	maintained := f.clock.T.Add(-72 * time.Hour)
	return &liftrescue.Elevator{
		RescueCode: rescue, EquipmentCode: equipment, Address: "市中区光明路128号阳光花园", Building: "3号楼2单元",
		District: "370402", Lat: lat, Lon: lon, Kind: liftrescue.KindTraction, Floors: 18,
		Manufacturer: "日立电梯(中国)有限公司", Model: "MCA", InstalledOn: liftrescue.Date{Year: 2015, Month: 6, Day: 30},
		UserUnitID: user.ID, MaintenanceUnitID: maint.ID, LastMaintainedAt: &maintained,
		InspectionValidUntil: liftrescue.Date{Year: 2027, Month: 5, Day: 31}, Status: liftrescue.InService,
	}
}

func testDistricts(t *testing.T, f *fixture) {
	f.district(t, "370403", "薛城区")
	d := f.district(t, "370402", "市中区")
	d.Name, d.Rural = "市中区(新)", true
	MustOK(t, f.s.UpsertDistrict(f.ctx, d))
	got, err := f.s.FindDistrict(f.ctx, "370402")
	MustOK(t, err)
	if got.Name != "市中区(新)" || !got.Rural || len(got.Outline) != 1 || len(got.Outline[0][0]) != 5 {
		t.Fatalf("FindDistrict = %+v", got)
	}
	list, err := f.s.ListDistricts(f.ctx)
	MustOK(t, err)
	if len(list) != 2 || list[0].Code != "370402" || list[1].Code != "370403" {
		t.Fatalf("ListDistricts = %v, want 370402 then 370403", list)
	}
	_, err = f.s.FindDistrict(f.ctx, "999999")
	MustCode(t, err, liftrescue.ENOTFOUND)
	MustCode(t, f.s.UpsertDistrict(f.ctx, &liftrescue.District{Code: "12", Name: "x"}), liftrescue.EINVALID)
}

func testOrganizations(t *testing.T, f *fixture) {
	user, maint := f.city(t)
	if user.ID == 0 || !user.CreatedAt.Equal(f.clock.T.Truncate(time.Microsecond)) {
		t.Fatalf("created org: id %d, created_at %v; want an id and the clock's time to the microsecond", user.ID, user.CreatedAt)
	}
	got, err := f.s.FindOrganization(f.ctx, user.ID)
	MustOK(t, err)
	if got.Code != user.Code || got.Kind != liftrescue.OrgUserUnit || *got.Lat != 34.86 || len(got.Contacts) != 1 || got.Contacts[0].Name != "张三" {
		t.Fatalf("FindOrganization = %+v", got)
	}
	byCode, err := f.s.FindOrganizationByCode(f.ctx, maint.Code)
	MustOK(t, err)
	if byCode.ID != maint.ID {
		t.Fatalf("FindOrganizationByCode id = %d, want %d", byCode.ID, maint.ID)
	}
	_, err = f.s.FindOrganization(f.ctx, 99999)
	MustCode(t, err, liftrescue.ENOTFOUND)
	_, err = f.s.FindOrganizationByCode(f.ctx, "nope")
	MustCode(t, err, liftrescue.ENOTFOUND)

	// A taken code, an unknown district, a bad kind.
	dup := *user
	dup.ID = 0
	MustCode(t, f.s.CreateOrganization(f.ctx, &dup), liftrescue.ECONFLICT)
	unknown := liftrescue.Organization{Code: "X1", Kind: liftrescue.OrgFire, Name: "消防站", District: "370499"}
	MustCode(t, f.s.CreateOrganization(f.ctx, &unknown), liftrescue.EINVALID)
	MustCode(t, f.s.CreateOrganization(f.ctx, &liftrescue.Organization{Code: "X2", Kind: "police", Name: "x", District: "370402"}), liftrescue.EINVALID)

	// Update keeps created_at and moves updated_at.
	f.clock.T = f.clock.T.Add(time.Hour)
	got.Name, got.Lat, got.Lon = "新名称", nil, nil
	MustOK(t, f.s.UpdateOrganization(f.ctx, got))
	again, err := f.s.FindOrganization(f.ctx, got.ID)
	MustOK(t, err)
	if again.Name != "新名称" || again.Lat != nil || !again.CreatedAt.Equal(user.CreatedAt) || !again.UpdatedAt.After(user.UpdatedAt) {
		t.Fatalf("after update = %+v", again)
	}
	got.Code = maint.Code
	MustCode(t, f.s.UpdateOrganization(f.ctx, got), liftrescue.ECONFLICT)
	MustCode(t, f.s.UpdateOrganization(f.ctx, &liftrescue.Organization{ID: 4242, Code: "Y", Kind: liftrescue.OrgFire, Name: "y", District: "370402"}), liftrescue.ENOTFOUND)

	// Lists: filters and cursors.
	for i := range 5 {
		f.org(t, "FIRE"+string(rune('A'+i)), liftrescue.OrgFire, "370403")
	}
	page, err := f.s.ListOrganizations(f.ctx, liftrescue.OrganizationFilter{Kind: liftrescue.OrgFire, Paging: liftrescue.Paging{Limit: 2}})
	MustOK(t, err)
	if page.Total != 5 || len(page.Items) != 2 || page.NextCursor == "" {
		t.Fatalf("first page: total %d, %d items, cursor %q", page.Total, len(page.Items), page.NextCursor)
	}
	var codes []string
	for cursor := ""; ; {
		p, err := f.s.ListOrganizations(f.ctx, liftrescue.OrganizationFilter{District: "370403", Paging: liftrescue.Paging{Limit: 2, Cursor: cursor}})
		MustOK(t, err)
		for _, o := range p.Items {
			codes = append(codes, o.Code)
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(codes) != 5 || codes[0] != "FIREA" || codes[4] != "FIREE" {
		t.Fatalf("paged through %v, want FIREA..FIREE in order", codes)
	}
	q, err := f.s.ListOrganizations(f.ctx, liftrescue.OrganizationFilter{Q: "新名"})
	MustOK(t, err)
	if q.Total != 1 || q.Items[0].ID != user.ID {
		t.Fatalf("q=新名 found %d", q.Total)
	}
	_, err = f.s.ListOrganizations(f.ctx, liftrescue.OrganizationFilter{Paging: liftrescue.Paging{Cursor: "garbage!"}})
	MustCode(t, err, liftrescue.EINVALID)
	_, err = f.s.ListOrganizations(f.ctx, liftrescue.OrganizationFilter{Paging: liftrescue.Paging{Limit: liftrescue.MaxLimit + 1}})
	MustCode(t, err, liftrescue.EINVALID)
}

func testOrganizationReferences(t *testing.T, f *fixture) {
	user, maint := f.city(t)
	e := f.elevator("123456", "31103704022015000001", 117.55, 34.86, user, maint)
	MustOK(t, f.s.CreateElevator(f.ctx, e))
	// Referred to: no delete, no change of kind; other changes are fine.
	MustCode(t, f.s.DeleteOrganization(f.ctx, maint.ID), liftrescue.ECONFLICT)
	changed := *maint
	changed.Kind = liftrescue.OrgVolunteer
	MustCode(t, f.s.UpdateOrganization(f.ctx, &changed), liftrescue.ECONFLICT)
	changed.Kind, changed.Name = liftrescue.OrgMaintenance, "改名维保公司"
	MustOK(t, f.s.UpdateOrganization(f.ctx, &changed))
	// Free again once the elevator is gone.
	MustOK(t, f.s.DeleteElevator(f.ctx, e.ID))
	MustOK(t, f.s.DeleteOrganization(f.ctx, maint.ID))
	MustCode(t, f.s.DeleteOrganization(f.ctx, maint.ID), liftrescue.ENOTFOUND)
}

func testElevators(t *testing.T, f *fixture) {
	user, maint := f.city(t)
	e := f.elevator("123456", "31103704022015000001", 117.55, 34.86, user, maint)
	MustOK(t, f.s.CreateElevator(f.ctx, e))
	if e.ID == 0 {
		t.Fatal("CreateElevator set no id")
	}
	for _, code := range []string{"123456", "31103704022015000001"} {
		got, err := f.s.FindElevatorByCode(f.ctx, code)
		MustOK(t, err)
		want := *e
		if got.ID != want.ID || got.RescueCode != want.RescueCode || got.Lat != want.Lat || got.Lon != want.Lon ||
			got.InstalledOn != want.InstalledOn || got.InspectionValidUntil != want.InspectionValidUntil ||
			!got.LastMaintainedAt.Equal(want.LastMaintainedAt.Truncate(time.Microsecond)) || got.Building != want.Building ||
			got.UserUnitID != user.ID || got.MaintenanceUnitID != maint.ID || got.Status != liftrescue.InService {
			t.Fatalf("FindElevatorByCode(%s) = %+v\nwant %+v", code, got, want)
		}
	}
	_, err := f.s.FindElevatorByCode(f.ctx, "654321")
	MustCode(t, err, liftrescue.ENOTFOUND)
	_, err = f.s.FindElevator(f.ctx, e.ID+100)
	MustCode(t, err, liftrescue.ENOTFOUND)

	// Update: a new rescue code, no installation date, out of service.
	f.clock.T = f.clock.T.Add(time.Minute)
	e.RescueCode, e.InstalledOn, e.Status, e.LastMaintainedAt = "777777", liftrescue.Date{}, liftrescue.OutOfService, nil
	MustOK(t, f.s.UpdateElevator(f.ctx, e))
	got, err := f.s.FindElevator(f.ctx, e.ID)
	MustOK(t, err)
	if got.RescueCode != "777777" || !got.InstalledOn.IsZero() || got.LastMaintainedAt != nil || got.Status != liftrescue.OutOfService || !got.UpdatedAt.After(got.CreatedAt) {
		t.Fatalf("after update = %+v", got)
	}
	_, err = f.s.FindElevatorByCode(f.ctx, "123456")
	MustCode(t, err, liftrescue.ENOTFOUND)
	missing := *e
	missing.ID = 999999
	MustCode(t, f.s.UpdateElevator(f.ctx, &missing), liftrescue.ENOTFOUND)

	MustOK(t, f.s.DeleteElevator(f.ctx, e.ID))
	MustCode(t, f.s.DeleteElevator(f.ctx, e.ID), liftrescue.ENOTFOUND)
}

func testElevatorConflicts(t *testing.T, f *fixture) {
	user, maint := f.city(t)
	first := f.elevator("123456", "31103704022015000001", 117.55, 34.86, user, maint)
	MustOK(t, f.s.CreateElevator(f.ctx, first))
	second := f.elevator("123457", "31103704022015000002", 117.55, 34.86, user, maint)
	MustOK(t, f.s.CreateElevator(f.ctx, second))

	for _, tt := range []struct {
		name  string
		edit  func(e *liftrescue.Elevator)
		code  string
		field string
	}{
		{"rescue code taken", func(e *liftrescue.Elevator) { e.RescueCode = "123456" }, liftrescue.ECONFLICT, "rescue_code"},
		{"equipment code taken", func(e *liftrescue.Elevator) { e.EquipmentCode = "31103704022015000001" }, liftrescue.ECONFLICT, "equipment_code"},
		{"missing user unit", func(e *liftrescue.Elevator) { e.UserUnitID = 424242 }, liftrescue.EINVALID, "user_unit_id"},
		{"user unit of the wrong kind", func(e *liftrescue.Elevator) { e.UserUnitID = maint.ID }, liftrescue.EINVALID, "user_unit_id"},
		{"maintenance unit of the wrong kind", func(e *liftrescue.Elevator) { e.MaintenanceUnitID = user.ID }, liftrescue.EINVALID, "maintenance_unit_id"},
		{"unknown district", func(e *liftrescue.Elevator) { e.District = "370499" }, liftrescue.EINVALID, "district"},
		{"null island", func(e *liftrescue.Elevator) { e.Lat, e.Lon = 0, 0 }, liftrescue.EINVALID, "lat"},
		{"latitude out of range", func(e *liftrescue.Elevator) { e.Lat = 91 }, liftrescue.EINVALID, "lat"},
		{"short equipment code", func(e *liftrescue.Elevator) { e.EquipmentCode = "3110" }, liftrescue.EINVALID, "equipment_code"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, write := range []string{"create", "update"} {
				e := *second
				if write == "create" {
					e = *f.elevator("999001", "31103704022015009999", 117.55, 34.86, user, maint)
				}
				tt.edit(&e)
				var err error
				if write == "create" {
					err = f.s.CreateElevator(f.ctx, &e)
				} else {
					err = f.s.UpdateElevator(f.ctx, &e)
				}
				MustCode(t, err, tt.code)
				if d := liftrescue.ErrorDetails(err); len(d) == 0 || d[0].Field != tt.field {
					t.Fatalf("%s: details = %+v, want field %s", write, d, tt.field)
				}
			}
			// Nothing was written: the second elevator is as it was, and no third one exists.
			got, err := f.s.FindElevator(f.ctx, second.ID)
			MustOK(t, err)
			if got.RescueCode != second.RescueCode || got.EquipmentCode != second.EquipmentCode || got.UserUnitID != user.ID {
				t.Fatalf("a refused update changed the elevator: %+v", got)
			}
			page, err := f.s.ListElevators(f.ctx, liftrescue.ElevatorFilter{})
			MustOK(t, err)
			if page.Total != 2 {
				t.Fatalf("a refused create wrote: total %d", page.Total)
			}
		})
	}
	err := f.s.CreateElevator(f.ctx, f.elevator("123456", "31103704022015000003", 117.55, 34.86, user, maint))
	if want := fmt.Sprintf("rescue code 123456 is already used by elevator %d", first.ID); liftrescue.ErrorMessage(err) != want {
		t.Fatalf("conflict message = %q, want %q", liftrescue.ErrorMessage(err), want)
	}
}

func testElevatorList(t *testing.T, f *fixture) {
	user, maint := f.city(t)
	// A 10 x 10 lattice of elevators 0.01 degree apart, the first row in Xuecheng.
	n := 0
	for i := range 10 {
		for j := range 10 {
			n++
			e := f.elevator(
				"5"+pad(n, 5), "311037040220150"+pad(n, 5),
				117.50+float64(i)*0.01, 34.80+float64(j)*0.01, user, maint)
			if j == 0 {
				e.District = "370403"
				e.Address = "薛城区泰山路" + pad(n, 3) + "号"
			}
			MustOK(t, f.s.CreateElevator(f.ctx, e))
		}
	}
	count := func(filter liftrescue.ElevatorFilter) (int, []*liftrescue.Elevator) {
		t.Helper()
		p, err := f.s.ListElevators(f.ctx, filter)
		MustOK(t, err)
		return p.Total, p.Items
	}
	// The bbox holds columns i=2..4 and rows j=3..5 exactly, edges included.
	bbox := &liftrescue.BBox{MinLon: 117.52, MinLat: 34.83, MaxLon: 117.54, MaxLat: 34.85}
	if total, items := count(liftrescue.ElevatorFilter{BBox: bbox}); total != 9 || len(items) != 9 {
		t.Fatalf("bbox total %d items %d, want 9", total, len(items))
	}
	if total, _ := count(liftrescue.ElevatorFilter{District: "370403"}); total != 10 {
		t.Fatalf("district total %d, want 10", total)
	}
	if total, _ := count(liftrescue.ElevatorFilter{Q: "泰山路"}); total != 10 {
		t.Fatalf("q address total %d, want 10", total)
	}
	if total, items := count(liftrescue.ElevatorFilter{Q: "500042"}); total != 1 || items[0].RescueCode != "500042" {
		t.Fatalf("q rescue code total %d", total)
	}
	if total, _ := count(liftrescue.ElevatorFilter{Q: "50000"}); total != 9 {
		t.Fatalf("q prefix 50000 total %d, want 9 (500001..500009)", total)
	}
	if total, _ := count(liftrescue.ElevatorFilter{Q: "%"}); total != 0 {
		t.Fatalf("q %% matched %d, want 0: wildcards must be literal", total)
	}
	// Digits match a prefix of either code and nothing else, not even digits in the address.
	for _, tt := range []struct {
		q    string
		want int
	}{
		{"5", 100},                   // every rescue code
		{"50009", 10},                // 500090..500099: a prefix that ends in 9
		{"500099", 1},                // a whole rescue code that ends in 9
		{"5001", 1},                  // 500100
		{"3110370402201500004", 10},  // equipment codes ...00040..00049
		{"311037040220150000", 99},   // ...00001..00099
		{"31103704022015000100", 1},  // a whole equipment code
		{"311037040220150001000", 0}, // longer than any code
		{"128", 0},                   // in every address (光明路128号), but no code starts with it
		{"99999999", 0},              // beyond every code
		{"光明路128", 90},               // text matches the address...
		{"3号楼2", 100},                // ...or the building
		{"泰山路001号", 1},               // 薛城区泰山路001号
		{"5000 ", 0},                 // a space makes it text, and no address has it
		{"31103704022015000001x", 0}, // so does a letter
		{"号楼_", 0},                   // _ is literal
		{`\`, 0},                     // so is the escape character
	} {
		if total, items := count(liftrescue.ElevatorFilter{Q: tt.q, Paging: liftrescue.Paging{Limit: liftrescue.MaxLimit}}); total != tt.want || len(items) != tt.want {
			t.Errorf("q %q: total %d, %d items; want %d", tt.q, total, len(items), tt.want)
		}
	}
	if total, _ := count(liftrescue.ElevatorFilter{MaintenanceUnitID: maint.ID, District: "370402"}); total != 90 {
		t.Fatalf("maintenance+district total %d, want 90", total)
	}
	// Paging by cursor visits each elevator once, in id order.
	seen := map[int64]bool{}
	var last int64
	for cursor := ""; ; {
		p, err := f.s.ListElevators(f.ctx, liftrescue.ElevatorFilter{Paging: liftrescue.Paging{Limit: 7, Cursor: cursor}})
		MustOK(t, err)
		if p.Total != 100 {
			t.Fatalf("total %d on every page, want 100", p.Total)
		}
		for _, e := range p.Items {
			if seen[e.ID] || e.ID <= last {
				t.Fatalf("elevator %d out of order or repeated", e.ID)
			}
			seen[e.ID], last = true, e.ID
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 100 {
		t.Fatalf("paged through %d elevators, want 100", len(seen))
	}
}

func pad(n, width int) string {
	s := ""
	for ; width > 0; width-- {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

func testTeamsAndVehicles(t *testing.T, f *fixture) {
	f.district(t, "370402", "市中区")
	vol := f.org(t, "91370400VOL0000001", liftrescue.OrgVolunteer, "370402")
	team := &liftrescue.Team{OrganizationID: vol.ID, Name: "一队", DutyPhone: "13900000000", CertifiedStaff: 4, OnDuty: true}
	MustOK(t, f.s.CreateTeam(f.ctx, team))
	MustCode(t, f.s.CreateTeam(f.ctx, &liftrescue.Team{OrganizationID: 4242, Name: "x"}), liftrescue.EINVALID)

	van := &liftrescue.Vehicle{TeamID: team.ID, Plate: "鲁D12345", DeviceID: "013912345678", OnDuty: true}
	MustOK(t, f.s.CreateVehicle(f.ctx, van))
	if van.ID == 0 || van.OrganizationID != vol.ID {
		t.Fatalf("created vehicle %+v, want an id and organization %d", van, vol.ID)
	}
	spare := &liftrescue.Vehicle{TeamID: team.ID, Plate: "鲁D54321"}
	MustOK(t, f.s.CreateVehicle(f.ctx, spare))
	MustCode(t, f.s.CreateVehicle(f.ctx, &liftrescue.Vehicle{TeamID: team.ID, Plate: "鲁D12345"}), liftrescue.ECONFLICT)
	MustCode(t, f.s.CreateVehicle(f.ctx, &liftrescue.Vehicle{TeamID: team.ID, Plate: "鲁D00000", DeviceID: "013912345678"}), liftrescue.ECONFLICT)
	MustCode(t, f.s.CreateVehicle(f.ctx, &liftrescue.Vehicle{TeamID: 4242, Plate: "鲁D00001"}), liftrescue.EINVALID)

	spare.DeviceID, spare.OnDuty = "013900000001", true
	MustOK(t, f.s.UpdateVehicle(f.ctx, spare))
	got, err := f.s.FindVehicle(f.ctx, spare.ID)
	MustOK(t, err)
	if got.DeviceID != "013900000001" || !got.OnDuty || got.OrganizationID != vol.ID {
		t.Fatalf("FindVehicle = %+v", got)
	}
	vans, err := f.s.ListVehicles(f.ctx, liftrescue.VehicleFilter{OrganizationID: vol.ID, Paging: liftrescue.Paging{Limit: 1}})
	MustOK(t, err)
	if vans.Total != 2 || len(vans.Items) != 1 || vans.NextCursor == "" {
		t.Fatalf("ListVehicles total %d items %d", vans.Total, len(vans.Items))
	}
	teams, err := f.s.ListTeams(f.ctx, liftrescue.TeamFilter{OrganizationID: vol.ID})
	MustOK(t, err)
	if teams.Total != 1 || teams.Items[0].CertifiedStaff != 4 || !teams.Items[0].OnDuty {
		t.Fatalf("ListTeams = %+v", teams.Items)
	}

	MustCode(t, f.s.DeleteTeam(f.ctx, team.ID), liftrescue.ECONFLICT)
	MustCode(t, f.s.DeleteOrganization(f.ctx, vol.ID), liftrescue.ECONFLICT)
	MustOK(t, f.s.DeleteVehicle(f.ctx, van.ID))
	MustOK(t, f.s.DeleteVehicle(f.ctx, spare.ID))
	_, err = f.s.FindVehicle(f.ctx, van.ID)
	MustCode(t, err, liftrescue.ENOTFOUND)
	MustOK(t, f.s.DeleteTeam(f.ctx, team.ID))
	MustCode(t, f.s.DeleteTeam(f.ctx, team.ID), liftrescue.ENOTFOUND)
}

// A unit's elevators are listed in id order across pages, whatever else the unit holds.
func testElevatorListByUnit(t *testing.T, f *fixture) {
	user, maint := f.city(t)
	other := f.org(t, "91370400USER000002", liftrescue.OrgUserUnit, "370402")
	otherMaint := f.org(t, "91370400MAINT00002", liftrescue.OrgMaintenance, "370402")
	var mine []int64
	for n := 1; n <= 30; n++ {
		u, m := other, otherMaint
		if n%3 == 0 {
			u, m = user, maint
		}
		e := f.elevator("6"+pad(n, 5), "311037040220160"+pad(n, 5), 117.55, 34.86, u, m)
		MustOK(t, f.s.CreateElevator(f.ctx, e))
		if u == user {
			mine = append(mine, e.ID)
		}
	}
	for _, filter := range []liftrescue.ElevatorFilter{{UserUnitID: user.ID}, {MaintenanceUnitID: maint.ID}} {
		var got []int64
		for cursor := ""; ; {
			filter.Paging = liftrescue.Paging{Limit: 4, Cursor: cursor}
			p, err := f.s.ListElevators(f.ctx, filter)
			MustOK(t, err)
			if p.Total != len(mine) {
				t.Fatalf("%+v: total %d, want %d", filter, p.Total, len(mine))
			}
			for _, e := range p.Items {
				got = append(got, e.ID)
			}
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(mine) {
			t.Fatalf("%+v: paged through %v, want %v", filter, got, mine)
		}
	}
}

// The id of a deleted record is never given to a new one: incidents refer to records by id.
func testIDsNeverReused(t *testing.T, f *fixture) {
	user, maint := f.city(t)
	e := f.elevator("123456", "31103704022015000001", 117.55, 34.86, user, maint)
	MustOK(t, f.s.CreateElevator(f.ctx, e))
	MustOK(t, f.s.DeleteElevator(f.ctx, e.ID))
	again := f.elevator("123456", "31103704022015000001", 117.55, 34.86, user, maint)
	MustOK(t, f.s.CreateElevator(f.ctx, again))
	if again.ID <= e.ID {
		t.Errorf("elevator created after deleting %d got id %d, want a greater one", e.ID, again.ID)
	}

	vol := f.org(t, "91370400VOL0000001", liftrescue.OrgVolunteer, "370402")
	MustOK(t, f.s.DeleteOrganization(f.ctx, vol.ID))
	vol2 := f.org(t, "91370400VOL0000001", liftrescue.OrgVolunteer, "370402")
	if vol2.ID <= vol.ID {
		t.Errorf("organization created after deleting %d got id %d, want a greater one", vol.ID, vol2.ID)
	}

	team := &liftrescue.Team{OrganizationID: vol2.ID, Name: "一队"}
	MustOK(t, f.s.CreateTeam(f.ctx, team))
	van := &liftrescue.Vehicle{TeamID: team.ID, Plate: "鲁D12345"}
	MustOK(t, f.s.CreateVehicle(f.ctx, van))
	MustOK(t, f.s.DeleteVehicle(f.ctx, van.ID))
	van2 := &liftrescue.Vehicle{TeamID: team.ID, Plate: "鲁D12345"}
	MustOK(t, f.s.CreateVehicle(f.ctx, van2))
	if van2.ID <= van.ID {
		t.Errorf("vehicle created after deleting %d got id %d, want a greater one", van.ID, van2.ID)
	}
	MustOK(t, f.s.DeleteVehicle(f.ctx, van2.ID))
	MustOK(t, f.s.DeleteTeam(f.ctx, team.ID))
	team2 := &liftrescue.Team{OrganizationID: vol2.ID, Name: "一队"}
	MustOK(t, f.s.CreateTeam(f.ctx, team2))
	if team2.ID <= team.ID {
		t.Errorf("team created after deleting %d got id %d, want a greater one", team.ID, team2.ID)
	}
}

// A NUL byte or bytes that are not UTF-8 in what a client searches for find nothing, or are
// refused as invalid; they are never an internal error.
func testBadTextInLookups(t *testing.T, f *fixture) {
	user, maint := f.city(t)
	MustOK(t, f.s.CreateElevator(f.ctx, f.elevator("123456", "31103704022015000001", 117.55, 34.86, user, maint)))
	for _, bad := range []string{"12\x003456", "\xff\xfe", "光明路\x00", "\xe5\x85"} {
		lookups := map[string]error{}
		_, lookups["FindElevatorByCode"] = f.s.FindElevatorByCode(f.ctx, bad)
		_, lookups["FindOrganizationByCode"] = f.s.FindOrganizationByCode(f.ctx, bad)
		_, lookups["FindDistrict"] = f.s.FindDistrict(f.ctx, bad)
		for name, err := range lookups {
			if code := liftrescue.ErrorCode(err); code != liftrescue.ENOTFOUND && code != liftrescue.EINVALID {
				t.Errorf("%s(%q): %v, want not_found or invalid", name, bad, err)
			}
		}
		lists := map[string]error{}
		_, lists["ListElevators q"] = f.s.ListElevators(f.ctx, liftrescue.ElevatorFilter{Q: bad})
		_, lists["ListElevators district"] = f.s.ListElevators(f.ctx, liftrescue.ElevatorFilter{District: bad})
		_, lists["ListOrganizations q"] = f.s.ListOrganizations(f.ctx, liftrescue.OrganizationFilter{Q: bad})
		_, lists["ListOrganizations district"] = f.s.ListOrganizations(f.ctx, liftrescue.OrganizationFilter{District: bad})
		for name, err := range lists {
			if code := liftrescue.ErrorCode(err); code != "" && code != liftrescue.EINVALID {
				t.Errorf("%s %q: %v, want nothing found or invalid", name, bad, err)
			}
		}
	}
}
