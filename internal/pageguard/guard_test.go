package pageguard_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/pageguard"
	"github.com/upkeep-go/upkeep/internal/testenv"
)

const secret = "a-secret-of-the-token-file"

// app is what stands behind the guard in these tests: a page, a state-changing
// route, the login and logout routes.
func app(g *pageguard.Guard) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if !g.Authenticated(r) {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "login form "+g.Token())
			return
		}
		io.WriteString(w, "page "+g.Token())
	})
	mux.HandleFunc("POST /api/do", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "done")
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := g.Login(w, r); err != nil {
			e := err.(*pageguard.Error)
			pageguard.WriteError(w, e.Status, e.Code, e.Msg)
			return
		}
		w.WriteHeader(http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		g.Logout(w, r)
		w.WriteHeader(http.StatusNoContent)
	})
	return g.Wrap(pageguard.Routes(mux))
}

// server is a guarded app on a real listener of 127.0.0.1.
type server struct {
	t    *testing.T
	g    *pageguard.Guard
	url  string
	port string
}

func newServer(t *testing.T, o pageguard.Options) *server {
	t.Helper()
	o.Public = append(o.Public, "/healthz")
	o.Open = append(o.Open, "GET /", "/login")
	o.LoginPath = "/login"
	srv := httptest.NewUnstartedServer(nil)
	if o.Addr == "listener" {
		o.Addr = srv.Listener.Addr().String()
	}
	g, err := pageguard.New(o)
	require.NoError(t, err)
	srv.Config.Handler = app(g)
	srv.Start()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return &server{t: t, g: g, url: srv.URL, port: port}
}

type answer struct {
	status int
	body   string
	h      http.Header
	code   string
}

// do sends a request; header holds "Name: value" lines, "Host: …" sets the Host.
func (s *server) do(method, path, body string, header ...string) answer {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	require.NoError(s.t, err)
	for _, h := range header {
		k, v, _ := strings.Cut(h, ": ")
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	a := answer{status: resp.StatusCode, body: string(b), h: resp.Header}
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") == "application/json" {
		var e struct{ Error, Code string }
		require.NoError(s.t, json.Unmarshal(b, &e), string(b))
		require.NotEmpty(s.t, e.Code, "an error without a code: %s", b)
		a.code = e.Code
	}
	return a
}

func (s *server) login(pass string, header ...string) answer {
	s.t.Helper()
	form := url.Values{"token": {s.g.Token()}, "secret": {pass}}.Encode()
	return s.do("POST", "/login", form, append([]string{"Content-Type: application/x-www-form-urlencoded"}, header...)...)
}

func sessionCookie(t *testing.T, a answer) string {
	t.Helper()
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	resp := http.Response{Header: a.h}
	cs := resp.Cookies()
	require.Len(t, cs, 1)
	return "Cookie: " + cs[0].Name + "=" + cs[0].Value
}

// TestHost checks the one Host rule against a listener of 127.0.0.1: the loopback
// names on the served port, one trailing dot, any case; configured names; nothing
// else, whatever the path.
func TestHost(t *testing.T) {
	t.Parallel()
	byAddr := newServer(t, pageguard.Options{Addr: "listener", Hosts: []string{"upkeep.example", "admin.example:8443", "[fd00::1]:9"}})
	byConn := newServer(t, pageguard.Options{})
	for _, s := range []*server{byAddr, byConn} {
		p := s.port
		cases := []struct {
			host string
			ok   bool
		}{
			{"127.0.0.1:" + p, true},
			{"localhost:" + p, true},
			{"LOCALHOST:" + p, true},
			{"localhost.:" + p, true},
			{"127.0.0.1.:" + p, true},
			{"[::1]:" + p, true},
			{"[::1].:" + p, false}, // no name: no dot to tolerate
			{"localhost..:" + p, false},
			{"localhost", false}, // port 80
			{"127.0.0.1", false},
			{"[::1]", false},
			{"localhost:1", false}, // another local service's origin
			{"127.0.0.1:0" + p, false},
			{"evil.example:" + p, false}, // DNS rebinding: the attacker's name
			{"localhost.evil.example:" + p, false},
			{"127.0.0.1.nip.io:" + p, false},
			{"127.1:" + p, false},
			{"0x7f.1:" + p, false},
			{"[::ffff:127.0.0.1]:" + p, false},
			{"[localhost]:" + p, false},
			{"[::1:" + p, false},
			{":" + p, false},
		}
		if s == byAddr {
			cases = append(cases, []struct {
				host string
				ok   bool
			}{
				{"upkeep.example", true}, {"upkeep.example:1", true}, {"Upkeep.Example.:" + p, true},
				{"admin.example:8443", true}, {"admin.example:" + p, false}, {"[fd00::1]:9", true}, {"[fd00::1]:10", false},
			}...)
		} else {
			cases = append(cases, struct {
				host string
				ok   bool
			}{"upkeep.example", false})
		}
		for _, c := range cases {
			for _, path := range []string{"/", "/healthz", "/api/do", "/nope"} {
				method := "GET"
				if path == "/api/do" {
					method = "POST"
				}
				a := s.do(method, path, "", "Host: "+c.host, pageguard.TokenHeader+": "+s.g.Token())
				if c.ok {
					require.NotEqual(t, http.StatusMisdirectedRequest, a.status, "Host %q %s", c.host, path)
					continue
				}
				require.Equal(t, http.StatusMisdirectedRequest, a.status, "Host %q %s: %s", c.host, path, a.body)
				require.Equal(t, pageguard.CodeMisdirected, a.code)
				require.Contains(t, a.h.Get("Content-Security-Policy"), "frame-ancestors 'none'")
			}
		}
	}
}

