package hooks

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		phase  Phase
		module string
		order  int
		ext    string
		ok     bool
	}{
		{name: "PREINSTALL_ecommerce.ps1", phase: PreInstall, module: "ecommerce", ext: ".ps1", ok: true},
		{name: "POSTINSTALL-phygitalapi.sh", phase: PostInstall, module: "phygitalapi", ext: ".sh", ok: true},
		{name: "preinstall_ECommerce.SH", phase: PreInstall, module: "ecommerce", ext: ".SH", ok: true},
		{name: "PREINSTALL_ecommerce", phase: PreInstall, module: "ecommerce", ok: true},
		{name: "PREINSTALL_ecommerce_10.sh", phase: PreInstall, module: "ecommerce", order: 10, ext: ".sh", ok: true},
		{name: "PREINSTALL-ecommerce-02", phase: PreInstall, module: "ecommerce", order: 2, ok: true},
		{name: "PREINSTALL_shop_admin.sh", phase: PreInstall, module: "shop_admin", ext: ".sh", ok: true},
		{name: "PREINSTALL_shop_admin_3.sh", phase: PreInstall, module: "shop_admin", order: 3, ext: ".sh", ok: true},
		{name: "PREINSTALL_shop-front-7.sh", phase: PreInstall, module: "shop-front", order: 7, ext: ".sh", ok: true},
		{name: "PREINSTALL_shop_admin.sh", phase: PreInstall, module: "shop"},
		{name: "PREINSTALL_shop-front.sh", phase: PreInstall, module: "shop"},
		{name: "PREINSTALL_shopping.sh", phase: PreInstall, module: "shop"},
		{name: "PREINSTALL_shop.sh", phase: PreInstall, module: "shopping"},
		{name: "PREINSTALL_ecommerce.sh", phase: PostInstall, module: "ecommerce"},
		{name: "PREINSTALLecommerce.sh", phase: PreInstall, module: "ecommerce"},
		{name: "PREINSTALL.ecommerce.sh", phase: PreInstall, module: "ecommerce"},
		{name: "PREINSTALL", phase: PreInstall, module: "ecommerce"},
		{name: "PRE", phase: PreInstall, module: "ecommerce"},
		{name: "PREINSTALL_ecommerce_.sh", phase: PreInstall, module: "ecommerce"},
		{name: "PREINSTALL_ecommerce_1234567890.sh", phase: PreInstall, module: "ecommerce"},
		{name: "PREINSTALL_ecommerce.", phase: PreInstall, module: "ecommerce"},
		{name: "PREINSTALL_ecommerce.v2.sh", phase: PreInstall, module: "ecommerce"},
		{name: "PREINSTALL_a.b.sh", phase: PreInstall, module: "a.b", ext: ".sh", ok: true},
		{name: "PREINSTALL_a.b.sh", phase: PreInstall, module: "a"},
		{name: "ROLLBACK_ecommerce_1x.sh", phase: Rollback, module: "ecommerce"},
	} {
		t.Run(tc.name+"/"+tc.module, func(t *testing.T) {
			t.Parallel()
			order, ext, ok := match(tc.name, tc.phase, tc.module)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.order, order)
			require.Equal(t, tc.ext, ext)
		})
	}
}

