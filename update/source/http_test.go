package source

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/upkeep-go/upkeep/update/publish"
)

// cutWriter aborts the connection once limit bytes of the body have been written.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if len(p) >= c.left {
		n, _ := c.ResponseWriter.Write(p[:c.left])
		c.ResponseWriter.(http.Flusher).Flush()
		_ = n
		panic(http.ErrAbortHandler) // the server closes the connection mid-body
	}
	c.left -= len(p)
	return c.ResponseWriter.Write(p)
}

func TestHTTPResumeAfterCut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := content(10_000)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app.zip"), data, 0o644))
	files := publish.FileServer(dir)
	var ranges atomic.Int32
	src, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			ranges.Add(1)
		}
		files.ServeHTTP(&cutWriter{ResponseWriter: w, left: 3000}, r)
	}))

	got, fetches := download(t, src, "app.zip", int64(len(data)))
	require.Equal(t, data, got)
	require.Equal(t, 4, fetches, "3000 bytes per connection")
	require.EqualValues(t, 3, ranges.Load())
}

func TestHTTPRangeIgnored(t *testing.T) {
	t.Parallel()
	data := content(1000)
	src, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
	}))
	resp, err := src.Fetch(context.Background(), Request{Name: "f", Offset: 600, Max: 400})
	require.NoError(t, err)
	require.Zero(t, resp.Offset, "a 200 answer to a range request starts at 0")
	require.EqualValues(t, 1000, resp.Size)
	b, err := readBody(t, resp)
	require.NoError(t, err)
	require.Equal(t, data, b, "Max bounds the end of the file, not the bytes of a restarted body")
}

func TestHTTPRangeWrongStart(t *testing.T) {
	t.Parallel()
	src, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Range", "bytes 0-9/10")
		w.Header().Set("Content-Length", "10")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(make([]byte, 10))
	}))
	_, err := src.Fetch(context.Background(), Request{Name: "f", Offset: 5, Max: 5})
	require.ErrorIs(t, err, ErrBadResponse)
	require.ErrorContains(t, err, "starts at byte 0, not 5")
}

func TestHTTPRangeAtEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), content(100), 0o644))
	src, _ := newServer(t, publish.FileServer(dir))

	resp, err := src.Fetch(context.Background(), Request{Name: "f", Offset: 100, Max: 0})
	require.NoError(t, err, "the part held was the whole file")
	require.EqualValues(t, 100, resp.Offset)
	b, err := readBody(t, resp)
	require.NoError(t, err)
	require.Empty(t, b)

	_, err = src.Fetch(context.Background(), Request{Name: "f", Offset: 150, Max: 10})
	require.ErrorIs(t, err, ErrRangeNotSatisfiable)
}

// TestHTTPResumeChanged: a resume whose validator no longer matches gets the whole
// new file, not the tail of the new file glued to the head of the old one.
func TestHTTPResumeChanged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(name, []byte("old old old old"), 0o644))
	src, _ := newServer(t, publish.FileServer(dir))
	resp, err := src.Fetch(context.Background(), Request{Name: "f", Max: 100})
	require.NoError(t, err)
	_, err = readBody(t, resp)
	require.NoError(t, err)

	require.NoError(t, os.WriteFile(name, []byte("new new new new"), 0o644))
	resp2, err := src.Fetch(context.Background(), Request{Name: "f", Offset: 4, Max: 96, Validator: resp.Validator})
	require.NoError(t, err)
	require.Zero(t, resp2.Offset)
	b, err := readBody(t, resp2)
	require.NoError(t, err)
	require.Equal(t, "new new new new", string(b))
}

func TestHTTPTooLarge(t *testing.T) {
	t.Parallel()
	endless := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1000)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	tests := []struct {
		name    string
		handler http.HandlerFunc
		req     Request
		upFront bool // refused by Fetch, before any byte is read
	}{
		{"declared length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "2000")
			w.Write(make([]byte, 2000))
		}, Request{Name: "f", Max: 1999}, true},
		{"declared total of a range", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Range", "bytes 10-19/5000")
			w.Header().Set("Content-Length", "10")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(make([]byte, 10))
		}, Request{Name: "f", Offset: 10, Max: 10}, true},
		{"endless chunked body", endless, Request{Name: "f", Max: 4321}, false},
		{"endless body after a range", endless, Request{Name: "f", Offset: 100, Max: 4321}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src, _ := newServer(t, tt.handler)
			resp, err := src.Fetch(context.Background(), tt.req)
			if tt.upFront {
				require.ErrorIs(t, err, ErrTooLarge)
				require.ErrorContains(t, err, "/f")
				return
			}
			require.NoError(t, err)
			b, err := readBody(t, resp)
			require.ErrorIs(t, err, ErrTooLarge)
			var serr *Error
			require.ErrorAs(t, err, &serr)
			require.Equal(t, "f", serr.Name)
			// Endless from 0 although a range was asked: the limit is the end of the file.
			require.Len(t, b, int(tt.req.Offset+tt.req.Max))
		})
	}
}

