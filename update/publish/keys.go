package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
	"github.com/upkeep-go/upkeep/internal/limited"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/trust"
)

// KeysChange is what [PublishKeys] changes in a repository's key set.
type KeysChange struct {
	// Add lists signing keys to add, each with its validity. A key the key set
	// revoked cannot be added again: make a new key.
	Add []signature.ValidKey
	// Remove lists signing keys to remove: agents never trust them again.
	Remove []signature.KeyID
	// AddRoots lists root keys to add. The key set must then be signed by the old
	// roots' threshold and by the new roots' threshold.
	AddRoots []signature.PublicKey
	// RemoveRoots lists root keys to remove (a root rotation too).
	RemoveRoots []signature.KeyID
	// RootThreshold, when not 0, sets the number of distinct roots that must sign.
	// Default: unchanged, 1 for a new key set.
	RootThreshold int
	// Expires is the time from which agents refuse the key set. Default (zero):
	// [DefaultKeysExpires] after the clock's now. Every publication sets it again.
	Expires time.Time
}

// DefaultKeysExpires is how long a key set published without an expiry is valid.
const DefaultKeysExpires = 365 * 24 * time.Hour

// PublishKeys writes the repository's keys.json with the change applied and its
// version one above the current one (1 for a new key set), and keys.json.minisig
// signed by each of roots, under the repository's lock ([LockFileName]). The
// signatures must satisfy the key set's root threshold and, when the roots change,
// the current roots' threshold too, as agents check them (update/trust); otherwise
// nothing is written. The key set expires at ch.Expires (one year by default). A new key set's roots are the public halves of roots
// plus AddRoots.
//
// The signature is replaced so that an agent reading the repository meanwhile always
// finds a key set its signature file verifies: the new signature blocks are written
// with the old ones, then keys.json, then the new blocks alone.
//
// Options: [WithLockTimeout], [WithLogger], [WithClock] (the trusted comment's
// timestamp). Errors name the repository ("publish keys DIR: ...").
func PublishKeys(ctx context.Context, repo string, roots []signature.PrivateKey, ch KeysChange, opts ...Option) (ks *signature.KeySet, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("publish keys %s: %w", repo, err)
		}
	}()
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if len(roots) == 0 {
		return nil, errors.New("no root secret key given: the key set is signed by root keys")
	}
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return nil, err
	}
	lock, err := lockRepo(ctx, repo, o.lockFor, o.logger)
	if err != nil {
		return nil, err
	}
	defer lock.unlock()

	dataPath := filepath.Join(repo, signature.KeySetFileName)
	var prev *signature.KeySet
	old, err := limited.ReadFile(dataPath, signature.MaxKeySetSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if prev, err = signature.ParseKeySet(old); err != nil {
			return nil, err
		}
	}
	if ch.Expires.IsZero() {
		ch.Expires = o.now().Add(DefaultKeysExpires)
	}
	if !ch.Expires.After(o.now()) {
		return nil, fmt.Errorf("expiry %s is not in the future", ch.Expires.UTC().Format(time.RFC3339))
	}
	ks, err = applyKeysChange(prev, roots, ch)
	if err != nil {
		return nil, err
	}
	data, err := ks.Marshal()
	if err != nil {
		return nil, err
	}
	var sig []byte
	for _, r := range roots {
		blk, err := signature.Sign(r, bytes.NewReader(data), ks.TrustedComment(o.now()))
		if err != nil {
			return nil, err
		}
		if sig, err = signature.AppendSignature(signature.KeySetSignatureFileName, sig, blk); err != nil {
			return nil, err
		}
	}
	// Check as an agent will (update/trust): with the current roots (or, for a new
	// key set, its own), after the key set it replaces.
	pinned := prev
	if pinned == nil {
		pinned = ks
	}
	kr, err := pinned.RootKeyring()
	if err != nil {
		return nil, err
	}
	chain := trust.KeyChain{Roots: kr}
	if prev != nil {
		chain.Accepted = old
	}
	if _, err := chain.Accept(data, sig, o.now()); err != nil {
		return nil, fmt.Errorf("the root keys given do not sign the new key set as agents require (give a --root-sec for enough of the current roots and, when the roots change, of the new ones): %w", err)
	}
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	if err := WriteSigned(repo, signature.KeySetFileName, data, sig); err != nil {
		return nil, err
	}
	return ks, nil
}

