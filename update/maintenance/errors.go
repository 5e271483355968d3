package maintenance

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrDrainTimeout is returned, wrapped in a [*DrainError], by [State.On] when requests
// admitted before maintenance went on were still running at the drain timeout.
// Maintenance stays on.
var ErrDrainTimeout = errors.New("maintenance: drain timed out")

// ErrForeignFlag is returned, wrapped in a [*FlagError] naming the file, when a file that
// upkeep did not place is at a flag's path: upkeep neither overwrites nor removes it.
var ErrForeignFlag = errors.New("maintenance: flag file not placed by upkeep")

// ErrFlagName is returned, wrapped in a [*FlagError], when a [Flag]'s Name is not a plain
// file name (empty, "." or "..", or holding a path separator).
var ErrFlagName = errors.New("maintenance: flag name must be a plain file name")

// DrainError reports that [State.On] stopped waiting for in-flight requests before they
// had all finished. Err is [ErrDrainTimeout] or the context's error.
type DrainError struct {
	Running int           // requests still running when On gave up
	Waited  time.Duration // how long On waited
	Err     error
}

// Error says how many requests were still running and why On stopped waiting.
func (e *DrainError) Error() string {
	return fmt.Sprintf("maintenance: %d request(s) still running after draining for %s: %s",
		e.Running, e.Waited.Round(time.Millisecond), trimPrefix(e.Err))
}

// Unwrap returns [ErrDrainTimeout] or the context's error.
func (e *DrainError) Unwrap() error { return e.Err }

// FlagError records a failed operation on a flag file and the file's path.
type FlagError struct {
	Op   string // "place", "remove" or "read"
	Path string // the flag file
	Err  error
}

// Error names the operation and the flag file.
func (e *FlagError) Error() string {
	return "maintenance: " + e.Op + " " + e.Path + ": " + trimPrefix(e.Err)
}

// Unwrap returns the underlying error, such as [ErrForeignFlag] or an *fs.PathError.
func (e *FlagError) Unwrap() error { return e.Err }

// trimPrefix keeps a wrapped sentinel from repeating the package name.
func trimPrefix(err error) string {
	return strings.TrimPrefix(err.Error(), "maintenance: ")
}
