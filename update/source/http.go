package source

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// HTTP is a source on a static web server. The zero value is not usable; call NewHTTP.
type HTTP struct {
	base   *url.URL
	client *http.Client
	o      options
}

var _ Source = (*HTTP)(nil)

// NewHTTP returns a source for the repository at base, an http or https URL that may
// carry a path ("https://updates.example.com/repo/"); file names are resolved below it.
// base may not carry credentials, a query or a fragment: send credentials with
// WithHeader or WithBearerToken. Those go to base's scheme, host and port only: a
// redirect elsewhere (another host, or https to http) is followed without them.
func NewHTTP(base string, opts ...Option) (*HTTP, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("source: base URL %q: %w", base, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("source: base URL %q: scheme must be http or https", base)
	case u.Host == "":
		return nil, fmt.Errorf("source: base URL %q: no host", base)
	case u.User != nil:
		return nil, fmt.Errorf("source: base URL %q: credentials in the URL are refused (use WithHeader)", base)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("source: base URL %q: no query or fragment allowed", base)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	h := &HTTP{base: u, o: defaultOptions()}
	for _, opt := range opts {
		if err := opt(&h.o); err != nil {
			return nil, err
		}
	}
	c := h.o.client
	if c == nil {
		c = &http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   h.o.dialTimeout,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			TLSHandshakeTimeout:   h.o.tlsTimeout,
			ResponseHeaderTimeout: h.o.headerTimeout,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConns:          16,
			ForceAttemptHTTP2:     true,
		}}
	}
	// A copy, so that a client given with WithHTTPClient is not modified.
	own := *c
	own.CheckRedirect = h.redirectPolicy(c.CheckRedirect)
	h.client = &own
	return h, nil
}

// maxRedirects is how many redirects a request follows, as net/http's default policy.
const maxRedirects = 10

// redirectPolicy returns a CheckRedirect that drops the source's credentials (every
// header given with WithHeader or WithBearerToken, and Authorization) from a request
// once its chain of redirects has left the base URL's scheme and host: another host
// (another port counts) must not receive the repository's API key, nor a plain http
// URL a bearer token in clear text. A chain that came back to the base's host does not
// get them back, since the other host chose where it went. next, the policy of a
// client given with WithHTTPClient, then decides; without one, at most 10 redirects
// are followed.
func (h *HTTP) redirectPolicy(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		from := origin(h.base)
		for _, r := range append(slices.Clone(via), req) {
			if origin(r.URL) == from {
				continue
			}
			dropped := false
			for _, k := range append(slices.Collect(maps.Keys(h.o.header)), "Authorization") {
				if _, ok := req.Header[k]; ok {
					req.Header.Del(k)
					dropped = true
				}
			}
			if dropped {
				h.o.logger.LogAttrs(req.Context(), slog.LevelWarn, "source: redirected to another host or scheme: credentials not sent",
					slog.String("from", via[0].URL.Redacted()), slog.String("to", req.URL.Redacted()))
			}
			break
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		return nil
	}
}

// origin returns the scheme, host and port of u, with the scheme's default port
// when u names none.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// Base returns the repository URL, ending with "/".
func (h *HTTP) Base() string { return h.base.String() }

// URL returns the URL of the file name, or an error wrapping ErrBadName.
func (h *HTTP) URL(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", &Error{Location: h.base.String(), Name: name, Err: err}
	}
	return h.base.ResolveReference(&url.URL{Path: name}).String(), nil
}

// Fetch gets the file with a GET request: conditional when req.Validator is set and
// req.Offset is 0, a Range request ("bytes=Offset-") when req.Offset > 0, a bounded
// one when req.Length > 0. Establishing
// the response is retried (see WithRetries); reading the body is not.
func (h *HTTP) Fetch(ctx context.Context, req Request) (*Response, error) {
	loc, err := h.URL(req.Name)
	if err != nil {
		return nil, err
	}
	if req.Offset < 0 || req.Max < 0 || req.Length < 0 {
		return nil, &Error{Location: loc, Name: req.Name, Err: errors.New("source: negative offset or limit")}
	}
	for attempt := 0; ; attempt++ {
		resp, status, retryAfter, err := h.try(ctx, req, loc)
		if err == nil {
			return resp, nil
		}
		if retryAfter < 0 {
			return nil, &Error{Location: loc, Name: req.Name, StatusCode: status, Err: err}
		}
		if attempt >= h.o.retries {
			err = fmt.Errorf("%w after %d attempts: %w", ErrUnreachable, attempt+1, err)
			if status != 0 { // the status is in the message already
				err = fmt.Errorf("%w after %d attempts", ErrUnreachable, attempt+1)
			}
			return nil, &Error{Location: loc, Name: req.Name, StatusCode: status, Err: err}
		}
		delay := h.backoff(attempt, retryAfter)
		h.o.logger.LogAttrs(ctx, slog.LevelWarn, "source: retrying",
			slog.String("url", loc), slog.Int("attempt", attempt+1),
			slog.Int("status", status), slog.String("error", err.Error()),
			slog.Duration("delay", delay))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &Error{Location: loc, Name: req.Name, StatusCode: status, Err: ctx.Err()}
		case <-t.C:
		}
	}
}

