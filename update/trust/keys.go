package trust

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/signature"
)

// Keys are the signing keys in force and how many of them must sign: keys pinned in
// a configuration ([Pinned]), or the signing keys of the key set a [KeyChain]
// accepted ([KeyChain.Signing]). A key is its public-key bytes: listed under two IDs
// it counts once, and revoked under one ID it is revoked under all.
type Keys struct {
	ring *signature.Keyring
	// With a key set: its version, and the keys it lists that are not in ring, to
	// tell a file signed by an expired or revoked key from one signed by a stranger.
	version uint64
	expired []signature.ValidKey
	revoked []signature.PublicKey
}

// Pinned returns the keys of kr, with its threshold.
func Pinned(kr *signature.Keyring) *Keys { return &Keys{ring: kr} }

// Keyring returns the keyring that verifies: the keys in force and the threshold.
func (k *Keys) Keyring() *signature.Keyring { return k.ring }

// verify verifies data against sig with the keys in force, as the file name. When it
// fails and a key listed but expired (or revoked) signed it, the refusal says so:
// code expired (matching signature.ErrKeyExpired), or bad_signature matching
// signature.ErrKeyRevoked.
func (k *Keys) verify(name string, sig, data []byte) (*signature.Verified, error) {
	v, err := k.ring.Verify(name, sig, bytes.NewReader(data))
	if err == nil {
		return v, nil
	}
	if x := k.explain(name, sig, data); x != nil {
		return nil, x
	}
	return nil, refuse(CodeBadSignature, name, fmt.Errorf("%s: %w", name, err))
}

// explain returns the refusal of a file that one of the keys set aside signed, or nil.
func (k *Keys) explain(name string, sig, data []byte) error {
	for _, e := range k.expired {
		if signedBy(e.Key, name, sig, data) {
			return refuse(CodeExpired, name, fmt.Errorf("%s is signed by key %s, outside its validity (%s version %d gives it %s): %w",
				name, e.Key.ID(), signature.KeySetFileName, k.version, validity(e), signature.ErrKeyExpired))
		}
	}
	for _, r := range k.revoked {
		if signedBy(r, name, sig, data) {
			return refuse(CodeBadSignature, name, fmt.Errorf("%s is signed by key %s, which a %s accepted before revoked: it is never trusted again, under any ID: %w",
				name, r.ID(), signature.KeySetFileName, signature.ErrKeyRevoked))
		}
	}
	return nil
}

func signedBy(key signature.PublicKey, name string, sig, data []byte) bool {
	kr, err := signature.NewKeyring([]signature.PublicKey{key})
	if err != nil {
		return false
	}
	_, err = kr.Verify(name, sig, bytes.NewReader(data))
	return err == nil
}

