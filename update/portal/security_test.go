package portal_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update/portal"
)

// TestHostAllowlist: a rebound name reaches the portal with its own Host, which is
// refused whatever the path, the method or the token.
func TestHostAllowlist(t *testing.T) {
	t.Parallel()
	b := newEngineBackend(t, newFixture(t, "web").cfg)
	s := serve(t, b)
	s.page()
	cases := []struct {
		host string
		ok   bool
	}{
		{s.host, true},
		{"localhost:" + s.port, true},
		{"LocalHost.:" + s.port, true},
		{"[::1]:" + s.port, true},
		{"127.0.0.1.:" + s.port, true},
		{"evil.example:" + s.port, false},
		{"localhost.evil.example:" + s.port, false},
		{"127.0.0.1.nip.io:" + s.port, false},
		{"localhost", false}, // port 80, not the portal's
		{"localhost:1", false},
		{"[::1", false},
	}
	for _, c := range cases {
		for _, path := range []string{"/", "/healthz", "/api/modules", "/api/events", "/nope"} {
			if c.ok && path == "/api/events" {
				continue
			}
			st, body, h := s.do("GET", path, "", "Host: "+c.host)
			if c.ok {
				require.NotEqual(t, http.StatusMisdirectedRequest, st, "Host %q %s", c.host, path)
				continue
			}
			require.Equal(t, http.StatusMisdirectedRequest, st, "Host %q %s: %s", c.host, path, body)
			require.Contains(t, body, "is not served here")
			require.Contains(t, h.Get("Content-Security-Policy"), "frame-ancestors 'none'")
		}
		if !c.ok {
			st, _, _ := s.do("POST", "/api/modules/web/install", "", "Host: "+c.host, portal.TokenHeader+": "+s.token)
			require.Equal(t, http.StatusMisdirectedRequest, st, c.host)
		}
	}
	ops, err := b.Operations(t.Context(), "", 10)
	require.NoError(t, err)
	require.Empty(t, ops, "a refused request started nothing")
}

func TestHostOptions(t *testing.T) {
	t.Parallel()
	b := newEngineBackend(t, newFixture(t, "web").cfg)
	s := serve(t, b, portal.WithHosts("upkeep.example", "admin.example:8443"))
	for host, want := range map[string]int{
		"upkeep.example:" + s.port: 200, "upkeep.example": 200, "Upkeep.Example.:9": 200,
		"admin.example:8443": 200, "admin.example:" + s.port: 421, "other.example:" + s.port: 421,
	} {
		st, _, _ := s.do("GET", "/healthz", "", "Host: "+host)
		require.Equal(t, want, st, host)
	}
	_, err := portal.New(b, portal.WithAddr("8080"))
	require.ErrorContains(t, err, `WithAddr "8080"`)
	_, err = portal.New(b, portal.WithHosts("a/b"))
	require.ErrorContains(t, err, `WithHosts "a/b"`)
	_, err = portal.New(b, portal.WithBearer(" \n"))
	require.ErrorContains(t, err, "empty secret")
	_, err = portal.New(nil)
	require.ErrorContains(t, err, "nil Backend")

	// Without WithAddr, the loopback names are served on the port the request came
	// in on, nothing else; without a connection to tell it, on none.
	p, err := portal.New(b)
	require.NoError(t, err)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1234}
	for host, want := range map[string]int{"localhost:1234": 200, "127.0.0.1:1234": 200, "[::1]:1234": 200, "127.0.0.1": 421,
		"[::1]:5": 421, "[::1]": 421, "evil.example:1234": 421, "": 421, ":80": 421, ":1234": 421} {
		r, _ := http.NewRequest("GET", "http://x/healthz", nil)
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, local))
		r.Host = host
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		require.Equal(t, want, w.Code, host)

		w = httptest.NewRecorder()
		p.ServeHTTP(w, httptest.NewRequest("GET", "http://"+host+"/healthz", nil))
		require.Equal(t, 421, w.Code, "no connection, no port: %s", host)
	}
}

