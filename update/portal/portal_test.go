package portal_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/portal"
)

// served is a portal on a real listener of 127.0.0.1.
type served struct {
	t     testing.TB
	url   string // http://127.0.0.1:PORT
	host  string // 127.0.0.1:PORT
	port  string
	token string
}

func serve(t testing.TB, b portal.Backend, opts ...portal.Option) *served {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	addr := srv.Listener.Addr().String()
	p, err := portal.New(b, append([]portal.Option{portal.WithAddr(addr)}, opts...)...)
	require.NoError(t, err)
	srv.Config.Handler = p
	srv.Start()
	t.Cleanup(srv.Close)
	s := &served{t: t, url: srv.URL, host: addr, port: addr[strings.LastIndex(addr, ":")+1:]}
	return s
}

var rollbackButton = regexp.MustCompile(`<button [^>]*data-action="rollback"[^>]*>Roll back to 1.0.0</button>`)

var tokenMeta = regexp.MustCompile(`<meta name="upkeep-token" content="([0-9a-f]{64})">`)

// page reads the page and remembers its token.
func (s *served) page(header ...string) string {
	s.t.Helper()
	st, body, _ := s.do("GET", "/", "", header...)
	require.Equal(s.t, http.StatusOK, st, body)
	m := tokenMeta.FindStringSubmatch(body)
	require.NotNil(s.t, m, "no token meta in the page")
	s.token = m[1]
	return body
}

// do sends a request; header is "Name: value" pairs, "Host: …" sets the Host.
func (s *served) do(method, path, body string, header ...string) (int, string, http.Header) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	require.NoError(s.t, err)
	for _, h := range header {
		if h == "" {
			continue
		}
		k, v, _ := strings.Cut(h, ": ")
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return resp.StatusCode, string(b), resp.Header
}

// post sends a POST with the page's token.
func (s *served) post(path, body string, header ...string) (int, string) {
	s.t.Helper()
	st, b, _ := s.do("POST", path, body, append([]string{portal.TokenHeader + ": " + s.token}, header...)...)
	return st, b
}

func (s *served) started(path string) string {
	s.t.Helper()
	st, body := s.post(path, "")
	require.Equal(s.t, http.StatusAccepted, st, body)
	var r struct{ Operation string }
	require.NoError(s.t, json.Unmarshal([]byte(body), &r))
	require.NotEmpty(s.t, r.Operation)
	return r.Operation
}

func (s *served) modules() []agent.ModuleView {
	s.t.Helper()
	st, body, h := s.do("GET", "/api/modules", "")
	require.Equal(s.t, http.StatusOK, st, body)
	require.Equal(s.t, "application/json", h.Get("Content-Type"))
	var r struct{ Modules []agent.ModuleView }
	require.NoError(s.t, json.Unmarshal([]byte(body), &r))
	return r.Modules
}

// waitEnd polls the operation until it ended (the test's own deadline bounds it).
func (s *served) waitEnd(id string) agent.Operation {
	s.t.Helper()
	for {
		st, body, _ := s.do("GET", "/api/operations/"+id, "")
		require.Equal(s.t, http.StatusOK, st, body)
		var op agent.Operation
		require.NoError(s.t, json.Unmarshal([]byte(body), &op))
		if op.Result != agent.ResultRunning {
			return op
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type sse struct {
	Event string
	Data  string
}

// events opens the event stream; the channel closes when the stream ends. cancel
// drops the connection.
func (s *served) events() (<-chan sse, context.CancelFunc) {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", s.url+"/api/events", nil)
	require.NoError(s.t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusOK, resp.StatusCode)
	require.Equal(s.t, "text/event-stream", resp.Header.Get("Content-Type"))
	ch := make(chan sse, 1024)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Event != "" {
					ch <- ev
				}
				ev = sse{}
			case strings.HasPrefix(line, ": "):
				ch <- sse{Event: "comment", Data: line[2:]}
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.Data += line[len("data: "):]
			}
		}
	}()
	s.t.Cleanup(cancel)
	return ch, cancel
}

// next returns the next event named name, skipping others.
func next(t testing.TB, ch <-chan sse, name string) sse {
	t.Helper()
	for ev := range ch {
		if ev.Event == name {
			return ev
		}
	}
	t.Fatalf("event stream ended before an %q event", name)
	return sse{}
}

func TestInstallRollbackThroughAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "web", "api")
	f.repo.Publish("web", "1.0.0", platform, map[string]string{"index.html": "v1"})
	g := newGate()
	b := newEngineBackend(t, f.cfg, update.WithHook("web", hooks.On(hooks.StartUpdate, func(ctx context.Context, ev hooks.Event) error {
		if ev.ToVersion == "1.1.0" {
			return g.hook(ctx)
		}
		return nil
	})))
	s := serve(t, b)
	s.page()

	mods := s.modules()
	require.Len(t, mods, 2)
	require.Equal(t, "web", mods[0].Name)
	require.Equal(t, "unknown", mods[0].Status)
	require.Nil(t, mods[0].Installed)

	op := s.waitEnd(s.started("/api/check"))
	require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
	require.Equal(t, agent.OpCheck, op.Kind)
	mods = s.modules()
	require.Equal(t, "update", mods[0].Status)
	require.Equal(t, "1.0.0", *mods[0].Latest)
	require.NotNil(t, mods[0].Diagnostics.ManifestSerial)
	require.True(t, *mods[0].Diagnostics.SourceReachable)

	op = s.waitEnd(s.started("/api/modules/web/install"))
	require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
	require.Equal(t, "1.0.0", op.To)
	require.Equal(t, "1.0.0", *s.modules()[0].Installed)

	// A second click while an install runs joins it.
	f.repo.Publish("web", "1.1.0", platform, map[string]string{"index.html": "v2"})
	events, _ := s.events()
	id := s.started("/api/modules/web/install")
	<-g.reached
	require.Equal(t, id, s.started("/api/modules/web/install"), "a second install joins the running one")
	mods = s.modules()
	require.Equal(t, "installing", mods[0].Status)
	require.NotNil(t, mods[0].Operation)
	require.Equal(t, id, mods[0].Operation.ID)
	require.Equal(t, agent.OpInstall, mods[0].Operation.Kind)
	var p agent.Progress
	require.NoError(t, json.Unmarshal([]byte(next(t, events, "progress").Data), &p))
	require.Equal(t, id, p.Operation)
	require.Equal(t, "web", p.Module)
	g.open()
	for {
		var ended agent.Operation
		require.NoError(t, json.Unmarshal([]byte(next(t, events, "operation").Data), &ended))
		if ended.ID == id {
			require.Equal(t, agent.ResultSucceeded, ended.Result, ended.Error)
			require.Equal(t, "1.1.0", ended.To)
			break
		}
	}
	mods = s.modules()
	require.Equal(t, "1.1.0", *mods[0].Installed)
	require.Nil(t, mods[0].Operation)
	require.Equal(t, []string{"1.0.0"}, mods[0].Backups)
	require.Regexp(t, rollbackButton, s.page())

	op = s.waitEnd(s.started("/api/modules/web/rollback"))
	require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
	require.Equal(t, agent.OpRollback, op.Kind)
	require.Equal(t, "1.0.0", *s.modules()[0].Installed)

	st, body, _ := s.do("GET", "/api/operations?module=web&limit=2", "")
	require.Equal(t, http.StatusOK, st, body)
	var list struct{ Operations []agent.Operation }
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	require.Len(t, list.Operations, 2)
	require.Equal(t, agent.OpRollback, list.Operations[0].Kind, "newest first")
	require.Equal(t, id, list.Operations[1].ID)
	st, body, _ = s.do("GET", "/api/operations", "")
	require.Equal(t, http.StatusOK, st, body)
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	require.Len(t, list.Operations, 4)
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "web")
	s := serve(t, newEngineBackend(t, f.cfg))
	s.page()
	cases := []struct {
		method, path, body string
		status             int
		contains           string
	}{
		{"POST", "/api/modules/nope/install", "", 404, `not a configured module`},
		{"POST", "/api/modules/nope/rollback", "", 404, `not a configured module`},
		{"POST", "/api/modules/web/rollback", "", 409, `no backup`},
		{"POST", "/api/modules/web/install", `{"version":1}`, 400, `request body`},
		{"POST", "/api/modules/web/install", `{"versio":"1.0.0"}`, 400, `unknown field "versio"`},
		{"POST", "/api/modules/web/install", `{"version":"` + strings.Repeat("9", portal.MaxBody) + `"}`, 413, `more than`},
		{"GET", "/api/operations/op-9999", "", 404, `no such operation`},
		{"GET", "/api/operations?limit=abc", "", 400, `limit="abc"`},
		{"GET", "/api/operations?limit=0", "", 400, `limit="0"`},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			var st int
			var body string
			var h http.Header
			if c.method == "POST" {
				st, body, h = s.do(c.method, c.path, c.body, portal.TokenHeader+": "+s.token)
			} else {
				st, body, h = s.do(c.method, c.path, c.body)
			}
			require.Equal(t, c.status, st, body)
			require.Equal(t, "application/json", h.Get("Content-Type"))
			var e struct{ Error string }
			require.NoError(t, json.Unmarshal([]byte(body), &e), body)
			require.Contains(t, e.Error, c.contains)
		})
	}
}

