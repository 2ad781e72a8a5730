package csvimport_test

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/csvimport"
	"github.com/liftrescue/liftrescue/geo"
)

func TestReadElevatorsGoodFiles(t *testing.T) {
	english := csvFile(t, elevatorHeader, nil, elevatorCells(1), elevatorCells(2))
	chinese := csvFile(t, elevatorHeader, elevatorChineseHeader, elevatorCellsChinese(1), elevatorCellsChinese(2))
	// Columns in another order, headers in other cases and spacing, and aliases of both kinds.
	shuffledHeader := []string{"STATUS", " Lon ", "lat", "kind", "district", "address", "equipment_code",
		"rescue_code", "building", "floors", "Manufacturer", "model", "installed_on", "user_unit_code",
		"maintenance_unit_code", "last_maintained_at", "inspection_valid_until"}
	shuffledCells := func(n int) map[string]string {
		cells := elevatorCells(n)
		for _, h := range shuffledHeader {
			cells[h] = cells[strings.ToLower(strings.TrimSpace(h))]
		}
		return cells
	}
	shuffled := csvFile(t, shuffledHeader, map[string]string{"building": "楼宇", "floors": "层数"}, shuffledCells(1), shuffledCells(2))

	tests := []struct {
		name         string
		file         string
		wantEncoding string
	}{
		{"UTF-8", english, "UTF-8"},
		{"UTF-8 with BOM", "\ufeff" + english, "UTF-8"},
		{"Chinese headers and values", chinese, "UTF-8"},
		{"GB18030 with Chinese headers", gb18030(t, chinese), "GB18030"},
		{"GB18030 with its BOM", "\x84\x31\x95\x33" + gb18030(t, english), "GB18030"},
		{"CRLF line ends", strings.ReplaceAll(english, "\n", "\r\n"), "UTF-8"},
		{"CR line ends of Excel for Mac", strings.ReplaceAll(english, "\n", "\r"), "UTF-8"},
		{"tab-separated", strings.ReplaceAll(english, ",", "\t"), "UTF-8"},
		{"blank rows below the data", english + ",,,,,,,,,,,,,,,,\n\n , ,\n", "UTF-8"},
		{"blank columns after the last", strings.ReplaceAll(english, "\n", ",,\n"), "UTF-8"},
		{"columns in any order", shuffled, "UTF-8"},
	}
	want := []liftrescue.ElevatorRow{wantElevator(1, 2), wantElevator(2, 3)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantEncoding == "GB18030" && utf8.ValidString(tt.file) {
				t.Fatal("the GB18030 test file is valid UTF-8, so it tests nothing")
			}
			mustReadClean(t, csvimport.ReadElevators, tt.file, want, tt.wantEncoding)
		})
	}
}

