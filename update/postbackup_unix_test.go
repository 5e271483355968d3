//go:build unix

package update_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// TestPostBackupReadsBackup: the seed's POSTBACKUP scripts copy files out of the
// backup. A real script in the module's scripts folder copies everything at
// $E_BACKUP_PATH when it runs: under both strategies the previous version must be
// there (under swap, before the exchange that makes the live tree the backup). After
// the install the kept version is exactly the previous tree, and nothing made for
// POSTBACKUP is left beside it; a failed install leaves no backup of the version
// still live, and a link planted in what POSTBACKUP saw is removed, never followed.
func TestPostBackupReadsBackup(t *testing.T) {
	t.Parallel()
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, strategy, false)
			scripts, out := t.TempDir(), t.TempDir()
			victim := plantVictim(t)
			plant := ""
			if strategy == update.Swap {
				// What POSTBACKUP sees under swap is upkeep's to clean up.
				plant = `ln -s "` + victim + `" "${E_BACKUP_PATH}planted"`
			}
			// As the seed's scripts do, with E_BACKUP_PATH ending in a separator.
			require.NoError(t, os.WriteFile(filepath.Join(scripts, "POSTBACKUP_web.sh"), []byte(`set -e
dest="`+out+`/$E_TO_VERSION"
mkdir -p "$dest"
cp -R "${E_BACKUP_PATH}." "$dest/"
`+plant+`
`), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(scripts, "PREINSTALL_web.sh"), []byte(`if [ "$E_TO_VERSION" = 3.0.0 ]; then echo "refusing 3.0.0" >&2; exit 3; fi
`), 0o755))
			e.cfg.Modules[0].Scripts = scripts
			e.repo.Publish("web", "1.0.0", platform, v1)
			e.repo.Publish("web", "2.0.0", platform, v2)
			eng := e.engine(t)
			// read returns the tree of version v in what POSTBACKUP copied during the
			// install of to: the tree itself under swap; under inplace, E_BACKUP_PATH
			// is the folder of the archives, as in the seed.
			read := func(out, to, v string) map[string]string {
				copied := filepath.Join(out, to)
				if strategy == update.InPlace {
					restored := filepath.Join(t.TempDir(), "r")
					require.NoError(t, update.RestoreArchive(filepath.Join(copied, v+".tar.zst"), restored))
					copied = restored
				}
				return updatetest.ReadTree(t, copied)
			}
			_, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"})
			require.NoError(t, err)
			_, err = eng.Install(ctx, "web", update.InstallOptions{Version: "2.0.0"})
			require.NoError(t, err, "POSTBACKUP found nothing at E_BACKUP_PATH")
			require.Equal(t, v2, updatetest.ReadTree(t, e.module))

			require.Equal(t, v1, read(out, "2.0.0", "1.0.0"), "what POSTBACKUP read is the previous version")
			require.Equal(t, []string{"1.0.0"}, mustStatus(t, eng).Backups)
			if strategy == update.Swap {
				kept := filepath.Join(update.WorkDir(&e.cfg.Modules[0]), "backup", "1.0.0")
				require.Equal(t, v1, updatetest.ReadTree(t, kept), "the kept tree is the previous one, nothing added")
				ents, err := os.ReadDir(filepath.Dir(kept))
				require.NoError(t, err)
				require.Len(t, ents, 1, "only the kept version is left in the backups: %v", ents)
			}

			// A failed install: the version still live must not appear as kept.
			e.repo.Publish("web", "3.0.0", platform, v3)
			_, err = eng.Install(ctx, "web", update.InstallOptions{Version: "3.0.0"})
			require.ErrorIs(t, err, update.ErrRolledBack)
			require.Equal(t, v2, updatetest.ReadTree(t, e.module))
			require.Equal(t, v2, read(out, "3.0.0", "2.0.0"), "POSTBACKUP read the previous version")
			if strategy == update.Swap {
				// What POSTBACKUP read is gone with the install; the inplace archive of
				// 2.0.0 stays, a true copy of it.
				require.Equal(t, []string{"1.0.0"}, mustStatus(t, eng).Backups)
			}
			requireVictimIntact(t, victim)
		})
	}
}
