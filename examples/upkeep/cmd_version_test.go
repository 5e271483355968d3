package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// upkeep version and --version print the version; a misspelt command gets a guess.
func TestVersionAndDidYouMean(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errs := runCLI(t, args...)
		require.Equal(t, 0, code, errs)
		require.Regexp(t, `^upkeep (\(devel\)|v\S+)\n$`, out, args)
	}
	code, _, errs := runCLI(t, "instal", "--config", "x")
	require.Equal(t, 2, code)
	require.Contains(t, errs, `upkeep: unknown command "instal": did you mean "install"?`)
	code, _, errs = runCLI(t, "stauts")
	require.Equal(t, 2, code)
	require.Contains(t, errs, `did you mean "status"?`)
	code, _, errs = runCLI(t, "frobnicate")
	require.Equal(t, 2, code)
	require.NotContains(t, errs, "did you mean")
}

// Built from this checkout, the command says (devel).
func TestVersionOfABuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	t.Parallel()
	exe := filepath.Join(t.TempDir(), "upkeep")
	gobin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	out, err := exec.Command(gobin, "build", "-o", exe, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	out, err = exec.Command(exe, "--version").Output()
	require.NoError(t, err)
	require.Regexp(t, `^upkeep (\(devel\)|v\S+)\n$`, string(out))
}
