package maintenance

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// okHandler answers 200 "ok".
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "ok")
})

type reply struct {
	status int
	header http.Header
	body   string
}

// get requests path from srv with its own client: the default client's idle
// connections are closed by every other test's srv.Close.
func get(t *testing.T, srv *httptest.Server, path string, header http.Header) reply {
	t.Helper()
	return do(t, srv, http.MethodGet, path, header)
}

func do(t *testing.T, srv *httptest.Server, method, path string, header http.Header) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{resp.StatusCode, resp.Header, string(body)}
}

func TestMiddlewareOff(t *testing.T) {
	t.Parallel()
	s := NewState()
	srv := httptest.NewServer(s.Middleware(okHandler, WithBypassToken("tok"), WithHealthPaths("/healthz")))
	defer srv.Close()
	for _, path := range []string{"/", "/healthz", "/x"} {
		r := get(t, srv, path, nil)
		require.Equal(t, http.StatusOK, r.status, path)
		require.Equal(t, "ok", r.body)
		require.Empty(t, r.header.Get("Retry-After"))
	}
	require.Zero(t, s.InFlight())
}

func TestMiddlewareOn(t *testing.T) {
	t.Parallel()
	const token = "s3cret-token"
	page := []byte("<html>custom</html>")
	tests := []struct {
		name       string
		opts       []MiddlewareOption
		path       string
		header     http.Header
		wantStatus int
		wantType   string // Content-Type on 503
		wantBody   string // substring
	}{
		{name: "html by default", path: "/", wantStatus: 503,
			wantType: "text/html; charset=utf-8", wantBody: "updating &lt;db&gt; &amp; files"},
		{name: "json when asked", path: "/api", header: http.Header{"Accept": {"application/json"}},
			wantStatus: 503, wantType: "application/json", wantBody: `"status":"maintenance"`},
		{name: "browser accept gets html", path: "/",
			header:     http.Header{"Accept": {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}},
			wantStatus: 503, wantType: "text/html; charset=utf-8", wantBody: "<h1>Maintenance in progress</h1>"},
		{name: "json ranked below html", path: "/",
			header:     http.Header{"Accept": {"application/json;q=0.5, text/html"}},
			wantStatus: 503, wantType: "text/html; charset=utf-8"},
		{name: "html ranked below json", path: "/",
			header:     http.Header{"Accept": {"text/html;q=0.2", "application/json"}},
			wantStatus: 503, wantType: "application/json"},
		{name: "custom page", opts: []MiddlewareOption{WithPage(page)}, path: "/",
			wantStatus: 503, wantType: "text/html; charset=utf-8", wantBody: string(page)},
		{name: "custom page but json wanted", opts: []MiddlewareOption{WithPage(page)}, path: "/",
			header: http.Header{"Accept": {"application/json"}}, wantStatus: 503, wantType: "application/json"},
		{name: "health path through", opts: []MiddlewareOption{WithHealthPaths("/healthz", "/ready")},
			path: "/ready", wantStatus: 200, wantBody: "ok"},
		{name: "health path is exact", opts: []MiddlewareOption{WithHealthPaths("/healthz")},
			path: "/healthz/deep", wantStatus: 503, wantType: "text/html; charset=utf-8"},
		{name: "bypass header", opts: []MiddlewareOption{WithBypassToken(token)}, path: "/",
			header: http.Header{BypassHeader: {token}}, wantStatus: 200, wantBody: "ok"},
		{name: "bypass cookie", opts: []MiddlewareOption{WithBypassToken(token)}, path: "/",
			header: http.Header{"Cookie": {BypassCookie + "=" + token}}, wantStatus: 200, wantBody: "ok"},
		{name: "wrong header token", opts: []MiddlewareOption{WithBypassToken(token)}, path: "/",
			header: http.Header{BypassHeader: {token + "x"}}, wantStatus: 503, wantType: "text/html; charset=utf-8"},
		{name: "wrong cookie token", opts: []MiddlewareOption{WithBypassToken(token)}, path: "/",
			header: http.Header{"Cookie": {BypassCookie + "=nope"}}, wantStatus: 503, wantType: "text/html; charset=utf-8"},
		{name: "token prefix refused", opts: []MiddlewareOption{WithBypassToken(token)}, path: "/",
			header: http.Header{BypassHeader: {token[:3]}}, wantStatus: 503, wantType: "text/html; charset=utf-8"},
		{name: "no token configured", path: "/",
			header: http.Header{BypassHeader: {""}, "Cookie": {BypassCookie + "="}}, wantStatus: 503, wantType: "text/html; charset=utf-8"},
		{name: "empty token disables bypass", opts: []MiddlewareOption{WithBypassToken("")}, path: "/",
			header: http.Header{"Cookie": {BypassCookie + "="}}, wantStatus: 503, wantType: "text/html; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewState(WithRetryAfter(90 * time.Second))
			srv := httptest.NewServer(s.Middleware(okHandler, tt.opts...))
			defer srv.Close()
			require.NoError(t, s.On(t.Context(), "updating <db> & files"))

			r := get(t, srv, tt.path, tt.header)
			require.Equal(t, tt.wantStatus, r.status)
			require.Contains(t, r.body, tt.wantBody)
			if tt.wantStatus != http.StatusServiceUnavailable {
				require.Empty(t, r.header.Get("Retry-After"))
				return
			}
			require.Equal(t, "90", r.header.Get("Retry-After"))
			require.Equal(t, "no-store", r.header.Get("Cache-Control"))
			require.Equal(t, tt.wantType, r.header.Get("Content-Type"))
			if tt.wantType == "application/json" {
				var got map[string]any
				require.NoError(t, json.Unmarshal([]byte(r.body), &got))
				require.Equal(t, map[string]any{
					"status": "maintenance", "retry_after": float64(90), "reason": "updating <db> & files",
				}, got)
			}
		})
	}
}

func TestMiddlewareRetryAfterRoundsUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"default", 0, "60"},
		{"fraction", 1500 * time.Millisecond, "2"},
		{"sub-second", time.Millisecond, "1"},
		{"minutes", 5 * time.Minute, "300"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewState(WithRetryAfter(tt.d))
			srv := httptest.NewServer(s.Middleware(okHandler))
			defer srv.Close()
			require.NoError(t, s.On(t.Context(), ""))
			r := get(t, srv, "", http.Header{"Accept": {"application/json"}})
			require.Equal(t, tt.want, r.header.Get("Retry-After"))
			require.Contains(t, r.body, `"retry_after":`+tt.want+`,`)
		})
	}
}

func TestMiddlewareHead(t *testing.T) {
	t.Parallel()
	s := NewState()
	srv := httptest.NewServer(s.Middleware(okHandler))
	defer srv.Close()
	require.NoError(t, s.On(t.Context(), "x"))
	r := do(t, srv, http.MethodHead, "", nil)
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Equal(t, "60", r.header.Get("Retry-After"))
	require.Empty(t, r.body)
}

func TestMiddlewareBackAfterOff(t *testing.T) {
	t.Parallel()
	s := NewState()
	srv := httptest.NewServer(s.Middleware(okHandler))
	defer srv.Close()
	require.NoError(t, s.On(t.Context(), "x"))
	require.Equal(t, http.StatusServiceUnavailable, get(t, srv, "", nil).status)
	s.Off()
	r := get(t, srv, "", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "ok", r.body)
}

func TestMiddlewarePanicCountsOut(t *testing.T) {
	t.Parallel()
	s := NewState()
	h := s.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	func() {
		defer func() { require.Equal(t, http.ErrAbortHandler, recover()) }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	require.Zero(t, s.InFlight())
	require.NoError(t, s.On(t.Context(), "")) // nothing to wait for
}

func TestPrefersJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"*/*", false},
		{"application/json", true},
		{"Application/JSON", true},
		{"application/*", true},
		{"application/json, text/html", false},
		{"application/json;q=0.9, text/html;q=0.8", true},
		{"application/json; charset=utf-8; q=0.4, */*;q=0.5", false},
		{"text/html;q=0, application/json", true},
		{"application/json;q=0", false},
		{"application/json;q=abc", false},
		{"application/json;q=NaN", false},
		{"text/plain, application/json;q=0.1", true},
		{"*/*;q=0.1, application/json", true},
		{"garbage", false},
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, prefersJSON(strings.Split(tt.accept, "\x00")))
		})
	}
}
