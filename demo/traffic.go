package demo

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/liftrescue/liftrescue"
)

const (
	// DefaultTrafficEvery is how often a vehicle reports when TrafficConfig.Every is 0: the fast
	// end of what trackers do while moving (5–30 s), so that the map looks alive.
	DefaultTrafficEvery = 5 * time.Second
	// TrafficBacklog is the most of the past that one Step reports. A caller that fell behind (a
	// laptop waking up) gets the last two minutes of fixes rather than hours of them, which the
	// live map would only discard; the vehicles move on all the same.
	TrafficBacklog = 2 * time.Minute
)

// TrafficConfig chooses how the demo city's vehicles report. The zero TrafficConfig is the default.
type TrafficConfig struct {
	// Every is how often each vehicle reports, moving or not; 0 means DefaultTrafficEvery.
	// Traffic panics below a second, which no tracker does.
	Every time.Duration
	// Seed picks one of many traffics of the same city; 0 means the city's seed.
	Seed uint64
}

// Traffic drives the demo city's vehicles through its streets, so that a newcomer sees a live
// map. Each vehicle starts parked at its team's base, then alternates between driving along the
// streets of its district to a spot beside one (sometimes back to base) and parking there for a
// few minutes. About one van in five, among them those off duty, mostly stays at base, as many
// volunteer vans do.
//
// Everything follows from the city, the config and the start: each vehicle draws its trips from
// its own PCG stream, and each report's GPS noise is a hash of its index, so the fixes do not
// depend on how often Step is called. Send takes a vehicle off its rounds to a place (a rescue),
// Release puts it back. A Traffic is not safe for concurrent use.
type Traffic struct {
	// epoch is the start down to the second, so that with a whole-second Every the reports fall on
	// whole seconds, as trackers' do. Vehicles report at staggered phases after it.
	epoch  time.Time
	every  time.Duration
	last   time.Time // Step has reported everything up to here
	movers []*mover
	// devices finds a mover by its device id, for Send and Release.
	devices map[string]*mover
}

// Traffic returns the simulation of the city's vehicles from start on. Only vehicles with a device
// id report. A team's base is its organisation's position; an organisation without one gets a
// spot on a street of its district.
func (c *City) Traffic(cfg TrafficConfig, start time.Time) *Traffic {
	if cfg.Every == 0 {
		cfg.Every = DefaultTrafficEvery
	}
	if cfg.Every < time.Second {
		panic(fmt.Sprintf("demo: TrafficConfig.Every must be at least a second, got %v", cfg.Every))
	}
	if cfg.Seed == 0 {
		cfg.Seed = c.cfg.Seed
	}
	start = start.UTC() // also drops the monotonic reading, which is no part of a report's time
	tr := &Traffic{epoch: start.Truncate(time.Second), every: cfg.Every, last: start, devices: map[string]*mover{}}

	nets := make([]*roadNet, len(c.plans))
	for i := range c.plans {
		nets[i] = newRoadNet(&c.plans[i])
	}
	district := make(map[string]int, len(c.plans))
	for i, d := range c.Districts {
		district[d.Code] = i
	}
	orgs := make(map[string]*liftrescue.Organization, len(c.Organizations))
	for i := range c.Organizations {
		orgs[c.Organizations[i].Code] = &c.Organizations[i]
	}
	for i, vs := range c.Vehicles {
		if vs.Vehicle.DeviceID == "" {
			continue
		}
		org := orgs[c.Teams[vs.Team].OrgCode]
		d := 0
		if org != nil {
			d = district[org.District]
		}
		m := newMover(cfg, i, vs.Vehicle, org, nets[d])
		tr.movers = append(tr.movers, m)
		tr.devices[m.device] = m
	}
	slices.SortStableFunc(tr.movers, func(a, b *mover) int { // for Step's time order
		return cmp.Or(cmp.Compare(a.phase, b.phase), strings.Compare(a.device, b.device))
	})
	return tr
}

