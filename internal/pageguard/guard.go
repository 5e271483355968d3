package pageguard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// TokenHeader carries the page token on every state-changing request that is not
// authenticated by the bearer secret.
const TokenHeader = "X-Upkeep-Token"

// Limits and defaults.
const (
	// DefaultSessionTTL is how long a login session lasts unless Options.SessionTTL
	// says otherwise.
	DefaultSessionTTL = 12 * time.Hour
	// MaxSessions bounds the sessions alive at once.
	MaxSessions = 1024
	// MaxLoginFailures is how many wrong secrets in a row an address may send before
	// it is throttled.
	MaxLoginFailures = 5
	// LoginBackoff is how long an address is refused after MaxLoginFailures; it
	// doubles with each further failure.
	LoginBackoff = 30 * time.Second
	// MaxLoginBackoff bounds the time an address is refused.
	MaxLoginBackoff = 15 * time.Minute
	// MaxForm bounds the login form's body.
	MaxForm = 4 << 10
	// maxThrottled bounds the addresses whose failures are remembered.
	maxThrottled = 4096
)

// Options say what a Guard serves and how. Zero values are the defaults.
type Options struct {
	// Addr is the address the pages are served on ("127.0.0.1:8080"): its port is
	// the one the loopback names are accepted on, and its host is served too when it
	// is a specific name or address. Default (or port 0): the port of the
	// connection each request came in on, and no other name.
	Addr string
	// Hosts are more Host values served: "name:port", or "name" for any port (for
	// pages reached through a reverse proxy or by the machine's name). Default: none.
	Hosts []string
	// Secret, when set, is required on every path but Public and Open ones, as
	// "Authorization: Bearer SECRET" or through a login session. White space around
	// it is dropped. Default: none.
	Secret string
	// Realm is the realm of the WWW-Authenticate challenge. Default: "upkeep".
	Realm string
	// Cookie is the name of the session cookie. Default: "upkeep_login".
	Cookie string
	// CookiePath is the path the session cookie is bound to. Default: "/".
	CookiePath string
	// SessionTTL is how long a login lasts. Default: DefaultSessionTTL.
	SessionTTL time.Duration
	// Public are paths served to any request whose Host is served, without
	// credentials or token ("/healthz"). Default: none.
	Public []string
	// Open are requests served without credentials when a Secret is set, as
	// "METHOD /path" or "/path" for any method: the login form, a page that shows it
	// (Guard.Authenticated tells it what to show). Default: none.
	Open []string
	// LoginPath is the path whose POST is the login form: it carries the page token
	// in a field, which Guard.Login checks, instead of the header. Default: none.
	LoginPath string
	// Scripts and Styles are the inline scripts and styles the pages carry: the
	// Content-Security-Policy allows them by hash, and nothing else. Default: none.
	Scripts, Styles []string
	// Challenge answers a request that lacks credentials, and reports whether it
	// did; when it did not (or is nil), the guard answers 401 with
	// WWW-Authenticate. A page may send a browser to its login form instead.
	Challenge func(w http.ResponseWriter, r *http.Request) bool
	// Logger receives refusals, logins and logouts. Default: discard.
	Logger *slog.Logger
	// Now is the clock of sessions and throttling. Default: time.Now.
	Now func() time.Time
}

// Guard is the middleware in front of local pages. It is safe for concurrent use.
type Guard struct {
	token      string
	secret     [sha256.Size]byte
	hasSecret  bool
	port       string          // the port served ("" = the connection's)
	listenHost string          // the Addr's specific host, normalised ("" = none)
	hosts      map[string]bool // "name:port"
	anyPort    map[string]bool // "name"
	public     map[string]bool
	open       map[string]bool // "METHOD /path" or "/path"
	loginPath  string
	realm      string
	cookie     string
	cookiePath string
	ttl        time.Duration
	csp        string
	challenge  func(http.ResponseWriter, *http.Request) bool
	log        *slog.Logger
	now        func() time.Time
	cop        *http.CrossOriginProtection
	sessions   sessions
	throttle   throttle
}

// loopback are the names a local page is always reached by.
var loopback = map[string]bool{"localhost": true, "127.0.0.1": true, "[::1]": true}

