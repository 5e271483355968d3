package pack

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// benchTreeMB is the size of the generated benchmark tree: UPKEEP_BENCH_TREE_MB, or 24.
func benchTreeMB(b *testing.B) int {
	if v := os.Getenv("UPKEEP_BENCH_TREE_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("UPKEEP_BENCH_TREE_MB=%q: want a number of MB", v)
		}
		return n
	}
	return 24
}

// genTree writes a deterministic tree of about mb MB: text-like files from 1 KiB to
// 2 MiB (source, configuration, logs) and one file in ten already compressed
// (random bytes named .png, .gz, .jar). It returns the files' names.
func genTree(b *testing.B, dir string, mb int, seed uint64) []string {
	b.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{"func", "return", "error", "config", "server", "value", "handler", "request", "the", "of",
		"update", "module", "version", "install", "context", "string", "int64", "nil", "if", "for"}
	var names []string
	total := 0
	for i := 0; total < mb<<20; i++ {
		size := 1 << (10 + r.IntN(r.IntN(12)+1)) // 1 KiB .. 2 MiB, mostly small
		size += r.IntN(size)
		name := fmt.Sprintf("d%02d/sub%d/file%05d", i%37, i%5, i)
		var data []byte
		if i%10 == 9 {
			name += []string{".png", ".gz", ".jar"}[i%3]
			data = make([]byte, size)
			for j := range data {
				data[j] = byte(r.Uint32())
			}
		} else {
			name += ".txt"
			var buf bytes.Buffer
			for buf.Len() < size {
				for range 8 + r.IntN(8) {
					buf.WriteString(words[r.IntN(len(words))])
					buf.WriteByte(' ')
				}
				fmt.Fprintf(&buf, "%d\n", r.IntN(100000))
			}
			data = buf.Bytes()[:size]
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		names = append(names, name)
		total += size
	}
	return names
}

// copyTreeChanged copies src to dst, editing one file in twenty (5 %) with a few
// small changes each.
func copyTreeChanged(b *testing.B, src, dst string, names []string, seed uint64) {
	b.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	for i, name := range names {
		data, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(name)))
		if err != nil {
			b.Fatal(err)
		}
		if i%20 == int(seed%20) {
			for range 3 {
				at := r.IntN(len(data))
				data = append(data[:at:at], append([]byte(fmt.Sprintf(" edit%d ", r.IntN(1000))), data[at:]...)...)
			}
		}
		p := filepath.Join(dst, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDelta measures, on a generated tree with 5 % of its files changed, the
// delta's size as a share of the full pack (metric "delta-%-of-pack"), the rebuild
// from the old tree and the delta against the extraction of the full pack (the
// baseline), and building a delta.
func BenchmarkDelta(b *testing.B) {
	mb := benchTreeMB(b)
	dir := b.TempDir()
	oldDir, newDir := filepath.Join(dir, "old"), filepath.Join(dir, "new")
	names := genTree(b, oldDir, mb, 7)
	copyTreeChanged(b, oldDir, newDir, names, 7)
	ctx := context.Background()
	var full, delta bytes.Buffer
	if err := BuildDir(ctx, &full, newDir, WithMethod(Zstd)); err != nil {
		b.Fatal(err)
	}
	if err := BuildDeltaDir(ctx, &delta, oldDir, newDir); err != nil {
		b.Fatal(err)
	}
	info, err := ReadDeltaInfo(bytes.NewReader(delta.Bytes()), int64(delta.Len()))
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("tree %d MB, %d files; pack %d bytes; delta %d bytes (%.3f %%): %d same, %d patched, %d whole",
		info.Size>>20, len(names), full.Len(), delta.Len(), 100*float64(delta.Len())/float64(full.Len()), info.Same, info.Patched, info.Whole)
	// Outputs are kept until the end: removing one just before the next run made
	// that run pay for it on ext4 without a journal, where creating a file skips
	// (looking each one up) the inodes deleted in the last minute, so whichever
	// sub-benchmark ran second measured up to 3 times slower.
	n := 0
	dest := func() string { n++; return filepath.Join(dir, "out"+strconv.Itoa(n)) }
	b.Run("size", func(b *testing.B) {
		for b.Loop() {
		}
		b.ReportMetric(100*float64(delta.Len())/float64(full.Len()), "delta-%-of-pack")
		b.ReportMetric(float64(delta.Len()), "delta-bytes")
		b.ReportMetric(float64(full.Len()), "pack-bytes")
	})
	b.Run("rebuild/extract-full", func(b *testing.B) {
		b.SetBytes(info.Size)
		b.ReportAllocs()
		for b.Loop() {
			d := dest()
			if _, err := Extract(ctx, bytes.NewReader(full.Bytes()), int64(full.Len()), d, WithoutSync()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rebuild/apply-delta", func(b *testing.B) {
		b.SetBytes(info.Size)
		b.ReportAllocs()
		for b.Loop() {
			d := dest()
			if _, err := ApplyDelta(ctx, bytes.NewReader(delta.Bytes()), int64(delta.Len()), oldDir, d, WithoutSync()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("build/pack", func(b *testing.B) {
		b.SetBytes(info.Size)
		for b.Loop() {
			var w countingDiscard
			if err := BuildDir(ctx, &w, newDir, WithMethod(Zstd)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("build/3-deltas", func(b *testing.B) {
		// Three earlier versions, each 5 % apart from the next.
		olds := []string{oldDir}
		for i := 1; i < 3; i++ {
			o := filepath.Join(dir, "older"+strconv.Itoa(i))
			copyTreeChanged(b, olds[i-1], o, names, uint64(7+i))
			olds = append(olds, o)
		}
		b.SetBytes(3 * info.Size)
		for b.Loop() {
			for _, o := range olds {
				var w countingDiscard
				if err := BuildDeltaDir(ctx, &w, o, newDir); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
