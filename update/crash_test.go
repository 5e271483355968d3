//go:build unix

package update_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	. "github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// TestCrashChild is the child process of TestCrashMatrix: it runs one operation and
// kills itself with SIGKILL at its Nth mutating filesystem operation.
func TestCrashChild(t *testing.T) {
	cfgPath := os.Getenv("UPKEEP_CRASH_CHILD")
	if cfgPath == "" {
		t.Skip("child process of TestCrashMatrix")
	}
	n, _ := strconv.Atoi(os.Getenv("UPKEEP_CRASH_AT"))
	b, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	var cfg Config
	require.NoError(t, json.Unmarshal(b, &cfg))
	e, err := New(cfg, updatetest.WithoutSync())
	require.NoError(t, err)
	count := 0
	SetCrashPoint(e, func(kind, path string) {
		count++
		if count == n {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
	})
	switch os.Getenv("UPKEEP_CRASH_OP") {
	case "recover":
		_, err = e.Recover(context.Background())
	case "rollback":
		_, err = e.Rollback(context.Background(), "web", RollbackOptions{})
	default:
		_, err = e.Install(context.Background(), "web", InstallOptions{})
	}
	require.NoError(t, err)
}

var (
	crashV1 = map[string]string{"index.html": "v1", "bin/run*": "#!/bin/sh\necho 1\n", "conf/app.conf": "a=1", "old.txt": "old", "empty/": ""}
	crashV2 = map[string]string{"index.html": "v2", "bin/run*": "#!/bin/sh\necho 2\n", "conf/app.conf": "a=2", "new/x.txt": "new", "@link": "index.html"}
)

// TestCrashMatrix kills an install (and a rollback) at every one of its mutating
// filesystem operations, for both strategies, and checks after Recover that the module
// is exactly the old or exactly the new version, out of maintenance, with nothing
// temporary left, a trusted serial that did not go down, a status that says what
// happened, and that a second Recover changes nothing.
func TestCrashMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process per crash point")
	}
	t.Parallel()
	for _, strategy := range []Strategy{Swap, InPlace} {
		for _, op := range []string{"install", "rollback"} {
			t.Run(string(strategy)+"/"+op, func(t *testing.T) {
				t.Parallel()
				crashMatrix(t, strategy, op)
			})
		}
	}
}

// crashBase builds in base the state every crash of op starts from, as a copy: 1.0.0
// installed and 2.0.0 downloaded (install), or 2.0.0 installed with 1.0.0 kept
// (rollback). cfg is the configuration of such a copy at dir.
func crashBase(t *testing.T, strategy Strategy, op string) (base string, cfg func(dir string) Config) {
	t.Helper()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	repo := updatetest.NewRepo(t)
	repo.Publish("web", "1.0.0", platform, crashV1)
	repo.Publish("web", "2.0.0", platform, crashV2)
	base = t.TempDir()
	cfg = func(dir string) Config {
		return Config{Source: repo.Dir, Keys: []string{repo.PubFile}, StateDir: filepath.Join(dir, "state"),
			Modules: []ModuleConfig{{Name: "web", Path: filepath.Join(dir, "srv", "web"), Strategy: strategy, MaintenanceFile: "app_offline.htm"}}}
	}
	os.MkdirAll(filepath.Join(base, "srv"), 0o755)
	e, err := New(cfg(base), updatetest.WithoutSync())
	require.NoError(t, err)
	ctx := context.Background()
	_, err = e.Install(ctx, "web", InstallOptions{Version: "1.0.0"})
	require.NoError(t, err)
	if op == "rollback" {
		_, err = e.Install(ctx, "web", InstallOptions{})
	} else {
		var rep *CheckReport
		if rep, err = e.Check(ctx); err == nil {
			err = e.Download(ctx, "web", rep.Modules[0].Selection)
		}
	}
	require.NoError(t, err)
	return base, cfg
}

