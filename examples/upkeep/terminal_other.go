//go:build !linux && !windows && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package main

// isTerminalFd reports false: progress is not drawn where terminals are not known.
func isTerminalFd(fd uintptr) bool { return false }
