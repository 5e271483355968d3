//go:build !linux

package pack

import (
	"errors"
	"io"
	"io/fs"
	"os"
)

// defaultSync is how Extract makes a tree durable unless told otherwise.
const defaultSync = syncPerFile

// errNoSyncfs makes Extract fall back to syncing file by file.
var errNoSyncfs = errors.New("pack: syncfs is only available on Linux")

func syncFilesystem(dir string) error { return errNoSyncfs }

// createBeneath reports false: only Linux has openat2, elsewhere os.Root is used.
func createBeneath(dir *os.File, name string, perm os.FileMode) (outFile, bool, error) {
	return nil, false, nil
}

// processUmask reports false: the umask is not read, files are always chmod-ed.
func processUmask() (fs.FileMode, bool) { return 0, false }

// openBeneath reports false: only Linux has openat2, elsewhere os.Root is used.
func openBeneath(dir *os.File, name string) (f io.ReadCloser, regular bool, size int64, ok bool, err error) {
	return nil, false, 0, false, nil
}
