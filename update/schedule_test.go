package update_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

func TestRunOnceDownloadsAndInstallsInWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	// Outside the window: downloaded in the background, not installed.
	e.cfg.AutoInstall = &update.Window{Days: []string{"sat"}, Hours: "02:00-03:00"}
	saturday3am := time.Date(2026, 11, 21, 2, 30, 0, 0, time.Local)
	monday := time.Date(2026, 11, 23, 12, 0, 0, 0, time.Local)
	eng := e.engine(t, update.WithClock(func() time.Time { return monday }))
	var checks atomic.Int32
	eng.RunOnce(ctx, update.RunOptions{OnCheck: func(*update.CheckReport, error) { checks.Add(1) }})
	require.Equal(t, int32(1), checks.Load())
	require.Nil(t, updatetest.ReadTree(t, e.module))
	st, _ := eng.ModuleStatus(context.Background(), "web")
	require.Equal(t, "verified", string(st.Download.State))
	require.Equal(t, "update", string(st.CheckStatus))

	// Inside the window (the manifest is fetched with a clock inside its validity).
	eng = e.engine(t, update.WithClock(func() time.Time { return saturday3am.AddDate(0, 0, 7) }))
	e.repo.Refresh(60 * 24 * time.Hour)
	eng.RunOnce(ctx, update.RunOptions{})
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))
}

func TestSchedulerDoesNotRetryFailedVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	e.cfg.AutoInstall = &update.Window{}
	var attempts atomic.Int32
	failing := hooks.Func(func(ctx context.Context, ev hooks.Event) error {
		if ev.Phase == hooks.PreInstall {
			attempts.Add(1)
			return errors.New("not today")
		}
		return nil
	})
	eng := e.engine(t, update.WithHook("web", failing))
	eng.RunOnce(ctx, update.RunOptions{})
	eng.RunOnce(ctx, update.RunOptions{})
	require.Equal(t, int32(1), attempts.Load(), "a failed version is not retried on its own")
	st, _ := eng.ModuleStatus(context.Background(), "web")
	require.Equal(t, "1.0.0", st.FailedVersion)

	// A newer version is tried; an explicit install may retry a failed one.
	e.repo.Publish("web", "1.0.1", platform, v2)
	eng.RunOnce(ctx, update.RunOptions{})
	require.Equal(t, int32(2), attempts.Load())
	_, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"})
	require.Error(t, err)
	require.Equal(t, int32(3), attempts.Load())
}

func TestRunStopsWithContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	eng := e.engine(t)
	ctx, cancel := context.WithCancel(context.Background())
	var checks atomic.Int32
	done := make(chan error)
	go func() {
		done <- eng.Run(ctx, update.RunOptions{Interval: 20 * time.Millisecond, Jitter: 5 * time.Millisecond,
			OnCheck: func(*update.CheckReport, error) { checks.Add(1) }})
	}()
	require.Eventually(t, func() bool { return checks.Load() >= 3 }, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

// TestCheckDuringInstall runs checks while an install is under way: the status ends
// with the installed version (no check writes back an older one).
func TestCheckDuringInstall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	stop := make(chan struct{})
	checker := e.engine(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				checker.Check(ctx)
			}
		}
	}()
	for _, v := range []string{"1.0.0", "1.0.1", "1.0.2"} {
		if v != "1.0.0" {
			e.repo.Publish("web", v, platform, map[string]string{"v": v})
		}
		_, err := e.engine(t).Install(ctx, "web", update.InstallOptions{Version: v})
		require.NoError(t, err)
	}
	close(stop)
	<-done
	st, err := checker.ModuleStatus(context.Background(), "web")
	require.NoError(t, err)
	require.Equal(t, "1.0.2", *st.Installed)
}

func TestRunAfterInstallErrorRollsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	e.cfg.AutoInstall = &update.Window{}
	eng := e.engine(t)
	_, err := eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)

	e.repo.Publish("web", "1.1.0", platform, v2)
	var calls []update.InstallResult
	notReady := update.RunOptions{AfterInstall: func(ctx context.Context, res *update.InstallResult) error {
		calls = append(calls, *res)
		require.Equal(t, v2, updatetest.ReadTree(t, e.module), "called once the new version is in place")
		return errors.New("1.1.0 did not become ready")
	}}
	eng.RunOnce(ctx, notReady)
	require.Len(t, calls, 1)
	require.Equal(t, "1.0.0", calls[0].From)
	require.Equal(t, []string{"1.1.0"}, calls[0].Installed)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module), "rolled back")
	st, err := eng.ModuleStatus(context.Background(), "web")
	require.NoError(t, err)
	require.Equal(t, "1.0.0", *st.Installed)
	require.Equal(t, "1.1.0", st.FailedVersion)
	require.Contains(t, st.LastError, "1.1.0 did not become ready")

	// The next rounds do not install it again.
	eng.RunOnce(ctx, notReady)
	require.Len(t, calls, 1, "a version rolled back after install is not retried on its own")

	// A newer version goes through; AfterInstall's nil keeps it.
	e.repo.Publish("web", "1.2.0", platform, v3)
	eng.RunOnce(ctx, update.RunOptions{AfterInstall: func(ctx context.Context, res *update.InstallResult) error {
		calls = append(calls, *res)
		return nil
	}})
	require.Len(t, calls, 2)
	require.Equal(t, []string{"1.2.0"}, calls[1].Installed)
	require.Equal(t, v3, updatetest.ReadTree(t, e.module))
	st, _ = eng.ModuleStatus(context.Background(), "web")
	require.Equal(t, "1.2.0", *st.Installed)
}
