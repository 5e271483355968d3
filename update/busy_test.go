//go:build unix

package update

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRetryBusyFile(t *testing.T) {
	t.Parallel()
	o := &ops{busy: 300 * time.Millisecond}
	calls := 0
	err := o.retry(context.Background(), "/srv/web/app.dll", func() error {
		calls++
		if calls < 3 {
			return &os.LinkError{Op: "rename", Old: "a", New: "b", Err: syscall.EBUSY}
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 3, calls, "retried while busy")

	calls = 0
	err = o.retry(context.Background(), "/srv/web/app.dll", func() error { calls++; return syscall.ETXTBSY })
	var be *busyError
	require.True(t, errors.As(err, &be))
	require.ErrorIs(t, err, ErrFileBusy)
	require.Contains(t, err.Error(), "/srv/web/app.dll")
	require.Greater(t, calls, 2)

	calls = 0
	err = o.retry(context.Background(), "x", func() error { calls++; return syscall.EACCES })
	require.ErrorIs(t, err, syscall.EACCES)
	require.Equal(t, 1, calls, "other errors are not retried")
}

// TestRetryBusyFileCancelled checks that waiting for a busy file stops as soon as the
// operation is cancelled, instead of sleeping out the busy timeout (30 s by default).
func TestRetryBusyFileCancelled(t *testing.T) {
	t.Parallel()
	o := &ops{busy: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := o.retry(ctx, "/srv/web/app.dll", func() error {
		calls++
		if calls == 2 {
			cancel()
		}
		return syscall.EBUSY
	})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, ErrFileBusy)
	require.Equal(t, 2, calls, "no retry after the cancellation")
}

func TestHoldersFindsOpenFile(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc")
	}
	t.Parallel()
	p := t.TempDir() + "/held"
	require.NoError(t, os.WriteFile(p, nil, 0o644))
	// A child process that keeps the file open.
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	attr := &os.ProcAttr{Files: []*os.File{nil, nil, nil, f}}
	proc, err := os.StartProcess("/bin/sleep", []string{"sleep", "5"}, attr)
	if err != nil {
		t.Skip("no /bin/sleep")
	}
	defer proc.Kill()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		for _, pid := range holders(p) {
			if pid == proc.Pid {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("holders(%s) did not find process %d", p, proc.Pid)
}
