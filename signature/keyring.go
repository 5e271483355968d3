package signature

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"aead.dev/minisign"
	"golang.org/x/crypto/blake2b"
)

// DefaultLegacyLimit is the largest file whose legacy signature a keyring verifies
// unless [WithLegacyLimit] says otherwise: legacy signatures cover the whole message,
// which must then be held in memory.
const DefaultLegacyLimit = 64 << 20

// options are a keyring's settings; see the WithX functions.
type options struct {
	threshold   int
	legacy      bool
	legacyLimit int64
}

// Option configures a [Keyring].
type Option func(*options) error

// WithThreshold sets how many distinct trusted keys must have signed a file for it to
// verify (k of n). The default is 1. n must be at least 1 and at most the number of
// distinct keys in the keyring.
func WithThreshold(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("signature: threshold %d, want at least 1", n)
		}
		o.threshold = n
		return nil
	}
}

// WithLegacy sets whether legacy signatures (minisign's "Ed", made over the whole
// message rather than its BLAKE2b-512 digest, as `minisign -S -l` makes them) are
// accepted. The default is false: they are refused with [ErrLegacy]. When allowed, a
// [Verifier] whose signature file holds a legacy block buffers the message up to the
// legacy limit ([DefaultLegacyLimit], see [WithLegacyLimit]).
func WithLegacy(allow bool) Option {
	return func(o *options) error {
		o.legacy = allow
		return nil
	}
}

// WithLegacyLimit sets the largest message, in bytes, buffered to verify a legacy
// signature. The default is [DefaultLegacyLimit]. It only matters with
// [WithLegacy](true).
func WithLegacyLimit(n int64) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("signature: legacy limit %d, want at least 0", n)
		}
		o.legacyLimit = n
		return nil
	}
}

// Keyring is a set of trusted public keys and a threshold: a file verifies when at
// least Threshold distinct keys of the keyring signed it. Several keys allow rotation
// (a new key is added before the old one is retired) and, with a threshold above one,
// ensure that one stolen key cannot publish alone. A Keyring is immutable and safe for
// concurrent use.
type Keyring struct {
	keys  map[KeyID]PublicKey
	order []KeyID
	from  map[KeyID]string // the key file each key was read from, by LoadKeyring
	opts  options
}

// NewKeyring returns a keyring that trusts keys. A key is its Ed25519 public-key
// bytes: the same key given twice, even under two IDs, counts once toward the
// threshold. Two different keys with the same ID, an empty keyring, or a threshold
// above the number of distinct keys are errors. [LoadKeyring] reads the keys from files and
// [ParseKeyring] from bytes.
func NewKeyring(keys []PublicKey, opts ...Option) (*Keyring, error) {
	return newKeyring(keys, nil, opts)
}

// newKeyring builds a keyring of keys; from, when not nil, gives the file each key
// (same index) was read from.
func newKeyring(keys []PublicKey, from []string, opts []Option) (*Keyring, error) {
	kr := &Keyring{
		keys: make(map[KeyID]PublicKey, len(keys)),
		opts: options{threshold: 1, legacyLimit: DefaultLegacyLimit},
	}
	if from != nil {
		kr.from = make(map[KeyID]string, len(keys))
	}
	for _, opt := range opts {
		if err := opt(&kr.opts); err != nil {
			return nil, err
		}
	}
	for i, k := range keys {
		if k == (PublicKey{}) {
			return nil, errors.New("signature: keyring: zero public key")
		}
		if old, dup := kr.keys[k.id]; dup {
			if old != k {
				where := ""
				if from != nil {
					where = " (in " + kr.from[k.id] + " and " + from[i] + ")"
				}
				return nil, fmt.Errorf("signature: keyring: two different keys with ID %s%s", k.id, where)
			}
			continue
		}
		kr.keys[k.id] = k
		kr.order = append(kr.order, k.id)
		if from != nil {
			kr.from[k.id] = from[i]
		}
	}
	if len(kr.keys) == 0 {
		return nil, errors.New("signature: keyring: no key")
	}
	if n := kr.distinct(); kr.opts.threshold > n {
		return nil, fmt.Errorf("signature: keyring: threshold %d above the %d distinct keys", kr.opts.threshold, n)
	}
	return kr, nil
}

// distinct returns the number of distinct keys: a key is its Ed25519 bytes, so one
// listed under two IDs counts once.
func (kr *Keyring) distinct() int {
	seen := make(map[[ed25519.PublicKeySize]byte]bool, len(kr.keys))
	for _, k := range kr.keys {
		seen[k.key] = true
	}
	return len(seen)
}

