package csvimport_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/csvimport"
)

// fakeElevators is an ElevatorService whose ImportElevators records its calls and answers with
// respond.
type fakeElevators struct {
	liftrescue.ElevatorService
	respond func(rows []liftrescue.ElevatorRow, opt liftrescue.ImportOptions) (*liftrescue.ImportResult, error)
	calls   []importCall
}

// importCall is what the store was asked: the lines of the rows and the options.
type importCall struct {
	Lines []int
	Opt   liftrescue.ImportOptions
}

func (f *fakeElevators) ImportElevators(ctx context.Context, rows []liftrescue.ElevatorRow, opt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
	call := importCall{Opt: opt}
	for _, r := range rows {
		call.Lines = append(call.Lines, r.Line)
	}
	f.calls = append(f.calls, call)
	return f.respond(rows, opt)
}

// unknownUnitOn answers like a store that does not know the user unit of the row on line.
func unknownUnitOn(line int) func([]liftrescue.ElevatorRow, liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
	return func(rows []liftrescue.ElevatorRow, opt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
		problem := liftrescue.Detail{Line: line, Field: "user_unit_code", Value: "91370400XXXXXXXXXX", Reason: "no organisation has this code"}
		if !opt.Partial {
			return nil, &liftrescue.Error{Code: liftrescue.EINVALID, Message: "1 row is invalid", Details: []liftrescue.Detail{problem}}
		}
		created := len(rows) - 1
		if opt.DryRun {
			created = 0
		}
		return &liftrescue.ImportResult{Rows: len(rows), Created: created, Rejected: 1, Errors: []liftrescue.Detail{problem}, DryRun: opt.DryRun}, nil
	}
}

func allGood(rows []liftrescue.ElevatorRow, opt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
	return &liftrescue.ImportResult{Rows: len(rows), Created: len(rows), Errors: []liftrescue.Detail{}, DryRun: opt.DryRun}, nil
}

