package selfupdate_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/selfupdate"
)

// A Go HTTP server that keeps itself up to date. In a real program the publisher's key
// is embedded (//go:embed publisher.pub), Source is the publisher's URL, Dir is left
// out (the folder of the program's executable), and once an update is installed Serve
// starts the new executable, hands it the listener and returns when it serves. Here a
// repository in a temporary folder offers version 1.1.0 of a module whose folder does
// not hold the running program: the example shows the install, not the restart.
func Example() {
	tmp, err := os.MkdirTemp("", "selfupdate-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	repo, publisherKey := makeRepo(tmp, "hello", "1.1.0") // the publisher's side

	ctx, stop := context.WithCancel(context.Background()) // signal.NotifyContext in main
	defer stop()
	u, err := selfupdate.New(selfupdate.Config{
		Module:   "hello",
		Version:  "1.0.0",
		Source:   repo,
		Keys:     publisherKey,
		StateDir: filepath.Join(tmp, "state"),
		Dir:      filepath.Join(tmp, "srv", "hello"),
	})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := u.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from 1.0.0\n")
	})}
	served := make(chan error, 1)
	go func() { served <- u.Serve(ctx, srv) }() // main would just return u.Serve(ctx, srv)

	// Serve checks at once and installs what is offered.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st, err := u.Engine().ModuleStatus(context.Background(), "hello"); err == nil && st.Installed != nil && *st.Installed == "1.1.0" {
			break
		}
	}
	st, _ := u.Engine().ModuleStatus(context.Background(), "hello")
	fmt.Println("installed:", *st.Installed, st.Backups)
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		log.Fatal(err)
	}
	io.Copy(os.Stdout, resp.Body)
	resp.Body.Close()
	stop()
	fmt.Println("Serve returned", <-served)
	// Output:
	// installed: 1.1.0 [1.0.0]
	// hello from 1.0.0
	// Serve returned <nil>
}

// makeRepo makes a repository under dir that offers version of module, and the module's
// folder with version 1.0.0; it returns the repository and the publisher's public key.
func makeRepo(dir, module, version string) (repo string, pub []byte) {
	pk, sk, err := signature.GenerateKey(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	if pub, err = pk.MarshalText(); err != nil {
		log.Fatal(err)
	}
	build := filepath.Join(dir, "build")
	live := filepath.Join(dir, "srv", module)
	for _, d := range []string{build, live} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			log.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(live, "index.html"), []byte("1.0.0"), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(build, "index.html"), []byte(version), 0o644); err != nil {
		log.Fatal(err)
	}
	repo = filepath.Join(dir, "repo")
	_, err = publish.Publish(context.Background(), repo, sk, publish.Build{
		Module: module, Version: version, Platform: runtime.GOOS + "/" + runtime.GOARCH, Dir: build,
	})
	if err != nil {
		log.Fatal(err)
	}
	return repo, pub
}
