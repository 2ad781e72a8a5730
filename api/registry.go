package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/csvimport"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/liftrescue/liftrescue/iot"
	"github.com/liftrescue/liftrescue/planning"
)

// ElevatorDetail is an elevator as a dispatcher needs it on a call: with the names and duty phones
// of its two tier-1 units and its district's name.
type ElevatorDetail struct {
	*liftrescue.Elevator
	DistrictName    string       `json:"district_name"`
	UserUnit        *UnitSummary `json:"user_unit"`
	MaintenanceUnit *UnitSummary `json:"maintenance_unit"`
	// Grid is the active plan's rescue grid that holds the elevator, nil when none.
	Grid *planning.GridName `json:"grid"`
	// Terminals are the IoT terminals registered on it, with their status now.
	Terminals []liftrescue.TerminalState `json:"terminals"`
	// RecentFaults counts the entries of its fault record in the last 30 days.
	RecentFaults int `json:"recent_faults"`
}

// recentFaultsPeriod is the period of ElevatorDetail.RecentFaults.
const recentFaultsPeriod = 30 * 24 * time.Hour

// MarshalJSON writes the elevator's fields and then the detail's: the embedded elevator's own
// MarshalJSON would otherwise stand for the whole.
func (d ElevatorDetail) MarshalJSON() ([]byte, error) {
	e, err := d.Elevator.MarshalJSON()
	if err != nil {
		return nil, err
	}
	extra, err := json.Marshal(struct {
		DistrictName    string                     `json:"district_name"`
		UserUnit        *UnitSummary               `json:"user_unit"`
		MaintenanceUnit *UnitSummary               `json:"maintenance_unit"`
		Grid            *planning.GridName         `json:"grid"`
		Terminals       []liftrescue.TerminalState `json:"terminals"`
		RecentFaults    int                        `json:"recent_faults"`
	}{d.DistrictName, d.UserUnit, d.MaintenanceUnit, d.Grid, d.Terminals, d.RecentFaults})
	if err != nil {
		return nil, err
	}
	return append(append(e[:len(e)-1], ','), extra[1:]...), nil
}

// UnitSummary is what a call needs of a unit.
type UnitSummary struct {
	ID         int64    `json:"id"`
	Name       string   `json:"name"`
	DutyPhones []string `json:"duty_phones"`
}

func (s *Server) getElevator(c echo.Context) error {
	ctx := c.Request().Context()
	e, err := s.elevatorByPath(c)
	if err != nil {
		return err
	}
	out := ElevatorDetail{Elevator: e, Grid: s.gridAt(e.Lon, e.Lat)}
	if d, err := s.store.FindDistrict(ctx, e.District); err == nil {
		out.DistrictName = d.Name
	}
	for _, u := range []struct {
		id  int64
		dst **UnitSummary
	}{{e.UserUnitID, &out.UserUnit}, {e.MaintenanceUnitID, &out.MaintenanceUnit}} {
		o, err := s.store.FindOrganization(ctx, u.id)
		if err != nil {
			return fmt.Errorf("unit %d of elevator %d: %w", u.id, e.ID, err)
		}
		*u.dst = &UnitSummary{ID: o.ID, Name: o.Name, DutyPhones: o.DutyPhones}
	}
	if s.cfg.Terminals != nil {
		out.Terminals, _, _, _ = s.cfg.Terminals.Terminals(iot.TerminalQuery{ElevatorID: e.ID, Limit: liftrescue.MaxLimit})
	}
	if out.Terminals == nil {
		out.Terminals = []liftrescue.TerminalState{}
	}
	faults, err := s.store.ListFaults(ctx, liftrescue.FaultFilter{ElevatorID: e.ID, Since: s.now().Add(-recentFaultsPeriod), Paging: liftrescue.Paging{Limit: 1}})
	if err != nil {
		return fmt.Errorf("faults of elevator %d: %w", e.ID, err)
	}
	out.RecentFaults = faults.Total
	return c.JSON(http.StatusOK, out)
}

