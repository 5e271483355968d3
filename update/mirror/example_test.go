package mirror_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/mirror"
	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/source"
)

// An operator copies the publisher's repository into a folder of its own, which its
// servers then use as their source; a second run finds nothing new to fetch.
func ExampleMirror() {
	base, err := os.MkdirTemp("", "mirror-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(base)
	pub, sec, err := signature.GenerateKey(nil)
	if err != nil {
		log.Fatal(err)
	}
	build := filepath.Join(base, "build")
	os.MkdirAll(build, 0o755)
	os.WriteFile(filepath.Join(build, "index.html"), []byte("hello"), 0o644)
	repo := filepath.Join(base, "repo")
	if _, err := publish.Publish(context.Background(), repo, sec, publish.Build{Module: "web", Version: "1.0.0", Platform: "linux/amd64", Dir: build}); err != nil {
		log.Fatal(err)
	}

	kr, _ := signature.NewKeyring([]signature.PublicKey{pub})
	for range 2 {
		rep, err := mirror.Mirror(context.Background(), source.NewDir(repo), filepath.Join(base, "mirror"), mirror.Options{Keyring: kr})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("serial %d: %d copied, %d kept\n", rep.Serial, len(rep.Copied), len(rep.Kept))
	}
	// Output:
	// serial 1: 1 copied, 0 kept
	// serial 1: 0 copied, 1 kept
}
