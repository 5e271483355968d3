package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"
)

// pipeGrace is how long a script's output is still read after it exited, for the
// background processes it left holding the output open; then the pipe is closed.
const pipeGrace = time.Second

// kind is how a script is started.
type kind int

const (
	kindExec       kind = iota // run the file itself
	kindSh                     // sh FILE
	kindPowerShell             // pwsh -File FILE
	kindCmd                    // cmd /c FILE
)

// kindOf returns how a script with extension ext (with its dot) and mode runs on goos,
// or an error wrapping ErrNotRunnable.
func kindOf(ext string, mode fs.FileMode, goos string) (kind, error) {
	ext = strings.ToLower(ext)
	switch ext {
	case ".sh":
		return kindSh, nil
	case ".ps1":
		return kindPowerShell, nil
	case ".cmd", ".bat":
		if goos == "windows" {
			return kindCmd, nil
		}
		return 0, fmt.Errorf("%w: %s scripts run only on Windows", ErrNotRunnable, ext)
	}
	if goos == "windows" {
		if ext == ".exe" || ext == ".com" {
			return kindExec, nil
		}
		return 0, fmt.Errorf("%w: unknown extension %q (want .ps1, .cmd, .bat, .sh, .exe or .com)", ErrNotRunnable, ext)
	}
	if mode&0o111 != 0 {
		return kindExec, nil
	}
	return 0, fmt.Errorf("%w: no executable bit and no known extension (.sh, .ps1)", ErrNotRunnable)
}

// interpreter returns the program and arguments that run the script at path, looking
// interpreters up with look, or an error wrapping ErrNoInterpreter naming the programs
// looked for.
func interpreter(k kind, path, goos string, look func(string) (string, error)) (string, []string, error) {
	var names []string
	var args []string
	switch k {
	case kindExec:
		return path, nil, nil
	case kindSh:
		names, args = []string{"sh"}, []string{path}
	case kindPowerShell:
		names, args = []string{"pwsh"}, []string{"-NoProfile", "-NonInteractive", "-File", path}
		if goos == "windows" {
			names = append(names, "powershell.exe")
			args = append([]string{"-ExecutionPolicy", "Bypass"}, args...)
		}
	case kindCmd:
		names, args = []string{"cmd"}, []string{"/c", path}
	}
	for _, n := range names {
		if p, err := look(n); err == nil {
			return p, args, nil
		}
	}
	return "", nil, fmt.Errorf("%w: looked for %s on PATH", ErrNoInterpreter, strings.Join(names, ", "))
}

// command is a script ready to start.
type command struct {
	script string
	prog   string
	args   []string
}

// runOnce runs c once, bounded by st.timeout. It returns nil on exit code 0, otherwise
// a *ScriptError (wrapping ErrRetryLater on ExitRetryLater).
func (st settings) runOnce(ctx context.Context, log *slog.Logger, c command, phase Phase, dir string, env []string) error {
	runCtx, cancel := context.WithTimeout(ctx, st.timeout)
	defer cancel()
	out := &lineLog{ctx: ctx, log: log, maxLine: min(MaxLine, st.maxOutput), maxBytes: st.maxOutput, maxLines: st.tailLines}
	cmd := exec.CommandContext(runCtx, c.prog, c.args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = out // the same writer for both: one pipe, lines interleaved as written
	cmd.Stderr = out
	cmd.WaitDelay = pipeGrace
	started, release := prepareTree(cmd)
	defer release()
	var killed atomic.Bool
	kill := cmd.Cancel
	cmd.Cancel = func() error {
		killed.Store(true)
		return kill()
	}

	log.LogAttrs(ctx, slog.LevelInfo, "running script")
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		started()
		err = cmd.Wait()
	}
	out.flush()
	took := slog.Duration("took", time.Since(start))
	se := &ScriptError{Script: c.script, Phase: phase, ExitCode: -1, Tail: out.tail}
	ps := cmd.ProcessState
	switch {
	case killed.Load() && ctx.Err() != nil:
		se.Err = fmt.Errorf("script cancelled: %w", context.Cause(ctx))
	case killed.Load():
		se.TimedOut = true
		se.Err = fmt.Errorf("%w after %s", ErrTimeout, st.timeout)
	case ps != nil && ps.Exited():
		se.ExitCode = ps.ExitCode()
		if errors.Is(err, exec.ErrWaitDelay) {
			log.LogAttrs(ctx, slog.LevelWarn, "script exited but left processes holding its output open")
		}
		switch se.ExitCode {
		case 0:
			log.LogAttrs(ctx, slog.LevelInfo, "script succeeded", took)
			return nil
		case ExitRetryLater:
			se.Err = ErrRetryLater
		default:
			se.Err = ErrExitCode
		}
	case err != nil:
		se.Err = err
	default:
		se.Err = errors.New("script ended without an exit status")
	}
	log.LogAttrs(ctx, slog.LevelWarn, "script failed", took, slog.Int("exit_code", se.ExitCode), slog.String("error", se.Err.Error()))
	return se
}

// lineLog logs what a script writes one record per line and keeps the last lines, at
// most maxLines lines and maxBytes bytes, for its error. Lines longer than maxLine are
// split, so memory stays bounded whatever the script prints.
type lineLog struct {
	ctx      context.Context
	log      *slog.Logger
	maxLine  int
	maxBytes int
	maxLines int

	partial   []byte
	tail      []string
	tailBytes int
}

func (w *lineLog) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		room := w.maxLine - len(w.partial)
		i := bytes.IndexByte(p, '\n')
		switch {
		case i >= 0 && i <= room:
			w.partial = append(w.partial, p[:i]...)
			p = p[i+1:]
			w.emit()
		case len(p) < room:
			w.partial = append(w.partial, p...)
			p = nil
		default:
			w.partial = append(w.partial, p[:room]...)
			p = p[room:]
			w.emit()
		}
	}
	return n, nil
}

// flush emits the last line when it did not end with a newline.
func (w *lineLog) flush() {
	if len(w.partial) > 0 {
		w.emit()
	}
}

func (w *lineLog) emit() {
	line := strings.TrimSuffix(string(w.partial), "\r")
	w.partial = w.partial[:0]
	w.log.LogAttrs(w.ctx, slog.LevelInfo, "script output", slog.String("line", line))
	w.tail = append(w.tail, line)
	w.tailBytes += len(line)
	for len(w.tail) > w.maxLines || w.tailBytes > w.maxBytes {
		w.tailBytes -= len(w.tail[0])
		w.tail = w.tail[1:]
	}
}
