package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/testenv"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// keyID returns the ID of the key in a public key file.
func keyID(t *testing.T, pub string) string {
	t.Helper()
	b, err := os.ReadFile(pub)
	require.NoError(t, err)
	keys, err := signature.ParsePublicKeys(b)
	require.NoError(t, err)
	return keys[0].ID().String()
}

// rootConfig writes an agent configuration that pins root keys (given relative to the
// configuration's folder, which the agent resolves) and returns its path.
func rootConfig(t *testing.T, dir, source string, threshold int, roots ...string) string {
	t.Helper()
	var rel []string
	for _, r := range roots {
		p, err := filepath.Rel(dir, r)
		require.NoError(t, err)
		rel = append(rel, p)
	}
	cfg := map[string]any{"source": source, "root_keys": rel, "root_threshold": threshold, "state_dir": filepath.Join(dir, "state"),
		"modules": []map[string]any{{"name": "web", "path": filepath.Join(dir, "srv", "web")}}}
	os.MkdirAll(filepath.Join(dir, "srv"), 0o755)
	cb, err := json.Marshal(cfg)
	require.NoError(t, err)
	config := filepath.Join(dir, "agent.json")
	require.NoError(t, os.WriteFile(config, cb, 0o644))
	return config
}

// checkCode runs `upkeep check --json` and returns the first module's status and code.
func checkCode(t *testing.T, config string) (status, code string) {
	t.Helper()
	_, out, errs := runCLI(t, "check", "--json", "--config", config)
	var rep struct {
		Modules []struct {
			Status string  `json:"status"`
			Code   *string `json:"code"`
			Reason *string `json:"reason"`
		} `json:"modules"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), "%s\n%s", out, errs)
	if rep.Modules[0].Code != nil {
		code = *rep.Modules[0].Code
	}
	return rep.Modules[0].Status, code
}

// TestKeysPublishRotation drives a signing key rotation, the removal of a stolen key
// and a root rotation through the command, with an agent configuration that pins the
// root key only.
func TestKeysPublishRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	rootPub, rootSec := keygenT(t, dir, "root")
	aPub, aSec := keygenT(t, dir, "a")
	bPub, bSec := keygenT(t, dir, "b")
	repo := filepath.Join(dir, "repo")
	build := filepath.Join(dir, "build")
	updatetest.WriteTree(t, build, map[string]string{"index.html": "one"})
	publishV := func(sec, version string) {
		t.Helper()
		code, _, errs := runCLI(t, "publish", "--repo", repo, "--sec", sec, "--module", "web", "--version", version, "--platform", platform, "--from", build)
		require.Equal(t, 0, code, errs)
	}
	keys := func(wantCode int, args ...string) string {
		t.Helper()
		code, out, errs := runCLI(t, append([]string{"keys", "publish", "--repo", repo}, args...)...)
		require.Equal(t, wantCode, code, "%s%s", out, errs)
		return out + errs
	}
	publishV(aSec, "1.0.0")
	config := rootConfig(t, dir, repo, 1, rootPub)
	status, code := checkCode(t, config)
	require.Equal(t, "error", status)
	require.Equal(t, "bad_signature", code, "no keys.json yet")

	out := keys(0, "--root-sec", rootSec, "--add", aPub, "--not-after", "365d")
	require.Contains(t, out, "version 1")
	status, _ = checkCode(t, config)
	require.Equal(t, "update", status)
	code2, _, errs := runCLI(t, "install", "--config", config, "web")
	require.Equal(t, 0, code2, "packs verify with the key set's keys: %s", errs)

	// Rotation: add b, publish with b, remove a.
	keys(0, "--root-sec", rootSec, "--add", bPub)
	publishV(bSec, "1.1.0")
	status, _ = checkCode(t, config)
	require.Equal(t, "update", status)
	out = keys(0, "--root-sec", rootSec, "--remove", keyID(t, aPub))
	require.Contains(t, out, "version 3")
	// The stolen key a signs a manifest: refused.
	code2, _, errs = runCLI(t, "refresh", "--repo", repo, "--sec", aSec)
	require.Equal(t, 0, code2, errs)
	status, code = checkCode(t, config)
	require.Equal(t, "error", status)
	require.Equal(t, "bad_signature", code)
	code2, _, errs = runCLI(t, "refresh", "--repo", repo, "--sec", bSec)
	require.Equal(t, 0, code2, errs)
	status, _ = checkCode(t, config)
	require.Equal(t, "update", status)

	// A revoked key cannot come back; a signing key is not a root; bad usage.
	require.Contains(t, keys(1, "--root-sec", rootSec, "--add", aPub), "revoked")
	require.Contains(t, keys(1, "--root-sec", aSec, "--add", filepath.Join(dir, "none.pub")), "none.pub")
	require.Contains(t, keys(1, "--root-sec", bSec, "--remove-root", keyID(t, bPub)), "not a root")
	require.Contains(t, keys(2, "--root-sec", rootSec), "nothing to change")
	require.Contains(t, keys(2, "--add", bPub), "--root-sec")
	require.Contains(t, keys(1, "--root-sec", bSec, "--root-threshold", "1"), "do not sign")

	// Root rotation: the new root alone is refused, the old and new together accepted.
	newRootPub, newRootSec := keygenT(t, dir, "newroot")
	require.Contains(t, keys(1, "--root-sec", newRootSec, "--add-root", newRootPub, "--remove-root", keyID(t, rootPub)), "do not sign")
	require.Contains(t, keys(1, "--root-sec", rootSec, "--add-root", newRootPub, "--remove-root", keyID(t, rootPub)), "new roots")
	keys(0, "--root-sec", rootSec, "--root-sec", newRootSec, "--add-root", newRootPub, "--remove-root", keyID(t, rootPub))
	status, _ = checkCode(t, config)
	require.Equal(t, "update", status, "the agent follows the root rotation")
	// The old root no longer signs.
	require.Contains(t, keys(1, "--root-sec", rootSec, "--root-threshold", "1"), "do not sign")
	keys(0, "--root-sec", newRootSec, "--root-threshold", "1")
	status, _ = checkCode(t, config)
	require.Equal(t, "update", status)
}

// TestKeysInteropMinisign: root and signing keys made by the minisign tool work with
// `keys publish` and `publish`, and minisign verifies keys.json with the root key.
func TestKeysInteropMinisign(t *testing.T) {
	t.Parallel()
	prog := testenv.NeedProgram(t, "minisign", "minisign")
	dir := t.TempDir()
	gen := func(name string) (pub, sec string) {
		pub, sec = filepath.Join(dir, name+".pub"), filepath.Join(dir, name+".key")
		out, err := exec.Command(prog, "-G", "-W", "-p", pub, "-s", sec).CombinedOutput()
		require.NoError(t, err, string(out))
		return pub, sec
	}
	rootPub, rootSec := gen("root")
	sPub, sSec := gen("signer")
	repo := filepath.Join(dir, "repo")
	build := filepath.Join(dir, "build")
	updatetest.WriteTree(t, build, map[string]string{"index.html": "one"})
	code, _, errs := runCLI(t, "publish", "--repo", repo, "--sec", sSec, "--module", "web", "--version", "1.0.0", "--platform", runtime.GOOS+"/"+runtime.GOARCH, "--from", build)
	require.Equal(t, 0, code, errs)
	code, _, errs = runCLI(t, "keys", "publish", "--repo", repo, "--root-sec", rootSec, "--add", sPub)
	require.Equal(t, 0, code, errs)
	out, err := exec.Command(prog, "-V", "-p", rootPub, "-m", filepath.Join(repo, "keys.json")).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "file=keys.json version=1")
	config := rootConfig(t, dir, repo, 1, rootPub)
	status, _ := checkCode(t, config)
	require.Equal(t, "update", status)
	code, _, errs = runCLI(t, "install", "--config", config, "web")
	require.Equal(t, 0, code, errs)
	require.True(t, strings.HasSuffix(rootPub, ".pub"))
}

// TestKeysPublishExpires: keys.json carries the expiry --expires gives (one year by
// default), an agent refuses it once past with code expired, a bad or past --expires
// is a usage error, and --add refuses a key already listed under another ID.
func TestKeysPublishExpires(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	rootPub, rootSec := keygenT(t, dir, "root")
	aPub, aSec := keygenT(t, dir, "a")
	repo := filepath.Join(dir, "repo")
	build := filepath.Join(dir, "build")
	updatetest.WriteTree(t, build, map[string]string{"index.html": "one"})
	code, _, errs := runCLI(t, "publish", "--repo", repo, "--sec", aSec, "--module", "web", "--version", "1.0.0", "--platform", platform, "--from", build)
	require.Equal(t, 0, code, errs)
	expires := func() time.Time {
		b, err := os.ReadFile(filepath.Join(repo, signature.KeySetFileName))
		require.NoError(t, err)
		ks, err := signature.ParseKeySet(b)
		require.NoError(t, err)
		return ks.Expires
	}

	code, out, errs := runCLI(t, "keys", "publish", "--repo", repo, "--root-sec", rootSec, "--add", aPub)
	require.Equal(t, 0, code, errs)
	require.WithinDuration(t, time.Now().Add(365*24*time.Hour), expires(), time.Minute, "one year by default")
	require.Contains(t, out, "expires "+expires().Format(time.RFC3339))
	code, _, _ = runCLI(t, "keys", "publish", "--repo", repo, "--root-sec", rootSec, "--expires", "2027-12-31x")
	require.Equal(t, 2, code)
	code, _, _ = runCLI(t, "keys", "publish", "--repo", repo, "--root-sec", rootSec, "--expires", "2001-01-01")
	require.Equal(t, 2, code, "an expiry in the past")
	code, _, errs = runCLI(t, "keys", "publish", "--repo", repo, "--root-sec", rootSec, "--expires", "2099-12-31")
	require.Equal(t, 0, code, errs)
	require.Equal(t, time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC), expires().UTC())

	// The same key under another ID is refused, naming both IDs.
	b, err := os.ReadFile(aPub)
	require.NoError(t, err)
	keys, err := signature.ParsePublicKeys(b)
	require.NoError(t, err)
	raw, err := base64.StdEncoding.DecodeString(keys[0].String())
	require.NoError(t, err)
	raw[2] ^= 0xff
	alias := writeT(t, filepath.Join(dir, "alias.pub"), base64.StdEncoding.EncodeToString(raw)+"\n")
	code, _, errs = runCLI(t, "keys", "publish", "--repo", repo, "--root-sec", rootSec, "--add", alias)
	require.Equal(t, 1, code, errs)
	require.Contains(t, errs, keyID(t, aPub))
	require.Contains(t, errs, keyID(t, alias))

	config := rootConfig(t, dir, repo, 1, rootPub)
	status, _ := checkCode(t, config)
	require.Equal(t, "update", status)
	code, _, errs = runCLI(t, "keys", "publish", "--repo", repo, "--root-sec", rootSec, "--expires", "2s")
	require.Equal(t, 0, code, errs)
	time.Sleep(time.Until(expires()) + 100*time.Millisecond)
	status, code2 := checkCode(t, config)
	require.Equal(t, "error", status)
	require.Equal(t, "expired", code2)
}
