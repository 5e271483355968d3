package pack

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/testenv"
)

// TestApplyDeltaHelperProcess applies PACK_HELPER_DELTA to PACK_HELPER_BASE into
// PACK_HELPER_DEST when PACK_HELPER=1: the child process whose peak RSS
// BenchmarkDeltaBinary measures.
func TestApplyDeltaHelperProcess(t *testing.T) {
	if os.Getenv("PACK_HELPER") != "1" {
		t.Skip("helper process of BenchmarkDeltaBinary")
	}
	defer printPeakRSS(t)
	src := os.Getenv("PACK_HELPER_DELTA")
	if src == "" {
		return
	}
	f, err := os.Open(src)
	require.NoError(t, err)
	defer f.Close()
	fi, err := f.Stat()
	require.NoError(t, err)
	_, err = ApplyDelta(context.Background(), f, fi.Size(), os.Getenv("PACK_HELPER_BASE"), os.Getenv("PACK_HELPER_DEST"), WithoutSync())
	require.NoError(t, err)
}

// binPair is an old and a new version of one binary, each alone in a folder as
// "app".
type binPair struct {
	name     string
	old, new string // folders
}

// goBuild runs go build -trimpath in dir with args.
func goBuild(b *testing.B, dir string, args ...string) {
	b.Helper()
	cmd := exec.Command("go", append([]string{"build", "-trimpath"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %v: %v: %s", args, err, out)
	}
}

// copyModule copies the module's files (not .git) from root into dst.
func copyModule(b *testing.B, root, dst string) {
	b.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && (d.Name() == ".git" || rel == filepath.Join("pack", "testdata")) {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	require.NoError(b, err)
}

// binPairs builds the three pairs of BenchmarkDeltaBinary in dir.
func binPairs(b *testing.B, dir string) []binPair {
	b.Helper()
	root, err := filepath.Abs("..")
	require.NoError(b, err)
	mk := func(name string) binPair {
		p := binPair{name: name, old: filepath.Join(dir, name, "old"), new: filepath.Join(dir, name, "new")}
		require.NoError(b, os.MkdirAll(p.old, 0o755))
		require.NoError(b, os.MkdirAll(p.new, 0o755))
		return p
	}
	var pairs []binPair

	// The example server, built twice with another version string.
	srv := mk("server-version")
	goBuild(b, root, "-ldflags=-X main.version=1.0.0", "-o", filepath.Join(srv.old, "app"), "./examples/selfupdating-server")
	goBuild(b, root, "-ldflags=-X main.version=1.0.1", "-o", filepath.Join(srv.new, "app"), "./examples/selfupdating-server")
	pairs = append(pairs, srv)

	// The upkeep command, before and after a one-line change of its code, built
	// from a copy of the module.
	uk := mk("upkeep-one-line")
	mod := filepath.Join(dir, "module")
	copyModule(b, root, mod)
	goBuild(b, mod, "-o", filepath.Join(uk.old, "app"), "./examples/upkeep")
	mainGo := filepath.Join(mod, "examples", "upkeep", "main.go")
	src, err := os.ReadFile(mainGo)
	require.NoError(b, err)
	const line = "\tif len(args) == 0 {\n"
	require.Equal(b, 1, bytes.Count(src, []byte(line)), "the line changed in %s", mainGo)
	src = bytes.Replace(src, []byte(line), []byte("\tif len(args) == 0 || args[0] == \"\" {\n"), 1)
	require.NoError(b, os.WriteFile(mainGo, src, 0o644))
	goBuild(b, mod, "-o", filepath.Join(uk.new, "app"), "./examples/upkeep")
	pairs = append(pairs, uk)

	// A binary-like file with 1 % of its bytes edited at scattered places.
	mb := 100
	if v := os.Getenv("UPKEEP_BENCH_BIN_MB"); v != "" {
		mb, err = strconv.Atoi(v)
		require.NoError(b, err, "UPKEEP_BENCH_BIN_MB")
	}
	gen := mk(fmt.Sprintf("%dMB-1%%-edits", mb))
	old, cur := binaryLikePair(mb<<20, 1)
	require.NoError(b, os.WriteFile(filepath.Join(gen.old, "app"), old, 0o644))
	require.NoError(b, os.WriteFile(filepath.Join(gen.new, "app"), cur, 0o644))
	return append(pairs, gen)
}

// BenchmarkDeltaBinary measures, on three pairs of binaries (the example server
// built with two version strings, the upkeep command before and after a one-line
// change, a binary-like file of UPKEEP_BENCH_BIN_MB MB (default 100) with 1 % of its
// bytes edited), the size of the binary's patch in the delta against `zstd -19
// --long=27 --patch-from=OLD NEW` run on the same pair (metric "x-zstd": at most 1.5
// is the goal), the time to build the delta (ns/op of "build"), and the peak RSS of a
// process applying it (metric "peak-RSS-MiB", beside "idle-RSS-MiB" of the same
// process applying nothing).
func BenchmarkDeltaBinary(b *testing.B) {
	zstdCmd := testenv.NeedProgram(b, "zstd", "zstd")
	dir := b.TempDir()
	pairs := binPairs(b, dir)
	ctx := context.Background()
	child := func(delta, base, dest string) int64 {
		rss, err := helperPeakRSS("TestApplyDeltaHelperProcess", "PACK_HELPER_DELTA="+delta, "PACK_HELPER_BASE="+base, "PACK_HELPER_DEST="+dest)
		require.NoError(b, err)
		return rss
	}
	idle := child("", "", "")
	n := 0
	for _, p := range pairs {
		oldApp, newApp := filepath.Join(p.old, "app"), filepath.Join(p.new, "app")
		fi, err := os.Stat(newApp)
		require.NoError(b, err)
		zout := filepath.Join(dir, p.name+".zst")
		cmd := exec.Command(zstdCmd, "-q", "-f", "-19", "--long=27", "--patch-from="+oldApp, newApp, "-o", zout)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v: %s", cmd, err, out)
		}
		zfi, err := os.Stat(zout)
		require.NoError(b, err)
		deltaPath := filepath.Join(dir, p.name+".delta.zip")
		var delta bytes.Buffer
		require.NoError(b, BuildDeltaDir(ctx, &delta, p.old, p.new))
		require.NoError(b, os.WriteFile(deltaPath, delta.Bytes(), 0o644))
		info, err := ReadDeltaInfo(bytes.NewReader(delta.Bytes()), int64(delta.Len()))
		require.NoError(b, err)
		patch := info.Entries[0].Data
		require.Equal(b, DeltaPatch, info.Entries[0].Op)
		b.Logf("%s: %d-byte binary: patch %d bytes, zstd -19 --long=27 --patch-from %d bytes (%.3fx), delta %d bytes",
			p.name, fi.Size(), patch, zfi.Size(), float64(patch)/float64(zfi.Size()), delta.Len())
		b.Run(p.name+"/build", func(b *testing.B) {
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			for b.Loop() {
				var w countingDiscard
				if err := BuildDeltaDir(ctx, &w, p.old, p.new); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(patch), "patch-bytes")
			b.ReportMetric(float64(zfi.Size()), "zstd19-bytes")
			b.ReportMetric(float64(patch)/float64(zfi.Size()), "x-zstd")
		})
		b.Run(p.name+"/apply", func(b *testing.B) {
			b.SetBytes(fi.Size())
			var peak int64
			for b.Loop() {
				n++
				peak = max(peak, child(deltaPath, p.old, filepath.Join(dir, "out"+strconv.Itoa(n))))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
			b.ReportMetric(float64(idle)/(1<<20), "idle-RSS-MiB")
		})
	}
}
