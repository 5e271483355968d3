package source

import (
	"context"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/upkeep-go/upkeep/internal/testenv"
	"github.com/upkeep-go/upkeep/update/publish"
)

// kinds are the sources the shared cases run against, each serving the files of root.
var kinds = []struct {
	name string
	open func(t *testing.T, root string) Source
}{
	{"http", func(t *testing.T, root string) Source {
		srv := httptest.NewServer(publish.FileServer(root))
		t.Cleanup(srv.Close)
		src, err := NewHTTP(srv.URL+"/", fastOptions()...)
		require.NoError(t, err)
		return src
	}},
	{"nginx", func(t *testing.T, root string) Source {
		src, err := NewHTTP(testenv.StartNginx(t, root), fastOptions()...)
		require.NoError(t, err)
		return src
	}},
	{"dir", func(t *testing.T, root string) Source { return NewDir(root) }},
	{"fs", func(t *testing.T, root string) Source { return NewFS(os.DirFS(root)) }},
}

const packName = "packs/app-1.0.zip"

var packData = content(5000)

// fileCases run against every kind of source, over a root holding packName.
var fileCases = []struct {
	name string
	skip map[string]bool
	run  func(t *testing.T, src Source, root string)
}{
	{"whole file", nil, func(t *testing.T, src Source, root string) {
		resp, err := src.Fetch(context.Background(), Request{Name: packName, Max: int64(len(packData))})
		require.NoError(t, err)
		require.Zero(t, resp.Offset)
		require.EqualValues(t, len(packData), resp.Size)
		require.NotEmpty(t, resp.Validator)
		require.Contains(t, resp.Location, "app-1.0.zip")
		b, err := readBody(t, resp)
		require.NoError(t, err)
		require.Equal(t, packData, b)
	}},
	{"from an offset", nil, func(t *testing.T, src Source, root string) {
		resp, err := src.Fetch(context.Background(), Request{Name: packName, Offset: 1234, Max: int64(len(packData)) - 1234})
		require.NoError(t, err)
		require.EqualValues(t, 1234, resp.Offset)
		require.EqualValues(t, len(packData), resp.Size)
		b, err := readBody(t, resp)
		require.NoError(t, err)
		require.Equal(t, packData[1234:], b)
	}},
	{"resume after closing", nil, func(t *testing.T, src Source, root string) {
		ctx := context.Background()
		size := int64(len(packData))
		resp, err := src.Fetch(ctx, Request{Name: packName, Max: size})
		require.NoError(t, err)
		head := make([]byte, 2000)
		_, err = io.ReadFull(resp.Body, head)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		rest, err := src.Fetch(ctx, Request{Name: packName, Offset: 2000, Max: size - 2000, Validator: resp.Validator})
		require.NoError(t, err)
		require.EqualValues(t, 2000, rest.Offset)
		tail, err := readBody(t, rest)
		require.NoError(t, err)
		require.Equal(t, packData, append(head, tail...))
	}},
	{"resume of a changed file starts over", nil, func(t *testing.T, src Source, root string) {
		ctx := context.Background()
		resp, err := src.Fetch(ctx, Request{Name: packName, Max: 10_000})
		require.NoError(t, err)
		resp.Body.Close()
		changed := content(6000)[1:]
		writeFile(t, root, packName, changed)
		again, err := src.Fetch(ctx, Request{Name: packName, Offset: 2000, Max: 8000, Validator: resp.Validator})
		require.NoError(t, err)
		require.Zero(t, again.Offset)
		b, err := readBody(t, again)
		require.NoError(t, err)
		require.Equal(t, changed, b)
	}},
	{"larger than Max", nil, func(t *testing.T, src Source, root string) {
		_, err := src.Fetch(context.Background(), Request{Name: packName, Max: int64(len(packData)) - 1})
		require.ErrorIs(t, err, ErrTooLarge)
		_, err = src.Fetch(context.Background(), Request{Name: packName, Offset: 100, Max: int64(len(packData)) - 101})
		require.ErrorIs(t, err, ErrTooLarge)
	}},
	{"offset at the end", nil, func(t *testing.T, src Source, root string) {
		resp, err := src.Fetch(context.Background(), Request{Name: packName, Offset: int64(len(packData)), Max: 1})
		require.NoError(t, err)
		require.EqualValues(t, len(packData), resp.Offset)
		b, err := readBody(t, resp)
		require.NoError(t, err)
		require.Empty(t, b)
	}},
	{"offset past the end", nil, func(t *testing.T, src Source, root string) {
		_, err := src.Fetch(context.Background(), Request{Name: packName, Offset: int64(len(packData)) + 1, Max: 1})
		require.ErrorIs(t, err, ErrRangeNotSatisfiable)
	}},
	{"not found", nil, func(t *testing.T, src Source, root string) {
		_, err := src.Fetch(context.Background(), Request{Name: "packs/missing.zip", Max: 10})
		require.ErrorIs(t, err, ErrNotFound)
		require.ErrorContains(t, err, "missing.zip")
	}},
	// nginx redirects a folder to "packs/" and then refuses the listing (403).
	{"folder", map[string]bool{"nginx": true}, func(t *testing.T, src Source, root string) {
		_, err := src.Fetch(context.Background(), Request{Name: "packs", Max: 10})
		require.ErrorIs(t, err, ErrNotFound)
	}},
	{"conditional", nil, func(t *testing.T, src Source, root string) {
		ctx := context.Background()
		writeFile(t, root, "manifest.json", []byte(`{"serial":1}`))
		resp, err := src.Fetch(ctx, Request{Name: "manifest.json", Max: 100})
		require.NoError(t, err)
		b, err := readBody(t, resp)
		require.NoError(t, err)
		require.Equal(t, `{"serial":1}`, string(b))

		same, err := src.Fetch(ctx, Request{Name: "manifest.json", Max: 100, Validator: resp.Validator})
		require.NoError(t, err)
		require.True(t, same.NotModified)
		require.Nil(t, same.Body)

		writeFile(t, root, "manifest.json", []byte(`{"serial":12}`))
		changed, err := src.Fetch(ctx, Request{Name: "manifest.json", Max: 100, Validator: resp.Validator})
		require.NoError(t, err)
		require.False(t, changed.NotModified)
		b, err = readBody(t, changed)
		require.NoError(t, err)
		require.Equal(t, `{"serial":12}`, string(b))
	}},
	{"name needing escapes", nil, func(t *testing.T, src Source, root string) {
		writeFile(t, root, "with space?#%.txt", []byte("odd"))
		resp, err := src.Fetch(context.Background(), Request{Name: "with space?#%.txt", Max: 3})
		require.NoError(t, err)
		b, err := readBody(t, resp)
		require.NoError(t, err)
		require.Equal(t, "odd", string(b))
	}},
	{"bad names", nil, func(t *testing.T, src Source, root string) {
		for _, name := range badNames {
			resp, err := src.Fetch(context.Background(), Request{Name: name, Max: 100})
			require.ErrorIs(t, err, ErrBadName, "%q", name)
			require.Nil(t, resp)
		}
	}},
}

