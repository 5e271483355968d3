package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// TestMirrorCommand: `upkeep mirror` of a repository whose signing keys come from
// keys.json copies keys.json too, names a tampered pack and exits 1, and an agent
// using the mirror (pinning the root key) installs the module whose pack verified.
func TestMirrorCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	rootPub, rootSec := keygenT(t, dir, "root")
	aPub, aSec := keygenT(t, dir, "a")
	opPub, opSec := keygenT(t, dir, "operator")
	repo := filepath.Join(dir, "repo")
	for _, mod := range []string{"web", "api"} {
		build := filepath.Join(dir, "build-"+mod)
		updatetest.WriteTree(t, build, map[string]string{mod + ".txt": mod})
		code, _, errs := runCLI(t, "publish", "--repo", repo, "--sec", aSec, "--module", mod, "--version", "1.0.0", "--platform", platform, "--from", build)
		require.Equal(t, 0, code, errs)
	}
	code, _, errs := runCLI(t, "keys", "publish", "--repo", repo, "--root-sec", rootSec, "--add", aPub)
	require.Equal(t, 0, code, errs)
	apiPack := "api-1.0.0-" + strings.ReplaceAll(platform, "/", "-") + ".zip"
	b, err := os.ReadFile(filepath.Join(repo, apiPack))
	require.NoError(t, err)
	b[len(b)-30] ^= 1
	require.NoError(t, os.WriteFile(filepath.Join(repo, apiPack), b, 0o644))

	srcDir := filepath.Join(dir, "src")
	require.NoError(t, os.MkdirAll(srcDir, 0o755))
	srcConfig := rootConfig(t, srcDir, repo, 1, rootPub)
	to := filepath.Join(dir, "mirror")
	code, out, errs := runCLI(t, "mirror", "--config", srcConfig, "--to", to, "--sec", opSec)
	require.Equal(t, 1, code, out)
	require.Contains(t, errs, apiPack)
	require.Contains(t, out, "1 pack(s) copied")
	require.FileExists(t, filepath.Join(to, signature.KeySetFileName))
	require.NoFileExists(t, filepath.Join(to, apiPack))
	code, out, errs = runCLI(t, "verify", "--pub", aPub, "--pub", opPub, "--threshold", "2", filepath.Join(to, "manifest.json"))
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "file=manifest.json serial=2 product=web")

	agentDir := filepath.Join(dir, "agent")
	require.NoError(t, os.MkdirAll(agentDir, 0o755))
	config := rootConfig(t, agentDir, to, 1, rootPub)
	code, _, errs = runCLI(t, "install", "--config", config, "web")
	require.Equal(t, 0, code, errs)

	// Usage.
	code, _, errs = runCLI(t, "mirror", "--to", to)
	require.Equal(t, 2, code, errs)
}

// TestMirrorCommandPinsProduct: the configuration's product is the only one `upkeep
// mirror` copies, even when a trusted key signed another product's manifest.
func TestMirrorCommandPinsProduct(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	aPub, aSec := keygenT(t, dir, "a")
	build := filepath.Join(dir, "build")
	updatetest.WriteTree(t, build, map[string]string{"index.html": "one"})
	repoA, repoB := filepath.Join(dir, "repoA"), filepath.Join(dir, "repoB")
	pub := func(repo, product, version string) {
		t.Helper()
		code, _, errs := runCLI(t, "publish", "--repo", repo, "--sec", aSec, "--product", product, "--module", "web", "--version", version, "--platform", platform, "--from", build)
		require.Equal(t, 0, code, errs)
	}
	pub(repoA, "prodA", "1.0.0")
	pub(repoB, "prodB", "1.0.0")
	pub(repoB, "prodB", "1.1.0")
	pub(repoB, "prodB", "1.2.0")
	config := func(source string) string {
		cb, err := json.Marshal(map[string]any{"source": source, "keys": []string{aPub}, "product": "prodA", "state_dir": filepath.Join(dir, "state"),
			"modules": []map[string]any{{"name": "web", "path": filepath.Join(dir, "srv", "web")}}})
		require.NoError(t, err)
		return writeT(t, filepath.Join(dir, "mirror.json"), string(cb))
	}
	to := filepath.Join(dir, "mirror")
	code, out, errs := runCLI(t, "mirror", "--config", config(repoB), "--to", to)
	require.Equal(t, 1, code, out)
	require.Contains(t, errs, `"prodB"`)
	require.NoFileExists(t, filepath.Join(to, "manifest.json"))
	code, _, errs = runCLI(t, "mirror", "--config", config(repoA), "--to", to)
	require.Equal(t, 0, code, errs)
}