// Step advances the simulation to now and returns, in time order, the fixes the vehicles report
// after the previous Step (or the start) and up to now; of a span longer than TrafficBacklog, only
// those of its last TrafficBacklog. A now not after the previous one returns nothing.
func (tr *Traffic) Step(now time.Time) []liftrescue.Fix {
	if !now.After(tr.last) {
		return nil
	}
	from := tr.last
	if now.Sub(from) > TrafficBacklog {
		from = now.Add(-TrafficBacklog)
	}
	tr.last = now
	// Each mover's reports in (from, now] are those from its first to before its next.
	lo, hi, n := int64(math.MaxInt64), int64(0), 0
	for _, m := range tr.movers {
		m.first, m.next = max(m.next, tr.reportsBy(m, from)), tr.reportsBy(m, now)
		if m.first < m.next {
			lo, hi, n = min(lo, m.first), max(hi, m.next), n+int(m.next-m.first)
		}
	}
	if n == 0 {
		return nil
	}
	// A mover's k-th report comes after every mover's (k−1)-th, since phases are at most Every,
	// and the movers are in order of phase: round by round, the fixes come in time order.
	fixes := make([]liftrescue.Fix, 0, n)
	for k := lo; k < hi; k++ {
		for _, m := range tr.movers {
			if m.first <= k && k < m.next {
				fixes = append(fixes, m.fix(tr.epoch, k, m.phase+time.Duration(k)*tr.every))
			}
		}
	}
	return fixes
}

// reportsBy returns how many reports the mover makes up to and including t.
func (tr *Traffic) reportsBy(m *mover, t time.Time) int64 {
	since := t.Sub(tr.epoch) - m.phase
	if since < 0 {
		return 0
	}
	return int64(since/tr.every) + 1
}

// Send turns the vehicle with the device id from its rounds to the point lon, lat, from the time of
// the last Step on: along its district's streets to where they pass nearest the point, then
// straight to it, where it stays until Release. It returns how long the drive takes, and false for
// a device the traffic does not drive. A rescue simulation sends a van to the elevator this way, so
// that its tracker's fixes bring it within the dispatch engine's arrival radius by themselves.
//
// A sent vehicle's fixes depend on when Send was called, unlike those of the rounds.
func (tr *Traffic) Send(device string, lon, lat float64) (time.Duration, bool) {
	m := tr.devices[device]
	if m == nil {
		return 0, false
	}
	s := tr.last.Sub(tr.epoch).Seconds()
	return time.Duration((m.send(s, project(lon, lat)) - s) * float64(time.Second)), true
}

// Release sends a vehicle back to its base from the time of the last Step on, after which it goes
// on with its rounds. It returns false for a device the traffic does not drive.
func (tr *Traffic) Release(device string) bool {
	m := tr.devices[device]
	if m == nil {
		return false
	}
	m.release(tr.last.Sub(tr.epoch).Seconds())
	return true
}

// Speeds and stays, in km/h and seconds.
const (
	drivewayKmh = 10 // in and out of a yard or a parking spot
	// A run of street is driven at 20 km/h plus one for every 30 m of it, up to the trip's
	// cruising speed: short runs between turns are slow.
	minStreetKmh, metresPerKmh = 20, 30
	minCruiseKmh, maxCruiseKmh = 35, 50
	// A vehicle sent beyond its district's streets covers the stretch off them, when it is longer
	// than offStreetM, at offStreetKmh: a road the street grid does not have.
	offStreetM, offStreetKmh = 150, 35
)

// stay is how long a vehicle parks, in seconds.
type stay struct{ min, max float64 }

var (
	stayAtBase     = stay{3 * 60, 12 * 60}
	stayAway       = stay{2 * 60, 8 * 60}
	homebodyAtBase = stay{40 * 60, 150 * 60}
	homebodyAway   = stay{5 * 60, 20 * 60}
)

// spot is where a vehicle parks, beside the point t metres along the street it comes and goes by.
type spot struct {
	pos    vec
	street int
	t      float64
}

// leg is a stretch of a vehicle's timeline: a straight drive at a constant speed, or a stay.
type leg struct {
	t0, t1   float64 // seconds since the epoch
	from, to vec
	kmh      float64 // 0 while parked
	heading  float64 // degrees clockwise from north; kept while parked, as trackers do
	// alt0 and alt1 are the ground's altitude at from and to; in between it is interpolated, to
	// spare each report two sines.
	alt0, alt1 float64
}