func TestHTTPTooSlow(t *testing.T) {
	t.Parallel()
	const window = 200 * time.Millisecond
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"trickle", func(w http.ResponseWriter, r *http.Request) {
			for r.Context().Err() == nil {
				w.Write([]byte("0123456789"))
				w.(http.Flusher).Flush()
				time.Sleep(20 * time.Millisecond) // 500 B/s
			}
		}},
		{"stall after headers", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100000")
			w.Write(make([]byte, 100))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src, _ := newServer(t, tt.handler, WithMinRate(5000, window))
			resp, err := src.Fetch(context.Background(), Request{Name: "f", Max: 1 << 20})
			require.NoError(t, err)
			start := time.Now()
			_, err = readBody(t, resp)
			elapsed := time.Since(start)
			require.ErrorIs(t, err, ErrTooSlow)
			require.ErrorContains(t, err, "5000 bytes/s")
			require.GreaterOrEqual(t, elapsed, window)
			require.Less(t, elapsed, 10*window)
		})
	}
}

// TestHTTPPausingReaderNotSlow: a caller that stops reading for several windows does
// not make the server look slow.
func TestHTTPPausingReaderNotSlow(t *testing.T) {
	t.Parallel()
	data := content(300_000)
	src, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(data)
	}), WithMinRate(1000, 20*time.Millisecond))
	resp, err := src.Fetch(context.Background(), Request{Name: "f", Max: int64(len(data))})
	require.NoError(t, err)
	defer resp.Body.Close()
	var got []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		time.Sleep(70 * time.Millisecond)
	}
	require.Equal(t, data, got)
}

func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		statuses  []int // answered in turn, the last one forever; 200 serves the file
		retryAfer string
		wantErr   error
		wantHits  int32
		wantInMsg string
	}{
		{"404 not retried", []int{404}, "", ErrNotFound, 1, "404"},
		{"410 not retried", []int{410}, "", ErrNotFound, 1, "410"},
		{"403 not retried", []int{403}, "", ErrDenied, 1, "403"},
		{"401 not retried", []int{401}, "", ErrDenied, 1, "401"},
		{"418 unusable", []int{418}, "", ErrBadResponse, 1, "418"},
		{"500 then success", []int{500, 502, 200}, "", nil, 3, ""},
		{"429 then success", []int{429, 200}, "0", nil, 2, ""},
		{"408 then success", []int{408, 200}, "", nil, 2, ""},
		{"500 forever", []int{500}, "", ErrUnreachable, 4, "500"},
		{"503 forever", []int{503}, "", ErrUnreachable, 4, "after 4 attempts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int32
			src, srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(hits.Add(1)) - 1
				st := tt.statuses[min(n, len(tt.statuses)-1)]
				if st == 200 {
					w.Write([]byte("payload"))
					return
				}
				if tt.retryAfer != "" {
					w.Header().Set("Retry-After", tt.retryAfer)
				}
				http.Error(w, "nope", st)
			}), WithRetries(3))
			resp, err := src.Fetch(context.Background(), Request{Name: "dir/file.bin", Max: 100})
			require.Equal(t, tt.wantHits, hits.Load())
			if tt.wantErr == nil {
				require.NoError(t, err)
				b, err := readBody(t, resp)
				require.NoError(t, err)
				require.Equal(t, "payload", string(b))
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			require.ErrorContains(t, err, srv.URL+"/dir/file.bin")
			require.ErrorContains(t, err, tt.wantInMsg)
			var serr *Error
			require.ErrorAs(t, err, &serr)
			require.Equal(t, "dir/file.bin", serr.Name)
			require.Equal(t, tt.statuses[len(tt.statuses)-1], serr.StatusCode)
		})
	}
}

