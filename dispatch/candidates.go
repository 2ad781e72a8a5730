package dispatch

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
)

// nearbyExcluded bounds how many of the volunteer vehicles nearest the elevator a ranking looks at
// beyond the candidates it needs, and so how many excluded ones it can list with their reasons.
const nearbyExcluded = 50

// rank lists the volunteer vehicles qualified for the incident's elevator, by ETA, and the nearby
// ones left out with why. Qualified: a volunteer unit's vehicle, it and its team on duty, the team
// certified, not on another incident, not already asked on this one, with a live position.
func (e *Engine) rank(inc *liftrescue.Incident, now time.Time, limit int) *liftrescue.Candidates {
	r := e.roster.Load()
	lon, lat := inc.Elevator.Lon, inc.Elevator.Lat
	out := &liftrescue.Candidates{IncidentID: inc.ID, Candidates: []liftrescue.Candidate{}, Excluded: []liftrescue.ExcludedUnit{}}
	volunteer := func(st geo.VehicleState) bool {
		rv := r.vehicles[st.ID]
		return rv != nil && rv.org != nil && rv.org.Kind == liftrescue.OrgVolunteer
	}
	asked, declinedOrg := map[int64]bool{}, map[int64]bool{}
	for _, a := range inc.Assignments {
		if a.Unit.VehicleID != 0 {
			asked[a.Unit.VehicleID] = true
		}
		if liftrescue.OrgDeclined(&a) {
			declinedOrg[a.Unit.OrganizationID] = true
		}
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	// why says why a volunteer vehicle is not a candidate, "" when it is one. It runs for every
	// vehicle a search meets, the whole fleet at worst (when most are busy): it makes no garbage.
	why := func(st *geo.VehicleState, rv *rosterVehicle) string {
		switch busy := e.busy[st.ID]; {
		case asked[st.ID] || declinedOrg[rv.org.ID]:
			return liftrescue.ExcludedAlreadyAsked
		case !rv.vehicle.OnDuty || !rv.team.OnDuty:
			return liftrescue.ExcludedOffDuty
		case rv.team.CertifiedStaff == 0:
			return liftrescue.ExcludedNotCertified
		case busy != 0 && busy != inc.ID:
			return liftrescue.ExcludedBusy
		}
		switch e.cfg.Liveness.Status(st.Time, now) {
		case liftrescue.StatusOffline:
			return liftrescue.ExcludedOffline
		case liftrescue.StatusLive:
			return ""
		}
		return liftrescue.ExcludedStale
	}
	// detail says more about an exclusion that is listed.
	detail := func(st *geo.VehicleState, rv *rosterVehicle, reason string) string {
		switch reason {
		case liftrescue.ExcludedNotCertified:
			return "no certified staff in team " + rv.team.Name
		case liftrescue.ExcludedBusy:
			return fmt.Sprintf("on incident %d", e.busy[st.ID])
		case liftrescue.ExcludedOffline:
			return fmt.Sprintf("last fix %.0f min ago", now.Sub(st.Time).Minutes())
		case liftrescue.ExcludedStale:
			return fmt.Sprintf("last fix %.0f s ago", now.Sub(st.Time).Seconds())
		}
		return ""
	}
	seen := map[int64]bool{}
	grid := inc.Grid
	consider := func(nbrs []geo.Neighbor, listExcluded bool) {
		for _, n := range nbrs {
			st, ok := e.cfg.Index.Vehicle(n.ID)
			rv := r.vehicles[n.ID]
			if !ok || rv == nil || seen[n.ID] {
				continue
			}
			seen[n.ID] = true
			reason := why(&st, rv)
			if reason != "" && (!listExcluded || len(out.Excluded) >= nearbyExcluded) {
				continue
			}
			u := rv.unit()
			d := math.Round(n.DistanceM)
			u.DistanceM = &d
			if reason != "" {
				out.Excluded = append(out.Excluded, liftrescue.ExcludedUnit{Unit: u, Reason: reason, Detail: detail(&st, rv, reason)})
				continue
			}
			eta := math.Round(e.cfg.ETA.ETA(st.Lon, st.Lat, lon, lat).Seconds())
			u.ETAS = &eta
			c := liftrescue.Candidate{Unit: u, Status: liftrescue.StatusLive,
				PositionAgeS: math.Round(max(0, now.Sub(st.Time).Seconds())*10) / 10}
			if grid != nil && slices.Contains(grid.Units, rv.org.ID) {
				c.Grid, c.InGrid = grid.Name, true
			}
			out.Candidates = append(out.Candidates, c)
		}
	}
	if grid != nil {
		// The grid's own units first, wherever their vehicles are: they are the ones on call for
		// it, and the nearest search below may not reach them.
		var own []geo.Neighbor
		for _, org := range grid.Units {
			for _, id := range r.byOrg[org] {
				if st, ok := e.cfg.Index.Vehicle(id); ok {
					own = append(own, geo.Neighbor{ID: id, DistanceM: geo.DistanceM(st.Lon, st.Lat, lon, lat)})
				}
			}
		}
		slices.SortFunc(own, func(a, b geo.Neighbor) int { return cmp.Compare(a.DistanceM, b.DistanceM) })
		consider(own, true)
	}
	nbrs := e.cfg.Index.NearestVehicles(lon, lat, limit+nearbyExcluded, volunteer)
	consider(nbrs, true)
	if len(out.Candidates) < limit && len(nbrs) == limit+nearbyExcluded {
		// Many near ones are left out: look further, for qualified ones only.
		consider(e.fartherFree(r, inc, lon, lat, now), false)
	}
	// The grid's units first, then the neighbours', each by ETA.
	slices.SortStableFunc(out.Candidates, func(a, b liftrescue.Candidate) int {
		return cmp.Or(-cmp.Compare(boolInt(a.InGrid), boolInt(b.InGrid)), cmp.Compare(*a.ETAS, *b.ETAS))
	})
	if len(out.Candidates) > limit {
		out.Candidates = out.Candidates[:limit]
	}
	return out
}

// freeVans is the whole list of free, qualified, live vehicles when a search found fewer than
// exhaustedBelow of them: the city has run out, and until a vehicle is freed (or a second passes,
// in which a silent one may report again) later steps look at these instead of the fleet.
type freeVans struct {
	at    time.Time
	freed uint64
	ids   []int64
}

const exhaustedBelow = 64

// fartherFree returns the nearest free, qualified, live vehicles beyond the first look, nearest
// first. When the city has run out of them, that search meets every vehicle for every step (a
// storm of escalations, the moment it matters most): the memo makes it meet only the few left.
// Its callers hold e.mu.
func (e *Engine) fartherFree(r *roster, inc *liftrescue.Incident, lon, lat float64, now time.Time) []geo.Neighbor {
	free := func(id int64, t time.Time) bool {
		rv := r.vehicles[id]
		if rv == nil || !rv.qualified {
			return false
		}
		if busy := e.busy[id]; busy != 0 && busy != inc.ID {
			return false
		}
		return e.cfg.Liveness.Status(t, now) == liftrescue.StatusLive
	}
	freed := e.freed.Load()
	if m := e.exhausted.Load(); m != nil && m.freed == freed && now.Sub(m.at) >= 0 && now.Sub(m.at) < time.Second {
		var out []geo.Neighbor
		for _, id := range m.ids {
			if st, ok := e.cfg.Index.Vehicle(id); ok && free(id, st.Time) {
				out = append(out, geo.Neighbor{ID: id, DistanceM: geo.DistanceM(st.Lon, st.Lat, lon, lat)})
			}
		}
		slices.SortFunc(out, func(a, b geo.Neighbor) int { return cmp.Compare(a.DistanceM, b.DistanceM) })
		return out
	}
	out := e.cfg.Index.NearestVehicles(lon, lat, exhaustedBelow, func(st geo.VehicleState) bool { return free(st.ID, st.Time) })
	if len(out) < exhaustedBelow {
		ids := make([]int64, len(out))
		for i, n := range out {
			ids[i] = n.ID
		}
		e.exhausted.Store(&freeVans{at: now, freed: freed, ids: ids})
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// fireStation returns the fire station for the elevator: its rescue grid's designated one, else
// the nearest one with a known base, else the first one registered in the elevator's district,
// else any; nil when none is registered.
func (e *Engine) fireStation(inc *liftrescue.Incident) *liftrescue.Unit {
	r := e.roster.Load()
	distance := func(o *liftrescue.Organization) float64 {
		switch {
		case o.Lat != nil:
			return geo.DistanceM(*o.Lon, *o.Lat, inc.Elevator.Lon, inc.Elevator.Lat)
		case o.District == inc.District:
			return math.MaxFloat64 / 2
		}
		return math.Inf(1)
	}
	var best *liftrescue.Organization
	bestD := math.Inf(1)
	for _, o := range r.fire {
		if inc.Grid != nil && o.ID == inc.Grid.FireStation {
			best, bestD = o, distance(o)
			break
		}
		if d := distance(o); best == nil || d < bestD {
			best, bestD = o, d
		}
	}
	if best == nil {
		return nil
	}
	u := orgUnit(best)
	if !math.IsInf(bestD, 1) && bestD < math.MaxFloat64/4 {
		d := math.Round(bestD)
		u.DistanceM = &d
		eta := math.Round(e.cfg.ETA.ETA(*best.Lon, *best.Lat, inc.Elevator.Lon, inc.Elevator.Lat).Seconds())
		u.ETAS = &eta
	}
	return &u
}
