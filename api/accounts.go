package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/liftrescue/liftrescue"
)

// signInBody is what the console's sign-in form sends.
type signInBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// SessionInfo is who is signed in: the answer of sign-in and of GET /api/v1/session. The console
// keeps CSRFToken in memory and sends it back in X-CSRF-Token with every write.
type SessionInfo struct {
	Principal *liftrescue.Principal `json:"principal"`
	CSRFToken string                `json:"csrf_token,omitempty"`
	ExpiresAt *time.Time            `json:"expires_at,omitempty"`
}

func (s *Server) signIn(c echo.Context) error {
	if err := s.limits.signIn(c); err != nil {
		return err
	}
	var body signInBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	req := c.Request()
	in, err := s.cfg.Auth.SignIn(req.Context(), body.Username, body.Password, c.RealIP(), req.UserAgent())
	r := route{method: http.MethodPost, path: "/api/v1/session"}
	if err != nil {
		if liftrescue.ErrorCode(err) == liftrescue.EUNAUTHORIZED || liftrescue.ErrorCode(err) == liftrescue.EFORBIDDEN {
			s.errorHandler(err, c)
			s.audit(c, r, nil, c.Response().Status, "sign-in refused for "+shorten(body.Username)+": "+liftrescue.ErrorMessage(err))
			return nil
		}
		return err
	}
	s.audit(c, r, in.Principal, http.StatusOK, "signed in")
	http.SetCookie(c.Response(), s.cookie(c, in.Token, int(liftrescue.MaxSessionAge/time.Second)))
	return c.JSON(http.StatusOK, SessionInfo{Principal: in.Principal, CSRFToken: in.Session.CSRF, ExpiresAt: &in.Session.ExpiresAt})
}

// cookie is the session cookie: HttpOnly so that no script reads it, SameSite=Strict so that no
// other site sends it, Secure when the request came over TLS (here or at the proxy).
func (s *Server) cookie(c echo.Context, token string, maxAge int) *http.Cookie {
	req := c.Request()
	secure := s.cfg.SecureCookies || req.TLS != nil || (s.cfg.BehindProxy && req.Header.Get("X-Forwarded-Proto") == "https")
	return &http.Cookie{Name: sessionCookie, Value: token, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteStrictMode}
}

func (s *Server) session(c echo.Context) error {
	info := SessionInfo{Principal: principalOf(c)}
	if sess, ok := c.Get(sessionKey).(*liftrescue.Session); ok {
		info.CSRFToken, info.ExpiresAt = sess.CSRF, &sess.ExpiresAt
	}
	return c.JSON(http.StatusOK, info)
}

func (s *Server) signOut(c echo.Context) error {
	cookie, err := c.Request().Cookie(sessionCookie)
	if err != nil {
		return liftrescue.Errorf(liftrescue.EBADREQUEST, "an API key has no session to end: revoke it instead")
	}
	if err := s.cfg.Auth.SignOut(c.Request().Context(), cookie.Value); err != nil {
		return err
	}
	http.SetCookie(c.Response(), s.cookie(c, "", -1))
	return c.NoContent(http.StatusNoContent)
}

