package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/gps"
	"github.com/liftrescue/liftrescue/iot"
	"github.com/liftrescue/liftrescue/planning"
)

// route is one entry of the route table. The table registers the routes and writes the OpenAPI
// document, so the two cannot drift apart.
type route struct {
	method, path string // echo path: /api/v1/elevators/:code
	summary      string
	tag          string
	handler      echo.HandlerFunc
	// perm is who may use the route: a permission, permSignedIn, or permPublic. Every route says.
	perm liftrescue.Permission
	// unaudited writes leave no audit line: trackers' fixes, which come by the thousand a second
	// and are in the position history anyway.
	unaudited bool
	query     []param
	body      any    // the request body's Go type, nil for none
	bodyType  string // the request media type when not JSON
	bodyLimit int64
	status    int // the success status
	response  any // the success body's Go type, nil for none
}

// param is a documented query parameter.
type param struct {
	name, typ, description string
}

var pagingParams = []param{
	{"limit", "integer", "page size, 1 to 1000 (default 100)"},
	{"cursor", "string", "next_cursor of the previous page"},
}

var importParams = []param{
	{"partial", "boolean", "import the good rows and report the bad ones (default: one bad row imports nothing)"},
	{"dry_run", "boolean", "check everything and write nothing"},
	{"crs", "string", "coordinate system of lat/lon: wgs84 (default) or gcj02 (converted to WGS-84)"},
}

