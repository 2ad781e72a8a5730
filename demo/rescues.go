package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/liftrescue/liftrescue"
)

const (
	// DefaultRescueEvery is the mean time between the demo's trapped-passenger reports when
	// RescueConfig.Every is 0: often enough that a newcomer never waits long for the next one.
	DefaultRescueEvery = 90 * time.Second
	// DefaultRescueMaxOpen is how many of its own incidents the simulation keeps open at most when
	// RescueConfig.MaxOpen is 0: a few at once keep the map busy without burying the lists.
	DefaultRescueMaxOpen = 3

	// DispatcherName is the name the simulation acts under as the centre's dispatcher.
	DispatcherName = "演示调度员"
	// RescueNotePrefix starts the note of every incident the simulation opens. It is how the
	// simulation knows its own incidents again, also those a previous run left open, and it tells
	// whoever reads the incident that it is made up.
	RescueNotePrefix = "【演示】"
)

// streamRescues is the rescue simulation's PCG stream. It stands apart from city.go's list of
// streams: above its small numbers, below the vehicles' streamTraffic<<32 | index.
const streamRescues uint64 = 0x5245_5343 // "RESC"

// Dispatcher is what the rescue simulation does through the dispatch service: open incidents and
// act on them, as a dispatcher, a hotline, an IoT terminal or a unit would. *dispatch.Engine has
// both methods.
type Dispatcher interface {
	Open(ctx context.Context, n liftrescue.NewIncident, district string, actor liftrescue.Actor) (*liftrescue.Incident, error)
	Act(ctx context.Context, id int64, in liftrescue.Input) (*liftrescue.Incident, error)
}

// Records is what the rescue simulation reads: the open incidents, which it looks at on every
// Step, and the vehicles of a unit, to send one. A liftrescue.Store has both methods.
//
// Reading the open incidents again on every Step, rather than being told of each change, keeps the
// simulation right whoever moved an incident on (the engine's deadlines and GPS arrivals, a
// dispatcher in the UI, a previous run of the demo) at the cost of one small query a step.
type Records interface {
	OpenIncidents(ctx context.Context) ([]*liftrescue.Incident, error)
	ListVehicles(ctx context.Context, f liftrescue.VehicleFilter) (*liftrescue.Page[*liftrescue.Vehicle], error)
}

// RescueConfig chooses how the demo raises and plays out incidents. The zero RescueConfig is the
// default.
type RescueConfig struct {
	// Every is the mean time between reports; each gap is drawn between half and one and a half of
	// it. 0 means DefaultRescueEvery.
	Every time.Duration
	// MaxOpen caps the simulation's own open incidents; 0 means DefaultRescueMaxOpen.
	MaxOpen int
	// Pace scales how long the simulated people take (to answer, to free the passengers, to call
	// back): 1, or 0, is real time; RescuePace picks it for a policy. Vehicles still drive at road
	// speed, so below 1 crews may say they are there before their van's GPS does.
	Pace float64
	// Elevators is how many of the city's elevators, from the first, the store holds; 0 means all.
	Elevators int
	// Seed picks one of many runs; 0 means the city's seed.
	Seed uint64
}

// Policy returns the escalation policy the demo runs under unless it is given one: the deadlines
// of TSG T5002 (5 minutes to accept, 30 to arrive) shortened so that a newcomer watches
// acknowledgements, escalations and arrivals within minutes.
func Policy() liftrescue.Policy {
	p := liftrescue.Policy{
		AckTimeout:         liftrescue.Duration(time.Minute),
		Tier2AckTimeout:    liftrescue.Duration(45 * time.Second),
		Tier3AckTimeout:    liftrescue.Duration(2 * time.Minute),
		ArriveTimeout:      liftrescue.Duration(8 * time.Minute),
		RuralArriveTimeout: liftrescue.Duration(12 * time.Minute),
	}
	if err := p.Validate(); err != nil {
		panic(err)
	}
	return p
}

// RescuePace returns the pace that suits a policy: 1 for the demo's policy and for slower ones,
// and for a faster one (a test's) in proportion to its time to accept, so that the simulated
// people keep up with its deadlines.
func RescuePace(p liftrescue.Policy) float64 {
	return min(1, float64(p.AckTimeout)/float64(Policy().AckTimeout))
}

