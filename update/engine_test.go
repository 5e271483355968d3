package update_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/source"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

var platform = runtime.GOOS + "/" + runtime.GOARCH

var (
	v1 = map[string]string{"index.html": "v1", "bin/run*": "#!/bin/sh\necho 1\n", "conf/app.conf": "a=1", "old-only.txt": "gone in v2", "empty/": ""}
	v2 = map[string]string{"index.html": "v2", "bin/run*": "#!/bin/sh\necho 2\n", "conf/app.conf": "a=2", "new-only/x.txt": "new", "@current": "index.html"}
	v3 = map[string]string{"index.html": "v3"}
)

type env struct {
	repo   *updatetest.Repo
	cfg    update.Config
	module string // the module's live folder
}

func newEnv(t *testing.T, strategy update.Strategy, served bool) *env {
	t.Helper()
	repo := updatetest.NewRepo(t)
	dir := t.TempDir()
	src := repo.Dir
	if served {
		src = repo.Serve()
	}
	e := &env{repo: repo, module: filepath.Join(dir, "srv", "web")}
	os.MkdirAll(filepath.Dir(e.module), 0o755)
	e.cfg = update.Config{
		Source:   src,
		Keys:     []string{repo.PubFile},
		StateDir: filepath.Join(dir, "state"),
		Modules: []update.ModuleConfig{{Name: "web", Path: e.module, Strategy: strategy,
			MaintenanceFile: "app_offline.htm"}},
	}
	return e
}

func (e *env) engine(t *testing.T, opts ...update.Option) *update.Engine {
	t.Helper()
	eng, err := update.New(e.cfg, append([]update.Option{updatetest.WithoutSync(), updatetest.WithBusyTimeout(200 * time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	return eng
}

var strategies = []update.Strategy{update.Swap, update.InPlace}

func TestInstallUpdateRollback(t *testing.T) {
	t.Parallel()
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, strategy, true)
			e.repo.Publish("web", "1.0.0", platform, v1)
			eng := e.engine(t)

			rep, err := eng.Check(ctx)
			require.NoError(t, err)
			require.Equal(t, "update", string(rep.Modules[0].Status))
			require.Equal(t, "1.0.0", rep.Modules[0].Version)

			res, err := eng.Install(ctx, "web", update.InstallOptions{})
			require.NoError(t, err)
			require.Equal(t, []string{"1.0.0"}, res.Installed)
			require.Equal(t, v1, updatetest.ReadTree(t, e.module))

			_, err = eng.Install(ctx, "web", update.InstallOptions{})
			require.ErrorIs(t, err, update.ErrNoUpdate)

			e.repo.Publish("web", "1.1.0", platform, v2)
			res, err = eng.Install(ctx, "web", update.InstallOptions{})
			require.NoError(t, err)
			require.Equal(t, "1.0.0", res.From)
			require.Equal(t, v2, updatetest.ReadTree(t, e.module), "live tree is exactly the published build")

			st, err := eng.ModuleStatus(context.Background(), "web")
			require.NoError(t, err)
			require.Equal(t, "1.1.0", *st.Installed)
			require.False(t, st.Maintenance)
			require.Equal(t, []string{"1.0.0"}, st.Backups)

			res, err = eng.Rollback(ctx, "web", update.RollbackOptions{})
			require.NoError(t, err)
			require.Equal(t, []string{"1.0.0"}, res.Installed)
			require.Equal(t, v1, updatetest.ReadTree(t, e.module))
			st, _ = eng.ModuleStatus(context.Background(), "web")
			require.Equal(t, "1.0.0", *st.Installed)

			_, err = eng.Rollback(ctx, "web", update.RollbackOptions{})
			require.ErrorIs(t, err, update.ErrNoBackup)

			// Forward again, explicitly: a version may be reinstalled on request.
			_, err = eng.Install(ctx, "web", update.InstallOptions{Version: "1.1.0"})
			require.NoError(t, err)
			require.Equal(t, v2, updatetest.ReadTree(t, e.module))
			_, err = eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"})
			require.ErrorIs(t, err, update.ErrDowngrade)
			assertClean(t, e)
		})
	}
}

// assertClean checks that nothing temporary is left beside the module or in the state.
func assertClean(t *testing.T, e *env) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Dir(e.module))
	for _, d := range ents {
		require.Contains(t, []string{"web", ".web.upkeep"}, d.Name(), "left beside the module")
	}
	work := filepath.Join(filepath.Dir(e.module), ".web.upkeep")
	ents, _ = os.ReadDir(work)
	for _, d := range ents {
		require.Equal(t, "backup", d.Name(), "left in the work folder")
	}
	filepath.WalkDir(e.cfg.StateDir, func(p string, d os.DirEntry, err error) error {
		require.NotContains(t, d.Name(), ".tmp-", "temporary file left: %s", p)
		require.NotEqual(t, "journal.json", d.Name(), "journal left")
		return nil
	})
	_, err := os.Stat(filepath.Join(e.module, "app_offline.htm"))
	require.True(t, os.IsNotExist(err), "maintenance flag left behind")
}

