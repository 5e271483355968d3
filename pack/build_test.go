package pack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
)

// makeTree writes a small tree exercising what a pack must keep.
func makeTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rnd := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(rnd.Uint32())
	}
	files := map[string]struct {
		data string
		mode fs.FileMode
	}{
		"bin/tool":             {"#!/bin/sh\necho hi\n", 0o755},
		"bin/readonly.txt":     {"read only", 0o444},
		"README.md":            {strings.Repeat("upkeep keeps things up to date. ", 1000), 0o644},
		"empty.txt":            {"", 0o600},
		"data/big.bin":         {string(big), 0o640},
		"data/nested/deep.txt": {"deep", 0o644},
		"ünïcode/名前.txt":       {"utf-8 names", 0o644},
	}
	for name, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(f.data), 0o600))
		require.NoError(t, os.Chmod(p, f.mode))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "empty/dir"), 0o755))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "private"), 0o700))
	if runtime.GOOS != "windows" {
		require.NoError(t, os.Symlink("../README.md", filepath.Join(dir, "bin/readme")))
		require.NoError(t, os.Symlink("data/nested", filepath.Join(dir, "nested")))
		require.NoError(t, os.Symlink("nested/deep.txt", filepath.Join(dir, "deep-via-link")))
	}
	old := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	require.NoError(t, os.Chtimes(filepath.Join(dir, "README.md"), old, old))
	return dir
}

// treeState describes a tree for comparison: per path, mode, content hash or link.
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	state := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(p)
		require.NoError(t, err)
		desc := fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			require.NoError(t, err)
			desc += " -> " + target
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			desc += " " + string(sha256.New().Sum(b)[:0]) + hashHex(b) + " " + fi.ModTime().UTC().Format(time.RFC3339)
		}
		state[filepath.ToSlash(rel)] = desc
		return nil
	})
	require.NoError(t, err)
	return state
}

func hashHex(b []byte) string {
	h := sha256.Sum256(b)
	const hex = "0123456789abcdef"
	out := make([]byte, 16)
	for i := range 8 {
		out[2*i], out[2*i+1] = hex[h[i]>>4], hex[h[i]&15]
	}
	return string(out)
}

func buildBytes(t *testing.T, dir string, opts ...BuildOption) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, BuildDir(context.Background(), &b, dir, opts...))
	return b.Bytes()
}

func TestBuildRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fsys      fstest.MapFS
		wantErr   error
		wantRule  Rule
		wantEntry string
	}{
		{"link outside", fstest.MapFS{"a/l": {Data: []byte("../../etc"), Mode: fs.ModeSymlink | 0o777}}, ErrUnsafePath, RuleLink, "a/l"},
		{"absolute link", fstest.MapFS{"l": {Data: []byte("/etc/passwd"), Mode: fs.ModeSymlink | 0o777}}, ErrUnsafePath, RuleLink, "l"},
		{"fifo", fstest.MapFS{"p": {Mode: fs.ModeNamedPipe | 0o644}}, ErrUnsupported, RuleSpecial, "p"},
		{"device", fstest.MapFS{"d": {Mode: fs.ModeDevice | 0o644}}, ErrUnsupported, RuleSpecial, "d"},
		{"reserved name", fstest.MapFS{"x/con.txt": {Data: []byte("x")}}, ErrUnsafePath, RuleReserved, "x/con.txt"},
		{"trailing dot", fstest.MapFS{"x.": {Data: []byte("x")}}, ErrUnsafePath, RuleTrailingDot, "x."},
		{"backslash", fstest.MapFS{`a\b`: {Data: []byte("x")}}, ErrUnsafePath, RuleBackslash, `a\b`},
		{"too deep", fstest.MapFS{strings.Repeat("d/", DefaultMaxDepth) + "x": {Data: []byte("x")}}, ErrLimit, RuleMaxDepth, strings.Repeat("d/", DefaultMaxDepth) + "x"},
		{"case collision", fstest.MapFS{"A.txt": {Data: []byte("x")}, "a.txt": {Data: []byte("y")}}, ErrDuplicate, RuleCaseCollision, "a.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			err := Build(context.Background(), &b, tt.fsys)
			require.ErrorIs(t, err, tt.wantErr)
			var ee *EntryError
			require.ErrorAs(t, err, &ee)
			require.Equal(t, tt.wantRule, ee.Rule)
			require.Equal(t, tt.wantEntry, ee.Entry)
		})
	}
	t.Run("bad method", func(t *testing.T) {
		t.Parallel()
		require.Error(t, Build(context.Background(), io.Discard, fstest.MapFS{}, WithMethod(12)))
	})
	t.Run("not a folder", func(t *testing.T) {
		t.Parallel()
		require.Error(t, BuildDir(context.Background(), io.Discard, filepath.Join(t.TempDir(), "missing")))
	})
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := Build(ctx, io.Discard, fstest.MapFS{"a": {Data: []byte("x")}})
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	dir := makeTree(t)
	want := treeState(t, dir)
	for _, m := range []Method{Deflate, Zstd, Store} {
		t.Run(m.String(), func(t *testing.T) {
			t.Parallel()
			z := buildBytes(t, dir, WithMethod(m))
			info, err := ReadInfo(bytes.NewReader(z), int64(len(z)))
			require.NoError(t, err)
			require.Contains(t, info.Methods, m)
			dest := filepath.Join(t.TempDir(), "out")
			var last, total int64
			rep, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dest,
				WithProgress(func(done, tot int64) {
					require.GreaterOrEqual(t, done, last)
					last, total = done, tot
				}))
			require.NoError(t, err)
			require.Equal(t, want, treeState(t, dest))
			require.Equal(t, info.Files, rep.Files)
			require.Equal(t, info.Links, rep.Links)
			require.Equal(t, total, last)
			require.Equal(t, rep.Bytes, total)
			require.Positive(t, rep.Duration)
		})
	}
}

