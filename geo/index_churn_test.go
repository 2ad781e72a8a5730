package geo

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// The index keeps every elevator and every vehicle in more than one structure: elevators in the
// R-tree, the bands and the ID table; vehicles in the R-tree (in boxes round them), the grid and
// the cells' shapes. These tests change them at random, as the registry and the trackers do, and
// check every kind of query against a brute-force answer and every structure against the others.

// bruteInBBox returns the IDs of the points inside a box (no antimeridian), ascending.
func bruteInBBox(ps map[int64]lonLat, minLon, minLat, maxLon, maxLat float64) []int64 {
	var out []int64
	for id, p := range ps {
		if p.lon >= minLon && p.lon <= maxLon && p.lat >= minLat && p.lat <= maxLat {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func pointsOf(m map[int64]lonLat) []testPoint {
	out := make([]testPoint, 0, len(m))
	for id, p := range m {
		out = append(out, testPoint{id, p.lon, p.lat})
	}
	return out
}

// checkBands checks that the bands hold exactly the elevators of want, each in the band of its
// latitude, sorted by longitude, with columns that say where each longitude is.
func checkBands(t *testing.T, bs *elevatorBands, want map[int64]lonLat) {
	t.Helper()
	n := 0
	for i := range bs.bands {
		b := &bs.bands[i]
		n += len(b.es)
		for j, e := range b.es {
			if p, ok := want[e.id]; !ok || p.lon != e.lon || p.lat != e.lat {
				t.Fatalf("band %d holds elevator %d at %v,%v; want %v (there: %v)", bs.first+i, e.id, e.lon, e.lat, p, ok)
			}
			if bandOf(e.lat) != bs.first+i {
				t.Fatalf("elevator %d at latitude %v is in band %d, not %d", e.id, e.lat, bs.first+i, bandOf(e.lat))
			}
			if j > 0 && b.es[j-1].lon > e.lon {
				t.Fatalf("band %d is out of order at %d", bs.first+i, j)
			}
		}
		if len(b.es) == 0 {
			continue
		}
		if len(b.cols) < 2 || int(b.cols[len(b.cols)-1]) != len(b.es) {
			t.Fatalf("band %d: %d columns for %d elevators, the last %v", bs.first+i, len(b.cols), len(b.es), b.cols)
		}
		for c := 0; c < len(b.cols)-1; c++ {
			first := 0
			for first < len(b.es) && b.colOf(b.es[first].lon) < c {
				first++
			}
			if int(b.cols[c]) != first {
				t.Fatalf("band %d: column %d starts at %d, want %d", bs.first+i, c, b.cols[c], first)
			}
		}
	}
	if n != len(want) {
		t.Fatalf("the bands hold %d elevators, want %d", n, len(want))
	}
}

// checkVehicles checks that the grid, the slots, the R-tree and the shapes agree with each other
// and with want.
func checkVehicles(t *testing.T, ix *Index, want map[int64]lonLat) {
	t.Helper()
	if ix.vehIDs.len() != len(want) || ix.vehGrid.gridLen() != len(want) || ix.vehTree.Len() != len(want) || ix.vehGrid.cells.n != countBuckets(&ix.vehGrid) {
		t.Fatalf("%d IDs, %d in the grid, %d in the tree, %d cells for %d buckets; want %d vehicles",
			ix.vehIDs.len(), ix.vehGrid.gridLen(), ix.vehTree.Len(), ix.vehGrid.cells.n, countBuckets(&ix.vehGrid), len(want))
	}
	for id, slot := range ix.vehIDs.all() {
		s := &ix.vehSlots[slot]
		v := ix.vehicle(slot)
		p, ok := want[id]
		if !ok || v.ID != id || v.slot != slot || v.Lon != p.lon || v.Lat != p.lat {
			t.Fatalf("vehicle %d: entry %+v (slot %d), want %v (there: %v)", id, v.VehicleState, v.slot, p, ok)
		}
		if v.cos != cosDeg(v.Lat) || v.Cell != ix.CellOf(v.Lon, v.Lat) {
			t.Fatalf("vehicle %d: cos %v, cell %s; want %v, %s", id, v.cos, v.Cell, cosDeg(v.Lat), ix.CellOf(v.Lon, v.Lat))
		}
		if s.shape != nil && s.shape.cell != v.Cell {
			t.Fatalf("vehicle %d in cell %s has the shape of %s", id, v.Cell, s.shape.cell)
		}
		key := gridKeyOf(v.Lon, v.Lat)
		if b, ok := ix.vehGrid.cells.get(key); !ok || b != s.bucket || ix.vehGrid.buckets[b].key != key {
			t.Fatalf("vehicle %d: bucket %d, the cell's is %d (%v)", id, s.bucket, b, ok)
		}
		if !s.box.holds(v.Lon, v.Lat) {
			t.Fatalf("vehicle %d at %v,%v is outside its box %v", id, v.Lon, v.Lat, s.box)
		}
		found := false
		ix.vehTree.Search(s.box.min, s.box.max, func(min, max [2]float64, got int32) bool {
			found = found || got == slot && min == s.box.min && max == s.box.max
			return !found
		})
		if !found {
			t.Fatalf("vehicle %d: its box is not in the tree", id)
		}
	}
}

func countBuckets(g *vehicleGrid) int {
	n := 0
	for i := range g.buckets {
		if len(g.buckets[i].entries) > 0 {
			n++
		}
	}
	return n
}

// TestIndexChurnMatchesBruteForce registers, moves and removes elevators and vehicles at random,
// in the demo city (away from the antimeridian and the poles), and after every round of changes
// asks every query of both kinds and compares it with a brute-force answer.
func TestIndexChurnMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 31))
	ix := mustIndex(t)
	elevators := map[int64]lonLat{}
	for _, p := range cityPoints(32, 20000) {
		elevators[p.id] = lonLat{p.lon, p.lat}
	}
	if _, err := ix.LoadElevators(seqOf(pointsOf(elevators))); err != nil {
		t.Fatal(err)
	}
	vehicles := map[int64]lonLat{}
	at := t0
	move := func(id int64, lon, lat float64) {
		at = at.Add(time.Second)
		if !ix.MoveVehicle(id, fixAt(lon, lat, at)) {
			t.Fatalf("vehicle %d not moved to %v,%v", id, lon, lat)
		}
		vehicles[id] = lonLat{lon, lat}
	}
	for _, p := range cityPoints(33, 3000) {
		move(p.id, p.lon, p.lat)
	}
	nextElevator := int64(1_000_000)
	const perMetre = 1 / (EarthRadiusM * rad) // degrees of latitude
	for round := range 30 {
		// The registry: elevators moved a little (a corrected address) or far, added, removed.
		for range 300 {
			switch op := r.IntN(10); {
			case op < 4:
				id := int64(r.IntN(20000) + 1)
				p, ok := elevators[id]
				if !ok {
					continue
				}
				p = lonLat{p.lon + r.NormFloat64()*30*perMetre, p.lat + r.NormFloat64()*30*perMetre}
				if op == 0 {
					p.lon, p.lat = cityPoint(r)
				}
				if err := ix.SetElevator(id, p.lon, p.lat); err != nil {
					t.Fatal(err)
				}
				elevators[id] = p
			case op < 7:
				lon, lat := cityPoint(r)
				if p, ok := elevators[int64(r.IntN(20000)+1)]; ok && op == 6 { // another in a building
					lon, lat = p.lon, p.lat
				}
				nextElevator++
				if err := ix.SetElevator(nextElevator, lon, lat); err != nil {
					t.Fatal(err)
				}
				elevators[nextElevator] = lonLat{lon, lat}
			default:
				id := int64(r.IntN(20000) + 1)
				_, want := elevators[id]
				if got := ix.RemoveElevator(id); got != want {
					t.Fatalf("RemoveElevator(%d) = %v, want %v", id, got, want)
				}
				delete(elevators, id)
			}
		}
		// The fleet: most fixes a few metres on, some across a cell or two, a few far off;
		// vehicles leave and come back.
		for range 3000 {
			id := churnVehicleID(r.IntN(3500))
			p, ok := vehicles[id]
			switch op := r.IntN(20); {
			case !ok:
				lon, lat := cityPoint(r)
				move(id, lon, lat)
			case op == 0:
				if !ix.RemoveVehicle(id) {
					t.Fatalf("vehicle %d not removed", id)
				}
				delete(vehicles, id)
			case op == 1:
				lon, lat := cityPoint(r)
				move(id, lon, lat)
			case op < 6:
				move(id, p.lon+r.NormFloat64()*300*perMetre, p.lat+r.NormFloat64()*300*perMetre)
			case op == 6:
				move(id, p.lon, p.lat) // a newer fix, the same place
			default:
				move(id, p.lon+r.NormFloat64()*15*perMetre, p.lat+r.NormFloat64()*15*perMetre)
			}
		}
		checkBands(t, &ix.elevBands, elevators)
		checkVehicles(t, ix, vehicles)
		if got := ix.ElevatorCount(); got != len(elevators) {
			t.Fatalf("round %d: ElevatorCount = %d, want %d", round, got, len(elevators))
		}

		es, vs := pointsOf(elevators), pointsOf(vehicles)
		for i := range 40 {
			lon, lat := cityPoint(r)
			var keep func(int64) bool
			var vpred func(VehicleState) bool
			switch i % 4 {
			case 1:
				keep = func(id int64) bool { return id%4 == 0 }
			case 2:
				keep = func(id int64) bool { return id%50 == 3 }
			}
			if keep != nil {
				vpred = func(s VehicleState) bool { return keep(s.ID) }
			}
			m := []float64{0, 50, 500, 1500, 5000}[i%5]
			sameNeighbors(t, "elevators within", ix.ElevatorsWithin(lon, lat, m, keep), bruteWithin(es, lon, lat, m, keep))
			sameNeighbors(t, "vehicles within", ix.VehiclesWithin(lon, lat, m*4, vpred), bruteWithin(vs, lon, lat, m*4, keep))
			k := []int{1, 5, 20, 64, 100}[i%5]
			want := bruteNearest(vs, lon, lat, k, keep)
			sameNeighbors(t, "nearest", ix.NearestVehicles(lon, lat, k, vpred), want)
			q := newPoint(lon, lat)
			ix.vmu.RLock()
			grid, ok := ix.nearestOnGrid(&q, k, vpred)
			best := ix.nearestBestFirst(&q, k, vpred)
			ix.vmu.RUnlock()
			if ok {
				sameNeighbors(t, "nearest on the grid", grid, want)
			}
			sameNeighbors(t, "nearest best first", best, want)

			d := 0.002 + r.Float64()*0.05
			if got, want := ix.ElevatorsInBBox(lon-d, lat-d, lon+d, lat+d, nil), bruteInBBox(elevators, lon-d, lat-d, lon+d, lat+d); !slices.Equal(got, want) {
				t.Fatalf("elevators in the box round %v,%v: %d, want %d", lon, lat, len(got), len(want))
			}
			var got []int64
			for _, v := range ix.VehiclesInBBox(lon-d, lat-d, lon+d, lat+d, nil) {
				got = append(got, v.ID)
			}
			if want := bruteInBBox(vehicles, lon-d, lat-d, lon+d, lat+d); !slices.Equal(got, want) {
				t.Fatalf("vehicles in the box round %v,%v: %v, want %v", lon, lat, got, want)
			}
		}
		for i := range 50 {
			id := int64(r.IntN(20000) + 1)
			if i%2 == 1 {
				id = 1_000_000 + int64(r.IntN(int(nextElevator-1_000_000)+10))
			}
			got, ok := ix.Elevator(id)
			p, want := elevators[id]
			if ok != want || ok && (got.Lon != p.lon || got.Lat != p.lat || got.Cell != ix.CellOf(p.lon, p.lat)) {
				t.Fatalf("Elevator(%d) = %+v, %v; want %v, %v", id, got, ok, p, want)
			}
		}
	}
}

