package dispatch

import (
	"context"
	"sync"
	"time"

	"github.com/liftrescue/liftrescue"
)

// Terminals repeat an alarm every few seconds for as long as its cause lasts, and a platform may
// forward each repeat: a flood of reports about one trapped car. The first opens (or is written on)
// the elevator's incident; the repeats within a window are only counted, and written as one line
// when the window has passed, so that a burst of a thousand leaves one incident and two lines.

// DefaultAlarmWindow is how long repeats of an elevator's alarms are collapsed into one line.
const DefaultAlarmWindow = time.Minute

// maxQuarantine bounds the reports of unknown elevators kept for the admin; the oldest go first.
const maxQuarantine = 1000

// alarmWindow collapses the reports of one elevator.
type alarmWindow struct {
	mu       sync.Mutex
	incident int64
	written  time.Time // when a report of the elevator was last written on its incident
	pending  int       // reports counted since, not yet written
	last     liftrescue.Alarm
}

// reset starts a new window after a report was written on the incident. The caller holds w.mu.
func (w *alarmWindow) reset(incident int64, written time.Time, last liftrescue.Alarm) {
	w.incident, w.written, w.pending, w.last = incident, written, 0, last
}

type alarmState struct {
	mu         sync.Mutex
	windows    map[int64]*alarmWindow // by elevator id
	quarantine []liftrescue.QuarantinedAlarm
}

func (s *alarmState) window(elevator int64) *alarmWindow {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.windows == nil {
		s.windows = map[int64]*alarmWindow{}
	}
	w := s.windows[elevator]
	if w == nil {
		w = &alarmWindow{}
		s.windows[elevator] = w
	}
	return w
}

// RaiseAlarm takes one normalised terminal report (liftrescue.Alarm.Normalize has run) that names
// its elevator by equipment code: a priority-1 alarm opens an incident on the elevator and starts
// tier 1, or is written on the one open; repeats within the window are counted; lower priorities
// and status reports are written on an open incident (a running state showing the doors open at a
// floor is evidence of release) and otherwise recorded. A report naming no known elevator is
// quarantined, and so is one naming only a terminal: terminals are resolved to their elevators
// before (iot.Monitor), and RaiseElevatorAlarm takes those. sender names the platform or terminal
// that sent it, for the quarantine list.
func (e *Engine) RaiseAlarm(ctx context.Context, a liftrescue.Alarm, sender string) (liftrescue.AlarmResult, error) {
	res := liftrescue.AlarmResult{Outcome: liftrescue.AlarmRecorded, Kind: a.Kind, Priority: a.Priority}
	el, reason, err := e.alarmElevator(ctx, &a)
	if err != nil {
		return res, err
	}
	if el == nil {
		e.quarantine(a, reason, sender)
		res.Outcome, res.Reason = liftrescue.AlarmQuarantined, reason
		return res, nil
	}
	return e.raiseOn(ctx, el.ID, a, res)
}

// RaiseElevatorAlarm is RaiseAlarm for a report whose elevator is known (a registered terminal's):
// it reads nothing from the store unless it opens or writes on an incident.
func (e *Engine) RaiseElevatorAlarm(ctx context.Context, elevatorID int64, a liftrescue.Alarm) (liftrescue.AlarmResult, error) {
	return e.raiseOn(ctx, elevatorID, a, liftrescue.AlarmResult{Outcome: liftrescue.AlarmRecorded, Kind: a.Kind, Priority: a.Priority})
}

func (e *Engine) raiseOn(ctx context.Context, elevatorID int64, a liftrescue.Alarm, res liftrescue.AlarmResult) (liftrescue.AlarmResult, error) {
	res.ElevatorID = elevatorID
	if a.Code == "" && a.State == nil {
		return res, nil // a heartbeat: it says the terminal is alive, nothing of the elevator
	}
	w := e.alarms.window(elevatorID)
	w.mu.Lock()
	defer w.mu.Unlock()
	now := e.cfg.Now()
	open := e.openOn(elevatorID)
	if open == 0 && a.Priority == 1 {
		inc, err := e.Open(ctx, liftrescue.NewIncident{ElevatorID: elevatorID, Source: liftrescue.SourceIoT,
			Note: "IoT " + string(a.Kind) + " (" + string(a.Namespace) + " " + a.Code + ")"}, "", deviceActor(&a))
		switch {
		case err == nil:
			w.reset(inc.ID, now, a)
			e.stats.alarmOpened.Add(1)
			res.Outcome, res.IncidentID = liftrescue.AlarmOpened, inc.ID
			return res, nil
		case liftrescue.ErrorCode(err) == liftrescue.ECONFLICT:
			open, _ = liftrescue.ErrorExtra(err)["incident_id"].(int64) // opened meanwhile elsewhere
		default:
			return res, err
		}
	}
	if open == 0 {
		return res, nil // a fault on a running elevator: iot.Monitor writes it on the elevator's fault record
	}
	res.IncidentID = open
	releases := a.State != nil && a.State.Released()
	if w.incident == open && now.Sub(w.written) < e.cfg.AlarmWindow && !releases {
		w.pending++
		w.last = a
		res.Outcome = liftrescue.AlarmCounted
		return res, nil
	}
	if err := e.writeAlarms(ctx, w, open, a, 1+w.pending); err != nil {
		return res, err
	}
	res.Outcome = liftrescue.AlarmAttached
	return res, nil
}

