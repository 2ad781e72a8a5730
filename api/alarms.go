package api

import (
	"context"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/iot"
)

// alarmsReply answers a batch of terminal reports: what became of each, by its index in the batch.
type alarmsReply struct {
	Accepted int                      `json:"accepted"`
	Results  []liftrescue.AlarmResult `json:"results"`
	// Rejected names each report that could not be read or checked, by its index.
	Rejected []liftrescue.Detail `json:"rejected"`
}

// alarmsBody documents the request: {"alarms": [...]}.
type alarmsBody struct {
	Alarms []liftrescue.Alarm `json:"alarms"`
}

// postAlarms takes a batch of IoT alarms and status reports from an IoT platform or a terminal.
// Every good report is acted on even when others in the batch are bad; the answer says which.
func (s *Server) postAlarms(c echo.Context) error {
	batch, err := iot.DecodeBatch(c.Request().Body, iot.MaxBatchBody, s.now())
	if err != nil {
		return err
	}
	sender := principalOf(c).Name + "@" + c.RealIP() // which platform, from where
	reply := alarmsReply{Results: []liftrescue.AlarmResult{}, Rejected: batch.Rejected}
	if reply.Rejected == nil {
		reply.Rejected = []liftrescue.Detail{}
	}
	// The accepted reports keep their order; their indexes are those the rejected ones leave.
	rejected := map[int]bool{}
	for _, d := range batch.Rejected {
		if d.Index != nil {
			rejected[*d.Index] = true
		}
	}
	index := 0
	for _, a := range batch.Alarms {
		for rejected[index] {
			index++
		}
		res, err := s.raiseAlarm(c.Request().Context(), a, sender)
		if err != nil {
			return err
		}
		res.Index = index
		reply.Results = append(reply.Results, res)
		reply.Accepted++
		index++
	}
	slices.SortFunc(reply.Results, func(a, b liftrescue.AlarmResult) int { return a.Index - b.Index })
	return c.JSON(http.StatusOK, reply)
}

// alarmQuarantine lists the reports of unknown elevators and terminals, newest last.
func (s *Server) alarmQuarantine(c echo.Context) error {
	q := s.cfg.Dispatch.Quarantine()
	return c.JSON(http.StatusOK, liftrescue.Page[liftrescue.QuarantinedAlarm]{Items: q, Total: len(q)})
}

// raiseAlarm hands a report to the terminals' monitor, or to dispatch on a server without one.
func (s *Server) raiseAlarm(ctx context.Context, a liftrescue.Alarm, sender string) (liftrescue.AlarmResult, error) {
	if s.cfg.Terminals != nil {
		return s.cfg.Terminals.Report(ctx, a, sender)
	}
	return s.cfg.Dispatch.RaiseAlarm(ctx, a, sender)
}
