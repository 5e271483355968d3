//go:build unix

package update

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// renameAt moves from/fromName to to/toName. Both names are single path elements of
// folders opened without following links, so that nothing can redirect the move.
func renameAt(from *dir, fromName string, to *dir, toName string) error {
	err := unix.Renameat(int(from.f.Fd()), fromName, int(to.f.Fd()), toName)
	runtime.KeepAlive(from)
	runtime.KeepAlive(to)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: from.join(fromName), New: to.join(toName), Err: err}
	}
	return nil
}

// checkOwned refuses a folder another account owns or can write to.
func checkOwned(d *dir, what string) error {
	fi, err := d.f.Stat()
	if err != nil {
		return err
	}
	return ownedInfo(d.path, fi, what)
}

func ownedInfo(path string, fi os.FileInfo, what string) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	bad := func(reason string) error {
		return &workFolderError{Path: path, Owner: int(st.Uid), Mode: fi.Mode().Perm(), Reason: reason}
	}
	if int(st.Uid) != os.Geteuid() {
		return bad(fmt.Sprintf("this %s belongs to another account (uid %d, upkeep runs as uid %d)", what, st.Uid, os.Geteuid()))
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return bad("this " + what + " can be written by other accounts")
	}
	return nil
}

// idAt identifies the folder name under d by its inode, not its name nor its device:
// the inode survives a remount (which changes the device number, as overlay
// filesystems and container restarts do), and the trees it tells apart are siblings
// on one filesystem.
func idAt(d *dir, name string) (string, error) {
	fi, err := d.Lstat(name)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", fmt.Errorf("%s: no inode", d.join(name))
	}
	return strconv.FormatUint(uint64(st.Ino), 10), nil
}

// anchored returns a path to name under d that goes through d's open handle rather
// than d's path (Linux's /proc/self/fd), for interfaces that take paths: a folder
// renamed or replaced meanwhile cannot redirect it. Elsewhere it is d's path.
func (d *dir) anchored(name string) string {
	if runtime.GOOS == "linux" {
		p := "/proc/self/fd/" + strconv.Itoa(int(d.f.Fd()))
		if _, err := os.Stat(p); err == nil {
			return p + "/" + name
		}
	}
	return d.join(name)
}

func syncDir(d *dir) error { return d.f.Sync() }

const syscallNoFollow = syscall.O_NOFOLLOW
