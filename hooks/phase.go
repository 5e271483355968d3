package hooks

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownPhase is returned by [ParsePhase], and by [Scripts] for an event, when a
// phase name is not one of [Phases].
var ErrUnknownPhase = errors.New("hooks: unknown phase")

// Phase names a step of an install at which hooks run.
type Phase string

// The phases, in the order an install runs them. Rollback runs instead of the remaining
// ones, after a failed install was undone.
const (
	// StartUpdate runs before anything changes; maintenance is not on yet.
	StartUpdate Phase = "STARTUPDATE"
	// PreBackup runs just before the installed version is backed up.
	PreBackup Phase = "PREBACKUP"
	// PostBackup runs just after the backup was made.
	PostBackup Phase = "POSTBACKUP"
	// PreInstall runs just before the new files are put in place.
	PreInstall Phase = "PREINSTALL"
	// PostInstall runs with the new files in place, maintenance still on.
	PostInstall Phase = "POSTINSTALL"
	// EndUpdate runs after everything, maintenance off.
	EndUpdate Phase = "ENDUPDATE"
	// Rollback runs after a failed install was undone.
	Rollback Phase = "ROLLBACK"
)

// Phases returns all seven phases in run order; the caller may modify the slice.
func Phases() []Phase {
	return []Phase{StartUpdate, PreBackup, PostBackup, PreInstall, PostInstall, EndUpdate, Rollback}
}

// ParsePhase returns the phase named s, compared case-insensitively ("preinstall" is
// [PreInstall]). An unknown name gives an error wrapping [ErrUnknownPhase].
func ParsePhase(s string) (Phase, error) {
	for _, p := range Phases() {
		if strings.EqualFold(s, string(p)) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownPhase, s)
}

// Valid reports whether p is one of [Phases].
func (p Phase) Valid() bool {
	for _, q := range Phases() {
		if p == q {
			return true
		}
	}
	return false
}

// Aborts reports whether a failure of a hook at phase p should abort the install: true
// for every phase before [EndUpdate], false for EndUpdate and [Rollback], whose failures
// are reported but change no files. An unknown phase reports true, the safe side.
func (p Phase) Aborts() bool {
	return p != EndUpdate && p != Rollback
}

// String returns the phase's name, as scripts see it in E_PHASE.
func (p Phase) String() string { return string(p) }
