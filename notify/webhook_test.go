package notify_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/notify"
)

var signedAt = time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC)

func TestWebhooksSend(t *testing.T) {
	const body = `{"state":"notified","text":"电梯困人"}`
	const envelope = `{"delivery_id":3,"incident_id":7,"kind":"event","data":` + body + `}`
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		sig := r.Header.Get("X-Liftrescue-Signature")
		if err := notify.VerifySignature("hotline-secret", sig, got, signedAt.Add(time.Minute), 0); err != nil {
			t.Errorf("VerifySignature(%q): %v", sig, err)
		}
		if string(got) != envelope || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
			r.Header.Get("X-Liftrescue-Delivery") != "3" || r.Header.Get("X-Liftrescue-Kind") != "event" {
			t.Errorf("got %s %v\n%s", r.Method, r.Header, got)
		}
		w.WriteHeader(http.StatusAccepted)
	})
	w := &notify.Webhooks{
		Targets: []notify.WebhookTarget{{Name: "other", URL: srv.URL + "/other", Secret: "x"}, {Name: "hotline", URL: srv.URL, Secret: "hotline-secret"}},
		Now:     func() time.Time { return signedAt },
	}
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	n := webhook("hotline", body)
	n.ID, n.IncidentID = 3, 7
	if receipt, err := w.Send(t.Context(), &n); err != nil || receipt != "" {
		t.Fatalf("Send = %q, %v", receipt, err)
	}

	for _, n := range []liftrescue.Notification{webhook("nobody", body), webhook("hotline", "not json")} {
		if _, err := w.Send(t.Context(), &n); !notify.IsPermanent(err) {
			t.Errorf("Send to %q of %q = %v, want a permanent error", n.Recipient, n.Body, err)
		}
	}
}

func TestWebhooksValidate(t *testing.T) {
	ok := notify.WebhookTarget{Name: "hotline", URL: "https://hotline.example.com/hook", Secret: "s"}
	for _, tc := range []struct {
		name    string
		targets []notify.WebhookTarget
		valid   bool
	}{
		{"none", nil, true},
		{"one", []notify.WebhookTarget{ok}, true},
		{"no name", []notify.WebhookTarget{{URL: ok.URL, Secret: "s"}}, false},
		{"twice", []notify.WebhookTarget{ok, ok}, false},
		{"no secret", []notify.WebhookTarget{{Name: "a", URL: ok.URL}}, false},
		{"relative url", []notify.WebhookTarget{{Name: "a", URL: "/hook", Secret: "s"}}, false},
	} {
		if err := (&notify.Webhooks{Targets: tc.targets}).Validate(); (err == nil) != tc.valid {
			t.Errorf("%s: Validate = %v", tc.name, err)
		}
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"incident_id":7}`)
	good := notify.Sign("s3cret", signedAt, body)
	if !strings.HasPrefix(good, "t=1772353800,v1=") || len(good) != len("t=1772353800,v1=")+64 {
		t.Fatalf("Sign = %q", good)
	}
	other := notify.Sign("old-secret", signedAt, body)
	_, otherSig, _ := strings.Cut(other, ",")
	for _, tc := range []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"good", "s3cret", good, body, signedAt, true},
		{"a little later", "s3cret", good, body, signedAt.Add(5 * time.Minute), true},
		{"spaces", "s3cret", strings.ReplaceAll(good, ",", " , "), body, signedAt, true},
		{"rotated secret", "s3cret", good + "," + otherSig, body, signedAt, true},
		{"rotated secret first", "s3cret", "t=1772353800," + otherSig + "," + strings.Split(good, ",")[1], body, signedAt, true},
		{"unknown key", "s3cret", good + ",v0=abc", body, signedAt, true},
		{"wrong secret", "guess", good, body, signedAt, false},
		{"tampered body", "s3cret", good, []byte(`{"incident_id":8}`), signedAt, false},
		{"old", "s3cret", good, body, signedAt.Add(5*time.Minute + time.Second), false},
		{"from the future", "s3cret", good, body, signedAt.Add(-6 * time.Minute), false},
		{"other timestamp", "s3cret", strings.Replace(good, "t=1772353800", "t=1772353801", 1), body, signedAt, false},
		{"two timestamps", "s3cret", "t=1772353800," + good, body, signedAt, false},
		{"no timestamp", "s3cret", strings.Split(good, ",")[1], body, signedAt, false},
		{"no signature", "s3cret", "t=1772353800", body, signedAt, false},
		{"bad hex", "s3cret", "t=1772353800,v1=zz", body, signedAt, false},
		{"short signature", "s3cret", good[:len(good)-2], body, signedAt, false},
		{"empty", "s3cret", "", body, signedAt, false},
		{"malformed", "s3cret", good + ",junk", body, signedAt, false},
	} {
		err := notify.VerifySignature(tc.secret, tc.header, tc.body, tc.now, 0)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, notify.ErrSignature)) {
			t.Errorf("%s: VerifySignature = %v", tc.name, err)
		}
	}
}

// FuzzVerifySignature feeds the header parser what a hostile client may send: it must never
// panic, and what Sign makes must always verify.
func FuzzVerifySignature(f *testing.F) {
	f.Add(notify.Sign("s3cret", signedAt, []byte("{}")), []byte("{}"), int64(0))
	f.Add("t=1772353800,v1=zz,v1=", []byte(nil), int64(3600))
	f.Add("t=-9223372036854775808,v1=00", []byte("x"), int64(-1))
	f.Add("t=9223372036854775807", []byte("x"), int64(1<<62))
	f.Add(",,,==,t==", []byte(""), int64(1))
	f.Fuzz(func(t *testing.T, header string, body []byte, skew int64) {
		now := signedAt.Add(time.Duration(skew))
		if err := notify.VerifySignature("s3cret", header, body, now, time.Minute); err != nil && !errors.Is(err, notify.ErrSignature) {
			t.Fatalf("VerifySignature(%q) = %v, not an ErrSignature", header, err)
		}
		if err := notify.VerifySignature("s3cret", notify.Sign("s3cret", now, body), body, now, 0); err != nil {
			t.Fatalf("a fresh signature does not verify: %v", err)
		}
	})
}
