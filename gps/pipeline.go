package gps

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
)

// Pipeline defaults.
const (
	DefaultFlushInterval = time.Second
	DefaultFlushSize     = 1000
	DefaultMaxSpeedKmh   = 250
	// DefaultBacklogFlushes is how many full batches may wait for the database (see
	// PipelineConfig.MaxBacklog).
	DefaultBacklogFlushes = 100
	// DefaultDeviceBurst is the burst of a device rate limit set without one: ten minutes of
	// fixes a second apart, what a tracker uploads when it comes out of a long tunnel.
	DefaultDeviceBurst = 600
	// jumpSlackM is allowed on top of MaxSpeedKmh between two fixes, for GPS noise: two fixes a
	// second apart may scatter by tens of metres.
	jumpSlackM = 100
)

// Reasons a fix is rejected, as Result and Stats give them. A fix that fails validation is
// counted under "invalid " and the field at fault ("invalid time"); its Detail says more.
const (
	ReasonUnknownDevice  = "unknown device"
	ReasonBadSecret      = "bad device secret"
	ReasonHistoryBacklog = "history backlog"
	ReasonClosed         = "ingest is shutting down"
	// ReasonRateLimited: the device sent more fixes than PipelineConfig.DeviceRate and
	// DeviceBurst allow. Sent again later, they are taken.
	ReasonRateLimited = "device rate limit exceeded"
)

// PipelineConfig configures a Pipeline.
type PipelineConfig struct {
	// Store keeps the history and the vehicles whose device ids make the device registry.
	Store interface {
		liftrescue.PositionService
		liftrescue.VehicleService
	}
	// Index is the live index that accepted fixes move vehicles in.
	Index *geo.Index
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// FlushInterval is how often accepted fixes are written to the history at the latest (and so
	// about how much a crash may lose); 0 means DefaultFlushInterval.
	FlushInterval time.Duration
	// FlushSize is the most positions written in one transaction; 0 means DefaultFlushSize.
	FlushSize int
	// FlushAt is the count of positions waiting at which a flush starts before its interval is
	// up; 0 means FlushSize (above MaxBacklog, only the interval starts flushes). A store that
	// keeps a vehicle's fixes together (PostgreSQL's runs) writes a busy fleet for less when
	// flushes wait for more of them: each flush is sorted by vehicle, so each vehicle's fixes of
	// the flush go together.
	FlushAt int
	// MaxBacklog bounds the positions accepted but not yet written; 0 means
	// DefaultBacklogFlushes × FlushSize. When the database is slower than the ingest and the
	// backlog is full, Accept rejects fixes with ReasonHistoryBacklog instead of letting memory
	// grow without bound or blocking the caller: trackers resend what is not acknowledged.
	MaxBacklog int
	// MaxSpeedKmh is the fastest a vehicle may have gone between two fixes; a fix farther from
	// the vehicle's latest than that allows (plus 100 m for GPS noise) is an impossible jump: it
	// is kept in the history but does not move the vehicle. 0 means DefaultMaxSpeedKmh.
	MaxSpeedKmh float64
	// Writers is how many history transactions may run at once: PostgreSQL writes batches
	// faster side by side (COPY is mostly client and network work); SQLite has one writer
	// whatever is asked. 0 means 1.
	Writers int
	// DeviceRate is how many fixes a second one device may send, sustained, and DeviceBurst how
	// many it may send at once (its backlog after a tunnel); 0 or less means no limit, and a
	// DeviceBurst of 0 or less DefaultDeviceBurst. Fixes beyond the limit are rejected with
	// ReasonRateLimited, so that a broken or hostile tracker cannot flood the live index and the
	// history. Only fixes that would be kept count: a device's invalid or unauthenticated fixes
	// do not take from its limit. The limit follows the device id as the registry knows it, and
	// starts afresh when its vehicle is stored again or the registry reloaded.
	DeviceRate  float64
	DeviceBurst int
	// OnAlarm, when set, is called with every accepted fix that raises an alarm (a tracker's SOS
	// button), from the goroutine of Accept: it must be quick and must not call Accept.
	OnAlarm func(vehicleID int64, f liftrescue.Fix)
	// Logger gets flush failures and new unknown devices; slog.Default() when nil.
	Logger *slog.Logger
}

// Result says what became of a batch of fixes given to Accept.
type Result struct {
	// Accepted counts the fixes kept: they will reach the history, and those newer than their
	// vehicle's latest that are no impossible jump have moved it.
	Accepted int `json:"accepted"`
	// Rejected names each fix refused, by its Index in the batch, with the reason.
	Rejected []liftrescue.Detail `json:"rejected"`

	keys []string // the Stats key of each of Rejected, until counted
}

