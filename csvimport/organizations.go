package csvimport

import (
	"context"
	"fmt"
	"io"

	"github.com/liftrescue/liftrescue"
)

// Columns of the organisation file, in the order WriteOrganizations writes them.
const (
	orgCode = iota
	orgKind
	orgName
	orgDistrict
	orgAddress
	orgLat
	orgLon
	orgDutyPhones
	orgContactName
	orgContactPhone
)

var organizationSchema = newSchema([]column{
	orgCode:         {name: "code", aliases: []string{"统一社会信用代码", "单位代码"}, required: true},
	orgKind:         {name: "kind", aliases: []string{"单位类型", "类型"}, required: true},
	orgName:         {name: "name", aliases: []string{"单位名称", "名称"}, required: true},
	orgDistrict:     {name: "district", aliases: []string{"区县代码", "行政区划代码", "区县"}, required: true},
	orgAddress:      {name: "address", aliases: []string{"地址", "详细地址"}},
	orgLat:          {name: "lat", aliases: []string{"纬度"}},
	orgLon:          {name: "lon", aliases: []string{"经度"}},
	orgDutyPhones:   {name: "duty_phones", aliases: []string{"值班电话"}},
	orgContactName:  {name: "contact_name", aliases: []string{"联系人"}, stores: "contacts"},
	orgContactPhone: {name: "contact_phone", aliases: []string{"联系电话"}, stores: "contacts"},
}, map[string]int{
	// The fields Organization.Validate names for its contacts.
	"contacts":       orgContactName,
	"contacts.name":  orgContactName,
	"contacts.phone": orgContactPhone,
}, orgCode)

// ReadOrganizations reads an organisation file as ReadElevators reads an elevator file.
// duty_phones may hold several numbers separated by ; or / (also ； and 、). contact_name and
// contact_phone hold one contact, or several in the same order with the same separators.
func ReadOrganizations(r io.Reader, opt Options) ([]liftrescue.OrganizationRow, []liftrescue.Detail, string, error) {
	return readRows(r, opt, organizationSchema, parseOrganization)
}

func parseOrganization(r *row, set settings) liftrescue.OrganizationRow {
	o := liftrescue.Organization{
		Code:       r.cell(orgCode),
		Kind:       cellValue(r, orgKind, parseOrgKind),
		Name:       r.cell(orgName),
		District:   r.cell(orgDistrict),
		Address:    r.cell(orgAddress),
		Lat:        cellValue(r, orgLat, parseOptionalFloat),
		Lon:        cellValue(r, orgLon, parseOptionalFloat),
		DutyPhones: splitList(r.cell(orgDutyPhones)),
		Contacts:   parseContacts(r),
	}
	switch {
	case r.failed(orgLat) || r.failed(orgLon):
		// Already reported; that the other is then missing would be noise.
		o.Lat, o.Lon = nil, nil
	case o.Lat != nil && o.Lon != nil:
		lon, lat := set.toWGS84(*o.Lon, *o.Lat)
		o.Lon, o.Lat = &lon, &lat
	}
	r.addValidation(o.Validate())
	return liftrescue.OrganizationRow{Line: r.line, Org: o}
}

// parseContacts pairs the names of contact_name with the phones of contact_phone. A lone name or
// phone still makes a contact, for Validate to say what it lacks.
func parseContacts(r *row) []liftrescue.Contact {
	names, phones := splitList(r.cell(orgContactName)), splitList(r.cell(orgContactPhone))
	if len(names) != len(phones) && (len(names) > 1 || len(phones) > 1) {
		r.fail(orgContactPhone, fmt.Sprintf("has %d phones for %d contacts; give one phone per contact, in the order of contact_name", len(phones), len(names)))
		return nil
	}
	contacts := make([]liftrescue.Contact, max(len(names), len(phones)))
	for i := range contacts {
		if i < len(names) {
			contacts[i].Name = names[i]
		}
		if i < len(phones) {
			contacts[i].Phone = phones[i]
		}
	}
	return contacts
}

// WriteOrganizations writes orgs as a UTF-8 organisation file with the English header, in the
// form ReadOrganizations reads back to the same organisations. The file has no place for ids,
// timestamps or the roles of contacts, and a contact name that holds one of the list separators
// comes back as several contacts.
func WriteOrganizations(w io.Writer, orgs []liftrescue.Organization) error {
	return writeTable(w, organizationSchema, orgs, func(o *liftrescue.Organization, rec []string) {
		rec[orgCode] = o.Code
		rec[orgKind] = string(o.Kind)
		rec[orgName] = o.Name
		rec[orgDistrict] = o.District
		rec[orgAddress] = o.Address
		if o.Lat != nil && o.Lon != nil {
			rec[orgLat], rec[orgLon] = formatFloat(*o.Lat), formatFloat(*o.Lon)
		}
		rec[orgDutyPhones] = joinList(o.DutyPhones)
		names, phones := make([]string, len(o.Contacts)), make([]string, len(o.Contacts))
		for i, c := range o.Contacts {
			names[i], phones[i] = c.Name, c.Phone
		}
		rec[orgContactName], rec[orgContactPhone] = joinList(names), joinList(phones)
	})
}

// ImportOrganizations reads an organisation file and imports its rows with
// svc.ImportOrganizations, as ImportElevators does for elevators. A file with either contact
// column replaces the contacts of the organisations it names; one with neither keeps them.
func ImportOrganizations(ctx context.Context, svc liftrescue.OrganizationService, r io.Reader, opt Options, iopt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
	f, err := readFile(r, opt, organizationSchema, parseOrganization)
	if err != nil {
		return nil, err
	}
	return importRows(ctx, svc.ImportOrganizations, f, iopt)
}
