// Package testenv lets tests find the system programs they need (minisign, nginx,
// unzip, PostgreSQL, Chromium) and decides what happens when one is missing: the test
// is skipped with a message naming the Debian package to install, unless
// UPKEEP_INTEGRATION=1 is set, in which case it fails.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Integration reports whether integration tests are required (UPKEEP_INTEGRATION=1):
// then a missing system program fails the test instead of skipping it.
func Integration() bool { return os.Getenv("UPKEEP_INTEGRATION") == "1" }

// NeedProgram returns the path of prog on PATH. When it is missing the test is skipped
// with a message naming the Debian package that provides it, or fails under
// UPKEEP_INTEGRATION=1.
func NeedProgram(t testing.TB, prog, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err == nil {
		return p
	}
	msg := prog + " not found on PATH: install it with `apt-get install " + debianPackage + "`"
	if Integration() {
		t.Fatalf("%s (required because UPKEEP_INTEGRATION=1)", msg)
	}
	t.Skip(msg)
	return ""
}
