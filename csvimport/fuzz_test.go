package csvimport_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/csvimport"
)

// The fuzzers check what every caller relies on: no panic; a fatal error is an *Error with a
// client's code; every row returned is valid; every problem has a line; and what is read writes
// back to the same rows.

func FuzzReadElevators(f *testing.F) {
	english := csvFile(f, elevatorHeader, nil, elevatorCells(1), with(elevatorCells(2), "lat", "north"),
		with(elevatorCells(3), "address", "光明路\n1号", "floors", " 7 "), with(elevatorCells(4), "equipment_code", elevatorCells(1)["equipment_code"]))
	chinese := csvFile(f, elevatorHeader, elevatorChineseHeader, elevatorCellsChinese(1), with(elevatorCellsChinese(2), "kind", "自动扶梯", "status", "停用"))
	for _, seed := range []string{
		english,
		"\ufeff" + strings.ReplaceAll(english, ",", "\t"),
		gb18030(f, chinese),
		strings.ReplaceAll(chinese, "\n", "\r"),
		csvFile(f, elevatorHeader, nil, with(elevatorCells(1), "address", `'=cmd|' /C calc'!A0`, "last_maintained_at", "2024-03-01T01:30:00.5Z")),
		strings.Join(elevatorHeader, ",") + "\n",
		"rescue_code,rescue_code,colour\n1,2,3\n",
		"",
	} {
		f.Add([]byte(seed), false)
	}
	f.Add([]byte(english), true)
	f.Fuzz(func(t *testing.T, data []byte, gcj02 bool) {
		rows, ok := fuzzRead(t, csvimport.ReadElevators, data, gcj02)
		if !ok {
			return
		}
		for _, row := range rows {
			if row.Line < 2 {
				t.Errorf("row on line %d", row.Line)
			}
			e := row.Elevator
			e.UserUnitID, e.MaintenanceUnitID = 1, 1
			before := e
			if err := e.Validate(); err != nil {
				t.Fatalf("line %d: returned row is invalid: %v", row.Line, err)
			}
			if !reflect.DeepEqual(e, before) {
				t.Fatalf("line %d: Validate changed the returned row:\n%+v\n%+v", row.Line, before, e)
			}
			if row.UserUnitCode == "" || row.MaintenanceUnitCode == "" {
				t.Fatalf("line %d: unit codes missing", row.Line)
			}
		}

		var file bytes.Buffer
		if err := csvimport.WriteElevators(&file, rows); err != nil {
			t.Fatal(err)
		}
		again, bad, _, err := csvimport.ReadElevators(&file, csvimport.Options{})
		if err != nil || len(bad) > 0 {
			t.Fatalf("reading what was written: err = %v, bad = %s", err, formatDetails(bad))
		}
		for i := range rows {
			rows[i].Line = 0
		}
		for i := range again {
			again[i].Line = 0
		}
		if len(rows) > 0 && !reflect.DeepEqual(again, rows) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, rows)
		}
	})
}

func FuzzReadOrganizations(f *testing.F) {
	english := csvFile(f, organizationHeader, nil, organizationCells(1),
		with(organizationCells(2), "lon", "", "contact_name", "王师傅;李工", "contact_phone", "13806320002/110"),
		with(organizationCells(3), "code", organizationCells(1)["code"]))
	chinese := csvFile(f, organizationHeader, organizationChineseHeader,
		with(organizationCells(1), "kind", "消防救援站", "duty_phones", "119；0632-3311234"),
		with(organizationCells(2), "name", "-@SUM(1+1)", "lat", "", "lon", ""))
	for _, seed := range []string{
		english,
		"\ufeff" + strings.ReplaceAll(english, ",", "\t"),
		gb18030(f, chinese),
		chinese,
		"code,kind,name,district\nA-1,fire,站,370402\n",
		"",
	} {
		f.Add([]byte(seed), false)
	}
	f.Add([]byte(english), true)
	f.Fuzz(func(t *testing.T, data []byte, gcj02 bool) {
		rows, ok := fuzzRead(t, csvimport.ReadOrganizations, data, gcj02)
		if !ok {
			return
		}
		orgs := make([]liftrescue.Organization, len(rows))
		for i, row := range rows {
			if row.Line < 2 {
				t.Errorf("row on line %d", row.Line)
			}
			o := row.Org
			before := o
			if err := o.Validate(); err != nil {
				t.Fatalf("line %d: returned row is invalid: %v", row.Line, err)
			}
			if !reflect.DeepEqual(o, before) {
				t.Fatalf("line %d: Validate changed the returned row:\n%+v\n%+v", row.Line, before, o)
			}
			orgs[i] = row.Org
		}

		var file bytes.Buffer
		if err := csvimport.WriteOrganizations(&file, orgs); err != nil {
			t.Fatal(err)
		}
		again, bad, _, err := csvimport.ReadOrganizations(&file, csvimport.Options{})
		if err != nil || len(bad) > 0 {
			t.Fatalf("reading what was written: err = %v, bad = %s", err, formatDetails(bad))
		}
		for i, row := range again {
			if !reflect.DeepEqual(row.Org, orgs[i]) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", row.Org, orgs[i])
			}
		}
		if len(again) != len(orgs) {
			t.Fatalf("round trip gave %d rows, want %d", len(again), len(orgs))
		}
	})
}

// checkFatal checks an error that stopped the reading of a whole file.
func checkFatal(t *testing.T, err error) {
	t.Helper()
	switch code := liftrescue.ErrorCode(err); code {
	case liftrescue.EINVALID, liftrescue.EBADREQUEST, liftrescue.ETOOLARGE:
	default:
		t.Fatalf("error with code %q: %v", code, err)
	}
	checkDetails(t, liftrescue.ErrorDetails(err))
}

func checkDetails(t *testing.T, details []liftrescue.Detail) {
	t.Helper()
	for _, d := range details {
		if d.Line < 1 {
			t.Fatalf("detail without a line: %+v", d)
		}
		if d.Reason == "" {
			t.Fatalf("detail without a reason: %+v", d)
		}
		if n := len([]rune(d.Value)); n > 60 {
			t.Fatalf("detail value of %d characters: %+v", n, d)
		}
	}
}