// elevatorByPath finds the elevator the :code path parameter names.
func (s *Server) elevatorByPath(c echo.Context) (*liftrescue.Elevator, error) {
	code := c.Param("code")
	if !liftrescue.IsRescueCode(code) && !liftrescue.IsEquipmentCode(code) {
		return nil, liftrescue.Invalid("code", fmt.Sprintf("%q is neither a rescue code (%d to %d digits) nor a 20-digit equipment code",
			shorten(code), liftrescue.RescueCodeMinLen, liftrescue.RescueCodeMaxLen))
	}
	e, err := s.store.FindElevatorByCode(c.Request().Context(), code)
	if err != nil {
		return nil, err
	}
	if err := checkDistrict(c, "elevator", e.District); err != nil {
		return nil, err
	}
	return e, nil
}

func (s *Server) listElevators(c echo.Context) error {
	f := liftrescue.ElevatorFilter{District: c.QueryParam("district"), Q: c.QueryParam("q")}
	if err := scopeDistrict(c, &f.District); err != nil {
		return err
	}
	var err error
	if b := c.QueryParam("bbox"); b != "" {
		if f.BBox, err = liftrescue.ParseBBox(b); err != nil {
			return err
		}
	}
	if f.UserUnitID, err = queryID(c, "user_unit_id"); err != nil {
		return err
	}
	if f.MaintenanceUnitID, err = queryID(c, "maintenance_unit_id"); err != nil {
		return err
	}
	if f.Paging, err = paging(c); err != nil {
		return err
	}
	page, err := s.store.ListElevators(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return writeElevatorPage(c, page)
}

// writeElevatorPage writes a page of elevators with their own encoder: a map view asks for a
// thousand at a time, and encoding/json would spend longer on them than the database.
func writeElevatorPage(c echo.Context, page *liftrescue.Page[*liftrescue.Elevator]) error {
	b := make([]byte, 0, 64+len(page.Items)*600)
	b = append(b, `{"items":[`...)
	for i, e := range page.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = e.AppendJSON(b)
	}
	b = append(b, `],"total":`...)
	b = strconv.AppendInt(b, int64(page.Total), 10)
	b = append(b, `,"next_cursor":"`...)
	b = append(b, page.NextCursor...) // base64url: nothing to escape
	b = append(b, "\"}\n"...)
	return c.JSONBlob(http.StatusOK, b)
}

func (s *Server) createElevator(c echo.Context) error {
	return create(c, s.store.CreateElevator, func(e *liftrescue.Elevator) string { return "/api/v1/elevators/" + e.RescueCode })
}

func (s *Server) updateElevator(c echo.Context) error {
	old, err := s.elevatorByPath(c)
	if err != nil {
		return err
	}
	return replace(c, old.ID, s.store.UpdateElevator, func(e *liftrescue.Elevator, id int64) { e.ID = id })
}

