//go:build linux

package update_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// BenchmarkDownload downloads a pack from a loopback server, checking its sha256 and
// signature on the fly, and reports the peak Go heap during the download and the
// process's peak resident size: both stay flat whatever the pack size (64 MiB, and
// 1 GiB without -short).
func BenchmarkDownload(b *testing.B) {
	sizes := []int64{64 << 20, 1 << 30}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, size := range sizes {
		b.Run(byteSize(size), func(b *testing.B) {
			root := benchDir(b)
			repo := updatetest.NewRepo(b)
			name := "web-1.0.0.zip"
			p := filepath.Join(repo.Dir, name)
			f, err := os.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			f.Truncate(size) // sparse: the bytes do not matter, only their count
			f.Close()
			f, _ = os.Open(p)
			h := sha256.New()
			io.Copy(h, f)
			f.Seek(0, io.SeekStart)
			bind := signature.Binding{File: name, Module: "web", Version: "1.0.0", Platform: platform}
			sig, err := signature.Sign(repo.Key, f, bind.String())
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
			os.WriteFile(p+".minisig", sig, 0o644)
			rel := &manifest.Release{Module: "web", Version: "1.0.0"}
			pk := &manifest.Pack{Platform: platform, File: name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}
			url := repo.Serve()
			eng, err := update.New(update.Config{Source: url, Keys: []string{repo.PubFile}, StateDir: filepath.Join(root, "state"),
				Modules: []update.ModuleConfig{{Name: "web", Path: filepath.Join(root, "web")}}})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			b.ReportAllocs()
			var peakHeap uint64
			for b.Loop() {
				stop := make(chan struct{})
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					var ms runtime.MemStats
					for {
						runtime.ReadMemStats(&ms)
						peakHeap = max(peakHeap, ms.HeapInuse)
						select {
						case <-stop:
							return
						case <-time.After(20 * time.Millisecond):
						}
					}
				}()
				got, err := update.Download(eng, context.Background(), "web", rel, pk)
				close(stop)
				wg.Wait()
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.Remove(got)
				b.StartTimer()
			}
			var ru syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MiB")
		})
	}
}

func byteSize(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%dGiB", n>>30)
	}
	return fmt.Sprintf("%dMiB", n>>20)
}
