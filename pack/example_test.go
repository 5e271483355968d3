package pack_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing/fstest"
	"time"

	"github.com/upkeep-go/upkeep/pack"
)

// Build a pack from a tree, with every mtime set to one time so that the bytes
// depend on content and modes only, then describe it.
func ExampleBuild() {
	tree := fstest.MapFS{
		"bin/app":     {Data: []byte("#!/bin/sh\necho hello\n"), Mode: 0o755},
		"etc/app.cfg": {Data: []byte("port=8080\n"), Mode: 0o644},
		"var":         {Mode: fs.ModeDir | 0o755},
		"bin":         {Mode: fs.ModeDir | 0o755},
		"etc":         {Mode: fs.ModeDir | 0o755},
	}
	var buf bytes.Buffer
	err := pack.Build(context.Background(), &buf, tree, pack.WithModTime(time.Unix(1700000000, 0)))
	if err != nil {
		fmt.Println(err)
		return
	}
	info, err := pack.ReadInfo(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.Files, "files,", info.Dirs, "folders,", info.Methods)
	for _, e := range info.Entries {
		fmt.Println(e.Mode, e.Name)
	}
	// Output:
	// 2 files, 3 folders, [store deflate]
	// drwxr-xr-x bin/
	// -rwxr-xr-x bin/app
	// drwxr-xr-x etc/
	// -rw-r--r-- etc/app.cfg
	// drwxr-xr-x var/
}

// Extract a pack after reading it whole through a verification function (here a
// SHA-256 compared with the expected one), into a folder that does not exist yet.
func ExampleExtract() {
	var buf bytes.Buffer
	tree := fstest.MapFS{"hello.txt": {Data: []byte("hello\n"), Mode: 0o644}}
	if err := pack.Build(context.Background(), &buf, tree); err != nil {
		fmt.Println(err)
		return
	}
	want := sha256.Sum256(buf.Bytes())
	verify := func(r io.Reader) error {
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return err
		}
		if !bytes.Equal(h.Sum(nil), want[:]) {
			return errors.New("sha256 mismatch")
		}
		return nil
	}
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	dest := filepath.Join(dir, "staging")
	rep, err := pack.Extract(context.Background(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), dest,
		pack.WithVerify(verify))
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(filepath.Join(dest, "hello.txt"))
	fmt.Printf("%d file, %d bytes: %s", rep.Files, rep.Bytes, b)
	// Output: 1 file, 6 bytes: hello
}

// An unsafe entry fails the whole extraction; the error names the entry and the
// rule, and the destination is left as it was.
func ExampleEntryError() {
	var buf bytes.Buffer
	tree := fstest.MapFS{"docs/aux.txt": {Data: []byte("x"), Mode: 0o644}}
	err := pack.Build(context.Background(), &buf, tree)
	var ee *pack.EntryError
	if errors.As(err, &ee) {
		fmt.Println(ee.Entry, ee.Rule, errors.Is(err, pack.ErrUnsafePath))
	}
	fmt.Println(err)
	// Output:
	// docs/aux.txt reserved-name true
	// pack: entry "docs/aux.txt": reserved-name: unsafe path: segment "aux.txt" is a reserved device name on Windows
}

// A delta from one version of a tree to the next holds only what changed; applying
// it to the old tree rebuilds the new one.
func ExampleApplyDelta() {
	tmp, _ := os.MkdirTemp("", "delta-example-")
	defer os.RemoveAll(tmp)
	oldDir, newDir := filepath.Join(tmp, "v1"), filepath.Join(tmp, "v2")
	os.MkdirAll(oldDir, 0o755)
	os.MkdirAll(newDir, 0o755)
	text := strings.Repeat("a line of the configuration\n", 1000)
	os.WriteFile(filepath.Join(oldDir, "app.conf"), []byte(text), 0o644)
	os.WriteFile(filepath.Join(newDir, "app.conf"), []byte(text+"one more line\n"), 0o644)
	os.WriteFile(filepath.Join(newDir, "README"), []byte("new file\n"), 0o644)

	var delta bytes.Buffer
	if err := pack.BuildDeltaDir(context.Background(), &delta, oldDir, newDir); err != nil {
		fmt.Println(err)
		return
	}
	rep, err := pack.ApplyDelta(context.Background(), bytes.NewReader(delta.Bytes()), int64(delta.Len()),
		oldDir, filepath.Join(tmp, "rebuilt"), pack.WithoutSync())
	if err != nil {
		fmt.Println(err)
		return
	}
	got, _ := os.ReadFile(filepath.Join(tmp, "rebuilt", "app.conf"))
	fmt.Println("patched:", rep.Patched, "whole:", rep.Whole, "same content:", string(got) == text+"one more line\n")
	// Output: patched: 1 whole: 1 same content: true
}

// Read one file of a pack alone: the index needs the pack's tail and central
// directory only, and CopyEntry that file's bytes (over HTTP, an io.ReaderAt making
// Range requests).
func ExampleReadIndex() {
	tree := fstest.MapFS{
		"etc/app.cfg": {Data: []byte("port=8080\n"), Mode: 0o644},
		"bin/app":     {Data: []byte(strings.Repeat("binary ", 1000)), Mode: 0o755},
	}
	var buf bytes.Buffer
	if err := pack.Build(context.Background(), &buf, tree); err != nil {
		fmt.Println(err)
		return
	}
	x, err := pack.ReadIndex(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		fmt.Println(err)
		return
	}
	e, _ := x.Entry("etc/app.cfg")
	fmt.Println(e.Name, e.Size, "bytes")
	if err := x.CopyEntry(context.Background(), "etc/app.cfg", os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// etc/app.cfg 10 bytes
	// port=8080
}