// mover is one vehicle's simulation. Its timeline is planned a trip at a time, and only ever
// forward, from its own random stream.
type mover struct {
	device   string
	net      *roadNet
	rng      *rand.Rand
	noise    uint64        // keys the per-report hash
	phase    time.Duration // of the first report after the epoch
	first    int64         // index of the first report of this Step
	next     int64         // index of the next report to make
	homebody bool
	ground   float64 // altitude of the district's streets, metres

	base, at spot // at is where the current trip ends
	legs     []leg
	cur      int // the leg the last report fell in
}

func newMover(cfg TrafficConfig, index int, v liftrescue.Vehicle, org *liftrescue.Organization, net *roadNet) *mover {
	rng := rand.New(rand.NewPCG(cfg.Seed, streamTraffic<<32|uint64(index)))
	m := &mover{
		device:   v.DeviceID,
		net:      net,
		rng:      rng,
		noise:    mix64(cfg.Seed ^ mix64(uint64(index))),
		phase:    time.Duration(1+rng.Int64N(int64(cfg.Every/time.Second))) * time.Second,
		homebody: !v.OnDuty || rng.IntN(8) == 0, // with the 1 in 12 off duty, about 1 in 5
		ground:   60,
	}
	if net.plan.spec.rural {
		m.ground = 190 // Shanting is hilly
	}
	if org != nil && org.Lat != nil && org.Lon != nil {
		m.base = net.snap(project(*org.Lon, *org.Lat))
	} else {
		m.base = net.randomSpot(rng, 30, 80)
	}
	m.at = m.base
	first := homebodyAtBase
	if !m.homebody {
		first = stay{0, 4 * 60} // most vans are out within minutes of the start
	}
	// An instant at base before the start anchors the first stay, as each trip's last stay anchors
	// the next trip.
	alt := m.altitude(m.base.pos)
	m.legs = []leg{{from: m.base.pos, to: m.base.pos, heading: float64(rng.IntN(360)), alt0: alt, alt1: alt}}
	m.park(first)
	return m
}

// park appends a stay where the last leg ends.
func (m *mover) park(s stay) {
	last := m.legs[len(m.legs)-1]
	d := s.min + (s.max-s.min)*m.rng.Float64()
	m.legs = append(m.legs, leg{t0: last.t1, t1: last.t1 + d, from: last.to, to: last.to, heading: last.heading,
		alt0: last.alt1, alt1: last.alt1})
}

// drive appends a straight drive from where the last leg ends to p.
func (m *mover) drive(p vec, kmh float64) {
	last := m.legs[len(m.legs)-1]
	d := p.sub(last.to)
	length := d.length()
	if length < 0.5 {
		return
	}
	heading := math.Mod(math.Atan2(d.x, d.y)*180/math.Pi+360, 360)
	m.legs = append(m.legs, leg{t0: last.t1, t1: last.t1 + length/(kmh/3.6), from: last.to, to: p, kmh: kmh,
		heading: heading, alt0: last.alt1, alt1: m.altitude(p)})
}

// plan replaces the finished trip with the next one: out of the spot onto its street, along the
// streets by a short way to the street of the destination, into the destination, and a stay.
func (m *mover) plan() {
	m.legs, m.cur = append(m.legs[:0], m.legs[len(m.legs)-1]), 0
	var dest spot
	if m.at != m.base && (m.homebody || m.rng.IntN(4) == 0) {
		dest = m.base
	} else {
		dest = m.net.randomSpot(m.rng, 8, 30)
	}
	m.travel(dest, false)
	switch {
	case dest == m.base && m.homebody:
		m.park(homebodyAtBase)
	case dest == m.base:
		m.park(stayAtBase)
	case m.homebody:
		m.park(homebodyAway)
	default:
		m.park(stayAway)
	}
}

