package publish_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/pack"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/publish"
)

// TestRefreshHonoursContext: a refresh whose context has ended changes nothing.
func TestRefreshHonoursContext(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, sec, err := signature.GenerateKey(rand.Reader)
	require.NoError(t, err)
	repo, build := filepath.Join(dir, "repo"), filepath.Join(dir, "build")
	writeTree(t, build, map[string]string{"app.txt": "app"})
	_, err = publish.Publish(t.Context(), repo, sec, publish.Build{Module: "web", Version: "1.0.0", Platform: "linux/amd64", Dir: build})
	require.NoError(t, err)
	before, err := os.ReadFile(filepath.Join(repo, manifest.FileName))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = publish.Refresh(ctx, repo, sec)
	require.ErrorIs(t, err, context.Canceled)
	after, err := os.ReadFile(filepath.Join(repo, manifest.FileName))
	require.NoError(t, err)
	require.Equal(t, string(before), string(after), "nothing refreshed")
}

// newKey returns a fresh key pair and a keyring trusting it.
func newKey(t *testing.T) (signature.PrivateKey, *signature.Keyring) {
	t.Helper()
	pub, sec, err := signature.GenerateKey(rand.Reader)
	require.NoError(t, err)
	kr, err := signature.NewKeyring([]signature.PublicKey{pub})
	require.NoError(t, err)
	return sec, kr
}

func TestPublishRefusesBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sec, _ := newKey(t)
	build := filepath.Join(dir, "build")
	writeTree(t, build, map[string]string{"app.txt": "app"})
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	good := publish.Build{Module: "web", Version: "1.0.0", Platform: "linux/amd64", Dir: build}
	with := func(f func(*publish.Build)) publish.Build { b := good; f(&b); return b }
	tests := []struct {
		name    string
		build   publish.Build
		opts    []publish.Option
		wantErr string
	}{
		{"no module", with(func(b *publish.Build) { b.Module = "" }), nil, "module is required"},
		{"no version", with(func(b *publish.Build) { b.Version = "" }), nil, "version is required"},
		{"no platform", with(func(b *publish.Build) { b.Platform = "" }), nil, "platform is required"},
		{"no folder", with(func(b *publish.Build) { b.Dir = "" }), nil, "build folder is required"},
		{"bad platform", with(func(b *publish.Build) { b.Platform = "amiga" }), nil, `platform "amiga"`},
		{"bad version", with(func(b *publish.Build) { b.Version = "one" }), nil, `version "one"`},
		{"bad module", with(func(b *publish.Build) { b.Module = "../web" }), nil, "module"},
		{"min above version", with(func(b *publish.Build) { b.MinVersion = "2.0.0" }), nil, "min_version"},
		{"missing folder", with(func(b *publish.Build) { b.Dir = filepath.Join(dir, "nope") }), nil, "nope"},
		{"folder is a file", with(func(b *publish.Build) { b.Dir = file }), nil, "not a folder"},
		{"zero expiry", good, []publish.Option{publish.WithExpires(0)}, "expiry 0s"},
		{"nil clock", good, []publish.Option{publish.WithClock(nil)}, "nil clock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := filepath.Join(t.TempDir(), "repo")
			_, err := publish.Publish(t.Context(), repo, sec, tt.build, tt.opts...)
			require.ErrorContains(t, err, "publish "+repo+": ")
			require.ErrorContains(t, err, tt.wantErr)
			_, err = os.Stat(repo)
			require.ErrorIs(t, err, os.ErrNotExist, "nothing created")
		})
	}
}

// TestPublishNeverReplaces: a pack already listed is refused, before and under the
// lock, and the repository is left as it was.
func TestPublishNeverReplaces(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sec, kr := newKey(t)
	repo, build := filepath.Join(dir, "repo"), filepath.Join(dir, "build")
	writeTree(t, build, map[string]string{"app.txt": "app"})
	b := publish.Build{Module: "web", Version: "1.0.0", Platform: "linux/amd64", Dir: build}
	_, err := publish.Publish(t.Context(), repo, sec, b)
	require.NoError(t, err)
	before := snapshot(t, repo)
	writeTree(t, build, map[string]string{"app.txt": "other content"})
	b.Platform = "linux-x86_64" // another spelling of the same platform
	_, err = publish.Publish(t.Context(), repo, sec, b)
	require.ErrorContains(t, err, "web-1.0.0-linux-amd64.zip is already published")
	require.Equal(t, before, snapshot(t, repo))
	checkRepo(t, kr, repo, 1, "web", "1.0.0", "linux/amd64")
}