func crashMatrix(t *testing.T, strategy Strategy, op string) {
	base, cfg := crashBase(t, strategy, op)
	ctx := context.Background()
	baseSerial := TrustedSerial(filepath.Join(base, "state"))
	oldTree, newTree, oldV, newV := crashV1, crashV2, "1.0.0", "2.0.0"
	if op == "rollback" {
		oldTree, newTree, oldV, newV = crashV2, crashV1, "2.0.0", "1.0.0"
	}

	points := 0
	outcomes := map[string]int{}
	for n := 1; ; n++ {
		dir := filepath.Join(t.TempDir(), "c")
		out, err := exec.Command("cp", "-a", base, dir).CombinedOutput()
		require.NoError(t, err, "%s", out)
		c := cfg(dir)
		b, _ := json.Marshal(c)
		cfgPath := filepath.Join(dir, "config.json")
		require.NoError(t, os.WriteFile(cfgPath, b, 0o644))

		child := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		child.Env = append(os.Environ(), "UPKEEP_CRASH_CHILD="+cfgPath, "UPKEEP_CRASH_AT="+strconv.Itoa(n), "UPKEEP_CRASH_OP="+op)
		out, err = child.CombinedOutput()
		var ee *exec.ExitError
		if err == nil {
			points = n - 1
			break // the operation completed before reaching point n
		}
		require.True(t, errors.As(err, &ee), "%v", err)
		ws := ee.Sys().(syscall.WaitStatus)
		require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "point %d: child failed instead of crashing: %s", n, out)

		e, err := New(c, updatetest.WithoutSync())
		require.NoError(t, err)
		_, err = e.Recover(ctx)
		require.NoError(t, err, "point %d", n)
		tree := updatetest.ReadTree(t, c.Modules[0].Path)
		var want string
		switch {
		case equalTree(tree, oldTree):
			want = oldV
		case equalTree(tree, newTree):
			want = newV
		default:
			t.Fatalf("point %d: the tree is neither %s nor %s: %v", n, oldV, newV, tree)
		}
		outcomes[want]++
		st, err := e.ModuleStatus(context.Background(), "web")
		require.NoError(t, err)
		require.Equal(t, want, *st.Installed, "point %d: status", n)
		require.False(t, st.Maintenance, "point %d: maintenance left on", n)
		require.GreaterOrEqual(t, TrustedSerial(filepath.Join(dir, "state")), baseSerial, "point %d: trusted serial went down", n)
		assertNoTemps(t, n, c)

		before := snapshot(t, dir)
		_, err = e.Recover(ctx)
		require.NoError(t, err)
		require.Equal(t, before, snapshot(t, dir), "point %d: a second recover changed something", n)
		if want == oldV && n > 1 {
			require.NotEmpty(t, st.LastResult+st.LastError, "point %d: status says nothing", n)
		}
	}
	t.Logf("%s %s: %d crash points, each recovered: %v", strategy, op, points, outcomes)
	require.Greater(t, points, 10)
	require.NotZero(t, outcomes[oldV], "no crash point ended at the old version")
	require.NotZero(t, outcomes[newV], "no crash point ended at the new version")
}

func equalTree(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func assertNoTemps(t *testing.T, n int, c Config) {
	t.Helper()
	m := c.Modules[0]
	ents, _ := os.ReadDir(filepath.Dir(m.Path))
	for _, d := range ents {
		require.Contains(t, []string{"web", ".web.upkeep"}, d.Name(), "point %d: left beside the module", n)
	}
	ents, _ = os.ReadDir(WorkDir(&m))
	for _, d := range ents {
		require.Equal(t, "backup", d.Name(), "point %d: left in the work folder", n)
	}
	filepath.WalkDir(c.StateDir, func(p string, d os.DirEntry, err error) error {
		if err == nil {
			require.False(t, strings.Contains(d.Name(), ".tmp-") || d.Name() == "journal.json", "point %d: left %s", n, p)
		}
		return nil
	})
}

// snapshot lists every file under dir with its size, mode and content hash-free
// summary, to tell whether anything changed.
func snapshot(t *testing.T, dir string) string {
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, _ := d.Info()
		data := ""
		if fi.Mode().IsRegular() && fi.Size() < 4096 && d.Name() != "lock" {
			raw, _ := os.ReadFile(p)
			data = string(raw)
		}
		fmt.Fprintf(&b, "%s %v %d %q\n", p, fi.Mode(), fi.Size(), data)
		return nil
	})
	return b.String()
}

