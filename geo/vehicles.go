package geo

import (
	"cmp"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb"
)

// VehicleState is where a vehicle is, as of its latest fix.
type VehicleState struct {
	ID       int64
	Lon, Lat float64
	Time     time.Time // when the device took the fix
	// SpeedKmh and Heading (degrees clockwise from north) are NaN when the device did not say.
	SpeedKmh float64
	Heading  float64
	Cell     Cell // at the index's resolution
}

// vehicleSlot is a vehicle's place in the index; the R-tree holds slot numbers, so that a query
// reaches a vehicle's state without a map lookup.
type vehicleSlot struct {
	VehicleState
	cos  float64  // cos of the latitude, for the haversine of every query that meets the vehicle
	disc cellDisc // inside the vehicle's cell, to know without H3 when a fix stays in it
	live bool
}

// placedCell is the cell of a fix's position with its disc, computed outside the lock.
type placedCell struct {
	cell Cell
	disc cellDisc
}

// MoveVehicle applies a fix to a vehicle, adding the vehicle on its first fix, and reports
// whether it did. A fix no newer than the vehicle's latest (fixes arrive out of order from
// trackers that buffer them while out of coverage) changes nothing: a vehicle never moves back in
// time. Nor does a fix whose position is not a real place; the ingest pipeline checks fixes with
// liftrescue.CheckFix before they get here. The fix's DeviceID is not looked at: the caller has
// mapped the device to the vehicle id.
func (ix *Index) MoveVehicle(id int64, f liftrescue.Fix) (moved bool) {
	if liftrescue.CheckLonLat(f.Lon, f.Lat) != "" {
		return false
	}
	cos := cosDeg(f.Lat)
	// Most fixes stay in the disc of the vehicle's cell, and the first attempt settles them. A
	// fix outside it, or a new vehicle, needs H3, which runs outside the lock, and a new disc if
	// the cell changed; the second attempt then checks everything again, since another fix may
	// have come in between.
	ix.vmu.Lock()
	moved, done := ix.moveLocked(id, &f, cos, nil)
	var last placedCell
	if slot, ok := ix.vehIDs[id]; !done && ok {
		last = placedCell{ix.vehSlots[slot].Cell, ix.vehSlots[slot].disc}
	}
	ix.vmu.Unlock()
	if done {
		return moved
	}
	pc := placedCell{cell: ix.cellOf(f.Lon, f.Lat)}
	if pc.cell == last.cell {
		pc.disc = last.disc
	} else {
		pc.disc = discOf(pc.cell)
	}
	ix.vmu.Lock()
	defer ix.vmu.Unlock()
	moved, _ = ix.moveLocked(id, &f, cos, &pc)
	return moved
}

// moveLocked applies a fix under the write lock. It is done unless it needs the cell of the fix's
// position and pc does not give it.
func (ix *Index) moveLocked(id int64, f *liftrescue.Fix, cos float64, pc *placedCell) (moved, done bool) {
	p := pt(f.Lon, f.Lat)
	slot, ok := ix.vehIDs[id]
	var s *vehicleSlot
	if ok {
		s = &ix.vehSlots[slot]
		if !f.Time.After(s.Time) {
			return false, true
		}
	}
	var cell Cell
	var disc cellDisc
	switch {
	case ok && s.disc.holds(f.Lon, f.Lat, cos):
		cell, disc = s.Cell, s.disc
	case pc != nil:
		cell, disc = pc.cell, pc.disc
	default:
		return false, false
	}
	if !ok {
		if n := len(ix.vehFree); n > 0 {
			slot, ix.vehFree = ix.vehFree[n-1], ix.vehFree[:n-1]
		} else {
			slot = int32(len(ix.vehSlots))
			ix.vehSlots = append(ix.vehSlots, vehicleSlot{})
		}
		ix.vehIDs[id] = slot
		ix.vehTree.Insert(p, p, slot)
	} else if s.Lon != f.Lon || s.Lat != f.Lat {
		ix.vehTree.Delete(pt(s.Lon, s.Lat), pt(s.Lon, s.Lat), slot)
		ix.vehTree.Insert(p, p, slot)
	}
	ix.vehSlots[slot] = vehicleSlot{
		VehicleState: VehicleState{ID: id, Lon: f.Lon, Lat: f.Lat, Time: f.Time, SpeedKmh: f.SpeedKmh, Heading: f.Heading, Cell: cell},
		cos:          cos,
		disc:         disc,
		live:         true,
	}
	return true, true
}

