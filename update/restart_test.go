package update

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRestartExecutableUnderDir checks how InstallResult.SelfUpdate recognises the
// program's own module: the executable's path has its links resolved, the module's
// configured path need not.
func TestRestartExecutableUnderDir(t *testing.T) {
	t.Parallel()
	real := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(real, "srv", "app"), 0o755))
	link := filepath.Join(t.TempDir(), "link")
	require.NoError(t, os.Symlink(real, link))
	real, err := filepath.EvalSymlinks(real)
	require.NoError(t, err)
	exe := filepath.Join(real, "srv", "app", "bin", "app")

	require.True(t, underDir(exe, filepath.Join(real, "srv", "app")))
	require.True(t, underDir(exe, filepath.Join(link, "srv", "app")), "a module configured through a link to its parent")
	require.True(t, underDir(exe, filepath.Join(real, "srv", "app")+"/"))
	require.False(t, underDir(exe, filepath.Join(real, "srv", "ap")), "a sibling whose name is a prefix")
	require.False(t, underDir(exe, filepath.Join(real, "srv", "other")))
	require.False(t, underDir("", filepath.Join(real, "srv", "app")))
}