// ParseKeyring returns a keyring that trusts the public keys in data, in any form
// [ParsePublicKeys] reads: the one call from a key file's bytes, such as a publisher
// key compiled into the program with go:embed, to a keyring.
func ParseKeyring(data []byte, opts ...Option) (*Keyring, error) {
	keys, err := ParsePublicKeys(data)
	if err != nil {
		return nil, err
	}
	return NewKeyring(keys, opts...)
}

// MaxKeyFileSize is the largest public key file [LoadKeyring] reads: a keyring of
// thousands of keys fits, and a file named by mistake (a log, a device) is refused.
const MaxKeyFileSize = 1 << 20

// LoadKeyring returns a keyring that trusts the public keys read from files (each may
// hold several keys, in any form [ParsePublicKeys] reads). A file larger than
// [MaxKeyFileSize] or that cannot be parsed fails with a [*FormatError] naming it
// ([ErrMalformed]); one that cannot be read, with the *fs.PathError of its opening. The
// keyring remembers which file each key came from, so that a file signed by no trusted
// key is reported with the trusted keys and their files.
func LoadKeyring(files []string, opts ...Option) (*Keyring, error) {
	if len(files) == 0 {
		return nil, errors.New("signature: keyring: no key file given")
	}
	var keys []PublicKey
	var from []string
	for _, name := range files {
		b, err := readKeyFile(name)
		if err != nil {
			return nil, err
		}
		ks, err := parsePublicKeys(name, b)
		if err != nil {
			return nil, err
		}
		keys = append(keys, ks...)
		for range ks {
			from = append(from, name)
		}
	}
	return newKeyring(keys, from, opts)
}

// readKeyFile reads a key file of at most MaxKeyFileSize bytes, counted on what is read.
func readKeyFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("signature: %s: %w", name, err)
	}
	if len(b) > MaxKeyFileSize {
		return nil, &FormatError{Name: name, Reason: fmt.Sprintf("more than %d bytes: not a public key file", MaxKeyFileSize)}
	}
	return b, nil
}

// TrustedKey is a key of a keyring and the file it was read from.
type TrustedKey struct {
	ID   KeyID
	File string // "" when the keyring was not loaded from files
}

// String returns the key ID, followed by " from FILE" when the file is known.
func (k TrustedKey) String() string {
	if k.File == "" {
		return k.ID.String()
	}
	return k.ID.String() + " from " + k.File
}

// Trusted returns the keyring's distinct keys and the file each was read from, in the
// order given.
func (kr *Keyring) Trusted() []TrustedKey {
	ts := make([]TrustedKey, len(kr.order))
	for i, id := range kr.order {
		ts[i] = TrustedKey{ID: id, File: kr.from[id]}
	}
	return ts
}

// Threshold returns how many distinct trusted keys must have signed a file.
func (kr *Keyring) Threshold() int { return kr.opts.threshold }

// Keys returns the keyring's distinct keys, in the order given to [NewKeyring].
func (kr *Keyring) Keys() []PublicKey {
	ks := make([]PublicKey, len(kr.order))
	for i, id := range kr.order {
		ks[i] = kr.keys[id]
	}
	return ks
}

// Signer is a key whose signature of a file verified.
type Signer struct {
	KeyID          KeyID
	TrustedComment string // signed with the file: trust it once Verify succeeded
	Legacy         bool   // the block was a legacy (not prehashed) signature
}

// Verified is a file that enough trusted keys signed.
type Verified struct {
	Name    string   // the file verified, as given to Verify
	Signers []Signer // distinct trusted keys whose signature verified, in file order; at least the threshold
}

// Verify reads r once, to its end, and checks it against the signature file sig. name
// is the file's name, for messages. It fails with a [*ThresholdError] (matching
// [ErrThreshold] and each refused block's reason) when fewer than the threshold of
// distinct trusted keys verified it, and with a [*FormatError] ([ErrMalformed]) when
// sig cannot be parsed. Memory does not depend on the size of r (but see
// [WithLegacy]).
func (kr *Keyring) Verify(name string, sig []byte, r io.Reader) (*Verified, error) {
	v, err := kr.NewVerifier(name, sig)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(v, r); err != nil {
		return nil, fmt.Errorf("signature: %s: reading: %w", name, err)
	}
	return v.Verify()
}

