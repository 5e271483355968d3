//go:build unix

package hooks

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// writeFile writes a script (or any file) into dir.
func writeFile(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(body), mode))
	require.NoError(t, os.Chmod(p, mode))
	return p
}

// fixture is a scripts folder, a module folder and a backup folder.
type fixture struct {
	scripts, module, backup string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	root := t.TempDir()
	f := fixture{
		scripts: filepath.Join(root, "scripts"),
		module:  filepath.Join(root, "module"),
		backup:  filepath.Join(root, "backup"),
	}
	for _, d := range []string{f.scripts, f.module, f.backup} {
		require.NoError(t, os.Mkdir(d, 0o755))
	}
	return f
}

func (f fixture) event(phase Phase) Event {
	return Event{Phase: phase, Module: "shop", ModulePath: f.module, BackupPath: f.backup, FromVersion: "1.0", ToVersion: "1.1"}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestFind(t *testing.T) {
	t.Parallel()
	files := map[string]os.FileMode{
		"PREINSTALL_shop.sh":          0o644,
		"preinstall-SHOP_2.ps1":       0o644,
		"PreInstall_Shop-10.sh":       0o644,
		"PREINSTALL_shop_01":          0o755, // executable, no extension
		"PREINSTALL-shop.py":          0o755, // executable with a #! line
		"PREINSTALL_shop_admin.sh":    0o644,
		"PREINSTALL_shop_admin_1.sh":  0o644,
		"PREINSTALL-shop-front.sh":    0o644,
		"PREINSTALL_shopping.sh":      0o644,
		"POSTINSTALL_shop.sh":         0o644,
		".PREINSTALL_shop.sh":         0o644,
		"PREINSTALL_shop.sh~":         0o644,
		"PREINSTALL_shop.sh.bak":      0o644,
		"PREINSTALL_shop.sh.swp":      0o644,
		"PREINSTALL_shop.bak":         0o644,
		"ROLLBACK_shop.bat.swp":       0o644,
		"README.txt":                  0o644,
		"STARTUPDATE_shop_admin_3.sh": 0o644,
	}
	dir := t.TempDir()
	for name, mode := range files {
		writeFile(t, dir, name, "#!/bin/sh\n", mode)
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "PREINSTALL_shop.d"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(dir, "PREINSTALL_shop.sh"), filepath.Join(dir, "ENDUPDATE_shop.sh")))

	for _, tc := range []struct {
		phase  Phase
		module string
		want   []string
	}{
		{PreInstall, "shop", []string{"PREINSTALL-shop.py", "PREINSTALL_shop.sh", "PREINSTALL_shop_01", "preinstall-SHOP_2.ps1", "PreInstall_Shop-10.sh"}},
		{PreInstall, "SHOP_ADMIN", []string{"PREINSTALL_shop_admin.sh", "PREINSTALL_shop_admin_1.sh"}},
		{PreInstall, "shop-front", []string{"PREINSTALL-shop-front.sh"}},
		{PreInstall, "shopping", []string{"PREINSTALL_shopping.sh"}},
		{PostInstall, "shop", []string{"POSTINSTALL_shop.sh"}},
		{StartUpdate, "shop_admin", []string{"STARTUPDATE_shop_admin_3.sh"}},
		{EndUpdate, "shop", []string{"ENDUPDATE_shop.sh"}},
		{Rollback, "shop", nil},
		{PreBackup, "shop", nil},
	} {
		t.Run(string(tc.phase)+"/"+tc.module, func(t *testing.T) {
			t.Parallel()
			got, err := (&Scripts{Dir: dir}).Find(tc.phase, tc.module)
			require.NoError(t, err)
			var names []string
			for _, p := range got {
				require.True(t, filepath.IsAbs(p), p)
				require.Equal(t, dir, filepath.Dir(p))
				names = append(names, filepath.Base(p))
			}
			require.Equal(t, tc.want, names)
		})
	}
}

func TestFindErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		files   map[string]os.FileMode
		dir     func(root string) string
		phase   Phase
		module  string
		wantErr error
		wantMsg string
	}{
		{name: "missing folder", dir: func(root string) string { return filepath.Join(root, "nope") }, phase: PreInstall, module: "shop"},
		{name: "no folder configured", dir: func(string) string { return "" }, phase: PreInstall, module: "shop"},
		{name: "unknown phase", phase: "INSTALL", module: "shop", wantErr: ErrUnknownPhase},
		{name: "no module", phase: PreInstall, wantMsg: "no module"},
		{
			name: "no exec bit", files: map[string]os.FileMode{"PREINSTALL_shop": 0o644},
			phase: PreInstall, module: "shop", wantErr: ErrNotRunnable, wantMsg: "PREINSTALL_shop: hooks: script cannot run: no executable bit",
		},
		{
			name: "unknown extension", files: map[string]os.FileMode{"PREINSTALL_shop.txt": 0o644, "PREINSTALL_shop.sh": 0o644},
			phase: PreInstall, module: "shop", wantErr: ErrNotRunnable, wantMsg: "PREINSTALL_shop.txt",
		},
		{
			name: "windows only", files: map[string]os.FileMode{"POSTINSTALL-Shop.CMD": 0o644},
			phase: PostInstall, module: "shop", wantErr: ErrNotRunnable, wantMsg: ".cmd scripts run only on Windows",
		},
		{
			name: "not a folder", files: map[string]os.FileMode{"file": 0o644}, dir: func(root string) string { return filepath.Join(root, "file") },
			phase: PreInstall, module: "shop", wantMsg: "reading scripts folder",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			for name, mode := range tc.files {
				writeFile(t, root, name, "echo\n", mode)
			}
			dir := root
			if tc.dir != nil {
				dir = tc.dir(root)
			}
			got, err := (&Scripts{Dir: dir}).Find(tc.phase, tc.module)
			require.Nil(t, got)
			if tc.wantErr == nil && tc.wantMsg == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			}
			require.ErrorContains(t, err, tc.wantMsg)
			if errors.Is(err, ErrNotRunnable) {
				var se *ScriptError
				require.ErrorAs(t, err, &se)
				require.Equal(t, tc.phase, se.Phase)
				// Run refuses the phase the same way, before running anything.
				require.ErrorIs(t, (&Scripts{Dir: dir}).Run(t.Context(), Event{Phase: tc.phase, Module: tc.module}), ErrNotRunnable)
			}
		})
	}
}

func TestFindDanglingLink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(dir, "gone.sh"), filepath.Join(dir, "PREINSTALL_shop.sh")))
	_, err := (&Scripts{Dir: dir}).Find(PreInstall, "shop")
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "PREINSTALL_shop.sh")
}

func TestScriptsPhasesInOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	logFile := filepath.Join(f.backup, "phases.log")
	for _, p := range Phases() {
		writeFile(t, f.scripts, string(p)+"_shop.sh", `echo "$E_PHASE" >> "${E_BACKUP_PATH}phases.log"`+"\n", 0o644)
	}
	// An executable with a #! line, order 1 after the .sh of its phase.
	writeFile(t, f.scripts, "POSTINSTALL-SHOP_1", "#!/bin/sh\necho \"shebang $E_TO_VERSION\" >> \"${E_BACKUP_PATH}phases.log\"\n", 0o755)
	// Another module's scripts do not run.
	writeFile(t, f.scripts, "PREINSTALL_shop_admin.sh", `echo admin >> "${E_BACKUP_PATH}phases.log"`+"\n", 0o644)
	writeFile(t, f.scripts, "PREINSTALL_other.sh", "exit 1\n", 0o644)

	s := &Scripts{Dir: f.scripts, Timeout: 10 * time.Second}
	for _, p := range Phases() {
		require.NoError(t, s.Run(t.Context(), f.event(p)), p)
	}
	require.Equal(t, "STARTUPDATE\nPREBACKUP\nPOSTBACKUP\nPREINSTALL\nPOSTINSTALL\nshebang 1.1\nENDUPDATE\nROLLBACK\n", readFile(t, logFile))
}

