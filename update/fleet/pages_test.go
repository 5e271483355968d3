package fleet_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/testenv"
	"github.com/upkeep-go/upkeep/internal/testenv/browser"
	"github.com/upkeep-go/upkeep/update/fleet"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

var pageTokenRE = regexp.MustCompile(`<meta name="upkeep-token" content="([0-9a-f]+)">`)

// pagesClient calls the master's pages without following redirects.
type pagesClient struct {
	t   *testing.T
	url string
	hc  *http.Client
}

func newPagesClient(t *testing.T, d *domain) *pagesClient {
	return &pagesClient{t: t, url: d.url, hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request; hdr values "Host" and "Cookie" are honoured.
func (c *pagesClient) do(method, path string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, body)
	require.NoError(c.t, err)
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp, string(b)
}

func TestPagesRefusals(t *testing.T) {
	d := newDomain(t)
	c := newPagesClient(t, d)
	bearer := "Bearer " + adminToken

	// No credentials: the pages send to the login form, the JSON answers 401.
	resp, _ := c.do("GET", "/ui/", nil, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/ui/login", resp.Header.Get("Location"))
	resp, _ = c.do("GET", "/ui/api/operations/x", nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, _ = c.do("POST", "/ui/api/operations", strings.NewReader(`{}`), nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, _ = c.do("GET", "/ui/", nil, map[string]string{"Authorization": "Bearer wrong"})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	// The enrolment token is not the admin token.
	resp, _ = c.do("GET", "/ui/api/operations/x", nil, map[string]string{"Authorization": "Bearer " + enrolToken})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// A Host that does not name the master (DNS rebinding): 421, even with the token.
	for _, h := range []string{"evil.example", "evil.example:80", "127.0.0.1.evil.example", "[::1"} {
		resp, _ = c.do("GET", "/ui/", nil, map[string]string{"Authorization": bearer, "Host": h})
		require.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode, h)
	}
	resp, _ = c.do("GET", "/ui/login", nil, map[string]string{"Host": "evil.example"})
	require.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode)

	// The page, with its protections.
	resp, page := c.do("GET", "/ui/", nil, map[string]string{"Authorization": bearer, "Host": "localhost:" + d.url[strings.LastIndex(d.url, ":")+1:]})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	csp := resp.Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "frame-ancestors 'none'")
	require.Contains(t, csp, "script-src 'sha256-")
	require.NotContains(t, csp, "unsafe-inline")
	m := pageTokenRE.FindStringSubmatch(page)
	require.NotNil(t, m, "no page token in the page")
	token := m[1]

	// A POST of a signed-in browser without the page token, or with a wrong one: 403,
	// and nothing started. (The admin token as a bearer needs no page token.)
	body := `{"kind":"propagate","update":"nothing","all":true}`
	session, _ := c.cookie(adminToken)
	for _, tok := range []string{"", token[:63], "x" + token[1:], token + "0"} {
		hdr := map[string]string{"Cookie": session.Name + "=" + session.Value, "Content-Type": "application/json"}
		if tok != "" {
			hdr[fleet.PageTokenHeader] = tok
		}
		resp, _ = c.do("POST", "/ui/api/operations", strings.NewReader(body), hdr)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, tok)
		resp, _ = c.do("POST", "/ui/api/updates?name=x&file=x.zip", strings.NewReader("zip"), hdr)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, tok)
	}
	// From another site, even with the token: 403.
	resp, _ = c.do("POST", "/ui/api/operations", strings.NewReader(body), map[string]string{"Authorization": bearer,
		fleet.PageTokenHeader: token, "Sec-Fetch-Site": "cross-site"})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	// No state change on GET.
	resp, _ = c.do("GET", "/ui/api/operations", nil, map[string]string{"Authorization": bearer})
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	// With everything right, the request reaches the master's own code.
	resp, out := c.do("POST", "/ui/api/operations", strings.NewReader(body), map[string]string{"Authorization": bearer, fleet.PageTokenHeader: token})
	require.Equal(t, http.StatusNotFound, resp.StatusCode, out)
	ops, err := d.store.Operations(context.Background(), 10)
	require.NoError(t, err)
	require.Empty(t, ops)

	// The login form: its page token, then the admin token.
	form := func(v url.Values) (*http.Response, string) {
		return c.do("POST", "/ui/login", strings.NewReader(v.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	}
	resp, _ = form(url.Values{"secret": {adminToken}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Empty(t, resp.Cookies())
	resp, _ = form(url.Values{"token": {token}, "secret": {"wrong"}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Empty(t, resp.Cookies())
	resp, _ = form(url.Values{"token": {token}, "secret": {adminToken}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	cookies := resp.Cookies()
	require.Len(t, cookies, 1)
	ck := cookies[0]
	require.Equal(t, fleet.LoginCookie, ck.Name)
	require.True(t, ck.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, ck.SameSite)
	require.Equal(t, "/ui/", ck.Path)
	require.NotContains(t, ck.Value, adminToken)
	require.Len(t, ck.Value, 64)
	resp, _ = c.do("GET", "/ui/", nil, map[string]string{"Cookie": ck.Name + "=" + ck.Value})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = c.do("GET", "/ui/operations/nothing", nil, map[string]string{"Cookie": ck.Name + "=" + ck.Value})
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = c.do("GET", "/ui/", nil, map[string]string{"Cookie": ck.Name + "=" + strings.Repeat("0", 64)})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	// The cookie does not open the API, which wants the bearer token.
	resp, _ = c.do("GET", "/fleet/v1/admin/servers", nil, map[string]string{"Cookie": ck.Name + "=" + ck.Value})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func artifacts(t testing.TB) string {
	if d := os.Getenv("UPKEEP_ARTIFACTS"); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}

// TestPagesChromium drives Debian's Chromium through the master's pages: log in, see
// the slave's version, have an untrusted pack refused in red, add a signed one by
// upload, propagate it to the slave and see it staged without a reload. The
// screenshot fleet.png is docs/fleet.png; run with UPKEEP_ARTIFACTS=DIR to keep it.
func TestPagesChromium(t *testing.T) {
	chrome := testenv.NeedProgram(t, "chromium", "chromium")
	d := newDomain(t).withEngine()
	d.newSlave("s-web1", slaveOpts{mode: fleet.ModeMailbox, installed: "1.0.0"})
	d.waitServers("s-web1")
	packFile := d.pack("app", "2.0.0", map[string]string{"index.html": "v2", "app.bin": strings.Repeat("upkeep ", 200<<10)})
	other := updatetest.NewRepo(t) // a publisher the master does not trust
	other.Publish("app", "2.0.0", platform, map[string]string{"index.html": "forged"})
	forged := findPack(t, other.Dir, "app", "2.0.0")

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.WindowSize(1280, 1000), chromedp.Flag("lang", "en-US"),
		// A test browser that loads only this loopback page: CI machines and containers
		// often lack what Chromium's sandbox needs, and have a small /dev/shm.
		chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true))
	var mu sync.Mutex
	var problems []string
	listen := func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			problems = append(problems, msg)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				problems = append(problems, "console error")
			}
		}
	}
	ctx := t.Context()
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	cctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(listen))
	defer cancel()
	// The first Run starts the browser for the context's whole life: no timeout on it.
	require.NoError(t, chromedp.Do(cctx, chromedp.Navigate(d.url+"/ui/")))
	tctx, cancel := context.WithTimeout(cctx, 2*time.Minute)
	defer cancel()
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return v
	}
	poll := func(js string) {
		t.Helper()
		_, err := chromedp.Run(tctx, chromedp.Poll[bool](js))
		require.NoError(t, err, js)
	}

	// Sent to the login form; the admin token opens the servers list.
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`input[name="secret"]`))))
	require.NoError(t, chromedp.Do(tctx, chromedp.SendKeys(chromedp.CSS(`input[name="secret"]`), adminToken+"\n")))
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`#servers`))))
	require.Equal(t, "1.0.0", text(`#servers [data-server="s-web1"] [data-module="app"] b`))
	require.Equal(t, "S", text(`#servers [data-server="s-web1"] td:nth-child(2)`))
	// Reachability in the seed's colours: a polling slave is green.
	require.Equal(t, "yes", text(`#servers [data-server="s-web1"] [data-field="contact"]`))
	green, err := chromedp.Run(tctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('#servers [data-server="s-web1"] [data-field="contact"]')).color`))
	require.NoError(t, err)
	require.Equal(t, "rgb(26, 127, 69)", green)
	// Convergence: the master runs no version of app yet, the slave runs 1.0.0.
	require.Equal(t, "1.0.0", text(`#convergence [data-module="app"] td:nth-child(2)`))
	require.Equal(t, "—", text(`#convergence [data-module="app"] [data-server="master"] b`))
	// The master may be selected, first.
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitReady(chromedp.CSS(`#operate input[name="server"][value="master"]`))))
	// Re-key: the next enrolment of s-web1 replaces its secret.
	require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`#servers [data-server="s-web1"] button[data-action="rekey"]`))))
	poll(`document.querySelector('#servers-result.ok') !== null`)
	require.Contains(t, text(`#servers-result`), "replaces its secret")
	rec, err := d.store.Server(context.Background(), "s-web1")
	require.NoError(t, err)
	require.True(t, rec.Rekey, "the button did not allow a rekey")

	// A pack signed by an unknown publisher: refused, in red, with the reason.
	require.NoError(t, chromedp.Do(tctx, chromedp.SendKeys(chromedp.CSS(`#add-update input[name="name"]`), "Watchdoc 2.0")))
	require.NoError(t, chromedp.Do(tctx, chromedp.SetUploadFiles(chromedp.CSS(`#add-update input[name="pack"]`), []string{forged})))
	require.NoError(t, chromedp.Do(tctx, chromedp.SetUploadFiles(chromedp.CSS(`#add-update input[name="sig"]`), []string{forged + ".minisig"})))
	require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`#add-update button[type="submit"]`))))
	poll(`document.querySelector('#upload-result.bad') !== null`)
	require.Contains(t, text(`#upload-result`), "package not secure")
	// The seed's red bar.
	poll(`document.querySelector('#upload-progress.bad') !== null && !document.querySelector('#upload-progress').hidden`)
	color, err := chromedp.Run(tctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('#upload-progress')).accentColor`))
	require.NoError(t, err)
	require.Equal(t, "rgb(180, 35, 24)", color)
	color, err = chromedp.Run(tctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('#upload-result')).color`))
	require.NoError(t, err)
	require.Equal(t, "rgb(180, 35, 24)", color)

	// The signed pack: uploaded with its progress, then propagated to the slave.
	require.NoError(t, chromedp.Do(tctx, chromedp.SetUploadFiles(chromedp.CSS(`#add-update input[name="pack"]`), []string{packFile})))
	require.NoError(t, chromedp.Do(tctx, chromedp.SetUploadFiles(chromedp.CSS(`#add-update input[name="sig"]`), []string{packFile + ".minisig"})))
	require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`#add-update button[type="submit"]`))))
	poll(`document.querySelector('#upload-result.ok') !== null`)
	require.Contains(t, text(`#upload-result`), "Added Watchdoc 2.0: app 2.0.0")
	poll(`document.querySelector('#upload-progress').value === 100`)

	_, err = chromedp.Run(tctx, chromedp.Evaluate[bool](`window.upkeepNoReload = true`)) // a reload would drop it
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`#operate input[name="server"][value="s-web1"]`))))
	require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`#operate button[value="propagate"]`))))
	poll(`(document.querySelector('#report [data-server="s-web1"] [data-field="state"]') || {}).textContent === 'staged'`)
	noReload, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`window.upkeepNoReload === true`))
	require.NoError(t, err)
	require.True(t, noReload, "the page was reloaded")
	poll(`document.querySelector('#report').dataset.ended === 'true'`)
	require.Contains(t, text(`#ops tbody`), "propagate")
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	dir := artifacts(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "fleet.png"), shot, 0o644))
	t.Logf("screenshot in %s", dir)

	// The operation's own page, reached from the log, shows the same report.
	require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`#ops tbody a`))))
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`#report-box`))))
	require.Equal(t, "staged", text(`#report [data-server="s-web1"] [data-field="state"]`))

	// axe-core finds nothing serious on the report page, in English and in French
	// (reached with the switch, by the keyboard).
	axeSrc := testenv.AxeCore(t)
	require.Empty(t, browser.AxeViolations(t, tctx, axeSrc), "axe-core, the English page")
	require.NoError(t, chromedp.Do(tctx, chromedp.Focus(chromedp.CSS(`a[hreflang="fr"]`))))
	require.NoError(t, chromedp.Do(tctx, chromedp.KeyEvent("\r")))
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`html[lang="fr"] #report-box`))))
	require.Equal(t, "prête", text(`#report [data-server="s-web1"] [data-field="state"]`))
	require.Empty(t, browser.AxeViolations(t, tctx, axeSrc), "axe-core, the French page")
	require.NoError(t, chromedp.Do(tctx, chromedp.Navigate(d.url+"/ui/")))
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`html[lang="fr"] #servers`))))
	require.Empty(t, browser.AxeViolations(t, tctx, axeSrc), "axe-core, the French servers page")
	require.Empty(t, browser.UnreachedByTab(t, tctx), "controls the Tab key never reaches")

	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, problems, "script errors on the page")
}
