package api

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/liftrescue/liftrescue"
)

// Dispatcher runs incidents (package dispatch's Engine).
type Dispatcher interface {
	// Open returns ENOTFOUND with near matches, ECONFLICT with the open incident's id, EINVALID.
	Open(ctx context.Context, n liftrescue.NewIncident, district string, actor liftrescue.Actor) (*liftrescue.Incident, error)
	// Act returns ENOTFOUND, ECONFLICT with the allowed actions, EINVALID.
	Act(ctx context.Context, id int64, in liftrescue.Input) (*liftrescue.Incident, error)
	Candidates(ctx context.Context, id int64) (*liftrescue.Candidates, error)
	// Responder and Respond return ENOTFOUND for an unknown link and EGONE for a used or expired one.
	Responder(ctx context.Context, token string) (*liftrescue.ResponderView, error)
	Respond(ctx context.Context, token string, in liftrescue.Input) (*liftrescue.ResponderView, error)
	Policy() liftrescue.Policy
	// RaiseAlarm acts on one normalised IoT report; Quarantine lists those of unknown elevators.
	RaiseAlarm(ctx context.Context, a liftrescue.Alarm, sender string) (liftrescue.AlarmResult, error)
	Quarantine() []liftrescue.QuarantinedAlarm
}

// openIncidentBody is the request that opens an incident.
type openIncidentBody struct {
	liftrescue.NewIncident
	// District is the caller's district, if known: near matches of a mistyped code there come first.
	District string `json:"district"`
}

func (s *Server) openIncident(c echo.Context) error {
	var body openIncidentBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if err := s.checkOpenDistrict(c, body.NewIncident); err != nil {
		return err
	}
	p := principalOf(c)
	if body.District == "" {
		body.District = p.District // near matches in their own district first
	}
	inc, err := s.cfg.Dispatch.Open(c.Request().Context(), body.NewIncident, body.District, p.Actor())
	if err != nil {
		return err
	}
	full, err := s.store.FindIncident(c.Request().Context(), inc.ID)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/incidents/"+strconv.FormatInt(inc.ID, 10))
	return c.JSON(http.StatusCreated, publicIncident(c, full))
}

func (s *Server) listIncidents(c echo.Context) error {
	p, err := paging(c)
	if err != nil {
		return err
	}
	f := liftrescue.IncidentFilter{State: liftrescue.IncidentState(c.QueryParam("state")), District: c.QueryParam("district"), Paging: p}
	if err := scopeDistrict(c, &f.District); err != nil {
		return err
	}
	if f.Open, err = queryBool(c, "open"); err != nil {
		return err
	}
	if f.ElevatorID, err = queryID(c, "elevator_id"); err != nil {
		return err
	}
	page, err := s.store.ListIncidents(c.Request().Context(), f)
	if err != nil {
		return err
	}
	for i, inc := range page.Items {
		page.Items[i] = publicIncident(c, inc)
	}
	return c.JSON(http.StatusOK, page)
}

func (s *Server) getIncident(c echo.Context) error {
	inc, err := s.incidentByPath(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, publicIncident(c, inc))
}

// incidentByPath finds the incident the :id path parameter names, if the principal covers its
// district.
func (s *Server) incidentByPath(c echo.Context) (*liftrescue.Incident, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, err
	}
	inc, err := s.store.FindIncident(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	if err := checkDistrict(c, "incident", inc.District); err != nil {
		return nil, err
	}
	return inc, nil
}

// checkOpenDistrict refuses a district's dispatcher an incident on an elevator of another district.
// An unknown code passes, for Open to answer with near matches.
func (s *Server) checkOpenDistrict(c echo.Context, n liftrescue.NewIncident) error {
	if p := principalOf(c); p.District == "" {
		return nil
	}
	ctx := c.Request().Context()
	var e *liftrescue.Elevator
	var err error
	switch code := strings.TrimSpace(n.Elevator); {
	case n.ElevatorID > 0:
		e, err = s.store.FindElevator(ctx, n.ElevatorID)
	case liftrescue.IsRescueCode(code) || liftrescue.IsEquipmentCode(code):
		e, err = s.store.FindElevatorByCode(ctx, code)
	default:
		return nil
	}
	if err != nil {
		return nil
	}
	return checkDistrict(c, "elevator", e.District)
}

func (s *Server) incidentCandidates(c echo.Context) error {
	inc, err := s.incidentByPath(c)
	if err != nil {
		return err
	}
	return respond(c)(s.cfg.Dispatch.Candidates(c.Request().Context(), inc.ID))
}

func (s *Server) incidentAction(c echo.Context) error {
	inc, err := s.incidentByPath(c)
	if err != nil {
		return err
	}
	id := inc.ID
	var in liftrescue.Input
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	switch {
	case in.Action == liftrescue.ActionOpen || in.Action == liftrescue.ActionDeadline:
		return liftrescue.Invalid("action", "is one the system takes, not a dispatcher")
	case in.Action == "":
		return liftrescue.Invalid("action", "is required")
	case !slices.Contains(dispatcherActions, in.Action):
		// Checked here, not left to the incident's rules, so that a typo is a 422 whatever the
		// incident's state rather than a 409 on an incident that has ended.
		return liftrescue.Invalid("action", "must be one of "+strings.Join(actionNames(dispatcherActions), ", "))
	}
	in.Actor = principalOf(c).Actor()
	auditDetail(c, "%s", in.Action)
	inc, err = s.cfg.Dispatch.Act(c.Request().Context(), id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, publicIncident(c, inc))
}

// dispatcherActions are the actions a dispatcher posts; open and deadline are the system's.
var dispatcherActions = []liftrescue.Action{liftrescue.ActionEscalate, liftrescue.ActionDispatch, liftrescue.ActionAccept,
	liftrescue.ActionDecline, liftrescue.ActionEnRoute, liftrescue.ActionArrived, liftrescue.ActionReleased,
	liftrescue.ActionCallbackDone, liftrescue.ActionClose, liftrescue.ActionCancel, liftrescue.ActionNote}

func actionNames(actions []liftrescue.Action) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = string(a)
	}
	return out
}

func (s *Server) dispatchPolicy(c echo.Context) error {
	return c.JSON(http.StatusOK, s.cfg.Dispatch.Policy())
}

// publicIncident leaves out what only the server needs: the hashes of responder links. The links
// in the texts sent are credentials (whoever holds one answers for the unit): only those who may
// move the incident on themselves see them; others see the texts with the links cut.
func publicIncident(c echo.Context, inc *liftrescue.Incident) *liftrescue.Incident {
	out := *inc
	out.Assignments = append([]liftrescue.Assignment(nil), inc.Assignments...)
	for i := range out.Assignments {
		out.Assignments[i].TokenHash = ""
	}
	if principalOf(c).Can(liftrescue.PermDispatch) {
		out.Allowed = liftrescue.AllowedActions(inc)
	} else if len(inc.Notifications) > 0 {
		out.Notifications = append([]liftrescue.Notification(nil), inc.Notifications...)
		for i := range out.Notifications {
			out.Notifications[i].Body = responderLink.ReplaceAllString(out.Notifications[i].Body, "/r/…")
		}
	}
	return &out
}

// responderLink matches the token of a responder's link in a text.
var responderLink = regexp.MustCompile(`/r/[A-Za-z0-9_-]{16,}`)