// TestElevatorsWithinAtTheEdgesOfTheMap checks the bands where longitudes wrap and latitudes end.
func TestElevatorsWithinAtTheEdgesOfTheMap(t *testing.T) {
	ix := mustIndex(t)
	ps := []testPoint{
		{1, 179.999, 10}, {2, -179.999, 10}, {3, 180, 10}, {4, -180, 10.001}, {5, 179.5, 10},
		{6, 0, 89.9999}, {7, 90, 89.9995}, {8, 0, 90}, {9, 45, -90}, {10, 0, -89.9999},
	}
	if _, err := ix.LoadElevators(seqOf(ps)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct{ lon, lat, m float64 }{
		{-179.9995, 10, 500}, {180, 10, 200}, {179.99, 10.0005, 5000}, {0, 90, 200}, {10, 89.9998, 100}, {0, -90, 50},
	} {
		sameNeighbors(t, "within", ix.ElevatorsWithin(q.lon, q.lat, q.m, nil), bruteWithin(ps, q.lon, q.lat, q.m, nil))
	}
	for _, p := range ps {
		if !ix.RemoveElevator(p.id) {
			t.Fatalf("elevator %d not removed", p.id)
		}
	}
	checkBands(t, &ix.elevBands, nil)
}

// TestCellTableMatchesMap drives the grid's cell table with random additions and removals, enough
// for it to grow several times and for runs of neighbours to wrap round its end, and checks it
// against a map.
func TestCellTableMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(34, 34))
	var tab cellTable
	model := map[uint64]int32{}
	keys := make([]uint64, 0, 5000)
	for i := range 5000 { // keys of nearby cells, as a fleet's are
		keys = append(keys, gridKey(6000+i/70, 19000+i%70))
	}
	for step := range 200000 {
		key := keys[r.IntN(len(keys))]
		if _, ok := model[key]; ok && r.IntN(2) == 0 {
			tab.remove(key)
			delete(model, key)
		} else if !ok {
			tab.put(key, int32(step))
			model[key] = int32(step)
		}
		if tab.n != len(model) {
			t.Fatalf("step %d: %d keys, want %d", step, tab.n, len(model))
		}
		for range 4 {
			k := keys[r.IntN(len(keys))]
			got, ok := tab.get(k)
			want, wantOK := model[k]
			if ok != wantOK || ok && got != want {
				t.Fatalf("step %d: get(%x) = %d, %v; want %d, %v", step, k, got, ok, want, wantOK)
			}
		}
	}
}

