// Package dispatchtest is a small city for the tests of dispatch and of the API: two districts,
// three elevators with their user unit and maintenance company, a volunteer unit whose vans stand
// east of elevator 123456 in a live index, a fire station, a settable clock, and a dispatch engine
// over a SQLite store.
package dispatchtest

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/dispatch"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/liftrescue/liftrescue/store/sqlite"
)

// Clock is a settable clock that the store, the engine and whatever else a test builds share.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Elevator 123456 stands at Lon, Lat in Shizhong, Zaozhuang.
const Lon, Lat = 117.3200, 34.8100

// East returns the longitude m metres east of elevator 123456.
func East(m float64) float64 { return Lon + m/(111320*0.8208) }

// World is the city with its clock, store, live index and engine.
type World struct {
	Ctx    context.Context
	Clock  *Clock
	Store  *sqlite.DB
	Index  *geo.Index
	Engine *dispatch.Engine
	// Elevator is 123456 in Shizhong (370402); Elevator2 (223344) is in Xuecheng (370403),
	// Elevator3 (323232) in Shizhong. All three have User and Maint as their units.
	Elevator, Elevator2, Elevator3 *liftrescue.Elevator
	User, Maint, Volunteer, Fire   *liftrescue.Organization
	// Team is the volunteer unit's team on duty, OffTeam its team off duty, MaintTeam the
	// maintenance company's.
	Team, OffTeam, MaintTeam *liftrescue.Team
	Vehicles                 map[string]*liftrescue.Vehicle // by plate
	// Grids, when set before StartEngine, gives the engine rescue grids.
	Grids liftrescue.GridLocator
	// parked is where each vehicle stands and how old its tracker's last fix is kept: Tick
	// reports them again, as trackers do.
	parked map[string]parking
	logger *slog.Logger
}

type parking struct {
	lon, lat float64
	age      time.Duration
}

// An Option changes how New builds the world.
type Option func(*options)

type options struct {
	policy liftrescue.Policy
	logger *slog.Logger
}

// WithPolicy starts the engine with the policy instead of the default one.
func WithPolicy(p liftrescue.Policy) Option { return func(o *options) { o.policy = p } }

// WithLogger gives the engine the logger instead of slog's default one.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// New builds the city at 02:00 UTC on 21 November 2026 and starts an engine over it, closed when
// the test ends.
//
// Its organisations answer the duty phones 0632-3300001 (the user unit), 0632-3300002 (the
// maintenance company), 0632-3300003 (the volunteer unit) and 0632-3300119 (the fire station, 3 km
// east of 123456). Its vans stand east of 123456, nearest first: 鲁D00001 of the off-duty team at
// 300 m, 鲁D00002 at 600 m with a tracker silent for ten minutes, 鲁D00003 at 1.5 km and 鲁D00004
// at 4 km, then the maintenance company's own 鲁D90001 at 30 km.
func New(tb testing.TB, opts ...Option) *World {
	tb.Helper()
	o := options{policy: liftrescue.DefaultPolicy()}
	for _, opt := range opts {
		opt(&o)
	}
	w := &World{Ctx: context.Background(), Clock: &Clock{t: time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)},
		Vehicles: map[string]*liftrescue.Vehicle{}, parked: map[string]parking{}, logger: o.logger}
	db, err := sqlite.Open(w.Ctx, filepath.Join(tb.TempDir(), "city.db"), sqlite.Options{Now: w.Clock.Now})
	Must(tb, err)
	tb.Cleanup(func() { db.Close() })
	w.Store = db
	Must(tb, db.UpsertDistrict(w.Ctx, &liftrescue.District{Code: "370402", Name: "市中区"}))
	Must(tb, db.UpsertDistrict(w.Ctx, &liftrescue.District{Code: "370403", Name: "薛城区"}))
	org := func(code string, kind liftrescue.OrgKind, name, phone string, at ...float64) *liftrescue.Organization {
		o := &liftrescue.Organization{Code: code, Kind: kind, Name: name, District: "370402", DutyPhones: []string{phone}}
		if len(at) == 2 {
			o.Lon, o.Lat = &at[0], &at[1]
		}
		Must(tb, db.CreateOrganization(w.Ctx, o))
		return o
	}
	w.User = org("91370400USER00001", liftrescue.OrgUserUnit, "市中物业", "0632-3300001")
	w.Maint = org("91370400MAINT0001", liftrescue.OrgMaintenance, "鲁南电梯维保", "0632-3300002")
	w.Volunteer = org("91370400VOLUN0001", liftrescue.OrgVolunteer, "枣庄电梯救援队", "0632-3300003")
	w.Fire = org("91370400FIRE00001", liftrescue.OrgFire, "市中消防救援站", "0632-3300119", East(3000), Lat)
	lift := func(rescue, equipment, district string, lat float64) *liftrescue.Elevator {
		e := &liftrescue.Elevator{RescueCode: rescue, EquipmentCode: equipment, Address: "光明路 18 号", Building: "3 号楼 1 单元",
			District: district, Lat: lat, Lon: Lon, Kind: liftrescue.KindTraction, Floors: 18, UserUnitID: w.User.ID, MaintenanceUnitID: w.Maint.ID}
		Must(tb, db.CreateElevator(w.Ctx, e))
		return e
	}
	w.Elevator = lift("123456", "31103704002018000001", "370402", Lat)
	w.Elevator2 = lift("223344", "31103704032019000002", "370403", Lat+0.05)
	w.Elevator3 = lift("323232", "31103704002020000003", "370402", Lat+0.02)
	team := func(t *liftrescue.Team) *liftrescue.Team {
		Must(tb, db.CreateTeam(w.Ctx, t))
		return t
	}
	w.Team = team(&liftrescue.Team{OrganizationID: w.Volunteer.ID, Name: "一队", DutyPhone: "13800000001", CertifiedStaff: 3, OnDuty: true})
	w.OffTeam = team(&liftrescue.Team{OrganizationID: w.Volunteer.ID, Name: "二队", CertifiedStaff: 2, OnDuty: false})
	w.MaintTeam = team(&liftrescue.Team{OrganizationID: w.Maint.ID, Name: "维保一组", CertifiedStaff: 2, OnDuty: true})
	w.Index, err = geo.NewIndex(geo.IndexOptions{})
	Must(tb, err)
	// Nearest first: an off-duty team's van, a van whose tracker is silent, two good ones, and the
	// maintenance company's own van far away.
	w.Vehicle(tb, "鲁D00001", w.OffTeam, East(300), 0)
	w.Vehicle(tb, "鲁D00002", w.Team, East(600), 10*time.Minute)
	w.Vehicle(tb, "鲁D00003", w.Team, East(1500), 0)
	w.Vehicle(tb, "鲁D00004", w.Team, East(4000), 0)
	w.Vehicle(tb, "鲁D90001", w.MaintTeam, East(30000), 0)
	w.StartEngine(tb, o.policy)
	return w
}

