//go:build unix

package handoff_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update/handoff"
)

// Under a Type=notify systemd unit: the first process says READY=1 on the unit's
// notification socket, and a handover names the new process as the unit's main one
// (MAINPID=) before the old one exits, so that the unit keeps running across updates.
// The socket is a real unixgram socket, as systemd's.
func TestNotifyServiceManager(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	require.NoError(t, err)
	defer sock.Close()
	t.Setenv(handoff.EnvNotifySocket, path)
	read := func() (string, error) {
		buf := make([]byte, 4096)
		sock.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := sock.Read(buf)
		return string(buf[:n]), err
	}

	ctx := context.Background()
	h, err := handoff.New(handoff.WithReadyTimeout(20 * time.Second))
	require.NoError(t, err)
	ln, err := h.Listen(ctx, "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	require.NoError(t, h.Ready())
	msg, err := read()
	require.NoError(t, err)
	require.Equal(t, "READY=1", msg)

	t.Setenv(childMode, "serve")
	t.Setenv(childListen, "tcp 127.0.0.1:0")
	child, err := h.Upgrade(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { syscall.Kill(child.PID, syscall.SIGTERM) })
	msg, err = read()
	require.NoError(t, err)
	require.Equal(t, "MAINPID="+strconv.Itoa(child.PID)+"\nREADY=1", msg)
	// The new process, handed over to, leaves the word to its parent.
	sock.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = sock.Read(make([]byte, 64))
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "a second message: %v", err)

	// A socket that is not there is an error of Ready, naming it.
	t.Setenv(handoff.EnvNotifySocket, filepath.Join(t.TempDir(), "gone"))
	h2, err := handoff.New()
	require.NoError(t, err)
	require.ErrorContains(t, h2.Ready(), "NOTIFY_SOCKET "+filepath.Join(filepath.Dir(os.Getenv(handoff.EnvNotifySocket)), "gone"))
}
