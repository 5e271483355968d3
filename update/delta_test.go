package update_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/pack"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// textFile is n bytes of text that compress like source code, different per seed.
func textFile(seed, n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "func f%d_%d(x int) int { return x*%d + %d } // line %d\n", seed, i, (i*7919+seed)%1000, seed, i)
	}
	return b.String()[:n]
}

// deltaTrees returns a tree of files files of size bytes and the next version of
// it, where every twentieth file (5 %) has a few lines changed, one file is added,
// one removed, and web.config is the same in both.
func deltaTrees(files, size int) (v1, v2 map[string]string) {
	v1, v2 = map[string]string{}, map[string]string{}
	for i := range files {
		name := fmt.Sprintf("lib/m%02d/f%03d.go", i%10, i)
		c := textFile(i, size)
		v1[name] = c
		if i%20 == 7 {
			c = strings.Replace(c, fmt.Sprintf("line %d\n", size/200), "changed\n", 1)
			c = strings.Replace(c, "line 3\n", "also changed\n", 1)
		}
		v2[name] = c
	}
	v1["bin/run*"], v2["bin/run*"] = "#!/bin/sh\necho 1\n", "#!/bin/sh\necho 2\n"
	v1["conf/web.config"] = textFile(1000, 4000)
	v2["conf/web.config"] = v1["conf/web.config"]
	v1["conf/app.conf"], v2["conf/app.conf"] = textFile(1001, 3000), strings.Replace(textFile(1001, 3000), "line 2\n", "line two\n", 1)
	v1["old-only.txt"] = "gone in 1.1.0"
	v2["new-only/x.txt"] = "new in 1.1.0"
	v2["empty/"] = ""
	return v1, v2
}

// request is one request a repository server received.
type request struct {
	path, rng string
	status    int
}

// recorder serves a repository folder, recording each request; with noRange it
// ignores Range headers, as some servers do.
type recorder struct {
	mu      sync.Mutex
	reqs    []request
	noRange bool
	h       http.Handler
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rng := r.Header.Get("Range")
	if rc.noRange {
		r.Header.Del("Range")
		r.Header.Del("If-Range")
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	rc.h.ServeHTTP(sw, r)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, request{path: strings.TrimPrefix(r.URL.Path, "/"), rng: rng, status: sw.status})
	rc.mu.Unlock()
}

// to returns the requests for the file name.
func (rc *recorder) to(name string) []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []request
	for _, r := range rc.reqs {
		if r.path == name {
			out = append(out, r)
		}
	}
	return out
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }

// deltaEnv is a module on 1.0.0 (installed from its full pack) with 1.1.0 published
// with a delta from 1.0.0, served by a recorder.
type deltaEnv struct {
	*env
	rec         *recorder
	v2          map[string]string
	full, delta string // the 1.1.0 pack's and delta's file names
	fullSize    int64
	deltaSize   int64
	eng         *update.Engine
	events      []update.Event
	mu          sync.Mutex
}

func newDeltaEnv(t *testing.T, strategy update.Strategy, noRange bool) *deltaEnv {
	t.Helper()
	rec := &recorder{noRange: noRange}
	return newDeltaEnvAt(t, strategy, rec, func(dir string) string {
		rec.h = publish.FileServer(dir)
		srv := httptest.NewServer(rec)
		t.Cleanup(srv.Close)
		return srv.URL + "/"
	})
}

// newDeltaEnvAt is newDeltaEnv with the repository served at the URL serve returns.
func newDeltaEnvAt(t *testing.T, strategy update.Strategy, rec *recorder, serve func(dir string) string) *deltaEnv {
	t.Helper()
	e := newEnv(t, strategy, false)
	v1, v2 := deltaTrees(60, 8000)
	e.repo.Publish("web", "1.0.0", platform, v1)
	e.repo.Publish("web", "1.1.0", platform, v2, publish.WithDeltas(1))
	e.cfg.Source = serve(e.repo.Dir)
	de := &deltaEnv{env: e, rec: rec, v2: v2}
	de.eng = e.engine(t)
	de.eng.AddEventFunc(func(ev update.Event) {
		de.mu.Lock()
		de.events = append(de.events, ev)
		de.mu.Unlock()
	})
	_, err := de.eng.Install(context.Background(), "web", update.InstallOptions{Version: "1.0.0"})
	require.NoError(t, err)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))
	ents, err := os.ReadDir(e.repo.Dir)
	require.NoError(t, err)
	for _, d := range ents {
		fi, _ := d.Info()
		switch n := d.Name(); {
		case strings.HasSuffix(n, ".minisig"):
		case strings.Contains(n, "1.1.0") && strings.Contains(n, "-from-"):
			de.delta, de.deltaSize = n, fi.Size()
		case strings.Contains(n, "1.1.0") && strings.HasSuffix(n, ".zip"):
			de.full, de.fullSize = n, fi.Size()
		}
	}
	require.NotEmpty(t, de.delta, "the repository holds the delta")
	require.NotEmpty(t, de.full)
	return de
}

