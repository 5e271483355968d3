package update

import (
	"os"
	"path/filepath"
	"strings"
)

// holdsExecutable reports whether the module's folder holds the running program's
// executable, as captured when the process started.
func (e *Engine) holdsExecutable(m *ModuleConfig) bool {
	exe := startExecutable()
	if exe == "" {
		return false
	}
	dir := filepath.Clean(m.Path) + string(filepath.Separator)
	return strings.HasPrefix(exe, dir)
}

// Executable is the running program's path as it was at start-up, with links
// resolved. After a swap of the program's own folder, /proc/self/exe follows the old,
// renamed binary; this path names the new one.
func Executable() string { return startExecutable() }

// Restart replaces the running program with the executable found at its start-up path
// (the new version after a self-update), with the same arguments and environment. On
// Unix it does not return on success; on Windows it starts the new process and exits.
func Restart() error {
	exe := startExecutable()
	if exe == "" {
		return os.ErrNotExist
	}
	return reexec(exe, os.Args, os.Environ())
}
