package main

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/pack"
)

// TestMain runs the command itself when UPKEEP_TEST_MAIN=1, so that tests can start
// it as a process with real standard streams.
func TestMain(m *testing.M) {
	if os.Getenv("UPKEEP_TEST_MAIN") == "1" {
		main()
		return
	}
	code := m.Run()
	pgServer.Stop() // started by the db tests that need it
	os.Exit(code)
}

// commandEnv is the environment of the command as a process: without what turns
// progress off (CI, TERM=dumb), so that only the streams decide.
func commandEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CI=") && !strings.HasPrefix(kv, "TERM=") {
			env = append(env, kv)
		}
	}
	return append(env, "UPKEEP_TEST_MAIN=1", "TERM=xterm")
}

// progressPack builds a pack of a few MiB of incompressible data, enough for several
// progress reports.
func progressPack(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rnd := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 3<<20)
	for i := range b {
		b[i] = byte(rnd.Uint32())
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data.bin"), b, 0o644))
	zipPath := filepath.Join(t.TempDir(), "p.zip")
	f, err := os.Create(zipPath)
	require.NoError(t, err)
	require.NoError(t, pack.BuildDir(context.Background(), f, dir, pack.WithMethod(pack.Store)))
	require.NoError(t, f.Close())
	return zipPath
}

// runExtract runs `upkeep pack extract` as a process with the given streams.
func runExtract(t *testing.T, zipPath string, stdout, stderr *os.File) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "pack", "extract", zipPath, filepath.Join(t.TempDir(), "dest"))
	cmd.Env, cmd.Stdout, cmd.Stderr = commandEnv(), stdout, stderr
	require.NoError(t, cmd.Run())
}

func TestExtractProgressOnlyOnTerminal(t *testing.T) {
	t.Parallel()
	zipPath := progressPack(t)
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer devNull.Close()
	open := func(name string) *os.File {
		f, err := os.Create(filepath.Join(t.TempDir(), name))
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		return f
	}
	read := func(f *os.File) string {
		b, err := os.ReadFile(f.Name())
		require.NoError(t, err)
		return string(b)
	}

	// stdout to /dev/null (a character device, not a terminal), stderr to a file.
	errFile := open("stderr")
	runExtract(t, zipPath, devNull, errFile)
	require.NotContains(t, read(errFile), "\r", "progress drawn into a file")
	require.NotContains(t, read(errFile), "MiB /")

	// stdout to a file, stderr to /dev/null.
	outFile := open("stdout")
	runExtract(t, zipPath, outFile, devNull)
	require.NotContains(t, read(outFile), "\r")
	require.Contains(t, read(outFile), "extracted ")

	// Both to files.
	outFile, errFile = open("stdout2"), open("stderr2")
	runExtract(t, zipPath, outFile, errFile)
	require.NotContains(t, read(outFile)+read(errFile), "\r")
}

func TestIsTerminal(t *testing.T) {
	t.Parallel()
	devNull, err := os.Open(os.DevNull)
	require.NoError(t, err)
	defer devNull.Close()
	require.False(t, isTerminal(devNull), "/dev/null is a character device, not a terminal")
	f, err := os.Create(filepath.Join(t.TempDir(), "file"))
	require.NoError(t, err)
	defer f.Close()
	require.False(t, isTerminal(f))
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	require.False(t, isTerminal(w))
}
