package liftrescue

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// MarshalJSON writes the elevator as encoding/json would from its struct tags.
func (e *Elevator) MarshalJSON() ([]byte, error) { return e.AppendJSON(make([]byte, 0, 640)), nil }

// AppendJSON appends the elevator's JSON to b exactly as encoding/json would write it from the
// struct tags, but without reflection: a map view lists a thousand elevators at a time, and the
// generic encoder spent more time on them than the database did (it also re-validates whatever a
// MarshalJSON returns). TestElevatorJSONMatchesReflection holds the two to the same bytes.
func (e *Elevator) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, e.ID, 10)
	b = appendStringField(b, "rescue_code", e.RescueCode)
	b = appendStringField(b, "equipment_code", e.EquipmentCode)
	b = appendStringField(b, "address", e.Address)
	b = appendStringField(b, "building", e.Building)
	b = appendStringField(b, "district", e.District)
	b = append(b, `,"lat":`...)
	b = appendFloat(b, e.Lat)
	b = append(b, `,"lon":`...)
	b = appendFloat(b, e.Lon)
	b = appendStringField(b, "kind", string(e.Kind))
	b = append(b, `,"floors":`...)
	b = strconv.AppendInt(b, int64(e.Floors), 10)
	b = appendStringField(b, "manufacturer", e.Manufacturer)
	b = appendStringField(b, "model", e.Model)
	b = append(b, `,"installed_on":`...)
	b = appendDate(b, e.InstalledOn)
	b = append(b, `,"user_unit_id":`...)
	b = strconv.AppendInt(b, e.UserUnitID, 10)
	b = append(b, `,"maintenance_unit_id":`...)
	b = strconv.AppendInt(b, e.MaintenanceUnitID, 10)
	b = append(b, `,"last_maintained_at":`...)
	if e.LastMaintainedAt == nil {
		b = append(b, "null"...)
	} else {
		b = appendTime(b, *e.LastMaintainedAt)
	}
	b = append(b, `,"inspection_valid_until":`...)
	b = appendDate(b, e.InspectionValidUntil)
	b = appendStringField(b, "status", string(e.Status))
	b = append(b, `,"created_at":`...)
	b = appendTime(b, e.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, e.UpdatedAt)
	return append(b, '}')
}

func appendStringField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, value)
}

func appendDate(b []byte, d Date) []byte {
	if d.IsZero() {
		return append(b, "null"...)
	}
	return d.appendQuoted(b)
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendFloat formats as encoding/json does: the shortest representation, exponent form only for
// very small or very large magnitudes.
func appendFloat(b []byte, f float64) []byte {
	abs := f
	if abs < 0 {
		abs = -abs
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does by default: HTML-safe (<, >, & escaped), U+2028
// and U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
