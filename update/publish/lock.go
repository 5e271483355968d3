package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LockFileName is the file, at the root of a repository, that [Publish] and [Refresh]
// lock for the length of their update of the manifest. It is never removed; like every
// name starting with ".", [FileServer] does not serve it.
const LockFileName = ".upkeep-publish.lock"

// ErrLocked is matched (errors.Is) by a [*LockedError]: another publication held the
// repository's lock until the context ended.
var ErrLocked = errors.New("publish: repository is locked by another publication")

// LockedError is a repository whose lock another publication held for as long as the
// caller's context allowed. It names the holder as the lock file records it.
type LockedError struct {
	Repo     string
	LockFile string
	Holder   string // "process 1234 on host ci-7"; "" when the lock file does not say
	Err      error  // why waiting stopped: the context's error
}

// Error names the holder and the lock file (which names the repository).
func (e *LockedError) Error() string {
	holder := e.Holder
	if holder == "" {
		holder = "another process"
	}
	return "repository locked by " + holder + " (lock file " + e.LockFile + "): " + e.Err.Error()
}

// Unwrap returns [ErrLocked] and the context's error.
func (e *LockedError) Unwrap() []error { return []error{ErrLocked, e.Err} }

// repoLock is an OS lock on the repository's lock file (flock on Unix, LockFileEx on
// Windows): the kernel releases it when its holder exits or dies, so a publication that
// was killed never leaves the repository locked. Both lock one open file, so two
// publications of one process exclude each other as two processes do.
type repoLock struct{ f *os.File }

// Polling bounds while another publication holds the lock: the holder only writes a
// few small files under it, so the wait is short.
const (
	lockPollMin = 5 * time.Millisecond
	lockPollMax = 200 * time.Millisecond
)

// lockRepo takes the lock of repo, waiting while another publication holds it until ctx
// ends or, when timeout is not 0, for at most timeout; then it fails with a
// [*LockedError] naming the holder.
func lockRepo(ctx context.Context, repo string, timeout time.Duration, log *slog.Logger) (*repoLock, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	path := filepath.Join(repo, LockFileName)
	root, err := os.OpenRoot(repo)
	if err != nil {
		return nil, err
	}
	// Through the root, a link planted as the lock file cannot make the lock write
	// outside the repository.
	f, err := root.OpenFile(LockFileName, os.O_RDWR|os.O_CREATE, 0o644)
	root.Close()
	if err != nil {
		return nil, err
	}
	wait, logged := lockPollMin, false
	for {
		err := tryLock(f)
		if err == nil {
			break
		}
		if !isLockBusy(err) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !logged {
			log.InfoContext(ctx, "waiting for the repository lock", "repo", repo, "holder", holder(f), "lock_file", path)
			logged = true
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			h := holder(f)
			f.Close()
			return nil, &LockedError{Repo: repo, LockFile: path, Holder: h, Err: ctx.Err()}
		case <-t.C:
		}
		wait = min(2*wait, lockPollMax)
	}
	host, _ := os.Hostname()
	rec := "pid=" + strconv.Itoa(os.Getpid())
	if printable(host) {
		rec += " host=" + host
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(rec+"\n"), 0)
	}
	return &repoLock{f: f}, nil
}

// unlock clears the holder's record and releases the lock.
func (l *repoLock) unlock() {
	l.f.Truncate(0)
	unlockFile(l.f)
	l.f.Close()
}

// holder describes the holder recorded in the lock file: "process 1234 on host ci-7".
func holder(f *os.File) string {
	buf := make([]byte, 256)
	n, _ := f.ReadAt(buf, 0)
	var pid, host string
	for _, w := range strings.Fields(string(buf[:n])) {
		k, v, _ := strings.Cut(w, "=")
		switch k {
		case "pid":
			if _, err := strconv.Atoi(v); err == nil {
				pid = v
			}
		case "host":
			if printable(v) {
				host = v
			}
		}
	}
	if pid == "" {
		return ""
	}
	s := "process " + pid
	if host != "" {
		s += " on host " + host
	}
	return s
}

// printable reports whether s is printable ASCII: what the lock file says goes to a
// terminal.
func printable(s string) bool {
	for _, r := range s {
		if r <= ' ' || r > '~' {
			return false
		}
	}
	return s != ""
}
