package update_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
	eng, err := update.New(cfg, update.WithoutSync())
	require.NoError(t, err)
	_, err = eng.Check(ctx)
	require.Equal(t, update.CodeNotFound, update.CodeOf(err), "%v", err)

	cfg.AllowUnsignedHFSQL = true
	eng, err = update.New(cfg, update.WithoutSync(), update.WithClock(func() time.Time { return time.Now() }))
	require.NoError(t, err)
	rep, err := eng.Check(ctx)
	require.NoError(t, err)
	require.Equal(t, "update", rep.Modules[0].Status)
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
