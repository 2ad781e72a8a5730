package csvimport_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/csvimport"
)

var elevatorHeader = []string{
	"rescue_code", "equipment_code", "address", "building", "district", "lat", "lon", "kind",
	"floors", "manufacturer", "model", "installed_on", "user_unit_code", "maintenance_unit_code",
	"last_maintained_at", "inspection_valid_until", "status",
}

// elevatorChineseHeader names the columns of elevatorHeader as the regulators' registries do.
var elevatorChineseHeader = map[string]string{
	"rescue_code": "救援识别码", "equipment_code": "设备代码", "address": "安装地址", "building": "楼栋",
	"district": "行政区划代码", "lat": "纬度", "lon": "经度", "kind": "设备品种", "floors": "层站",
	"manufacturer": "制造单位", "model": "产品型号", "installed_on": "安装日期",
	"user_unit_code": "使用单位统一社会信用代码", "maintenance_unit_code": "维保单位统一社会信用代码",
	"last_maintained_at": "最近维保时间", "inspection_valid_until": "下次检验日期", "status": "状态",
}

// elevatorCells returns the cells of a good elevator row; n makes its codes unique.
func elevatorCells(n int) map[string]string {
	return map[string]string{
		"rescue_code":            fmt.Sprintf("%05d", 37000+n),
		"equipment_code":         fmt.Sprintf("3110370402201506%04d", n),
		"address":                fmt.Sprintf("山东省枣庄市市中区光明路%d号", n),
		"building":               "3号楼2单元",
		"district":               "370402",
		"lat":                    "34.8107",
		"lon":                    "117.3236",
		"kind":                   "traction",
		"floors":                 "18",
		"manufacturer":           "日立电梯（中国）有限公司",
		"model":                  "HGP",
		"installed_on":           "2015-06-30",
		"user_unit_code":         "91370400MA3C000001",
		"maintenance_unit_code":  "91370400MA3C000002",
		"last_maintained_at":     "2024-03-01 09:30",
		"inspection_valid_until": "2025-06-30",
		"status":                 "in_service",
	}
}

// elevatorCellsChinese is elevatorCells(n) with the values written as Chinese registries do.
func elevatorCellsChinese(n int) map[string]string {
	cells := elevatorCells(n)
	cells["kind"] = "曳引驱动乘客电梯"
	cells["installed_on"] = "2015/6/30"
	cells["last_maintained_at"] = "2024/3/1 9:30"
	cells["inspection_valid_until"] = "2025年6月30日"
	cells["status"] = "在用"
	cells["lat"] = " 34.8107 "
	return cells
}

// wantElevator is the row ReadElevators makes of elevatorCells(n) on the line.
func wantElevator(n, line int) liftrescue.ElevatorRow {
	maintained := time.Date(2024, 3, 1, 1, 30, 0, 0, time.UTC)
	return liftrescue.ElevatorRow{
		Line: line,
		Elevator: liftrescue.Elevator{
			RescueCode:           fmt.Sprintf("%05d", 37000+n),
			EquipmentCode:        fmt.Sprintf("3110370402201506%04d", n),
			Address:              fmt.Sprintf("山东省枣庄市市中区光明路%d号", n),
			Building:             "3号楼2单元",
			District:             "370402",
			Lat:                  34.8107,
			Lon:                  117.3236,
			Kind:                 liftrescue.KindTraction,
			Floors:               18,
			Manufacturer:         "日立电梯（中国）有限公司",
			Model:                "HGP",
			InstalledOn:          liftrescue.Date{Year: 2015, Month: time.June, Day: 30},
			LastMaintainedAt:     &maintained,
			InspectionValidUntil: liftrescue.Date{Year: 2025, Month: time.June, Day: 30},
			Status:               liftrescue.InService,
		},
		UserUnitCode:        "91370400MA3C000001",
		MaintenanceUnitCode: "91370400MA3C000002",
	}
}

var organizationHeader = []string{
	"code", "kind", "name", "district", "address", "lat", "lon", "duty_phones", "contact_name", "contact_phone",
}

var organizationChineseHeader = map[string]string{
	"code": "统一社会信用代码", "kind": "单位类型", "name": "单位名称", "district": "区县代码",
	"address": "地址", "lat": "纬度", "lon": "经度", "duty_phones": "值班电话",
	"contact_name": "联系人", "contact_phone": "联系电话",
}

