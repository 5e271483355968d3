package update

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/update/maintenance"
)

// ModuleStatus is what the engine knows of one module, as `upkeep status --json`
// prints it. It is kept in the state dir, written atomically after every check and
// operation.
type ModuleStatus struct {
	Name string `json:"name"`
	// Installed is the installed version, nil when nothing is installed yet.
	Installed *string `json:"installed"`
	// Latest is the newest version the last successful check saw offered.
	Latest *string `json:"latest"`
	// Maintenance reports whether the module is in maintenance now.
	Maintenance bool `json:"maintenance"`
	// LastResult says what the last operation did ("installed 1.1.0", "rolled back to
	// 1.0.0", "recovered: …").
	LastResult string `json:"last_result"`
	// LastError is the last failure, "" after a success.
	LastError string `json:"last_error"`
	// Code is the code of LastError or of the last check's refusal.
	Code Code `json:"code,omitempty"`

	LastCheck   time.Time       `json:"last_check,omitzero"`
	CheckStatus manifest.Status `json:"check_status,omitempty"` // as ModuleCheck.Status
	CheckReason string          `json:"check_reason,omitempty"`
	// FailedVersion is a version whose install failed; the scheduler does not retry it
	// on its own until a newer one appears.
	FailedVersion string `json:"failed_version,omitempty"`
	// Problem is what the last check found that will make an install fail (a module
	// folder that cannot be written to).
	Problem  string         `json:"problem,omitempty"`
	Download *DownloadState `json:"download,omitempty"`
	Backups  []string       `json:"backups,omitempty"`
	Updated  time.Time      `json:"updated,omitzero"`
	// Managed reports whether upkeep has installed into the module's folder: from then
	// on the configured Installed version no longer applies.
	Managed bool `json:"managed,omitempty"`
}

// DownloadState is the progress of a pack download.
type DownloadState struct {
	Version string         `json:"version"`
	File    string         `json:"file"`
	Done    int64          `json:"done"`
	Total   int64          `json:"total"`
	State   DownloadStatus `json:"state"`
}

// DownloadStatus is where a pack's download stands.
type DownloadStatus string

// Download states.
const (
	DownloadRunning  DownloadStatus = "downloading" // bytes are arriving (or a cut download will resume)
	DownloadVerified DownloadStatus = "verified"    // the whole pack is there and checked: an install only extracts
	DownloadFailed   DownloadStatus = "failed"      // the last attempt failed; the next one starts again
)

// StatusError is the status of a module that could not be checked (the manifest was
// refused, the source could not be reached): beside manifest's own statuses.
const StatusError manifest.Status = "error"

func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// loadStatus reads a module's status; a module never seen has its configured
// Installed version (adoption of a tree that predates upkeep).
func (e *Engine) loadStatus(m *ModuleConfig) (*ModuleStatus, error) {
	st := &ModuleStatus{Name: m.Name}
	_, err := readJSON(e.state.module(m.Name, "status.json"), st)
	if err != nil {
		return nil, err
	}
	if st.Installed == nil && m.Installed != "" && !st.Managed {
		// Adoption holds until upkeep first changes the folder, whatever a check
		// recorded meanwhile.
		if _, err := os.Stat(m.Path); err == nil {
			st.Installed = strp(m.Installed)
		}
	}
	st.Name = m.Name
	// The latest seen is never older than what is installed: an install of a version
	// the last check had not seen (the command, while a portal shows the status).
	if st.Installed != nil && st.Latest != nil && olderThan(*st.Latest, *st.Installed) {
		st.Latest = strp(*st.Installed)
		if st.CheckStatus == manifest.StatusUpdate {
			st.CheckStatus = manifest.StatusUpToDate // nothing newer was seen
		}
	}
	return st, nil
}

// olderThan reports whether version a is older than b (false when either does not parse).
func olderThan(a, b string) bool {
	c, err := manifest.CompareVersions(a, b)
	return err == nil && c < 0
}

func (e *Engine) saveStatus(st *ModuleStatus) error {
	st.Updated = e.now()
	return e.writeJSON(e.state.module(st.Name, "status.json"), st)
}

// updateStatus loads, changes and saves a module's status, under a lock of its own
// (a check may record its result while an install records its own).
func (e *Engine) updateStatus(m *ModuleConfig, f func(st *ModuleStatus)) error {
	dir := e.state.module(m.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return stateErr(err)
	}
	lf, err := os.OpenFile(e.state.module(m.Name, "status.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return stateErr(err)
	}
	defer lf.Close()
	if err := lockWait(lf); err != nil {
		return err
	}
	defer unlock(lf)
	st, err := e.loadStatus(m)
	if err != nil {
		return err
	}
	f(st)
	return e.saveStatus(st)
}

// Status returns the status of every configured module, in configuration order.
func (e *Engine) Status(ctx context.Context) ([]ModuleStatus, error) {
	var out []ModuleStatus
	var errs []error
	for i := range e.cfg.Modules {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		m := &e.cfg.Modules[i]
		st, err := e.loadStatus(m)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.Name, err))
			st = &ModuleStatus{Name: m.Name, LastError: err.Error()}
		}
		st.Maintenance = e.inMaintenance(m)
		st.Backups = e.backupVersions(m)
		out = append(out, *st)
	}
	return out, errors.Join(errs...)
}

// ModuleStatus returns one module's status.
func (e *Engine) ModuleStatus(ctx context.Context, name string) (*ModuleStatus, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := e.cfg.Module(name)
	if err != nil {
		return nil, err
	}
	st, err := e.loadStatus(m)
	if err != nil {
		return nil, err
	}
	st.Maintenance = e.inMaintenance(m)
	st.Backups = e.backupVersions(m)
	return st, nil
}

func (e *Engine) inMaintenance(m *ModuleConfig) bool {
	if s := e.maint[m.Name]; s != nil && s.Active() {
		return true
	}
	if m.MaintenanceFile != "" {
		present, _, _ := maintenance.Flag{Name: m.MaintenanceFile}.Present(m.Path)
		return present
	}
	return false
}
