package mirror_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/mirror"
	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/source"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

var platform = runtime.GOOS + "/" + runtime.GOARCH

// counter serves a folder and counts the body bytes it writes per file.
type counter struct {
	h     http.Handler
	mu    sync.Mutex
	bytes map[string]int64
}

func newCounter(dir string) *counter {
	return &counter{h: publish.FileServer(dir), bytes: map[string]int64{}}
}

type countingWriter struct {
	http.ResponseWriter
	c    *counter
	path string
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.c.mu.Lock()
	w.c.bytes[w.path] += int64(n)
	w.c.mu.Unlock()
	return n, err
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.h.ServeHTTP(&countingWriter{ResponseWriter: w, c: c, path: strings.TrimPrefix(r.URL.Path, "/")}, r)
}

func (c *counter) get(path string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes[path]
}

func (c *counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bytes = map[string]int64{}
}

// cutSource cancels the run once its body of the file name has yielded after bytes,
// as an operator's Ctrl-C would.
type cutSource struct {
	source.Source
	name   string
	after  int64
	cancel context.CancelFunc
}

func (s *cutSource) Fetch(ctx context.Context, req source.Request) (*source.Response, error) {
	resp, err := s.Source.Fetch(ctx, req)
	if err != nil || req.Name != s.name {
		return resp, err
	}
	resp.Body = &cutBody{ReadCloser: resp.Body, s: s}
	return resp, nil
}

