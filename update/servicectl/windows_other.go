//go:build !windows

package servicectl

import (
	"context"
	"errors"
)

func windowsService(ctx context.Context, op, name string) error {
	return errors.New("a Windows service can only be controlled on Windows")
}
