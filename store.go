package liftrescue

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Store is everything the service keeps: the registry today, incidents and grids as they come.
// Two implementations, store/sqlite and store/postgres, pass the same conformance suite
// (store/storetest).
type Store interface {
	DistrictService
	OrganizationService
	ElevatorService
	TeamService
	VehicleService
	PositionService
	IncidentService
	AccountService
	GridService
	TerminalService
	FaultService

	// Ready returns nil when the database answers and its schema is at the version this binary
	// expects; else EUNAVAILABLE.
	Ready(ctx context.Context) error
	Close() error
}

// DistrictService keeps the districts of the city.
type DistrictService interface {
	// ListDistricts returns every district ordered by code.
	ListDistricts(ctx context.Context) ([]*District, error)
	// FindDistrict returns ENOTFOUND if no district has the code.
	FindDistrict(ctx context.Context, code string) (*District, error)
	// UpsertDistrict creates the district or replaces the one with its code. Returns EINVALID.
	UpsertDistrict(ctx context.Context, d *District) error
}

// OrganizationService keeps user units, maintenance companies, volunteer units, fire stations and
// regulators.
type OrganizationService interface {
	// FindOrganization returns ENOTFOUND if no organisation has the id.
	FindOrganization(ctx context.Context, id int64) (*Organization, error)
	// FindOrganizationByCode returns ENOTFOUND if no organisation has the code.
	FindOrganizationByCode(ctx context.Context, code string) (*Organization, error)
	// ListOrganizations returns a page of organisations ordered by id. Returns EINVALID for a bad
	// cursor.
	ListOrganizations(ctx context.Context, f OrganizationFilter) (*Page[*Organization], error)
	// CreateOrganization stores o and sets its ID and timestamps. Returns EINVALID (including an
	// unknown district) and ECONFLICT if the code is taken.
	CreateOrganization(ctx context.Context, o *Organization) error
	// UpdateOrganization replaces the organisation with o.ID. Returns ENOTFOUND, EINVALID,
	// ECONFLICT if the code is taken, and ECONFLICT when the kind changes while elevators, teams
	// or grids rely on the old kind.
	UpdateOrganization(ctx context.Context, o *Organization) error
	// DeleteOrganization returns ENOTFOUND, and ECONFLICT while elevators or teams refer to it, or
	// a grid of a draft or of the active plan names it.
	DeleteOrganization(ctx context.Context, id int64) error
	// ImportOrganizations upserts rows by code. See ImportOptions for all-or-nothing and dry runs.
	// Returns EINVALID with a Detail per bad row when nothing was written.
	ImportOrganizations(ctx context.Context, rows []OrganizationRow, opt ImportOptions) (*ImportResult, error)
}

// ElevatorService keeps the elevator archive.
type ElevatorService interface {
	// FindElevatorByCode finds an elevator by its rescue code or, for 20 digits, its equipment
	// code. Returns ENOTFOUND.
	FindElevatorByCode(ctx context.Context, code string) (*Elevator, error)
	// FindElevator returns ENOTFOUND if no elevator has the id.
	FindElevator(ctx context.Context, id int64) (*Elevator, error)
	// ListElevators returns a page of elevators ordered by id. Returns EINVALID for a bad cursor.
	ListElevators(ctx context.Context, f ElevatorFilter) (*Page[*Elevator], error)
	// CreateElevator stores e and sets its ID and timestamps. Returns EINVALID (including an
	// unknown district, or a unit that is missing or of the wrong kind) and ECONFLICT if the rescue
	// code or the equipment code is taken.
	CreateElevator(ctx context.Context, e *Elevator) error
	// UpdateElevator replaces the elevator with e.ID. Returns ENOTFOUND, EINVALID and ECONFLICT as
	// CreateElevator.
	UpdateElevator(ctx context.Context, e *Elevator) error
	// DeleteElevator returns ENOTFOUND.
	DeleteElevator(ctx context.Context, id int64) error
	// ImportElevators upserts rows by equipment code. Returns EINVALID with a Detail per bad row
	// (unknown units, a rescue code held by another elevator, …) when nothing was written.
	ImportElevators(ctx context.Context, rows []ElevatorRow, opt ImportOptions) (*ImportResult, error)
	// EachElevatorPosition calls fn with the id and WGS-84 position of every elevator, in ascending id
	// order, streaming (it never holds all of them in memory). It stops at the first error fn returns and
	// returns it. It reads one consistent snapshot.
	//
	// It is how the live index loads at start-up, so it is built for speed: fn runs while the
	// database is read, and should be quick and not hold on to anything. When ctx ends it stops and
	// returns ctx's error.
	EachElevatorPosition(ctx context.Context, fn func(id int64, lon, lat float64) error) error
}

// TeamService keeps rescue teams.
type TeamService interface {
	// FindTeam returns ENOTFOUND.
	FindTeam(ctx context.Context, id int64) (*Team, error)
	// ListTeams returns a page of teams ordered by id.
	ListTeams(ctx context.Context, f TeamFilter) (*Page[*Team], error)
	// CreateTeam returns EINVALID when the organisation is missing.
	CreateTeam(ctx context.Context, t *Team) error
	// UpdateTeam returns ENOTFOUND and EINVALID.
	UpdateTeam(ctx context.Context, t *Team) error
	// DeleteTeam returns ENOTFOUND, and ECONFLICT while vehicles belong to it.
	DeleteTeam(ctx context.Context, id int64) error
}

