package signature

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Binding is what a pack's trusted comment ties its signature to, so that a valid
// signature of another file, module, version or platform is refused (mix-and-match and
// rollback attacks). Values must not hold spaces, tabs or line breaks.
type Binding struct {
	File     string // the file's base name, "app-1.2.0-linux-amd64.zip"
	Module   string
	Version  string
	Platform string // "linux/amd64"
	// From is the version a delta pack applies to; empty for a full pack, whose
	// comment then has no from= word (so bindings signed before deltas stay valid).
	From string
}

// String returns the binding in its trusted comment form,
// "file=F module=M version=V platform=P", followed by " from=V" for a delta.
func (b Binding) String() string {
	s := "file=" + b.File + " module=" + b.Module + " version=" + b.Version + " platform=" + b.Platform
	if b.From != "" {
		s += " from=" + b.From
	}
	return s
}

// TrustedComment returns the trusted comment to sign: minisign's timestamp at t, then
// the binding, "timestamp:N file=F module=M version=V platform=P". It fails when a
// value holds a space, a tab or a line break, which the comment could not carry.
func (b Binding) TrustedComment(t time.Time) (string, error) {
	for _, f := range b.fields() {
		if strings.ContainsAny(f.value, " \t\r\n") {
			return "", fmt.Errorf("%w: binding %s %q holds white space", ErrMalformed, f.name, f.value)
		}
	}
	return "timestamp:" + strconv.FormatInt(t.Unix(), 10) + " " + b.String(), nil
}

type bindingField struct{ name, value string }

func (b Binding) fields() []bindingField {
	return []bindingField{{"file", b.File}, {"module", b.Module}, {"version", b.Version}, {"platform", b.Platform}, {"from", b.From}}
}

// ParseBinding reads the binding from a trusted comment: space- or tab-separated words,
// of which "file=", "module=", "version=", "platform=" and "from=" (a delta's base
// version) are the binding's fields; other words (minisign's "timestamp:N", other
// key=value pairs) are ignored. A field that is absent is left empty. A field given
// twice, or a comment without any of them, is [ErrMalformed].
func ParseBinding(trustedComment string) (Binding, error) {
	var b Binding
	seen := map[string]bool{}
	for _, word := range strings.FieldsFunc(trustedComment, func(r rune) bool { return r == ' ' || r == '\t' }) {
		key, value, ok := strings.Cut(word, "=")
		if !ok {
			continue
		}
		var dst *string
		switch key {
		case "file":
			dst = &b.File
		case "module":
			dst = &b.Module
		case "version":
			dst = &b.Version
		case "platform":
			dst = &b.Platform
		case "from":
			dst = &b.From
		default:
			continue
		}
		if seen[key] {
			return Binding{}, fmt.Errorf("%w: trusted comment %q: %s given twice", ErrMalformed, trustedComment, key)
		}
		seen[key] = true
		*dst = value
	}
	if len(seen) == 0 {
		return Binding{}, fmt.Errorf("%w: trusted comment %q: no file=, module=, version= or platform=", ErrMalformed, trustedComment)
	}
	return b, nil
}

// Check reports, as a [*BindingError] matching [ErrBindingMismatch], the first signer
// of v whose trusted comment does not bind to b: every field must be equal, an empty
// field of b meaning the comment must not name one either. It also fails when v has no
// signer.
func (b Binding) Check(v *Verified) error {
	if v == nil || len(v.Signers) == 0 {
		return fmt.Errorf("%w: no verified signer", ErrBindingMismatch)
	}
	for _, s := range v.Signers {
		got, err := ParseBinding(s.TrustedComment)
		if err != nil {
			return &BindingError{Name: v.Name, KeyID: s.KeyID, Got: reason(err)}
		}
		gf := got.fields()
		for i, want := range b.fields() {
			if want.value != gf[i].value {
				return &BindingError{Name: v.Name, KeyID: s.KeyID, Field: want.name, Want: want.value, Got: gf[i].value}
			}
		}
	}
	return nil
}
