package portal

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/update/agent"
)

// Backend is what the portal asks: the agent satisfies it. Errors for a module that is
// not configured match update.ErrUnknownModule (errors.Is).
type Backend interface {
	// Modules returns every module as the page shows it, in configuration order.
	Modules(ctx context.Context) ([]agent.ModuleView, error)
	// Install starts installing module (version "" = the newest offered) and returns
	// the operation's ID at once; while an install of the module runs, it joins it and
	// returns its ID.
	Install(ctx context.Context, module, version string) (opID string, err error)
	// Rollback starts putting the module's previous version back.
	Rollback(ctx context.Context, module string) (opID string, err error)
	// Check starts a check of every module.
	Check(ctx context.Context) (opID string, err error)
	// Operations returns at most limit operations of module ("" = all), newest first.
	Operations(ctx context.Context, module string, limit int) ([]agent.Operation, error)
	// Operation returns one operation, or an error matching agent.ErrNoOperation.
	Operation(ctx context.Context, id string) (agent.Operation, error)
	// Subscribe sends progress and ended operations until ctx is done, then closes the
	// channel.
	Subscribe(ctx context.Context) <-chan agent.Event
}

// Limits and defaults.
const (
	// DefaultHeartbeat is how often the event stream sends a comment when nothing
	// happens, so that proxies and browsers keep it open.
	DefaultHeartbeat = 15 * time.Second
	// DefaultOperations is how many operations /api/operations returns without a
	// limit, and how many the page lists.
	DefaultOperations = 50
	// MaxOperations is the largest limit /api/operations accepts.
	MaxOperations = 1000
	// MaxBody bounds a request body (the install's {"version"}, the login form).
	MaxBody = 4 << 10
)

// Header and cookie names of the portal's protections.
const (
	// TokenHeader carries the page's token on every POST.
	TokenHeader = "X-Upkeep-Token"
	// LoginCookie holds the proof of a login when a bearer secret is set.
	LoginCookie = "upkeep_login"
)

// Portal is the portal's http.Handler. It is safe for concurrent use.
type Portal struct {
	b         Backend
	log       *slog.Logger
	hosts     map[string]bool // "name:port", lower case, no trailing dot
	anyPort   map[string]bool // names accepted on any port (no WithAddr)
	token     string
	bearer    []byte // nil: no bearer required
	login     string // the login cookie's value, derived from bearer
	heartbeat time.Duration
	cop       *http.CrossOriginProtection
	mux       *http.ServeMux
	csp       string
	page      *template.Template
}

type config struct {
	addr      string
	hosts     []string
	bearer    string
	log       *slog.Logger
	heartbeat time.Duration
}

// Option changes how New builds a Portal.
type Option func(*config) error

// WithAddr gives the address the portal is served on ("127.0.0.1:8080"): requests are
// then accepted for localhost, 127.0.0.1 and [::1] on its port only, and for its host
// when that is a specific name or address. Default: none, so the loopback names are
// accepted on any port.
func WithAddr(addr string) Option {
	return func(c *config) error {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("portal: WithAddr %q: %w", addr, err)
		}
		c.addr = addr
		return nil
	}
}

// WithHosts adds Host header values the portal answers ("upkeep.example:8443", or a
// name without port for any port), for a portal reached through a reverse proxy or by
// another name. Default: none.
func WithHosts(hosts ...string) Option {
	return func(c *config) error {
		for _, h := range hosts {
			if h == "" || strings.ContainsAny(h, "/ \t") {
				return fmt.Errorf("portal: WithHosts %q: not a host name", h)
			}
		}
		c.hosts = append(c.hosts, hosts...)
		return nil
	}
}

// WithBearer requires secret on every path but /healthz, as "Authorization: Bearer
// SECRET" or through the login form (the agent reads it from --token-file); white
// space around it (a file's final newline) is dropped. Default: no secret; the Host
// check and the page token still apply.
func WithBearer(secret string) Option {
	return func(c *config) error {
		if strings.TrimSpace(secret) == "" {
			return errors.New("portal: WithBearer: empty secret")
		}
		c.bearer = strings.TrimSpace(secret)
		return nil
	}
}

// WithLogger logs refused requests and backend errors. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("portal: WithLogger: nil logger")
		}
		c.log = l
		return nil
	}
}

// WithHeartbeat sets how often an idle event stream sends a comment. Default:
// DefaultHeartbeat.
func WithHeartbeat(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("portal: WithHeartbeat %v: not positive", d)
		}
		c.heartbeat = d
		return nil
	}
}