// fullInstall installs 1.1.0 from its full pack into a fresh module folder and
// returns the tree, to compare with what a delta rebuilt.
func (de *deltaEnv) fullInstall(t *testing.T, strategy update.Strategy) map[string]string {
	t.Helper()
	cfg := de.cfg
	dir := t.TempDir()
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.Modules = []update.ModuleConfig{{Name: "web", Path: filepath.Join(dir, "srv", "web"), Strategy: strategy}}
	eng, err := update.New(cfg, updatetest.WithoutSync())
	require.NoError(t, err)
	res, err := eng.Install(context.Background(), "web", update.InstallOptions{Version: "1.1.0"})
	require.NoError(t, err)
	require.Empty(t, res.Deltas, "a fresh install has no base for a delta")
	return updatetest.ReadTree(t, cfg.Modules[0].Path)
}

// editDeltas rewrites the repository's manifest with edit applied to every delta
// it lists (the repository signs it again), and returns how many it edited.
func (de *deltaEnv) editDeltas(t *testing.T, edit func(*manifest.Pack, *manifest.Delta)) int {
	t.Helper()
	path := filepath.Join(de.repo.Dir, manifest.FileName)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	m, err := manifest.Parse(data)
	require.NoError(t, err)
	n := 0
	for i := range m.Releases {
		for j := range m.Releases[i].Packs {
			p := &m.Releases[i].Packs[j]
			for k := range p.Deltas {
				edit(p, &p.Deltas[k])
				n++
			}
		}
	}
	data, err = m.Marshal()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o644))
	de.repo.Refresh(0)
	return n
}

func (de *deltaEnv) messages() string {
	de.mu.Lock()
	defer de.mu.Unlock()
	var b strings.Builder
	for _, ev := range de.events {
		if ev.Message != "" {
			b.WriteString(ev.Message + "\n")
		}
	}
	return b.String()
}

// TestDeltaInstall: a module on 1.0.0 updates to 1.1.0 through the delta, never
// asking for the full pack, and its tree is byte for byte the one a full install
// of 1.1.0 gives.
func TestDeltaInstall(t *testing.T) {
	t.Parallel()
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			de := newDeltaEnv(t, strategy, false)
			res, err := de.eng.Install(context.Background(), "web", update.InstallOptions{})
			require.NoError(t, err)
			require.Equal(t, []string{"1.1.0"}, res.Installed)
			require.Equal(t, []string{"1.1.0"}, res.Deltas)
			require.Equal(t, de.fullSize-de.deltaSize, res.BytesSaved)
			require.Less(t, de.deltaSize*5, de.fullSize, "the delta is small")

			require.Empty(t, de.rec.to(de.full), "the full pack is not fetched")
			require.Len(t, de.rec.to(de.delta), 1)
			got := updatetest.ReadTree(t, de.module)
			require.Equal(t, de.v2, got)
			require.Equal(t, de.fullInstall(t, strategy), got, "the delta's tree is the full pack's")

			want := fmt.Sprintf("delta from 1.0.0: %d bytes instead of %d", de.deltaSize, de.fullSize)
			require.Contains(t, de.messages(), want)
			st, err := de.eng.ModuleStatus(context.Background(), "web")
			require.NoError(t, err)
			require.Equal(t, "1.1.0", *st.Installed)
			require.Contains(t, st.LastResult, want)
			require.Equal(t, []string{"1.0.0"}, st.Backups)
			assertClean(t, de.env)

			// The previous tree kept is 1.0.0's: rolling back gives it back.
			_, err = de.eng.Rollback(context.Background(), "web", update.RollbackOptions{})
			require.NoError(t, err)
			v1, _ := deltaTrees(60, 8000)
			require.Equal(t, v1, updatetest.ReadTree(t, de.module))
		})
	}
}