// applyKeysChange returns the key set that follows prev (nil: none yet) with ch.
func applyKeysChange(prev *signature.KeySet, roots []signature.PrivateKey, ch KeysChange) (*signature.KeySet, error) {
	ks := &signature.KeySet{Schema: signature.KeySetSchema, Version: 1, RootThreshold: 1, Expires: ch.Expires.UTC().Truncate(time.Second)}
	if prev != nil {
		ks.Version = prev.Version + 1
		ks.Roots = slices.Clone(prev.Roots)
		ks.RootThreshold = prev.RootThreshold
		ks.Keys = slices.Clone(prev.Keys)
		ks.Revoked = slices.Clone(prev.Revoked)
		ks.RevokedKeys = slices.Clone(prev.RevokedKeys)
	} else {
		for _, r := range roots {
			if !slices.Contains(ks.Roots, r.Public()) {
				ks.Roots = append(ks.Roots, r.Public())
			}
		}
	}
	for _, id := range ch.RemoveRoots {
		i := slices.IndexFunc(ks.Roots, func(k signature.PublicKey) bool { return k.ID() == id })
		if i < 0 {
			return nil, fmt.Errorf("root key %s is not a root of the key set", id)
		}
		ks.Roots = slices.Delete(ks.Roots, i, i+1)
	}
	for _, k := range ch.AddRoots {
		if i := slices.IndexFunc(ks.Roots, func(o signature.PublicKey) bool { return o.ID() == k.ID() || signature.SameKey(o, k) }); i >= 0 {
			if prev == nil && ks.Roots[i] == k {
				continue
			}
			if ks.Roots[i].ID() != k.ID() {
				return nil, fmt.Errorf("root key %s is root key %s, already in the key set, under another ID", k.ID(), ks.Roots[i].ID())
			}
			return nil, fmt.Errorf("root key %s is already a root of the key set", k.ID())
		}
		ks.Roots = append(ks.Roots, k)
	}
	if ch.RootThreshold != 0 {
		ks.RootThreshold = ch.RootThreshold
	}
	if len(ks.Roots) == 0 {
		return nil, errors.New("the key set would have no root key left")
	}
	if ks.RootThreshold < 1 || ks.RootThreshold > len(ks.Roots) {
		return nil, fmt.Errorf("root threshold %d: want 1 to %d (the number of roots)", ks.RootThreshold, len(ks.Roots))
	}
	for _, id := range ch.Remove {
		i := slices.IndexFunc(ks.Keys, func(k signature.ValidKey) bool { return k.Key.ID() == id })
		if i < 0 {
			return nil, fmt.Errorf("signing key %s is not in the key set (version %d)", id, ks.Version-1)
		}
		ks.RevokedKeys = append(ks.RevokedKeys, ks.Keys[i].Key)
		ks.Keys = slices.Delete(ks.Keys, i, i+1)
		ks.Revoked = append(ks.Revoked, id)
	}
	for _, k := range ch.Add {
		id := k.Key.ID()
		if slices.Contains(ks.Revoked, id) {
			return nil, fmt.Errorf("signing key %s was revoked: a revoked key is never trusted again, make a new key", id)
		}
		if i := slices.IndexFunc(ks.RevokedKeys, func(o signature.PublicKey) bool { return signature.SameKey(o, k.Key) }); i >= 0 {
			return nil, fmt.Errorf("signing key %s is key %s under another ID, which was revoked: a revoked key is never trusted again, make a new key", id, ks.RevokedKeys[i].ID())
		}
		if _, ok := ks.Key(id); ok {
			return nil, fmt.Errorf("signing key %s is already in the key set", id)
		}
		if i := slices.IndexFunc(ks.Keys, func(o signature.ValidKey) bool { return signature.SameKey(o.Key, k.Key) }); i >= 0 {
			return nil, fmt.Errorf("signing key %s is key %s, already in the key set, under another ID: a key is its public-key bytes", id, ks.Keys[i].Key.ID())
		}
		if slices.ContainsFunc(ks.Roots, func(r signature.PublicKey) bool { return r.ID() == id || signature.SameKey(r, k.Key) }) {
			return nil, fmt.Errorf("key %s is a root key: keep root keys for signing keys.json only", id)
		}
		ks.Keys = append(ks.Keys, k)
	}
	return ks, nil
}

// WriteSigned puts dir/name and dir/name.minisig in place so that a reader fetching
// the file and then its signature, at any moment, finds a pair that verifies: first
// the new signature blocks followed by the old ones, then the file, then the new
// blocks alone (a verifier counts the blocks that verify and ignores the others).
// Each write is atomic (temporary file, fsync, rename).
func WriteSigned(dir, name string, data, sig []byte) error {
	dataPath := filepath.Join(dir, filepath.FromSlash(name))
	sigPath := dataPath + ".minisig"
	old, err := limited.ReadFile(sigPath, signature.MaxSignatureFileSize)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	both := append(append(bytes.TrimRight(slices.Clone(sig), "\n"), '\n'), old...)
	if len(old) > 0 && len(both) <= signature.MaxSignatureFileSize && bytes.Count(both, []byte("untrusted comment:")) <= signature.MaxSignatureBlocks {
		if err := atomicfile.WriteFile(sigPath, both, 0o644); err != nil {
			return err
		}
	}
	if err := atomicfile.WriteFile(dataPath, data, 0o644); err != nil {
		return err
	}
	return atomicfile.WriteFile(sigPath, sig, 0o644)
}
