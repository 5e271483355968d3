package pack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"
)

// deltaTree is a tree to write: contents by path; "dir/" makes an empty folder,
// "->target" a link.
type deltaTree map[string]string

func writeDeltaTree(t testing.TB, dir string, tree deltaTree) {
	t.Helper()
	for p, c := range tree {
		full := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(p, "/")))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(p, "/"):
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(c, "->"):
			if err := os.Symlink(c[2:], full); err != nil {
				t.Fatal(err)
			}
		default:
			mode := os.FileMode(0o644)
			if strings.HasSuffix(p, ".sh") {
				mode = 0o755
			}
			if err := os.WriteFile(full, []byte(c), mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(full, mode)
		}
	}
}

// treeDigest describes a tree: type, permissions, content hash or link target.
func treeDigest(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case rel == ".":
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			fmt.Fprintf(&b, "%s link %s\n", rel, target)
		case fi.IsDir():
			fmt.Fprintf(&b, "%s dir %v\n", rel, fi.Mode().Perm())
		default:
			c, _ := os.ReadFile(p)
			fmt.Fprintf(&b, "%s file %v %x\n", rel, fi.Mode().Perm(), sha256.Sum256(c))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func textBlob(seed, n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %d of file %d: the quick brown fox jumps over the lazy dog %d\n", i, seed, (i*7919+seed)%1000)
	}
	return b.String()[:n]
}

var (
	deltaOld = deltaTree{
		"bin/run.sh":      "#!/bin/sh\necho old\n",
		"conf/web.config": textBlob(1, 20000),
		"lib/big.txt":     textBlob(2, 300000),
		"lib/same.txt":    textBlob(3, 5000),
		"lib/gone.txt":    "removed in the new version",
		"img/logo.png":    textBlob(4, 3000),
		"link":            "->lib/same.txt",
		"empty/":          "",
	}
	deltaNew = deltaTree{
		"bin/run.sh":      "#!/bin/sh\necho new\n",
		"conf/web.config": strings.Replace(textBlob(1, 20000), "line 5 ", "LINE 5 ", 1),
		"lib/big.txt":     strings.Replace(textBlob(2, 300000), "line 4000 ", "changed 4000 ", 1),
		"lib/same.txt":    textBlob(3, 5000),
		"lib/added.txt":   "new file",
		"img/logo.png":    textBlob(5, 3000),
		"link":            "->lib/added.txt",
		"empty/":          "",
		"newempty/":       "",
		"zero":            "",
	}
)

// buildTestDelta writes old and new trees and returns their folders and the delta.
func buildTestDelta(t testing.TB, oldT, newT deltaTree) (oldDir, newDir string, delta []byte) {
	t.Helper()
	oldDir, newDir = t.TempDir(), t.TempDir()
	writeDeltaTree(t, oldDir, oldT)
	writeDeltaTree(t, newDir, newT)
	var buf bytes.Buffer
	if err := BuildDeltaDir(context.Background(), &buf, oldDir, newDir); err != nil {
		t.Fatal(err)
	}
	return oldDir, newDir, buf.Bytes()
}

func TestDeltaRoundTrip(t *testing.T) {
	t.Parallel()
	oldDir, newDir, delta := buildTestDelta(t, deltaOld, deltaNew)
	info, err := ReadDeltaInfo(bytes.NewReader(delta), int64(len(delta)))
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]DeltaOp{}
	for _, e := range info.Entries {
		ops[e.Path] = e.Op
	}
	want := map[string]DeltaOp{"lib/same.txt": DeltaSame, "lib/big.txt": DeltaPatch, "conf/web.config": DeltaPatch,
		"lib/added.txt": DeltaWhole, "img/logo.png": DeltaWhole, "zero": DeltaWhole}
	for p, op := range want {
		if ops[p] != op {
			t.Errorf("%s: op %q, want %q", p, ops[p], op)
		}
	}
	if _, ok := ops["lib/gone.txt"]; ok {
		t.Error("removed file is listed")
	}
	dest := filepath.Join(t.TempDir(), "new")
	rep, err := ApplyDelta(context.Background(), bytes.NewReader(delta), int64(len(delta)), oldDir, dest, WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := treeDigest(t, dest), treeDigest(t, newDir); got != want {
		t.Errorf("rebuilt tree differs:\n%s\nwant:\n%s", got, want)
	}
	if rep.Same != 1 || rep.Patched < 2 || len(rep.Fetched) != 0 {
		t.Errorf("report %+v", rep)
	}
	// Small: the delta holds far less than the changed big file.
	if len(delta) > 20000 {
		t.Errorf("delta is %d bytes", len(delta))
	}
	// Deterministic.
	var again bytes.Buffer
	if err := BuildDeltaDir(context.Background(), &again, oldDir, newDir); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), delta) {
		t.Error("the same trees gave different deltas")
	}
}