// New returns a Guard for o. Its page token is drawn at random: it changes with every
// Guard, so a page served by a previous process cannot post to this one.
func New(o Options) (*Guard, error) {
	g := &Guard{
		hosts: map[string]bool{}, anyPort: map[string]bool{}, public: map[string]bool{}, open: map[string]bool{},
		loginPath: o.LoginPath, realm: o.Realm, cookie: o.Cookie, cookiePath: o.CookiePath, ttl: o.SessionTTL,
		challenge: o.Challenge, log: o.Logger, now: o.Now, cop: http.NewCrossOriginProtection(),
	}
	if g.realm == "" {
		g.realm = "upkeep"
	}
	if g.cookie == "" {
		g.cookie = "upkeep_login"
	}
	if g.cookiePath == "" {
		g.cookiePath = "/"
	}
	if g.ttl == 0 {
		g.ttl = DefaultSessionTTL
	}
	if g.ttl < 0 {
		return nil, fmt.Errorf("pageguard: SessionTTL %v: negative", g.ttl)
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	if o.Addr != "" {
		host, port, err := net.SplitHostPort(o.Addr)
		if err != nil {
			return nil, fmt.Errorf("pageguard: Addr %q: %w", o.Addr, err)
		}
		if n, err := strconv.ParseUint(port, 10, 16); err != nil {
			return nil, fmt.Errorf("pageguard: Addr %q: port %q: not a number from 0 to 65535", o.Addr, port)
		} else if n != 0 {
			g.port = strconv.FormatUint(n, 10)
		}
		if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
			g.listenHost = normName(host)
		}
	}
	for _, h := range o.Hosts {
		if h == "" || strings.ContainsAny(h, "/ \t\r\n") {
			return nil, fmt.Errorf("pageguard: Hosts %q: not a host name", h)
		}
		if name, port, err := net.SplitHostPort(h); err == nil {
			if name == "" || port == "" {
				return nil, fmt.Errorf("pageguard: Hosts %q: not a host name", h)
			}
			g.hosts[normName(name)+":"+port] = true
		} else {
			g.anyPort[normName(h)] = true
		}
	}
	for _, p := range o.Public {
		g.public[p] = true
	}
	for _, p := range o.Open {
		g.open[p] = true
	}
	if s := strings.TrimSpace(o.Secret); s != "" {
		g.secret, g.hasSecret = sha256.Sum256([]byte(s)), true
	} else if o.Secret != "" {
		return nil, errors.New("pageguard: Secret: only white space")
	}
	var tok [32]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, fmt.Errorf("pageguard: page token: %w", err)
	}
	g.token = hex.EncodeToString(tok[:])
	g.csp = policy(o.Scripts, o.Styles)
	g.sessions.m = map[[sha256.Size]byte]time.Time{}
	g.throttle.m = map[string]*failures{}
	return g, nil
}

// policy is the Content-Security-Policy that allows scripts and styles by hash only,
// talks to its own origin only, posts forms to itself only, and is never framed.
func policy(scripts, styles []string) string {
	var b strings.Builder
	b.WriteString("default-src 'none'")
	for _, d := range []struct {
		name string
		srcs []string
	}{{"script-src", scripts}, {"style-src", styles}} {
		if len(d.srcs) == 0 {
			continue
		}
		b.WriteString("; " + d.name)
		for _, s := range d.srcs {
			sum := sha256.Sum256([]byte(s))
			b.WriteString(" 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'")
		}
	}
	b.WriteString("; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	return b.String()
}

// Token returns the page token, for the page to carry.
func (g *Guard) Token() string { return g.token }

// CSP returns the Content-Security-Policy the guard sets.
func (g *Guard) CSP() string { return g.csp }

// NeedsLogin reports whether a Secret is set.
func (g *Guard) NeedsLogin() bool { return g.hasSecret }

// normName lowers a host name, drops one trailing dot, and brackets an IPv6 address.
func normName(name string) string {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") {
		name = name[1 : len(name)-1]
	}
	if strings.Contains(name, ":") {
		name = "[" + name + "]"
	}
	return name
}

