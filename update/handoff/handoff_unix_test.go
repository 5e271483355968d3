//go:build unix

package handoff_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/upkeep-go/upkeep/update/handoff"
)

// The test binary plays the new process when childMode is set: see runChild.
const (
	childMode   = "UPKEEP_HANDOFF_TEST_CHILD"
	childListen = "UPKEEP_HANDOFF_TEST_LISTEN" // "network addr" pairs separated by ";"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childMode); mode != "" {
		os.Exit(runChild(mode))
	}
	code := m.Run()
	if selfrestart.dir != "" {
		os.RemoveAll(selfrestart.dir)
	}
	os.Exit(code)
}

// runChild is the new process: "serve" listens where childListen says, answers
// "child …" and signals readiness; "exit" exits 3 at once; "hang" never signals;
// "close" closes its readiness pipe without a word and waits.
func runChild(mode string) int {
	switch mode {
	case "exit":
		return 3
	case "close":
		fd, _ := strconv.Atoi(os.Getenv(handoff.EnvReady))
		syscall.Close(fd)
		time.Sleep(30 * time.Second)
		return 0
	}
	h, err := handoff.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	if mode == "hang" {
		time.Sleep(30 * time.Second)
		return 0
	}
	body := fmt.Sprintf("child inherited=%v env-cleared=%v", handoff.Inherited(),
		os.Getenv(handoff.EnvListeners) == "" && os.Getenv(handoff.EnvReady) == "")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	})}
	for _, pair := range strings.Split(os.Getenv(childListen), ";") {
		network, addr, _ := strings.Cut(pair, " ")
		ln, err := h.Listen(context.Background(), network, addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		go srv.Serve(ln)
	}
	if err := h.Ready(); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	select {
	case <-stop:
	case <-time.After(30 * time.Second): // never outlive a test run
	}
	srv.Close()
	return 0
}

// serveParent serves "parent" on ln until the test ends.
func serveParent(t *testing.T, ln net.Listener) (*http.Server, *handoff.Drainer) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "parent")
	})}
	d := handoff.NewDrainer(srv)
	go d.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv, d
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func unixClient(path string) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

// nonBlocking reports whether ln's socket is in non-blocking mode, which its Accept
// and Close rely on.
func nonBlocking(t *testing.T, ln net.Listener) bool {
	rc, err := ln.(syscall.Conn).SyscallConn()
	require.NoError(t, err)
	var flags int
	require.NoError(t, rc.Control(func(fd uintptr) {
		flags, err = unix.FcntlInt(fd, unix.F_GETFL, 0)
	}))
	require.NoError(t, err)
	return flags&unix.O_NONBLOCK != 0
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // not Linux: Kill's answer stands
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func TestUpgradeHandsListenersOver(t *testing.T) {
	ctx := context.Background()
	h, err := handoff.New(handoff.WithReadyTimeout(20 * time.Second))
	require.NoError(t, err)
	require.False(t, handoff.Inherited())
	require.NoError(t, h.Ready(), "Ready without a parent does nothing")

	tcp, err := h.Listen(ctx, "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	sock := filepath.Join(t.TempDir(), "s.sock")
	unix, err := h.Listen(ctx, "unix", sock)
	require.NoError(t, err)
	_, drainer := serveParent(t, tcp)
	go drainer.Serve(unix)
	url := "http://" + tcp.Addr().String() + "/"
	tcpClient := &http.Client{Timeout: 5 * time.Second}
	body, err := get(tcpClient, url)
	require.NoError(t, err)
	require.Equal(t, "parent", body)

	// Clients keep asking during the handover and the parent's shutdown, over
	// keep-alive connections and new ones: none may fail.
	var fails, oks atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: i%2 == 0}}
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := get(c, url); err != nil {
					fails.Add(1)
					firstErr.CompareAndSwap(nil, err)
				} else {
					oks.Add(1)
				}
				time.Sleep(time.Millisecond)
			}
		})
	}

	t.Setenv(childMode, "serve")
	// The child asks for the same addresses as the parent did, port 0 included.
	t.Setenv(childListen, "tcp 127.0.0.1:0;unix "+sock)
	child, err := h.Upgrade(ctx) // this test binary, with the arguments it was given
	require.NoError(t, err)
	t.Cleanup(func() { syscall.Kill(child.PID, syscall.SIGTERM) })
	select {
	case <-h.Exit():
	default:
		t.Fatal("Exit is not closed after a successful Upgrade")
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, drainer.Drain(sctx, tcp, unix))
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	require.Zero(t, fails.Load(), "failed requests during the handover (first: %v)", firstErr.Load())
	require.Positive(t, oks.Load())
	t.Logf("%d requests during the handover, none failed; child ready after %s", oks.Load(), child.Ready)

	want := "child inherited=true env-cleared=true"
	body, err = get(&http.Client{Timeout: 5 * time.Second}, url)
	require.NoError(t, err)
	require.Equal(t, want, body)
	body, err = get(unixClient(sock), "http://unix/")
	require.NoError(t, err, "the socket file must survive the parent closing its listener")
	require.Equal(t, want, body)

	_, err = h.Upgrade(ctx)
	require.ErrorIs(t, err, handoff.ErrUpgraded)
}