// writeAlarms writes n reports, the last of them a, on the incident. The caller holds w.mu.
func (e *Engine) writeAlarms(ctx context.Context, w *alarmWindow, incident int64, a liftrescue.Alarm, n int) error {
	_, err := e.act(ctx, incident, liftrescue.Input{Action: liftrescue.ActionAlarm, Alarm: &a, Repeats: n, Actor: deviceActor(&a)})
	if err != nil && liftrescue.ErrorCode(err) != liftrescue.ECONFLICT { // ended meanwhile: nothing to write on
		return err
	}
	w.reset(incident, e.cfg.Now(), a)
	e.stats.alarmWrites.Add(1)
	return nil
}

// flushAlarms writes the repeats counted in windows that have passed. Watch calls it every second.
func (e *Engine) flushAlarms(ctx context.Context) {
	e.alarms.mu.Lock()
	windows := make([]*alarmWindow, 0, len(e.alarms.windows))
	for _, w := range e.alarms.windows {
		windows = append(windows, w)
	}
	e.alarms.mu.Unlock()
	now := e.cfg.Now()
	for _, w := range windows {
		w.mu.Lock()
		if w.pending > 0 && now.Sub(w.written) >= e.cfg.AlarmWindow {
			if err := e.writeAlarms(ctx, w, w.incident, w.last, w.pending); err != nil && ctx.Err() == nil {
				e.cfg.Logger.Error("alarm repeats not written", "incident", w.incident, "err", err)
			}
		}
		w.mu.Unlock()
	}
}

// alarmElevator finds the elevator a report names, or says why it cannot.
func (e *Engine) alarmElevator(ctx context.Context, a *liftrescue.Alarm) (*liftrescue.Elevator, string, error) {
	if a.EquipmentCode == "" {
		return nil, "unknown terminal " + a.TerminalID + ": register it on its elevator (PUT /api/v1/terminals/" + a.TerminalID + ")", nil
	}
	el, err := e.cfg.Store.FindElevatorByCode(ctx, a.EquipmentCode)
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, "no elevator has the equipment code " + a.EquipmentCode, nil
	}
	return el, "", err
}

func (e *Engine) quarantine(a liftrescue.Alarm, reason, sender string) {
	e.alarms.mu.Lock()
	defer e.alarms.mu.Unlock()
	if len(e.alarms.quarantine) == maxQuarantine {
		e.alarms.quarantine = append(e.alarms.quarantine[:0], e.alarms.quarantine[1:]...)
	}
	e.alarms.quarantine = append(e.alarms.quarantine, liftrescue.QuarantinedAlarm{Alarm: a, Reason: reason, Sender: sender, ReceivedAt: e.cfg.Now()})
	e.stats.quarantined.Add(1)
}

// Quarantine returns the reports of unknown elevators and terminals kept since the start, newest last.
func (e *Engine) Quarantine() []liftrescue.QuarantinedAlarm {
	e.alarms.mu.Lock()
	defer e.alarms.mu.Unlock()
	return append([]liftrescue.QuarantinedAlarm{}, e.alarms.quarantine...)
}

// OpenOn returns the id of the incident open on the elevator, 0 for none.
func (e *Engine) OpenOn(elevator int64) int64 { return e.openOn(elevator) }

// openOn returns the id of the incident open on the elevator, 0 for none.
func (e *Engine) openOn(elevator int64) int64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.byElevator[elevator]
}

func deviceActor(a *liftrescue.Alarm) liftrescue.Actor {
	name := a.TerminalID
	if name == "" {
		name = a.EquipmentCode
	}
	return liftrescue.Actor{Kind: liftrescue.ActorDevice, Name: name}
}