// Rescues simulates the rescues of the demo city: it reports trapped passengers now and then,
// plays every notified unit (which accepts, declines or never answers, with the odds of real
// centres), drives the vans of the units that accept to the elevator through Traffic, frees the
// passengers, and as the dispatcher calls back and closes the incidents it opened. The dispatch
// engine does the rest as in production: deadlines escalate, GPS marks arrivals.
//
// It is driven by the caller's clock through Step and draws from its own PCG stream; with a
// Dispatcher and Records that answer the same, the same steps make the same rescues. A Rescues is
// not safe for concurrent use, and it must step on the goroutine that steps its Traffic.
type Rescues struct {
	cfg       RescueConfig
	city      *City
	d         Dispatcher
	r         Records
	traffic   *Traffic // nil: no van is driven, crews say when they are there
	rng       *rand.Rand
	elevators int
	nextOpen  time.Time
	incidents map[int64]*rescue
	sent      map[string]bool // device ids of the vans driving to or standing at an incident
}

// rescue is what the simulation plans for one open incident.
type rescue struct {
	own     bool // opened by the simulation, which also plays its dispatcher
	trapped int  // how many are in the car, which an IoT alarm does not know
	units   map[int]*unitPlan
	// The dispatcher's next step: planned when the incident reaches stage.
	stage  string
	action liftrescue.Action
	at     time.Time
}

// unitPlan is what one notified unit does next. A plan is made when the unit's assignment reaches
// a state, and carried out once when due.
type unitPlan struct {
	state  liftrescue.AssignmentState // the state the plan was made in
	action liftrescue.Action          // "" for nothing
	at     time.Time
	reason string
	device string // the van driven for it, "" for none
}

// Rescues returns the simulation of the city's rescues from start on, through d and r, driving the
// vans of traffic (which may be nil).
func (c *City) Rescues(cfg RescueConfig, d Dispatcher, r Records, traffic *Traffic, start time.Time) *Rescues {
	if cfg.Every <= 0 {
		cfg.Every = DefaultRescueEvery
	}
	if cfg.MaxOpen <= 0 {
		cfg.MaxOpen = DefaultRescueMaxOpen
	}
	if cfg.Pace <= 0 {
		cfg.Pace = 1
	}
	if cfg.Seed == 0 {
		cfg.Seed = c.cfg.Seed
	}
	n := c.NumElevators()
	if cfg.Elevators > 0 {
		n = min(n, cfg.Elevators)
	}
	rs := &Rescues{cfg: cfg, city: c, d: d, r: r, traffic: traffic, rng: rand.New(rand.NewPCG(cfg.Seed, streamRescues)),
		elevators: n, incidents: map[int64]*rescue{}, sent: map[string]bool{}}
	// The first report comes soon, so that a newcomer sees one within a minute or so.
	rs.nextOpen = start.Add(rs.between(cfg.Every/10, cfg.Every*4/10))
	return rs
}

// Step moves the simulation to now: it reads the open incidents, takes every step that is due and
// reports trapped passengers when it is time. It returns the errors of the steps it could not take
// (an incident that moved on meanwhile is no error: the next Step sees where it is).
func (rs *Rescues) Step(ctx context.Context, now time.Time) error {
	open, err := rs.r.OpenIncidents(ctx)
	if err != nil {
		return fmt.Errorf("demo rescues: read the open incidents: %w", err)
	}
	var errs []error
	seen, own := make(map[int64]bool, len(open)), 0
	for _, inc := range open { // by id, so that the steps and their draws come in one order
		seen[inc.ID] = true
		r := rs.incidents[inc.ID]
		if r == nil {
			// Not opened by this run: another's, or one a previous run left open.
			r = &rescue{own: strings.HasPrefix(inc.Note, RescueNotePrefix), trapped: max(inc.Trapped, 1)}
			rs.incidents[inc.ID] = r
		}
		if r.own {
			own++
		}
		errs = append(errs, rs.units(ctx, inc, r, now)...)
		if r.own {
			errs = append(errs, rs.dispatcher(ctx, inc, r, now))
		}
	}
	for id, r := range rs.incidents {
		if !seen[id] { // ended: the vans go back
			for _, u := range r.units {
				rs.recall(u)
			}
			delete(rs.incidents, id)
		}
	}
	if !now.Before(rs.nextOpen) {
		rs.nextOpen = now.Add(rs.between(rs.cfg.Every/2, rs.cfg.Every*3/2))
		if own < rs.cfg.MaxOpen {
			errs = append(errs, rs.open(ctx))
		}
	}
	return errors.Join(errs...)
}

