package sqlq

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/liftrescue/liftrescue"
)

// Both stores keep users, sessions, API keys and the audit log (migration 0005) with the statements
// below, which differ between them only in their placeholders (Dollar) and in how a time is bound
// (TimeArg) and read (the destinations that the Dest functions take).

// The columns read back, in the order of UserDest, SessionDest, APIKeyDest and AuditDest.
const (
	UserColumns = `id, username, name, role, district, disabled, password_hash, failed_sign_ins, locked_until, last_sign_in_at,
	created_at, updated_at`
	SessionColumns = `token_hash, user_id, csrf, created_at, last_seen_at, expires_at, remote_addr, user_agent`
	APIKeyColumns  = `id, name, scopes, district, prefix, hash, created_by, created_at, last_used_at, revoked_at`
	AuditColumns   = `id, at, actor_kind, actor_id, actor_name, action, target, status, detail, request_id, remote`
)

// The statements of the account service.
const (
	// InsertUser takes UserArgs and returns the id.
	InsertUser = `INSERT INTO users (username, name, role, district, disabled, password_hash, failed_sign_ins, locked_until,
	last_sign_in_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	// UpdateUser takes UpdateUserArgs and returns the stored user, no row when there is none. The
	// username is not among what it sets: it never changes.
	UpdateUser = `UPDATE users SET name = ?, role = ?, district = ?, disabled = ?, password_hash = ?, updated_at = ?
	WHERE id = ? RETURNING ` + UserColumns
	// UsernameHolder finds the user that holds a username, for the ECONFLICT of a taken one.
	UsernameHolder = `SELECT id FROM users WHERE username = ?`
	FindUser       = `SELECT ` + UserColumns + ` FROM users WHERE id = ?`
	FindUserByName = `SELECT ` + UserColumns + ` FROM users WHERE username = ?`
	ListUsers      = `SELECT ` + UserColumns + ` FROM users ORDER BY username`
	// RecordSignIn takes SignInArgs. A sign-in that failed keeps the time of the last good one, and
	// neither moves updated_at, which says when an admin last changed the account.
	RecordSignIn = `UPDATE users SET failed_sign_ins = ?, locked_until = ?, last_sign_in_at = coalesce(?, last_sign_in_at)
	WHERE id = ?`

	// InsertSession takes SessionArgs.
	InsertSession = `INSERT INTO sessions (` + SessionColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	// FindSession takes the token hash and the time now, and gives SessionColumns then UserColumns,
	// each qualified by its table, of a session that has not expired.
	FindSession = `SELECT s.token_hash, s.user_id, s.csrf, s.created_at, s.last_seen_at, s.expires_at, s.remote_addr, s.user_agent,
	u.id, u.username, u.name, u.role, u.district, u.disabled, u.password_hash, u.failed_sign_ins, u.locked_until, u.last_sign_in_at,
	u.created_at, u.updated_at
	FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ?`
	// TouchSession takes the time last seen, the new expiry and the token hash.
	TouchSession   = `UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?`
	DeleteSession  = `DELETE FROM sessions WHERE token_hash = ?`
	DeleteSessions = `DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?`
	// DeleteExpiredSessions takes a time and removes the sessions that FindSession no longer finds
	// at that time: expired at or before it.
	DeleteExpiredSessions = `DELETE FROM sessions WHERE expires_at <= ?`

	// InsertAPIKey takes APIKeyArgs and returns the id.
	InsertAPIKey = `INSERT INTO api_keys (name, scopes, district, prefix, hash, created_by, created_at, last_used_at, revoked_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	FindAPIKey  = `SELECT ` + APIKeyColumns + ` FROM api_keys WHERE hash = ?`
	ListAPIKeys = `SELECT ` + APIKeyColumns + ` FROM api_keys ORDER BY id`
	// RevokeAPIKey takes the time and the id; a key revoked already keeps its first time.
	RevokeAPIKey = `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`
	// TouchAPIKey takes TouchAPIKeyArgs. The time only moves forward: instances that flush their
	// uses out of order never set it back.
	TouchAPIKey = `UPDATE api_keys SET last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < ? THEN ? ELSE last_used_at END
	WHERE id = ?`

	// InsertAudit takes AuditArgs and returns the id.
	InsertAudit = `INSERT INTO audit_log (at, actor_kind, actor_id, actor_name, action, target, status, detail, request_id, remote)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
)

// NewUser checks u for CreateUser and settles what is written: its times in UTC to the
// microsecond, created and updated at now. u is changed only once the write has succeeded, through
// the user returned.
func NewUser(u *liftrescue.User, now time.Time) (*liftrescue.User, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if err := storableHash(u.PasswordHash); err != nil {
		return nil, err
	}
	w := *u
	w.LockedUntil, w.LastSignInAt = usp(u.LockedUntil), usp(u.LastSignInAt)
	w.CreatedAt, w.UpdatedAt = us(now), us(now)
	return &w, nil
}

// UserArgs are the arguments of InsertUser.
func UserArgs(u *liftrescue.User, t TimeArg) []any {
	return []any{u.Username, u.Name, string(u.Role), u.District, u.Disabled, u.PasswordHash, u.FailedSignIns,
		nullTime(u.LockedUntil, t), nullTime(u.LastSignInAt, t), t(u.CreatedAt), t(u.UpdatedAt)}
}

// UpdateUserArgs checks u for UpdateUser and gives the arguments of UpdateUser, updated at now.
func UpdateUserArgs(u *liftrescue.User, now time.Time, t TimeArg) ([]any, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if err := storableHash(u.PasswordHash); err != nil {
		return nil, err
	}
	return []any{u.Name, string(u.Role), u.District, u.Disabled, u.PasswordHash, t(us(now)), u.ID}, nil
}

// storableHash refuses a password hash that PostgreSQL would not keep, as SQLite would, so that
// both stores refuse it alike; a PHC string is ASCII.
func storableHash(hash string) error {
	var p problems
	p.text("", "password", hash)
	return p.err()
}

// UserDest are the destinations of a row of UserColumns; the time destinations receive the times
// as the store reads them.
func UserDest(u *liftrescue.User, locked, lastSignIn, created, updated any) []any {
	return []any{&u.ID, &u.Username, &u.Name, &u.Role, &u.District, &u.Disabled, &u.PasswordHash, &u.FailedSignIns,
		locked, lastSignIn, created, updated}
}

// UsernameTaken is the ECONFLICT of a username that the user holder has.
func UsernameTaken(username string, holder int64) *liftrescue.Error {
	return liftrescue.Taken("user", "username", username, holder)
}

// SignInArgs checks the outcome of a sign-in and gives the arguments of RecordSignIn.
func SignInArgs(userID int64, failed int, lockedUntil, signedInAt *time.Time, t TimeArg) ([]any, error) {
	if failed < 0 {
		return nil, liftrescue.Invalid("failed_sign_ins", "must not be negative")
	}
	return []any{failed, nullTime(usp(lockedUntil), t), nullTime(usp(signedInAt), t), userID}, nil
}

// NoUser is the ENOTFOUND of a user id.
func NoUser(id int64) error {
	return liftrescue.Errorf(liftrescue.ENOTFOUND, "no user has the id %d", id)
}

// NoUsername is the ENOTFOUND of a username.
func NoUsername(username string) error {
	return liftrescue.Errorf(liftrescue.ENOTFOUND, "no user has the username %q", username)
}

// NewSession checks s for CreateSession and puts its times in UTC to the microsecond, as the
// columns keep them, so that what was stored is what FindSession gives back. A session without a
// start starts at now, and one never seen was last seen when it started.
func NewSession(s *liftrescue.Session, now time.Time) error {
	var p problems
	if s.TokenHash == "" {
		p.add("token_hash", "is required")
	}
	if s.ExpiresAt.IsZero() {
		p.add("expires_at", "is required")
	}
	p.text("", "token_hash", s.TokenHash, "csrf", s.CSRF, "remote_addr", s.RemoteAddr, "user_agent", s.UserAgent)
	if err := p.err(); err != nil {
		return err
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	if s.LastSeenAt.IsZero() {
		s.LastSeenAt = s.CreatedAt
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = us(s.CreatedAt), us(s.LastSeenAt), us(s.ExpiresAt)
	return nil
}

// SessionArgs are the arguments of InsertSession.
func SessionArgs(s *liftrescue.Session, t TimeArg) []any {
	return []any{s.TokenHash, s.UserID, s.CSRF, t(s.CreatedAt), t(s.LastSeenAt), t(s.ExpiresAt), s.RemoteAddr, s.UserAgent}
}

// SessionDest are the destinations of a row of SessionColumns; the time destinations receive the
// times as the store reads them.
func SessionDest(s *liftrescue.Session, created, lastSeen, expires any) []any {
	return []any{&s.TokenHash, &s.UserID, &s.CSRF, created, lastSeen, expires, &s.RemoteAddr, &s.UserAgent}
}

// NoSession is the ENOTFOUND of a session token that is unknown, or has expired or ended.
func NoSession() error {
	return liftrescue.Errorf(liftrescue.ENOTFOUND, "no session has this token, or it has ended")
}

// NewAPIKey checks k for CreateAPIKey and settles what is written: its times in UTC to the
// microsecond, created at now. k is changed only once the write has succeeded, through the key
// returned.
func NewAPIKey(k *liftrescue.APIKey, now time.Time) (*liftrescue.APIKey, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	var p problems
	p.text("", "prefix", k.Prefix, "key", k.Hash, "created_by", k.CreatedBy)
	if err := p.err(); err != nil {
		return nil, err
	}
	w := *k
	w.Scopes = slices.Clone(k.Scopes)
	w.CreatedAt, w.LastUsedAt, w.RevokedAt = us(now), usp(k.LastUsedAt), usp(k.RevokedAt)
	return &w, nil
}

// APIKeyArgs are the arguments of InsertAPIKey.
func APIKeyArgs(k *liftrescue.APIKey, t TimeArg) []any {
	scopes, _ := json.Marshal(k.Scopes) // a slice of strings always marshals
	return []any{k.Name, string(scopes), k.District, k.Prefix, k.Hash, k.CreatedBy, t(k.CreatedAt), nullTime(k.LastUsedAt, t),
		nullTime(k.RevokedAt, t)}
}

// APIKeyDest are the destinations of a row of APIKeyColumns; scopes receives the JSON text, for
// DecodeScopes, and the time destinations the times as the store reads them.
func APIKeyDest(k *liftrescue.APIKey, scopes *string, created, lastUsed, revoked any) []any {
	return []any{&k.ID, &k.Name, scopes, &k.District, &k.Prefix, &k.Hash, &k.CreatedBy, created, lastUsed, revoked}
}

// DecodeScopes reads the scopes column into k.
func DecodeScopes(k *liftrescue.APIKey, scopes string) error {
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return fmt.Errorf("API key %d: scopes: %w", k.ID, err)
	}
	return nil
}

// TouchAPIKeyArgs are the arguments of TouchAPIKey for each key used, in ascending id order, so
// that two instances touching the same keys lock their rows in the same order and never deadlock.
func TouchAPIKeyArgs(used map[int64]time.Time, t TimeArg) [][]any {
	ids := make([]int64, 0, len(used))
	for id := range used {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([][]any, len(ids))
	for i, id := range ids {
		at := t(us(used[id]))
		out[i] = []any{at, at, id}
	}
	return out
}

// NoAPIKey is the ENOTFOUND of an API key id.
func NoAPIKey(id int64) error {
	return liftrescue.Errorf(liftrescue.ENOTFOUND, "no API key has the id %d", id)
}

// NoAPIKeyHash is the ENOTFOUND of a key whose hash is unknown.
func NoAPIKeyHash() error {
	return liftrescue.Errorf(liftrescue.ENOTFOUND, "no API key has this hash")
}

// AppendAudit settles the entries as they are stored, on copies, and has write store those in one
// transaction, setting their IDs. Once write has succeeded it gives the caller what was stored, so
// that entries refused keep no ID. Their times are in UTC to the microsecond, at now when they
// have none. An entry records what a client sent, which may be any bytes; rather than lose the
// entry (PostgreSQL refuses a NUL character and bytes that are not UTF-8) such text is kept with
// U+FFFD in their place, alike in both stores.
func AppendAudit(entries []liftrescue.AuditEntry, now time.Time, write func(w []liftrescue.AuditEntry) error) error {
	if len(entries) == 0 {
		return nil
	}
	w := slices.Clone(entries)
	for i := range w {
		e := &w[i]
		if e.At = us(e.At); e.At.IsZero() {
			e.At = us(now)
		}
		for _, s := range []*string{&e.ActorName, &e.Action, &e.Target, &e.Detail, &e.RequestID, &e.Remote} {
			*s = Storable(*s)
		}
		e.ActorKind = liftrescue.PrincipalKind(Storable(string(e.ActorKind)))
	}
	if err := write(w); err != nil {
		return err
	}
	copy(entries, w)
	return nil
}

// OneChanged is the outcome of a write of one row that changed n rows: its error err, else
// notFound when it changed none.
func OneChanged(n int64, err, notFound error) error {
	if err == nil && n == 0 {
		return notFound
	}
	return err
}

// Storable is s as both databases keep it: a NUL character and bytes that are not UTF-8 become
// U+FFFD.
func Storable(s string) string {
	if IsStorable(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// IsStorable reports whether both databases keep s as it is. A lookup by text that is not finds
// nothing without asking: PostgreSQL would refuse the query, SQLite would find no row.
func IsStorable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// AuditArgs are the arguments of InsertAudit.
func AuditArgs(e *liftrescue.AuditEntry, t TimeArg) []any {
	return []any{t(e.At), string(e.ActorKind), e.ActorID, e.ActorName, e.Action, e.Target, e.Status, e.Detail, e.RequestID, e.Remote}
}

// AuditDest are the destinations of a row of AuditColumns; at receives the time as the store reads
// it.
func AuditDest(e *liftrescue.AuditEntry, at any) []any {
	return []any{&e.ID, at, &e.ActorKind, &e.ActorID, &e.ActorName, &e.Action, &e.Target, &e.Status, &e.Detail, &e.RequestID, &e.Remote}
}

// Audit gives the conditions of f over the audit_log table, and its paging, for a list newest
// first.
func Audit(f liftrescue.AuditFilter, t TimeArg) (Where, liftrescue.Paging) {
	var w Where
	if f.ActorName != "" {
		w.Add("actor_name = ?", Storable(f.ActorName))
	}
	if !f.Since.IsZero() {
		w.Add("at >= ?", t(us(f.Since)))
	}
	if !f.Until.IsZero() {
		w.Add("at < ?", t(us(f.Until)))
	}
	return w, liftrescue.Paging{Limit: f.Limit, Cursor: f.Cursor}
}