// Stats are the pipeline's counters since it started.
type Stats struct {
	Accepted int64 `json:"accepted"` // fixes kept
	// Rejected counts refused fixes by reason: ReasonUnknownDevice, ReasonBadSecret,
	// ReasonHistoryBacklog, ReasonClosed, ReasonRateLimited, "invalid <field>".
	Rejected map[string]int64 `json:"rejected"`
	// Refused counts devices turned away by Authenticate and Register, by the error's text.
	Refused map[string]int64 `json:"refused"`
	// UnknownDevices is the number of distinct unknown device ids seen (up to 1024 are told
	// apart); their fixes are counted in Rejected[ReasonUnknownDevice].
	UnknownDevices int   `json:"unknown_devices"`
	OutOfOrder     int64 `json:"out_of_order"` // accepted fixes no newer than their vehicle's latest: history only
	Jumps          int64 `json:"jumps"`        // accepted fixes that were impossible jumps: history only
	Unlocated      int64 `json:"unlocated"`    // accepted fixes without a satellite fix: history only
	Flushed        int64 `json:"flushed"`      // positions written to the history
	Dropped        int64 `json:"dropped"`      // positions the store refused as invalid (a vehicle deleted meanwhile)
	FlushErrors    int64 `json:"flush_errors"` // failed writes; their positions are kept and written again
	Backlog        int   `json:"backlog"`      // positions accepted and not yet written
}

// maxUnknownDevices bounds the set of unknown device ids remembered, for Stats and to log each once.
const maxUnknownDevices = 1024

// Pipeline is the ingest core the protocol servers share: it checks fixes, maps devices to
// vehicles, moves vehicles in the live index and writes every accepted fix to the history in
// batches, from a goroutine of its own, so that Accept never waits for the database.
//
// The history is at most about one FlushInterval behind the index; Close writes everything
// accepted (by the Accept calls in progress too), so a graceful shutdown loses nothing, while a
// crash loses at most what was accepted since the last flush. Each flush hands the store its
// positions sorted by vehicle and time. A failed write keeps its positions and is tried again on
// the next tick; positions the store refuses as invalid (their vehicle was deleted meanwhile) are
// dropped and counted, and the rest of their batch is written.
//
// Accept holds no lock while it works through a batch: devices are looked up in a registry that
// is read without one, and the positions are built in a pooled buffer that joins the history's,
// as it is, under a lock at the end; the flush copies them once, sorted.
//
// A Pipeline is safe for concurrent use.
type Pipeline struct {
	store interface {
		liftrescue.PositionService
		liftrescue.VehicleService
	}
	index      *geo.Index
	now        func() time.Time
	interval   time.Duration
	size       int // positions in a transaction at most
	flushAt    int // positions waiting that start a flush early
	maxBacklog int
	maxSpeed   float64 // km/h
	writers    int
	onAlarm    func(int64, liftrescue.Fix)
	log        *slog.Logger
	limit      rateLimit
	// start is the origin of the rate limit's clock: time since it, read on the monotonic clock,
	// does not jump when the wall clock is set.
	start time.Time

	reg registry

	mu sync.Mutex
	// buf is what was accepted and not yet taken by a flush: the buffers of Accept calls, in the
	// order accepted. A small batch (a single OsmAnd fix) is copied into the last buffer instead,
	// while that one is a copy's and has room (tailOpen). bufLen counts the positions.
	buf      []*[]liftrescue.Position
	bufLen   int
	tailOpen bool
	queued   int // bufLen + positions taken by a flush and not yet written
	closed   bool
	// accepting counts the Accept calls that found the pipeline open and have not put their
	// positions in buf yet: Close waits for them (drained is closed when the last one ends), so
	// that a graceful shutdown loses nothing.
	accepting int
	drained   chan struct{}
	jumpMu    sync.Mutex
	jumps     map[int64]liftrescue.Fix // vehicle → its latest fix flagged as an impossible jump

	// The history buffers, reused from flush to flush, under flushMu: pending is taken by a
	// flush and not yet written, sorted by vehicle and time; spare becomes the next pending; refs
	// and keys sort them; peak is about the most positions a recent flush held, which the buffers
	// are kept for.
	flushMu        sync.Mutex // one flush at a time
	pending, spare []liftrescue.Position
	refs           []*liftrescue.Position
	keys           []uint64
	peak           int

	statsMu  sync.Mutex
	rejected map[string]int64
	refused  map[string]int64
	unknown  map[string]struct{}
	accepted, outOfOrder, jumpCount, unlocated,
	flushed, dropped, flushErrors atomic.Int64

	kick     chan struct{} // a full batch waits
	stop     chan struct{}
	done     chan struct{}
	cancel   context.CancelFunc
	stopOnce sync.Once
}

