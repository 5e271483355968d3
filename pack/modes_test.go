package pack

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
)

// modesPack holds world-writable, sticky, set-user-ID and set-group-ID modes.
func modesPack() []byte {
	return rawZip(
		stored("open/", "", fs.ModeDir|0o777),
		stored("tmp/", "", fs.ModeDir|fs.ModeSticky|0o777),
		stored("shared/", "", fs.ModeDir|fs.ModeSticky|0o755),
		stored("open/file", "x", 0o666),
		stored("open/run", "x", 0o777),
		stored("suid", "x", fs.ModeSetuid|fs.ModeSetgid|0o755),
		stored("stickyfile", "x", fs.ModeSticky|0o644),
	)
}

func extractModes(t *testing.T, z []byte, opts ...Option) map[string]fs.FileMode {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "dest")
	_, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dest, append(opts, WithoutSync())...)
	require.NoError(t, err)
	modes := map[string]fs.FileMode{}
	require.NoError(t, filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dest {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dest, p)
		modes[filepath.ToSlash(rel)] = fi.Mode()
		return nil
	}))
	return modes
}

func TestExtractModes(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("Windows keeps no Unix permission bits")
	}
	z := modesPack()
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, map[string]fs.FileMode{
			"open":       fs.ModeDir | 0o775,
			"tmp":        fs.ModeDir | fs.ModeSticky | 0o775,
			"shared":     fs.ModeDir | fs.ModeSticky | 0o755,
			"open/file":  0o664,
			"open/run":   0o775,
			"suid":       0o755,
			"stickyfile": 0o644,
		}, extractModes(t, z))
	})
	t.Run("AllowWorldWritable", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, map[string]fs.FileMode{
			"open":       fs.ModeDir | 0o777,
			"tmp":        fs.ModeDir | fs.ModeSticky | 0o777,
			"shared":     fs.ModeDir | fs.ModeSticky | 0o755,
			"open/file":  0o666,
			"open/run":   0o777,
			"suid":       0o755,
			"stickyfile": 0o644,
		}, extractModes(t, z, AllowWorldWritable()))
	})
	t.Run("ReadInfo", func(t *testing.T) {
		t.Parallel()
		info, err := ReadInfo(bytes.NewReader(z), int64(len(z)))
		require.NoError(t, err)
		modes := map[string]fs.FileMode{}
		for _, e := range info.Entries {
			modes[e.Name] = e.Mode
		}
		require.Equal(t, map[string]fs.FileMode{
			"open/":      fs.ModeDir | 0o777,
			"tmp/":       fs.ModeDir | fs.ModeSticky | 0o777,
			"shared/":    fs.ModeDir | fs.ModeSticky | 0o755,
			"open/file":  0o666,
			"open/run":   0o777,
			"suid":       0o755,
			"stickyfile": 0o644,
		}, modes, "what the pack says, as extraction reads it")
	})
}

// TestBuildModes checks that Build stores what Extract installs: permissions, and
// the sticky bit of folders.
func TestBuildModes(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("Windows keeps no Unix permission bits")
	}
	mt := time.Unix(1700000000, 0)
	fsys := fstest.MapFS{
		"tmp":        {Mode: fs.ModeDir | fs.ModeSticky | 0o777, ModTime: mt},
		"tmp/f":      {Data: []byte("x"), Mode: 0o666, ModTime: mt},
		"suid":       {Data: []byte("x"), Mode: fs.ModeSetuid | 0o755, ModTime: mt},
		"stickyfile": {Data: []byte("x"), Mode: fs.ModeSticky | 0o644, ModTime: mt},
	}
	var b bytes.Buffer
	require.NoError(t, Build(context.Background(), &b, fsys))
	info, err := ReadInfo(bytes.NewReader(b.Bytes()), int64(b.Len()))
	require.NoError(t, err)
	modes := map[string]fs.FileMode{}
	for _, e := range info.Entries {
		modes[e.Name] = e.Mode
	}
	require.Equal(t, map[string]fs.FileMode{
		"tmp/":       fs.ModeDir | fs.ModeSticky | 0o777,
		"tmp/f":      0o666,
		"suid":       0o755,
		"stickyfile": 0o644,
	}, modes)
	require.Equal(t, map[string]fs.FileMode{
		"tmp":        fs.ModeDir | fs.ModeSticky | 0o777,
		"tmp/f":      0o666,
		"suid":       0o755,
		"stickyfile": 0o644,
	}, extractModes(t, b.Bytes(), AllowWorldWritable()))

	// The same from a real tree.
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "tmp"), 0o700))
	require.NoError(t, os.Chmod(filepath.Join(dir, "tmp"), fs.ModeSticky|0o777))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tmp", "f"), []byte("x"), 0o600))
	require.NoError(t, os.Chmod(filepath.Join(dir, "tmp", "f"), 0o666))
	require.Equal(t, map[string]fs.FileMode{
		"tmp":   fs.ModeDir | fs.ModeSticky | 0o775,
		"tmp/f": 0o664,
	}, extractModes(t, buildBytes(t, dir)))
}
