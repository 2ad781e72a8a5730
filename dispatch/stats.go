package dispatch

import (
	"sync/atomic"
	"time"
)

type engineStats struct {
	opened, actions, deadlines, gpsArrivals, predicted atomic.Int64
	alarmOpened, alarmWrites, quarantined              atomic.Int64
	maxLateNs                                          atomic.Int64
}

func (s *engineStats) fired(late time.Duration) {
	s.deadlines.Add(1)
	for {
		old := s.maxLateNs.Load()
		if int64(late) <= old || s.maxLateNs.CompareAndSwap(old, int64(late)) {
			return
		}
	}
}

// Stats counts what the engine has done since it started.
type Stats struct {
	Open           int     `json:"open"`
	Opened         int64   `json:"opened"`
	Actions        int64   `json:"actions"`
	DeadlinesFired int64   `json:"deadlines_fired"`
	MaxLateS       float64 `json:"max_late_s"` // the latest any deadline fired after it was due
	GPSArrivals    int64   `json:"gps_arrivals"`
	Predicted      int64   `json:"predicted"`
	PendingTimers  int     `json:"pending_timers"`
	// AlarmsOpened counts incidents IoT alarms opened; AlarmWrites the lines alarms added to
	// incidents (repeats collapsed); Quarantined the reports of unknown elevators or terminals.
	AlarmsOpened int64 `json:"alarms_opened"`
	AlarmWrites  int64 `json:"alarm_writes"`
	Quarantined  int64 `json:"quarantined"`
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	return Stats{Open: e.OpenCount(), Opened: e.stats.opened.Load(), Actions: e.stats.actions.Load(),
		DeadlinesFired: e.stats.deadlines.Load(), MaxLateS: time.Duration(e.stats.maxLateNs.Load()).Seconds(),
		GPSArrivals: e.stats.gpsArrivals.Load(), Predicted: e.stats.predicted.Load(), PendingTimers: e.timers.len(),
		AlarmsOpened: e.stats.alarmOpened.Load(), AlarmWrites: e.stats.alarmWrites.Load(), Quarantined: e.stats.quarantined.Load()}
}
