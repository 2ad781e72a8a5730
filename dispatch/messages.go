package dispatch

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/liftrescue/liftrescue"
)

// change turns a step's outcome into what the store saves: responder links for the units newly
// asked, a message to each of their duty phones, and every event for each webhook.
func (e *Engine) change(out *liftrescue.Outcome) (*liftrescue.IncidentChange, error) {
	inc := out.Incident
	ch := &liftrescue.IncidentChange{Incident: inc, Events: out.Events}
	for _, n := range out.Notices {
		a := inc.Assignment(n.AssignmentID)
		if a == nil {
			return nil, fmt.Errorf("notice for assignment %d that incident %d does not have", n.AssignmentID, inc.ID)
		}
		link := ""
		if n.Kind == liftrescue.NoticeDispatch {
			token := newToken()
			a.TokenHash = TokenHash(token)
			link = strings.TrimRight(e.cfg.BaseURL, "/") + "/r/" + token
		}
		text := e.text(inc, a, n.Kind, link)
		channel := liftrescue.ChannelLog
		if e.cfg.SMS {
			channel = liftrescue.ChannelSMS
		}
		phones := a.Unit.Phones
		if len(phones) == 0 {
			// A unit without a duty phone still gets a line in the record, and the dispatcher sees why.
			channel, phones = liftrescue.ChannelLog, []string{a.Unit.OrganizationName}
		}
		for _, p := range phones {
			ch.Notifications = append(ch.Notifications, liftrescue.Notification{AssignmentID: a.ID,
				Channel: channel, Recipient: p, Kind: n.Kind, Body: text})
		}
	}
	for _, ev := range out.Events {
		if len(e.cfg.Webhooks) == 0 {
			break
		}
		body, err := json.Marshal(webhookEvent{RescueCode: inc.Elevator.RescueCode,
			District: inc.District, State: inc.State, Tier: inc.Tier, Event: ev})
		if err != nil {
			return nil, err
		}
		for _, w := range e.cfg.Webhooks {
			ch.Notifications = append(ch.Notifications, liftrescue.Notification{AssignmentID: ev.AssignmentID,
				Channel: liftrescue.ChannelWebhook, Recipient: w, Kind: "event", Body: string(body)})
		}
	}
	return ch, nil
}

// webhookEvent is the data an external system receives for each event of an incident; the
// webhook's envelope adds the incident's id, which the events of an opening do not have yet when
// they are queued.
type webhookEvent struct {
	RescueCode string                   `json:"rescue_code"`
	District   string                   `json:"district"`
	State      liftrescue.IncidentState `json:"state"`
	Tier       int                      `json:"tier"`
	Event      liftrescue.IncidentEvent `json:"event"`
}

// text is the SMS a unit receives, in Chinese: the first users' duty phones are in China.
func (e *Engine) text(inc *liftrescue.Incident, a *liftrescue.Assignment, kind, link string) string {
	place := strings.TrimSpace(inc.Elevator.Address + " " + inc.Elevator.Building)
	trapped := "有人被困"
	if inc.Trapped > 0 {
		trapped = fmt.Sprintf("困%d人", inc.Trapped)
	}
	switch kind {
	case liftrescue.NoticeStandDown:
		return fmt.Sprintf("【电梯应急救援】救援码%s（%s）的救援已解除，无需前往。%s", inc.Elevator.RescueCode, place, a.Reason)
	case liftrescue.NoticeReminder:
		// The token is not kept, only its hash: the reminder points at the first message.
		return fmt.Sprintf("【电梯应急救援】提醒：救援码%s（%s）%s，请立即用先前短信中的链接确认。", inc.Elevator.RescueCode, place, trapped)
	}
	// The unit's own arrival deadline when it has one (tier 2, counted from its dispatch, with the
	// district's limit), else the incident's.
	by := inc.ArriveBy
	for _, d := range inc.Deadlines {
		if d.Kind == liftrescue.DeadlineArrive && d.AssignmentID == a.ID {
			by = d.Due
		}
	}
	loc := e.location()
	return fmt.Sprintf("【电梯应急救援】%s%s，救援码%s，请%s前到达（第%d级响应）。接受/拒绝/到达请点：%s",
		place, trapped, inc.Elevator.RescueCode, by.In(loc).Format("15:04"), a.Tier, link)
}

// location is the centre's time zone for times in messages.
func (e *Engine) location() *time.Location {
	if e.cfg.Location != nil {
		return e.cfg.Location
	}
	return time.UTC
}

// newToken returns a responder link's token: 160 random bits in lower-case base32.
func newToken() string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// TokenHash is what the incident keeps of a responder token.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
