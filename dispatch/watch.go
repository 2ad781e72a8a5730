package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
)

// watchLoop looks at the dispatched vehicles every WatchEvery: a vehicle at the elevator has
// arrived; a tier-1 vehicle that cannot make the arrival limit starts tier 2 early.
func (e *Engine) watchLoop(ctx context.Context) {
	t := time.NewTicker(e.cfg.WatchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.Watch(ctx)
		}
	}
}

// watchStep is an action the watch found due.
type watchStep struct {
	incident int64
	in       liftrescue.Input
}

// Watch checks the dispatched vehicles once and applies what it finds: GPS arrivals and predicted
// late arrivals. The engine calls it every WatchEvery; tests call it after moving a vehicle.
func (e *Engine) Watch(ctx context.Context) {
	now := e.cfg.Now()
	var steps []watchStep
	e.mu.RLock()
	for _, inc := range e.open {
		steps = e.watchIncident(inc, now, steps)
	}
	e.mu.RUnlock()
	for _, s := range steps {
		if _, err := e.act(ctx, s.incident, s.in); err != nil && ctx.Err() == nil {
			if code := liftrescue.ErrorCode(err); code != liftrescue.ECONFLICT {
				e.cfg.Logger.Error("watch step not applied", "incident", s.incident, "action", s.in.Action, "err", err)
			}
			continue
		}
		switch s.in.Action {
		case liftrescue.ActionArrived:
			e.stats.gpsArrivals.Add(1)
		case liftrescue.ActionEscalate:
			e.stats.predicted.Add(1)
		}
	}
	e.flushAlarms(ctx)
}

func (e *Engine) watchIncident(inc *liftrescue.Incident, now time.Time, steps []watchStep) []watchStep {
	if inc.ArrivedAt != nil || inc.State.Ended() || inc.State == liftrescue.IncidentReleased {
		return steps
	}
	system := liftrescue.Actor{Kind: liftrescue.ActorSystem, Name: "gps"}
	lon, lat := inc.Elevator.Lon, inc.Elevator.Lat
	for _, a := range inc.Assignments {
		if a.Unit.VehicleID == 0 || !a.State.Active() {
			continue
		}
		st, ok := e.cfg.Index.Vehicle(a.Unit.VehicleID)
		if !ok || e.cfg.Liveness.Status(st.Time, now) != liftrescue.StatusLive {
			continue
		}
		if geo.DistanceM(st.Lon, st.Lat, lon, lat) <= e.cfg.Policy.ArrivalRadiusM {
			return append(steps, watchStep{inc.ID, liftrescue.Input{Action: liftrescue.ActionArrived, AssignmentID: a.ID, Actor: system}})
		}
		if e.cfg.Policy.NoPrediction || inc.Tier != 1 || inc.Predicted || a.Tier != 1 || !a.State.Committed() {
			continue
		}
		eta := e.cfg.ETA.ETA(st.Lon, st.Lat, lon, lat)
		if left := inc.ArriveBy.Sub(now); eta > left {
			steps = append(steps, watchStep{inc.ID, liftrescue.Input{Action: liftrescue.ActionEscalate, Predicted: true,
				Actor:  liftrescue.Actor{Kind: liftrescue.ActorSystem, Name: "prediction"},
				Reason: fmt.Sprintf("tier-1 vehicle %s needs about %.0f min, %.0f min are left", a.Unit.Plate, eta.Minutes(), max(0, left.Minutes()))}})
		}
	}
	return steps
}

// RunDue fires every deadline due now and checks the vehicles, at once and in the caller's
// goroutine: for tests and demos whose clock jumps. It returns when every deadline due is
// applied, those the timer loop took meanwhile included.
func (e *Engine) RunDue(ctx context.Context) {
	due, _ := e.timers.due(e.cfg.Now())
	for _, d := range due {
		e.fire(ctx, d)
	}
	e.timers.done(len(due))
	e.timers.wait()
	e.Watch(ctx)
}
