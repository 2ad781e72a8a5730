package liftrescue_test

import (
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// BenchmarkElevatorsJSON encodes a page of 1,000 elevators, as a map view's bbox list does.
func BenchmarkElevatorsJSON(b *testing.B) {
	page := benchPage()
	for b.Loop() {
		if err := json.NewEncoder(io.Discard).Encode(page); err != nil {
			b.Fatal(err)
		}
	}
}

func benchPage() liftrescue.Page[*liftrescue.Elevator] {
	maintained := time.Date(2026, 11, 1, 2, 3, 4, 5000, time.UTC)
	page := liftrescue.Page[*liftrescue.Elevator]{Total: 1000}
	for i := range 1000 {
		page.Items = append(page.Items, &liftrescue.Elevator{ID: int64(i), RescueCode: "123456", EquipmentCode: "31103704022015000001",
			Address: "市中区光明路128号阳光花园", Building: "3号楼2单元", District: "370402", Lat: 34.861234, Lon: 117.551234,
			Kind: liftrescue.KindTraction, Floors: 18, Manufacturer: "日立电梯(中国)有限公司", Model: "MCA",
			InstalledOn: liftrescue.Date{Year: 2015, Month: 6, Day: 30}, UserUnitID: 1, MaintenanceUnitID: 2,
			LastMaintainedAt: &maintained, InspectionValidUntil: liftrescue.Date{Year: 2027, Month: 5, Day: 31},
			Status: liftrescue.InService, CreatedAt: maintained, UpdatedAt: maintained})
	}
	return page
}

// BenchmarkElevatorsAppendJSON encodes the same page as the API writes it, element by element.
func BenchmarkElevatorsAppendJSON(b *testing.B) {
	page := benchPage()
	for b.Loop() {
		buf := make([]byte, 0, 512*1024)
		for _, e := range page.Items {
			buf = e.AppendJSON(buf)
		}
	}
}
