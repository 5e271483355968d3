package hooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrRetryLater is returned, wrapped, by a hook that is not ready yet and asks to be run
// again after an interval (a script says so by exiting with [ExitRetryLater]). After the
// retry timeout the error is a [*RetryError], which still wraps it.
var ErrRetryLater = errors.New("hooks: not ready, retry later")

// Defaults of [Retry] and [Scripts] for zero settings.
const (
	// DefaultRetryInterval is the wait between two runs of a hook that asked to retry later.
	DefaultRetryInterval = 10 * time.Second
	// DefaultRetryTimeout bounds the total time spent retrying one hook.
	DefaultRetryTimeout = 10 * time.Minute
)

// Operation is what the engine is doing when it runs a hook; scripts see it in
// E_OPERATION.
type Operation string

// The operations an [Event] names.
const (
	// OpInstall is the install of a release, including the [Rollback] phase that
	// follows a failed install.
	OpInstall Operation = "install"
	// OpRollback is an explicit rollback to a kept version: the engine runs the phases
	// that apply (such as [PreInstall], [PostInstall] and [EndUpdate]) with FromVersion
	// the version being replaced and ToVersion the one coming back.
	OpRollback Operation = "rollback"
)

// Event is what a hook learns about the install it runs in.
type Event struct {
	// Phase is the phase being run.
	Phase Phase
	// Operation says whether the phase runs for an install or an explicit rollback;
	// empty when the caller does not say (a hook run directly, not by the engine).
	Operation Operation
	// Module is the module's name, as scripts' file names give it.
	Module string
	// ModulePath is the folder the module is installed in (it may not exist yet on a
	// first install).
	ModulePath string
	// BackupPath is where the previous version is (or will be) kept; "" when there is
	// no backup (a first install, or a module configured without backups).
	BackupPath string
	// StagePath is the staged tree: the folder holding the files about to be put in
	// place (the new version's, verified and extracted, or on a rollback the kept
	// version's), so that a hook may read or adjust them up to [PreInstall]; "" when
	// there is none. Once the files are in place it may hold something else, or be
	// gone.
	StagePath string
	// FromVersion is the installed version, empty on a first install.
	FromVersion string
	// ToVersion is the version being installed.
	ToVersion string
	// Logger receives the hook's messages; nil discards them.
	Logger *slog.Logger
}

// Log returns ev.Logger, or a logger that discards everything when it is nil.
func (ev Event) Log() *slog.Logger {
	if ev.Logger != nil {
		return ev.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Hook is run at a phase of an install. A nil error lets the install go on; an error
// wrapping [ErrRetryLater] asks to be run again later (see [Retry]); any other error is
// a failure, whose consequence the engine decides ([Phase.Aborts]).
type Hook interface {
	Run(ctx context.Context, ev Event) error
}

// Func adapts a function to a [Hook]; it runs at every phase (see [On] for one).
type Func func(ctx context.Context, ev Event) error

var (
	_ Hook = Func(nil)
	_ Hook = chain(nil)
	_ Hook = phaseHook{}
)

// Run calls f(ctx, ev); a nil Func does nothing.
func (f Func) Run(ctx context.Context, ev Event) error {
	if f == nil {
		return nil
	}
	return f(ctx, ev)
}

// On returns a hook that calls f at phase and does nothing at the other phases, so a
// Go hook need not test ev.Phase itself; [Chain] puts several together. The phase is
// compared as [ParsePhase] does, and one that is not among [Phases] panics, as it is a
// mistake in the program: a hook for it would never run. A nil f gives a nil [Func],
// which does nothing and which Chain drops.
func On(phase Phase, f Func) Hook {
	p, err := ParsePhase(string(phase))
	if err != nil {
		panic(fmt.Sprintf("hooks: On: unknown phase %q", string(phase)))
	}
	if f == nil {
		return Func(nil)
	}
	return phaseHook{phase: p, f: f}
}

// phaseHook is the hook [On] returns.
type phaseHook struct {
	phase Phase
	f     Func
}

// Run calls h.f when ev is at h's phase.
func (h phaseHook) Run(ctx context.Context, ev Event) error {
	if ev.Phase != h.phase {
		return nil
	}
	return h.f(ctx, ev)
}

// Chain returns a hook that runs hs in order and stops at the first error, which it
// returns unchanged; it also stops, with the context's error, when ctx is done before a
// hook starts. Nil hooks are skipped; Chain() does nothing.
func Chain(hs ...Hook) Hook {
	list := make([]Hook, 0, len(hs))
	for _, h := range hs {
		if h == nil {
			continue
		}
		if f, ok := h.(Func); ok && f == nil {
			continue
		}
		list = append(list, h)
	}
	return chain(list)
}

type chain []Hook

func (c chain) Run(ctx context.Context, ev Event) error {
	for _, h := range c {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := h.Run(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

// RetryError is returned when a hook still asks to retry later once the retry timeout
// has elapsed. It wraps the last attempt's error, so errors.Is(err, ErrRetryLater)
// holds, and for a script errors.As finds its [*ScriptError].
type RetryError struct {
	// Timeout is the total retry time that elapsed.
	Timeout time.Duration
	// Attempts is how many times the hook ran.
	Attempts int
	// Err is the last attempt's error.
	Err error
}

// Error describes the failure, naming what is at fault.
func (e *RetryError) Error() string {
	return fmt.Sprintf("hooks: retry timeout of %s reached after %d attempts: %v", e.Timeout, e.Attempts, e.Err)
}

// Unwrap returns the last attempt's error.
func (e *RetryError) Unwrap() error { return e.Err }

// Retry returns a hook that runs h and, while h returns an error wrapping
// [ErrRetryLater], runs it again every interval until total has elapsed since the first
// run; then it returns a [*RetryError] naming the timeout. A last run happens at the
// deadline when the interval would overshoot it. Zero or negative interval and total
// take [DefaultRetryInterval] and [DefaultRetryTimeout]. When ctx is done while
// waiting, the context's error is returned. A nil h does nothing.
func Retry(h Hook, interval, total time.Duration) Hook {
	if h == nil {
		return Func(nil)
	}
	return Func(func(ctx context.Context, ev Event) error {
		return retry(ctx, ev.Log(), interval, total, func() error { return h.Run(ctx, ev) })
	})
}

// retry runs fn until it returns something other than ErrRetryLater or total elapses.
func retry(ctx context.Context, log *slog.Logger, interval, total time.Duration, fn func() error) error {
	if interval <= 0 {
		interval = DefaultRetryInterval
	}
	if total <= 0 {
		total = DefaultRetryTimeout
	}
	deadline := time.Now().Add(total)
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !errors.Is(err, ErrRetryLater) {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return &RetryError{Timeout: total, Attempts: attempt, Err: err}
		}
		wait := min(interval, left)
		log.LogAttrs(ctx, slog.LevelInfo, "hook asked to retry later",
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.String("reason", err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("hooks: waiting to retry (last attempt: %v): %w", err, context.Cause(ctx))
		case <-t.C:
		}
	}
}
