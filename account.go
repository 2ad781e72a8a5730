package liftrescue

import (
	"context"
	"slices"
	"time"
)

// Role is what a person signed in to the console may do.
type Role string

const (
	RoleAdmin      Role = "admin"      // accounts, keys and the registry; everything else too
	RoleDispatcher Role = "dispatcher" // opens incidents and moves them on
	RolePlanner    Role = "planner"    // draws the rescue grids
	RoleSupervisor Role = "supervisor" // reads everything, the audit log and the statistics; changes nothing
)

// Roles lists the roles, in the order the console offers them.
var Roles = []Role{RoleAdmin, RoleDispatcher, RolePlanner, RoleSupervisor}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Permission is one thing a credential may do. Every route of the API requires one (or is public),
// people get theirs from their role, and API keys carry theirs as scopes.
type Permission string

const (
	PermRead         Permission = "read"           // the registry, live vehicles, incidents, the stream
	PermOpenIncident Permission = "incidents:open" // open an incident (the hotline's key has only this and read)
	PermDispatch     Permission = "incidents:act"  // move incidents on: dispatch, escalate, close, …
	PermRegistry     Permission = "registry:write" // elevators, organisations, teams, vehicles, districts, imports
	PermGrids        Permission = "grids:write"    // rescue grids and their plans
	PermAlarms       Permission = "alarms:post"    // an IoT platform's alarms and status reports
	PermPositions    Permission = "positions:post" // a gateway's fixes of any tracker
	PermAudit        Permission = "audit:read"     // who did what, when
	PermAccounts     Permission = "accounts:admin" // users and API keys
)

// Permissions lists every permission.
var Permissions = []Permission{PermRead, PermOpenIncident, PermDispatch, PermRegistry, PermGrids, PermAlarms,
	PermPositions, PermAudit, PermAccounts}

// Valid reports whether p is one of Permissions.
func (p Permission) Valid() bool { return slices.Contains(Permissions, p) }

var rolePermissions = map[Role][]Permission{
	RoleAdmin:      Permissions,
	RoleDispatcher: {PermRead, PermOpenIncident, PermDispatch},
	RolePlanner:    {PermRead, PermGrids},
	RoleSupervisor: {PermRead, PermAudit},
}

// Permissions returns what the role may do.
func (r Role) Permissions() []Permission { return rolePermissions[r] }

