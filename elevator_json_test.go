package liftrescue_test

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// plainElevator has Elevator's fields and tags but not its MarshalJSON: the reference encoding.
type plainElevator liftrescue.Elevator

func TestElevatorJSONMatchesReflection(t *testing.T) {
	maintained := time.Date(2026, 11, 1, 2, 3, 4, 5000, time.UTC)
	base := liftrescue.Elevator{ID: 42, RescueCode: "123456", EquipmentCode: "31103704022015000001",
		Address: "市中区光明路128号阳光花园", Building: "3号楼2单元", District: "370402", Lat: 34.861234, Lon: 117.551234,
		Kind: liftrescue.KindTraction, Floors: 18, Manufacturer: "日立电梯(中国)有限公司", Model: "MCA",
		InstalledOn: liftrescue.Date{Year: 2015, Month: 6, Day: 30}, UserUnitID: 1, MaintenanceUnitID: 2,
		LastMaintainedAt: &maintained, InspectionValidUntil: liftrescue.Date{Year: 2027, Month: 5, Day: 31},
		Status: liftrescue.InService, CreatedAt: maintained, UpdatedAt: maintained.Add(time.Second)}
	cases := []func(e *liftrescue.Elevator){
		func(e *liftrescue.Elevator) {},
		func(e *liftrescue.Elevator) {
			e.LastMaintainedAt, e.InstalledOn, e.InspectionValidUntil = nil, liftrescue.Date{}, liftrescue.Date{}
		},
		func(e *liftrescue.Elevator) { e.Address = "<script>\"&'\\\n\r\t\x00\x1f\u2028\u2029 é 😀 \xff\xfe" },
		func(e *liftrescue.Elevator) { e.Lat, e.Lon = -0.0000001234, 1e21 },
		func(e *liftrescue.Elevator) { e.Lat, e.Lon = math.SmallestNonzeroFloat64, -1e-7 },
		func(e *liftrescue.Elevator) { e.Lat, e.Lon = 90, -180 },
		func(e *liftrescue.Elevator) {
			e.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CST", 8*3600))
		},
		func(e *liftrescue.Elevator) { e.ID, e.Floors = -1, 0 },
	}
	for _, edit := range cases {
		e := base
		edit(&e)
		mustMatchReflection(t, &e)
	}
}

// mustMatchReflection fails the test unless e's own encoder writes what encoding/json writes.
func mustMatchReflection(t *testing.T, e *liftrescue.Elevator) {
	t.Helper()
	want, err := json.Marshal(plainElevator(*e))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.AppendJSON(nil); !bytes.Equal(got, want) {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

func FuzzElevatorJSONMatchesReflection(f *testing.F) {
	f.Add("市中区光明路128号", "3号楼", 34.86, 117.55)
	f.Add("<>&\u2028\x00\xff", "\"\\", -1e-9, 1e300)
	f.Fuzz(func(t *testing.T, address, building string, lat, lon float64) {
		if math.IsNaN(lat) || math.IsInf(lat, 0) || math.IsNaN(lon) || math.IsInf(lon, 0) {
			return
		}
		mustMatchReflection(t, &liftrescue.Elevator{Address: address, Building: building, Lat: lat, Lon: lon})
	})
}
