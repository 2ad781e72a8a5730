package csvimport

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
)

// Options say how to read the values of a file.
type Options struct {
	// Location is the time zone of times written without an offset ("2024-03-01 09:30"); nil
	// means Asia/Shanghai.
	Location *time.Location
	// CRS is the datum of the lat and lon columns: "" or "wgs84", or "gcj02" for coordinates
	// copied from AMap or Tencent Maps, which are converted to WGS-84 as they are read.
	CRS string
}

// settings are Options checked and with defaults filled in.
type settings struct {
	location *time.Location
	gcj02    bool
}

func (o Options) settings() (settings, error) {
	s := settings{location: o.Location}
	if s.location == nil {
		s.location = chinaStandardTime()
	}
	switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(o.CRS)), "-", "") {
	case "", "wgs84":
	case "gcj02":
		s.gcj02 = true
	default:
		return settings{}, liftrescue.Invalid("crs", `must be "wgs84" or "gcj02"`)
	}
	return s, nil
}

// toWGS84 converts a position read from the file to WGS-84.
func (s settings) toWGS84(lon, lat float64) (float64, float64) {
	if s.gcj02 {
		return geo.GCJ02ToWGS84(lon, lat)
	}
	return lon, lat
}

// chinaStandardTime is Asia/Shanghai from the system's time zone database or, where there is none
// (a scratch container), UTC+8. The fallback is exact for any date a registry holds, since China
// has kept no daylight saving time since 1991, and spares every binary the 450 kB of time/tzdata.
var chinaStandardTime = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*60*60)
	}
	return loc
})

func parseFloat(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, errors.New("is not a number")
	}
	return f, nil
}

func parseOptionalFloat(s string) (*float64, error) {
	f, err := parseFloat(s)
	if err != nil {
		return nil, err
	}
	return &f, nil
}

func parseInt(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errors.New("is not a whole number")
	}
	return n, nil
}

// dateLayouts are the ways Excel writes a date in Chinese locales, and ISO 8601. Go's "1" and "2"
// take one or two digits, so 2021-06-30 and 2021/6/3 both parse.
var dateLayouts = []string{"2006-1-2", "2006/1/2", "2006.1.2", "2006年1月2日"}

func parseDate(s string) (liftrescue.Date, error) {
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return liftrescue.DateOf(t), nil
		}
	}
	return liftrescue.Date{}, errors.New("is not a date like 2021-06-30 or 2021/6/30")
}

// localTimeLayouts are times without an offset, read in Options.Location. A bare date means the
// start of that day: maintenance logs often keep only the day.
var localTimeLayouts = append([]string{
	"2006-1-2 15:04", "2006-1-2 15:04:05", "2006/1/2 15:04", "2006/1/2 15:04:05",
	"2006-1-2T15:04", "2006-1-2T15:04:05",
}, dateLayouts...)

// parseTime reads an RFC 3339 time, or a local time in the settings' location, and returns it
// in UTC.
func (set settings) parseTime(s string) (*time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	for _, layout := range localTimeLayouts {
		if err == nil {
			break
		}
		t, err = time.ParseInLocation(layout, s, set.location)
	}
	if err != nil {
		return nil, fmt.Errorf("is not a time like 2024-03-01 09:30 (%s) or 2024-03-01T01:30:00Z", set.location)
	}
	// Beyond these years a time is a typing error, and RFC 3339 could not write it back.
	if t.Year() < 1900 || t.Year() > 2200 {
		return nil, errors.New("year out of range")
	}
	t = t.UTC()
	return &t, nil
}

// wordValue maps a word found in a Chinese value to what it means.
type wordValue[T any] struct {
	word  string
	value T
}

// parseEnum reads a value by its English name, or by the first word of words that it contains:
// registries spell the same kind many ways (曳引驱动乘客电梯, 曳引式客梯, 曳引), and the
// distinguishing word is what they share.
func parseEnum[T ~string](s string, valid func(T) bool, words []wordValue[T], reason string) (T, error) {
	if v := T(normalizeWord(s)); valid(v) {
		return v, nil
	}
	for _, w := range words {
		if strings.Contains(s, w.word) {
			return w.value, nil
		}
	}
	return "", errors.New(reason)
}

// elevatorKindWords are checked in order, so that a longer name wins over a word it contains.
// The registries name kinds by the categories of the special equipment catalogue (特种设备目录,
// 2014): 3100 曳引与强制驱动电梯 (3110 and 3120 traction, 3130 强制驱动载货电梯), 3200 液压驱动电梯,
// 3300 自动扶梯与自动人行道 (3310, 3320) and 3400 其他类型电梯 (3410 防爆电梯, 3420 消防员电梯,
// 3430 杂物电梯). The two family names come first: they name two kinds, and the equipment code
// says which (see parseElevatorKind).
var elevatorKindWords = []wordValue[liftrescue.ElevatorKind]{
	{"曳引与强制", kindTractionFamily},
	{"自动扶梯与自动人行道", kindEscalatorFamily},
	{"自动人行道", liftrescue.KindMovingWalk},
	{"自动扶梯", liftrescue.KindEscalator},
	{"人行道", liftrescue.KindMovingWalk},
	{"扶梯", kindEscalatorFamily}, // said of moving walks too
	{"杂物", liftrescue.KindDumbwaiter},
	{"液压", liftrescue.KindHydraulic},
	// Explosion-proof and firefighters' lifts are traction lifts built for their use.
	{"防爆", liftrescue.KindTraction},
	{"消防员", liftrescue.KindTraction},
	{"强制", liftrescue.KindPositiveDrive},
	{"曳引", liftrescue.KindTraction},
}