func TestHTTPRetryAfter(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	src, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}), WithBackoff(time.Millisecond, 3*time.Second))
	start := time.Now()
	resp, err := src.Fetch(context.Background(), Request{Name: "f", Max: 10})
	require.NoError(t, err)
	resp.Body.Close()
	require.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond)

	// The ceiling of the backoff caps what a server may ask for.
	hits.Store(0)
	capped, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write([]byte("ok"))
	}))
	// Without the cap the retry would wait an hour; the context's generous deadline
	// tells the two apart without timing the fetch.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err = capped.Fetch(ctx, Request{Name: "f", Max: 10})
	require.NoError(t, err)
	resp.Body.Close()
}

func TestHTTPCancelDuringBackoff(t *testing.T) {
	t.Parallel()
	src, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}), WithBackoff(time.Minute, time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := src.Fetch(ctx, Request{Name: "f", Max: 10})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestHTTPConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	var retries atomic.Int32
	src, err := NewHTTP("http://"+addr+"/repo/", fastOptions(WithRetries(2),
		WithLogger(newCountingLogger(&retries)))...)
	require.NoError(t, err)
	_, err = src.Fetch(context.Background(), Request{Name: "manifest.json", Max: 10})
	require.ErrorIs(t, err, ErrUnreachable)
	require.ErrorContains(t, err, "http://"+addr+"/repo/manifest.json")
	require.ErrorContains(t, err, "refused")
	require.EqualValues(t, 2, retries.Load())
}

func TestHTTPConditional(t *testing.T) {
	t.Parallel()
	modified := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		etag   bool
		lastMo bool
	}{
		{"etag", true, false},
		{"last-modified", false, true},
		{"both", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var version atomic.Int32
			src, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				v := version.Load()
				etag := fmt.Sprintf(`"v%d"`, v)
				mod := modified.Add(time.Duration(v) * time.Hour)
				if tt.etag {
					w.Header().Set("ETag", etag)
					if inm := r.Header.Get("If-None-Match"); inm != "" {
						if inm == etag {
							w.WriteHeader(http.StatusNotModified)
							return
						}
					}
				}
				if tt.lastMo {
					w.Header().Set("Last-Modified", mod.Format(http.TimeFormat))
					if ims, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil &&
						(!tt.etag || r.Header.Get("If-None-Match") == "") && !mod.After(ims) {
						w.WriteHeader(http.StatusNotModified)
						return
					}
				}
				fmt.Fprintf(w, "manifest v%d", v)
			}))
			ctx := context.Background()
			resp, err := src.Fetch(ctx, Request{Name: "manifest.json", Max: 100})
			require.NoError(t, err)
			b, err := readBody(t, resp)
			require.NoError(t, err)
			require.Equal(t, "manifest v0", string(b))
			require.NotEmpty(t, resp.Validator)

			again, err := src.Fetch(ctx, Request{Name: "manifest.json", Max: 100, Validator: resp.Validator})
			require.NoError(t, err)
			require.True(t, again.NotModified)
			require.Nil(t, again.Body)
			require.Equal(t, resp.Validator, again.Validator)

			version.Store(1)
			changed, err := src.Fetch(ctx, Request{Name: "manifest.json", Max: 100, Validator: resp.Validator})
			require.NoError(t, err)
			require.False(t, changed.NotModified)
			b, err = readBody(t, changed)
			require.NoError(t, err)
			require.Equal(t, "manifest v1", string(b))
			require.NotEqual(t, resp.Validator, changed.Validator)
		})
	}
}

func TestHTTPUnexpected304(t *testing.T) {
	t.Parallel()
	src, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotModified)
	}))
	_, err := src.Fetch(context.Background(), Request{Name: "f", Max: 10})
	require.ErrorIs(t, err, ErrBadResponse)
}

func TestHTTPHeaders(t *testing.T) {
	t.Parallel()
	src, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" || r.Header.Get("X-Fleet") != "slave-7" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		// The transport must not ask for compression it would undo behind our back.
		fmt.Fprint(w, r.Header.Get("Accept-Encoding"))
	}), WithBearerToken("s3cret"), WithHeader("X-Fleet", "slave-7"))
	resp, err := src.Fetch(context.Background(), Request{Name: "f", Max: 100})
	require.NoError(t, err)
	b, err := readBody(t, resp)
	require.NoError(t, err)
	require.Equal(t, "identity", string(b))

	_, err = NewHTTP("http://127.0.0.1/", WithHeader("Range", "bytes=0-"))
	require.Error(t, err)
}

