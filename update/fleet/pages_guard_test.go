package fleet_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/testenv"
	"github.com/upkeep-go/upkeep/update/fleet"
)

var regexpToken = regexp.MustCompile(`name="token" value="([0-9a-f]+)"`)

// clockMaster serves a second master over d's store whose clock the test moves.
func clockMaster(t *testing.T, d *domain) (*pagesClient, *testenv.Clock) {
	c := testenv.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	m, err := fleet.NewMaster(d.cfg, d.store, d.kr, fleet.MasterOptions{PackDir: filepath.Join(d.dir, "packs2"), Now: c.Now})
	require.NoError(t, err)
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return &pagesClient{t: t, url: srv.URL, hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, c
}

// loginForm reads the login form's page token, then posts secret with it.
func (c *pagesClient) loginForm(secret string) (*http.Response, string) {
	c.t.Helper()
	resp, body := c.do("GET", "/ui/login", nil, nil)
	require.Equal(c.t, http.StatusOK, resp.StatusCode)
	m := regexpToken.FindStringSubmatch(body)
	require.NotNil(c.t, m, body)
	resp, _ = c.do("POST", "/ui/login", strings.NewReader(url.Values{"token": {m[1]}, "secret": {secret}}.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	return resp, m[1]
}

func (c *pagesClient) cookie(secret string) (*http.Cookie, string) {
	c.t.Helper()
	resp, token := c.loginForm(secret)
	require.Equal(c.t, http.StatusSeeOther, resp.StatusCode)
	require.Len(c.t, resp.Cookies(), 1)
	return resp.Cookies()[0], token
}

func jsonCode(t testing.TB, resp *http.Response, body string) string {
	t.Helper()
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"), body)
	var e struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	require.NotEmpty(t, e.Error, body)
	return e.Code
}

// TestPagesHostPort: the pages answer the loopback names on the master's own port
// only, as the portal does; a page served elsewhere on the machine under the same
// name is not the master.
func TestPagesHostPort(t *testing.T) {
	d := newDomain(t)
	c := newPagesClient(t, d)
	port := d.url[strings.LastIndex(d.url, ":")+1:]
	bearer := map[string]string{"Authorization": "Bearer " + adminToken}
	for host, want := range map[string]int{
		"localhost:" + port: 200, "127.0.0.1:" + port: 200, "[::1]:" + port: 200, "LocalHost.:" + port: 200,
		"localhost:1": 421, "127.0.0.1:1": 421, "[::1]:1": 421, "localhost": 421, "evil.example:" + port: 421,
	} {
		hdr := map[string]string{"Host": host}
		for k, v := range bearer {
			hdr[k] = v
		}
		resp, body := c.do("GET", "/ui/", nil, hdr)
		require.Equal(t, want, resp.StatusCode, host)
		if want == 421 {
			require.Equal(t, "misdirected", jsonCode(t, resp, body), host)
		}
	}
}

// TestPagesBearerScript: a script holding the admin token posts to the pages' API
// without a page token, and every refusal carries a code.
func TestPagesBearerScript(t *testing.T) {
	d := newDomain(t)
	c := newPagesClient(t, d)
	body := `{"kind":"propagate","update":"nothing","all":true}`
	resp, out := c.do("POST", "/ui/api/operations", strings.NewReader(body), map[string]string{"Authorization": "Bearer " + adminToken})
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "the request reaches the master's code: %s", out)
	require.Equal(t, "not_found", jsonCode(t, resp, out))
	resp, out = c.do("POST", "/ui/api/operations", strings.NewReader(body), map[string]string{"Authorization": "Bearer " + adminToken, "Sec-Fetch-Site": "cross-site"})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "forbidden", jsonCode(t, resp, out))

	ck, _ := c.cookie(adminToken)
	resp, out = c.do("POST", "/ui/api/operations", strings.NewReader(body), map[string]string{"Cookie": ck.Name + "=" + ck.Value})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "a cookie still needs the page token")
	require.Equal(t, "forbidden", jsonCode(t, resp, out))
	resp, out = c.do("GET", "/ui/api/operations/x", nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "unauthorized", jsonCode(t, resp, out))
}

// TestPagesSession: a login expires after 12 hours, ends at logout and with the
// process; its cookie is no function of the admin token.
func TestPagesSession(t *testing.T) {
	d := newDomain(t)
	c, clk := clockMaster(t, d)
	ck, _ := c.cookie(adminToken)
	require.Equal(t, 12*60*60, ck.MaxAge)
	cookie := map[string]string{"Cookie": ck.Name + "=" + ck.Value}
	resp, _ := c.do("GET", "/ui/", nil, cookie)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	clk.Add(11 * time.Hour)
	resp, _ = c.do("GET", "/ui/", nil, cookie)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	clk.Add(time.Hour + time.Second)
	resp, _ = c.do("GET", "/ui/", nil, cookie)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the session outlived 12 h")

	// Logout ends the session on the master, not only in the browser.
	ck, token := c.cookie(adminToken)
	cookie = map[string]string{"Cookie": ck.Name + "=" + ck.Value}
	other := newPagesClient(t, d)
	resp, _ = other.do("GET", "/ui/", nil, cookie)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "another master process knows no session")
	resp, _ = c.do("POST", "/ui/logout", nil, map[string]string{"Cookie": cookie["Cookie"], fleet.PageTokenHeader: token})
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp, _ = c.do("GET", "/ui/", nil, cookie)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the session outlived its logout")
}

// TestPagesLoginThrottled: wrong admin tokens from one address lock the login for a
// while, even for the right token; the lock ends with its time.
func TestPagesLoginThrottled(t *testing.T) {
	d := newDomain(t)
	c, clk := clockMaster(t, d)
	for range 5 {
		resp, _ := c.loginForm("wrong-admin-token")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	resp, _ := c.loginForm(adminToken)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Empty(t, resp.Cookies())
	resp, out := c.do("GET", "/ui/api/operations/x", nil, map[string]string{"Authorization": "Bearer " + adminToken})
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "the bearer is the same secret: %s", out)
	require.Equal(t, "throttled", jsonCode(t, resp, out))
	clk.Add(time.Hour)
	c.cookie(adminToken)
}

// TestAPIRoutesCarryCode: the fleet API's own answers to an unknown route or method
// are JSON errors with a code too, as its handlers' are.
func TestAPIRoutesCarryCode(t *testing.T) {
	d := newDomain(t)
	c := newPagesClient(t, d)
	admin := map[string]string{"Authorization": "Bearer " + adminToken}
	for _, r := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/fleet/v1/nothing", 404, "not_found"},
		{"GET", "/fleet/v1/admin/updates", 405, "not_allowed"},
		{"GET", "/fleet/v1/admin/servers", 200, ""},
		{"GET", "/fleet/v1/admin/operations/nothing", 404, "not_found"},
	} {
		resp, body := c.do(r.method, r.path, nil, admin)
		require.Equal(t, r.status, resp.StatusCode, "%s %s: %s", r.method, r.path, body)
		if r.code != "" {
			require.Equal(t, r.code, jsonCode(t, resp, body), r.path)
		}
	}
}
