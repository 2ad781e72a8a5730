package dispatch

import (
	"context"
	"slices"

	"github.com/liftrescue/liftrescue"
)

// NearMatch is an elevator whose rescue code is one slip away from a code that matched none.
type NearMatch struct {
	ElevatorID int64  `json:"elevator_id"`
	RescueCode string `json:"rescue_code"`
	Address    string `json:"address"`
	Building   string `json:"building"`
	District   string `json:"district"`
}

// maxNearMatches bounds the list a dispatcher reads out to a caller.
const maxNearMatches = 10

// nearMatches finds the elevators whose rescue code differs from code by one digit or by two
// neighbouring digits swapped — the slips callers make reading a sign in a dark car — those in the
// caller's district first. Equipment codes are read from paperwork, not in a stuck car: none.
func nearMatches(ctx context.Context, s liftrescue.ElevatorService, code, district string) ([]NearMatch, error) {
	out := []NearMatch{}
	if !liftrescue.IsRescueCode(code) {
		return out, nil
	}
	for _, c := range oneSlipAway(code) {
		e, err := s.FindElevatorByCode(ctx, c)
		switch {
		case liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND:
			continue
		case err != nil:
			return nil, err
		}
		out = append(out, NearMatch{ElevatorID: e.ID, RescueCode: e.RescueCode, Address: e.Address, Building: e.Building, District: e.District})
	}
	slices.SortStableFunc(out, func(a, b NearMatch) int {
		return boolRank(a.District == district) - boolRank(b.District == district)
	})
	if len(out) > maxNearMatches {
		out = out[:maxNearMatches]
	}
	return out, nil
}

func boolRank(first bool) int {
	if first {
		return 0
	}
	return 1
}

// oneSlipAway lists the codes of the same length one digit off, then those with two neighbouring
// digits swapped.
func oneSlipAway(code string) []string {
	var out []string
	b := []byte(code)
	for i := range b {
		orig := b[i]
		for d := byte('0'); d <= '9'; d++ {
			if d != orig {
				b[i] = d
				out = append(out, string(b))
			}
		}
		b[i] = orig
	}
	for i := 0; i+1 < len(b); i++ {
		if b[i] != b[i+1] {
			b[i], b[i+1] = b[i+1], b[i]
			out = append(out, string(b))
			b[i], b[i+1] = b[i+1], b[i]
		}
	}
	return out
}
