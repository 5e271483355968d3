package update_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// alias returns k's public key listed under another key ID: the same Ed25519 bytes.
func alias(t *testing.T, k signature.PublicKey, id uint64) signature.PublicKey {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(k.String())
	require.NoError(t, err)
	binary.LittleEndian.PutUint64(b[2:10], id)
	ks, err := signature.ParsePublicKeys([]byte(base64.StdEncoding.EncodeToString(b)))
	require.NoError(t, err)
	return ks[0]
}

// aliasFile writes k's public key under ID id into a key file.
func aliasFile(t *testing.T, k signature.PublicKey, id uint64) string {
	t.Helper()
	text, err := alias(t, k, id).MarshalText()
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "alias.pub")
	require.NoError(t, os.WriteFile(p, text, 0o644))
	return p
}

// signAs signs data with key and comment, then names key ID id in the block, as a
// thief holding one key would to present it under each of its listed IDs (the ID is
// not covered by the signature).
func signAs(t *testing.T, key signature.PrivateKey, id uint64, data []byte, comment string) []byte {
	t.Helper()
	blk, err := signature.Sign(key, bytes.NewReader(data), comment)
	require.NoError(t, err)
	lines := strings.Split(string(blk), "\n")
	raw, err := base64.StdEncoding.DecodeString(lines[1])
	require.NoError(t, err)
	binary.LittleEndian.PutUint64(raw[2:10], id)
	lines[1] = base64.StdEncoding.EncodeToString(raw)
	return []byte(strings.Join(lines, "\n"))
}

// TestKeyListedTwiceCountsOnce: a publisher key listed under two key IDs (in the
// trusted key files) is one key: a manifest it signed twice, once under each ID, does
// not meet a threshold of two.
func TestKeyListedTwiceCountsOnce(t *testing.T) {
	t.Parallel()
	k, other := newKey(t), newKey(t)
	e := newTrustEnv(t, k)
	e.cfg.Keys = []string{k.pub, aliasFile(t, k.sec.Public(), 0x1111), other.pub}
	e.cfg.Threshold = 2
	m := testManifest("shop", 1, "1.0.0")
	writeManifest(t, e.repo, m, k, "")
	data, err := os.ReadFile(filepath.Join(e.repo, manifest.FileName))
	require.NoError(t, err)
	sig, err := signature.AppendSignature(manifest.SignatureFileName, signAs(t, k.sec, uint64(k.sec.ID()), data, binding(m)), signAs(t, k.sec, 0x1111, data, binding(m)))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(e.repo, manifest.SignatureFileName), sig, 0o644))
	_, err = e.check(t)
	requireCode(t, update.CodeBadSignature, err)

	// The other key's signature makes two distinct keys.
	blk, err := signature.Sign(other.sec, bytes.NewReader(data), binding(m))
	require.NoError(t, err)
	sig, err = signature.AppendSignature(manifest.SignatureFileName, sig, blk)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(e.repo, manifest.SignatureFileName), sig, 0o644))
	_, err = e.check(t)
	require.NoError(t, err)
}

// TestRootListedTwiceCountsOnce: keys.json naming one root key under two IDs does not
// let that root alone meet a root threshold of two.
func TestRootListedTwiceCountsOnce(t *testing.T) {
	t.Parallel()
	r, r2, a := newKey(t), newKey(t), newKey(t)
	e := newKeysEnv(t, r, r2)
	e.cfg.RootKeys = append(e.cfg.RootKeys, aliasFile(t, r.sec.Public(), 0x2222))
	e.cfg.RootThreshold = 2
	ks := &signature.KeySet{Version: 1, RootThreshold: 2, Keys: []signature.ValidKey{valid(a)},
		Roots: []signature.PublicKey{r.sec.Public(), r2.sec.Public(), alias(t, r.sec.Public(), 0x2222)}}
	data, err := ks.Marshal()
	require.NoError(t, err)
	sig, err := signature.AppendSignature(signature.KeySetSignatureFileName,
		signAs(t, r.sec, uint64(r.sec.ID()), data, ks.TrustedComment(time.Now())), signAs(t, r.sec, 0x2222, data, ks.TrustedComment(time.Now())))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(e.repo, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(e.repo, signature.KeySetFileName), data, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(e.repo, signature.KeySetSignatureFileName), sig, 0o644))
	writeManifest(t, e.repo, testManifest("shop", 1, "1.0.0"), a, "")
	_, err = e.check(t)
	requireCode(t, update.CodeBadSignature, err)
}