// RemoveVehicle takes a vehicle out of the index and reports whether it was there.
func (ix *Index) RemoveVehicle(id int64) bool {
	ix.vmu.Lock()
	defer ix.vmu.Unlock()
	slot, ok := ix.vehIDs[id]
	if !ok {
		return false
	}
	s := &ix.vehSlots[slot]
	ix.vehTree.Delete(pt(s.Lon, s.Lat), pt(s.Lon, s.Lat), slot)
	delete(ix.vehIDs, id)
	*s = vehicleSlot{}
	ix.vehFree = append(ix.vehFree, slot)
	return true
}

// Vehicle returns a vehicle's latest state.
func (ix *Index) Vehicle(id int64) (VehicleState, bool) {
	ix.vmu.RLock()
	defer ix.vmu.RUnlock()
	slot, ok := ix.vehIDs[id]
	if !ok {
		return VehicleState{}, false
	}
	return ix.vehSlots[slot].VehicleState, true
}

// VehicleCount returns the number of vehicles in the index.
func (ix *Index) VehicleCount() int {
	ix.vmu.RLock()
	defer ix.vmu.RUnlock()
	return len(ix.vehIDs)
}

// Vehicles returns the latest state of every vehicle, by ascending ID.
func (ix *Index) Vehicles() []VehicleState {
	ix.vmu.RLock()
	out := make([]VehicleState, 0, len(ix.vehIDs))
	for i := range ix.vehSlots {
		if ix.vehSlots[i].live {
			out = append(out, ix.vehSlots[i].VehicleState)
		}
	}
	ix.vmu.RUnlock()
	sortStates(out)
	return out
}

func sortStates(s []VehicleState) {
	slices.SortFunc(s, func(a, b VehicleState) int { return cmp.Compare(a.ID, b.ID) })
}

// NearestVehicles returns the k vehicles nearest to a position, by great-circle distance, among
// those pred accepts (nil accepts all), nearest first: fewer only when fewer qualify. pred may be
// asked about a vehicle more than once.
func (ix *Index) NearestVehicles(lon, lat float64, k int, pred func(VehicleState) bool) []Neighbor {
	if k <= 0 || liftrescue.CheckLonLat(lon, lat) != "" {
		return nil
	}
	q := newPoint(lon, lat)
	ix.vmu.RLock()
	defer ix.vmu.RUnlock()
	if k <= maxProbeK {
		r := ix.nearHint.radius()
		for range maxProbes {
			out, m := ix.probeNearest(&q, r, k, pred)
			if out != nil {
				ix.nearHint.learn(out[k-1].DistanceM)
				return out
			}
			// m qualified within r: k of them should need about √(k/m) times the radius.
			r *= min(max(1.3*math.Sqrt(float64(k+1)/(float64(m)+0.5)), 1.5), 4)
		}
	}
	out := ix.nearestBestFirst(&q, k, pred)
	if len(out) == k {
		ix.nearHint.learn(out[k-1].DistanceM)
	}
	return out
}

// A nearest query first probes circles with plain box searches: when a circle holds k qualified
// vehicles, the k nearest of them are the answer, since every vehicle outside it is farther. The
// first circle is a little wider than the k-th nearest was in recent queries, which settles most
// queries at once from a few dozen vehicles, without the queue of a best-first search that costs
// four times as much; a circle with too few is widened by what it lacked. Where vehicles are very
// sparse, or few qualify, the best-first search settles it after a few probes.
const (
	maxProbeK = 64
	maxProbes = 3
)

// radiusHint is a running geometric mean of the distance to the k-th result of recent nearest
// queries, in metres, as float64 bits. Queries race to update it; any value is correct, only
// more or less quick.
type radiusHint struct{ bits atomic.Uint64 }

