package source_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing/fstest"

	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/source"
)

// A repository folder served with publish.FileServer, read through an HTTP source: a
// conditional fetch of the manifest, then a pack fetched in two parts as a download
// cut in the middle would be.
func Example() {
	repo, err := os.MkdirTemp("", "repo")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(repo)
	os.WriteFile(filepath.Join(repo, "manifest.json"), []byte(`{"schema":1}`), 0o644)
	os.Mkdir(filepath.Join(repo, "packs"), 0o755)
	os.WriteFile(filepath.Join(repo, "packs", "app-1.0.zip"), []byte("PK...pack bytes"), 0o644)

	srv := httptest.NewServer(publish.FileServer(repo)) // on 127.0.0.1
	defer srv.Close()
	src, err := source.New(srv.URL + "/")
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	resp, err := src.Fetch(ctx, source.Request{Name: "manifest.json", Max: 1 << 20})
	if err != nil {
		log.Fatal(err)
	}
	manifest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("%s\n", manifest)

	again, err := src.Fetch(ctx, source.Request{Name: "manifest.json", Max: 1 << 20, Validator: resp.Validator})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("not modified:", again.NotModified)

	head, err := src.Fetch(ctx, source.Request{Name: "packs/app-1.0.zip", Max: 15})
	if err != nil {
		log.Fatal(err)
	}
	part := make([]byte, 5)
	io.ReadFull(head.Body, part)
	head.Body.Close() // the connection is cut here

	rest, err := src.Fetch(ctx, source.Request{Name: "packs/app-1.0.zip", Offset: 5, Max: 10, Validator: head.Validator})
	if err != nil {
		log.Fatal(err)
	}
	tail, _ := io.ReadAll(rest.Body)
	rest.Body.Close()
	fmt.Printf("resumed at %d of %d: %s\n", rest.Offset, rest.Size, append(part, tail...))

	_, err = src.Fetch(ctx, source.Request{Name: "../etc/passwd", Max: 10})
	fmt.Println(errors.Is(err, source.ErrBadName))
	// Output:
	// {"schema":1}
	// not modified: true
	// resumed at 5 of 15: PK...pack bytes
	// true
}

// Files embedded in a program, or any fs.FS, make a source too.
func ExampleNewFS() {
	src := source.NewFS(fstest.MapFS{
		"manifest.json": {Data: []byte(`{"schema":1}`)},
	})
	resp, err := src.Fetch(context.Background(), source.Request{Name: "manifest.json", Max: 1 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("%s (%d bytes)\n", b, resp.Size)

	_, err = src.Fetch(context.Background(), source.Request{Name: "packs/missing.zip", Max: 10})
	fmt.Println(err)
	// Output:
	// {"schema":1} (12 bytes)
	// fetch packs/missing.zip: source: file not found
}

// A body stops at Request.Max, however many bytes the server sends.
func ExampleRequest_max() {
	srv := httptest.NewServer(publish.FileServer("testdata"))
	defer srv.Close()
	src, err := source.NewHTTP(srv.URL + "/")
	if err != nil {
		log.Fatal(err)
	}
	_, err = src.Fetch(context.Background(), source.Request{Name: "hello.txt", Max: 4})
	fmt.Println(errors.Is(err, source.ErrTooLarge))
	// Output:
	// true
}
