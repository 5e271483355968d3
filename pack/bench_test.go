package pack

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/testenv"
)

// benchTree writes a realistic module tree of about scale × 256 MiB under dir:
// compressible text files, incompressible binaries, and one large binary that
// compresses a little, like an executable. It returns the bytes written.
func benchTree(tb testing.TB, dir string, scale int) int64 {
	tb.Helper()
	rnd := rand.New(rand.NewPCG(42, uint64(scale)))
	words := make([]string, 2000)
	for i := range words {
		w := make([]byte, 2+rnd.IntN(9))
		for j := range w {
			w[j] = byte('a' + rnd.IntN(26))
		}
		words[i] = string(w)
	}
	var total int64
	write := func(name string, data []byte, mode os.FileMode) {
		p := filepath.Join(dir, name)
		require.NoError(tb, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(tb, os.WriteFile(p, data, mode))
		total += int64(len(data))
	}
	random := func(n int, mask uint64) []byte {
		b := make([]byte, n+8)
		for i := 0; i < n; i += 8 {
			v := rnd.Uint64() & mask
			for k := range 8 {
				b[i+k] = byte(v >> (8 * k))
			}
		}
		return b[:n]
	}
	var text bytes.Buffer
	for i := range 2400 * scale {
		text.Reset()
		size := 8<<10 + rnd.IntN(64<<10)
		for text.Len() < size {
			text.WriteString(words[rnd.IntN(len(words))])
			if rnd.IntN(12) == 0 {
				text.WriteByte('\n')
			} else {
				text.WriteByte(' ')
			}
		}
		write(fmt.Sprintf("share/doc%02d/page%05d.txt", i%40, i), text.Bytes(), 0o644)
	}
	for i := range 600 * scale {
		write(fmt.Sprintf("lib/blob%02d/asset%05d.bin", i%20, i), random(32<<10+rnd.IntN(192<<10), ^uint64(0)), 0o644)
	}
	write("bin/server", random(96<<20*scale, 0x3f3f3f3f3f3f3f3f), 0o755)
	return total
}

// benchPack holds a generated pack file and what it expands to.
type benchPack struct {
	path   string
	size   int64
	output int64
}

// makeBenchPacks generates the tree in a scratch folder and builds one pack per
// method into dir.
func makeBenchPacks(tb testing.TB, dir string, scale int, methods ...Method) map[Method]benchPack {
	tb.Helper()
	tree, err := os.MkdirTemp(scratchDir(tb), "tree-*")
	require.NoError(tb, err)
	defer os.RemoveAll(tree)
	output := benchTree(tb, tree, scale)
	packs := map[Method]benchPack{}
	for _, m := range methods {
		p := filepath.Join(dir, "bench-"+m.String()+".zip")
		f, err := os.Create(p)
		require.NoError(tb, err)
		require.NoError(tb, BuildDir(context.Background(), f, tree, WithMethod(m)))
		fi, err := f.Stat()
		require.NoError(tb, err)
		require.NoError(tb, f.Close())
		packs[m] = benchPack{path: p, size: fi.Size(), output: output}
	}
	return packs
}

// scratchDir is where extractions go: tmpfs when there is one, so that the work
// measured is the extraction's, not the disk's.
func scratchDir(tb testing.TB) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "pack-bench-*")
		if err == nil {
			tb.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return tb.TempDir()
}

// loopExtract runs extract into a fresh destination per iteration, removing it with
// the timer stopped.
func loopExtract(b *testing.B, bp benchPack, into string, extract func(dest string) error) {
	b.SetBytes(bp.output)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dest := filepath.Join(into, fmt.Sprintf("out-%d", i))
		i++
		if err := extract(dest); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dest)
		b.StartTimer()
	}
}

func openPack(b *testing.B, bp benchPack) *os.File {
	f, err := os.Open(bp.path)
	require.NoError(b, err)
	b.Cleanup(func() { f.Close() })
	return f
}