// Verifier checks a file fed to it through Write (an io.Writer, so that it can sit
// beside the file in an io.MultiWriter while a download is written to disk) against a
// signature file, when Verify is called. It is not safe for concurrent use.
type Verifier struct {
	kr     *Keyring
	name   string
	blocks []block
	hash   hash.Hash

	// Legacy blocks need the whole message; it is kept up to the legacy limit.
	buffer   bool
	message  []byte
	size     int64
	tooLarge bool
}

// NewVerifier parses the signature file sig of the file name and returns a Verifier
// to feed the file to. A malformed signature file fails here, with a [*FormatError].
func (kr *Keyring) NewVerifier(name string, sig []byte) (*Verifier, error) {
	blocks, err := parseSignatures("signature file of "+name, sig)
	if err != nil {
		return nil, err
	}
	h, _ := blake2b.New512(nil)
	v := &Verifier{kr: kr, name: name, blocks: blocks, hash: h}
	for _, b := range blocks {
		if _, ok := kr.keys[KeyID(b.sig.KeyID)]; ok && b.sig.Algorithm == minisign.EdDSA && kr.opts.legacy {
			v.buffer = true
		}
	}
	return v, nil
}

// Write feeds the next bytes of the file. It never fails.
func (v *Verifier) Write(p []byte) (int, error) {
	v.hash.Write(p)
	v.size += int64(len(p))
	if v.buffer && !v.tooLarge {
		if v.size > v.kr.opts.legacyLimit {
			v.tooLarge = true
			v.message = nil
		} else {
			v.message = append(v.message, p...)
		}
	}
	return len(p), nil
}

// Verify checks the bytes written so far against every signature block and returns
// the distinct trusted keys that signed them, or a [*ThresholdError] when fewer than
// the keyring's threshold did. A key counts once however many of its blocks the file
// holds, and under whichever of its IDs: a key is its public-key bytes.
func (v *Verifier) Verify() (*Verified, error) {
	digest := v.hash.Sum(nil)
	out := &Verified{Name: v.name}
	counted := make(map[KeyID]bool)
	countedKeys := make(map[[ed25519.PublicKeySize]byte]bool)
	var refused []*KeyError
	for _, b := range v.blocks {
		id := KeyID(b.sig.KeyID)
		if counted[id] {
			continue
		}
		if k, ok := v.kr.keys[id]; ok && countedKeys[k.key] {
			counted[id] = true // the same key under another ID: no second vote, no reason
			continue
		}
		if err := v.check(b, digest); err != nil {
			refused = append(refused, &KeyError{Name: v.name, KeyID: id, Err: err})
			continue
		}
		counted[id] = true
		countedKeys[v.kr.keys[id].key] = true
		out.Signers = append(out.Signers, Signer{KeyID: id, TrustedComment: b.sig.TrustedComment, Legacy: b.sig.Algorithm == minisign.EdDSA})
	}
	if len(out.Signers) < v.kr.opts.threshold {
		e := &ThresholdError{Name: v.name, Threshold: v.kr.opts.threshold, Refused: refused, Trusted: v.kr.Trusted()}
		for _, s := range out.Signers {
			e.Verified = append(e.Verified, s.KeyID)
		}
		// A block of a key that verified elsewhere in the file is no reason.
		kept := e.Refused[:0]
		for _, r := range e.Refused {
			if !counted[r.KeyID] {
				kept = append(kept, r)
			}
		}
		e.Refused = kept
		return nil, e
	}
	return out, nil
}

// check verifies one block against the message digest (or the buffered message for a
// legacy block).
func (v *Verifier) check(b block, digest []byte) error {
	k, ok := v.kr.keys[KeyID(b.sig.KeyID)]
	if !ok {
		return ErrUntrustedKey
	}
	msg := digest
	if b.sig.Algorithm == minisign.EdDSA {
		switch {
		case !v.kr.opts.legacy:
			return ErrLegacy
		case v.tooLarge:
			return fmt.Errorf("%w (%d bytes, limit %d)", ErrLegacyTooLarge, v.size, v.kr.opts.legacyLimit)
		}
		msg = v.message
		if msg == nil {
			msg = []byte{}
		}
	}
	pub := ed25519.PublicKey(k.key[:])
	if !ed25519.Verify(pub, msg, b.sig.Signature[:]) {
		return ErrBadSignature
	}
	global := make([]byte, 0, len(b.sig.Signature)+len(b.sig.TrustedComment))
	global = append(append(global, b.sig.Signature[:]...), b.sig.TrustedComment...)
	if !ed25519.Verify(pub, global, b.sig.CommentSignature[:]) {
		return fmt.Errorf("%w: trusted comment changed", ErrBadSignature)
	}
	return nil
}