func TestDeltaWrongBase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file, content string
	}{
		{"patched base edited", "lib/big.txt", textBlob(9, 300000)},
		{"same base edited", "lib/same.txt", textBlob(8, 5000)},
		{"base missing", "conf/web.config", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			oldDir, newDir, delta := buildTestDelta(t, deltaOld, deltaNew)
			p := filepath.Join(oldDir, filepath.FromSlash(tc.file))
			if tc.content == "" {
				os.Remove(p)
			} else if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			before := treeDigest(t, oldDir)
			parent := t.TempDir()
			dest := filepath.Join(parent, "new")
			_, err := ApplyDelta(context.Background(), bytes.NewReader(delta), int64(len(delta)), oldDir, dest, WithoutSync())
			var ee *EntryError
			if !errors.Is(err, ErrBase) || !errors.As(err, &ee) || ee.Entry != tc.file || ee.Rule != RuleBase {
				t.Fatalf("err = %v, want ErrBase naming %s", err, tc.file)
			}
			if ents, _ := os.ReadDir(parent); len(ents) != 0 {
				t.Errorf("left %v in dest's parent", ents)
			}
			if treeDigest(t, oldDir) != before {
				t.Error("base changed")
			}
			// With a fetch function, the file comes from elsewhere and the tree is whole.
			fetch := func(ctx context.Context, name string, w io.Writer) error {
				if name != tc.file {
					return fmt.Errorf("fetch of %s", name)
				}
				_, err := w.Write([]byte(deltaNew[name]))
				return err
			}
			rep, err := ApplyDelta(context.Background(), bytes.NewReader(delta), int64(len(delta)), oldDir, dest, WithoutSync(), WithFetch(fetch))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Fetched) != 1 || rep.Fetched[0] != tc.file {
				t.Errorf("fetched %v", rep.Fetched)
			}
			if treeDigest(t, dest) != treeDigest(t, newDir) {
				t.Error("rebuilt tree differs")
			}
			// A fetch that gives other bytes fails.
			bad := func(ctx context.Context, name string, w io.Writer) error {
				_, err := w.Write([]byte("x"))
				return err
			}
			_, err = ApplyDelta(context.Background(), bytes.NewReader(delta), int64(len(delta)), oldDir, filepath.Join(parent, "again"), WithoutSync(), WithFetch(bad))
			if err == nil || !strings.Contains(err.Error(), tc.file) {
				t.Errorf("bad fetch: err = %v", err)
			}
		})
	}
}

func TestDeltaBaseLinkNotFollowed(t *testing.T) {
	t.Parallel()
	oldDir, _, delta := buildTestDelta(t, deltaOld, deltaNew)
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte(deltaOld["lib/same.txt"]), 0o600)
	p := filepath.Join(oldDir, "lib", "same.txt")
	os.Remove(p)
	if err := os.Symlink(secret, p); err != nil {
		t.Fatal(err)
	}
	_, err := ApplyDelta(context.Background(), bytes.NewReader(delta), int64(len(delta)), oldDir, filepath.Join(t.TempDir(), "d"), WithoutSync())
	if !errors.Is(err, ErrBase) || !strings.Contains(err.Error(), "lib/same.txt") {
		t.Fatalf("err = %v, want ErrBase for the link", err)
	}
}

