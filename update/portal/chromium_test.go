package portal_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/testenv"
	"github.com/upkeep-go/upkeep/internal/testenv/browser"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/portal"
	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// pausingServer serves a repository and holds the download of one pack part-way,
// so that the page can be seen (and photographed) with an install in progress.
type pausingServer struct {
	prefix  string // pack file names starting with it are held
	reached chan struct{}
	release chan struct{}
	once    sync.Once
}

func (p *pausingServer) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := path.Base(r.URL.Path)
		if !strings.HasPrefix(name, p.prefix) || !strings.HasSuffix(name, ".zip") || r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(&pausingWriter{ResponseWriter: w, p: p, ctx: r.Context()}, r)
	})
}

func (p *pausingServer) open() { p.once.Do(func() { close(p.release) }) }

type pausingWriter struct {
	http.ResponseWriter
	p      *pausingServer
	ctx    context.Context
	n      int64
	paused bool
}

// Write passes 60 % of the pack, waits long enough for the engine to report it,
// passes one more chunk (which it reports), then holds the rest until released.
func (w *pausingWriter) Write(b []byte) (int, error) {
	limit := int64(600 << 10)
	if n, err := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64); err == nil {
		limit = n * 6 / 10
	}
	if !w.paused && w.n >= limit {
		w.paused = true
		http.NewResponseController(w.ResponseWriter).Flush()
		time.Sleep(250 * time.Millisecond)
		n, err := w.ResponseWriter.Write(b[:len(b)/2])
		w.n += int64(n)
		if err != nil {
			return n, err
		}
		http.NewResponseController(w.ResponseWriter).Flush()
		w.p.reached <- struct{}{}
		select {
		case <-w.p.release:
		case <-w.ctx.Done():
			return n, w.ctx.Err()
		}
		m, err := w.ResponseWriter.Write(b[len(b)/2:])
		w.n += int64(m)
		return n + m, err
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n/2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// waitOp waits for an operation of the backend to end and requires its success.
func waitOp(t testing.TB, b portal.Backend, id string, err error) {
	t.Helper()
	require.NoError(t, err)
	for {
		op, err := b.Operation(t.Context(), id)
		require.NoError(t, err)
		if op.Result != agent.ResultRunning {
			require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// artifacts returns the folder where the test keeps its screenshots: $UPKEEP_ARTIFACTS
// when set (CI keeps it), else a temporary one.
func artifacts(t testing.TB) string {
	if d := os.Getenv("UPKEEP_ARTIFACTS"); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}

// TestChromium drives Debian's Chromium: it opens the page, clicks Install, sees the
// live progress, then the installed version change without a reload, and keeps
// screenshots (portal-installing.png is docs/portal.png). Run with
// UPKEEP_ARTIFACTS=DIR to keep them.
func TestChromium(t *testing.T) {
	chrome := testenv.NeedProgram(t, "chromium", "chromium")
	t.Parallel()

	f := newFixture(t, "web", "api", "reports")
	pause := &pausingServer{prefix: "web-1.1.0", reached: make(chan struct{}, 1), release: make(chan struct{})}
	defer pause.open()
	repoSrv := httptest.NewServer(pause.handler(publish.FileServer(f.repo.Dir)))
	t.Cleanup(repoSrv.Close)
	f.cfg.Source = repoSrv.URL + "/"
	// reports runs 1.4.2, installed before upkeep came; 3.0.0 needs 2.0.0 first.
	f.cfg.Modules[2].Installed = "1.4.2"
	updatetest.WriteTree(t, f.cfg.Modules[2].Path, map[string]string{"reports.bin": "v1.4.2"})

	f.repo.Publish("web", "1.0.0", platform, map[string]string{"index.html": "v1"})
	f.repo.Publish("api", "2.0.0", platform, map[string]string{"api.bin": "v2.0"})
	f.repo.Publish("api", "2.1.0", platform, map[string]string{"api.bin": "v2.1"})
	f.repo.PublishBuild(publish.Build{Module: "reports", Version: "3.0.0", Platform: platform, MinVersion: "2.0.0"},
		map[string]string{"reports.bin": "v3"})
	b := newEngineBackend(t, f.cfg)
	b.notes = map[string]string{"web 1.1.0": "New dashboard for the stock levels.\nFaster search in the order list.\nFixes the invoice PDF margins."}
	ctx := t.Context()
	id, err := b.Install(ctx, "web", "1.0.0")
	waitOp(t, b, id, err)
	id, err = b.Install(ctx, "api", "2.0.0")
	waitOp(t, b, id, err)
	id, err = b.Install(ctx, "api", "2.1.0")
	waitOp(t, b, id, err)
	// The new version's pack is large and incompressible, so that its download shows.
	f.repo.Publish("web", "1.1.0", platform, map[string]string{"index.html": "v2", "assets/app.bin": randomHex(t, 3<<20)})
	id, err = b.Check(ctx)
	waitOp(t, b, id, err)

	s := serve(t, b)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.WindowSize(1280, 900), chromedp.Flag("lang", "en-US"),
		// A test browser that loads only this loopback page: CI machines and containers
		// often lack what Chromium's sandbox needs (root, or no user namespaces), and
		// have a small /dev/shm.
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
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	cctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(listen))
	defer cancel()
	// The first Run starts the browser for the context's whole life: no timeout on it.
	require.NoError(t, chromedp.Do(cctx, chromedp.Navigate(s.url+"/")))
	tctx, cancel := context.WithTimeout(cctx, 2*time.Minute)
	defer cancel()

	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return v
	}
	const web = `[data-module="web"] `
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`#live[data-live="on"]`))))
	require.Equal(t, "1.0.0", text(web+`[data-field="installed"]`))
	require.Equal(t, "Update available", text(web+`[data-field="state"]`))
	_, err = chromedp.Run(tctx, chromedp.Evaluate[bool](`window.upkeepNoReload = true`)) // a reload would drop it
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS(web+`button[data-action="install"]`))))

	select {
	case <-pause.reached:
	case <-tctx.Done():
		t.Fatal("the download never started")
	}
	dir := artifacts(t)
	_, err = chromedp.Run(tctx, chromedp.Poll[bool](`document.querySelector('[data-module="web"] [data-field="bytes"]').textContent.includes('%')`))
	require.NoError(t, err)
	require.Equal(t, "Installing", text(web+`[data-field="state"]`))
	require.Contains(t, text(web+`[data-field="bytes"]`), "MiB")
	_, err = chromedp.Run(tctx, chromedp.Evaluate[bool](`document.querySelector('[data-module="web"] [data-field="notes-box"]').open = true;
		document.querySelector('[data-module="reports"] [data-field="diagnostics"]').open = true`))
	require.NoError(t, err)
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "portal-installing.png"), shot, 0o644))

	pause.open()
	_, err = chromedp.Run(tctx, chromedp.Poll[bool](`document.querySelector('[data-module="web"] [data-field="installed"]').textContent === '1.1.0'`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(web+`button[data-action="rollback"]`))))
	require.Equal(t, "Up to date", text(web+`[data-field="state"]`))
	noReload, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`window.upkeepNoReload === true`))
	require.NoError(t, err)
	require.True(t, noReload, "the page was reloaded")
	shot, err = chromedp.Run(tctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "portal-installed.png"), shot, 0o644))
	t.Logf("screenshots in %s", dir)
	// Three modules, release notes, diagnostics, a rollback button: nothing serious
	// for axe-core, in English and in French.
	axeSrc := testenv.AxeCore(t)
	require.Empty(t, browser.AxeViolations(t, tctx, axeSrc), "axe-core, the English page")
	require.NoError(t, chromedp.Do(tctx, chromedp.Navigate(s.url+"/?lang=fr")))
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`html[lang="fr"] #live[data-live="on"]`))))
	require.Equal(t, "À jour", text(web+`[data-field="state"]`))
	require.Empty(t, browser.AxeViolations(t, tctx, axeSrc), "axe-core, the French page")
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, problems, "script errors on the page")
}

