package maintenance

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/upkeep-go/upkeep/internal/i18n"
)

// Names under which a client presents the bypass token ([WithBypassToken]).
const (
	BypassHeader = "X-Upkeep-Bypass"
	BypassCookie = "upkeep_bypass"
)

// MiddlewareOption configures [State.Middleware].
type MiddlewareOption func(*middlewareOptions)

type middlewareOptions struct {
	health map[string]bool
	token  []byte // sha256 of the bypass token; nil: no bypass
	page   []byte
}

// WithHealthPaths lets requests whose URL path is exactly one of paths through at all
// times, so that a load balancer does not take the service out while it is only in
// maintenance. They are not counted in [State.InFlight]. By default there are none.
func WithHealthPaths(paths ...string) MiddlewareOption {
	return func(o *middlewareOptions) {
		for _, p := range paths {
			o.health[p] = true
		}
	}
}

// WithBypassToken lets requests that carry token, in the X-Upkeep-Bypass header or the
// upkeep_bypass cookie, through during maintenance, so that an operator can check the
// new version before clients see it. The comparison takes constant time. By default,
// and when token is empty, nothing bypasses maintenance.
func WithBypassToken(token string) MiddlewareOption {
	return func(o *middlewareOptions) {
		if token == "" {
			o.token = nil
			return
		}
		sum := sha256.Sum256([]byte(token))
		o.token = sum[:]
	}
}

// WithPage replaces the built-in HTML maintenance page with html, served as is with
// Content-Type text/html; charset=utf-8. Clients that prefer JSON still get JSON.
func WithPage(html []byte) MiddlewareOption {
	return func(o *middlewareOptions) {
		o.page = append([]byte(nil), html...)
	}
}

// Middleware returns a handler that passes requests to next while maintenance is off
// and answers 503 Service Unavailable while it is on, with Retry-After and
// Cache-Control: no-store: a JSON body {"status":"maintenance","retry_after":N,
// "reason":"…"} when the request's Accept header prefers application/json to text/html,
// the HTML page otherwise. Health paths and holders of the bypass token are let through.
// Requests passed to next while maintenance is off are counted until next returns, so
// that [State.On] can wait for them.
func (s *State) Middleware(next http.Handler, opts ...MiddlewareOption) http.Handler {
	o := middlewareOptions{health: make(map[string]bool)}
	for _, opt := range opts {
		opt(&o)
	}
	return &middleware{state: s, next: next, opts: o}
}

type middleware struct {
	state *State
	next  http.Handler
	opts  middlewareOptions
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m.opts.health[r.URL.Path] {
		m.next.ServeHTTP(w, r)
		return
	}
	if m.state.admit() {
		defer m.state.done()
		m.next.ServeHTTP(w, r)
		return
	}
	if m.bypass(r) {
		m.next.ServeHTTP(w, r)
		return
	}
	m.unavailable(w, r)
}

// bypass reports whether r carries the bypass token. Both sides are hashed first so
// that the comparison's time depends on neither the token's content nor its length.
func (m *middleware) bypass(r *http.Request) bool {
	if m.opts.token == nil {
		return false
	}
	given := r.Header.Get(BypassHeader)
	if given == "" {
		c, err := r.Cookie(BypassCookie)
		if err != nil || c.Value == "" {
			return false
		}
		given = c.Value
	}
	sum := sha256.Sum256([]byte(given))
	return subtle.ConstantTimeCompare(sum[:], m.opts.token) == 1
}

// statusBody is the JSON answer during maintenance.
type statusBody struct {
	Status     string `json:"status"`
	RetryAfter int    `json:"retry_after"`
	Reason     string `json:"reason"`
}

func (m *middleware) unavailable(w http.ResponseWriter, r *http.Request) {
	secs := m.state.retryAfterSeconds()
	reason := m.state.Reason()
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(secs))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept")
	if prefersJSON(r.Header.Values("Accept")) {
		body, _ := json.Marshal(statusBody{Status: "maintenance", RetryAfter: secs, Reason: reason})
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write(append(body, '\n'))
		return
	}
	page := m.opts.page
	if page == nil {
		page = renderPage(reason, secs, "", i18n.Negotiate(r.Header.Get("Accept-Language")))
		h.Add("Vary", "Accept-Language")
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(page)
}

// prefersJSON reports whether the Accept header values give application/json a higher
// quality than text/html. Each media type takes the quality of its most specific
// matching range (application/json over application/* over */*); ties go to HTML.
func prefersJSON(accept []string) bool {
	jsonQ, jsonSpec := 0.0, -1
	htmlQ, htmlSpec := 0.0, -1
	for _, value := range accept {
		for _, part := range strings.Split(value, ",") {
			mediaRange, params, _ := strings.Cut(part, ";")
			typ, sub, ok := strings.Cut(strings.ToLower(strings.TrimSpace(mediaRange)), "/")
			if !ok {
				continue
			}
			q := quality(params)
			if spec := specificity(typ, sub, "application", "json"); spec > jsonSpec {
				jsonQ, jsonSpec = q, spec
			}
			if spec := specificity(typ, sub, "text", "html"); spec > htmlSpec {
				htmlQ, htmlSpec = q, spec
			}
		}
	}
	return jsonQ > htmlQ
}

// specificity says how closely the range typ/sub matches wantTyp/wantSub: 2 exactly,
// 1 by type/*, 0 by */*, -1 not at all.
func specificity(typ, sub, wantTyp, wantSub string) int {
	switch {
	case typ == wantTyp && sub == wantSub:
		return 2
	case typ == wantTyp && sub == "*":
		return 1
	case typ == "*" && sub == "*":
		return 0
	}
	return -1
}

// quality returns the q parameter among a media range's parameters (1 when absent,
// 0 when malformed).
func quality(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(q >= 0 && q <= 1) { // NaN fails both
			return 0
		}
		return q
	}
	return 1
}
