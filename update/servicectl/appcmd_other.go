//go:build !windows

package servicectl

import "os/exec"

// appcmdPath returns appcmd from PATH: IIS runs on Windows only, so elsewhere it is a
// stand-in (tests).
func appcmdPath() (string, error) { return exec.LookPath("appcmd") }
