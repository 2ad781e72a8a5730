package liftrescue

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/paulmach/orb"
)

// District is an administrative district of the city (区/县). Lists everywhere can be scoped by its
// code, and district platforms see only their own district.
type District struct {
	// Code is the 6-digit administrative division code, e.g. 370402 for Shizhong, Zaozhuang.
	Code string `json:"code"`
	Name string `json:"name"`
	// Rural districts get the longer arrival limit (60 minutes instead of 30 under TSG T5002).
	Rural bool `json:"rural"`
	// Outline is the district boundary in WGS-84; empty when not drawn yet.
	Outline orb.MultiPolygon `json:"-"`
}

// Validate normalises the district's text and checks its fields.
func (d *District) Validate() error {
	var p problems
	d.Code = strings.TrimSpace(d.Code)
	d.Name = strings.TrimSpace(d.Name)
	if !isDigits(d.Code, 6, 6) {
		p.add("code", "must be a 6-digit administrative division code")
	}
	checkText(&p, "name", d.Name, true, 100)
	for i, poly := range d.Outline {
		if len(poly) == 0 {
			p.add("outline", "polygon %d has no ring", i)
		}
		for j, ring := range poly {
			switch {
			case len(ring) < 4:
				p.add("outline", "polygon %d ring %d has %d points, a closed ring needs at least 4", i, j, len(ring))
				continue
			case ring[0] != ring[len(ring)-1]:
				p.add("outline", "polygon %d ring %d is not closed: its last point must repeat its first", i, j)
			}
			for _, pt := range ring {
				if r := CheckLonLat(pt.Lon(), pt.Lat()); r != "" {
					p.add("outline", "polygon %d ring %d: %s", i, j, r)
					break
				}
			}
		}
	}
	return p.err("district")
}

// OrgKind is the role an organisation plays in a rescue.
type OrgKind string

const (
	OrgUserUnit    OrgKind = "user_unit"   // 使用单位: the property or using unit, tier 1
	OrgMaintenance OrgKind = "maintenance" // 维保单位: the contracted maintenance company, tier 1
	OrgVolunteer   OrgKind = "volunteer"   // 网格救援单位: a volunteer grid rescue unit, tier 2
	OrgFire        OrgKind = "fire"        // 消防救援站: a fire station, tier 3
	OrgRegulator   OrgKind = "regulator"   // 特种设备安全监察: the supervising authority
)

// OrgKinds lists every organisation kind, in the order forms show them.
var OrgKinds = []OrgKind{OrgUserUnit, OrgMaintenance, OrgVolunteer, OrgFire, OrgRegulator}

// Valid reports whether k is one of OrgKinds.
func (k OrgKind) Valid() bool {
	for _, v := range OrgKinds {
		if k == v {
			return true
		}
	}
	return false
}

// Contact is a named person at an organisation.
type Contact struct {
	Name  string `json:"name"`
	Role  string `json:"role,omitempty"`
	Phone string `json:"phone"`
}

