//go:build !unix

package handoff

import (
	"os"
	"os/exec"
)

// reexec starts exe as a new process, since this system cannot replace the process
// image, and returns ErrRestarted for the caller to exit.
func reexec(exe string, args, env []string) error {
	if len(args) > 0 {
		args = args[1:]
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	cmd.Process.Release()
	return ErrRestarted
}
