package signature

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type pair struct {
	pub PublicKey
	sec PrivateKey
}

func genPair(t testing.TB) pair {
	t.Helper()
	pub, sec, err := GenerateKey(rand.Reader)
	require.NoError(t, err)
	return pair{pub, sec}
}

// signKeySet marshals ks and signs it with each of signers, binding its version.
func signKeySet(t testing.TB, ks *KeySet, signers ...pair) (data, sig []byte) {
	t.Helper()
	data, err := ks.Marshal()
	require.NoError(t, err)
	for _, s := range signers {
		blk, err := Sign(s.sec, bytes.NewReader(data), ks.TrustedComment(time.Unix(1700000000, 0)))
		require.NoError(t, err)
		sig, err = AppendSignature("keys.json.minisig", sig, blk)
		require.NoError(t, err)
	}
	return data, sig
}

func rootRing(t testing.TB, threshold int, roots ...pair) *Keyring {
	t.Helper()
	var keys []PublicKey
	for _, r := range roots {
		keys = append(keys, r.pub)
	}
	kr, err := NewKeyring(keys, WithThreshold(threshold))
	require.NoError(t, err)
	return kr
}

func pubs(ps ...pair) []PublicKey {
	var out []PublicKey
	for _, p := range ps {
		out = append(out, p.pub)
	}
	return out
}

func TestKeySetRoundTrip(t *testing.T) {
	t.Parallel()
	r, a := genPair(t), genPair(t)
	nb := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ks := &KeySet{Version: 3, Roots: pubs(r), RootThreshold: 1,
		Keys:    []ValidKey{{Key: a.pub, NotBefore: nb, NotAfter: nb.AddDate(1, 0, 0)}},
		Revoked: []KeyID{0x1122334455667788}}
	data, err := ks.Marshal()
	require.NoError(t, err)
	got, err := ParseKeySet(data)
	require.NoError(t, err)
	ks.Schema = KeySetSchema
	require.Equal(t, ks, got)
}

func TestParseKeySetErrors(t *testing.T) {
	t.Parallel()
	r, a := genPair(t), genPair(t)
	tests := []struct{ name, json, want string }{
		{"schema", `{"schema":2,"version":1,"root_threshold":1,"roots":["` + r.pub.String() + `"],"keys":[]}`, "schema: 2"},
		{"version", `{"schema":1,"root_threshold":1,"roots":["` + r.pub.String() + `"],"keys":[]}`, "version: missing"},
		{"no roots", `{"schema":1,"version":1,"root_threshold":1,"roots":[],"keys":[]}`, "roots: missing"},
		{"threshold", `{"schema":1,"version":1,"root_threshold":2,"roots":["` + r.pub.String() + `"],"keys":[]}`, "root_threshold: 2"},
		{"bad key", `{"schema":1,"version":1,"root_threshold":1,"roots":["` + r.pub.String() + `"],"keys":[{"key":"xyz"}]}`, "keys[0].key"},
		{"wrong id", `{"schema":1,"version":1,"root_threshold":1,"roots":["` + r.pub.String() + `"],"keys":[{"id":"0000000000000001","key":"` + a.pub.String() + `"}]}`, "keys[0].id"},
		{"revoked and listed", `{"schema":1,"version":1,"root_threshold":1,"roots":["` + r.pub.String() + `"],"keys":[{"key":"` + a.pub.String() + `"}],"revoked":["` + a.pub.ID().String() + `"]}`, "also listed as revoked"},
		{"validity", `{"schema":1,"version":1,"root_threshold":1,"roots":["` + r.pub.String() + `"],"keys":[{"key":"` + a.pub.String() + `","not_before":"2025-01-02T00:00:00Z","not_after":"2025-01-01T00:00:00Z"}]}`, "not_after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeySet([]byte(tt.json))
			require.ErrorIs(t, err, ErrMalformed)
			require.ErrorContains(t, err, tt.want)
			require.ErrorContains(t, err, "keys.json")
		})
	}
}

