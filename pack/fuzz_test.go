package pack

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
)

// seedTree is the tree of the testdata seed packs.
func seedTree() fstest.MapFS {
	mt := time.Unix(1700000000, 0)
	return fstest.MapFS{
		"bin":          {Mode: fs.ModeDir | 0o755, ModTime: mt},
		"bin/run":      {Data: []byte("#!/bin/sh\necho run\n"), Mode: 0o755, ModTime: mt},
		"lib":          {Mode: fs.ModeDir | 0o755, ModTime: mt},
		"lib/data.txt": {Data: bytes.Repeat([]byte("some data "), 50), Mode: 0o644, ModTime: mt},
		"lib/current":  {Data: []byte("data.txt"), Mode: fs.ModeSymlink | 0o777},
		"empty":        {Mode: fs.ModeDir | 0o700, ModTime: mt},
	}
}

// TestWriteSeeds regenerates testdata/*.zip, the seeds of FuzzExtract, when
// PACK_WRITE_SEEDS=1.
func TestWriteSeeds(t *testing.T) {
	if os.Getenv("PACK_WRITE_SEEDS") != "1" {
		t.Skip("set PACK_WRITE_SEEDS=1 to regenerate testdata/*.zip")
	}
	for _, m := range []Method{Deflate, Zstd, Store} {
		var b bytes.Buffer
		require.NoError(t, Build(context.Background(), &b, seedTree(), WithMethod(m)))
		require.NoError(t, os.WriteFile(filepath.Join("testdata", "tree-"+m.String()+".zip"), b.Bytes(), 0o644))
	}
}

func FuzzExtract(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.zip"))
	require.NoError(f, err)
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		require.NoError(f, err)
		f.Add(b)
	}
	for _, c := range hostileCases() {
		if len(c.zip) < 64<<10 {
			f.Add(c.zip)
		}
	}
	lim := Limits{MaxTotal: 1 << 20, MaxFiles: 64, MaxFileSize: 256 << 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, infoErr := ReadInfo(bytes.NewReader(data), int64(len(data)), WithLimits(lim))
		parent := t.TempDir()
		dest := filepath.Join(parent, "dest")
		rep, err := Extract(context.Background(), bytes.NewReader(data), int64(len(data)), dest,
			WithLimits(lim), WithoutSync(), WithWorkers(2))
		if err != nil {
			var ee *EntryError
			require.ErrorAs(t, err, &ee)
			require.Nil(t, rep)
			require.Empty(t, dirNames(t, parent), "a failed extraction left something behind")
			return
		}
		require.NoError(t, infoErr, "Extract accepted what ReadInfo refused")
		require.Equal(t, []string{"dest"}, dirNames(t, parent))
		require.Equal(t, info.Files, rep.Files)
		require.Equal(t, info.Links, rep.Links)
		require.Equal(t, info.Size-linkBytes(info), rep.Bytes)
		n := 0
		require.NoError(t, filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				n++
			}
			return nil
		}))
		require.Equal(t, info.Files, n)
	})
}

func linkBytes(info *Info) int64 {
	var n int64
	for _, e := range info.Entries {
		if e.Mode&fs.ModeSymlink != 0 {
			n += e.Size
		}
	}
	return n
}