func validity(k signature.ValidKey) string {
	var parts []string
	if !k.NotBefore.IsZero() {
		parts = append(parts, "from "+k.NotBefore.UTC().Format(time.RFC3339))
	}
	if !k.NotAfter.IsZero() {
		parts = append(parts, "until "+k.NotAfter.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, " ")
}

// KeyChain is what a verifier keeps of the key sets (keys.json) it accepted, between
// runs: the caller stores it (the engine in its state dir) and hands it back. The zero
// value holds nothing; Roots must be set, to the root keys pinned in the
// configuration, before the first [KeyChain.Accept].
type KeyChain struct {
	// Roots are the root keys in force and their threshold: the configured ones
	// until an accepted key set rotates them.
	Roots *signature.Keyring
	// Accepted is the keys.json accepted last, nil before the first.
	Accepted []byte
	// Revoked are the signing keys removed by any key set accepted, by their
	// public-key bytes: they are never trusted again, under any ID.
	Revoked []signature.PublicKey
	// RevokedIDs are key IDs revoked whose key was never seen (a key set revoked it
	// before this verifier accepted one listing it): refused under that ID.
	RevokedIDs []signature.KeyID
}

// current returns the key set accepted last, nil before the first.
func (c KeyChain) current() (*signature.KeySet, error) {
	if len(c.Accepted) == 0 {
		return nil, nil
	}
	ks, err := signature.ParseKeySet(c.Accepted)
	if err != nil {
		return nil, fmt.Errorf("the %s accepted before: %w", signature.KeySetFileName, err)
	}
	return ks, nil
}

// Accept decides whether the key set data, with its signature file sig, follows the
// chain at now, and returns the chain that accepting it makes (c itself is left as
// it was). It is accepted when:
//   - it parses, and the roots in force sign it to their threshold (and, when it
//     names other roots or another root threshold, its own roots sign it to theirs:
//     a root rotation), every signature binding "file=keys.json version=V";
//   - its version is not below the one accepted before, nor equal with other bytes
//     (code replay);
//   - it has not expired (code expired). A key set without "expires" (one published
//     before key sets carried an expiry) is accepted only while the key set accepted
//     before had none either: once a verifier has seen an expiring key set, a key
//     set that never expires is refused (code expired). A zero now skips the expiry:
//     for a key set the caller reads back from its own storage.
//
// The chain accepted then revokes, by their public-key bytes, the signing keys the
// previous key set listed and this one does not, and those this one revokes.
func (c KeyChain) Accept(data, sig []byte, now time.Time) (KeyChain, error) {
	const name = signature.KeySetFileName
	if c.Roots == nil {
		return c, refuse(CodeBadSignature, name, fmt.Errorf("%s: no root key is pinned", name))
	}
	prev, err := c.current()
	if err != nil {
		return c, refuse(CodeBadSignature, name, err)
	}
	ks, err := signature.VerifyKeySet(data, sig, c.Roots)
	if err != nil {
		return c, refuse(CodeBadSignature, name, fmt.Errorf("%s (verified with the root keys %s): %w", name, trustedList(c.Roots), err))
	}
	if prev != nil {
		switch {
		case ks.Version < prev.Version:
			return c, refuse(CodeReplay, name, fmt.Errorf("%s has version %d, lower than version %d already accepted: refusing an older key set", name, ks.Version, prev.Version))
		case ks.Version == prev.Version && sha256.Sum256(data) != sha256.Sum256(c.Accepted):
			return c, refuse(CodeReplay, name, fmt.Errorf("%s has version %d, already accepted with different content", name, ks.Version))
		case ks.Expires.IsZero() && !prev.Expires.IsZero():
			return c, refuse(CodeExpired, name, fmt.Errorf("%s version %d has no expiry, and version %d accepted before had one: refusing a key set that would never expire", name, ks.Version, prev.Version))
		}
	}
	if !now.IsZero() && !ks.Expires.IsZero() && !now.Before(ks.Expires) {
		return c, refuse(CodeExpired, name, fmt.Errorf("%s version %d expired at %s; the publisher must publish a new one (upkeep keys publish)", name, ks.Version, ks.Expires.UTC().Format(time.RFC3339)))
	}
	next := KeyChain{Roots: c.Roots, Accepted: slices.Clone(data), Revoked: slices.Clone(c.Revoked), RevokedIDs: slices.Clone(c.RevokedIDs)}
	if !ks.SameRoots(c.Roots) {
		if next.Roots, err = ks.RootKeyring(); err != nil {
			return c, refuse(CodeBadSignature, name, fmt.Errorf("%s: roots: %w", name, err))
		}
	}
	revokeKey := func(k signature.PublicKey) {
		if !slices.ContainsFunc(next.Revoked, func(o signature.PublicKey) bool { return signature.SameKey(o, k) }) {
			next.Revoked = append(next.Revoked, k)
		}
	}
	for _, k := range ks.RevokedKeys {
		revokeKey(k)
	}
	if prev != nil {
		for _, k := range prev.Keys {
			listed := slices.ContainsFunc(ks.Keys, func(o signature.ValidKey) bool { return signature.SameKey(o.Key, k.Key) })
			if !listed || slices.Contains(ks.Revoked, k.Key.ID()) {
				revokeKey(k.Key)
			}
		}
	}
	for _, id := range ks.Revoked {
		if !slices.Contains(next.RevokedIDs, id) {
			next.RevokedIDs = append(next.RevokedIDs, id)
		}
	}
	// An ID whose key is known is revoked through the key.
	next.RevokedIDs = slices.DeleteFunc(next.RevokedIDs, func(id signature.KeyID) bool {
		return slices.ContainsFunc(next.Revoked, func(k signature.PublicKey) bool { return k.ID() == id })
	})
	slices.SortFunc(next.Revoked, func(a, b signature.PublicKey) int { return strings.Compare(a.String(), b.String()) })
	slices.Sort(next.RevokedIDs)
	return next, nil
}

// Signing returns the signing keys in force at now: those the accepted key set lists
// that are valid at now and not revoked (by their bytes, or by an ID revoked whose key
// was never seen), threshold of which must sign. It refuses, with code expired, a key
// set expired at now, and fails when fewer than threshold distinct keys are left
// (code expired when keys were left out for their validity, with a
// [*signature.KeySetError]).
func (c KeyChain) Signing(now time.Time, threshold int) (*Keys, error) {
	const name = signature.KeySetFileName
	ks, err := c.current()
	if err != nil {
		return nil, refuse(CodeBadSignature, name, err)
	}
	if ks == nil {
		return nil, refuse(CodeBadSignature, name, fmt.Errorf("no %s was accepted yet: the signing keys come from it", name))
	}
	if !ks.Expires.IsZero() && !now.Before(ks.Expires) {
		return nil, refuse(CodeExpired, name, fmt.Errorf("%s version %d expired at %s; the publisher must publish a new one (upkeep keys publish)", name, ks.Version, ks.Expires.UTC().Format(time.RFC3339)))
	}
	threshold = max(threshold, 1)
	k := &Keys{version: ks.Version}
	kerr := &signature.KeySetError{Version: ks.Version, Threshold: threshold}
	var usable []signature.PublicKey
	for _, vk := range ks.Keys {
		switch {
		case c.revoked(vk.Key):
			k.revoked = append(k.revoked, vk.Key)
			kerr.Revoked = append(kerr.Revoked, vk.Key.ID())
		case !vk.ValidAt(now):
			k.expired = append(k.expired, vk)
			kerr.Expired = append(kerr.Expired, vk)
		default:
			usable = append(usable, vk.Key)
		}
	}
	kerr.Valid = distinct(usable)
	if kerr.Valid < threshold {
		code := CodeBadSignature
		if errors.Is(kerr, signature.ErrKeyExpired) {
			code = CodeExpired
		}
		return nil, refuse(code, name, kerr)
	}
	if k.ring, err = signature.NewKeyring(usable, signature.WithThreshold(threshold)); err != nil {
		return nil, refuse(CodeBadSignature, name, fmt.Errorf("%s version %d: %w", name, ks.Version, err))
	}
	return k, nil
}

// revoked reports whether key was revoked, by its bytes or by its ID.
func (c KeyChain) revoked(key signature.PublicKey) bool {
	return slices.Contains(c.RevokedIDs, key.ID()) ||
		slices.ContainsFunc(c.Revoked, func(o signature.PublicKey) bool { return signature.SameKey(o, key) || o.ID() == key.ID() })
}

func distinct(keys []signature.PublicKey) int {
	n := 0
	for i, k := range keys {
		if !slices.ContainsFunc(keys[:i], func(o signature.PublicKey) bool { return signature.SameKey(o, k) }) {
			n++
		}
	}
	return n
}

// trustedList names a keyring's keys for messages: "ID, ID (2 required)".
func trustedList(kr *signature.Keyring) string {
	var b strings.Builder
	for i, k := range kr.Trusted() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.String())
	}
	fmt.Fprintf(&b, " (%d required)", kr.Threshold())
	return b.String()
}
