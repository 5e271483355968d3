//go:build windows

package hooks

import (
	"os/exec"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/windows"
)

// prepareTree puts the script, once started, in a job object of its own, which the
// processes it starts afterwards join too (none may break away: the job does not
// allow it), and makes the command's cancellation (timeout or cancelled context)
// terminate that job, then kill what taskkill /T still finds of the script's process
// tree (a child started before the script joined the job), then the script itself.
// The job is closed without terminating it once the script ended, so that a process
// it left running, such as a service, keeps running. When the job cannot be made
// (an old Windows in a job of its own that forbids nesting), taskkill alone remains.
func prepareTree(cmd *exec.Cmd) (started, release func()) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
	var (
		mu  sync.Mutex
		job windows.Handle
	)
	cmd.Cancel = func() error {
		mu.Lock()
		if job != 0 {
			_ = windows.TerminateJobObject(job, 1)
		}
		mu.Unlock()
		pid := strconv.Itoa(cmd.Process.Pid)
		_ = exec.Command("taskkill", "/T", "/F", "/PID", pid).Run()
		return cmd.Process.Kill()
	}
	started = func() {
		j, err := windows.CreateJobObject(nil, nil)
		if err != nil {
			return
		}
		// The script's handle stays open in cmd.Process until Wait, so its pid names it.
		p, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(cmd.Process.Pid))
		if err != nil {
			_ = windows.CloseHandle(j)
			return
		}
		defer windows.CloseHandle(p)
		if err := windows.AssignProcessToJobObject(j, p); err != nil {
			_ = windows.CloseHandle(j)
			return
		}
		mu.Lock()
		job = j
		mu.Unlock()
	}
	release = func() {
		mu.Lock()
		defer mu.Unlock()
		if job != 0 {
			_ = windows.CloseHandle(job)
			job = 0
		}
	}
	return started, release
}