// VehicleService keeps rescue vehicles.
type VehicleService interface {
	// FindVehicle returns ENOTFOUND.
	FindVehicle(ctx context.Context, id int64) (*Vehicle, error)
	// ListVehicles returns a page of vehicles ordered by id.
	ListVehicles(ctx context.Context, f VehicleFilter) (*Page[*Vehicle], error)
	// CreateVehicle returns EINVALID when the team is missing, and ECONFLICT if the plate or the
	// device id is taken.
	CreateVehicle(ctx context.Context, v *Vehicle) error
	// UpdateVehicle returns ENOTFOUND, EINVALID and ECONFLICT as CreateVehicle.
	UpdateVehicle(ctx context.Context, v *Vehicle) error
	// DeleteVehicle returns ENOTFOUND. The vehicle's position history goes with it.
	DeleteVehicle(ctx context.Context, id int64) error
}

// PositionService keeps the position history of rescue vehicles: every accepted fix, written in
// batches by the ingest pipeline. Times are kept in UTC to the microsecond (truncated); a measure
// that is NaN (Unknown) comes back NaN. The history keeps the vehicle, not the tracker: positions
// read back have an empty DeviceID. Deleting a vehicle deletes its history.
type PositionService interface {
	// AppendPositions stores a batch of accepted fixes in one transaction (all or nothing); an
	// empty batch is nil. Returns EINVALID, with a Detail naming each bad position by its Index,
	// when a position names no vehicle, is not a real place, or has an alarm that is not text.
	AppendPositions(ctx context.Context, ps []Position) error
	// Track returns a vehicle's positions with from <= time < to (device time), oldest first, at
	// most limit (0 means MaxTrackPoints); positions with the same time come in no set order.
	// Returns EINVALID when to is before from or limit is out of range, and ENOTFOUND when no
	// vehicle has the id; a vehicle with no positions in the range gives an empty slice.
	Track(ctx context.Context, vehicleID int64, from, to time.Time, limit int) ([]Position, error)
	// LatestPositions returns the newest stored position (by device time) of every vehicle that
	// has one, ordered by vehicle id, for the live index at start-up.
	LatestPositions(ctx context.Context) ([]Position, error)
	// DeletePositionsBefore removes the positions taken (device time) before t, for retention,
	// and says how many went. It may delete in several transactions so as not to hold up the
	// ingest: after an error the count says how many went, and running it again finishes the job.
	DeletePositionsBefore(ctx context.Context, t time.Time) (int64, error)
}

// MaxTrackPoints bounds one Track answer.
const MaxTrackPoints = 100_000

// Position is a fix of a known vehicle as the history keeps it.
type Position struct {
	VehicleID int64 `json:"vehicle_id"`
	Fix
	// ReceivedAt is when the server accepted the fix; Fix.Time is when the device took it.
	ReceivedAt time.Time `json:"received_at"`
}

// Page is one page of a list. NextCursor is empty on the last page.
type Page[T any] struct {
	Items      []T    `json:"items"`
	Total      int    `json:"total"`
	NextCursor string `json:"next_cursor"`
}

// Paging limits of every list.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Paging is the part every list filter shares.
type Paging struct {
	Limit  int    // 0 means DefaultLimit
	Cursor string // from the previous page's NextCursor
}

// Normalize fills the default limit and checks the bounds. It returns the id to start after.
func (p *Paging) Normalize() (after int64, err error) {
	switch {
	case p.Limit == 0:
		p.Limit = DefaultLimit
	case p.Limit < 0 || p.Limit > MaxLimit:
		return 0, Invalid("limit", "must be between 1 and "+strconv.Itoa(MaxLimit))
	}
	return DecodeCursor(p.Cursor)
}

// TotalOfFirstPage says whether a list's total is known without counting: on the first page, when
// fewer than limit+1 items came back, they are all there are. A map view's bbox list is usually
// such a page, and counting costs as much again as listing.
func TotalOfFirstPage[T any](items []T, limit int, after int64) (total int, known bool) {
	if after == 0 && len(items) <= limit {
		return len(items), true
	}
	return 0, false
}

// BBox is a rectangle of WGS-84 coordinates.
type BBox struct {
	MinLon, MinLat, MaxLon, MaxLat float64
}

// ParseBBox reads "minLon,minLat,maxLon,maxLat".
func ParseBBox(s string) (*BBox, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return nil, Invalid("bbox", "want minLon,minLat,maxLon,maxLat")
	}
	var v [4]float64
	for i, part := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
		if err != nil {
			return nil, Invalid("bbox", "want minLon,minLat,maxLon,maxLat as numbers")
		}
		v[i] = f
	}
	b := &BBox{v[0], v[1], v[2], v[3]}
	for _, c := range [][2]float64{{b.MinLon, b.MinLat}, {b.MaxLon, b.MaxLat}} {
		if c[0] < -180 || c[0] > 180 || c[1] < -90 || c[1] > 90 || c[0] != c[0] || c[1] != c[1] {
			return nil, Invalid("bbox", "corners must be within -180..180 and -90..90")
		}
	}
	if b.MinLon > b.MaxLon || b.MinLat > b.MaxLat {
		return nil, Invalid("bbox", "min must not exceed max")
	}
	return b, nil
}

