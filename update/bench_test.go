package update_test

import (
	"archive/zip"
	"context"

	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	crand "crypto/rand"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// benchDir is where benchmarks put their trees: tmpfs when there is one, so that the
// work measured is upkeep's and not the disk's.
func benchDir(b *testing.B) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "upkeep-bench-")
		if err == nil {
			b.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return b.TempDir()
}

// genTree writes a realistic module of about total bytes under dir: a few thousand
// files, compressible text and incompressible binaries, and one large binary. It
// returns the bytes written.
func genTree(b *testing.B, dir string, total int64) int64 {
	words := strings.Fields("the quick brown fox jumps over a lazy dog while upkeep swaps modules atomically and keeps backups of every version it replaces")
	r := rand.New(rand.NewPCG(1, 2))
	var written int64
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		written += int64(len(data))
	}
	big := make([]byte, total/4)
	crand.Read(big)
	write("bin/server", big)
	for i := 0; written < total; i++ {
		var data []byte
		size := 4<<10 + r.IntN(120<<10)
		if i%3 == 0 {
			data = make([]byte, size)
			crand.Read(data)
		} else {
			var sb strings.Builder
			for sb.Len() < size {
				sb.WriteString(words[r.IntN(len(words))])
				sb.WriteByte(" \n"[r.IntN(2)])
			}
			data = []byte(sb.String())
		}
		write(fmt.Sprintf("dir%02d/sub%d/file%05d.dat", i%40, i%7, i), data)
	}
	return written
}

// BenchmarkInstall measures the whole install of a 256 MiB module (download from a
// loopback server, verify, extract, swap) beside the naive sequence: download, then
// hash, then extract with archive/zip, then copy over the live folder. It also
// reports upkeep's maintenance window (window-ms).
func BenchmarkInstall(b *testing.B) {
	size := int64(256 << 20)
	if testing.Short() {
		size = 16 << 20
	}
	root := benchDir(b)
	repo := updatetest.NewRepo(b)
	build := filepath.Join(root, "build")
	total := genTree(b, build, size)
	if _, err := publish.Publish(context.Background(), repo.Dir, repo.Key, publish.Build{Module: "web", Version: "1.0.0", Platform: platform, Dir: b.TempDir()}); err != nil {
		b.Fatal(err)
	}
	if _, err := publish.Publish(context.Background(), repo.Dir, repo.Key, publish.Build{Module: "web", Version: "2.0.0", Platform: platform, Dir: build}); err != nil {
		b.Fatal(err)
	}
	url := repo.Serve()
	mdata, _ := os.ReadFile(filepath.Join(repo.Dir, "manifest.json"))
	man, err := manifest.Parse(mdata)
	if err != nil {
		b.Fatal(err)
	}
	pk := man.Releases[1].Packs[0]

	b.Run("upkeep", func(b *testing.B) {
		run, err := os.MkdirTemp(root, "run-") // -count runs this function again
		if err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(run)
		os.MkdirAll(filepath.Join(run, "srv"), 0o755)
		cfg := update.Config{Source: url, Keys: []string{repo.PubFile}, StateDir: filepath.Join(run, "state"),
			Modules: []update.ModuleConfig{{Name: "web", Path: filepath.Join(run, "srv", "web")}}}
		eng, err := update.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if _, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"}); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(total)
		b.ReportAllocs()
		var window float64
		var n int
		for b.Loop() {
			res, err := eng.Install(ctx, "web", update.InstallOptions{})
			if err != nil {
				b.Fatal(err)
			}
			window += float64(res.Window.Microseconds()) / 1000
			n++
			b.StopTimer()
			if _, err := eng.Rollback(ctx, "web", update.RollbackOptions{}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(window/float64(n), "window-ms")
	})

	b.Run("naive", func(b *testing.B) {
		live := filepath.Join(root, "naive-live")
		os.MkdirAll(live, 0o755)
		b.SetBytes(total)
		b.ReportAllocs()
		for b.Loop() {
			tmp := filepath.Join(root, "naive-tmp")
			if err := naiveInstall(url+pk.File, pk.SHA256, filepath.Join(root, "naive.zip"), tmp, live); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			os.RemoveAll(tmp)
			os.Remove(filepath.Join(root, "naive.zip"))
			b.StartTimer()
		}
	})
}

// naiveInstall is what an updater without upkeep does, one step after the other.
func naiveInstall(url, sum, zipPath, tmp, live string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	f, err := os.Create(zipPath)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	resp.Body.Close()
	f.Close()
	if err != nil {
		return err
	}
	f, _ = os.Open(zipPath)
	h := sha256.New()
	io.Copy(h, f)
	f.Close()
	if hex.EncodeToString(h.Sum(nil)) != sum {
		return fmt.Errorf("sha256 differs")
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return err
	}
	defer zr.Close()
	for _, zf := range zr.File {
		p := filepath.Join(tmp, zf.Name)
		if zf.FileInfo().IsDir() {
			os.MkdirAll(p, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		r, err := zf.Open()
		if err != nil {
			return err
		}
		w, err := os.Create(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, r)
		r.Close()
		w.Close()
		if err != nil {
			return err
		}
	}
	return filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tmp, p)
		dst := filepath.Join(live, rel)
		os.MkdirAll(filepath.Dir(dst), 0o755)
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		w, err := os.Create(dst)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, src)
		w.Close()
		return err
	})
}

// BenchmarkBackup measures the inplace backup archive (tar+zstd, streaming, all
// cores) beside archive/zip with deflate, on the same tree.
func BenchmarkBackup(b *testing.B) {
	size := int64(256 << 20)
	if testing.Short() {
		size = 16 << 20
	}
	root := benchDir(b)
	tree := filepath.Join(root, "tree")
	total := genTree(b, tree, size)
	b.Run("tar+zstd", func(b *testing.B) {
		repo := updatetest.NewRepo(b)
		eng, err := update.New(update.Config{Source: repo.Dir, Keys: []string{repo.PubFile}, StateDir: b.TempDir(),
			Modules: []update.ModuleConfig{{Name: "web", Path: tree, Strategy: update.InPlace}}})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(total)
		b.ReportAllocs()
		for b.Loop() {
			if err := update.ArchiveTree(eng, context.Background(), tree, filepath.Join(root, "backup.tar.zst")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stdlib-zip-deflate", func(b *testing.B) {
		b.SetBytes(total)
		b.ReportAllocs()
		for b.Loop() {
			f, err := os.Create(filepath.Join(root, "backup.zip"))
			if err != nil {
				b.Fatal(err)
			}
			zw := zip.NewWriter(f)
			err = filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(tree, p)
				w, err := zw.CreateHeader(&zip.FileHeader{Name: filepath.ToSlash(rel), Method: zip.Deflate})
				if err != nil {
					return err
				}
				src, err := os.Open(p)
				if err != nil {
					return err
				}
				defer src.Close()
				_, err = io.Copy(w, src)
				return err
			})
			if err == nil {
				err = zw.Close()
			}
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
