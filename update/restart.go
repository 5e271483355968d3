package update

import (
	"path/filepath"
	"strings"
)

// holdsExecutable reports whether the module's folder holds the running program's
// executable, as captured when the process started (InstallResult.SelfUpdate).
func (e *Engine) holdsExecutable(m *ModuleConfig) bool {
	return underDir(startExe, m.Path)
}

// underDir reports whether file lies under dir. The executable's path has its links
// resolved, so dir's parent is resolved too (a module under /tmp on macOS lives in
// /private/tmp); dir itself is the entry the engine swaps and is taken as named.
func underDir(file, dir string) bool {
	if file == "" {
		return false
	}
	dir = filepath.Clean(dir)
	if p, err := filepath.EvalSymlinks(filepath.Dir(dir)); err == nil {
		dir = filepath.Join(p, filepath.Base(dir))
	}
	return strings.HasPrefix(file, dir+string(filepath.Separator))
}
