package hooks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Defaults and limits of [Scripts].
const (
	// DefaultEnvPrefix prefixes the names of the variables a script receives.
	DefaultEnvPrefix = "E_"
	// DefaultTimeout bounds one run of a script.
	DefaultTimeout = 5 * time.Minute
	// DefaultMaxOutput is how many bytes of a script's last output are kept for its error.
	DefaultMaxOutput = 64 << 10
	// DefaultTailLines is how many of a script's last output lines are kept for its error.
	DefaultTailLines = 20
	// MaxLine is the longest output line, in bytes, logged as one record; longer lines
	// are split.
	MaxLine = 8 << 10
	// maxOrderDigits keeps an order suffix within an int on every platform.
	maxOrderDigits = 9
)

// Scripts runs the scripts of a folder that match an event's phase and module (see the
// package documentation for names, interpreters, environment and limits). Zero fields
// take their defaults; a Scripts is safe for concurrent use once set up.
type Scripts struct {
	// Dir is the scripts folder; empty, or a folder that does not exist, holds no scripts.
	Dir string
	// EnvPrefix prefixes the variables set for scripts; default [DefaultEnvPrefix].
	EnvPrefix string
	// Timeout bounds each run of a script; default [DefaultTimeout].
	Timeout time.Duration
	// RetryInterval is the wait before running again a script that exited with
	// [ExitRetryLater]; default [DefaultRetryInterval].
	RetryInterval time.Duration
	// RetryTimeout bounds the total time spent retrying one script; default
	// [DefaultRetryTimeout].
	RetryTimeout time.Duration
	// MaxOutput is how many bytes of output are kept for the error; default
	// [DefaultMaxOutput].
	MaxOutput int
	// TailLines is how many lines of output are kept for the error; default
	// [DefaultTailLines].
	TailLines int
	// Logger receives the scripts' output and progress; default the event's Logger,
	// else nothing is logged.
	Logger *slog.Logger
}

var _ Hook = (*Scripts)(nil)

// script is a file found for a phase and module.
type script struct {
	path  string
	name  string
	order int
	kind  kind
}

// Find returns the full paths of the scripts that run at phase for module, in run
// order. A file that matches but cannot run here gives a [*ScriptError] wrapping
// [ErrNotRunnable]; a missing folder gives no scripts and no error.
func (s *Scripts) Find(phase Phase, module string) ([]string, error) {
	found, err := s.find(phase, module)
	if err != nil || len(found) == 0 {
		return nil, err
	}
	paths := make([]string, len(found))
	for i, sc := range found {
		paths[i] = sc.path
	}
	return paths, nil
}

func (s *Scripts) find(phase Phase, module string) ([]script, error) {
	if !phase.Valid() {
		return nil, fmt.Errorf("%w: %q", ErrUnknownPhase, string(phase))
	}
	if module == "" {
		return nil, errors.New("hooks: event names no module")
	}
	if s.Dir == "" {
		return nil, nil
	}
	dir, err := filepath.Abs(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("hooks: scripts folder: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hooks: reading scripts folder: %w", err)
	}
	var found []script
	for _, e := range entries {
		name := e.Name()
		if ignored(name) {
			continue
		}
		order, ext, ok := match(name, phase, module)
		if !ok {
			continue
		}
		path := filepath.Join(dir, name)
		info, err := os.Stat(path) // follows a link to the script
		if err != nil {
			return nil, &ScriptError{Script: path, Phase: phase, ExitCode: -1, Err: err}
		}
		if info.IsDir() {
			continue
		}
		k, err := kindOf(ext, info.Mode(), runtime.GOOS)
		if err != nil {
			return nil, &ScriptError{Script: path, Phase: phase, ExitCode: -1, Err: err}
		}
		found = append(found, script{path: path, name: name, order: order, kind: k})
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].order != found[j].order {
			return found[i].order < found[j].order
		}
		return found[i].name < found[j].name
	})
	return found, nil
}

// ignored reports whether name is a hidden file or an editor's backup.
func ignored(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") ||
		strings.HasSuffix(lower, ".bak") || strings.HasSuffix(lower, ".swp")
}

// match reports whether name is PHASE{_-}module[{_-}NN][.ext] for phase and module,
// case-insensitively, and returns its order NN (0 without) and its extension (with the
// dot, "" without). The module is matched as a whole, never split on separators.
func match(name string, phase Phase, module string) (order int, ext string, ok bool) {
	rest, ok := cutFold(name, string(phase))
	if !ok || rest == "" || (rest[0] != '_' && rest[0] != '-') {
		return 0, "", false
	}
	if rest, ok = cutFold(rest[1:], module); !ok {
		return 0, "", false
	}
	if rest != "" && (rest[0] == '_' || rest[0] == '-') {
		digits := rest[1:]
		n := 0
		for n < len(digits) && digits[n] >= '0' && digits[n] <= '9' {
			n++
		}
		if n == 0 || n > maxOrderDigits {
			return 0, "", false
		}
		order, _ = strconv.Atoi(digits[:n]) // at most 9 digits: cannot fail
		rest = digits[n:]
	}
	switch {
	case rest == "":
		return order, "", true
	case rest[0] == '.' && len(rest) > 1 && !strings.Contains(rest[1:], "."):
		return order, rest, true
	}
	return 0, "", false
}