func TestReadElevatorsOptionalCellsEmpty(t *testing.T) {
	cells := with(elevatorCells(1), "building", "", "floors", "", "manufacturer", "", "model", "",
		"installed_on", "", "last_maintained_at", "", "inspection_valid_until", "", "status", "")
	got, bad, _, err := csvimport.ReadElevators(strings.NewReader(csvFile(t, elevatorHeader, nil, cells)), csvimport.Options{})
	if err != nil || len(bad) > 0 {
		t.Fatalf("err = %v, bad = %s", err, formatDetails(bad))
	}
	want := wantElevator(1, 2)
	e := &want.Elevator
	e.Building, e.Floors, e.Manufacturer, e.Model = "", 0, "", ""
	e.InstalledOn, e.LastMaintainedAt, e.InspectionValidUntil = liftrescue.Date{}, nil, liftrescue.Date{}
	if !reflect.DeepEqual(got, []liftrescue.ElevatorRow{want}) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestReadElevatorsOnlyRequiredColumns(t *testing.T) {
	header := []string{"rescue_code", "equipment_code", "address", "district", "lat", "lon", "kind", "user_unit_code", "maintenance_unit_code"}
	got, bad, _, err := csvimport.ReadElevators(strings.NewReader(csvFile(t, header, nil, elevatorCells(1))), csvimport.Options{})
	if err != nil || len(bad) > 0 {
		t.Fatalf("err = %v, bad = %s", err, formatDetails(bad))
	}
	if len(got) != 1 || got[0].Elevator.Status != liftrescue.InService {
		t.Errorf("got %+v, want one elevator in service", got)
	}
}

func TestReadElevatorsValues(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	tests := []struct {
		column, cell string
		want         func(*liftrescue.ElevatorRow) any
		wantValue    any
		opt          csvimport.Options
	}{
		{"kind", "曳引式客梯", kindOf, liftrescue.KindTraction, csvimport.Options{}},
		{"kind", "曳引", kindOf, liftrescue.KindTraction, csvimport.Options{}},
		{"kind", "Moving Walk", kindOf, liftrescue.KindMovingWalk, csvimport.Options{}},
		{"kind", "液压乘客电梯", kindOf, liftrescue.KindHydraulic, csvimport.Options{}},
		{"kind", "强制驱动载货电梯", kindOf, liftrescue.KindPositiveDrive, csvimport.Options{}},
		{"kind", "杂物电梯", kindOf, liftrescue.KindDumbwaiter, csvimport.Options{}},
		{"kind", "自动扶梯", kindOf, liftrescue.KindEscalator, csvimport.Options{}},
		{"kind", "自动人行道", kindOf, liftrescue.KindMovingWalk, csvimport.Options{}},
		{"status", "停用", statusOf, liftrescue.OutOfService, csvimport.Options{}},
		{"status", "OUT_OF_SERVICE", statusOf, liftrescue.OutOfService, csvimport.Options{}},
		{"status", "在用", statusOf, liftrescue.InService, csvimport.Options{}},
		{"floors", " 32 ", floorsOf, 32, csvimport.Options{}},
		{"lon", "\t117.5\t", lonOf, 117.5, csvimport.Options{}},
		{"installed_on", "2003/1/9", installedOf, liftrescue.Date{Year: 2003, Month: 1, Day: 9}, csvimport.Options{}},
		{"installed_on", "2003.01.09", installedOf, liftrescue.Date{Year: 2003, Month: 1, Day: 9}, csvimport.Options{}},
		{"last_maintained_at", "2024-03-01T09:30:00+08:00", maintainedOf, time.Date(2024, 3, 1, 1, 30, 0, 0, time.UTC), csvimport.Options{}},
		{"last_maintained_at", "2024-03-01T01:30:00.123456Z", maintainedOf, time.Date(2024, 3, 1, 1, 30, 0, 123456000, time.UTC), csvimport.Options{}},
		{"last_maintained_at", "2024-03-01 09:30:15", maintainedOf, time.Date(2024, 3, 1, 1, 30, 15, 0, time.UTC), csvimport.Options{}},
		{"last_maintained_at", "2024-03-01", maintainedOf, time.Date(2024, 2, 29, 16, 0, 0, 0, time.UTC), csvimport.Options{}},
		{"last_maintained_at", "2024-03-01 09:30", maintainedOf, time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC), csvimport.Options{Location: time.UTC}},
		{"last_maintained_at", "2024-03-01 09:30", maintainedOf, time.Date(2024, 3, 1, 1, 30, 0, 0, time.UTC), csvimport.Options{Location: shanghai}},
		{"address", "=HYPERLINK(\"x\")", addressOf, "=HYPERLINK(\"x\")", csvimport.Options{}},
		{"address", "'=HYPERLINK(\"x\")", addressOf, "=HYPERLINK(\"x\")", csvimport.Options{}},
		{"address", "光明路\n12号\r\n东门", addressOf, "光明路 12号 东门", csvimport.Options{}},
		{"address", `7"号楼`, addressOf, `7"号楼`, csvimport.Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.column+"="+tt.cell, func(t *testing.T) {
			file := csvFile(t, elevatorHeader, nil, with(elevatorCells(1), tt.column, tt.cell))
			rows, bad, _, err := csvimport.ReadElevators(strings.NewReader(file), tt.opt)
			if err != nil || len(bad) > 0 || len(rows) != 1 {
				t.Fatalf("err = %v, bad = %s, rows = %d", err, formatDetails(bad), len(rows))
			}
			if got := tt.want(&rows[0]); !reflect.DeepEqual(got, tt.wantValue) {
				t.Errorf("got %v, want %v", got, tt.wantValue)
			}
		})
	}
}

