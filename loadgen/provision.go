package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// The organisation and team provisioning creates; runs find them again by code and name.
const (
	OrgCode  = "LOADGEN-1"
	OrgName  = "负载测试志愿救援队 (loadgen)"
	TeamName = "loadgen"
)

// ProvisionReport says what provisioning found and wrote.
type ProvisionReport struct {
	District       string  `json:"district"`
	OrganizationID int64   `json:"organization_id"`
	TeamID         int64   `json:"team_id"`
	Created        int     `json:"created"`   // vehicles created
	Updated        int     `json:"updated"`   // vehicles replaced to carry the device and its secret
	Unchanged      int     `json:"unchanged"` // vehicles already as wanted
	Seconds        float64 `json:"seconds"`
}

// vehicleJSON is what provisioning writes and reads of a vehicle. It names only the fields the
// API takes, as the API refuses unknown ones.
type vehicleJSON struct {
	ID           int64  `json:"id,omitempty"`
	TeamID       int64  `json:"team_id"`
	Plate        string `json:"plate"`
	DeviceID     string `json:"device_id"`
	DeviceSecret string `json:"device_secret"`
	OnDuty       bool   `json:"on_duty"`
}

// Provision makes the devices of cfg exist on the server at cfg.URL, through its REST API: the
// volunteer organisation OrgCode in the district (cfg.District, or the first district with an
// outline), its team TeamName, and a vehicle per device with the device's id, plate and secret
// (DeviceSecret of cfg.SecretSeed). What exists is reused: the organisation by code, the team by
// name, vehicles by device id; a vehicle whose device id another vehicle holds (409 conflict) is
// replaced by PUT. Vehicle writes run cfg.ProvisionConcurrency at a time.
func Provision(ctx context.Context, cfg Config) (*ProvisionReport, error) {
	cfg = cfg.withDefaults()
	if cfg.Devices < 1 || cfg.Devices > MaxDevices {
		return nil, fmt.Errorf("devices %d: want 1 to %d", cfg.Devices, MaxDevices)
	}
	start := time.Now()
	c := newAPIClient(cfg.URL, cfg.ProvisionConcurrency, cfg.APIKey)
	defer c.close()
	ds, err := c.districts(ctx)
	if err != nil {
		return nil, err
	}
	d, err := pickDistrict(ds, cfg.District)
	if err != nil {
		return nil, err
	}
	rep := &ProvisionReport{District: d.Code}
	if rep.OrganizationID, err = c.organization(ctx, d.Code); err != nil {
		return nil, err
	}
	if rep.TeamID, err = c.team(ctx, rep.OrganizationID); err != nil {
		return nil, err
	}
	if err := c.vehicles(ctx, rep, Devices(cfg.Devices, cfg.SecretSeed), cfg.ProvisionConcurrency); err != nil {
		return rep, err
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// organization finds or creates the load generator's organisation.
func (c *apiClient) organization(ctx context.Context, district string) (int64, error) {
	find := func() (int64, error) {
		var id int64
		err := c.list(ctx, "/api/v1/organizations", url.Values{"q": {OrgCode}}, func(item json.RawMessage) error {
			var o struct {
				ID   int64  `json:"id"`
				Code string `json:"code"`
			}
			if err := json.Unmarshal(item, &o); err == nil && o.Code == OrgCode && id == 0 {
				id = o.ID
			}
			return nil
		})
		return id, err
	}
	if id, err := find(); err != nil || id != 0 {
		return id, err
	}
	var o struct {
		ID int64 `json:"id"`
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/organizations", map[string]any{
		"code": OrgCode, "kind": "volunteer", "name": OrgName, "district": district,
		"address": "负载测试 (load generator test unit, not a real rescue unit)",
	}, &o)
	if isConflict(err) { // made meanwhile by another run
		id, err := find()
		if err == nil && id == 0 {
			err = fmt.Errorf("organisation %s: the server says it exists but does not list it", OrgCode)
		}
		return id, err
	}
	return o.ID, err
}

// team finds or creates the load generator's team in the organisation.
func (c *apiClient) team(ctx context.Context, org int64) (int64, error) {
	var id int64
	err := c.list(ctx, "/api/v1/teams", url.Values{"organization_id": {strconv.FormatInt(org, 10)}}, func(item json.RawMessage) error {
		var t struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal(item, &t); err == nil && t.Name == TeamName && id == 0 {
			id = t.ID
		}
		return nil
	})
	if err != nil || id != 0 {
		return id, err
	}
	var t struct {
		ID int64 `json:"id"`
	}
	err = c.do(ctx, http.MethodPost, "/api/v1/teams", map[string]any{
		"organization_id": org, "name": TeamName, "certified_staff": 2, "on_duty": true,
	}, &t)
	return t.ID, err
}

func isConflict(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.Status == http.StatusConflict || ae.Code == "conflict")
}

