package update_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/publish"
)

// Example shows the whole story in one program: a publisher signs and publishes two
// versions of a module into a repository served over HTTP, and a server's engine
// installs the first, then finds and installs the second, with a Go hook at every phase.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "upkeep-example-")
	defer os.RemoveAll(dir)

	// The publisher's side.
	pub, sec, _ := signature.GenerateKey(rand.Reader)
	pubText, _ := pub.MarshalText()
	os.WriteFile(filepath.Join(dir, "publisher.pub"), pubText, 0o644)
	repo := filepath.Join(dir, "repo")
	platform := runtime.GOOS + "/" + runtime.GOARCH
	release := func(version string) {
		build := filepath.Join(dir, "build-"+version)
		os.MkdirAll(build, 0o755)
		os.WriteFile(filepath.Join(build, "version.txt"), []byte(version), 0o644)
		if _, err := publish.Publish(ctx, repo, sec, publish.Build{Module: "web", Version: version, Platform: platform, Dir: build}); err != nil {
			log.Fatal(err)
		}
	}
	release("1.0.0")
	srv := httptest.NewServer(publish.FileServer(repo))
	defer srv.Close()

	// The server's side.
	os.MkdirAll(filepath.Join(dir, "srv"), 0o755)
	cfg := update.Config{
		Source:   srv.URL + "/",
		Keys:     []string{filepath.Join(dir, "publisher.pub")},
		StateDir: filepath.Join(dir, "state"),
		Modules:  []update.ModuleConfig{{Name: "web", Path: filepath.Join(dir, "srv", "web")}},
	}
	phases := hooks.Func(func(ctx context.Context, ev hooks.Event) error {
		if ev.Phase == hooks.PreInstall || ev.Phase == hooks.PostInstall {
			fmt.Printf("%s %s → %s\n", ev.Phase, ev.FromVersion, ev.ToVersion)
		}
		return nil
	})
	eng, err := update.New(cfg, update.WithHook("web", phases))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := eng.Install(ctx, "web", update.InstallOptions{}); err != nil {
		log.Fatal(err)
	}

	release("1.1.0")
	rep, _ := eng.Check(ctx)
	fmt.Println("check:", rep.Modules[0].Status, rep.Modules[0].Version)
	if _, err := eng.Install(ctx, "web", update.InstallOptions{}); err != nil {
		log.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "srv", "web", "version.txt"))
	fmt.Println("live:", string(b))
	// Output:
	// PREINSTALL  → 1.0.0
	// POSTINSTALL  → 1.0.0
	// check: update 1.1.0
	// PREINSTALL 1.0.0 → 1.1.0
	// POSTINSTALL 1.0.0 → 1.1.0
	// live: 1.1.0
}