func (s *Server) deleteElevator(c echo.Context) error {
	e, err := s.elevatorByPath(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteElevator(c.Request().Context(), e.ID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listDistricts(c echo.Context) error {
	ds, err := s.store.ListDistricts(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, liftrescue.Page[*liftrescue.District]{Items: ds, Total: len(ds)})
}

func (s *Server) getDistrict(c echo.Context) error {
	return respond(c)(s.store.FindDistrict(c.Request().Context(), c.Param("code")))
}

func (s *Server) putDistrict(c echo.Context) error {
	var d liftrescue.District
	if err := decodeJSON(c, &d); err != nil {
		return err
	}
	if d.Code != "" && d.Code != c.Param("code") {
		return liftrescue.Invalid("code", "differs from the code in the path")
	}
	d.Code = c.Param("code")
	if err := s.store.UpsertDistrict(c.Request().Context(), &d); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (s *Server) listOrganizations(c echo.Context) error {
	f := liftrescue.OrganizationFilter{Kind: liftrescue.OrgKind(c.QueryParam("kind")), District: c.QueryParam("district"), Q: c.QueryParam("q")}
	if f.Kind != "" && !f.Kind.Valid() {
		return liftrescue.Invalid("kind", "must be one of user_unit, maintenance, volunteer, fire, regulator")
	}
	var err error
	if f.Paging, err = paging(c); err != nil {
		return err
	}
	return respond(c)(s.store.ListOrganizations(c.Request().Context(), f))
}

func (s *Server) getOrganization(c echo.Context) error { return findByID(c, s.store.FindOrganization) }

func (s *Server) createOrganization(c echo.Context) error {
	return create(c, s.store.CreateOrganization, func(o *liftrescue.Organization) string { return "/api/v1/organizations/" + strconv.FormatInt(o.ID, 10) })
}

func (s *Server) updateOrganization(c echo.Context) error {
	return replaceByPath(c, s.store.UpdateOrganization, func(o *liftrescue.Organization, id int64) { o.ID = id })
}

func (s *Server) deleteOrganization(c echo.Context) error {
	return deleteByID(c, s.store.DeleteOrganization)
}

func (s *Server) listTeams(c echo.Context) error {
	var f liftrescue.TeamFilter
	var err error
	if f.OrganizationID, err = queryID(c, "organization_id"); err != nil {
		return err
	}
	if f.Paging, err = paging(c); err != nil {
		return err
	}
	return respond(c)(s.store.ListTeams(c.Request().Context(), f))
}

func (s *Server) getTeam(c echo.Context) error { return findByID(c, s.store.FindTeam) }

func (s *Server) createTeam(c echo.Context) error {
	return create(c, s.store.CreateTeam, func(t *liftrescue.Team) string { return "/api/v1/teams/" + strconv.FormatInt(t.ID, 10) })
}

func (s *Server) updateTeam(c echo.Context) error {
	return replaceByPath(c, s.store.UpdateTeam, func(t *liftrescue.Team, id int64) { t.ID = id })
}

func (s *Server) deleteTeam(c echo.Context) error { return deleteByID(c, s.store.DeleteTeam) }

func (s *Server) createVehicle(c echo.Context) error {
	return create(c, s.store.CreateVehicle, func(v *liftrescue.Vehicle) string { return "/api/v1/vehicles/" + strconv.FormatInt(v.ID, 10) })
}

func (s *Server) updateVehicle(c echo.Context) error {
	return replaceByPath(c, s.store.UpdateVehicle, func(v *liftrescue.Vehicle, id int64) { v.ID = id })
}

func (s *Server) deleteVehicle(c echo.Context) error { return deleteByID(c, s.store.DeleteVehicle) }

func (s *Server) importElevators(c echo.Context) error {
	return s.importCSV(c, func(ctx context.Context, r io.Reader, opt csvimport.Options, iopt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
		return csvimport.ImportElevators(ctx, s.store, r, opt, iopt)
	})
}

func (s *Server) importOrganizations(c echo.Context) error {
	return s.importCSV(c, func(ctx context.Context, r io.Reader, opt csvimport.Options, iopt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
		return csvimport.ImportOrganizations(ctx, s.store, r, opt, iopt)
	})
}

func (s *Server) importDistricts(c echo.Context) error {
	ds, err := geo.ReadDistricts(c.Request().Body, c.QueryParam("crs"))
	if err != nil {
		return err
	}
	return respond(c)(liftrescue.UpsertDistricts(c.Request().Context(), s.store, ds))
}

type importFunc func(context.Context, io.Reader, csvimport.Options, liftrescue.ImportOptions) (*liftrescue.ImportResult, error)

// importCSV takes the file as the raw body (text/csv) or as the "file" part of a form upload.
func (s *Server) importCSV(c echo.Context, run importFunc) error {
	var iopt liftrescue.ImportOptions
	var err error
	if iopt.Partial, err = queryBool(c, "partial"); err != nil {
		return err
	}
	if iopt.DryRun, err = queryBool(c, "dry_run"); err != nil {
		return err
	}
	opt := csvimport.Options{CRS: c.QueryParam("crs"), Location: s.cfg.Location}
	body := c.Request().Body
	if mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType)); mt == echo.MIMEMultipartForm {
		fh, err := c.FormFile("file")
		var maxErr *http.MaxBytesError
		switch {
		case errors.As(err, &maxErr):
			return err
		case err != nil:
			return liftrescue.Errorf(liftrescue.EBADREQUEST, "send the CSV as the form field \"file\"")
		}
		f, err := fh.Open()
		if err != nil {
			return fmt.Errorf("open upload: %w", err)
		}
		defer f.Close()
		body = f
	}
	return respond(c)(run(c.Request().Context(), body, opt, iopt))
}