// stdlibExtract is the baseline: archive/zip, one entry after the other.
func stdlibExtract(f *os.File, size int64, dest string) error {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return err
	}
	zr.RegisterDecompressor(uint16(Zstd), zstd.ZipDecompressor())
	if err := os.Mkdir(dest, 0o755); err != nil {
		return err
	}
	for _, zf := range zr.File {
		p := filepath.Join(dest, filepath.FromSlash(zf.Name))
		if strings.HasSuffix(zf.Name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		rc, err := zf.Open()
		if err != nil {
			return err
		}
		out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, zf.Mode().Perm())
		if err != nil {
			rc.Close()
			return err
		}
		_, err = io.Copy(out, rc)
		rc.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// inflateInMemory decompresses every entry of the pack held in memory to io.Discard
// on all cores: the upper bound of what extraction could reach.
func inflateInMemory(data []byte) error {
	a, err := openArchive(bytes.NewReader(data), int64(len(data)), DefaultLimits(), false)
	if err != nil {
		return err
	}
	files := make(chan *file, len(a.files))
	for _, f := range a.files {
		if f.kind == kindFile {
			files <- f
		}
	}
	close(files)
	var wg sync.WaitGroup
	errs := make(chan error, runtime.GOMAXPROCS(0))
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var d decoders
			defer d.close()
			br := newReadBuffer()
			buf := make([]byte, copyBufSize)
			for f := range files {
				r, err := d.open(a, f, br)
				for err == nil {
					_, err = io.ReadFull(r, buf)
				}
				if err != io.EOF && err != io.ErrUnexpectedEOF {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func sha256Verify(r io.Reader) error {
	h := sha256.New()
	_, err := io.CopyBuffer(h, r, make([]byte, 256<<10))
	return err
}

// BenchmarkExtract compares upkeep's extraction (with and without a SHA-256 pass
// standing in for signature verification) with archive/zip extracting sequentially,
// with decompressing the pack in memory on all cores, and with `unzip -q`, on a
// generated pack of about 266 MiB of output, into tmpfs. Read the ratios within one
// run; absolute figures depend on the machine's load.
func BenchmarkExtract(b *testing.B) {
	if testing.Short() {
		b.Skip("generates a 266 MiB tree")
	}
	packs := makeBenchPacks(b, b.TempDir(), 1, Deflate, Zstd)
	into := scratchDir(b)
	for _, m := range []Method{Deflate, Zstd} {
		bp := packs[m]
		b.Logf("%s pack: %d bytes for %d bytes of output", m, bp.size, bp.output)
		b.Run("upkeep/"+m.String(), func(b *testing.B) {
			f := openPack(b, bp)
			loopExtract(b, bp, into, func(dest string) error {
				_, err := Extract(context.Background(), f, bp.size, dest, WithoutSync())
				return err
			})
		})
		b.Run("upkeep+sha256/"+m.String(), func(b *testing.B) {
			f := openPack(b, bp)
			loopExtract(b, bp, into, func(dest string) error {
				_, err := Extract(context.Background(), f, bp.size, dest, WithoutSync(), WithVerify(sha256Verify))
				return err
			})
		})
		b.Run("stdlib-sequential/"+m.String(), func(b *testing.B) {
			f := openPack(b, bp)
			loopExtract(b, bp, into, func(dest string) error { return stdlibExtract(f, bp.size, dest) })
		})
		b.Run("in-memory-all-cores/"+m.String(), func(b *testing.B) {
			data, err := os.ReadFile(bp.path)
			require.NoError(b, err)
			b.SetBytes(bp.output)
			b.ReportAllocs()
			for b.Loop() {
				if err := inflateInMemory(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		if m == Deflate {
			b.Run("unzip-q/"+m.String(), func(b *testing.B) {
				unzip := testenv.NeedProgram(b, "unzip", "unzip")
				loopExtract(b, bp, into, func(dest string) error {
					out, err := exec.Command(unzip, "-q", bp.path, "-d", dest).CombinedOutput()
					if err != nil {
						return fmt.Errorf("unzip: %v: %s", err, out)
					}
					return nil
				})
			})
		}
	}
}

// BenchmarkExtractDurable compares the ways of making the tree durable before the
// rename, extracting onto the disk that holds the temporary folder (not tmpfs).
func BenchmarkExtractDurable(b *testing.B) {
	if testing.Short() {
		b.Skip("generates a 266 MiB tree")
	}
	bp := makeBenchPacks(b, b.TempDir(), 1, Deflate)[Deflate]
	into := b.TempDir()
	for _, c := range []struct {
		name string
		mode syncMode
	}{{"fsync-each", syncPerFile}, {"syncfs", syncFS}, {"none", syncNone}} {
		b.Run(c.name, func(b *testing.B) {
			if c.mode == syncFS && runtime.GOOS != "linux" {
				b.Skip("syncfs is Linux only")
			}
			f := openPack(b, bp)
			loopExtract(b, bp, into, func(dest string) error {
				_, err := Extract(context.Background(), f, bp.size, dest, withSyncMode(c.mode))
				return err
			})
		})
	}
}