// OrganizationFilter selects organisations.
type OrganizationFilter struct {
	Kind     OrgKind
	District string
	Q        string // matches a code prefix or part of the name
	Paging
}

// ElevatorFilter selects elevators.
type ElevatorFilter struct {
	BBox     *BBox
	District string
	// Q made only of digits matches a prefix of the rescue or the equipment code, through their
	// unique indexes; any other Q matches part of the address or the building, which scans.
	Q                 string
	UserUnitID        int64
	MaintenanceUnitID int64
	Paging
}

// TeamFilter selects teams.
type TeamFilter struct {
	OrganizationID int64
	Paging
}

// VehicleFilter selects vehicles.
type VehicleFilter struct {
	TeamID         int64
	OrganizationID int64
	Paging
}

// EncodeCursor makes the opaque cursor that continues a list after the given id.
func EncodeCursor(after int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("after:" + strconv.FormatInt(after, 10)))
}

// DecodeCursor reads a cursor made by EncodeCursor; "" starts at the beginning.
func DecodeCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	rest, ok := strings.CutPrefix(string(b), "after:")
	id, perr := strconv.ParseInt(rest, 10, 64)
	if err != nil || !ok || perr != nil || id < 0 {
		return 0, Invalid("cursor", "not a cursor this server issued")
	}
	return id, nil
}

// ImportOptions control a bulk import.
type ImportOptions struct {
	// Partial writes the good rows and reports the bad ones; by default one bad row writes nothing.
	Partial bool
	// DryRun checks everything, including against what is stored, and writes nothing.
	DryRun bool
	// Columns names the columns the rows carry, as the CSV files name them (rescue_code,
	// user_unit_code, duty_phones, contacts, lat, lon, ...). A row that updates a stored record
	// writes only these, so a file that leaves a column out keeps what is stored in it; a new
	// record gets the row's values, the zero value for a column left out. A position is written
	// only when both lat and lon are named. nil means every column, as a JSON batch or the demo
	// seed gives them.
	Columns []string
}

// Has reports whether the rows carry the column: always when Columns is nil.
func (o ImportOptions) Has(column string) bool {
	return o.Columns == nil || slices.Contains(o.Columns, column)
}

// ImportResult says what an import did.
type ImportResult struct {
	Rows     int      `json:"rows"`
	Created  int      `json:"created"`
	Updated  int      `json:"updated"`
	Rejected int      `json:"rejected"`
	Errors   []Detail `json:"errors"`
	DryRun   bool     `json:"dry_run"`
	// Encoding names the file's character set when it was converted (GB18030 files are common).
	Encoding string `json:"encoding,omitempty"`
}

// OrganizationRow is one organisation read from an import file.
type OrganizationRow struct {
	Line int
	Org  Organization
}

// ElevatorRow is one elevator read from an import file. Units are named by organisation code
// because ids differ between systems.
type ElevatorRow struct {
	Line                int
	Elevator            Elevator
	UserUnitCode        string
	MaintenanceUnitCode string
}

// Settle decides what an import does once its rows are checked. Errors lists the problems of the
// bad rows, Created and Updated count the good ones. With problems and no Partial, it returns the
// EINVALID error that writes nothing; on a dry run it writes nothing either.
func (r *ImportResult) Settle(opt ImportOptions, what string) (write bool, err error) {
	sort.SliceStable(r.Errors, func(i, j int) bool { return r.Errors[i].Line < r.Errors[j].Line })
	// A row is known by its line in a file, else by its index in a batch; a detail with neither
	// stands for a row of its own.
	rows := map[[2]int]bool{}
	for i, d := range r.Errors {
		key := [2]int{d.Line, -1 - i}
		if d.Index != nil {
			key[1] = *d.Index
		}
		if d.Line > 0 {
			key[1] = 0
		}
		rows[key] = true
	}
	r.Rejected = len(rows)
	r.DryRun = opt.DryRun
	if r.Rejected > 0 && !opt.Partial {
		return false, &Error{
			Code:    EINVALID,
			Message: fmt.Sprintf("%d of %d %s rows are invalid; nothing was imported", r.Rejected, r.Rows, what),
			Details: r.Errors,
		}
	}
	return !opt.DryRun && r.Created+r.Updated > 0, nil
}

// EachPage calls fn with every item of a paged list, page by page, until the list ends or ctx
// does.
func EachPage[T any](ctx context.Context, list func(Paging) (*Page[T], error), fn func(T)) error {
	p := Paging{Limit: MaxLimit}
	for {
		page, err := list(p)
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			fn(it)
		}
		if page.NextCursor == "" || ctx.Err() != nil {
			return ctx.Err()
		}
		p.Cursor = page.NextCursor
	}
}
