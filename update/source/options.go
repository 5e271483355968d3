package source

import (
	"errors"
	"log/slog"
	"net/http"
	"net/textproto"
	"time"
)

// Defaults of the HTTP source's options.
const (
	DefaultRetries         = 4                      // WithRetries
	DefaultMinBackoff      = 500 * time.Millisecond // WithBackoff
	DefaultMaxBackoff      = 30 * time.Second       // WithBackoff
	DefaultMinRate         = 1024                   // WithMinRate, bytes per second
	DefaultRateWindow      = 30 * time.Second       // WithMinRate
	DefaultDialTimeout     = 10 * time.Second       // WithTimeouts
	DefaultTLSTimeout      = 10 * time.Second       // WithTimeouts
	DefaultResponseTimeout = 30 * time.Second       // WithTimeouts, for the response headers
)

type options struct {
	client                  *http.Client
	retries                 int
	minBackoff, maxBackoff  time.Duration
	minRate                 int64
	rateWindow              time.Duration
	dialTimeout, tlsTimeout time.Duration
	headerTimeout           time.Duration
	header                  http.Header
	logger                  *slog.Logger
}

func defaultOptions() options {
	return options{
		retries:       DefaultRetries,
		minBackoff:    DefaultMinBackoff,
		maxBackoff:    DefaultMaxBackoff,
		minRate:       DefaultMinRate,
		rateWindow:    DefaultRateWindow,
		dialTimeout:   DefaultDialTimeout,
		tlsTimeout:    DefaultTLSTimeout,
		headerTimeout: DefaultResponseTimeout,
		header:        http.Header{},
		logger:        slog.New(slog.DiscardHandler),
	}
}

// Option configures an HTTP source.
type Option func(*options) error

// WithHTTPClient makes the source send its requests with c. By default it uses a new
// client of its own, with its own Transport, the timeouts of WithTimeouts, proxies from
// the environment and no overall timeout (a body may take as long as it needs while it
// stays above the rate floor). A client given here keeps its own timeouts; one with
// Client.Timeout set cuts long downloads, which then resume.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) error {
		if c == nil {
			return errors.New("source: WithHTTPClient: nil client")
		}
		o.client = c
		return nil
	}
}

// WithRetries sets how many times establishing a response is retried after a
// connection error or a 408, 429 or 5xx answer (default 4, so 5 attempts; 0 disables).
func WithRetries(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return errors.New("source: WithRetries: negative count")
		}
		o.retries = n
		return nil
	}
}

// WithBackoff sets the wait before the first retry (doubled at each retry, with jitter)
// and its ceiling, which also caps a server's Retry-After (default 500ms and 30s).
func WithBackoff(min, max time.Duration) Option {
	return func(o *options) error {
		if min <= 0 || max < min {
			return errors.New("source: WithBackoff: need 0 < min <= max")
		}
		o.minBackoff, o.maxBackoff = min, max
		return nil
	}
}

// WithMinRate sets the rate floor: a body that yields fewer than bytesPerSecond on
// average over any window of the given length fails with ErrTooSlow (default 1024
// bytes per second over 30s; bytesPerSecond 0 disables the floor). Only the time the
// caller spends waiting in Read counts, so a caller that pauses between reads is not
// mistaken for a slow server.
func WithMinRate(bytesPerSecond int64, window time.Duration) Option {
	return func(o *options) error {
		if bytesPerSecond < 0 || (bytesPerSecond > 0 && window <= 0) {
			return errors.New("source: WithMinRate: need a rate >= 0 and a window > 0")
		}
		o.minRate, o.rateWindow = bytesPerSecond, window
		return nil
	}
}

// WithTimeouts sets the timeouts of the default client: to connect, for the TLS
// handshake, and to wait for the response headers once the request is sent (default
// 10s, 10s, 30s). They do not apply to a client given with WithHTTPClient.
func WithTimeouts(dial, tlsHandshake, responseHeader time.Duration) Option {
	return func(o *options) error {
		if dial <= 0 || tlsHandshake <= 0 || responseHeader <= 0 {
			return errors.New("source: WithTimeouts: timeouts must be positive")
		}
		o.dialTimeout, o.tlsTimeout, o.headerTimeout = dial, tlsHandshake, responseHeader
		return nil
	}
}

// WithHeader adds a header sent with every request (none by default), such as an API
// key of a private repository. It may be given several times.
func WithHeader(key, value string) Option {
	return func(o *options) error {
		switch textproto.CanonicalMIMEHeaderKey(key) {
		case "", "Range", "If-Range", "If-None-Match", "If-Modified-Since", "Accept-Encoding":
			return errors.New("source: WithHeader: the source sets " + key + " itself")
		}
		o.header.Add(key, value)
		return nil
	}
}

// WithBearerToken sends "Authorization: Bearer token" with every request (none by
// default).
func WithBearerToken(token string) Option {
	return func(o *options) error {
		if token == "" {
			return errors.New("source: WithBearerToken: empty token")
		}
		o.header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// WithLogger sets the logger that reports retries and cut transfers (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("source: WithLogger: nil logger")
		}
		o.logger = l
		return nil
	}
}
