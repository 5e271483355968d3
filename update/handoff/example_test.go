package handoff_test

import (
	"context"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/handoff"
)

// A server that replaces its own executable without refusing a connection. The same
// code runs in the old and the new process: the new one inherits the listener and
// tells the old one when it serves. (The example is compiled, not run: it restarts
// the process.)
func Example() {
	ctx := context.Background()
	exe := update.Executable() // the path the program was started from
	h, err := handoff.New(handoff.WithReadyTimeout(10 * time.Second))
	if err != nil {
		log.Fatal(err)
	}
	ln, err := h.Listen(ctx, "tcp", "127.0.0.1:8080") // inherited after an upgrade
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	})}
	go srv.Serve(ln)
	if err := h.Ready(); err != nil { // the old process may stop accepting now
		log.Print(err)
	}

	go func() {
		// … after update.Engine.Install reported SelfUpdate:
		if _, err := h.Upgrade(ctx, exe, os.Args[1:]); err != nil {
			log.Print(err) // still serving; roll the swap back with Engine.Rollback
		}
	}()

	<-h.Exit() // the new version serves: finish in-flight requests and leave
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
}