// organizationCells returns the cells of a good organisation row; n makes its code unique.
func organizationCells(n int) map[string]string {
	return map[string]string{
		"code":          fmt.Sprintf("91370400MA3C%06d", n),
		"kind":          "maintenance",
		"name":          fmt.Sprintf("枣庄第%d电梯维保有限公司", n),
		"district":      "370402",
		"address":       "枣庄市市中区建华路8号",
		"lat":           "34.86",
		"lon":           "117.55",
		"duty_phones":   "0632-3311234;13806320001",
		"contact_name":  "王师傅",
		"contact_phone": "13806320002",
	}
}

func wantOrganization(n, line int) liftrescue.OrganizationRow {
	lat, lon := 34.86, 117.55
	return liftrescue.OrganizationRow{
		Line: line,
		Org: liftrescue.Organization{
			Code:       fmt.Sprintf("91370400MA3C%06d", n),
			Kind:       liftrescue.OrgMaintenance,
			Name:       fmt.Sprintf("枣庄第%d电梯维保有限公司", n),
			District:   "370402",
			Address:    "枣庄市市中区建华路8号",
			Lat:        &lat,
			Lon:        &lon,
			DutyPhones: []string{"0632-3311234", "13806320001"},
			Contacts:   []liftrescue.Contact{{Name: "王师傅", Phone: "13806320002"}},
		},
	}
}

// csvFile writes a header row and rows, each a map from a column of header to its cell. A
// rename maps columns to other headers (the Chinese ones).
func csvFile(tb testing.TB, header []string, rename map[string]string, rows ...map[string]string) string {
	tb.Helper()
	var b strings.Builder
	w := csv.NewWriter(&b)
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = h
		if r, ok := rename[h]; ok {
			names[i] = r
		}
	}
	if err := w.Write(names); err != nil {
		tb.Fatal(err)
	}
	for _, row := range rows {
		rec := make([]string, len(header))
		for i, h := range header {
			rec[i] = row[h]
		}
		if err := w.Write(rec); err != nil {
			tb.Fatal(err)
		}
	}
	w.Flush()
	return b.String()
}

// with returns a copy of cells with some of them replaced.
func with(cells map[string]string, replace ...string) map[string]string {
	out := make(map[string]string, len(cells))
	for k, v := range cells {
		out[k] = v
	}
	for i := 0; i+1 < len(replace); i += 2 {
		out[replace[i]] = replace[i+1]
	}
	return out
}

// gb18030 encodes text as Excel on Chinese Windows saves it.
func gb18030(tb testing.TB, text string) string {
	tb.Helper()
	s, err := simplifiedchinese.GB18030.NewEncoder().String(text)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// assertError checks the code, message and details of an *liftrescue.Error.
func assertError(tb testing.TB, err error, wantCode, wantMessage string, wantDetails []liftrescue.Detail) {
	tb.Helper()
	if got := liftrescue.ErrorCode(err); got != wantCode {
		tb.Fatalf("error code = %q (%v), want %q", got, err, wantCode)
	}
	if got := liftrescue.ErrorMessage(err); wantMessage != "" && got != wantMessage {
		tb.Errorf("message = %q, want %q", got, wantMessage)
	}
	if got := liftrescue.ErrorDetails(err); !reflect.DeepEqual(got, wantDetails) {
		tb.Errorf("details:\n got %s\nwant %s", formatDetails(got), formatDetails(wantDetails))
	}
}

func formatDetails(details []liftrescue.Detail) string {
	var b strings.Builder
	for _, d := range details {
		fmt.Fprintf(&b, "\n  {Line: %d, Field: %q, Value: %q, Reason: %q}", d.Line, d.Field, d.Value, d.Reason)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// reader is ReadElevators or ReadOrganizations.
type reader[T any] func(io.Reader, csvimport.Options) ([]T, []liftrescue.Detail, string, error)

// mustReadClean reads a file that must give want with no bad row, in the encoding named.
func mustReadClean[T any](t *testing.T, read reader[T], file string, want []T, wantEncoding string) {
	t.Helper()
	got, bad, encoding, err := read(strings.NewReader(file), csvimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("bad rows: %s", formatDetails(bad))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows:\n got %+v\nwant %+v", got, want)
	}
	if encoding != wantEncoding {
		t.Errorf("encoding = %q, want %q", encoding, wantEncoding)
	}
}

// fuzzRead reads fuzz input, in GCJ-02 when asked, and checks what every reader promises of its
// errors; it returns the rows for the caller's own checks, and false when the file was refused.
func fuzzRead[T any](t *testing.T, read reader[T], data []byte, gcj02 bool) ([]T, bool) {
	opt := csvimport.Options{}
	if gcj02 {
		opt.CRS = "gcj02"
	}
	rows, bad, _, err := read(bytes.NewReader(data), opt)
	if err != nil {
		checkFatal(t, err)
		return nil, false
	}
	checkDetails(t, bad)
	return rows, true
}