func TestRoundTripMapFS(t *testing.T) {
	t.Parallel()
	mt := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	fsys := fstest.MapFS{
		"run":      {Data: []byte("#!/bin/sh\n"), Mode: 0o755, ModTime: mt},
		"lib/a.so": {Data: []byte("lib"), Mode: 0o644, ModTime: mt},
		"lib/cur":  {Data: []byte("a.so"), Mode: fs.ModeSymlink | 0o777},
		"keep":     {Mode: fs.ModeDir | 0o755, ModTime: mt},
	}
	var b bytes.Buffer
	require.NoError(t, Build(context.Background(), &b, fsys))
	info, err := ReadInfo(bytes.NewReader(b.Bytes()), int64(b.Len()))
	require.NoError(t, err)
	var names []string
	for _, e := range info.Entries {
		names = append(names, e.Name)
	}
	require.Equal(t, []string{"keep/", "lib/", "lib/a.so", "lib/cur", "run"}, names)
	require.Equal(t, "a.so", info.Entries[3].Link)
	require.Equal(t, fs.FileMode(0o755), info.Entries[4].Mode)
	require.Equal(t, mt, info.Entries[4].ModTime)
}

func TestBuildDeterministic(t *testing.T) {
	t.Parallel()
	dir := makeTree(t)
	for _, m := range []Method{Deflate, Zstd} {
		t.Run(m.String(), func(t *testing.T) {
			a := buildBytes(t, dir, WithMethod(m))
			b := buildBytes(t, dir, WithMethod(m))
			require.True(t, bytes.Equal(a, b), "two builds of one tree differ")
		})
	}
	t.Run("WithModTime", func(t *testing.T) {
		epoch := time.Unix(1700000000, 0)
		other := t.TempDir()
		require.NoError(t, os.CopyFS(other, os.DirFS(dir)))
		require.NoError(t, filepath.WalkDir(other, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type()&fs.ModeSymlink == 0 {
				now := time.Now().Add(time.Hour)
				return os.Chtimes(p, now, now)
			}
			return err
		}))
		// CopyFS does not keep modes; put them back.
		require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink != 0 {
				return err
			}
			fi, _ := os.Lstat(p)
			rel, _ := filepath.Rel(dir, p)
			return os.Chmod(filepath.Join(other, rel), fi.Mode().Perm())
		}))
		if runtime.GOOS != "windows" {
			// CopyFS copies links as files; rebuild them.
			for _, l := range []string{"bin/readme", "nested", "deep-via-link"} {
				target, _ := os.Readlink(filepath.Join(dir, l))
				os.RemoveAll(filepath.Join(other, l))
				require.NoError(t, os.Symlink(target, filepath.Join(other, l)))
			}
		}
		a := buildBytes(t, dir, WithModTime(epoch))
		b := buildBytes(t, other, WithModTime(epoch))
		require.True(t, bytes.Equal(a, b), "same content and modes, other mtimes: packs differ")
		require.False(t, bytes.Equal(buildBytes(t, dir), buildBytes(t, other)), "mtimes are kept without WithModTime")
	})
}