func TestHooksOrderEnvAndFlag(t *testing.T) {
	t.Parallel()
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, strategy, false)
			e.repo.Publish("web", "1.0.0", platform, v1)
			e.repo.Publish("web", "2.0.0", platform, v2)
			var mu sync.Mutex
			var got []string
			rec := hooks.Func(func(ctx context.Context, ev hooks.Event) error {
				mu.Lock()
				defer mu.Unlock()
				_, err := os.Stat(filepath.Join(e.module, "app_offline.htm"))
				flag := "-"
				if err == nil {
					flag = "flag"
				}
				got = append(got, string(ev.Phase)+":"+ev.FromVersion+">"+ev.ToVersion+":"+flag)
				require.True(t, strings.HasSuffix(ev.ModulePath, string(filepath.Separator)))
				if ev.FromVersion == "" {
					require.Empty(t, ev.BackupPath, "no backup on a first install")
				} else {
					require.True(t, strings.HasSuffix(ev.BackupPath, string(filepath.Separator)))
				}
				return nil
			})
			eng := e.engine(t, update.WithHook("web", rec))
			_, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"})
			require.NoError(t, err)
			got = nil
			_, err = eng.Install(ctx, "web", update.InstallOptions{})
			require.NoError(t, err)
			require.Equal(t, []string{
				"STARTUPDATE:1.0.0>2.0.0:-",
				"PREBACKUP:1.0.0>2.0.0:flag",
				"POSTBACKUP:1.0.0>2.0.0:flag",
				"PREINSTALL:1.0.0>2.0.0:flag",
				"POSTINSTALL:1.0.0>2.0.0:flag",
				"ENDUPDATE:1.0.0>2.0.0:-",
			}, got)
			require.Equal(t, v2, updatetest.ReadTree(t, e.module))
		})
	}
}

func TestFailureAtEachPhaseRollsBack(t *testing.T) {
	t.Parallel()
	for _, strategy := range strategies {
		for _, phase := range []hooks.Phase{hooks.StartUpdate, hooks.PreBackup, hooks.PostBackup, hooks.PreInstall, hooks.PostInstall} {
			t.Run(string(strategy)+"/"+string(phase), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				e := newEnv(t, strategy, false)
				e.repo.Publish("web", "1.0.0", platform, v1)
				e.repo.Publish("web", "2.0.0", platform, v2)
				var rolledBack bool
				fail := hooks.Func(func(ctx context.Context, ev hooks.Event) error {
					if ev.ToVersion == "2.0.0" && ev.Phase == phase {
						return errors.New("injected failure")
					}
					if ev.Phase == hooks.Rollback {
						rolledBack = true
					}
					return nil
				})
				eng := e.engine(t, update.WithHook("web", fail))
				_, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"})
				require.NoError(t, err)
				_, ierr := eng.Install(ctx, "web", update.InstallOptions{})
				require.Error(t, ierr)
				require.Contains(t, ierr.Error(), string(phase))
				require.Equal(t, v1, updatetest.ReadTree(t, e.module), "old version exactly")
				st, err := eng.ModuleStatus(context.Background(), "web")
				require.NoError(t, err)
				require.Equal(t, "1.0.0", *st.Installed)
				require.Contains(t, st.LastError, "injected failure")
				require.False(t, st.Maintenance)
				if phase != hooks.StartUpdate {
					require.ErrorIs(t, ierr, update.ErrRolledBack)
					require.True(t, rolledBack, "ROLLBACK hook ran")
					require.Equal(t, "2.0.0", st.FailedVersion)
				}
				assertClean(t, e)
			})
		}
	}
}

func TestCheckRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, e *env) []update.Option
		code  update.Code
	}{
		{"tampered manifest", func(t *testing.T, e *env) []update.Option {
			p := filepath.Join(e.repo.Dir, "manifest.json")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), "1.0.0", "9.0.0", 1)), 0o644)
			return nil
		}, update.CodeBadSignature},
		{"missing signature", func(t *testing.T, e *env) []update.Option {
			os.Remove(filepath.Join(e.repo.Dir, "manifest.json.minisig"))
			return nil
		}, update.CodeBadSignature},
		{"expired", func(t *testing.T, e *env) []update.Option {
			return []update.Option{updatetest.WithClock(func() time.Time { return time.Now().Add(31 * 24 * time.Hour) })}
		}, update.CodeExpired},
		{"not found", func(t *testing.T, e *env) []update.Option {
			os.Remove(filepath.Join(e.repo.Dir, "manifest.json"))
			return nil
		}, update.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, update.Swap, true)
			e.repo.Publish("web", "1.0.0", platform, v1)
			eng := e.engine(t, tt.setup(t, e)...)
			rep, err := eng.Check(ctx)
			require.Error(t, err)
			require.Equal(t, tt.code, update.CodeOf(err), "%v", err)
			require.Len(t, rep.Modules, 1)
			require.Equal(t, "error", string(rep.Modules[0].Status))
			require.Equal(t, string(tt.code), string(rep.Modules[0].Code))
			_, err = eng.Install(ctx, "web", update.InstallOptions{})
			require.Error(t, err)
			require.Nil(t, updatetest.ReadTree(t, e.module), "nothing installed")
		})
	}
}

func TestReplayedManifestRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	old := map[string][]byte{}
	for _, n := range []string{"manifest.json", "manifest.json.minisig"} {
		old[n], _ = os.ReadFile(filepath.Join(e.repo.Dir, n))
	}
	e.repo.Publish("web", "1.1.0", platform, v2)
	eng := e.engine(t)
	_, err := eng.Check(ctx)
	require.NoError(t, err)
	for n, b := range old {
		require.NoError(t, os.WriteFile(filepath.Join(e.repo.Dir, n), b, 0o644))
	}
	_, err = eng.Check(ctx)
	require.Equal(t, update.CodeReplay, update.CodeOf(err), "%v", err)
}

func TestBadPackRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, true)
	e.repo.Publish("web", "1.0.0", platform, v1)
	packs, _ := filepath.Glob(filepath.Join(e.repo.Dir, "*.zip"))
	require.Len(t, packs, 1)
	b, _ := os.ReadFile(packs[0])
	b[len(b)/2] ^= 0xff
	require.NoError(t, os.WriteFile(packs[0], b, 0o644))
	eng := e.engine(t)
	_, err := eng.Install(ctx, "web", update.InstallOptions{})
	require.Error(t, err)
	require.Equal(t, update.CodeBadPack, update.CodeOf(err), "%v", err)
	require.Nil(t, updatetest.ReadTree(t, e.module))
	downloads, _ := filepath.Glob(filepath.Join(e.cfg.StateDir, "modules", "web", "downloads", "*"))
	require.Empty(t, downloads, "nothing half-downloaded that could be mistaken for good")
	st, _ := eng.ModuleStatus(context.Background(), "web")
	require.Equal(t, "bad_pack", string(st.Code))
}

func TestLockBusy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	started, release := make(chan struct{}), make(chan struct{})
	block := hooks.Func(func(ctx context.Context, ev hooks.Event) error {
		if ev.Phase == hooks.PreInstall {
			close(started)
			<-release
		}
		return nil
	})
	eng := e.engine(t, update.WithHook("web", block))
	done := make(chan error)
	go func() { _, err := eng.Install(ctx, "web", update.InstallOptions{}); done <- err }()
	<-started
	_, err := eng.Install(ctx, "web", update.InstallOptions{})
	require.ErrorIs(t, err, update.ErrBusy)
	other := e.engine(t)
	_, err = other.Rollback(ctx, "web", update.RollbackOptions{})
	require.ErrorIs(t, err, update.ErrBusy)
	close(release)
	require.NoError(t, <-done)
}

func TestCancelLeavesOldVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	e.repo.Publish("web", "2.0.0", platform, v2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng := e.engine(t, update.WithHook("web", hooks.Func(func(ctx context.Context, ev hooks.Event) error {
		if ev.ToVersion == "2.0.0" && ev.Phase == hooks.PreInstall {
			cancel()
			return ctx.Err()
		}
		return nil
	})))
	_, err := eng.Install(context.Background(), "web", update.InstallOptions{Version: "1.0.0"})
	require.NoError(t, err)
	_, err = eng.Install(ctx, "web", update.InstallOptions{})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))
	assertClean(t, e)
}

func TestOfflineInstall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	e.cfg.Source = t.TempDir() // no repository reachable: offline
	packs, _ := filepath.Glob(filepath.Join(e.repo.Dir, "*.zip"))
	eng := e.engine(t)
	res, err := eng.Install(ctx, "web", update.InstallOptions{PackFile: packs[0]})
	require.NoError(t, err)
	require.Equal(t, []string{"1.0.0"}, res.Installed)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))
}

