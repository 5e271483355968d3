//go:build unix

package service_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update/agent/service"
)

// listen opens a real unix datagram socket as systemd does for NOTIFY_SOCKET.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	require.NoError(t, err)
	return string(buf[:n])
}

func TestNotify(t *testing.T) {
	sockets := map[string]string{"path": filepath.Join(t.TempDir(), "notify")}
	if runtime.GOOS == "linux" {
		sockets["abstract"] = fmt.Sprintf("@upkeep-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	for kind, name := range sockets {
		t.Run(kind, func(t *testing.T) {
			c := listen(t, name)
			t.Setenv("NOTIFY_SOCKET", name)
			t.Setenv("WATCHDOG_USEC", "200000")
			t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
			n := service.NotifierFromEnv()
			require.NotNil(t, n)
			require.Equal(t, 200*time.Millisecond, n.Watchdog())
			require.NoError(t, n.Ready())
			require.Equal(t, "READY=1\n", recv(t, c))

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { n.RunWatchdog(ctx); close(done) }()
			start := time.Now()
			for range 3 {
				require.Equal(t, "WATCHDOG=1\n", recv(t, c))
			}
			// Three pings at half of 200ms: the first at once, then every 100ms.
			require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
			cancel()
			<-done
			require.NoError(t, n.Stopping())
			for {
				if m := recv(t, c); m != "WATCHDOG=1\n" {
					require.Equal(t, "STOPPING=1\n", m)
					break
				}
			}
		})
	}
}

func TestNotifierFromEnv(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	var n *service.Notifier = service.NotifierFromEnv()
	require.Nil(t, n, "outside systemd")
	require.NoError(t, n.Ready(), "a nil Notifier does nothing")
	n.RunWatchdog(context.Background())

	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "none"))
	t.Setenv("WATCHDOG_USEC", "1000000")
	t.Setenv("WATCHDOG_PID", "1")
	n = service.NotifierFromEnv()
	require.Zero(t, n.Watchdog(), "the watchdog is another process's")
	require.ErrorContains(t, n.Ready(), "sd_notify ")
}