// backoff returns the wait before retry number attempt+1: exponential with jitter, or
// the server's Retry-After when longer, never above the ceiling.
func (h *HTTP) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := h.o.maxBackoff
	if attempt < 30 {
		d = min(h.o.minBackoff<<attempt, h.o.maxBackoff)
	}
	// Equal jitter: half fixed, half random, so that a fleet does not retry in step.
	d = d/2 + rand.N(d/2+1)
	return min(max(d, retryAfter), h.o.maxBackoff)
}

// try makes one attempt. On failure it returns the HTTP status (0 without one) and
// retryAfter: < 0 when the failure is final, else the server's Retry-After (0 if none).
func (h *HTTP) try(ctx context.Context, req Request, loc string) (_ *Response, status int, retryAfter time.Duration, _ error) {
	const final = -1
	rctx, cancel := context.WithCancel(ctx)
	hreq, err := http.NewRequestWithContext(rctx, http.MethodGet, loc, nil)
	if err != nil {
		cancel()
		return nil, 0, final, err
	}
	for k, vs := range h.o.header {
		hreq.Header[k] = append([]string(nil), vs...)
	}
	// Asking for identity keeps the transport from decompressing behind our back,
	// which would make sizes and ranges refer to other bytes than the file's.
	hreq.Header.Set("Accept-Encoding", "identity")
	val := parseValidator(req.Validator)
	if req.Length > 0 {
		hreq.Header.Set("Range", "bytes="+strconv.FormatInt(req.Offset, 10)+"-"+strconv.FormatInt(req.Offset+req.Length-1, 10))
		if ir := val.ifRange(); ir != "" {
			hreq.Header.Set("If-Range", ir)
		}
	} else if req.Offset > 0 {
		hreq.Header.Set("Range", "bytes="+strconv.FormatInt(req.Offset, 10)+"-")
		if ir := val.ifRange(); ir != "" {
			hreq.Header.Set("If-Range", ir)
		}
	} else {
		if val.etag != "" {
			hreq.Header.Set("If-None-Match", val.etag)
		}
		if val.lastModified != "" {
			hreq.Header.Set("If-Modified-Since", val.lastModified)
		}
	}

	resp, err := h.client.Do(hreq)
	if err != nil {
		cancel()
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is in the message already
		}
		if ctx.Err() != nil {
			return nil, 0, final, ctx.Err()
		}
		if permanent(err) {
			return nil, 0, final, err
		}
		if noSuchHost(err) {
			return nil, 0, final, fmt.Errorf("%w (not retried: the DNS says the name does not exist): %w", ErrUnreachable, err)
		}
		return nil, 0, 0, err
	}
	status = resp.StatusCode
	fail := func(retryAfter time.Duration, err error) (*Response, int, time.Duration, error) {
		// Read a little of the error page so that the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
		cancel()
		return nil, status, retryAfter, err
	}
	validator := makeValidator(resp.Header.Get("ETag"), resp.Header.Get("Last-Modified"))

	switch {
	case status == http.StatusOK || status == http.StatusPartialContent:
	case status == http.StatusNotModified:
		if req.Validator == "" || req.Offset > 0 {
			return fail(final, fmt.Errorf("%w: 304 to a request that was not conditional", ErrBadResponse))
		}
		// A 304 need not repeat every validator: keep the ones it leaves out.
		etag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		if etag == "" {
			etag = val.etag
		}
		if lm == "" {
			lm = val.lastModified
		}
		validator = makeValidator(etag, lm)
		fail(final, nil)
		return &Response{NotModified: true, Offset: 0, Size: -1, Validator: validator, Location: loc}, status, 0, nil
	case status == http.StatusNotFound || status == http.StatusGone:
		return fail(final, ErrNotFound)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fail(final, ErrDenied)
	case status == http.StatusRequestedRangeNotSatisfiable:
		if _, _, total, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && total == req.Offset {
			// The part already held was the whole file: nothing is left to send.
			fail(final, nil)
			return &Response{Body: http.NoBody, Offset: req.Offset, Size: total, Validator: validator, Location: loc}, status, 0, nil
		}
		return fail(final, fmt.Errorf("%w: offset %d", ErrRangeNotSatisfiable, req.Offset))
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		return fail(parseRetryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("HTTP %s", resp.Status))
	default:
		return fail(final, fmt.Errorf("%w: HTTP %s", ErrBadResponse, resp.Status))
	}

	if req.Length > 0 && status != http.StatusPartialContent {
		return fail(final, fmt.Errorf("%w: HTTP %s to a Range request", ErrNoRange, resp.Status))
	}
	start, size := int64(0), resp.ContentLength
	if status == http.StatusPartialContent {
		first, last, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		switch {
		case !ok:
			return fail(final, fmt.Errorf("%w: 206 with Content-Range %q", ErrBadResponse, resp.Header.Get("Content-Range")))
		case first != req.Offset:
			return fail(final, fmt.Errorf("%w: partial answer starts at byte %d, not %d", ErrBadResponse, first, req.Offset))
		case resp.ContentLength >= 0 && resp.ContentLength != last-first+1:
			return fail(final, fmt.Errorf("%w: Content-Length %d does not match Content-Range %q", ErrBadResponse, resp.ContentLength, resp.Header.Get("Content-Range")))
		}
		start, size = first, total
	}
	limit := int64(-1)
	if req.Length > 0 {
		limit = req.Length
		if resp.ContentLength > limit {
			return fail(final, fmt.Errorf("%w: the server sends %d bytes, %d asked for", ErrTooLarge, resp.ContentLength, limit))
		}
	} else if req.Max > 0 {
		end := req.Offset + req.Max // the body may not go past this byte of the file
		limit = end - start
		if resp.ContentLength > limit || size > end {
			declared := max(resp.ContentLength+start, size)
			return fail(final, fmt.Errorf("%w: the server declares %d bytes, at most %d allowed", ErrTooLarge, declared, end))
		}
	}
	b := &body{rc: resp.Body, n: limit, onClose: cancel}
	b.wrap = func(err error) error {
		if ctx.Err() != nil && !b.guard.tripped() {
			err = ctx.Err()
		}
		h.o.logger.LogAttrs(ctx, slog.LevelInfo, "source: transfer cut",
			slog.String("url", loc), slog.String("error", err.Error()))
		return &Error{Location: loc, Name: req.Name, StatusCode: status, Err: err}
	}
	if h.o.minRate > 0 {
		b.guard = startRateGuard(h.o.minRate, h.o.rateWindow, cancel)
	}
	return &Response{Body: b, Offset: start, Size: size, Validator: validator, Location: loc}, status, 0, nil
}