// NewPipeline loads the device registry from the store and starts the goroutine that writes the
// history. Close stops it.
func NewPipeline(ctx context.Context, cfg PipelineConfig) (*Pipeline, error) {
	if cfg.Store == nil || cfg.Index == nil {
		return nil, errors.New("gps: pipeline needs a store and an index")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.FlushSize <= 0 {
		cfg.FlushSize = DefaultFlushSize
	}
	if cfg.MaxBacklog <= 0 {
		cfg.MaxBacklog = DefaultBacklogFlushes * cfg.FlushSize
	}
	if cfg.MaxSpeedKmh <= 0 {
		cfg.MaxSpeedKmh = DefaultMaxSpeedKmh
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Writers = max(cfg.Writers, 1)
	if cfg.FlushAt <= 0 {
		cfg.FlushAt = cfg.FlushSize
	}
	if cfg.DeviceBurst <= 0 {
		cfg.DeviceBurst = DefaultDeviceBurst
	}
	p := &Pipeline{
		store: cfg.Store, index: cfg.Index, now: cfg.Now, interval: cfg.FlushInterval,
		size: cfg.FlushSize, flushAt: cfg.FlushAt, maxBacklog: cfg.MaxBacklog, maxSpeed: cfg.MaxSpeedKmh, log: cfg.Logger,
		writers: cfg.Writers, onAlarm: cfg.OnAlarm,
		limit: newRateLimit(cfg.DeviceRate, cfg.DeviceBurst), start: cfg.Now(),
		jumps:    map[int64]liftrescue.Fix{},
		rejected: map[string]int64{},
		refused:  map[string]int64{},
		unknown:  map[string]struct{}{},
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	p.reg.seed = maphash.MakeSeed()
	if err := p.Reload(ctx); err != nil {
		return nil, err
	}
	bg, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go p.run(bg)
	return p, nil
}

// Reload reads the device registry again from the store's vehicles. PutVehicle and
// RemoveVehicle keep it current vehicle by vehicle; Reload is for changes that touch many (a team
// moved to another organisation).
func (p *Pipeline) Reload(ctx context.Context) error {
	byID := map[int64]*liftrescue.Vehicle{}
	f := liftrescue.VehicleFilter{Paging: liftrescue.Paging{Limit: liftrescue.MaxLimit}}
	for {
		page, err := p.store.ListVehicles(ctx, f)
		if err != nil {
			return fmt.Errorf("load device registry: %w", err)
		}
		for _, v := range page.Items {
			byID[v.ID] = v
		}
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	r := &p.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byID, r.fleet = byID, nil
	var shards [deviceShards]deviceShard
	for _, v := range r.sortedLocked() {
		if v.DeviceID == "" {
			continue
		}
		key := keyOf(v.DeviceID)
		sh := &shards[r.shard(key)]
		if other, ok := sh.get(key); ok && other.vehicle != v.ID {
			warnSharedDevice(p.log, v, other)
			continue
		}
		d := newDevice(v)
		sh.set(key, &d)
	}
	for i := range shards {
		r.shards[i].Store(&shards[i])
	}
	return nil
}

// PutVehicle adds a vehicle to the registry or replaces it, as it was just stored.
func (p *Pipeline) PutVehicle(v *liftrescue.Vehicle) {
	v = new(*v)
	r := &p.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removeLocked(v.ID)
	r.byID[v.ID] = v
	r.addDeviceLocked(v, p.log)
}

// RemoveVehicle takes a vehicle out of the registry.
func (p *Pipeline) RemoveVehicle(id int64) {
	r := &p.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removeLocked(id)
}

// registry is the device registry and the fleet. Ingest looks devices up without a lock, fix by
// fix: the devices are spread over shards, each an immutable map that a registry write replaces
// with a changed copy, so that a write copies a shard, not the registry. The vehicles (byID, the
// fleet) are under mu, which registry writes hold.
type registry struct {
	mu     sync.RWMutex
	seed   maphash.Seed
	shards [deviceShards]atomic.Pointer[deviceShard] // device → its vehicle
	byID   map[int64]*liftrescue.Vehicle
	fleet  []*liftrescue.Vehicle // byID sorted by id; nil when it must be sorted again
}

// deviceShards is how many maps the devices are spread over: a registry write copies about
// 1/deviceShards of them.
const deviceShards = 64

// deviceKey is a device id, normalised, as the registry keys it. An id of digits alone, as IMEIs
// and the phone numbers of JT/T 808 terminals are, is kept as its number: a lookup compares it
// without reading a string from elsewhere in memory, a cache miss that cost a fifth of the CPU
// of a busy JSON ingest. Other ids are kept as their text.
type deviceKey struct {
	number bool
	num    uint64 // the id's number, when number
	text   string // the id, when not
}

// keyOf returns the registry key of a device id: normalDevice's, as a number when it is one.
func keyOf(id string) deviceKey {
	norm := normalDevice(id)
	if len(norm) == 0 || len(norm) > 19 || norm[0] < '0' || norm[0] > '9' {
		return deviceKey{text: norm}
	}
	var n uint64
	for i := 0; i < len(norm); i++ {
		c := norm[i]
		if c < '0' || c > '9' {
			return deviceKey{text: norm}
		}
		n = n*10 + uint64(c-'0')
	}
	return deviceKey{number: true, num: n}
}

func (r *registry) shard(key deviceKey) uint64 {
	if key.number {
		return key.num * 0x9e3779b97f4a7c15 >> 58 // the top 6 bits: deviceShards is 64
	}
	return maphash.String(r.seed, key.text) % deviceShards
}

func (r *registry) device(id string) (device, bool) {
	return r.deviceOf(keyOf(id))
}

func (r *registry) deviceOf(key deviceKey) (device, bool) {
	sh := r.shards[r.shard(key)].Load()
	if sh == nil {
		return device{}, false
	}
	return sh.get(key)
}

// setDeviceLocked publishes a copy of key's shard with the device set, or deleted when d is nil.
func (r *registry) setDeviceLocked(key deviceKey, d *device) {
	var sh deviceShard
	if old := r.shards[r.shard(key)].Load(); old != nil {
		sh = deviceShard{maps.Clone(old.nums), maps.Clone(old.texts)}
	}
	sh.set(key, d)
	r.shards[r.shard(key)].Store(&sh)
}

// deviceShard holds a shard's devices in two maps, by number and by text: a map keyed by an
// integer is looked up without hashing a structure.
type deviceShard struct {
	nums  map[uint64]device
	texts map[string]device
}

func (sh *deviceShard) get(key deviceKey) (d device, ok bool) {
	if key.number {
		d, ok = sh.nums[key.num]
	} else {
		d, ok = sh.texts[key.text]
	}
	return d, ok
}

// set sets the device of key, or deletes it when d is nil.
func (sh *deviceShard) set(key deviceKey, d *device) {
	switch {
	case d == nil && key.number:
		delete(sh.nums, key.num)
	case d == nil:
		delete(sh.texts, key.text)
	case key.number:
		if sh.nums == nil {
			sh.nums = map[uint64]device{}
		}
		sh.nums[key.num] = *d
	default:
		if sh.texts == nil {
			sh.texts = map[string]device{}
		}
		sh.texts[key.text] = *d
	}
}

func newDevice(v *liftrescue.Vehicle) device {
	return device{vehicle: v.ID, secret: v.DeviceSecret, plate: normalPlate(v.Plate), bucket: new(bucket)}
}

func warnSharedDevice(log *slog.Logger, v *liftrescue.Vehicle, first device) {
	log.Warn("two vehicles have the same device id; the first keeps it",
		"device_id", v.DeviceID, "vehicle_id", first.vehicle, "other_vehicle_id", v.ID)
}

func (r *registry) addDeviceLocked(v *liftrescue.Vehicle, log *slog.Logger) {
	r.fleet = nil
	if v.DeviceID == "" {
		return
	}
	key := keyOf(v.DeviceID)
	if other, ok := r.deviceOf(key); ok && other.vehicle != v.ID {
		warnSharedDevice(log, v, other)
		return
	}
	d := newDevice(v)
	r.setDeviceLocked(key, &d)
}

func (r *registry) removeLocked(id int64) {
	old, ok := r.byID[id]
	if !ok {
		return
	}
	delete(r.byID, id)
	r.fleet = nil
	if key := keyOf(old.DeviceID); old.DeviceID != "" {
		if d, ok := r.deviceOf(key); ok && d.vehicle == id {
			r.setDeviceLocked(key, nil)
		}
	}
}

func (r *registry) sortedLocked() []*liftrescue.Vehicle {
	if r.fleet == nil {
		r.fleet = slices.SortedFunc(maps.Values(r.byID), func(a, b *liftrescue.Vehicle) int { return cmp.Compare(a.ID, b.ID) })
	}
	return r.fleet
}

// device is a tracker fitted to a vehicle.
type device struct {
	vehicle int64
	secret  string
	plate   string  // normalPlate of the vehicle's plate
	bucket  *bucket // its rate limit; shared by the copies of the device
}

// normalPlate lets a plate typed in the registry match the one a terminal sends: case and spaces
// differ between the two.
func normalPlate(plate string) string {
	return strings.ToUpper(strings.Join(strings.Fields(plate), ""))
}

// normalDevice returns the key of a device id in the registry. An id of digits only loses its
// leading zeros: a JT/T 808 terminal phone number is 6 (2013) or 10 (2019) BCD bytes, so a
// 11-digit mobile number comes as "013912345678" or "00000000013912345678", while it is often
// registered as typed, and some devices or people drop the zeros. "013912345678", "13912345678"
// and "00000000013912345678" are thus one device. Other ids (IMEI-like OsmAnd ids with letters)
// are kept as they are, case included.
func normalDevice(id string) string {
	id = strings.TrimSpace(id)
	if id == "" {
		return id
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return id
		}
	}
	if t := strings.TrimLeft(id, "0"); t != "" {
		return t
	}
	return "0"
}

// VehicleOf returns the vehicle a device is fitted to.
func (p *Pipeline) VehicleOf(deviceID string) (int64, bool) {
	d, ok := p.reg.device(deviceID)
	return d.vehicle, ok
}

// Fleet returns every vehicle of the registry, with or without a tracker, by ascending id, as of
// the last Reload. The vehicles are shared: callers must not change them.
func (p *Pipeline) Fleet() []*liftrescue.Vehicle {
	r := &p.reg
	r.mu.RLock()
	fleet := r.fleet
	r.mu.RUnlock()
	if fleet != nil {
		return fleet
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sortedLocked()
}

// Errors of Authenticate and Register. Both count in Stats.Refused.
var (
	ErrUnknownDevice = errors.New(ReasonUnknownDevice)
	ErrBadSecret     = errors.New(ReasonBadSecret)
	// ErrPlateMismatch: a JT/T 808 terminal registered with a plate other than its vehicle's.
	ErrPlateMismatch = errors.New("plate does not match the vehicle")
)

// Authenticate checks a device's secret (an HTTP token, a JT/T 808 auth code) and returns the
// vehicle it is fitted to. The comparison takes the same time whatever the secret.
func (p *Pipeline) Authenticate(deviceID, secret string) (vehicleID int64, err error) {
	d, ok := p.reg.device(deviceID)
	switch {
	case !ok:
		p.unknownDevice(deviceID)
		err = ErrUnknownDevice
	case !d.verify(secret):
		err = ErrBadSecret
	default:
		return d.vehicle, nil
	}
	p.refuse(err)
	return 0, err
}

// Register answers a JT/T 808 terminal's registration: a known device that sends its vehicle's
// plate (any plate when the vehicle has none registered) gets its auth code, the device secret, to authenticate
// with from then on. The protocol has no secret before this step; checking the plate is what the
// standard offers. A deployment that wants no registration over the air configures terminals
// with their auth codes and turns registration off in the JT/T 808 server.
func (p *Pipeline) Register(deviceID, plate string) (vehicleID int64, authCode string, err error) {
	d, ok := p.reg.device(deviceID)
	switch {
	case !ok:
		p.unknownDevice(deviceID)
		err = ErrUnknownDevice
	case d.secret == "":
		err = ErrBadSecret
	case d.plate != "" && normalPlate(plate) != d.plate:
		// A terminal that sends no plate gets no code for a vehicle that has one: else the
		// phone number alone, printed on many a SIM card, would reveal the secret.
		err = ErrPlateMismatch
	default:
		return d.vehicle, d.secret, nil
	}
	p.refuse(err)
	return 0, "", err
}

func (d device) verify(secret string) bool {
	return d.secret != "" && subtle.ConstantTimeCompare([]byte(d.secret), []byte(secret)) == 1
}

func (p *Pipeline) refuse(err error) {
	p.statsMu.Lock()
	p.refused[err.Error()]++
	p.statsMu.Unlock()
}

// Proof says how the fixes given to Accept show that they come from their devices. The zero Proof
// proves nothing: every fix is refused with ReasonBadSecret.
type Proof struct {
	// Trusted: the caller has authenticated the sender already (a JT/T 808 session after its auth
	// message, a request with the ingest key, the demo city's simulator).
	Trusted bool
	// Secret is the device secret that covers every fix of the batch (an OsmAnd request's token).
	Secret string
	// Secrets holds a secret per fix, index for index (a JSON batch in which each fix carries its
	// device's token); a non-empty one takes the place of Secret for its fix.
	Secrets []string
}

func (pr *Proof) secret(i int) string {
	if i < len(pr.Secrets) && pr.Secrets[i] != "" {
		return pr.Secrets[i]
	}
	return pr.Secret
}

// Accept takes a batch of fixes, in any order, from any devices. Each fix is checked on its own:
// one bad fix does not reject the others. It never waits for the database; when the history
// backlog is full it rejects fixes with ReasonHistoryBacklog (see PipelineConfig.MaxBacklog), and
// the fixes of a device over its rate limit with ReasonRateLimited (see PipelineConfig.DeviceRate).
func (p *Pipeline) Accept(ctx context.Context, fixes []liftrescue.Fix, proof Proof) Result {
	var res Result
	if len(fixes) == 0 {
		return res
	}
	now := p.now()
	nowNs := int64(now.Sub(p.start))
	received := fixTime(now)

	// Reserve room in the backlog for the whole batch at once, so that concurrent calls never
	// take more than the bound; what is not used is given back below.
	p.mu.Lock()
	closed := p.closed
	room := 0
	if !closed {
		room = min(len(fixes), max(0, p.maxBacklog-p.queued))
		p.queued += room
		p.accepting++
	}
	p.mu.Unlock()
	if closed {
		for i := range fixes {
			p.reject(&res, i, "", "", ReasonClosed, ReasonClosed)
		}
		p.count(&res)
		return res
	}

	// The positions are made in a buffer of the pool and copied into buf at the end, under the
	// lock; no lock is held meanwhile. Alarms are told before that, so that OnAlarm may write
	// vehicles.
	sc := scratches.Get().(*acceptScratch)
	out, alarms := slices.Grow(sc.out[:0], room), sc.alarms[:0] // alarms: indexes in out
	var (
		lastID   string // the device of the latest fix looked up, which the next ones often repeat
		last     device
		lastOK   bool
		lastSeen bool
	)
	for i := range fixes {
		if len(out) == room {
			p.reject(&res, i, "", "", ReasonHistoryBacklog, ReasonHistoryBacklog)
			continue
		}
		f := fixes[i]
		if field, reason := checkFix(&f, now); reason != "" {
			p.reject(&res, i, field, "", reason, "invalid "+cmpOr(field, "fix"))
			continue
		}
		if !lastSeen || f.DeviceID != lastID {
			last, lastOK = p.reg.device(f.DeviceID)
			lastID, lastSeen = f.DeviceID, true
		}
		d := &last
		switch {
		case !lastOK:
			p.unknownDevice(f.DeviceID)
			p.reject(&res, i, "device_id", f.DeviceID, ReasonUnknownDevice, ReasonUnknownDevice)
			continue
		case !proof.Trusted && !d.verify(proof.secret(i)):
			p.reject(&res, i, "token", "", ReasonBadSecret, ReasonBadSecret)
			continue
		case p.limit.on() && !p.limit.take(d.bucket, nowNs):
			p.rateLimited(*d, f.DeviceID, nowNs)
			p.reject(&res, i, "", "", ReasonRateLimited, ReasonRateLimited)
			continue
		}
		f.Time = fixTime(f.Time)
		p.apply(d.vehicle, &f)
		if f.Alarm != "" {
			alarms = append(alarms, len(out))
		}
		out = append(out, liftrescue.Position{VehicleID: d.vehicle, Fix: f, ReceivedAt: received})
	}
	if p.onAlarm != nil {
		for _, i := range alarms {
			p.onAlarm(out[i].VehicleID, out[i].Fix)
		}
	}

	p.mu.Lock()
	p.queued -= room - len(out)
	if len(out) > 0 {
		sc.out = p.keepLocked(out)
	}
	full := p.bufLen >= p.flushAt
	if p.accepting--; p.accepting == 0 && p.drained != nil {
		close(p.drained)
		p.drained = nil
	}
	p.mu.Unlock()
	if full {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
	res.Accepted = len(out)
	p.accepted.Add(int64(len(out)))
	p.count(&res)
	sc.alarms = alarms[:0]
	scratches.Put(sc)
	return res
}

// acceptScratch is what Accept works in, kept in a pool: out, the positions of a batch, leaves
// it for the history's buffer (see keepLocked), and alarms stays.
type acceptScratch struct {
	out    []liftrescue.Position
	alarms []int
}

var scratches = sync.Pool{New: func() any { return new(acceptScratch) }}

// positionBuffers are the buffers the flushes have emptied, for Accept's next batches.
var positionBuffers = sync.Pool{New: func() any { return new([]liftrescue.Position) }}

// smallBatch is the most positions an Accept call copies into the history's buffer rather than
// hand its own over: a buffer for each single fix would cost the flush more than the copy.
const smallBatch = 64

// tailSize is the room of a buffer that small batches are copied into.
const tailSize = 1024

// keepLocked adds the positions of an Accept call to buf, under mu, and returns the buffer the
// call keeps for its next batch: empty, or out itself when out was copied.
func (p *Pipeline) keepLocked(out []liftrescue.Position) []liftrescue.Position {
	p.bufLen += len(out)
	if len(out) <= smallBatch {
		if n := len(p.buf); p.tailOpen && len(*p.buf[n-1])+len(out) <= cap(*p.buf[n-1]) {
			*p.buf[n-1] = append(*p.buf[n-1], out...)
		} else {
			tail := positionBuffers.Get().(*[]liftrescue.Position)
			if cap(*tail) < tailSize {
				*tail = make([]liftrescue.Position, 0, tailSize)
			}
			*tail = append((*tail)[:0], out...)
			p.buf, p.tailOpen = append(p.buf, tail), true
		}
		clear(out)
		return out[:0]
	}
	kept := positionBuffers.Get().(*[]liftrescue.Position)
	*kept, out = out, *kept
	p.buf, p.tailOpen = append(p.buf, kept), false
	return out[:0]
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// apply moves the vehicle unless the fix is unlocated, an impossible jump or older than the
// vehicle's latest.
func (p *Pipeline) apply(vid int64, f *liftrescue.Fix) {
	if f.Unlocated {
		p.unlocated.Add(1)
		return
	}
	moved, jumped := p.index.MoveVehicleWithin(vid, *f, geo.SpeedLimit{MetresPerSecond: p.maxSpeed / 3.6, SlackM: jumpSlackM})
	if jumped {
		// Two fixes that agree with each other, the latest flagged and this one, say that the
		// vehicle really is there (a tracker off while the van was carried, a first fix far from
		// the last stored one): the jump is taken. Otherwise the fix is remembered as flagged.
		p.jumpMu.Lock()
		prev, had := p.jumps[vid]
		confirmed := had && f.Time.After(prev.Time) && !p.impossible(prev.Lon, prev.Lat, prev.Time, f)
		if confirmed {
			delete(p.jumps, vid)
		} else {
			flagged := *f
			flagged.DeviceID = "" // kept for long: not a string of a decoder's arena
			p.jumps[vid] = flagged
		}
		p.jumpMu.Unlock()
		if !confirmed {
			p.jumpCount.Add(1)
			return
		}
		moved = p.index.MoveVehicle(vid, *f)
	}
	if !moved {
		p.outOfOrder.Add(1)
	}
}

// impossible reports whether going from (lon, lat) at t to the fix needs more than MaxSpeedKmh.
func (p *Pipeline) impossible(lon, lat float64, t time.Time, f *liftrescue.Fix) bool {
	d := geo.DistanceM(lon, lat, f.Lon, f.Lat)
	return d > p.maxSpeed/3.6*f.Time.Sub(t).Seconds()+jumpSlackM
}

// reject records a refused fix in the result; its reason is counted in Stats when Accept ends
// (see count), once per batch rather than once per fix.
func (p *Pipeline) reject(res *Result, i int, field, value, reason, key string) {
	idx := i
	if len(value) > MaxDeviceID {
		value = value[:MaxDeviceID]
	}
	res.Rejected = append(res.Rejected, liftrescue.Detail{Index: &idx, Field: field, Value: value, Reason: reason})
	res.keys = append(res.keys, key)
}

// count adds the reasons of a batch's refused fixes to the stats.
func (p *Pipeline) count(res *Result) {
	if len(res.keys) == 0 {
		return
	}
	p.statsMu.Lock()
	for _, k := range res.keys {
		p.rejected[k]++
	}
	p.statsMu.Unlock()
	res.keys = nil
}

// Saturated reports whether the history backlog is full, so that a server can refuse a request
// (503, retry later) before it spends time reading it: under overload, decoding fixes that Accept
// would refuse anyway takes the processor from the writers that would end the overload.
func (p *Pipeline) Saturated() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queued >= p.maxBacklog || p.closed
}

// rateLimited logs, at most once a minute for each device, that its fixes are refused for its
// rate limit: Stats count them, this names the tracker to look at.
func (p *Pipeline) rateLimited(d device, id string, now int64) {
	if d.bucket.shouldWarn(now) {
		p.log.Warn("fixes refused for the device's rate limit", "device_id", id, "vehicle_id", d.vehicle,
			"rate", p.limit.rate, "burst", p.limit.burst)
	}
}

func (p *Pipeline) unknownDevice(id string) {
	p.statsMu.Lock()
	_, seen := p.unknown[id]
	fresh := !seen && len(p.unknown) < maxUnknownDevices
	if fresh {
		p.unknown[strings.Clone(id)] = struct{}{} // not the decoder's arena (see decoder.text)
	}
	p.statsMu.Unlock()
	if fresh {
		p.log.Warn("fix from an unknown device refused", "device_id", id)
	}
}

// Stats returns the counters.
func (p *Pipeline) Stats() Stats {
	s := Stats{
		Accepted: p.accepted.Load(), OutOfOrder: p.outOfOrder.Load(), Jumps: p.jumpCount.Load(), Unlocated: p.unlocated.Load(),
		Flushed: p.flushed.Load(), Dropped: p.dropped.Load(), FlushErrors: p.flushErrors.Load(),
	}
	p.statsMu.Lock()
	s.Rejected, s.Refused = maps.Clone(p.rejected), maps.Clone(p.refused)
	s.UnknownDevices = len(p.unknown)
	p.statsMu.Unlock()
	p.mu.Lock()
	s.Backlog = p.queued
	p.mu.Unlock()
	return s
}

// run writes the history every interval, and sooner when a full batch waits; after a failure it
// waits for the next tick.
func (p *Pipeline) run(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.interval)
	defer t.Stop()
	failed := false
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		case <-p.kick:
			if failed {
				continue
			}
		}
		failed = p.Flush(ctx) != nil
	}
}

// Flush writes everything accepted so far to the history, sorted by vehicle and time, in
// transactions of at most FlushSize positions, up to Writers of them at once. On failure the
// positions not written are kept for the next flush.
func (p *Pipeline) Flush(ctx context.Context) error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	p.mu.Lock()
	in := p.buf
	p.buf, p.bufLen, p.tailOpen = nil, 0, false
	p.mu.Unlock()
	p.arrange(in)

	// Batches are cut from pending and written concurrently; a batch that fails keeps what it
	// could not write at its front, and pending is compacted at the end.
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, p.writers)
		errs = make([]error, (len(p.pending)+p.size-1)/p.size)
		kept = make([]int, len(errs)) // positions each batch could not write
	)
	for b := range errs {
		batch := p.pending[b*p.size : min((b+1)*p.size, len(p.pending))]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			kept[b], errs[b] = p.write(ctx, batch)
		})
	}
	wg.Wait()
	w := 0
	for b, n := range kept {
		from := b * p.size
		w += copy(p.pending[w:], p.pending[from:from+n])
	}
	clear(p.pending[w:])
	p.pending = p.pending[:w]
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("flush positions: %w", err)
	}
	return nil
}

