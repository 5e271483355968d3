package agent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/source"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// backend is the interface package update/portal serves: the agent must satisfy it
// exactly.
type backend interface {
	Modules(ctx context.Context) ([]agent.ModuleView, error)
	Install(ctx context.Context, module, version string) (opID string, err error)
	Rollback(ctx context.Context, module string) (opID string, err error)
	Check(ctx context.Context) (opID string, err error)
	Operations(ctx context.Context, module string, limit int) ([]agent.Operation, error)
	Operation(ctx context.Context, id string) (agent.Operation, error)
	Subscribe(ctx context.Context) <-chan agent.Event
}

var _ backend = (*agent.Agent)(nil)

// aenv is a publisher's repository served on 127.0.0.1 and a server's configuration
// with one module "web" in temporary folders.
type aenv struct {
	repo   *updatetest.Repo
	cfg    *agent.Config
	module string
}

func newAgentEnv(t testing.TB) *aenv {
	t.Helper()
	repo := updatetest.NewRepo(t)
	dir := t.TempDir()
	e := &aenv{repo: repo, module: filepath.Join(dir, "srv", "web")}
	require.NoError(t, os.MkdirAll(filepath.Dir(e.module), 0o755))
	e.cfg = &agent.Config{Config: update.Config{
		Source:   repo.Serve(),
		Keys:     []string{repo.PubFile},
		StateDir: filepath.Join(dir, "state"),
		Modules:  []update.ModuleConfig{{Name: "web", Path: e.module, MaintenanceFile: "app_offline.htm"}},
	}}
	require.NoError(t, e.cfg.Validate())
	return e
}

func (e *aenv) engine(t testing.TB, opts ...update.Option) *update.Engine {
	t.Helper()
	eng, err := update.New(e.cfg.Config, append([]update.Option{updatetest.WithoutSync(), updatetest.WithBusyTimeout(200 * time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	return eng
}

func (e *aenv) agent(t testing.TB, eng *update.Engine, opts ...agent.Option) *agent.Agent {
	t.Helper()
	a, err := agent.New(e.cfg, eng, append([]agent.Option{agent.WithoutSync(), agent.WithFirstCheck(time.Millisecond), agent.WithInterval(time.Hour)}, opts...)...)
	require.NoError(t, err)
	return a
}

// run runs a until the test ends, and checks that Run returned nil.
func run(t *testing.T, a *agent.Agent) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return after its context was cancelled")
		}
	}
	t.Cleanup(stop)
	return stop
}

// ended waits for the end of an operation: of id, or ("") of the first of kind.
func ended(t testing.TB, events <-chan agent.Event, kind agent.OpKind, id string) agent.Operation {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			require.True(t, ok, "event stream closed")
			if op := ev.Operation; op != nil && (op.ID == id || id == "" && op.Kind == kind) {
				return *op
			}
		case <-timeout:
			t.Fatalf("no end of the %s operation %s", kind, id)
		}
	}
}

func view(t *testing.T, a *agent.Agent) agent.ModuleView {
	t.Helper()
	mods, err := a.Modules(context.Background())
	require.NoError(t, err)
	require.Len(t, mods, 1)
	return mods[0]
}

func TestFirstCheckDownloadsInBackground(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	a := e.agent(t, e.engine(t))
	events := a.Subscribe(t.Context())
	run(t, a)

	op := ended(t, events, agent.OpCheck, "")
	require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
	require.False(t, op.Ended.Before(op.Started))

	v := view(t, a)
	require.Equal(t, "update", v.Status)
	require.Equal(t, "1.0.0", *v.Latest)
	require.Nil(t, v.Installed)
	require.True(t, v.Downloaded, "the pack is downloaded in the background")
	require.Nil(t, v.Operation)
	require.NotNil(t, v.LastCheck)
	require.True(t, *v.Diagnostics.SourceReachable)
	require.NotNil(t, v.Diagnostics.ManifestSerial)
	require.True(t, v.Diagnostics.ManifestExpires.After(time.Now()))
	// Nothing is installed without auto_install.
	require.NoDirExists(t, e.module)
}

func TestInstallJoinsTheRunningOne(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	release := make(chan struct{})
	hook := hooks.Func(func(ctx context.Context, ev hooks.Event) error {
		if ev.Phase == hooks.PreInstall {
			<-release
		}
		return nil
	})
	a := e.agent(t, e.engine(t, update.WithHook("web", hook)))
	events := a.Subscribe(t.Context())
	ctx := context.Background()

	id, err := a.Install(ctx, "web", "")
	require.NoError(t, err)
	id2, err := a.Install(ctx, "web", "")
	require.NoError(t, err)
	require.Equal(t, id, id2, "a second Install while one runs joins it")

	running, err := a.Operation(ctx, id)
	require.NoError(t, err)
	require.Equal(t, agent.ResultRunning, running.Result)
	// The view shows it running, with its step.
	require.Eventually(t, func() bool {
		v := view(t, a)
		return v.Status == "installing" && v.Operation != nil && v.Operation.ID == id && v.Operation.Step == "hook PREINSTALL"
	}, 10*time.Second, 10*time.Millisecond)
	close(release)

	op := ended(t, events, agent.OpInstall, id)
	require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
	require.Equal(t, "", op.From)
	require.Equal(t, "1.0.0", op.To)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))

	v := view(t, a)
	require.Equal(t, "1.0.0", *v.Installed)
	require.Nil(t, v.Operation)

	ops, err := a.Operations(ctx, "web", 10)
	require.NoError(t, err)
	require.Len(t, ops, 1)
	require.Equal(t, op, ops[0])
	got, err := a.Operation(ctx, id)
	require.NoError(t, err)
	require.Equal(t, op, got)
}

