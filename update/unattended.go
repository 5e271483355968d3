package update

import (
	"errors"
	"fmt"
	"slices"
)

// ErrFailedVersion is returned by an unattended Install (InstallOptions.Unattended)
// when the version it would install, or a step of the upgrade path to it, is the one
// the module's status records as failed (ModuleStatus.FailedVersion): nothing is
// downloaded or changed. A loop does not retry a failed version on its own; it tries
// again once a newer version is offered that does not need the failed one first. An
// install without Unattended (a person's) may retry it.
var ErrFailedVersion = errors.New("update: version failed before and is not retried unattended")

// unattended refuses an unattended install whose plan goes through the module's failed
// version. Install calls it once the plan (or the offline pack) is known and before
// anything is downloaded.
func (e *Engine) unattended(m *ModuleConfig, st *ModuleStatus, opts InstallOptions, refs []packRef) error {
	if !opts.Unattended {
		return nil
	}
	path := make([]string, len(refs))
	for i, r := range refs {
		path[i] = r.release.Version
	}
	return refuseFailed(m.Name, st, path)
}

// refuseFailed returns an error wrapping ErrFailedVersion when path, the versions to
// install in order, holds the failed version recorded in st.
func refuseFailed(module string, st *ModuleStatus, path []string) error {
	if st == nil || st.FailedVersion == "" || !slices.Contains(path, st.FailedVersion) {
		return nil
	}
	v := st.FailedVersion
	why := ""
	if st.LastError != "" {
		why = " (last error: " + st.LastError + ")"
	}
	step := ""
	if path[len(path)-1] != v {
		step = fmt.Sprintf(", and the path to %s goes through it", path[len(path)-1])
	}
	return fmt.Errorf("%s: %s: %w%s%s; a newer version is tried once offered, or install %s explicitly to retry it",
		module, v, ErrFailedVersion, why, step, v)
}
