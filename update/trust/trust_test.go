package trust_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/trust"
)

func requireCode(t *testing.T, want trust.Code, err error) {
	t.Helper()
	var te *trust.Error
	require.ErrorAs(t, err, &te, "%v", err)
	require.Equal(t, want, te.Code, "%v", err)
	require.Equal(t, string(want), te.ErrorCode())
}

// TestAcceptManifest: the product pin, the expiry and the serial order, each refusal
// with its code, and the state that accepting makes.
func TestAcceptManifest(t *testing.T) {
	t.Parallel()
	a, b, stranger := newKey(t), newKey(t), newKey(t)
	now := time.Now()
	later := now.Add(time.Hour)
	keys := trust.Pinned(ring(t, 2, a, b))
	accepted := func(product string, serial uint64) trust.ManifestState {
		data, _ := signedManifest(t, product, serial, later, a, b)
		return trust.ManifestState{Product: product, Serial: serial, SHA256: hexSHA(data)}
	}
	for _, tc := range []struct {
		name    string
		prev    trust.ManifestState
		product string // configured
		serial  uint64
		of      string // the manifest's product
		expires time.Time
		signers []key
		want    trust.Code // "" accepted
	}{
		{"first", trust.ManifestState{}, "", 1, "shop", later, []key{a, b}, ""},
		{"one signer of two", trust.ManifestState{}, "", 1, "shop", later, []key{a}, trust.CodeBadSignature},
		{"one key twice", trust.ManifestState{}, "", 1, "shop", later, []key{a, a}, trust.CodeBadSignature},
		{"a stranger", trust.ManifestState{}, "", 1, "shop", later, []key{a, stranger}, trust.CodeBadSignature},
		{"higher serial", accepted("shop", 3), "", 4, "shop", later, []key{a, b}, ""},
		{"same serial, same bytes", accepted("shop", 3), "", 3, "shop", later, []key{a, b}, ""},
		{"lower serial", accepted("shop", 3), "", 2, "shop", later, []key{a, b}, trust.CodeReplay},
		{"same serial, other bytes", trust.ManifestState{Product: "shop", Serial: 3, SHA256: "00"}, "", 3, "shop", later, []key{a, b}, trust.CodeReplay},
		{"other product than pinned", accepted("shop", 3), "", 9, "blog", later, []key{a, b}, trust.CodeBadSignature},
		{"other product than configured", trust.ManifestState{}, "shop", 9, "blog", later, []key{a, b}, trust.CodeBadSignature},
		{"configured over pinned starts again", accepted("blog", 40), "shop", 1, "shop", later, []key{a, b}, ""},
		{"expired", trust.ManifestState{}, "", 1, "shop", now.Add(-time.Second), []key{a, b}, trust.CodeExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, sig := signedManifest(t, tc.of, tc.serial, tc.expires, tc.signers...)
			m, st, err := trust.AcceptManifest(keys, tc.prev, tc.product, now, data, sig)
			if tc.want != "" {
				requireCode(t, tc.want, err)
				require.Nil(t, m)
				require.Equal(t, tc.prev, st, "a refusal leaves the state as it was")
				return
			}
			require.NoError(t, err)
			require.Equal(t, trust.ManifestState{Product: tc.of, Serial: tc.serial, SHA256: hexSHA(data)}, st)
		})
	}
}

