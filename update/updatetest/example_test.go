package updatetest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// TestRepo shows the repository helper as a test uses it: publish, serve, install,
// compare the live tree with what was published.
func TestRepo(t *testing.T) {
	repo := updatetest.NewRepo(t)
	platform := runtime.GOOS + "/" + runtime.GOARCH
	tree := map[string]string{"index.html": "hello", "bin/run*": "#!/bin/sh\n", "empty/": "", "@latest": "index.html"}
	repo.Publish("web", "1.0.0", platform, tree)
	dir := t.TempDir()
	eng, err := update.New(update.Config{Source: repo.Serve(), Keys: []string{repo.PubFile},
		StateDir: filepath.Join(dir, "state"), Modules: []update.ModuleConfig{{Name: "web", Path: filepath.Join(dir, "web")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Install(context.Background(), "web", update.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	got := updatetest.ReadTree(t, filepath.Join(dir, "web"))
	if fmt.Sprint(got) != fmt.Sprint(tree) {
		t.Fatalf("live tree %v, published %v", got, tree)
	}
}

func ExampleWriteTree() {
	dir, _ := os.MkdirTemp("", "tree")
	defer os.RemoveAll(dir)
	t := &testing.T{}
	updatetest.WriteTree(t, dir, map[string]string{"a.txt": "a", "bin/run*": "#!/bin/sh\n", "logs/": ""})
	fmt.Println(updatetest.ReadTree(t, dir))
	// Output: map[a.txt:a bin/run*:#!/bin/sh
	//  logs/:]
}
