package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// The helpers below serve the stores' own tests and benchmarks, which reach past the Store
// interface (a hook inside an import, a second connection) but start from the same registry.

// MustUnits stores the district 370402 with a user unit U1 and a maintenance company M1, the units
// that ElevatorRows names.
func MustUnits(tb testing.TB, s liftrescue.Store) (user, maint *liftrescue.Organization) {
	tb.Helper()
	ctx := context.Background()
	MustOK(tb, s.UpsertDistrict(ctx, &liftrescue.District{Code: "370402", Name: "市中区"}))
	user = &liftrescue.Organization{Code: "U1", Kind: liftrescue.OrgUserUnit, Name: "阳光物业", District: "370402"}
	maint = &liftrescue.Organization{Code: "M1", Kind: liftrescue.OrgMaintenance, Name: "迅达维保", District: "370402"}
	for _, o := range []*liftrescue.Organization{user, maint} {
		MustOK(tb, s.CreateOrganization(ctx, o))
	}
	return user, maint
}

// ElevatorRows makes n good rows of an elevator import, lines 2 to n+1, every column filled, in
// the district and with the units that MustUnits stores.
func ElevatorRows(n int) []liftrescue.ElevatorRow {
	maintained := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	rows := make([]liftrescue.ElevatorRow, n)
	for i := range rows {
		rows[i] = liftrescue.ElevatorRow{
			Line: i + 2,
			Elevator: liftrescue.Elevator{
				RescueCode: fmt.Sprintf("%08d", i+1), EquipmentCode: fmt.Sprintf("3110370402%010d", i+1),
				Address: fmt.Sprintf("市中区光明路%d号", i+1), Building: fmt.Sprintf("%d号楼", i%40+1), District: "370402",
				Lat: 34.80 + float64(i%1000)*0.0001, Lon: 117.50 + float64(i/1000)*0.001, Kind: liftrescue.KindTraction,
				Floors: 6 + i%30, Manufacturer: "日立电梯(中国)有限公司", Model: "MCA",
				InstalledOn: liftrescue.Date{Year: 2010 + i%15, Month: time.Month(1 + i%12), Day: 1 + i%28}, LastMaintainedAt: &maintained,
				InspectionValidUntil: liftrescue.Date{Year: 2027, Month: 5, Day: 31},
			},
			UserUnitCode: "U1", MaintenanceUnitCode: "M1",
		}
	}
	return rows
}

// ImportLosesRescueCode imports n elevators into an empty store s while another writer takes the
// rescue code of row conflictAt between the checks of the import and its write, and checks that
// the import fails whole, with an ECONFLICT that names the row and the code. beforeWrite is the
// store's hook that runs between the two.
func ImportLosesRescueCode(t *testing.T, s liftrescue.Store, beforeWrite *func(), n, conflictAt int) {
	t.Helper()
	ctx := context.Background()
	user, maint := MustUnits(t, s)
	rows := ElevatorRows(n)
	var rival liftrescue.Elevator
	*beforeWrite = func() {
		rival = rows[conflictAt].Elevator
		rival.EquipmentCode = "31103704022015099999"
		rival.UserUnitID, rival.MaintenanceUnitID = user.ID, maint.ID
		if err := s.CreateElevator(ctx, &rival); err != nil {
			t.Error(err)
		}
	}
	_, err := s.ImportElevators(ctx, rows, liftrescue.ImportOptions{})
	if liftrescue.ErrorCode(err) != liftrescue.ECONFLICT {
		t.Fatalf("import = %v, want a conflict", err)
	}
	code, line := rows[conflictAt].Elevator.RescueCode, rows[conflictAt].Line
	if msg := liftrescue.ErrorMessage(err); !strings.Contains(msg, code) || !strings.Contains(msg, fmt.Sprintf("line %d", line)) {
		t.Errorf("message %q does not name the rescue code %s and line %d", msg, code, line)
	}
	want := liftrescue.RescueCodeHeld(line, code, rival.ID, rival.EquipmentCode)
	if d := liftrescue.ErrorDetails(err); len(d) != 1 || d[0] != want {
		t.Errorf("details = %+v, want %+v", d, want)
	}
	page, err := s.ListElevators(ctx, liftrescue.ElevatorFilter{})
	MustOK(t, err)
	if page.Total != 1 {
		t.Errorf("%d elevators after the failed import, want only the rival", page.Total)
	}
}