// New returns a portal over b. Its token is drawn at random: it changes with every
// Portal, so a page served by a previous process cannot post to this one.
func New(b Backend, opts ...Option) (*Portal, error) {
	if b == nil {
		return nil, errors.New("portal: nil Backend")
	}
	c := config{log: slog.New(slog.DiscardHandler), heartbeat: DefaultHeartbeat}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	var tok [32]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, fmt.Errorf("portal: token: %w", err)
	}
	p := &Portal{
		b:         b,
		log:       c.log,
		hosts:     map[string]bool{},
		anyPort:   map[string]bool{},
		token:     hex.EncodeToString(tok[:]),
		heartbeat: c.heartbeat,
		cop:       http.NewCrossOriginProtection(),
		csp:       contentSecurityPolicy,
		page:      pageTemplate,
	}
	loopback := []string{"localhost", "127.0.0.1", "[::1]"}
	if c.addr == "" {
		for _, h := range loopback {
			p.anyPort[h] = true
		}
	} else {
		host, port, _ := net.SplitHostPort(c.addr)
		for _, h := range loopback {
			p.hosts[h+":"+port] = true
		}
		if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
			p.hosts[normHost(net.JoinHostPort(host, port))] = true
		}
	}
	for _, h := range c.hosts {
		if _, _, err := net.SplitHostPort(h); err == nil {
			p.hosts[normHost(h)] = true
		} else {
			p.anyPort[normHost(h)] = true
		}
	}
	if c.bearer != "" {
		p.bearer = []byte(c.bearer)
		mac := hmac.New(sha256.New, p.bearer)
		mac.Write([]byte("upkeep portal login"))
		p.login = hex.EncodeToString(mac.Sum(nil))
	}
	p.routes()
	return p, nil
}

// normHost lowers a Host value and drops the trailing dot of its name.
func normHost(h string) string {
	h = strings.ToLower(h)
	if host, port, err := net.SplitHostPort(h); err == nil {
		return net.JoinHostPort(strings.TrimSuffix(host, "."), port)
	}
	return strings.TrimSuffix(h, ".")
}

// hostAllowed reports whether the request's Host is one the portal serves.
func (p *Portal) hostAllowed(r *http.Request) bool {
	h := strings.ToLower(r.Host)
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port: the scheme's default one.
		host, port = h, "80"
		if r.TLS != nil {
			port = "443"
		}
		if strings.HasPrefix(host, "[") != strings.HasSuffix(host, "]") {
			return false
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || port == "" {
		return false
	}
	name := host
	if strings.Contains(host, ":") {
		name = "[" + host + "]"
	}
	return p.hosts[name+":"+port] || p.anyPort[name]
}

// ServeHTTP checks the request's Host, credentials and token, then answers it.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", p.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	if !p.hostAllowed(r) {
		p.refuse(w, r, http.StatusMisdirectedRequest, fmt.Sprintf("host %q is not served here", r.Host))
		return
	}
	if r.URL.Path == "/healthz" {
		p.mux.ServeHTTP(w, r)
		return
	}
	// Without credentials only the login form is served (the page at / shows it too).
	if p.bearer != nil && r.URL.Path != "/login" && (r.URL.Path != "/" || r.Method != http.MethodGet) && !p.authorized(r) {
		h.Set("WWW-Authenticate", `Bearer realm="upkeep"`)
		p.refuse(w, r, http.StatusUnauthorized, "a bearer token or a login is required")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if err := p.cop.Check(r); err != nil {
			p.refuse(w, r, http.StatusForbidden, "cross-origin request refused: "+err.Error())
			return
		}
		// The login form cannot send a header: it carries the token in a field, which
		// its handler checks.
		if r.URL.Path != "/login" && !p.tokenOK(r.Header.Get(TokenHeader)) {
			p.refuse(w, r, http.StatusForbidden, "missing or wrong "+TokenHeader+" header: reload the page")
			return
		}
	}
	p.mux.ServeHTTP(w, r)
}

// refuse answers a refused request with a JSON error and logs it.
func (p *Portal) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p.log.Warn("portal: refused", "method", r.Method, "path", r.URL.Path, "host", r.Host,
		"remote", r.RemoteAddr, "status", status, "reason", msg)
	writeJSON(w, status, errorBody{Error: msg})
}

// tokenOK reports whether t is the page's token, in constant time.
func (p *Portal) tokenOK(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(p.token)) == 1
}

// authorized reports whether the request carries the bearer secret or the login cookie.
func (p *Portal) authorized(r *http.Request) bool {
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, secret, ok := strings.Cut(a, " ")
		return ok && strings.EqualFold(scheme, "Bearer") && p.secretOK(strings.TrimSpace(secret))
	}
	if c, err := r.Cookie(LoginCookie); err == nil {
		return subtle.ConstantTimeCompare([]byte(c.Value), []byte(p.login)) == 1
	}
	return false
}

// secretOK reports whether s is the bearer secret, in constant time.
func (p *Portal) secretOK(s string) bool {
	return subtle.ConstantTimeCompare([]byte(s), p.bearer) == 1
}