// between returns a random duration from lo to hi.
func (rs *Rescues) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(float64(hi-lo)*rs.rng.Float64())
}

// paced scales how long a simulated person takes by the pace.
func (rs *Rescues) paced(d time.Duration) time.Duration {
	return time.Duration(float64(d) * rs.cfg.Pace)
}

// How the simulated people behave, at pace 1.
const (
	// A unit that accepts sets off this long after.
	setOffMin, setOffMax = 5 * time.Second, 20 * time.Second
	// A crew without a tracked van, or whose van's GPS is not believed, says it is there after
	// about this long; a fire engine after its ETA.
	unseenDriveMin, unseenDriveMax = 4 * time.Minute, 12 * time.Minute
	// gpsGrace is how long after its van should be there a crew says so itself, should the
	// tracker's fixes not have marked it arrived.
	gpsGrace = 2 * time.Minute
	// Freeing the passengers takes this long once someone is there (盘车放人, opening the doors).
	releaseMin, releaseMax = 3 * time.Minute, 10 * time.Minute
	// The dispatcher calls back this long after the release, and closes this long after that.
	callbackMin, callbackMax = time.Minute, 2 * time.Minute
	closeMin, closeMax       = 15 * time.Second, 45 * time.Second
	// stallAfter is how long an incident of the simulation may go without anyone arriving before
	// its dispatcher gives up on it (no fire station known, say), so that it does not hold a place
	// under MaxOpen for ever. It is a safety net, not behaviour, and does not follow the pace.
	stallAfter = time.Hour
)

// odds are how a tier's units answer a notification.
type odds struct {
	accept, decline float64 // the rest never answer, and the engine escalates on its deadline
	from, to        time.Duration
	// early skews the answers towards from: most answer soon, a few take long.
	early bool
	// reasons are what the unit says when it declines.
	reasons []string
}

var (
	// A tier-1 unit (the maintenance company or the user unit) accepts in about half a minute to
	// three, most within the first minute. Under the demo's policy about half the incidents miss
	// tier 1's minute to accept, and more its arrival limit: most see a volunteer come.
	tier1Odds = odds{accept: 0.60, decline: 0.10, from: 30 * time.Second, to: 3 * time.Minute, early: true,
		reasons: []string{"值班人员外出", "无可用救援人员", "道路封闭"}}
	// A volunteer unit is picked for being near and free, and answers within the minute.
	tier2Odds = odds{accept: 0.75, decline: 0.15, from: 5 * time.Second, to: time.Minute,
		reasons: []string{"救援人员正在其他现场", "车辆故障", "道路封闭"}}
	// The fire brigade always comes.
	fireOdds = odds{accept: 1, from: 15 * time.Second, to: time.Minute}
)

func oddsOf(tier int) *odds {
	switch tier {
	case 1:
		return &tier1Odds
	case 2:
		return &tier2Odds
	}
	return &fireOdds
}

// decide draws how a unit of the tier answers: accept, decline (with a reason) or nothing, and
// after how long.
func (rs *Rescues) decide(tier int) (action liftrescue.Action, after time.Duration, reason string) {
	o := oddsOf(tier)
	u := rs.rng.Float64()
	f := rs.rng.Float64()
	if o.early {
		f *= f
	}
	after = rs.paced(o.from + time.Duration(float64(o.to-o.from)*f))
	switch {
	case u < o.accept:
		return liftrescue.ActionAccept, after, ""
	case u < o.accept+o.decline:
		return liftrescue.ActionDecline, after, o.reasons[rs.rng.IntN(len(o.reasons))]
	}
	return "", 0, ""
}