func TestDeltaDestNotEmpty(t *testing.T) {
	t.Parallel()
	oldDir, _, delta := buildTestDelta(t, deltaOld, deltaNew)
	dest := t.TempDir()
	os.WriteFile(filepath.Join(dest, "keep"), []byte("x"), 0o644)
	_, err := ApplyDelta(context.Background(), bytes.NewReader(delta), int64(len(delta)), oldDir, dest, WithoutSync())
	if !errors.Is(err, ErrDestination) {
		t.Fatalf("err = %v", err)
	}
}

// rawDelta builds a delta zip by hand: the listing (marshalled unless a string) and
// entries (name -> data; names under patch/ are stored, others zstd-compressed).
type deltaRawEntry struct {
	name   string
	data   []byte
	method Method
}

func rawDelta(t testing.TB, listing any, entries ...deltaRawEntry) []byte {
	t.Helper()
	var js []byte
	switch l := listing.(type) {
	case string:
		js = []byte(l)
	default:
		var err error
		if js, err = json.Marshal(l); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(uint16(Zstd), func(w io.Writer) (io.WriteCloser, error) { return zstd.NewWriter(w) })
	add := func(e deltaRawEntry) {
		h := &zip.FileHeader{Name: e.name, Method: uint16(e.method)}
		h.SetMode(0o644)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	add(deltaRawEntry{name: DeltaListingName, data: js, method: Deflate})
	for _, e := range entries {
		add(e)
	}
	zw.Close()
	return buf.Bytes()
}

func sumHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestDeltaHostile(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	oldContent := []byte(textBlob(7, 50000))
	os.WriteFile(filepath.Join(base, "a.txt"), oldContent, 0o644)
	newContent := []byte(strings.Replace(string(oldContent), "line 10 ", "line ten ", 1))
	for _, version := range []int{1, 2} {
		t.Run(fmt.Sprint("v", version), func(t *testing.T) {
			t.Parallel()
			testDeltaHostile(t, version, base, oldContent, newContent)
		})
	}
}

// encodeTestPatch returns the patch of the delta format version that rebuilds cur
// from old.
func encodeTestPatch(t testing.TB, version int, old, cur []byte) []byte {
	t.Helper()
	if version == 1 {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(32<<20), zstd.WithEncoderDictRaw(deltaDictID, old))
		if err != nil {
			t.Fatal(err)
		}
		defer enc.Close()
		return enc.EncodeAll(cur, nil)
	}
	var pe patchEncoder
	defer pe.close()
	p, err := pe.encode(context.Background(), old, cur)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testDeltaHostile(t *testing.T, version int, base string, oldContent, newContent []byte) {
	format := map[int]string{1: DeltaFormatV1, 2: DeltaFormat}[version]
	frame := encodeTestPatch(t, version, oldContent, newContent)
	otherFrame := encodeTestPatch(t, version, oldContent, []byte(textBlob(8, len(newContent))))
	bomb := make([]byte, 3<<20)
	bombFrame := encodeTestPatch(t, version, oldContent[:1000], bomb)
	file := func(p string, content []byte, op DeltaOp) deltaListItem {
		it := deltaListItem{Path: p, Type: "file", Mode: 0o644, Size: int64(len(content)), SHA256: sumHex(content), Op: op}
		if op == DeltaPatch {
			it.BaseSize, it.BaseSHA256 = int64(len(oldContent)), sumHex(oldContent)
		}
		return it
	}
	list := func(items ...deltaListItem) deltaListing { return deltaListing{Format: format, Entries: items} }
	patched := file("a.txt", newContent, DeltaPatch)
	bombItem := file("a.txt", bomb, DeltaPatch)
	bombItem.BaseSize, bombItem.BaseSHA256 = 1000, sumHex(oldContent[:1000])
	lying := file("a.txt", newContent, DeltaPatch)
	lying.Size = 10
	for _, tc := range []struct {
		name    string
		delta   []byte
		wantErr error
		rule    Rule
	}{
		{"valid", rawDelta(t, list(patched), deltaRawEntry{name: "patch/a.txt", data: frame}), nil, ""},
		{"not a zip", []byte("hello"), ErrFormat, RuleStructure},
		{"no listing", func() []byte {
			var b bytes.Buffer
			zw := zip.NewWriter(&b)
			zw.Create("x")
			zw.Close()
			return b.Bytes()
		}(), ErrFormat, RuleListing},
		{"listing not JSON", rawDelta(t, "{"), ErrFormat, RuleListing},
		{"wrong format", rawDelta(t, deltaListing{Format: "other"}), ErrFormat, RuleListing},
		{"unknown field", rawDelta(t, `{"format":"upkeep-delta/1","entries":[],"x":1}`), ErrFormat, RuleListing},
		{"dotdot path", rawDelta(t, list(file("../a.txt", newContent, DeltaWhole)), deltaRawEntry{name: "file/../a.txt", data: newContent, method: Zstd}), ErrUnsafePath, ""},
		{"absolute path", rawDelta(t, list(file("/etc/passwd", nil, DeltaWhole))), ErrUnsafePath, RuleAbsolute},
		{"backslash", rawDelta(t, list(file(`a\b`, nil, DeltaSame))), ErrUnsafePath, RuleBackslash},
		{"duplicate listing entry", rawDelta(t, list(file("b", nil, DeltaSame), file("b", nil, DeltaSame))), ErrDuplicate, RuleDuplicate},
		{"file under a file", rawDelta(t, list(file("b", nil, DeltaSame), file("b/c", nil, DeltaSame))), ErrDuplicate, RuleFileDir},
		{"link out", rawDelta(t, list(deltaListItem{Path: "l", Type: "link", Mode: 0o777, Target: "../../etc"})), ErrUnsafePath, RuleLink},
		{"setuid mode", rawDelta(t, list(deltaListItem{Path: "x", Type: "file", Mode: 0o4755, SHA256: sumHex(nil), Op: DeltaWhole}), deltaRawEntry{name: "file/x", method: Zstd}), ErrFormat, RuleListing},
		{"patch without entry", rawDelta(t, list(patched)), ErrFormat, RuleListing},
		{"entry not listed", rawDelta(t, list(patched), deltaRawEntry{name: "patch/a.txt", data: frame}, deltaRawEntry{name: "file/extra", data: []byte("x"), method: Zstd}), ErrFormat, RuleListing},
		{"duplicate zip entry", rawDelta(t, list(patched), deltaRawEntry{name: "patch/a.txt", data: frame}, deltaRawEntry{name: "patch/a.txt", data: frame}), ErrDuplicate, RuleDuplicate},
		{"stray entry", rawDelta(t, list(), deltaRawEntry{name: "other", data: []byte("x")}), ErrFormat, RuleListing},
		{"frame decodes to other bytes", rawDelta(t, list(patched), deltaRawEntry{name: "patch/a.txt", data: otherFrame}), ErrChecksum, RuleChecksum},
		{"frame longer than listed", rawDelta(t, list(lying), deltaRawEntry{name: "patch/a.txt", data: frame}), ErrLimit, RuleSize},
		{"garbage frame", rawDelta(t, list(patched), deltaRawEntry{name: "patch/a.txt", data: []byte("not zstd at all")}), ErrFormat, RuleStructure},
		{"compressed patch", rawDelta(t, list(patched), deltaRawEntry{name: "patch/a.txt", data: frame, method: Zstd}), ErrFormat, RuleListing},
		{"whole size disagrees", rawDelta(t, list(file("n", []byte("abc"), DeltaWhole)), deltaRawEntry{name: "file/n", data: []byte("abcd"), method: Zstd}), ErrFormat, RuleListing},
		{"whole content disagrees", rawDelta(t, list(file("n", []byte("abc"), DeltaWhole)), deltaRawEntry{name: "file/n", data: []byte("abd"), method: Zstd}), ErrChecksum, RuleChecksum},
		{"ratio bomb", rawDelta(t, list(bombItem), deltaRawEntry{name: "patch/a.txt", data: bombFrame}), ErrLimit, RuleMaxRatio},
		{"too large", rawDelta(t, list(deltaListItem{Path: "x", Type: "file", Mode: 0o644, Size: 5 << 30, SHA256: sumHex(nil), Op: DeltaSame})), ErrLimit, RuleMaxFileSize},
		{"too deep", rawDelta(t, list(file(strings.Repeat("d/", 300)+"f", nil, DeltaSame))), ErrLimit, RuleMaxDepth},
		{"too many", rawDelta(t, list(func() []deltaListItem {
			var items []deltaListItem
			for i := range 20 {
				items = append(items, deltaListItem{Path: fmt.Sprint("d", i), Type: "dir", Mode: 0o755})
			}
			return items
		}()...)), ErrLimit, RuleMaxFiles},
		{"same op with wrong base", rawDelta(t, list(file("a.txt", newContent, DeltaSame))), ErrBase, RuleBase},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dest := filepath.Join(t.TempDir(), "out")
			opts := []Option{WithoutSync(), WithLimits(Limits{MaxFiles: 10})}
			_, err := ApplyDelta(context.Background(), bytes.NewReader(tc.delta), int64(len(tc.delta)), base, dest, opts...)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				got, _ := os.ReadFile(filepath.Join(dest, "a.txt"))
				if !bytes.Equal(got, newContent) {
					t.Error("wrong content")
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			var ee *EntryError
			if tc.rule != "" && (!errors.As(err, &ee) || ee.Rule != tc.rule) {
				t.Fatalf("err = %v, want rule %s", err, tc.rule)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
			if _, serr := os.Lstat(dest); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("dest exists after a failure")
			}
			if ents, _ := os.ReadDir(filepath.Dir(dest)); len(ents) != 0 {
				t.Errorf("left %v", ents)
			}
		})
	}
}

func TestDeltaModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("permission bits are not kept on Windows")
	}
	t.Parallel()
	oldDir, newDir := t.TempDir(), t.TempDir()
	writeDeltaTree(t, oldDir, deltaTree{"x.sh": "a", "d/f": "b"})
	writeDeltaTree(t, newDir, deltaTree{"x.sh": "a", "d/f": "b", "ro/": ""})
	os.Chmod(filepath.Join(newDir, "x.sh"), 0o700) // mode change, same content
	os.Chmod(filepath.Join(newDir, "ro"), 0o555)
	t.Cleanup(func() { os.Chmod(filepath.Join(newDir, "ro"), 0o755) })
	var buf bytes.Buffer
	if err := BuildDeltaDir(context.Background(), &buf, oldDir, newDir); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "n")
	if _, err := ApplyDelta(context.Background(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), oldDir, dest, WithoutSync()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(dest, "ro"), 0o755) })
	if got, want := treeDigest(t, dest), treeDigest(t, newDir); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// BuildDelta's workers stop on cancellation, and the first failing file in the
