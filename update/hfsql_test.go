package update_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/pack"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// TestHFSQLRepository installs from an HFSQL-style repository: hfsql_updateinfo.json
// (unsigned) beside data.zip packs whose .sign files are minisign signatures made by
// the operator. The unsigned manifest is accepted only when the configuration allows
// it, and even then every pack's own signature is required.
func TestHFSQLRepository(t *testing.T) {
	t.Parallel()
	repo := updatetest.NewRepo(t)
	ctx := context.Background()
	hfsqlPlatform := map[string]string{"linux/amd64": "linux64", "windows/amd64": "win64", "linux/386": "linux32", "windows/386": "win32"}[platform]
	if hfsqlPlatform == "" {
		t.Skip("HFSQL has no pack for " + platform)
	}
	data := "srv_hfsql_" + hfsqlPlatform + "_90F220099z"
	manifest := `{"pack":[{"major_version":22,"language":"F","version":"220099","min_version":"220036",
	  "pack":[{"plateform":"` + hfsqlPlatform + `","data":"` + data + `"}]}]}`
	require.NoError(t, os.WriteFile(filepath.Join(repo.Dir, "hfsql_updateinfo.json"), []byte(manifest), 0o644))
	build := t.TempDir()
	updatetest.WriteTree(t, build, map[string]string{"manta*": "#!/bin/sh\n", "version.txt": "220099"})
	var zipBuf bytes.Buffer
	require.NoError(t, pack.BuildDir(ctx, &zipBuf, build))
	require.NoError(t, os.WriteFile(filepath.Join(repo.Dir, data+".zip"), zipBuf.Bytes(), 0o644))
	sign := func(b signature.Binding) {
		sig, err := signature.Sign(repo.Key, bytes.NewReader(zipBuf.Bytes()), b.String())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(repo.Dir, data+".sign"), sig, 0o644))
	}

	dir := t.TempDir()
	cfg := update.Config{Source: repo.Dir, Keys: []string{repo.PubFile}, StateDir: filepath.Join(dir, "state"),
		Modules: []update.ModuleConfig{{Name: "hfsql", Path: filepath.Join(dir, "hfsql"), Installed: "220036"}}}
	updatetest.WriteTree(t, filepath.Join(dir, "hfsql"), map[string]string{"version.txt": "220036"})

	// Not allowed: the repository has no signed manifest.
	eng, err := update.New(cfg, updatetest.WithoutSync())
	require.NoError(t, err)
	_, err = eng.Check(ctx)
	require.Equal(t, update.CodeNotFound, update.CodeOf(err), "%v", err)

	eng, err = update.New(cfg, updatetest.WithUnsignedHFSQL(), updatetest.WithoutSync(), updatetest.WithClock(func() time.Time { return time.Now() }))
	require.NoError(t, err)
	rep, err := eng.Check(ctx)
	require.NoError(t, err)
	require.Equal(t, "update", string(rep.Modules[0].Status))
	require.Equal(t, "220099", rep.Modules[0].Version)

	// A pack signed for another version is refused.
	sign(signature.Binding{File: data + ".zip", Module: "hfsql", Version: "220098", Platform: platform})
	_, err = eng.Install(ctx, "hfsql", update.InstallOptions{})
	require.Equal(t, update.CodeBadSignature, update.CodeOf(err), "%v", err)
	require.Contains(t, err.Error(), "version")
	require.Equal(t, map[string]string{"version.txt": "220036"}, updatetest.ReadTree(t, filepath.Join(dir, "hfsql")))

	// Without a signature at all, refused too.
	os.Remove(filepath.Join(repo.Dir, data+".sign"))
	_, err = eng.Install(ctx, "hfsql", update.InstallOptions{})
	require.Equal(t, update.CodeBadSignature, update.CodeOf(err), "%v", err)

	sign(signature.Binding{File: data + ".zip", Module: "hfsql", Version: "220099", Platform: platform})
	_, err = eng.Install(ctx, "hfsql", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"manta*": "#!/bin/sh\n", "version.txt": "220099"}, updatetest.ReadTree(t, filepath.Join(dir, "hfsql")))
}