// badNames could leave the root or mean something else than a relative path.
var badNames = []string{
	"", ".", "..", "../secret", "packs/../../secret", "packs/./app.zip", "/etc/passwd",
	`packs\app.zip`, `..\secret`, "C:/Windows/win.ini", "c:secret", "http://evil.example/x",
	"//evil.example/x", "packs//app.zip", "packs/", "a\x00b", "a\nb",
}

func writeFile(t *testing.T, root, name string, data []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, data, 0o644))
}

func TestSources(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range fileCases {
				t.Run(tc.name, func(t *testing.T) {
					if tc.skip[kind.name] {
						t.Skip("does not apply")
					}
					t.Parallel()
					root := t.TempDir()
					writeFile(t, root, packName, packData)
					tc.run(t, kind.open(t, root), root)
				})
			}
		})
	}
}

func TestDirMissingRoot(t *testing.T) {
	t.Parallel()
	src := NewDir(filepath.Join(t.TempDir(), "not-mounted"))
	_, err := src.Fetch(context.Background(), Request{Name: "manifest.json", Max: 10})
	require.ErrorIs(t, err, ErrUnreachable)
	require.ErrorContains(t, err, "not-mounted")
}

func TestDirSymlinkOutside(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	writeFile(t, outside, "secret", []byte("secret"))
	root := t.TempDir()
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "link")); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "dirlink")))
	for _, name := range []string{"link", "dirlink/secret"} {
		_, err := NewDir(root).Fetch(context.Background(), Request{Name: name, Max: 100})
		require.Error(t, err, name)
		require.ErrorContains(t, err, name)
	}
}

func TestDirContextCancelled(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeFile(t, root, "f", []byte("x"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, src := range []Source{NewDir(root), NewFS(os.DirFS(root))} {
		_, err := src.Fetch(ctx, Request{Name: "f", Max: 1})
		require.ErrorIs(t, err, context.Canceled)
	}
}

// noSeekFS hides the Seek method of its files.
type noSeekFS struct{ fsys fs.FS }

func (n noSeekFS) Open(name string) (fs.File, error) {
	f, err := n.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	return struct{ fs.File }{f}, nil
}

// lyingFS's files declare 50 bytes, whatever they hold.
type lyingFS struct{ fsys fs.FS }

type lyingFile struct{ fs.File }

type smallInfo struct{ fs.FileInfo }

func (smallInfo) Size() int64 { return 50 }

func (l lyingFS) Open(name string) (fs.File, error) {
	f, err := l.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	return lyingFile{f}, nil
}

func (f lyingFile) Stat() (fs.FileInfo, error) {
	fi, err := f.File.Stat()
	if err != nil {
		return nil, err
	}
	return smallInfo{fi}, nil
}

func TestFSWithoutSeek(t *testing.T) {
	t.Parallel()
	fsys := noSeekFS{fstest.MapFS{"f": {Data: packData, ModTime: time.Unix(1e9, 0)}}}
	resp, err := NewFS(fsys).Fetch(context.Background(), Request{Name: "f", Offset: 4000, Max: 1000})
	require.NoError(t, err)
	b, err := readBody(t, resp)
	require.NoError(t, err)
	require.Equal(t, packData[4000:], b)
}

func TestFSBodyGrows(t *testing.T) {
	t.Parallel()
	// A file that declares less than it yields is cut at Max all the same.
	fsys := lyingFS{fstest.MapFS{"f": {Data: content(100)}}}
	resp, err := NewFS(fsys).Fetch(context.Background(), Request{Name: "f", Max: 60})
	require.NoError(t, err)
	b, err := readBody(t, resp)
	require.ErrorIs(t, err, ErrTooLarge)
	require.Len(t, b, 60)
}