type cutBody struct {
	io.ReadCloser
	s *cutSource
	n int64
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.n >= b.s.after {
		b.s.cancel()
		return 0, context.Canceled
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

func serve(t *testing.T, h http.Handler) source.Source {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	src, err := source.New(srv.URL + "/")
	require.NoError(t, err)
	return src
}

func keyring(t *testing.T, files ...string) *signature.Keyring {
	kr, err := signature.LoadKeyring(files)
	require.NoError(t, err)
	return kr
}

func packOf(t *testing.T, dir, module string) manifest.Pack {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
	require.NoError(t, err)
	m, err := manifest.Parse(b)
	require.NoError(t, err)
	for _, r := range m.Releases {
		if r.Module == module {
			return r.Packs[0]
		}
	}
	t.Fatalf("no release of %s", module)
	return manifest.Pack{}
}

// agentOn returns an engine whose source is dir, trusting keys with threshold.
func agentOn(t *testing.T, dir string, threshold int, keys ...string) (*update.Engine, string) {
	t.Helper()
	base := t.TempDir()
	cfg := update.Config{Source: dir, Keys: keys, Threshold: threshold, StateDir: filepath.Join(base, "state"),
		Modules: []update.ModuleConfig{{Name: "web", Path: filepath.Join(base, "web")}, {Name: "api", Path: filepath.Join(base, "api")}}}
	e, err := update.New(cfg, updatetest.WithoutSync())
	require.NoError(t, err)
	return e, base
}

// TestMirrorTamperedPack: a pack of the source does not match its manifest entry; it
// is named and not copied, the rest is, and an agent using the mirror installs the
// modules whose packs verified.
func TestMirrorTamperedPack(t *testing.T) {
	t.Parallel()
	repo := updatetest.NewRepo(t)
	repo.Publish("web", "1.0.0", platform, map[string]string{"index.html": "web"})
	repo.Publish("api", "1.0.0", platform, map[string]string{"api.txt": "api"})
	api := packOf(t, repo.Dir, "api")
	b, err := os.ReadFile(filepath.Join(repo.Dir, api.File))
	require.NoError(t, err)
	b[len(b)/2] ^= 1
	require.NoError(t, os.WriteFile(filepath.Join(repo.Dir, api.File), b, 0o644))

	dir := filepath.Join(t.TempDir(), "mirror")
	rep, err := mirror.Mirror(context.Background(), serve(t, newCounter(repo.Dir)), dir, mirror.Options{Keyring: keyring(t, repo.PubFile)})
	var me *mirror.Error
	require.ErrorAs(t, err, &me)
	require.Len(t, me.Failed, 1)
	require.Equal(t, api.File, me.Failed[0].File)
	require.ErrorContains(t, err, api.File+": sha256 is")
	require.Equal(t, []string{packOf(t, repo.Dir, "web").File}, rep.Copied)
	require.NoFileExists(t, filepath.Join(dir, api.File))
	require.FileExists(t, filepath.Join(dir, manifest.FileName))

	e, base := agentOn(t, dir, 1, repo.PubFile)
	_, err = e.Install(context.Background(), "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"index.html": "web"}, updatetest.ReadTree(t, filepath.Join(base, "web")))
	_, err = e.Install(context.Background(), "api", update.InstallOptions{})
	require.ErrorContains(t, err, api.File, "the pack the mirror did not copy is missing there")
}

// TestMirrorResume: a mirror cut in the middle of a pack is resumed by the next run,
// which fetches only the bytes missing; a third run fetches no pack byte.
func TestMirrorResume(t *testing.T) {
	t.Parallel()
	repo := updatetest.NewRepo(t)
	big := make([]byte, 1<<20)
	rand.Read(big)
	repo.Publish("web", "1.0.0", platform, map[string]string{"blob.bin": hex.EncodeToString(big)})
	pk := packOf(t, repo.Dir, "web")
	c := newCounter(repo.Dir)
	src := serve(t, c)
	dir := filepath.Join(t.TempDir(), "mirror")
	kr := keyring(t, repo.PubFile)

	// The first run is cancelled once it has received a third of the pack.
	ctx, cancel := context.WithCancel(context.Background())
	_, err := mirror.Mirror(ctx, &cutSource{Source: src, name: pk.File, after: pk.Size / 3, cancel: cancel}, dir, mirror.Options{Keyring: kr})
	require.ErrorIs(t, err, context.Canceled)
	require.NoFileExists(t, filepath.Join(dir, pk.File))
	require.NoFileExists(t, filepath.Join(dir, manifest.FileName), "nothing is published by a cut run")
	part := filepath.Join(dir, mirror.PartDir, pk.SHA256+".part")
	fi, err := os.Stat(part)
	require.NoError(t, err)
	held := fi.Size()
	require.GreaterOrEqual(t, held, pk.Size/3)
	require.Less(t, held, pk.Size)

	c.reset()
	rep, err := mirror.Mirror(context.Background(), src, dir, mirror.Options{Keyring: kr})
	require.NoError(t, err)
	require.Equal(t, pk.Size-held, c.get(pk.File), "only the missing bytes are fetched")
	require.Equal(t, pk.Size-held, rep.Fetched)
	require.Equal(t, []string{pk.File}, rep.Copied)
	require.NoFileExists(t, part)

	c.reset()
	rep, err = mirror.Mirror(context.Background(), src, dir, mirror.Options{Keyring: kr})
	require.NoError(t, err)
	require.Zero(t, c.get(pk.File))
	require.Equal(t, []string{pk.File}, rep.Kept)

	e, _ := agentOn(t, dir, 1, repo.PubFile)
	_, err = e.Install(context.Background(), "web", update.InstallOptions{})
	require.NoError(t, err)
}

// TestMirrorCoSigned: with the operator's key, the mirrored manifest carries both
// signatures, so agents may require both (threshold 2); the source's manifest alone
// does not satisfy them.
func TestMirrorCoSigned(t *testing.T) {
	t.Parallel()
	repo := updatetest.NewRepo(t)
	repo.Publish("web", "1.0.0", platform, map[string]string{"index.html": "web"})
	opPub, opSec, err := signature.GenerateKey(rand.Reader)
	require.NoError(t, err)
	pb, err := opPub.MarshalText()
	require.NoError(t, err)
	opFile := filepath.Join(t.TempDir(), "operator.pub")
	require.NoError(t, os.WriteFile(opFile, pb, 0o644))

	dir := filepath.Join(t.TempDir(), "mirror")
	_, err = mirror.Mirror(context.Background(), serve(t, newCounter(repo.Dir)), dir, mirror.Options{Keyring: keyring(t, repo.PubFile), Sign: &opSec})
	require.NoError(t, err)
	kr, err := signature.LoadKeyring([]string{repo.PubFile, opFile}, signature.WithThreshold(2))
	require.NoError(t, err)
	f, err := os.Open(filepath.Join(dir, manifest.FileName))
	require.NoError(t, err)
	defer f.Close()
	sig, err := os.ReadFile(filepath.Join(dir, manifest.SignatureFileName))
	require.NoError(t, err)
	_, err = kr.Verify(manifest.FileName, sig, f)
	require.NoError(t, err)

	e, _ := agentOn(t, dir, 2, repo.PubFile, opFile)
	_, err = e.Check(context.Background())
	require.NoError(t, err)
	e, _ = agentOn(t, repo.Dir, 2, repo.PubFile, opFile)
	_, err = e.Check(context.Background())
	require.Equal(t, update.CodeBadSignature, update.CodeOf(err), "%v", err)

	// A manifest older than the mirror's own is refused.
	_, err = mirror.Mirror(context.Background(), serve(t, newCounter(repo.Dir)), dir, mirror.Options{Keyring: keyring(t, repo.PubFile), Sign: &opSec})
	require.NoError(t, err, "the same serial again is fine")
}

// TestMirrorDeltas: the deltas a pack entry lists are copied with their signatures
// after the same checks as packs (their binding says from=V); a tampered delta is
// named and not copied, and the pack is still copied.
func TestMirrorDeltas(t *testing.T) {
	t.Parallel()
	repo := updatetest.NewRepo(t)
	// Text that does not compress to nothing, so that the delta pays and is listed.
	seed := make([]byte, 4096)
	rand.Read(seed)
	text := hex.EncodeToString(seed)
	repo.Publish("web", "1.0.0", platform, map[string]string{"index.html": "v1", "a.txt": text})
	repo.Publish("web", "1.1.0", platform, map[string]string{"index.html": "v2", "a.txt": text}, publish.WithDeltas(1))
	var pk *manifest.Pack
	m, err := manifest.Parse(mustRead(t, filepath.Join(repo.Dir, manifest.FileName)))
	require.NoError(t, err)
	for i := range m.Releases {
		if m.Releases[i].Version == "1.1.0" {
			pk = &m.Releases[i].Packs[0]
		}
	}
	require.NotNil(t, pk)
	require.Len(t, pk.Deltas, 1)
	d := pk.Deltas[0]

	dir := filepath.Join(t.TempDir(), "mirror")
	rep, err := mirror.Mirror(context.Background(), serve(t, newCounter(repo.Dir)), dir, mirror.Options{Keyring: keyring(t, repo.PubFile)})
	require.NoError(t, err)
	require.Contains(t, rep.Copied, d.File)
	require.FileExists(t, filepath.Join(dir, d.File))
	require.FileExists(t, filepath.Join(dir, d.SignatureFile()))

	b := mustRead(t, filepath.Join(repo.Dir, d.File))
	b[len(b)/2] ^= 1
	require.NoError(t, os.WriteFile(filepath.Join(repo.Dir, d.File), b, 0o644))
	dir2 := filepath.Join(t.TempDir(), "mirror")
	_, err = mirror.Mirror(context.Background(), serve(t, newCounter(repo.Dir)), dir2, mirror.Options{Keyring: keyring(t, repo.PubFile)})
	var me *mirror.Error
	require.ErrorAs(t, err, &me)
	require.Len(t, me.Failed, 1)
	require.Equal(t, d.File, me.Failed[0].File)
	require.NoFileExists(t, filepath.Join(dir2, d.File))
	require.FileExists(t, filepath.Join(dir2, pk.File))
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return b
}

// TestMirrorPinsProductAndSerial: one publisher key signs two products. A mirror
// holding one product's manifest refuses the other's (with a higher serial), and an
// older manifest of its own product, and keeps what it holds.
func TestMirrorPinsProductAndSerial(t *testing.T) {
	t.Parallel()
	repo := updatetest.NewRepo(t)
	repo.Publish("web", "1.0.0", platform, map[string]string{"index.html": "web"})
	b, err := os.ReadFile(filepath.Join(repo.Dir, manifest.FileName))
	require.NoError(t, err)
	m, err := manifest.Parse(b)
	require.NoError(t, err)
	resign := func(product string, serial uint64) {
		m.Product, m.Serial = product, serial
		data, err := m.Marshal()
		require.NoError(t, err)
		blk, err := signature.Sign(repo.Key, bytes.NewReader(data), fmt.Sprintf("file=%s serial=%d product=%s", manifest.FileName, serial, product))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(repo.Dir, manifest.FileName), data, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(repo.Dir, manifest.SignatureFileName), blk, 0o644))
	}
	src := serve(t, newCounter(repo.Dir))
	dir := filepath.Join(t.TempDir(), "mirror")
	held := func() (string, uint64) {
		b, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
		require.NoError(t, err)
		hm, err := manifest.Parse(b)
		require.NoError(t, err)
		return hm.Product, hm.Serial
	}
	o := mirror.Options{Keyring: keyring(t, repo.PubFile)}

	resign("prodA", 3)
	_, err = mirror.Mirror(context.Background(), src, dir, o)
	require.NoError(t, err)

	resign("prodB", 5)
	_, err = mirror.Mirror(context.Background(), src, dir, o)
	require.Equal(t, update.CodeBadSignature, update.CodeOf(err), "%v", err)
	require.ErrorContains(t, err, `"prodB"`)
	p, s := held()
	require.Equal(t, "prodA", p)
	require.Equal(t, uint64(3), s)

	resign("prodA", 1)
	_, err = mirror.Mirror(context.Background(), src, dir, o)
	require.Equal(t, update.CodeReplay, update.CodeOf(err), "%v", err)
	_, s = held()
	require.Equal(t, uint64(3), s)

	resign("prodA", 4)
	_, err = mirror.Mirror(context.Background(), src, dir, o)
	require.NoError(t, err)
	_, s = held()
	require.Equal(t, uint64(4), s)
}

// TestMirrorConfiguredProduct: with a product configured, an empty mirror refuses the
// manifest of another product signed by the same key, and writes nothing.
func TestMirrorConfiguredProduct(t *testing.T) {
	t.Parallel()
	repo := updatetest.NewRepo(t)
	repo.Publish("web", "1.0.0", platform, map[string]string{"index.html": "web"})
	b, err := os.ReadFile(filepath.Join(repo.Dir, manifest.FileName))
	require.NoError(t, err)
	m, err := manifest.Parse(b)
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "mirror")
	_, err = mirror.Mirror(context.Background(), serve(t, newCounter(repo.Dir)), dir, mirror.Options{Keyring: keyring(t, repo.PubFile), Product: m.Product + "-other"})
	require.Equal(t, update.CodeBadSignature, update.CodeOf(err), "%v", err)
	require.ErrorContains(t, err, `"`+m.Product+`"`)
	require.NoFileExists(t, filepath.Join(dir, manifest.FileName))
	_, err = mirror.Mirror(context.Background(), serve(t, newCounter(repo.Dir)), dir, mirror.Options{Keyring: keyring(t, repo.PubFile), Product: m.Product})
	require.NoError(t, err)
}