// units plays the incident's units: each plans its next step when its assignment reaches a new
// state, and takes it when due.
func (rs *Rescues) units(ctx context.Context, inc *liftrescue.Incident, r *rescue, now time.Time) []error {
	if r.units == nil {
		r.units = map[int]*unitPlan{}
	}
	var errs []error
	first := firstArrived(inc)
	for i := range inc.Assignments {
		a := &inc.Assignments[i]
		u := r.units[a.ID]
		if u == nil {
			u = &unitPlan{}
			r.units[a.ID] = u
		}
		// A unit that missed its deadline may still answer late, as it planned to.
		if a.State != u.state && !(u.state == liftrescue.AssignmentNotified && a.State == liftrescue.AssignmentTimedOut) {
			u.state, u.action = a.State, ""
			rs.plan(ctx, inc, a, u, a.ID == first, now)
		}
		if !a.State.Active() {
			rs.recall(u)
		}
		if u.action != "" && !now.Before(u.at) {
			errs = append(errs, rs.unitAct(ctx, inc, a, u, r))
		}
	}
	return errs
}

// plan decides what a unit does next in the state its assignment has just reached.
func (rs *Rescues) plan(ctx context.Context, inc *liftrescue.Incident, a *liftrescue.Assignment, u *unitPlan, first bool, now time.Time) {
	switch a.State {
	case liftrescue.AssignmentNotified, liftrescue.AssignmentTimedOut:
		var after time.Duration
		u.action, after, u.reason = rs.decide(a.Tier)
		u.at = now.Add(after)
	case liftrescue.AssignmentAccepted:
		// The user unit only acknowledges: its staff reassure the passengers and wait for the
		// maintenance company, whose certified workers free them.
		if a.Unit.Role != liftrescue.OrgUserUnit {
			u.action, u.at = liftrescue.ActionEnRoute, now.Add(rs.paced(rs.between(setOffMin, setOffMax)))
		}
	case liftrescue.AssignmentEnRoute:
		drive := rs.between(unseenDriveMin, unseenDriveMax)
		if a.Unit.ETAS != nil { // the engine's estimate, from the van's or the fire station's position
			drive = time.Duration(*a.Unit.ETAS * (1 + 0.3*rs.rng.Float64()) * float64(time.Second))
		}
		if eta, ok := rs.dispatchVan(ctx, inc, a, u); ok {
			drive = eta + gpsGrace
		}
		u.action, u.at = liftrescue.ActionArrived, now.Add(rs.paced(drive))
	case liftrescue.AssignmentArrived:
		// The first unit there frees the passengers; the engine stands the others down.
		if first {
			u.action, u.at = liftrescue.ActionReleased, now.Add(rs.paced(rs.between(releaseMin, releaseMax)))
		}
	}
}

// firstArrived returns the assignment that arrived first while the passengers are still in the
// car, 0 otherwise.
func firstArrived(inc *liftrescue.Incident) int {
	if inc.State != liftrescue.IncidentArrived {
		return 0
	}
	var first *liftrescue.Assignment
	for i := range inc.Assignments {
		a := &inc.Assignments[i]
		if a.State == liftrescue.AssignmentArrived && a.ArrivedAt != nil && (first == nil || a.ArrivedAt.Before(*first.ArrivedAt)) {
			first = a
		}
	}
	if first == nil {
		return 0
	}
	return first.ID
}

// dispatchVan drives the assignment's van to the elevator, when the traffic drives it and it is
// not at another incident, and returns how long the drive takes.
func (rs *Rescues) dispatchVan(ctx context.Context, inc *liftrescue.Incident, a *liftrescue.Assignment, u *unitPlan) (time.Duration, bool) {
	if rs.traffic == nil || a.Unit.VehicleID == 0 {
		return 0, false
	}
	v, err := rs.vehicle(ctx, a.Unit.OrganizationID, func(v *liftrescue.Vehicle) bool { return v.ID == a.Unit.VehicleID })
	if err != nil || v == nil || v.DeviceID == "" || rs.sent[v.DeviceID] {
		return 0, false // the crew says when it is there
	}
	eta, ok := rs.traffic.Send(v.DeviceID, inc.Elevator.Lon, inc.Elevator.Lat)
	if ok {
		u.device = v.DeviceID
		rs.sent[v.DeviceID] = true
	}
	return eta, ok
}

// vehicle returns the first of the organisation's vehicles that ok accepts, or nil.
func (rs *Rescues) vehicle(ctx context.Context, org int64, ok func(*liftrescue.Vehicle) bool) (*liftrescue.Vehicle, error) {
	page, err := rs.r.ListVehicles(ctx, liftrescue.VehicleFilter{OrganizationID: org, Paging: liftrescue.Paging{Limit: 100}})
	if err != nil {
		return nil, err
	}
	for _, v := range page.Items {
		if ok(v) {
			return v, nil
		}
	}
	return nil, nil
}

