package dispatch

import (
	"context"
	"crypto/subtle"
	"slices"

	"github.com/liftrescue/liftrescue"
)

// Responder returns the view of a responder link. Returns ENOTFOUND for a token no incident
// gave out, EGONE when the link expired or its job is over (declined, stood down, done).
func (e *Engine) Responder(ctx context.Context, token string) (*liftrescue.ResponderView, error) {
	inc, a, err := e.byToken(ctx, token)
	if err != nil {
		return nil, err
	}
	return e.view(inc, a), nil
}

// Respond applies a responder's action (accept, decline, en_route, arrived, released) through
// its link and returns the new view. Returns the errors of Responder, EINVALID for an action a
// responder cannot take, and those of Act.
func (e *Engine) Respond(ctx context.Context, token string, in liftrescue.Input) (*liftrescue.ResponderView, error) {
	inc, a, err := e.byToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(responderActions, in.Action) {
		return nil, liftrescue.Invalid("action", "must be one of accept, decline, en_route, arrived, released")
	}
	in.AssignmentID = a.ID
	in.Actor = liftrescue.Actor{Kind: liftrescue.ActorUnit, Name: a.Unit.OrganizationName}
	in.OrganizationID, in.Facts, in.DeadlineID, in.Predicted, in.LifeInDanger = 0, liftrescue.Facts{}, 0, false, false
	if in.Action == liftrescue.ActionReleased && in.Released == nil && inc.Trapped > 0 {
		n := inc.Trapped
		in.Released = &n
	}
	after, err := e.act(ctx, inc.ID, in)
	if err != nil {
		return nil, err
	}
	// The view of the step just taken, even when it used the link up (declined, released).
	return e.view(after, after.Assignment(a.ID)), nil
}

var responderActions = []liftrescue.Action{liftrescue.ActionAccept, liftrescue.ActionDecline,
	liftrescue.ActionEnRoute, liftrescue.ActionArrived, liftrescue.ActionReleased}

// byToken finds the incident and assignment of a live responder link.
func (e *Engine) byToken(ctx context.Context, token string) (*liftrescue.Incident, *liftrescue.Assignment, error) {
	hash := TokenHash(token)
	notFound := liftrescue.Errorf(liftrescue.ENOTFOUND, "this link is not one the centre sent")
	if len(token) < 16 || len(token) > 64 {
		return nil, nil, notFound
	}
	inc, err := e.cfg.Store.FindIncidentByToken(ctx, hash)
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, nil, notFound
	} else if err != nil {
		return nil, nil, err
	}
	if cur, err := e.current(ctx, inc.ID, false); err == nil {
		inc = cur
	}
	var a *liftrescue.Assignment
	for i := range inc.Assignments {
		if subtle.ConstantTimeCompare([]byte(inc.Assignments[i].TokenHash), []byte(hash)) == 1 {
			a = &inc.Assignments[i]
		}
	}
	switch {
	case a == nil:
		return nil, nil, notFound
	case !e.cfg.Now().Before(a.TokenExpires):
		return nil, nil, liftrescue.Errorf(liftrescue.EGONE, "this link expired at %s", a.TokenExpires.In(e.location()).Format("2006-01-02 15:04"))
	case inc.State.Ended():
		return nil, nil, liftrescue.Errorf(liftrescue.EGONE, "this link is used: incident %d is %s", inc.ID, inc.State)
	case !a.State.Active() && a.State != liftrescue.AssignmentTimedOut:
		return nil, nil, liftrescue.Errorf(liftrescue.EGONE, "this link is used: the job is %s", a.State)
	}
	return inc, a, nil
}

func (e *Engine) view(inc *liftrescue.Incident, a *liftrescue.Assignment) *liftrescue.ResponderView {
	v := &liftrescue.ResponderView{IncidentID: inc.ID, IncidentState: inc.State, Elevator: inc.Elevator, District: inc.District,
		Trapped: inc.Trapped, ReportedAt: inc.ReportedAt, Assignment: *a, ArriveBy: inc.ArriveBy, Actions: []liftrescue.Action{}}
	v.Assignment.TokenHash = ""
	for _, d := range inc.Deadlines {
		if !d.Pending() || d.Tier != a.Tier || (d.AssignmentID != 0 && d.AssignmentID != a.ID) {
			continue
		}
		due := d.Due
		switch d.Kind {
		case liftrescue.DeadlineAcknowledge:
			v.AcceptBy = &due
		case liftrescue.DeadlineArrive:
			v.ArriveBy = due
		}
	}
	switch a.State {
	case liftrescue.AssignmentNotified, liftrescue.AssignmentTimedOut:
		v.Actions = append(v.Actions, liftrescue.ActionAccept, liftrescue.ActionDecline, liftrescue.ActionArrived)
	case liftrescue.AssignmentAccepted:
		v.Actions = append(v.Actions, liftrescue.ActionEnRoute, liftrescue.ActionArrived, liftrescue.ActionDecline)
	case liftrescue.AssignmentEnRoute:
		v.Actions = append(v.Actions, liftrescue.ActionArrived, liftrescue.ActionDecline)
	case liftrescue.AssignmentArrived:
		if inc.State == liftrescue.IncidentArrived {
			v.Actions = append(v.Actions, liftrescue.ActionReleased)
		}
	}
	return v
}
