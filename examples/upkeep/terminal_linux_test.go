package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal and returns its controlling and terminal sides.
func openPTY(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	require.NoError(t, unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetUint32(int(ptmx.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	pts, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { pts.Close() })
	return ptmx, pts
}

func TestIsTerminalPTY(t *testing.T) {
	t.Parallel()
	_, pts := openPTY(t)
	require.True(t, isTerminalFd(pts.Fd()))
}

// TestExtractProgressOnPTY checks that progress is drawn when stderr is a terminal,
// even with stdout sent to /dev/null.
func TestExtractProgressOnPTY(t *testing.T) {
	t.Parallel()
	zipPath := progressPack(t)
	ptmx, pts := openPTY(t)
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer devNull.Close()
	var got bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&got, ptmx) // ends with EIO once the terminal side is closed
		close(done)
	}()
	cmd := exec.Command(os.Args[0], "pack", "extract", zipPath, filepath.Join(t.TempDir(), "dest"))
	cmd.Env, cmd.Stdout, cmd.Stderr = commandEnv(), devNull, pts
	require.NoError(t, cmd.Run())
	pts.Close()
	<-done
	require.Contains(t, got.String(), "MiB / 3.0 MiB")
}

// TestInstallProgressOnPTY runs `upkeep install` with stderr on a pseudo-terminal:
// the progress bar, redrawn with \r, and none of the plain lines.
func TestInstallProgressOnPTY(t *testing.T) {
	t.Parallel()
	config := installConfig(t)
	ptmx, pts := openPTY(t)
	var got bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&got, ptmx)
		close(done)
	}()
	cmd := exec.Command(os.Args[0], "install", "--config", config, "web")
	cmd.Env, cmd.Stderr = commandEnv(), pts
	_, err := cmd.Output()
	require.NoError(t, err)
	pts.Close()
	<-done
	require.Contains(t, got.String(), "\r")
	require.Contains(t, got.String(), "[####################] 100.0%")
	require.NotContains(t, got.String(), "download web 1.0.0: started")
}