// TestPublishOptions: the clock dates the release and the expiry, WithModTime and
// WithMethod make the pack's bytes depend on the build's content only, and the
// product is taken by a new repository and checked against an existing one.
func TestPublishOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sec, kr := newKey(t)
	build := filepath.Join(dir, "build")
	writeTree(t, build, map[string]string{"app.txt": "app", "lib/a.bin": "aaaa"})
	clock := time.Date(2030, 5, 1, 12, 0, 0, 500, time.UTC)
	opts := []publish.Option{
		publish.WithClock(func() time.Time { return clock }),
		publish.WithExpires(48 * time.Hour),
		publish.WithModTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)),
		publish.WithMethod(pack.Store),
		publish.WithProduct("shop"),
	}
	b := publish.Build{Module: "web", Version: "1.0.0", Platform: "win64", Dir: build, MinVersion: "0.9.0", Channel: "beta"}
	var packs [][]byte
	for i := range 2 {
		repo := filepath.Join(dir, "repo"+strconv.Itoa(i))
		m, err := publish.Publish(t.Context(), repo, sec, b, opts...)
		require.NoError(t, err)
		require.Equal(t, "shop", m.Product)
		require.Equal(t, clock.Add(48*time.Hour).Truncate(time.Second), m.Expires)
		r := m.Releases[0]
		require.Equal(t, clock.Truncate(time.Second), r.Published)
		require.Equal(t, "0.9.0", r.MinVersion)
		require.Equal(t, "beta", r.Channel)
		require.Equal(t, "windows/amd64", r.Packs[0].Platform)
		checkRepo(t, kr, repo, 1, "web", "1.0.0", "windows/amd64")
		data, err := os.ReadFile(filepath.Join(repo, r.Packs[0].File))
		require.NoError(t, err)
		packs = append(packs, data)
		os.Chtimes(filepath.Join(build, "app.txt"), clock, clock)
	}
	require.Equal(t, packs[0], packs[1], "same build, same bytes")
	info, err := pack.ReadInfo(bytes.NewReader(packs[0]), int64(len(packs[0])))
	require.NoError(t, err)
	require.Equal(t, []pack.Method{pack.Store}, info.Methods)

	repo := filepath.Join(dir, "repo0")
	b.Version = "1.1.0"
	_, err = publish.Publish(t.Context(), repo, sec, b, publish.WithProduct("other"))
	require.ErrorContains(t, err, `manifest of product "shop", not "other"`)
	_, err = publish.Refresh(t.Context(), repo, sec, publish.WithProduct("other"))
	require.ErrorContains(t, err, `manifest of product "shop", not "other"`)
	m, err := publish.Refresh(t.Context(), repo, sec, publish.WithProduct("shop"), publish.WithClock(func() time.Time { return clock.Add(time.Hour) }))
	require.NoError(t, err)
	require.EqualValues(t, 2, m.Serial)
	require.Equal(t, clock.Add(time.Hour+publish.DefaultExpires).Truncate(time.Second), m.Expires)
	checkRepo(t, kr, repo, 2, "web", "1.0.0", "windows/amd64")
}

// TestPublishHonoursContext: a publication whose context has ended creates nothing.
func TestPublishHonoursContext(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sec, _ := newKey(t)
	repo, build := filepath.Join(dir, "repo"), filepath.Join(dir, "build")
	writeTree(t, build, map[string]string{"app.txt": "app"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := publish.Publish(ctx, repo, sec, publish.Build{Module: "web", Version: "1.0.0", Platform: "linux/amd64", Dir: build})
	require.ErrorIs(t, err, context.Canceled)
	_, err = os.Stat(repo)
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestRefreshCompletesInterruptedPublication: a publication interrupted after the
// signature was put in place but before the manifest was is completed by the next
// refresh, whose manifest then verifies.
func TestRefreshCompletesInterruptedPublication(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sec, kr := newKey(t)
	repo, build := filepath.Join(dir, "repo"), filepath.Join(dir, "build")
	writeTree(t, build, map[string]string{"app.txt": "app"})
	_, err := publish.Publish(t.Context(), repo, sec, publish.Build{Module: "web", Version: "1.0.0", Platform: "linux/amd64", Dir: build})
	require.NoError(t, err)
	// The state a crash between the two last renames leaves.
	require.NoError(t, os.Rename(filepath.Join(repo, manifest.FileName), filepath.Join(repo, "."+manifest.FileName+".new")))
	require.NoError(t, os.WriteFile(filepath.Join(repo, ".upkeep-publish.json"),
		[]byte(`[[".manifest.json.minisig.new","manifest.json.minisig"],[".manifest.json.new","manifest.json"]]`), 0o644))

	m, err := publish.Refresh(t.Context(), repo, sec)
	require.NoError(t, err)
	require.EqualValues(t, 2, m.Serial)
	checkRepo(t, kr, repo, 2, "web", "1.0.0", "linux/amd64")
	_, err = os.Stat(filepath.Join(repo, ".upkeep-publish.json"))
	require.ErrorIs(t, err, os.ErrNotExist, "journal dropped")

	// A journal that names any other target is refused, and changes nothing.
	require.NoError(t, os.WriteFile(filepath.Join(repo, ".upkeep-publish.json"), []byte(`[["x","../outside"]]`), 0o644))
	_, err = publish.Refresh(t.Context(), repo, sec)
	require.ErrorContains(t, err, `unexpected target "../outside"`)
}

// snapshot returns the repository's files and their content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = string(b)
	}
	return out
}

// TestManifestCommentProductWithSpaces: a product name holding spaces is carried whole,
// at the end of the manifest's trusted comment.
func TestManifestCommentProductWithSpaces(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sec, kr := newKey(t)
	repo, build := filepath.Join(dir, "repo"), filepath.Join(dir, "build")
	writeTree(t, build, map[string]string{"app.txt": "app"})
	_, err := publish.Publish(t.Context(), repo, sec, publish.Build{Module: "web", Version: "1.0.0", Platform: "linux/amd64", Dir: build}, publish.WithProduct("Acme Shop  EU"))
	require.NoError(t, err)
	m := checkRepo(t, kr, repo, 1, "web", "1.0.0", "linux/amd64")
	require.Equal(t, "Acme Shop  EU", m.Product)
}
