//go:build !windows

package service

import (
	"context"
	"errors"
)

// IsWindowsService reports whether the process was started by the Windows service
// control manager: never, here.
func IsWindowsService() bool { return false }

// RunWindows runs run as a Windows service: on other systems it fails.
func RunWindows(name string, run func(ctx context.Context) error) error {
	return errors.New("service: Windows services exist on Windows only")
}