// travel appends the drive from m.at to dest: out onto the street, along the streets by a short
// way, into dest. offStreet drives the stretches off the streets at road speed when they are long,
// as they are for a vehicle sent beyond its district; its rounds keep to yards and parking spots.
func (m *mover) travel(dest spot, offStreet bool) {
	corners := m.net.route(m.at, dest, m.rng.Uint64())
	cruise := minCruiseKmh + (maxCruiseKmh-minCruiseKmh)*m.rng.Float64()
	offKmh := func(p vec) float64 {
		if offStreet && p.sub(m.legs[len(m.legs)-1].to).length() > offStreetM {
			return offStreetKmh
		}
		return drivewayKmh
	}
	m.drive(corners[0], offKmh(corners[0]))
	for i := 1; i < len(corners); i++ {
		run := corners[i].sub(corners[i-1]).length()
		m.drive(corners[i], min(cruise, minStreetKmh+run/metresPerKmh))
	}
	m.drive(dest.pos, offKmh(dest.pos))
	m.at = dest
}

// send replaces the timeline from s seconds on with a drive to p and a stay there without end, and
// returns when the drive ends.
func (m *mover) send(s float64, p vec) float64 {
	m.cut(s)
	m.travel(m.net.snap(p), true)
	last := m.legs[len(m.legs)-1]
	m.legs = append(m.legs, leg{t0: last.t1, t1: math.Inf(1), from: last.to, to: last.to, heading: last.heading,
		alt0: last.alt1, alt1: last.alt1})
	return last.t1
}

// release replaces the timeline from s seconds on with the way back to base and a stay there; the
// rounds go on from there.
func (m *mover) release(s float64) {
	m.cut(s)
	m.travel(m.base, true)
	m.park(stayAtBase)
}

// cut ends the timeline at s seconds since the epoch, where the vehicle is then, and makes that
// the spot the next drive leaves from. No report is made at or before s afterwards: s is the time
// of the last Step.
func (m *mover) cut(s float64) {
	for m.legs[m.cur].t1 < s {
		if m.cur++; m.cur == len(m.legs) {
			m.plan()
		}
	}
	l := m.legs[m.cur]
	if l.kmh > 0 {
		f := (s - l.t0) / (l.t1 - l.t0)
		l.to, l.alt1 = l.from.add(l.to.sub(l.from).scale(f)), l.alt0+(l.alt1-l.alt0)*f
	}
	l.t1 = s
	m.legs, m.cur = append(m.legs[:0], l), 0
	m.at = m.net.snap(l.to)
}

// altitude returns the height of the ground at p: the district's, with gentle hills.
func (m *mover) altitude(p vec) float64 {
	return m.ground + 10*math.Sin(p.x/2300)*math.Cos(p.y/1900)
}

// fix returns the k-th report, made at offset after the epoch.
func (m *mover) fix(epoch time.Time, k int64, offset time.Duration) liftrescue.Fix {
	s := offset.Seconds()
	for m.legs[m.cur].t1 < s {
		if m.cur++; m.cur == len(m.legs) {
			m.plan()
		}
	}
	l := &m.legs[m.cur]
	pos, alt := l.from, l.alt0
	if l.kmh > 0 {
		f := (s - l.t0) / (l.t1 - l.t0)
		pos, alt = l.from.add(l.to.sub(l.from).scale(f)), alt+(l.alt1-l.alt0)*f
	}

	// Noise that is a function of the report alone keeps the fixes independent of the steps.
	h := mix64(m.noise + uint64(k))
	u := func() float64 { h = mix64(h); return float64(h>>11) / (1 << 53) }
	kmh, accuracy, jitter := 0.0, 8+7*u(), 4.0 // parked: a few metres of wander, as GPS does
	if l.kmh > 0 {
		kmh, accuracy, jitter = l.kmh*(0.97+0.06*u()), 5+5*u(), 1.5
	}
	pos = pos.add(vec{jitter * (2*u() - 1), jitter * (2*u() - 1)})
	lon, lat := pos.lonLat()
	return liftrescue.Fix{
		DeviceID:  m.device,
		Time:      epoch.Add(offset),
		Lat:       lat,
		Lon:       lon,
		SpeedKmh:  math.Round(kmh*10) / 10,
		Heading:   math.Mod(math.Round(l.heading), 360),
		AccuracyM: math.Round(accuracy*10) / 10,
		AltitudeM: math.Round(alt + 3*u()),
		Battery:   liftrescue.Unknown,
	}
}

