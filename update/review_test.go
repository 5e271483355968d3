package update_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/pack"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// TestChunkedOversizedManifest: a manifest streamed without a length, past the bound,
// is refused as invalid_manifest (not bad_pack).
func TestChunkedOversizedManifest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte(" "), 64<<10)
		for range 200 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	e.cfg.Source = srv.URL + "/"
	_, err := e.engine(t).Check(context.Background())
	require.Equal(t, update.CodeInvalidManifest, update.CodeOf(err), "%v", err)
}

// TestOfflinePackHFSQLPlatformName: an offline pack whose signature names the platform
// the HFSQL way (linux64) installs on the matching machine.
func TestOfflinePackHFSQLPlatformName(t *testing.T) {
	t.Parallel()
	if platform != "linux/amd64" {
		t.Skip("the HFSQL name tested is linux64")
	}
	e := newEnv(t, update.Swap, false)
	build := t.TempDir()
	updatetest.WriteTree(t, build, v1)
	var buf bytes.Buffer
	require.NoError(t, pack.BuildDir(context.Background(), &buf, build))
	p := filepath.Join(t.TempDir(), "srv_linux64.zip")
	require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o644))
	b := signature.Binding{File: "srv_linux64.zip", Module: "web", Version: "1.0.0", Platform: "linux64"}
	sig, err := signature.Sign(e.repo.Key, bytes.NewReader(buf.Bytes()), b.String())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p+".minisig", sig, 0o644))
	_, err = e.engine(t).Install(context.Background(), "web", update.InstallOptions{PackFile: p})
	require.NoError(t, err)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))
}

// TestShortBodyResumed: a server that ends a body cleanly before the signed size is a
// cut like any other: the download resumes.
func TestShortBodyResumed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	tree := bigTree(256 << 10)
	e.repo.Publish("web", "1.0.0", platform, tree)
	var short atomic.Bool
	files := publish.FileServer(e.repo.Dir)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".zip") && short.CompareAndSwap(false, true) {
			rec := httptest.NewRecorder()
			files.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			w.Write(body[:len(body)/2]) // no Content-Length: ends cleanly, short
			return
		}
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()
	eng := e.engine(t, update.WithSource(fastSource(t, srv.URL+"/")))
	_, err := eng.Install(context.Background(), "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, tree, updatetest.ReadTree(t, e.module))
}

// TestDownloadedPackNotFetchedAgain: a pack downloaded in the background is installed
// without fetching it again (it is checked again through the handle that extracts it).
func TestDownloadedPackNotFetchedAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	var packGets atomic.Int32
	files := publish.FileServer(e.repo.Dir)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".zip") {
			packGets.Add(1)
		}
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()
	e.cfg.Source = srv.URL + "/"
	eng := e.engine(t)
	ctx := context.Background()
	download(t, eng)
	require.Equal(t, int32(1), packGets.Load())
	_, err := eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(1), packGets.Load(), "installed from the download, not fetched again")
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))

	// A download altered on disk is refused at extraction, and nothing is installed.
	e.repo.Publish("web", "2.0.0", platform, v2)
	download(t, eng)
	downloads, _ := filepath.Glob(filepath.Join(e.cfg.StateDir, "modules", "web", "downloads", "2.0.0-*.zip"))
	require.Len(t, downloads, 1)
	b, _ := os.ReadFile(downloads[0])
	b[len(b)/2] ^= 1
	require.NoError(t, os.WriteFile(downloads[0], b, 0o644))
	_, err = eng.Install(ctx, "web", update.InstallOptions{})
	require.Equal(t, update.CodeBadPack, update.CodeOf(err), "%v", err)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))
	// The spoilt download is dropped: the next install fetches it again and succeeds.
	gets := packGets.Load()
	_, err = eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, gets+1, packGets.Load())
	require.Equal(t, v2, updatetest.ReadTree(t, e.module))
}

// download checks and downloads what is offered for the module web, as a scheduler
// does between a check and an install.
func download(t *testing.T, eng *update.Engine) {
	t.Helper()
	ctx := context.Background()
	rep, err := eng.Check(ctx)
	require.NoError(t, err)
	require.Equal(t, "update", string(rep.Modules[0].Status))
	require.NoError(t, eng.Download(ctx, "web", rep.Modules[0].Selection))
}

// TestDownloadBusy: a background download leaves a module busy with another operation
// alone.
func TestDownloadBusy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	var eng *update.Engine
	var busy error
	during := hooks.Func(func(ctx context.Context, ev hooks.Event) error {
		if ev.Phase == hooks.PreInstall {
			rep, err := eng.Check(ctx)
			if err != nil {
				return err
			}
			busy = eng.Download(ctx, "web", rep.Modules[0].Selection)
		}
		return nil
	})
	eng = e.engine(t, update.WithHook("web", during))
	_, err := eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	require.ErrorIs(t, busy, update.ErrBusy)
	require.ErrorIs(t, eng.Download(ctx, "nosuch", nil), update.ErrUnknownModule)
}
