package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPackDelta(t *testing.T) {
	t.Parallel()
	oldDir := packTree(t)
	newDir := packTree(t)
	// A README that does not compress to nothing, so that patching it pays.
	var readme bytes.Buffer
	for i := range 400 {
		fmt.Fprintf(&readme, "line %d of the text\n", i*7919%10007)
	}
	require.NoError(t, os.WriteFile(filepath.Join(oldDir, "README"), readme.Bytes(), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(newDir, "README"), append(readme.Bytes(), "more"...), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(newDir, "NEW"), []byte("new"), 0o644))
	out := filepath.Join(t.TempDir(), "d.zip")

	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"delta without -o", []string{"pack", "delta", oldDir, newDir}, exitUsage},
		{"delta one dir", []string{"pack", "delta", oldDir, "-o", out}, exitUsage},
		{"delta into a tree", []string{"pack", "delta", oldDir, newDir, "-o", filepath.Join(newDir, "d.zip")}, exitUsage},
		{"apply two args", []string{"pack", "apply-delta", out, oldDir}, exitUsage},
		{"delta missing dir", []string{"pack", "delta", oldDir, filepath.Join(oldDir, "missing"), "-o", out + ".x"}, exitFailed},
	} {
		code, _, _ := runCLI(t, tc.args...)
		require.Equal(t, tc.code, code, tc.name)
	}

	code, stdout, stderr := runCLI(t, "pack", "delta", oldDir, newDir, "-o", out)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "1 patched, 1 whole")

	dest := filepath.Join(t.TempDir(), "new")
	code, stdout, stderr = runCLI(t, "pack", "apply-delta", out, oldDir, dest)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "rebuilt "+dest)
	got, err := os.ReadFile(filepath.Join(dest, "README"))
	require.NoError(t, err)
	want, _ := os.ReadFile(filepath.Join(newDir, "README"))
	require.Equal(t, want, got)

	// A wrong base: exit 1, one line naming the file, nothing written.
	require.NoError(t, os.WriteFile(filepath.Join(oldDir, "README"), []byte("edited"), 0o644))
	dest2 := filepath.Join(t.TempDir(), "new")
	code, _, stderr = runCLI(t, "pack", "apply-delta", out, oldDir, dest2)
	require.Equal(t, exitFailed, code)
	require.Contains(t, stderr, `"README"`)
	require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, stderr)
	_, err = os.Stat(dest2)
	require.True(t, os.IsNotExist(err))
}