// The kinds of the special equipment catalogue, as registries write them; the equipment code's
// category settles a name that leaves the kind open, and only such a name.
func TestReadElevatorsKind(t *testing.T) {
	const (
		traction      = "31103704022015060001"
		freight       = "31203704022015060001"
		category3150  = "31503704022015060001"
		positiveDrive = "31303704022015060001"
		hydraulic     = "32103704022015060001"
		escalator     = "33103704022015060001"
		movingWalk    = "33203704022015060001"
		explosion     = "34103704022015060001"
		dumbwaiter    = "34303704022015060001"
		unknown       = "39903704022015060001"
	)
	const unsettled = "does not say which kind of lift, and the equipment code's category does not either; " +
		"write traction, hydraulic, positive_drive, escalator, moving_walk or dumbwaiter, or a Chinese kind such as 曳引驱动乘客电梯"
	const unknownKind = "must be traction, hydraulic, positive_drive, escalator, moving_walk or dumbwaiter, or a Chinese kind such as 曳引驱动乘客电梯"
	for _, tt := range []struct {
		cell, equipmentCode string
		want                liftrescue.ElevatorKind
		reason              string
	}{
		// The names of the catalogue.
		{"曳引与强制驱动电梯", traction, liftrescue.KindTraction, ""},
		{"曳引与强制驱动电梯", freight, liftrescue.KindTraction, ""},
		{"曳引与强制驱动电梯", positiveDrive, liftrescue.KindPositiveDrive, ""},
		{"曳引与强制驱动电梯", escalator, liftrescue.KindTraction, ""}, // the code contradicts the name: the name wins
		{"曳引驱动乘客电梯", traction, liftrescue.KindTraction, ""},
		{"曳引驱动载货电梯", freight, liftrescue.KindTraction, ""},
		{"强制驱动载货电梯", positiveDrive, liftrescue.KindPositiveDrive, ""},
		{"强制驱动电梯", traction, liftrescue.KindPositiveDrive, ""},
		{"液压驱动电梯", hydraulic, liftrescue.KindHydraulic, ""},
		{"液压电梯", hydraulic, liftrescue.KindHydraulic, ""},
		{"液压乘客电梯", hydraulic, liftrescue.KindHydraulic, ""},
		{"自动扶梯与自动人行道", escalator, liftrescue.KindEscalator, ""},
		{"自动扶梯与自动人行道", movingWalk, liftrescue.KindMovingWalk, ""},
		{"自动扶梯与自动人行道", traction, liftrescue.KindEscalator, ""},
		{"自动扶梯", escalator, liftrescue.KindEscalator, ""},
		{"自动人行道", movingWalk, liftrescue.KindMovingWalk, ""},
		{"消防员电梯", explosion, liftrescue.KindTraction, ""},
		{"防爆电梯", explosion, liftrescue.KindTraction, ""},
		{"杂物电梯", dumbwaiter, liftrescue.KindDumbwaiter, ""},
		{"positive_drive", traction, liftrescue.KindPositiveDrive, ""}, // an English name is taken as it is
		// A word for any lift: the category settles it.
		{"电梯", traction, liftrescue.KindTraction, ""},
		{"电梯", category3150, liftrescue.KindTraction, ""},
		{"载货电梯", positiveDrive, liftrescue.KindPositiveDrive, ""},
		{"电梯", hydraulic, liftrescue.KindHydraulic, ""},
		{"扶梯", escalator, liftrescue.KindEscalator, ""},
		{"扶梯", movingWalk, liftrescue.KindMovingWalk, ""},
		{"扶梯", traction, liftrescue.KindEscalator, ""}, // a word for a kind is not a word for any lift
		{"电梯", movingWalk, liftrescue.KindMovingWalk, ""},
		{"其他类型电梯", dumbwaiter, liftrescue.KindDumbwaiter, ""},
		{"其他类型电梯", explosion, "", unsettled}, // 3410 names a use, not a drive
		{"电梯", unknown, "", unsettled},
		// Not a lift at all: the code is not asked.
		{"观光车", traction, "", unknownKind},
	} {
		t.Run(tt.cell+"/"+tt.equipmentCode[:4], func(t *testing.T) {
			file := csvFile(t, elevatorHeader, nil, with(elevatorCells(1), "kind", tt.cell, "equipment_code", tt.equipmentCode))
			rows, bad, _, err := csvimport.ReadElevators(strings.NewReader(file), csvimport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.reason != "" {
				want := []liftrescue.Detail{{Line: 2, Field: "kind", Value: tt.cell, Reason: tt.reason}}
				if len(rows) != 0 || !reflect.DeepEqual(bad, want) {
					t.Errorf("rows %+v, bad %s; want %s", rows, formatDetails(bad), formatDetails(want))
				}
				return
			}
			if len(bad) > 0 || len(rows) != 1 {
				t.Fatalf("bad = %s, rows = %d", formatDetails(bad), len(rows))
			}
			if got := rows[0].Elevator.Kind; got != tt.want {
				t.Errorf("kind = %s, want %s", got, tt.want)
			}
		})
	}
	// The column stays required: an empty cell is not filled from the code.
	file := csvFile(t, elevatorHeader, nil, with(elevatorCells(1), "kind", ""))
	_, bad, _, err := csvimport.ReadElevators(strings.NewReader(file), csvimport.Options{})
	if want := []liftrescue.Detail{{Line: 2, Field: "kind", Reason: "is required"}}; err != nil || !reflect.DeepEqual(bad, want) {
		t.Errorf("empty kind: err %v, bad %s; want %s", err, formatDetails(bad), formatDetails(want))
	}
}

func kindOf(r *liftrescue.ElevatorRow) any      { return r.Elevator.Kind }
func statusOf(r *liftrescue.ElevatorRow) any    { return r.Elevator.Status }
func floorsOf(r *liftrescue.ElevatorRow) any    { return r.Elevator.Floors }
func lonOf(r *liftrescue.ElevatorRow) any       { return r.Elevator.Lon }
func installedOf(r *liftrescue.ElevatorRow) any { return r.Elevator.InstalledOn }
func addressOf(r *liftrescue.ElevatorRow) any   { return r.Elevator.Address }
func maintainedOf(r *liftrescue.ElevatorRow) any {
	if r.Elevator.LastMaintainedAt == nil {
		return nil
	}
	return *r.Elevator.LastMaintainedAt
}

func TestReadElevatorsBadCells(t *testing.T) {
	long := strings.Repeat("长", 501)
	tests := []struct {
		name    string
		replace []string
		want    []liftrescue.Detail
	}{
		{"lat not a number", []string{"lat", "34,81"},
			[]liftrescue.Detail{{Field: "lat", Value: "34,81", Reason: "is not a number"}}},
		{"lat out of range", []string{"lat", "134.8"},
			[]liftrescue.Detail{{Field: "lat", Value: "134.8", Reason: "latitude must be between -90 and 90"}}},
		{"lon out of range", []string{"lon", "217.3"},
			[]liftrescue.Detail{{Field: "lon", Value: "217.3", Reason: "longitude must be between -180 and 180"}}},
		{"0,0 from empty spreadsheet cells", []string{"lat", "0", "lon", "0"},
			[]liftrescue.Detail{{Field: "lat", Value: "0", Reason: "0,0 is not a real position (missing coordinates?)"}}},
		{"lon missing", []string{"lon", " "},
			[]liftrescue.Detail{{Field: "lon", Reason: "is required"}}},
		{"rescue code too short", []string{"rescue_code", "370"},
			[]liftrescue.Detail{{Field: "rescue_code", Value: "370", Reason: "must be 4 to 8 digits"}}},
		{"equipment code turned into a number by Excel", []string{"equipment_code", "3.11037E+19"},
			[]liftrescue.Detail{{Field: "equipment_code", Value: "3.11037E+19", Reason: "must be exactly 20 digits"}}},
		{"district not a code", []string{"district", "市中区"},
			[]liftrescue.Detail{{Field: "district", Value: "市中区", Reason: "must be a 6-digit district code"}}},
		{"unknown kind", []string{"kind", "观光车"},
			[]liftrescue.Detail{{Field: "kind", Value: "观光车", Reason: "must be traction, hydraulic, positive_drive, escalator, moving_walk or dumbwaiter, or a Chinese kind such as 曳引驱动乘客电梯"}}},
		{"floors in words", []string{"floors", "十八"},
			[]liftrescue.Detail{{Field: "floors", Value: "十八", Reason: "is not a whole number"}}},
		{"floors out of range", []string{"floors", "301"},
			[]liftrescue.Detail{{Field: "floors", Value: "301", Reason: "must be between 0 and 300"}}},
		{"installed_on day first", []string{"installed_on", "30/06/2015"},
			[]liftrescue.Detail{{Field: "installed_on", Value: "30/06/2015", Reason: "is not a date like 2021-06-30 or 2021/6/30"}}},
		{"installed_on long ago", []string{"installed_on", "1850-01-01"},
			[]liftrescue.Detail{{Field: "installed_on", Value: "1850-01-01", Reason: "year out of range"}}},
		{"inspection date impossible", []string{"inspection_valid_until", "2025-02-30"},
			[]liftrescue.Detail{{Field: "inspection_valid_until", Value: "2025-02-30", Reason: "is not a date like 2021-06-30 or 2021/6/30"}}},
		{"last_maintained_at in words", []string{"last_maintained_at", "上周"},
			[]liftrescue.Detail{{Field: "last_maintained_at", Value: "上周", Reason: "is not a time like 2024-03-01 09:30 (Asia/Shanghai) or 2024-03-01T01:30:00Z"}}},
		{"last_maintained_at typed wrong", []string{"last_maintained_at", "0024-03-01 09:30"},
			[]liftrescue.Detail{{Field: "last_maintained_at", Value: "0024-03-01 09:30", Reason: "year out of range"}}},
		{"unknown status", []string{"status", "维修中"},
			[]liftrescue.Detail{{Field: "status", Value: "维修中", Reason: "must be in_service or out_of_service (在用 or 停用)"}}},
		{"unit codes missing", []string{"user_unit_code", "", "maintenance_unit_code", ""},
			[]liftrescue.Detail{{Field: "user_unit_code", Reason: "is required"}, {Field: "maintenance_unit_code", Reason: "is required"}}},
		{"address too long, value shortened", []string{"address", long},
			[]liftrescue.Detail{{Field: "address", Value: strings.Repeat("长", 59) + "…", Reason: "is longer than 500 characters"}}},
		{"several cells, in column order", []string{"status", "?", "lat", "x", "rescue_code", "1"},
			[]liftrescue.Detail{
				{Field: "rescue_code", Value: "1", Reason: "must be 4 to 8 digits"},
				{Field: "lat", Value: "x", Reason: "is not a number"},
				{Field: "status", Value: "?", Reason: "must be in_service or out_of_service (在用 or 停用)"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := csvFile(t, elevatorHeader, nil, elevatorCells(1), with(elevatorCells(2), tt.replace...), elevatorCells(3))
			rows, bad, _, err := csvimport.ReadElevators(strings.NewReader(file), csvimport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.want {
				tt.want[i].Line = 3
			}
			if !reflect.DeepEqual(bad, tt.want) {
				t.Errorf("bad:\n got %s\nwant %s", formatDetails(bad), formatDetails(tt.want))
			}
			if want := []liftrescue.ElevatorRow{wantElevator(1, 2), wantElevator(3, 4)}; !reflect.DeepEqual(rows, want) {
				t.Errorf("rows:\n got %+v\nwant %+v", rows, want)
			}
		})
	}
}

func TestReadElevatorsBadRowShapes(t *testing.T) {
	header := strings.Join(elevatorHeader, ",")
	good := func(n int) string {
		return strings.TrimSuffix(csvFile(t, elevatorHeader, nil, elevatorCells(n)), "\n")[len(header)+1:]
	}
	tests := []struct {
		name string
		file string
		want []liftrescue.Detail
	}{
		{"row too short", header + "\n" + good(1) + "\n37002,31103704022015060002,光明路\n",
			[]liftrescue.Detail{{Line: 3, Reason: "the row has 3 cells but the header has 17"}}},
		{"unquoted comma shifts the cells", header + "\n" + strings.Replace(good(2), "光明路", "光明路,东", 1) + "\n" + good(1) + "\n",
			[]liftrescue.Detail{{Line: 2, Value: "in_service", Reason: "the row has 18 cells but the header has 17 (a comma in a cell that is not quoted?)"}}},
		{"value under a blank header", header + ",\n" + good(1) + ",note\n" + good(2) + ",\n",
			[]liftrescue.Detail{{Line: 2, Value: "note", Reason: "cell 18 has a value but its column has no header"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, bad, _, err := csvimport.ReadElevators(strings.NewReader(tt.file), csvimport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(bad, tt.want) {
				t.Errorf("bad:\n got %s\nwant %s", formatDetails(bad), formatDetails(tt.want))
			}
			if len(rows) != 1 {
				t.Errorf("got %d rows, want the 1 good one", len(rows))
			}
		})
	}
}

func TestReadElevatorsMultiLineCellShiftsLines(t *testing.T) {
	file := csvFile(t, elevatorHeader, nil,
		with(elevatorCells(1), "address", "山东省枣庄市\n市中区\n光明路1号"), // lines 2 to 4
		with(elevatorCells(2), "lat", "north"),                  // line 5
		with(elevatorCells(3), "building", "A座\nB座"),            // lines 6 and 7
		with(elevatorCells(4), "kind", "?"),                     // line 8
	)
	rows, bad, _, err := csvimport.ReadElevators(strings.NewReader(file), csvimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantBad := []liftrescue.Detail{
		{Line: 5, Field: "lat", Value: "north", Reason: "is not a number"},
		{Line: 8, Field: "kind", Value: "?", Reason: "must be traction, hydraulic, positive_drive, escalator, moving_walk or dumbwaiter, or a Chinese kind such as 曳引驱动乘客电梯"},
	}
	if !reflect.DeepEqual(bad, wantBad) {
		t.Errorf("bad:\n got %s\nwant %s", formatDetails(bad), formatDetails(wantBad))
	}
	var gotLines []int
	for _, r := range rows {
		gotLines = append(gotLines, r.Line)
	}
	if want := []int{2, 6}; !reflect.DeepEqual(gotLines, want) {
		t.Errorf("row lines = %v, want %v", gotLines, want)
	}
	if got, want := rows[0].Elevator.Address, "山东省枣庄市 市中区 光明路1号"; got != want {
		t.Errorf("address = %q, want %q", got, want)
	}
}

func TestReadElevatorsDuplicatesInFile(t *testing.T) {
	file := csvFile(t, elevatorHeader, nil,
		elevatorCells(1), // line 2
		with(elevatorCells(2), "equipment_code", elevatorCells(1)["equipment_code"]), // line 3
		with(elevatorCells(3), "rescue_code", " "+elevatorCells(1)["rescue_code"]),   // line 4
		with(elevatorCells(4), "lat", "bad"),                                         // line 5
		with(elevatorCells(5), "rescue_code", elevatorCells(4)["rescue_code"]),       // line 6
	)
	rows, bad, _, err := csvimport.ReadElevators(strings.NewReader(file), csvimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantBad := []liftrescue.Detail{
		{Line: 3, Field: "equipment_code", Value: "31103704022015060001", Reason: "is also on line 2"},
		{Line: 4, Field: "rescue_code", Value: "37001", Reason: "is also on line 2"},
		{Line: 5, Field: "lat", Value: "bad", Reason: "is not a number"},
		// A row that is bad for another reason still holds its codes: which of the two is right
		// is for a person to decide.
		{Line: 6, Field: "rescue_code", Value: "37004", Reason: "is also on line 5"},
	}
	if !reflect.DeepEqual(bad, wantBad) {
		t.Errorf("bad:\n got %s\nwant %s", formatDetails(bad), formatDetails(wantBad))
	}
	if len(rows) != 1 || rows[0].Line != 2 {
		t.Errorf("rows = %+v, want only line 2", rows)
	}
}

func TestReadElevatorsBadHeader(t *testing.T) {
	const wantMessagePrefix = "the header has %d bad columns; expected columns: rescue_code, equipment_code, address, building, district, lat, lon, kind, floors, manufacturer, model, installed_on, user_unit_code, maintenance_unit_code, last_maintained_at, inspection_valid_until, status (required: rescue_code, equipment_code, address, district, lat, lon, kind, user_unit_code, maintenance_unit_code)"
	replaceHeader := func(from, to string) string {
		return strings.Replace(csvFile(t, elevatorHeader, nil, elevatorCells(1)), from, to, 1)
	}
	tests := []struct {
		name string
		file string
		want []liftrescue.Detail
	}{
		{"unknown column", replaceHeader("building,", "building,colour,"),
			[]liftrescue.Detail{{Line: 1, Field: "colour", Reason: "unknown column"}}},
		{"missing required column", replaceHeader(",kind,", ",floors_again,"),
			[]liftrescue.Detail{
				{Line: 1, Field: "floors_again", Reason: "unknown column"},
				{Line: 1, Field: "kind", Reason: "required column is missing (also accepted as 设备类型, 类型, 设备品种)"},
			}},
		{"duplicate column under an alias", replaceHeader("building,", "building,纬度,"),
			[]liftrescue.Detail{{Line: 1, Field: "lat", Reason: "is column lat again, already given in column 5"}}},
		{"duplicate column, same name", replaceHeader("status", "status,STATUS"),
			[]liftrescue.Detail{{Line: 1, Field: "STATUS", Reason: "is column status again, already given in column 17"}}},
		{"organisation file", csvFile(t, organizationHeader, nil, organizationCells(1)),
			[]liftrescue.Detail{
				{Line: 1, Field: "code", Reason: "unknown column"},
				{Line: 1, Field: "name", Reason: "unknown column"},
				{Line: 1, Field: "duty_phones", Reason: "unknown column"},
				{Line: 1, Field: "contact_name", Reason: "unknown column"},
				{Line: 1, Field: "contact_phone", Reason: "unknown column"},
				{Line: 1, Field: "rescue_code", Reason: "required column is missing (also accepted as 救援识别码, 救援码)"},
				{Line: 1, Field: "equipment_code", Reason: "required column is missing (also accepted as 设备代码, 注册代码)"},
				{Line: 1, Field: "user_unit_code", Reason: "required column is missing (also accepted as 使用单位代码, 使用单位统一社会信用代码)"},
				{Line: 1, Field: "maintenance_unit_code", Reason: "required column is missing (also accepted as 维保单位代码, 维保单位统一社会信用代码)"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, bad, _, err := csvimport.ReadElevators(strings.NewReader(tt.file), csvimport.Options{})
			assertError(t, err, liftrescue.EINVALID, strings.Replace(wantMessagePrefix, "%d", strconv.Itoa(len(tt.want)), 1), tt.want)
			if rows != nil || bad != nil {
				t.Errorf("rows = %v, bad = %v, want none with a fatal error", rows, bad)
			}
		})
	}
}

func TestReadElevatorsFileErrors(t *testing.T) {
	header := strings.Join(elevatorHeader, ",") + "\n"
	tests := []struct {
		name     string
		file     string
		opt      csvimport.Options
		wantCode string
		wantMsg  string
	}{
		{"empty", "", csvimport.Options{}, liftrescue.EINVALID, ""},
		{"only a BOM", "\ufeff", csvimport.Options{}, liftrescue.EINVALID, ""},
		{"NUL bytes", header + "37001\x00\x00\x00,", csvimport.Options{}, liftrescue.EBADREQUEST, "file is not UTF-8 or GB18030 text"},
		{"UTF-16 from Excel's Unicode text", "\xff\xfer\x00e\x00s\x00", csvimport.Options{}, liftrescue.EBADREQUEST, "file is not UTF-8 or GB18030 text"},
		{"bytes that are not GB18030", header + "\x80\xff\x80\xff", csvimport.Options{}, liftrescue.EBADREQUEST, "file is not UTF-8 or GB18030 text"},
		{"Excel workbook", "PK\x03\x04\x14\x00\x06\x00", csvimport.Options{}, liftrescue.EBADREQUEST, "the file is an Excel workbook or another archive, not CSV text; save it as CSV"},
		{"unknown CRS", header, csvimport.Options{CRS: "bd09"}, liftrescue.EINVALID, `crs: must be "wgs84" or "gcj02"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := csvimport.ReadElevators(strings.NewReader(tt.file), tt.opt)
			if got := liftrescue.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", got, err, tt.wantCode)
			}
			if got := liftrescue.ErrorMessage(err); tt.wantMsg != "" && got != tt.wantMsg {
				t.Errorf("message = %q, want %q", got, tt.wantMsg)
			}
		})
	}
}

func TestReadElevatorsTooLarge(t *testing.T) {
	r := &repeatReader{prefix: strings.Join(elevatorHeader, ",") + "\n", n: csvimport.MaxFileSize + 1}
	_, _, _, err := csvimport.ReadElevators(r, csvimport.Options{})
	if got := liftrescue.ErrorCode(err); got != liftrescue.ETOOLARGE {
		t.Errorf("code = %q (%v), want %q", got, err, liftrescue.ETOOLARGE)
	}
}

// repeatReader gives prefix and then spaces, n bytes in all.
type repeatReader struct {
	prefix string
	n      int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	p = p[:min(len(p), r.n)]
	k := copy(p, r.prefix)
	r.prefix = r.prefix[k:]
	for i := k; i < len(p); i++ {
		p[i] = ' '
	}
	r.n -= len(p)
	return len(p), nil
}

func TestReadElevatorsTooManyBadRows(t *testing.T) {
	file := strings.Join(elevatorHeader, ",") + "\n" + strings.Repeat("1\n", csvimport.MaxBadRows+1)
	_, _, _, err := csvimport.ReadElevators(strings.NewReader(file), csvimport.Options{})
	if got := liftrescue.ErrorCode(err); got != liftrescue.EINVALID {
		t.Fatalf("code = %q (%v), want %q", got, err, liftrescue.EINVALID)
	}
	details := liftrescue.ErrorDetails(err)
	if len(details) != csvimport.MaxBadRows || details[len(details)-1].Line != csvimport.MaxBadRows+1 {
		t.Errorf("got %d details, want one for each of lines 2 to %d", len(details), csvimport.MaxBadRows+1)
	}
}

func TestReadElevatorsHeaderOnly(t *testing.T) {
	rows, bad, encoding, err := csvimport.ReadElevators(strings.NewReader(strings.Join(elevatorHeader, ",")+"\n"), csvimport.Options{})
	if err != nil || len(rows) != 0 || len(bad) != 0 || encoding != "UTF-8" {
		t.Errorf("got %v, %v, %q, %v; want nothing and no error", rows, bad, encoding, err)
	}
}

func TestReadElevatorsGCJ02(t *testing.T) {
	// A building on AMap near Zaozhuang railway station, as a property manager copies it.
	const gcjLon, gcjLat = 117.3296, 34.8159
	file := csvFile(t, elevatorHeader, nil, with(elevatorCells(1), "lon", "117.3296", "lat", "34.8159"))
	for _, crs := range []string{"gcj02", "GCJ-02"} {
		rows, bad, _, err := csvimport.ReadElevators(strings.NewReader(file), csvimport.Options{CRS: crs})
		if err != nil || len(bad) > 0 || len(rows) != 1 {
			t.Fatalf("CRS %q: err = %v, bad = %s, rows = %d", crs, err, formatDetails(bad), len(rows))
		}
		e := rows[0].Elevator
		wantLon, wantLat := geo.GCJ02ToWGS84(gcjLon, gcjLat)
		if e.Lon != wantLon || e.Lat != wantLat {
			t.Errorf("CRS %q: position = %v, %v, want %v, %v", crs, e.Lon, e.Lat, wantLon, wantLat)
		}
		if backLon, backLat := geo.WGS84ToGCJ02(e.Lon, e.Lat); math.Abs(backLon-gcjLon) > 1e-6 || math.Abs(backLat-gcjLat) > 1e-6 {
			t.Errorf("CRS %q: WGS-84 %v, %v does not map back to the GCJ-02 input", crs, e.Lon, e.Lat)
		}
		if math.Abs(e.Lon-gcjLon) < 1e-3 {
			t.Errorf("CRS %q: position not converted", crs)
		}
	}
	for _, crs := range []string{"", "wgs84", "WGS-84"} {
		rows, _, _, err := csvimport.ReadElevators(strings.NewReader(file), csvimport.Options{CRS: crs})
		if err != nil || len(rows) != 1 || rows[0].Elevator.Lon != gcjLon || rows[0].Elevator.Lat != gcjLat {
			t.Errorf("CRS %q: err = %v, rows = %+v, want the position as written", crs, err, rows)
		}
	}
}

func TestWriteElevatorsRoundTrip(t *testing.T) {
	rows := []liftrescue.ElevatorRow{wantElevator(1, 2), wantElevator(2, 3), wantElevator(3, 4)}
	maintained := time.Date(2023, 12, 31, 23, 59, 59, 999999000, time.UTC)
	second := &rows[1].Elevator
	second.Address = `=HYPERLINK("http://example.com","点击")` // must not become a live formula
	second.Building = `'+1`
	second.Manufacturer = "奥的斯电梯（中国）有限公司, 天津"
	second.Model = `GeN2 "MRL"`
	second.LastMaintainedAt = &maintained
	second.Kind, second.Status = liftrescue.KindEscalator, liftrescue.OutOfService
	second.Lat, second.Lon = 34.123456789012345, 117.00000000000001
	third := &rows[2].Elevator
	third.Building, third.Floors, third.Manufacturer, third.Model = "", 0, "", ""
	third.InstalledOn, third.LastMaintainedAt, third.InspectionValidUntil = liftrescue.Date{}, nil, liftrescue.Date{}

	var file bytes.Buffer
	if err := csvimport.WriteElevators(&file, rows); err != nil {
		t.Fatal(err)
	}
	text := file.String()
	if want := "\ufeff" + strings.Join(elevatorHeader, ",") + "\n"; !strings.HasPrefix(text, want) {
		t.Errorf("file starts %q, want %q", text[:min(len(text), len(want))], want)
	}
	if strings.Contains(text, ",=HYPERLINK") || strings.Contains(text, `,"=HYPERLINK`) {
		t.Errorf("a formula is written as is:\n%s", text)
	}
	got, bad, encoding, err := csvimport.ReadElevators(&file, csvimport.Options{})
	if err != nil || len(bad) > 0 || encoding != "UTF-8" {
		t.Fatalf("err = %v, bad = %s, encoding = %q", err, formatDetails(bad), encoding)
	}
	if !reflect.DeepEqual(got, rows) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, rows)
	}
}

func BenchmarkReadElevators100k(b *testing.B) {
	const n = 100_000
	rows := make([]liftrescue.ElevatorRow, n)
	for i := range rows {
		rows[i] = wantElevator(i, i+2)
		rows[i].Elevator.RescueCode = strconv.Itoa(1_000_000 + i)
		rows[i].Elevator.EquipmentCode = fmt.Sprintf("3110370402%010d", i)
	}
	var file bytes.Buffer
	if err := csvimport.WriteElevators(&file, rows); err != nil {
		b.Fatal(err)
	}
	data := file.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		got, bad, _, err := csvimport.ReadElevators(bytes.NewReader(data), csvimport.Options{})
		if err != nil || len(bad) > 0 || len(got) != n {
			b.Fatalf("err = %v, bad = %d, rows = %d", err, len(bad), len(got))
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
