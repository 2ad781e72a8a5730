// Package auth knows who is asking: it signs people in (argon2id passwords, lockout after repeated
// failures, sessions), makes and checks API keys, and turns either credential into the
// liftrescue.Principal the API authorises against. It keeps no HTTP: package api reads cookies and
// headers and calls it.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/liftrescue/liftrescue"
)

// Lockout: after LockAfter wrong passwords in a row an account is locked for LockFor, doubling
// with each further failure up to MaxLock. A guesser gets a handful of tries an hour; a dispatcher
// who mistypes is back in a minute.
const (
	LockAfter = 5
	LockFor   = time.Minute
	MaxLock   = 30 * time.Minute
)

// How often a session's or a key's last use is written: often enough to expire idle sessions and
// to tell an admin which keys are in use, rarely enough not to write on every request.
const touchEvery = time.Minute

// cacheFor is how long a checked credential is trusted without the database. A revocation or a
// disabled user through this Service takes effect at once; through another instance within it.
const cacheFor = 5 * time.Second

// Service checks credentials against the store.
type Service struct {
	store  liftrescue.AccountService
	now    func() time.Time
	logger *slog.Logger

	mu    sync.Mutex
	cache map[string]cached // token or key hash → who it was, until when
}

type cached struct {
	principal *liftrescue.Principal
	session   *liftrescue.Session // nil for a key
	until     time.Time
}

// New returns a Service; now is the clock (time.Now when nil).
func New(store liftrescue.AccountService, now func() time.Time, logger *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Service{store: store, now: now, logger: logger, cache: map[string]cached{}}
}

// Hash is the SHA-256, in hex, under which a session token or an API key is stored.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// randomToken returns n random bytes in URL-safe base64.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// ErrBadCredentials is the one answer to a wrong username or password, so that a guesser cannot
// tell which was wrong.
var ErrBadCredentials = liftrescue.Errorf(liftrescue.EUNAUTHORIZED, "wrong username or password")

// SignedIn is a new session: the token for the cookie and the CSRF token for the console.
type SignedIn struct {
	Token     string
	Session   *liftrescue.Session
	User      *liftrescue.User
	Principal *liftrescue.Principal
}

// SignIn checks a username and password and opens a session. Wrong passwords count towards a
// lock; a locked account answers EFORBIDDEN with the time it opens again (in Extra
// "locked_until"), even for the right password, so that guessing stops paying.
func (s *Service) SignIn(ctx context.Context, username, password, remote, userAgent string) (*SignedIn, error) {
	now := s.now().UTC()
	u, err := s.store.FindUserByName(ctx, strings.ToLower(strings.TrimSpace(username)))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		VerifyPassword(dummyHash, password)
		return nil, ErrBadCredentials
	} else if err != nil {
		return nil, err
	}
	if u.LockedUntil != nil && now.Before(*u.LockedUntil) {
		e := liftrescue.Errorf(liftrescue.EFORBIDDEN, "too many wrong passwords: this account is locked until %s", u.LockedUntil.Format(time.RFC3339))
		e.Extra = map[string]any{"reason": "locked", "locked_until": u.LockedUntil}
		return nil, e
	}
	if !VerifyPassword(u.PasswordHash, password) {
		failed := u.FailedSignIns + 1
		var until *time.Time
		if failed >= LockAfter {
			lock := LockFor << min(failed-LockAfter, 10)
			t := now.Add(min(lock, MaxLock))
			until = &t
		}
		if err := s.store.RecordSignIn(ctx, u.ID, failed, until, u.LastSignInAt); err != nil {
			return nil, err
		}
		return nil, ErrBadCredentials
	}
	if u.Disabled {
		// Said only to someone who knows the password.
		e := liftrescue.Errorf(liftrescue.EFORBIDDEN, "this account is disabled; ask an administrator")
		e.Extra = map[string]any{"reason": "disabled"}
		return nil, e
	}
	if err := s.store.RecordSignIn(ctx, u.ID, 0, nil, &now); err != nil {
		return nil, err
	}
	token := randomToken(32)
	sess := &liftrescue.Session{TokenHash: Hash(token), UserID: u.ID, CSRF: randomToken(24), CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(liftrescue.SessionIdle), RemoteAddr: remote, UserAgent: shorten(userAgent, 200)}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	u.LastSignInAt, u.FailedSignIns, u.LockedUntil = &now, 0, nil
	return &SignedIn{Token: token, Session: sess, User: u, Principal: UserPrincipal(u)}, nil
}

