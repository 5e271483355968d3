package update

import (
	"os"
	"path/filepath"
)

// startExe is the running program's executable as it was when the process started,
// links resolved, "" when it cannot be told. It is captured when the package is
// initialised: once an install has swapped the program's folder, os.Executable
// follows the old binary into the backup. (Restarting is package handoff's job, which
// keeps its own capture: Executable, Restart, Handoff.Upgrade.)
var startExe = func() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return exe
}()
