package pack

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	var cpu time.Duration
	for b.Loop() {
		dest := filepath.Join(into, fmt.Sprintf("out-%d", i))
		i++
		c := processCPU()
		if err := extract(dest); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - c
		b.StopTimer()
		os.RemoveAll(dest)
		b.StartTimer()
	}
	reportCPU(b, cpu, bp.output)
}

// reportCPU reports the CPU time (user and system, all threads) per operation and
// the throughput it gives on two cores ("MB/s-2cores-cpu"): on a machine shared with
// other work, wall times swing by 2 or 3 times from one run to the next, CPU time
// much less, so ratios are read from it.
func reportCPU(b *testing.B, cpu time.Duration, bytes int64) {
	if cpu <= 0 || b.N == 0 {
		return
	}
	per := cpu / time.Duration(b.N)
	b.ReportMetric(float64(per.Milliseconds()), "cpu-ms/op")
	b.ReportMetric(2*float64(bytes)/per.Seconds()/1e6, "MB/s-2cores-cpu")
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

// inflateInMemory decompresses every file entry of the pack in r (size bytes) into
// memory and drops the output, as Extract's workers would with no file system under
// them: the same jobs (planJobs), number of workers, buffers, decoders and reads (a
// pread of each batch of small entries, a buffered section reader for each large
// one), but no CRC-32, no file created, written or closed. It is the upper bound of
// what extraction could reach. The pack is read from its file, in the page cache
// once read, as Extract reads it: reading it from a []byte on the heap instead was
// slower (the copy out of 200 MB of 4 KiB pages misses the TLB where the kernel's
// copy out of the page cache does not) and swung from run to run by 1.5 times.
func inflateInMemory(r io.ReaderAt, size int64, workers int) error {
	a, err := openArchive(r, size, DefaultLimits(), false)
	if err != nil {
		return err
	}
	var files []*file
	for _, f := range a.files {
		if f.kind == kindFile {
			files = append(files, f)
		}
	}
	jobs := planJobs(files)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for k := range min(workers, max(len(jobs), 1)) {
		wg.Go(func() {
			w := newWorker()
			defer w.dec.close()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) {
					return
				}
				if errs[k] = inflateJob(a, w, &jobs[i]); errs[k] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// inflateJob is runJob with the output dropped.
func inflateJob(a *archive, w *worker, j *job) error {
	drain := func(r io.Reader, err error) error {
		for err == nil {
			_, err = io.ReadFull(r, w.buf)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		return err
	}
	if j.end <= j.off {
		for _, f := range j.files {
			if err := drain(w.dec.open(a, f, w.br)); err != nil {
				return err
			}
		}
		return nil
	}
	n := int(j.end - j.off)
	if cap(w.batch) < n {
		w.batch = make([]byte, max(n, batchSize))
	}
	b := w.batch[:n]
	if _, err := a.r.ReadAt(b, j.off); err != nil {
		return err
	}
	for _, f := range j.files {
		w.src.Reset(b[f.dataOffset-j.off : f.dataOffset-j.off+int64(f.csize)])
		if err := drain(w.dec.openReader(f, &w.src)); err != nil {
			return err
		}
	}
	return nil
}

// loadTree extracts bp once and reads the tree back into memory, folders parents
// first and files largest first (so that, shared out one at a time, none is left
// alone at the end), for the write floor.
func loadTree(b *testing.B, f *os.File, bp benchPack, into string) *smallTree {
	b.Helper()
	dir := filepath.Join(into, "tree-in-memory")
	_, err := Extract(context.Background(), f, bp.size, dir, WithoutSync())
	require.NoError(b, err)
	defer os.RemoveAll(dir)
	t := &smallTree{}
	require.NoError(b, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel := filepath.ToSlash(p[len(dir)+1:])
		if d.IsDir() {
			t.dirs = append(t.dirs, rel)
			return nil
		}
		data, err := os.ReadFile(p)
		t.files = append(t.files, smallFile{name: rel, data: data})
		t.bytes += int64(len(data))
		return err
	}))
	require.Equal(b, bp.output, t.bytes)
	slices.SortStableFunc(t.files, func(x, y smallFile) int { return cmp.Compare(len(y.data), len(x.data)) })
	return t
}

// writeFloorN is writeFloor with n goroutines taking the files one at a time.
func (t *smallTree) writeFloorN(dest string, n int) error {
	for _, d := range append([]string{""}, t.dirs...) {
		if err := os.Mkdir(filepath.Join(dest, d), 0o755); err != nil {
			return err
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, n)
	for w := range n {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(t.files) {
					return
				}
				f := t.files[i]
				out, err := os.OpenFile(filepath.Join(dest, f.name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
				if err == nil {
					_, err = out.Write(f.data)
					if cerr := out.Close(); err == nil {
						err = cerr
					}
				}
				if err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// extractWorkers is the number of workers Extract uses by default.
func extractWorkers(tb testing.TB) int {
	o, err := newOptions(nil)
	require.NoError(tb, err)
	return o.workers
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
//
// upkeep-vs-in-memory runs, in each iteration, one extraction, one in-memory
// inflate (inflateInMemory, with as many workers as Extract uses) and one write of
// the same tree from memory (the write floor: folders, then files created, written
// and closed by as many goroutines), in an order that rotates, each after a garbage
// collection. It reports extraction's throughput as a share of the in-memory
// inflate's, from wall times ("ratio-wall") and from CPU times ("ratio-cpu"), and
// the CPU time of the inflate and the write floor together as a share of
// extraction's ("ratio-cpu-vs-inflate+write": near 1, what extraction spends beyond
// the inflate is the writing itself). The three see the same load, so the ratios
// hold still where the separate sub-benchmarks' figures swing by 2 times on a
// shared machine.
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
			f := openPack(b, bp)
			b.SetBytes(bp.output)
			b.ReportAllocs()
			var cpu time.Duration
			for b.Loop() {
				c := processCPU()
				if err := inflateInMemory(f, bp.size, extractWorkers(b)); err != nil {
					b.Fatal(err)
				}
				cpu += processCPU() - c
			}
			reportCPU(b, cpu, bp.output)
		})
		b.Run("upkeep-vs-in-memory/"+m.String(), func(b *testing.B) {
			f := openPack(b, bp)
			workers := extractWorkers(b)
			tree := loadTree(b, f, bp, into)
			var up, mem, floor, upCPU, memCPU, floorCPU time.Duration
			timed := func(wall, cpu *time.Duration, run func() error) {
				b.StopTimer()
				runtime.GC()
				b.StartTimer()
				c, t := processCPU(), time.Now()
				if err := run(); err != nil {
					b.Fatal(err)
				}
				*wall += time.Since(t)
				*cpu += processCPU() - c
			}
			b.SetBytes(2 * bp.output) // an extraction and an in-memory inflate
			i := 0
			for b.Loop() {
				dest := filepath.Join(into, fmt.Sprintf("out-%d", i))
				steps := []func(){
					func() {
						timed(&up, &upCPU, func() error {
							_, err := Extract(context.Background(), f, bp.size, dest, WithoutSync())
							return err
						})
					},
					func() {
						timed(&mem, &memCPU, func() error { return inflateInMemory(f, bp.size, workers) })
					},
					func() {
						timed(&floor, &floorCPU, func() error { return tree.writeFloorN(dest+"-floor", workers) })
					},
				}
				for k := range steps {
					steps[(i+k)%len(steps)]()
				}
				i++
				b.StopTimer()
				os.RemoveAll(dest)
				os.RemoveAll(dest + "-floor")
				b.StartTimer()
			}
			mbps := func(d time.Duration) float64 { return float64(bp.output) * float64(b.N) / d.Seconds() / 1e6 }
			b.ReportMetric(mem.Seconds()/up.Seconds(), "ratio-wall")
			if upCPU > 0 {
				b.ReportMetric(memCPU.Seconds()/upCPU.Seconds(), "ratio-cpu")
				b.ReportMetric((memCPU+floorCPU).Seconds()/upCPU.Seconds(), "ratio-cpu-vs-inflate+write")
			}
			b.ReportMetric(mbps(up), "upkeep-MB/s")
			b.ReportMetric(mbps(mem), "in-memory-MB/s")
			b.ReportMetric(mbps(floor), "write-floor-MB/s")
			b.ReportMetric(float64(upCPU.Milliseconds())/float64(b.N), "upkeep-cpu-ms/op")
			b.ReportMetric(float64(memCPU.Milliseconds())/float64(b.N), "in-memory-cpu-ms/op")
			b.ReportMetric(float64(floorCPU.Milliseconds())/float64(b.N), "write-floor-cpu-ms/op")
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

// smallTree is a node_modules-like tree held in memory: 30,000 files of 0.2–12 KB
// of compressible text (185 MB in all) in a few thousand folders, from a fixed seed.
type smallTree struct {
	dirs  []string // every folder, parents first
	files []smallFile
	bytes int64
}

type smallFile struct {
	name string
	data []byte
}

func makeSmallTree() *smallTree {
	rnd := rand.New(rand.NewPCG(7, 30000))
	words := make([]string, 3000)
	for i := range words {
		w := make([]byte, 2+rnd.IntN(10))
		for j := range w {
			w[j] = byte('a' + rnd.IntN(26))
		}
		words[i] = string(w)
	}
	punct := []string{" ", " ", " ", " ", ". ", ", ", "(", ") ", " = ", ";\n", "{\n  ", "\n}\n"}
	t := &smallTree{}
	seen := map[string]bool{}
	addDir := func(d string) {
		for i := 0; i <= len(d); i++ {
			if (i == len(d) || d[i] == '/') && !seen[d[:i]] {
				seen[d[:i]] = true
				t.dirs = append(t.dirs, d[:i])
			}
		}
	}
	subdirs := []string{"", "lib/", "dist/", "src/", "lib/utils/", "dist/esm/", "types/"}
	exts := []string{".js", ".js", ".js", ".ts", ".json", ".md", ".map", ".cjs"}
	var text bytes.Buffer
	for pkg := 0; len(t.files) < 30000; pkg++ {
		base := "node_modules/" + words[pkg%len(words)] + "-" + strconv.Itoa(pkg) + "/"
		if pkg%7 == 3 {
			base = "node_modules/@" + words[(pkg*13)%len(words)] + "/" + words[pkg%len(words)] + "-" + strconv.Itoa(pkg) + "/"
		}
		n := 5 + rnd.IntN(30)
		for i := 0; i < n && len(t.files) < 30000; i++ {
			dir := base + subdirs[rnd.IntN(len(subdirs))]
			addDir(strings.TrimSuffix(dir, "/"))
			size := 200 + rnd.IntN(12<<10-200)
			// Words drawn with a skew, and lines often repeated, compress about 3:1,
			// as JavaScript does.
			text.Reset()
			var lines []int
			for text.Len() < size {
				if len(lines) > 4 && rnd.IntN(3) != 0 {
					from := lines[rnd.IntN(len(lines)-1)]
					line := text.Bytes()[from:]
					if i := bytes.IndexByte(line, '\n'); i >= 0 {
						text.Write(bytes.Clone(line[:i+1]))
					}
					continue
				}
				lines = append(lines, text.Len())
				for range 3 + rnd.IntN(8) {
					text.WriteString(words[rnd.IntN(1+rnd.IntN(1+rnd.IntN(len(words))))])
					text.WriteString(punct[rnd.IntN(len(punct))])
				}
				text.WriteByte('\n')
			}
			data := bytes.Clone(text.Bytes()[:size])
			t.files = append(t.files, smallFile{name: dir + words[rnd.IntN(len(words))] + strconv.Itoa(i) + exts[rnd.IntN(len(exts))], data: data})
			t.bytes += int64(size)
		}
	}
	return t
}

// pack writes the tree under a scratch folder and builds a pack of it to p.
func (t *smallTree) pack(tb testing.TB, p string) {
	tb.Helper()
	dir, err := os.MkdirTemp(scratchDir(tb), "small-*")
	require.NoError(tb, err)
	defer os.RemoveAll(dir)
	require.NoError(tb, t.writeFloor(filepath.Join(dir, "tree")))
	f, err := os.Create(p)
	require.NoError(tb, err)
	require.NoError(tb, BuildDir(context.Background(), f, filepath.Join(dir, "tree"), WithModTime(time.Unix(1700000000, 0))))
	require.NoError(tb, f.Close())
}

// writeFloor writes the tree's files from memory with two goroutines, folders
// first: the least any extraction must do.
func (t *smallTree) writeFloor(dest string) error { return t.writeFloorN(dest, 2) }

// BenchmarkExtractSmallFiles extracts a node_modules-like pack (30,000 files of
// 0.2–12 KB, 185 MB) into tmpfs: upkeep's Extract, archive/zip extracting
// sequentially, and the floor, writing the same files from memory with two
// goroutines. Read the ratios within one run.
func BenchmarkExtractSmallFiles(b *testing.B) {
	if testing.Short() {
		b.Skip("generates a 185 MB tree")
	}
	tree := makeSmallTree()
	p := filepath.Join(b.TempDir(), "small.zip")
	tree.pack(b, p)
	fi, err := os.Stat(p)
	require.NoError(b, err)
	bp := benchPack{path: p, size: fi.Size(), output: tree.bytes}
	b.Logf("pack: %d files, %d folders, %d bytes for %d bytes of output", len(tree.files), len(tree.dirs), bp.size, bp.output)
	into := scratchDir(b)
	b.Run("upkeep", func(b *testing.B) {
		f := openPack(b, bp)
		loopExtract(b, bp, into, func(dest string) error {
			_, err := Extract(context.Background(), f, bp.size, dest, WithoutSync())
			return err
		})
	})
	b.Run("stdlib-sequential", func(b *testing.B) {
		f := openPack(b, bp)
		loopExtract(b, bp, into, func(dest string) error { return stdlibExtract(f, bp.size, dest) })
	})
	b.Run("floor-write-from-memory", func(b *testing.B) {
		loopExtract(b, bp, into, tree.writeFloor)
	})
}

// TestWriteSmallTreePack writes BenchmarkExtractSmallFiles' pack to the file named
// by PACK_SMALL_TREE, to time the command on it (`upkeep pack extract` against
// `unzip`).
func TestWriteSmallTreePack(t *testing.T) {
	out := os.Getenv("PACK_SMALL_TREE")
	if out == "" {
		t.Skip("set PACK_SMALL_TREE=FILE.zip to write the node_modules-like pack")
	}
	makeSmallTree().pack(t, out)
}