// recall sends the unit's van, if it drove one, back to its rounds.
func (rs *Rescues) recall(u *unitPlan) {
	if u.device == "" {
		return
	}
	rs.traffic.Release(u.device)
	delete(rs.sent, u.device)
	u.device = ""
}

// unitAct takes the unit's planned step.
func (rs *Rescues) unitAct(ctx context.Context, inc *liftrescue.Incident, a *liftrescue.Assignment, u *unitPlan, r *rescue) error {
	in := liftrescue.Input{Action: u.action, AssignmentID: a.ID, Reason: u.reason,
		Actor: liftrescue.Actor{Kind: liftrescue.ActorUnit, Name: a.Unit.OrganizationName}}
	u.action = ""
	switch in.Action {
	case liftrescue.ActionAccept:
		if a.Unit.Role == liftrescue.OrgMaintenance && a.Unit.VehicleID == 0 && rs.traffic != nil {
			// The maintenance company sends its rescue van, if one is on duty, tracked and free.
			v, err := rs.vehicle(ctx, a.Unit.OrganizationID, func(v *liftrescue.Vehicle) bool {
				return v.OnDuty && v.DeviceID != "" && !rs.sent[v.DeviceID]
			})
			if err != nil {
				return err
			}
			if v != nil {
				in.VehicleID = v.ID
			}
		}
	case liftrescue.ActionReleased:
		in.Released = &r.trapped
		in.Note = pick(rs.rng, releaseNotes)
	}
	return rs.act(ctx, inc.ID, in)
}

// dispatcher plays the centre's dispatcher on the simulation's own incidents: once the passengers
// are out it calls back, then closes the incident with the fault cause the maintenance company
// filed.
func (rs *Rescues) dispatcher(ctx context.Context, inc *liftrescue.Incident, r *rescue, now time.Time) error {
	stage := ""
	switch {
	case inc.State == liftrescue.IncidentReleased && inc.CallbackAt == nil:
		stage = "released"
	case inc.State == liftrescue.IncidentReleased:
		stage = "called back"
	case inc.ArrivedAt == nil && now.Sub(inc.ReportedAt) > stallAfter:
		stage = "stalled"
	}
	if stage != r.stage {
		r.stage, r.action = stage, ""
		switch stage {
		case "released":
			r.action, r.at = liftrescue.ActionCallbackDone, now.Add(rs.paced(rs.between(callbackMin, callbackMax)))
		case "called back":
			r.action, r.at = liftrescue.ActionClose, now.Add(rs.paced(rs.between(closeMin, closeMax)))
		case "stalled":
			r.action, r.at = liftrescue.ActionCancel, now
		}
	}
	if r.action == "" || now.Before(r.at) {
		return nil
	}
	in := liftrescue.Input{Action: r.action, Actor: liftrescue.Actor{Kind: liftrescue.ActorDispatcher, Name: DispatcherName}}
	r.action = ""
	switch in.Action {
	case liftrescue.ActionCallbackDone:
		in.Note = pick(rs.rng, callbackNotes)
	case liftrescue.ActionClose:
		in.Cause = draw(rs.rng, faultCauses)
	case liftrescue.ActionCancel:
		in.CancelReason, in.Note = liftrescue.CancelSelfRescued, "长时间无人到场，经联系乘客已自行脱困"
	}
	return rs.act(ctx, inc.ID, in)
}

// act applies a step. An incident that moved on meanwhile (a deadline fired, someone else acted)
// refuses it or is gone: the next Step plans from where it is.
func (rs *Rescues) act(ctx context.Context, id int64, in liftrescue.Input) error {
	_, err := rs.d.Act(ctx, id, in)
	switch liftrescue.ErrorCode(err) {
	case "", liftrescue.ECONFLICT, liftrescue.ENOTFOUND:
		return nil
	}
	return fmt.Errorf("demo rescues: incident %d: %s: %w", id, in.Action, err)
}

