package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/gps"
	"github.com/liftrescue/liftrescue/planning"
)

// The live routes: where the vehicles are now, their tracks, the fixes of trackers and gateways
// that speak the native JSON, and the live event stream.

// positionsReply is the answer to a batch of fixes: how many were kept and why the others were
// not, by their index in the batch.
type positionsReply struct {
	Accepted int                 `json:"accepted"`
	Rejected []liftrescue.Detail `json:"rejected"`
}

// postPositions takes a native JSON batch. A gateway proves itself with the ingest key
// (Authorization: Bearer KEY), a tracker with its device secret, in the same header or in each
// fix's token. One bad fix does not reject the batch; when the history backlog refuses every fix
// the answer is 503 so that the sender retries the whole batch later.
func (s *Server) postPositions(c echo.Context) error {
	req := c.Request()
	if s.cfg.Ingest.Saturated() {
		return s.historyBehind(c)
	}
	now := s.now()
	batch, err := gps.ReadBatch(req.Body, now)
	if err != nil {
		return err
	}
	bearer := bearerToken(req)
	proof := gps.Proof{Secret: bearer, Secrets: batch.Tokens}
	if s.isIngestKey(bearer) ||
		principalOf(c).Can(liftrescue.PermPositions) {
		proof = gps.Proof{Trusted: true}
	}
	if !proof.Trusted && bearer == "" && batch.Tokens == nil && len(batch.Fixes) > 0 {
		return liftrescue.Errorf(liftrescue.EUNAUTHORIZED, "no credentials: send the device secret as a token in each fix or as Authorization: Bearer, or the ingest key")
	}
	res := s.cfg.Ingest.Accept(req.Context(), batch.Fixes, proof)
	reply := positionsReply{Accepted: res.Accepted, Rejected: append(batch.Rejected, batch.Reindex(res.Rejected)...)}
	batch.Release() // Accept has copied the fixes
	sortDetails(reply.Rejected)
	if reply.Rejected == nil {
		reply.Rejected = []liftrescue.Detail{}
	}
	if res.Accepted == 0 && len(res.Rejected) > 0 && allRetryable(res.Rejected) {
		return s.historyBehind(c)
	}
	if res.Accepted == 0 && len(res.Rejected) > 0 && allRateLimited(res.Rejected) {
		c.Response().Header().Set("Retry-After", "1")
		return liftrescue.Errorf(codeRateLimited, "these devices send more fixes than a tracker would: nothing was accepted; slow down")
	}
	return c.JSON(http.StatusOK, reply)
}

// isIngestKey reports whether a bearer token is the gateways' ingest key.
func (s *Server) isIngestKey(bearer string) bool {
	return s.cfg.IngestKey != "" && bearer != "" && subtle.ConstantTimeCompare([]byte(bearer), []byte(s.cfg.IngestKey)) == 1
}

// historyBehind refuses a whole batch while the position history catches up.
func (s *Server) historyBehind(c echo.Context) error {
	c.Response().Header().Set("Retry-After", "1")
	return liftrescue.Errorf(liftrescue.EUNAVAILABLE, "the position history is behind: nothing was accepted; send the batch again shortly")
}

func allRetryable(ds []liftrescue.Detail) bool {
	for _, d := range ds {
		if d.Reason != gps.ReasonHistoryBacklog && d.Reason != gps.ReasonClosed {
			return false
		}
	}
	return true
}

func allRateLimited(ds []liftrescue.Detail) bool {
	for _, d := range ds {
		if d.Reason != gps.ReasonRateLimited {
			return false
		}
	}
	return true
}

func sortDetails(ds []liftrescue.Detail) {
	at := func(d liftrescue.Detail) int {
		if d.Index == nil {
			return -1
		}
		return *d.Index
	}
	slices.SortStableFunc(ds, func(a, b liftrescue.Detail) int { return at(a) - at(b) })
}

