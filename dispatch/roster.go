package dispatch

import (
	"context"
	"fmt"

	"github.com/liftrescue/liftrescue"
)

// roster is what dispatch knows of the units that can be sent: every vehicle with its team and
// organisation, and the fire stations. It is a snapshot, replaced whole when the registry changes,
// so that ranking reads it without locks.
type roster struct {
	vehicles map[int64]*rosterVehicle
	// byOrg lists each organisation's vehicles, for the units a rescue grid names.
	byOrg map[int64][]int64
	fire  []*liftrescue.Organization
	// districts holds each district without its outline: opening an incident needs only whether
	// the district is rural, and reading an outline costs more than the rest of the opening.
	districts map[string]*liftrescue.District
}

type rosterVehicle struct {
	vehicle *liftrescue.Vehicle
	team    *liftrescue.Team
	org     *liftrescue.Organization
	// qualified says the registry lets it answer a tier-2 call: a volunteer unit's vehicle, it
	// and its team on duty, the team certified. Whether it is free and live is asked at the time.
	qualified bool
}

// unit describes the vehicle as a unit to dispatch.
func (rv *rosterVehicle) unit() liftrescue.Unit {
	u := orgUnit(rv.org)
	u.TeamID, u.VehicleID, u.Plate = rv.team.ID, rv.vehicle.ID, rv.vehicle.Plate
	if rv.team.DutyPhone != "" {
		u.Phones = append([]string{rv.team.DutyPhone}, u.Phones...)
	}
	return u
}

// orgUnit describes an organisation as a unit to notify.
func orgUnit(o *liftrescue.Organization) liftrescue.Unit {
	phones := append([]string{}, o.DutyPhones...)
	if len(phones) == 0 {
		for _, c := range o.Contacts {
			phones = append(phones, c.Phone)
		}
	}
	return liftrescue.Unit{Role: o.Kind, OrganizationID: o.ID, OrganizationName: o.Name, Phones: phones}
}

// loadRoster reads every team and vehicle, their organisations and the fire stations.
func loadRoster(ctx context.Context, s liftrescue.Store) (*roster, error) {
	teams := map[int64]*liftrescue.Team{}
	if err := liftrescue.EachPage(ctx, func(p liftrescue.Paging) (*liftrescue.Page[*liftrescue.Team], error) {
		return s.ListTeams(ctx, liftrescue.TeamFilter{Paging: p})
	}, func(t *liftrescue.Team) { teams[t.ID] = t }); err != nil {
		return nil, fmt.Errorf("load teams: %w", err)
	}
	orgs := map[int64]*liftrescue.Organization{}
	for _, t := range teams {
		if _, ok := orgs[t.OrganizationID]; ok {
			continue
		}
		o, err := s.FindOrganization(ctx, t.OrganizationID)
		if err != nil {
			return nil, fmt.Errorf("load organisation %d: %w", t.OrganizationID, err)
		}
		orgs[o.ID] = o
	}
	r := &roster{vehicles: map[int64]*rosterVehicle{}, byOrg: map[int64][]int64{}, districts: map[string]*liftrescue.District{}}
	ds, err := s.ListDistricts(ctx)
	if err != nil {
		return nil, fmt.Errorf("load districts: %w", err)
	}
	for _, d := range ds {
		d.Outline = nil
		r.districts[d.Code] = d
	}
	if err := liftrescue.EachPage(ctx, func(p liftrescue.Paging) (*liftrescue.Page[*liftrescue.Vehicle], error) {
		return s.ListVehicles(ctx, liftrescue.VehicleFilter{Paging: p})
	}, func(v *liftrescue.Vehicle) {
		if t := teams[v.TeamID]; t != nil {
			o := orgs[t.OrganizationID]
			r.vehicles[v.ID] = &rosterVehicle{vehicle: v, team: t, org: o,
				qualified: o != nil && o.Kind == liftrescue.OrgVolunteer && v.OnDuty && t.OnDuty && t.CertifiedStaff > 0}
			r.byOrg[t.OrganizationID] = append(r.byOrg[t.OrganizationID], v.ID)
		}
	}); err != nil {
		return nil, fmt.Errorf("load vehicles: %w", err)
	}
	if err := liftrescue.EachPage(ctx, func(p liftrescue.Paging) (*liftrescue.Page[*liftrescue.Organization], error) {
		return s.ListOrganizations(ctx, liftrescue.OrganizationFilter{Kind: liftrescue.OrgFire, Paging: p})
	}, func(o *liftrescue.Organization) { r.fire = append(r.fire, o) }); err != nil {
		return nil, fmt.Errorf("load fire stations: %w", err)
	}
	return r, nil
}
