//go:build unix

package pack

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// oNoFollow keeps OpenFile from following a link in the last path element.
const oNoFollow = unix.O_NOFOLLOW

// oNonBlock keeps OpenFile from blocking on a FIFO.
const oNonBlock = unix.O_NONBLOCK

// syncDirIn fsyncs the folder name of root.
func syncDirIn(root *os.Root, name string) error {
	d, err := root.Open(name)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// replaceDir renames the finished tree tmp to dest. rename(2) itself replaces an
// empty dest folder and refuses a non-empty one (os.Rename refuses any folder).
func replaceDir(tmp, dest string, destExisted bool) error {
	if err := unix.Rename(tmp, dest); err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: dest, Err: err}
	}
	return nil
}

// setTimesOpen sets the open file's mtime (and atime) without walking its path
// again. It reports whether it did; where it cannot, the caller uses Root.Chtimes.
func setTimesOpen(f *os.File, t time.Time) (bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	tv := unix.NsecToTimeval(t.UnixNano())
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Futimes(int(fd), []unix.Timeval{tv, tv}) }); err != nil {
		return false, err
	}
	return true, serr
}

// chmodNoFollow changes a folder's mode through a handle opened without following a
// link: its name is in a folder another account may write.
func chmodNoFollow(path string, mode os.FileMode) error {
	d, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Chmod(mode)
}
