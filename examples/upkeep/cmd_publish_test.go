package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// TestPublishParallelCommands: one `upkeep publish` per platform into one repository
// at once, as CI jobs run them; every pack is listed and the manifest verifies.
func TestPublishParallelCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sec, pub := publisher(t, dir)
	repo := filepath.Join(dir, "repo")
	platforms := []string{"linux/amd64", "linux/arm64", "win64", "darwin/arm64"}
	var wg sync.WaitGroup
	type result struct {
		code      int
		out, errs string
	}
	results := make([]result, len(platforms))
	for i, p := range platforms {
		build := filepath.Join(dir, "build-"+strings.ReplaceAll(p, "/", "-"))
		updatetest.WriteTree(t, build, map[string]string{"app.txt": p})
		wg.Go(func() {
			code, out, errs := runCLI(t, "publish", "--repo", repo, "--sec", sec, "--module", "web", "--version", "1.0.0", "--platform", p, "--from", build)
			results[i] = result{code, out, errs}
		})
	}
	wg.Wait()
	for i, r := range results {
		require.Equal(t, 0, r.code, "%s: %s", platforms[i], r.errs)
		require.Contains(t, r.out, "published web 1.0.0 for "+platforms[i])
	}
	code, out, errs := runCLI(t, "verify", "--pub", pub, filepath.Join(repo, manifest.FileName))
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "file=manifest.json serial=4")
	data, err := os.ReadFile(filepath.Join(repo, manifest.FileName))
	require.NoError(t, err)
	m, err := manifest.Parse(data)
	require.NoError(t, err)
	require.Len(t, m.Releases, 1)
	require.Len(t, m.Releases[0].Packs, 4)

	code, out, errs = runCLI(t, "refresh", "--repo", repo, "--sec", sec, "--expires", "2d")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "serial 5")
}

func TestPublishCommandErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sec, _ := publisher(t, dir)
	build := filepath.Join(dir, "build")
	updatetest.WriteTree(t, build, map[string]string{"app.txt": "app"})
	repo := filepath.Join(dir, "repo")
	args := []string{"publish", "--repo", repo, "--sec", sec, "--module", "web", "--version", "1.0.0", "--platform", "linux/amd64", "--from", build}
	code, _, errs := runCLI(t, args...)
	require.Equal(t, 0, code, errs)

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"again", args, 1, "already published"},
		{"other product", append(append([]string{}, args...), "--version", "1.1.0", "--product", "shop"), 1, `product "web", not "shop"`},
		{"bad lock timeout", append(append([]string{}, args...), "--lock-timeout", "soon"), 2, "--lock-timeout"},
		{"negative deltas", append(append([]string{}, args...), "--version", "1.2.0", "--deltas", "-1"), 2, "--deltas"},
		{"refresh nothing", []string{"refresh", "--repo", filepath.Join(dir, "none"), "--sec", sec}, 1, "refresh " + filepath.Join(dir, "none")},
	}
	for _, tt := range tests {
		code, _, errs := runCLI(t, tt.args...)
		require.Equal(t, tt.wantCode, code, "%s: %s", tt.name, errs)
		require.Contains(t, errs, tt.wantErr, tt.name)
		require.Equal(t, 1, strings.Count(strings.TrimSpace(errs), "\n")+1, "%s: one line: %q", tt.name, errs)
	}
}

// TestPublishCommandDeltas: a second version gets a delta from the first by default,
// written with its signature and named on stdout; --deltas 0 builds none.
func TestPublishCommandDeltas(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sec, _ := publisher(t, dir)
	repo := filepath.Join(dir, "repo")
	for i, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		build := filepath.Join(dir, "build-"+v)
		var app strings.Builder // numbered lines: a pack a small change's delta is well under
		for l := range 3000 {
			fmt.Fprintf(&app, "line %d of the app\n", l*7919%10007)
		}
		updatetest.WriteTree(t, build, map[string]string{"app.txt": app.String() + v, "same": "same"})
		args := []string{"publish", "--repo", repo, "--sec", sec, "--module", "web", "--version", v, "--platform", "linux/amd64", "--from", build}
		if i == 2 {
			args = append(args, "--deltas", "0")
		}
		code, out, errs := runCLI(t, args...)
		require.Equal(t, 0, code, errs)
		if i == 1 {
			require.Contains(t, out, "delta from 1.0.0: web-1.1.0-linux-amd64-from-1.0.0.zip")
			_, err := os.Stat(filepath.Join(repo, "web-1.1.0-linux-amd64-from-1.0.0.zip.minisig"))
			require.NoError(t, err)
		} else {
			require.NotContains(t, out, "delta from")
		}
	}
}
