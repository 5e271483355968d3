package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
)

// Source fetches named files from an update repository.
type Source interface {
	// Fetch returns the file req.Name, from req.Offset on. The caller must close the
	// body of a non-nil Response. Errors are *Error values wrapping one of the
	// package's sentinels (or the context's error).
	Fetch(ctx context.Context, req Request) (*Response, error)
}

// Request says which file, and which part of it, Fetch should return.
type Request struct {
	// Name is the file name relative to the source root, "/"-separated, such as
	// "manifest.json" or "packs/app-1.0.zip".
	Name string
	// Offset is the first byte wanted, to resume a cut download; 0 is the start.
	Offset int64
	// Max is the most bytes the body may yield after Offset: the body may not go past
	// byte Offset+Max of the file, whatever the server declares. 0 means no limit;
	// callers fetching untrusted data always set one.
	Max int64
	// Length, when > 0, asks for the Length bytes from Offset only (fewer where the
	// file ends first): the HTTP source sends a bounded Range request
	// ("bytes=Offset-(Offset+Length-1)"), also at Offset 0, and a server that answers
	// with anything but that part fails with ErrNoRange rather than sending the whole
	// file. It is how one entry of a large archive is read alone. Max does not apply;
	// Validator, when set, makes the request fail with ErrNoRange if the file changed.
	Length int64
	// Validator is the Validator of an earlier Response for the same Name, or "".
	// With Offset 0 it makes the request conditional: an unchanged file gives a
	// Response with NotModified set and no body. With Offset > 0 it guards the resume:
	// the rest is sent only if the file is unchanged, otherwise the whole new file is
	// (and Response.Offset is 0).
	Validator string
}

// Response is an answer to Fetch.
type Response struct {
	// Body yields the file's bytes from Offset on; nil when NotModified.
	Body io.ReadCloser
	// Offset is where Body starts in the file. It is the requested offset, or 0 when
	// the server ignored the range (or the file changed) and sends the whole file.
	Offset int64
	// Size is the whole file's size when known, else -1.
	Size int64
	// Validator identifies this version of the file, to pass back in
	// Request.Validator; "" when the source gave nothing to identify it by.
	Validator string
	// NotModified reports that the conditional request found the file unchanged.
	NotModified bool
	// Location is the file's URL or path, for messages.
	Location string
}

// Errors wrapped by the *Error values that sources return.
var (
	// ErrNotFound is returned when the file does not exist (HTTP 404 or 410, or a
	// missing file in a folder or fs.FS). It is never retried.
	ErrNotFound = errors.New("source: file not found")
	// ErrUnreachable is returned when no response could be had: connection refused,
	// DNS failure, timeouts, or 408/429/5xx answers, once the retries are spent. The
	// error also wraps the last cause.
	ErrUnreachable = errors.New("source: unreachable")
	// ErrTooSlow is returned by a body whose transfer rate stayed below the floor set
	// by WithMinRate for a whole window.
	ErrTooSlow = errors.New("source: transfer too slow")
	// ErrTooLarge is returned when a file would go past Request.Max: up front when the
	// declared size says so, or by the body once it has yielded Max bytes and more
	// arrive.
	ErrTooLarge = errors.New("source: file larger than allowed")
	// ErrBadName is returned for a name that could leave the source root or be read
	// as something else than a relative path: "..", absolute or volume paths,
	// backslashes, colons, control characters, empty elements.
	ErrBadName = errors.New("source: bad file name")
	// ErrDenied is returned for HTTP 401 and 403 answers: credentials are missing or
	// refused. It is never retried.
	ErrDenied = errors.New("source: access denied")
	// ErrRangeNotSatisfiable is returned when Request.Offset lies beyond the end of the
	// file: the file changed since the part already held was fetched, and the caller
	// should start again from 0.
	ErrRangeNotSatisfiable = errors.New("source: range not satisfiable")
	// ErrBadResponse is returned for an answer the source cannot use: an unexpected
	// HTTP status, a partial answer that does not start at the requested offset, a
	// 304 to an unconditional request.
	ErrBadResponse = errors.New("source: unusable response")
	// ErrNoRange is returned for a request with Request.Length that the source could
	// not answer with that part alone: a server that ignores Range requests (or whose
	// file changed, with Request.Validator).
	ErrNoRange = errors.New("source: part of a file not served")
)