// TestHostAddr: the address's own host is served when it is a specific one, an
// unspecified one adds no name, and a bad address or name is refused at New.
func TestHostAddr(t *testing.T) {
	t.Parallel()
	req := func(host string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		return r
	}
	g, err := pageguard.New(pageguard.Options{Addr: "Upkeep-Box.lan.:8080"})
	require.NoError(t, err)
	require.True(t, g.HostAllowed(req("upkeep-box.lan:8080")))
	require.False(t, g.HostAllowed(req("upkeep-box.lan:8081")))
	require.True(t, g.HostAllowed(req("localhost:8080")), "the port is known without a connection")
	require.False(t, g.HostAllowed(req("")))
	require.False(t, g.HostAllowed(req("[upkeep-box.lan]:8080")))
	g, err = pageguard.New(pageguard.Options{Addr: "0.0.0.0:8080"})
	require.NoError(t, err)
	require.False(t, g.HostAllowed(req("0.0.0.0:8080")))
	require.True(t, g.HostAllowed(req("127.0.0.1:8080")))
	g, err = pageguard.New(pageguard.Options{})
	require.NoError(t, err)
	require.False(t, g.HostAllowed(req("localhost:8080")), "no address, no connection: no port is served")
	tls := req("localhost")
	tls.TLS = nil
	ctx := context.WithValue(tls.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80})
	require.True(t, g.HostAllowed(tls.WithContext(ctx)), "no port in Host: the scheme's")

	for _, o := range []pageguard.Options{
		{Addr: "8080"}, {Addr: "localhost:http"}, {Addr: "localhost:70000"},
		{Hosts: []string{""}}, {Hosts: []string{"a/b"}}, {Hosts: []string{"a b"}}, {Hosts: []string{":80"}},
		{Secret: " \n"}, {SessionTTL: -time.Second},
	} {
		_, err := pageguard.New(o)
		require.Error(t, err, "%+v", o)
		require.ErrorContains(t, err, "pageguard: ")
	}
}

