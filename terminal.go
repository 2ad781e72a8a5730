package liftrescue

import (
	"context"
	"strings"
	"time"
)

// Terminal is an IoT terminal (物联网终端) registered on an elevator, so that its reports, which
// name only the terminal, reach the elevator. A terminal is on one elevator; an elevator may have
// several (a car-top sensor box and the controller's own interface).
type Terminal struct {
	ID         string `json:"terminal_id"`
	ElevatorID int64  `json:"elevator_id"`
	// EquipmentCode and District are the elevator's, read with the terminal (joined from the
	// elevator on every read; ignored by PutTerminal), so that a report naming only the terminal
	// is resolved and counted by district without reading the elevator.
	EquipmentCode string `json:"equipment_code"`
	District      string `json:"district"`
	// Platform names the IoT platform (usually the maintenance company's or the vendor's) that
	// runs the terminal, so that an admin knows whom to call when it goes quiet; Model is the
	// device's make and model. Both are free text, optional.
	Platform  string    `json:"platform"`
	Model     string    `json:"model"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// LastSeen is when the service last heard from the terminal (any report: an alarm, a status
	// report, a heartbeat), nil for never. The store keeps it up to a minute behind; the service's
	// own answer is current.
	LastSeen *time.Time `json:"last_seen"`
}

// Validate normalises the terminal's text and checks it.
func (t *Terminal) Validate() error {
	var p problems
	t.Platform = strings.TrimSpace(t.Platform)
	t.Model = strings.TrimSpace(t.Model)
	if t.ID == "" || len(t.ID) > maxTerminalID || !printableASCII(t.ID) {
		p.add("terminal_id", "must be 1 to %d printable ASCII characters without spaces", maxTerminalID)
	}
	if t.ElevatorID <= 0 {
		p.add("elevator_id", "missing: name the elevator the terminal is fitted in")
	}
	checkText(&p, "platform", t.Platform, false, 100)
	checkText(&p, "model", t.Model, false, 100)
	return p.err("terminal")
}

// TerminalFilter selects terminals. Terminals are ordered by their id (text), so the cursor is
// the last id of the page before, not a number.
type TerminalFilter struct {
	ElevatorID int64
	Limit      int    // 0 means DefaultLimit; at most MaxLimit
	After      string // the last terminal id of the page before
}

// TerminalService keeps the terminals registered on elevators. Deleting an elevator deletes its
// terminals.
type TerminalService interface {
	// PutTerminal registers the terminal or replaces the one with its id (moving it to another
	// elevator, say); it sets the times, the elevator's EquipmentCode and District, and leaves
	// LastSeen as stored. created says which. Returns EINVALID, naming elevator_id when no
	// elevator has that id; ECONFLICT, rarely, when others register and delete the same id all
	// the while.
	PutTerminal(ctx context.Context, t *Terminal) (created bool, err error)
	// FindTerminal returns ENOTFOUND.
	FindTerminal(ctx context.Context, id string) (*Terminal, error)
	// ListTerminals returns terminals ordered by id (bytewise), at most f.Limit after f.After, and
	// whether more follow. Returns EINVALID for a limit out of range or an After no id can be.
	ListTerminals(ctx context.Context, f TerminalFilter) (ts []*Terminal, more bool, err error)
	// DeleteTerminal returns ENOTFOUND.
	DeleteTerminal(ctx context.Context, id string) error
	// TouchTerminals records when terminals were last heard from: each one's LastSeen becomes the
	// later of the stored time and the given one. Ids not registered (any more) are skipped.
	TouchTerminals(ctx context.Context, seen map[string]time.Time) error
}

// TerminalStatus says whether a terminal is reporting.
type TerminalStatus string

const (
	TerminalOnline  TerminalStatus = "online"  // heard from within the offline limit
	TerminalOffline TerminalStatus = "offline" // silent for longer than the limit
	TerminalNever   TerminalStatus = "never"   // registered but never heard from
)

// TerminalState is a terminal with what the service knows of it now.
type TerminalState struct {
	Terminal
	Status TerminalStatus `json:"status"`
	// State is the latest running state the terminal reported since the service started, and
	// StateAt when; nil for none.
	State   *RunningState `json:"state"`
	StateAt *time.Time    `json:"state_at"`
}

// TerminalSummary is the share of terminals reporting, the figure supervisors watch, for the city
// or one district.
type TerminalSummary struct {
	District   string `json:"district,omitempty"`
	Registered int    `json:"registered"`
	Online     int    `json:"online"`
	Offline    int    `json:"offline"`
	Never      int    `json:"never"`
	// ShareOnline is Online / Registered (0 with none registered).
	ShareOnline float64 `json:"share_online"`
}

// Count adds a terminal of the status to the summary.
func (s *TerminalSummary) Count(status TerminalStatus) {
	s.Registered++
	switch status {
	case TerminalOnline:
		s.Online++
	case TerminalOffline:
		s.Offline++
	default:
		s.Never++
	}
	s.ShareOnline = float64(s.Online) / float64(s.Registered)
}

// TerminalsReport is the summary of the city, each district's, and the limit they are judged by.
type TerminalsReport struct {
	TerminalSummary
	OfflineAfterS float64           `json:"offline_after_s"`
	Districts     []TerminalSummary `json:"districts"`
}

// Fault is one entry of an elevator's fault record (故障记录): an alarm or fault its terminal
// reported, with the repeats of the same code within the repeat window counted on it rather than
// written again. Trapped-passenger alarms are faults too, linked to the incident they opened.
type Fault struct {
	ID         int64          `json:"id"`
	ElevatorID int64          `json:"elevator_id"`
	TerminalID string         `json:"terminal_id,omitempty"`
	Namespace  AlarmNamespace `json:"namespace"`
	Code       string         `json:"code"`
	Kind       AlarmKind      `json:"kind"`
	Priority   int            `json:"priority"`
	State      *RunningState  `json:"state,omitempty"` // the car's state in the first report
	// FirstAt and LastAt are the terminal's times of the first and the latest report; Repeats
	// counts the reports (1 for one).
	FirstAt time.Time `json:"first_at"`
	LastAt  time.Time `json:"last_at"`
	Repeats int       `json:"repeats"`
	// IncidentID is the incident the report opened or was written on, 0 for none.
	IncidentID int64  `json:"incident_id,omitempty"`
	Sender     string `json:"sender"` // the platform or MQTT topic it came from
	// Counts says whether the fault counts towards the repeated-fault flag (AlarmKind.IsFault).
	Counts bool `json:"counts"`
}

// FaultRepeat adds reports to a stored fault.
type FaultRepeat struct {
	ID      int64
	Repeats int       // reports to add
	LastAt  time.Time // the latest report's time
}

// FaultFilter selects an elevator's faults, newest (FirstAt) first.
type FaultFilter struct {
	ElevatorID int64     // 0: every elevator's
	Since      time.Time // FirstAt >= Since; zero: all
	Paging               // the cursor is the last id of the page before
}

// FaultCount is how many counting faults one elevator had in a period.
type FaultCount struct {
	ElevatorID int64     `json:"elevator_id"`
	Faults     int       `json:"faults"`
	LastAt     time.Time `json:"last_at"` // the latest fault's FirstAt
}

// FaultService keeps the elevators' fault records.
type FaultService interface {
	// AppendFaults stores new faults in one transaction and sets their IDs. Returns EINVALID, with
	// a Detail per fault by its Index, when one names no elevator or holds text a database cannot
	// keep (a NUL, bytes that are not UTF-8); then nothing is written.
	AppendFaults(ctx context.Context, fs []*Fault) error
	// AddFaultRepeats adds repeats (each Repeats > 0) to stored faults in one transaction, moving
	// LastAt forward (never back). Ids not stored (any more) are skipped.
	AddFaultRepeats(ctx context.Context, rs []FaultRepeat) error
	// ListFaults returns a page of the elevator's faults, newest first (ties by id, newest first).
	// Total counts the elevator's faults since f.Since. Returns EINVALID for bad paging.
	ListFaults(ctx context.Context, f FaultFilter) (*Page[*Fault], error)
	// CountFaults returns the elevators with at least min counting faults whose FirstAt is at or
	// after since, most faults first (then the latest fault first, then elevator id).
	CountFaults(ctx context.Context, since time.Time, min int) ([]FaultCount, error)
}

// IsFault reports whether an alarm of the kind is a fault of the elevator, one that counts towards
// flagging an elevator whose faults repeat: not a change of mode, a return to normal or a "no
// fault", which are how an elevator works, not an alarm button (a passenger's press says nothing of
// the elevator unless another alarm does), nor an e-bike in the car or a terminal that went quiet
// (the terminal's fault, counted in the share online).
func (k AlarmKind) IsFault() bool {
	switch k {
	case "", AlarmModeChange, AlarmBackToNormal, AlarmNoFault, AlarmButton, AlarmEBike, AlarmTerminalOffline:
		return false
	}
	return true
}

// FlaggedElevator is an elevator whose faults repeat: at least the flag's number of counting
// faults within its period. Supervisors see the list; maintenance quality is judged by it.
type FlaggedElevator struct {
	ElevatorID        int64     `json:"elevator_id"`
	RescueCode        string    `json:"rescue_code"`
	EquipmentCode     string    `json:"equipment_code"`
	Address           string    `json:"address"`
	District          string    `json:"district"`
	MaintenanceUnitID int64     `json:"maintenance_unit_id"`
	Faults            int       `json:"faults"`
	LastAt            time.Time `json:"last_at"`
}

// FlaggedReport lists the flagged elevators with the rule that flagged them.
type FlaggedReport struct {
	Items   []FlaggedElevator `json:"items"`
	Min     int               `json:"min_faults"`
	PeriodS float64           `json:"period_s"`
	Since   time.Time         `json:"since"`
}