func (s *Server) routeTable() []route {
	elevatorQuery := append([]param{
		{"bbox", "string", "minLon,minLat,maxLon,maxLat (WGS-84)"},
		{"district", "string", "6-digit district code"},
		{"q", "string", "prefix of a rescue or equipment code, or part of the address or building"},
		{"user_unit_id", "integer", "elevators of this user unit"},
		{"maintenance_unit_id", "integer", "elevators of this maintenance company"},
	}, pagingParams...)
	orgQuery := append([]param{
		{"kind", "string", "user_unit, maintenance, volunteer, fire or regulator"},
		{"district", "string", "6-digit district code"},
		{"q", "string", "prefix of the code or part of the name"},
	}, pagingParams...)
	return []route{
		{method: http.MethodGet, path: "/healthz", summary: "The process is up", tag: "health", perm: permPublic, handler: s.healthz, status: 200, response: map[string]string{}},
		{method: http.MethodGet, path: "/readyz", summary: "The database answers and its schema is current", tag: "health", perm: permPublic, handler: s.readyz, status: 200, response: map[string]string{}},
		{method: http.MethodGet, path: "/api/openapi.json", summary: "This document", tag: "health", perm: permPublic, handler: s.openAPI, status: 200, response: map[string]any{}},
		{method: http.MethodGet, path: "/api/v1/version", summary: "The running version", tag: "health", perm: permPublic, handler: s.version, status: 200, response: VersionInfo{}},

		{method: http.MethodGet, path: "/api/v1/districts", summary: "List the districts with their outlines", tag: "districts", perm: liftrescue.PermRead, handler: s.listDistricts, status: 200, response: liftrescue.Page[*liftrescue.District]{}},
		{method: http.MethodGet, path: "/api/v1/districts/:code", summary: "Get a district", tag: "districts", perm: liftrescue.PermRead, handler: s.getDistrict, status: 200, response: liftrescue.District{}},
		{method: http.MethodPut, path: "/api/v1/districts/:code", summary: "Create or replace a district", tag: "districts", perm: liftrescue.PermRegistry, handler: s.putDistrict, body: liftrescue.District{}, bodyLimit: 8 << 20, status: 200, response: liftrescue.District{}},

		{method: http.MethodGet, path: "/api/v1/elevators", summary: "List elevators", tag: "elevators", perm: liftrescue.PermRead, handler: s.listElevators, query: elevatorQuery, status: 200, response: liftrescue.Page[*liftrescue.Elevator]{}},
		{method: http.MethodPost, path: "/api/v1/elevators", summary: "Register an elevator", tag: "elevators", perm: liftrescue.PermRegistry, handler: s.createElevator, body: liftrescue.Elevator{}, status: 201, response: liftrescue.Elevator{}},
		{method: http.MethodGet, path: "/api/v1/elevators/:code", summary: "Look an elevator up by rescue code or 20-digit equipment code, with its units", tag: "elevators", perm: liftrescue.PermRead, handler: s.getElevator, status: 200, response: ElevatorDetail{}},
		{method: http.MethodGet, path: "/api/v1/map/elevators", summary: "The elevators in a view of the map: each one (id, rescue code, position, status) when the box holds at most 3,000 (5,000 from zoom 16), else their counts by H3 cell at a resolution chosen from the zoom (cells about 36 px or more across; coarser past 6,000 cells), with the mean position of each cell's elevators; a district's account gets its district's only", tag: "elevators", perm: liftrescue.PermRead, handler: s.mapElevators, query: []param{{"bbox", "string", "minLon,minLat,maxLon,maxLat (WGS-84), required"}, {"zoom", "number", "the map's zoom level, 0 to 24, required; only its whole part counts"}}, status: 200, response: MapElevators{}},
		{method: http.MethodPut, path: "/api/v1/elevators/:code", summary: "Replace an elevator named by rescue or equipment code", tag: "elevators", perm: liftrescue.PermRegistry, handler: s.updateElevator, body: liftrescue.Elevator{}, status: 200, response: liftrescue.Elevator{}},
		{method: http.MethodDelete, path: "/api/v1/elevators/:code", summary: "Remove an elevator named by rescue or equipment code", tag: "elevators", perm: liftrescue.PermRegistry, handler: s.deleteElevator, status: 204},

		{method: http.MethodGet, path: "/api/v1/organizations", summary: "List organisations", tag: "organizations", perm: liftrescue.PermRead, handler: s.listOrganizations, query: orgQuery, status: 200, response: liftrescue.Page[*liftrescue.Organization]{}},
		{method: http.MethodPost, path: "/api/v1/organizations", summary: "Register an organisation", tag: "organizations", perm: liftrescue.PermRegistry, handler: s.createOrganization, body: liftrescue.Organization{}, status: 201, response: liftrescue.Organization{}},
		{method: http.MethodGet, path: "/api/v1/organizations/:id", summary: "Get an organisation", tag: "organizations", perm: liftrescue.PermRead, handler: s.getOrganization, status: 200, response: liftrescue.Organization{}},
		{method: http.MethodPut, path: "/api/v1/organizations/:id", summary: "Replace an organisation", tag: "organizations", perm: liftrescue.PermRegistry, handler: s.updateOrganization, body: liftrescue.Organization{}, status: 200, response: liftrescue.Organization{}},
		{method: http.MethodDelete, path: "/api/v1/organizations/:id", summary: "Remove an organisation nothing refers to", tag: "organizations", perm: liftrescue.PermRegistry, handler: s.deleteOrganization, status: 204},

		{method: http.MethodGet, path: "/api/v1/teams", summary: "List rescue teams", tag: "teams", perm: liftrescue.PermRead, handler: s.listTeams, query: append([]param{{"organization_id", "integer", "teams of this organisation"}}, pagingParams...), status: 200, response: liftrescue.Page[*liftrescue.Team]{}},
		{method: http.MethodPost, path: "/api/v1/teams", summary: "Register a rescue team", tag: "teams", perm: liftrescue.PermRegistry, handler: s.createTeam, body: liftrescue.Team{}, status: 201, response: liftrescue.Team{}},
		{method: http.MethodGet, path: "/api/v1/teams/:id", summary: "Get a rescue team", tag: "teams", perm: liftrescue.PermRead, handler: s.getTeam, status: 200, response: liftrescue.Team{}},
		{method: http.MethodPut, path: "/api/v1/teams/:id", summary: "Replace a rescue team", tag: "teams", perm: liftrescue.PermRegistry, handler: s.updateTeam, body: liftrescue.Team{}, status: 200, response: liftrescue.Team{}},
		{method: http.MethodDelete, path: "/api/v1/teams/:id", summary: "Remove a rescue team without vehicles", tag: "teams", perm: liftrescue.PermRegistry, handler: s.deleteTeam, status: 204},

		{method: http.MethodGet, path: "/api/v1/vehicles", summary: "Every rescue vehicle with where it is now (position, age, speed, live/stale/offline), in one answer", tag: "vehicles", perm: liftrescue.PermRead, handler: s.withLive(s.listLiveVehicles), query: []param{{"team_id", "integer", "vehicles of this team"}, {"organization_id", "integer", "vehicles of this organisation"}, {"status", "string", "live, stale, offline or no_fix, comma separated"}}, status: 200, response: liftrescue.Page[liftrescue.LiveVehicle]{}},
		{method: http.MethodPost, path: "/api/v1/vehicles", summary: "Register a rescue vehicle", tag: "vehicles", perm: liftrescue.PermRegistry, handler: s.createVehicle, body: liftrescue.Vehicle{}, status: 201, response: liftrescue.Vehicle{}},
		{method: http.MethodGet, path: "/api/v1/vehicles/:id", summary: "Get a rescue vehicle", tag: "vehicles", perm: liftrescue.PermRead, handler: s.getVehicle, status: 200, response: VehicleDetail{}},
		{method: http.MethodGet, path: "/api/v1/vehicles/:id/track", summary: "A vehicle's positions between from and to (RFC 3339; the last hour by default), oldest first", tag: "vehicles", perm: liftrescue.PermRead, handler: s.vehicleTrack, query: []param{{"from", "string", "RFC 3339 time (default: an hour before to)"}, {"to", "string", "RFC 3339 time (default: now)"}, {"limit", "integer", "at most this many positions"}}, status: 200, response: Track{}},

		{method: http.MethodPost, path: "/api/v1/positions", summary: "Fixes of trackers in the native JSON (up to 10,000); the device secret as each fix's token or Authorization: Bearer, or the ingest key", tag: "live", perm: permPublic, unaudited: true, handler: s.withLive(s.postPositions), body: positionsBody{}, bodyLimit: gps.MaxBatchBody, status: 200, response: positionsReply{}},
		{method: http.MethodGet, path: "/api/v1/ingest", summary: "Counters of the ingest: fixes accepted, rejected by reason, written to the history, waiting", tag: "live", perm: liftrescue.PermRead, handler: s.withLive(s.ingestStats), status: 200, response: IngestStats{}},
		{method: http.MethodGet, path: "/api/v1/stream", summary: "Live events (Server-Sent Events): vehicle moves at most once a second each; resumes from Last-Event-ID", tag: "live", perm: liftrescue.PermRead, handler: s.stream, query: []param{{"types", "string", "event kinds to receive, comma separated (default all)"}, {"last_event_id", "string", "resume after this event (the Last-Event-ID header does the same)"}}, bodyType: "", status: 200},
		{method: http.MethodPut, path: "/api/v1/vehicles/:id", summary: "Replace a rescue vehicle", tag: "vehicles", perm: liftrescue.PermRegistry, handler: s.updateVehicle, body: liftrescue.Vehicle{}, status: 200, response: liftrescue.Vehicle{}},
		{method: http.MethodDelete, path: "/api/v1/vehicles/:id", summary: "Remove a rescue vehicle", tag: "vehicles", perm: liftrescue.PermRegistry, handler: s.deleteVehicle, status: 204},

		{method: http.MethodPost, path: "/api/v1/incidents", summary: "Open an incident on the elevator a rescue code, equipment code or elevator id names, and notify its tier-1 units; 409 with incident_id when one is open there, 404 with near_matches for an unknown code", tag: "incidents", perm: liftrescue.PermOpenIncident, handler: s.withDispatch(s.openIncident), body: openIncidentBody{}, status: 201, response: liftrescue.Incident{}},
		{method: http.MethodGet, path: "/api/v1/incidents", summary: "List incidents, newest first", tag: "incidents", perm: liftrescue.PermRead, handler: s.listIncidents, query: append([]param{{"state", "string", "one state: notified, awaiting_dispatch, acknowledged, en_route, arrived, released, closed, cancelled"}, {"district", "string", "6-digit district code"}, {"open", "boolean", "only incidents not closed or cancelled"}, {"elevator_id", "integer", "incidents of this elevator"}}, pagingParams...), status: 200, response: liftrescue.Page[*liftrescue.Incident]{}},
		{method: http.MethodGet, path: "/api/v1/incidents/:id", summary: "An incident with its assignments, deadlines, timeline and notifications", tag: "incidents", perm: liftrescue.PermRead, handler: s.getIncident, status: 200, response: liftrescue.Incident{}},
		{method: http.MethodGet, path: "/api/v1/incidents/:id/candidates", summary: "Tier-2 volunteer units ranked by ETA, and the nearby ones left out with why", tag: "incidents", perm: liftrescue.PermRead, handler: s.withDispatch(s.incidentCandidates), status: 200, response: liftrescue.Candidates{}},
		{method: http.MethodPost, path: "/api/v1/incidents/:id/actions", summary: "A dispatcher's action: escalate, dispatch, accept, decline, en_route, arrived, released, callback_done, close, cancel, note; 409 with the allowed ones when out of order", tag: "incidents", perm: liftrescue.PermDispatch, handler: s.withDispatch(s.incidentAction), body: liftrescue.Input{}, status: 200, response: liftrescue.Incident{}},
		{method: http.MethodGet, path: "/api/v1/dispatch/policy", summary: "The escalation policy in force", tag: "incidents", perm: liftrescue.PermRead, handler: s.withDispatch(s.dispatchPolicy), status: 200, response: liftrescue.Policy{}},
		{method: http.MethodPost, path: "/api/v1/alarms", summary: "IoT alarms and status reports (up to 10,000): a trapped passenger opens an incident and starts tier 1, repeats within a minute are counted on it, unknown elevators are quarantined", tag: "alarms", perm: liftrescue.PermAlarms, handler: s.withDispatch(s.postAlarms), body: alarmsBody{}, bodyLimit: iot.MaxBatchBody, status: 200, response: alarmsReply{}},
		{method: http.MethodGet, path: "/api/v1/alarms/quarantine", summary: "Reports of unknown elevators or terminals, kept for the admin to register what is missing", tag: "alarms", perm: liftrescue.PermRead, handler: s.withDispatch(s.alarmQuarantine), status: 200, response: liftrescue.Page[liftrescue.QuarantinedAlarm]{}},
		{method: http.MethodGet, path: "/api/v1/terminals", summary: "The IoT terminals registered on elevators, with their status now (online, offline, never heard from), last report and latest running state; a district's account gets its district's", tag: "alarms", perm: liftrescue.PermRead, handler: s.withTerminals(s.listTerminals), query: []param{{"elevator_id", "integer", "terminals of this elevator"}, {"district", "string", "6-digit district code"}, {"status", "string", "online, offline or never"}, {"limit", "integer", "page size, 1 to 1000 (default 100)"}, {"cursor", "string", "next_cursor of the previous page"}}, status: 200, response: liftrescue.Page[liftrescue.TerminalState]{}},
		{method: http.MethodGet, path: "/api/v1/terminals/summary", summary: "The share of IoT terminals online, for the city and each district, and the silence after which a terminal is offline", tag: "alarms", perm: liftrescue.PermRead, handler: s.withTerminals(s.terminalSummary), query: []param{{"district", "string", "6-digit district code"}}, status: 200, response: liftrescue.TerminalsReport{}},
		{method: http.MethodGet, path: "/api/v1/terminals/:id", summary: "One IoT terminal with its status now", tag: "alarms", perm: liftrescue.PermRead, handler: s.withTerminals(s.getTerminal), status: 200, response: liftrescue.TerminalState{}},
		{method: http.MethodPut, path: "/api/v1/terminals/:id", summary: "Register an IoT terminal on an elevator (by elevator_id or equipment_code), or move or describe it anew; its reports then reach the elevator by terminal_id", tag: "alarms", perm: liftrescue.PermRegistry, handler: s.withTerminals(s.putTerminal), body: terminalBody{}, status: 200, response: liftrescue.TerminalState{}},
		{method: http.MethodDelete, path: "/api/v1/terminals/:id", summary: "Unregister an IoT terminal; its reports are quarantined from then on", tag: "alarms", perm: liftrescue.PermRegistry, handler: s.withTerminals(s.deleteTerminal), status: 204},
		{method: http.MethodGet, path: "/api/v1/elevators/:code/faults", summary: "The elevator's fault record, newest first: every alarm its terminals reported (repeats within a minute counted on one entry), terminals gone offline", tag: "alarms", perm: liftrescue.PermRead, handler: s.elevatorFaults, query: append([]param{{"since", "string", "RFC 3339 time: faults first reported at or after it"}}, pagingParams...), status: 200, response: liftrescue.Page[*liftrescue.Fault]{}},
		{method: http.MethodGet, path: "/api/v1/faults/flagged", summary: "Elevators whose faults repeat (by default 3 within 30 days), most faults first; a district's account gets its district's", tag: "alarms", perm: liftrescue.PermRead, handler: s.withTerminals(s.flaggedElevators), query: []param{{"district", "string", "6-digit district code"}}, status: 200, response: liftrescue.FlaggedReport{}},
		{method: http.MethodGet, path: "/r/:token", summary: "A responder's link: the job and what can be done now (HTML for a browser, JSON when asked); 410 when used or expired", tag: "responders", perm: permPublic, handler: s.withDispatch(s.responderPage), status: 200, response: liftrescue.ResponderView{}},
		{method: http.MethodPost, path: "/r/:token", summary: "A responder's action through the link: accept, decline (with reason), en_route, arrived, released", tag: "responders", perm: permPublic, handler: s.withDispatch(s.responderAction), body: responderBody{}, status: 200, response: liftrescue.ResponderView{}},

		{method: http.MethodPost, path: "/api/v1/session", summary: "Sign in with username and password: sets the session cookie and returns the CSRF token the console sends with every write; 403 with locked_until after repeated failures", tag: "accounts", perm: permPublic, handler: s.signIn, body: signInBody{}, bodyLimit: 4 << 10, status: 200, response: SessionInfo{}},
		{method: http.MethodGet, path: "/api/v1/session", summary: "Who is signed in (or whose API key this is), with the session's CSRF token", tag: "accounts", perm: permSignedIn, handler: s.session, status: 200, response: SessionInfo{}},
		{method: http.MethodDelete, path: "/api/v1/session", summary: "Sign out", tag: "accounts", perm: permSignedIn, handler: s.signOut, status: 204},
		{method: http.MethodPut, path: "/api/v1/session/password", summary: "Change one's own password (the current one is required); other sessions end", tag: "accounts", perm: permSignedIn, handler: s.changePassword, body: passwordBody{}, bodyLimit: 4 << 10, status: 204},
		{method: http.MethodGet, path: "/api/v1/users", summary: "Every user, with role, district and sign-in state", tag: "accounts", perm: liftrescue.PermAccounts, handler: s.listUsers, status: 200, response: liftrescue.Page[*liftrescue.User]{}},
		{method: http.MethodPost, path: "/api/v1/users", summary: "Make a user: username, name, role (admin, dispatcher, planner, supervisor), district for a district's staff, password", tag: "accounts", perm: liftrescue.PermAccounts, handler: s.createUser, body: userBody{}, bodyLimit: 4 << 10, status: 201, response: liftrescue.User{}},
		{method: http.MethodGet, path: "/api/v1/users/:id", summary: "A user", tag: "accounts", perm: liftrescue.PermAccounts, handler: s.getUser, status: 200, response: liftrescue.User{}},
		{method: http.MethodPut, path: "/api/v1/users/:id", summary: "Change a user's name, role, district, disabled flag or password; their sessions end when rights change", tag: "accounts", perm: liftrescue.PermAccounts, handler: s.updateUser, body: userBody{}, bodyLimit: 4 << 10, status: 200, response: liftrescue.User{}},
		{method: http.MethodGet, path: "/api/v1/keys", summary: "Every API key (never the key itself), revoked ones too", tag: "accounts", perm: liftrescue.PermAccounts, handler: s.listKeys, status: 200, response: liftrescue.Page[*liftrescue.APIKey]{}},
		{method: http.MethodPost, path: "/api/v1/keys", summary: "Make an API key for an external system with its scopes (and district); the key is in this answer only", tag: "accounts", perm: liftrescue.PermAccounts, handler: s.createKey, body: keyBody{}, bodyLimit: 4 << 10, status: 201, response: NewKey{}},
		{method: http.MethodDelete, path: "/api/v1/keys/:id", summary: "Revoke an API key", tag: "accounts", perm: liftrescue.PermAccounts, handler: s.revokeKey, status: 204},
		{method: http.MethodGet, path: "/api/v1/audit", summary: "Who did what, when: every write through the API and every sign-in, newest first", tag: "accounts", perm: liftrescue.PermAudit, handler: s.listAudit, query: append([]param{{"actor", "string", "a username or key name"}, {"since", "string", "RFC 3339 time"}, {"until", "string", "RFC 3339 time"}}, pagingParams...), status: 200, response: liftrescue.Page[liftrescue.AuditEntry]{}},
		{method: http.MethodGet, path: "/api/v1/grids", summary: "The active plan's rescue grids as a GeoJSON FeatureCollection (an empty one before the first publication); ?plan= for another plan's", tag: "grids", perm: liftrescue.PermRead, handler: s.activeGrids, query: []param{{"plan", "integer", "a plan's id instead of the active plan"}}, status: 200},
		{method: http.MethodGet, path: "/api/v1/plans", summary: "Every plan of rescue grids, newest first: drafts, the active one and the retired ones with who published them and when", tag: "grids", perm: liftrescue.PermRead, handler: s.listPlans, status: 200, response: liftrescue.Page[*liftrescue.Plan]{}},
		{method: http.MethodPost, path: "/api/v1/plans", summary: "Start a draft plan: name, notes, from (\"active\", the default, copies the plan in force; \"empty\"; or a plan id)", tag: "grids", perm: liftrescue.PermGrids, handler: s.createPlan, body: planBody{}, bodyLimit: 16 << 10, status: 201, response: liftrescue.Plan{}},
		{method: http.MethodGet, path: "/api/v1/plans/:id", summary: "A plan", tag: "grids", perm: liftrescue.PermRead, handler: s.getPlan, status: 200, response: liftrescue.Plan{}},
		{method: http.MethodPut, path: "/api/v1/plans/:id", summary: "Rename a draft or change its notes", tag: "grids", perm: liftrescue.PermGrids, handler: s.updatePlan, body: planBody{}, bodyLimit: 16 << 10, status: 200, response: liftrescue.Plan{}},
		{method: http.MethodDelete, path: "/api/v1/plans/:id", summary: "Discard a draft with its grids", tag: "grids", perm: liftrescue.PermGrids, handler: s.deletePlan, status: 204},
		{method: http.MethodGet, path: "/api/v1/plans/:id/grids", summary: "A plan's grids as a GeoJSON FeatureCollection", tag: "grids", perm: liftrescue.PermRead, handler: s.listPlanGrids, status: 200},
		{method: http.MethodPost, path: "/api/v1/plans/:id/grids", summary: "Add a grid to a draft: a GeoJSON Feature whose geometry is the area (Polygon or MultiPolygon, WGS-84) and whose properties are name, district, units (volunteer units by id or code, preferred first), fire_station (id or code), notes", tag: "grids", perm: liftrescue.PermGrids, handler: s.withPlanner(s.createGrid), body: gridFeature{}, bodyType: "application/geo+json", bodyLimit: gridBodyLimit, status: 201},
		{method: http.MethodGet, path: "/api/v1/plans/:id/grids/:grid", summary: "A grid as a GeoJSON Feature", tag: "grids", perm: liftrescue.PermRead, handler: s.getGrid, status: 200},
		{method: http.MethodPut, path: "/api/v1/plans/:id/grids/:grid", summary: "Replace a grid of a draft", tag: "grids", perm: liftrescue.PermGrids, handler: s.withPlanner(s.updateGrid), body: gridFeature{}, bodyType: "application/geo+json", bodyLimit: gridBodyLimit, status: 200},
		{method: http.MethodDelete, path: "/api/v1/plans/:id/grids/:grid", summary: "Remove a grid from a draft", tag: "grids", perm: liftrescue.PermGrids, handler: s.deleteGrid, status: 204},
		{method: http.MethodGet, path: "/api/v1/plans/:id/check", summary: "What publishing the plan would do: elevators per grid, elevators that change grid, overlaps between grids, elevators left in no grid", tag: "grids", perm: liftrescue.PermRead, handler: s.withPlanner(s.checkPlan), status: 200, response: planning.Report{}},
		{method: http.MethodPost, path: "/api/v1/plans/:id/publish", summary: "Put a draft in force at once, retiring the active plan; 409 with the report when it leaves elevators in no grid or its grids overlap, unless confirm is true", tag: "grids", perm: liftrescue.PermGrids, handler: s.withPlanner(s.publishPlan), body: publishBody{}, bodyLimit: 4 << 10, status: 200, response: Published{}},
		{method: http.MethodGet, path: "/api/v1/plans/:id/coverage", summary: "Each grid's elevators, units, vehicles on duty and estimated tier-2 arrival (median, p90, worst, share within the limit), elevators in no grid, and an H3 layer (resolution 8) of estimated arrival for the map", tag: "grids", perm: liftrescue.PermRead, handler: s.withPlanner(s.planCoverage), query: []param{{"layer", "boolean", "include the H3 layer (default true)"}}, status: 200, response: planning.Coverage{}},
		{method: http.MethodGet, path: "/api/v1/plans/:id/whatif", summary: "The plan against another (the active one by default) on past incidents, or on elevators drawn by incident history when there are few: the unit each would send and its estimated arrival, and the share within the limit under each", tag: "grids", perm: liftrescue.PermRead, handler: s.withPlanner(s.planWhatIf), query: []param{{"against", "string", "active (default) or a plan id"}, {"days", "integer", "days of incidents to replay (default 365)"}, {"sample", "integer", "elevators to draw when incidents are few (default 2000)"}}, status: 200, response: planning.WhatIf{}},
		{method: http.MethodGet, path: "/api/v1/public/elevators/:code", summary: "What anyone may learn of an elevator from its rescue code: address and units, no phone numbers", tag: "elevators", perm: permPublic, handler: s.publicElevator, status: 200, response: PublicElevator{}},

		{method: http.MethodPost, path: "/api/v1/import/elevators", summary: "Import elevators from CSV (UTF-8 or GB18030), upserting by equipment code", tag: "import", perm: liftrescue.PermRegistry, handler: s.importElevators, query: importParams, bodyType: "text/csv", bodyLimit: importBodyLimit, status: 200, response: liftrescue.ImportResult{}},
		{method: http.MethodPost, path: "/api/v1/import/districts", summary: "Import district outlines from a GeoJSON FeatureCollection (properties code or adcode, name, rural), upserting by code", tag: "import", perm: liftrescue.PermRegistry, handler: s.importDistricts, query: importParams[2:], bodyType: "application/geo+json", bodyLimit: importBodyLimit, status: 200, response: liftrescue.ImportResult{}},
		{method: http.MethodPost, path: "/api/v1/import/organizations", summary: "Import organisations from CSV (UTF-8 or GB18030), upserting by code", tag: "import", perm: liftrescue.PermRegistry, handler: s.importOrganizations, query: importParams, bodyType: "text/csv", bodyLimit: importBodyLimit, status: 200, response: liftrescue.ImportResult{}},
	}
}
