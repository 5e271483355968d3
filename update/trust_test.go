package update_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/source"
	"github.com/upkeep-go/upkeep/update/updatetest"
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
	return fmt.Sprintf("timestamp:%d file=%s serial=%d product=%s", time.Now().Unix(), manifest.FileName, m.Serial, m.Product)
}

// writeManifest writes m into the repository folder dir and signs it with key and
// comment ("" for the publisher's binding).
func writeManifest(t *testing.T, dir string, m *manifest.Manifest, key pubKey, comment string) {
	t.Helper()
	data, err := m.Marshal()
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, manifest.FileName), data, 0o644))
	signManifest(t, dir, key, comment, m)
}

// signManifest (re-)signs the manifest.json of dir, leaving the manifest untouched.
func signManifest(t *testing.T, dir string, key pubKey, comment string, m *manifest.Manifest) {
	t.Helper()
	if comment == "" {
		comment = binding(m)
	}
	data, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
	require.NoError(t, err)
	sig, err := signature.Sign(key.sec, bytes.NewReader(data), comment)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, manifest.SignatureFileName), sig, 0o644))
}

// trustEnv is a repository folder and an agent configuration checking it.
type trustEnv struct {
	repo string
	cfg  update.Config
	opts []update.Option // beside WithoutSync
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
	return e.engine(t).Check(context.Background())
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

// withSerial replaces each %d of comment with m's serial.
func withSerial(comment string, m *manifest.Manifest) string {
	return strings.ReplaceAll(comment, "%d", strconv.FormatUint(m.Serial, 10))
}

// stateSnapshot returns the files a check may write in the state dir: trust.json and
// the manifest cache.
func stateSnapshot(t *testing.T, stateDir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, pat := range []string{"trust.json", "manifest/*", "manifest*"} {
		names, err := filepath.Glob(filepath.Join(stateDir, pat))
		require.NoError(t, err)
		for _, n := range names {
			if fi, err := os.Stat(n); err != nil || fi.IsDir() {
				continue
			}
			b, err := os.ReadFile(n)
			require.NoError(t, err)
			out[n] = string(b)
		}
	}
	return out
}

// TestManifestSignatureBinding: the manifest's signature must bind file=manifest.json
// and the manifest's serial in its trusted comment, and its product when it names one.
// A refused manifest leaves trust.json and the cache as they were, so that the genuine
// manifest of the same serial is still accepted afterwards.
func TestManifestSignatureBinding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		comment string // %d is the serial
		cosign  string // when set, a second key signs with this comment and both are required
		ok      bool
	}{
		{"publisher binding", "timestamp:1700000000 file=manifest.json serial=%d product=shop", "", true},
		{"without product", "file=manifest.json serial=%d", "", true},
		{"tabs", "timestamp:1700000000\tfile=manifest.json\tserial=%d", "", true},
		{"other keys", "file=manifest.json serial=%d build=42 product=shop", "", true},
		{"minisign default", "timestamp:1700000000\tfile:manifest.json\thashed", "", false},
		{"no serial", "file=manifest.json product=shop", "", false},
		{"no file", "serial=%d product=shop", "", false},
		{"other file", "file=manifest.json.bak serial=%d", "", false},
		{"older serial", "file=manifest.json serial=1", "", false},
		{"padded serial", "file=manifest.json serial=0%d", "", false},
		{"serial twice", "file=manifest.json serial=%d serial=%d", "", false},
		{"other product", "file=manifest.json serial=%d product=blog", "", false},
		{"empty product", "file=manifest.json serial=%d product=", "", false},
		{"product runs to the end", "file=manifest.json serial=%d product=shop build=42", "", false},
		{"co-signer binds", "file=manifest.json serial=%d", "file=manifest.json serial=%d product=shop", true},
		{"co-signer does not bind", "file=manifest.json serial=%d", "timestamp:1700000000\tfile:manifest.json", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, key2 := newKey(t), newKey(t)
			e := newTrustEnv(t, key)
			if tt.cosign != "" {
				e.cfg.Keys = append(e.cfg.Keys, key2.pub)
				e.cfg.Threshold = 2
			}
			sign := func(m *manifest.Manifest, comment, cosign string) {
				writeManifest(t, e.repo, m, key, withSerial(comment, m))
				if tt.cosign == "" {
					return
				}
				data, err := os.ReadFile(filepath.Join(e.repo, manifest.FileName))
				require.NoError(t, err)
				blk, err := signature.Sign(key2.sec, bytes.NewReader(data), withSerial(cosign, m))
				require.NoError(t, err)
				p := filepath.Join(e.repo, manifest.SignatureFileName)
				old, err := os.ReadFile(p)
				require.NoError(t, err)
				both, err := signature.AppendSignature(p, old, blk)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(p, both, 0o644))
			}
			good := "file=manifest.json serial=%d"
			sign(testManifest("shop", 1, "1.0.0"), good, good)
			_, err := e.check(t)
			require.NoError(t, err)
			before := stateSnapshot(t, e.cfg.StateDir)

			m2 := testManifest("shop", 2, "2.0.0")
			sign(m2, tt.comment, tt.cosign)
			rep, err := e.check(t)
			if tt.ok {
				require.NoError(t, err)
				require.Equal(t, "2.0.0", rep.Modules[0].Version)
				require.Equal(t, uint64(2), update.TrustedSerial(e.cfg.StateDir))
				return
			}
			require.Equal(t, update.CodeBadSignature, update.CodeOf(err), "%v", err)
			require.ErrorIs(t, err, signature.ErrBindingMismatch)
			require.Contains(t, err.Error(), manifest.FileName)
			require.Equal(t, before, stateSnapshot(t, e.cfg.StateDir), "a refused manifest changes nothing in the state dir")

			// The genuine manifest of that serial is still accepted.
			sign(m2, good, good)
			rep, err = e.check(t)
			require.NoError(t, err)
			require.Equal(t, "2.0.0", rep.Modules[0].Version)
		})
	}
}

