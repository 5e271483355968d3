//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/testenv"
	"github.com/upkeep-go/upkeep/pack"
	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// builds holds the server built once per version for the whole test run: linking is
// the slow part, and the bytes of a version never change.
var builds struct {
	mu  sync.Mutex
	dir string
	bin map[string][]byte
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "selfupdating-server-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	builds.dir, builds.bin = dir, map[string][]byte{}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binary returns the server's executable built with -X main.version=version.
func binary(t *testing.T, version string) []byte {
	t.Helper()
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if b, ok := builds.bin[version]; ok {
		return b
	}
	gobin := testenv.NeedProgram(t, "go", "golang-go")
	out := filepath.Join(builds.dir, version, module)
	cmd := exec.Command(gobin, "build", "-o", out, "-ldflags", "-s -w -X main.version="+version, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", msg)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	builds.bin[version] = b
	return b
}

// proc is the example running from a module folder, updating itself from a test
// repository.
type proc struct {
	t      *testing.T
	repo   *updatetest.Repo
	dir    string // the module folder
	exe    string
	url    string
	log    string // stderr of every generation
	done   chan struct{}
	waited error // the first process's exit, once done is closed
}

// start installs version in a fresh module folder and runs it with args added to the
// required flags; every process it starts is killed when the test ends.
func start(t *testing.T, version string, args ...string) *proc {
	t.Helper()
	repo := updatetest.NewRepo(t)
	source := repo.Serve()
	root := t.TempDir()
	s := &proc{t: t, repo: repo, dir: filepath.Join(root, "srv", module), log: filepath.Join(root, "server.log"), done: make(chan struct{})}
	s.exe = filepath.Join(s.dir, module)
	require.NoError(t, os.MkdirAll(s.dir, 0o755))
	require.NoError(t, os.WriteFile(s.exe, binary(t, version), 0o755))
	addr := freeAddr(t)
	s.url = "http://" + addr
	logf, err := os.Create(s.log)
	require.NoError(t, err)
	defer logf.Close()

	cmd := exec.Command(s.exe, append([]string{"--addr", addr, "--source", source, "--pub", repo.PubFile,
		"--state-dir", filepath.Join(root, "state"), "--check-interval", "200ms"}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Every generation stays in this group, so that cleanup reaches them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	pgid := cmd.Process.Pid
	go func() { s.waited = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
		}
		if t.Failed() {
			b, _ := os.ReadFile(s.log)
			t.Logf("server log:\n%s", b)
		}
	})
	s.waitVersion(version, 15*time.Second)
	return s
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// publish publishes exe as version of the module for this platform.
func (s *proc) publish(version string, exe []byte) {
	s.t.Helper()
	// Stored, not deflated: compressing megabytes of executable in this race-instrumented
	// test process would take most of the test's time.
	s.repo.Publish(module, version, runtime.GOOS+"/"+runtime.GOARCH, map[string]string{module + "*": string(exe)},
		publish.WithMethod(pack.Store))
}

var plain = &http.Client{Timeout: 5 * time.Second}

func (s *proc) get(path string) (int, string, error) {
	resp, err := plain.Get(s.url + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

func (s *proc) waitVersion(want string, timeout time.Duration) {
	s.t.Helper()
	var last string
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		code, body, err := s.get("/version")
		if err == nil && code == http.StatusOK && body == want {
			return
		}
		last = fmt.Sprint(code, " ", body, " ", err)
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("GET /version never answered %s within %s (last: %s)", want, timeout, last)
}

func (s *proc) status() status {
	s.t.Helper()
	code, body, err := s.get("/status")
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusOK, code, body)
	var st status
	require.NoError(s.t, json.Unmarshal([]byte(body), &st))
	return st
}

func (s *proc) logText() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
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
	return !strings.HasPrefix(rest, "Z") // a zombie has exited
}

func eventually(t *testing.T, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(format, args...)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSelfUpdateTwice(t *testing.T) {
	s := start(t, "1.0.0")
	first := s.status()
	require.Equal(t, "1.0.0", first.Version)

	s.publish("1.1.0", binary(t, "1.1.0"))
	s.waitVersion("1.1.0", 15*time.Second)
	second := s.status()
	require.NotEqual(t, first.PID, second.PID)
	select {
	case <-s.done:
		require.NoError(t, s.waited, "the first process exits cleanly")
	case <-time.After(10 * time.Second):
		t.Fatal("the 1.0.0 process did not exit")
	}

	s.publish("1.2.0", binary(t, "1.2.0"))
	s.waitVersion("1.2.0", 15*time.Second)
	third := s.status()
	require.NotEqual(t, second.PID, third.PID)
	eventually(t, 10*time.Second, func() bool { return !alive(second.PID) }, "the 1.1.0 process (pid %d) did not exit", second.PID)

	require.Equal(t, "1.2.0", *third.Module.Installed)
	require.Contains(t, third.Module.Backups, "1.1.0")
	got, err := os.ReadFile(s.exe)
	require.NoError(t, err)
	require.True(t, bytes.Equal(binary(t, "1.2.0"), got), "the module folder holds the 1.2.0 build")
	require.Equal(t, 2, strings.Count(s.logText(), "handed over to the new version"))
}

// load sends requests until stop is closed, from goroutines that reuse keep-alive
// connections and goroutines that open a new connection for each request, and counts
// every outcome.
type load struct {
	ok, unavailable, other, errs atomic.Int64
	mu                           sync.Mutex
	samples                      []string // the first failures, for the report
	stop                         chan struct{}
	wg                           sync.WaitGroup
}

func startLoad(url string, keepAlive, fresh int) *load {
	l := &load{stop: make(chan struct{})}
	shared := &http.Transport{MaxIdleConnsPerHost: keepAlive}
	for i := range keepAlive + fresh {
		tr := shared
		if i >= keepAlive {
			tr = &http.Transport{DisableKeepAlives: true}
		}
		c := &http.Client{Timeout: 10 * time.Second, Transport: tr}
		l.wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				path := "/version"
				if n%5 == 0 {
					path = "/slow?d=30ms" // in flight when a process starts draining
				}
				l.do(c, url+path)
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	return l
}

func (l *load) do(c *http.Client, url string) {
	resp, err := c.Get(url)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	switch {
	case err != nil:
		l.errs.Add(1)
		l.sample(err.Error())
	case resp.StatusCode == http.StatusOK:
		l.ok.Add(1)
	case resp.StatusCode == http.StatusServiceUnavailable:
		l.unavailable.Add(1)
	default:
		l.other.Add(1)
		l.sample(resp.Status)
	}
}

func (l *load) sample(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.samples) < 5 {
		l.samples = append(l.samples, s)
	}
}

func (l *load) finish() string {
	close(l.stop)
	l.wg.Wait()
	return fmt.Sprintf("%d requests: %d ok, %d 503, %d other status, %d connection errors %v",
		l.ok.Load()+l.unavailable.Load()+l.other.Load()+l.errs.Load(), l.ok.Load(), l.unavailable.Load(), l.other.Load(), l.errs.Load(), l.samples)
}

var windowRE = regexp.MustCompile(`msg=installed .*to=(\S+) window=(\S+)`)

func TestLoadDuringSelfUpdates(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	tests := []struct {
		name     string
		args     []string
		allow503 bool
	}{
		{name: "zero-downtime"},
		{name: "maintenance", args: []string{"--maintenance"}, allow503: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			begin := time.Now()
			s := start(t, "1.0.0", tt.args...)
			l := startLoad(s.url, 4, 2)
			time.Sleep(300 * time.Millisecond)
			s.publish("1.1.0", binary(t, "1.1.0"))
			s.waitVersion("1.1.0", 8*time.Second)
			s.publish("1.2.0", binary(t, "1.2.0"))
			s.waitVersion("1.2.0", 8*time.Second)
			time.Sleep(300 * time.Millisecond)
			report := l.finish()
			var windows []string
			for _, m := range windowRE.FindAllStringSubmatch(s.logText(), -1) {
				windows = append(windows, m[1]+": "+m[2])
			}
			t.Logf("%s: %s; maintenance windows %v; %s in all", tt.name, report, windows, time.Since(begin).Round(100*time.Millisecond))
			require.Len(t, windows, 2)
			require.Zero(t, l.errs.Load(), report)
			require.Zero(t, l.other.Load(), report)
			if !tt.allow503 {
				require.Zero(t, l.unavailable.Load(), report)
			}
			require.Positive(t, l.ok.Load())
		})
	}
}

func TestNewVersionNotReady(t *testing.T) {
	tests := []struct {
		name   string
		script string
		args   []string
		why    string // in the recorded failure
	}{
		{name: "exits at start", script: "#!/bin/sh\necho 'broken build: cannot start' >&2\nexit 1\n", why: "exit status 1"},
		{name: "never ready", script: "#!/bin/sh\nexec sleep 60\n", args: []string{"--ready-timeout", "1s"}, why: "no readiness signal within 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testenv.NeedProgram(t, "sh", "dash")
			s := start(t, "1.0.0", tt.args...)
			before := s.status()
			l := startLoad(s.url, 2, 1)

			s.publish("1.1.0", []byte(tt.script))
			var st status
			eventually(t, 15*time.Second, func() bool {
				st = s.status()
				return strings.HasPrefix(st.Module.LastResult, "rolled back to 1.0.0") && st.Module.FailedVersion == "1.1.0"
			}, "the failed 1.1.0 was not rolled back")
			require.Contains(t, st.Module.LastError, "1.1.0 did not become ready")
			require.Contains(t, st.Module.LastError, tt.why)
			require.Equal(t, "1.0.0", st.Version)
			require.Equal(t, before.PID, st.PID, "the old process keeps serving")
			require.Equal(t, "1.0.0", *st.Module.Installed)
			got, err := os.ReadFile(s.exe)
			require.NoError(t, err)
			require.True(t, bytes.Equal(binary(t, "1.0.0"), got), "the module folder holds the 1.0.0 build again")

			// Later checks do not install the failed version again.
			time.Sleep(time.Second)
			require.Len(t, regexp.MustCompile(`msg=installed .*to=1.1.0`).FindAllString(s.logText(), -1), 1, "1.1.0 must not be retried")
			require.Contains(t, s.logText(), `msg="update not retried"`)

			// A good version still goes through.
			s.publish("1.2.0", binary(t, "1.2.0"))
			s.waitVersion("1.2.0", 15*time.Second)
			report := l.finish()
			t.Logf("%s: %s", tt.name, report)
			require.Zero(t, l.errs.Load(), report)
			require.Zero(t, l.other.Load()+l.unavailable.Load(), report)
		})
	}
}

func TestFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"help", []string{"-h"}, 0},
		{"missing source", []string{"--pub", "k", "--state-dir", "s"}, 2},
		{"bad interval", []string{"--source", "x", "--pub", "k", "--state-dir", "s", "--check-interval", "0s"}, 2},
		{"extra argument", []string{"--source", "x", "--pub", "k", "--state-dir", "s", "more"}, 2},
		{"key file missing", []string{"--source", "x", "--pub", "/nonexistent.pub", "--state-dir", "s"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for i, a := range tt.args {
				if a == "s" {
					tt.args[i] = t.TempDir()
				}
			}
			var stderr bytes.Buffer
			got := run(context.Background(), tt.args, &stderr)
			require.Equal(t, tt.want, got, stderr.String())
		})
	}
}
