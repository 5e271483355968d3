package hooks

import (
	"errors"
	"fmt"
	"strings"
)

// ExitRetryLater is the exit code by which a script asks to be run again later.
const ExitRetryLater = 21

// Sentinel errors of the script runner, found with errors.Is in a [*ScriptError].
var (
	// ErrNoInterpreter is returned when the program a script needs (sh, pwsh,
	// powershell.exe, cmd) is not found; the message names the ones looked for.
	ErrNoInterpreter = errors.New("hooks: no interpreter found")
	// ErrNotRunnable is returned when a file matches a phase and module but cannot run
	// here: no executable bit and no known extension, or a Windows-only extension.
	ErrNotRunnable = errors.New("hooks: script cannot run")
	// ErrTimeout is returned when a script ran longer than its timeout and was killed.
	ErrTimeout = errors.New("hooks: script timed out")
	// ErrExitCode is returned when a script exited with a code other than 0 and
	// [ExitRetryLater].
	ErrExitCode = errors.New("hooks: script failed")
)

// ScriptError describes a script that could not run, failed, timed out or asked to retry
// later. Err says why: it wraps [ErrExitCode], [ErrRetryLater], [ErrTimeout],
// [ErrNoInterpreter], [ErrNotRunnable], the context's error on cancellation, or the
// error of starting the process.
type ScriptError struct {
	// Script is the script's full path.
	Script string
	// Phase is the phase it ran at.
	Phase Phase
	// ExitCode is the script's exit code, or -1 when it did not exit by itself (not
	// started, killed).
	ExitCode int
	// TimedOut reports whether the script was killed for running past its timeout.
	TimedOut bool
	// Tail holds the last lines of its output (stdout and stderr interleaved).
	Tail []string
	// Err is the cause.
	Err error
}

// Error describes the failure, naming what is at fault.
func (e *ScriptError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hooks: %s script %s", e.Phase, e.Script)
	switch {
	case e.TimedOut:
		fmt.Fprintf(&b, " timed out and was killed: %v", e.Err)
	case e.ExitCode >= 0:
		fmt.Fprintf(&b, " exited with code %d", e.ExitCode)
		if e.Err != nil && e.Err != ErrExitCode {
			fmt.Fprintf(&b, ": %v", e.Err)
		}
	default:
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if len(e.Tail) > 0 {
		b.WriteString("; last output: ")
		b.WriteString(strings.Join(e.Tail, " | "))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *ScriptError) Unwrap() error { return e.Err }