func TestSourceDateEpoch(t *testing.T) {
	tests := []struct {
		val     string
		want    time.Time
		ok      bool
		wantErr bool
	}{
		{"", time.Time{}, false, false},
		{"1700000000", time.Unix(1700000000, 0).UTC(), true, false},
		{"0", time.Unix(0, 0).UTC(), true, false},
		{"-1", time.Time{}, false, true},
		{"soon", time.Time{}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.val, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tt.val)
			got, ok, err := SourceDateEpoch()
			if tt.wantErr {
				require.Error(t, err)
				require.Contains(t, err.Error(), "SOURCE_DATE_EPOCH")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.ok, ok)
			require.True(t, tt.want.Equal(got))
		})
	}
}

func TestExtractDestination(t *testing.T) {
	t.Parallel()
	z := rawZip(stored("a.txt", "a", 0o644))
	run := func(dest string) error {
		_, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dest, WithoutSync())
		return err
	}
	t.Run("not empty", func(t *testing.T) {
		t.Parallel()
		dest := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dest, "x"), nil, 0o644))
		require.ErrorIs(t, run(dest), ErrDestination)
		require.Equal(t, []string{"x"}, dirNames(t, dest))
	})
	t.Run("a file", func(t *testing.T) {
		t.Parallel()
		dest := filepath.Join(t.TempDir(), "f")
		require.NoError(t, os.WriteFile(dest, nil, 0o644))
		require.ErrorIs(t, run(dest), ErrDestination)
	})
	t.Run("no parent", func(t *testing.T) {
		t.Parallel()
		require.ErrorIs(t, run(filepath.Join(t.TempDir(), "a", "b")), ErrDestination)
	})
	t.Run("link to a folder", func(t *testing.T) {
		t.Parallel()
		if runtime.GOOS == "windows" {
			t.Skip("symlinks need privileges on Windows")
		}
		parent := t.TempDir()
		require.NoError(t, os.Mkdir(filepath.Join(parent, "real"), 0o755))
		require.NoError(t, os.Symlink("real", filepath.Join(parent, "dest")))
		require.ErrorIs(t, run(filepath.Join(parent, "dest")), ErrDestination)
		require.Empty(t, dirNames(t, filepath.Join(parent, "real")))
	})
	t.Run("empty folder", func(t *testing.T) {
		t.Parallel()
		dest := t.TempDir()
		require.NoError(t, os.Chmod(dest, 0o750))
		_, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dest)
		require.NoError(t, err)
		require.Equal(t, []string{"a.txt"}, dirNames(t, dest))
		fi, err := os.Stat(dest)
		require.NoError(t, err)
		require.Equal(t, fs.FileMode(0o750), fi.Mode().Perm())
	})
}

func TestExtractVerify(t *testing.T) {
	t.Parallel()
	dir := makeTree(t)
	z := buildBytes(t, dir)
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		parent := t.TempDir()
		boom := errors.New("bad signature")
		_, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), filepath.Join(parent, "d"),
			WithVerify(func(r io.Reader) error { return boom }))
		require.ErrorIs(t, err, ErrVerify)
		require.ErrorIs(t, err, boom)
		require.Empty(t, dirNames(t, parent))
	})
	t.Run("reads every byte", func(t *testing.T) {
		t.Parallel()
		var got []byte
		_, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), filepath.Join(t.TempDir(), "d"),
			WithoutSync(), WithVerify(func(r io.Reader) error {
				var err error
				got, err = io.ReadAll(r)
				return err
			}))
		require.NoError(t, err)
		require.True(t, bytes.Equal(z, got))
	})
}

func TestExtractCanceled(t *testing.T) {
	t.Parallel()
	z := buildBytes(t, makeTree(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	parent := t.TempDir()
	_, err := Extract(ctx, bytes.NewReader(z), int64(len(z)), filepath.Join(parent, "d"), WithoutSync())
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, dirNames(t, parent))
}

func TestExtractSyncModes(t *testing.T) {
	t.Parallel()
	dir := makeTree(t)
	z := buildBytes(t, dir)
	want := treeState(t, dir)
	for _, m := range []syncMode{syncPerFile, syncFS, syncNone} {
		dest := filepath.Join(t.TempDir(), "d")
		_, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dest, withSyncMode(m), WithWorkers(1))
		if m == syncFS && runtime.GOOS != "linux" {
			require.Error(t, err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, want, treeState(t, dest))
	}
}

func TestOptionsRefused(t *testing.T) {
	t.Parallel()
	_, err := Extract(context.Background(), bytes.NewReader(nil), 0, t.TempDir(), WithWorkers(0))
	require.Error(t, err)
}