func (h *radiusHint) radius() float64 {
	if b := h.bits.Load(); b != 0 {
		return math.Float64frombits(b)
	}
	return 1000
}

func (h *radiusHint) learn(kth float64) {
	want := min(max(kth*1.25, 50), 50000)
	h.bits.Store(math.Float64bits(math.Exp(0.875*math.Log(h.radius()) + 0.125*math.Log(want))))
}

// probeNearest returns the k nearest qualified vehicles if at least k lie within r metres, and
// otherwise nil and how many do.
func (ix *Index) probeNearest(q *point, r float64, k int, pred func(VehicleState) bool) ([]Neighbor, int) {
	hr := mToHav(r)
	var buf [32]Neighbor
	hits := buf[:0]
	for _, b := range radiusBoxes(q.lon, q.lat, r) {
		ix.vehTree.Search(b.min, b.max, func(p, _ [2]float64, slot int32) bool {
			s := &ix.vehSlots[slot]
			if h := hav(q.lon, q.lat, q.cos, p[0], p[1], s.cos); h <= hr && (pred == nil || pred(s.VehicleState)) {
				hits = append(hits, Neighbor{ID: s.ID, DistanceM: h}) // the haversine value, for now
			}
			return true
		})
	}
	if len(hits) < k {
		return nil, len(hits)
	}
	sortNeighbors(hits)
	out := make([]Neighbor, k)
	for i := range out {
		out[i] = Neighbor{ID: hits[i].ID, DistanceM: havToM(hits[i].DistanceM)}
	}
	return out, len(hits)
}

// nearestBestFirst searches the R-tree best first, in haversine terms: a node is opened in the
// order of a lower bound of the distance to anything inside it (point.boxLowerBound), a vehicle
// is taken in the order of its exact distance, so vehicles come out exactly nearest first and the
// search stops at the k-th that qualifies.
func (ix *Index) nearestBestFirst(q *point, k int, pred func(VehicleState) bool) []Neighbor {
	out := make([]Neighbor, 0, min(k, 64))
	// The search queue is a binary heap that takes every child of every node opened. Most of those
	// cannot be among the k nearest: once k qualified vehicles have been seen, anything farther
	// than the k-th of them, and any vehicle pred rejects, goes in as +Inf, which costs the heap
	// little and is never taken out. best holds the k smallest haversine values seen (for k up to
	// 64; beyond, only rejected vehicles are set aside).
	var bestArr [16]float64
	best := bestArr[:0]
	if k > len(bestArr) && k <= 64 {
		best = make([]float64, 0, k)
	}
	bound := math.Inf(1)
	slots := ix.vehSlots
	ix.vehTree.Nearby(
		func(min, max [2]float64, slot int32, item bool) float64 {
			if !item {
				if h := q.boxLowerBound(min, max); h <= bound {
					return h
				}
				return math.Inf(1)
			}
			s := &slots[slot]
			h := hav(q.lon, q.lat, q.cos, min[0], min[1], s.cos)
			if h > bound || pred != nil && !pred(s.VehicleState) {
				return math.Inf(1)
			}
			if k <= 64 {
				best, bound = keepSmallest(best, k, h)
			}
			return h
		},
		func(_, _ [2]float64, slot int32, h float64) bool {
			if math.IsInf(h, 1) { // set aside: so is everything after it
				return false
			}
			out = append(out, Neighbor{ID: slots[slot].ID, DistanceM: havToM(h)})
			return len(out) < k
		},
	)
	return out
}

// keepSmallest inserts h into best, the ascending list of the k smallest values so far, and
// returns it with the largest of them once there are k (+Inf before).
func keepSmallest(best []float64, k int, h float64) ([]float64, float64) {
	if len(best) == k {
		if h >= best[k-1] {
			return best, best[k-1]
		}
		best = best[:k-1]
	}
	i := len(best)
	best = append(best, h)
	for ; i > 0 && best[i-1] > h; i-- {
		best[i] = best[i-1]
	}
	best[i] = h
	if len(best) < k {
		return best, math.Inf(1)
	}
	return best, best[k-1]
}

