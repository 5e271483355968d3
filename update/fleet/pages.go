package fleet

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// PagesPath is where the master's pages live, beside the API under /fleet/v1/: one
// prefix that a reverse proxy can route, and that the login cookie is bound to.
const PagesPath = "/ui/"

// Names of the pages' protections.
const (
	// PageTokenHeader carries the page's token on every POST under PagesPath.
	PageTokenHeader = "X-Upkeep-Token"
	// LoginCookie holds the proof of a login on the pages: an HMAC of the admin
	// token, never the token itself.
	LoginCookie = "upkeep_fleet_login"
)

//go:embed pages
var pageFS embed.FS

var (
	pagesJS  = mustPageAsset("pages/pages.js")
	pagesCSS = mustPageAsset("pages/pages.css")

	pageFuncs = template.FuncMap{
		"stamp": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	}
	masterPage = template.Must(template.New("page.html").Funcs(pageFuncs).ParseFS(pageFS, "pages/page.html"))
	loginPage  = template.Must(template.New("login.html").Funcs(pageFuncs).ParseFS(pageFS, "pages/login.html"))

	// pagesCSP lets the pages run their own script and style only (by hash), talk
	// to their own origin only, post forms to themselves only, and never be framed.
	pagesCSP = "default-src 'none'; script-src " + hashSource(pagesJS) + "; style-src " + hashSource(pagesCSS) +
		"; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

func mustPageAsset(name string) string {
	b, err := pageFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func hashSource(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// pages serves the master's pages: the servers list, the operations log and
// reports, Add update, Propagate and Apply. They need the admin token (bearer or
// login cookie), answer only the allowed Host names, and take a POST only with the
// page's token and from the same origin.
type pages struct {
	m     *Master
	token string          // the page token, drawn per process
	login string          // the login cookie's value
	hosts map[string]bool // Host names answered, on any port
	cop   *http.CrossOriginProtection
	mux   *http.ServeMux
}

func newPages(m *Master) (*pages, error) {
	var tok [32]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, fmt.Errorf("fleet: page token: %w", err)
	}
	mac := hmac.New(sha256.New, []byte(m.adminToken))
	mac.Write([]byte("upkeep fleet login"))
	p := &pages{m: m, token: hex.EncodeToString(tok[:]), login: hex.EncodeToString(mac.Sum(nil)),
		hosts: map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}, cop: http.NewCrossOriginProtection()}
	if host, _, err := net.SplitHostPort(m.cfg.Listen); err == nil {
		if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
			p.hosts[strings.ToLower(host)] = true
		}
	}
	for _, h := range m.opts.Hosts {
		if name, _, err := net.SplitHostPort(h); err == nil {
			h = name
		}
		p.hosts[strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")] = true
	}
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
	p.mux = mux
	return p, nil
}

// hostAllowed reports whether the request's Host names the master: a guard against
// DNS rebinding, whatever the port.
func (p *pages) hostAllowed(r *http.Request) bool {
	h := strings.ToLower(r.Host)
	if name, _, err := net.SplitHostPort(h); err == nil {
		h = name
	} else if strings.HasPrefix(h, "[") != strings.HasSuffix(h, "]") {
		return false
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	return h != "" && p.hosts[h]
}

// authorized reports whether the request carries the admin token or the login cookie.
func (p *pages) authorized(r *http.Request) bool {
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, secret, ok := strings.Cut(a, " ")
		return ok && strings.EqualFold(scheme, "Bearer") && sameSecret(strings.TrimSpace(secret), p.m.adminToken)
	}
	if c, err := r.Cookie(LoginCookie); err == nil {
		return subtle.ConstantTimeCompare([]byte(c.Value), []byte(p.login)) == 1
	}
	return false
}

func (p *pages) tokenOK(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(p.token)) == 1
}

func (p *pages) refuse(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	p.m.log.Warn("fleet pages: refused", "method", r.Method, "path", r.URL.Path, "host", r.Host,
		"remote", r.RemoteAddr, "status", status, "reason", msg)
	writeJSON(w, status, &apiError{Code: code, Msg: "fleet: " + msg})
}

// ServeHTTP checks the Host, the credentials and the page token, then answers.
func (p *pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", pagesCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	if !p.hostAllowed(r) {
		p.refuse(w, r, http.StatusMisdirectedRequest, "misdirected", fmt.Sprintf("host %q is not served here", r.Host))
		return
	}
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead
	if r.URL.Path != "/ui/login" && !p.authorized(r) {
		if safe && !strings.HasPrefix(r.URL.Path, "/ui/api/") {
			http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
			return
		}
		h.Set("WWW-Authenticate", `Bearer realm="upkeep fleet"`)
		p.refuse(w, r, http.StatusUnauthorized, "unauthorized", "the admin token or a login is required")
		return
	}
	if !safe {
		if err := p.cop.Check(r); err != nil {
			p.refuse(w, r, http.StatusForbidden, "forbidden", "cross-origin request refused: "+err.Error())
			return
		}
		// The login form cannot send a header: it carries the token in a field.
		if r.URL.Path != "/ui/login" && !p.tokenOK(r.Header.Get(PageTokenHeader)) {
			p.refuse(w, r, http.StatusForbidden, "forbidden", "missing or wrong "+PageTokenHeader+" header: reload the page")
			return
		}
	}
	p.mux.ServeHTTP(w, r)
}

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
	CSS   template.CSS
	Token string
	Error string
}

func (p *pages) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	p.render(w, http.StatusOK, loginPage, loginData{CSS: template.CSS(pagesCSS), Token: p.token})
}

func (p *pages) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		p.refuse(w, r, http.StatusBadRequest, "bad_request", "login form: "+err.Error())
		return
	}
	if !p.tokenOK(r.PostForm.Get("token")) {
		p.refuse(w, r, http.StatusForbidden, "forbidden", "login form: missing or wrong page token: reload the page")
		return
	}
	if !sameSecret(strings.TrimSpace(r.PostForm.Get("secret")), p.m.adminToken) {
		p.m.log.Warn("fleet pages: login refused", "remote", r.RemoteAddr)
		p.render(w, http.StatusUnauthorized, loginPage, loginData{CSS: template.CSS(pagesCSS), Token: p.token, Error: "Wrong admin token."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: LoginCookie, Value: p.login, Path: PagesPath, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, PagesPath, http.StatusSeeOther)
}

func (p *pages) handleLogout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: LoginCookie, Value: "", Path: PagesPath, MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
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
	Token   string
	CSS     template.CSS
	JS      template.JS
	Master  string
	Servers []serverRow
	Slaves  []string
	Updates []string
	Ops     []Operation
	Report  *Report
	// Self reports whether the master may apply an update to itself (it runs an
	// engine): "master" is then offered beside the slaves.
	Self bool
	// Convergence is, per module, who is not on its newest version.
	Convergence []*Convergence
}

func (p *pages) data(r *http.Request) (*pageData, error) {
	ctx := r.Context()
	views, err := p.m.Servers(ctx)
	if err != nil {
		return nil, err
	}
	d := &pageData{Token: p.token, CSS: template.CSS(pagesCSS), JS: template.JS(pagesJS), Master: p.m.cfg.Name, Self: p.m.opts.Engine != nil}
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
	d, err := p.data(r)
	if err != nil {
		p.m.fail(w, r, err)
		return
	}
	p.render(w, http.StatusOK, masterPage, d)
}

func (p *pages) handleReportPage(w http.ResponseWriter, r *http.Request) {
	d, err := p.data(r)
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