// The kinds of the two family names, which the equipment code settles.
const (
	kindTractionFamily  liftrescue.ElevatorKind = "曳引与强制驱动电梯"
	kindEscalatorFamily liftrescue.ElevatorKind = "自动扶梯与自动人行道"
)

// kindOfCategory is the kind that the category of an equipment code (its first four digits)
// names, or "" when the category names none: 31x0 is a traction lift but for 3130 (positive
// drive), 32x0 hydraulic, 3310 escalator, 3320 moving walk, 3430 dumbwaiter. 3410 and 3420
// name a use, not a drive, so they tell nothing.
func kindOfCategory(equipmentCode string) liftrescue.ElevatorKind {
	if !liftrescue.IsEquipmentCode(equipmentCode) {
		return ""
	}
	switch category := equipmentCode[:4]; {
	case category == "3130":
		return liftrescue.KindPositiveDrive
	case category[:2] == "31" && category[3] == '0':
		return liftrescue.KindTraction
	case category[:2] == "32":
		return liftrescue.KindHydraulic
	case category == "3310":
		return liftrescue.KindEscalator
	case category == "3320":
		return liftrescue.KindMovingWalk
	case category == "3430":
		return liftrescue.KindDumbwaiter
	}
	return ""
}

// parseElevatorKind reads the kind cell of a row whose equipment code is equipmentCode.
//
// The kind column stays required, and a kind the cell names is taken as it is even when the
// code's category says otherwise: the code is read only where the cell leaves the kind open. That
// is a family name (曳引与强制驱动电梯 is traction unless the category is 3130;
// 自动扶梯与自动人行道 is an escalator unless it is 3320) or a word for any lift (电梯, 载货电梯,
// 其他类型电梯) that the category settles; with no category to settle it, such a word is an error.
// An empty cell is not filled from the code: a file without kinds is more likely a wrong column
// than a registry that trusts its codes.
func parseElevatorKind(s, equipmentCode string) (liftrescue.ElevatorKind, error) {
	kind, err := parseEnum(s, liftrescue.ElevatorKind.Valid, elevatorKindWords,
		"must be traction, hydraulic, positive_drive, escalator, moving_walk or dumbwaiter, or a Chinese kind such as 曳引驱动乘客电梯")
	byCode := kindOfCategory(equipmentCode)
	switch {
	case kind == kindTractionFamily && byCode == liftrescue.KindPositiveDrive:
		return liftrescue.KindPositiveDrive, nil
	case kind == kindTractionFamily:
		return liftrescue.KindTraction, nil
	case kind == kindEscalatorFamily && byCode == liftrescue.KindMovingWalk:
		return liftrescue.KindMovingWalk, nil
	case kind == kindEscalatorFamily:
		return liftrescue.KindEscalator, nil
	case err == nil:
		return kind, nil
	case strings.Contains(s, "梯") && byCode != "":
		return byCode, nil
	case strings.Contains(s, "梯"):
		return "", errors.New("does not say which kind of lift, and the equipment code's category does not either; " +
			"write traction, hydraulic, positive_drive, escalator, moving_walk or dumbwaiter, or a Chinese kind such as 曳引驱动乘客电梯")
	}
	return "", err
}

// orgKindWords are checked in order: 消防救援站 is a fire station, not a volunteer rescue unit.
var orgKindWords = []wordValue[liftrescue.OrgKind]{
	{"消防", liftrescue.OrgFire},
	{"监管", liftrescue.OrgRegulator},
	{"监察", liftrescue.OrgRegulator},
	{"市场监督", liftrescue.OrgRegulator},
	{"维保", liftrescue.OrgMaintenance},
	{"维护保养", liftrescue.OrgMaintenance},
	{"使用单位", liftrescue.OrgUserUnit},
	{"物业", liftrescue.OrgUserUnit},
	{"救援", liftrescue.OrgVolunteer},
}

func parseOrgKind(s string) (liftrescue.OrgKind, error) {
	return parseEnum(s, liftrescue.OrgKind.Valid, orgKindWords,
		"must be user_unit, maintenance, volunteer, fire or regulator, or a Chinese kind such as 维保单位")
}

var statusWords = []wordValue[liftrescue.ElevatorStatus]{
	{"在用", liftrescue.InService},
	{"停用", liftrescue.OutOfService},
	{"报停", liftrescue.OutOfService},
	{"停止使用", liftrescue.OutOfService},
}

func parseStatus(s string) (liftrescue.ElevatorStatus, error) {
	valid := func(v liftrescue.ElevatorStatus) bool {
		return v == liftrescue.InService || v == liftrescue.OutOfService
	}
	return parseEnum(s, valid, statusWords, "must be in_service or out_of_service (在用 or 停用)")
}

// splitList splits a cell that holds several values, such as duty phones, on the separators
// people type between them, dropping empty parts.
func splitList(s string) []string {
	parts := strings.FieldsFunc(s, func(r rune) bool {
		return r == ';' || r == '；' || r == '/' || r == '、'
	})
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// joinList writes a list for splitList to read.
func joinList(values []string) string { return strings.Join(values, ";") }
