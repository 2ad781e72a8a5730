package liftrescue

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// Date is a calendar day without a time zone: an installation date or the day an inspection stays
// valid until. The zero Date means "not known" and is written as JSON null.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the calendar day of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate reads an ISO 8601 calendar date (2006-01-02). It parses by hand because lists of
// elevators read two dates a row.
func ParseDate(s string) (Date, error) {
	y, okY := digits(s, 0, 4)
	m, okM := digits(s, 5, 2)
	d, okD := digits(s, 8, 2)
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !okY || !okM || !okD || m < 1 || m > 12 || d < 1 ||
		time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Day() != d {
		return Date{}, fmt.Errorf("want a date like 2021-06-30, got %q", s)
	}
	return Date{y, time.Month(m), d}, nil
}

// digits reads the n decimal digits of s at i.
func digits(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// IsZero reports whether the date is absent.
func (d Date) IsZero() bool { return d == Date{} }

// String returns the date as 2006-01-02, or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// Time returns midnight UTC of the day.
func (d Date) Time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// Before reports whether d is an earlier day than o.
func (d Date) Before(o Date) bool { return d.Time().Before(o.Time()) }

func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return d.appendQuoted(make([]byte, 0, 12)), nil
}

// appendQuoted appends "2006-01-02" without fmt: lists of thousands of elevators carry two dates
// each.
func (d Date) appendQuoted(b []byte) []byte {
	pad := func(b []byte, n, width int) []byte {
		var digits [4]byte
		for i := width - 1; i >= 0; i-- {
			digits[i] = byte('0' + n%10)
			n /= 10
		}
		return append(b, digits[:width]...)
	}
	b = append(b, '"')
	b = pad(b, d.Year, 4)
	b = append(b, '-')
	b = pad(b, int(d.Month), 2)
	b = append(b, '-')
	b = pad(b, d.Day, 2)
	return append(b, '"')
}

// UnmarshalJSON reads "2006-01-02", null or "". Its errors are *json.UnmarshalTypeError so that
// the decoder names the field at fault.
func (d *Date) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: "non-string", Type: reflect.TypeFor[Date]()}
	}
	if s == nil || *s == "" {
		*d = Date{}
		return nil
	}
	v, err := ParseDate(*s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "string " + strconv.Quote(*s), Type: reflect.TypeFor[Date]()}
	}
	*d = v
	return nil
}