// cutFold returns s without prefix, compared case-insensitively.
func cutFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// settings is a Scripts with its defaults applied, for one event.
type settings struct {
	dir           string
	prefix        string
	timeout       time.Duration
	retryInterval time.Duration
	retryTimeout  time.Duration
	maxOutput     int
	tailLines     int
	log           *slog.Logger
}

func (s *Scripts) settings(ev Event) settings {
	st := settings{
		dir:           s.Dir,
		prefix:        s.EnvPrefix,
		timeout:       s.Timeout,
		retryInterval: s.RetryInterval,
		retryTimeout:  s.RetryTimeout,
		maxOutput:     s.MaxOutput,
		tailLines:     s.TailLines,
		log:           s.Logger,
	}
	if abs, err := filepath.Abs(st.dir); err == nil {
		st.dir = abs
	}
	if st.prefix == "" {
		st.prefix = DefaultEnvPrefix
	}
	if st.timeout <= 0 {
		st.timeout = DefaultTimeout
	}
	if st.retryInterval <= 0 {
		st.retryInterval = DefaultRetryInterval
	}
	if st.retryTimeout <= 0 {
		st.retryTimeout = DefaultRetryTimeout
	}
	if st.maxOutput <= 0 {
		st.maxOutput = DefaultMaxOutput
	}
	if st.tailLines <= 0 {
		st.tailLines = DefaultTailLines
	}
	if st.log == nil {
		st.log = ev.Log()
	}
	return st
}

// Run runs, in order, the scripts of s.Dir that match ev.Phase and ev.Module, each
// through the retry contract, and stops at the first failure, a [*ScriptError] (or a
// [*RetryError] wrapping one). Every script's interpreter is looked up before the first
// one runs, so a missing one fails the phase before anything ran.
func (s *Scripts) Run(ctx context.Context, ev Event) error {
	found, err := s.find(ev.Phase, ev.Module)
	if err != nil || len(found) == 0 {
		return err
	}
	st := s.settings(ev)
	cmds := make([]command, len(found))
	for i, sc := range found {
		prog, args, err := interpreter(sc.kind, sc.path, runtime.GOOS, exec.LookPath)
		if err != nil {
			return &ScriptError{Script: sc.path, Phase: ev.Phase, ExitCode: -1, Err: err}
		}
		cmds[i] = command{script: sc.path, prog: prog, args: args}
	}
	env := st.env(ev)
	dir := st.workDir(ev.ModulePath)
	for _, c := range cmds {
		log := st.log.With(slog.String("script", c.script), slog.String("phase", string(ev.Phase)),
			slog.String("module", ev.Module))
		err := retry(ctx, log, st.retryInterval, st.retryTimeout, func() error {
			return st.runOnce(ctx, log, c, ev.Phase, dir, env)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// env returns the process environment plus the event's variables.
func (st settings) env(ev Event) []string {
	p := st.prefix
	return append(os.Environ(),
		p+"MODULE_PATH="+withSeparator(ev.ModulePath),
		p+"BACKUP_PATH="+withSeparator(ev.BackupPath),
		p+"STAGE_PATH="+withSeparator(ev.StagePath),
		p+"OPERATION="+string(ev.Operation),
		p+"MODULE="+ev.Module,
		p+"PHASE="+string(ev.Phase),
		p+"FROM_VERSION="+ev.FromVersion,
		p+"TO_VERSION="+ev.ToVersion,
	)
}

// withSeparator returns path, made absolute (the script runs in another folder), ending
// with the path separator, as scripts concatenate file names to it; an empty path stays
// empty.
func withSeparator(path string) string {
	if path == "" {
		return ""
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if os.IsPathSeparator(path[len(path)-1]) {
		return path
	}
	return path + string(os.PathSeparator)
}

// workDir returns the module path, or the scripts folder when the module is not
// installed yet.
func (st settings) workDir(modulePath string) string {
	if modulePath != "" {
		if info, err := os.Stat(modulePath); err == nil && info.IsDir() {
			if abs, err := filepath.Abs(modulePath); err == nil {
				return abs
			}
			return modulePath
		}
	}
	return st.dir
}
