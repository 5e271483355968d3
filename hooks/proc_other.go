//go:build !unix && !windows

package hooks

import "os/exec"

// setProcessGroup keeps the default cancellation, which kills the script only: this
// system has no process groups to kill at once.
func setProcessGroup(*exec.Cmd) {}