func TestUpgradeNotReady(t *testing.T) {
	tests := []struct {
		name    string
		mode    string
		exe     string // default: this test binary
		timeout time.Duration
		ctx     time.Duration // cancel the wait after this long; 0: never
		check   func(t *testing.T, err error)
	}{
		{name: "exits at start", mode: "exit", check: func(t *testing.T, err error) {
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee)
			require.Equal(t, 3, ee.ExitCode())
		}},
		{name: "never ready", mode: "hang", timeout: 500 * time.Millisecond, check: func(t *testing.T, err error) {
			require.ErrorContains(t, err, "no readiness signal within 500ms")
		}},
		{name: "closes the pipe", mode: "close", timeout: 500 * time.Millisecond, check: func(t *testing.T, err error) {
			require.ErrorContains(t, err, "closed its readiness pipe")
		}},
		{name: "context ends", mode: "hang", ctx: 300 * time.Millisecond, check: func(t *testing.T, err error) {
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}},
		{name: "executable missing", exe: "/nonexistent/app", check: func(t *testing.T, err error) {
			var re *handoff.ReadyError
			require.ErrorAs(t, err, &re)
			require.Zero(t, re.PID)
			require.ErrorIs(t, err, os.ErrNotExist)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 20 * time.Second
			}
			opts := []handoff.Option{handoff.WithReadyTimeout(timeout)}
			if tt.exe != "" {
				opts = append(opts, handoff.WithCommand(tt.exe))
			}
			h, err := handoff.New(opts...)
			require.NoError(t, err)
			ln, err := h.Listen(context.Background(), "tcp", "127.0.0.1:0")
			require.NoError(t, err)
			serveParent(t, ln)
			ctx := context.Background()
			if tt.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}
			t.Setenv(childMode, tt.mode)
			start := time.Now()
			child, err := h.Upgrade(ctx)
			require.Nil(t, child)
			require.ErrorIs(t, err, handoff.ErrNotReady)
			tt.check(t, err)
			require.Less(t, time.Since(start), 10*time.Second)
			var re *handoff.ReadyError
			require.ErrorAs(t, err, &re)
			if re.PID != 0 {
				require.False(t, alive(re.PID), "the failed child must be gone")
			}
			select {
			case <-h.Exit():
				t.Fatal("Exit closed after a failed Upgrade")
			default:
			}
			require.True(t, nonBlocking(t, ln), "the parent's socket must stay non-blocking")
			body, err := get(&http.Client{Timeout: 5 * time.Second}, "http://"+ln.Addr().String()+"/")
			require.NoError(t, err)
			require.Equal(t, "parent", body, "the parent keeps serving")
		})
	}
}

func TestNewOptions(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  handoff.Option
		ok   bool
	}{
		{"timeout", handoff.WithReadyTimeout(time.Second), true},
		{"zero timeout", handoff.WithReadyTimeout(0), false},
		{"nil logger", handoff.WithLogger(nil), false},
		{"command", handoff.WithCommand("/usr/local/bin/app", "--serve"), true},
		{"empty command", handoff.WithCommand(""), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := handoff.New(tt.opt)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestListenReusesNothingWithoutParent(t *testing.T) {
	h, err := handoff.New()
	require.NoError(t, err)
	a, err := h.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer a.Close()
	b, err := h.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer b.Close()
	require.NotEqual(t, a.Addr().String(), b.Addr().String())
	_, err = h.Listen(context.Background(), "tcp", a.Addr().String())
	require.True(t, errors.Is(err, syscall.EADDRINUSE), "got %v", err)
}