func TestAdoptExistingTree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.InPlace, false)
	updatetest.WriteTree(t, e.module, map[string]string{"legacy.txt": "before upkeep"})
	e.cfg.Modules[0].Installed = "0.9.0"
	e.repo.Publish("web", "1.0.0", platform, v1)
	eng := e.engine(t)
	st, err := eng.ModuleStatus(context.Background(), "web")
	require.NoError(t, err)
	require.Equal(t, "0.9.0", *st.Installed)
	_, err = eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))
	_, err = eng.Rollback(ctx, "web", update.RollbackOptions{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"legacy.txt": "before upkeep"}, updatetest.ReadTree(t, e.module))
}

func TestRollbackWithReasonAndTarget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.cfg.Retention = 3
	e.repo.Publish("web", "1.0.0", platform, v1)
	e.repo.Publish("web", "2.0.0", platform, v2)
	e.repo.Publish("web", "3.0.0", platform, v3)
	eng := e.engine(t)
	for _, v := range []string{"1.0.0", "2.0.0", "3.0.0"} {
		_, err := eng.Install(ctx, "web", update.InstallOptions{Version: v})
		require.NoError(t, err)
	}
	_, err := eng.Rollback(ctx, "web", update.RollbackOptions{To: "0.5.0"})
	require.ErrorIs(t, err, update.ErrNoBackup)
	res, err := eng.Rollback(ctx, "web", update.RollbackOptions{To: "1.0.0", Reason: errors.New("3.0.0 did not become ready")})
	require.NoError(t, err)
	require.Equal(t, []string{"1.0.0"}, res.Installed)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))
	st, _ := eng.ModuleStatus(context.Background(), "web")
	require.Equal(t, "3.0.0", st.FailedVersion)
	require.Contains(t, st.LastError, "did not become ready")
	require.Equal(t, "install_failed", string(st.Code))
	// An unattended install does not try the failed version again.
	_, err = eng.Install(ctx, "web", update.InstallOptions{Unattended: true})
	require.ErrorIs(t, err, update.ErrFailedVersion)
	st, _ = eng.ModuleStatus(context.Background(), "web")
	require.Equal(t, "1.0.0", *st.Installed)
}

func TestOversizedFilesRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	sig := filepath.Join(e.repo.Dir, "manifest.json.minisig")
	require.NoError(t, os.WriteFile(sig, []byte(strings.Repeat("x", signature.MaxSignatureFileSize+1)), 0o644))
	_, err := e.engine(t).Check(ctx)
	require.Equal(t, update.CodeBadSignature, update.CodeOf(err), "%v", err)

	require.NoError(t, os.WriteFile(filepath.Join(e.repo.Dir, "manifest.json"), []byte(strings.Repeat(" ", 8<<20+1)), 0o644))
	_, err = e.engine(t).Check(ctx)
	require.Equal(t, update.CodeInvalidManifest, update.CodeOf(err), "%v", err)
}

// TestNewWithoutKeyFilesOrSource: an embedder passes the keyring (built from embedded
// bytes) and the source in code; Config needs no placeholder for either.
func TestNewWithoutKeyFilesOrSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	pub, err := os.ReadFile(e.repo.PubFile)
	require.NoError(t, err)
	kr, err := signature.ParseKeyring(pub)
	require.NoError(t, err)
	src, err := source.New(e.cfg.Source)
	require.NoError(t, err)
	cfg := e.cfg
	cfg.Keys, cfg.Source = nil, ""
	_, err = update.New(cfg)
	require.ErrorIs(t, err, update.ErrConfig, "without options, both are needed")
	eng, err := update.New(cfg, update.WithKeyring(kr), update.WithSource(src), updatetest.WithoutSync())
	require.NoError(t, err)
	_, err = eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))
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

// TestHookEventStageAndOperation: hooks see the staged tree (and may read the new
// files there up to PREINSTALL) and whether they run for an install or a rollback.
func TestHookEventStageAndOperation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	e.repo.Publish("web", "2.0.0", platform, v2)
	var seen []string
	rec := hooks.On(hooks.PreInstall, func(ctx context.Context, ev hooks.Event) error {
		b, err := os.ReadFile(filepath.Join(ev.StagePath, "index.html"))
		require.NoError(t, err)
		seen = append(seen, string(ev.Operation)+":"+string(b))
		return nil
	})
	eng := e.engine(t, update.WithHook("web", rec))
	_, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"})
	require.NoError(t, err)
	_, err = eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	_, err = eng.Rollback(ctx, "web", update.RollbackOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"install:v1", "install:v2", "rollback:v1"}, seen)
}