// arrange makes pending the positions left by the last flush and those of in, sorted by vehicle
// and time (in the order accepted among equals), so that the store gets each vehicle's positions
// together and in order. Keys are sorted rather than positions, which are copied once, into the
// spare buffer; the old pending becomes the next spare, and in's buffers go back to Accept.
//
// A key is the vehicle, from the lowest in the flush, over the position's place in the flush, in
// one integer: sorted, they group the vehicles and keep each vehicle's positions in the order
// accepted, which is nearly always the order of time; the few runs that are not are then sorted
// by time.
func (p *Pipeline) arrange(in []*[]liftrescue.Position) {
	old := p.pending
	refs := slices.Grow(p.refs[:0], len(old))
	for i := range old {
		refs = append(refs, &old[i])
	}
	for _, b := range in {
		for i := range *b {
			refs = append(refs, &(*b)[i])
		}
	}
	n := len(refs)
	p.peak = max(n, p.peak-p.peak/8)
	lo, hi, sorted := int64(0), int64(0), true
	for i, ps := range refs {
		if i == 0 {
			lo, hi = ps.VehicleID, ps.VehicleID
			continue
		}
		lo, hi = min(lo, ps.VehicleID), max(hi, ps.VehicleID)
		sorted = sorted && byVehicleTime(refs[i-1], ps) <= 0
	}
	dst := slices.Grow(p.spare[:0], n)
	switch {
	case sorted:
		for _, ps := range refs {
			dst = append(dst, *ps)
		}
	case uint64(hi)-uint64(lo) < 1<<31 && n < 1<<32:
		keys := slices.Grow(p.keys[:0], n)
		for i, ps := range refs {
			keys = append(keys, uint64(ps.VehicleID-lo)<<32|uint64(i))
		}
		slices.Sort(keys)
		for _, k := range keys {
			dst = append(dst, *refs[uint32(k)])
		}
		p.keys = keys[:0]
		for run := 0; run < len(dst); {
			end := run + 1
			ordered := true
			for ; end < len(dst) && dst[end].VehicleID == dst[run].VehicleID; end++ {
				ordered = ordered && !dst[end].Time.Before(dst[end-1].Time)
			}
			if !ordered {
				slices.SortStableFunc(dst[run:end], func(a, b liftrescue.Position) int { return a.Time.Compare(b.Time) })
			}
			run = end
		}
	default: // vehicle ids too far apart for the keys
		for _, ps := range refs {
			dst = append(dst, *ps)
		}
		slices.SortStableFunc(dst, func(a, b liftrescue.Position) int { return byVehicleTime(&a, &b) })
	}
	clear(refs)
	p.refs = refs[:0]
	if cap(p.keys) > 4*p.peak {
		p.keys = nil
	}
	if cap(p.refs) > 4*p.peak {
		p.refs = nil
	}
	p.pending, p.spare = dst, p.recycle(old)
	for _, b := range in {
		if cap(*b) <= MaxBatch {
			clear(*b)
			*b = (*b)[:0]
			positionBuffers.Put(b)
		}
	}
}

