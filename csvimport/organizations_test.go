package csvimport_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/csvimport"
	"github.com/liftrescue/liftrescue/geo"
)

func TestReadOrganizationsGoodFiles(t *testing.T) {
	english := csvFile(t, organizationHeader, nil, organizationCells(1), organizationCells(2))
	chineseCells := func(n int) map[string]string {
		return with(organizationCells(n), "kind", "维保单位", "duty_phones", "0632-3311234 / 13806320001")
	}
	chinese := csvFile(t, organizationHeader, organizationChineseHeader, chineseCells(1), chineseCells(2))
	tests := []struct {
		name         string
		file         string
		wantEncoding string
	}{
		{"UTF-8", english, "UTF-8"},
		{"GB18030 with Chinese headers and values", gb18030(t, chinese), "GB18030"},
		{"UTF-8 with BOM, tab-separated", "\ufeff" + strings.ReplaceAll(chinese, ",", "\t"), "UTF-8"},
	}
	want := []liftrescue.OrganizationRow{wantOrganization(1, 2), wantOrganization(2, 3)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustReadClean(t, csvimport.ReadOrganizations, tt.file, want, tt.wantEncoding)
		})
	}
}

func TestReadOrganizationsValues(t *testing.T) {
	tests := []struct {
		name    string
		replace []string
		want    func(*liftrescue.Organization)
	}{
		{"使用单位", []string{"kind", "使用单位"}, func(o *liftrescue.Organization) { o.Kind = liftrescue.OrgUserUnit }},
		{"物业公司", []string{"kind", "物业服务企业"}, func(o *liftrescue.Organization) { o.Kind = liftrescue.OrgUserUnit }},
		{"救援单位", []string{"kind", "救援单位"}, func(o *liftrescue.Organization) { o.Kind = liftrescue.OrgVolunteer }},
		{"志愿救援", []string{"kind", "志愿救援队"}, func(o *liftrescue.Organization) { o.Kind = liftrescue.OrgVolunteer }},
		{"消防救援站 is fire, not volunteer", []string{"kind", "消防救援站"}, func(o *liftrescue.Organization) { o.Kind = liftrescue.OrgFire }},
		{"市场监管", []string{"kind", "市场监管局"}, func(o *liftrescue.Organization) { o.Kind = liftrescue.OrgRegulator }},
		{"English kind in capitals", []string{"kind", "Regulator"}, func(o *liftrescue.Organization) { o.Kind = liftrescue.OrgRegulator }},
		{"duty phones with every separator", []string{"duty_phones", "110；119/120、 122 ;"},
			func(o *liftrescue.Organization) { o.DutyPhones = []string{"110", "119", "120", "122"} }},
		{"no duty phones, no contact, no position", []string{"duty_phones", "", "contact_name", "", "contact_phone", "", "lat", "", "lon", ""},
			func(o *liftrescue.Organization) {
				o.DutyPhones, o.Contacts, o.Lat, o.Lon = []string{}, []liftrescue.Contact{}, nil, nil
			}},
		{"several contacts in order", []string{"contact_name", "王师傅;李工", "contact_phone", "13806320002；13806320003"},
			func(o *liftrescue.Organization) {
				o.Contacts = []liftrescue.Contact{{Name: "王师傅", Phone: "13806320002"}, {Name: "李工", Phone: "13806320003"}}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := csvFile(t, organizationHeader, nil, with(organizationCells(1), tt.replace...))
			rows, bad, _, err := csvimport.ReadOrganizations(strings.NewReader(file), csvimport.Options{})
			if err != nil || len(bad) > 0 || len(rows) != 1 {
				t.Fatalf("err = %v, bad = %s, rows = %d", err, formatDetails(bad), len(rows))
			}
			want := wantOrganization(1, 2)
			tt.want(&want.Org)
			if !reflect.DeepEqual(rows[0], want) {
				t.Errorf("got %+v\nwant %+v", rows[0], want)
			}
		})
	}
}