// TestAcceptManifestExpiredKey: a manifest signed only by a key outside its validity
// is refused with code expired, naming the key, not as signed by a stranger.
func TestAcceptManifestExpiredKey(t *testing.T) {
	t.Parallel()
	root, a, b := newKey(t), newKey(t), newKey(t)
	now := time.Now()
	ks := &signature.KeySet{Version: 1, Roots: []signature.PublicKey{root.pub}, RootThreshold: 1,
		Keys: []signature.ValidKey{{Key: a.pub, NotAfter: now.Add(-time.Minute)}, {Key: b.pub}}}
	chain := accept(t, trust.KeyChain{Roots: ring(t, 1, root)}, ks, now, root)
	keys, err := chain.Signing(now, 1)
	require.NoError(t, err)
	data, sig := signedManifest(t, "shop", 1, now.Add(time.Hour), a)
	_, _, err = trust.AcceptManifest(keys, trust.ManifestState{}, "", now, data, sig)
	requireCode(t, trust.CodeExpired, err)
	require.ErrorIs(t, err, signature.ErrKeyExpired)
	require.ErrorIs(t, err, trust.ErrExpired)
	require.ErrorContains(t, err, a.pub.ID().String())
}

func keySetData(t testing.TB, ks *signature.KeySet) []byte {
	t.Helper()
	data, err := ks.Marshal()
	require.NoError(t, err)
	return data
}

func accept(t testing.TB, c trust.KeyChain, ks *signature.KeySet, now time.Time, roots ...key) trust.KeyChain {
	t.Helper()
	data := keySetData(t, ks)
	next, err := c.Accept(data, sign(t, data, ks.TrustedComment(now), roots...), now)
	require.NoError(t, err)
	return next
}

// TestKeyChain: version order, expiry (and its ratchet), root threshold, and
// revocation by public-key bytes.
func TestKeyChain(t *testing.T) {
	t.Parallel()
	root, a, b := newKey(t), newKey(t), newKey(t)
	now := time.Now()
	roots := []signature.PublicKey{root.pub}
	c0 := trust.KeyChain{Roots: ring(t, 1, root)}
	set := func(v uint64, expires time.Time, keys ...signature.PublicKey) *signature.KeySet {
		ks := &signature.KeySet{Version: v, Expires: expires, Roots: roots, RootThreshold: 1}
		for _, k := range keys {
			ks.Keys = append(ks.Keys, signature.ValidKey{Key: k})
		}
		return ks
	}
	try := func(c trust.KeyChain, ks *signature.KeySet, at time.Time) error {
		data := keySetData(t, ks)
		_, err := c.Accept(data, sign(t, data, ks.TrustedComment(now), root), at)
		return err
	}

	// Without an expiry, as key sets were first published: accepted.
	c1 := accept(t, c0, set(1, time.Time{}, a.pub, b.pub), now, root)
	// With one: accepted until it is past.
	requireCode(t, trust.CodeExpired, try(c1, set(2, now.Add(-time.Second), a.pub, b.pub), now))
	c2 := accept(t, c1, set(2, now.Add(time.Hour), a.pub, b.pub), now, root)
	// Then a key set that never expires is refused: the protection stays on.
	err := try(c2, set(3, time.Time{}, a.pub, b.pub), now)
	requireCode(t, trust.CodeExpired, err)
	require.ErrorContains(t, err, "no expiry")
	// Versions never go back.
	requireCode(t, trust.CodeReplay, try(c2, set(1, now.Add(time.Hour), a.pub), now))
	// A zero now skips the expiry: a key set read back from the caller's storage.
	require.NoError(t, try(c1, set(2, now.Add(-time.Second), a.pub, b.pub), time.Time{}))

	// The keys in force expire with the key set.
	keys, err := c2.Signing(now, 2)
	require.NoError(t, err)
	require.Len(t, keys.Keyring().Keys(), 2)
	_, err = c2.Signing(now.Add(2*time.Hour), 1)
	requireCode(t, trust.CodeExpired, err)

	// Version 3 drops a: a is revoked by its bytes, and stays revoked when version 4
	// lists it again under another ID.
	c3 := accept(t, c2, set(3, now.Add(time.Hour), b.pub), now, root)
	require.Len(t, c3.Revoked, 1)
	require.True(t, signature.SameKey(a.pub, c3.Revoked[0]))
	c4 := accept(t, c3, set(4, now.Add(time.Hour), b.pub, alias(t, a.pub)), now, root)
	keys, err = c4.Signing(now, 1)
	require.NoError(t, err)
	require.Equal(t, []signature.PublicKey{b.pub}, keys.Keyring().Keys())
	_, err = c4.Signing(now, 2)
	requireCode(t, trust.CodeBadSignature, err)
	require.ErrorIs(t, err, signature.ErrKeyRevoked)

	// A key set signed by no pinned root is refused.
	stranger := newKey(t)
	data := keySetData(t, set(5, now.Add(time.Hour), b.pub))
	_, err = c4.Accept(data, sign(t, data, "file=keys.json version=5", stranger), now)
	requireCode(t, trust.CodeBadSignature, err)
	require.ErrorIs(t, err, signature.ErrThreshold)
}

