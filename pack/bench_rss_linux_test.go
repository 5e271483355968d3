package pack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestExtractHelperProcess extracts PACK_HELPER_PACK into PACK_HELPER_DEST when they
// are set: the child process whose peak RSS BenchmarkExtractPeakRSS measures.
func TestExtractHelperProcess(t *testing.T) {
	src, dest := os.Getenv("PACK_HELPER_PACK"), os.Getenv("PACK_HELPER_DEST")
	if os.Getenv("PACK_HELPER") != "1" {
		t.Skip("helper process of BenchmarkExtractPeakRSS")
	}
	defer printPeakRSS(t)
	if src == "" {
		return
	}
	f, err := os.Open(src)
	require.NoError(t, err)
	defer f.Close()
	fi, err := f.Stat()
	require.NoError(t, err)
	_, err = Extract(context.Background(), f, fi.Size(), dest, WithoutSync())
	require.NoError(t, err)
}

// BenchmarkExtractPeakRSS measures the peak resident memory of a child process
// extracting a pack of about 1 GiB of output, beside the same child doing nothing.
func BenchmarkExtractPeakRSS(b *testing.B) {
	if testing.Short() {
		b.Skip("generates a 1 GiB tree")
	}
	packs := makeBenchPacks(b, b.TempDir(), 4, Deflate, Zstd)
	into := scratchDir(b)
	child := func(src, dest string) (int64, error) {
		return helperPeakRSS("TestExtractHelperProcess", "PACK_HELPER_PACK="+src, "PACK_HELPER_DEST="+dest)
	}
	base, err := child("", "")
	require.NoError(b, err)
	for _, m := range []Method{Deflate, Zstd} {
		bp := packs[m]
		b.Run(m.String(), func(b *testing.B) {
			b.SetBytes(bp.output)
			var peak int64
			i := 0
			for b.Loop() {
				dest := filepath.Join(into, fmt.Sprintf("rss-%d", i))
				i++
				rss, err := child(bp.path, dest)
				require.NoError(b, err)
				peak = max(peak, rss)
				b.StopTimer()
				os.RemoveAll(dest)
				b.StartTimer()
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
			b.ReportMetric(float64(base)/(1<<20), "idle-child-RSS-MiB")
			b.ReportMetric(float64(bp.output)/(1<<20), "output-MiB")
		})
	}
}

// printPeakRSS prints this process's peak resident memory as "PEAK n kB", which
// helperPeakRSS reads: VmHWM is the process's own peak (ru_maxrss would include the
// parent's memory at the time it was forked).
func printPeakRSS(t *testing.T) {
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Println("PEAK", strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")))
		}
	}
}

// helperPeakRSS runs the test binary's helper test named test (PACK_HELPER=1 and
// env set) and returns the peak resident memory it printed, in bytes.
func helperPeakRSS(test string, env ...string) (int64, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = append(append(os.Environ(), "PACK_HELPER=1"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	_, rest, ok := strings.Cut(string(out), "PEAK ")
	var kb int64
	if _, err := fmt.Sscanf(rest, "%d kB", &kb); !ok || err != nil {
		return 0, fmt.Errorf("no peak in the child's output: %s", out)
	}
	return kb << 10, nil
}
