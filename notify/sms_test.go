package notify_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/notify"
)

func TestSMSGatewayRequest(t *testing.T) {
	text := `电梯困人：他说"救命" \ 门卡住了 <b>&` + "\n第二行\t😀"
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("got %s with Content-Type %q, want a JSON POST", r.Method, r.Header.Get("Content-Type"))
		}
		if got := r.Header.Get("Idempotency-Key"); got != "liftrescue-42" {
			t.Errorf("Idempotency-Key = %q", got)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer k" {
			t.Errorf("Authorization = %q", got)
		}
		body, _ := io.ReadAll(r.Body)
		var got struct {
			Phone, Text string
			ID          int64
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Errorf("the body is not JSON: %v\n%s", err, body)
		}
		if got.Phone != "13800138000" || got.Text != text || got.ID != 42 {
			t.Errorf("got %+v", got)
		}
		io.WriteString(w, `{"code":0,"message_id":"gw-1"}`)
	})
	g := &notify.SMSGateway{URL: srv.URL + "/send", Headers: map[string]string{"Authorization": "Bearer k"}}
	n := sms("13800138000", text)
	n.ID = 42
	receipt, err := g.Send(t.Context(), &n)
	if err != nil || receipt != "gw-1" {
		t.Fatalf("Send = %q, %v; want gw-1", receipt, err)
	}
}

func TestSMSGatewayFormTemplate(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			t.Errorf("method %s", r.Method)
		}
		r.ParseForm()
		if got := r.PostForm.Get("msg"); got != "请到 3 号楼 & 快" || r.PostForm.Get("to") != "+86 138" || r.PostForm.Get("ref") != "5-9" {
			t.Errorf("got form %v", r.PostForm)
		}
		io.WriteString(w, "OK 12345\n")
	})
	g := &notify.SMSGateway{URL: srv.URL, Method: http.MethodPut, ContentType: "application/x-www-form-urlencoded",
		Body: `to={{urlquery .Phone}}&msg={{urlquery .Text}}&ref={{.IncidentID}}-{{.ID}}`}
	n := sms("+86 138", "请到 3 号楼 & 快")
	n.ID, n.IncidentID = 9, 5
	if receipt, err := g.Send(t.Context(), &n); err != nil || receipt != "OK 12345" {
		t.Fatalf("Send = %q, %v", receipt, err)
	}
}

// TestSMSGatewayAnswers sorts the gateway's answers into receipts, temporary and permanent failures.
func TestSMSGatewayAnswers(t *testing.T) {
	long := strings.Repeat("短", 100) // 300 bytes: cut to 198, never inside a character
	for _, tc := range []struct {
		name       string
		status     int
		body       string
		retryAfter string
		receipt    string
		permanent  bool
		after      time.Duration // the Retry-After the error carries, 0 for none
		errHas     string
	}{
		{name: "message_id", status: 200, body: `{"id":"x","message_id":"m-1"}`, receipt: "m-1"},
		{name: "numeric id", status: 200, body: `{"id":123456789012345678}`, receipt: "123456789012345678"},
		{name: "null message_id", status: 200, body: `{"message_id":null,"id":"z"}`, receipt: "z"},
		{name: "text", status: 201, body: "  queued ok \n", receipt: "queued ok"},
		{name: "long text", status: 202, body: long, receipt: long[:198]},
		{name: "no body", status: 204},
		{name: "server error", status: 500, body: "oops", errHas: "500 Internal Server Error: oops"},
		{name: "unavailable", status: 503, retryAfter: "30", after: 30 * time.Second},
		{name: "too many", status: 429, retryAfter: " 5 ", after: 5 * time.Second},
		{name: "absurd retry-after", status: 429, retryAfter: "99999999999999", after: 24 * time.Hour},
		{name: "date retry-after", status: 503, retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT"},
		{name: "request timeout", status: 408},
		{name: "bad request", status: 400, body: "invalid phone", permanent: true, errHas: "invalid phone"},
		{name: "unauthorized", status: 401, permanent: true},
		{name: "not found", status: 404, permanent: true},
		{name: "redirect", status: 304, permanent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := server(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			n := sms("110", "hi")
			receipt, err := (&notify.SMSGateway{URL: srv.URL}).Send(t.Context(), &n)
			delivered := tc.status < 300
			if delivered != (err == nil) || receipt != tc.receipt {
				t.Fatalf("Send = %q, %v; want %q", receipt, err, tc.receipt)
			}
			if notify.IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent(%v) = %v", err, !tc.permanent)
			}
			if after, ok := notify.RetryAfter(err); after != tc.after || ok != (tc.after != 0) {
				t.Errorf("RetryAfter = %v, %v; want %v", after, ok, tc.after)
			}
			if err != nil && !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("error %q does not say %q", err, tc.errHas)
			}
		})
	}
}

func TestSMSGatewayNetworkFailureIsTemporary(t *testing.T) {
	srv := server(t, nil)
	srv.Close() // nothing listens there any more
	n := sms("110", "hi")
	_, err := (&notify.SMSGateway{URL: srv.URL + "/send?key=s3cret"}).Send(t.Context(), &n)
	if err == nil || notify.IsPermanent(err) {
		t.Fatalf("Send = %v, want a temporary error", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error, which is stored, shows the URL's key: %v", err)
	}
}

func TestSMSGatewayRefuses(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) { t.Error("the gateway was called") })
	for _, tc := range []struct {
		name string
		g    *notify.SMSGateway
		n    liftrescue.Notification
	}{
		{"no phone", &notify.SMSGateway{URL: srv.URL}, sms("", "hi")},
		{"bad template", &notify.SMSGateway{URL: srv.URL, Body: "{{.Phone"}, sms("110", "hi")},
		{"unknown field", &notify.SMSGateway{URL: srv.URL, Body: "{{.Name}}"}, sms("110", "hi")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.g.Send(t.Context(), &tc.n); !notify.IsPermanent(err) {
				t.Errorf("Send = %v, want a permanent error", err)
			}
		})
	}
}

func TestSMSGatewayValidate(t *testing.T) {
	for _, tc := range []struct {
		url, body string
		ok        bool
	}{
		{"https://sms.example.com/v1/send", "", true},
		{"http://127.0.0.1:8080", "phone={{urlquery .Phone}}", true},
		{"", "", false},
		{"/send", "", false},
		{"ftp://sms.example.com", "", false},
		{"https://sms.example.com", "{{json .Phone", false},
	} {
		err := (&notify.SMSGateway{URL: tc.url, Body: tc.body}).Validate()
		if (err == nil) != tc.ok || (err != nil && liftrescue.ErrorCode(err) != liftrescue.EINVALID) {
			t.Errorf("Validate(%q, %q) = %v", tc.url, tc.body, err)
		}
	}
}

func TestLogSender(t *testing.T) {
	var buf bytes.Buffer
	n := sms("110", "请到 3 号楼")
	receipt, err := notify.LogSender{Logger: slog.New(slog.NewTextHandler(&buf, nil))}.Send(t.Context(), &n)
	if receipt != "logged" || err != nil || !strings.Contains(buf.String(), "请到 3 号楼") {
		t.Errorf("Send = %q, %v; log %q", receipt, err, buf.String())
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("no such target")
	err := notify.Permanent(base)
	if !notify.IsPermanent(err) || !errors.Is(err, base) || err.Error() != base.Error() {
		t.Errorf("Permanent(%v) = %v", base, err)
	}
	if notify.Permanent(nil) != nil || notify.IsPermanent(base) || notify.IsPermanent(nil) {
		t.Error("Permanent marks what it was not given")
	}
}
