package update_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// fileApplier applies a pack by appending the names of its scripts to a file, and
// fails the version named in fail after appending.
type fileApplier struct {
	log, fail string
}

func (a *fileApplier) Apply(ctx context.Context, stage fs.FS, from, to string) error {
	names, err := fs.Glob(stage, "upkeep/db/*.sql")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(a.log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, n := range names {
		f.WriteString(to + " " + n + "\n")
	}
	if to == a.fail {
		return errors.New("script 0002 failed")
	}
	return nil
}

// TestAppliedModule: a database module goes through the same steps as a module of
// files, its Applier doing step 8: the phases run in order, a failed Apply ends like
// any failed install (ROLLBACK, maintenance off, the version marked failed, an error
// wrapping ErrRolledBack) and keeps the tried pack for a person; a rollback is
// refused, and an engine without an Applier refuses the install.
func TestAppliedModule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := updatetest.NewRepo(t)
	dir := t.TempDir()
	repo.Publish("db", "1.0.0", platform, map[string]string{"upkeep/db/0001_a.sql": "create table a(x int);"})
	repo.Publish("db", "2.0.0", platform, map[string]string{"upkeep/db/0001_a.sql": "create table a(x int);", "upkeep/db/0002_b.sql": "create table b(x int);"})
	cfg := update.Config{Source: repo.Dir, Keys: []string{repo.PubFile}, StateDir: filepath.Join(dir, "state"),
		Modules: []update.ModuleConfig{{Name: "db", Kind: update.KindDatabase,
			Database: &update.DatabaseConfig{Driver: "sqlite", DSN: filepath.Join(dir, "db.sqlite")}}}}

	_, err := must(update.New(cfg, updatetest.WithoutSync())).Install(ctx, "db", update.InstallOptions{})
	require.ErrorIs(t, err, update.ErrDatabaseModule)

	ap := &fileApplier{log: filepath.Join(dir, "applied.log"), fail: "2.0.0"}
	var mu sync.Mutex
	var phases []string
	eng := must(update.New(cfg, updatetest.WithoutSync(),
		update.WithApplier(update.KindDatabase, func(update.ModuleConfig) (update.Applier, error) { return ap, nil }),
		update.WithHook("db", hooks.Func(func(ctx context.Context, ev hooks.Event) error {
			mu.Lock()
			defer mu.Unlock()
			phases = append(phases, ev.ToVersion+" "+string(ev.Phase))
			return nil
		}))))
	_, err = eng.Install(ctx, "db", update.InstallOptions{Version: "1.0.0"})
	require.NoError(t, err)
	require.Equal(t, []string{"1.0.0 STARTUPDATE", "1.0.0 PREBACKUP", "1.0.0 POSTBACKUP", "1.0.0 PREINSTALL",
		"1.0.0 POSTINSTALL", "1.0.0 ENDUPDATE"}, phases)
	pack, err := eng.AppliedPack(ctx, "db")
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(pack, "upkeep", "db", "0001_a.sql"))

	phases = nil
	_, err = eng.Install(ctx, "db", update.InstallOptions{})
	require.ErrorIs(t, err, update.ErrRolledBack)
	require.ErrorContains(t, err, "script 0002 failed")
	require.Equal(t, []string{"2.0.0 STARTUPDATE", "2.0.0 PREBACKUP", "2.0.0 POSTBACKUP", "2.0.0 PREINSTALL", "2.0.0 ROLLBACK"}, phases)
	st, err := eng.ModuleStatus(ctx, "db")
	require.NoError(t, err)
	require.Equal(t, "1.0.0", *st.Installed)
	require.Equal(t, "2.0.0", st.FailedVersion)
	require.Contains(t, st.LastResult, "what was applied before the failure stays")
	require.FileExists(t, filepath.Join(pack, "upkeep", "db", "0002_b.sql"), "the tried pack is kept for a person")
	b, err := os.ReadFile(ap.log)
	require.NoError(t, err)
	require.Equal(t, "1.0.0 upkeep/db/0001_a.sql\n2.0.0 upkeep/db/0001_a.sql\n2.0.0 upkeep/db/0002_b.sql\n", string(b))

	_, err = eng.Rollback(ctx, "db", update.RollbackOptions{})
	require.ErrorIs(t, err, update.ErrDatabaseModule)
	res, err := eng.Recover(ctx)
	require.NoError(t, err)
	require.Equal(t, update.RecoverNone, res[0].Action)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
