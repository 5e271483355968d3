//go:build unix

package update_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update"
)

// TestRestartChild is the process TestRestart restarts.
func TestRestartChild(t *testing.T) {
	switch os.Getenv("UPKEEP_RESTART_CHILD") {
	case "":
		t.Skip("child process of TestRestart")
	case "first":
		os.Setenv("UPKEEP_RESTART_CHILD", "second")
		fmt.Printf("first pid=%d exe=%s\n", os.Getpid(), update.Executable())
		os.Stdout.Sync()
		t.Fatal(update.Restart()) // returns only on failure
	case "second":
		fmt.Printf("second pid=%d args=%s\n", os.Getpid(), strings.Join(os.Args[1:], " "))
	}
}

// TestRestart re-executes a process from the path captured at start-up, with the same
// arguments and environment (Unix keeps the PID).
func TestRestart(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRestartChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "UPKEEP_RESTART_CHILD=first")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	s := string(out)
	var pid1, pid2 int
	fmt.Sscanf(s[strings.Index(s, "first pid="):], "first pid=%d", &pid1)
	require.Contains(t, s, "second pid=")
	fmt.Sscanf(s[strings.Index(s, "second pid="):], "second pid=%d", &pid2)
	require.Equal(t, pid1, pid2, "re-exec keeps the process")
	require.Contains(t, s, "args=-test.run=^TestRestartChild$ -test.count=1 -test.v")
}
