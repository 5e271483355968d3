package pack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// countingReaderAt counts the bytes and reads asked of a ReaderAt.
type countingReaderAt struct {
	r            io.ReaderAt
	bytes, reads atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.bytes.Add(int64(len(p)))
	c.reads.Add(1)
	return c.r.ReadAt(p, off)
}

// indexTree is a tree with one large file, many small ones and a folder.
func indexTree(t *testing.T) (string, deltaTree) {
	tree := deltaTree{"big.bin": textBlob(9, 3<<20), "conf/web.config": textBlob(1, 20000), "empty/": "", "zero": ""}
	for i := range 200 {
		tree["lib/"+strings.Repeat("d/", i%7)+"f"+itoa(i)] = textBlob(i, 3000)
	}
	dir := t.TempDir()
	writeDeltaTree(t, dir, tree)
	return dir, tree
}

func itoa(i int) string {
	return string([]byte{byte('0' + i/100), byte('0' + i/10%10), byte('0' + i%10)})
}

// TestIndexCopyEntry checks that each file of a pack is read alone, equal to the
// tree's, reading the tail, the central directory and the entry only.
func TestIndexCopyEntry(t *testing.T) {
	t.Parallel()
	for _, m := range []Method{Deflate, Zstd, Store} {
		t.Run(m.String(), func(t *testing.T) {
			dir, tree := indexTree(t)
			var buf bytes.Buffer
			if err := BuildDir(context.Background(), &buf, dir, WithMethod(m)); err != nil {
				t.Fatal(err)
			}
			cr := &countingReaderAt{r: bytes.NewReader(buf.Bytes())}
			x, err := ReadIndex(cr, int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			if cr.reads.Load() > 3 {
				t.Errorf("reading the index took %d reads", cr.reads.Load())
			}
			for name, want := range tree {
				if strings.HasSuffix(name, "/") {
					if err := x.CopyEntry(context.Background(), strings.TrimSuffix(name, "/"), io.Discard); !errors.Is(err, ErrFormat) {
						t.Errorf("%s: copying a folder: %v", name, err)
					}
					continue
				}
				before := cr.bytes.Load()
				var got bytes.Buffer
				if err := x.CopyEntry(context.Background(), name, &got); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if got.String() != want {
					t.Fatalf("%s: wrong content", name)
				}
				e, _ := x.Entry(name)
				if read := cr.bytes.Load() - before; read > e.Compressed+int64(len(name))+lenLocal+64 {
					t.Errorf("%s: %d bytes read for a %d-byte entry", name, read, e.Compressed)
				}
			}
			if err := x.CopyEntry(context.Background(), "nope", io.Discard); !errors.Is(err, ErrFormat) {
				t.Errorf("missing entry: %v", err)
			}
		})
	}
}

// TestIndexCorrupt checks that a damaged entry is refused, naming it.
func TestIndexCorrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeDeltaTree(t, dir, deltaTree{"a.txt": textBlob(1, 5000), "b.txt": textBlob(2, 5000)})
	var buf bytes.Buffer
	if err := BuildDir(context.Background(), &buf, dir, WithMethod(Store)); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	i := bytes.Index(data, []byte(textBlob(2, 5000)[:100]))
	data[i+50] ^= 1
	x, err := ReadIndex(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.CopyEntry(context.Background(), "a.txt", io.Discard); err != nil {
		t.Fatal(err)
	}
	err = x.CopyEntry(context.Background(), "b.txt", io.Discard)
	var ee *EntryError
	if !errors.As(err, &ee) || ee.Entry != "b.txt" || !errors.Is(err, ErrChecksum) {
		t.Fatalf("corrupt entry: %v", err)
	}
}

// FuzzReadIndex checks that no pack makes ReadIndex or CopyEntry panic, and that
// CopyEntry never writes more than an entry declares.
func FuzzReadIndex(f *testing.F) {
	dir := f.TempDir()
	for p, c := range (deltaTree{"a.txt": textBlob(1, 3000), "lib/b.txt": "bee"}) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte(c), 0o644)
	}
	for _, m := range []Method{Deflate, Zstd, Store} {
		var buf bytes.Buffer
		if err := BuildDir(context.Background(), &buf, dir, WithMethod(m)); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	lim := Limits{MaxTotal: 1 << 20, MaxFiles: 64, MaxFileSize: 256 << 10, MaxRatio: 200, RatioMinSize: 1 << 10, MaxDepth: 16}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := ReadIndex(bytes.NewReader(data), int64(len(data)), WithLimits(lim))
		if err != nil {
			return
		}
		for name, fl := range x.byName {
			var n countingWriter
			if err := x.CopyEntry(context.Background(), name, &n); err == nil && uint64(n) != fl.usize {
				t.Fatalf("%s: %d bytes written, %d declared", name, n, fl.usize)
			}
			if uint64(n) > fl.usize {
				t.Fatalf("%s: %d bytes written beyond %d declared", name, n, fl.usize)
			}
		}
	})
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