// TestDeltaLiveFileModified: files of the live tree changed since 1.0.0 was
// installed (one the same in 1.1.0, one patched by the delta) are fetched alone
// from 1.1.0's full pack, by bounded Range requests only.
func TestDeltaLiveFileModified(t *testing.T) {
	t.Parallel()
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			de := newDeltaEnv(t, strategy, false)
			require.NoError(t, os.WriteFile(filepath.Join(de.module, "conf", "web.config"), []byte("rewritten by POSTINSTALL"), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(de.module, "conf", "app.conf"), []byte("edited"), 0o644))
			res, err := de.eng.Install(context.Background(), "web", update.InstallOptions{})
			require.NoError(t, err)
			require.Equal(t, []string{"1.1.0"}, res.Deltas)
			require.Equal(t, de.v2, updatetest.ReadTree(t, de.module))

			reqs := de.rec.to(de.full)
			require.NotEmpty(t, reqs, "the changed files come from the full pack")
			var got int64
			for _, r := range reqs {
				require.Regexp(t, `^bytes=\d+-\d+$`, r.rng, "only bounded Range requests on the full pack")
				require.Equal(t, http.StatusPartialContent, r.status)
				var a, b int64
				fmt.Sscanf(r.rng, "bytes=%d-%d", &a, &b)
				got += b - a + 1
			}
			require.Less(t, got, de.fullSize/4, "a few entries, not the pack")
			require.Equal(t, de.fullSize-de.deltaSize-got, res.BytesSaved)
			require.Contains(t, de.messages(), fmt.Sprintf("delta from 1.0.0: %d bytes instead of %d", de.deltaSize+got, de.fullSize))
			require.Contains(t, de.messages(), "conf/app.conf")
			require.Contains(t, de.messages(), "conf/web.config")
			assertClean(t, de.env)
		})
	}
}

