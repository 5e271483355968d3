package signature

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// File names of a key set in a repository.
const (
	// KeySetFileName is the key set's file in a repository.
	KeySetFileName = "keys.json"
	// KeySetSignatureFileName is its signature file, signed by the root keys.
	KeySetSignatureFileName = KeySetFileName + ".minisig"
)

// KeySetSchema is the only value of a key set's "schema" this package reads.
const KeySetSchema = 1

// MaxKeySetSize is the largest key set [ParseKeySet] reads, in bytes.
const MaxKeySetSize = 1 << 20

// Errors of key sets, matched with errors.Is.
var (
	// ErrKeyExpired is returned for a key used outside its validity (before its
	// not_before or from its not_after on).
	ErrKeyExpired = errors.New("signature: key outside its validity")
	// ErrKeyRevoked is returned for a key that a key set removed or lists as revoked:
	// it is never trusted again.
	ErrKeyRevoked = errors.New("signature: key revoked")
)

// KeySet is a repository's keys.json: the publisher's signing keys, each with its
// validity, and the root keys (with their threshold) that sign the file itself. Agents
// pin root keys in their configuration and trust the signing keys of a key set that
// enough of them signed ([VerifyKeySet]), so that rotating or revoking a signing key
// is publishing a new key set, and rotating the root keys is a key set signed by the
// old roots' threshold and the new roots' (as TUF's root metadata).
//
// Version grows with every publication: a verifier refuses a key set with a lower
// version than one it accepted (a replay that would bring back a revoked key).
// Revoked lists the key IDs removed by this or earlier versions, so that a verifier
// that skipped a version still learns of them; RevokedKeys lists the same keys whole
// where the publisher knew them, since a key is its public-key bytes and the same
// bytes may be listed again under another ID. Expires, when not zero, is the time
// from which verifiers refuse the key set: withholding a newer key set then cannot
// keep a removed key trusted for ever.
type KeySet struct {
	Schema        int
	Version       uint64
	Expires       time.Time
	Roots         []PublicKey
	RootThreshold int
	Keys          []ValidKey
	Revoked       []KeyID
	RevokedKeys   []PublicKey
}

// ValidKey is a signing key of a key set and the time it may be used in:
// [NotBefore, NotAfter). A zero time is no bound.
type ValidKey struct {
	Key       PublicKey
	NotBefore time.Time
	NotAfter  time.Time
}

// ValidAt reports whether the key may be used at t.
func (k ValidKey) ValidAt(t time.Time) bool {
	return (k.NotBefore.IsZero() || !t.Before(k.NotBefore)) && (k.NotAfter.IsZero() || t.Before(k.NotAfter))
}

// The JSON form of a key set.
type keySetJSON struct {
	Schema        int        `json:"schema"`
	Version       uint64     `json:"version"`
	Expires       *time.Time `json:"expires,omitempty"`
	RootThreshold int        `json:"root_threshold"`
	Roots         []string   `json:"roots"`
	Keys          []keyJSON  `json:"keys"`
	Revoked       []string   `json:"revoked,omitempty"`
	RevokedKeys   []string   `json:"revoked_keys,omitempty"`
}

