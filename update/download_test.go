package update_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/testenv"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/source"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// bigTree is a module with enough bytes that a transfer can be cut in its middle.
func bigTree(size int) map[string]string {
	var b bytes.Buffer
	x := uint32(1)
	for b.Len() < size {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte(byte(x))
	}
	return map[string]string{"index.html": "big", "blob.bin": b.String()}
}

// misbehave serves the repository, letting f rewrite or cut the answers for packs.
func misbehave(t *testing.T, repo *updatetest.Repo, f func(w http.ResponseWriter, r *http.Request, next http.Handler) bool) string {
	files := publish.FileServer(repo.Dir)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".zip") && f(w, r, files) {
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

func fastSource(t *testing.T, url string, opts ...source.Option) source.Source {
	s, err := source.New(url, append([]source.Option{source.WithRetries(2), source.WithBackoff(5*time.Millisecond, 20*time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	return s
}

func TestDownloadResumesAfterCut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	tree := bigTree(256 << 10)
	e.repo.Publish("web", "1.0.0", platform, tree)
	var cuts atomic.Int32
	var ranges []string
	var mu sync.Mutex
	url := misbehave(t, e.repo, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		mu.Unlock()
		if cuts.Add(1) > 2 {
			return false
		}
		// Send the headers and part of the body, then drop the connection.
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		hj := w.(http.Hijacker)
		conn, buf, _ := hj.Hijack()
		defer conn.Close()
		buf.WriteString("HTTP/1.1 " + rec.Result().Status + "\r\n")
		rec.Result().Header.Write(buf)
		buf.WriteString("\r\n")
		buf.Write(body[:len(body)/3])
		buf.Flush()
		return true
	})
	var events []update.Event
	eng := e.engine(t, update.WithSource(fastSource(t, url)))
	eng.AddEventFunc(func(ev update.Event) {
		if ev.Step == update.StepDownload {
			events = append(events, ev)
		}
	})
	_, err := eng.Install(context.Background(), "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, tree, updatetest.ReadTree(t, e.module))
	require.GreaterOrEqual(t, len(ranges), 3)
	require.Empty(t, ranges[0])
	require.True(t, strings.HasPrefix(ranges[1], "bytes="), "resumed with a Range request: %q", ranges)
	require.NotEmpty(t, events)
	last := events[len(events)-1]
	require.Equal(t, last.Total, last.Done)
}

func TestDownloadRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    func(w http.ResponseWriter, r *http.Request, next http.Handler) bool
		opts []source.Option
		code update.Code
	}{
		{"more bytes than signed", func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			w.Write(rec.Body.Bytes())
			w.Write(bytes.Repeat([]byte("x"), 1<<20))
			return true
		}, nil, update.CodeBadPack},
		{"endless", func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			chunk := bytes.Repeat([]byte("y"), 64<<10)
			for range 1000 {
				if _, err := w.Write(chunk); err != nil {
					break
				}
			}
			return true
		}, nil, update.CodeBadPack},
		{"other bytes", func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			b := rec.Body.Bytes()
			b[len(b)/2] ^= 1
			w.Write(b)
			return true
		}, nil, update.CodeBadPack},
		{"not found", func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			http.NotFound(w, r)
			return true
		}, nil, update.CodeNotFound},
		{"server error", func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			http.Error(w, "boom", http.StatusInternalServerError)
			return true
		}, nil, update.CodeUnreachable},
		{"slow", func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			for range 100 {
				if _, err := w.Write([]byte("z")); err != nil {
					break
				}
				w.(http.Flusher).Flush()
				time.Sleep(20 * time.Millisecond)
			}
			return true
		}, []source.Option{source.WithMinRate(64<<10, 100*time.Millisecond)}, update.CodeUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, update.Swap, false)
			e.repo.Publish("web", "1.0.0", platform, v1)
			url := misbehave(t, e.repo, tt.f)
			eng := e.engine(t, update.WithSource(fastSource(t, url, tt.opts...)))
			_, err := eng.Install(context.Background(), "web", update.InstallOptions{})
			require.Error(t, err)
			require.Equal(t, tt.code, update.CodeOf(err), "%v", err)
			require.Nil(t, updatetest.ReadTree(t, e.module), "nothing installed")
			packs, _ := filepath.Glob(filepath.Join(e.cfg.StateDir, "modules", "web", "downloads", "*.zip"))
			require.Empty(t, packs, "nothing that could be mistaken for a good download")
			st, err := eng.ModuleStatus(context.Background(), "web")
			require.NoError(t, err)
			require.Equal(t, string(tt.code), string(st.Code))
			require.NotEmpty(t, st.LastError)
		})
	}
}

func TestUnreachableSource(t *testing.T) {
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	eng := e.engine(t, update.WithSource(fastSource(t, "http://"+addr+"/")))
	rep, err := eng.Check(context.Background())
	require.Equal(t, update.CodeUnreachable, update.CodeOf(err))
	require.Contains(t, rep.Modules[0].Reason, addr, "the reason names the URL")
}

// TestNginx runs the engine against Debian's nginx: an install, then an update whose
// download was cut halfway (the .part file a cut leaves) and is resumed with a Range
// request.
func TestNginx(t *testing.T) {
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	e.cfg.Source = testenv.StartNginx(t, e.repo.Dir)
	ctx := context.Background()
	_, err := e.engine(t).Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))

	tree := bigTree(1 << 20)
	e.repo.Publish("web", "2.0.0", platform, tree)
	packs, _ := filepath.Glob(filepath.Join(e.repo.Dir, "web-2.0.0-*.zip"))
	require.Len(t, packs, 1)
	whole, err := os.ReadFile(packs[0])
	require.NoError(t, err)
	downloads := filepath.Join(e.cfg.StateDir, "modules", "web", "downloads")
	require.NoError(t, os.MkdirAll(downloads, 0o755))
	half := len(whole) / 2
	part := filepath.Join(downloads, "2.0.0-"+filepath.Base(packs[0])+".part")
	require.NoError(t, os.WriteFile(part, whole[:half], 0o644))

	first := int64(-1)
	eng := e.engine(t)
	eng.AddEventFunc(func(ev update.Event) {
		if ev.Step == update.StepDownload && first < 0 {
			first = ev.Done
		}
	})
	_, err = eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, tree, updatetest.ReadTree(t, e.module))
	require.GreaterOrEqual(t, first, int64(half), "the download resumed where it was cut")
}