func TestIgnored(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"PREINSTALL_a.sh":      false,
		".PREINSTALL_a.sh":     true,
		"PREINSTALL_a.sh~":     true,
		"PREINSTALL_a.sh.bak":  true,
		"PREINSTALL_a.sh.BAK":  true,
		"PREINSTALL_a.sh.swp":  true,
		"PREINSTALL_a.bak.sh":  false,
		"PREINSTALL_a.swap.sh": false,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, want, ignored(name))
		})
	}
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ext     string
		mode    fs.FileMode
		goos    string
		want    kind
		wantErr string
	}{
		{ext: ".sh", mode: 0o644, goos: "linux", want: kindSh},
		{ext: ".SH", mode: 0o644, goos: "windows", want: kindSh},
		{ext: ".ps1", mode: 0o644, goos: "linux", want: kindPowerShell},
		{ext: ".Ps1", mode: 0o755, goos: "windows", want: kindPowerShell},
		{ext: ".cmd", mode: 0o644, goos: "windows", want: kindCmd},
		{ext: ".BAT", mode: 0o644, goos: "windows", want: kindCmd},
		{ext: ".bat", mode: 0o755, goos: "linux", wantErr: "run only on Windows"},
		{ext: ".exe", mode: 0o644, goos: "windows", want: kindExec},
		{ext: ".py", mode: 0o644, goos: "windows", wantErr: `unknown extension ".py"`},
		{ext: "", mode: 0o666, goos: "windows", wantErr: `unknown extension ""`},
		{ext: ".py", mode: 0o755, goos: "linux", want: kindExec},
		{ext: "", mode: 0o700, goos: "darwin", want: kindExec},
		{ext: "", mode: 0o644, goos: "linux", wantErr: "no executable bit"},
		{ext: ".txt", mode: 0o644, goos: "linux", wantErr: "no executable bit"},
	} {
		t.Run(tc.goos+tc.ext+tc.mode.String(), func(t *testing.T) {
			t.Parallel()
			got, err := kindOf(tc.ext, tc.mode, tc.goos)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrNotRunnable)
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestInterpreter(t *testing.T) {
	t.Parallel()
	lookIn := func(have ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			for _, h := range have {
				if h == name {
					return "/bin/" + name, nil
				}
			}
			return "", errors.New("not found")
		}
	}
	const s = "/scripts/X"
	for _, tc := range []struct {
		name     string
		kind     kind
		goos     string
		have     []string
		wantProg string
		wantArgs []string
		wantErr  string
	}{
		{name: "exec", kind: kindExec, goos: "linux", wantProg: s},
		{name: "sh", kind: kindSh, goos: "linux", have: []string{"sh"}, wantProg: "/bin/sh", wantArgs: []string{s}},
		{name: "no sh", kind: kindSh, goos: "windows", wantErr: "looked for sh on PATH"},
		{name: "pwsh", kind: kindPowerShell, goos: "linux", have: []string{"pwsh", "powershell.exe"}, wantProg: "/bin/pwsh",
			wantArgs: []string{"-NoProfile", "-NonInteractive", "-File", s}},
		{name: "no pwsh on linux", kind: kindPowerShell, goos: "linux", have: []string{"powershell.exe"}, wantErr: "looked for pwsh on PATH"},
		{name: "windows powershell", kind: kindPowerShell, goos: "windows", have: []string{"powershell.exe"}, wantProg: "/bin/powershell.exe",
			wantArgs: []string{"-ExecutionPolicy", "Bypass", "-NoProfile", "-NonInteractive", "-File", s}},
		{name: "no powershell on windows", kind: kindPowerShell, goos: "windows", wantErr: "looked for pwsh, powershell.exe on PATH"},
		{name: "cmd", kind: kindCmd, goos: "windows", have: []string{"cmd"}, wantProg: "/bin/cmd", wantArgs: []string{"/c", s}},
		{name: "no cmd", kind: kindCmd, goos: "windows", wantErr: "looked for cmd on PATH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prog, args, err := interpreter(tc.kind, s, tc.goos, lookIn(tc.have...))
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrNoInterpreter)
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantProg, prog)
			require.Equal(t, tc.wantArgs, args)
		})
	}
}

// recorder is a slog.Handler that keeps the records it handles.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
	attrs   []slog.Attr
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec = rec.Clone()
	rec.AddAttrs(r.attrs...)
	r.records = append(r.records, rec)
	return nil
}
func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &childRecorder{parent: r, attrs: as}
}
func (r *recorder) WithGroup(string) slog.Handler { return r }

// lines returns the "line" attributes of the "script output" records, and checks that
// each carries want's attributes.
func (r *recorder) lines(t *testing.T, want map[string]string) []string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.records {
		if rec.Message != "script output" {
			continue
		}
		got := map[string]string{}
		rec.Attrs(func(a slog.Attr) bool { got[a.Key] = a.Value.String(); return true })
		for k, v := range want {
			require.Equal(t, v, got[k], "attribute %s", k)
		}
		out = append(out, got["line"])
	}
	return out
}

type childRecorder struct {
	parent *recorder
	attrs  []slog.Attr
}