// TestPostNeedsToken: every POST needs the page's token in the header; a form
// (which cannot set a header) or another page's guess is refused.
func TestPostNeedsToken(t *testing.T) {
	t.Parallel()
	b := newEngineBackend(t, newFixture(t, "web").cfg)
	s := serve(t, b)
	s.page()
	other := serve(t, b) // another portal: another token
	other.page()
	require.NotEqual(t, s.token, other.token)
	for _, path := range []string{"/api/check", "/api/modules/web/install", "/api/modules/web/rollback"} {
		for name, header := range map[string][]string{
			"none":          nil,
			"empty":         {portal.TokenHeader + ": "},
			"wrong":         {portal.TokenHeader + ": " + other.token},
			"prefix":        {portal.TokenHeader + ": " + s.token[:32]},
			"form":          {"Content-Type: application/x-www-form-urlencoded"},
			"query instead": nil,
		} {
			p := path
			body := ""
			if name == "form" || name == "query instead" {
				body = "token=" + s.token
				p += "?token=" + s.token
			}
			st, resp, h := s.do("POST", p, body, header...)
			require.Equal(t, http.StatusForbidden, st, "%s %s", name, path)
			require.Equal(t, "application/json", h.Get("Content-Type"))
			var e struct{ Error string }
			require.NoError(t, json.Unmarshal([]byte(resp), &e))
			require.Contains(t, e.Error, portal.TokenHeader)
		}
	}
	ops, _ := b.Operations(t.Context(), "", 10)
	require.Empty(t, ops, "a refused request started nothing")
	st, _ := s.post("/api/check", "")
	require.Equal(t, http.StatusAccepted, st)
}

// TestCrossOriginRefused: a request the browser marks as cross-site is refused even
// with the right token.
func TestCrossOriginRefused(t *testing.T) {
	t.Parallel()
	b := newEngineBackend(t, newFixture(t, "web").cfg)
	s := serve(t, b)
	s.page()
	for _, header := range [][]string{
		{"Sec-Fetch-Site: cross-site"},
		{"Sec-Fetch-Site: same-site"},
		{"Origin: http://evil.example"},
		{"Origin: http://localhost:1"},
	} {
		st, body := s.post("/api/check", "", header...)
		require.Equal(t, http.StatusForbidden, st, "%v: %s", header, body)
		require.Contains(t, body, "cross-origin")
	}
	ops, _ := b.Operations(t.Context(), "", 10)
	require.Empty(t, ops)
	for _, header := range [][]string{{"Sec-Fetch-Site: same-origin"}, {"Origin: " + s.url}, nil} {
		st, body := s.post("/api/check", "", header...)
		require.Equal(t, http.StatusAccepted, st, "%v: %s", header, body)
	}
}

// TestNothingChangesOnGET: the state-changing routes answer GET with 405 and start
// nothing.
func TestNothingChangesOnGET(t *testing.T) {
	t.Parallel()
	b := newEngineBackend(t, newFixture(t, "web").cfg)
	s := serve(t, b)
	s.page()
	for _, path := range []string{"/api/check", "/api/modules/web/install", "/api/modules/web/rollback"} {
		for _, m := range []string{"GET", "HEAD"} {
			st, _, _ := s.do(m, path, "", portal.TokenHeader+": "+s.token)
			require.Equal(t, http.StatusMethodNotAllowed, st, m+" "+path)
		}
	}
	for _, path := range []string{"/", "/api/modules", "/api/operations"} {
		st, _, _ := s.do("POST", path, "", portal.TokenHeader+": "+s.token)
		require.Equal(t, http.StatusMethodNotAllowed, st, "POST "+path)
	}
	ops, _ := b.Operations(t.Context(), "", 10)
	require.Empty(t, ops)
}

