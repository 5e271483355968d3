package handoff_test

import (
	"context"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/upkeep-go/upkeep/update/handoff"
)

// A server that replaces its own executable without refusing a connection. The same
// code runs in the old and the new process: the new one inherits the listener and
// tells the old one when it serves. (The example is compiled, not run: it restarts
// the process.)
func Example() {
	ctx := context.Background()
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
	d := handoff.NewDrainer(srv) // before srv serves
	go d.Serve(ln)
	if err := h.Ready(); err != nil { // the old process may stop accepting now
		log.Print(err)
	}
	go func() {
		// … after update.Engine.Install reported SelfUpdate: start the executable at
		// the path this program was started from, which now holds the new version.
		if _, err := h.Upgrade(ctx); err != nil {
			log.Print(err) // still serving; roll the swap back with Engine.Rollback
		}
	}()
	<-h.Exit() // the new version serves: finish every accepted request and leave
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := d.Drain(dctx, ln); err != nil {
		log.Print(err)
	}
}