// Organization is a unit that takes part in rescues or supervises them.
type Organization struct {
	ID int64 `json:"id"`
	// Code is the organisation's unique code, usually the 18-character unified social credit code
	// (统一社会信用代码). CSV imports refer to organisations by it.
	Code     string  `json:"code"`
	Kind     OrgKind `json:"kind"`
	Name     string  `json:"name"`
	District string  `json:"district"`
	Address  string  `json:"address"`
	// Lat and Lon locate the unit's base (a fire station, a volunteer depot); nil when unknown.
	Lat        *float64  `json:"lat"`
	Lon        *float64  `json:"lon"`
	DutyPhones []string  `json:"duty_phones"`
	Contacts   []Contact `json:"contacts"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Validate normalises the organisation's text and checks its fields.
func (o *Organization) Validate() error {
	var p problems
	o.Code = strings.TrimSpace(o.Code)
	o.Name = strings.TrimSpace(o.Name)
	o.District = strings.TrimSpace(o.District)
	o.Address = strings.TrimSpace(o.Address)
	if o.Code == "" || len(o.Code) > 32 || strings.IndexFunc(o.Code, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == '-')
	}) >= 0 {
		p.add("code", "must be 1 to 32 letters, digits or dashes (the unified social credit code)")
	}
	if !o.Kind.Valid() {
		p.add("kind", "must be one of user_unit, maintenance, volunteer, fire, regulator")
	}
	checkText(&p, "name", o.Name, true, 200)
	checkDistrict(&p, o.District)
	checkText(&p, "address", o.Address, false, 500)
	switch {
	case (o.Lat == nil) != (o.Lon == nil):
		p.add("lat", "give both lat and lon, or neither")
	case o.Lat != nil:
		checkPosition(&p, *o.Lat, *o.Lon)
	}
	if o.DutyPhones == nil {
		o.DutyPhones = []string{}
	}
	for i := range o.DutyPhones {
		o.DutyPhones[i] = strings.TrimSpace(o.DutyPhones[i])
		checkPhone(&p, "duty_phones", o.DutyPhones[i])
	}
	if len(o.DutyPhones) > 10 {
		p.add("duty_phones", "at most 10 duty phones")
	}
	if o.Contacts == nil {
		o.Contacts = []Contact{}
	}
	for i := range o.Contacts {
		c := &o.Contacts[i]
		c.Name, c.Role, c.Phone = strings.TrimSpace(c.Name), strings.TrimSpace(c.Role), strings.TrimSpace(c.Phone)
		checkText(&p, "contacts.name", c.Name, true, 100)
		checkText(&p, "contacts.role", c.Role, false, 100)
		checkPhone(&p, "contacts.phone", c.Phone)
	}
	if len(o.Contacts) > 50 {
		p.add("contacts", "at most 50 contacts")
	}
	return p.err("organization")
}

// ElevatorKind is the type of the equipment as the registry classifies it.
type ElevatorKind string

const (
	KindTraction      ElevatorKind = "traction"       // 曳引驱动电梯
	KindHydraulic     ElevatorKind = "hydraulic"      // 液压电梯
	KindPositiveDrive ElevatorKind = "positive_drive" // 强制驱动电梯
	KindEscalator     ElevatorKind = "escalator"      // 自动扶梯
	KindMovingWalk    ElevatorKind = "moving_walk"    // 自动人行道
	KindDumbwaiter    ElevatorKind = "dumbwaiter"     // 杂物电梯
)

// ElevatorKinds lists every kind of elevator.
var ElevatorKinds = []ElevatorKind{KindTraction, KindHydraulic, KindPositiveDrive, KindEscalator, KindMovingWalk, KindDumbwaiter}

// Valid reports whether k is one of ElevatorKinds.
func (k ElevatorKind) Valid() bool {
	for _, v := range ElevatorKinds {
		if k == v {
			return true
		}
	}
	return false
}

// ElevatorStatus says whether the elevator carries passengers.
type ElevatorStatus string

const (
	InService    ElevatorStatus = "in_service"
	OutOfService ElevatorStatus = "out_of_service"
)

// Elevator is one registered piece of equipment with the codes a caller or a terminal names it by.
type Elevator struct {
	ID int64 `json:"id"`
	// RescueCode is the short number on the sign in the car (救援识别码) that callers read out.
	RescueCode string `json:"rescue_code"`
	// EquipmentCode is the 20-digit registration code of the equipment (设备代码).
	EquipmentCode string       `json:"equipment_code"`
	Address       string       `json:"address"`
	Building      string       `json:"building"`
	District      string       `json:"district"`
	Lat           float64      `json:"lat"`
	Lon           float64      `json:"lon"`
	Kind          ElevatorKind `json:"kind"`
	Floors        int          `json:"floors"`
	Manufacturer  string       `json:"manufacturer"`
	Model         string       `json:"model"`
	InstalledOn   Date         `json:"installed_on"`
	UserUnitID    int64        `json:"user_unit_id"`
	// MaintenanceUnitID is the contracted maintenance company.
	MaintenanceUnitID    int64          `json:"maintenance_unit_id"`
	LastMaintainedAt     *time.Time     `json:"last_maintained_at"`
	InspectionValidUntil Date           `json:"inspection_valid_until"`
	Status               ElevatorStatus `json:"status"`
	CreatedAt            time.Time      `json:"created_at"`
	UpdatedAt            time.Time      `json:"updated_at"`
}

// Validate normalises the elevator's text and checks its fields. References to organisations and
// districts are checked by the store, which knows what exists.
func (e *Elevator) Validate() error {
	var p problems
	e.RescueCode = strings.TrimSpace(e.RescueCode)
	e.EquipmentCode = strings.TrimSpace(e.EquipmentCode)
	e.Address = strings.TrimSpace(e.Address)
	e.Building = strings.TrimSpace(e.Building)
	e.District = strings.TrimSpace(e.District)
	e.Manufacturer = strings.TrimSpace(e.Manufacturer)
	e.Model = strings.TrimSpace(e.Model)
	if !IsRescueCode(e.RescueCode) {
		p.add("rescue_code", "must be %d to %d digits", RescueCodeMinLen, RescueCodeMaxLen)
	}
	if !IsEquipmentCode(e.EquipmentCode) {
		p.add("equipment_code", "must be exactly 20 digits")
	}
	checkText(&p, "address", e.Address, true, 500)
	checkText(&p, "building", e.Building, false, 200)
	checkDistrict(&p, e.District)
	checkPosition(&p, e.Lat, e.Lon)
	if !e.Kind.Valid() {
		p.add("kind", "must be one of traction, hydraulic, positive_drive, escalator, moving_walk, dumbwaiter")
	}
	if e.Floors < 0 || e.Floors > 300 {
		p.add("floors", "must be between 0 and 300")
	}
	checkText(&p, "manufacturer", e.Manufacturer, false, 200)
	checkText(&p, "model", e.Model, false, 200)
	if e.UserUnitID <= 0 {
		p.add("user_unit_id", "is required")
	}
	if e.MaintenanceUnitID <= 0 {
		p.add("maintenance_unit_id", "is required")
	}
	if e.Status == "" {
		e.Status = InService
	}
	if e.Status != InService && e.Status != OutOfService {
		p.add("status", "must be in_service or out_of_service")
	}
	if !e.InstalledOn.IsZero() && (e.InstalledOn.Year < 1900 || e.InstalledOn.Year > 2200) {
		p.add("installed_on", "year out of range")
	}
	if e.LastMaintainedAt != nil {
		t := e.LastMaintainedAt.UTC().Truncate(time.Microsecond)
		e.LastMaintainedAt = &t
	}
	return p.err("elevator")
}

// Team is a rescue crew of an organisation: the people who go out, with their certificates.
type Team struct {
	ID             int64  `json:"id"`
	OrganizationID int64  `json:"organization_id"`
	Name           string `json:"name"`
	DutyPhone      string `json:"duty_phone"`
	// CertifiedStaff counts members holding the elevator operation certificate (电梯作业证); a team
	// with none is not qualified for tier-2 dispatch.
	CertifiedStaff int       `json:"certified_staff"`
	OnDuty         bool      `json:"on_duty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Validate normalises the team's text and checks its fields.
func (t *Team) Validate() error {
	var p problems
	t.Name = strings.TrimSpace(t.Name)
	t.DutyPhone = strings.TrimSpace(t.DutyPhone)
	if t.OrganizationID <= 0 {
		p.add("organization_id", "is required")
	}
	checkText(&p, "name", t.Name, true, 200)
	if t.DutyPhone != "" {
		checkPhone(&p, "duty_phone", t.DutyPhone)
	}
	if t.CertifiedStaff < 0 || t.CertifiedStaff > 1000 {
		p.add("certified_staff", "must be between 0 and 1000")
	}
	return p.err("team")
}

// Vehicle is a rescue vehicle of a team, tracked by the GPS device fitted to it.
type Vehicle struct {
	ID     int64 `json:"id"`
	TeamID int64 `json:"team_id"`
	// OrganizationID is the team's organisation; it is derived, and ignored on writes.
	OrganizationID int64  `json:"organization_id"`
	Plate          string `json:"plate"`
	// DeviceID is the tracker's identifier (a JT/T 808 terminal phone number or an OsmAnd id);
	// empty while no tracker is fitted.
	DeviceID string `json:"device_id"`
	// DeviceSecret proves a fix comes from the tracker: the token an HTTP tracker sends, the auth
	// code a JT/T 808 terminal receives when it registers and sends when it authenticates. The
	// store makes one up when a tracker is fitted without one; it stays when the vehicle is
	// replaced with an empty secret and the same device id.
	DeviceSecret string    `json:"device_secret"`
	OnDuty       bool      `json:"on_duty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Validate normalises the vehicle's text and checks its fields.
func (v *Vehicle) Validate() error {
	var p problems
	v.Plate = strings.TrimSpace(v.Plate)
	v.DeviceID = strings.TrimSpace(v.DeviceID)
	if v.TeamID <= 0 {
		p.add("team_id", "is required")
	}
	checkText(&p, "plate", v.Plate, true, 16)
	if len(v.DeviceID) > 64 || !printableASCII(v.DeviceID) {
		p.add("device_id", "must be at most 64 printable ASCII characters without spaces")
	}
	v.DeviceSecret = strings.TrimSpace(v.DeviceSecret)
	switch {
	case v.DeviceSecret == "":
	case v.DeviceID == "":
		p.add("device_secret", "needs a device_id: it is the secret of the tracker fitted")
	case len(v.DeviceSecret) < MinDeviceSecret || len(v.DeviceSecret) > MaxDeviceSecret || !printableASCII(v.DeviceSecret):
		p.add("device_secret", "must be %d to %d printable ASCII characters without spaces", MinDeviceSecret, MaxDeviceSecret)
	}
	return p.err("vehicle")
}

// Device secrets are short enough for a tracker's settings screen and a JT/T 808 auth code, long
// enough not to be guessed (the ones the store makes up are 16 hex digits, 64 bits).
const (
	MinDeviceSecret = 6
	MaxDeviceSecret = 64
)

// NewDeviceSecret returns a random device secret of 16 lowercase hex digits.
func NewDeviceSecret() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on the systems Go supports
	}
	return hex.EncodeToString(b[:])
}

func printableASCII(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' }) < 0
}

// Rescue codes on the signs in Chinese cities are 5 or 6 digits; a little room either side lets
// other cities use the system.
const (
	RescueCodeMinLen = 4
	RescueCodeMaxLen = 8
)

// IsRescueCode reports whether s has the shape of a rescue code.
func IsRescueCode(s string) bool { return isDigits(s, RescueCodeMinLen, RescueCodeMaxLen) }

// IsEquipmentCode reports whether s has the shape of a 20-digit equipment code.
func IsEquipmentCode(s string) bool { return isDigits(s, 20, 20) }

// CheckLonLat returns why a WGS-84 position is unusable, or "" when it is fine. 0,0 is refused
// because it is what a broken GPS or an empty spreadsheet cell produces, never a real elevator.
func CheckLonLat(lon, lat float64) string {
	switch {
	case math.IsNaN(lat) || math.IsNaN(lon) || math.IsInf(lat, 0) || math.IsInf(lon, 0):
		return "coordinates must be finite numbers"
	case lat < -90 || lat > 90:
		return "latitude must be between -90 and 90"
	case lon < -180 || lon > 180:
		return "longitude must be between -180 and 180"
	case lat == 0 && lon == 0:
		return "0,0 is not a real position (missing coordinates?)"
	}
	return ""
}

func checkPosition(p *problems, lat, lon float64) {
	if r := CheckLonLat(lon, lat); r != "" {
		field := "lat"
		if !math.IsNaN(lat) && lat >= -90 && lat <= 90 && lat != 0 {
			field = "lon"
		}
		p.add(field, "%s", r)
	}
}

func checkDistrict(p *problems, code string) {
	if !isDigits(code, 6, 6) {
		p.add("district", "must be a 6-digit district code")
	}
}

func checkText(p *problems, field, s string, required bool, max int) {
	switch {
	case required && s == "":
		p.add(field, "is required")
	case !utf8.ValidString(s):
		p.add(field, "is not valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		p.add(field, "is longer than %d characters", max)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		p.add(field, "contains control characters")
	}
}

func checkPhone(p *problems, field, s string) {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' || r == '-' || r == ' ' || r == '(' || r == ')':
		default:
			p.add(field, "%q is not a phone number", s)
			return
		}
	}
	if digits < 3 || digits > 20 {
		p.add(field, "%q is not a phone number", s)
	}
}

func isDigits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// UnitKindProblem says why an organisation cannot serve as an elevator's unit of the wanted kind,
// or "" when it can. Both stores word their errors with it.
func UnitKindProblem(exists bool, got, want OrgKind) string {
	switch {
	case !exists:
		return "does not exist"
	case got != want:
		return fmt.Sprintf("is a %s, not a %s", got, want)
	}
	return ""
}

// CodeTaken is the ECONFLICT error for a rescue or equipment code that another elevator holds.
func CodeTaken(field, code string, holder int64) *Error {
	return Taken("elevator", field, code, holder)
}

// Taken is the ECONFLICT error for a unique value (a code, a plate, a device id) that another
// record of the same kind holds.
func Taken(what, field, value string, holder int64) *Error {
	name := strings.ReplaceAll(field, "_", " ")
	return &Error{
		Code:    ECONFLICT,
		Message: fmt.Sprintf("%s %s is already used by %s %d", name, value, what, holder),
		Details: []Detail{{Field: field, Value: value, Reason: fmt.Sprintf("already used by %s %d", what, holder)}},
	}
}
