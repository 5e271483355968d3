package source

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// credentials are the headers a source is given in these tests.
var credentials = []Option{WithBearerToken("s3cret"), WithHeader("X-Api-Key", "k3y")}

// headerLog records the credentials each request arrived with, by path.
type headerLog struct {
	mu   sync.Mutex
	seen map[string]string
}

func (l *headerLog) record(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]string{}
	}
	l.seen[r.URL.Path] = strings.TrimSpace(r.Header.Get("Authorization") + " " + r.Header.Get("X-Api-Key"))
}

func (l *headerLog) get(path string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.seen[path]
	return v, ok
}

// redirector answers each path in to with a redirect to its URL, and any other path
// with its name, recording the credentials of every request.
func redirector(log *headerLog, to func() map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.record(r)
		if u, ok := to()[r.URL.Path]; ok {
			http.Redirect(w, r, u, http.StatusFound)
			return
		}
		fmt.Fprint(w, r.URL.Path)
	})
}

func fetchAll(t *testing.T, src *HTTP, name string) string {
	t.Helper()
	resp, err := src.Fetch(context.Background(), Request{Name: name, Max: 100})
	require.NoError(t, err)
	b, err := readBody(t, resp)
	require.NoError(t, err)
	return string(b)
}

// TestHTTPRedirectCredentials: the headers configured on a source (an API key, a
// bearer token) go to the repository's host only. A redirect to another host (another
// port counts as another host) drops them, and so does every later hop, even one
// that comes back; a redirect within the host keeps them.
func TestHTTPRedirectCredentials(t *testing.T) {
	t.Parallel()
	var originLog, otherLog headerLog
	var origin, other *httptest.Server
	origin = httptest.NewServer(redirector(&originLog, func() map[string]string {
		return map[string]string{
			"/repo/same":  origin.URL + "/repo/same-target",
			"/repo/away":  other.URL + "/away-target",
			"/repo/round": other.URL + "/round-trip",
		}
	}))
	t.Cleanup(origin.Close)
	other = httptest.NewServer(redirector(&otherLog, func() map[string]string {
		return map[string]string{"/round-trip": origin.URL + "/repo/back-home"}
	}))
	t.Cleanup(other.Close)
	src, err := NewHTTP(origin.URL+"/repo/", fastOptions(credentials...)...)
	require.NoError(t, err)

	require.Equal(t, "/repo/same-target", fetchAll(t, src, "same"))
	got, _ := originLog.get("/repo/same-target")
	require.Equal(t, "Bearer s3cret k3y", got, "a redirect within the host keeps the credentials")

	require.Equal(t, "/away-target", fetchAll(t, src, "away"))
	got, _ = originLog.get("/repo/away")
	require.Equal(t, "Bearer s3cret k3y", got)
	got, ok := otherLog.get("/away-target")
	require.True(t, ok)
	require.Empty(t, got, "another host gets no credentials")

	require.Equal(t, "/repo/back-home", fetchAll(t, src, "round"))
	got, _ = otherLog.get("/round-trip")
	require.Empty(t, got)
	got, ok = originLog.get("/repo/back-home")
	require.True(t, ok)
	require.Empty(t, got, "a chain that left the host does not get them back: the other host chose where it goes")
}

