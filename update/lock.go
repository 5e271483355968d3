package update

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// moduleLock is held for the length of one operation on one module. It is an OS lock
// on a file in the module's state folder (flock on Unix, LockFileEx on Windows), which
// the kernel releases when its holder dies, so a lock left by a killed process is
// simply taken over. The file holds the holder's PID for the busy message.
type moduleLock struct {
	f       *os.File
	release func()
}

// locks serialises operations on one module inside this process too (some systems'
// file locks are per process).
type locks struct {
	mu   sync.Mutex
	held map[string]bool
}

func (l *locks) acquire(module, path string) (*moduleLock, error) {
	l.mu.Lock()
	if l.held == nil {
		l.held = map[string]bool{}
	}
	if l.held[path] {
		l.mu.Unlock()
		return nil, &Error{Code: CodeBusy, Module: module, Err: fmt.Errorf("%w: another operation of this process is running on it", ErrBusy)}
	}
	l.held[path] = true
	l.mu.Unlock()
	unhold := func() {
		l.mu.Lock()
		delete(l.held, path)
		l.mu.Unlock()
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		unhold()
		return nil, err
	}
	if err := tryLock(f); err != nil {
		pid := readPID(f)
		f.Close()
		unhold()
		who := "another process"
		if pid > 0 {
			who = "process " + strconv.Itoa(pid)
		}
		return nil, &Error{Code: CodeBusy, Module: module, Err: fmt.Errorf("%w: locked by %s (lock file %s)", ErrBusy, who, path)}
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &moduleLock{f: f, release: unhold}, nil
}

func (m *moduleLock) unlock() {
	if m == nil {
		return
	}
	m.f.Truncate(0)
	unlock(m.f)
	m.f.Close()
	m.release()
}

func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	return pid
}
