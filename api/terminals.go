package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/iot"
)

// terminalBody registers a terminal: its elevator by id or by code (rescue or equipment code).
type terminalBody struct {
	ElevatorID   int64  `json:"elevator_id"`
	ElevatorCode string `json:"equipment_code"`
	Platform     string `json:"platform"`
	Model        string `json:"model"`
}

// withTerminals answers 503 on the terminal routes of a server without the monitor.
func (s *Server) withTerminals(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch {
		case s.cfg.Terminals == nil:
			return liftrescue.Errorf(liftrescue.EUNAVAILABLE, "the IoT terminals are not monitored on this server")
		case !s.cfg.Terminals.Started():
			return liftrescue.Errorf(liftrescue.EUNAVAILABLE, "the IoT terminals are still being loaded: try again in a moment")
		}
		return h(c)
	}
}

// putTerminal registers a terminal on an elevator, or moves or describes it anew.
func (s *Server) putTerminal(c echo.Context) error {
	var body terminalBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	t := liftrescue.Terminal{ID: c.Param("id"), ElevatorID: body.ElevatorID, Platform: body.Platform, Model: body.Model}
	switch {
	case body.ElevatorID != 0 && body.ElevatorCode != "":
		return liftrescue.Invalid("equipment_code", "give elevator_id or equipment_code, not both")
	case body.ElevatorCode != "":
		el, err := s.store.FindElevatorByCode(c.Request().Context(), body.ElevatorCode)
		if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
			return liftrescue.Invalid("equipment_code", "no elevator has the code "+shorten(body.ElevatorCode))
		} else if err != nil {
			return err
		}
		t.ElevatorID = el.ID
	}
	state, created, err := s.cfg.Terminals.Put(c.Request().Context(), &t)
	if err != nil {
		return err
	}
	if created {
		c.Response().Header().Set(echo.HeaderLocation, "/api/v1/terminals/"+t.ID)
		return c.JSON(http.StatusCreated, state)
	}
	return c.JSON(http.StatusOK, state)
}

func (s *Server) getTerminal(c echo.Context) error {
	t, err := s.cfg.Terminals.Terminal(c.Param("id"))
	if err != nil {
		return err
	}
	if err := checkDistrict(c, "terminal", t.District); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (s *Server) deleteTerminal(c echo.Context) error {
	if err := s.cfg.Terminals.Delete(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// listTerminals lists the registered terminals as they stand now; the cursor is the last
// terminal id of the page before.
func (s *Server) listTerminals(c echo.Context) error {
	q := iot.TerminalQuery{District: c.QueryParam("district"), Status: liftrescue.TerminalStatus(c.QueryParam("status")),
		After: c.QueryParam("cursor")}
	var err error
	if q.ElevatorID, err = queryID(c, "elevator_id"); err != nil {
		return err
	}
	if err := scopeDistrict(c, &q.District); err != nil {
		return err
	}
	if l := c.QueryParam("limit"); l != "" {
		if q.Limit, err = strconv.Atoi(l); err != nil {
			return badParam("limit", "must be an integer")
		}
		if q.Limit == 0 {
			return liftrescue.Invalid("limit", "must be between 1 and "+strconv.Itoa(liftrescue.MaxLimit))
		}
	}
	items, total, more, err := s.cfg.Terminals.Terminals(q)
	if err != nil {
		return err
	}
	page := liftrescue.Page[liftrescue.TerminalState]{Items: items, Total: total}
	if more {
		page.NextCursor = items[len(items)-1].ID
	}
	return c.JSON(http.StatusOK, page)
}

// terminalSummary is the share of terminals online, for the city and each district (a district's
// account: its own).
func (s *Server) terminalSummary(c echo.Context) error {
	district := c.QueryParam("district")
	if err := scopeDistrict(c, &district); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.cfg.Terminals.Summary(district))
}

// elevatorFaults lists an elevator's fault record, newest first.
func (s *Server) elevatorFaults(c echo.Context) error {
	e, err := s.elevatorByPath(c)
	if err != nil {
		return err
	}
	p, err := paging(c)
	if err != nil {
		return err
	}
	f := liftrescue.FaultFilter{ElevatorID: e.ID, Paging: p}
	if v := c.QueryParam("since"); v != "" {
		if f.Since, err = time.Parse(time.RFC3339, v); err != nil {
			return badParam("since", "must be an RFC 3339 time like 2026-11-01T00:00:00+08:00")
		}
	}
	page, err := s.store.ListFaults(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

// flaggedElevators lists the elevators whose faults repeat (a district's account: its own).
func (s *Server) flaggedElevators(c echo.Context) error {
	district := c.QueryParam("district")
	if err := scopeDistrict(c, &district); err != nil {
		return err
	}
	r, err := s.cfg.Terminals.Flagged(c.Request().Context(), district)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}
