//go:build !windows

package servicectl

import (
	"context"
	"errors"
)

func windowsService(ctx context.Context, op, name string) error {
	return errors.New("Windows services exist on Windows only")
}
