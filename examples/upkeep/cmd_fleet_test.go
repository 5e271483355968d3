package main

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update/updatetest"
)

// startProcess runs the command as a process and returns the address it prints
// on stderr ("listening on SCHEME://ADDR/"); it is stopped with SIGTERM at cleanup.
func startProcess(t *testing.T, wantListen bool, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "UPKEEP_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	if !wantListen {
		return ""
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%v ended before it listened", args)
			}
			if rest, found := strings.CutPrefix(l, "listening on "); found {
				return strings.TrimSuffix(rest, "/")
			}
		case <-deadline:
			t.Fatalf("%v did not listen", args)
		}
	}
}

// fleetFixture is what the fleet's process tests start from: a repository with
// watchdoc 6.1.0 for this platform (pack is its file), and a folder dir holding the
// admin and enrolment token files.
type fleetFixture struct {
	platform, pack, dir, admin, enrol string
	repo                              *updatetest.Repo
}

func newFleetFixture(t *testing.T) *fleetFixture {
	t.Helper()
	f := &fleetFixture{platform: runtime.GOOS + "/" + runtime.GOARCH, repo: updatetest.NewRepo(t), dir: t.TempDir()}
	f.repo.Publish("watchdoc", "6.1.0", f.platform, map[string]string{"version.txt": "6.1.0"})
	filepath.WalkDir(f.repo.Dir, func(p string, _ fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".zip") {
			f.pack = p
		}
		return nil
	})
	require.NotEmpty(t, f.pack)
	f.admin, f.enrol = filepath.Join(f.dir, "admin.token"), filepath.Join(f.dir, "enrol.token")
	require.NoError(t, os.WriteFile(f.admin, []byte("admin-0123456789abcdef\n"), 0o600))
	require.NoError(t, os.WriteFile(f.enrol, []byte("enrol-0123456789abcdef\n"), 0o600))
	return f
}

// startMaster writes the master's configuration (the fixture's repository as its
// source, a SQLite store in dir) and starts `upkeep fleet master`; it returns the
// master's address.
func (f *fleetFixture) startMaster(t *testing.T) string {
	t.Helper()
	d := filepath.Join(f.dir, "master")
	cfg := writeJSONFile(t, filepath.Join(f.dir, "master.json"), map[string]any{
		"source": f.repo.Dir, "keys": []string{f.repo.PubFile}, "state_dir": filepath.Join(d, "state"),
		"modules": []map[string]any{{"name": "watchdoc", "path": filepath.Join(d, "watchdoc")}},
		"fleet": map[string]any{"role": "master", "listen": "127.0.0.1:0", "store": "sqlite:" + filepath.Join(f.dir, "fleet.db"),
			"enrol_token_file": f.enrol, "admin_token_file": f.admin},
	})
	return startProcess(t, true, "fleet", "master", "--config", cfg)
}

// fleetCmd returns a function running `upkeep fleet ARGS` against master with the
// admin token.
func (f *fleetFixture) fleetCmd(t *testing.T, master string) func(args ...string) (int, string, string) {
	return func(args ...string) (int, string, string) {
		return runCLI(t, append(append([]string{"fleet"}, args...), "--master", master, "--token-file", f.admin)...)
	}
}

// waitEnrolled waits until `fleet servers` lists every name, failing after 30 s
// with the listing and what more says.
func waitEnrolled(t *testing.T, fleetCmd func(args ...string) (int, string, string), more func() string, names ...string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, out, errs := fleetCmd("servers", "--json")
		require.Equal(t, 0, code, errs)
		missing := slices.ContainsFunc(names, func(n string) bool { return !strings.Contains(out, `"`+n+`"`) })
		if !missing {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v never enrolled: %s\n%s", names, out, more())
		}
	}
}