func TestScriptsOrderSuffix(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, name := range []string{"PREINSTALL_shop_10.sh", "PREINSTALL-shop-2.sh", "PREINSTALL_shop.sh", "preinstall_SHOP_1.sh"} {
		writeFile(t, f.scripts, name, `printf '%s\n' "$(basename "$0")" >> "${E_BACKUP_PATH}order.log"`+"\n", 0o644)
	}
	require.NoError(t, (&Scripts{Dir: f.scripts}).Run(t.Context(), f.event(PreInstall)))
	require.Equal(t, "PREINSTALL_shop.sh\npreinstall_SHOP_1.sh\nPREINSTALL-shop-2.sh\nPREINSTALL_shop_10.sh\n",
		readFile(t, filepath.Join(f.backup, "order.log")))
}

func TestScriptsEnvironment(t *testing.T) {
	t.Parallel()
	const dump = `{
printf 'MODULE_PATH=%s\n' "${X_MODULE_PATH-unset}${E_MODULE_PATH-}"
printf 'BACKUP_PATH=%s\n' "${X_BACKUP_PATH-unset}${E_BACKUP_PATH-}"
printf 'MODULE=%s\n' "${X_MODULE-}${E_MODULE-}"
printf 'PHASE=%s\n' "${X_PHASE-}${E_PHASE-}"
printf 'FROM=%s\n' "${X_FROM_VERSION-}${E_FROM_VERSION-}"
printf 'TO=%s\n' "${X_TO_VERSION-}${E_TO_VERSION-}"
printf 'STAGE_PATH=%s\n' "${X_STAGE_PATH-unset}${E_STAGE_PATH-}"
printf 'OPERATION=%s\n' "${X_OPERATION-}${E_OPERATION-}"
printf 'HOME_SET=%s\n' "${HOME+yes}"
printf 'PWD=%s\n' "$(pwd -P)"
} > "$OUT"
`
	for _, tc := range []struct {
		name      string
		prefix    string // with a custom prefix, an E_ variable would print after "unset"
		module    func(f fixture) string
		backup    func(f fixture) string
		stage     func(f fixture) string
		op        Operation
		from      string
		wantLines func(f fixture) []string
	}{
		{
			name:   "default prefix",
			module: func(f fixture) string { return f.module },
			backup: func(f fixture) string { return f.backup },
			stage:  func(f fixture) string { return f.scripts },
			op:     OpInstall,
			from:   "1.0",
			wantLines: func(f fixture) []string {
				return []string{"MODULE_PATH=unset" + f.module + "/", "BACKUP_PATH=unset" + f.backup + "/", "MODULE=shop",
					"PHASE=POSTINSTALL", "FROM=1.0", "TO=2.0", "STAGE_PATH=unset" + f.scripts + "/", "OPERATION=install",
					"HOME_SET=yes", "PWD=" + f.module}
			},
		},
		{
			name:   "paths already ending with a separator, custom prefix",
			prefix: "X_",
			module: func(f fixture) string { return f.module + "/" },
			backup: func(f fixture) string { return f.backup + "/" },
			stage:  func(fixture) string { return "" },
			op:     OpRollback,
			from:   "1.0",
			wantLines: func(f fixture) []string {
				return []string{"MODULE_PATH=" + f.module + "/", "BACKUP_PATH=" + f.backup + "/", "MODULE=shop",
					"PHASE=POSTINSTALL", "FROM=1.0", "TO=2.0", "STAGE_PATH=", "OPERATION=rollback",
					"HOME_SET=yes", "PWD=" + f.module}
			},
		},
		{
			name:   "first install: no backup, module folder not there yet",
			module: func(f fixture) string { return filepath.Join(f.module, "new") },
			backup: func(fixture) string { return "" },
			stage:  func(f fixture) string { return f.scripts + "/" },
			op:     OpInstall,
			wantLines: func(f fixture) []string {
				return []string{"MODULE_PATH=unset" + filepath.Join(f.module, "new") + "/", "BACKUP_PATH=unset", "MODULE=shop",
					"PHASE=POSTINSTALL", "FROM=", "TO=2.0", "STAGE_PATH=unset" + f.scripts + "/", "OPERATION=install",
					"HOME_SET=yes", "PWD=" + f.scripts}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			// Resolve links in the temp dir so that pwd -P compares equal.
			var err error
			for _, p := range []*string{&f.scripts, &f.module, &f.backup} {
				*p, err = filepath.EvalSymlinks(*p)
				require.NoError(t, err)
			}
			out := filepath.Join(t.TempDir(), "env.txt")
			writeFile(t, f.scripts, "POSTINSTALL_shop.sh", "OUT='"+out+"'\n"+dump, 0o644)
			ev := Event{Phase: PostInstall, Module: "shop", ModulePath: tc.module(f), BackupPath: tc.backup(f),
				StagePath: tc.stage(f), Operation: tc.op, FromVersion: tc.from, ToVersion: "2.0"}
			require.NoError(t, (&Scripts{Dir: f.scripts, EnvPrefix: tc.prefix}).Run(t.Context(), ev))
			require.Equal(t, strings.Join(tc.wantLines(f), "\n")+"\n", readFile(t, out))
		})
	}
}

func TestScriptsOutputAndFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	writeFile(t, f.scripts, "PREBACKUP_shop.sh", `echo "to stdout"
echo "to stderr" >&2
i=1; while [ $i -le 30 ]; do echo "line $i"; i=$((i+1)); done
printf 'no newline'
exit 3
`, 0o644)
	rec := &recorder{}
	s := &Scripts{Dir: f.scripts, TailLines: 4, Logger: slog.New(rec)}
	err := s.Run(t.Context(), f.event(PreBackup))
	var se *ScriptError
	require.ErrorAs(t, err, &se)
	require.ErrorIs(t, err, ErrExitCode)
	require.Equal(t, 3, se.ExitCode)
	require.False(t, se.TimedOut)
	require.Equal(t, PreBackup, se.Phase)
	require.Equal(t, filepath.Join(f.scripts, "PREBACKUP_shop.sh"), se.Script)
	require.Equal(t, []string{"line 28", "line 29", "line 30", "no newline"}, se.Tail)
	require.ErrorContains(t, err, "PREBACKUP_shop.sh exited with code 3; last output: line 28 | line 29 | line 30 | no newline")

	lines := rec.lines(t, map[string]string{"script": se.Script, "phase": "PREBACKUP", "module": "shop"})
	require.Len(t, lines, 33)
	require.Equal(t, []string{"to stdout", "to stderr", "line 1"}, lines[:3])
}

func TestScriptsEventLogger(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	writeFile(t, f.scripts, "ENDUPDATE_shop.sh", "echo done\n", 0o644)
	rec := &recorder{}
	ev := f.event(EndUpdate)
	ev.Logger = slog.New(rec)
	require.NoError(t, (&Scripts{Dir: f.scripts}).Run(t.Context(), ev))
	require.Equal(t, []string{"done"}, rec.lines(t, map[string]string{"phase": "ENDUPDATE"}))
}

func TestScriptsOutputBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// A script that prints forever, partly without newlines.
	writeFile(t, f.scripts, "PREINSTALL_shop.sh", `while :; do echo spam; printf 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'; done`+"\n", 0o644)
	s := &Scripts{Dir: f.scripts, Timeout: 500 * time.Millisecond, MaxOutput: 100, TailLines: 1000}
	err := s.Run(t.Context(), f.event(PreInstall))
	var se *ScriptError
	require.ErrorAs(t, err, &se)
	require.True(t, se.TimedOut)
	require.NotEmpty(t, se.Tail)
	total := 0
	for _, l := range se.Tail {
		total += len(l)
	}
	require.LessOrEqual(t, total, 100)
}

