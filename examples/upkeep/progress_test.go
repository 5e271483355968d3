package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update/updatetest"
)

// installConfig publishes web 1.0.0 (a 3 MiB file, so that the download shows) and
// returns a configuration that installs it with maintenance on.
func installConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	sec, pub := publisher(t, dir)
	repo, build := filepath.Join(dir, "repo"), filepath.Join(dir, "b1")
	updatetest.WriteTree(t, build, map[string]string{"index.html": "one", "big.bin": randomText(1 << 20)})
	code, _, errs := runCLI(t, "publish", "--repo", repo, "--sec", sec, "--module", "web", "--version", "1.0.0",
		"--platform", runtime.GOOS+"/"+runtime.GOARCH, "--from", build)
	require.Equal(t, 0, code, errs)
	module := filepath.Join(dir, "srv", "web")
	require.NoError(t, os.MkdirAll(filepath.Dir(module), 0o755))
	cb, _ := json.Marshal(map[string]any{"source": repo, "keys": []string{pub}, "state_dir": filepath.Join(dir, "state"),
		"modules": []map[string]any{{"name": "web", "path": module, "maintenance_file": "app_offline.htm"}}})
	config := filepath.Join(dir, "agent.json")
	require.NoError(t, os.WriteFile(config, cb, 0o644))
	return config
}

// TestInstallProgressLines runs `upkeep install` as a process with stderr in a file:
// one plain line per step, never the \r bar.
func TestInstallProgressLines(t *testing.T) {
	t.Parallel()
	config := installConfig(t)
	errFile, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	require.NoError(t, err)
	defer errFile.Close()
	cmd := exec.Command(os.Args[0], "install", "--config", config, "web")
	cmd.Env, cmd.Stderr = commandEnv(), errFile
	out, err := cmd.Output()
	b, _ := os.ReadFile(errFile.Name())
	got := string(b)
	require.NoError(t, err, got)
	require.Contains(t, string(out), "installed web 1.0.0")
	require.NotContains(t, got, "\r", "a bar drawn into a file")
	for _, want := range []string{
		"download web 1.0.0: started (",
		"download web 1.0.0: finished, ",
		"extract web 1.0.0: started (",
		"extract web 1.0.0: finished, ",
		"maintenance web: on\n",
		"maintenance web: off\n",
		"install web 1.0.0\n",
		"done web 1.0.0: ",
	} {
		require.Contains(t, got, want)
	}
	require.Equal(t, 1, strings.Count(got, "download web 1.0.0: started"), got)
}

// randomText returns n incompressible hex characters.
func randomText(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}
