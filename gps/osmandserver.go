package gps

import (
	"bytes"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liftrescue/liftrescue"
)

// DefaultOsmAndRetryAfter is how long a client is asked to wait when the ingest refuses a fix
// for its backlog or its shutdown.
const DefaultOsmAndRetryAfter = 10 * time.Second

// OsmAndOptions configures the OsmAnd handler.
type OsmAndOptions struct {
	// Now is the clock fixes without a timestamp are taken at; time.Now when nil.
	Now func() time.Time
	// Logger gets a warning, at most once a minute, while the ingest answers 503; nothing is
	// logged per request. slog.Default() when nil.
	Logger *slog.Logger
	// RetryAfter is sent with 503 answers; 0 means DefaultOsmAndRetryAfter.
	RetryAfter time.Duration
}

// OsmAndStats are the OsmAnd handler's counters since it started. Why the pipeline refused a fix
// (an unknown device or a bad token, both answered 401) is in Pipeline.Stats.
type OsmAndStats struct {
	Requests int64 // requests answered
	Accepted int64 // answered 200: the pipeline kept the fix
	// Refused counts the other answers by status: 400 (malformed or invalid), 401 (unknown device
	// or bad token), 405 (method), 413 (body too large), 429 (the device's rate limit), 503
	// (backlog or shutdown).
	Refused map[int]int64
}

// OsmAndHandler serves the OsmAnd protocol as the OsmAnd app and the Traccar Client apps speak it,
// on a port of its own (Traccar's is 5055): one position per request, on any path, GET or POST,
// in the query string, a form body or Traccar Client 9's JSON body (see ParseOsmAnd).
//
// The device proves itself with its device secret, sent as the token parameter (in the query
// string: Traccar Client keeps the query of its server URL, so users set
// http://host:5055/?token=SECRET; or in a form body), as an Authorization: Bearer token or as the
// password of HTTP Basic authentication.
//
// Answers: 200 with an empty body when the fix is kept (clients treat any 200 as delivered; a fix
// the pipeline keeps only in the history, out of order or an impossible jump, is kept too); 400
// with a one-line reason when the request cannot be read or the fix is invalid; 401 for an unknown
// device or a missing or wrong token, without saying which; 405 for methods other than GET and
// POST; 413 for a body over MaxOsmAndBody; 429 with Retry-After when the device sends more than
// PipelineConfig.DeviceRate allows; 503 with Retry-After while the ingest refuses fixes for its
// backlog or its shutdown. On 429 and 503 the client keeps the fix and sends it again.
//
// The handler does not log per request and allocates little beyond what parsing needs: it must
// keep up with a city's fleet on a small machine.
type OsmAndHandler struct {
	p          *Pipeline
	now        func() time.Time
	log        *slog.Logger
	retryAfter []string
	// retryLimited is Retry-After of a 429: the time the device's rate limit takes to allow one
	// more fix.
	retryLimited []string

	requests, accepted                            atomic.Int64
	bad, unauthorized, method, large, limited, na atomic.Int64
	lastWarn                                      atomic.Int64 // unix nanoseconds of the last 503 warning
}

var _ http.Handler = (*OsmAndHandler)(nil)

// NewOsmAndHandler returns the handler of OsmAnd requests that gives their fixes to the pipeline.
func NewOsmAndHandler(p *Pipeline, opts OsmAndOptions) *OsmAndHandler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = DefaultOsmAndRetryAfter
	}
	return &OsmAndHandler{p: p, now: opts.Now, log: opts.Logger,
		retryAfter: retryAfterHeader(opts.RetryAfter), retryLimited: retryAfterHeader(p.limit.retryAfter())}
}

// retryAfterHeader is the value of a Retry-After header for d, in whole seconds, at least one.
func retryAfterHeader(d time.Duration) []string {
	secs := max(int64((d+time.Second-1)/time.Second), 1)
	return []string{strconv.FormatInt(secs, 10)}
}

// Header values shared by every answer: net/http only reads them.
var (
	textPlain = []string{"text/plain; charset=utf-8"}
	noSniff   = []string{"nosniff"}
	allowGET  = []string{"GET, POST"}
	bearer    = []string{`Bearer realm="liftrescue"`}
)

// Answers. A 401 does not say whether the device or the token is wrong: that would let anyone
// find out which device ids exist.
const (
	msgUnauthorized = "device not recognised: check the device id and its token"
	msgUnavailable  = "the server is busy: send the position again later"
	msgRateLimited  = "too many positions from this device: send the position again later"
	msgMethod       = "method not allowed: send positions with GET or POST"
)