func TestErrors(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	a := e.agent(t, e.engine(t))
	ctx := context.Background()
	_, err := a.Install(ctx, "nope", "")
	require.ErrorIs(t, err, update.ErrUnknownModule)
	_, err = a.Rollback(ctx, "nope")
	require.ErrorIs(t, err, update.ErrUnknownModule)
	_, err = a.Operations(ctx, "nope", 0)
	require.ErrorIs(t, err, update.ErrUnknownModule)
	_, err = a.Rollback(ctx, "web")
	require.ErrorIs(t, err, update.ErrNoBackup)
	_, err = a.Operation(ctx, "20260101T000000-00000000")
	require.ErrorIs(t, err, agent.ErrNoOperation)
}

func TestRollback(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	eng := e.engine(t)
	ctx := context.Background()
	_, err := eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	e.repo.Publish("web", "2.0.0", platform, v2)
	a := e.agent(t, eng)
	events := a.Subscribe(t.Context())
	id, err := a.Install(ctx, "web", "2.0.0")
	require.NoError(t, err)
	require.Equal(t, agent.ResultSucceeded, ended(t, events, agent.OpInstall, id).Result)
	require.Equal(t, []string{"1.0.0"}, view(t, a).Backups)

	id, err = a.Rollback(ctx, "web")
	require.NoError(t, err)
	op := ended(t, events, agent.OpRollback, id)
	require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
	require.Equal(t, "2.0.0", op.From)
	require.Equal(t, "1.0.0", op.To)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))
	ops, err := a.Operations(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, ops, 2)
	require.Equal(t, agent.OpRollback, ops[0].Kind, "newest first")
}

func TestAutoInstallAlways(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	e.cfg.AutoInstall = &agent.Window{} // "always"
	a := e.agent(t, e.engine(t))
	events := a.Subscribe(t.Context())
	run(t, a)
	op := ended(t, events, agent.OpInstall, "")
	require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
	require.Equal(t, "1.0.0", op.To)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))
}

// A version whose unattended install failed is not installed again by the agent on its
// own; a person's Install retries it.
func TestFailedVersionNotRetriedUnattended(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	e.cfg.AutoInstall = &agent.Window{}
	var fail atomic.Bool
	fail.Store(true)
	hook := hooks.Func(func(ctx context.Context, ev hooks.Event) error {
		if ev.Phase == hooks.PostInstall && fail.Load() {
			return errors.New("not ready")
		}
		return nil
	})
	a := e.agent(t, e.engine(t, update.WithHook("web", hook)))
	events := a.Subscribe(t.Context())
	run(t, a)
	op := ended(t, events, agent.OpInstall, "")
	require.Equal(t, agent.ResultFailed, op.Result)
	require.Equal(t, string(update.CodeInstallFailed), op.Code)
	require.Contains(t, op.Error, "not ready")
	v := view(t, a)
	require.Equal(t, "failed", v.Status)
	require.Contains(t, *v.Reason, "not ready")

	// The next check does not install it again.
	ctx := context.Background()
	id, err := a.Check(ctx)
	require.NoError(t, err)
	require.Equal(t, agent.ResultSucceeded, ended(t, events, agent.OpCheck, id).Result)
	ops, err := a.Operations(ctx, "web", 0)
	require.NoError(t, err)
	require.Len(t, ops, 1, "no second automatic install of the failed version")

	// A person may retry it.
	fail.Store(false)
	id, err = a.Install(ctx, "web", "")
	require.NoError(t, err)
	op = ended(t, events, agent.OpInstall, id)
	require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
	require.Equal(t, "up-to-date", view(t, a).Status)
}