func (c *childRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (c *childRecorder) Handle(ctx context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(c.attrs...)
	return c.parent.Handle(ctx, rec)
}
func (c *childRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &childRecorder{parent: c.parent, attrs: append(append([]slog.Attr{}, c.attrs...), as...)}
}
func (c *childRecorder) WithGroup(string) slog.Handler { return c }

func TestLineLog(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		writes    []string
		maxLine   int
		maxBytes  int
		maxLines  int
		wantLines []string
		wantTail  []string
	}{
		{
			name:    "split writes and CRLF",
			writes:  []string{"he", "llo\r\nwor", "ld\n", "last"},
			maxLine: 100, maxBytes: 1000, maxLines: 10,
			wantLines: []string{"hello", "world", "last"},
			wantTail:  []string{"hello", "world", "last"},
		},
		{
			name:    "tail keeps last lines",
			writes:  []string{"1\n2\n3\n4\n5\n"},
			maxLine: 100, maxBytes: 1000, maxLines: 2,
			wantLines: []string{"1", "2", "3", "4", "5"},
			wantTail:  []string{"4", "5"},
		},
		{
			name:    "tail keeps last bytes",
			writes:  []string{"aaaa\nbbbb\ncccc\n"},
			maxLine: 100, maxBytes: 9, maxLines: 10,
			wantLines: []string{"aaaa", "bbbb", "cccc"},
			wantTail:  []string{"bbbb", "cccc"},
		},
		{
			name:    "long lines split",
			writes:  []string{"abcdefgh", "ij\nxy\n", "0123", "45678"},
			maxLine: 4, maxBytes: 1000, maxLines: 100,
			wantLines: []string{"abcd", "efgh", "ij", "xy", "0123", "4567", "8"},
			wantTail:  []string{"abcd", "efgh", "ij", "xy", "0123", "4567", "8"},
		},
		{
			name:    "newline right at the limit",
			writes:  []string{"abcd\nef"},
			maxLine: 4, maxBytes: 1000, maxLines: 100,
			wantLines: []string{"abcd", "ef"},
			wantTail:  []string{"abcd", "ef"},
		},
		{
			name:    "empty lines kept",
			writes:  []string{"\n\nx\n"},
			maxLine: 4, maxBytes: 1000, maxLines: 100,
			wantLines: []string{"", "", "x"},
			wantTail:  []string{"", "", "x"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			w := &lineLog{ctx: t.Context(), log: slog.New(rec), maxLine: tc.maxLine, maxBytes: tc.maxBytes, maxLines: tc.maxLines}
			for _, s := range tc.writes {
				n, err := w.Write([]byte(s))
				require.NoError(t, err)
				require.Equal(t, len(s), n)
			}
			w.flush()
			require.Equal(t, tc.wantLines, rec.lines(t, nil))
			require.Equal(t, tc.wantTail, w.tail)
		})
	}
}

func TestLineLogBounded(t *testing.T) {
	t.Parallel()
	w := &lineLog{ctx: t.Context(), log: slog.New(slog.DiscardHandler), maxLine: 64, maxBytes: 1000, maxLines: 20}
	chunk := []byte(strings.Repeat("spam spam spam\n", 100) + strings.Repeat("x", 1000))
	for range 1000 {
		_, _ = w.Write(chunk)
	}
	require.LessOrEqual(t, len(w.tail), 20)
	require.LessOrEqual(t, w.tailBytes, 1000)
	require.LessOrEqual(t, cap(w.partial), 2*64)
}

func TestWithSeparator(t *testing.T) {
	t.Parallel()
	sep := string(os.PathSeparator)
	base := t.TempDir()
	wd, err := os.Getwd()
	require.NoError(t, err)
	for in, want := range map[string]string{
		"":               "",
		base:             base + sep,
		base + sep:       base + sep,
		"relative":       filepath.Join(wd, "relative") + sep,
		"relative" + sep: filepath.Join(wd, "relative") + sep,
	} {
		require.Equal(t, want, withSeparator(in), in)
	}
}

func TestScriptErrorMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  *ScriptError
		want string
	}{
		{
			name: "exit code",
			err:  &ScriptError{Script: "/s/PREINSTALL_a.sh", Phase: PreInstall, ExitCode: 3, Tail: []string{"one", "two"}, Err: ErrExitCode},
			want: "hooks: PREINSTALL script /s/PREINSTALL_a.sh exited with code 3; last output: one | two",
		},
		{
			name: "retry later",
			err:  &ScriptError{Script: "/s/x", Phase: PreBackup, ExitCode: 21, Err: ErrRetryLater},
			want: "hooks: PREBACKUP script /s/x exited with code 21: hooks: not ready, retry later",
		},
		{
			name: "timeout",
			err:  &ScriptError{Script: "/s/x", Phase: EndUpdate, ExitCode: -1, TimedOut: true, Tail: []string{"z"}, Err: ErrTimeout},
			want: "hooks: ENDUPDATE script /s/x timed out and was killed: hooks: script timed out; last output: z",
		},
		{
			name: "not started",
			err:  &ScriptError{Script: "/s/x.ps1", Phase: Rollback, ExitCode: -1, Err: ErrNoInterpreter},
			want: "hooks: ROLLBACK script /s/x.ps1: hooks: no interpreter found",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.err.Error())
			require.ErrorIs(t, tc.err, tc.err.Err)
		})
	}
}