type keyJSON struct {
	ID        string     `json:"id"`
	Key       string     `json:"key"`
	NotBefore *time.Time `json:"not_before,omitempty"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
}

// ParseKeySet reads and validates a key set. Unknown fields are ignored; a missing or
// wrong field fails with a [*FormatError] ([ErrMalformed]) naming its JSON path
// ("keys[1].key: ...").
func ParseKeySet(data []byte) (*KeySet, error) {
	bad := func(format string, args ...any) error {
		return &FormatError{Name: KeySetFileName, Reason: fmt.Sprintf(format, args...)}
	}
	if len(data) > MaxKeySetSize {
		return nil, bad("%d bytes, limit %d", len(data), MaxKeySetSize)
	}
	var j keySetJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, bad("%v", err)
	}
	if j.Schema != KeySetSchema {
		return nil, bad("schema: %d, want %d", j.Schema, KeySetSchema)
	}
	if j.Version == 0 {
		return nil, bad("version: missing (the first key set has version 1)")
	}
	ks := &KeySet{Schema: j.Schema, Version: j.Version, RootThreshold: j.RootThreshold}
	if j.Expires != nil {
		if j.Expires.IsZero() {
			return nil, bad("expires: zero time")
		}
		ks.Expires = *j.Expires
	}
	if len(j.Roots) == 0 {
		return nil, bad("roots: missing: at least one root key is needed")
	}
	for i, r := range j.Roots {
		k, err := parsePublicKeyLine([]byte(r))
		if err != nil {
			return nil, bad("roots[%d]: %v", i, err)
		}
		if slices.ContainsFunc(ks.Roots, func(o PublicKey) bool { return o.id == k.id }) {
			return nil, bad("roots[%d]: key %s listed twice", i, k.id)
		}
		ks.Roots = append(ks.Roots, k)
	}
	if n := distinctKeys(ks.Roots); j.RootThreshold < 1 || j.RootThreshold > n {
		return nil, bad("root_threshold: %d, want 1 to %d (the number of distinct roots)", j.RootThreshold, n)
	}
	revoked := map[KeyID]bool{}
	for i, s := range j.Revoked {
		id, err := ParseKeyID(s)
		if err != nil {
			return nil, bad("revoked[%d]: %q is not a key ID (16 hex digits)", i, s)
		}
		if !revoked[id] {
			ks.Revoked = append(ks.Revoked, id)
		}
		revoked[id] = true
	}
	revokedKeys := map[[32]byte]KeyID{}
	for i, line := range j.RevokedKeys {
		k, err := parsePublicKeyLine([]byte(line))
		if err != nil {
			return nil, bad("revoked_keys[%d]: %v", i, err)
		}
		if _, dup := revokedKeys[k.key]; !dup {
			ks.RevokedKeys = append(ks.RevokedKeys, k)
			revokedKeys[k.key] = k.id
		}
	}
	seen := map[KeyID]bool{}
	for i, kj := range j.Keys {
		k, err := parsePublicKeyLine([]byte(kj.Key))
		if err != nil {
			return nil, bad("keys[%d].key: %v", i, err)
		}
		if kj.ID != "" {
			id, err := ParseKeyID(kj.ID)
			if err != nil || id != k.id {
				return nil, bad("keys[%d].id: %q, but the key's ID is %s", i, kj.ID, k.id)
			}
		}
		if seen[k.id] {
			return nil, bad("keys[%d]: key %s listed twice", i, k.id)
		}
		if revoked[k.id] {
			return nil, bad("keys[%d]: key %s is also listed as revoked", i, k.id)
		}
		if id, ok := revokedKeys[k.key]; ok {
			return nil, bad("keys[%d]: key %s is key %s, listed as revoked", i, k.id, id)
		}
		seen[k.id] = true
		vk := ValidKey{Key: k}
		if kj.NotBefore != nil {
			vk.NotBefore = *kj.NotBefore
		}
		if kj.NotAfter != nil {
			vk.NotAfter = *kj.NotAfter
		}
		if !vk.NotBefore.IsZero() && !vk.NotAfter.IsZero() && !vk.NotAfter.After(vk.NotBefore) {
			return nil, bad("keys[%d]: key %s: not_after %s is not after not_before %s", i, k.id,
				vk.NotAfter.Format(time.RFC3339), vk.NotBefore.Format(time.RFC3339))
		}
		ks.Keys = append(ks.Keys, vk)
	}
	return ks, nil
}

// Marshal returns the key set's JSON, indented, ending with a newline. It fails on a
// key set [ParseKeySet] would refuse.
func (ks *KeySet) Marshal() ([]byte, error) {
	j := keySetJSON{Schema: ks.Schema, Version: ks.Version, RootThreshold: ks.RootThreshold, Roots: []string{}, Keys: []keyJSON{}}
	if j.Schema == 0 {
		j.Schema = KeySetSchema
	}
	for _, r := range ks.Roots {
		j.Roots = append(j.Roots, r.String())
	}
	for _, k := range ks.Keys {
		kj := keyJSON{ID: k.Key.id.String(), Key: k.Key.String()}
		if !k.NotBefore.IsZero() {
			t := k.NotBefore.UTC()
			kj.NotBefore = &t
		}
		if !k.NotAfter.IsZero() {
			t := k.NotAfter.UTC()
			kj.NotAfter = &t
		}
		j.Keys = append(j.Keys, kj)
	}
	for _, id := range ks.Revoked {
		j.Revoked = append(j.Revoked, id.String())
	}
	for _, k := range ks.RevokedKeys {
		j.RevokedKeys = append(j.RevokedKeys, k.String())
	}
	if !ks.Expires.IsZero() {
		t := ks.Expires.UTC()
		j.Expires = &t
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	if _, err := ParseKeySet(b); err != nil {
		return nil, err
	}
	return b, nil
}

// TrustedComment returns the trusted comment that binds a signature of the key set
// to its file and version: "timestamp:N file=keys.json version=V".
func (ks *KeySet) TrustedComment(t time.Time) string {
	return "timestamp:" + strconv.FormatInt(t.Unix(), 10) + " file=" + KeySetFileName + " version=" + strconv.FormatUint(ks.Version, 10)
}

// distinctKeys returns the number of distinct public-key bytes among keys.
func distinctKeys(keys []PublicKey) int {
	seen := make(map[[32]byte]bool, len(keys))
	for _, k := range keys {
		seen[k.key] = true
	}
	return len(seen)
}

// SameKey reports whether a and b are the same key: the same public-key bytes,
// whatever their IDs.
func SameKey(a, b PublicKey) bool { return a.key == b.key }

// RootKeyring returns a keyring of the key set's roots with its root threshold: the
// roots a verifier pins once it accepted the key set.
func (ks *KeySet) RootKeyring() (*Keyring, error) {
	return NewKeyring(ks.Roots, WithThreshold(ks.RootThreshold))
}

// SameRoots reports whether kr holds exactly the key set's roots, with its threshold.
func (ks *KeySet) SameRoots(kr *Keyring) bool {
	if kr.Threshold() != ks.RootThreshold || len(kr.keys) != len(ks.Roots) {
		return false
	}
	for _, r := range ks.Roots {
		if k, ok := kr.keys[r.id]; !ok || k != r {
			return false
		}
	}
	return true
}

// Key returns the signing key of ID id, and whether the key set lists it.
func (ks *KeySet) Key(id KeyID) (ValidKey, bool) {
	for _, k := range ks.Keys {
		if k.Key.id == id {
			return k, true
		}
	}
	return ValidKey{}, false
}

// RevokedSince returns the key IDs that are revoked once ks replaces prev (nil for
// none accepted yet): those ks lists as revoked, those prev listed as revoked, and
// the signing keys of prev that ks no longer lists. Sorted, without duplicates.
func (ks *KeySet) RevokedSince(prev *KeySet) []KeyID {
	set := map[KeyID]bool{}
	for _, id := range ks.Revoked {
		set[id] = true
	}
	if prev != nil {
		for _, id := range prev.Revoked {
			set[id] = true
		}
		for _, k := range prev.Keys {
			if _, ok := ks.Key(k.Key.id); !ok {
				set[k.Key.id] = true
			}
		}
	}
	out := make([]KeyID, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// KeySetError is a signing keyring that cannot be built from a key set at a time:
// every key listed is revoked or outside its validity. It matches [ErrKeyExpired]
// when a key was left out for its validity, and [ErrKeyRevoked] when one was revoked.
type KeySetError struct {
	Version   uint64
	Threshold int
	Valid     int        // keys left
	Expired   []ValidKey // keys left out for their validity
	Revoked   []KeyID    // keys left out as revoked
}

// Error names the key set's version and each key left out, and why.
func (e *KeySetError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "signature: %s version %d: %d usable signing key(s), %d required", KeySetFileName, e.Version, e.Valid, e.Threshold)
	for _, k := range e.Expired {
		fmt.Fprintf(&b, "; key %s is valid %s", k.Key.id, validity(k))
	}
	for _, id := range e.Revoked {
		fmt.Fprintf(&b, "; key %s is revoked", id)
	}
	return b.String()
}

// Unwrap returns [ErrKeyExpired] and [ErrKeyRevoked] when they apply.
func (e *KeySetError) Unwrap() []error {
	var errs []error
	if len(e.Expired) > 0 {
		errs = append(errs, ErrKeyExpired)
	}
	if len(e.Revoked) > 0 {
		errs = append(errs, ErrKeyRevoked)
	}
	return errs
}

// validity describes a key's validity for messages: "from T", "until T", "from T until T".
func validity(k ValidKey) string {
	var parts []string
	if !k.NotBefore.IsZero() {
		parts = append(parts, "from "+k.NotBefore.UTC().Format(time.RFC3339))
	}
	if !k.NotAfter.IsZero() {
		parts = append(parts, "until "+k.NotAfter.UTC().Format(time.RFC3339))
	}
	if len(parts) == 0 {
		return "always"
	}
	return strings.Join(parts, " ")
}

// Signing returns the keyring of the signing keys usable at now: those the key set
// lists, valid at now, and not in revoked (the IDs a verifier has recorded as removed
// over time). opts are the keyring's options (its threshold). When fewer keys than
// the threshold are left, it fails with a [*KeySetError]. Expired returns the keys
// left out for their validity, so that a caller can tell a file signed by an expired
// key ([ErrKeyExpired]) from one signed by an unknown key.
func (ks *KeySet) Signing(now time.Time, revoked []KeyID, opts ...Option) (*Keyring, error) {
	var o options
	o.threshold = 1
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	e := &KeySetError{Version: ks.Version, Threshold: o.threshold}
	var keys []PublicKey
	for _, k := range ks.Keys {
		switch {
		case slices.Contains(revoked, k.Key.id):
			e.Revoked = append(e.Revoked, k.Key.id)
		case !k.ValidAt(now):
			e.Expired = append(e.Expired, k)
		default:
			keys = append(keys, k.Key)
		}
	}
	e.Valid = len(keys)
	if len(keys) < o.threshold || len(keys) == 0 {
		return nil, e
	}
	return NewKeyring(keys, opts...)
}

// Expired returns the keys of ks that are not revoked but are outside their validity
// at now.
func (ks *KeySet) Expired(now time.Time, revoked []KeyID) []ValidKey {
	var out []ValidKey
	for _, k := range ks.Keys {
		if !slices.Contains(revoked, k.Key.id) && !k.ValidAt(now) {
			out = append(out, k)
		}
	}
	return out
}

// VerifyKeySet parses the key set data and verifies its signature file sig with
// roots, the root keys the verifier pins and their threshold: at least that many
// distinct roots must have signed. When the key set names other roots or another root
// threshold (a root rotation), its own roots must have signed it too, to their
// threshold: the old roots vouch for the new ones, and the new ones prove they are
// held. Every verified signature's trusted comment must bind "file=keys.json
// version=V". The caller then pins the key set's roots ([KeySet.RootKeyring]) and
// refuses a later key set of a lower version.
func VerifyKeySet(data, sig []byte, roots *Keyring) (*KeySet, error) {
	ks, err := ParseKeySet(data)
	if err != nil {
		return nil, err
	}
	check := func(kr *Keyring, name string) error {
		v, err := kr.Verify(name, sig, bytes.NewReader(data))
		if err != nil {
			return err
		}
		return checkKeySetBinding(v, ks.Version)
	}
	if err := check(roots, KeySetFileName); err != nil {
		return nil, err
	}
	if !ks.SameRoots(roots) {
		next, err := ks.RootKeyring()
		if err != nil {
			return nil, &FormatError{Name: KeySetFileName, Reason: err.Error()}
		}
		if err := check(next, KeySetFileName+" (new roots)"); err != nil {
			return nil, err
		}
	}
	return ks, nil
}

// checkKeySetBinding checks that every signer's trusted comment names file=keys.json
// and version=V.
func checkKeySetBinding(v *Verified, version uint64) error {
	want := []bindingField{{"file", KeySetFileName}, {"version", strconv.FormatUint(version, 10)}}
	for _, s := range v.Signers {
		got := map[string]string{}
		for _, word := range strings.FieldsFunc(s.TrustedComment, func(r rune) bool { return r == ' ' || r == '\t' }) {
			key, value, ok := strings.Cut(word, "=")
			if !ok || (key != "file" && key != "version") {
				continue
			}
			if _, dup := got[key]; dup {
				return &BindingError{Name: KeySetFileName, KeyID: s.KeyID, Got: fmt.Sprintf("trusted comment %q gives %s= twice", s.TrustedComment, key)}
			}
			got[key] = value
		}
		for _, w := range want {
			g, ok := got[w.name]
			if !ok {
				return &BindingError{Name: KeySetFileName, KeyID: s.KeyID, Got: fmt.Sprintf("trusted comment %q has no %s= (want %s=%s)", s.TrustedComment, w.name, w.name, w.value)}
			}
			if g != w.value {
				return &BindingError{Name: KeySetFileName, KeyID: s.KeyID, Field: w.name, Want: w.value, Got: g}
			}
		}
	}
	return nil
}
