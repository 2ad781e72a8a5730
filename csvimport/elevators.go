package csvimport

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/liftrescue/liftrescue"
)

// Columns of the elevator file, in the order WriteElevators writes them.
const (
	elRescueCode = iota
	elEquipmentCode
	elAddress
	elBuilding
	elDistrict
	elLat
	elLon
	elKind
	elFloors
	elManufacturer
	elModel
	elInstalledOn
	elUserUnitCode
	elMaintenanceUnitCode
	elLastMaintainedAt
	elInspectionValidUntil
	elStatus
)

// The Chinese aliases are the headers of the registries that market regulators (市场监管局) and
// the special equipment platforms export.
var elevatorSchema = newSchema([]column{
	elRescueCode:           {name: "rescue_code", aliases: []string{"救援识别码", "救援码"}, required: true},
	elEquipmentCode:        {name: "equipment_code", aliases: []string{"设备代码", "注册代码"}, required: true},
	elAddress:              {name: "address", aliases: []string{"地址", "安装地址", "详细地址"}, required: true},
	elBuilding:             {name: "building", aliases: []string{"楼栋", "楼宇"}},
	elDistrict:             {name: "district", aliases: []string{"区县代码", "行政区划代码", "区县"}, required: true},
	elLat:                  {name: "lat", aliases: []string{"纬度"}, required: true},
	elLon:                  {name: "lon", aliases: []string{"经度"}, required: true},
	elKind:                 {name: "kind", aliases: []string{"设备类型", "类型", "设备品种"}, required: true},
	elFloors:               {name: "floors", aliases: []string{"层站", "层数"}},
	elManufacturer:         {name: "manufacturer", aliases: []string{"制造单位"}},
	elModel:                {name: "model", aliases: []string{"型号", "产品型号"}},
	elInstalledOn:          {name: "installed_on", aliases: []string{"安装日期"}},
	elUserUnitCode:         {name: "user_unit_code", aliases: []string{"使用单位代码", "使用单位统一社会信用代码"}, required: true},
	elMaintenanceUnitCode:  {name: "maintenance_unit_code", aliases: []string{"维保单位代码", "维保单位统一社会信用代码"}, required: true},
	elLastMaintainedAt:     {name: "last_maintained_at", aliases: []string{"最近维保时间", "上次维保时间"}},
	elInspectionValidUntil: {name: "inspection_valid_until", aliases: []string{"检验有效期至", "下次检验日期"}},
	elStatus:               {name: "status", aliases: []string{"状态"}},
}, nil, elEquipmentCode, elRescueCode)

// placeholderUnitID stands in for the unit ids while an elevator is validated: the file names
// units by code, and only the store can turn codes into ids.
const placeholderUnitID = 1

// ReadElevators reads an elevator file: CSV or tab-separated, in UTF-8 or GB18030 (encoding says
// which), with English or Chinese headers in any order.
//
// Rows with bad cells are left out of rows; bad has a Detail for each bad cell, by line (the
// header is line 1) and column. The unit ids of the rows are zero: UserUnitCode and
// MaintenanceUnitCode name the units, for the store to resolve.
//
// Returns EINVALID for a bad header (the Details name each bad column), for more than
// MaxBadRows bad rows (the Details describe the first ones) and for bad options; EBADREQUEST for
// a file that is not text; and ETOOLARGE beyond MaxFileSize.
func ReadElevators(r io.Reader, opt Options) (rows []liftrescue.ElevatorRow, bad []liftrescue.Detail, encoding string, err error) {
	return readRows(r, opt, elevatorSchema, parseElevator)
}

