package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/liftrescue/liftrescue"
)

// The platform and model the fleet's terminals are registered with.
const (
	TerminalPlatform = "loadgen"
	TerminalModel    = "LGEN-IOT (simulated terminal)"
)

// errEnough ends a listing early.
var errEnough = errors.New("enough")

// fleetElevators returns the first n elevators of the district (of the city when district is
// empty), in the server's order; with byCode only those with a valid equipment code.
func (c *apiClient) fleetElevators(ctx context.Context, district string, n int, byCode bool) ([]fleetElevator, error) {
	q := url.Values{}
	if district != "" {
		q.Set("district", district)
	}
	els := make([]fleetElevator, 0, n)
	err := c.list(ctx, "/api/v1/elevators", q, func(item json.RawMessage) error {
		var el fleetElevator
		if err := json.Unmarshal(item, &el); err != nil {
			return fmt.Errorf("elevators: %w", err)
		}
		if el.ID <= 0 || byCode && !liftrescue.IsEquipmentCode(el.EquipmentCode) {
			return nil
		}
		els = append(els, el)
		if len(els) == n {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	if len(els) < n {
		where := "the server"
		if district != "" {
			where = "district " + district
		}
		what := "elevators"
		if byCode {
			what = "elevators with an equipment code"
		}
		return nil, fmt.Errorf("%s has %d %s, fewer than the %d terminals asked for: ask for fewer devices", where, len(els), what, n)
	}
	return els, nil
}

// TerminalProvisionReport says what provisioning the fleet's terminals wrote.
type TerminalProvisionReport struct {
	District  string  `json:"district,omitempty"`
	Terminals int     `json:"terminals"`
	Created   int     `json:"created"`  // 201
	Replaced  int     `json:"replaced"` // 200: it was registered already, maybe on another elevator
	Seconds   float64 `json:"seconds"`
}

// ProvisionTerminals registers a terminal (TerminalID) on each of the first cfg.Devices elevators
// of cfg.District (of the city when empty), through PUT /api/v1/terminals/{id}, which creates or
// replaces it: so provisioning again changes nothing. Writes run cfg.ProvisionConcurrency at a
// time, with cfg.APIKey (registry:write).
func ProvisionTerminals(ctx context.Context, cfg Config) (*TerminalProvisionReport, error) {
	cfg = cfg.withDefaults()
	if cfg.Devices < 1 || cfg.Devices > MaxDevices {
		return nil, fmt.Errorf("devices %d: want 1 to %d", cfg.Devices, MaxDevices)
	}
	c := newAPIClient(cfg.URL, cfg.ProvisionConcurrency, cfg.APIKey)
	defer c.close()
	els, err := c.fleetElevators(ctx, cfg.District, cfg.Devices, false)
	if err != nil {
		return nil, err
	}
	return c.provisionTerminals(ctx, cfg.District, els, cfg.ProvisionConcurrency)
}

func (c *apiClient) provisionTerminals(ctx context.Context, district string, els []fleetElevator, concurrency int) (*TerminalProvisionReport, error) {
	start := time.Now()
	rep := &TerminalProvisionReport{District: district, Terminals: len(els)}
	var mu sync.Mutex
	err := forEach(ctx, els, concurrency, func(ctx context.Context, el fleetElevator) error {
		id := TerminalID(el.ID)
		body := map[string]any{"elevator_id": el.ID, "platform": TerminalPlatform, "model": TerminalModel}
		status, err := c.doStatus(ctx, http.MethodPut, "/api/v1/terminals/"+url.PathEscape(id), nil, body, nil)
		if err != nil {
			return fmt.Errorf("terminal %s on elevator %d: %w", id, el.ID, err)
		}
		mu.Lock()
		if status == http.StatusCreated {
			rep.Created++
		} else {
			rep.Replaced++
		}
		mu.Unlock()
		return nil
	})
	rep.Seconds = time.Since(start).Seconds()
	return rep, err
}

// incidentItem is what a fleet reads of an incident.
type incidentItem struct {
	ID         int64                     `json:"id"`
	ElevatorID int64                     `json:"elevator_id"`
	Source     liftrescue.IncidentSource `json:"source"`
}

// incidentsBefore returns the newest incident's id (0 for none) and the elevators with an open
// incident.
func (c *apiClient) incidentsBefore(ctx context.Context) (newest int64, busy map[int64]bool, err error) {
	var p struct {
		Items []incidentItem `json:"items"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/incidents?limit=1", nil, &p); err != nil {
		return 0, nil, err
	}
	if len(p.Items) > 0 {
		newest = p.Items[0].ID
	}
	busy = map[int64]bool{}
	err = c.list(ctx, "/api/v1/incidents", url.Values{"open": {"true"}}, func(item json.RawMessage) error {
		var inc incidentItem
		if err := json.Unmarshal(item, &inc); err != nil {
			return fmt.Errorf("incidents: %w", err)
		}
		busy[inc.ElevatorID] = true
		newest = max(newest, inc.ID)
		return nil
	})
	return newest, busy, err
}

// incidentsSince returns the incidents newer than since, newest first, as the list gives them.
func (c *apiClient) incidentsSince(ctx context.Context, since int64) ([]incidentItem, error) {
	var out []incidentItem
	err := c.list(ctx, "/api/v1/incidents", nil, func(item json.RawMessage) error {
		var inc incidentItem
		if err := json.Unmarshal(item, &inc); err != nil {
			return fmt.Errorf("incidents: %w", err)
		}
		if inc.ID <= since {
			return errEnough
		}
		out = append(out, inc)
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	return out, err
}

// terminalSummary reads GET /api/v1/terminals/summary.
func (c *apiClient) terminalSummary(ctx context.Context) (*liftrescue.TerminalsReport, error) {
	var r liftrescue.TerminalsReport
	if err := c.do(ctx, http.MethodGet, "/api/v1/terminals/summary", nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// verifyFleet reads the incidents opened since the run began and judges them (see FleetVerify),
// waiting up to timeout for trapped elevators still without one (an MQTT report is handled after
// the broker's acknowledgement).
func verifyFleet(ctx context.Context, c *apiClient, ts []Terminal, reached map[int64]bool, since int64, timeout time.Duration) *FleetVerify {
	v := &FleetVerify{}
	for _, r := range reached {
		if r {
			v.Trapped++
		}
	}
	start := time.Now()
	var (
		incs []incidentItem
		err  error
	)
	for {
		incs, err = c.incidentsSince(ctx, since)
		if err == nil && len(missing(ts, reached, incs)) == 0 || time.Since(start) > timeout || ctx.Err() != nil {
			break
		}
		if !sleep(200*time.Millisecond, ctx.Done()) {
			break
		}
	}
	v.Waited = time.Since(start).Seconds()
	if err != nil {
		v.Message = fmt.Sprintf("the incidents could not be read: %v", err)
		return v
	}
	fleet := make(map[int64]*Terminal, len(ts))
	for i := range ts {
		fleet[ts[i].ElevatorID] = &ts[i]
	}
	opened := map[int64]int{}
	var notIoT []int64
	for _, inc := range incs {
		if fleet[inc.ElevatorID] == nil {
			continue
		}
		v.Incidents++
		opened[inc.ElevatorID]++
		if inc.Source != liftrescue.SourceIoT {
			notIoT = append(notIoT, inc.ElevatorID)
		}
	}
	m, d, u := judgeIncidents(ts, reached, opened)
	v.Missing, v.MissingCount = listed(m)
	v.Duplicated, v.DuplicatedCount = listed(d)
	v.Unexpected, v.UnexpectedCount = listed(u)
	v.NotIoT, _ = listed(notIoT)
	v.OK = v.MissingCount == 0 && v.DuplicatedCount == 0 && v.UnexpectedCount == 0 && len(v.NotIoT) == 0
	switch {
	case v.OK:
		v.Message = fmt.Sprintf("%d incidents opened, one per trapped elevator, none on the %d others", v.Incidents, len(ts)-v.Trapped)
	default:
		v.Message = fmt.Sprintf("%d trapped elevators without an incident, %d with more than one, %d others with one, %d not of source iot",
			v.MissingCount, v.DuplicatedCount, v.UnexpectedCount, len(v.NotIoT))
	}
	return v
}

// missing returns the reached trapped elevators without an incident among incs.
func missing(ts []Terminal, reached map[int64]bool, incs []incidentItem) []int64 {
	have := map[int64]bool{}
	for _, inc := range incs {
		have[inc.ElevatorID] = true
	}
	var m []int64
	for i := range ts {
		if id := ts[i].ElevatorID; ts[i].Role == RoleTrapped && reached[id] && !have[id] {
			m = append(m, id)
		}
	}
	return m
}

// mqttReceived reads how many messages the server's MQTT subscriber has received, from its ingest
// counters (GET /api/v1/ingest: servers.mqtt.received); false when the server does not say.
func (c *apiClient) mqttReceived(ctx context.Context) (int64, bool) {
	var raw struct {
		Servers struct {
			MQTT *struct {
				Received *int64 `json:"received"`
			} `json:"mqtt"`
		} `json:"servers"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/ingest", nil, &raw); err != nil || raw.Servers.MQTT == nil || raw.Servers.MQTT.Received == nil {
		return 0, false
	}
	return *raw.Servers.MQTT.Received, true
}

// subscriberSettle is how long the subscriber's count may stand still before it is taken as final.
const subscriberSettle = time.Second

// waitReceived waits until the server's subscriber has received want messages more than before,
// or its count stood still for subscriberSettle, or timeout passed, and returns how many it received.
func (c *apiClient) waitReceived(ctx context.Context, before, want int64, timeout time.Duration) (int64, bool) {
	deadline := time.Now().Add(timeout)
	last, lastChange := int64(-1), time.Now()
	for {
		n, ok := c.mqttReceived(ctx)
		if !ok {
			return 0, false
		}
		got := n - before
		now := time.Now()
		if got != last {
			last, lastChange = got, now
		}
		if got >= want || now.Sub(lastChange) >= subscriberSettle || now.After(deadline) {
			return got, true
		}
		if !sleep(100*time.Millisecond, ctx.Done()) {
			return got, true
		}
	}
}
