//go:build unix

package update

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

func isBusy(err error) bool {
	return errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.ETXTBSY)
}

// holders lists the processes that have path (or a file under it) open, by reading
// /proc/*/fd; nil where /proc is not available.
func holders(path string) []int {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		fds, err := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name()))
			if err == nil && (target == abs || len(target) > len(abs) && target[:len(abs)+1] == abs+"/") {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