// TestConcurrentMovesAndQueries moves vehicles within and across cells and changes elevators
// while other goroutines ask nearest and radius queries; with -race it checks the locking (the
// shapes learn their neighbours under the write lock), and at the end every structure must agree.
func TestConcurrentMovesAndQueries(t *testing.T) {
	ix := mustIndex(t)
	ps := cityPoints(35, 2000)
	if _, err := ix.LoadElevators(seqOf(ps)); err != nil {
		t.Fatal(err)
	}
	mustVehicles(t, ix, ps[:600])
	const perMetre = 1 / (EarthRadiusM * rad)
	final := make([]map[int64]lonLat, 2)
	var wg sync.WaitGroup
	for w := range 2 { // each writer owns every other vehicle, so its fixes stay in order
		final[w] = map[int64]lonLat{}
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 36))
			pos := map[int64]lonLat{}
			for _, p := range ps[:600] {
				if int(p.id)%2 == w {
					pos[p.id] = lonLat{p.lon, p.lat}
				}
			}
			for i := range 3000 {
				id := int64(r.IntN(300)*2 + w + 2)
				if id > 600 {
					continue
				}
				p := pos[id]
				step := 20.0
				if i%5 == 0 {
					step = 400 // into the next cell or two
				}
				p = lonLat{p.lon + r.NormFloat64()*step*perMetre, p.lat + r.NormFloat64()*step*perMetre}
				if ix.MoveVehicle(id, fixAt(p.lon, p.lat, t0.Add(time.Duration(i+1)*time.Second))) {
					pos[id] = p
				}
			}
			final[w] = pos
		})
	}
	wg.Go(func() { // the registry
		r := rand.New(rand.NewPCG(3, 36))
		for range 1000 {
			lon, lat := cityPoint(r)
			if err := ix.SetElevator(int64(r.IntN(2000)+1), lon, lat); err != nil {
				t.Error(err)
			}
		}
	})
	for g := range 2 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 37))
			for range 1500 {
				lon, lat := cityPoint(r)
				ix.NearestVehicles(lon, lat, 5, func(s VehicleState) bool { return s.ID%3 != 0 })
				ix.NearestVehicles(lon, lat, 1, nil)
				ix.VehiclesWithin(lon, lat, 800, nil)
				ix.ElevatorsWithin(lon, lat, 500, nil)
			}
		})
	}
	wg.Wait()
	vehicles := map[int64]lonLat{}
	for _, m := range final {
		for id, p := range m {
			vehicles[id] = p
		}
	}
	checkVehicles(t, ix, vehicles)
	vs := pointsOf(vehicles)
	sameNeighbors(t, "nearest after", ix.NearestVehicles(117.3, 34.8, 50, nil), bruteNearest(vs, 117.3, 34.8, 50, nil))
}