// permanent reports whether a transport error will not go away by retrying.
func permanent(err error) bool {
	var (
		cv  *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		hn  x509.HostnameError
		ci  x509.CertificateInvalidError
		rhe tls.RecordHeaderError
	)
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) ||
		errors.As(err, &ci) || errors.As(err, &rhe)
}

// noSuchHost reports whether err is the DNS's answer that the host name does not
// exist (NXDOMAIN): unlike a timeout or a refused connection, retrying within seconds
// changes nothing.
func noSuchHost(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// parseRetryAfter returns the wait a Retry-After header asks for (seconds or an HTTP
// date), 0 when absent or unreadable.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, 1<<30)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// parseContentRange parses "bytes FIRST-LAST/TOTAL" and "bytes */TOTAL"; total is -1
// for "*". For the second form first and last are -1.
func parseContentRange(v string) (first, last, total int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	total = -1
	if tot != "*" {
		n, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, 0, false
		}
		total = n
	}
	if rng == "*" {
		return -1, -1, total, total >= 0
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first || (total >= 0 && last >= total) {
		return 0, 0, 0, false
	}
	return first, last, total, true
}

// httpValidator is what an HTTP Response.Validator holds: the ETag and the
// Last-Modified date, encoded as a query string.
type httpValidator struct{ etag, lastModified string }

func makeValidator(etag, lastModified string) string {
	if etag == "" && lastModified == "" {
		return ""
	}
	v := url.Values{}
	if etag != "" {
		v.Set("etag", etag)
	}
	if lastModified != "" {
		v.Set("lm", lastModified)
	}
	return v.Encode()
}

// parseValidator decodes a validator; one it cannot read (from another kind of source)
// is treated as none, which only costs an unconditional request.
func parseValidator(s string) httpValidator {
	v, err := url.ParseQuery(s)
	if err != nil {
		return httpValidator{}
	}
	return httpValidator{etag: v.Get("etag"), lastModified: v.Get("lm")}
}

// ifRange returns the If-Range value: a strong ETag, else the Last-Modified date.
func (v httpValidator) ifRange() string {
	if v.etag != "" && !strings.HasPrefix(v.etag, "W/") {
		return v.etag
	}
	return v.lastModified
}
