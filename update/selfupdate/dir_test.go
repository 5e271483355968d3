package selfupdate

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/signature"
)

// TestDefaultDirSharedRefused runs New with Dir left out, the executable living in a
// folder that also holds files upkeep did not put there (/usr/local/bin, ~/go/bin):
// New refuses, naming them, and moves nothing. A folder of its own is accepted, and
// so is a folder upkeep already manages.
func TestDefaultDirSharedRefused(t *testing.T) {
	pk, _, err := signature.GenerateKey(rand.Reader)
	require.NoError(t, err)
	key, err := pk.MarshalText()
	require.NoError(t, err)

	bin := filepath.Join(t.TempDir(), "bin")
	require.NoError(t, os.Mkdir(bin, 0o755))
	exe := filepath.Join(bin, "myapp")
	require.NoError(t, os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755))
	defer func(f func() (string, error)) { executable = f }(executable)
	executable = func() (string, error) { return exe, nil }
	cfg := func() Config {
		return Config{Module: "myapp", Version: "1.0.0", Source: t.TempDir(), Keys: key, StateDir: filepath.Join(t.TempDir(), "state")}
	}

	_, err = New(cfg())
	require.NoError(t, err, "a folder holding only the executable is the program's own")

	require.NoError(t, os.WriteFile(filepath.Join(bin, "notes.txt"), []byte("mine"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "other-tool"), []byte("tool"), 0o755))
	_, err = New(cfg())
	require.ErrorIs(t, err, ErrSharedDir)
	require.ErrorContains(t, err, "selfupdate: config Dir: "+bin)
	require.ErrorContains(t, err, "notes.txt, other-tool")
	for _, f := range []string{"myapp", "notes.txt", "other-tool"} {
		require.FileExists(t, filepath.Join(bin, f), "nothing moves")
	}

	// The same folder given as Dir is the caller's explicit choice.
	c := cfg()
	c.Dir = bin
	_, err = New(c)
	require.NoError(t, err)

	// Once upkeep manages the folder, what it installed there is its own.
	c = cfg()
	st := filepath.Join(c.StateDir, "modules", "myapp")
	require.NoError(t, os.MkdirAll(st, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(st, "status.json"), []byte(`{"name":"myapp","installed":"1.1.0","managed":true}`), 0o600))
	_, err = New(c)
	require.NoError(t, err)
	require.False(t, errors.Is(err, ErrSharedDir))
}
