package publish

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/signature"
)

// holdEnv names the repository TestLockHolderProcess locks.
const holdEnv = "UPKEEP_PUBLISH_HOLD"

// TestLockHolderProcess is not a test: it is the child of TestLockHeldByAnotherProcess,
// which takes the repository's lock, says so, and waits to be killed.
func TestLockHolderProcess(t *testing.T) {
	repo := os.Getenv(holdEnv)
	if repo == "" {
		t.Skip("child process of TestLockHeldByAnotherProcess")
	}
	if _, err := lockRepo(context.Background(), repo, 0, slog.New(slog.DiscardHandler)); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
	os.Exit(2)
}

// TestLockHeldByAnotherProcess: while another process holds the repository, a
// publication waits as long as its context allows and then fails naming the holder;
// once the holder is killed (no chance to unlock), the kernel has released the lock
// and the publication goes through.
func TestLockHeldByAnotherProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	require.NoError(t, os.MkdirAll(repo, 0o755))
	build := filepath.Join(dir, "build")
	require.NoError(t, os.MkdirAll(build, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(build, "a.txt"), []byte("a"), 0o644))
	_, key, err := signature.GenerateKey(rand.Reader)
	require.NoError(t, err)

	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHolderProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), holdEnv+"="+repo)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "locked\n", line)

	b := Build{Module: "web", Version: "1.0.0", Platform: "linux/amd64", Dir: build}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = Publish(ctx, repo, key, b)
	require.ErrorIs(t, err, ErrLocked)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var le *LockedError
	require.True(t, errors.As(err, &le))
	require.Contains(t, le.Holder, "process "+strconv.Itoa(cmd.Process.Pid))
	require.ErrorContains(t, err, "process "+strconv.Itoa(cmd.Process.Pid))
	require.ErrorContains(t, err, filepath.Join(repo, LockFileName))
	_, err = Publish(context.Background(), repo, key, b, WithLockTimeout(200*time.Millisecond))
	require.ErrorIs(t, err, ErrLocked, "WithLockTimeout bounds the wait")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	_, err = Refresh(context.Background(), repo, key, WithLockTimeout(200*time.Millisecond))
	require.ErrorIs(t, err, ErrLocked, "a refresh waits for the same lock")
	_, err = os.Stat(filepath.Join(repo, "manifest.json"))
	require.ErrorIs(t, err, os.ErrNotExist, "nothing published")

	require.NoError(t, cmd.Process.Kill())
	cmd.Wait()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	m, err := Publish(ctx2, repo, key, b)
	require.NoError(t, err, "a dead holder's lock is released by the kernel")
	require.EqualValues(t, 1, m.Serial)
}