// byVehicleTime orders positions by vehicle, then time.
func byVehicleTime(a, b *liftrescue.Position) int {
	if c := cmp.Compare(a.VehicleID, b.VehicleID); c != 0 {
		return c
	}
	return a.Time.Compare(b.Time)
}

// recycle empties a buffer for reuse, unless it is far larger than what the recent flushes
// needed: a backlog that filled once does not keep its memory for good. The peak, not this
// flush's count, is the measure, since the flushes of a busy ingest alternate between full ones
// (FlushAt reached) and the interval's, which find few positions.
func (p *Pipeline) recycle(b []liftrescue.Position) []liftrescue.Position {
	if cap(b) > max(4*p.peak, 16*p.size) {
		return nil
	}
	clear(b)
	return b[:0]
}

// write stores a batch and returns how many of its positions, now at its front, it could not
// write. Positions the store names as invalid (their vehicle was deleted meanwhile) are dropped
// and the rest written again.
func (p *Pipeline) write(ctx context.Context, batch []liftrescue.Position) (int, error) {
	for len(batch) > 0 {
		err := p.store.AppendPositions(ctx, batch)
		if err == nil {
			p.flushed.Add(int64(len(batch)))
			p.release(len(batch))
			return 0, nil
		}
		p.flushErrors.Add(1)
		n, dropped := dropInvalid(err, batch)
		if !dropped {
			p.log.Error("write position history; will retry", "positions", len(batch), "err", err)
			return len(batch), err
		}
		p.dropped.Add(int64(len(batch) - n))
		p.release(len(batch) - n)
		p.log.Warn("positions refused by the history dropped (vehicle deleted?)", "dropped", len(batch)-n, "err", err)
		batch = batch[:n]
	}
	return 0, nil
}