// TestCrossProductSubstitution: one publisher key signs two products. A mirror that
// serves the other product's manifest (with a higher serial) is refused, naming both
// products, and changes nothing: the genuine manifest is accepted afterwards rather
// than refused for ever as a replay.
func TestCrossProductSubstitution(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	shop, blog := testManifest("shop", 3, "1.0.0"), testManifest("blog", 40, "9.0.0")
	base := t.TempDir()
	shopRepo, blogRepo := filepath.Join(base, "shop"), filepath.Join(base, "blog")
	writeManifest(t, shopRepo, shop, key, "")
	writeManifest(t, blogRepo, blog, key, "")
	// A mirror relabels nothing: the manifests are the publisher's, signed by its key.
	check := func(e *trustEnv, repo string) (*update.CheckReport, error) {
		e.cfg.Source = repo
		return e.check(t)
	}
	refused := func(t *testing.T, e *trustEnv, want, got string) {
		t.Helper()
		before := stateSnapshot(t, e.cfg.StateDir)
		_, err := check(e, blogRepo)
		require.Equal(t, update.CodeBadSignature, update.CodeOf(err), "%v", err)
		require.Contains(t, err.Error(), `"`+want+`"`)
		require.Contains(t, err.Error(), `"`+got+`"`)
		require.Equal(t, before, stateSnapshot(t, e.cfg.StateDir), "a refused manifest changes nothing in the state dir")
	}

	t.Run("pinned at the first accepted", func(t *testing.T) {
		t.Parallel()
		e := newTrustEnv(t, key)
		rep, err := check(e, shopRepo)
		require.NoError(t, err)
		require.Equal(t, "1.0.0", rep.Modules[0].Version)
		refused(t, e, "shop", "blog")
		rep, err = check(e, shopRepo)
		require.NoError(t, err, "the genuine manifest is still accepted")
		require.Equal(t, "1.0.0", rep.Modules[0].Version)
		require.Equal(t, uint64(3), update.TrustedSerial(e.cfg.StateDir))
	})
	t.Run("configured", func(t *testing.T) {
		t.Parallel()
		e := newTrustEnv(t, key)
		e.cfg.Product = "shop"
		refused(t, e, "shop", "blog") // before any manifest was accepted
		rep, err := check(e, shopRepo)
		require.NoError(t, err)
		require.Equal(t, "1.0.0", rep.Modules[0].Version)
		refused(t, e, "shop", "blog")
	})
	t.Run("configured over a pinned product", func(t *testing.T) {
		t.Parallel()
		// An agent that pinned the wrong product (it accepted the other product's
		// manifest first) is put right by configuring its product: the other product's
		// serial does not count against it.
		e := newTrustEnv(t, key)
		_, err := check(e, blogRepo)
		require.NoError(t, err)
		require.Equal(t, uint64(40), update.TrustedSerial(e.cfg.StateDir))
		_, err = check(e, shopRepo)
		require.Equal(t, update.CodeBadSignature, update.CodeOf(err), "%v", err)
		require.Contains(t, err.Error(), `"blog"`)

		e.cfg.Product = "shop"
		rep, err := check(e, shopRepo)
		require.NoError(t, err)
		require.Equal(t, "1.0.0", rep.Modules[0].Version)
		require.Equal(t, uint64(3), update.TrustedSerial(e.cfg.StateDir))
		refused(t, e, "shop", "blog")
		e.cfg.Product = ""
		refused(t, e, "shop", "blog") // now pinned to shop
	})
}