// alias is k listed under another key ID: the same public-key bytes.
func alias(t testing.TB, k signature.PublicKey) signature.PublicKey {
	t.Helper()
	b, err := decode([]byte(k.String()))
	require.NoError(t, err)
	b[2] ^= 0xff // the first byte of the key ID
	keys, err := signature.ParsePublicKeys([]byte(encode(b)))
	require.NoError(t, err)
	return keys[0]
}

// TestPackCheck: the streaming pack check refuses a byte past the signed size as it
// is written, and then the size, the digest, the signers and the binding.
func TestPackCheck(t *testing.T) {
	t.Parallel()
	a, b := newKey(t), newKey(t)
	keys := trust.Pinned(ring(t, 1, a, b))
	body := bytes.Repeat([]byte("pack"), 1000)
	bind := signature.Binding{File: "web-1.0.0.zip", Module: "web", Version: "1.0.0", Platform: "linux/amd64"}
	comment := func(b signature.Binding) string {
		c, err := b.TrustedComment(time.Now())
		require.NoError(t, err)
		return c
	}
	sig := sign(t, body, comment(bind), a)
	listed := trust.Pack{Binding: bind, Size: int64(len(body)), SHA256: hexSHA(body)}
	check := func(p trust.Pack, sig []byte, writes ...[]byte) (*trust.AcceptedPack, error) {
		c, err := trust.NewPackCheck(keys, p, sig)
		require.NoError(t, err)
		defer c.Close()
		for _, w := range writes {
			if _, err := c.Write(w); err != nil {
				_, aerr := c.Accept()
				require.Equal(t, err, aerr, "Accept returns the refusal made while writing")
				return nil, err
			}
		}
		return c.Accept()
	}

	acc, err := check(listed, sig, body[:100], body[100:])
	require.NoError(t, err)
	require.Equal(t, trust.AcceptedPack{Binding: bind, Size: int64(len(body)), SHA256: hexSHA(body), Signers: []signature.KeyID{a.pub.ID()}}, *acc)

	t.Run("a byte past the size", func(t *testing.T) {
		c, err := trust.NewPackCheck(keys, listed, sig)
		require.NoError(t, err)
		n, err := c.Write(body)
		require.NoError(t, err)
		require.Equal(t, len(body), n)
		n, err = c.Write([]byte{0})
		require.Zero(t, n, "nothing of a refused write is taken")
		requireCode(t, trust.CodeBadPack, err)
		require.Equal(t, int64(len(body)), c.Written())
		_, err = c.Accept()
		requireCode(t, trust.CodeBadPack, err)
	})
	t.Run("short", func(t *testing.T) {
		_, err := check(listed, sig, body[:10])
		requireCode(t, trust.CodeBadPack, err)
		require.ErrorIs(t, err, trust.ErrBadPack)
	})
	t.Run("other bytes", func(t *testing.T) {
		other := bytes.Clone(body)
		other[7] ^= 1
		_, err := check(listed, sig, other)
		requireCode(t, trust.CodeBadPack, err)
		require.ErrorContains(t, err, "sha256 is")
	})
	t.Run("unknown size, bounded", func(t *testing.T) {
		_, err := check(trust.Pack{Binding: bind, MaxSize: int64(len(body))}, sig, body)
		require.NoError(t, err)
		_, err = check(trust.Pack{Binding: bind, MaxSize: 10}, sig, body)
		requireCode(t, trust.CodeBadPack, err)
	})
	t.Run("signed for another version", func(t *testing.T) {
		v2 := bind
		v2.Version = "2.0.0"
		_, err := check(listed, sign(t, body, comment(v2), a), body)
		requireCode(t, trust.CodeBadSignature, err)
		require.ErrorIs(t, err, signature.ErrBindingMismatch)
	})
	t.Run("a full pack's signature on a delta", func(t *testing.T) {
		delta := listed
		delta.Binding.From = "0.9.0"
		_, err := check(delta, sig, body)
		requireCode(t, trust.CodeBadSignature, err)
	})
	t.Run("one key twice does not meet two", func(t *testing.T) {
		two := trust.Pinned(ring(t, 2, a, b))
		c, err := trust.NewPackCheck(two, listed, sign(t, body, comment(bind), a, a))
		require.NoError(t, err)
		c.Write(body)
		_, err = c.Accept()
		requireCode(t, trust.CodeBadSignature, err)
	})
	t.Run("unlisted", func(t *testing.T) {
		_, err := check(trust.Pack{Binding: signature.Binding{File: bind.File}, Unlisted: true, MaxSize: 1 << 20}, sig, body)
		require.NoError(t, err)
		_, err = check(trust.Pack{Binding: signature.Binding{File: bind.File, Module: "api"}, Unlisted: true, MaxSize: 1 << 20}, sig, body)
		requireCode(t, trust.CodeBadSignature, err)
		_, err = check(trust.Pack{Binding: signature.Binding{File: bind.File, Platform: "windows/amd64"}, Unlisted: true, MaxSize: 1 << 20}, sig, body)
		requireCode(t, trust.CodeNoPackForPlatform, err)
		require.True(t, errors.Is(err, trust.ErrOtherPlatform))
		_, err = check(trust.Pack{Binding: signature.Binding{File: "renamed.zip"}, Unlisted: true, MaxSize: 1 << 20}, sig, body)
		requireCode(t, trust.CodeBadSignature, err)
	})
}

