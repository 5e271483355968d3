package source

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fastOptions keep retries and rate windows in milliseconds.
func fastOptions(extra ...Option) []Option {
	return append([]Option{
		WithBackoff(time.Millisecond, 5*time.Millisecond),
		WithMinRate(0, 0),
	}, extra...)
}

// newServer starts an httptest server on 127.0.0.1 and an HTTP source on it.
func newServer(t *testing.T, h http.Handler, opts ...Option) (*HTTP, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	src, err := NewHTTP(srv.URL+"/", fastOptions(opts...)...)
	require.NoError(t, err)
	return src, srv
}

// readBody reads a response body to its end and closes it.
func readBody(t *testing.T, r *Response) ([]byte, error) {
	t.Helper()
	require.NotNil(t, r.Body)
	b, err := io.ReadAll(r.Body)
	require.NoError(t, r.Body.Close())
	return b, err
}

// download is the engine's resume loop: read until an error, then fetch again from the
// bytes already held; a response starting at 0 means starting over.
func download(t *testing.T, src Source, name string, size int64) ([]byte, int) {
	t.Helper()
	var got bytes.Buffer
	validator := ""
	for fetches := 1; fetches <= 50; fetches++ {
		off := int64(got.Len())
		resp, err := src.Fetch(context.Background(), Request{Name: name, Offset: off, Max: size - off, Validator: validator})
		require.NoError(t, err)
		if resp.Offset != off {
			require.Zero(t, resp.Offset)
			got.Reset()
		}
		validator = resp.Validator
		_, err = io.Copy(&got, resp.Body)
		resp.Body.Close()
		if err == nil {
			return got.Bytes(), fetches
		}
		require.NotErrorIs(t, err, ErrTooLarge)
	}
	t.Fatalf("download of %s did not complete in 50 fetches", name)
	return nil, 0
}

// content returns n deterministic bytes that differ from one offset to the next.
func content(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// countingHandler counts the log records announcing a retry.
type countingHandler struct{ n *atomic.Int32 }

func newCountingLogger(n *atomic.Int32) *slog.Logger { return slog.New(countingHandler{n}) }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "source: retrying" {
		h.n.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }
