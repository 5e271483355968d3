package update

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// exchangeDirs swaps two paths in one atomic step with renameat2(RENAME_EXCHANGE).
// Filesystems that lack it fall back to the rename sequence of other systems.
func (o *ops) exchangeDirs(a, b string) error {
	err := o.retry(a, func() error {
		return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	})
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return o.exchangeByRenames(a, b)
	}
	if err != nil {
		return &os.LinkError{Op: "renameat2", Old: a, New: b, Err: err}
	}
	return nil
}
