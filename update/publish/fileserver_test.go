package publish

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// serve sends one request straight to h; target may hold what a client would clean.
func serve(t *testing.T, h http.Handler, method, target string, header ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestFileServerRanges(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeFile(t, root, "f.bin", []byte("0123456789"))
	h := FileServer(root)
	tests := []struct {
		rng        string
		wantStatus int
		wantBody   string
		wantCRange string
	}{
		{"", 200, "0123456789", ""},
		{"bytes=2-5", 206, "2345", "bytes 2-5/10"},
		{"bytes=7-", 206, "789", "bytes 7-9/10"},
		{"bytes=-3", 206, "789", "bytes 7-9/10"},
		{"bytes=5-100", 206, "56789", "bytes 5-9/10"},
		{"bytes=10-", 416, "", "bytes */10"},
		{"bytes=50-60", 416, "", "bytes */10"},
		{"bytes=0-1,4-5", 200, "0123456789", ""}, // one range at most: the whole file
	}
	for _, tt := range tests {
		resp, b := serve(t, h, http.MethodGet, "/f.bin", "Range", tt.rng)
		require.Equal(t, tt.wantStatus, resp.StatusCode, tt.rng)
		if tt.wantStatus != 416 {
			require.Equal(t, tt.wantBody, b, tt.rng)
		}
		require.Equal(t, tt.wantCRange, resp.Header.Get("Content-Range"), tt.rng)
	}
}

func TestFileServerETag(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	name := filepath.Join(root, "manifest.json")
	writeFile(t, root, "manifest.json", []byte(`{"serial":1}`))
	h := FileServer(root)
	etagOf := func() string {
		t.Helper()
		resp, _ := serve(t, h, http.MethodGet, "/manifest.json")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		return resp.Header.Get("ETag")
	}
	sum := sha256.Sum256([]byte(`{"serial":1}`))
	etag := etagOf()
	require.Equal(t, `"`+hex.EncodeToString(sum[:])+`"`, etag)

	// Touching the file changes its mtime, not its content: same tag.
	later := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(name, later, later))
	require.Equal(t, etag, etagOf())

	resp, b := serve(t, h, http.MethodGet, "/manifest.json", "If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, resp.StatusCode)
	require.Empty(t, b)

	// Same size, new content: the write moves the mtime (pinned here, so that a coarse
	// clock cannot hide it) and the tag follows the content.
	require.NoError(t, os.WriteFile(name, []byte(`{"serial":2}`), 0o644))
	require.NoError(t, os.Chtimes(name, later.Add(time.Second), later.Add(time.Second)))
	changed := etagOf()
	require.NotEqual(t, etag, changed)
	resp, b = serve(t, h, http.MethodGet, "/manifest.json", "If-None-Match", etag)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, `{"serial":2}`, b)

	// If-Range with a stale tag gets the whole file.
	resp, b = serve(t, h, http.MethodGet, "/manifest.json", "Range", "bytes=5-", "If-Range", etag)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, `{"serial":2}`, b)
	resp, b = serve(t, h, http.MethodGet, "/manifest.json", "Range", "bytes=5-", "If-Range", changed)
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, `ial":2}`, b)
}

func TestFileServerHead(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeFile(t, root, "packs/app.zip", content(1234))
	resp, b := serve(t, FileServer(root), http.MethodHead, "/packs/app.zip")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, b)
	require.Equal(t, "1234", resp.Header.Get("Content-Length"))
	require.NotEmpty(t, resp.Header.Get("ETag"))
	require.Equal(t, "bytes", resp.Header.Get("Accept-Ranges"))
}

func TestFileServerRefuses(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	root := filepath.Join(parent, "repo")
	writeFile(t, parent, "secret.txt", []byte("secret"))
	writeFile(t, root, "ok.txt", []byte("ok"))
	writeFile(t, root, ".env", []byte("TOKEN=1"))
	writeFile(t, root, ".git/config", []byte("[core]"))
	writeFile(t, root, "packs/.hidden/app.zip", []byte("zip"))
	writeFile(t, root, "packs/app.zip", []byte("zip"))
	links := os.Symlink(filepath.Join(parent, "secret.txt"), filepath.Join(root, "link.txt")) == nil
	h := FileServer(root)

	tests := []struct {
		method, target string
		want           int
	}{
		{"GET", "/ok.txt", 200},
		{"GET", "/packs/app.zip", 200},
		{"GET", "/", 404},
		{"GET", "/packs", 404},
		{"GET", "/packs/", 404},
		{"GET", "/.env", 404},
		{"GET", "/.git/config", 404},
		{"GET", "/packs/.hidden/app.zip", 404},
		{"GET", "/../secret.txt", 404},
		{"GET", "/packs/../../secret.txt", 404},
		{"GET", "/packs/%2e%2e/%2e%2e/secret.txt", 404},
		{"GET", "/..%2fsecret.txt", 404},
		{"GET", "/packs%5c..%5c..%5csecret.txt", 404},
		{"GET", "/missing.txt", 404},
		{"POST", "/ok.txt", 405},
		{"PUT", "/ok.txt", 405},
		{"DELETE", "/ok.txt", 405},
	}
	if links {
		tests = append(tests, struct {
			method, target string
			want           int
		}{"GET", "/link.txt", 404})
	}
	for _, tt := range tests {
		resp, b := serve(t, h, tt.method, tt.target)
		require.Equal(t, tt.want, resp.StatusCode, "%s %s", tt.method, tt.target)
		require.NotContains(t, b, "secret", tt.target)
		require.NotContains(t, b, "TOKEN", tt.target)
		if tt.want == 405 {
			require.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
		}
	}
}

// writeFile writes data to name ("/"-separated) below root, creating folders.
func writeFile(t *testing.T, root, name string, data []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, data, 0o644))
}

// content returns n bytes that are not all alike.
func content(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}