func writeJSONFile(t *testing.T, path string, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

// TestFleetEndToEnd is the Watchdoc seed with real processes: a master, a push slave
// and a mailbox slave; add an update (refused when not secure, a trailing space in
// its name tolerated), propagate it, apply it, read the reports, check convergence.
func TestFleetEndToEnd(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("stops its processes with SIGTERM")
	}
	t.Parallel()
	f := newFleetFixture(t)
	platform, repo, pack, dir, enrol := f.platform, f.repo, f.pack, f.dir, f.enrol
	module := func(d string) []map[string]any {
		return []map[string]any{{"name": "watchdoc", "path": filepath.Join(d, "watchdoc")}}
	}
	master := f.startMaster(t)
	slaveCfg := func(name, mode, source string) string {
		d := filepath.Join(dir, name)
		f := map[string]any{"role": "slave", "master": master, "name": name, "mode": mode, "poll_interval": "2s", "enrol_token_file": enrol}
		if mode == "push" {
			f["listen"] = "127.0.0.1:0"
			f["poll_interval"] = "1m"
		}
		return writeJSONFile(t, filepath.Join(dir, name+".json"), map[string]any{
			"source": source, "keys": []string{repo.PubFile}, "state_dir": filepath.Join(d, "state"), "modules": module(d), "fleet": f})
	}
	startProcess(t, true, "fleet", "slave", "--config", slaveCfg("print-1", "push", repo.Dir))
	// The mailbox slave runs as `upkeep agent`, which runs the fleet role of its
	// configuration beside the portal. Its own source offers nothing, so that the
	// agent's scheduled check never holds the module while the fleet applies.
	startProcess(t, false, "agent", "--config", slaveCfg("print-2", "mailbox", t.TempDir()), "--addr", "127.0.0.1:0")

	fleetCmd := f.fleetCmd(t, master)
	waitEnrolled(t, fleetCmd, func() string { return "" }, "print-1", "print-2")

	// A pack signed by a key the master does not trust is refused.
	other := updatetest.NewRepo(t)
	other.Publish("watchdoc", "6.2.0", platform, map[string]string{"version.txt": "evil"})
	var evil string
	filepath.WalkDir(other.Dir, func(p string, _ fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".zip") {
			evil = p
		}
		return nil
	})
	code, _, errs := fleetCmd("add-update", "--name", "evil", "--pack", evil)
	require.Equal(t, 1, code)
	require.Contains(t, errs, "package not secure: ")
	require.Contains(t, errs, "[bad_signature]")

	code, out, errs := fleetCmd("add-update", "--name", "Watchdoc 6.1 ", "--pack", pack)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, `added "Watchdoc 6.1": watchdoc 6.1.0`)

	code, out, errs = fleetCmd("propagate", "--update", "Watchdoc 6.1", "--all", "--wait", "--json")
	require.Equal(t, 0, code, errs)
	var rep struct {
		Operation string `json:"operation"`
		Servers   []struct {
			Name, State, Code, Reason, Version string
		} `json:"servers"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.NotEmpty(t, rep.Operation)
	for _, s := range rep.Servers {
		require.Equal(t, "staged", s.State, out)
	}

	code, _, errs = fleetCmd("converged", "--module", "watchdoc")
	require.Equal(t, 1, code, "nothing is installed on the slaves yet")
	require.Contains(t, errs, "do not run watchdoc", "one line on stderr says why")

	// The master is updated first: an apply to the slaves alone is refused.
	code, _, errs = fleetCmd("apply", "--update", "Watchdoc 6.1", "--servers", "print-2,print-1", "--wait")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "[master_first]")

	code, out, errs = fleetCmd("apply", "--update", "Watchdoc 6.1", "--servers", "master,print-2,print-1", "--wave", "1", "--max-failures", "0", "--wait", "--json")
	require.Equal(t, 0, code, errs+out)
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Servers, 3)
	require.Equal(t, "master", rep.Servers[0].Name, out)
	for _, s := range rep.Servers {
		require.Equal(t, "installed", s.State, out)
		require.Equal(t, "6.1.0", s.Version, out)
	}
	for _, n := range []string{"master", "print-1", "print-2"} {
		b, err := os.ReadFile(filepath.Join(dir, n, "watchdoc", "version.txt"))
		require.NoError(t, err)
		require.Equal(t, "6.1.0", string(b))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out, errs = fleetCmd("converged", "--module", "watchdoc")
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("converged: exit %d, %q %q", code, out, errs)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// An enrolled name is its slave's: the admin's rekey allows one new enrolment.
	code, out, errs = fleetCmd("rekey", "print-2")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, `the next enrolment of "print-2" replaces its secret`)
	code, _, errs = fleetCmd("rekey", "nobody")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "[not_found]")

	code, out, errs = fleetCmd("ops", "--json")
	require.Equal(t, 0, code, errs)
	var ops struct {
		Operations []struct {
			ID, Kind, Update string
			Ended            *time.Time
		} `json:"operations"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &ops))
	var kinds []string
	for _, op := range ops.Operations {
		kinds = append(kinds, op.Kind)
		require.NotNil(t, op.Ended, out)
	}
	require.Equal(t, "apply,propagate,add-update", strings.Join(kinds, ","))

	code, out, _ = fleetCmd("servers")
	require.Equal(t, 0, code)
	require.Contains(t, out, "M master")
	require.Contains(t, out, "S print-1 (push) reachable")
}