// TestStateChange: a state-changing request needs the page token in its header
// (a form field, the query or another guard's token are not it) and the same origin;
// nothing else gets through, and GET changes nothing.
func TestStateChange(t *testing.T) {
	t.Parallel()
	s := newServer(t, pageguard.Options{Addr: "listener"})
	other := newServer(t, pageguard.Options{Addr: "listener"})
	tok := s.g.Token()
	require.Len(t, tok, 64)
	require.NotEqual(t, tok, other.g.Token(), "each guard draws its own token")
	cases := []struct {
		name   string
		path   string
		body   string
		header []string
		status int
		code   string
	}{
		{"token", "/api/do", "", []string{pageguard.TokenHeader + ": " + tok}, 202, ""},
		{"same-origin", "/api/do", "", []string{pageguard.TokenHeader + ": " + tok, "Sec-Fetch-Site: same-origin"}, 202, ""},
		{"own origin", "/api/do", "", []string{pageguard.TokenHeader + ": " + tok, "Origin: " + s.url}, 202, ""},
		{"no token", "/api/do", "", nil, 403, pageguard.CodeForbidden},
		{"empty token", "/api/do", "", []string{pageguard.TokenHeader + ": "}, 403, pageguard.CodeForbidden},
		{"other guard's", "/api/do", "", []string{pageguard.TokenHeader + ": " + other.g.Token()}, 403, pageguard.CodeForbidden},
		{"prefix", "/api/do", "", []string{pageguard.TokenHeader + ": " + tok[:32]}, 403, pageguard.CodeForbidden},
		{"form field", "/api/do", "token=" + tok, []string{"Content-Type: application/x-www-form-urlencoded"}, 403, pageguard.CodeForbidden},
		{"query", "/api/do?token=" + tok, "", nil, 403, pageguard.CodeForbidden},
		{"cross-site", "/api/do", "", []string{pageguard.TokenHeader + ": " + tok, "Sec-Fetch-Site: cross-site"}, 403, pageguard.CodeForbidden},
		{"same-site", "/api/do", "", []string{pageguard.TokenHeader + ": " + tok, "Sec-Fetch-Site: same-site"}, 403, pageguard.CodeForbidden},
		{"other origin", "/api/do", "", []string{pageguard.TokenHeader + ": " + tok, "Origin: http://evil.example"}, 403, pageguard.CodeForbidden},
		{"other port", "/api/do", "", []string{pageguard.TokenHeader + ": " + tok, "Origin: http://localhost:1"}, 403, pageguard.CodeForbidden},
		{"no secret set: a bearer proves nothing", "/api/do", "", []string{"Authorization: Bearer " + secret}, 403, pageguard.CodeForbidden},
		{"GET of a POST route", "/api/do", "", []string{pageguard.TokenHeader + ": " + tok}, 405, pageguard.CodeNotAllowed},
		{"unknown route", "/api/nothing", "", []string{pageguard.TokenHeader + ": " + tok}, 404, pageguard.CodeNotFound},
	}
	for _, c := range cases {
		method := "POST"
		if strings.HasPrefix(c.name, "GET") {
			method = "GET"
		}
		a := s.do(method, c.path, c.body, c.header...)
		require.Equal(t, c.status, a.status, "%s: %s", c.name, a.body)
		require.Equal(t, c.code, a.code, c.name)
		if c.status == 403 && !strings.Contains(c.name, "site") && !strings.Contains(c.name, "origin") && !strings.Contains(c.name, "port") {
			require.Contains(t, a.body, pageguard.TokenHeader, c.name)
		}
	}
}

// TestHeaders: every answer, refused or not, forbids framing, sniffing, referrers and
// caching, and allows only the given script and style, by hash.
func TestHeaders(t *testing.T) {
	t.Parallel()
	s := newServer(t, pageguard.Options{Addr: "listener", Scripts: []string{"alert(1)"}, Styles: []string{"b{}", "i{}"}})
	for _, a := range []answer{s.do("GET", "/", ""), s.do("GET", "/healthz", ""), s.do("POST", "/api/do", ""), s.do("GET", "/", "", "Host: evil.example")} {
		require.Equal(t, "default-src 'none'; script-src 'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='; "+
			"style-src 'sha256-7yqHVAesot11p6HczDsgKRipvI5UPgs97z80zNXlans=' 'sha256-e6jWDOyGxCCjebQhFRQYe5n6sSPlNhc3njC4Jta3SyM='; "+
			"connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'", a.h.Get("Content-Security-Policy"))
		require.Equal(t, s.g.CSP(), a.h.Get("Content-Security-Policy"))
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
			"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Resource-Policy": "same-origin", "Cache-Control": "no-store"} {
			require.Equal(t, v, a.h.Get(k), k)
		}
	}
	bare, err := pageguard.New(pageguard.Options{})
	require.NoError(t, err)
	require.NotContains(t, bare.CSP(), "script-src", "no script: default-src 'none' forbids all")
}

