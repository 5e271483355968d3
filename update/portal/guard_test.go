package portal_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update/portal"
)

// errorCode decodes a JSON error answer and returns its code, failing when the body
// is not {"error","code"} with both set.
func errorCode(t testing.TB, h http.Header, body string) string {
	t.Helper()
	require.Equal(t, "application/json", h.Get("Content-Type"), body)
	var e struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	require.NotEmpty(t, e.Error, body)
	require.NotEmpty(t, e.Code, "an error without a code: %s", body)
	return e.Code
}

// TestErrorsCarryCode: every JSON error of the portal, a refusal by its guard as well
// as a backend's, carries a code that scripts can match.
func TestErrorsCarryCode(t *testing.T) {
	t.Parallel()
	b := newEngineBackend(t, newFixture(t, "web").cfg)
	s := serve(t, b)
	s.page()
	tok := portal.TokenHeader + ": " + s.token
	cases := []struct {
		method, path, body string
		header             []string
		status             int
		code               string
	}{
		{"GET", "/api/modules", "", []string{"Host: evil.example:" + s.port}, 421, "misdirected"},
		{"POST", "/api/check", "", nil, 403, "forbidden"},
		{"POST", "/api/check", "", []string{tok, "Sec-Fetch-Site: cross-site"}, 403, "forbidden"},
		{"POST", "/api/modules/nope/install", "", []string{tok}, 404, "unknown_module"},
		{"POST", "/api/modules/web/rollback", "", []string{tok}, 409, "no_backup"},
		{"POST", "/api/modules/web/install", `{"version":1}`, []string{tok}, 400, "bad_request"},
		{"POST", "/api/modules/web/install", `{"version":"` + strings.Repeat("9", portal.MaxBody) + `"}`, []string{tok}, 413, "too_large"},
		{"GET", "/api/operations/op-9999", "", nil, 404, "not_found"},
		{"GET", "/api/operations?limit=abc", "", nil, 400, "bad_request"},
		{"GET", "/api/modules/web/db", "", nil, 404, "not_found"},
		{"GET", "/api/nothing", "", nil, 404, "not_found"},
	}
	for _, c := range cases {
		st, body, h := s.do(c.method, c.path, c.body, c.header...)
		require.Equal(t, c.status, st, "%s %s: %s", c.method, c.path, body)
		require.Equal(t, c.code, errorCode(t, h, body), "%s %s", c.method, c.path)
	}

	sb := serve(t, b, portal.WithBearer("s3cret-from-token-file"))
	st, body, h := sb.do("GET", "/api/modules", "")
	require.Equal(t, http.StatusUnauthorized, st)
	require.Equal(t, "unauthorized", errorCode(t, h, body))
}

// TestBearerNeedsNoPageToken: a script holding the --token-file secret calls the API
// without scraping the page's token: a browser cannot send that header cross-site.
// The cross-origin check still applies, and without a secret configured the page
// token is still required.
func TestBearerNeedsNoPageToken(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-from-token-file"
	b := newEngineBackend(t, newFixture(t, "web").cfg)
	s := serve(t, b, portal.WithBearer(secret))
	auth := "Authorization: Bearer " + secret
	st, body, _ := s.do("POST", "/api/check", "", auth)
	require.Equal(t, http.StatusAccepted, st, body)
	st, body, _ = s.do("POST", "/api/check", "", auth, "Sec-Fetch-Site: cross-site")
	require.Equal(t, http.StatusForbidden, st, body)

	open := serve(t, b)
	st, body, _ = open.do("POST", "/api/check", "", "Authorization: Bearer "+secret)
	require.Equal(t, http.StatusForbidden, st, "no secret configured: the header proves nothing: %s", body)
}

// login posts the login form of s with secret and returns the answer.
func login(t *testing.T, s *served, secret string) *http.Response {
	t.Helper()
	st, body, _ := s.do("GET", "/login", "")
	require.Equal(t, http.StatusOK, st, body)
	token := regexp.MustCompile(`name="token" value="([0-9a-f]+)"`).FindStringSubmatch(body)[1]
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(s.url+"/login", url.Values{"secret": {secret}, "token": {token}})
	require.NoError(t, err)
	resp.Body.Close()
	s.token = token
	return resp
}

func loginCookie(t *testing.T, s *served, secret string) *http.Cookie {
	t.Helper()
	resp := login(t, s, secret)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	cookies := resp.Cookies()
	require.Len(t, cookies, 1)
	return cookies[0]
}

// TestLoginSession: a login is a session of its own that expires (12 h by default),
// ends at logout, and does not survive the process: the cookie is no function of the
// secret.
func TestLoginSession(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-from-token-file"
	b := newEngineBackend(t, newFixture(t, "web").cfg)
	s := serve(t, b, portal.WithBearer(secret))
	c := loginCookie(t, s, secret)
	require.Equal(t, 12*60*60, c.MaxAge, "the cookie expires with the session")
	c2 := loginCookie(t, s, secret)
	require.NotEqual(t, c.Value, c2.Value, "each login is a session of its own")
	cookie := "Cookie: " + c.Name + "=" + c.Value
	st, _, _ := s.do("GET", "/api/modules", "", cookie)
	require.Equal(t, http.StatusOK, st)
	body := s.page(cookie)
	require.Contains(t, body, `data-action="logout"`, "a logged-in page offers to sign out")

	// Another process with the same secret does not know the session.
	restarted := serve(t, b, portal.WithBearer(secret))
	st, _, _ = restarted.do("GET", "/api/modules", "", cookie)
	require.Equal(t, http.StatusUnauthorized, st, "a session survived a restart")

	// Logout needs the page token, then ends the session for good.
	st, _, _ = s.do("POST", "/logout", "", cookie)
	require.Equal(t, http.StatusForbidden, st)
	st, body, h := s.do("POST", "/logout", "", cookie, portal.TokenHeader+": "+s.token)
	require.Equal(t, http.StatusNoContent, st, body)
	require.Contains(t, h.Get("Set-Cookie"), "Max-Age=0")
	st, _, _ = s.do("GET", "/api/modules", "", cookie)
	require.Equal(t, http.StatusUnauthorized, st, "the session outlived its logout")
	st, _, _ = s.do("GET", "/api/modules", "", "Cookie: "+c2.Name+"="+c2.Value)
	require.Equal(t, http.StatusOK, st, "another session stays")

	short := serve(t, b, portal.WithBearer(secret), portal.WithSessionTTL(time.Hour))
	require.Equal(t, 60*60, loginCookie(t, short, secret).MaxAge)
	_, err := portal.New(b, portal.WithSessionTTL(0))
	require.ErrorContains(t, err, "WithSessionTTL 0s")
}

// TestLoginThrottled: after a few wrong secrets from one address, the login form
// refuses even the right one for a while, and says so.
func TestLoginThrottled(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-from-token-file"
	b := newEngineBackend(t, newFixture(t, "web").cfg)
	s := serve(t, b, portal.WithBearer(secret))
	for range 5 {
		resp := login(t, s, "wrong")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	resp := login(t, s, secret)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Empty(t, resp.Cookies())
	st, body, h := s.do("GET", "/api/modules", "", "Authorization: Bearer wrong-again")
	require.Equal(t, http.StatusTooManyRequests, st, body)
	require.Equal(t, "throttled", errorCode(t, h, body))
}
