package signature

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Every error this package returns matches one of them with errors.Is.
var (
	// ErrUntrustedKey is returned for a signature block whose key ID is not in the
	// keyring.
	ErrUntrustedKey = errors.New("signature: key is not trusted")
	// ErrBadSignature is returned for a signature block that does not verify: the file
	// or the trusted comment was changed, or the block was not made by the key its ID
	// names.
	ErrBadSignature = errors.New("signature: signature does not verify")
	// ErrMalformed is returned for a signature file, public key or secret key that
	// cannot be parsed, and for inputs (a trusted comment with a line break) that
	// cannot be written in the format.
	ErrMalformed = errors.New("signature: malformed")
	// ErrBindingMismatch is returned by [Binding.Check] when a trusted comment does not
	// name the expected file, module, version or platform.
	ErrBindingMismatch = errors.New("signature: trusted comment does not bind to the expected file")
	// ErrThreshold is returned when fewer distinct trusted keys than the keyring's
	// threshold verified a file. The error also matches the reason each refused block
	// was refused (ErrUntrustedKey, ErrBadSignature, ErrLegacy...).
	ErrThreshold = errors.New("signature: too few distinct trusted keys signed")
	// ErrLegacy is returned for a legacy (not prehashed) signature block when the
	// keyring does not allow them.
	ErrLegacy = errors.New("signature: legacy signature refused (not prehashed)")
	// ErrLegacyTooLarge is returned for a legacy signature block of a file larger than
	// the keyring's legacy limit: it cannot be verified without holding it in memory.
	ErrLegacyTooLarge = errors.New("signature: file too large to verify a legacy signature")
	// ErrPasswordRequired is returned by [ParsePrivateKey] for an encrypted secret key
	// when the password is empty.
	ErrPasswordRequired = errors.New("signature: secret key is encrypted: a password is required")
	// ErrWrongPassword is returned by [ParsePrivateKey] when the checksum of a secret
	// key does not match after decryption: a wrong password or a damaged file.
	ErrWrongPassword = errors.New("signature: wrong password or damaged secret key")
)

// reason is a sentinel's message without the package prefix, for composed messages.
func reason(err error) string {
	return strings.TrimPrefix(err.Error(), "signature: ")
}

// FormatError is a signature file or key that cannot be parsed. It matches
// [ErrMalformed].
type FormatError struct {
	Name   string // the file parsed, or what it is ("public key") when unnamed
	Line   int    // 1-based line at fault, 0 when not tied to a line
	Reason string
}

// Error names the input, the line and what is wrong.
func (e *FormatError) Error() string {
	s := "signature: " + e.Name
	if e.Line > 0 {
		s += ": line " + strconv.Itoa(e.Line)
	}
	return s + ": malformed: " + e.Reason
}

// Unwrap returns [ErrMalformed].
func (e *FormatError) Unwrap() error { return ErrMalformed }

// KeyError is one signature block refused: the file verified, the key ID the block
// names, and why (one of the sentinels, possibly wrapped).
type KeyError struct {
	Name  string // the file verified
	KeyID KeyID
	Err   error
}

// Error names the file, the key ID and the reason.
func (e *KeyError) Error() string {
	return "signature: " + e.Name + ": key " + e.KeyID.String() + ": " + reason(e.Err)
}

// Unwrap returns the reason the block was refused.
func (e *KeyError) Unwrap() error { return e.Err }

// ThresholdError is a file that fewer than Threshold distinct trusted keys verified. It
// matches [ErrThreshold] and, through Refused, the reason of each refused block, so
// that errors.Is(err, ErrBadSignature) is true for a tampered file.
type ThresholdError struct {
	Name      string       // the file verified
	Threshold int          // distinct trusted keys required
	Verified  []KeyID      // distinct trusted keys whose signature verified
	Refused   []*KeyError  // blocks refused, in file order
	Trusted   []TrustedKey // the keyring's keys, with the file each came from when known
}

// Error names the file, the keys that verified and why each other block was refused.
// When a block was made by a key that is not trusted, it lists the trusted keys (and
// their files), so that a wrong key file is told from a wrong signature.
func (e *ThresholdError) Error() string {
	if e.Threshold == 1 && len(e.Refused) == 1 {
		r := e.Refused[0]
		if !errors.Is(r.Err, ErrUntrustedKey) {
			return r.Error()
		}
		return "signature: " + e.Name + ": signed by key " + r.KeyID.String() + ", which is not trusted" + e.trusted()
	}
	var b strings.Builder
	b.WriteString("signature: ")
	b.WriteString(e.Name)
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(len(e.Verified)))
	b.WriteString(" of ")
	b.WriteString(strconv.Itoa(e.Threshold))
	b.WriteString(" required distinct trusted keys signed")
	if len(e.Verified) > 0 {
		b.WriteString(" (")
		for i, id := range e.Verified {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(id.String())
		}
		b.WriteString(")")
	}
	for i, r := range e.Refused {
		if i == 0 {
			b.WriteString("; refused: ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString("key ")
		b.WriteString(r.KeyID.String())
		b.WriteString(": ")
		b.WriteString(reason(r.Err))
	}
	for _, r := range e.Refused {
		if errors.Is(r.Err, ErrUntrustedKey) {
			b.WriteString(e.trusted())
			break
		}
	}
	return b.String()
}

// trusted lists the trusted keys for a message, " (trusted: ID from FILE, ID)", or ""
// when they are not known.
func (e *ThresholdError) trusted() string {
	if len(e.Trusted) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(" (trusted: ")
	for i, k := range e.Trusted {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.String())
	}
	b.WriteString(")")
	return b.String()
}

// Unwrap returns [ErrThreshold] and the reason of every refused block.
func (e *ThresholdError) Unwrap() []error {
	errs := make([]error, 0, 1+len(e.Refused))
	errs = append(errs, ErrThreshold)
	for _, r := range e.Refused {
		errs = append(errs, r)
	}
	return errs
}

// BindingError is a trusted comment that does not bind a signature to the expected
// file, module, version or platform. It matches [ErrBindingMismatch].
type BindingError struct {
	Name  string // the file verified
	KeyID KeyID  // the key whose trusted comment differs
	Field string // "file", "module", "version" or "platform"; "" when the comment is unreadable
	Want  string
	Got   string
}

// Error names the file, the key ID, the field, and what was wanted and found.
func (e *BindingError) Error() string {
	s := "signature: " + e.Name + ": key " + e.KeyID.String() + ": trusted comment does not bind to the expected file: "
	if e.Field == "" {
		return s + e.Got
	}
	return s + e.Field + ": want " + strconv.Quote(e.Want) + ", got " + strconv.Quote(e.Got)
}

// Unwrap returns [ErrBindingMismatch].
func (e *BindingError) Unwrap() error { return ErrBindingMismatch }
