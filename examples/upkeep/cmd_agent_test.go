//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update/updatetest"
)

// TestAgentProcess runs `upkeep agent` as a process, as an operator or a service
// manager does: it says where it listens, its portal answers /healthz without a token
// and refuses a POST without one, installs a module when asked through the API (with
// the token the page carries), and exits 0 on SIGTERM.
func TestAgentProcess(t *testing.T) {
	t.Parallel()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	dir := t.TempDir()
	sec, pub := publisher(t, dir)
	repo := filepath.Join(dir, "repo")
	build := filepath.Join(dir, "build")
	updatetest.WriteTree(t, build, map[string]string{"index.html": "one"})
	code, _, errs := runCLI(t, "publish", "--repo", repo, "--sec", sec, "--module", "web", "--version", "1.0.0", "--platform", platform, "--from", build)
	require.Equal(t, 0, code, errs)
	module := filepath.Join(dir, "srv", "web")
	cb, _ := json.Marshal(map[string]any{"source": repo, "keys": []string{pub}, "state_dir": filepath.Join(dir, "state"),
		"check_interval": "1h", "modules": []map[string]any{{"name": "web", "path": module}}})
	config := filepath.Join(dir, "agent.json")
	require.NoError(t, os.WriteFile(config, cb, 0o644))

	cmd := exec.Command(os.Args[0], "agent", "--config", config, "--addr", "127.0.0.1:0")
	cmd.Env = commandEnv()
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stderr)
	var base string
	for lines.Scan() {
		if m := regexp.MustCompile(`^listening on (http://[^ ]+/)$`).FindStringSubmatch(lines.Text()); m != nil {
			base = m[1]
			break
		}
	}
	require.NotEmpty(t, base, "the agent says where it listens")
	go io.Copy(io.Discard, stderr)

	get := func(path string) (int, string) {
		resp, err := http.Get(base + strings.TrimPrefix(path, "/"))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(path, token string) int {
		req, _ := http.NewRequest(http.MethodPost, base+strings.TrimPrefix(path, "/"), nil)
		if token != "" {
			req.Header.Set("X-Upkeep-Token", token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	code, body := get("/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok", strings.TrimSpace(body))
	require.Equal(t, http.StatusForbidden, post("/api/modules/web/install", ""), "a POST without the page's token is refused")

	code, page := get("/")
	require.Equal(t, http.StatusOK, code)
	m := regexp.MustCompile(`<meta name="upkeep-token" content="([^"]+)">`).FindStringSubmatch(page)
	require.NotNil(t, m, "the page carries its token")
	require.Equal(t, http.StatusAccepted, post("/api/modules/web/install", m[1]))

	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := get("/api/modules")
		var v struct {
			Modules []struct {
				Installed *string `json:"installed"`
			} `json:"modules"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &v), body)
		if v.Modules[0].Installed != nil && *v.Modules[0].Installed == "1.0.0" {
			break
		}
		require.True(t, time.Now().Before(deadline), "not installed in time: %s", body)
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, map[string]string{"index.html": "one"}, updatetest.ReadTree(t, module))

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "exit 0 after SIGTERM")
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not stop on SIGTERM")
	}
}

// TestServicePrint: `service install --print` writes the unit and installs nothing.
func TestServicePrint(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the unit is systemd's")
	}
	t.Parallel()
	dir := t.TempDir()
	_, pub := publisher(t, dir)
	cb, _ := json.Marshal(map[string]any{"source": dir, "keys": []string{pub}, "state_dir": filepath.Join(dir, "state"),
		"modules": []map[string]any{{"name": "web", "path": filepath.Join(dir, "web")}}})
	config := filepath.Join(dir, "agent.json")
	require.NoError(t, os.WriteFile(config, cb, 0o644))
	code, out, errs := runCLI(t, "service", "install", "--config", config, "--print")
	require.Equal(t, 0, code, errs)
	for _, want := range []string{"Type=notify", "Restart=on-failure", "WatchdogSec=", "agent", config} {
		require.Contains(t, out, want)
	}
	code, _, _ = runCLI(t, "service", "install", "--print")
	require.Equal(t, 2, code, "--config is required")
	code, out, _ = runCLI(t, "service", "-h")
	require.Equal(t, 0, code)
	require.Contains(t, out, "uninstall")
}

// agentUntilListening runs `upkeep agent` with args as a process and returns its exit
// code and stderr, or -1 and what it printed once it says it listens; then it calls
// serving, if not nil, with the base URL, and stops the agent.
func agentUntilListening(t *testing.T, serving func(base string), args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"agent"}, args...)...)
	cmd.Env = commandEnv()
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()
	var printed strings.Builder
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		printed.WriteString(lines.Text() + "\n")
		if base, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
			go io.Copy(io.Discard, stderr)
			if serving != nil {
				serving(base)
			}
			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			require.NoError(t, cmd.Wait(), "exit 0 after SIGTERM")
			return -1, printed.String()
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if err != nil {
		require.ErrorAs(t, err, &ee)
		return ee.ExitCode(), printed.String()
	}
	return 0, printed.String()
}

// TestAgentRefusesOpenAddr: a portal on an address other than loopback would let
// anyone who reaches it install and roll back: `upkeep agent` refuses it without
// --token-file, as a usage error that says why, and serves it with one.
func TestAgentRefusesOpenAddr(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, pub := publisher(t, dir)
	cb, _ := json.Marshal(map[string]any{"source": dir, "keys": []string{pub}, "state_dir": filepath.Join(dir, "state"),
		"check_interval": "1h", "modules": []map[string]any{{"name": "web", "path": filepath.Join(dir, "web")}}})
	config := filepath.Join(dir, "agent.json")
	require.NoError(t, os.WriteFile(config, cb, 0o644))
	tokenFile := filepath.Join(dir, "portal.token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("a-secret-of-32-characters-at-least\n"), 0o600))

	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		code, errs := agentUntilListening(t, nil, "--config", config, "--addr", addr)
		require.Equal(t, exitUsage, code, "%s: %s", addr, errs)
		require.Contains(t, errs, "--addr "+addr)
		require.Contains(t, errs, "loopback")
		require.Contains(t, errs, "--token-file")
	}
	for _, addr := range []string{"localhost:0", "[::1]:0", "127.0.0.2:0"} {
		code, errs := agentUntilListening(t, nil, "--config", config, "--addr", addr)
		if addr == "[::1]:0" && strings.Contains(errs, "cannot assign requested address") {
			continue // no IPv6 loopback on this machine
		}
		require.Equal(t, -1, code, "%s: %s", addr, errs)
	}
	// With a token file the agent serves, and answers the names --host gives.
	code, errs := agentUntilListening(t, func(base string) {
		port := base[strings.LastIndex(base, ":")+1 : len(base)-1]
		for host, want := range map[string]int{"127.0.0.1:" + port: 200, "upkeep-box.example:" + port: 200, "other.example:" + port: 421} {
			req, err := http.NewRequest("GET", "http://127.0.0.1:"+port+"/healthz", nil)
			require.NoError(t, err)
			req.Host = host
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, want, resp.StatusCode, host)
		}
	}, "--config", config, "--addr", "0.0.0.0:0", "--token-file", tokenFile, "--host", "upkeep-box.example")
	require.Equal(t, -1, code, "with a token file the agent serves: %s", errs)
	code, errs = agentUntilListening(t, nil, "--config", config, "--host", "a/b")
	require.Equal(t, exitUsage, code, errs)
	require.Contains(t, errs, `--host "a/b"`)

	if runtime.GOOS == "linux" {
		code, _, errs := runCLI(t, "service", "install", "--config", config, "--addr", "0.0.0.0:8080", "--print")
		require.Equal(t, exitUsage, code, errs)
		require.Contains(t, errs, "--token-file")
		code, out, errs := runCLI(t, "service", "install", "--config", config, "--addr", "0.0.0.0:8080", "--token-file", tokenFile, "--host", "upkeep-box.example", "--print")
		require.Equal(t, 0, code, errs)
		require.Contains(t, out, "--token-file")
		require.Contains(t, out, `"--host" "upkeep-box.example"`)
	}
}
