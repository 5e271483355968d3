package update

import (
	"os"

	"golang.org/x/sys/windows"
)

// The locked byte lies far past the PID the file holds, so that another process can
// still read the PID (Windows locks are mandatory).
func lockRange() *windows.Overlapped { return &windows.Overlapped{OffsetHigh: 1} }

func tryLock(f *os.File) error {
	ol := lockRange()
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
}

func unlock(f *os.File) {
	ol := lockRange()
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, ol)
}

func lockWait(f *os.File) error {
	ol := lockRange()
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, ol)
}
