package liftrescue_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

func TestCheckLonLat(t *testing.T) {
	tests := []struct {
		lon, lat float64
		ok       bool
	}{
		{117.55, 34.86, true},
		{-180, -90, true},
		{180, 90, true},
		{0, 0, false},
		{0, 51.48, true}, // Greenwich is a real place
		{117.55, 90.0001, false},
		{-180.0001, 34, false},
		{math.NaN(), 34, false},
		{117, math.Inf(1), false},
	}
	for _, tt := range tests {
		if got := liftrescue.CheckLonLat(tt.lon, tt.lat) == ""; got != tt.ok {
			t.Errorf("CheckLonLat(%v, %v) ok = %v, want %v", tt.lon, tt.lat, got, tt.ok)
		}
	}
}

func TestElevatorValidate(t *testing.T) {
	valid := func() liftrescue.Elevator {
		return liftrescue.Elevator{RescueCode: " 123456 ", EquipmentCode: "31103704022015000001", Address: "市中区光明路128号",
			District: "370402", Lat: 34.86, Lon: 117.55, Kind: liftrescue.KindTraction, UserUnitID: 1, MaintenanceUnitID: 2}
	}
	e := valid()
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	if e.RescueCode != "123456" || e.Status != liftrescue.InService {
		t.Fatalf("Validate did not normalise: %q %q", e.RescueCode, e.Status)
	}
	tests := []struct {
		name  string
		edit  func(*liftrescue.Elevator)
		field string
	}{
		{"short rescue code", func(e *liftrescue.Elevator) { e.RescueCode = "123" }, "rescue_code"},
		{"letters in rescue code", func(e *liftrescue.Elevator) { e.RescueCode = "12a456" }, "rescue_code"},
		{"19-digit equipment code", func(e *liftrescue.Elevator) { e.EquipmentCode = "3110370402201500000" }, "equipment_code"},
		{"no address", func(e *liftrescue.Elevator) { e.Address = "  " }, "address"},
		{"control characters", func(e *liftrescue.Elevator) { e.Building = "1号楼\x00" }, "building"},
		{"bad district", func(e *liftrescue.Elevator) { e.District = "3704" }, "district"},
		{"bad kind", func(e *liftrescue.Elevator) { e.Kind = "rocket" }, "kind"},
		{"negative floors", func(e *liftrescue.Elevator) { e.Floors = -1 }, "floors"},
		{"no user unit", func(e *liftrescue.Elevator) { e.UserUnitID = 0 }, "user_unit_id"},
		{"bad status", func(e *liftrescue.Elevator) { e.Status = "broken" }, "status"},
		{"longitude out of range", func(e *liftrescue.Elevator) { e.Lon = 181 }, "lon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := valid()
			tt.edit(&e)
			err := e.Validate()
			if liftrescue.ErrorCode(err) != liftrescue.EINVALID {
				t.Fatalf("err = %v, want invalid", err)
			}
			if d := liftrescue.ErrorDetails(err); d[0].Field != tt.field {
				t.Fatalf("first detail %+v, want field %s", d[0], tt.field)
			}
		})
	}
}

func TestDateJSON(t *testing.T) {
	var d liftrescue.Date
	for _, tt := range []struct {
		in      string
		want    string
		wantErr bool
	}{
		{`"2021-06-30"`, "2021-06-30", false},
		{`null`, "", false},
		{`""`, "", false},
		{`"2021-02-30"`, "", true},
		{`20210630`, "", true},
	} {
		d = liftrescue.Date{}
		err := d.UnmarshalJSON([]byte(tt.in))
		if (err != nil) != tt.wantErr || d.String() != tt.want {
			t.Errorf("UnmarshalJSON(%s) = %q, %v", tt.in, d, err)
		}
	}
}

func TestCheckFix(t *testing.T) {
	now := time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)
	good := func() liftrescue.Fix {
		return liftrescue.Fix{DeviceID: "013912345678", Time: now.Add(-time.Second), Lat: 34.86, Lon: 117.55, SpeedKmh: 40, Heading: 90,
			AccuracyM: liftrescue.Unknown, AltitudeM: liftrescue.Unknown, Battery: liftrescue.Unknown}
	}
	f := good()
	if r := liftrescue.CheckFix(&f, now); r != "" {
		t.Fatalf("good fix refused: %s", r)
	}
	for name, edit := range map[string]func(*liftrescue.Fix){
		"0/0":         func(f *liftrescue.Fix) { f.Lat, f.Lon = 0, 0 },
		"NaN":         func(f *liftrescue.Fix) { f.Lat = math.NaN() },
		"no device":   func(f *liftrescue.Fix) { f.DeviceID = "" },
		"before 2000": func(f *liftrescue.Fix) { f.Time = time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC) },
		"future":      func(f *liftrescue.Fix) { f.Time = now.Add(10 * time.Minute) },
		"speed":       func(f *liftrescue.Fix) { f.SpeedKmh = -1 },
		"heading":     func(f *liftrescue.Fix) { f.Heading = 361 },
		"battery":     func(f *liftrescue.Fix) { f.Battery = 1.5 },
	} {
		f := good()
		edit(&f)
		if liftrescue.CheckFix(&f, now) == "" {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Unknown measures travel as null, since JSON has no NaN; a Position keeps its vehicle and times.
func TestFixJSON(t *testing.T) {
	when := time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)
	p := liftrescue.Position{VehicleID: 7, ReceivedAt: when.Add(time.Second), Fix: liftrescue.Fix{DeviceID: "13912345678", Time: when,
		Lat: 34.86, Lon: 117.55, SpeedKmh: 36.5, Heading: liftrescue.Unknown, AccuracyM: liftrescue.Unknown,
		AltitudeM: liftrescue.Unknown, Battery: 0.5}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"heading":null`, `"speed_kmh":36.5`, `"vehicle_id":7`, `"received_at":"2026-11-21T03:00:01Z"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	var back liftrescue.Position
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.VehicleID != 7 || !math.IsNaN(back.Heading) || back.SpeedKmh != 36.5 || !back.ReceivedAt.Equal(p.ReceivedAt) || !back.Time.Equal(when) {
		t.Fatalf("round trip = %+v", back)
	}
}
