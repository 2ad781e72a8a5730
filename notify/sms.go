package notify

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/liftrescue/liftrescue"
)

// DefaultSMSBody is the request body an SMSGateway sends when it is given none.
const DefaultSMSBody = `{"phone":{{json .Phone}},"text":{{json .Text}},"id":{{json .ID}}}`

// SMSGateway sends texts through an HTTP SMS gateway. The request is described, not coded,
// because every gateway wants its own: a URL, a method, headers and a body template.
//
// Set the fields before the first Send and do not copy the gateway after it.
type SMSGateway struct {
	URL         string
	Method      string // default POST
	ContentType string // default application/json
	// Body is a text/template for the request body. Its data has .Phone, .Text, .ID (the
	// notification's) and .IncidentID; the func json writes a value as JSON, quoted and escaped,
	// and urlquery escapes for a form. Default DefaultSMSBody.
	Body    string
	Headers map[string]string // such as the gateway's key
	Timeout time.Duration     // for one request; default DefaultTimeout
	Client  *http.Client      // default http.DefaultClient

	parse sync.Once
	tmpl  *template.Template
	err   error
}

// smsData is what an SMSGateway's Body template sees.
type smsData struct {
	Phone, Text    string
	ID, IncidentID int64
}

var templateFuncs = template.FuncMap{"json": func(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}}

func (g *SMSGateway) template() (*template.Template, error) {
	g.parse.Do(func() {
		body := g.Body
		if body == "" {
			body = DefaultSMSBody
		}
		g.tmpl, g.err = template.New("sms").Funcs(templateFuncs).Parse(body)
	})
	return g.tmpl, g.err
}

// Validate checks the configuration: an absolute http(s) URL and a body template that parses.
// Returns EINVALID.
func (g *SMSGateway) Validate() error {
	if err := checkURL("sms.url", g.URL); err != nil {
		return err
	}
	if _, err := g.template(); err != nil {
		return liftrescue.Invalid("sms.body", err.Error())
	}
	return nil
}

// Send texts n.Body to the phone number n.Recipient. The gateway gets the header
// Idempotency-Key: liftrescue-<id>, so that it can drop a repeat.
func (g *SMSGateway) Send(ctx context.Context, n *liftrescue.Notification) (string, error) {
	tmpl, err := g.template()
	if err != nil {
		return "", Permanent(err)
	}
	if n.Recipient == "" {
		return "", Permanent(errors.New("no phone number"))
	}
	var body strings.Builder
	data := smsData{Phone: n.Recipient, Text: n.Body, ID: n.ID, IncidentID: n.IncidentID}
	if err := tmpl.Execute(&body, data); err != nil {
		return "", Permanent(err)
	}
	header := make(http.Header, len(g.Headers)+2)
	for k, v := range g.Headers {
		header.Set(k, v)
	}
	header.Set("Content-Type", cmp.Or(g.ContentType, "application/json"))
	header.Set("Idempotency-Key", "liftrescue-"+strconv.FormatInt(n.ID, 10))
	return post(ctx, g.Client, g.Timeout, cmp.Or(g.Method, http.MethodPost), g.URL, header, []byte(body.String()))
}