// ServeHTTP answers one OsmAnd request.
func (h *OsmAndHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header()["Allow"] = allowGET
		h.method.Add(1)
		h.fail(w, http.StatusMethodNotAllowed, msgMethod)
		return
	}
	if r.ContentLength > MaxOsmAndBody {
		h.large.Add(1)
		h.fail(w, http.StatusRequestEntityTooLarge, "the request body is larger than "+strconv.Itoa(MaxOsmAndBody)+" bytes")
		return
	}

	token := requestToken(r)
	var capture *bodyCapture
	if token == "" && r.Body != nil && r.Body != http.NoBody {
		// The token may be in a form body, which ParseOsmAnd reads: keep what it reads.
		capture = captures.Get().(*bodyCapture)
		capture.rc, capture.buf = r.Body, capture.buf[:0]
		r.Body = capture
		defer func() {
			r.Body = capture.rc // the server closes the body it gave
			capture.release()
		}()
	}
	now := h.now()
	fix, err := ParseOsmAnd(r, now)
	if err != nil {
		switch liftrescue.ErrorCode(err) {
		case liftrescue.ETOOLARGE:
			h.large.Add(1)
			h.fail(w, http.StatusRequestEntityTooLarge, oneLine(liftrescue.ErrorMessage(err)))
		default:
			h.bad.Add(1)
			h.fail(w, http.StatusBadRequest, oneLine(liftrescue.ErrorMessage(err)))
		}
		return
	}
	if capture != nil {
		token = capture.token()
	}

	one := [1]liftrescue.Fix{fix}
	res := h.p.Accept(r.Context(), one[:], Proof{Secret: token})
	if res.Accepted == 1 {
		h.accepted.Add(1)
		return // 200 with an empty body
	}
	var d liftrescue.Detail
	if len(res.Rejected) > 0 {
		d = res.Rejected[0]
	}
	switch d.Reason {
	case ReasonUnknownDevice, ReasonBadSecret:
		h.unauthorized.Add(1)
		w.Header()["Www-Authenticate"] = bearer
		h.fail(w, http.StatusUnauthorized, msgUnauthorized)
	case ReasonRateLimited:
		h.limited.Add(1)
		w.Header()["Retry-After"] = h.retryLimited
		h.fail(w, http.StatusTooManyRequests, msgRateLimited)
	case ReasonHistoryBacklog, ReasonClosed:
		h.na.Add(1)
		h.warnUnavailable(now, d.Reason)
		w.Header()["Retry-After"] = h.retryAfter
		h.fail(w, http.StatusServiceUnavailable, msgUnavailable)
	default: // invalid at the pipeline's clock
		h.bad.Add(1)
		msg := d.Reason
		if d.Field != "" {
			msg = d.Field + ": " + msg
		}
		h.fail(w, http.StatusBadRequest, oneLine(msg))
	}
}

// fail answers with the status and a one-line text reason.
func (h *OsmAndHandler) fail(w http.ResponseWriter, status int, msg string) {
	hdr := w.Header()
	hdr["Content-Type"] = textPlain
	hdr["X-Content-Type-Options"] = noSniff
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

// warnUnavailable logs, at most once a minute, that fixes are turned away.
func (h *OsmAndHandler) warnUnavailable(now time.Time, reason string) {
	last := h.lastWarn.Load()
	if now.UnixNano()-last < int64(time.Minute) || !h.lastWarn.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	h.log.Warn("OsmAnd positions answered 503", "reason", reason, "refused_so_far", h.na.Load())
}

// Stats returns the counters.
func (h *OsmAndHandler) Stats() OsmAndStats {
	return OsmAndStats{
		Requests: h.requests.Load(),
		Accepted: h.accepted.Load(),
		Refused: map[int]int64{
			http.StatusBadRequest:            h.bad.Load(),
			http.StatusUnauthorized:          h.unauthorized.Load(),
			http.StatusMethodNotAllowed:      h.method.Load(),
			http.StatusRequestEntityTooLarge: h.large.Load(),
			http.StatusTooManyRequests:       h.limited.Load(),
			http.StatusServiceUnavailable:    h.na.Load(),
		},
	}
}

// oneLine keeps a reason on one line of text.
func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	return s
}

// requestToken returns the device secret of the query string's token parameter, an
// Authorization: Bearer token or the password of Basic authentication, in that order, or "".
func requestToken(r *http.Request) string {
	if r.URL != nil {
		if t := formValue(r.URL.RawQuery, "token"); t != "" {
			return t
		}
	}
	auth := r.Header["Authorization"]
	if len(auth) == 0 {
		return ""
	}
	a := auth[0]
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	if len(a) > 6 && strings.EqualFold(a[:6], "basic ") {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(a[6:]))
		if err != nil {
			return ""
		}
		if _, pass, ok := bytes.Cut(raw, []byte{':'}); ok {
			return string(pass)
		}
	}
	return ""
}

// formValue returns the first non-empty value of key in a query string or form body, decoded, or
// "". It allocates only to decode escapes; a malformed pair is skipped (ParseOsmAnd refuses the
// request anyway).
func formValue(q, key string) string {
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				continue
			}
		}
		if k != key || v == "" {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			var err error
			if v, err = url.QueryUnescape(v); err != nil {
				continue
			}
		}
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// bodyCapture keeps the bytes of a request body that ParseOsmAnd reads, to find a token in a
// form body without reading the body twice.
type bodyCapture struct {
	rc  io.ReadCloser
	buf []byte
}

var captures = sync.Pool{New: func() any { return &bodyCapture{buf: make([]byte, 0, 1024)} }}

func (c *bodyCapture) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	if room := MaxOsmAndBody - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(n, room)]...)
	}
	return n, err
}

func (c *bodyCapture) Close() error { return c.rc.Close() }

// token returns the token parameter of a form body; a JSON body has none.
func (c *bodyCapture) token() string {
	b := bytes.TrimLeft(c.buf, " \t\r\n")
	if len(b) == 0 || b[0] == '{' || b[0] == '[' || !bytes.Contains(b, []byte("token")) {
		return ""
	}
	return formValue(string(b), "token")
}

func (c *bodyCapture) release() {
	c.rc = nil
	if cap(c.buf) > 16<<10 {
		c.buf = make([]byte, 0, 1024)
	}
	captures.Put(c)
}
