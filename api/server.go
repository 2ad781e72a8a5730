// Package api is the REST API of liftrescue on echo: routes, JSON, limits, the OpenAPI document
// and the map of error codes to HTTP statuses. Handlers are thin: they read the request, call the
// root package's services and write the answer.
//
// It imports the root package and csvimport; echo is used nowhere else.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/auth"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/liftrescue/liftrescue/gps"
	"github.com/liftrescue/liftrescue/iot"
	"github.com/liftrescue/liftrescue/planning"
)

// Config is what the API needs.
type Config struct {
	Store  liftrescue.Store
	Logger *slog.Logger
	// Version is reported by /api/v1/version and the OpenAPI document.
	Version string
	// UI serves the single-page app at /; nil serves nothing there.
	UI http.Handler
	// Location is the centre's time zone, for local times in imported files.
	Location *time.Location
	// BaseMap is the UI map's base tiles; nil: none.
	BaseMap *BaseMap

	// The live routes (vehicles where they are now, positions, the stream) need Index, Ingest
	// and Stream.
	Index  *geo.Index
	Ingest *gps.Pipeline
	Stream EventStream
	// Liveness decides when a vehicle is stale or offline.
	Liveness liftrescue.Liveness
	// IngestKey, when set, lets a gateway post fixes of any device with Authorization: Bearer KEY.
	IngestKey string
	// ServerStats, when set, adds the protocol servers' counters to GET /api/v1/ingest.
	ServerStats func() map[string]any
	// Dispatch runs incidents; without it the incident routes answer 503.
	Dispatch Dispatcher
	// Terminals takes the IoT alarms on their way to Dispatch and keeps the terminals and the
	// fault records; without it alarms go to Dispatch directly and the terminal routes answer 503.
	Terminals *iot.Monitor
	// Planner checks, publishes and evaluates rescue grid plans; without it those routes answer 503.
	Planner *planning.Planner
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	// Auth checks credentials: sessions of people, API keys. Every route but the public ones
	// needs one.
	Auth *auth.Service
	// Limits are the request rates per caller; zero fields take the defaults.
	Limits Limits
	// SecureCookies marks the session cookie Secure even on plain HTTP (TLS ends at a proxy that
	// does not say so).
	SecureCookies bool
	// BehindProxy trusts X-Forwarded-For and X-Forwarded-Proto from private and loopback
	// addresses: the client's address is then the proxy's word. Off, it is the connection's.
	BehindProxy bool
}

// EventStream serves the live event stream on one request: it returns an error, before writing
// anything, for a request it cannot serve, and nil once the stream has ended. A stream scoped to
// a district carries that district's incidents and no other's ("" is city-wide).
type EventStream interface {
	ServeScoped(w http.ResponseWriter, r *http.Request, district string) error
}

// Server is the HTTP API.
type Server struct {
	store  liftrescue.Store
	logger *slog.Logger
	cfg    Config
	echo   *echo.Echo
	routes []route
	// patterns match the paths of routes, index for index.
	patterns []*regexp.Regexp
	limits   *limiters
}

// Default body limits: registry records are small; CSV registries of a city are not.
const (
	jsonBodyLimit   = 1 << 20  // 1 MiB
	importBodyLimit = 64 << 20 // 64 MiB, about 300,000 elevator rows
)

// New builds the server and its routes.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Liveness.Validate(); err != nil {
		cfg.Liveness = liftrescue.Liveness{}
		cfg.Liveness.Validate()
		cfg.Logger.Warn("vehicle liveness thresholds refused; the defaults apply", "err", err)
	}
	if cfg.Auth == nil {
		panic("api.New: Config.Auth is required")
	}
	s := &Server{store: cfg.Store, logger: cfg.Logger, cfg: cfg}
	s.limits = newLimiters(cfg.Limits, time.Now) // rates are of the wall clock, whatever the business clock
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// Without a proxy in front, X-Forwarded-For is whatever a client wants it to be: it must not
	// choose the address that rate limits and the audit log go by.
	e.IPExtractor = echo.ExtractIPDirect()
	if cfg.BehindProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	}
	e.HTTPErrorHandler = s.errorHandler
	e.Use(requestID)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.logger.Error("panic", "path", redactPath(c.Request().URL.Path), "err", err, "stack", string(stack))
			return liftrescue.Errorf(liftrescue.EINTERNAL, "internal error")
		},
	}))
	e.Use(s.accessLog, checkParams)
	s.routes = s.routeTable()
	for _, r := range s.routes {
		if r.perm == "" {
			panic("api.New: route " + r.method + " " + r.path + " says nothing of who may use it")
		}
		s.patterns = append(s.patterns, routePattern(r.path))
		e.Add(r.method, r.path, r.handler, s.bodyLimit(r), s.authorize(r))
		if r.method == http.MethodGet {
			// Load balancers and monitors probe with HEAD; net/http drops the body.
			e.Add(http.MethodHead, r.path, r.handler, s.bodyLimit(r), s.authorize(r))
		}
	}
	// An unknown API path is a JSON 404 (or 405 for a known path) whatever the method, never the
	// UI's page.
	e.Any("/api/*", s.noRoute)
	if cfg.UI != nil {
		ui := echo.WrapHandler(cfg.UI)
		e.GET("/", ui)
		e.GET("/*", ui)
		e.HEAD("/*", ui)
	}
	s.echo = e
	return s
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		status := c.Response().Status
		if err != nil {
			s.errorHandler(err, c)
			status = c.Response().Status
		}
		if !strings.HasPrefix(c.Request().URL.Path, "/healthz") {
			logRequest(s.logger, c, status, err)
		}
		return nil
	}
}

