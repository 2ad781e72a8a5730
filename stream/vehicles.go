package stream

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
)

// VehicleFeedConfig configures a VehicleFeed.
type VehicleFeedConfig struct {
	Hub   *Hub       // required
	Index *geo.Index // required
	// Fleet returns the registry's vehicles, by ascending ID (required). It is called once a tick,
	// so it should answer from memory.
	Fleet    func() []*liftrescue.Vehicle
	Liveness liftrescue.Liveness
	// Interval is the time between ticks, and so the least time between two events of a vehicle
	// (default 1 s).
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
}

// VehicleFeed publishes a vehicle event whenever what a client shows of a vehicle changes: a
// newer fix, a new status (a silent tracker turns stale, then offline, with no fix to say so), or
// a change in the registry. It compares the index with what it last published once a tick, rather
// than hearing of every fix, so that ingest pays nothing for it and a vehicle whose tracker sends
// ten fixes a second still yields one event a tick, of the latest.
type VehicleFeed struct {
	cfg VehicleFeedConfig

	mu         sync.Mutex // one tick at a time
	sent, next []sentVehicle
}

// sentVehicle is what a client was last told of a vehicle: a LiveVehicle without the position,
// which only a newer fix can change (the index never takes an older one), and without the age,
// which changes every tick.
type sentVehicle struct {
	id, teamID, orgID int64
	plate, deviceID   string
	onDuty            bool
	status            liftrescue.VehicleStatus
	fix               int64 // unix ns of the latest fix, 0 for none
}

// NewVehicleFeed returns a feed; it publishes nothing until Run or Tick. Returns EINVALID for a
// config without its hub, index or fleet, or with a bad liveness.
func NewVehicleFeed(cfg VehicleFeedConfig) (*VehicleFeed, error) {
	switch {
	case cfg.Hub == nil:
		return nil, liftrescue.Invalid("hub", "is required")
	case cfg.Index == nil:
		return nil, liftrescue.Invalid("index", "is required")
	case cfg.Fleet == nil:
		return nil, liftrescue.Invalid("fleet", "is required")
	case cfg.Interval < 0:
		return nil, liftrescue.Invalid("interval", "must be positive")
	}
	if err := cfg.Liveness.Validate(); err != nil {
		return nil, err
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &VehicleFeed{cfg: cfg}, nil
}

// Run ticks every Interval, the first time at once, until ctx is done (it then returns nil) or
// the hub closes (ErrClosed).
func (f *VehicleFeed) Run(ctx context.Context) error {
	t := time.NewTicker(f.cfg.Interval)
	defer t.Stop()
	for {
		if err := f.Tick(f.cfg.Now()); errors.Is(err, ErrClosed) {
			return err
		} else if err != nil {
			f.cfg.Logger.Error("vehicle feed tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-f.cfg.Hub.done:
			return ErrClosed
		case <-t.C:
		}
	}
}

// Tick publishes the changes since the last tick, as of now. The first tick announces every
// vehicle, so that a client that connected before it misses nothing. After an error, the next
// tick publishes again what this one did before it (the events carry whole states, so a client
// takes a repeat in its stride).
func (f *VehicleFeed) Tick(now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fleet := f.cfg.Fleet()
	if !slices.IsSortedFunc(fleet, byID) {
		fleet = slices.SortedFunc(slices.Values(fleet), byID)
	}
	states := f.cfg.Index.Vehicles() // by ascending ID
	// Walk the fleet, the index and what was sent together, in ID order.
	sent, next := f.sent, f.next[:0]
	i, j := 0, 0
	for _, v := range fleet {
		for ; j < len(sent) && sent[j].id < v.ID; j++ {
			if err := f.cfg.Hub.Publish(KindVehicleRemoved, removed{sent[j].id}); err != nil {
				return err
			}
		}
		for i < len(states) && states[i].ID < v.ID {
			i++
		}
		var st *geo.VehicleState
		cur := sentVehicle{id: v.ID, teamID: v.TeamID, orgID: v.OrganizationID, plate: v.Plate,
			deviceID: v.DeviceID, onDuty: v.OnDuty, status: liftrescue.StatusNoFix}
		if i < len(states) && states[i].ID == v.ID {
			st = &states[i]
			cur.fix, cur.status = st.Time.UnixNano(), f.cfg.Liveness.Status(st.Time, now)
		}
		if j < len(sent) && sent[j].id == v.ID {
			j++
			if sent[j-1] == cur {
				next = append(next, cur)
				continue
			}
		}
		if err := f.cfg.Hub.Publish(KindVehicle, liveVehicle(v, st, f.cfg.Liveness, now)); err != nil {
			return err
		}
		next = append(next, cur)
	}
	for ; j < len(sent); j++ {
		if err := f.cfg.Hub.Publish(KindVehicleRemoved, removed{sent[j].id}); err != nil {
			return err
		}
	}
	f.sent, f.next = next, sent
	return nil
}

func byID(a, b *liftrescue.Vehicle) int { return cmp.Compare(a.ID, b.ID) }

// removed is the data of a vehicle_removed event.
type removed struct {
	ID int64 `json:"id"`
}

// liveVehicle is the data of a vehicle event: the vehicle with its latest position, if any, as
// the REST API shows it.
func liveVehicle(v *liftrescue.Vehicle, st *geo.VehicleState, l liftrescue.Liveness, now time.Time) liftrescue.LiveVehicle {
	var p *liftrescue.LivePosition
	if st != nil {
		p = st.LivePosition()
	}
	return liftrescue.NewLiveVehicle(v, p, l, now)
}
