package pack

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCreateBeneath(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir := filepath.Join(base, "tree")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o700))
	require.NoError(t, os.Symlink(base, filepath.Join(dir, "out")))
	require.NoError(t, os.Symlink("sub", filepath.Join(dir, "in")))
	d, err := os.Open(dir)
	require.NoError(t, err)
	defer d.Close()
	f, ok, err := createBeneath(d, "sub/ok", 0o600)
	if !ok {
		t.Skip("kernel without openat2")
	}
	require.NoError(t, err)
	require.NoError(t, f.Close())
	for _, name := range []string{"out/x", "in/x", "../x", "/tmp/x", "sub/ok", "in"} {
		_, ok, err := createBeneath(d, name, 0o600)
		require.True(t, ok)
		require.Error(t, err, name)
	}
	ents, err := os.ReadDir(base)
	require.NoError(t, err)
	require.Len(t, ents, 1, "nothing created outside")
}