// Error is the error returned by sources and their bodies: it names the file, where it
// was fetched from and, for HTTP, the last status received.
type Error struct {
	Location   string // URL or path of the file
	Name       string // Request.Name
	StatusCode int    // last HTTP status received, 0 when none
	Err        error  // one of the package's sentinels, a context error or an I/O error
}

// Error returns "fetch NAME from LOCATION (HTTP STATUS): cause".
func (e *Error) Error() string {
	msg := "fetch " + e.Name
	if e.Location != "" && e.Location != e.Name {
		msg += " from " + e.Location
	}
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(" (HTTP %d %s)", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return msg + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// New returns the source at location: an "http://" or "https://" URL (see NewHTTP), a
// "file:///abs/dir" URL or a plain folder path (see NewDir). Options apply to HTTP
// sources; folder sources ignore them.
func New(location string, opts ...Option) (Source, error) {
	lower := strings.ToLower(location)
	switch {
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		return NewHTTP(location, opts...)
	case strings.HasPrefix(lower, "file:"):
		u, err := url.Parse(location)
		if err != nil {
			return nil, fmt.Errorf("source: %q: %w", location, err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("source: %q: file URLs with a host are not supported", location)
		}
		p := filepath.FromSlash(u.Path)
		// file:///C:/dir on Windows.
		if len(u.Path) > 2 && u.Path[0] == '/' && u.Path[2] == ':' {
			p = filepath.FromSlash(u.Path[1:])
		}
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("source: %q: a file URL needs an absolute path", location)
		}
		return NewDir(p), nil
	case strings.Contains(location, "://"):
		return nil, fmt.Errorf("source: %q: unsupported scheme", location)
	case location == "":
		return nil, errors.New("source: empty location")
	}
	return NewDir(location), nil
}

// checkName returns ErrBadName unless name is a clean, relative, "/"-separated path.
func checkName(name string) error {
	if !fs.ValidPath(name) || name == "." {
		return ErrBadName
	}
	for _, r := range name {
		if r == '\\' || r == ':' || r < 0x20 || r == 0x7f {
			return ErrBadName
		}
	}
	return nil
}

// body is the Body of a Response: it stops at the byte limit of Request.Max, enforces
// the rate floor when it has a guard, and turns read errors into *Error values.
type body struct {
	rc      io.ReadCloser
	n       int64      // bytes still allowed; < 0 means unlimited
	guard   *rateGuard // nil: no rate floor
	wrap    func(error) error
	onClose func()
	err     error // sticky
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.n >= 0 && int64(len(p)) > b.n+1 {
		p = p[:b.n+1] // one byte more than allowed tells a longer file from an exact one
	}
	b.guard.enter()
	n, err := b.rc.Read(p)
	b.guard.leave(n)
	if b.n >= 0 {
		if int64(n) > b.n {
			n, err = int(b.n), ErrTooLarge
		}
		b.n -= int64(n)
	}
	switch {
	case err == nil:
	case err == io.EOF:
		b.guard.stop()
		b.err = io.EOF
	default:
		b.guard.stop()
		if b.guard.tripped() {
			err = b.guard.tooSlow()
		}
		b.err = b.wrap(err)
		err = b.err
	}
	return n, err
}

func (b *body) Close() error {
	b.guard.stop()
	err := b.rc.Close()
	if b.onClose != nil {
		b.onClose()
	}
	if b.err == nil {
		b.err = errors.New("source: read after close")
	}
	return err
}