// TestAcceptHFSQL: an unsigned HFSQL file, which has no serial, is ordered by its
// versions: overall, and per major version and language.
func TestAcceptHFSQL(t *testing.T) {
	t.Parallel()
	file := func(rs ...manifest.Release) *manifest.Manifest { return &manifest.Manifest{Releases: rs} }
	rel := func(major int, lang, v string) manifest.Release {
		return manifest.Release{Module: "hfsql", Version: v, Major: major, Language: lang}
	}
	acc, err := trust.AcceptHFSQL(file(rel(22, "fr", "220099"), rel(21, "fr", "210050")), nil)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"": "220099", "22/FR": "220099", "21/FR": "210050"}, acc)

	next, err := trust.AcceptHFSQL(file(rel(22, "FR", "220099"), rel(21, "FR", "210050")), acc)
	require.NoError(t, err)
	require.Nil(t, next, "nothing new")
	_, err = trust.AcceptHFSQL(file(rel(22, "FR", "220010")), acc)
	requireCode(t, trust.CodeReplay, err)
	_, err = trust.AcceptHFSQL(file(rel(22, "FR", "220100"), rel(21, "FR", "210001")), acc)
	requireCode(t, trust.CodeReplay, err)
	require.ErrorContains(t, err, `major version 21, language "FR"`)
	_, err = trust.AcceptHFSQL(file(), acc)
	requireCode(t, trust.CodeReplay, err)
	next, err = trust.AcceptHFSQL(file(rel(22, "FR", "220100")), acc)
	require.NoError(t, err)
	require.Equal(t, "220100", next[""])
	require.Equal(t, "210050", next["21/FR"], "a major version no longer listed keeps its record")
}
