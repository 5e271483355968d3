package publish_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/pack"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/publish"
)

// TestPublishDeltas: each version gets signed deltas from the (at most N) previous
// versions of its module and platform, listed in its pack entry, and each rebuilds the
// new tree from the old one.
func TestPublishDeltas(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sec, kr := newKey(t)
	repo := filepath.Join(dir, "repo")
	var lines strings.Builder // text that does not compress to nothing: a delta pays
	for i := range 3000 {
		fmt.Fprintf(&lines, "a line of text with a counter %d\n", i*7919%10007)
	}
	big := lines.String()
	versions := []string{"1.0.0", "1.1.0", "1.2.0", "1.10.0"}
	builds := map[string]string{}
	for i, v := range versions {
		build := filepath.Join(dir, "build-"+v)
		writeTree(t, build, map[string]string{"app.txt": big + strings.Repeat("x", i), "version": v, "same.txt": "same"})
		builds[v] = build
		opts := []publish.Option{publish.WithDeltas(2)}
		_, err := publish.Publish(t.Context(), repo, sec, publish.Build{Module: "web", Version: v, Platform: "linux/amd64", Dir: build}, opts...)
		require.NoError(t, err)
		// Another module and platform never give deltas.
		_, err = publish.Publish(t.Context(), repo, sec, publish.Build{Module: "db", Version: v, Platform: "linux/amd64", Dir: build}, publish.WithDeltas(0))
		require.NoError(t, err)
	}
	data, err := os.ReadFile(filepath.Join(repo, manifest.FileName))
	require.NoError(t, err)
	m, err := manifest.Parse(data)
	require.NoError(t, err)
	froms := map[string][]string{}
	for _, r := range m.Releases {
		p := r.Packs[0]
		for _, d := range p.Deltas {
			froms[r.Module+" "+r.Version] = append(froms[r.Module+" "+r.Version], d.From)
			content, err := os.ReadFile(filepath.Join(repo, d.File))
			require.NoError(t, err)
			require.EqualValues(t, d.Size, len(content))
			sig, err := os.ReadFile(filepath.Join(repo, d.SignatureFile()))
			require.NoError(t, err)
			ver, err := kr.Verify(d.File, sig, bytes.NewReader(content))
			require.NoError(t, err)
			require.NoError(t, signature.Binding{File: d.File, Module: r.Module, Version: r.Version, Platform: p.Platform, From: d.From}.Check(ver))
			require.Error(t, signature.Binding{File: d.File, Module: r.Module, Version: r.Version, Platform: p.Platform}.Check(ver), "a delta is no pack")

			base := filepath.Join(t.TempDir(), "base")
			packBytes, err := os.ReadFile(filepath.Join(repo, "web-"+d.From+"-linux-amd64.zip"))
			require.NoError(t, err)
			_, err = pack.Extract(t.Context(), bytes.NewReader(packBytes), int64(len(packBytes)), base, pack.WithoutSync())
			require.NoError(t, err)
			dest := filepath.Join(t.TempDir(), "new")
			rep, err := pack.ApplyDelta(t.Context(), bytes.NewReader(content), int64(len(content)), base, dest, pack.WithoutSync())
			require.NoError(t, err)
			require.Equal(t, 1, rep.Same)
			got, err := os.ReadFile(filepath.Join(dest, "app.txt"))
			require.NoError(t, err)
			want, _ := os.ReadFile(filepath.Join(builds[r.Version], "app.txt"))
			require.Equal(t, want, got)
			require.Less(t, d.Size, p.Size, "the delta is smaller than the pack")
		}
	}
	require.Equal(t, map[string][]string{
		"web 1.1.0":  {"1.0.0"},
		"web 1.2.0":  {"1.1.0", "1.0.0"},
		"web 1.10.0": {"1.2.0", "1.1.0"},
	}, froms)
}

// TestPublishDeltaSkipsBadEarlierPack: an earlier pack that is not what the manifest
// lists gives no delta, the publication goes on.
func TestPublishDeltaSkipsBadEarlierPack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sec, _ := newKey(t)
	repo := filepath.Join(dir, "repo")
	for i, v := range []string{"1.0.0", "1.1.0"} {
		build := filepath.Join(dir, "build-"+v)
		writeTree(t, build, map[string]string{"app.txt": v})
		m, err := publish.Publish(t.Context(), repo, sec, publish.Build{Module: "web", Version: v, Platform: "linux/amd64", Dir: build})
		require.NoError(t, err)
		if i == 0 {
			require.NoError(t, os.WriteFile(filepath.Join(repo, m.Releases[0].Packs[0].File), []byte("tampered"), 0o644))
			continue
		}
		require.Empty(t, m.Releases[1].Packs[0].Deltas)
	}
	ents, err := os.ReadDir(repo)
	require.NoError(t, err)
	for _, e := range ents {
		require.NotContains(t, e.Name(), "delta", "no temporary left")
	}
}

// TestPublishDeltaNotSmallerIsNotListed: a delta that is not smaller than 90 % of its
// full pack (a small module rewritten) is neither listed nor left in the repository;
// the publication goes on.
func TestPublishDeltaNotSmallerIsNotListed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sec, _ := newKey(t)
	repo := filepath.Join(dir, "repo")
	for i, v := range []string{"1.0.0", "1.0.1"} {
		build := filepath.Join(dir, "build-"+v)
		writeTree(t, build, map[string]string{"version": v, "app.txt": strings.Repeat(v+" ", 40+i)})
		_, err := publish.Publish(t.Context(), repo, sec, publish.Build{Module: "web", Version: v, Platform: "linux/amd64", Dir: build}, publish.WithDeltas(1))
		require.NoError(t, err)
	}
	data, err := os.ReadFile(filepath.Join(repo, manifest.FileName))
	require.NoError(t, err)
	m, err := manifest.Parse(data)
	require.NoError(t, err)
	for _, r := range m.Releases {
		require.Empty(t, r.Packs[0].Deltas, "version %s lists a delta no smaller than its pack (%d bytes)", r.Version, r.Packs[0].Size)
	}
	ents, err := os.ReadDir(repo)
	require.NoError(t, err)
	for _, e := range ents {
		require.NotContains(t, e.Name(), "-from-", "a delta left in the repository")
	}
}
