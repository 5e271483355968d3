package update_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
)

// keysEnv is a repository with a keys.json and an agent configuration that pins the
// root keys instead of trusting signing keys.
type keysEnv struct {
	*trustEnv
	roots []pubKey
}

func newKeysEnv(t *testing.T, roots ...pubKey) *keysEnv {
	t.Helper()
	e := newTrustEnv(t, roots[0])
	e.cfg.Keys = nil
	for _, r := range roots {
		e.cfg.RootKeys = append(e.cfg.RootKeys, r.pub)
	}
	return &keysEnv{trustEnv: e, roots: roots}
}

// keySet returns a key set of version v with the roots rs (threshold th) listing the
// signing keys.
func keySet(v uint64, rs []pubKey, th int, keys ...signature.ValidKey) *signature.KeySet {
	ks := &signature.KeySet{Version: v, RootThreshold: th, Keys: keys}
	for _, r := range rs {
		ks.Roots = append(ks.Roots, r.sec.Public())
	}
	return ks
}

func valid(k pubKey) signature.ValidKey { return signature.ValidKey{Key: k.sec.Public()} }

// writeKeys writes ks into dir as keys.json, signed by each of signers.
func writeKeys(t *testing.T, dir string, ks *signature.KeySet, signers ...pubKey) {
	t.Helper()
	data, err := ks.Marshal()
	require.NoError(t, err)
	var sig []byte
	for _, s := range signers {
		blk, err := signature.Sign(s.sec, bytes.NewReader(data), ks.TrustedComment(time.Now()))
		require.NoError(t, err)
		sig, err = signature.AppendSignature(signature.KeySetSignatureFileName, sig, blk)
		require.NoError(t, err)
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, signature.KeySetFileName), data, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, signature.KeySetSignatureFileName), sig, 0o644))
}

// keysSnapshot returns the state files a check writes, keys included.
func keysSnapshot(t *testing.T, stateDir string) map[string]string {
	out := stateSnapshot(t, stateDir)
	if b, err := os.ReadFile(filepath.Join(stateDir, "keys", "state.json")); err == nil {
		out["keys"] = string(b)
	}
	return out
}

func requireCode(t *testing.T, want update.Code, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, want, update.CodeOf(err), "%v", err)
}

// TestKeysRotation: a new signing key is added, then the old one removed; from then on
// a manifest signed by the old key is refused, even when the repository serves the
// older key set that listed it again (a replay), or a later one that lists it by
// mistake: a key once removed is never trusted again.
func TestKeysRotation(t *testing.T) {
	t.Parallel()
	root, a, b := newKey(t), newKey(t), newKey(t)
	e := newKeysEnv(t, root)
	m := testManifest("shop", 1, "1.0.0")
	writeKeys(t, e.repo, keySet(1, e.roots, 1, valid(a)), root)
	writeManifest(t, e.repo, m, a, "")
	_, err := e.check(t)
	require.NoError(t, err)

	// Rotation: version 2 lists both, the publisher signs with the new key.
	writeKeys(t, e.repo, keySet(2, e.roots, 1, valid(a), valid(b)), root)
	m = testManifest("shop", 2, "1.1.0")
	writeManifest(t, e.repo, m, b, "")
	_, err = e.check(t)
	require.NoError(t, err)

	// Version 3 removes the old key: the same manifest signed by it is refused.
	writeKeys(t, e.repo, keySet(3, e.roots, 1, valid(b)), root)
	m = testManifest("shop", 3, "1.2.0")
	writeManifest(t, e.repo, m, a, "")
	_, err = e.check(t)
	requireCode(t, update.CodeBadSignature, err)
	require.ErrorContains(t, err, a.sec.ID().String())

	// The key set was accepted although the manifest was not: version 2 is now a replay.
	writeKeys(t, e.repo, keySet(2, e.roots, 1, valid(a), valid(b)), root)
	before := keysSnapshot(t, e.cfg.StateDir)
	_, err = e.check(t)
	requireCode(t, update.CodeReplay, err)
	require.ErrorContains(t, err, "keys.json has version 2, lower than version 3")
	require.Equal(t, before, keysSnapshot(t, e.cfg.StateDir), "a refused key set writes nothing")

	// A later key set that lists the removed key again does not bring it back.
	writeKeys(t, e.repo, keySet(4, e.roots, 1, valid(a), valid(b)), root)
	_, err = e.check(t)
	requireCode(t, update.CodeBadSignature, err)
	writeManifest(t, e.repo, m, b, "")
	rep, err := e.check(t)
	require.NoError(t, err)
	require.Equal(t, "1.2.0", rep.Modules[0].Version)
}

