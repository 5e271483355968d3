package pack

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/testenv"
)

// TestPatchRoundTrip: a patch rebuilds the new file exactly, whatever changed: bytes
// replaced, inserted or removed, blocks moved, the file emptied or grown, nothing in
// common.
func TestPatchRoundTrip(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	old, edited := binaryLikePair(1<<20, 1)
	moved := append(append([]byte{}, old[600<<10:]...), old[:600<<10]...)
	cases := map[string][2][]byte{
		"edited":        {old, edited},
		"same":          {old, old},
		"moved blocks":  {old, moved},
		"emptied":       {old, nil},
		"from nothing":  {[]byte("x"), random(5000)},
		"unrelated":     {random(3000), random(4000)},
		"grown":         {old[:1000], old},
		"tiny":          {[]byte("abc"), []byte("abd")},
		"shifted by 3":  {old, append([]byte("xyz"), old...)},
		"tail changed":  {old, append(append([]byte{}, old[:len(old)-5]...), "12345"...)},
		"short and new": {[]byte("0123456789abcdef0123"), []byte("0123456789abcdefXY")},
	}
	var pe patchEncoder
	defer pe.close()
	var pd patchDecoder
	defer pd.close()
	for name, c := range cases {
		p, err := pe.encode(context.Background(), c[0], c[1])
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := pd.apply(context.Background(), bytes.NewReader(p), int64(len(p)), bytes.NewReader(c[0]), int64(len(c[0])), &out); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(out.Bytes(), c[1]) {
			t.Fatalf("%s: rebuilt %d bytes, not the %d of the new file", name, out.Len(), len(c[1]))
		}
		t.Logf("%s: %d -> %d bytes: patch of %d bytes", name, len(c[0]), len(c[1]), len(p))
	}
	// 1 % of a megabyte edited costs about what the edits hold, not the file.
	p, _ := pe.encode(context.Background(), old, edited)
	if len(p) > 40<<10 {
		t.Errorf("patch of 1 %% edits is %d bytes", len(p))
	}
}

// FuzzPatch checks that no patch makes applying panic, read outside its base or
// fail other than with errPatch, and that patches built from two inputs rebuild them.
func FuzzPatch(f *testing.F) {
	var pe patchEncoder
	old, cur := binaryLikePair(4096, 3)
	p, _ := pe.encode(context.Background(), old, cur)
	f.Add(p, cur)
	f.Add([]byte(patchMagic+"\x00\x00\x00"), []byte("abc"))
	f.Add([]byte("UKP2\x05\x01\x01"), []byte{})
	var mu sync.Mutex // the coders are reused between runs
	var pd patchDecoder
	var enc patchEncoder
	f.Fuzz(func(t *testing.T, patch, other []byte) {
		mu.Lock()
		defer mu.Unlock()
		var out bytes.Buffer
		err := pd.apply(context.Background(), bytes.NewReader(patch), int64(len(patch)), bytes.NewReader(old), int64(len(old)), &limitWriter{w: &out, n: 1 << 20})
		if err != nil && !errors.Is(err, errPatch) && !errors.Is(err, errLimitWriter) {
			t.Fatalf("error %v is not errPatch", err)
		}
		q, err := enc.encode(context.Background(), old, other)
		if err != nil {
			t.Fatal(err)
		}
		out.Reset()
		if err := pd.apply(context.Background(), bytes.NewReader(q), int64(len(q)), bytes.NewReader(old), int64(len(old)), &out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), other) {
			t.Fatal("the patch does not rebuild the file")
		}
	})
}

var errLimitWriter = errors.New("too much output")

// limitWriter fails once more than n bytes are written, as ApplyDelta's size check
// does.
type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.w.Len()+len(p) > l.n {
		return 0, errLimitWriter
	}
	return l.w.Write(p)
}

// TestPatchAgainstZstd: on a binary-like file with 1 % of its bytes edited, and on
// one with a few bytes changed, a patch is at most 1.5 times what `zstd -19
// --long=27 --patch-from` makes of the same pair (BenchmarkDeltaBinary measures the
// real binaries).
func TestPatchAgainstZstd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs zstd -19")
	}
	zstdCmd := testenv.NeedProgram(t, "zstd", "zstd")
	t.Parallel()
	edited, _ := binaryLikePair(2<<20, 1)
	few := append([]byte{}, edited...)
	copy(few[1<<20:], "version 1.0.1")
	copy(few[5000:], "1.0.1")
	pairs := map[string][2][]byte{}
	pairs["1%-edits"] = func() [2][]byte { o, c := binaryLikePair(2<<20, 1); return [2][]byte{o, c} }()
	pairs["a-version-string"] = [2][]byte{edited, few}
	var pe patchEncoder
	defer pe.close()
	for name, p := range pairs {
		dir := t.TempDir()
		oldPath, newPath, out := filepath.Join(dir, "old"), filepath.Join(dir, "new"), filepath.Join(dir, "p.zst")
		require.NoError(t, os.WriteFile(oldPath, p[0], 0o644))
		require.NoError(t, os.WriteFile(newPath, p[1], 0o644))
		cmd := exec.Command(zstdCmd, "-q", "-f", "-19", "--long=27", "--patch-from="+oldPath, newPath, "-o", out)
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", cmd, err, o)
		}
		zfi, err := os.Stat(out)
		require.NoError(t, err)
		patch, err := pe.encode(context.Background(), p[0], p[1])
		require.NoError(t, err)
		t.Logf("%s: patch %d bytes, zstd %d bytes (%.3fx)", name, len(patch), zfi.Size(), float64(len(patch))/float64(zfi.Size()))
		if float64(len(patch)) > 1.5*float64(zfi.Size()) {
			t.Errorf("%s: patch of %d bytes, more than 1.5 × zstd's %d", name, len(patch), zfi.Size())
		}
	}
}
