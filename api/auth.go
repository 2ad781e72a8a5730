package api

import (
	"context"
	"crypto/subtle"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/liftrescue/liftrescue"
	"golang.org/x/time/rate"
)

// Access rules a route may have besides a permission.
const (
	// permPublic routes take no credential, or check their own (a device secret, a responder link).
	permPublic liftrescue.Permission = "public"
	// permSignedIn routes take any valid credential: who am I, sign out.
	permSignedIn liftrescue.Permission = "signed_in"
)

// sessionCookie carries a signed-in person's session token. CSRF protection: a write through the
// cookie must also carry the session's CSRF token in csrfHeader, which a page of another site
// can neither read nor send.
const (
	sessionCookie = "liftrescue_session"
	csrfHeader    = "X-CSRF-Token"
)

const (
	principalKey = "principal"
	sessionKey   = "session" // the *liftrescue.Session of a request made with the cookie
)

// principalOf is who makes the request, nil on a public route asked anonymously.
func principalOf(c echo.Context) *liftrescue.Principal {
	p, _ := c.Get(principalKey).(*liftrescue.Principal)
	return p
}

// authorize checks the request's credential against the route's rule, holds the caller to their
// rate, and writes the audit line of every write.
func (s *Server) authorize(r route) echo.MiddlewareFunc {
	unsafe := r.method != http.MethodGet
	audited := unsafe && !r.unaudited
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, err := s.authenticate(c, unsafe)
			if r.perm != permPublic {
				if err == nil && p == nil {
					err = liftrescue.Errorf(liftrescue.EUNAUTHORIZED, "sign in, or send an API key as Authorization: Bearer")
				}
				if err == nil && r.perm != permSignedIn && !p.Can(r.perm) {
					err = forbidden(p, r.perm)
				}
				if err == nil && p.District != "" && cityWide(r.perm) {
					err = liftrescue.Errorf(liftrescue.EFORBIDDEN, "the registry and accounts are kept city-wide: an account of district %s cannot change them", p.District)
				}
				if err == nil {
					err = s.limits.allow(c, p)
				}
			} else if err != nil {
				// A public route checks its own credential (a device secret in the same header).
				p, err = nil, nil
			}
			if err != nil && !p.Can(r.perm) && r.perm != permSignedIn {
				p = nil // the audit line names only who could have acted
			}
			if err == nil {
				c.Set(principalKey, p)
				err = next(c)
			}
			if audited && (p != nil || r.perm != permPublic) {
				if err != nil {
					s.errorHandler(err, c)
					err = nil
				}
				s.audit(c, r, p, c.Response().Status, "")
			}
			return err
		}
	}
}

// cityWide permissions change what every district shares, so district staff never hold them: the
// registry, the accounts, and the plan of rescue grids (one for the whole city).
func cityWide(perm liftrescue.Permission) bool {
	return perm == liftrescue.PermRegistry || perm == liftrescue.PermAccounts || perm == liftrescue.PermGrids
}

func forbidden(p *liftrescue.Principal, perm liftrescue.Permission) error {
	who := "this API key"
	if p.Kind == liftrescue.PrincipalUser {
		who = "the role " + string(p.Role)
	}
	e := liftrescue.Errorf(liftrescue.EFORBIDDEN, "%s may not do this (it needs %s)", who, perm)
	e.Extra = map[string]any{"needs": perm}
	return e
}

// authenticate returns the principal of the request's credential: nil, nil when it carries none;
// a known principal with an error when a write lacks its CSRF token.
// A bearer token is an API key; else the session cookie, whose writes need the CSRF token.
func (s *Server) authenticate(c echo.Context, unsafe bool) (*liftrescue.Principal, error) {
	req := c.Request()
	ctx := req.Context()
	if bearer := bearerToken(req); bearer != "" {
		if s.isIngestKey(bearer) {
			// No API key: the gateways' batches would each cost a database lookup that could
			// only fail. postPositions trusts it; any other route finds no principal.
			return nil, nil
		}
		return s.cfg.Auth.APIKey(ctx, bearer)
	}
	cookie, err := req.Cookie(sessionCookie)
	if err != nil || cookie.Value == "" {
		return nil, nil
	}
	p, sess, err := s.cfg.Auth.Session(ctx, cookie.Value)
	if err != nil {
		return nil, err
	}
	c.Set(sessionKey, sess)
	if unsafe && subtle.ConstantTimeCompare([]byte(req.Header.Get(csrfHeader)), []byte(sess.CSRF)) != 1 {
		// The principal comes back with the refusal, for the audit line.
		return p, liftrescue.Errorf(liftrescue.EFORBIDDEN, "a write through the console must carry its %s header", csrfHeader)
	}
	return p, nil
}