func TestImportElevators(t *testing.T) {
	badLat := liftrescue.Detail{Line: 3, Field: "lat", Value: "north", Reason: "is not a number"}
	unknownUnit := liftrescue.Detail{Line: 4, Field: "user_unit_code", Value: "91370400XXXXXXXXXX", Reason: "no organisation has this code"}
	// Lines 2 and 4 are good as far as the file goes; line 3 is not.
	withBadRow := csvFile(t, elevatorHeader, nil, elevatorCells(1), with(elevatorCells(2), "lat", "north"), elevatorCells(3))
	allGoodFile := csvFile(t, elevatorHeader, nil, elevatorCells(1), elevatorCells(2), elevatorCells(3))
	allBad := csvFile(t, elevatorHeader, nil, with(elevatorCells(1), "lat", "?"), with(elevatorCells(2), "lat", "north"))

	tests := []struct {
		name        string
		file        string
		opt         csvimport.Options
		iopt        liftrescue.ImportOptions
		respond     func([]liftrescue.ElevatorRow, liftrescue.ImportOptions) (*liftrescue.ImportResult, error)
		wantCalls   []importCall
		want        *liftrescue.ImportResult
		wantCode    string
		wantMessage string
		wantDetails []liftrescue.Detail
	}{
		{
			name:      "good file",
			file:      allGoodFile,
			respond:   allGood,
			wantCalls: []importCall{{Lines: []int{2, 3, 4}, Opt: liftrescue.ImportOptions{Columns: elevatorHeader}}},
			want:      &liftrescue.ImportResult{Rows: 3, Created: 3, Errors: []liftrescue.Detail{}, Encoding: "UTF-8"},
		},
		{
			name:      "good file, dry run",
			file:      allGoodFile,
			iopt:      liftrescue.ImportOptions{DryRun: true},
			respond:   allGood,
			wantCalls: []importCall{{Lines: []int{2, 3, 4}, Opt: liftrescue.ImportOptions{Columns: elevatorHeader, DryRun: true}}},
			want:      &liftrescue.ImportResult{Rows: 3, Created: 3, Errors: []liftrescue.Detail{}, DryRun: true, Encoding: "UTF-8"},
		},
		{
			name:        "bad row: the good rows are checked in a partial dry run, nothing imported",
			file:        withBadRow,
			respond:     unknownUnitOn(4),
			wantCalls:   []importCall{{Lines: []int{2, 4}, Opt: liftrescue.ImportOptions{Columns: elevatorHeader, DryRun: true, Partial: true}}},
			wantCode:    liftrescue.EINVALID,
			wantMessage: "2 of 3 rows are invalid; nothing was imported",
			wantDetails: []liftrescue.Detail{badLat, unknownUnit},
		},
		{
			name:        "bad row and a store that finds nothing more",
			file:        withBadRow,
			iopt:        liftrescue.ImportOptions{DryRun: true},
			respond:     allGood,
			wantCalls:   []importCall{{Lines: []int{2, 4}, Opt: liftrescue.ImportOptions{Columns: elevatorHeader, DryRun: true, Partial: true}}},
			wantCode:    liftrescue.EINVALID,
			wantMessage: "1 of 3 rows are invalid; nothing was imported",
			wantDetails: []liftrescue.Detail{badLat},
		},
		{
			name:        "every row bad: the store is not asked",
			file:        allBad,
			respond:     allGood,
			wantCode:    liftrescue.EINVALID,
			wantMessage: "2 of 2 rows are invalid; nothing was imported",
			wantDetails: []liftrescue.Detail{
				{Line: 2, Field: "lat", Value: "?", Reason: "is not a number"},
				{Line: 3, Field: "lat", Value: "north", Reason: "is not a number"},
			},
		},
		{
			name:        "good file that the store refuses",
			file:        allGoodFile,
			respond:     unknownUnitOn(4),
			wantCalls:   []importCall{{Lines: []int{2, 3, 4}, Opt: liftrescue.ImportOptions{Columns: elevatorHeader}}},
			wantCode:    liftrescue.EINVALID,
			wantMessage: "1 of 3 rows are invalid; nothing was imported",
			wantDetails: []liftrescue.Detail{unknownUnit},
		},
		{
			name:      "partial: the store's and the file's rejects are merged by line",
			file:      withBadRow,
			iopt:      liftrescue.ImportOptions{Partial: true},
			respond:   unknownUnitOn(4),
			wantCalls: []importCall{{Lines: []int{2, 4}, Opt: liftrescue.ImportOptions{Columns: elevatorHeader, Partial: true}}},
			want: &liftrescue.ImportResult{Rows: 3, Created: 1, Rejected: 2,
				Errors: []liftrescue.Detail{badLat, unknownUnit}, Encoding: "UTF-8"},
		},
		{
			name: "partial, every row bad",
			file: allBad,
			iopt: liftrescue.ImportOptions{Partial: true, DryRun: true},
			want: &liftrescue.ImportResult{Rows: 2, Rejected: 2, DryRun: true, Encoding: "UTF-8", Errors: []liftrescue.Detail{
				{Line: 2, Field: "lat", Value: "?", Reason: "is not a number"},
				{Line: 3, Field: "lat", Value: "north", Reason: "is not a number"},
			}},
		},
		{
			name: "store unavailable",
			file: allGoodFile,
			respond: func([]liftrescue.ElevatorRow, liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
				return nil, liftrescue.Errorf(liftrescue.EUNAVAILABLE, "database unavailable")
			},
			wantCalls:   []importCall{{Lines: []int{2, 3, 4}, Opt: liftrescue.ImportOptions{Columns: elevatorHeader}}},
			wantCode:    liftrescue.EUNAVAILABLE,
			wantMessage: "database unavailable",
		},
		{
			name: "store unavailable during the check of a bad file",
			file: withBadRow,
			respond: func([]liftrescue.ElevatorRow, liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
				return nil, liftrescue.Errorf(liftrescue.EUNAVAILABLE, "database unavailable")
			},
			wantCalls:   []importCall{{Lines: []int{2, 4}, Opt: liftrescue.ImportOptions{Columns: elevatorHeader, DryRun: true, Partial: true}}},
			wantCode:    liftrescue.EUNAVAILABLE,
			wantMessage: "database unavailable",
		},
		{
			name:        "header only",
			file:        strings.Join(elevatorHeader, ",") + "\n,,,\n",
			iopt:        liftrescue.ImportOptions{Partial: true},
			wantCode:    liftrescue.EINVALID,
			wantMessage: "the file has no data rows",
		},
		{
			name:        "bad options",
			file:        allGoodFile,
			opt:         csvimport.Options{CRS: "bd09"},
			wantCode:    liftrescue.EINVALID,
			wantMessage: `crs: must be "wgs84" or "gcj02"`,
			wantDetails: []liftrescue.Detail{{Field: "crs", Reason: `must be "wgs84" or "gcj02"`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeElevators{respond: tt.respond}
			got, err := csvimport.ImportElevators(context.Background(), store, strings.NewReader(tt.file), tt.opt, tt.iopt)
			if !reflect.DeepEqual(store.calls, tt.wantCalls) {
				t.Errorf("store calls = %+v, want %+v", store.calls, tt.wantCalls)
			}
			if tt.wantCode != "" {
				if got != nil {
					t.Errorf("result = %+v, want none", got)
				}
				assertError(t, err, tt.wantCode, tt.wantMessage, tt.wantDetails)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("result:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// fakeOrganizations is an OrganizationService whose ImportOrganizations accepts every row.
type fakeOrganizations struct {
	liftrescue.OrganizationService
	calls []importCall
}

func (f *fakeOrganizations) ImportOrganizations(ctx context.Context, rows []liftrescue.OrganizationRow, opt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
	call := importCall{Opt: opt}
	for _, r := range rows {
		call.Lines = append(call.Lines, r.Line)
	}
	f.calls = append(f.calls, call)
	return &liftrescue.ImportResult{Rows: len(rows), Updated: len(rows), DryRun: opt.DryRun}, nil
}

// organizationColumns are the columns of organizationHeader as ImportOptions.Columns names them.
var organizationColumns = []string{"code", "kind", "name", "district", "address", "lat", "lon", "duty_phones", "contacts"}

func TestImportOrganizations(t *testing.T) {
	file := gb18030(t, csvFile(t, organizationHeader, organizationChineseHeader,
		organizationCells(1), with(organizationCells(2), "kind", "开发商"), organizationCells(3)))
	badKind := liftrescue.Detail{Line: 3, Field: "kind", Value: "开发商",
		Reason: "must be user_unit, maintenance, volunteer, fire or regulator, or a Chinese kind such as 维保单位"}

	t.Run("all or nothing", func(t *testing.T) {
		store := &fakeOrganizations{}
		_, err := csvimport.ImportOrganizations(context.Background(), store, strings.NewReader(file), csvimport.Options{}, liftrescue.ImportOptions{})
		assertError(t, err, liftrescue.EINVALID, "1 of 3 rows are invalid; nothing was imported", []liftrescue.Detail{badKind})
		want := []importCall{{Lines: []int{2, 4}, Opt: liftrescue.ImportOptions{DryRun: true, Partial: true, Columns: organizationColumns}}}
		if !reflect.DeepEqual(store.calls, want) {
			t.Errorf("store calls = %+v, want %+v", store.calls, want)
		}
	})
	t.Run("partial", func(t *testing.T) {
		store := &fakeOrganizations{}
		got, err := csvimport.ImportOrganizations(context.Background(), store, strings.NewReader(file), csvimport.Options{}, liftrescue.ImportOptions{Partial: true})
		if err != nil {
			t.Fatal(err)
		}
		want := &liftrescue.ImportResult{Rows: 3, Updated: 2, Rejected: 1, Errors: []liftrescue.Detail{badKind}, Encoding: "GB18030"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("result:\n got %+v\nwant %+v", got, want)
		}
	})
}

// The store is told which columns the file has, by the names ImportOptions.Columns uses, so that
// it keeps what a file leaves out.
func TestImportTellsTheStoreTheColumns(t *testing.T) {
	required := []string{"rescue_code", "equipment_code", "address", "district", "lat", "lon", "kind", "user_unit_code", "maintenance_unit_code"}
	chinese := make([]string, len(required))
	for i, h := range required {
		chinese[i] = elevatorChineseHeader[h]
	}
	for _, tt := range []struct {
		name   string
		header []string
		rename map[string]string
		want   []string
	}{
		{"every column", elevatorHeader, nil, elevatorHeader},
		{"the required columns", required, nil, required},
		{"Chinese headers in another order", append([]string{"status", "floors"}, required...), elevatorChineseHeader,
			[]string{"rescue_code", "equipment_code", "address", "district", "lat", "lon", "kind", "floors", "user_unit_code", "maintenance_unit_code", "status"}},
	} {
		t.Run("elevators/"+tt.name, func(t *testing.T) {
			store := &fakeElevators{respond: allGood}
			file := csvFile(t, tt.header, tt.rename, elevatorCells(1))
			_, err := csvimport.ImportElevators(context.Background(), store, strings.NewReader(file), csvimport.Options{}, liftrescue.ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(store.calls) != 1 || !reflect.DeepEqual(store.calls[0].Opt.Columns, tt.want) {
				t.Errorf("store calls = %+v, want columns %v", store.calls, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		name   string
		header []string
		want   []string
	}{
		{"every column", organizationHeader, organizationColumns},
		{"the required columns", []string{"code", "kind", "name", "district"}, []string{"code", "kind", "name", "district"}},
		// Empty contact cells in a contact column clear the contacts.
		{"contact phones alone", []string{"contact_phone", "code", "kind", "name", "district"}, []string{"code", "kind", "name", "district", "contacts"}},
		{"duty phones and contact names", []string{"code", "kind", "name", "district", "contact_name", "duty_phones"},
			[]string{"code", "kind", "name", "district", "duty_phones", "contacts"}},
		{"a position", []string{"code", "kind", "name", "district", "lon", "lat"}, []string{"code", "kind", "name", "district", "lat", "lon"}},
	} {
		t.Run("organizations/"+tt.name, func(t *testing.T) {
			store := &fakeOrganizations{}
			file := csvFile(t, tt.header, nil, with(organizationCells(1), "contact_name", "", "contact_phone", ""))
			_, err := csvimport.ImportOrganizations(context.Background(), store, strings.NewReader(file), csvimport.Options{}, liftrescue.ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(store.calls) != 1 || !reflect.DeepEqual(store.calls[0].Opt.Columns, tt.want) {
				t.Errorf("store calls = %+v, want columns %v", store.calls, tt.want)
			}
		})
	}
}