// TestKeysRevocationNotModified: the key set did not change on the source (a
// conditional request finds it not modified) but the manifest was re-signed by a key
// it removed; the cached key set still decides, and a tampered cache is not trusted
// over the signature served now.
func TestKeysRevocationNotModified(t *testing.T) {
	t.Parallel()
	root, a, b := newKey(t), newKey(t), newKey(t)
	e := newKeysEnv(t, root)
	m := testManifest("shop", 1, "1.0.0")
	writeKeys(t, e.repo, keySet(1, e.roots, 1, valid(b), signature.ValidKey{Key: a.sec.Public()}), root)
	writeManifest(t, e.repo, m, b, "")
	_, err := e.check(t)
	require.NoError(t, err)
	writeKeys(t, e.repo, &signature.KeySet{Version: 2, Roots: []signature.PublicKey{root.sec.Public()}, RootThreshold: 1,
		Keys: []signature.ValidKey{valid(b)}, Revoked: []signature.KeyID{a.sec.ID()}}, root)
	_, err = e.check(t)
	require.NoError(t, err)
	signManifest(t, e.repo, a, "", m)
	_, err = e.check(t)
	requireCode(t, update.CodeBadSignature, err)
	_, err = e.check(t)
	requireCode(t, update.CodeBadSignature, err)
}

// TestKeysRootRotation: a key set naming new root keys is accepted only when signed by
// the old roots' threshold and the new roots' threshold; then the new roots are pinned
// and the old ones alone sign nothing.
func TestKeysRootRotation(t *testing.T) {
	t.Parallel()
	r1, r2, n1, n2, a := newKey(t), newKey(t), newKey(t), newKey(t), newKey(t)
	e := newKeysEnv(t, r1, r2)
	e.cfg.RootThreshold = 2
	old, next := []pubKey{r1, r2}, []pubKey{n1, n2}
	m := testManifest("shop", 1, "1.0.0")
	writeKeys(t, e.repo, keySet(1, old, 2, valid(a)), r1, r2)
	writeManifest(t, e.repo, m, a, "")
	_, err := e.check(t)
	require.NoError(t, err)

	// One root of two is below the threshold.
	writeKeys(t, e.repo, keySet(2, old, 2, valid(a)), r1)
	_, err = e.check(t)
	requireCode(t, update.CodeBadSignature, err)

	for _, tc := range []struct {
		name    string
		signers []pubKey
	}{
		{"old roots only", []pubKey{r1, r2}},
		{"new roots only", []pubKey{n1, n2}},
		{"old threshold and one new root", []pubKey{r1, r2, n1}},
		{"one old root and the new threshold", []pubKey{r1, n1, n2}},
	} {
		writeKeys(t, e.repo, keySet(2, next, 2, valid(a)), tc.signers...)
		before := keysSnapshot(t, e.cfg.StateDir)
		_, err = e.check(t)
		requireCode(t, update.CodeBadSignature, err)
		require.Equal(t, before, keysSnapshot(t, e.cfg.StateDir), tc.name)
	}
	writeKeys(t, e.repo, keySet(2, next, 2, valid(a)), r1, r2, n1, n2)
	_, err = e.check(t)
	require.NoError(t, err)

	// From now on the new roots sign alone, and the old ones are not enough.
	writeKeys(t, e.repo, keySet(3, next, 2, valid(a)), r1, r2)
	_, err = e.check(t)
	requireCode(t, update.CodeBadSignature, err)
	writeKeys(t, e.repo, keySet(3, next, 2, valid(a)), n1, n2)
	_, err = e.check(t)
	require.NoError(t, err)

	// An operator who re-pins roots in the configuration by hand starts again from them.
	e.cfg.RootKeys = []string{n1.pub}
	e.cfg.RootThreshold = 1
	writeKeys(t, e.repo, keySet(1, []pubKey{n1}, 1, valid(a)), n1)
	_, err = e.check(t)
	require.NoError(t, err)
}

