package pack

import (
	"os"

	"golang.org/x/sys/unix"
)

// defaultSync is how Extract makes a tree durable unless told otherwise.
const defaultSync = syncPerFile

// syncFilesystem flushes the whole filesystem holding dir in one call.
func syncFilesystem(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}