func TestVerifyKeySet(t *testing.T) {
	t.Parallel()
	r1, r2, r3, a := genPair(t), genPair(t), genPair(t), genPair(t)
	keys := []ValidKey{{Key: a.pub}}

	t.Run("signed by the pinned roots", func(t *testing.T) {
		ks := &KeySet{Version: 1, Roots: pubs(r1, r2), RootThreshold: 2, Keys: keys}
		data, sig := signKeySet(t, ks, r1, r2)
		got, err := VerifyKeySet(data, sig, rootRing(t, 2, r1, r2))
		require.NoError(t, err)
		require.Equal(t, uint64(1), got.Version)
		// One root of two is not enough.
		data, sig = signKeySet(t, ks, r1)
		_, err = VerifyKeySet(data, sig, rootRing(t, 2, r1, r2))
		require.ErrorIs(t, err, ErrThreshold)
	})
	t.Run("signed by a signing key, not a root", func(t *testing.T) {
		ks := &KeySet{Version: 1, Roots: pubs(r1), RootThreshold: 1, Keys: keys}
		data, sig := signKeySet(t, ks, a)
		_, err := VerifyKeySet(data, sig, rootRing(t, 1, r1))
		require.ErrorIs(t, err, ErrUntrustedKey)
	})
	t.Run("binding", func(t *testing.T) {
		ks := &KeySet{Version: 2, Roots: pubs(r1), RootThreshold: 1, Keys: keys}
		data, err := ks.Marshal()
		require.NoError(t, err)
		blk, err := Sign(r1.sec, bytes.NewReader(data), "timestamp:1 file=keys.json version=1")
		require.NoError(t, err)
		_, err = VerifyKeySet(data, blk, rootRing(t, 1, r1))
		require.ErrorIs(t, err, ErrBindingMismatch)
		require.ErrorContains(t, err, `version: want "2", got "1"`)
		blk, err = Sign(r1.sec, bytes.NewReader(data), "timestamp:1 file=manifest.json version=2")
		require.NoError(t, err)
		_, err = VerifyKeySet(data, blk, rootRing(t, 1, r1))
		require.ErrorIs(t, err, ErrBindingMismatch)
	})
	t.Run("root rotation needs the old and the new roots", func(t *testing.T) {
		pinned := rootRing(t, 1, r1)
		ks := &KeySet{Version: 2, Roots: pubs(r2, r3), RootThreshold: 2, Keys: keys}
		// Old roots only: the new roots have not shown they are held.
		data, sig := signKeySet(t, ks, r1)
		_, err := VerifyKeySet(data, sig, pinned)
		require.ErrorIs(t, err, ErrThreshold)
		require.ErrorContains(t, err, "new roots")
		// New roots only: the pinned roots did not vouch for them (a thief's roots).
		data, sig = signKeySet(t, ks, r2, r3)
		_, err = VerifyKeySet(data, sig, pinned)
		require.ErrorIs(t, err, ErrThreshold)
		// New roots under their threshold.
		data, sig = signKeySet(t, ks, r1, r2)
		_, err = VerifyKeySet(data, sig, pinned)
		require.ErrorIs(t, err, ErrThreshold)
		// Both.
		data, sig = signKeySet(t, ks, r1, r2, r3)
		got, err := VerifyKeySet(data, sig, pinned)
		require.NoError(t, err)
		next, err := got.RootKeyring()
		require.NoError(t, err)
		require.Equal(t, 2, next.Threshold())
		require.True(t, got.SameRoots(next))
		// From then on the old root alone signs nothing.
		ks3 := &KeySet{Version: 3, Roots: pubs(r2, r3), RootThreshold: 2, Keys: keys}
		data, sig = signKeySet(t, ks3, r1)
		_, err = VerifyKeySet(data, sig, next)
		require.ErrorIs(t, err, ErrUntrustedKey)
	})
	t.Run("a changed root threshold is a rotation", func(t *testing.T) {
		ks := &KeySet{Version: 2, Roots: pubs(r1, r2), RootThreshold: 1, Keys: keys}
		data, sig := signKeySet(t, ks, r1)
		_, err := VerifyKeySet(data, sig, rootRing(t, 2, r1, r2))
		require.ErrorIs(t, err, ErrThreshold)
	})
}

func TestKeySetSigning(t *testing.T) {
	t.Parallel()
	r, a, b := genPair(t), genPair(t), genPair(t)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	ks := &KeySet{Version: 1, Roots: pubs(r), RootThreshold: 1, Keys: []ValidKey{
		{Key: a.pub, NotAfter: now},                  // expired at now
		{Key: b.pub, NotBefore: now.Add(-time.Hour)}, // valid
	}}
	kr, err := ks.Signing(now, nil)
	require.NoError(t, err)
	require.Equal(t, pubs(b), kr.Keys())
	require.Equal(t, []ValidKey{ks.Keys[0]}, ks.Expired(now, nil))

	_, err = ks.Signing(now, []KeyID{b.pub.ID()})
	require.ErrorIs(t, err, ErrKeyExpired)
	require.ErrorIs(t, err, ErrKeyRevoked)
	require.ErrorContains(t, err, a.pub.ID().String()+" is valid until 2026-06-01T00:00:00Z")
	_, err = ks.Signing(now.Add(-2*time.Hour), nil)
	require.NoError(t, err, "a valid, b not yet")
	_, err = ks.Signing(now, nil, WithThreshold(2))
	require.ErrorIs(t, err, ErrKeyExpired)
}

func TestKeySetRevokedSince(t *testing.T) {
	t.Parallel()
	r, a, b, c := genPair(t), genPair(t), genPair(t), genPair(t)
	v1 := &KeySet{Version: 1, Roots: pubs(r), RootThreshold: 1, Keys: []ValidKey{{Key: a.pub}, {Key: b.pub}}, Revoked: []KeyID{7}}
	v2 := &KeySet{Version: 2, Roots: pubs(r), RootThreshold: 1, Keys: []ValidKey{{Key: b.pub}, {Key: c.pub}}}
	require.Empty(t, v2.RevokedSince(nil))
	got := v2.RevokedSince(v1)
	require.ElementsMatch(t, []KeyID{7, a.pub.ID()}, got)
}