// TestKeysExpired: a manifest signed by a key outside its validity is refused with
// code expired, naming the key; a key set whose every key expired too.
func TestKeysExpired(t *testing.T) {
	t.Parallel()
	root, a, b := newKey(t), newKey(t), newKey(t)
	e := newKeysEnv(t, root)
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	m := testManifest("shop", 1, "1.0.0")
	writeKeys(t, e.repo, keySet(1, e.roots, 1, signature.ValidKey{Key: a.sec.Public(), NotAfter: past}, valid(b)), root)
	writeManifest(t, e.repo, m, a, "")
	_, err := e.check(t)
	requireCode(t, update.CodeExpired, err)
	require.ErrorIs(t, err, signature.ErrKeyExpired)
	require.ErrorContains(t, err, "signed by key "+a.sec.ID().String()+", outside its validity")

	writeKeys(t, e.repo, keySet(2, e.roots, 1, signature.ValidKey{Key: a.sec.Public(), NotAfter: past}, signature.ValidKey{Key: b.sec.Public(), NotAfter: past}), root)
	_, err = e.check(t)
	requireCode(t, update.CodeExpired, err)

	// A key not valid yet is not trusted either.
	writeKeys(t, e.repo, keySet(3, e.roots, 1, signature.ValidKey{Key: a.sec.Public(), NotBefore: time.Now().Add(time.Hour)}, valid(b)), root)
	_, err = e.check(t)
	requireCode(t, update.CodeExpired, err)
	writeManifest(t, e.repo, m, b, "")
	_, err = e.check(t)
	require.NoError(t, err)
}

// TestKeysConfig: keys and root_keys exclude each other; a repository without
// keys.json is refused when root keys are pinned; the root threshold is checked.
func TestKeysConfig(t *testing.T) {
	t.Parallel()
	root, a := newKey(t), newKey(t)
	e := newKeysEnv(t, root)
	cfg := e.cfg
	cfg.Keys = []string{a.pub}
	_, err := update.New(cfg)
	require.ErrorIs(t, err, update.ErrConfig)
	require.ErrorContains(t, err, "root_keys")
	cfg = e.cfg
	cfg.RootThreshold = 2
	_, err = update.New(cfg)
	require.ErrorIs(t, err, update.ErrConfig)
	require.ErrorContains(t, err, "threshold 2 above the 1 distinct keys")

	writeManifest(t, e.repo, testManifest("shop", 1, "1.0.0"), a, "")
	_, err = e.check(t)
	requireCode(t, update.CodeBadSignature, err)
	require.ErrorContains(t, err, "no usable key set")
	// A key set signed by a signing key rather than a root.
	writeKeys(t, e.repo, keySet(1, e.roots, 1, valid(a)), a)
	_, err = e.check(t)
	requireCode(t, update.CodeBadSignature, err)
	require.ErrorContains(t, err, "keys.json")
}

// TestTrustedKeyring: programs that verify packs beside the engine (a fleet's master
// and slaves) get the keys it trusts now: none before a check accepted a key set,
// then the key set's signing keys, and no longer a key a later key set removed.
func TestTrustedKeyring(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root, a, b := newKey(t), newKey(t), newKey(t)
	e := newKeysEnv(t, root)
	eng := e.engine(t)
	_, err := eng.TrustedKeyring(ctx)
	requireCode(t, update.CodeBadSignature, err)
	require.ErrorContains(t, err, "run a check first")

	writeKeys(t, e.repo, keySet(1, e.roots, 1, valid(a)), root)
	writeManifest(t, e.repo, testManifest("shop", 1, "1.0.0"), a, "")
	_, err = eng.Check(ctx)
	require.NoError(t, err)
	signedBy := func(k pubKey) error {
		data := []byte("pack bytes")
		sig, err := signature.Sign(k.sec, bytes.NewReader(data), "file=p.zip")
		require.NoError(t, err)
		kr, err := eng.TrustedKeyring(ctx)
		require.NoError(t, err)
		_, err = kr.Verify("p.zip", sig, bytes.NewReader(data))
		return err
	}
	require.NoError(t, signedBy(a))
	require.Error(t, signedBy(b))

	writeKeys(t, e.repo, keySet(2, e.roots, 1, valid(b)), root)
	writeManifest(t, e.repo, testManifest("shop", 2, "1.1.0"), b, "")
	_, err = eng.Check(ctx)
	require.NoError(t, err)
	require.NoError(t, signedBy(b))
	require.Error(t, signedBy(a), "a removed key is not trusted any more")
}
