//go:build unix

package update

import (
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// linkAt makes to/toName a hard link to the file from/fromName, both single path
// elements of folders opened without following links; a link at fromName is linked
// itself, never followed.
func linkAt(from *dir, fromName string, to *dir, toName string) error {
	err := unix.Linkat(int(from.f.Fd()), fromName, int(to.f.Fd()), toName, 0)
	runtime.KeepAlive(from)
	runtime.KeepAlive(to)
	if err != nil {
		return &os.LinkError{Op: "link", Old: from.join(fromName), New: to.join(toName), Err: err}
	}
	return nil
}
