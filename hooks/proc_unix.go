//go:build unix

package hooks

import (
	"errors"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// prepareTree makes the script lead a process group of its own, and makes the
// command's cancellation (timeout or cancelled context) kill the script's processes:
// it stops the script and its group with SIGSTOP, so that none of them can start
// anything more; where the system lists processes with their parents (Linux's /proc)
// it stops the script's other descendants too, parents first, until a scan finds none
// left running; then it sends SIGKILL to all of them. started must be called once the
// command started, before Wait; release once Wait returned.
func prepareTree(cmd *exec.Cmd) (started, release func()) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var (
		mu   sync.Mutex
		tree *procTree
	)
	// open opens the tree before Wait can reap the script, so that its pid still
	// names it: from started, or from a cancellation that comes first.
	open := func() *procTree {
		if tree == nil {
			tree = openTree(cmd.Process.Pid)
		}
		return tree
	}
	cmd.Cancel = func() error {
		mu.Lock()
		defer mu.Unlock()
		pid := cmd.Process.Pid
		// Stopped, the script cannot reap its children, so their pids stay theirs
		// while its descendants are looked for.
		_ = cmd.Process.Signal(syscall.SIGSTOP)
		// A negative pid addresses the process group, whose id is the leader's pid.
		_ = syscall.Kill(-pid, syscall.SIGSTOP)
		others := open().stopDescendants()
		err := syscall.Kill(-pid, syscall.SIGKILL)
		others.kill()
		_ = cmd.Process.Kill()
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
	started = func() {
		mu.Lock()
		defer mu.Unlock()
		open()
	}
	release = func() {
		mu.Lock()
		defer mu.Unlock()
		if tree != nil {
			tree.close()
		}
	}
	return started, release
}
