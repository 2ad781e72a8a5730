package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/liftrescue/liftrescue"
)

const (
	// DefaultTimeout is how long an HTTP sender waits for an answer by default.
	DefaultTimeout = 10 * time.Second
	// maxReceipt keeps a chatty receiver's answer from filling the notifications table.
	maxReceipt = 200
	// maxAnswer is how much of an answer is read: enough for any receipt or error text.
	maxAnswer = 64 << 10
	// maxRetryAfter bounds a receiver's Retry-After, so that a broken one cannot park a
	// notification for years.
	maxRetryAfter = 24 * time.Hour
)

// post makes one HTTP request and sorts the answer: 2xx is delivered, with a receipt; 408, 429,
// 5xx and network failures are temporary; anything else is Permanent.
func post(ctx context.Context, client *http.Client, timeout time.Duration, method, target string, header http.Header, body []byte) (string, error) {
	if client == nil {
		client = http.DefaultClient
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return "", Permanent(err)
	}
	req.Header = header
	resp, err := client.Do(req)
	if err != nil {
		// The URL is left out of the error: it may hold a gateway's key, and the error is stored.
		var uerr *url.Error
		switch {
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
			return "", fmt.Errorf("no answer within %s", timeout)
		case errors.As(err, &uerr):
			return "", uerr.Err
		}
		return "", err
	}
	defer resp.Body.Close()
	// A read error is ignored: the status already says what happened.
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return receipt(answer), nil
	}
	msg := "answered " + tidy(resp.Status, 100)
	if text := tidy(string(answer), maxReceipt); text != "" {
		msg += ": " + text
	}
	err = errors.New(msg)
	if code != http.StatusRequestTimeout && code != http.StatusTooManyRequests && code < 500 {
		return "", Permanent(err)
	}
	if after, ok := parseRetryAfter(resp.Header.Get("Retry-After")); ok {
		return "", &retryAfterError{err: err, after: after}
	}
	return "", err
}

// receipt picks the receiver's id for the message out of its answer: the message_id or id of a
// JSON object, else the answer itself, shortened.
func receipt(answer []byte) string {
	var fields map[string]json.RawMessage
	if json.Unmarshal(answer, &fields) == nil {
		for _, key := range []string{"message_id", "id"} {
			raw := fields[key]
			var s string
			switch {
			case json.Unmarshal(raw, &s) == nil && s != "":
				return tidy(s, maxReceipt)
			case len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9'):
				return tidy(string(raw), maxReceipt)
			}
		}
	}
	return tidy(string(answer), maxReceipt)
}

// parseRetryAfter reads a Retry-After header in seconds; the HTTP-date form is not used by the
// gateways we know.
func parseRetryAfter(v string) (time.Duration, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second, true
}

// checkURL says whether u is an absolute http or https URL.
func checkURL(field, u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return liftrescue.Invalid(field, "must be an absolute http or https URL")
	}
	return nil
}