// bearerToken returns the token of an Authorization: Bearer header, "" for none.
func bearerToken(r *http.Request) string {
	h := r.Header.Get(echo.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// listLiveVehicles answers every vehicle of the registry with where it is now: the whole fleet in
// one answer (a city has hundreds to a few thousand), for the map.
func (s *Server) listLiveVehicles(c echo.Context) error {
	teamID, err := queryID(c, "team_id")
	if err != nil {
		return err
	}
	orgID, err := queryID(c, "organization_id")
	if err != nil {
		return err
	}
	statuses, err := queryStatuses(c)
	if err != nil {
		return err
	}
	now := s.now()
	fleet := s.cfg.Ingest.Fleet()
	items := make([]liftrescue.LiveVehicle, 0, len(fleet))
	for _, v := range fleet {
		if teamID != 0 && v.TeamID != teamID || orgID != 0 && v.OrganizationID != orgID {
			continue
		}
		lv := s.liveVehicle(v, now)
		if statuses != nil && !statuses[lv.Status] {
			continue
		}
		items = append(items, lv)
	}
	return c.JSON(http.StatusOK, liftrescue.Page[liftrescue.LiveVehicle]{Items: items, Total: len(items)})
}

func (s *Server) liveVehicle(v *liftrescue.Vehicle, now time.Time) liftrescue.LiveVehicle {
	var pos *liftrescue.LivePosition
	if st, ok := s.cfg.Index.Vehicle(v.ID); ok {
		pos = st.LivePosition()
	}
	return liftrescue.NewLiveVehicle(v, pos, s.cfg.Liveness, now)
}

func queryStatuses(c echo.Context) (map[liftrescue.VehicleStatus]bool, error) {
	q := c.QueryParam("status")
	if q == "" {
		return nil, nil
	}
	set := map[liftrescue.VehicleStatus]bool{}
	for _, name := range strings.Split(q, ",") {
		st := liftrescue.VehicleStatus(strings.TrimSpace(name))
		switch st {
		case liftrescue.StatusLive, liftrescue.StatusStale, liftrescue.StatusOffline, liftrescue.StatusNoFix:
			set[st] = true
		default:
			return nil, badParam("status", "want live, stale, offline or no_fix, comma separated")
		}
	}
	return set, nil
}

// VehicleDetail is a vehicle of the registry, device secret included, with where it is now.
type VehicleDetail struct {
	*liftrescue.Vehicle
	Status   liftrescue.VehicleStatus `json:"status"`
	Position *liftrescue.LivePosition `json:"position"`
	// Grid is the active plan's rescue grid the vehicle is in now, nil when none.
	Grid *planning.GridName `json:"grid"`
}

func (s *Server) getVehicle(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	v, err := s.store.FindVehicle(c.Request().Context(), id)
	if err != nil {
		return err
	}
	lv := s.liveVehicle(v, s.now())
	out := VehicleDetail{Vehicle: v, Status: lv.Status, Position: lv.Position}
	if lv.Position != nil {
		out.Grid = s.gridAt(lv.Position.Lon, lv.Position.Lat)
	}
	return c.JSON(http.StatusOK, out)
}

// Track is a vehicle's path over a span of time.
type Track struct {
	VehicleID int64                 `json:"vehicle_id"`
	From      time.Time             `json:"from"`
	To        time.Time             `json:"to"`
	Positions []liftrescue.Position `json:"positions"`
	// Truncated says there were more positions than limit: ask again from the last one's time.
	Truncated bool `json:"truncated"`
}

// vehicleTrack answers a vehicle's history between from and to (RFC 3339; the last hour by
// default), oldest first.
func (s *Server) vehicleTrack(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	now := s.now()
	to, err := queryTime(c, "to", now)
	if err != nil {
		return err
	}
	from, err := queryTime(c, "from", to.Add(-time.Hour))
	if err != nil {
		return err
	}
	limit := liftrescue.MaxTrackPoints
	if q := c.QueryParam("limit"); q != "" {
		if limit, err = strconv.Atoi(q); err != nil || limit < 1 || limit > liftrescue.MaxTrackPoints {
			return badParam("limit", "must be an integer from 1 to "+strconv.Itoa(liftrescue.MaxTrackPoints))
		}
	}
	// One more than asked tells whether the answer is complete.
	ask := limit
	if ask < liftrescue.MaxTrackPoints {
		ask++
	}
	ps, err := s.store.Track(c.Request().Context(), id, from, to, ask)
	if err != nil {
		return err
	}
	t := Track{VehicleID: id, From: from.UTC(), To: to.UTC(), Positions: ps, Truncated: len(ps) > limit}
	if t.Truncated {
		t.Positions = ps[:limit]
	}
	if t.Positions == nil {
		t.Positions = []liftrescue.Position{}
	}
	return c.JSON(http.StatusOK, t)
}

func queryTime(c echo.Context, name string, def time.Time) (time.Time, error) {
	q := c.QueryParam(name)
	if q == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, q)
	if err != nil {
		return t, badParam(name, "want an RFC 3339 time like 2026-11-21T08:30:00+08:00")
	}
	return t, nil
}

// IngestStats is the answer of GET /api/v1/ingest: the pipeline's counters and those of the
// protocol servers.
type IngestStats struct {
	gps.Stats
	Servers map[string]any `json:"servers,omitempty"`
}

func (s *Server) ingestStats(c echo.Context) error {
	st := IngestStats{Stats: s.cfg.Ingest.Stats()}
	if s.cfg.ServerStats != nil {
		st.Servers = s.cfg.ServerStats()
	}
	return c.JSON(http.StatusOK, st)
}

// stream serves the live event stream (Server-Sent Events).
func (s *Server) stream(c echo.Context) error {
	if s.cfg.Stream == nil {
		return liftrescue.Errorf(liftrescue.EUNAVAILABLE, "the live stream is not running on this server")
	}
	req := c.Request()
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	p := principalOf(c)
	go s.endWithCredential(ctx, cancel, p, credentialOf(req))
	err := s.cfg.Stream.ServeScoped(c.Response(), req.WithContext(ctx), p.District)
	if liftrescue.ErrorCode(err) == liftrescue.EUNAVAILABLE {
		c.Response().Header().Set("Retry-After", "5") // too many streams open, or shutting down
	}
	return err
}

// recheckEvery is how often an open stream's credential is checked again: a stream ends within
// this long of its session ending or its key being revoked.
var recheckEvery = 30 * time.Second

// endWithCredential cancels a long request once its credential no longer holds.
func (s *Server) endWithCredential(ctx context.Context, cancel func(), p *liftrescue.Principal, secret string) {
	t := time.NewTicker(recheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !s.cfg.Auth.StillValid(ctx, p, secret) {
				s.logger.Info("stream ended: its credential no longer holds", "who", p.Name)
				cancel()
				return
			}
		}
	}
}

func (s *Server) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

// positionsBody documents the native JSON batch.
type positionsBody struct {
	Positions []positionIn `json:"positions"`
}

type positionIn struct {
	DeviceID  string    `json:"device_id"`
	Lat       float64   `json:"lat"`
	Lon       float64   `json:"lon"`
	Time      time.Time `json:"time"`
	SpeedKmh  *float64  `json:"speed_kmh,omitempty"`
	Heading   *float64  `json:"heading,omitempty"`
	AccuracyM *float64  `json:"accuracy_m,omitempty"`
	AltitudeM *float64  `json:"altitude_m,omitempty"`
	Token     string    `json:"token,omitempty"`
}
