package fleet

import (
	"embed"
	"errors"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/internal/i18n"
	"github.com/upkeep-go/upkeep/internal/pageguard"
)

// PagesPath is where the master's pages live, beside the API under /fleet/v1/: one
// prefix that a reverse proxy can route, and that the login cookie is bound to.
const PagesPath = "/ui/"

// Names of the pages' protections.
const (
	// PageTokenHeader carries the page's token on every POST under PagesPath that
	// is not authenticated by the admin token as a bearer.
	PageTokenHeader = pageguard.TokenHeader
	// LoginCookie holds the ID of a login session on the pages: random, never a
	// function of the admin token.
	LoginCookie = "upkeep_fleet_login"
)

//go:embed pages
var pageFS embed.FS

var (
	pagesJS  = mustPageAsset("pages/pages.js")
	pagesCSS = mustPageAsset("pages/pages.css")

	pageFuncs = template.FuncMap{
		"stamp":      i18n.FormatTime,
		"t":          pageMessages.T,
		"kindLabel":  func(k Kind) string { return cmpOr(kindLabels[k], string(k)) },
		"stateLabel": func(s State) string { return cmpOr(stateLabels[s], string(s)) },
		"iso":        func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	}
	masterPage = template.Must(template.New("page.html").Funcs(pageFuncs).ParseFS(pageFS, "pages/page.html"))
	loginPage  = template.Must(template.New("login.html").Funcs(pageFuncs).ParseFS(pageFS, "pages/login.html"))
)

func mustPageAsset(name string) string {
	b, err := pageFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// pages serves the master's pages: the servers list, the operations log and
// reports, Add update, Propagate and Apply. They stand behind the guard the portal
// uses (internal/pageguard): the admin token (bearer or login session), the Host
// rule, and for a POST the same origin and, without the bearer, the page's token.
type pages struct {
	m     *Master
	guard *pageguard.Guard
	h     http.Handler
}

func newPages(m *Master) (*pages, error) {
	p := &pages{m: m}
	g, err := pageguard.New(pageguard.Options{
		Addr: m.cfg.Listen, Hosts: m.opts.Hosts, Secret: m.adminToken, Realm: "upkeep fleet",
		Cookie: LoginCookie, CookiePath: PagesPath, Open: []string{"/ui/login"}, LoginPath: "/ui/login",
		Scripts: []string{pagesJS}, Styles: []string{pagesCSS}, Challenge: p.toLogin, Logger: m.log, Now: m.now,
	})
	if err != nil {
		return nil, cfgErr("listen", "pages: %v", err)
	}
	p.guard = g
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ui/{$}", p.handleHome)
	mux.HandleFunc("GET /ui/operations/{id}", p.handleReportPage)
	mux.HandleFunc("GET /ui/login", p.handleLoginForm)
	mux.HandleFunc("POST /ui/login", p.handleLogin)
	mux.HandleFunc("POST /ui/logout", p.handleLogout)
	mux.HandleFunc("GET /ui/api/operations/{id}", p.handleReport)
	mux.HandleFunc("POST /ui/api/updates", p.handleAddUpdate)
	mux.HandleFunc("POST /ui/api/operations", p.handleCreateOp)
	mux.HandleFunc("POST /ui/api/servers/{name}/rekey", p.handleRekey)
	p.h = g.Wrap(pageguard.Routes(mux))
	return p, nil
}

// toLogin sends a browser without credentials to the login form; the pages' API
// answers 401 (the guard's own answer).
func (p *pages) toLogin(w http.ResponseWriter, r *http.Request) bool {
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || strings.HasPrefix(r.URL.Path, "/ui/api/") {
		return false
	}
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
	return true
}

// ServeHTTP answers behind the guard.
func (p *pages) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.h.ServeHTTP(w, r) }

func (p *pages) render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		p.m.log.Error("fleet pages: template", "err", err)
		http.Error(w, "fleet: page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

type loginData struct {
	Lang  i18n.Lang
	CSS   template.CSS
	Token string
	Error string
}

func (p *pages) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	p.render(w, http.StatusOK, loginPage, loginData{Lang: p.lang(w, r), CSS: template.CSS(pagesCSS), Token: p.guard.Token()})
}

