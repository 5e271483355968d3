package handoff

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// ErrRestarted is returned by [Restart] on systems where a process cannot replace
// itself with a new executable (Windows): the new process has been started and this
// one should now return from main and exit. It is not a failure.
var ErrRestarted = errors.New("handoff: the new process is started; this one should exit")

// start is what this process was started from, captured when the package is
// initialised, before main runs and so before anything can swap the program's folder.
var start = captureStart()

type startInfo struct {
	exe  string   // the executable, links resolved; "" when err is set
	args []string // os.Args as it was, the program name first
	err  error
}

func captureStart() startInfo {
	s := startInfo{args: slices.Clone(os.Args)}
	exe, err := os.Executable()
	if err != nil {
		s.err = fmt.Errorf("handoff: finding this program's executable: %w", err)
		return s
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	s.exe = exe
	return s
}

// Executable returns the path of the running program's executable as it was when the
// process started, with links resolved. It is the path to start after a self-update:
// once the engine has swapped the program's folder, os.Executable (/proc/self/exe on
// Linux) follows the old binary into the backup folder, while this path names the new
// one.
func Executable() (string, error) { return start.exe, start.err }

// Restart replaces the running program with the executable at the path it was started
// from ([Executable]: the new version after a self-update), with the arguments it was
// started with and the current environment (without the variables of a handover).
// Listeners are not handed over: this is the restart for programs that do not serve,
// or the fallback where [Handoff.Upgrade] returns [ErrUnsupported].
//
// On Unix systems it replaces the process image (the process ID stays, so does a
// supervisor's view of it) and does not return on success. On other systems (Windows)
// it starts the new process with this one's standard input, output and error and
// returns [ErrRestarted]: the caller must then exit, which library code never does on
// its behalf. Close the listeners first there, since the new process binds the same
// addresses. Any other error means the program could not be restarted and keeps
// running.
func Restart() error {
	if start.err != nil {
		return start.err
	}
	if err := reexec(start.exe, start.args, environ()); err != nil {
		if errors.Is(err, ErrRestarted) {
			return err
		}
		return fmt.Errorf("handoff: restarting %s: %w", start.exe, err)
	}
	return nil
}
