//go:build unix

package update_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/maintenance"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// plantVictim makes a folder outside the module's places holding a file that no
// install may touch, and returns the folder.
func plantVictim(t *testing.T) string {
	t.Helper()
	victim := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(victim, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(victim, "precious.txt"), []byte("precious"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(victim, "sub", "x.txt"), []byte("x"), 0o644))
	return victim
}

func requireVictimIntact(t *testing.T, victim string) {
	t.Helper()
	require.Equal(t, map[string]string{"precious.txt": "precious", "sub/x.txt": "x"}, updatetest.ReadTree(t, victim),
		"a folder outside the module's places was changed")
	fi, err := os.Stat(filepath.Join(victim, "precious.txt"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "a file outside the module's places was chmodded")
}

// TestFirstInstallNeverDestroysUnmanagedFolder: a server that ran the application
// before upkeep managed it has a module folder upkeep knows nothing of. A first
// install refuses and changes nothing; with KeepUnmanaged it keeps the folder as a
// backup named as such; with Installed set it adopts it as that version.
func TestFirstInstallNeverDestroysUnmanagedFolder(t *testing.T) {
	t.Parallel()
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, strategy, false)
			e.repo.Publish("web", "1.0.0", platform, v1)
			require.NoError(t, os.MkdirAll(e.module, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(e.module, "precious.txt"), []byte("customer data"), 0o644))
			eng := e.engine(t)

			_, err := eng.Install(ctx, "web", update.InstallOptions{})
			require.ErrorIs(t, err, update.ErrUnmanaged)
			require.Equal(t, update.CodeUnmanaged, update.CodeOf(err))
			require.Contains(t, err.Error(), e.module, "the error names the folder")
			require.Contains(t, err.Error(), "installed", "the error says how to adopt it")
			require.Equal(t, map[string]string{"precious.txt": "customer data"}, updatetest.ReadTree(t, e.module))
			_, err = os.Lstat(update.WorkDir(&e.cfg.Modules[0]))
			require.True(t, os.IsNotExist(err), "nothing created beside the module")
			st, err := eng.ModuleStatus(ctx, "web")
			require.NoError(t, err)
			require.Nil(t, st.Installed)
			require.Equal(t, string(update.CodeUnmanaged), string(st.Code))

			res, err := eng.Install(ctx, "web", update.InstallOptions{KeepUnmanaged: true})
			require.NoError(t, err)
			require.Equal(t, []string{"1.0.0"}, res.Installed)
			require.Equal(t, v1, updatetest.ReadTree(t, e.module))
			st, err = eng.ModuleStatus(ctx, "web")
			require.NoError(t, err)
			require.Contains(t, st.LastResult, "unmanaged-", "the status says where the old folder went")
			kept := findUnmanagedBackup(t, e, strategy)
			require.Equal(t, map[string]string{"precious.txt": "customer data"}, kept)

			// Later installs and pruning never remove the unmanaged backup.
			e.repo.Publish("web", "1.1.0", platform, v2)
			e.repo.Publish("web", "1.2.0", platform, v3)
			_, err = eng.Install(ctx, "web", update.InstallOptions{Version: "1.1.0"})
			require.NoError(t, err)
			_, err = eng.Install(ctx, "web", update.InstallOptions{Version: "1.2.0"})
			require.NoError(t, err)
			_, err = eng.Install(ctx, "web", update.InstallOptions{})
			require.ErrorIs(t, err, update.ErrNoUpdate)
			require.Equal(t, map[string]string{"precious.txt": "customer data"}, findUnmanagedBackup(t, e, strategy))
		})
	}
}

// findUnmanagedBackup returns the tree kept as an unmanaged backup.
func findUnmanagedBackup(t *testing.T, e *env, strategy update.Strategy) map[string]string {
	t.Helper()
	if strategy == update.Swap {
		found, _ := filepath.Glob(filepath.Join(update.WorkDir(&e.cfg.Modules[0]), "backup", "unmanaged-*"))
		require.Len(t, found, 1)
		return updatetest.ReadTree(t, found[0])
	}
	found, _ := filepath.Glob(filepath.Join(e.cfg.StateDir, "modules", "web", "backups", "unmanaged-*.tar.zst"))
	require.Len(t, found, 1)
	out := t.TempDir() + "/restored"
	require.NoError(t, update.RestoreArchive(found[0], out))
	return updatetest.ReadTree(t, out)
}