func TestReadOrganizationsBadCells(t *testing.T) {
	tests := []struct {
		name    string
		replace []string
		want    []liftrescue.Detail
	}{
		{"code with spaces inside", []string{"code", "9137 0400"},
			[]liftrescue.Detail{{Field: "code", Value: "9137 0400", Reason: "must be 1 to 32 letters, digits or dashes (the unified social credit code)"}}},
		{"unknown kind", []string{"kind", "开发商"},
			[]liftrescue.Detail{{Field: "kind", Value: "开发商", Reason: "must be user_unit, maintenance, volunteer, fire or regulator, or a Chinese kind such as 维保单位"}}},
		{"name missing", []string{"name", ""},
			[]liftrescue.Detail{{Field: "name", Reason: "is required"}}},
		{"lat without lon", []string{"lon", ""},
			[]liftrescue.Detail{{Field: "lat", Value: "34.86", Reason: "give both lat and lon, or neither"}}},
		{"lon not a number", []string{"lon", "东经117"},
			[]liftrescue.Detail{{Field: "lon", Value: "东经117", Reason: "is not a number"}}},
		{"duty phone with words", []string{"duty_phones", "0632-3311234;找王师傅"},
			[]liftrescue.Detail{{Field: "duty_phones", Value: "0632-3311234;找王师傅", Reason: `"找王师傅" is not a phone number`}}},
		{"contact without a phone", []string{"contact_phone", ""},
			[]liftrescue.Detail{{Field: "contact_phone", Reason: `"" is not a phone number`}}},
		{"phone without a contact", []string{"contact_name", ""},
			[]liftrescue.Detail{{Field: "contact_name", Reason: "is required"}}},
		{"contacts and phones do not pair", []string{"contact_name", "王师傅;李工", "contact_phone", "13806320002/13806320003/110"},
			[]liftrescue.Detail{{Field: "contact_phone", Value: "13806320002/13806320003/110", Reason: "has 3 phones for 2 contacts; give one phone per contact, in the order of contact_name"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := csvFile(t, organizationHeader, nil, organizationCells(1), with(organizationCells(2), tt.replace...))
			rows, bad, _, err := csvimport.ReadOrganizations(strings.NewReader(file), csvimport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.want {
				tt.want[i].Line = 3
			}
			if !reflect.DeepEqual(bad, tt.want) {
				t.Errorf("bad:\n got %s\nwant %s", formatDetails(bad), formatDetails(tt.want))
			}
			if want := []liftrescue.OrganizationRow{wantOrganization(1, 2)}; !reflect.DeepEqual(rows, want) {
				t.Errorf("rows:\n got %+v\nwant %+v", rows, want)
			}
		})
	}
}

func TestReadOrganizationsDuplicateCode(t *testing.T) {
	file := csvFile(t, organizationHeader, nil,
		organizationCells(1),
		organizationCells(2),
		with(organizationCells(3), "code", organizationCells(2)["code"]),
	)
	rows, bad, _, err := csvimport.ReadOrganizations(strings.NewReader(file), csvimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantBad := []liftrescue.Detail{{Line: 4, Field: "code", Value: "91370400MA3C000002", Reason: "is also on line 3"}}
	if !reflect.DeepEqual(bad, wantBad) {
		t.Errorf("bad:\n got %s\nwant %s", formatDetails(bad), formatDetails(wantBad))
	}
	if len(rows) != 2 {
		t.Errorf("got %d rows, want 2", len(rows))
	}
}

func TestReadOrganizationsBadHeader(t *testing.T) {
	header := []string{"code", "name", "district", "单位名称", "phone"}
	_, _, _, err := csvimport.ReadOrganizations(strings.NewReader(csvFile(t, header, nil, organizationCells(1))), csvimport.Options{})
	assertError(t, err, liftrescue.EINVALID,
		"the header has 3 bad columns; expected columns: code, kind, name, district, address, lat, lon, duty_phones, contact_name, contact_phone (required: code, kind, name, district)",
		[]liftrescue.Detail{
			{Line: 1, Field: "单位名称", Reason: "is column name again, already given in column 2"},
			{Line: 1, Field: "phone", Reason: "unknown column"},
			{Line: 1, Field: "kind", Reason: "required column is missing (also accepted as 单位类型, 类型)"},
		})
}

func TestReadOrganizationsGCJ02(t *testing.T) {
	file := csvFile(t, organizationHeader, nil, organizationCells(1))
	rows, bad, _, err := csvimport.ReadOrganizations(strings.NewReader(file), csvimport.Options{CRS: "gcj02"})
	if err != nil || len(bad) > 0 || len(rows) != 1 {
		t.Fatalf("err = %v, bad = %s, rows = %d", err, formatDetails(bad), len(rows))
	}
	wantLon, wantLat := geo.GCJ02ToWGS84(117.55, 34.86)
	if o := rows[0].Org; *o.Lon != wantLon || *o.Lat != wantLat {
		t.Errorf("position = %v, %v, want %v, %v", *o.Lon, *o.Lat, wantLon, wantLat)
	}
}

func TestWriteOrganizationsRoundTrip(t *testing.T) {
	var orgs []liftrescue.Organization
	for n := 1; n <= 3; n++ {
		orgs = append(orgs, wantOrganization(n, 0).Org)
	}
	orgs[1].Kind = liftrescue.OrgFire
	orgs[1].Name = "-枣庄市消防救援支队" // looks like a formula to a spreadsheet
	orgs[1].DutyPhones = []string{"+86 632 3311234", "119"}
	orgs[1].Contacts = []liftrescue.Contact{{Name: "张队长", Phone: "119"}, {Name: `李"副队长", 二中队`, Phone: "(0632) 3311235"}}
	orgs[2].Lat, orgs[2].Lon, orgs[2].Address = nil, nil, ""
	orgs[2].DutyPhones, orgs[2].Contacts = []string{}, []liftrescue.Contact{}

	var file bytes.Buffer
	if err := csvimport.WriteOrganizations(&file, orgs); err != nil {
		t.Fatal(err)
	}
	if want := "\ufeff" + strings.Join(organizationHeader, ",") + "\n"; !strings.HasPrefix(file.String(), want) {
		t.Errorf("file does not start with %q:\n%s", want, file.String())
	}
	rows, bad, _, err := csvimport.ReadOrganizations(&file, csvimport.Options{})
	if err != nil || len(bad) > 0 {
		t.Fatalf("err = %v, bad = %s", err, formatDetails(bad))
	}
	var got []liftrescue.Organization
	for _, r := range rows {
		got = append(got, r.Org)
	}
	if !reflect.DeepEqual(got, orgs) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, orgs)
	}
}