// TestSecurityHeaders: no framing, no sniffing, no referrer, and the page's only
// script and style are the ones whose hashes the policy names.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := serve(t, newEngineBackend(t, newFixture(t, "web").cfg))
	for _, path := range []string{"/", "/api/modules", "/healthz", "/api/nothing"} {
		_, _, h := s.do("GET", path, "")
		csp := h.Get("Content-Security-Policy")
		require.Contains(t, csp, "frame-ancestors 'none'", path)
		require.Contains(t, csp, "default-src 'none'", path)
		require.NotContains(t, csp, "unsafe-inline", path)
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), path)
		require.Equal(t, "no-referrer", h.Get("Referrer-Policy"), path)
		require.Equal(t, "DENY", h.Get("X-Frame-Options"), path)
	}
	_, body, h := s.do("GET", "/", "")
	csp := h.Get("Content-Security-Policy")
	scripts := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindAllStringSubmatch(body, -1)
	require.Len(t, scripts, 1, "one script")
	require.Contains(t, csp, "script-src "+hashOf(scripts[0][1])+";")
	styles := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(body, -1)
	require.Len(t, styles, 1, "one style")
	require.Contains(t, csp, "style-src "+hashOf(styles[0][1])+";")
	require.NotContains(t, body, "style=", "inline style attributes would need unsafe-inline")
	require.NotRegexp(t, ` on[a-z]+=`, body, "inline handlers would need unsafe-inline")
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// TestBearer: with a secret, everything but /healthz needs it, as a bearer token or
// through the login form's cookie.
func TestBearer(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-from-token-file"
	b := newEngineBackend(t, newFixture(t, "web").cfg)
	s := serve(t, b, portal.WithBearer(secret+"\n"))

	st, body, _ := s.do("GET", "/healthz", "")
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, "ok", body)

	for _, path := range []string{"/api/modules", "/api/operations", "/api/events", "/api/operations/x"} {
		// Wrong secrets count against the address, which a few more would throttle:
		// each path asks a portal of its own.
		wrong := serve(t, b, portal.WithBearer(secret))
		for _, auth := range []string{"", "Authorization: Bearer wrong", "Authorization: Basic " + secret,
			"Authorization: Bearer " + secret + "x", "Cookie: " + portal.LoginCookie + "=" + secret} {
			st, body, h := wrong.do("GET", path, "", auth)
			require.Equal(t, http.StatusUnauthorized, st, "%s %q: %s", path, auth, body)
			require.Equal(t, `Bearer realm="upkeep"`, h.Get("WWW-Authenticate"))
		}
	}
	// The page asks for the secret instead of showing the modules.
	st, body, _ = s.do("GET", "/", "")
	require.Equal(t, http.StatusUnauthorized, st)
	require.Contains(t, body, `name="secret"`)
	require.NotContains(t, body, "data-module")
	token := regexp.MustCompile(`name="token" value="([0-9a-f]+)"`).FindStringSubmatch(body)[1]
	st, _ = s.post("/api/check", "")
	require.Equal(t, http.StatusUnauthorized, st, "the page token alone is not enough")

	auth := "Authorization: Bearer " + secret
	st, _, _ = s.do("GET", "/api/modules", "", auth)
	require.Equal(t, http.StatusOK, st)
	s.page(auth)
	require.Equal(t, token, s.token)
	st, _ = s.post("/api/check", "", auth)
	require.Equal(t, http.StatusAccepted, st)
	st, _ = s.post("/api/check", "", auth, "Sec-Fetch-Site: cross-site")
	require.Equal(t, http.StatusForbidden, st, "a bearer does not lift the cross-origin check")

	// The login form.
	form := func(v url.Values, header ...string) (int, http.Header, string) {
		st, body, h := s.do("POST", "/login", v.Encode(), append([]string{"Content-Type: application/x-www-form-urlencoded"}, header...)...)
		return st, h, body
	}
	st, _, body = form(url.Values{"secret": {"wrong"}, "token": {token}})
	require.Equal(t, http.StatusUnauthorized, st)
	require.Contains(t, body, "Wrong secret")
	st, _, _ = form(url.Values{"secret": {secret}})
	require.Equal(t, http.StatusForbidden, st, "the form needs the page token")
	st, _, _ = form(url.Values{"secret": {secret}, "token": {token}}, "Sec-Fetch-Site: cross-site")
	require.Equal(t, http.StatusForbidden, st, "a cross-site login is refused")

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(s.url+"/login", url.Values{"secret": {secret}, "token": {token}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "./", resp.Header.Get("Location"), "relative, for a portal mounted under a prefix")
	cookies := resp.Cookies()
	require.Len(t, cookies, 1)
	c := cookies[0]
	require.Equal(t, portal.LoginCookie, c.Name)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.NotContains(t, c.Value, secret, "the cookie is not the secret")

	st, _, _ = s.do("GET", "/api/modules", "", "Cookie: "+c.Name+"="+c.Value)
	require.Equal(t, http.StatusOK, st)
	st, _, _ = s.do("GET", "/api/modules", "", "Cookie: "+c.Name+"="+strings.ToUpper(c.Value))
	require.Equal(t, http.StatusUnauthorized, st)
	st, body = s.post("/api/check", "", "Cookie: "+c.Name+"="+c.Value)
	require.Equal(t, http.StatusAccepted, st, body)

	// Another secret, another cookie.
	s2 := serve(t, b, portal.WithBearer("another"))
	st, _, _ = s2.do("GET", "/api/modules", "", "Cookie: "+c.Name+"="+c.Value)
	require.Equal(t, http.StatusUnauthorized, st)
}