// TestAdoptExistingFolder: Installed set in the configuration makes the folder that
// was there the installed version, kept as its backup at the first upgrade.
func TestAdoptExistingFolder(t *testing.T) {
	t.Parallel()
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, strategy, false)
			e.repo.Publish("web", "1.0.0", platform, v1)
			require.NoError(t, os.MkdirAll(e.module, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(e.module, "index.html"), []byte("0.9"), 0o644))
			e.cfg.Modules[0].Installed = "0.9.0"
			eng := e.engine(t)
			// A check before the install records a status; adoption must survive it.
			_, err := eng.Check(ctx)
			require.NoError(t, err)
			res, err := eng.Install(ctx, "web", update.InstallOptions{})
			require.NoError(t, err)
			require.Equal(t, "0.9.0", res.From)
			require.Equal(t, v1, updatetest.ReadTree(t, e.module))
			st, err := eng.ModuleStatus(ctx, "web")
			require.NoError(t, err)
			require.Equal(t, []string{"0.9.0"}, st.Backups)
			_, err = eng.Rollback(ctx, "web", update.RollbackOptions{})
			require.NoError(t, err)
			require.Equal(t, map[string]string{"index.html": "0.9"}, updatetest.ReadTree(t, e.module))
		})
	}
}

// TestFirstInstallIntoEmptyFolder: an empty folder (made by an administrator who set
// its rights) is no application: the first install goes ahead.
func TestFirstInstallIntoEmptyFolder(t *testing.T) {
	t.Parallel()
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, strategy, false)
			e.repo.Publish("web", "1.0.0", platform, v1)
			require.NoError(t, os.MkdirAll(e.module, 0o755))
			_, err := e.engine(t).Install(context.Background(), "web", update.InstallOptions{})
			require.NoError(t, err)
			require.Equal(t, v1, updatetest.ReadTree(t, e.module))
			assertClean(t, e)
			if strategy == update.Swap {
				kept, _ := filepath.Glob(filepath.Join(update.WorkDir(&e.cfg.Modules[0]), "backup", "unmanaged-*"))
				require.Len(t, kept, 1, "the folder that was there is kept, not removed")
			}
		})
	}
}

// TestWorkFolderPlantedAsLink: the account the application runs as can write beside
// the module folder; a link planted under the work folder's name must not make
// upkeep (often root) delete what it points to.
func TestWorkFolderPlantedAsLink(t *testing.T) {
	t.Parallel()
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, strategy, false)
			e.repo.Publish("web", "1.0.0", platform, v1)
			victim := plantVictim(t)
			require.NoError(t, os.Symlink(victim, update.WorkDir(&e.cfg.Modules[0])))
			eng := e.engine(t)
			_, err := eng.Install(ctx, "web", update.InstallOptions{})
			require.Error(t, err)
			require.Contains(t, err.Error(), ".web.upkeep")
			_, err = eng.Recover(ctx)
			require.NoError(t, err)
			requireVictimIntact(t, victim)
		})
	}
}

// TestWorkFolderWritableByOthers: a work folder others can write is refused.
func TestWorkFolderWritableByOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	wd := update.WorkDir(&e.cfg.Modules[0])
	require.NoError(t, os.Mkdir(wd, 0o700))
	require.NoError(t, os.Chmod(wd, 0o777))
	_, err := e.engine(t).Install(context.Background(), "web", update.InstallOptions{})
	require.ErrorIs(t, err, update.ErrUnsafeFolder)
	require.Equal(t, update.CodeUnsafeFolder, update.CodeOf(err))
	require.Contains(t, err.Error(), wd)
}

// TestStateDirWritableByOthers: a state dir others can write could hold a journal
// naming anything; operations refuse it.
func TestStateDirWritableByOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	require.NoError(t, os.MkdirAll(e.cfg.StateDir, 0o700))
	require.NoError(t, os.Chmod(e.cfg.StateDir, 0o777))
	eng := e.engine(t)
	_, err := eng.Install(context.Background(), "web", update.InstallOptions{})
	require.ErrorIs(t, err, update.ErrUnsafeFolder)
	_, err = eng.Recover(context.Background())
	require.ErrorIs(t, err, update.ErrUnsafeFolder)
}