// User is a person who signs in to the console. A user with a District is a district's dispatcher
// (or planner, …): they see and act on that district's elevators and incidents only; without one
// they work city-wide. Users are disabled, never deleted, so that the audit log keeps its names.
type User struct {
	ID       int64  `json:"id"`
	Username string `json:"username"` // what they sign in with: a-z, 0-9, ".", "_", "-"
	Name     string `json:"name"`     // what the console and the timeline show
	Role     Role   `json:"role"`
	District string `json:"district,omitempty"`
	Disabled bool   `json:"disabled"`
	// PasswordHash is the PHC string of the password (argon2id); never shown.
	PasswordHash string `json:"-"`
	// FailedSignIns counts the wrong passwords since the last good one; enough of them lock the
	// account until LockedUntil.
	FailedSignIns int        `json:"failed_sign_ins"`
	LockedUntil   *time.Time `json:"locked_until,omitempty"`
	LastSignInAt  *time.Time `json:"last_sign_in_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// Validate returns EINVALID with a Detail per problem.
func (u *User) Validate() error {
	var p problems
	if !validUsername(u.Username) {
		p.add("username", "must be 2 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit")
	}
	checkText(&p, "name", u.Name, false, 64)
	if !u.Role.Valid() {
		p.add("role", "must be one of admin, dispatcher, planner, supervisor")
	}
	if u.District != "" {
		checkDistrict(&p, u.District)
	}
	if u.PasswordHash == "" {
		p.add("password", "is required")
	}
	return p.err("user")
}

func validUsername(s string) bool {
	if len(s) < 2 || len(s) > 64 || s[0] == '.' || s[0] == '_' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// APIKey is the credential of an external system: the city hotline opening incidents, an IoT
// platform posting alarms, a tracker gateway posting fixes. It carries its own scopes and, like a
// user, may be held to a district. The key itself is shown once, when it is made; only its SHA-256
// is kept (the key is random and long, so a slow hash would add nothing).
type APIKey struct {
	ID       int64        `json:"id"`
	Name     string       `json:"name"`
	Scopes   []Permission `json:"scopes"`
	District string       `json:"district,omitempty"`
	// Prefix is the key's first characters, so that an admin can tell keys apart in a list.
	Prefix     string     `json:"prefix"`
	Hash       string     `json:"-"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Validate returns EINVALID with a Detail per problem.
func (k *APIKey) Validate() error {
	var p problems
	checkText(&p, "name", k.Name, true, 64)
	if len(k.Scopes) == 0 {
		p.add("scopes", "name at least one of %s", permissionList())
	}
	for _, s := range k.Scopes {
		if !s.Valid() {
			p.add("scopes", "%q is not one of %s", s, permissionList())
			break
		}
	}
	if k.District != "" {
		checkDistrict(&p, k.District)
	}
	if k.Hash == "" || k.Prefix == "" {
		p.add("key", "has no hash")
	}
	return p.err("API key")
}

func permissionList() string {
	s := ""
	for i, p := range Permissions {
		if i > 0 {
			s += ", "
		}
		s += string(p)
	}
	return s
}

// Session is a person signed in to the console, known by the SHA-256 of the cookie's token. CSRF
// is the token the console sends back with every write, which a page on another site cannot read.
type Session struct {
	TokenHash  string
	UserID     int64
	CSRF       string
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt moves on with use up to MaxSessionAge after CreatedAt.
	ExpiresAt  time.Time
	RemoteAddr string
	UserAgent  string
}

// A session lasts as long as it is used, up to a long shift: an idle console signs out after
// SessionIdle, a busy one after MaxSessionAge.
const (
	SessionIdle   = 12 * time.Hour
	MaxSessionAge = 24 * time.Hour
)

// PrincipalKind says what kind of credential made a request.
type PrincipalKind string

const (
	PrincipalUser   PrincipalKind = "user"
	PrincipalAPIKey PrincipalKind = "api_key"
)

// Principal is who makes a request, as the API knows them after checking the credential.
type Principal struct {
	Kind PrincipalKind `json:"kind"`
	ID   int64         `json:"id"`
	Name string        `json:"name"` // the username, or the key's name
	// Display is what a timeline shows: the user's full name, or the key's name.
	Display     string       `json:"display"`
	Role        Role         `json:"role,omitempty"`
	Permissions []Permission `json:"permissions"`
	District    string       `json:"district,omitempty"`
}

// Can reports whether the principal holds the permission.
func (p *Principal) Can(perm Permission) bool {
	return p != nil && slices.Contains(p.Permissions, perm)
}

// Covers reports whether the principal may see and act on what lies in the district: always for
// city-level principals, else only in their own district.
func (p *Principal) Covers(district string) bool {
	return p != nil && (p.District == "" || p.District == district)
}

// Actor is how the principal appears in an incident's timeline.
func (p *Principal) Actor() Actor {
	if p.Kind == PrincipalAPIKey {
		return Actor{Kind: ActorCaller, Name: p.Name}
	}
	return Actor{Kind: ActorDispatcher, Name: p.Name}
}

// OutsideDistrict is the EFORBIDDEN error for something in a district the principal does not cover.
func OutsideDistrict(what, district string, p *Principal) *Error {
	e := Errorf(EFORBIDDEN, "this %s is in district %s; your account covers district %s only", what, district, p.District)
	e.Extra = map[string]any{"district": district}
	return e
}

// AuditEntry is one line of the audit log: a write through the API (whether it worked or not), a
// sign-in, a sign-in refused. Entries are never changed or removed.
type AuditEntry struct {
	ID        int64         `json:"id"`
	At        time.Time     `json:"at"`
	ActorKind PrincipalKind `json:"actor_kind,omitempty"` // empty when nobody was signed in
	ActorID   int64         `json:"actor_id,omitempty"`
	ActorName string        `json:"actor_name"`
	// Action is the route, "POST /api/v1/incidents/{id}/actions", or an event: "sign_in".
	Action string `json:"action"`
	// Target is what was acted on: the request's path with its query, or the username.
	Target    string `json:"target"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"` // the action posted, why a sign-in failed, …
	RequestID string `json:"request_id,omitempty"`
	Remote    string `json:"remote,omitempty"` // the client's address
}

// AuditFilter selects audit entries; the zero value is every entry, newest first.
type AuditFilter struct {
	ActorName string    // only this user's or key's entries
	Since     time.Time // entries at or after Since, when not zero
	Until     time.Time // entries before Until, when not zero
	Limit     int       // 1 to MaxPageSize; 0 means DefaultPageSize
	Cursor    string
}

// AccountService keeps users, their sessions, API keys and the audit log.
type AccountService interface {
	// CreateUser stores u (its PasswordHash set) and sets ID and times. Returns EINVALID, and
	// ECONFLICT when the username is taken.
	CreateUser(ctx context.Context, u *User) error
	// UpdateUser replaces the user's name, role, district, disabled flag and password hash.
	// Returns ENOTFOUND and EINVALID. The username never changes.
	UpdateUser(ctx context.Context, u *User) error
	// FindUser and FindUserByName return ENOTFOUND.
	FindUser(ctx context.Context, id int64) (*User, error)
	FindUserByName(ctx context.Context, username string) (*User, error)
	// ListUsers returns every user ordered by username.
	ListUsers(ctx context.Context) ([]*User, error)
	// RecordSignIn keeps the outcome of a sign-in: the count of failures since the last good one,
	// the lock, and the time of the last good one (when ok). Returns ENOTFOUND.
	RecordSignIn(ctx context.Context, userID int64, failed int, lockedUntil *time.Time, signedInAt *time.Time) error

	// CreateSession stores s. DeleteSessions ends every session of the user (disabled, or a new
	// password) but the one with the token hash except ("" for none), and returns how many ended.
	CreateSession(ctx context.Context, s *Session) error
	// FindSession returns the session with the token hash and its user; ENOTFOUND when there is
	// none or it has expired at now.
	FindSession(ctx context.Context, tokenHash string, now time.Time) (*Session, *User, error)
	// TouchSession moves a session's last use and expiry on. ENOTFOUND when it has gone.
	TouchSession(ctx context.Context, tokenHash string, seen, expires time.Time) error
	DeleteSession(ctx context.Context, tokenHash string) error
	DeleteSessions(ctx context.Context, userID int64, except string) (int64, error)
	// DeleteExpiredSessions removes the sessions expired before t, and says how many went.
	DeleteExpiredSessions(ctx context.Context, t time.Time) (int64, error)

	// CreateAPIKey stores k (its Hash and Prefix set) and sets ID and CreatedAt. Returns EINVALID.
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// FindAPIKey returns the key with the hash, revoked or not; ENOTFOUND.
	FindAPIKey(ctx context.Context, hash string) (*APIKey, error)
	// ListAPIKeys returns every key, revoked ones too, ordered by id.
	ListAPIKeys(ctx context.Context) ([]*APIKey, error)
	// RevokeAPIKey marks the key revoked at t (a second revoke keeps the first time). ENOTFOUND.
	RevokeAPIKey(ctx context.Context, id int64, t time.Time) error
	// TouchAPIKeys records when keys were last used, id → time, in one write.
	TouchAPIKeys(ctx context.Context, used map[int64]time.Time) error

	// AppendAudit stores the entries in one transaction and sets their IDs.
	AppendAudit(ctx context.Context, entries []AuditEntry) error
	// ListAudit returns a page of entries, newest first. Returns EINVALID for a bad cursor.
	ListAudit(ctx context.Context, f AuditFilter) (*Page[AuditEntry], error)
}
