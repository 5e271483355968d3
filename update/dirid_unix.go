//go:build !windows

package update

import (
	"fmt"
	"os"
	"syscall"
)

// dirID identifies a folder independently of its name (device and inode), so that
// after a crash Recover can tell which tree a path holds.
func dirID(path string) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", fmt.Errorf("%s: no inode", path)
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino), nil
}
