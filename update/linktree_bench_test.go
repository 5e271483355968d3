package update

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkPostBackupTree measures what the swap strategy adds to the maintenance
// window so that POSTBACKUP can read the backup: a tree of hard links to the live
// files (links), against a full copy of the tree with the standard library
// (copy, the baseline) and the tar+zstd archive the inplace strategy makes (archive).
func BenchmarkPostBackupTree(b *testing.B) {
	const files, size = 1000, 16 << 10
	live := b.TempDir()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for i := range files {
		p := filepath.Join(live, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("f%04d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	e := &Engine{options: options{ops: &ops{}, workers: 2}}
	ctx := context.Background()
	work := b.TempDir()
	wd, err := openDir(work)
	if err != nil {
		b.Fatal(err)
	}
	defer wd.close()
	parent, err := openDir(filepath.Dir(live))
	if err != nil {
		b.Fatal(err)
	}
	defer parent.close()
	run := func(b *testing.B, f func(n int) error) {
		b.SetBytes(files * size)
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			n++
			if err := f(n); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("links", func(b *testing.B) {
		run(b, func(n int) error {
			return e.ops.linkDir(ctx, parent, wd, filepath.Base(live), fmt.Sprintf("links%d", n), "")
		})
	})
	b.Run("copy", func(b *testing.B) {
		run(b, func(n int) error { return os.CopyFS(filepath.Join(work, fmt.Sprintf("copy%d", n)), os.DirFS(live)) })
	})
	b.Run("archive", func(b *testing.B) {
		ld, err := openDir(live)
		if err != nil {
			b.Fatal(err)
		}
		defer ld.close()
		run(b, func(n int) error {
			return e.archiveTree(ctx, ld, filepath.Join(work, fmt.Sprintf("a%d.tar.zst", n)), "")
		})
	})
}