func parseElevator(r *row, set settings) liftrescue.ElevatorRow {
	e := liftrescue.Elevator{
		RescueCode:    r.cell(elRescueCode),
		EquipmentCode: r.cell(elEquipmentCode),
		Address:       r.cell(elAddress),
		Building:      r.cell(elBuilding),
		District:      r.cell(elDistrict),
		Lat:           cellValue(r, elLat, parseFloat),
		Lon:           cellValue(r, elLon, parseFloat),
		Kind: cellValue(r, elKind, func(s string) (liftrescue.ElevatorKind, error) {
			return parseElevatorKind(s, r.cell(elEquipmentCode))
		}),
		Floors:               cellValue(r, elFloors, parseInt),
		Manufacturer:         r.cell(elManufacturer),
		Model:                r.cell(elModel),
		InstalledOn:          cellValue(r, elInstalledOn, parseDate),
		LastMaintainedAt:     cellValue(r, elLastMaintainedAt, set.parseTime),
		InspectionValidUntil: cellValue(r, elInspectionValidUntil, parseDate),
		Status:               cellValue(r, elStatus, parseStatus),
	}
	if !r.failed(elLat) && !r.failed(elLon) {
		e.Lon, e.Lat = set.toWGS84(e.Lon, e.Lat)
	}
	e.UserUnitID, e.MaintenanceUnitID = placeholderUnitID, placeholderUnitID
	r.addValidation(e.Validate())
	e.UserUnitID, e.MaintenanceUnitID = 0, 0
	return liftrescue.ElevatorRow{
		Line:                r.line,
		Elevator:            e,
		UserUnitCode:        r.cell(elUserUnitCode),
		MaintenanceUnitCode: r.cell(elMaintenanceUnitCode),
	}
}

// WriteElevators writes rows as a UTF-8 elevator file with the English header, in the form
// ReadElevators reads back to the same rows: coordinates in WGS-84, dates as 2006-01-02 and
// last_maintained_at in RFC 3339 UTC.
func WriteElevators(w io.Writer, rows []liftrescue.ElevatorRow) error {
	return writeTable(w, elevatorSchema, rows, func(row *liftrescue.ElevatorRow, rec []string) {
		e := &row.Elevator
		rec[elRescueCode] = e.RescueCode
		rec[elEquipmentCode] = e.EquipmentCode
		rec[elAddress] = e.Address
		rec[elBuilding] = e.Building
		rec[elDistrict] = e.District
		rec[elLat] = formatFloat(e.Lat)
		rec[elLon] = formatFloat(e.Lon)
		rec[elKind] = string(e.Kind)
		if e.Floors != 0 {
			rec[elFloors] = strconv.Itoa(e.Floors)
		}
		rec[elManufacturer] = e.Manufacturer
		rec[elModel] = e.Model
		rec[elInstalledOn] = e.InstalledOn.String()
		rec[elUserUnitCode] = row.UserUnitCode
		rec[elMaintenanceUnitCode] = row.MaintenanceUnitCode
		if e.LastMaintainedAt != nil {
			rec[elLastMaintainedAt] = e.LastMaintainedAt.UTC().Format(time.RFC3339Nano)
		}
		rec[elInspectionValidUntil] = e.InspectionValidUntil.String()
		rec[elStatus] = string(e.Status)
	})
}

// formatFloat writes the shortest text that parses back to exactly f.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// ImportElevators reads an elevator file and imports its rows with svc.ImportElevators, reporting
// the problems of the file and of the store together, ordered by line.
//
// Without iopt.Partial one bad row imports nothing: the good rows are still checked against the
// store in a dry run so that the returned EINVALID error lists every problem of the file at once.
// With iopt.Partial the good rows are imported and the result counts the bad ones as rejected.
//
// The store is told which columns the file has (iopt.Columns is set from the header), so that
// elevators it already holds keep what the file leaves out: a file of the required columns
// does not reset their status, floors or maintenance dates.
//
// Returns EINVALID for bad rows, a bad header or a file with no data rows, and the errors of
// ReadElevators and of the store.
func ImportElevators(ctx context.Context, svc liftrescue.ElevatorService, r io.Reader, opt Options, iopt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
	f, err := readFile(r, opt, elevatorSchema, parseElevator)
	if err != nil {
		return nil, err
	}
	return importRows(ctx, svc.ImportElevators, f, iopt)
}