// open reports trapped passengers in an elevator picked uniformly among the city's. The city puts
// its elevators where people live and work, most of them in the dense cores of the big districts,
// so a uniform pick already raises incidents where elevators are dense.
func (rs *Rescues) open(ctx context.Context) error {
	code := rs.city.rescueCodes.code(rs.rng.IntN(rs.elevators))
	trapped := draw(rs.rng, trappedCounts)
	n := liftrescue.NewIncident{Elevator: code, Trapped: trapped}
	actor := liftrescue.Actor{Kind: liftrescue.ActorDispatcher, Name: DispatcherName}
	var note string
	switch u := rs.rng.Float64(); {
	case u < 0.45: // the passenger pressed the alarm and was put through
		n.Source, n.CallerPhone, note = liftrescue.SourceCall, newMobile(rs.rng), pick(rs.rng, callNotes)
	case u < 0.80: // the city hotline passes the call on
		n.Source, n.CallerPhone, note = liftrescue.SourceHotline, newMobile(rs.rng), pick(rs.rng, hotlineNotes)
		actor = liftrescue.Actor{Kind: liftrescue.ActorCaller, Name: "12345热线"}
	default: // the car's terminal raised the alarm; it cannot count the passengers
		n.Source, n.Trapped, note = liftrescue.SourceIoT, 0, pick(rs.rng, iotNotes)
		actor = liftrescue.Actor{Kind: liftrescue.ActorDevice, Name: "物联网终端"}
	}
	if n.Source != liftrescue.SourceIoT && rs.rng.IntN(30) == 0 {
		n.LifeInDanger, note = true, pick(rs.rng, dangerNotes) // the fire brigade goes at once
	}
	n.Note = RescueNotePrefix + note
	inc, err := rs.d.Open(ctx, n, "", actor)
	if liftrescue.ErrorCode(err) == liftrescue.ECONFLICT {
		return nil // one is open on that elevator already
	}
	if err != nil {
		return fmt.Errorf("demo rescues: open an incident on elevator %s: %w", code, err)
	}
	rs.incidents[inc.ID] = &rescue{own: true, trapped: trapped}
	return nil
}

// weighted is a value with its weight in a draw.
type weighted[T any] struct {
	v T
	w int
}

// draw returns one of the values with a probability proportional to its weight.
func draw[T any](rng *rand.Rand, ws []weighted[T]) T {
	return ws[pickWeighted(rng, ws, func(w weighted[T]) int { return w.w })].v
}

func pick(rng *rand.Rand, s []string) string { return s[rng.IntN(len(s))] }

// Most trapped are one or two passengers; a full car is rare.
var trappedCounts = []weighted[int]{{1, 55}, {2, 25}, {3, 12}, {4, 5}, {5, 3}}

// faultCauses are weighted roughly as the provincial statistics report them: doors first, then
// misuse, power cuts and control faults.
var faultCauses = []weighted[liftrescue.FaultCause]{
	{liftrescue.CauseDoorSystem, 35}, {liftrescue.CauseMisuse, 14}, {liftrescue.CausePowerLoss, 12},
	{liftrescue.CauseController, 12}, {liftrescue.CauseSafetyCircuit, 10}, {liftrescue.CauseExternal, 5},
	{liftrescue.CauseOther, 5}, {liftrescue.CauseBrake, 4}, {liftrescue.CauseTraction, 3},
}

var (
	callNotes    = []string{"乘客按警铃求助，电梯停在两层之间", "乘客来电：轿厢门打不开", "乘客来电：电梯突然停止运行", "乘客求助，情绪稳定"}
	hotlineNotes = []string{"12345转来：小区电梯困人", "96333接警：乘客被困电梯", "12345转来：家属来电，老人被困电梯"}
	iotNotes     = []string{"物联网终端报警：困人", "物联网终端报警：非平层停梯，轿厢内有人"}
	dangerNotes  = []string{"乘客称身体不适，呼吸困难", "轿厢内有孕妇，情绪激动", "轿厢内冒烟"}
	releaseNotes = []string{"盘车至平层，乘客安全撤出", "开启层门，乘客已安全救出", "乘客已救出，电梯停用待修"}
	// What the dispatcher hears when calling back the passenger or the user unit.
	callbackNotes = []string{"已回访乘客，人员安全", "已回访使用单位，电梯已停用报修", "已回访乘客，对救援满意"}
)
