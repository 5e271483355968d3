package publish_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/publish"
)

// A publisher builds and signs version 1.0.0 of a module into a new repository, which
// is then served over HTTP; a client fetches the manifest and verifies its signature.
func Example() {
	dir, err := os.MkdirTemp("", "publish-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	build, repo := filepath.Join(dir, "build"), filepath.Join(dir, "repo")
	os.MkdirAll(build, 0o755)
	os.WriteFile(filepath.Join(build, "index.html"), []byte("hello"), 0o644)
	pub, sec, err := signature.GenerateKey(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}

	m, err := publish.Publish(context.Background(), repo, sec, publish.Build{
		Module: "web", Version: "1.0.0", Platform: "linux/amd64", Dir: build,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("serial", m.Serial, "pack", m.Releases[0].Packs[0].File)

	srv := httptest.NewServer(publish.FileServer(repo))
	defer srv.Close()
	get := func(name string) []byte {
		resp, err := http.Get(srv.URL + "/" + name)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			log.Fatal(err)
		}
		return b
	}
	kr, err := signature.NewKeyring([]signature.PublicKey{pub})
	if err != nil {
		log.Fatal(err)
	}
	v, err := kr.Verify(manifest.FileName, get(manifest.SignatureFileName), bytes.NewReader(get(manifest.FileName)))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Signers[0].TrustedComment)
	// Output:
	// serial 1 pack web-1.0.0-linux-amd64.zip
	// file=manifest.json serial=1 product=web
}