// StillValid reports whether the credential a long request (a live stream) began with still
// holds: the session not ended or expired and its user not disabled, the key not revoked. secret
// is the session token or the key. It asks the store, not the cache; a store that cannot answer
// is not taken as a no.
func (s *Service) StillValid(ctx context.Context, p *liftrescue.Principal, secret string) bool {
	var err error
	if p.Kind == liftrescue.PrincipalAPIKey {
		var k *liftrescue.APIKey
		if k, err = s.store.FindAPIKey(ctx, Hash(secret)); err == nil {
			return k.RevokedAt == nil
		}
	} else {
		var u *liftrescue.User
		if _, u, err = s.store.FindSession(ctx, Hash(secret), s.now().UTC()); err == nil {
			return !u.Disabled
		}
	}
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return false
	}
	s.logger.Warn("auth: could not check a credential again", "who", p.Name, "err", err)
	return true
}

// SignOut ends the session of the token; an unknown one is no error.
func (s *Service) SignOut(ctx context.Context, token string) error {
	h := Hash(token)
	s.forget(h)
	return s.store.DeleteSession(ctx, h)
}

// Session returns the principal and session of a cookie's token: EUNAUTHORIZED when there is none,
// it has expired, or its user has been disabled.
func (s *Service) Session(ctx context.Context, token string) (*liftrescue.Principal, *liftrescue.Session, error) {
	if token == "" {
		return nil, nil, errNoCredential
	}
	now := s.now().UTC()
	h := Hash(token)
	if c, ok := s.lookup(h, now); ok && c.session != nil {
		return c.principal, c.session, nil
	}
	sess, u, err := s.store.FindSession(ctx, h, now)
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, nil, liftrescue.Errorf(liftrescue.EUNAUTHORIZED, "the session has ended; sign in again")
	} else if err != nil {
		return nil, nil, err
	}
	if u.Disabled {
		return nil, nil, liftrescue.Errorf(liftrescue.EUNAUTHORIZED, "this account is disabled")
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		expires := now.Add(liftrescue.SessionIdle)
		if limit := sess.CreatedAt.Add(liftrescue.MaxSessionAge); expires.After(limit) {
			expires = limit
		}
		if err := s.store.TouchSession(ctx, h, now, expires); err != nil && liftrescue.ErrorCode(err) != liftrescue.ENOTFOUND {
			s.logger.Warn("session: could not record its use", "err", err)
		}
		sess.LastSeenAt, sess.ExpiresAt = now, expires
	}
	p := UserPrincipal(u)
	s.remember(h, cached{principal: p, session: sess, until: minTime(now.Add(cacheFor), sess.ExpiresAt)})
	return p, sess, nil
}

var errNoCredential = liftrescue.Errorf(liftrescue.EUNAUTHORIZED, "sign in, or send an API key as Authorization: Bearer")

// UserPrincipal is who a signed-in user is to the API.
func UserPrincipal(u *liftrescue.User) *liftrescue.Principal {
	name := u.Name
	if name == "" {
		name = u.Username
	}
	return &liftrescue.Principal{Kind: liftrescue.PrincipalUser, ID: u.ID, Name: u.Username, Display: name, Role: u.Role,
		Permissions: u.Role.Permissions(), District: u.District}
}

// KeyPrefix starts every API key, so that one pasted into the wrong place is recognisable (and
// found by secret scanners).
const KeyPrefix = "lrk_"

// NewAPIKey makes a key for k (its name, scopes and district set), stores it, and returns the key:
// the only time it is ever seen.
func (s *Service) NewAPIKey(ctx context.Context, k *liftrescue.APIKey) (string, error) {
	return s.AddAPIKey(ctx, k, NewKeySecret())
}

// NewKeySecret returns a fresh API key: the prefix and 32 random bytes in base32.
func NewKeySecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return KeyPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// AddAPIKey stores k under a key chosen by the caller (the demo's key from the environment).
// Returns EINVALID for a key too short to be safe.
func (s *Service) AddAPIKey(ctx context.Context, k *liftrescue.APIKey, secret string) (string, error) {
	if len(secret) < 24 || len(secret) > 200 {
		return "", liftrescue.Invalid("key", "must be 24 to 200 characters")
	}
	k.Hash, k.Prefix = Hash(secret), secret[:min(len(secret), len(KeyPrefix)+6)]
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.now().UTC()
	}
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return "", err
	}
	return secret, nil
}

