package update_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// failAt returns a hook that fails PREINSTALL of the versions in bad, and counts the
// PREINSTALLs it saw.
func failAt(n *atomic.Int32, bad ...string) hooks.Hook {
	return hooks.Func(func(ctx context.Context, ev hooks.Event) error {
		if ev.Phase != hooks.PreInstall {
			return nil
		}
		n.Add(1)
		for _, v := range bad {
			if ev.ToVersion == v {
				return errors.New("broken build " + v)
			}
		}
		return nil
	})
}

func TestUnattendedRefusesFailedVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	e.repo.Publish("web", "1.1.0", platform, v2)
	var attempts atomic.Int32
	var downloads atomic.Int32
	eng := e.engine(t, update.WithHook("web", failAt(&attempts, "1.1.0")))
	eng.AddEventFunc(func(ev update.Event) {
		if ev.Step == update.StepDownload {
			downloads.Add(1)
		}
	})
	unattended := update.InstallOptions{Unattended: true}
	_, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0", Unattended: true})
	require.NoError(t, err)

	_, err = eng.Install(ctx, "web", unattended)
	require.ErrorIs(t, err, update.ErrRolledBack)
	require.Equal(t, int32(2), attempts.Load())
	st, err := eng.ModuleStatus(context.Background(), "web")
	require.NoError(t, err)
	require.Equal(t, "1.1.0", st.FailedVersion)

	// Unattended, 1.1.0 is refused before anything is downloaded, and the status keeps
	// the failure's reason.
	downloads.Store(0)
	_, err = eng.Install(ctx, "web", unattended)
	require.ErrorIs(t, err, update.ErrFailedVersion)
	require.ErrorContains(t, err, "web: 1.1.0")
	require.ErrorContains(t, err, "broken build 1.1.0", "the message says why it failed")
	require.Equal(t, int32(2), attempts.Load(), "not retried")
	require.Zero(t, downloads.Load(), "refused before any download")
	st, _ = eng.ModuleStatus(context.Background(), "web")
	require.Contains(t, st.LastError, "broken build 1.1.0", "the refusal does not hide the failure")
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))

	// Asked for by version, unattended, it is refused too.
	_, err = eng.Install(ctx, "web", update.InstallOptions{Version: "1.1.0", Unattended: true})
	require.ErrorIs(t, err, update.ErrFailedVersion)

	// A newer version is tried.
	e.repo.Publish("web", "1.2.0", platform, v3)
	_, err = eng.Install(ctx, "web", unattended)
	require.NoError(t, err)
	require.Equal(t, int32(3), attempts.Load())
	require.Equal(t, v3, updatetest.ReadTree(t, e.module))
}

func TestUnattendedExplicitInstallRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	var attempts atomic.Int32
	eng := e.engine(t, update.WithHook("web", failAt(&attempts, "1.0.0")))
	_, err := eng.Install(ctx, "web", update.InstallOptions{Unattended: true})
	require.Error(t, err)
	_, err = eng.Install(ctx, "web", update.InstallOptions{Unattended: true})
	require.ErrorIs(t, err, update.ErrFailedVersion)
	require.Equal(t, int32(1), attempts.Load())

	// A person's install may retry it; once it succeeds, the mark is gone.
	eng = e.engine(t, update.WithHook("web", failAt(&attempts)))
	_, err = eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(2), attempts.Load())
	st, _ := eng.ModuleStatus(context.Background(), "web")
	require.Empty(t, st.FailedVersion)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))
}

// TestUnattendedFailedStepOfPath: a failed version that is a step of the upgrade path
// (a newer release needs it first) is not retried unattended either, or every round
// would fail on the same step again.
func TestUnattendedFailedStepOfPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	var attempts atomic.Int32
	eng := e.engine(t, update.WithHook("web", failAt(&attempts, "2.0.0")))
	_, err := eng.Install(ctx, "web", update.InstallOptions{Unattended: true})
	require.NoError(t, err)
	e.repo.Publish("web", "2.0.0", platform, v2)
	e.repo.PublishBuild(publish.Build{Module: "web", Version: "3.0.0", Platform: platform, MinVersion: "2.0.0"}, v3)
	rep, err := eng.Check(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"2.0.0", "3.0.0"}, rep.Modules[0].Path)

	_, err = eng.Install(ctx, "web", update.InstallOptions{Unattended: true})
	require.ErrorIs(t, err, update.ErrRolledBack)
	require.Equal(t, int32(2), attempts.Load())
	_, err = eng.Install(ctx, "web", update.InstallOptions{Unattended: true})
	require.ErrorIs(t, err, update.ErrFailedVersion)
	require.ErrorContains(t, err, "2.0.0")
	require.Equal(t, int32(2), attempts.Load())
}
