package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// packTree writes a small tree and returns its folder.
func packTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "empty"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "run"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README"), bytes.Repeat([]byte("text "), 1000), 0o644))
	return dir
}

func TestPackUsage(t *testing.T) {
	t.Parallel()
	dir := packTree(t)
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"no subcommand", []string{"pack"}, exitUsage},
		{"unknown subcommand", []string{"pack", "frob"}, exitUsage},
		{"build without -o", []string{"pack", "build", dir}, exitUsage},
		{"build without DIR", []string{"pack", "build", "-o", "x.zip"}, exitUsage},
		{"build bad method", []string{"pack", "build", dir, "-o", filepath.Join(t.TempDir(), "x.zip"), "--method", "lzma"}, exitUsage},
		{"build into the tree", []string{"pack", "build", dir, "-o", filepath.Join(dir, "x.zip")}, exitUsage},
		{"extract one arg", []string{"pack", "extract", "x.zip"}, exitUsage},
		{"extract sig without pub", []string{"pack", "extract", "x.zip", "d", "--sig", "s"}, exitUsage},
		{"info no arg", []string{"pack", "info"}, exitUsage},
		{"help", []string{"pack", "-h"}, exitOK},
		{"build help", []string{"pack", "build", "-h"}, exitOK},
		{"info missing file", []string{"pack", "info", filepath.Join(dir, "missing.zip")}, exitFailed},
		{"build missing dir", []string{"pack", "build", filepath.Join(dir, "missing"), "-o", filepath.Join(t.TempDir(), "x.zip")}, exitFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, _ := runCLI(t, tt.args...)
			require.Equal(t, tt.code, code)
		})
	}
}

func TestPackBuildExtractInfo(t *testing.T) {
	dir := packTree(t)
	out := t.TempDir()
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	for _, m := range []string{"deflate", "zstd"} {
		a, b := filepath.Join(out, m+"-a.zip"), filepath.Join(out, m+"-b.zip")
		code, stdout, stderr := runCLI(t, "pack", "build", dir, "-o", a, "--method", m)
		require.Equal(t, exitOK, code, stderr)
		require.Contains(t, stdout, a)
		code, _, stderr = runCLI(t, "pack", "build", "--method", m, "-o", b, dir)
		require.Equal(t, exitOK, code, stderr)
		ab, _ := os.ReadFile(a)
		bb, _ := os.ReadFile(b)
		require.Equal(t, ab, bb, "same tree, same bytes")

		code, stdout, stderr = runCLI(t, "pack", "info", a, "--json")
		require.Equal(t, exitOK, code, stderr)
		var info struct {
			Files, Dirs, Links int
			Size               int64
			Methods            []string
			Entries            []struct{ Name, Mode, Mtime string }
		}
		require.NoError(t, json.Unmarshal([]byte(stdout), &info))
		require.Equal(t, 2, info.Files)
		require.Equal(t, 2, info.Dirs)
		require.Equal(t, []string{"store", m}, info.Methods)
		require.Equal(t, "bin/run", info.Entries[2].Name)
		require.Equal(t, "-rwxr-xr-x", info.Entries[2].Mode)
		require.Equal(t, "2023-11-14T22:13:20Z", info.Entries[2].Mtime)

		code, stdout, _ = runCLI(t, "pack", "info", a)
		require.Equal(t, exitOK, code)
		require.Contains(t, stdout, "bin/run")

		dest := filepath.Join(out, m+"-tree")
		code, _, stderr = runCLI(t, "pack", "extract", a, dest)
		require.Equal(t, exitOK, code, stderr)
		fi, err := os.Stat(filepath.Join(dest, "bin", "run"))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
		_, err = os.Stat(filepath.Join(dest, "empty"))
		require.NoError(t, err)

		code, _, stderr = runCLI(t, "pack", "extract", a, dest)
		require.Equal(t, exitFailed, code, "DEST not empty")
		require.Contains(t, stderr, "not empty")
	}
}

func TestPackExtractRefusesUnsafe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	z := filepath.Join(dir, "evil.zip")
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create("ok.txt")
	require.NoError(t, err)
	w.Write([]byte("fine"))
	w, err = zw.Create("../escape.txt")
	require.NoError(t, err)
	w.Write([]byte("evil"))
	require.NoError(t, zw.Close())
	require.NoError(t, os.WriteFile(z, b.Bytes(), 0o644))

	dest := filepath.Join(dir, "dest")
	require.NoError(t, os.Mkdir(dest, 0o755))
	code, _, stderr := runCLI(t, "pack", "extract", z, dest)
	require.Equal(t, exitFailed, code)
	require.Contains(t, stderr, `"../escape.txt"`)
	require.Contains(t, stderr, "dot-segment")
	require.Equal(t, 1, bytes.Count([]byte(stderr), []byte("\n")), "one line")
	ents, err := os.ReadDir(dest)
	require.NoError(t, err)
	require.Empty(t, ents)
	ents, err = os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, ents, 2, "only evil.zip and dest")

	code, _, stderr = runCLI(t, "pack", "info", z)
	require.Equal(t, exitFailed, code)
	require.Contains(t, stderr, "dot-segment")
}

func TestPackExtractSignatureNotWired(t *testing.T) {
	t.Parallel()
	dir := packTree(t)
	z := filepath.Join(t.TempDir(), "p.zip")
	code, _, _ := runCLI(t, "pack", "build", dir, "-o", z)
	require.Equal(t, exitOK, code)
	dest := filepath.Join(t.TempDir(), "d")
	code, _, stderr := runCLI(t, "pack", "extract", z, dest, "--pub", "k.pub")
	require.Equal(t, exitFailed, code, stderr)
	_, err := os.Stat(dest)
	require.True(t, os.IsNotExist(err))
}

func TestPackBuildFailureLeavesNoFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "con.txt"), []byte("x"), 0o644))
	outDir := t.TempDir()
	code, _, stderr := runCLI(t, "pack", "build", dir, "-o", filepath.Join(outDir, "p.zip"))
	require.Equal(t, exitFailed, code)
	require.Contains(t, stderr, "con.txt")
	ents, err := os.ReadDir(outDir)
	require.NoError(t, err)
	require.Empty(t, ents)
}