// TestEventsRebuildProgressOnReconnect cuts the stream during an install: the new
// stream starts with where the running operation is, then tells when it ends.
func TestEventsRebuildProgressOnReconnect(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "web")
	f.repo.Publish("web", "1.0.0", platform, map[string]string{"index.html": strings.Repeat("x", 64<<10)})
	g := newGate()
	b := newEngineBackend(t, f.cfg, update.WithHook("web", hooks.On(hooks.StartUpdate, func(ctx context.Context, ev hooks.Event) error {
		return g.hook(ctx)
	})))
	s := serve(t, b, portal.WithHeartbeat(20*time.Millisecond))
	s.page()
	id := s.started("/api/modules/web/install")
	<-g.reached // downloaded and extracted, held before maintenance

	for range 2 {
		events, cancel := s.events()
		var p agent.Progress
		first := <-events
		require.Equal(t, "progress", first.Event, "the stream starts with the running operation")
		require.NoError(t, json.Unmarshal([]byte(first.Data), &p))
		require.Equal(t, agent.Progress{Operation: id, Module: "web", Step: string(update.StepHook)}, p)
		require.Equal(t, "comment", next(t, events, "comment").Event, "heartbeat")
		cancel()
		for range events {
		}
	}
	events, _ := s.events()
	g.open()
	var ended agent.Operation
	require.NoError(t, json.Unmarshal([]byte(next(t, events, "operation").Data), &ended))
	require.Equal(t, id, ended.ID)
	require.Equal(t, agent.ResultSucceeded, ended.Result, ended.Error)

	// Nothing runs: a new stream starts with no progress.
	events, _ = s.events()
	require.Equal(t, "comment", (<-events).Event)
}

func TestPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "web")
	f.repo.Publish("web", "1.0.0", platform, map[string]string{"index.html": "v1"})
	b := newEngineBackend(t, f.cfg)
	b.notes = map[string]string{"web 1.0.0": "Fixes <script>alert(1)</script>"}
	s := serve(t, b)
	s.page()
	s.waitEnd(s.started("/api/check"))
	body := s.page()
	for _, want := range []string{
		`data-module="web"`,
		`data-field="installed">—<`, `data-field="latest">1.0.0<`, `data-field="state">Update available<`,
		`data-action="install">Install 1.0.0<`, `Fixes &lt;script&gt;alert(1)&lt;/script&gt;`,
		`data-field="source">reachable<`, `id="ops"`,
	} {
		require.Contains(t, body, want)
	}
	require.NotRegexp(t, rollbackButton, body, "no backup kept yet")
	require.NotContains(t, body, "<script>alert")
}

// viewsBackend shows fixed module views: the page's rendering of each state, apart
// from how the agent reaches it.
type viewsBackend struct {
	staticBackend
	views []agent.ModuleView
}

func (v viewsBackend) Modules(ctx context.Context) ([]agent.ModuleView, error) { return v.views, nil }

func TestPageStates(t *testing.T) {
	t.Parallel()
	s1, s2 := "1.0.0", "1.1.0"
	code, reason := "below_min_version", "needs 2.0.0 first"
	views := []agent.ModuleView{
		{Name: "running", Installed: &s1, Latest: &s2, Status: "installing",
			Operation: &agent.RunningOp{ID: "op-1", Kind: agent.OpInstall, Step: "download", Done: 3 << 20, Total: 4 << 20}},
		{Name: "failed", Installed: &s1, Latest: &s2, Status: "failed", LastError: "POSTINSTALL exited 3", Code: ptr("install_failed")},
		{Name: "ineligible", Installed: &s1, Status: "ineligible", Code: &code, Reason: &reason},
		{Name: "maint", Installed: &s1, Status: "maintenance", Maintenance: true},
		{Name: "unreachable", Status: "error", LastError: "source unreachable", Code: ptr("unreachable"),
			Diagnostics: agent.Diagnostics{SourceReachable: ptr(false), Problem: "/srv/x is not writable by upkeep"}},
		{Name: "ready", Installed: &s1, Latest: &s2, Status: "update", Downloaded: true, Backups: []string{"1.0.0", "0.9.0"}},
	}
	s := serve(t, viewsBackend{views: views})
	body := s.page()
	card := func(name string) string {
		i := strings.Index(body, `data-module="`+name+`"`)
		require.GreaterOrEqual(t, i, 0, name)
		j := strings.Index(body[i:], "</article>")
		return body[i : i+j]
	}
	for name, wants := range map[string][]string{
		"running":     {`data-field="state">Installing<`, `data-field="step">Downloading<`, `3.0 MiB of 4.0 MiB (75 %)`, `max="4194304" value="3145728"`, `data-action="install" disabled`},
		"failed":      {`data-field="state">Failed<`, `POSTINSTALL exited 3`, `>install_failed<`, `class="reason bad"`, `>Install 1.1.0<`},
		"ineligible":  {`data-field="state">Ineligible<`, `needs 2.0.0 first`, `>below_min_version<`, `data-action="install" disabled`},
		"maint":       {`data-field="state">In maintenance<`, `visitors see the maintenance page`},
		"unreachable": {`data-field="state">Check failed<`, `source unreachable`, `data-field="source">unreachable<`, `/srv/x is not writable by upkeep`},
		"ready":       {`data-field="downloaded">Downloaded<`, `Roll back to 0.9.0`, `data-field="backups">1.0.0, 0.9.0<`},
	} {
		c := card(name)
		for _, w := range wants {
			require.Contains(t, c, w, name)
		}
		if name != "running" {
			require.Contains(t, c, `data-field="progress" hidden`, name)
		}
	}
}
