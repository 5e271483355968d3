//go:build !linux

package pack

import "errors"

// defaultSync is how Extract makes a tree durable unless told otherwise.
const defaultSync = syncPerFile

// errNoSyncfs makes Extract fall back to syncing file by file.
var errNoSyncfs = errors.New("pack: syncfs is only available on Linux")

func syncFilesystem(dir string) error { return errNoSyncfs }
