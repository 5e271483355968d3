package agent

import (
	"errors"
	"time"
)

// The types below are what the agent shows of itself: the portal (package
// update/portal) renders them and serves them as JSON, so their JSON keys are the
// portal API's.

// OpKind is what an operation does.
type OpKind string

// Kinds of operation.
const (
	OpCheck    OpKind = "check"
	OpInstall  OpKind = "install"
	OpRollback OpKind = "rollback"
	OpScript   OpKind = "script" // a database script run or marked applied by a person
)

// OpResult is where an operation stands.
type OpResult string

// Results of an operation.
const (
	ResultRunning   OpResult = "running"
	ResultSucceeded OpResult = "succeeded"
	ResultFailed    OpResult = "failed"
)

// Operation is one check, install, rollback or script run, as the operations log in
// the state dir keeps it.
type Operation struct {
	ID      string    `json:"id"`
	Module  string    `json:"module"` // "" for a check of every module
	Kind    OpKind    `json:"kind"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	Result  OpResult  `json:"result"`
	Code    string    `json:"code"`
	Error   string    `json:"error"`
}

// Progress is where a running operation is: its step and, for steps that move
// bytes (download, extract), how many of how many.
type Progress struct {
	Operation string `json:"operation"`
	Module    string `json:"module"`
	Step      string `json:"step"`
	Done      int64  `json:"done"`
	Total     int64  `json:"total"`
	Message   string `json:"message"`
}

// RunningOp is the running operation of a module, as the module view shows it.
type RunningOp struct {
	ID    string `json:"id"`
	Kind  OpKind `json:"kind"`
	Step  string `json:"step"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
}

// ModuleView is one module as the portal shows it.
type ModuleView struct {
	Name      string  `json:"name"`
	Installed *string `json:"installed"`
	Latest    *string `json:"latest"`
	// Status is "up-to-date", "update", "installing", "maintenance", "failed",
	// "ineligible" or "error" (the check failed), or "unknown" before any check.
	Status      string  `json:"status"`
	Code        *string `json:"code"`
	Reason      *string `json:"reason"`
	Notes       *string `json:"notes"`
	Downloaded  bool    `json:"downloaded"`
	Maintenance bool    `json:"maintenance"`
	// MaintenanceForeign reports that the maintenance flag in the module's folder was
	// not placed by upkeep: a person takes it down (Agent.MaintenanceOff).
	MaintenanceForeign bool       `json:"maintenance_foreign,omitempty"`
	Operation          *RunningOp `json:"operation"`
	LastCheck          *time.Time `json:"last_check"`
	LastResult         string     `json:"last_result"`
	LastError          string     `json:"last_error"`
	Backups            []string   `json:"backups"`
	// Hold is the module's hold, nil when it is not on hold: no automatic install
	// until a person installs or releases it.
	Hold *Hold `json:"hold"`
	// NextCheck is when the agent checks next; nil when it runs no schedule (Run has
	// not started or has stopped).
	NextCheck *time.Time `json:"next_check"`
	// Window is the automatic install window in force for the module: nil when
	// nothing is installed automatically (no auto_install, or the module is on hold);
	// no days and no hours for any time.
	Window *WindowView `json:"window"`
	// Diagnostics answers "why is no version found": what the last check saw.
	Diagnostics Diagnostics `json:"diagnostics"`
	// Database is the database part of a module of kind database, nil for others.
	Database *DatabaseView `json:"database"`
}

// Diagnostics is what the last check saw of the source and the manifest, and the
// rights problem of the module folder, if any.
type Diagnostics struct {
	SourceReachable *bool      `json:"source_reachable"`
	ManifestSerial  *uint64    `json:"manifest_serial"`
	ManifestExpires *time.Time `json:"manifest_expires"`
	Problem         string     `json:"problem"`
}

// Event is what the agent tells subscribers: Progress of a running operation, or an
// Operation that ended.
type Event struct {
	Progress  *Progress  // set for a progress event
	Operation *Operation // set when an operation ended
}

// ErrNoOperation is returned for an operation ID the log does not hold.
var ErrNoOperation = errors.New("agent: no such operation")
