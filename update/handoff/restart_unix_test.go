//go:build unix

package handoff_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/testenv"
)

// selfrestart builds testdata/selfrestart once per version.
var selfrestart struct {
	mu   sync.Mutex
	dir  string
	bins map[string]string
}

func buildSelfRestart(t *testing.T, version string) string {
	t.Helper()
	selfrestart.mu.Lock()
	defer selfrestart.mu.Unlock()
	if p, ok := selfrestart.bins[version]; ok {
		return p
	}
	gobin := testenv.NeedProgram(t, "go", "golang-go")
	if selfrestart.dir == "" {
		d, err := os.MkdirTemp("", "handoff-selfrestart-")
		require.NoError(t, err)
		selfrestart.dir, selfrestart.bins = d, map[string]string{}
	}
	out := filepath.Join(selfrestart.dir, version, "selfrestart")
	cmd := exec.Command(gobin, "build", "-o", out, "-ldflags", "-X main.version="+version, "./testdata/selfrestart")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", msg)
	selfrestart.bins[version] = out
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(to), 0o755))
	require.NoError(t, os.WriteFile(to, b, 0o755))
}

// TestRestartRunsNewBinary runs version 1 of a program from its module folder, swaps
// the folder as the engine does (the old one renamed away to become the backup, the
// new one renamed into place), and asks the program to restart: version 2 must run,
// not the old binary that /proc/self/exe now names in the backup folder.
func TestRestartRunsNewBinary(t *testing.T) {
	for _, mode := range []string{"upgrade", "restart"} {
		t.Run(mode, func(t *testing.T) {
			v1, v2 := buildSelfRestart(t, "1"), buildSelfRestart(t, "2")
			root := t.TempDir()
			live := filepath.Join(root, "srv", "app")
			copyFile(t, v1, filepath.Join(live, "app"))
			staged := filepath.Join(root, "srv", ".app.stage")
			copyFile(t, v2, filepath.Join(staged, "app"))

			cmd := exec.Command(filepath.Join(live, "app"), mode, "two words")
			cmd.Env = append(os.Environ(), "SELFRESTART_GEN=")
			stdin, err := cmd.StdinPipe()
			require.NoError(t, err)
			pr, pw := io.Pipe()
			cmd.Stdout, cmd.Stderr = pw, pw
			require.NoError(t, cmd.Start())
			t.Cleanup(func() { cmd.Process.Kill() })
			lines := make(chan string, 16)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(pr)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
			var out []string
			next := func(want string) {
				t.Helper()
				for {
					select {
					case l, ok := <-lines:
						require.True(t, ok, "output ended before %q: %q", want, out)
						out = append(out, l)
						if strings.Contains(l, want) {
							return
						}
					case <-time.After(20 * time.Second):
						t.Fatalf("no %q within 20s: %q", want, out)
					}
				}
			}
			next("waiting for the swap")
			var pid1 int
			fmt.Sscanf(out[0], "version=1 pid=%d", &pid1)
			require.NotZero(t, pid1, "%q", out)

			require.NoError(t, os.Rename(live, filepath.Join(root, "srv", "app.1")))
			require.NoError(t, os.Rename(staged, live))
			_, err = io.WriteString(stdin, "swapped\n")
			require.NoError(t, err)

			next("gen=2")
			last := out[len(out)-1]
			require.Regexp(t, regexp.MustCompile(`^version=2 pid=\d+ args=`+mode+`,two words gen=2$`), last,
				"the new binary must run, with the same arguments and environment: %q", out)
			var pid2 int
			fmt.Sscanf(last, "version=2 pid=%d", &pid2)
			if mode == "restart" {
				require.Equal(t, pid1, pid2, "Restart replaces the process image")
			} else {
				require.NotEqual(t, pid1, pid2, "Upgrade starts a new process")
			}
			stdin.Close()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				require.NoError(t, err, "%q", out)
			case <-time.After(20 * time.Second):
				t.Fatal("the program did not exit")
			}
			pw.Close()
		})
	}
}