// VehiclesWithin returns the vehicles within radiusM metres of a position that pred accepts (nil
// accepts all), nearest first.
func (ix *Index) VehiclesWithin(lon, lat, radiusM float64, pred func(VehicleState) bool) []Neighbor {
	if liftrescue.CheckLonLat(lon, lat) != "" || !(radiusM >= 0) {
		return nil
	}
	q := newPoint(lon, lat)
	hr := mToHav(radiusM) * (1 + 1e-9)
	sc := sortScratch.Get().(*scratch)
	defer sortScratch.Put(sc)
	hits := sc.hits[:0]
	func() {
		ix.vmu.RLock()
		defer ix.vmu.RUnlock()
		for _, b := range radiusBoxes(lon, lat, radiusM) {
			ix.vehTree.Search(b.min, b.max, func(p, _ [2]float64, slot int32) bool {
				s := &ix.vehSlots[slot]
				h := hav(q.lon, q.lat, q.cos, p[0], p[1], s.cos)
				if h > hr {
					return true
				}
				if d := havToM(h); d <= radiusM && (pred == nil || pred(s.VehicleState)) {
					hits = append(hits, Neighbor{ID: s.ID, DistanceM: d})
				}
				return true
			})
		}
	}()
	sc.hits = hits
	return sc.sortedWithin(radiusM)
}

// VehiclesInBBox returns the vehicles inside a box that pred accepts (nil accepts all), by
// ascending ID. Edges count as inside; a box whose minLon is greater than its maxLon crosses the
// antimeridian.
func (ix *Index) VehiclesInBBox(minLon, minLat, maxLon, maxLat float64, pred func(VehicleState) bool) []VehicleState {
	return ix.vehiclesIn(bboxBoxes(minLon, minLat, maxLon, maxLat), func(s *vehicleSlot) bool {
		return pred == nil || pred(s.VehicleState)
	})
}

// VehiclesInPolygon returns the vehicles inside a (multi)polygon that pred accepts (nil accepts
// all), by ascending ID, with the edge rules of ElevatorsInPolygon.
func (ix *Index) VehiclesInPolygon(mp orb.MultiPolygon, pred func(VehicleState) bool) []VehicleState {
	area, ok := preparePolygons(mp)
	if !ok {
		return nil
	}
	return ix.vehiclesIn([]box{{area.bound.Min, area.bound.Max}}, func(s *vehicleSlot) bool {
		return area.contains(pt(s.Lon, s.Lat)) && (pred == nil || pred(s.VehicleState))
	})
}

// VehiclesInCell returns the vehicles whose cell is within grid distance k of cell that pred
// accepts (nil accepts all), by ascending ID, with the rules of ElevatorsInCell.
func (ix *Index) VehiclesInCell(cell Cell, k int, pred func(VehicleState) bool) ([]VehicleState, error) {
	disk, boxes, err := ix.disk(cell, k)
	if err != nil {
		return nil, err
	}
	return ix.vehiclesIn(boxes, func(s *vehicleSlot) bool {
		_, in := disk[s.Cell]
		return in && (pred == nil || pred(s.VehicleState))
	}), nil
}

func (ix *Index) vehiclesIn(boxes []box, keep func(*vehicleSlot) bool) []VehicleState {
	var out []VehicleState
	func() {
		ix.vmu.RLock()
		defer ix.vmu.RUnlock()
		for _, b := range boxes {
			ix.vehTree.Search(b.min, b.max, func(_, _ [2]float64, slot int32) bool {
				if s := &ix.vehSlots[slot]; keep(s) {
					out = append(out, s.VehicleState)
				}
				return true
			})
		}
	}()
	sortStates(out)
	return out
}

// LivePosition returns the state as the API and the live stream show a vehicle's position (its
// age is filled in by liftrescue.NewLiveVehicle).
func (s VehicleState) LivePosition() *liftrescue.LivePosition {
	return &liftrescue.LivePosition{Lat: s.Lat, Lon: s.Lon, Time: s.Time, SpeedKmh: liftrescue.Known(s.SpeedKmh),
		Heading: liftrescue.Known(s.Heading), Cell: s.Cell.String()}
}