// TestNearestWhenFewQualify asks for more vehicles than qualify in a fleet that the grid's rings
// hold whole: the grid answers on its own, with all that qualify, as the tree would.
func TestNearestWhenFewQualify(t *testing.T) {
	ix := mustIndex(t)
	q := newPoint(117.32, 34.81)
	ix.vmu.RLock()
	got, ok := ix.nearestOnGrid(&q, 5, nil)
	ix.vmu.RUnlock()
	if !ok || len(got) != 0 {
		t.Fatalf("an empty index: %v, %v", got, ok)
	}
	r := rand.New(rand.NewPCG(38, 38))
	var ps []testPoint
	for i := range 500 { // within about 5 km
		ps = append(ps, testPoint{int64(i + 1), 117.32 + r.NormFloat64()*0.02, 34.81 + r.NormFloat64()*0.02})
	}
	mustVehicles(t, ix, ps)
	for _, every := range []int64{1, 10, 100, 1000} {
		keep := func(id int64) bool { return id%every == 0 }
		pred := func(s VehicleState) bool { return keep(s.ID) }
		want := bruteNearest(ps, q.lon, q.lat, 64, keep)
		ix.vmu.RLock()
		got, ok := ix.nearestOnGrid(&q, 64, pred)
		ix.vmu.RUnlock()
		if !ok {
			t.Fatalf("one in %d: the grid left the query to the tree", every)
		}
		sameNeighbors(t, "grid", got, want)
		sameNeighbors(t, "nearest", ix.NearestVehicles(q.lon, q.lat, 64, pred), want)
	}
}

// churnVehicleID makes the n-th vehicle's ID: most are small serial numbers, as a database gives,
// and some are beyond the index's dense ID table or negative, kept in its map.
func churnVehicleID(n int) int64 {
	switch {
	case n%7 == 0:
		return denseIDs + int64(n)*1000
	case n%11 == 0:
		return -int64(n)
	}
	return int64(n + 1)
}