// vehicles makes a vehicle of the team carry each device: the team's vehicles are listed once;
// those already right are left alone, the others replaced, the missing ones created. A device
// held by a vehicle outside the team (the create answers 409) is found among all vehicles and
// its vehicle replaced, which moves it into the team.
func (c *apiClient) vehicles(ctx context.Context, rep *ProvisionReport, devs []Device, concurrency int) error {
	have, err := c.listVehicles(ctx, url.Values{"team_id": {strconv.FormatInt(rep.TeamID, 10)}})
	if err != nil {
		return err
	}
	var (
		mu       sync.Mutex
		all      map[string]vehicleJSON // every vehicle by device id, listed on the first conflict
		allErr   error
		allOnce  sync.Once
		created  int
		updated  int
		same     int
		findElse = func(ctx context.Context, id string) (vehicleJSON, bool, error) {
			allOnce.Do(func() { all, allErr = c.listVehicles(ctx, nil) })
			v, ok := all[id]
			return v, ok, allErr
		}
	)
	err = forEach(ctx, devs, concurrency, func(ctx context.Context, d Device) error {
		want := vehicleJSON{TeamID: rep.TeamID, Plate: d.Plate, DeviceID: d.ID, DeviceSecret: d.Secret, OnDuty: true}
		v, ok := have[d.ID]
		if ok && v.Plate == want.Plate && v.DeviceSecret == want.DeviceSecret && v.OnDuty {
			mu.Lock()
			same++
			mu.Unlock()
			return nil
		}
		if !ok {
			err := c.do(ctx, http.MethodPost, "/api/v1/vehicles", want, nil)
			if err == nil {
				mu.Lock()
				created++
				mu.Unlock()
				return nil
			}
			if !isConflict(err) {
				return fmt.Errorf("vehicle of device %s: %w", d.ID, err)
			}
			var ferr error
			if v, ok, ferr = findElse(ctx, d.ID); ferr != nil {
				return ferr
			} else if !ok {
				return fmt.Errorf("vehicle of device %s: %w; and no vehicle has the device (is plate %s taken?)", d.ID, err, d.Plate)
			}
		}
		want.ID = v.ID
		if err := c.do(ctx, http.MethodPut, "/api/v1/vehicles/"+strconv.FormatInt(v.ID, 10), want, nil); err != nil {
			return fmt.Errorf("vehicle of device %s: %w", d.ID, err)
		}
		mu.Lock()
		updated++
		mu.Unlock()
		return nil
	})
	rep.Created, rep.Updated, rep.Unchanged = created, updated, same
	return err
}

// forEach calls work on each item, concurrency calls at a time, until one fails: then the calls
// in progress see ctx cancelled, no other starts, and that error is returned (or ctx's own).
func forEach[T any](ctx context.Context, items []T, concurrency int, work func(context.Context, T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan T)
	var wg sync.WaitGroup
	for range max(1, concurrency) {
		wg.Go(func() {
			for it := range next {
				if err := work(ctx, it); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for _, it := range items {
		select {
		case next <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// listVehicles returns the vehicles of a list query by device id.
func (c *apiClient) listVehicles(ctx context.Context, q url.Values) (map[string]vehicleJSON, error) {
	vs := map[string]vehicleJSON{}
	err := c.list(ctx, "/api/v1/vehicles", q, func(item json.RawMessage) error {
		var v vehicleJSON
		if err := json.Unmarshal(item, &v); err != nil {
			return fmt.Errorf("vehicles: %w", err)
		}
		if v.DeviceID != "" {
			vs[v.DeviceID] = v
		}
		return nil
	})
	return vs, err
}