func TestHTTPBaseWithPath(t *testing.T) {
	t.Parallel()
	var lastPath atomic.Value
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastPath.Store(r.URL.EscapedPath())
		fmt.Fprint(w, "x")
	})
	tests := []struct{ base, name, wantPath string }{
		{"/repo/", "manifest.json", "/repo/manifest.json"},
		{"/repo", "packs/app-1.0.zip", "/repo/packs/app-1.0.zip"},
		{"/a/b/", "with space?#.zip", "/a/b/with%20space%3F%23.zip"},
		{"", "f", "/f"},
	}
	_, srv := newServer(t, mux)
	for _, tt := range tests {
		src, err := NewHTTP(srv.URL+tt.base, fastOptions()...)
		require.NoError(t, err)
		resp, err := src.Fetch(context.Background(), Request{Name: tt.name, Max: 10})
		require.NoError(t, err, tt.name)
		readBody(t, resp)
		require.Equal(t, tt.wantPath, lastPath.Load())
		require.Equal(t, srv.URL+tt.wantPath, resp.Location)
	}
}

func TestNewLocations(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		location string
		wantType string
		wantErr  bool
	}{
		{"http://127.0.0.1:8090/", "*source.HTTP", false},
		{"HTTPS://example.com/repo", "*source.HTTP", false},
		{"file:///" + strings.TrimPrefix(filepath.ToSlash(dir), "/"), "*source.Dir", false},
		{dir, "*source.Dir", false},
		{"relative/dir", "*source.Dir", false},
		{"ftp://example.com/", "", true},
		{"file://host/dir", "", true},
		{"http://user:pw@example.com/", "", true},
		{"http://example.com/?q=1", "", true},
		{"http:///nohost", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		src, err := New(tt.location)
		if tt.wantErr {
			require.Error(t, err, tt.location)
			continue
		}
		require.NoError(t, err, tt.location)
		require.Equal(t, tt.wantType, fmt.Sprintf("%T", src), tt.location)
	}
}

func TestOptionsRefuseNonsense(t *testing.T) {
	t.Parallel()
	for i, opt := range []Option{
		WithHTTPClient(nil), WithRetries(-1), WithBackoff(0, time.Second),
		WithBackoff(time.Second, time.Millisecond), WithMinRate(-1, time.Second),
		WithMinRate(10, 0), WithTimeouts(0, time.Second, time.Second),
		WithHeader("", "x"), WithBearerToken(""), WithLogger(nil),
	} {
		_, err := NewHTTP("http://127.0.0.1/", opt)
		require.Error(t, err, "option %d", i)
	}
}

func TestParseContentRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in                 string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-9/10", 0, 9, 10, true},
		{"bytes 5-9/*", 5, 9, -1, true},
		{"bytes */10", -1, -1, 10, true},
		{"bytes 5-4/10", 0, 0, 0, false},
		{"bytes 5-10/10", 0, 0, 0, false},
		{"bytes -1-3/10", 0, 0, 0, false},
		{"items 0-9/10", 0, 0, 0, false},
		{"bytes 0-9", 0, 0, 0, false},
		{"bytes */*", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	}
	for _, tt := range tests {
		first, last, total, ok := parseContentRange(tt.in)
		require.Equal(t, tt.ok, ok, tt.in)
		if ok {
			require.Equal(t, []int64{tt.first, tt.last, tt.total}, []int64{first, last, total}, tt.in)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	require.Equal(t, 3*time.Second, parseRetryAfter("3"))
	require.Zero(t, parseRetryAfter(""))
	require.Zero(t, parseRetryAfter("-5"))
	require.Zero(t, parseRetryAfter("soon"))
	d := parseRetryAfter(time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
	require.Greater(t, d, 58*time.Minute)
	require.Zero(t, parseRetryAfter(time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)))
}

func TestHTTPS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "over tls")
	}))
	t.Cleanup(srv.Close)

	// An untrusted certificate will not become trusted by retrying.
	var retries atomic.Int32
	untrusting, err := NewHTTP(srv.URL+"/", fastOptions(WithLogger(newCountingLogger(&retries)))...)
	require.NoError(t, err)
	_, err = untrusting.Fetch(context.Background(), Request{Name: "f", Max: 100})
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrUnreachable)
	require.ErrorContains(t, err, "certificate")
	require.Zero(t, retries.Load())

	trusting, err := NewHTTP(srv.URL+"/", fastOptions(WithHTTPClient(srv.Client()))...)
	require.NoError(t, err)
	resp, err := trusting.Fetch(context.Background(), Request{Name: "f", Max: 100})
	require.NoError(t, err)
	b, err := readBody(t, resp)
	require.NoError(t, err)
	require.Equal(t, "over tls", string(b))
}