// splitHost splits a Host header into its normalised name and its port, the
// scheme's default port when it names none. ok is false for a malformed value.
func splitHost(h string, tls bool) (name, port string, ok bool) {
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		host, port = h, "80"
		if tls {
			port = "443"
		}
		if strings.HasPrefix(host, "[") != strings.HasSuffix(host, "]") {
			return "", "", false
		}
	}
	// Brackets hold an IPv6 address, nothing else.
	if strings.HasPrefix(h, "[") && !strings.Contains(host, ":") {
		return "", "", false
	}
	name = normName(host)
	if name == "" || name == "[]" || port == "" {
		return "", "", false
	}
	return name, port, true
}

// HostAllowed reports whether the request's Host is one the pages are served by.
func (g *Guard) HostAllowed(r *http.Request) bool {
	name, port, ok := splitHost(r.Host, r.TLS != nil)
	if !ok {
		return false
	}
	if g.anyPort[name] || g.hosts[name+":"+port] {
		return true
	}
	if !loopback[name] && (g.listenHost == "" || name != g.listenHost) {
		return false
	}
	served := g.port
	if served == "" {
		a, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if a == nil {
			return false
		}
		_, p, err := net.SplitHostPort(a.String())
		if err != nil {
			return false
		}
		served = p
	}
	return port == served
}

// Auth is how a request was authenticated.
type Auth int

const (
	// AuthNone: no credentials (or none needed: no Secret is set).
	AuthNone Auth = iota
	// AuthBearer: the request carries the secret as a bearer token.
	AuthBearer
	// AuthSession: the request carries a live session's cookie.
	AuthSession
)

type authKey struct{}

// Authenticated reports whether r may see what the secret protects: no Secret is
// set, or the request passed the guard with the bearer or a session.
func (g *Guard) Authenticated(r *http.Request) bool {
	if !g.hasSecret {
		return true
	}
	return AuthOf(r) != AuthNone
}

// AuthOf returns how r was authenticated by the guard it passed.
func AuthOf(r *http.Request) Auth {
	a, _ := r.Context().Value(authKey{}).(Auth)
	return a
}

// isOpen reports whether r is served without credentials.
func (g *Guard) isOpen(r *http.Request) bool {
	return g.open[r.URL.Path] || g.open[r.Method+" "+r.URL.Path]
}

// Wrap returns next behind the guard: headers, Host rule, credentials, the
// cross-origin check and the page token, in the order the package doc gives.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.setHeaders(w.Header())
		if !g.HostAllowed(r) {
			g.refuse(w, r, &Error{Status: http.StatusMisdirectedRequest, Code: CodeMisdirected, Msg: fmt.Sprintf("host %q is not served here", r.Host)})
			return
		}
		if g.public[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		auth := AuthNone
		if g.hasSecret {
			var err *Error
			if auth, err = g.authenticate(w, r); err != nil {
				g.refuse(w, r, err)
				return
			}
			if auth == AuthNone && !g.isOpen(r) {
				g.deny(w, r)
				return
			}
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if err := g.cop.Check(r); err != nil {
				g.refuse(w, r, &Error{Status: http.StatusForbidden, Code: CodeForbidden, Msg: "cross-origin request refused: " + err.Error()})
				return
			}
			if auth != AuthBearer && !(g.loginPath != "" && r.URL.Path == g.loginPath) && !g.tokenOK(r.Header.Get(TokenHeader)) {
				g.refuse(w, r, &Error{Status: http.StatusForbidden, Code: CodeForbidden, Msg: "missing or wrong " + TokenHeader + " header: reload the page"})
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authKey{}, auth)))
	})
}