func TestConfigProduct(t *testing.T) {
	t.Parallel()
	config := func(product string) *update.Config {
		return &update.Config{Source: "repo", Keys: []string{"k.pub"}, StateDir: "state", Product: product,
			Modules: []update.ModuleConfig{{Name: "web", Path: "/srv/web"}}}
	}
	require.NoError(t, config("shop").Validate())
	require.NoError(t, config("").Validate(), "pinned at the first manifest accepted")
	err := config("sh\x00op").Validate()
	var ce *update.ConfigError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "product", ce.Field)
	require.ErrorIs(t, err, update.ErrConfig)
	err = config(string(bytes.Repeat([]byte("p"), 257))).Validate()
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "product", ce.Field)
}

// tornEnv is a repository whose manifest went from serial 1 to serial 2, and an agent
// that accepted both: the state a torn cache is made from.
type tornEnv struct {
	*trustEnv
	key      pubKey
	m1, m2   []byte // the two manifests
	s1, s2   []byte // their signatures
	v1, v2   string // the validators the source gave with them
	oldCache string // the cache's folder
}

func newTornEnv(t *testing.T) *tornEnv {
	t.Helper()
	key := newKey(t)
	e := &tornEnv{trustEnv: newTrustEnv(t, key), key: key}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(e.repo, name))
		require.NoError(t, err)
		return b
	}
	validator := func() string {
		src, err := source.New(e.repo)
		require.NoError(t, err)
		resp, err := src.Fetch(context.Background(), source.Request{Name: manifest.FileName, Max: manifest.MaxSize})
		require.NoError(t, err)
		resp.Body.Close()
		require.NotEmpty(t, resp.Validator)
		return resp.Validator
	}
	writeManifest(t, e.repo, testManifest("shop", 1, "1.0.0"), key, "")
	e.m1, e.s1, e.v1 = read(manifest.FileName), read(manifest.SignatureFileName), validator()
	_, err := e.check(t)
	require.NoError(t, err)
	// A manifest of another size, so that the folder's validator tells them apart
	// whatever the file system's clock resolution.
	m2 := testManifest("shop", 2, "2.0.0")
	m2.Releases[0].Notes = "second"
	writeManifest(t, e.repo, m2, key, "")
	e.m2, e.s2, e.v2 = read(manifest.FileName), read(manifest.SignatureFileName), validator()
	_, err = e.check(t)
	require.NoError(t, err)
	e.oldCache = filepath.Join(e.cfg.StateDir, "manifest")
	return e
}

// recovered checks that the agent accepts the current manifest, twice (the second
// time from its cache), and that the cache of an earlier format is gone.
func (e *tornEnv) recovered(t *testing.T) {
	t.Helper()
	for i := range 2 {
		rep, err := e.check(t)
		require.NoError(t, err, "check %d", i+1)
		require.Equal(t, "2.0.0", rep.Modules[0].Version)
		require.Equal(t, uint64(2), update.TrustedSerial(e.cfg.StateDir))
	}
	for _, name := range []string{manifest.FileName, manifest.SignatureFileName, "validator"} {
		require.NoFileExists(t, filepath.Join(e.oldCache, name))
	}
}