// Vehicle registers a vehicle of the team and places it at lon on 123456's latitude with a fix of
// the given age. An engine already started learns of it when it next starts.
func (w *World) Vehicle(tb testing.TB, plate string, team *liftrescue.Team, lon float64, age time.Duration) {
	tb.Helper()
	v := &liftrescue.Vehicle{TeamID: team.ID, Plate: plate, DeviceID: fmt.Sprintf("1390000%04d", len(w.Vehicles)+1), OnDuty: true}
	Must(tb, w.Store.CreateVehicle(w.Ctx, v))
	w.Vehicles[plate] = v
	w.Move(plate, lon, Lat, age)
}

// Tick moves the clock on; every tracker reports where its vehicle stands (a silent one stays as
// silent as it was).
func (w *World) Tick(d time.Duration) {
	w.Clock.Add(d)
	for plate, p := range w.parked {
		w.Move(plate, p.lon, p.lat, p.age)
	}
}

// Move places a vehicle now with a fix of the given age, and keeps it there for Tick.
func (w *World) Move(plate string, lon, lat float64, age time.Duration) {
	w.Park(plate, lon, lat, age)
	w.Index.MoveVehicle(w.Vehicles[plate].ID, liftrescue.Fix{Time: w.Clock.Now().Add(-age), Lon: lon, Lat: lat,
		SpeedKmh: liftrescue.Unknown, Heading: liftrescue.Unknown, AccuracyM: liftrescue.Unknown, AltitudeM: liftrescue.Unknown, Battery: liftrescue.Unknown})
}

// Park says where a vehicle's tracker reports from at the next Tick, without a fix now.
func (w *World) Park(plate string, lon, lat float64, age time.Duration) {
	w.parked[plate] = parking{lon, lat, age}
}

// StartEngine starts a new engine with the policy over the world's store and index, as the
// centre does after a restart, and stops its loops.
func (w *World) StartEngine(tb testing.TB, policy liftrescue.Policy) {
	tb.Helper()
	e, err := dispatch.New(dispatch.Config{Store: w.Store, Index: w.Index, Policy: policy, Now: w.Clock.Now,
		BaseURL: "http://centre.test", WatchEvery: time.Hour, Logger: w.logger, Grids: w.Grids})
	Must(tb, err)
	Must(tb, e.Start(w.Ctx))
	// Start has loaded the units and the open incidents. Its timer loop would fire a deadline by
	// itself whenever it next looks at the jumped clock, racing the test: with the loops stopped,
	// the engine moves only when the test calls RunDue or Watch.
	e.Close()
	w.Engine = e
}

// Must fails the test at once on an error.
func Must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// LinkRE finds a responder link in a message and its token.
var LinkRE = regexp.MustCompile(`/r/([a-z2-7]+)`)

// Tokens returns the responder token sent for each assignment.
func Tokens(inc *liftrescue.Incident) map[int]string {
	out := map[int]string{}
	for _, n := range inc.Notifications {
		if m := LinkRE.FindStringSubmatch(n.Body); m != nil {
			out[n.AssignmentID] = m[1]
		}
	}
	return out
}

// Units names each assignment's unit (its plate for a van) with its state.
func Units(inc *liftrescue.Incident) []string {
	var out []string
	for _, a := range inc.Assignments {
		out = append(out, unitName(a)+" "+string(a.State))
	}
	return out
}

// TierUnits is Units with each assignment's tier in front.
func TierUnits(inc *liftrescue.Incident) []string {
	var out []string
	for _, a := range inc.Assignments {
		out = append(out, fmt.Sprintf("%d %s %s", a.Tier, unitName(a), a.State))
	}
	return out
}

func unitName(a liftrescue.Assignment) string {
	if a.Unit.Plate != "" {
		return a.Unit.Plate
	}
	return a.Unit.OrganizationName
}

// Kinds lists the kinds of the incident's events.
func Kinds(inc *liftrescue.Incident) []string {
	var out []string
	for _, ev := range inc.Timeline {
		out = append(out, ev.Kind)
	}
	return out
}
