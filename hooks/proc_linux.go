package hooks

import (
	"bytes"
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxStopRounds bounds the scans of /proc for a script's descendants. Each scan after
// the first finds only processes started before their parent was stopped, so a few
// scans are enough; the bound guards against a /proc that never settles.
const maxStopRounds = 100

// stopped is the descendants stopDescendants stopped, by pid, each with a pidfd when
// the kernel has them (Linux 5.3 and later), else -1.
type stopped map[int]int

// procTree is a script's process, held by a pidfd where the kernel has them (Linux 5.3
// and later) so that it is not mistaken for another process once reaped.
type procTree struct {
	pid int
	fd  int // -1 without pidfd
}

// openTree opens the script's process pid, which must not have been reaped yet.
func openTree(pid int) *procTree {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		fd = -1
	}
	return &procTree{pid: pid, fd: fd}
}

func (t *procTree) close() {
	if t.fd >= 0 {
		_ = unix.Close(t.fd)
		t.fd = -1
	}
}

// stopDescendants stops with SIGSTOP every descendant of the script, which the caller
// stopped, that it finds in /proc, parents before children, and scans again until a
// scan finds no new one. A parent stopped before its child is signalled cannot reap
// it, so the child's pid cannot be reused meanwhile; the child's pidfd, opened before
// its parent is checked once more, makes sure of it even for a parent that ignores
// SIGCHLD. Once the script was reaped its children were given to another parent, and
// its pid may name another process: nothing is looked for then.
func (t *procTree) stopDescendants() stopped {
	s := stopped{}
	if t.fd >= 0 && unix.PidfdSendSignal(t.fd, 0, nil, 0) != nil {
		return s
	}
	for range maxStopRounds {
		kids := childrenByParent()
		found := false
		queue := []int{t.pid}
		for len(queue) > 0 {
			parent := queue[0]
			queue = queue[1:]
			for _, pid := range kids[parent] {
				if _, done := s[pid]; !done {
					if !s.stop(pid, parent) {
						continue
					}
					found = true
				}
				queue = append(queue, pid)
			}
		}
		if !found {
			break
		}
	}
	return s
}

// stop sends SIGSTOP to pid if it is still a child of parent, and reports whether it
// did.
func (s stopped) stop(pid, parent int) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil && !errors.Is(err, unix.ENOSYS) {
		return false // gone
	}
	if err != nil {
		fd = -1
	}
	if ppid, ok := parentOf(pid); !ok || ppid != parent {
		if fd >= 0 {
			_ = unix.Close(fd)
		}
		return false
	}
	if fd >= 0 {
		err = unix.PidfdSendSignal(fd, unix.SIGSTOP, nil, 0)
	} else {
		err = unix.Kill(pid, unix.SIGSTOP)
	}
	if err != nil {
		if fd >= 0 {
			_ = unix.Close(fd)
		}
		return false
	}
	s[pid] = fd
	return true
}

// kill sends SIGKILL to the stopped processes and releases their pidfds.
func (s stopped) kill() {
	for pid, fd := range s {
		if fd >= 0 {
			_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
			_ = unix.Close(fd)
		} else {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// childrenByParent lists the live processes of /proc by parent pid.
func childrenByParent() map[int][]int {
	kids := map[int][]int{}
	dir, err := os.Open("/proc")
	if err != nil {
		return kids
	}
	defer dir.Close()
	names, _ := dir.Readdirnames(-1)
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		if ppid, ok := parentOf(pid); ok {
			kids[ppid] = append(kids[ppid], pid)
		}
	}
	return kids
}

// parentOf returns the parent of pid from /proc/PID/stat; false when pid is gone or a
// zombie (whose children, if any, were given to another parent when it died).
func parentOf(pid int) (int, bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// "pid (comm) state ppid ...": comm may hold anything, up to the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 2 || string(f[0]) == "Z" || string(f[0]) == "X" {
		return 0, false
	}
	ppid, err := strconv.Atoi(string(f[1]))
	return ppid, err == nil
}
