package main

import "os"

// isTerminal reports whether f is a terminal, for progress bars: it asks the
// terminal driver (a character device such as /dev/null is not one), and says no
// under CI or TERM=dumb.
func isTerminal(f *os.File) bool {
	if os.Getenv("CI") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return isTerminalFd(f.Fd())
}
