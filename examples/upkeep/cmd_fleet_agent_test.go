package main

import (
	"bufio"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// logProcess is a process started by startLogged, with what it printed on stderr.
type logProcess struct {
	mu    sync.Mutex
	lines []string
}

func (p *logProcess) printed() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// startLogged runs the command as a process, keeping every line of its stderr; it
// is stopped with SIGTERM at cleanup.
func startLogged(t *testing.T, args ...string) *logProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "UPKEEP_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &logProcess{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		cmd.Wait()
	})
	return p
}

// TestFleetSlaveWithoutSource: an agent whose configuration has a fleet slave block
// and no source is valid (`config check` accepts it), checks nothing on its
// schedule, logs no failed check however many intervals pass, and stages what its
// master propagates.
func TestFleetSlaveWithoutSource(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("stops its processes with SIGTERM")
	}
	t.Parallel()
	f := newFleetFixture(t)
	repo, pack, dir, enrol := f.repo, f.pack, f.dir, f.enrol
	master := f.startMaster(t)

	slaveDir := filepath.Join(dir, "quiet")
	slaveCfg := writeJSONFile(t, filepath.Join(dir, "quiet.json"), map[string]any{
		"keys": []string{repo.PubFile}, "state_dir": filepath.Join(slaveDir, "state"), "check_interval": "1s",
		"modules": []map[string]any{{"name": "watchdoc", "path": filepath.Join(slaveDir, "watchdoc")}},
		"fleet": map[string]any{"role": "slave", "master": master, "name": "quiet", "mode": "mailbox", "poll_interval": "2s",
			"enrol_token_file": enrol},
	})
	code, out, errs := runCLI(t, "config", "check", "--config", slaveCfg)
	require.Equal(t, 0, code, errs)
	var eff map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &eff), out)
	require.Empty(t, eff["source"], out)

	agent := startLogged(t, "agent", "--config", slaveCfg, "--addr", "127.0.0.1:0")
	fleetCmd := f.fleetCmd(t, master)
	waitEnrolled(t, fleetCmd, agent.printed, "quiet")
	// The first check would come 3 s after the start, then every second.
	time.Sleep(6 * time.Second)

	code, _, errs = fleetCmd("add-update", "--name", "wd", "--pack", pack)
	require.Equal(t, 0, code, errs)
	code, out, errs = fleetCmd("propagate", "--update", "wd", "--all", "--wait", "--json")
	require.Equal(t, 0, code, errs)
	var rep struct {
		Servers []struct{ Name, State, Code, Reason string } `json:"servers"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Servers, 1, out)
	require.Equal(t, "staged", rep.Servers[0].State, out)

	printed := agent.printed()
	for _, line := range strings.Split(printed, "\n") {
		require.NotContains(t, line, "level=ERROR", "the agent logged an error:\n%s", printed)
		require.NotContains(t, line, "msg=check", "the agent logged a check:\n%s", printed)
	}
	require.Contains(t, printed, "no source configured", printed)
	// No check is in the operations log either.
	ops, err := os.ReadFile(filepath.Join(slaveDir, "state", "agent", "operations.jsonl"))
	if err == nil {
		require.NotContains(t, string(ops), `"check"`, string(ops))
	} else {
		require.ErrorIs(t, err, fs.ErrNotExist)
	}
}

// TestAgentHostReachesFleetPages: the --host names of `upkeep agent` are answered by
// the pages of the fleet master it runs, as by its portal; another Host is refused.
func TestAgentHostReachesFleetPages(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("stops its processes with SIGTERM")
	}
	t.Parallel()
	f := newFleetFixture(t)
	repo, dir, admin, enrol := f.repo, f.dir, f.admin, f.enrol
	cfg := writeJSONFile(t, filepath.Join(dir, "master.json"), map[string]any{
		"source": repo.Dir, "keys": []string{repo.PubFile}, "state_dir": filepath.Join(dir, "state"), "check_interval": "1h",
		"modules": []map[string]any{{"name": "watchdoc", "path": filepath.Join(dir, "watchdoc")}},
		"fleet": map[string]any{"role": "master", "listen": "127.0.0.1:0", "store": "sqlite:" + filepath.Join(dir, "fleet.db"),
			"enrol_token_file": enrol, "admin_token_file": admin},
	})
	agent := startLogged(t, "agent", "--config", cfg, "--addr", "127.0.0.1:0", "--host", "fleet.example")
	get := func(base, host string) int {
		req, err := http.NewRequest(http.MethodGet, base+"/ui/", nil)
		require.NoError(t, err)
		req.Host = host
		req.Header.Set("Authorization", "Bearer admin-0123456789abcdef")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// The portal and the master each print where they listen: the master is the one
	// with the fleet API.
	master := ""
	for deadline := time.Now().Add(20 * time.Second); master == ""; time.Sleep(50 * time.Millisecond) {
		for _, line := range strings.Split(agent.printed(), "\n") {
			base, ok := strings.CutPrefix(line, "listening on ")
			if !ok {
				continue
			}
			base = strings.TrimSuffix(base, "/")
			resp, err := http.Get(base + "/fleet/v1/admin/servers")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusUnauthorized {
					master = base
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent's fleet master never listened:\n%s", agent.printed())
		}
	}
	port := master[strings.LastIndex(master, ":")+1:]
	require.Equal(t, http.StatusOK, get(master, "127.0.0.1:"+port))
	require.Equal(t, http.StatusOK, get(master, "fleet.example:"+port), "a --host name")
	require.Equal(t, http.StatusMisdirectedRequest, get(master, "evil.example:"+port), "a Host not given")
}
