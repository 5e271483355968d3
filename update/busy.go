package update

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrFileBusy is wrapped by the error of an operation on a file that stayed locked by
// other processes for longer than the busy timeout; the message names the file and,
// where they can be found, the processes holding it.
var ErrFileBusy = errors.New("update: file is busy")

// busyError is a file that stayed locked by other processes for longer than the
// engine's busy timeout (an open handle on Windows, a running executable): the install
// fails cleanly instead of looping, naming the file and, where they can be found, the
// processes holding it.
type busyError struct {
	Path string
	PIDs []int // processes holding Path open, when known (Linux)
	Err  error // the last error of the operation
}

// Error describes the failure, naming what is at fault.
func (e *busyError) Error() string {
	s := fmt.Sprintf("%s is busy (locked by another process)", e.Path)
	if len(e.PIDs) > 0 {
		s += fmt.Sprintf(", held open by PID %v", e.PIDs)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the causes, for errors.Is and errors.As.
func (e *busyError) Unwrap() []error { return []error{ErrFileBusy, e.Err} }

// retry runs f, retrying with backoff while it fails because path is busy, for at
// most o.busy or until ctx is done. Other errors are returned at once.
func (o *ops) retry(ctx context.Context, path string, f func() error) error {
	limit := 30 * time.Second
	if o != nil && o.busy > 0 {
		limit = o.busy
	}
	deadline := time.Now().Add(limit)
	wait := 50 * time.Millisecond
	for {
		err := f()
		if err == nil || !isBusy(err) {
			return err
		}
		if time.Now().After(deadline) {
			return &busyError{Path: path, PIDs: holders(path), Err: err}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return &busyError{Path: path, PIDs: holders(path), Err: errors.Join(err, context.Cause(ctx))}
		case <-t.C:
		}
		wait = min(wait*2, 2*time.Second)
	}
}
