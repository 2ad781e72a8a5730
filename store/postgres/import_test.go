package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/postgres/pgtest"
)

// Another session that takes a rescue code between the checks of an import and its write makes
// the import fail whole, with an ECONFLICT that names the row and the code.
func TestImportLosesRescueCodeToAnotherSession(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.MustDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.UpsertDistrict(ctx, &liftrescue.District{Code: "370402", Name: "市中区"}); err != nil {
		t.Fatal(err)
	}
	user := &liftrescue.Organization{Code: "U1", Kind: liftrescue.OrgUserUnit, Name: "阳光物业", District: "370402"}
	maint := &liftrescue.Organization{Code: "M1", Kind: liftrescue.OrgMaintenance, Name: "迅达维保", District: "370402"}
	for _, o := range []*liftrescue.Organization{user, maint} {
		if err := db.CreateOrganization(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	elevator := func(n int) liftrescue.Elevator {
		return liftrescue.Elevator{RescueCode: fmt.Sprintf("%06d", 100000+n), EquipmentCode: fmt.Sprintf("311037040220150%05d", n),
			Address: "光明路1号", District: "370402", Lat: 34.86, Lon: 117.55, Kind: liftrescue.KindTraction}
	}
	rows := make([]liftrescue.ElevatorRow, 20)
	for i := range rows {
		rows[i] = liftrescue.ElevatorRow{Line: i + 2, Elevator: elevator(i), UserUnitCode: "U1", MaintenanceUnitCode: "M1"}
	}
	const conflictAt = 12
	var rival liftrescue.Elevator
	db.beforeImportWrite = func() {
		rival = elevator(conflictAt)
		rival.EquipmentCode = "31103704022015099999"
		rival.UserUnitID, rival.MaintenanceUnitID = user.ID, maint.ID
		if err := db.CreateElevator(ctx, &rival); err != nil {
			t.Error(err)
		}
	}
	_, err = db.ImportElevators(ctx, rows, liftrescue.ImportOptions{})
	if liftrescue.ErrorCode(err) != liftrescue.ECONFLICT {
		t.Fatalf("import = %v, want a conflict", err)
	}
	code := rows[conflictAt].Elevator.RescueCode
	if msg := liftrescue.ErrorMessage(err); !strings.Contains(msg, code) || !strings.Contains(msg, fmt.Sprintf("line %d", conflictAt+2)) {
		t.Errorf("message %q does not name the rescue code %s and line %d", msg, code, conflictAt+2)
	}
	want := liftrescue.RescueCodeHeld(conflictAt+2, code, rival.ID, rival.EquipmentCode)
	if d := liftrescue.ErrorDetails(err); len(d) != 1 || d[0] != want {
		t.Errorf("details = %+v, want %+v", d, want)
	}
	page, err := db.ListElevators(ctx, liftrescue.ElevatorFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 1 {
		t.Errorf("%d elevators after the failed import, want only the rival", page.Total)
	}
}