// TestDeltaCorruptFallsBack: a delta whose bytes are not the signed ones is
// refused and the full pack installed instead.
func TestDeltaCorruptFallsBack(t *testing.T) {
	t.Parallel()
	de := newDeltaEnv(t, update.Swap, false)
	p := filepath.Join(de.repo.Dir, de.delta)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	b[len(b)/2] ^= 0xff
	require.NoError(t, os.WriteFile(p, b, 0o644))

	res, err := de.eng.Install(context.Background(), "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Empty(t, res.Deltas)
	require.Zero(t, res.BytesSaved)
	require.Equal(t, de.v2, updatetest.ReadTree(t, de.module))
	reqs := de.rec.to(de.full)
	require.Len(t, reqs, 1)
	require.Empty(t, reqs[0].rng)
	st, err := de.eng.ModuleStatus(context.Background(), "web")
	require.NoError(t, err)
	require.Contains(t, st.LastResult, "full pack: the delta from 1.0.0 failed")
	require.Contains(t, st.LastResult, "sha256")
	assertClean(t, de.env)
}

// TestDeltaNoRangeFallsBack: a server that ignores Range requests cannot give a
// changed live file alone: the full pack is installed instead, fetched once.
func TestDeltaNoRangeFallsBack(t *testing.T) {
	t.Parallel()
	de := newDeltaEnv(t, update.InPlace, true)
	require.NoError(t, os.WriteFile(filepath.Join(de.module, "conf", "web.config"), []byte("rewritten"), 0o644))
	res, err := de.eng.Install(context.Background(), "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Empty(t, res.Deltas)
	require.Equal(t, de.v2, updatetest.ReadTree(t, de.module))
	var full int
	for _, r := range de.rec.to(de.full) {
		if r.rng == "" {
			full++
		}
	}
	require.Equal(t, 1, full, "one full download after the refused Range request")
	require.Contains(t, de.messages(), "failed, downloading the full pack")
	st, err := de.eng.ModuleStatus(context.Background(), "web")
	require.NoError(t, err)
	require.Contains(t, st.LastResult, "conf/web.config")
	assertClean(t, de.env)
}

// TestDeltaPrefetched: Download fetches the delta, and the install that follows
// uses it without fetching anything but the manifest.
func TestDeltaPrefetched(t *testing.T) {
	t.Parallel()
	de := newDeltaEnv(t, update.Swap, false)
	rep, err := de.eng.Check(context.Background())
	require.NoError(t, err)
	require.NoError(t, de.eng.Download(context.Background(), "web", rep.Modules[0].Selection))
	require.Len(t, de.rec.to(de.delta), 1)
	res, err := de.eng.Install(context.Background(), "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"1.1.0"}, res.Deltas)
	require.Len(t, de.rec.to(de.delta), 1, "the delta downloaded before is used")
	require.Empty(t, de.rec.to(de.full))
	require.Equal(t, de.v2, updatetest.ReadTree(t, de.module))
}

// TestDeltaNotSmallerNotDownloaded: a delta the signed manifest lists as no smaller
// than the full pack is never downloaded, whatever else the manifest says: the full
// pack is.
func TestDeltaNotSmallerNotDownloaded(t *testing.T) {
	t.Parallel()
	de := newDeltaEnv(t, update.InPlace, false)
	n := de.editDeltas(t, func(p *manifest.Pack, d *manifest.Delta) { d.Size = p.Size }) // as large as the pack
	require.Equal(t, 1, n)

	res, err := de.eng.Install(context.Background(), "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"1.1.0"}, res.Installed)
	require.Empty(t, res.Deltas)
	require.Empty(t, de.rec.to(de.delta), "the delta is not downloaded")
	require.NotEmpty(t, de.rec.to(de.full))
	require.Equal(t, de.v2, updatetest.ReadTree(t, de.module))
	require.NotContains(t, de.messages(), "delta from 1.0.0")
}

// TestDeltaOfUnknownFormatFallsBack: a delta of a format this agent cannot apply (as
// "upkeep-delta/2" is to agents that read only "upkeep-delta/1"), signed and listed
// like any other, is refused by its format: the agent says so and installs from the
// full pack.
func TestDeltaOfUnknownFormatFallsBack(t *testing.T) {
	t.Parallel()
	de := newDeltaEnv(t, update.Swap, false)
	p := filepath.Join(de.repo.Dir, de.delta)
	old, err := zip.OpenReader(p)
	require.NoError(t, err)
	old.RegisterDecompressor(uint16(pack.Zstd), zstd.ZipDecompressor())
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range old.File {
		r, err := f.Open()
		require.NoError(t, err)
		data, err := io.ReadAll(r)
		require.NoError(t, err)
		if f.Name == pack.DeltaListingName {
			data = bytes.Replace(data, []byte(`"format":"`+pack.DeltaFormat+`"`), []byte(`"format":"upkeep-delta/9"`), 1)
			require.Contains(t, string(data), "upkeep-delta/9")
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	old.Close()
	require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o644))
	sig, err := signature.Sign(de.repo.Key, bytes.NewReader(buf.Bytes()),
		signature.Binding{File: de.delta, Module: "web", Version: "1.1.0", Platform: platform, From: "1.0.0"}.String())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p+".minisig", sig, 0o644))
	sum := sha256.Sum256(buf.Bytes())
	de.editDeltas(t, func(_ *manifest.Pack, d *manifest.Delta) {
		d.Size, d.SHA256 = int64(buf.Len()), hex.EncodeToString(sum[:])
	})

	res, err := de.eng.Install(context.Background(), "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"1.1.0"}, res.Installed)
	require.Empty(t, res.Deltas)
	require.Len(t, de.rec.to(de.delta), 1, "the delta was tried")
	require.NotEmpty(t, de.rec.to(de.full))
	require.Equal(t, de.v2, updatetest.ReadTree(t, de.module))
	msgs := de.messages()
	require.Contains(t, msgs, "delta from 1.0.0 failed, downloading the full pack")
	require.Contains(t, msgs, `format "upkeep-delta/9"`)
	st, err := de.eng.ModuleStatus(context.Background(), "web")
	require.NoError(t, err)
	require.Contains(t, st.LastResult, "full pack: the delta from 1.0.0 failed")
	require.Contains(t, st.LastResult, "a delta this version cannot apply")
}