// TestJournalNamesNoPath: a journal naming folders elsewhere (as one written by
// another account, or by an older version, could) never makes Recover delete them.
func TestJournalNamesNoPath(t *testing.T) {
	t.Parallel()
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, strategy, false)
			e.repo.Publish("web", "1.0.0", platform, v1)
			eng := e.engine(t)
			_, err := eng.Install(ctx, "web", update.InstallOptions{})
			require.NoError(t, err)
			victim := plantVictim(t)
			j := map[string]any{"op": "install", "module": "web", "strategy": strategy, "from": "1.0.0", "to": "2.0.0",
				"step": "staged", "stage": victim, "old": victim, "undoing": true, "started": time.Now()}
			b, _ := json.Marshal(j)
			require.NoError(t, os.WriteFile(filepath.Join(e.cfg.StateDir, "modules", "web", "journal.json"), b, 0o644))
			_, err = eng.Recover(ctx)
			require.NoError(t, err)
			requireVictimIntact(t, victim)
			require.Equal(t, v1, updatetest.ReadTree(t, e.module))

			// A backup name that leaves the module's places is refused outright.
			j["keep"] = "../../../" + filepath.Base(victim)
			b, _ = json.Marshal(j)
			require.NoError(t, os.WriteFile(filepath.Join(e.cfg.StateDir, "modules", "web", "journal.json"), b, 0o644))
			_, err = eng.Recover(ctx)
			require.ErrorContains(t, err, "keep")
			requireVictimIntact(t, victim)
		})
	}
}

// TestRecoverAfterRemount: a crash right after the swap, then a remount, which
// changes the device number of every folder. Recovery must still tell the new tree
// from the old one: the journal identifies them by inode. The journal here is the
// one an earlier version wrote (device:inode, with the device before the remount).
func TestRecoverAfterRemount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	e.repo.Publish("web", "2.0.0", platform, v2)
	eng := e.engine(t)
	_, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"})
	require.NoError(t, err)

	// Stop the install right after the exchange, with the journal at "swap".
	crash := errCrash{}
	var swapped atomic.Bool
	update.SetCrashPoint(eng, func(kind, path string) {
		if kind == "exchange" {
			swapped.Store(true)
			return
		}
		if swapped.Load() {
			panic(crash)
		}
	})
	func() {
		defer func() { require.Equal(t, crash, recover()) }()
		eng.Install(ctx, "web", update.InstallOptions{})
	}()
	update.SetCrashPoint(eng, nil)
	live := updatetest.ReadTree(t, e.module)
	require.Contains(t, live, "app_offline.htm", "in maintenance")
	delete(live, "app_offline.htm")
	require.Equal(t, v2, live, "the exchange happened")

	jp := filepath.Join(e.cfg.StateDir, "modules", "web", "journal.json")
	var j map[string]any
	b, err := os.ReadFile(jp)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &j))
	require.Equal(t, "swap", j["step"])
	for _, k := range []string{"new_id", "old_id"} {
		id, _ := j[k].(string)
		require.NotEmpty(t, id, k)
		j[k] = "64769:" + id[strings.LastIndex(id, ":")+1:] // the device before the remount
	}
	b, _ = json.Marshal(j)
	require.NoError(t, os.WriteFile(jp, b, 0o644))

	res, err := eng.Recover(ctx)
	require.NoError(t, err)
	require.Equal(t, update.RecoverRestored, res[0].Action)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module), "the previous version is back")
	st, err := eng.ModuleStatus(ctx, "web")
	require.NoError(t, err)
	require.Equal(t, "1.0.0", *st.Installed)
	// The new tree is dropped, the previous one live: installing again works.
	_, err = eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, v2, updatetest.ReadTree(t, e.module))
	require.Equal(t, []string{"1.0.0"}, mustStatus(t, eng).Backups)
}

type errCrash struct{}

