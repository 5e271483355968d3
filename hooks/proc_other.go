//go:build !unix && !windows

package hooks

import "os/exec"

// prepareTree keeps the default cancellation, which kills the script only: this
// system has no process groups to kill at once.
func prepareTree(*exec.Cmd) (started, release func()) { return func() {}, func() {} }