// TestDoubleCrash kills an install (and a rollback) at some of its crash points, then
// kills the Recover that follows at every one of its own, then recovers: the one
// ending that undoes or completes an operation must itself be safe to interrupt, so
// the module still ends exactly old or exactly new, out of maintenance, with nothing
// temporary left.
func TestDoubleCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process per pair of crash points")
	}
	t.Parallel()
	for _, strategy := range []Strategy{Swap, InPlace} {
		for _, op := range []string{"install", "rollback"} {
			t.Run(string(strategy)+"/"+op, func(t *testing.T) {
				t.Parallel()
				doubleCrash(t, strategy, op)
			})
		}
	}
}

func doubleCrash(t *testing.T, strategy Strategy, op string) {
	base, cfg := crashBase(t, strategy, op)
	ctx := context.Background()
	trees := []map[string]string{crashV1, crashV2}
	if op == "rollback" {
		trees = []map[string]string{crashV2, crashV1}
	}

	// crashAt runs the child in dir with op, killed at point n; it reports whether the
	// child reached point n. The journal names trees by inode, so each pair starts
	// from a fresh copy of base rather than from a copy of a crashed one.
	crashAt := func(dir, childOp string, n int) bool {
		b, _ := json.Marshal(cfg(dir))
		cfgPath := filepath.Join(dir, "config.json")
		require.NoError(t, os.WriteFile(cfgPath, b, 0o644))
		child := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		child.Env = append(os.Environ(), "UPKEEP_CRASH_CHILD="+cfgPath, "UPKEEP_CRASH_AT="+strconv.Itoa(n), "UPKEEP_CRASH_OP="+childOp)
		out, err := child.CombinedOutput()
		if err == nil {
			return false
		}
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "%v", err)
		ws := ee.Sys().(syscall.WaitStatus)
		require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "%s at %d: child failed instead of crashing: %s", childOp, n, out)
		return true
	}
	fresh := func() string {
		dir := filepath.Join(t.TempDir(), "c")
		out, err := exec.Command("cp", "-a", base, dir).CombinedOutput()
		require.NoError(t, err, "%s", out)
		return dir
	}
	pairs := 0
	// Every ninth point of the operation, and every point of the Recover after it.
	for n := 2; crashAt(fresh(), op, n); n += 9 {
		for m := 1; ; m++ {
			dir := fresh()
			require.True(t, crashAt(dir, op, n))
			if !crashAt(dir, "recover", m) {
				break
			}
			pairs++
			c := cfg(dir)
			e, err := New(c, updatetest.WithoutSync())
			require.NoError(t, err)
			_, err = e.Recover(ctx)
			require.NoError(t, err, "points %d then %d", n, m)
			tree := updatetest.ReadTree(t, c.Modules[0].Path)
			require.True(t, equalTree(tree, trees[0]) || equalTree(tree, trees[1]), "points %d then %d: the tree is neither old nor new: %v", n, m, tree)
			st, err := e.ModuleStatus(ctx, "web")
			require.NoError(t, err)
			require.False(t, st.Maintenance, "points %d then %d: maintenance left on", n, m)
			assertNoTemps(t, n*1000+m, c)
		}
	}
	t.Logf("%s %s: %d pairs of crash points, each recovered", strategy, op, pairs)
	require.Greater(t, pairs, 10)
}
