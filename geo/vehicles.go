package geo

import (
	"cmp"
	"math"
	"slices"
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

// vehicleSlot is a vehicle's place in the index, where the R-tree and the ID map lead. The
// vehicle's state is kept in the grid, beside its neighbours' (gridEntry), where the nearest
// queries read it.
type vehicleSlot struct {
	bucket, pos int32      // where the vehicle's entry is in the grid
	shape       *cellShape // of the vehicle's cell, to know without H3 when a fix stays in it
	// box is the vehicle's entry in the R-tree: a square reaching vehicleBoxM either side of a
	// past position, which holds the present one. A fix inside it leaves the tree alone.
	box box
}

// vehicleBoxM is how far the entry of a vehicle in the R-tree reaches on each side of the
// position it was made for. Deleting and inserting an entry is most of the cost of a fix that
// has to: with 60 m, a vehicle jittering where it is parked keeps its entry, one crawling in
// traffic for several fixes, and a search of the tree meets few vehicles that are not in its box.
// (Fixes a few tens of metres apart, as in BenchmarkMoveVehicle, cost a quarter less than with
// 40 m; 80 m saves little more.)
const vehicleBoxM = 60

// looseBox returns the entry in the R-tree of a vehicle at a position whose latitude has cosine
// cos.
func looseBox(lon, lat, cos float64) box {
	const dLat = vehicleBoxM / (EarthRadiusM * rad)
	dLon := 180.0
	if cos > dLat/180 {
		dLon = min(dLat/cos, 180)
	}
	return box{
		min: [2]float64{max(lon-dLon, -180), max(lat-dLat, -90)},
		max: [2]float64{min(lon+dLon, 180), min(lat+dLat, 90)},
	}
}

// holds reports whether a position is in the box, edges included.
func (b *box) holds(lon, lat float64) bool {
	return lon >= b.min[0] && lon <= b.max[0] && lat >= b.min[1] && lat <= b.max[1]
}

// vehicle returns the grid entry of the vehicle in a slot.
func (ix *Index) vehicle(slot int32) *gridEntry {
	s := &ix.vehSlots[slot]
	return &ix.vehGrid.buckets[s.bucket].entries[s.pos]
}

// placedCell is the cell of a fix's position with its shape, computed outside the lock.
type placedCell struct {
	cell  Cell
	shape *cellShape
}

// MoveVehicle applies a fix to a vehicle, adding the vehicle on its first fix, and reports
// whether it did. A fix no newer than the vehicle's latest (fixes arrive out of order from
// trackers that buffer them while out of coverage) changes nothing: a vehicle never moves back in
// time. Nor does a fix whose position is not a real place; the ingest pipeline checks fixes with
// liftrescue.CheckFix before they get here. The fix's DeviceID is not looked at: the caller has
// mapped the device to the vehicle id.
func (ix *Index) MoveVehicle(id int64, f liftrescue.Fix) (moved bool) {
	moved, _ = ix.moveVehicle(id, f, nil)
	return moved
}

// SpeedLimit is how far a vehicle may go between two fixes: MetresPerSecond over the time
// between them, plus SlackM for the scatter of GPS.
type SpeedLimit struct {
	MetresPerSecond, SlackM float64
}

// MoveVehicleWithin is MoveVehicle for a fix that must be reachable from the vehicle's latest
// position within lim: a newer fix farther than that is not applied, and jumped says so. The
// check is made under the lock the move takes, so that the ingest reads the vehicle once.
func (ix *Index) MoveVehicleWithin(id int64, f liftrescue.Fix, lim SpeedLimit) (moved, jumped bool) {
	return ix.moveVehicle(id, f, &lim)
}

func (ix *Index) moveVehicle(id int64, f liftrescue.Fix, lim *SpeedLimit) (moved, jumped bool) {
	if liftrescue.CheckLonLat(f.Lon, f.Lat) != "" {
		return false, false
	}
	cos := cosDeg(f.Lat)
	// Most fixes stay in the shape of the vehicle's cell or cross into a neighbour whose shape
	// the index keeps, and the first attempt settles them. Any other fix, or a new vehicle's,
	// needs H3, which runs outside the lock, and the shape of the new cell; the second attempt
	// then checks everything again, since another fix may have come in between.
	ix.vmu.Lock()
	moved, jumped, done := ix.moveLocked(id, &f, cos, lim, nil)
	var last placedCell
	if slot, ok := ix.vehIDs.get(id); !done && ok {
		last = placedCell{ix.vehicle(slot).Cell, ix.vehSlots[slot].shape}
	}
	ix.vmu.Unlock()
	if done {
		return moved, jumped
	}
	pc := placedCell{cell: ix.cellOf(f.Lon, f.Lat)}
	if pc.cell == last.cell {
		pc.shape = last.shape
	} else {
		ix.vmu.RLock()
		pc.shape = ix.shapes.peek(pc.cell)
		ix.vmu.RUnlock()
		if pc.shape == nil {
			pc.shape = shapeOf(pc.cell)
		}
	}
	ix.vmu.Lock()
	defer ix.vmu.Unlock()
	// A fix that came in meanwhile may have moved the vehicle: the checks are made again.
	moved, jumped, _ = ix.moveLocked(id, &f, cos, lim, &pc)
	return moved, jumped
}

// moveLocked applies a fix under the write lock, cos being the cosine of its latitude: unless it
// is no newer than the vehicle's latest, or, with a limit, an impossible jump from it. It is done
// unless it needs the cell of the fix's position and pc does not give it.
//
// A fix touches the R-tree only when it leaves the vehicle's box, and the grid's map only when
// it leaves the vehicle's grid cell; otherwise it is a few writes in place.
func (ix *Index) moveLocked(id int64, f *liftrescue.Fix, cos float64, lim *SpeedLimit, pc *placedCell) (moved, jumped, done bool) {
	slot, ok := ix.vehIDs.get(id)
	var s *vehicleSlot
	var cur *gridEntry
	if ok {
		s, cur = &ix.vehSlots[slot], ix.vehicle(slot)
		if !f.Time.After(cur.Time) {
			return false, false, true
		}
		// DistanceM's value, from the cosines at hand (cur.cos is its latitude's).
		if lim != nil && havToM(hav(cur.Lon, cur.Lat, cur.cos, f.Lon, f.Lat, cos)) > lim.MetresPerSecond*f.Time.Sub(cur.Time).Seconds()+lim.SlackM {
			return false, true, true
		}
	}
	var cell Cell
	var shape *cellShape
	if ok {
		in, beyond := s.shape.holds(f.Lon, f.Lat)
		if in {
			cell, shape = cur.Cell, s.shape
		} else if shape = ix.shapes.next(s.shape, beyond, f.Lon, f.Lat); shape != nil {
			cell = shape.cell
		} else if pc != nil {
			s.shape.learn(beyond, pc.cell)
		}
	}
	if shape == nil {
		if pc == nil {
			return false, false, false
		}
		cell, shape = pc.cell, pc.shape
		if shape != nil {
			shape = ix.shapes.put(shape)
		}
	}
	e := gridEntry{
		VehicleState: VehicleState{ID: id, Lon: f.Lon, Lat: f.Lat, Time: f.Time, SpeedKmh: f.SpeedKmh, Heading: f.Heading, Cell: cell},
		cos:          cos,
		slot:         slot,
	}
	if !ok {
		if n := len(ix.vehFree); n > 0 {
			slot, ix.vehFree = ix.vehFree[n-1], ix.vehFree[:n-1]
		} else {
			slot = int32(len(ix.vehSlots))
			ix.vehSlots = append(ix.vehSlots, vehicleSlot{})
		}
		ix.vehIDs.set(id, slot)
		e.slot = slot
		s = &ix.vehSlots[slot]
		s.box = looseBox(f.Lon, f.Lat, cos)
		ix.vehTree.Insert(s.box.min, s.box.max, slot)
		s.bucket, s.pos = ix.vehGrid.add(&e)
	} else {
		if !s.box.holds(f.Lon, f.Lat) {
			ix.vehTree.Delete(s.box.min, s.box.max, slot)
			s.box = looseBox(f.Lon, f.Lat, cos)
			ix.vehTree.Insert(s.box.min, s.box.max, slot)
		}
		if b := &ix.vehGrid.buckets[s.bucket]; b.key == gridKeyOf(f.Lon, f.Lat) {
			b.entries[s.pos] = e
		} else {
			ix.removeFromGrid(s)
			s.bucket, s.pos = ix.vehGrid.add(&e)
		}
	}
	s.shape = shape
	return true, false, true
}

// removeFromGrid takes a vehicle's entry out of the grid.
func (ix *Index) removeFromGrid(s *vehicleSlot) {
	if moved := ix.vehGrid.remove(s.bucket, s.pos); moved >= 0 {
		ix.vehSlots[moved].pos = s.pos
	}
}

// RemoveVehicle takes a vehicle out of the index and reports whether it was there.
func (ix *Index) RemoveVehicle(id int64) bool {
	ix.vmu.Lock()
	defer ix.vmu.Unlock()
	slot, ok := ix.vehIDs.get(id)
	if !ok {
		return false
	}
	s := &ix.vehSlots[slot]
	ix.vehTree.Delete(s.box.min, s.box.max, slot)
	ix.removeFromGrid(s)
	ix.vehIDs.remove(id)
	*s = vehicleSlot{}
	ix.vehFree = append(ix.vehFree, slot)
	return true
}

// Vehicle returns a vehicle's latest state.
func (ix *Index) Vehicle(id int64) (VehicleState, bool) {
	ix.vmu.RLock()
	defer ix.vmu.RUnlock()
	slot, ok := ix.vehIDs.get(id)
	if !ok {
		return VehicleState{}, false
	}
	return ix.vehicle(slot).VehicleState, true
}

// VehicleCount returns the number of vehicles in the index.
func (ix *Index) VehicleCount() int {
	ix.vmu.RLock()
	defer ix.vmu.RUnlock()
	return ix.vehIDs.len()
}

// Vehicles returns the latest state of every vehicle, by ascending ID.
func (ix *Index) Vehicles() []VehicleState {
	ix.vmu.RLock()
	out := make([]VehicleState, 0, ix.vehIDs.len())
	for i := range ix.vehGrid.buckets {
		for j := range ix.vehGrid.buckets[i].entries {
			out = append(out, ix.vehGrid.buckets[i].entries[j].VehicleState)
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
// asked about a vehicle more than once, and need not be asked about vehicles farther than k
// qualified ones.
func (ix *Index) NearestVehicles(lon, lat float64, k int, pred func(VehicleState) bool) []Neighbor {
	if k <= 0 || liftrescue.CheckLonLat(lon, lat) != "" {
		return nil
	}
	q := newPoint(lon, lat)
	ix.vmu.RLock()
	defer ix.vmu.RUnlock()
	if out, ok := ix.nearestOnGrid(&q, k, pred); ok {
		return out
	}
	return ix.nearestBestFirst(&q, k, pred)
}

// nearestBestFirst searches the R-tree best first, in haversine terms: a node is opened in the
// order of a lower bound of the distance to anything inside it (point.boxLowerBound), a vehicle
// is taken in the order of its exact distance, so vehicles come out exactly nearest first and the
// search stops at the k-th that qualifies. It answers the queries the grid leaves: many vehicles
// wanted, few qualified ones over a wide area, or a position near a pole.
func (ix *Index) nearestBestFirst(q *point, k int, pred func(VehicleState) bool) []Neighbor {
	out := make([]Neighbor, 0, min(k, 64))
	// The search queue is a binary heap that takes every child of every node opened. Most of those
	// cannot be among the k nearest: once k qualified vehicles have been seen, anything farther
	// than the k-th of them, and any vehicle pred rejects, goes in as +Inf, which costs the heap
	// little and is never taken out. best holds the k smallest haversine values seen (for k up to
	// 64; beyond, only rejected vehicles are set aside). A vehicle's entry in the tree is a box
	// round it; its distance is that of its position.
	var bestArr [16]float64
	best := bestArr[:0]
	if k > len(bestArr) && k <= 64 {
		best = make([]float64, 0, k)
	}
	bound := math.Inf(1)
	ix.vehTree.Nearby(
		func(min, max [2]float64, slot int32, item bool) float64 {
			if !item {
				if h := q.boxLowerBound(min, max); h <= bound {
					return h
				}
				return math.Inf(1)
			}
			v := ix.vehicle(slot)
			h := q.havTo(v.Lon, v.Lat, v.cos)
			if h > bound || pred != nil && !pred(v.VehicleState) {
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
			out = append(out, Neighbor{ID: ix.vehicle(slot).ID, DistanceM: havToM(h)})
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
			ix.vehTree.Search(b.min, b.max, func(_, _ [2]float64, slot int32) bool {
				v := ix.vehicle(slot)
				if !b.holds(v.Lon, v.Lat) {
					return true
				}
				h := q.havTo(v.Lon, v.Lat, v.cos)
				if h > hr {
					return true
				}
				if d := havToM(h); d <= radiusM && (pred == nil || pred(v.VehicleState)) {
					hits = append(hits, Neighbor{ID: v.ID, DistanceM: d})
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
	return ix.vehiclesIn(bboxBoxes(minLon, minLat, maxLon, maxLat), func(v *gridEntry) bool {
		return pred == nil || pred(v.VehicleState)
	})
}

// VehiclesInPolygon returns the vehicles inside a (multi)polygon that pred accepts (nil accepts
// all), by ascending ID, with the edge rules of ElevatorsInPolygon.
func (ix *Index) VehiclesInPolygon(mp orb.MultiPolygon, pred func(VehicleState) bool) []VehicleState {
	area, ok := preparePolygons(mp)
	if !ok {
		return nil
	}
	return ix.vehiclesIn([]box{{area.bound.Min, area.bound.Max}}, func(v *gridEntry) bool {
		return area.contains(pt(v.Lon, v.Lat)) && (pred == nil || pred(v.VehicleState))
	})
}

// VehiclesInCell returns the vehicles whose cell is within grid distance k of cell that pred
// accepts (nil accepts all), by ascending ID, with the rules of ElevatorsInCell.
func (ix *Index) VehiclesInCell(cell Cell, k int, pred func(VehicleState) bool) ([]VehicleState, error) {
	disk, boxes, err := ix.disk(cell, k)
	if err != nil {
		return nil, err
	}
	return ix.vehiclesIn(boxes, func(v *gridEntry) bool {
		_, in := disk[v.Cell]
		return in && (pred == nil || pred(v.VehicleState))
	}), nil
}

// vehiclesIn returns the vehicles inside the boxes that keep accepts.
func (ix *Index) vehiclesIn(boxes []box, keep func(*gridEntry) bool) []VehicleState {
	var out []VehicleState
	func() {
		ix.vmu.RLock()
		defer ix.vmu.RUnlock()
		for _, b := range boxes {
			ix.vehTree.Search(b.min, b.max, func(_, _ [2]float64, slot int32) bool {
				if v := ix.vehicle(slot); b.holds(v.Lon, v.Lat) && keep(v) {
					out = append(out, v.VehicleState)
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