func mustStatus(t *testing.T, eng *update.Engine) *update.ModuleStatus {
	t.Helper()
	st, err := eng.ModuleStatus(context.Background(), "web")
	require.NoError(t, err)
	return st
}

// TestRacingLinkInLiveFolder: while inplace installs and rollbacks run, the
// application's account keeps replacing a folder of the live tree by a link to a
// folder elsewhere. Files upkeep removes or moves must stay inside the module.
func TestRacingLinkInLiveFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("races an adversary for a while")
	}
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.InPlace, false)
	withSub := map[string]string{"index.html": "a", "sub/x.txt": "mine", "sub/y.txt": "y"}
	withoutSub := map[string]string{"index.html": "b", "other/z.txt": "z"}
	e.repo.Publish("web", "1.0.0", platform, withSub)
	e.repo.Publish("web", "2.0.0", platform, withoutSub)
	victim := plantVictim(t)
	eng := e.engine(t)
	_, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"})
	require.NoError(t, err)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sub := filepath.Join(e.module, "sub")
		for {
			select {
			case <-stop:
				return
			default:
			}
			tmp := sub + ".adversary"
			if os.Rename(sub, tmp) == nil {
				os.Symlink(victim+"/sub", sub)
				os.Symlink(victim, filepath.Join(e.module, "other"))
				time.Sleep(50 * time.Microsecond)
				os.Remove(sub)
				os.Remove(filepath.Join(e.module, "other"))
				os.Rename(tmp, sub)
			}
		}
	}()
	for i := 0; i < 15; i++ {
		eng.Install(ctx, "web", update.InstallOptions{Version: "2.0.0"})
		eng.Rollback(ctx, "web", update.RollbackOptions{})
	}
	close(stop)
	wg.Wait()
	eng.Recover(ctx)
	requireVictimIntact(t, victim)
}

// TestPlantedExchangeFolderSurvives: a folder planted beside the module under the
// name of upkeep's exchange is not upkeep's: installs and recovery leave it alone.
func TestPlantedExchangeFolderSurvives(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	e.repo.Publish("web", "2.0.0", platform, v2)
	eng := e.engine(t)
	planted := e.module + ".xchg"
	require.NoError(t, os.MkdirAll(filepath.Join(planted, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(planted, "precious.txt"), []byte("precious"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(planted, "sub", "x.txt"), []byte("x"), 0o644))
	_, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"})
	require.NoError(t, err)
	requireVictimIntact(t, planted)
	_, err = eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	_, err = eng.Recover(ctx)
	require.NoError(t, err)
	requireVictimIntact(t, planted)
	require.Equal(t, v2, updatetest.ReadTree(t, e.module))
}

// TestFlagThroughPlantedLink: the module folder replaced by a link to a folder that
// holds a file carrying upkeep's flag marker: recovery removes no flag there.
func TestFlagThroughPlantedLink(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	eng := e.engine(t)
	_, err := eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	victim := t.TempDir()
	flag := maintenance.Flag{Name: "app_offline.htm"}
	require.NoError(t, flag.Place(victim, "not upkeep's module"))
	require.NoError(t, os.Rename(e.module, e.module+".moved"))
	require.NoError(t, os.Symlink(victim, e.module))
	_, err = eng.Recover(ctx)
	require.NoError(t, err)
	present, _, err := flag.Present(victim)
	require.NoError(t, err)
	require.True(t, present, "the flag in the folder the link points to is still there")
}

// TestFolderAppearingDuringFirstInstall: another account creates the module folder,
// with files, while a first inplace install downloads and stages; the install fails
// instead of writing into it, and undoing it removes nothing of that folder.
func TestFolderAppearingDuringFirstInstall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, update.InPlace, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	appear := hooks.On(hooks.StartUpdate, func(ctx context.Context, ev hooks.Event) error {
		require.NoError(t, os.MkdirAll(e.module, 0o755))
		return os.WriteFile(filepath.Join(e.module, "theirs.txt"), []byte("theirs"), 0o644)
	})
	_, err := e.engine(t, update.WithHook("web", appear)).Install(context.Background(), "web", update.InstallOptions{})
	require.Error(t, err)
	require.Equal(t, map[string]string{"theirs.txt": "theirs"}, updatetest.ReadTree(t, e.module))
}