// listing's order is the one named, whichever worker failed first.
func TestDeltaBuildCancelAndError(t *testing.T) {
	t.Parallel()
	oldDir, newDir := t.TempDir(), t.TempDir()
	writeDeltaTree(t, oldDir, deltaOld)
	writeDeltaTree(t, newDir, deltaNew)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := BuildDeltaDir(ctx, io.Discard, oldDir, newDir); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: err = %v", err)
	}
	bad := failOpenFS{FS: os.DirFS(newDir), bad: map[string]bool{"lib/big.txt": true, "lib/same.txt": true}}
	err := BuildDelta(context.Background(), io.Discard, os.DirFS(oldDir), bad)
	if ee := new(EntryError); !errors.As(err, &ee) || ee.Entry != "lib/big.txt" {
		t.Errorf("unreadable files: err = %v, want lib/big.txt named", err)
	}
}

// failOpenFS fails to open the files named in bad.
type failOpenFS struct {
	fs.FS
	bad map[string]bool
}

func (f failOpenFS) Open(name string) (fs.File, error) {
	if f.bad[name] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return f.FS.Open(name)
}

func (f failOpenFS) ReadLink(name string) (string, error) { return fs.ReadLink(f.FS, name) }

func (f failOpenFS) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(f.FS, name) }
