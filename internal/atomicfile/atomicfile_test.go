package atomicfile_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
)

func TestWriteKeepsOldContentOnFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	require.NoError(t, atomicfile.WriteFile(p, []byte("old"), 0o600))
	boom := errors.New("boom")
	err := atomicfile.Write(p, 0o600, func(w io.Writer) error {
		w.Write([]byte("half of the new"))
		return boom
	})
	require.ErrorIs(t, err, boom)
	b, _ := os.ReadFile(p)
	require.Equal(t, "old", string(b))
	ents, _ := os.ReadDir(dir)
	require.Len(t, ents, 1, "no temporary file left")

	require.NoError(t, atomicfile.WriteFile(p, []byte("new"), 0o644))
	b, _ = os.ReadFile(p)
	require.Equal(t, "new", string(b))
	fi, _ := os.Stat(p)
	require.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
}

func TestCommitTwice(t *testing.T) {
	t.Parallel()
	f, err := atomicfile.Create(filepath.Join(t.TempDir(), "x"), 0o644)
	require.NoError(t, err)
	require.NoError(t, f.Commit())
	require.Error(t, f.Commit())
	f.Abort() // does nothing after Commit
}

func TestCreateInMissingFolder(t *testing.T) {
	t.Parallel()
	_, err := atomicfile.Create(filepath.Join(t.TempDir(), "missing", "x"), 0o644)
	require.Error(t, err)
}

func ExampleWrite() {
	dir, _ := os.MkdirTemp("", "atomicfile")
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "status.json")
	atomicfile.WriteFile(p, []byte(`{"installed":"1.0.0"}`), 0o644)
	// A writer that fails leaves the file as it was.
	atomicfile.Write(p, 0o644, func(w io.Writer) error { return errors.New("disk full") })
	b, _ := os.ReadFile(p)
	fmt.Println(string(b))
	// Output: {"installed":"1.0.0"}
}
