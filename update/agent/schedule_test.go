package agent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

var platform = runtime.GOOS + "/" + runtime.GOARCH

var (
	v1 = map[string]string{"index.html": "v1"}
	v2 = map[string]string{"index.html": "v2"}
	v3 = map[string]string{"index.html": "v3"}
)

// env is a repository and the configuration of a server with one module, web.
type env struct {
	repo   *updatetest.Repo
	cfg    update.Config
	module string // the module's live folder
}

func newEnv(t *testing.T) *env {
	t.Helper()
	repo := updatetest.NewRepo(t)
	dir := t.TempDir()
	e := &env{repo: repo, module: filepath.Join(dir, "srv", "web")}
	require.NoError(t, os.MkdirAll(filepath.Dir(e.module), 0o755))
	e.cfg = update.Config{
		Source:   repo.Dir,
		Keys:     []string{repo.PubFile},
		StateDir: filepath.Join(dir, "state"),
		Modules:  []update.ModuleConfig{{Name: "web", Path: e.module}},
	}
	return e
}

func (e *env) engine(t *testing.T, opts ...update.Option) *update.Engine {
	t.Helper()
	eng, err := update.New(e.cfg, append([]update.Option{updatetest.WithoutSync(), updatetest.WithBusyTimeout(200 * time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	return eng
}

func TestRunOnceDownloadsAndInstallsInWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	// Outside the window: downloaded in the background, not installed.
	window := &agent.Window{Days: []string{"sat"}, Hours: "02:00-03:00"}
	saturday3am := time.Date(2026, 11, 21, 2, 30, 0, 0, time.Local)
	monday := time.Date(2026, 11, 23, 12, 0, 0, 0, time.Local)
	eng := e.engine(t, updatetest.WithClock(func() time.Time { return monday }))
	var checks atomic.Int32
	agent.RunOnce(ctx, eng, agent.RunOptions{AutoInstall: window, Clock: func() time.Time { return monday },
		OnCheck: func(*update.CheckReport, error) { checks.Add(1) }})
	require.Equal(t, int32(1), checks.Load())
	require.Nil(t, updatetest.ReadTree(t, e.module))
	st, _ := eng.ModuleStatus(context.Background(), "web")
	require.Equal(t, "verified", string(st.Download.State))
	require.Equal(t, "update", string(st.CheckStatus))

	// Inside the window (the manifest is fetched with a clock inside its validity).
	inside := func() time.Time { return saturday3am.AddDate(0, 0, 7) }
	eng = e.engine(t, updatetest.WithClock(inside))
	e.repo.Refresh(60 * 24 * time.Hour)
	agent.RunOnce(ctx, eng, agent.RunOptions{AutoInstall: window, Clock: inside})
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))
}

func TestSchedulerDoesNotRetryFailedVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	always := agent.RunOptions{AutoInstall: &agent.Window{}}
	var attempts atomic.Int32
	failing := hooks.Func(func(ctx context.Context, ev hooks.Event) error {
		if ev.Phase == hooks.PreInstall {
			attempts.Add(1)
			return errors.New("not today")
		}
		return nil
	})
	eng := e.engine(t, update.WithHook("web", failing))
	agent.RunOnce(ctx, eng, always)
	agent.RunOnce(ctx, eng, always)
	require.Equal(t, int32(1), attempts.Load(), "a failed version is not retried on its own")
	st, _ := eng.ModuleStatus(context.Background(), "web")
	require.Equal(t, "1.0.0", st.FailedVersion)

	// A newer version is tried; an explicit install may retry a failed one.
	e.repo.Publish("web", "1.0.1", platform, v2)
	agent.RunOnce(ctx, eng, always)
	require.Equal(t, int32(2), attempts.Load())
	_, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"})
	require.Error(t, err)
	require.Equal(t, int32(3), attempts.Load())
}

func TestRunStopsWithContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	eng := e.engine(t)
	ctx, cancel := context.WithCancel(context.Background())
	var checks atomic.Int32
	done := make(chan error)
	go func() {
		done <- agent.Run(ctx, eng, agent.RunOptions{Interval: 20 * time.Millisecond, Jitter: 5 * time.Millisecond,
			OnCheck: func(*update.CheckReport, error) { checks.Add(1) }})
	}()
	require.Eventually(t, func() bool { return checks.Load() >= 3 }, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

func TestRunAfterInstallErrorRollsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	eng := e.engine(t)
	_, err := eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)

	e.repo.Publish("web", "1.1.0", platform, v2)
	var calls []update.InstallResult
	notReady := agent.RunOptions{AutoInstall: &agent.Window{}, AfterInstall: func(ctx context.Context, res *update.InstallResult) error {
		calls = append(calls, *res)
		require.Equal(t, v2, updatetest.ReadTree(t, e.module), "called once the new version is in place")
		return errors.New("1.1.0 did not become ready")
	}}
	agent.RunOnce(ctx, eng, notReady)
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
	agent.RunOnce(ctx, eng, notReady)
	require.Len(t, calls, 1, "a version rolled back after install is not retried on its own")

	// A newer version goes through; AfterInstall's nil keeps it.
	e.repo.Publish("web", "1.2.0", platform, v3)
	agent.RunOnce(ctx, eng, agent.RunOptions{AutoInstall: &agent.Window{}, AfterInstall: func(ctx context.Context, res *update.InstallResult) error {
		calls = append(calls, *res)
		return nil
	}})
	require.Len(t, calls, 2)
	require.Equal(t, []string{"1.2.0"}, calls[1].Installed)
	require.Equal(t, v3, updatetest.ReadTree(t, e.module))
	st, _ = eng.ModuleStatus(context.Background(), "web")
	require.Equal(t, "1.2.0", *st.Installed)
}
