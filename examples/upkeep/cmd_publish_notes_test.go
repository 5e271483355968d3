package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update/updatetest"
)

// publish --notes sets a release's notes and --major its major version; publishing a
// version and platform again says so in words.
func TestPublishNotesAndDuplicate(t *testing.T) {
	t.Parallel()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	dir := t.TempDir()
	sec, _ := publisher(t, dir)
	repo, build := filepath.Join(dir, "repo"), filepath.Join(dir, "b")
	updatetest.WriteTree(t, build, map[string]string{"index.html": "x"})
	notes := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notes, []byte("Corrige l'export CSV.\n"), 0o644))
	code, _, errs := runCLI(t, "publish", "--repo", repo, "--sec", sec, "--module", "web", "--version", "1.0",
		"--platform", platform, "--from", build, "--notes", notes, "--major", "22")
	require.Equal(t, 0, code, errs)
	var m struct {
		Releases []struct {
			Version string `json:"version"`
			Notes   string `json:"notes"`
			Major   int    `json:"major"`
		} `json:"releases"`
	}
	read := func() {
		b, err := os.ReadFile(filepath.Join(repo, "manifest.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &m))
	}
	read()
	require.Equal(t, "Corrige l'export CSV.", m.Releases[0].Notes)
	require.Equal(t, 22, m.Releases[0].Major)

	code, _, errs = runCLI(t, "publish", "--repo", repo, "--sec", sec, "--module", "web", "--version", "1.0.0",
		"--platform", platform, "--from", build)
	require.Equal(t, 1, code)
	require.Contains(t, errs, "web 1.0.0 for "+platform+" is already published: a published pack is never replaced")
	require.False(t, strings.HasPrefix(strings.TrimPrefix(errs, "upkeep publish: "), "releases["), errs)

	// Notes of another platform's publication replace the release's.
	other := "windows/amd64"
	if platform == other {
		other = "linux/amd64"
	}
	require.NoError(t, os.WriteFile(notes, []byte("Corrige l'export CSV et l'import.\n"), 0o644))
	code, _, errs = runCLI(t, "publish", "--repo", repo, "--sec", sec, "--module", "web", "--version", "1.0",
		"--platform", other, "--from", build, "--notes", notes)
	require.Equal(t, 0, code, errs)
	read()
	require.Len(t, m.Releases, 1)
	require.Equal(t, "Corrige l'export CSV et l'import.", m.Releases[0].Notes)

	require.NoError(t, os.WriteFile(notes, []byte{0xff, 0xfe}, 0o644))
	code, _, errs = runCLI(t, "publish", "--repo", repo, "--sec", sec, "--module", "web", "--version", "1.1",
		"--platform", platform, "--from", build, "--notes", notes)
	require.Equal(t, 1, code)
	require.Contains(t, errs, "not UTF-8 text")
}
