package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/liftrescue/liftrescue"
)

// WebhookTarget is an external system that takes notifications: notifications name it in their
// Recipient, and it checks each request with its Secret.
type WebhookTarget struct {
	Name   string
	URL    string
	Secret string
}

// Webhooks POSTs a notification's Body, which is JSON, to the target its Recipient names, signed
// so that the receiver knows it came from us and was not replayed. The request carries the headers
// X-Liftrescue-Delivery (the notification's id, for dropping repeats), X-Liftrescue-Kind and
// X-Liftrescue-Signature (see Sign).
type Webhooks struct {
	Targets []WebhookTarget
	Timeout time.Duration    // for one request; default DefaultTimeout
	Client  *http.Client     // default http.DefaultClient
	Now     func() time.Time // for the signature's timestamp; default time.Now
}

// Validate checks that every target has a unique name, an absolute http(s) URL and a secret.
// Returns EINVALID.
func (w *Webhooks) Validate() error {
	seen := make(map[string]bool, len(w.Targets))
	for i, t := range w.Targets {
		field := fmt.Sprintf("webhooks[%d]", i)
		switch {
		case t.Name == "":
			return liftrescue.Invalid(field+".name", "is required")
		case seen[t.Name]:
			return liftrescue.Invalid(field+".name", "is used by another target")
		case t.Secret == "":
			return liftrescue.Invalid(field+".secret", "is required")
		}
		seen[t.Name] = true
		if err := checkURL(field+".url", t.URL); err != nil {
			return err
		}
	}
	return nil
}

// Send POSTs the notification to the target named n.Recipient, as the envelope
// {"delivery_id": n.ID, "incident_id": n.IncidentID, "kind": n.Kind, "data": n.Body}: the ids are
// filled in here because the events of an incident's opening are written before the incident has
// its id. An unknown target, or a body that is not JSON, is a Permanent failure.
func (w *Webhooks) Send(ctx context.Context, n *liftrescue.Notification) (string, error) {
	var target *WebhookTarget
	for i := range w.Targets {
		if w.Targets[i].Name == n.Recipient {
			target = &w.Targets[i]
			break
		}
	}
	if target == nil {
		return "", Permanent(fmt.Errorf("no webhook target named %q", n.Recipient))
	}
	if !json.Valid([]byte(n.Body)) {
		return "", Permanent(errors.New("the body is not JSON"))
	}
	kind, _ := json.Marshal(n.Kind)
	body := fmt.Appendf(nil, `{"delivery_id":%d,"incident_id":%d,"kind":%s,"data":%s}`, n.ID, n.IncidentID, kind, n.Body)
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	header := http.Header{
		"Content-Type":           {"application/json"},
		"X-Liftrescue-Delivery":  {strconv.FormatInt(n.ID, 10)},
		"X-Liftrescue-Kind":      {n.Kind},
		"X-Liftrescue-Signature": {Sign(target.Secret, now(), body)},
	}
	return post(ctx, w.Client, w.Timeout, http.MethodPost, target.URL, header, body)
}

// DefaultSignatureTolerance is how far a signature's timestamp may be from the receiver's clock
// when VerifySignature is given no tolerance.
const DefaultSignatureTolerance = 5 * time.Minute

// ErrSignature is wrapped by every error of VerifySignature.
var ErrSignature = errors.New("bad webhook signature")

// Sign returns the X-Liftrescue-Signature header for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with secret>". The timestamp is signed
// with the body so that a captured request cannot be replayed later.
func Sign(secret string, t time.Time, body []byte) string {
	ts := t.Unix()
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

// VerifySignature checks a X-Liftrescue-Signature header against the body and the secret, for
// receivers: the signature must match and its timestamp be within tolerance of now (a tolerance
// of 0 or less means DefaultSignatureTolerance). Several v1 values are accepted, any of which may
// match, so that a secret can be rotated; unknown keys are ignored. The error wraps ErrSignature.
func VerifySignature(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultSignatureTolerance
	}
	var (
		ts    int64
		haveT bool
		sigs  [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: malformed header", ErrSignature)
		}
		switch key {
		case "t":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || haveT {
				return fmt.Errorf("%w: malformed timestamp", ErrSignature)
			}
			ts, haveT = n, true
		case "v1":
			if sig, err := hex.DecodeString(value); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	switch age := now.Sub(time.Unix(ts, 0)); {
	case !haveT:
		return fmt.Errorf("%w: no timestamp", ErrSignature)
	case len(sigs) == 0:
		return fmt.Errorf("%w: no v1 signature", ErrSignature)
	case age > tolerance || age < -tolerance:
		return fmt.Errorf("%w: timestamp is %s from now, more than %s", ErrSignature, age.Round(time.Second), tolerance)
	}
	want := mac(secret, ts, body)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no signature matches", ErrSignature)
}

func mac(secret string, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(strconv.AppendInt(nil, ts, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}