// roadNet is a district's streets as a graph: the nodes are the streets' ends and crossings, the
// roads the stretches of street between them. It is built once per Traffic; a district has at
// most a few hundred nodes.
type roadNet struct {
	plan  *districtPlan
	nodes []vec
	roads [][]road // by node
	stops [][]stop // by street: the nodes along it, by distance from its start
	// main says which streets belong to the largest connected part of the net, by length: the
	// only streets vehicles use, so that every destination can be reached.
	main []bool

	// Dijkstra's scratch space, reused by every route: a Traffic runs on one goroutine.
	dist  []float64
	prev  []int
	queue queue
}

type stop struct {
	t    float64
	node int
}

type road struct {
	to     int
	length float64
	id     uint64 // street<<32 | stretch: the same both ways
}

// junctionTolerance is how close two points must be to be one junction, and how far past a
// street's end another street may cross it: the parts of a split street meet at their ends.
const junctionTolerance = 1.0

func newRoadNet(p *districtPlan) *roadNet {
	n := &roadNet{plan: p, stops: make([][]stop, len(p.streets)), main: make([]bool, len(p.streets))}
	node := func(v vec) int {
		for i, w := range n.nodes {
			if v.sub(w).length() < junctionTolerance {
				return i
			}
		}
		n.nodes = append(n.nodes, v)
		return len(n.nodes) - 1
	}
	for i := range p.streets {
		s := &p.streets[i]
		n.stops[i] = append(n.stops[i], stop{0, node(s.from)}, stop{s.length, node(s.at(s.length, 0, 0))})
	}
	for i := range p.streets {
		for j := i + 1; j < len(p.streets); j++ {
			a, b := &p.streets[i], &p.streets[j]
			cross := a.dir.cross(b.dir)
			if math.Abs(cross) < 1e-9 {
				continue // parallel: collinear parts meet at their ends, which are nodes already
			}
			d := b.from.sub(a.from)
			ta, tb := d.cross(b.dir)/cross, d.cross(a.dir)/cross
			if ta < -junctionTolerance || ta > a.length+junctionTolerance ||
				tb < -junctionTolerance || tb > b.length+junctionTolerance {
				continue
			}
			k := node(a.at(ta, 0, 0))
			n.stops[i] = append(n.stops[i], stop{min(max(ta, 0), a.length), k})
			n.stops[j] = append(n.stops[j], stop{min(max(tb, 0), b.length), k})
		}
	}

	n.roads = make([][]road, len(n.nodes))
	n.dist, n.prev = make([]float64, len(n.nodes)), make([]int, len(n.nodes))
	parent := make([]int, len(n.nodes)) // union–find, for the connected parts
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i], i = parent[parent[i]], parent[parent[i]]
		}
		return i
	}
	for i := range n.stops {
		slices.SortStableFunc(n.stops[i], func(a, b stop) int { return cmp.Compare(a.t, b.t) })
		n.stops[i] = slices.CompactFunc(n.stops[i], func(a, b stop) bool { return a.node == b.node })
		for j := 1; j < len(n.stops[i]); j++ {
			a, b := n.stops[i][j-1].node, n.stops[i][j].node
			length, id := n.nodes[b].sub(n.nodes[a]).length(), uint64(i)<<32|uint64(j)
			n.roads[a] = append(n.roads[a], road{b, length, id})
			n.roads[b] = append(n.roads[b], road{a, length, id})
			parent[find(a)] = find(b)
		}
	}
	lengths := make([]float64, len(n.nodes)) // of the streets in each part, by its root
	for i := range p.streets {
		lengths[find(n.stops[i][0].node)] += p.streets[i].length
	}
	biggest := 0
	for r, l := range lengths {
		if l > lengths[biggest] {
			biggest = r
		}
	}
	for i := range p.streets {
		n.main[i] = find(n.stops[i][0].node) == biggest
	}
	return n
}

// snap returns the spot p, reached by the nearest street of the net.
func (n *roadNet) snap(p vec) spot {
	best, bestD := spot{pos: p, street: -1}, math.Inf(1)
	for i := range n.plan.streets {
		s := &n.plan.streets[i]
		if !n.main[i] {
			continue
		}
		t := min(max(p.sub(s.from).dot(s.dir), 0), s.length)
		if d := p.sub(s.at(t, 0, 0)).length(); d < bestD {
			best, bestD = spot{pos: p, street: i, t: t}, d
		}
	}
	return best
}