// TestSecret: with a secret, everything but the public and open requests needs the
// bearer or a session; the bearer needs no page token; the login form needs the page
// token in its field; the challenge can answer instead of the 401.
func TestSecret(t *testing.T) {
	t.Parallel()
	s := newServer(t, pageguard.Options{Addr: "listener", Secret: secret + "\n", Realm: "test"})
	tok := pageguard.TokenHeader + ": " + s.g.Token()
	bearer := "Authorization: Bearer " + secret
	cases := []struct {
		name, method, path string
		header             []string
		status             int
		code               string
	}{
		{"public", "GET", "/healthz", nil, 200, ""},
		{"open page shows the login", "GET", "/", nil, 401, ""},
		{"page with bearer", "GET", "/", []string{bearer}, 200, ""},
		{"nothing", "POST", "/api/do", []string{tok}, 401, pageguard.CodeUnauthorized},
		{"bearer, no page token", "POST", "/api/do", []string{bearer}, 202, ""},
		{"bearer lower-case scheme", "POST", "/api/do", []string{"Authorization: bearer " + secret}, 202, ""},
		{"bearer cross-site", "POST", "/api/do", []string{bearer, "Sec-Fetch-Site: cross-site"}, 403, pageguard.CodeForbidden},
		{"wrong bearer", "POST", "/api/do", []string{"Authorization: Bearer " + secret + "x", tok}, 401, pageguard.CodeUnauthorized},
		{"basic", "POST", "/api/do", []string{"Authorization: Basic " + secret, tok}, 401, pageguard.CodeUnauthorized},
		{"secret as cookie", "POST", "/api/do", []string{"Cookie: upkeep_login=" + secret, tok}, 401, pageguard.CodeUnauthorized},
		{"login without page token", "POST", "/login", []string{"Content-Type: application/x-www-form-urlencoded"}, 403, pageguard.CodeForbidden},
	}
	for _, c := range cases {
		a := s.do(c.method, c.path, "secret="+secret, c.header...)
		require.Equal(t, c.status, a.status, "%s: %s", c.name, a.body)
		require.Equal(t, c.code, a.code, c.name)
		if a.status == 401 && a.code != "" {
			require.Equal(t, `Bearer realm="test"`, a.h.Get("WWW-Authenticate"), c.name)
		}
	}
	require.Equal(t, http.StatusForbidden, s.login(secret, "Sec-Fetch-Site: cross-site").status, "a cross-site login")

	// A challenge of the embedder's: a browser is sent to the form.
	g, err := pageguard.New(pageguard.Options{Secret: secret, Addr: "127.0.0.1:8080", Challenge: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet {
			return false
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return true
	}})
	require.NoError(t, err)
	h := app(g)
	for method, want := range map[string]int{"GET": 303, "POST": 401} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(method, "http://127.0.0.1:8080/api/do", nil)
		h.ServeHTTP(w, r)
		require.Equal(t, want, w.Code, method)
	}
}

// TestSession: a login is a random session that lasts its time, ends at logout, and
// is known to its own guard only.
func TestSession(t *testing.T) {
	t.Parallel()
	clk := testenv.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := newServer(t, pageguard.Options{Addr: "listener", Secret: secret, Cookie: "sid", CookiePath: "/x/", Now: clk.Now})
	other := newServer(t, pageguard.Options{Addr: "listener", Secret: secret, Cookie: "sid", CookiePath: "/x/", Now: clk.Now})
	tok := pageguard.TokenHeader + ": " + s.g.Token()

	a := s.login(secret)
	cookie := sessionCookie(t, a)
	resp := http.Response{Header: a.h}
	c := resp.Cookies()[0]
	require.Equal(t, "sid", c.Name)
	require.Equal(t, "/x/", c.Path)
	require.Equal(t, int(pageguard.DefaultSessionTTL/time.Second), c.MaxAge)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.Len(t, c.Value, 64)
	require.NotContains(t, c.Value, secret)
	cookie2 := sessionCookie(t, s.login(secret))
	require.NotEqual(t, cookie, cookie2, "a session ID is drawn per login")

	cases := []struct {
		name   string
		header []string
		status int
	}{
		{"session and token", []string{cookie, tok}, 202},
		{"session without token", []string{cookie}, 403},
		{"session, other guard's token", []string{cookie, pageguard.TokenHeader + ": " + other.g.Token()}, 403},
		{"session cross-site", []string{cookie, tok, "Sec-Fetch-Site: cross-site"}, 403},
		{"forged session", []string{"Cookie: sid=" + strings.Repeat("0", 64), tok}, 401},
		{"upper-cased session", []string{strings.ToUpper(cookie), tok}, 401},
	}
	for _, c := range cases {
		a := s.do("POST", "/api/do", "", c.header...)
		require.Equal(t, c.status, a.status, "%s: %s", c.name, a.body)
	}
	require.Equal(t, http.StatusUnauthorized, other.do("POST", "/api/do", "", cookie, pageguard.TokenHeader+": "+other.g.Token()).status,
		"another process with the same secret knows no session")

	clk.Add(pageguard.DefaultSessionTTL - time.Second)
	require.Equal(t, 202, s.do("POST", "/api/do", "", cookie, tok).status, "a second before its end")
	clk.Add(time.Second)
	require.Equal(t, 401, s.do("POST", "/api/do", "", cookie, tok).status, "expired")
	require.Equal(t, 401, s.do("GET", "/", "", cookie).status, "expired: the page shows the login")

	cookie = sessionCookie(t, s.login(secret))
	require.Equal(t, 403, s.do("POST", "/logout", "", cookie).status, "another site cannot log the operator out")
	a = s.do("POST", "/logout", "", cookie, tok)
	require.Equal(t, http.StatusNoContent, a.status)
	require.Contains(t, a.h.Get("Set-Cookie"), "Max-Age=0")
	require.Equal(t, 401, s.do("POST", "/api/do", "", cookie, tok).status, "logged out")
	require.Equal(t, 200, s.do("GET", "/", "", sessionCookie(t, s.login(secret))).status)

	short := newServer(t, pageguard.Options{Addr: "listener", Secret: secret, SessionTTL: time.Minute, Now: clk.Now})
	cookie = sessionCookie(t, short.login(secret))
	clk.Add(time.Minute)
	require.Equal(t, 401, short.do("GET", "/api/do", "", cookie).status)
}

