package update

import (
	"os"
	"path/filepath"
	"sync"
)

// startExecutable is captured once, the first time it is asked, which an Engine does
// at New: the path is a fact of the process, not of an engine.
var startExecutable = sync.OnceValue(func() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return exe
})
