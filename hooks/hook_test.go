package hooks

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFuncAndChain(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	record := func(log *[]string, name string, err error) Hook {
		return Func(func(_ context.Context, ev Event) error {
			*log = append(*log, name+":"+string(ev.Phase))
			return err
		})
	}
	for _, tc := range []struct {
		name    string
		build   func(log *[]string) Hook
		want    []string
		wantErr error
	}{
		{
			name: "in order",
			build: func(log *[]string) Hook {
				return Chain(record(log, "a", nil), nil, Func(nil), record(log, "b", nil))
			},
			want: []string{"a:PREINSTALL", "b:PREINSTALL"},
		},
		{
			name: "stops at first error",
			build: func(log *[]string) Hook {
				return Chain(record(log, "a", nil), record(log, "b", errBoom), record(log, "c", nil))
			},
			want:    []string{"a:PREINSTALL", "b:PREINSTALL"},
			wantErr: errBoom,
		},
		{
			name:  "empty",
			build: func(*[]string) Hook { return Chain() },
		},
		{
			name: "nested",
			build: func(log *[]string) Hook {
				return Chain(Chain(record(log, "a", nil)), record(log, "b", nil))
			},
			want: []string{"a:PREINSTALL", "b:PREINSTALL"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var log []string
			err := tc.build(&log).Run(t.Context(), Event{Phase: PreInstall})
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.want, log)
		})
	}
}

func TestChainCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	ran := 0
	h := Chain(Func(func(context.Context, Event) error { ran++; cancel(); return nil }),
		Func(func(context.Context, Event) error { ran++; return nil }))
	require.ErrorIs(t, h.Run(ctx, Event{}), context.Canceled)
	require.Equal(t, 1, ran)
}

func TestNilFunc(t *testing.T) {
	t.Parallel()
	require.NoError(t, Func(nil).Run(t.Context(), Event{}))
	require.NoError(t, Retry(nil, 0, 0).Run(t.Context(), Event{}))
	require.NotNil(t, Event{}.Log())
}

// flaky asks to retry later until it has run n times.
func flaky(n int, runs *int) Hook {
	return Func(func(context.Context, Event) error {
		*runs++
		if *runs < n {
			return fmt.Errorf("service still draining: %w", ErrRetryLater)
		}
		return nil
	})
}

func TestRetry(t *testing.T) {
	t.Parallel()
	errOther := errors.New("broken")
	for _, tc := range []struct {
		name     string
		hook     func(runs *int) Hook
		interval time.Duration
		total    time.Duration
		wantRuns int
		check    func(t *testing.T, err error)
	}{
		{
			name:     "succeeds after retries",
			hook:     func(runs *int) Hook { return flaky(3, runs) },
			interval: 10 * time.Millisecond, total: 5 * time.Second,
			wantRuns: 3,
			check:    func(t *testing.T, err error) { require.NoError(t, err) },
		},
		{
			name:     "first run succeeds with defaults",
			hook:     func(runs *int) Hook { return flaky(1, runs) },
			wantRuns: 1,
			check:    func(t *testing.T, err error) { require.NoError(t, err) },
		},
		{
			name: "other error not retried",
			hook: func(runs *int) Hook {
				return Func(func(context.Context, Event) error { *runs++; return errOther })
			},
			interval: 10 * time.Millisecond, total: time.Second,
			wantRuns: 1,
			check:    func(t *testing.T, err error) { require.ErrorIs(t, err, errOther) },
		},
		{
			name:     "retry timeout",
			hook:     func(runs *int) Hook { return flaky(1000, runs) },
			interval: 40 * time.Millisecond, total: 100 * time.Millisecond,
			wantRuns: -1, // 0, 40, 80 ms and the deadline, fewer on a loaded machine
			check: func(t *testing.T, err error) {
				require.ErrorIs(t, err, ErrRetryLater)
				var re *RetryError
				require.ErrorAs(t, err, &re)
				require.Equal(t, 100*time.Millisecond, re.Timeout)
				require.GreaterOrEqual(t, re.Attempts, 2)
				require.LessOrEqual(t, re.Attempts, 4)
				require.Contains(t, err.Error(), "retry timeout of 100ms")
				require.Contains(t, err.Error(), "service still draining")
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runs := 0
			err := Retry(tc.hook(&runs), tc.interval, tc.total).Run(t.Context(), Event{Phase: PreBackup})
			tc.check(t, err)
			if tc.wantRuns >= 0 {
				require.Equal(t, tc.wantRuns, runs)
			}
		})
	}
}

func TestRetryCancelledWhileWaiting(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	runs := 0
	start := time.Now()
	err := Retry(flaky(1000, &runs), time.Hour, 2*time.Hour).Run(ctx, Event{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, ErrRetryLater)
	require.Contains(t, err.Error(), "service still draining")
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, 1, runs)
}

func TestOn(t *testing.T) {
	t.Parallel()
	var ran []string
	record := func(name string) Func {
		return func(ctx context.Context, ev Event) error {
			require.NotNil(t, ctx)
			ran = append(ran, name+":"+string(ev.Phase)+":"+ev.Module)
			if ev.Phase == EndUpdate {
				return errors.New("boom")
			}
			return nil
		}
	}
	h := Chain(On(PostInstall, record("warm")), On(Phase("endupdate"), record("notify")), On(PreBackup, nil))
	var failed []Phase
	for _, p := range Phases() {
		if err := h.Run(t.Context(), Event{Phase: p, Module: "shop"}); err != nil {
			require.EqualError(t, err, "boom")
			failed = append(failed, p)
		}
	}
	require.Equal(t, []string{"warm:POSTINSTALL:shop", "notify:ENDUPDATE:shop"}, ran)
	require.Equal(t, []Phase{EndUpdate}, failed)

	// A nil function gives a nil Func, which Chain drops.
	require.Equal(t, chain{}, Chain(On(PreBackup, nil)))
	// A phase that does not exist is a mistake in the program, found at once.
	require.PanicsWithValue(t, `hooks: On: unknown phase "POSTINSTAL"`, func() { On("POSTINSTAL", record("x")) })
}