// TestThrottle: wrong secrets from one address, by the form or as a bearer, lock it
// out for a time that doubles, even for the right secret; the lock ends with its
// time, and a success clears the count.
func TestThrottle(t *testing.T) {
	t.Parallel()
	clk := testenv.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := newServer(t, pageguard.Options{Addr: "listener", Secret: secret, Now: clk.Now})
	wrongBearer := "Authorization: Bearer not-it"
	for i := range pageguard.MaxLoginFailures - 1 {
		require.Equal(t, 401, s.login("wrong").status, i)
	}
	sessionCookie(t, s.login(secret)) // a success clears the count
	for i := range pageguard.MaxLoginFailures {
		if i%2 == 0 {
			require.Equal(t, 401, s.login("wrong").status, i)
		} else {
			require.Equal(t, 401, s.do("GET", "/api/do", "", wrongBearer).status, i)
		}
	}
	cases := []struct {
		name string
		a    func() answer
	}{
		{"right secret by the form", func() answer { return s.login(secret) }},
		{"right bearer", func() answer { return s.do("POST", "/api/do", "", "Authorization: Bearer "+secret) }},
	}
	for _, c := range cases {
		a := c.a()
		require.Equal(t, http.StatusTooManyRequests, a.status, c.name)
		require.Equal(t, pageguard.CodeThrottled, a.code, c.name)
		require.Equal(t, "30", a.h.Get("Retry-After"), c.name)
		require.Empty(t, a.h.Values("Set-Cookie"), c.name)
	}
	require.Equal(t, 200, s.do("GET", "/healthz", "").status, "public paths stay")

	clk.Add(pageguard.LoginBackoff)
	require.Equal(t, 401, s.login("wrong").status)
	a := s.login(secret)
	require.Equal(t, http.StatusTooManyRequests, a.status)
	require.Equal(t, "60", a.h.Get("Retry-After"), "the lock doubles")
	clk.Add(time.Minute)
	require.Equal(t, 202, s.do("POST", "/api/do", "", "Authorization: Bearer "+secret).status)
	require.Equal(t, 401, s.login("wrong").status, "the success cleared the count")

	for range 40 {
		clk.Add(pageguard.MaxLoginBackoff)
		s.login("wrong")
	}
	a = s.login(secret)
	require.Equal(t, http.StatusTooManyRequests, a.status)
	require.Equal(t, "900", a.h.Get("Retry-After"), "the lock is bounded")
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status     int
		code, want string
	}{
		{400, "", "bad_request"}, {401, "", "unauthorized"}, {403, "", "forbidden"}, {404, "", "not_found"},
		{405, "", "not_allowed"}, {409, "", "conflict"}, {413, "", "too_large"}, {421, "", "misdirected"},
		{429, "", "throttled"}, {500, "", "error"}, {502, "", "error"}, {422, "bad_signature", "bad_signature"},
	} {
		w := httptest.NewRecorder()
		pageguard.WriteError(w, c.status, c.code, "what went wrong")
		require.Equal(t, c.status, w.Code)
		require.Equal(t, "application/json", w.Header().Get("Content-Type"))
		require.JSONEq(t, `{"error":"what went wrong","code":"`+c.want+`"}`, w.Body.String())
	}
}
