package update

import (
	"errors"

	"golang.org/x/sys/windows"
)

func isBusy(err error) bool {
	return errors.Is(err, windows.ERROR_SHARING_VIOLATION) ||
		errors.Is(err, windows.ERROR_LOCK_VIOLATION) ||
		errors.Is(err, windows.ERROR_ACCESS_DENIED)
}

// holders is not implemented on Windows (the Restart Manager API would tell); the
// error still names the file.
func holders(path string) []int { return nil }
