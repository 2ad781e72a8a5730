package api

import (
	"embed"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/liftrescue/liftrescue"
)

// The responder page is the link in a unit's SMS: a phone's browser, no login, one tap an action.
// It is server-rendered HTML with a form per action so that it works on any phone, even without
// JavaScript; the same URL answers JSON to apps that ask for it.

//go:embed responder.html
var responderFS embed.FS

// responderWords names the states of a unit's job and the actions of its link in both languages:
// the page is read in a van, not by a developer.
var responderWords = map[string][2]string{
	"notified": {"待确认", "waiting for you"}, "accepted": {"已接受", "accepted"}, "en_route": {"已出发", "on the way"},
	"arrived": {"已到达", "arrived"}, "released": {"已解救", "released"}, "declined": {"无法前往", "cannot come"},
	"timed_out": {"已超时", "timed out"}, "stood_down": {"已撤回，无需前往", "stood down"},
	"accept": {"接受任务", "accepted"}, "decline": {"无法前往", "cannot come"},
}

var responderTmpl = template.Must(template.New("responder.html").Funcs(template.FuncMap{
	"local": func(t time.Time, loc *time.Location) string { return t.In(loc).Format("15:04") },
	// words gives the Chinese and the English of a state or action (itself when unknown).
	"words": func(key string) [2]string {
		if w, ok := responderWords[key]; ok {
			return w
		}
		return [2]string{key, key}
	},
	"has": func(actions []liftrescue.Action, a string) bool {
		for _, x := range actions {
			if string(x) == a {
				return true
			}
		}
		return false
	},
}).ParseFS(responderFS, "responder.html"))

// responderBody is a responder's action.
type responderBody struct {
	Action liftrescue.Action `json:"action"`
	// Reason is required to decline.
	Reason string `json:"reason"`
	// Released is how many passengers came out (default: the number reported trapped).
	Released *int `json:"released"`
	// VehicleID is the unit's vehicle that comes, when it accepts.
	VehicleID int64  `json:"vehicle_id"`
	Note      string `json:"note"`
}

type responderPageData struct {
	View     *liftrescue.ResponderView
	Loc      *time.Location
	Done     string // what the last action did, in words
	Error    string
	Status   int
	Token    string
	MapsLink template.URL
}

func (s *Server) responderPage(c echo.Context) error {
	privateLink(c)
	v, err := s.cfg.Dispatch.Responder(c.Request().Context(), c.Param("token"))
	return s.responderAnswer(c, v, err, "")
}

func (s *Server) responderAction(c echo.Context) error {
	privateLink(c)
	var body responderBody
	if wantsJSON(c) {
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
	} else {
		// FormValue would take a body it cannot read as an empty form.
		if err := c.Request().ParseForm(); err != nil {
			return s.responderAnswer(c, nil, formError(err), "")
		}
		body.Action = liftrescue.Action(c.FormValue("action"))
		body.Reason = c.FormValue("reason")
		body.Note = c.FormValue("note")
		if r := c.FormValue("released"); r != "" {
			n, err := strconv.Atoi(r)
			if err != nil {
				return s.responderAnswer(c, nil, liftrescue.Invalid("released", "must be a number"), "")
			}
			body.Released = &n
		}
	}
	v, err := s.cfg.Dispatch.Respond(c.Request().Context(), c.Param("token"), liftrescue.Input{Action: body.Action,
		Reason: body.Reason, Released: body.Released, VehicleID: body.VehicleID, Note: body.Note})
	if liftrescue.ErrorCode(err) == liftrescue.ECONFLICT {
		err = s.linkConflict(c, err)
	}
	return s.responderAnswer(c, v, err, string(body.Action))
}

// linkConflict makes an action refused as out of order list what the link can do now. The
// incident's rules list the dispatcher's actions (escalate, dispatch, cancel), which no responder
// can take.
func (s *Server) linkConflict(c echo.Context, err error) error {
	v, verr := s.cfg.Dispatch.Responder(c.Request().Context(), c.Param("token"))
	if verr != nil {
		return err
	}
	return &liftrescue.Error{Code: liftrescue.ECONFLICT, Message: liftrescue.ErrorMessage(err),
		Extra: map[string]any{"allowed": v.Actions, "state": v.IncidentState}, Err: err}
}

// formError words the error of a form body that does not parse.
func formError(err error) error {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return liftrescue.Errorf(liftrescue.ETOOLARGE, "the request body is larger than %d bytes", maxErr.Limit)
	}
	return liftrescue.Errorf(liftrescue.EBADREQUEST, "the form is malformed")
}

// responderAnswer writes the view, or the error, as JSON or as the page.
func (s *Server) responderAnswer(c echo.Context, v *liftrescue.ResponderView, err error, done string) error {
	if wantsJSON(c) {
		return respond(c)(v, err)
	}
	d := responderPageData{View: v, Loc: s.location(), Done: done, Status: http.StatusOK, Token: c.Param("token")}
	if err != nil {
		d.Error = liftrescue.ErrorMessage(err)
		d.Status = statusOf[liftrescue.ErrorCode(err)]
		if d.Status == 0 || d.Status >= 500 {
			return err // logged by the error handler, shown as JSON
		}
		if v == nil && liftrescue.ErrorCode(err) != liftrescue.EGONE && liftrescue.ErrorCode(err) != liftrescue.ENOTFOUND {
			// A refused action on a live link: show the job again with the reason.
			d.View, _ = s.cfg.Dispatch.Responder(c.Request().Context(), c.Param("token"))
		}
	}
	if d.View != nil {
		el := d.View.Elevator
		// A geo: URI opens the phone's map app. html/template lets only http(s) and mailto through
		// as they are, so the link, made of two numbers here, is marked safe.
		d.MapsLink = template.URL("geo:" + strconv.FormatFloat(el.Lat, 'f', 6, 64) + "," + strconv.FormatFloat(el.Lon, 'f', 6, 64))
	}
	var b strings.Builder
	if err := responderTmpl.Execute(&b, d); err != nil {
		return err
	}
	return c.HTML(d.Status, b.String())
}

// privateLink marks every answer of a responder link, page, JSON or error, as one no cache keeps
// and no page it links to learns of: the token in the URL is the only key to the job.
func privateLink(c echo.Context) {
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
}

// wantsJSON reports whether the client asked for JSON rather than the page.
func wantsJSON(c echo.Context) bool {
	r := c.Request()
	if strings.HasPrefix(r.Header.Get(echo.HeaderContentType), echo.MIMEApplicationJSON) || c.QueryParam("format") == "json" {
		return true
	}
	accept := r.Header.Get(echo.HeaderAccept)
	return strings.Contains(accept, echo.MIMEApplicationJSON) && !strings.Contains(accept, echo.MIMETextHTML)
}

// withDispatch answers 503 when the server runs without the dispatch engine.
func (s *Server) withDispatch(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.cfg.Dispatch == nil {
			return liftrescue.Errorf(liftrescue.EUNAVAILABLE, "dispatch is not running on this server")
		}
		return h(c)
	}
}

// withLive answers 503 on the live routes of a server without the ingest (tests of other parts).
func (s *Server) withLive(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.cfg.Ingest == nil {
			return liftrescue.Errorf(liftrescue.EUNAVAILABLE, "the live vehicle feed is not running on this server")
		}
		return h(c)
	}
}

func (s *Server) location() *time.Location {
	if s.cfg.Location != nil {
		return s.cfg.Location
	}
	return time.UTC
}
