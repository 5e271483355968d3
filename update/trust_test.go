package update_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
)

// These tests write and sign manifests themselves, so that they can sign with any key
// and any trusted comment, and serve them from a plain folder (whose validators make
// conditional requests answer "not modified" while manifest.json is untouched).

// pubKey is a signing key and the file holding its public half.
type pubKey struct {
	sec signature.PrivateKey
	pub string
}

func newKey(t *testing.T) pubKey {
	t.Helper()
	pub, sec, err := signature.GenerateKey(rand.Reader)
	require.NoError(t, err)
	b, err := pub.MarshalText()
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "publisher.pub")
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return pubKey{sec: sec, pub: p}
}

// testManifest returns a manifest of product offering web at version, valid for a day.
func testManifest(product string, serial uint64, version string) *manifest.Manifest {
	return &manifest.Manifest{
		Schema: manifest.SchemaVersion, Product: product, Serial: serial,
		Expires: time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second),
		Releases: []manifest.Release{{Module: "web", Version: version, Packs: []manifest.Pack{{
			Platform: platform, File: "web-" + version + ".zip", Size: 1, SHA256: fmt.Sprintf("%064x", serial)}}}},
	}
}

// binding is the trusted comment the publisher signs a manifest with.
func binding(m *manifest.Manifest) string {
	return fmt.Sprintf("timestamp:%d file=%s serial=%d product=%s", time.Now().Unix(), update.ManifestFile, m.Serial, m.Product)
}

// writeManifest writes m into the repository folder dir and signs it with key and
// comment ("" for the publisher's binding).
func writeManifest(t *testing.T, dir string, m *manifest.Manifest, key pubKey, comment string) {
	t.Helper()
	data, err := m.Marshal()
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, update.ManifestFile), data, 0o644))
	signManifest(t, dir, key, comment, m)
}

// signManifest (re-)signs the manifest.json of dir, leaving the manifest untouched.
func signManifest(t *testing.T, dir string, key pubKey, comment string, m *manifest.Manifest) {
	t.Helper()
	if comment == "" {
		comment = binding(m)
	}
	data, err := os.ReadFile(filepath.Join(dir, update.ManifestFile))
	require.NoError(t, err)
	sig, err := signature.Sign(key.sec, bytes.NewReader(data), comment)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, update.ManifestSigFile), sig, 0o644))
}

// trustEnv is a repository folder and an agent configuration checking it.
type trustEnv struct {
	repo string
	cfg  update.Config
}

func newTrustEnv(t *testing.T, key pubKey) *trustEnv {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "srv"), 0o755))
	return &trustEnv{
		repo: filepath.Join(dir, "repo"),
		cfg: update.Config{
			Source:   filepath.Join(dir, "repo"),
			Keys:     []string{key.pub},
			StateDir: filepath.Join(dir, "state"),
			Modules:  []update.ModuleConfig{{Name: "web", Path: filepath.Join(dir, "srv", "web")}},
		},
	}
}

// check runs a check with a new engine on the configuration, as `upkeep check` does.
func (e *trustEnv) check(t *testing.T) (*update.CheckReport, error) {
	t.Helper()
	eng, err := update.New(e.cfg, update.WithoutSync())
	require.NoError(t, err)
	return eng.Check(context.Background())
}

// TestKeyRotationWithUnchangedManifest: the publisher re-signs the same manifest with
// a new key and operators replace the old key with the new one. The manifest did not
// change, so a conditional request finds it not modified; the signature must still be
// read afresh, or the agent keeps the old signature and refuses it for ever.
func TestKeyRotationWithUnchangedManifest(t *testing.T) {
	t.Parallel()
	oldKey, newKey := newKey(t), newKey(t)
	e := newTrustEnv(t, oldKey)
	m := testManifest("shop", 1, "1.0.0")
	writeManifest(t, e.repo, m, oldKey, "")
	rep, err := e.check(t)
	require.NoError(t, err)
	require.Equal(t, "1.0.0", rep.Modules[0].Version)

	signManifest(t, e.repo, newKey, "", m)
	e.cfg.Keys = []string{newKey.pub}
	rep, err = e.check(t)
	require.NoError(t, err, "the manifest re-signed with the new key is accepted")
	require.Equal(t, "1.0.0", rep.Modules[0].Version)

	// And the old key is no longer enough once it is dropped from the configuration.
	signManifest(t, e.repo, oldKey, "", m)
	_, err = e.check(t)
	require.Equal(t, update.CodeBadSignature, update.CodeOf(err), "%v", err)
}