// alive reports whether pid runs (a zombie waiting for its parent counts as gone).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no /proc: trust kill
	}
	// The state follows the command name in parentheses.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child process %d survived its script", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// childPID reads the pid a script wrote, waiting for it to appear.
func childPID(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			require.NoError(t, err)
			return pid
		}
		require.False(t, time.Now().After(deadline), "script never wrote %s", path)
		time.Sleep(10 * time.Millisecond)
	}
}

const backgroundChild = `sleep 30 &
echo $! > "${E_BACKUP_PATH}child.pid"
echo started
wait
`

func TestScriptsTimeoutKillsProcessGroup(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	writeFile(t, f.scripts, "PREINSTALL_shop.sh", backgroundChild, 0o644)
	// Long enough for the script to start its child on a busy machine.
	s := &Scripts{Dir: f.scripts, Timeout: time.Second}
	start := time.Now()
	err := s.Run(t.Context(), f.event(PreInstall))
	require.Less(t, time.Since(start), 6*time.Second)
	var se *ScriptError
	require.ErrorAs(t, err, &se)
	require.ErrorIs(t, err, ErrTimeout)
	require.True(t, se.TimedOut)
	require.Equal(t, -1, se.ExitCode)
	require.Equal(t, []string{"started"}, se.Tail)
	require.ErrorContains(t, err, "timed out")
	require.ErrorContains(t, err, "after 1s")
	waitGone(t, childPID(t, filepath.Join(f.backup, "child.pid")))
}

func TestScriptsCancel(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	writeFile(t, f.scripts, "POSTBACKUP_shop.sh", backgroundChild, 0o644)
	ctx, cancel := context.WithCancel(t.Context())
	pidFile := filepath.Join(f.backup, "child.pid")
	go func() {
		childPID(t, pidFile)
		cancel()
	}()
	start := time.Now()
	err := (&Scripts{Dir: f.scripts, Timeout: time.Minute}).Run(ctx, f.event(PostBackup))
	require.Less(t, time.Since(start), 10*time.Second)
	require.ErrorIs(t, err, context.Canceled)
	var se *ScriptError
	require.ErrorAs(t, err, &se)
	require.False(t, se.TimedOut)
	require.ErrorContains(t, err, "cancelled")
	waitGone(t, childPID(t, pidFile))

	// A context already done runs nothing.
	err = (&Scripts{Dir: f.scripts}).Run(ctx, f.event(PostBackup))
	require.ErrorIs(t, err, context.Canceled)
}

func TestScriptsRetryLater(t *testing.T) {
	t.Parallel()
	// The script asks to retry until it has run `need` times.
	const counter = `n=$(cat "${E_BACKUP_PATH}runs" 2>/dev/null || echo 0)
n=$((n+1))
echo $n > "${E_BACKUP_PATH}runs"
echo "run $n"
[ $n -ge NEED ] && exit 0
echo "side service still draining"
exit 21
`
	for _, tc := range []struct {
		name     string
		need     string
		total    time.Duration
		wantErr  bool
		wantRuns func(t *testing.T, runs int)
	}{
		{name: "succeeds on third run", need: "3", total: 10 * time.Second,
			wantRuns: func(t *testing.T, runs int) { require.Equal(t, 3, runs) }},
		{name: "gives up after retry timeout", need: "1000", total: 800 * time.Millisecond, wantErr: true,
			wantRuns: func(t *testing.T, runs int) { require.GreaterOrEqual(t, runs, 2) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			writeFile(t, f.scripts, "PREBACKUP_shop.sh", strings.Replace(counter, "NEED", tc.need, 1), 0o644)
			writeFile(t, f.scripts, "PREBACKUP_shop_1.sh", `echo second >> "${E_BACKUP_PATH}second"`+"\n", 0o644)
			s := &Scripts{Dir: f.scripts, RetryInterval: 20 * time.Millisecond, RetryTimeout: tc.total}
			start := time.Now()
			err := s.Run(t.Context(), f.event(PreBackup))
			runs, convErr := strconv.Atoi(strings.TrimSpace(readFile(t, filepath.Join(f.backup, "runs"))))
			require.NoError(t, convErr)
			tc.wantRuns(t, runs)
			if !tc.wantErr {
				require.NoError(t, err)
				require.Equal(t, "second\n", readFile(t, filepath.Join(f.backup, "second")))
				return
			}
			require.Less(t, time.Since(start), 5*time.Second)
			require.ErrorIs(t, err, ErrRetryLater)
			var re *RetryError
			require.ErrorAs(t, err, &re)
			require.Equal(t, runs, re.Attempts)
			var se *ScriptError
			require.ErrorAs(t, err, &se)
			require.Equal(t, ExitRetryLater, se.ExitCode)
			require.Equal(t, "side service still draining", se.Tail[len(se.Tail)-1])
			require.ErrorContains(t, err, "retry timeout of 800ms")
			require.ErrorContains(t, err, "PREBACKUP_shop.sh exited with code 21")
			require.NoFileExists(t, filepath.Join(f.backup, "second"), "later scripts do not run")
		})
	}
}

func TestScriptsExecFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Executable bit but neither a binary nor a #! line: the system refuses to run it.
	writeFile(t, f.scripts, "PREINSTALL_shop", "\x00\x01\x02garbage", 0o755)
	err := (&Scripts{Dir: f.scripts}).Run(t.Context(), f.event(PreInstall))
	var se *ScriptError
	require.ErrorAs(t, err, &se)
	require.Equal(t, -1, se.ExitCode)
	require.False(t, se.TimedOut)
	require.ErrorContains(t, err, "PREINSTALL_shop")
}

func TestScriptsLeftBackgroundOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the output grace period")
	}
	t.Parallel()
	f := newFixture(t)
	// The script succeeds but leaves a process holding its output open: the run ends
	// after the grace period, successfully, and the process is left alone.
	writeFile(t, f.scripts, "ENDUPDATE_shop.sh", "sleep 60 &\necho $! > \"${E_BACKUP_PATH}child.pid\"\nexit 0\n", 0o644)
	start := time.Now()
	require.NoError(t, (&Scripts{Dir: f.scripts}).Run(t.Context(), f.event(EndUpdate)))
	require.Less(t, time.Since(start), 30*time.Second, "the run ended long before the background process")
	pid := childPID(t, filepath.Join(f.backup, "child.pid"))
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// TestScriptsNoInterpreter changes PATH, so it does not run in parallel.
func TestScriptsNoInterpreter(t *testing.T) {
	f := newFixture(t)
	t.Setenv("PATH", t.TempDir())
	// Order 0: would leave a marker if it ran; the interpreters are looked up first.
	writeFile(t, f.scripts, "PREINSTALL_shop", "#!/bin/sh\n: > \"${E_BACKUP_PATH}marker\"\n", 0o755)
	writeFile(t, f.scripts, "PREINSTALL_shop_1.ps1", "Write-Output hi\n", 0o644)
	writeFile(t, f.scripts, "POSTINSTALL_shop.sh", "true\n", 0o644)

	for _, tc := range []struct {
		phase  Phase
		script string
		want   string
	}{
		{PreInstall, "PREINSTALL_shop_1.ps1", "looked for pwsh on PATH"},
		{PostInstall, "POSTINSTALL_shop.sh", "looked for sh on PATH"},
	} {
		t.Run(string(tc.phase), func(t *testing.T) {
			err := (&Scripts{Dir: f.scripts}).Run(t.Context(), f.event(tc.phase))
			require.ErrorIs(t, err, ErrNoInterpreter)
			var se *ScriptError
			require.ErrorAs(t, err, &se)
			require.Equal(t, filepath.Join(f.scripts, tc.script), se.Script)
			require.ErrorContains(t, err, tc.script)
			require.ErrorContains(t, err, tc.want)
			require.NoFileExists(t, filepath.Join(f.backup, "marker"))
		})
	}
}