// TestChromiumLogin drives Debian's Chromium through a portal with a secret: the
// login form, the page with its Sign out button (the session cookie out of the
// script's reach), and after it the form again. TestLoginSession shows that the
// session ends on the portal too, not only in the browser.
func TestChromiumLogin(t *testing.T) {
	chrome := testenv.NeedProgram(t, "chromium", "chromium")
	t.Parallel()
	const secret = "s3cret-from-token-file"
	f := newFixture(t, "web")
	f.repo.Publish("web", "1.0.0", platform, map[string]string{"index.html": "v1"})
	s := serve(t, newEngineBackend(t, f.cfg), portal.WithBearer(secret))
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.WindowSize(1280, 900), chromedp.Flag("lang", "en-US"),
		chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true))
	var mu sync.Mutex
	var problems []string
	listen := func(ev any) {
		if ev, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			problems = append(problems, ev.ExceptionDetails.Text)
			mu.Unlock()
		}
	}
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancel()
	cctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(listen))
	defer cancel()
	require.NoError(t, chromedp.Do(cctx, chromedp.Navigate(s.url+"/")))
	tctx, cancel := context.WithTimeout(cctx, 2*time.Minute)
	defer cancel()

	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`input[name="secret"]`))))
	axeSrc := testenv.AxeCore(t)
	require.Empty(t, browser.AxeViolations(t, tctx, axeSrc), "axe-core, the login form")
	require.NoError(t, chromedp.Do(tctx, chromedp.SendKeys(chromedp.CSS(`input[name="secret"]`), secret+"\n")))
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`#live[data-live="on"]`))))
	cookies, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.cookie`))
	require.NoError(t, err)
	require.Empty(t, cookies, "the session cookie is HttpOnly")
	require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`button[data-action="logout"]`))))
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`input[name="secret"]`))))
	ops, err := chromedp.Run(tctx, chromedp.Evaluate[int](`fetch('api/operations').then(r => r.status)`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, ops, "signed out")
	require.NoError(t, chromedp.Do(tctx, chromedp.Navigate(s.url+"/?lang=fr")))
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`html[lang="fr"] input[name="secret"]`))))
	require.Equal(t, "Se connecter", func() string {
		v, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(`button[type="submit"]`)))
		require.NoError(t, err)
		return v
	}())
	require.Empty(t, browser.AxeViolations(t, tctx, axeSrc), "axe-core, the French login form")
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, problems, "script errors on the page")
}

// TestChromiumSettings drives Debian's Chromium through the settings form: automatic
// installs in a window of days and hours, saved with the keyboard, and the module's
// card then shows the window and the next check without a reload; a bad value shows
// its error beside the form and changes nothing.
func TestChromiumSettings(t *testing.T) {
	chrome := testenv.NeedProgram(t, "chromium", "chromium")
	t.Parallel()
	f := newFixture(t, "web")
	a, file := fileAgent(t, f)
	s := serve(t, a)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.WindowSize(1000, 1100), chromedp.Flag("lang", "en-US"),
		chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true))
	var mu sync.Mutex
	var problems []string
	listen := func(ev any) {
		if ev, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			problems = append(problems, msg)
			mu.Unlock()
		}
	}
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancel()
	cctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(listen))
	defer cancel()
	require.NoError(t, chromedp.Do(cctx, chromedp.Navigate(s.url+"/")))
	tctx, cancel := context.WithTimeout(cctx, 2*time.Minute)
	defer cancel()
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return v
	}
	const web = `[data-module="web"] `
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`#live[data-live="on"]`))))
	require.Equal(t, "No automatic install", text(web+`[data-field="window"]`))
	axeSrc := testenv.AxeCore(t)
	require.Empty(t, browser.AxeViolations(t, tctx, axeSrc), "axe-core, the English page")
	hidden, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`document.querySelector('[data-field="window-fields"]').hidden`))
	require.NoError(t, err)
	require.True(t, hidden, "no window fields while automatic installs are off")
	_, err = chromedp.Run(tctx, chromedp.Evaluate[bool](`window.upkeepNoReload = true`))
	require.NoError(t, err)

	// A bad interval: the error shows, the file stays.
	before, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(tctx, chromedp.SetValue(chromedp.CSS(`input[name="check_interval"]`), "soon")))
	require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`button[data-action="save-settings"]`))))
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`[data-field="settings-error"]`))))
	require.Contains(t, text(`[data-field="settings-error"]`), "check_interval")
	after, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, string(before), string(after))

	// The window, chosen with the keyboard: focus the radio, Space; the days with
	// Space; the hours typed; Enter submits.
	require.NoError(t, chromedp.Do(tctx, chromedp.SetValue(chromedp.CSS(`input[name="check_interval"]`), "6h")))
	require.NoError(t, chromedp.Do(tctx, chromedp.Focus(chromedp.CSS(`input[name="auto"][value="window"]`))))
	require.NoError(t, chromedp.Do(tctx, chromedp.KeyEvent(" ")))
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`input[name="days"][value="sat"]`))))
	for _, d := range []string{"sat", "sun"} {
		require.NoError(t, chromedp.Do(tctx, chromedp.Focus(chromedp.CSS(`input[name="days"][value="`+d+`"]`))))
		require.NoError(t, chromedp.Do(tctx, chromedp.KeyEvent(" ")))
	}
	require.NoError(t, chromedp.Do(tctx, chromedp.SetValue(chromedp.CSS(`input[name="from"]`), "02:00")))
	require.NoError(t, chromedp.Do(tctx, chromedp.SetValue(chromedp.CSS(`input[name="to"]`), "05:00")))
	require.NoError(t, chromedp.Do(tctx, chromedp.Focus(chromedp.CSS(`input[name="check_interval"]`))))
	require.NoError(t, chromedp.Do(tctx, chromedp.KeyEvent("\r")))
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`[data-field="settings-saved"]`))))
	_, err = chromedp.Run(tctx, chromedp.Poll[bool](`document.querySelector('[data-module="web"] [data-field="window"]').textContent === 'sat, sun · 02:00-05:00'`))
	require.NoError(t, err)
	next, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.querySelector('[data-module="web"] [data-field="next_check"]').getAttribute('datetime')`))
	require.NoError(t, err)
	when, err := time.Parse(time.RFC3339, next)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(6*time.Hour), when, time.Hour, "the next check at the new interval")
	require.Equal(t, "", text(`[data-field="settings-error"]`))

	cfg, err := agent.LoadConfig(file)
	require.NoError(t, err)
	require.Equal(t, &agent.Window{Days: []string{"sat", "sun"}, Hours: "02:00-05:00"}, cfg.AutoInstall)
	require.Equal(t, 6*time.Hour, time.Duration(cfg.CheckInterval))
	noReload, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`window.upkeepNoReload === true`))
	require.NoError(t, err)
	require.True(t, noReload, "the page was reloaded")
	require.Empty(t, browser.UnreachedByTab(t, tctx), "controls the Tab key never reaches")

	// The switch to French, with the keyboard: the page comes back in French, its
	// script writes French too, and the choice holds across a reload.
	require.NoError(t, chromedp.Do(tctx, chromedp.Focus(chromedp.CSS(`a[hreflang="fr"]`))))
	require.NoError(t, chromedp.Do(tctx, chromedp.KeyEvent("\r")))
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`html[lang="fr"] #live[data-live="on"]`))))
	require.Equal(t, "en direct", text(`#live`))
	_, err = chromedp.Run(tctx, chromedp.Poll[bool](`document.querySelector('[data-module="web"] [data-field="window"]').textContent === 'sam, dim · 02:00-05:00'`))
	require.NoError(t, err)
	require.Equal(t, "Pas encore vérifié", text(web+`[data-field="state"]`))
	require.Equal(t, "Enregistrer les réglages", text(`button[data-action="save-settings"]`))
	require.NoError(t, chromedp.Do(tctx, chromedp.Reload()))
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`html[lang="fr"] #live[data-live="on"]`))))
	require.Empty(t, browser.AxeViolations(t, tctx, axeSrc), "axe-core, the French page")
	dir := artifacts(t)
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "portal-fr.png"), shot, 0o644))
	shot, err = chromedp.Run(tctx, chromedp.Screenshot(chromedp.CSS(`section.settings`)))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "portal-fr-settings.png"), shot, 0o644))
	t.Logf("screenshots in %s", dir)
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, problems, "script errors on the page")
}
