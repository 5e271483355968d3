package source

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLengthPart checks that Request.Length reads one part of a file, also at offset
// 0, through a bounded Range request over HTTP and from a folder.
func TestLengthPart(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1000)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f.zip"), data, 0o644))
	var mu sync.Mutex
	var ranges []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		mu.Unlock()
		http.ServeContent(w, r, "f.zip", time.Time{}, bytes.NewReader(data))
	})
	hsrc, _ := newServer(t, h)
	for _, src := range []Source{hsrc, NewDir(dir)} {
		for _, c := range []struct{ off, n int64 }{{0, 10}, {5, 7}, {9990, 10}, {9995, 100}} {
			resp, err := src.Fetch(context.Background(), Request{Name: "f.zip", Offset: c.off, Length: c.n})
			require.NoError(t, err)
			require.Equal(t, c.off, resp.Offset)
			require.Equal(t, int64(len(data)), resp.Size)
			got, err := readBody(t, resp)
			require.NoError(t, err)
			require.Equal(t, data[c.off:min(c.off+c.n, int64(len(data)))], got)
		}
	}
	require.Equal(t, []string{"bytes=0-9", "bytes=5-11", "bytes=9990-9999", "bytes=9995-10094"}, ranges)
}

// TestLengthRangeIgnored checks that a server answering a bounded Range request with
// the whole file fails with ErrNoRange, its body unread.
func TestLengthRangeIgnored(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 1<<20)
	src, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(data)
	}))
	_, err := src.Fetch(context.Background(), Request{Name: "f.zip", Offset: 0, Length: 10})
	require.ErrorIs(t, err, ErrNoRange)
	var se *Error
	require.True(t, errors.As(err, &se))
	require.Equal(t, http.StatusOK, se.StatusCode)
}
