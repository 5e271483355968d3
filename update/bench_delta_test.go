package update_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// countingServer serves a repository folder, counting the body bytes it sends.
type countingServer struct {
	h    http.Handler
	sent atomic.Int64
}

func (c *countingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.h.ServeHTTP(&countingWriter{ResponseWriter: w, n: &c.sent}, r)
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

// BenchmarkDeltaInstall measures an update from 1.0.0 to 1.1.0 of a 9.6 MB tree of
// 600 text files where 5 % of the files changed (a few lines each), from a loopback
// server: through the delta beside the full pack (a repository without deltas). It
// reports the bytes downloaded per install (downloaded-B/op) and the pack's or
// delta's size; SetBytes is the tree's size.
func BenchmarkDeltaInstall(b *testing.B) {
	v1, v2 := deltaTrees(600, 16000)
	var size int64
	for _, c := range v2 {
		size += int64(len(c))
	}
	for _, c := range []struct {
		name   string
		deltas int
	}{{"full", 0}, {"delta", 1}} {
		b.Run(c.name, func(b *testing.B) {
			e := newBenchEnv(b)
			e.repo.Publish("web", "1.0.0", platform, v1)
			e.repo.Publish("web", "1.1.0", platform, v2, publish.WithDeltas(c.deltas))
			cs := &countingServer{h: publish.FileServer(e.repo.Dir)}
			srv := httptest.NewServer(cs)
			b.Cleanup(srv.Close)
			e.cfg.Source = srv.URL + "/"
			eng, err := update.New(e.cfg, updatetest.WithoutSync())
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			b.ReportAllocs()
			var sent, iters int64
			for b.Loop() {
				cs.sent.Store(0)
				res, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.1.0"})
				if err != nil {
					b.Fatal(err)
				}
				if (len(res.Deltas) == 1) != (c.deltas == 1) {
					b.Fatalf("deltas used: %v", res.Deltas)
				}
				sent += cs.sent.Load()
				iters++
				b.StopTimer()
				if _, err := eng.Rollback(ctx, "web", update.RollbackOptions{}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(sent)/float64(iters), "downloaded-B/op")
		})
	}
}

// newBenchEnv is newEnv for a benchmark: a repository and a swap module in benchDir.
func newBenchEnv(b *testing.B) *env {
	dir := benchDir(b)
	e := &env{repo: updatetest.NewRepo(b), module: filepath.Join(dir, "srv", "web")}
	e.cfg = update.Config{
		Keys:     []string{e.repo.PubFile},
		StateDir: filepath.Join(dir, "state"),
		Modules:  []update.ModuleConfig{{Name: "web", Path: e.module, Strategy: update.Swap}},
	}
	return e
}