func (g *Guard) setHeaders(h http.Header) {
	h.Set("Content-Security-Policy", g.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// deny answers a request that lacks credentials.
func (g *Guard) deny(w http.ResponseWriter, r *http.Request) {
	if g.challenge != nil && g.challenge(w, r) {
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+g.realm+`"`)
	g.refuse(w, r, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Msg: "a bearer token or a login is required"})
}

// authenticate reads the request's credentials. A wrong secret is answered by the
// challenge (and counted); a throttled address gets an error.
func (g *Guard) authenticate(w http.ResponseWriter, r *http.Request) (Auth, *Error) {
	if a := r.Header.Get("Authorization"); a != "" {
		client := clientOf(r)
		if err := g.throttled(w, client); err != nil {
			return AuthNone, err
		}
		scheme, secret, ok := strings.Cut(a, " ")
		if ok && strings.EqualFold(scheme, "Bearer") && g.secretOK(strings.TrimSpace(secret)) {
			g.throttle.succeeded(client)
			return AuthBearer, nil
		}
		g.failed(client)
		return AuthNone, nil
	}
	if c, err := r.Cookie(g.cookie); err == nil && g.sessions.alive(c.Value, g.now()) {
		return AuthSession, nil
	}
	return AuthNone, nil
}

// tokenOK reports whether t is the page token, in constant time.
func (g *Guard) tokenOK(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(g.token)) == 1
}

// secretOK reports whether s is the secret, comparing hashes in constant time so
// that the length leaks nothing either.
func (g *Guard) secretOK(s string) bool {
	sum := sha256.Sum256([]byte(s))
	return g.hasSecret && subtle.ConstantTimeCompare(sum[:], g.secret[:]) == 1
}

// clientOf is the address a request's failures count against.
func clientOf(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// throttled returns a 429 error, with Retry-After set, when client is locked.
func (g *Guard) throttled(w http.ResponseWriter, client string) *Error {
	wait := g.throttle.locked(client, g.now())
	if wait <= 0 {
		return nil
	}
	secs := int64((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	return &Error{Status: http.StatusTooManyRequests, Code: CodeThrottled,
		Msg: fmt.Sprintf("too many wrong secrets from %s: try again in %ds", client, secs)}
}

func (g *Guard) failed(client string) {
	n, lock := g.throttle.failed(client, g.now())
	g.log.Warn("pageguard: wrong secret", "remote", client, "failures", n, "locked_for", lock)
}

// refuse answers a refused request with its JSON error and logs it.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, e *Error) {
	g.log.Warn("pageguard: refused", "method", r.Method, "path", r.URL.Path, "host", r.Host,
		"remote", r.RemoteAddr, "status", e.Status, "code", e.Code, "reason", e.Msg)
	WriteError(w, e.Status, e.Code, e.Msg)
}

// Login handles the login form's POST: it checks the page token in the form's
// "token" field, the throttle, and the secret in its "secret" field, then starts a
// session and sets its cookie. The caller then sends the browser on, or shows the
// form again with the error, an *Error whose Status says which: 400 (unreadable
// form), 403 (page token), 429 (throttled; Retry-After is set), 401 (wrong secret).
func (g *Guard) Login(w http.ResponseWriter, r *http.Request) error {
	if !g.hasSecret {
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Msg: "no login here: no secret is set"}
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxForm)
	if err := r.ParseForm(); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Msg: "login form: " + err.Error()}
	}
	if !g.tokenOK(r.PostForm.Get("token")) {
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Msg: "login form: missing or wrong page token: reload the page"}
	}
	client := clientOf(r)
	if err := g.throttled(w, client); err != nil {
		return err
	}
	if !g.secretOK(strings.TrimSpace(r.PostForm.Get("secret"))) {
		g.failed(client)
		return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Msg: "login form: wrong secret"}
	}
	g.throttle.succeeded(client)
	id, err := g.sessions.start(g.now().Add(g.ttl))
	if err != nil {
		return fmt.Errorf("pageguard: session: %w", err)
	}
	g.log.Info("pageguard: login", "remote", client)
	http.SetCookie(w, &http.Cookie{
		Name: g.cookie, Value: id, Path: g.cookiePath, MaxAge: int(g.ttl / time.Second),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	return nil
}

// Logout ends the request's session, if any, and clears its cookie. The route
// behind the guard needs the page token like any POST, so another site cannot log
// the operator out.
func (g *Guard) Logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(g.cookie); err == nil && g.sessions.end(c.Value) {
		g.log.Info("pageguard: logout", "remote", clientOf(r))
	}
	http.SetCookie(w, &http.Cookie{
		Name: g.cookie, Value: "", Path: g.cookiePath, MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}
