package pack

import (
	"os"

	"golang.org/x/sys/unix"
)

// defaultSync is how Extract makes a tree durable unless told otherwise. On Linux one
// syncfs(2) of the filesystem measured cheaper than an fsync of every file and folder
// (a 266 MiB, 3,000-file tree on ext4: 3.4–3.9 s against 4.1–4.3 s), at the price of
// also flushing whatever else is dirty on that filesystem.
const defaultSync = syncFS

// syncFilesystem flushes the whole filesystem holding dir in one call.
func syncFilesystem(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}