// APIKey returns the principal of a bearer key: EUNAUTHORIZED when it is unknown or revoked.
func (s *Service) APIKey(ctx context.Context, secret string) (*liftrescue.Principal, error) {
	if secret == "" {
		return nil, errNoCredential
	}
	now := s.now().UTC()
	h := Hash(secret)
	if c, ok := s.lookup(h, now); ok && c.session == nil {
		return c.principal, nil
	}
	k, err := s.store.FindAPIKey(ctx, h)
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, liftrescue.Errorf(liftrescue.EUNAUTHORIZED, "unknown API key")
	} else if err != nil {
		return nil, err
	}
	if k.RevokedAt != nil {
		return nil, liftrescue.Errorf(liftrescue.EUNAUTHORIZED, "this API key was revoked at %s", k.RevokedAt.Format(time.RFC3339))
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= touchEvery {
		if err := s.store.TouchAPIKeys(ctx, map[int64]time.Time{k.ID: now}); err != nil {
			s.logger.Warn("api key: could not record its use", "key", k.Prefix, "err", err)
		}
	}
	p := &liftrescue.Principal{Kind: liftrescue.PrincipalAPIKey, ID: k.ID, Name: k.Name, Display: k.Name,
		Permissions: k.Scopes, District: k.District}
	// A key is trusted from the cache for at most touchEvery, so that last use stays roughly true.
	s.remember(h, cached{principal: p, until: now.Add(cacheFor)})
	return p, nil
}

// RevokeAPIKey revokes the key with the id; at once in this process.
func (s *Service) RevokeAPIKey(ctx context.Context, id int64) error {
	if err := s.store.RevokeAPIKey(ctx, id, s.now().UTC()); err != nil {
		return err
	}
	s.forgetWhere(func(c cached) bool { return c.session == nil && c.principal.ID == id })
	return nil
}

// CreateUser stores u with the password hashed. Returns EINVALID for a weak password.
func (s *Service) CreateUser(ctx context.Context, u *liftrescue.User, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	u.Username = strings.ToLower(strings.TrimSpace(u.Username))
	u.PasswordHash = HashPassword(password)
	return s.store.CreateUser(ctx, u)
}

// UpdateUser stores the user's new name, role, district and disabled flag, and the password when
// one is given. A new password, a new role or district, or disabling ends every session of the
// user, so that nobody keeps rights they no longer have.
func (s *Service) UpdateUser(ctx context.Context, u *liftrescue.User, password string) error {
	old, err := s.store.FindUser(ctx, u.ID)
	if err != nil {
		return err
	}
	u.Username, u.PasswordHash = old.Username, old.PasswordHash
	u.CreatedAt = old.CreatedAt
	if password != "" {
		if err := CheckPassword(password); err != nil {
			return err
		}
		u.PasswordHash = HashPassword(password)
	}
	if err := s.store.UpdateUser(ctx, u); err != nil {
		return err
	}
	if password != "" || u.Disabled || u.Role != old.Role || u.District != old.District {
		return s.EndSessions(ctx, u.ID)
	}
	return nil
}

// ChangePassword sets a user's own new password after checking the current one, and ends their
// other sessions.
func (s *Service) ChangePassword(ctx context.Context, userID int64, current, next string, keep string) error {
	u, err := s.store.FindUser(ctx, userID)
	if err != nil {
		return err
	}
	if !VerifyPassword(u.PasswordHash, current) {
		return liftrescue.Invalid("current_password", "is wrong")
	}
	if err := CheckPassword(next); err != nil {
		return err
	}
	u.PasswordHash = HashPassword(next)
	if err := s.store.UpdateUser(ctx, u); err != nil {
		return err
	}
	except := ""
	if keep != "" {
		except = Hash(keep)
	}
	return s.endSessions(ctx, userID, except)
}

// EndSessions signs the user out everywhere.
func (s *Service) EndSessions(ctx context.Context, userID int64) error {
	return s.endSessions(ctx, userID, "")
}

// endSessions ends the user's sessions but the one with the token hash except.
func (s *Service) endSessions(ctx context.Context, userID int64, except string) error {
	if _, err := s.store.DeleteSessions(ctx, userID, except); err != nil {
		return err
	}
	s.forgetWhere(func(c cached) bool {
		return c.session != nil && c.session.UserID == userID && c.session.TokenHash != except
	})
	return nil
}

// Sweep removes sessions expired before now, and is run now and then.
func (s *Service) Sweep(ctx context.Context) {
	now := s.now().UTC()
	if n, err := s.store.DeleteExpiredSessions(ctx, now); err != nil {
		s.logger.Warn("sessions: could not remove expired ones", "err", err)
	} else if n > 0 {
		s.logger.Debug("sessions: expired ones removed", "count", n)
	}
	s.forgetWhere(func(c cached) bool { return !now.Before(c.until) })
}

func (s *Service) lookup(h string, now time.Time) (cached, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cache[h]
	if ok && !now.Before(c.until) {
		delete(s.cache, h)
		return cached{}, false
	}
	return c, ok
}

// maxCached bounds the cache: a flood of valid credentials cannot grow it without limit.
const maxCached = 10_000

func (s *Service) remember(h string, c cached) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) >= maxCached {
		clear(s.cache)
	}
	s.cache[h] = c
}

func (s *Service) forget(h string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cache, h)
}

func (s *Service) forgetWhere(match func(cached) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, c := range s.cache {
		if match(c) {
			delete(s.cache, h)
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
