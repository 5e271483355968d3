package maintenance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A flag upkeep did not place is taken down as the seed's procedure says: renamed to
// .bak when no .bak is there; otherwise moved into the keep folder. Nothing is deleted.
func TestTakeDownForeignFlag(t *testing.T) {
	t.Parallel()
	f := Flag{Name: DefaultFlagName}
	require.Equal(t, "app_offline.bak", f.BakName())
	require.Equal(t, "app_offline.bak", Flag{Name: "app_offline.html"}.BakName())
	require.Equal(t, "MAINTENANCE.bak", Flag{Name: "MAINTENANCE"}.BakName())

	dir, keep := t.TempDir(), filepath.Join(t.TempDir(), "kept")
	_, err := f.TakeDown(dir, keep)
	require.ErrorIs(t, err, ErrNoFlag)

	// No .bak: the flag becomes it.
	flag := filepath.Join(dir, DefaultFlagName)
	require.NoError(t, os.WriteFile(flag, []byte("<p>Site en maintenance</p>"), 0o644))
	where, err := f.TakeDown(dir, keep)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "app_offline.bak"), where)
	require.NoFileExists(t, flag)
	b, err := os.ReadFile(where)
	require.NoError(t, err)
	require.Equal(t, "<p>Site en maintenance</p>", string(b))

	// A .bak already there: the flag goes into the keep folder, the .bak stays.
	require.NoError(t, os.WriteFile(flag, []byte("second"), 0o644))
	where, err = f.TakeDown(dir, keep)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(where, keep+string(filepath.Separator)+DefaultFlagName+"."), where)
	require.NoFileExists(t, flag)
	b, err = os.ReadFile(where)
	require.NoError(t, err)
	require.Equal(t, "second", string(b))
	b, err = os.ReadFile(filepath.Join(dir, "app_offline.bak"))
	require.NoError(t, err)
	require.Equal(t, "<p>Site en maintenance</p>", string(b))

	// upkeep's own flag is recovery's to clear, not this.
	require.NoError(t, f.Place(dir, "installing"))
	_, err = f.TakeDown(dir, keep)
	require.ErrorIs(t, err, ErrOwnFlag)
	require.FileExists(t, flag)
	require.NoError(t, f.Remove(dir))

	// A link at the flag's name is moved as a link, never followed.
	target := filepath.Join(t.TempDir(), "elsewhere.htm")
	require.NoError(t, os.WriteFile(target, []byte("not yours"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(dir, "app_offline.bak")))
	require.NoError(t, os.Symlink(target, flag))
	where, err = f.TakeDown(dir, keep)
	require.NoError(t, err)
	fi, err := os.Lstat(where)
	require.NoError(t, err)
	require.Equal(t, os.ModeSymlink, fi.Mode().Type())
	b, err = os.ReadFile(target)
	require.NoError(t, err)
	require.Equal(t, "not yours", string(b))
}

// The site's own maintenance page, kept as the flag's .bak, is what upkeep's flag shows.
func TestFlagServesTheSitesPage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := Flag{Name: DefaultFlagName}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app_offline.bak"), []byte("<h1>Boutique fermée pour travaux</h1>\n"), 0o644))
	require.NoError(t, f.Place(dir, "installing 2.0"))
	b, err := os.ReadFile(filepath.Join(dir, DefaultFlagName))
	require.NoError(t, err)
	require.True(t, IsFlagContent(b), "still upkeep's own flag")
	require.Contains(t, string(b), "<h1>Boutique fermée pour travaux</h1>")
	require.NotContains(t, string(b), "installing 2.0")
	present, ours, err := f.Present(dir)
	require.NoError(t, err)
	require.True(t, present && ours)
	require.NoError(t, f.Remove(dir))
	require.FileExists(t, filepath.Join(dir, "app_offline.bak"), "the site's page stays")
}
