// Package limited reads files whose size is bounded before they are read: keys,
// signatures, configurations, manifests. A file larger than the bound is an error that
// names it, not a truncated read.
package limited

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge is wrapped by the error for a file larger than the bound.
var ErrTooLarge = errors.New("file too large")

// ReadFile reads the whole of path, at most max bytes.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", path, ErrTooLarge, max)
	}
	return b, nil
}