// passwordBody changes one's own password.
type passwordBody struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (s *Server) changePassword(c echo.Context) error {
	p := principalOf(c)
	if p.Kind != liftrescue.PrincipalUser {
		return liftrescue.Errorf(liftrescue.EFORBIDDEN, "an API key has no password")
	}
	var body passwordBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	keep := ""
	if cookie, err := c.Request().Cookie(sessionCookie); err == nil {
		keep = cookie.Value
	}
	if err := s.cfg.Auth.ChangePassword(c.Request().Context(), p.ID, body.CurrentPassword, body.NewPassword, keep); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// userBody creates or changes a user; Password is required to create, optional to change.
type userBody struct {
	Username string          `json:"username"`
	Name     string          `json:"name"`
	Role     liftrescue.Role `json:"role"`
	District string          `json:"district"`
	Disabled bool            `json:"disabled"`
	Password string          `json:"password"`
}

func (s *Server) listUsers(c echo.Context) error {
	users, err := s.store.ListUsers(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, liftrescue.Page[*liftrescue.User]{Items: users, Total: len(users)})
}

func (s *Server) getUser(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return respond(c)(s.store.FindUser(c.Request().Context(), id))
}

func (s *Server) createUser(c echo.Context) error {
	var body userBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	u := &liftrescue.User{Username: body.Username, Name: body.Name, Role: body.Role, District: body.District, Disabled: body.Disabled}
	if err := s.cfg.Auth.CreateUser(c.Request().Context(), u, body.Password); err != nil {
		return err
	}
	auditDetail(c, "user %s made %s", u.Username, u.Role)
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/users/"+strconv.FormatInt(u.ID, 10))
	return c.JSON(http.StatusCreated, u)
}

func (s *Server) updateUser(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var body userBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if p := principalOf(c); p.Kind == liftrescue.PrincipalUser && p.ID == id && (body.Disabled || body.Role != liftrescue.RoleAdmin) {
		// An admin cannot lock everyone out by removing their own rights by mistake.
		return liftrescue.Errorf(liftrescue.ECONFLICT, "you cannot disable yourself or give up your own admin role; ask another admin")
	}
	u := &liftrescue.User{ID: id, Name: body.Name, Role: body.Role, District: body.District, Disabled: body.Disabled}
	if err := s.cfg.Auth.UpdateUser(c.Request().Context(), u, body.Password); err != nil {
		return err
	}
	auditDetail(c, "user %s: role %s, district %q, disabled %t, new password %t", u.Username, u.Role, u.District, u.Disabled, body.Password != "")
	return respond(c)(s.store.FindUser(c.Request().Context(), id))
}

// keyBody makes an API key.
type keyBody struct {
	Name     string                  `json:"name"`
	Scopes   []liftrescue.Permission `json:"scopes"`
	District string                  `json:"district"`
}

// NewKey is the answer when a key is made: the key itself, shown this once.
type NewKey struct {
	Key    string             `json:"key"`
	APIKey *liftrescue.APIKey `json:"api_key"`
}

func (s *Server) listKeys(c echo.Context) error {
	keys, err := s.store.ListAPIKeys(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, liftrescue.Page[*liftrescue.APIKey]{Items: keys, Total: len(keys)})
}

func (s *Server) createKey(c echo.Context) error {
	var body keyBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	k := &liftrescue.APIKey{Name: body.Name, Scopes: body.Scopes, District: body.District, CreatedBy: principalOf(c).Name}
	secret, err := s.cfg.Auth.NewAPIKey(c.Request().Context(), k)
	if err != nil {
		return err
	}
	auditDetail(c, "key %s (%s) made with %v", k.Name, k.Prefix, k.Scopes)
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/keys/"+strconv.FormatInt(k.ID, 10))
	return c.JSON(http.StatusCreated, NewKey{Key: secret, APIKey: k})
}

func (s *Server) revokeKey(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.cfg.Auth.RevokeAPIKey(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listAudit(c echo.Context) error {
	p, err := paging(c)
	if err != nil {
		return err
	}
	f := liftrescue.AuditFilter{ActorName: c.QueryParam("actor"), Limit: p.Limit, Cursor: p.Cursor}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := c.QueryParam(t.name); v != "" {
			if *t.dst, err = time.Parse(time.RFC3339, v); err != nil {
				return liftrescue.Invalid(t.name, "must be an RFC 3339 time, like 2026-11-21T08:00:00+08:00")
			}
		}
	}
	return respond(c)(s.store.ListAudit(c.Request().Context(), f))
}

// PublicElevator is what anyone may learn of an elevator from its rescue code: where it is and who
// looks after it, without anybody's phone number.
type PublicElevator struct {
	RescueCode      string `json:"rescue_code"`
	Address         string `json:"address"`
	Building        string `json:"building,omitempty"`
	District        string `json:"district"`
	DistrictName    string `json:"district_name,omitempty"`
	UserUnit        string `json:"user_unit"`
	MaintenanceUnit string `json:"maintenance_unit"`
}

func (s *Server) publicElevator(c echo.Context) error {
	ctx := c.Request().Context()
	code := c.Param("code")
	if !liftrescue.IsRescueCode(code) && !liftrescue.IsEquipmentCode(code) {
		return liftrescue.Invalid("code", "is neither a rescue code nor a 20-digit equipment code")
	}
	e, err := s.store.FindElevatorByCode(ctx, code)
	if err != nil {
		return err
	}
	out := PublicElevator{RescueCode: e.RescueCode, Address: e.Address, Building: e.Building, District: e.District}
	if d, err := s.store.FindDistrict(ctx, e.District); err == nil {
		out.DistrictName = d.Name
	}
	if o, err := s.store.FindOrganization(ctx, e.UserUnitID); err == nil {
		out.UserUnit = o.Name
	}
	if o, err := s.store.FindOrganization(ctx, e.MaintenanceUnitID); err == nil {
		out.MaintenanceUnit = o.Name
	}
	return c.JSON(http.StatusOK, out)
}

// checkDistrict refuses what lies outside the principal's district.
func checkDistrict(c echo.Context, what, district string) error {
	if p := principalOf(c); p != nil && !p.Covers(district) {
		return liftrescue.OutsideDistrict(what, district, p)
	}
	return nil
}

// scopeDistrict holds a list's district filter to the principal's district: an empty filter
// becomes theirs, another district is refused.
func scopeDistrict(c echo.Context, filter *string) error {
	p := principalOf(c)
	if p == nil || p.District == "" {
		return nil
	}
	if *filter != "" && *filter != p.District {
		return liftrescue.OutsideDistrict("list", *filter, p)
	}
	*filter = p.District
	return nil
}
