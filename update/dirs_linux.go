package update

import (
	"errors"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// exchangeAt swaps a/aName and b/bName in one atomic step (renameat2 with
// RENAME_EXCHANGE, Linux). errNoExchange tells that the system or the filesystem
// cannot, and the caller falls back to three renames.
func exchangeAt(a *dir, aName string, b *dir, bName string) error {
	err := unix.Renameat2(int(a.f.Fd()), aName, int(b.f.Fd()), bName, unix.RENAME_EXCHANGE)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return errNoExchange
	}
	if err != nil {
		return &os.LinkError{Op: "renameat2", Old: a.join(aName), New: b.join(bName), Err: err}
	}
	return nil
}
