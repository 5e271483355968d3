package manifest

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. The errors returned by this package wrap one of them, most often
// inside a [*FieldError] that names the JSON path at fault; test them with errors.Is.
var (
	// ErrMissing is returned when a required field is absent or empty.
	ErrMissing = errors.New("manifest: missing")
	// ErrInvalid is returned when a field is present but its value breaks a rule:
	// wrong JSON type, a version that does not parse, a bad SHA-256, an unsafe file
	// name, a rollout outside 0..100, a platform not in canonical form.
	ErrInvalid = errors.New("manifest: invalid")
	// ErrDuplicate is returned when a release (module, version, language) appears
	// twice, a release has two packs for one platform, or a JSON object repeats a key.
	ErrDuplicate = errors.New("manifest: duplicate")
	// ErrSchema is returned when a native manifest's schema number is not
	// [SchemaVersion].
	ErrSchema = errors.New("manifest: unsupported schema")
	// ErrTooLarge is returned when the input is larger than [MaxSize], or a manifest
	// holds more than [MaxReleases] releases.
	ErrTooLarge = errors.New("manifest: too large")
	// ErrUnknownPlatform is returned by [Platform] for a name it cannot map to a
	// GOOS/GOARCH pair.
	ErrUnknownPlatform = errors.New("manifest: unknown platform")
	// ErrFormat is returned by [Detect] and [ParseAny] when the input is neither a
	// native manifest nor an HFSQL hfsql_updateinfo.json.
	ErrFormat = errors.New("manifest: unrecognised format")
)

// FieldError is a rule broken by one field of a manifest. Path is the JSON path of the
// field ("releases[2].packs[0].sha256", "pack[0].pack[1].plateform"); Err wraps one of
// the sentinel errors and says what is wrong.
type FieldError struct {
	Path string
	Err  error
}

// Error returns "PATH: what is wrong", for example
// "releases[2].packs[0].sha256: missing"; a fault of the whole document (not JSON)
// has no path and reads "manifest: invalid: not JSON: ...".
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + strings.TrimPrefix(e.Err.Error(), "manifest: ")
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// fieldErr builds a FieldError whose message is the sentinel's followed by details.
func fieldErr(path string, sentinel error, format string, args ...any) *FieldError {
	if format == "" {
		return &FieldError{Path: path, Err: sentinel}
	}
	return &FieldError{Path: path, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}

// missing reports a required field that is absent.
func missing(path string) *FieldError { return &FieldError{Path: path, Err: ErrMissing} }
