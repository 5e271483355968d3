//go:build windows

package hooks

import (
	"os/exec"
	"strconv"
	"syscall"
)

// setProcessGroup makes the command's cancellation (timeout or cancelled context) kill
// the script's whole process tree with taskkill /T, then the script itself in case
// taskkill could not run.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
	cmd.Cancel = func() error {
		pid := strconv.Itoa(cmd.Process.Pid)
		_ = exec.Command("taskkill", "/T", "/F", "/PID", pid).Run()
		return cmd.Process.Kill()
	}
}