// TestRevokedKeyUnderAnotherID: a signing key removed from keys.json stays revoked
// when a later keys.json lists the same key under another ID.
func TestRevokedKeyUnderAnotherID(t *testing.T) {
	t.Parallel()
	root, a, b := newKey(t), newKey(t), newKey(t)
	e := newKeysEnv(t, root)
	m := testManifest("shop", 1, "1.0.0")
	writeKeys(t, e.repo, keySet(1, e.roots, 1, valid(a), valid(b)), root)
	writeManifest(t, e.repo, m, a, "")
	_, err := e.check(t)
	require.NoError(t, err)
	writeKeys(t, e.repo, keySet(2, e.roots, 1, valid(b)), root) // a is removed: stolen
	_, err = e.check(t)
	requireCode(t, update.CodeBadSignature, err)

	// The thief's key set (or a publisher's mistake) lists a again, under a new ID.
	writeKeys(t, e.repo, keySet(3, e.roots, 1, valid(b), signature.ValidKey{Key: alias(t, a.sec.Public(), 0x3333)}), root)
	m = testManifest("shop", 2, "1.1.0")
	data, err := m.Marshal()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(e.repo, manifest.FileName), data, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(e.repo, manifest.SignatureFileName), signAs(t, a.sec, 0x3333, data, binding(m)), 0o644))
	_, err = e.check(t)
	requireCode(t, update.CodeBadSignature, err)
	require.ErrorIs(t, err, signature.ErrKeyRevoked)
}

// withExpires returns ks's JSON with "expires" set, as keys publish --expires writes
// it (the field is signed with the rest of the file).
func withExpires(t *testing.T, ks *signature.KeySet, at time.Time) []byte {
	t.Helper()
	data, err := ks.Marshal()
	require.NoError(t, err)
	var j map[string]any
	require.NoError(t, json.Unmarshal(data, &j))
	j["expires"] = at.UTC().Format(time.RFC3339)
	data, err = json.MarshalIndent(j, "", "  ")
	require.NoError(t, err)
	return data
}

func writeKeysData(t *testing.T, dir string, data []byte, version uint64, signers ...pubKey) {
	t.Helper()
	comment := (&signature.KeySet{Version: version}).TrustedComment(time.Now())
	var sig []byte
	for _, s := range signers {
		blk, err := signature.Sign(s.sec, bytes.NewReader(data), comment)
		require.NoError(t, err)
		sig, err = signature.AppendSignature(signature.KeySetSignatureFileName, sig, blk)
		require.NoError(t, err)
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, signature.KeySetFileName), data, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, signature.KeySetSignatureFileName), sig, 0o644))
}

// TestKeySetExpires: keys.json carries a signed expiry. Once it is past, the key set
// is refused with code expired, and packs are no longer verified with its keys: a
// withheld newer keys.json cannot keep a revoked key working for ever.
func TestKeySetExpires(t *testing.T) {
	t.Parallel()
	root, a := newKey(t), newKey(t)
	e := newKeysEnv(t, root)
	m := testManifest("shop", 1, "1.0.0")
	writeManifest(t, e.repo, m, a, "")
	writeKeysData(t, e.repo, withExpires(t, keySet(1, e.roots, 1, valid(a)), time.Now().Add(time.Hour)), 1, root)
	_, err := e.check(t)
	require.NoError(t, err)

	writeKeysData(t, e.repo, withExpires(t, keySet(2, e.roots, 1, valid(a)), time.Now().Add(-time.Minute)), 2, root)
	before := keysSnapshot(t, e.cfg.StateDir)
	_, err = e.check(t)
	requireCode(t, update.CodeExpired, err)
	require.ErrorContains(t, err, "keys.json")
	require.Equal(t, before, keysSnapshot(t, e.cfg.StateDir), "an expired key set writes nothing")
}

// TestExpiredKeySetVerifiesNoPack: once the key set accepted at a check has expired,
// its keys verify no pack either, even one the manifest accepted before lists: an
// install fails with code expired and changes nothing.
func TestExpiredKeySetVerifiesNoPack(t *testing.T) {
	t.Parallel()
	repo := updatetest.NewRepo(t)
	repo.Publish("web", "1.0.0", platform, map[string]string{"index.html": "one"})
	root := newKey(t)
	expires := time.Now().Add(time.Hour)
	_, err := publish.PublishKeys(context.Background(), repo.Dir, []signature.PrivateKey{root.sec},
		publish.KeysChange{Add: []signature.ValidKey{{Key: repo.Key.Public()}}, Expires: expires})
	require.NoError(t, err)
	e := newKeysEnv(t, root)
	e.cfg.Source = repo.Dir
	_, err = e.check(t)
	require.NoError(t, err)

	later := func() time.Time { return expires.Add(time.Minute) }
	eng, err := update.New(e.cfg, updatetest.WithoutSync(), updatetest.WithClock(later))
	require.NoError(t, err)
	// An offline pack is verified with the keys in force, without a check.
	matches, err := filepath.Glob(filepath.Join(repo.Dir, "web-1.0.0*.zip"))
	require.NoError(t, err)
	require.Len(t, matches, 1)
	packFile := matches[0]
	_, err = eng.Install(context.Background(), "web", update.InstallOptions{PackFile: packFile})
	requireCode(t, update.CodeExpired, err)
	require.ErrorContains(t, err, "keys.json version 1 expired")
	require.NoDirExists(t, e.cfg.Modules[0].Path)
	// A check refuses the key set too.
	_, err = eng.Check(context.Background())
	requireCode(t, update.CodeExpired, err)

	// Before it expired, the same pack installs.
	_, err = e.engine(t).Install(context.Background(), "web", update.InstallOptions{PackFile: packFile})
	require.NoError(t, err)
}