func (p *pages) handleLogin(w http.ResponseWriter, r *http.Request) {
	err := p.guard.Login(w, r)
	var ge *pageguard.Error
	switch {
	case err == nil:
		http.Redirect(w, r, PagesPath, http.StatusSeeOther)
	case !errors.As(err, &ge):
		p.m.fail(w, r, err)
	case ge.Status == http.StatusUnauthorized:
		l := p.lang(w, r)
		p.render(w, ge.Status, loginPage, loginData{Lang: l, CSS: template.CSS(pagesCSS), Token: p.guard.Token(), Error: pageMessages.T(l, "Wrong admin token.")})
	case ge.Status == http.StatusTooManyRequests:
		l := p.lang(w, r)
		p.render(w, ge.Status, loginPage, loginData{Lang: l, CSS: template.CSS(pagesCSS), Token: p.guard.Token(),
			Error: pageMessages.T(l, "Too many wrong admin tokens: try again in {0} s.", w.Header().Get("Retry-After"))})
	default:
		pageguard.WriteError(w, ge.Status, ge.Code, "fleet: "+ge.Msg)
	}
}

func (p *pages) handleLogout(w http.ResponseWriter, r *http.Request) {
	p.guard.Logout(w, r)
	w.WriteHeader(http.StatusNoContent)
}

// moduleVersion is one module of a server and the version it runs.
type moduleVersion struct{ Module, Version string }

// serverRow is a line of the servers list as the page shows it.
type serverRow struct {
	ServerView
	RoleLetter string
	Versions   []moduleVersion
}

type pageData struct {
	Lang     i18n.Lang
	Langs    []i18n.Choice
	Messages map[string]string // what pages.js needs to write in Lang
	Token    string
	CSS      template.CSS
	JS       template.JS
	Master   string
	Servers  []serverRow
	Slaves   []string
	Updates  []string
	Ops      []Operation
	Report   *Report
	// Self reports whether the master may apply an update to itself (it runs an
	// engine): "master" is then offered beside the slaves.
	Self bool
	// Convergence is, per module, who is not on its newest version.
	Convergence []*Convergence
}

func (p *pages) data(w http.ResponseWriter, r *http.Request) (*pageData, error) {
	ctx := r.Context()
	views, err := p.m.Servers(ctx)
	if err != nil {
		return nil, err
	}
	l := p.lang(w, r)
	d := &pageData{Lang: l, Langs: i18n.Choices(l), Messages: pageMessages.For(l), Token: p.guard.Token(), CSS: template.CSS(pagesCSS), JS: template.JS(pagesJS), Master: p.m.cfg.Name, Self: p.m.opts.Engine != nil}
	modules := map[string]bool{}
	for _, v := range views {
		for mod := range v.Versions {
			modules[mod] = true
		}
	}
	for _, mod := range slices.Sorted(maps.Keys(modules)) {
		d.Convergence = append(d.Convergence, convergence(views, mod))
	}
	for _, v := range views {
		row := serverRow{ServerView: v, RoleLetter: "S"}
		if v.Role == RoleMaster {
			row.RoleLetter = "M"
		} else {
			d.Slaves = append(d.Slaves, v.Name)
		}
		for mod, ver := range v.Versions {
			row.Versions = append(row.Versions, moduleVersion{mod, ver})
		}
		slices.SortFunc(row.Versions, func(a, b moduleVersion) int { return strings.Compare(a.Module, b.Module) })
		d.Servers = append(d.Servers, row)
	}
	if d.Ops, err = p.m.store.Operations(ctx, 100); err != nil {
		return nil, err
	}
	for _, op := range d.Ops {
		if op.Kind == KindAddUpdate && !slices.Contains(d.Updates, op.Update) {
			d.Updates = append(d.Updates, op.Update)
		}
	}
	return d, nil
}

func (p *pages) handleHome(w http.ResponseWriter, r *http.Request) {
	d, err := p.data(w, r)
	if err != nil {
		p.m.fail(w, r, err)
		return
	}
	p.render(w, http.StatusOK, masterPage, d)
}

func (p *pages) handleReportPage(w http.ResponseWriter, r *http.Request) {
	d, err := p.data(w, r)
	if err == nil {
		d.Report, err = p.m.report(r.Context(), r.PathValue("id"))
	}
	if err != nil {
		p.m.fail(w, r, err)
		return
	}
	p.render(w, http.StatusOK, masterPage, d)
}

func (p *pages) handleReport(w http.ResponseWriter, r *http.Request) {
	p.m.handleOp(w, r)
}

// handleAddUpdate takes what the API's PUT takes: the pack as the body, its name in
// the query, its signature (base64) in X-Upkeep-Signature.
func (p *pages) handleAddUpdate(w http.ResponseWriter, r *http.Request) {
	p.m.handleAddUpdate(w, r)
}

func (p *pages) handleCreateOp(w http.ResponseWriter, r *http.Request) {
	p.m.handleCreateOp(w, r)
}

func (p *pages) handleRekey(w http.ResponseWriter, r *http.Request) {
	p.m.handleRekey(w, r)
}

// cmpOr returns s, or alt when s is empty.
func cmpOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
