//go:build unix

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// TestPublishCommandLocked: while another process holds the repository, publish waits
// for --lock-timeout, then fails with one line naming the holder and the lock file.
func TestPublishCommandLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sec, _ := publisher(t, dir)
	build := filepath.Join(dir, "build")
	updatetest.WriteTree(t, build, map[string]string{"app.txt": "app"})
	repo := filepath.Join(dir, "repo")
	require.NoError(t, os.MkdirAll(repo, 0o755))
	lockFile := filepath.Join(repo, publish.LockFileName)
	f, err := os.OpenFile(lockFile, os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, unix.Flock(int(f.Fd()), unix.LOCK_EX))
	_, err = f.WriteString("pid=4242 host=ci-7\n")
	require.NoError(t, err)

	code, _, errs := runCLI(t, "publish", "--repo", repo, "--sec", sec, "--module", "web", "--version", "1.0.0",
		"--platform", "linux/amd64", "--from", build, "--lock-timeout", "200ms")
	require.Equal(t, 1, code, errs)
	require.Contains(t, errs, "publish "+repo+": repository locked by process 4242 on host ci-7 (lock file "+lockFile+")")
	require.Contains(t, errs, "waiting for the repository lock", "the wait is said on stderr")
	_, err = os.Stat(filepath.Join(repo, "manifest.json"))
	require.ErrorIs(t, err, os.ErrNotExist)

	require.NoError(t, unix.Flock(int(f.Fd()), unix.LOCK_UN))
	code, _, errs = runCLI(t, "publish", "--repo", repo, "--sec", sec, "--module", "web", "--version", "1.0.0",
		"--platform", "linux/amd64", "--from", build, "--lock-timeout", "200ms")
	require.Equal(t, 0, code, errs)
}