// TestTornManifestCache: the cached manifest and its validator must go together. A
// cache torn by a crash (earlier versions wrote the manifest, its signature and its
// validator one after another), or one whose validator missed a change, must not
// make every later check fail: the engine fetches the manifest again whenever the
// cached copy does not verify.
func TestTornManifestCache(t *testing.T) {
	t.Parallel()
	oldFormat := func(data, sig []byte, validator string) func(t *testing.T, e *tornEnv) {
		return func(t *testing.T, e *tornEnv) {
			require.NoError(t, os.MkdirAll(e.oldCache, 0o755))
			for name, b := range map[string][]byte{manifest.FileName: data, manifest.SignatureFileName: sig, "validator": []byte(validator)} {
				if b != nil {
					require.NoError(t, os.WriteFile(filepath.Join(e.oldCache, name), b, 0o644))
				}
			}
		}
	}
	tests := []struct {
		name string
		tear func(t *testing.T, e *tornEnv)
	}{
		{"old format, validator ahead of manifest and signature", func(t *testing.T, e *tornEnv) {
			oldFormat(e.m1, e.s1, e.v2)(t, e)
		}},
		{"old format, manifest behind", func(t *testing.T, e *tornEnv) {
			oldFormat(e.m1, e.s2, e.v2)(t, e)
		}},
		{"old format, validator alone", func(t *testing.T, e *tornEnv) {
			oldFormat(nil, nil, e.v2)(t, e)
		}},
		{"old format, validator behind", func(t *testing.T, e *tornEnv) {
			oldFormat(e.m2, e.s2, e.v1)(t, e)
		}},
		{"mismatched pair", func(t *testing.T, e *tornEnv) {
			require.NoError(t, update.SetManifestCache(e.engine(t), e.v2, e.m1))
		}},
		{"cached manifest of another size", func(t *testing.T, e *tornEnv) {
			require.NoError(t, update.SetManifestCache(e.engine(t), e.v2, append([]byte(nil), e.m2[:len(e.m2)-1]...)))
		}},
		{"unreadable cache", func(t *testing.T, e *tornEnv) {
			require.NoError(t, update.SetManifestCache(e.engine(t), e.v2, e.m2))
			names, _ := filepath.Glob(filepath.Join(e.oldCache, "*"))
			require.NotEmpty(t, names)
			for _, n := range names {
				require.NoError(t, os.WriteFile(n, []byte("{"), 0o644))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTornEnv(t)
			require.NoError(t, os.RemoveAll(e.oldCache))
			tt.tear(t, e)
			e.recovered(t)
		})
	}
}

// TestCheckCrashAtEveryWrite stops a check at each of the writes it makes to the
// state dir after a new manifest was published, and checks that the next checks
// accept the new manifest.
func TestCheckCrashAtEveryWrite(t *testing.T) {
	t.Parallel()
	type crash struct{}
	for n := 1; ; n++ {
		e := newTornEnv(t)
		m3 := testManifest("shop", 3, "3.0.0")
		writeManifest(t, e.repo, m3, e.key, "")
		eng := e.engine(t)
		ops := 0
		update.SetCrashPoint(eng, func(kind, path string) {
			if ops++; ops == n {
				panic(crash{})
			}
		})
		crashed := func() (crashed bool) {
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(crash); !ok {
						panic(r)
					}
					crashed = true
				}
			}()
			_, err := eng.Check(context.Background())
			require.NoError(t, err)
			return false
		}()
		for i := range 2 {
			rep, err := e.check(t)
			require.NoError(t, err, "crash at write %d, check %d", n, i+1)
			require.Equal(t, "3.0.0", rep.Modules[0].Version)
		}
		if !crashed {
			require.Greater(t, n, 2, "the check writes trust.json and its cache")
			return
		}
	}
}

// engine returns an engine on the configuration.
func (e *trustEnv) engine(t *testing.T) *update.Engine {
	t.Helper()
	eng, err := update.New(e.cfg, append(e.opts, updatetest.WithoutSync())...)
	require.NoError(t, err)
	return eng
}