// credentialOf is the secret the request proves itself with: the bearer key or the session token.
func credentialOf(req *http.Request) string {
	if bearer := bearerToken(req); bearer != "" {
		return bearer
	}
	if cookie, err := req.Cookie(sessionCookie); err == nil {
		return cookie.Value
	}
	return ""
}

// audit writes one line of the audit log. A failure to write it is logged, not answered: the
// write itself has happened by then.
func (s *Server) audit(c echo.Context, r route, p *liftrescue.Principal, status int, detail string) {
	req := c.Request()
	e := liftrescue.AuditEntry{At: s.now().UTC(), Action: r.method + " " + openAPIPath(r.path), Target: redactPath(req.URL.RequestURI()),
		Status: status, Detail: detail, RequestID: c.Response().Header().Get(echo.HeaderXRequestID), Remote: c.RealIP()}
	if p != nil {
		e.ActorKind, e.ActorID, e.ActorName = p.Kind, p.ID, p.Name
	}
	if e.Detail == "" {
		e.Detail, _ = c.Get(auditDetailKey).(string)
	}
	// The write has happened; a client that hangs up on its answer must not cancel its record.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), 10*time.Second)
	defer cancel()
	if err := s.store.AppendAudit(ctx, []liftrescue.AuditEntry{e}); err != nil {
		s.logger.Error("audit: could not write", "action", e.Action, "actor", e.ActorName, "err", err)
	}
}

const auditDetailKey = "audit_detail"

// auditDetail adds words to the request's audit line: the action posted, the user made.
func auditDetail(c echo.Context, format string, args ...any) {
	c.Set(auditDetailKey, shorten(fmt.Sprintf(format, args...)))
}

// redactPath hides secrets that travel in paths (responder links) from logs and the audit log.
func redactPath(p string) string {
	if strings.HasPrefix(p, "/r/") {
		return "/r/…"
	}
	return p
}

// Limits are the request rates a caller may keep up, per signed-in user or API key, and the rate
// of sign-in attempts per client address. Zero fields take the defaults.
type Limits struct {
	KeyRate     float64 // requests a second per API key (default 200: a gateway's batches)
	KeyBurst    int     // (default 400)
	UserRate    float64 // requests a second per signed-in person (default 30: a busy console)
	UserBurst   int     // (default 120: the console's first load)
	SignInRate  float64 // sign-in attempts a second per address (default 1/6: 10 a minute)
	SignInBurst int     // (default 10)
}

func (l *Limits) defaults() {
	def := func(f *float64, v float64) {
		if *f <= 0 {
			*f = v
		}
	}
	defi := func(f *int, v int) {
		if *f <= 0 {
			*f = v
		}
	}
	def(&l.KeyRate, 200)
	defi(&l.KeyBurst, 400)
	def(&l.UserRate, 30)
	defi(&l.UserBurst, 120)
	def(&l.SignInRate, 1.0/6)
	defi(&l.SignInBurst, 10)
}

// limiters holds a token bucket per caller.
type limiters struct {
	cfg     Limits
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiters(cfg Limits, now func() time.Time) *limiters {
	cfg.defaults()
	return &limiters{cfg: cfg, now: now, buckets: map[string]*bucket{}}
}

// allow takes a token of the principal's bucket, or answers 429 with Retry-After.
func (l *limiters) allow(c echo.Context, p *liftrescue.Principal) error {
	if p.Kind == liftrescue.PrincipalAPIKey {
		return l.take(c, "key:"+strconv.FormatInt(p.ID, 10), l.cfg.KeyRate, l.cfg.KeyBurst)
	}
	return l.take(c, "user:"+strconv.FormatInt(p.ID, 10), l.cfg.UserRate, l.cfg.UserBurst)
}

// signIn takes a token of the client address's sign-in bucket.
func (l *limiters) signIn(c echo.Context) error {
	return l.take(c, "signin:"+c.RealIP(), l.cfg.SignInRate, l.cfg.SignInBurst)
}

// maxBuckets bounds the table: a flood from many addresses forgets the idle buckets first.
const maxBuckets = 100_000

func (l *limiters) take(c echo.Context, key string, r float64, burst int) error {
	now := l.now()
	l.mu.Lock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.sweep(now)
		}
		b = &bucket{lim: rate.NewLimiter(rate.Limit(r), burst)}
		l.buckets[key] = b
	}
	b.seen = now
	res := b.lim.ReserveN(now, 1)
	delay := res.DelayFrom(now)
	if delay > 0 {
		res.CancelAt(now)
	}
	l.mu.Unlock()
	if delay <= 0 {
		return nil
	}
	secs := int(math.Ceil(delay.Seconds()))
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	e := liftrescue.Errorf(codeRateLimited, "too many requests: try again in %d s", secs)
	e.Extra = map[string]any{"retry_after": secs}
	return e
}

// sweep forgets buckets idle for a minute (full again by then), or all when none is.
func (l *limiters) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.seen) > time.Minute {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}