// TestHTTPRedirectDowngrade: a redirect from https to plain http drops the
// credentials, also on the same host and port, where only the scheme changes.
func TestHTTPRedirectDowngrade(t *testing.T) {
	t.Parallel()
	var log headerLog
	var base string
	h := redirector(&log, func() map[string]string {
		return map[string]string{
			"/repo/down": "http://" + strings.TrimPrefix(base, "https://") + "/plain",
			"/repo/same": base + "/tls",
		}
	})
	srv := httptest.NewTLSServer(h) // for its certificate and a client trusting it
	t.Cleanup(srv.Close)
	base = serveBoth(t, h, srv.TLS)

	src, err := NewHTTP(base+"/repo/", fastOptions(append(credentials, WithHTTPClient(srv.Client()))...)...)
	require.NoError(t, err)
	require.Equal(t, "/tls", fetchAll(t, src, "same"))
	got, _ := log.get("/tls")
	require.Equal(t, "Bearer s3cret k3y", got)

	require.Equal(t, "/plain", fetchAll(t, src, "down"))
	got, _ = log.get("/repo/down")
	require.Equal(t, "Bearer s3cret k3y", got)
	got, ok := log.get("/plain")
	require.True(t, ok)
	require.Empty(t, got, "no credentials in clear text after a downgrade")

	// And to another server over plain http, as httptest gives them.
	var plainLog headerLog
	plain := httptest.NewServer(redirector(&plainLog, func() map[string]string { return nil }))
	t.Cleanup(plain.Close)
	tlsOrigin := httptest.NewTLSServer(redirector(&log, func() map[string]string {
		return map[string]string{"/repo/away": plain.URL + "/elsewhere"}
	}))
	t.Cleanup(tlsOrigin.Close)
	src, err = NewHTTP(tlsOrigin.URL+"/repo/", fastOptions(append(credentials, WithHTTPClient(tlsOrigin.Client()))...)...)
	require.NoError(t, err)
	require.Equal(t, "/elsewhere", fetchAll(t, src, "away"))
	got, ok = plainLog.get("/elsewhere")
	require.True(t, ok)
	require.Empty(t, got)
}

// TestHTTPRedirectPolicyOfGivenClient: a client given with WithHTTPClient is not
// modified, and its own redirect policy still applies after the credentials are
// dropped.
func TestHTTPRedirectPolicyOfGivenClient(t *testing.T) {
	t.Parallel()
	var log, otherLog headerLog
	other := httptest.NewServer(redirector(&otherLog, func() map[string]string { return nil }))
	t.Cleanup(other.Close)
	origin := httptest.NewServer(redirector(&log, func() map[string]string {
		return map[string]string{"/away": other.URL + "/target"}
	}))
	t.Cleanup(origin.Close)

	noRedirects := errors.New("no redirects here")
	var sawCredentials []string
	c := &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
		sawCredentials = append(sawCredentials, req.Header.Get("Authorization")+req.Header.Get("X-Api-Key"))
		return noRedirects
	}}
	policy := c.CheckRedirect
	src, err := NewHTTP(origin.URL+"/", fastOptions(append(credentials, WithHTTPClient(c), WithRetries(0))...)...)
	require.NoError(t, err)
	_, err = src.Fetch(context.Background(), Request{Name: "away", Max: 100})
	require.ErrorIs(t, err, noRedirects)
	require.Equal(t, []string{""}, sawCredentials, "the client's policy sees the request without the credentials")
	require.Equal(t, fmt.Sprintf("%p", policy), fmt.Sprintf("%p", c.CheckRedirect), "the given client is not modified")
	_, ok := otherLog.get("/target")
	require.False(t, ok)
}

// serveBoth serves h over TLS (with the configuration tlsConfig) and plain HTTP on one
// port of 127.0.0.1, telling them apart by the first byte a client sends, and returns
// its https URL: the same host and port then answer both schemes.
func serveBoth(t *testing.T, h http.Handler, tlsConfig *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h}
	go srv.Serve(sniffListener{ln, tlsConfig})
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

// sniffListener hands out TLS connections for clients that open with a TLS record
// (0x16, a handshake) and plain ones otherwise.
type sniffListener struct {
	net.Listener
	tls *tls.Config
}

func (l sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(c)
	first, err := br.Peek(1)
	if err != nil {
		c.Close()
		return sniffedConn{c, br}, nil // the server reads the error
	}
	conn := net.Conn(sniffedConn{c, br})
	if first[0] == 0x16 {
		conn = tls.Server(conn, l.tls)
	}
	return conn, nil
}

// sniffedConn is a connection whose first bytes were peeked at through r.
type sniffedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c sniffedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