// dropInvalid removes from the batch the positions err names by index as invalid, keeping the
// others at its front, and returns how many are kept; it reports false, changing nothing, when err
// does not name positions of the batch.
func dropInvalid(err error, batch []liftrescue.Position) (int, bool) {
	if liftrescue.ErrorCode(err) != liftrescue.EINVALID {
		return len(batch), false
	}
	bad := map[int]bool{}
	for _, d := range liftrescue.ErrorDetails(err) {
		if d.Index == nil || *d.Index < 0 || *d.Index >= len(batch) {
			return len(batch), false // not a position we can name: keep all, retry later
		}
		bad[*d.Index] = true
	}
	if len(bad) == 0 {
		return len(batch), false
	}
	w := 0
	for i := range batch {
		if !bad[i] {
			batch[w] = batch[i]
			w++
		}
	}
	clear(batch[w:])
	return w, true
}

func (p *Pipeline) release(n int) {
	p.mu.Lock()
	p.queued -= n
	p.mu.Unlock()
}

// Close refuses further fixes, stops the background writer and writes everything accepted. If
// ctx ends first, the write in progress is abandoned and the error says what was not written;
// Close may then be called again.
func (p *Pipeline) Close(ctx context.Context) error {
	// The Accept calls that came before are let finish: what they accept is written below.
	p.mu.Lock()
	p.closed = true
	if p.accepting > 0 && p.drained == nil {
		p.drained = make(chan struct{})
	}
	drained := p.drained
	p.mu.Unlock()
	if drained != nil {
		select {
		case <-drained:
		case <-ctx.Done():
		}
	}
	p.stopOnce.Do(func() { close(p.stop) })
	select {
	case <-p.done:
	case <-ctx.Done():
		p.cancel()
		<-p.done
	}
	p.cancel()
	if err := p.Flush(ctx); err != nil {
		return fmt.Errorf("close ingest with %d positions not written: %w", p.Stats().Backlog, err)
	}
	return nil
}