// randomSpot picks a spot uniformly along the net's streets, off one side by near to far metres.
func (n *roadNet) randomSpot(rng *rand.Rand, near, far float64) spot {
	p := n.plan
	for {
		r := rng.Float64() * p.reach[len(p.reach)-1]
		i := min(sort.SearchFloat64s(p.reach, r), len(p.streets)-1)
		if !n.main[i] {
			continue // newRoadNet keeps the longest part, so this ends
		}
		s := &p.streets[i]
		t := r - (p.reach[i] - s.length)
		return spot{pos: s.at(t, 1-2*rng.IntN(2), near+(far-near)*rng.Float64()), street: i, t: t}
	}
}

// route returns the corners of a short way along the streets from where a leaves its street to
// where b is reached from its street: straight along one street, or to a crossing and round the
// corner, and so on. The roads' lengths are stretched by up to half at random (keyed by nonce) so
// that a van does not always take the same way.
func (n *roadNet) route(a, b spot, nonce uint64) []vec {
	from := n.plan.streets[a.street].at(a.t, 0, 0)
	to := n.plan.streets[b.street].at(b.t, 0, 0)
	if a.street == b.street {
		return []vec{from, to}
	}
	dist, prev, q := n.dist, n.prev, &n.queue
	for i := range dist {
		dist[i], prev[i] = math.Inf(1), -1
	}
	for _, s := range n.around(a) {
		if d := from.sub(n.nodes[s.node]).length(); d < dist[s.node] {
			dist[s.node] = d
			q.push(queued{d, s.node})
		}
	}
	for len(*q) > 0 {
		e := q.pop()
		if e.d > dist[e.node] {
			continue
		}
		for _, r := range n.roads[e.node] {
			stretch := 1 + 0.5*float64(mix64(nonce^r.id)>>11)/(1<<53)
			if d := e.d + r.length*stretch; d < dist[r.to] {
				dist[r.to], prev[r.to] = d, e.node
				q.push(queued{d, r.to})
			}
		}
	}
	end, best := -1, math.Inf(1)
	for _, s := range n.around(b) {
		if d := dist[s.node] + to.sub(n.nodes[s.node]).length(); d < best {
			end, best = s.node, d
		}
	}
	path := []vec{to}
	for k := end; k >= 0; k = prev[k] {
		path = append(path, n.nodes[k])
	}
	path = append(path, from)
	slices.Reverse(path)
	return straighten(path)
}

// around returns the nodes either side of the spot's point on its street.
func (n *roadNet) around(p spot) []stop {
	stops := n.stops[p.street]
	j := sort.Search(len(stops), func(j int) bool { return stops[j].t > p.t }) - 1
	j = min(max(j, 0), len(stops)-2)
	return stops[j : j+2]
}

// straighten drops the corners that are no corners: repeated points, and points where the way
// goes straight on (through a crossing, or from one part of a split street to the next), so that
// a run of street is one leg driven at one speed.
func straighten(path []vec) []vec {
	out := path[:1]
	for i := 1; i < len(path); i++ {
		p := path[i]
		if p.sub(out[len(out)-1]).length() < 0.5 {
			continue
		}
		if len(out) >= 2 {
			u, v := out[len(out)-1].sub(out[len(out)-2]), p.sub(out[len(out)-1])
			if u.dot(v) > 0 && math.Abs(u.cross(v)) < 0.02*u.length()*v.length() { // about 1°
				out[len(out)-1] = p
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

// queue is Dijkstra's priority queue, a binary heap.
type queue []queued

type queued struct {
	d    float64
	node int
}

func (q *queue) push(e queued) {
	h := append(*q, e)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p].d <= h[i].d {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	*q = h
}

func (q *queue) pop() queued {
	h := *q
	top, last := h[0], len(h)-1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		c := 2*i + 1
		if c >= len(h) {
			break
		}
		if c+1 < len(h) && h[c+1].d < h[c].d {
			c++
		}
		if h[i].d <= h[c].d {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	*q = h
	return top
}
