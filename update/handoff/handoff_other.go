//go:build !unix

package handoff

import (
	"context"
	"fmt"
	"runtime"
)

// adopt inherits nothing: without inheritable sockets no parent hands anything over.
func adopt(listeners, ready string) (*inheritance, error) { return nil, nil }

// Upgrade returns [ErrUnsupported]: on Windows, sockets are not inherited by a new
// process the way this package needs, and a Windows service is restarted by the
// service manager instead.
func (h *Handoff) Upgrade(ctx context.Context) (*Child, error) {
	return nil, fmt.Errorf("%w: %s (restart the service through the service manager)", ErrUnsupported, runtime.GOOS)
}
