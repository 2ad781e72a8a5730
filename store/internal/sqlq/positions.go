package sqlq

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/liftrescue/liftrescue"
)

// CheckPositions returns the EINVALID error of a batch that no database could store alike: a
// position that is not a real place (SQLite would turn a NaN into NULL, PostgreSQL would keep it)
// or an alarm that is not text PostgreSQL accepts. The details name each bad position by index.
func CheckPositions(ps []liftrescue.Position) error {
	var bad []liftrescue.Detail
	for i := range ps {
		p := &ps[i]
		if r := liftrescue.CheckLonLat(p.Lon, p.Lat); r != "" {
			bad = append(bad, liftrescue.Detail{Index: new(i), Field: "lat", Reason: r})
		}
		if !utf8.ValidString(p.Alarm) || strings.IndexByte(p.Alarm, 0) >= 0 {
			bad = append(bad, liftrescue.Detail{Index: new(i), Field: "alarm", Reason: "contains a NUL character or bytes that are not UTF-8"})
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &liftrescue.Error{Code: liftrescue.EINVALID, Details: bad,
		Message: fmt.Sprintf("position %d: %s: %s%s; nothing was stored", *bad[0].Index, bad[0].Field, bad[0].Reason, more(len(bad)))}
}

// VehicleIDs returns the distinct vehicles that a batch names, in ascending order.
func VehicleIDs(ps []liftrescue.Position) []int64 {
	ids := make([]int64, len(ps))
	for i := range ps {
		ids[i] = ps[i].VehicleID
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// NoVehicle is the EINVALID error of a batch in which positions name vehicles that do not exist,
// with a detail for each such position, by index. It returns nil when missing is empty.
func NoVehicle(ps []liftrescue.Position, missing []int64) error {
	if len(missing) == 0 {
		return nil
	}
	var bad []liftrescue.Detail
	for i := range ps {
		if id := ps[i].VehicleID; slices.Contains(missing, id) {
			bad = append(bad, liftrescue.Detail{Index: new(i), Field: "vehicle_id", Value: strconv.FormatInt(id, 10), Reason: "no vehicle has this id"})
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &liftrescue.Error{Code: liftrescue.EINVALID, Details: bad,
		Message: fmt.Sprintf("position %d: no vehicle has the id %s%s; nothing was stored", *bad[0].Index, bad[0].Value, more(len(bad)))}
}

func more(problems int) string {
	if problems > 1 {
		return fmt.Sprintf(" (and %d more)", problems-1)
	}
	return ""
}

// TrackLimit checks the range and the limit of a track and returns the limit to apply: 0 means
// liftrescue.MaxTrackPoints.
func TrackLimit(from, to time.Time, limit int) (int, error) {
	if to.Before(from) {
		return 0, liftrescue.Invalid("to", "must not be before from")
	}
	switch {
	case limit == 0:
		return liftrescue.MaxTrackPoints, nil
	case limit < 0 || limit > liftrescue.MaxTrackPoints:
		return 0, liftrescue.Invalid("limit", "must be between 1 and "+strconv.Itoa(liftrescue.MaxTrackPoints))
	}
	return limit, nil
}

// NoSuchVehicle is the ENOTFOUND of a track of a vehicle that does not exist.
func NoSuchVehicle(id int64) error {
	return liftrescue.Errorf(liftrescue.ENOTFOUND, "no vehicle has the id %d", id)
}
