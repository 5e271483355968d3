//go:build !linux && !windows

package service

// Native returns the service manager of this system: none is supported here.
func Native() (Manager, error) { return nil, ErrUnsupported }