// bodyLimit refuses bodies larger than the route takes: at once when Content-Length says so, else
// when reading passes the limit.
func (s *Server) bodyLimit(r route) echo.MiddlewareFunc {
	limit := r.bodyLimit
	if limit == 0 {
		limit = jsonBodyLimit
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if req.ContentLength > limit {
				return liftrescue.Errorf(liftrescue.ETOOLARGE, "the request body is larger than %d bytes", limit)
			}
			req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
			return next(c)
		}
	}
}

// noRoute answers a request no route took: 405 with Allow when the path is known, else 404.
func (s *Server) noRoute(c echo.Context) error {
	path := c.Request().URL.Path
	var allow []string
	for i, r := range s.routes {
		if s.patterns[i].MatchString(path) {
			allow = append(allow, r.method)
		}
	}
	if len(allow) == 0 {
		return liftrescue.Errorf(liftrescue.ENOTFOUND, "no such route: %s %s", c.Request().Method, shorten(path))
	}
	c.Response().Header().Set(echo.HeaderAllow, strings.Join(allow, ", "))
	return liftrescue.Errorf(codeMethodNotAllowed, "%s is not allowed here; use %s", c.Request().Method, strings.Join(allow, ", "))
}

// routePattern matches the paths of an echo route pattern.
func routePattern(path string) *regexp.Regexp {
	return regexp.MustCompile("^" + pathParam.ReplaceAllString(regexp.QuoteMeta(path), "[^/]+") + "$")
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when the database answers and its schema is current and the service has
// loaded what it acts on, so that a load balancer sends no call to an instance that cannot look an
// elevator up or act on an alarm.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ready(ctx); err != nil {
		return err
	}
	if s.cfg.Terminals != nil && !s.cfg.Terminals.Started() { // started after dispatch: both are up
		return liftrescue.Errorf(liftrescue.EUNAVAILABLE, "starting: incidents and terminals are being loaded")
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// VersionInfo is the answer of /api/v1/version: what the UI needs to know of the server.
type VersionInfo struct {
	Version string `json:"version"`
	// TimeZone is the centre's zone, in which the UI shows every time.
	TimeZone string `json:"time_zone"`
	// BaseMap is the tiles under the map, null when the centre has none.
	BaseMap *BaseMap `json:"base_map"`
}

// BaseMap is a tile server for the UI's map: an XYZ URL ({z}/{x}/{y}, WGS-84) and the credit its
// licence asks for.
type BaseMap struct {
	URL         string `json:"url"`
	Attribution string `json:"attribution"`
}

func (s *Server) version(c echo.Context) error {
	tz := "Asia/Shanghai"
	if s.cfg.Location != nil {
		tz = s.cfg.Location.String()
	}
	return c.JSON(http.StatusOK, VersionInfo{Version: s.cfg.Version, TimeZone: tz, BaseMap: s.cfg.BaseMap})
}

// Routes lists the routes the server answers, as "METHOD /path/{param}". HEAD, which every GET
// route answers too, and the catch-alls of the UI and of unknown API paths are left out.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.echo.Routes() {
		if r.Path == "/" || r.Path == "/*" || r.Path == "/api/*" || r.Method == http.MethodHead {
			continue
		}
		out = append(out, r.Method+" "+pathParam.ReplaceAllString(r.Path, "{$1}"))
	}
	return out
}