// A stop while an install runs interrupts it safely: Run returns nil, the module is
// at its previous version, and the operation says it was interrupted.
func TestStopInterruptsInstall(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	eng0 := e.engine(t)
	_, err := eng0.Install(context.Background(), "web", update.InstallOptions{})
	require.NoError(t, err)
	e.repo.Publish("web", "2.0.0", platform, v2)
	inHook := make(chan struct{})
	hook := hooks.Func(func(ctx context.Context, ev hooks.Event) error {
		if ev.Phase == hooks.PreInstall && ev.ToVersion == "2.0.0" {
			close(inHook)
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	a := e.agent(t, e.engine(t, update.WithHook("web", hook)), agent.WithFirstCheck(time.Hour))
	stop := run(t, a)
	ctx := context.Background()
	events := a.Subscribe(t.Context())
	id, err := a.Install(ctx, "web", "")
	require.NoError(t, err)
wait:
	for {
		select {
		case <-inHook:
			break wait
		case ev := <-events:
			if ev.Operation != nil {
				t.Fatalf("the install ended before PREINSTALL: %+v", *ev.Operation)
			}
		}
	}
	stop()

	op, err := a.Operation(ctx, id)
	require.NoError(t, err)
	require.Equal(t, agent.ResultFailed, op.Result)
	require.Equal(t, agent.CodeInterrupted, op.Code)
	require.Contains(t, op.Error, "interrupted: the agent stopped")
	require.Equal(t, v1, updatetest.ReadTree(t, e.module), "the previous version stays, out of maintenance")
	_, err = a.Install(ctx, "web", "")
	require.ErrorIs(t, err, agent.ErrStopped)
	_, ok := <-a.Subscribe(ctx)
	require.False(t, ok, "a stopped agent's subscription is closed")
}

// Operations survive a restart; one a previous process left running is closed as
// interrupted.
func TestOperationsSurviveRestart(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	eng := e.engine(t)
	a := e.agent(t, eng)
	events := a.Subscribe(t.Context())
	ctx := context.Background()
	id, err := a.Install(ctx, "web", "")
	require.NoError(t, err)
	done := ended(t, events, agent.OpInstall, id)

	// A process that died while an operation ran left its start line only.
	log := filepath.Join(e.cfg.StateDir, "agent", "operations.jsonl")
	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"id":"20260101T000000-deadbeef","module":"web","kind":"install","from":"1.0.0","to":"2.0.0","started":"2026-01-01T00:00:00Z","result":"running","code":"","error":""}` + "\n" + `{"id":"torn",`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	b := e.agent(t, eng)
	got, err := b.Operation(ctx, id)
	require.NoError(t, err)
	require.Equal(t, done.Result, got.Result)
	require.True(t, done.Ended.Equal(got.Ended))
	got, err = b.Operation(ctx, "20260101T000000-deadbeef")
	require.NoError(t, err)
	require.Equal(t, agent.ResultFailed, got.Result)
	require.Equal(t, agent.CodeInterrupted, got.Code)
	require.Equal(t, "interrupted: the agent stopped", got.Error)
	require.False(t, got.Ended.IsZero())
	ops, err := b.Operations(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, ops, 2)
	require.Equal(t, "20260101T000000-deadbeef", ops[0].ID)
}

// TestAfterInstallAfterPartialPath: an automatic install whose upgrade path stopped
// at a failed step still changed the module (a self-updating program now holds the
// step before it), so the after-install rule runs on what is in place, as Run's
// always did; the agent's own loop skipped it when the install returned an error.
func TestAfterInstallAfterPartialPath(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	eng := e.engine(t, update.WithHook("web", hooks.Func(func(ctx context.Context, ev hooks.Event) error {
		if ev.Phase == hooks.PostInstall && ev.ToVersion == "3.0.0" {
			return errors.New("3.0.0 broken")
		}
		return nil
	})))
	_, err := eng.Install(context.Background(), "web", update.InstallOptions{})
	require.NoError(t, err)
	e.repo.Publish("web", "2.0.0", platform, v2)
	e.repo.PublishBuild(publish.Build{Module: "web", Version: "3.0.0", Platform: platform, MinVersion: "2.0.0"}, v3)
	e.cfg.AutoInstall = &agent.Window{}
	var calls []update.InstallResult
	a := e.agent(t, eng, agent.WithFirstCheck(0), agent.WithAfterInstall(func(ctx context.Context, res *update.InstallResult) error {
		calls = append(calls, *res)
		return nil
	}))
	events := a.Subscribe(t.Context())
	run(t, a)
	op := ended(t, events, agent.OpInstall, "")
	require.Equal(t, agent.ResultFailed, op.Result)
	require.Contains(t, op.Error, "3.0.0 broken")
	require.Len(t, calls, 1, "the module changed: the after-install rule runs")
	require.Equal(t, []string{"2.0.0"}, calls[0].Installed)
	require.Equal(t, v2, updatetest.ReadTree(t, e.module))
}

// TestScheduledCheckWithSourceOption: an engine given its source with
// update.WithSource (no "source" in the configuration, no fleet) is checked on
// schedule; only a fleet slave with no source checks nothing.
func TestScheduledCheckWithSourceOption(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	src, err := source.New(e.cfg.Source)
	require.NoError(t, err)
	e.cfg.Source = ""
	a := e.agent(t, e.engine(t, update.WithSource(src)))
	events := a.Subscribe(t.Context())
	run(t, a)
	op := ended(t, events, agent.OpCheck, "")
	require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
}
