package tarzst_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/tarzst"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(src, "a/b"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "a/b/c.txt"), []byte("c"), 0o640))
	require.NoError(t, os.WriteFile(filepath.Join(src, "top"), []byte("top"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(src, "skipme"), []byte("flag"), 0o644))
	if runtime.GOOS != "windows" {
		require.NoError(t, os.Symlink("a/b/c.txt", filepath.Join(src, "link")))
	}
	root, err := os.OpenRoot(src)
	require.NoError(t, err)
	defer root.Close()
	var buf bytes.Buffer
	require.NoError(t, tarzst.Write(context.Background(), &buf, root.FS(), "skipme", 1))

	dst := t.TempDir()
	out, err := os.OpenRoot(dst)
	require.NoError(t, err)
	defer out.Close()
	require.NoError(t, tarzst.Extract(context.Background(), &buf, out, "test.tar.zst"))
	b, err := os.ReadFile(filepath.Join(dst, "a/b/c.txt"))
	require.NoError(t, err)
	require.Equal(t, "c", string(b))
	fi, err := os.Stat(filepath.Join(dst, "a/b/c.txt"))
	require.NoError(t, err)
	if runtime.GOOS != "windows" {
		require.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
		l, err := os.Readlink(filepath.Join(dst, "link"))
		require.NoError(t, err)
		require.Equal(t, "a/b/c.txt", l)
	}
	_, err = os.Lstat(filepath.Join(dst, "skipme"))
	require.True(t, os.IsNotExist(err), "the skipped entry is left out")
}

// TestWriteDoesNotFollowLinks checks that a link to a folder outside the tree is
// stored as a link, not as the folder's files (which could be another account's).
func TestWriteDoesNotFollowLinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("links need a privilege on Windows")
	}
	t.Parallel()
	secret := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(secret, "shadow"), []byte("secret"), 0o600))
	src := t.TempDir()
	require.NoError(t, os.Symlink(secret, filepath.Join(src, "escape")))
	root, err := os.OpenRoot(src)
	require.NoError(t, err)
	defer root.Close()
	var buf bytes.Buffer
	require.NoError(t, tarzst.Write(context.Background(), &buf, root.FS(), "", 1))
	require.NotContains(t, buf.String(), "secret")
}
