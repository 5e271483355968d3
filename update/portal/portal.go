package portal

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/internal/pageguard"
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
	// TokenHeader carries the page's token on every POST that is not authenticated
	// by the bearer secret.
	TokenHeader = pageguard.TokenHeader
	// LoginCookie holds the ID of a login session when a bearer secret is set.
	LoginCookie = "upkeep_login"
)

// Portal is the portal's http.Handler. It is safe for concurrent use.
type Portal struct {
	b         Backend
	log       *slog.Logger
	guard     *pageguard.Guard
	heartbeat time.Duration
	h         http.Handler
	page      *template.Template
}

type config struct {
	addr      string
	hosts     []string
	bearer    string
	ttl       time.Duration
	log       *slog.Logger
	heartbeat time.Duration
}

// Option changes how New builds a Portal.
type Option func(*config) error

// WithAddr gives the address the portal is served on ("127.0.0.1:8080"): requests are
// then accepted for localhost, 127.0.0.1 and [::1] on its port, and for its host when
// that is a specific name or address. Default: none, so the loopback names are
// accepted on the port of the connection each request came in on.
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

// WithSessionTTL sets how long a login through the form lasts. Default:
// pageguard's 12 hours.
func WithSessionTTL(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("portal: WithSessionTTL %v: not positive", d)
		}
		c.ttl = d
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
	g, err := pageguard.New(pageguard.Options{
		Addr: c.addr, Hosts: c.hosts, Secret: c.bearer, Realm: "upkeep", Cookie: LoginCookie,
		SessionTTL: c.ttl, Public: []string{"/healthz"}, Open: []string{"GET /", "/login"}, LoginPath: "/login",
		Scripts: []string{pageJS}, Styles: []string{pageCSS}, Logger: c.log,
	})
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	p := &Portal{b: b, log: c.log, guard: g, heartbeat: c.heartbeat, page: pageTemplate}
	p.h = g.Wrap(pageguard.Routes(p.routes()))
	return p, nil
}

// ServeHTTP checks the request's Host, credentials and token (package pageguard),
// then answers it.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.h.ServeHTTP(w, r)
}