// hfsqlFile returns an hfsql_updateinfo.json listing releases, each "major/language/version".
func hfsqlFile(releases ...string) string {
	var parts []string
	for _, r := range releases {
		f := strings.SplitN(r, "/", 3)
		parts = append(parts, `{"major_version":`+f[0]+`,"language":"`+f[1]+`","version":"`+f[2]+`",
		  "pack":[{"plateform":"linux64","data":"srv_hfsql_linux64_`+f[2]+`"}]}`)
	}
	return `{"pack":[` + strings.Join(parts, ",") + `]}`
}

// TestHFSQLNoFallbackAfterSignedManifest: once a signed manifest was accepted, a
// source without manifest.json does not make the engine read the unsigned HFSQL file
// (a mirror could offer older builds through it, or freeze the server on one).
func TestHFSQLNoFallbackAfterSignedManifest(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	e := newTrustEnv(t, key)
	e.opts = append(e.opts, updatetest.WithUnsignedHFSQL())
	writeManifest(t, e.repo, testManifest("shop", 7, "1.0.0"), key, "")
	require.NoError(t, os.WriteFile(filepath.Join(e.repo, manifest.HFSQLFileName), []byte(hfsqlFile("22/F/220099")), 0o644))
	_, err := e.check(t)
	require.NoError(t, err)

	for _, name := range []string{manifest.FileName, manifest.SignatureFileName} {
		require.NoError(t, os.Remove(filepath.Join(e.repo, name)))
	}
	before := stateSnapshot(t, e.cfg.StateDir)
	_, err = e.check(t)
	require.Equal(t, update.CodeNotFound, update.CodeOf(err), "%v", err)
	require.Contains(t, err.Error(), manifest.HFSQLFileName)
	require.Contains(t, err.Error(), "serial 7")
	require.Equal(t, before, stateSnapshot(t, e.cfg.StateDir))
}

// TestHFSQLNeverOlder: without a serial, an HFSQL file is ordered by its versions: one
// whose highest version, or whose highest version for a major version and language,
// is lower than one already accepted is refused as a replay, changing nothing.
func TestHFSQLNeverOlder(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	e := newTrustEnv(t, key)
	e.opts = append(e.opts, updatetest.WithUnsignedHFSQL())
	require.NoError(t, os.MkdirAll(e.repo, 0o755))
	serve := func(releases ...string) error {
		require.NoError(t, os.WriteFile(filepath.Join(e.repo, manifest.HFSQLFileName), []byte(hfsqlFile(releases...)), 0o644))
		_, err := e.check(t)
		return err
	}
	refused := func(want string, releases ...string) {
		t.Helper()
		before := stateSnapshot(t, e.cfg.StateDir)
		err := serve(releases...)
		require.Equal(t, update.CodeReplay, update.CodeOf(err), "%v", err)
		require.Contains(t, err.Error(), want)
		require.Equal(t, before, stateSnapshot(t, e.cfg.StateDir), "a refused file changes nothing")
	}
	require.NoError(t, serve("22/F/220050", "22/F/220099", "23/F/230010"))
	refused("230010", "22/F/220099")                           // the newest build gone
	refused("220099", "22/F/220050", "23/F/230010")            // an older build for major 22
	refused("220099", "22/f/220050", "23/F/230010")            // languages compare without case
	refused("230010")                                          // no build at all
	require.NoError(t, serve("22/F/220099", "23/F/230010"))    // an older build dropped: fine
	require.NoError(t, serve("22/A/220001", "23/F/230010"))    // another language, a major dropped
	refused("220099", "22/F/220098", "23/F/230011")            // a dropped major comes back older
	require.NoError(t, serve("22/F/220100", "23/F/230011"))    // newer everywhere
	refused("230011", "22/F/220100", "23/F/230010", "24/F/10") // a new major does not hide an older one
}

// TestHFSQLFileIsHFSQL: hfsql_updateinfo.json is read unsigned only in HFSQL's
// format; a native manifest there would dodge its signature, serial and expiry.
func TestHFSQLFileIsHFSQL(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	e := newTrustEnv(t, key)
	e.opts = append(e.opts, updatetest.WithUnsignedHFSQL())
	data, err := testManifest("shop", 1, "1.0.0").Marshal()
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(e.repo, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(e.repo, manifest.HFSQLFileName), data, 0o644))
	_, err = e.check(t)
	require.Equal(t, update.CodeInvalidManifest, update.CodeOf(err), "%v", err)
	require.Contains(t, err.Error(), manifest.HFSQLFileName)
}
