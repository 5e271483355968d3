package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update/updatetest"
)

// TestPackExtractVerified checks `pack extract --pub --sig`: a good signature extracts,
// a wrong key or a tampered pack exits 1 with nothing written.
func TestPackExtractVerified(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sec, pub := publisher(t, dir)
	_, otherPub := publisher(t, t.TempDir())
	tree := map[string]string{"a.txt": "a", "bin/run*": "#!/bin/sh\n"}
	build := filepath.Join(dir, "build")
	updatetest.WriteTree(t, build, tree)
	zip := filepath.Join(dir, "p.zip")
	code, _, errs := runCLI(t, "pack", "build", build, "-o", zip)
	require.Equal(t, 0, code, errs)
	code, _, errs = runCLI(t, "sign", "--sec", sec, zip)
	require.Equal(t, 0, code, errs)

	dest := filepath.Join(dir, "out")
	code, _, errs = runCLI(t, "pack", "extract", zip, dest, "--pub", pub, "--sig", zip+".minisig")
	require.Equal(t, 0, code, errs)
	require.Equal(t, tree, updatetest.ReadTree(t, dest))

	dest2 := filepath.Join(dir, "out2")
	code, _, errs = runCLI(t, "pack", "extract", "--pub", otherPub, "--sig", zip+".minisig", zip, dest2)
	require.Equal(t, 1, code)
	require.Contains(t, errs, "p.zip")
	require.NoDirExists(t, dest2)

	b, _ := os.ReadFile(zip)
	b[len(b)/2] ^= 1
	require.NoError(t, os.WriteFile(zip, b, 0o644))
	code, _, errs = runCLI(t, "pack", "extract", zip, dest2, "--pub", pub, "--sig", zip+".minisig")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "p.zip", "the error names the pack")
	require.NoDirExists(t, dest2)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		require.NotContains(t, e.Name(), "out2", "nothing left beside the destination")
	}
}
