package pack

import (
	"os"
	"time"
)

// oNoFollow is zero on Windows: O_EXCL already refuses an existing link.
const oNoFollow = 0

// oNonBlock is zero on Windows, which has no FIFOs in the filesystem.
const oNonBlock = 0

// syncDirIn does nothing on Windows, where folders cannot be opened for fsync; NTFS
// journals its metadata.
func syncDirIn(root *os.Root, name string) error { return nil }

// replaceDir renames the finished tree tmp to dest. Windows cannot rename over a
// folder, so an empty dest is removed first and put back if the rename fails.
func replaceDir(tmp, dest string, destExisted bool) error {
	if destExisted {
		if err := os.Remove(dest); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dest); err != nil {
		if destExisted {
			os.Mkdir(dest, 0o755)
		}
		return err
	}
	return nil
}

// setTimesOpen does nothing on Windows: the caller sets times with Root.Chtimes.
func setTimesOpen(f *os.File, t time.Time) (bool, error) { return false, nil }

// chmodNoFollow changes a folder's mode by path: Windows has no O_NOFOLLOW, and
// creating links needs a privilege application accounts lack.
func chmodNoFollow(path string, mode os.FileMode) error { return os.Chmod(path, mode) }
