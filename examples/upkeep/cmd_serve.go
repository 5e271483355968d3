package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/upkeep-go/upkeep/update/publish"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "serve a repository folder over HTTP for development (Range, content ETags)",
		run:     runServe,
	})
}

// serveShutdownTimeout bounds how long in-flight downloads may finish once asked to stop.
const serveShutdownTimeout = 5 * time.Second

func runServe(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("serve", "upkeep serve DIR [--addr 127.0.0.1:8090]")
	addr := fs.String("addr", "127.0.0.1:8090", "`address` to listen on (port 0 picks a free one)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 1, "DIR"); err != nil {
		return err
	}
	dir := pos[0]
	if fi, err := os.Stat(dir); err != nil {
		return err
	} else if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", dir)
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           publish.FileServer(dir),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(cl.stdout, "serving %s on http://%s/\n", dir, reachable(ln.Addr()))

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), serveShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// reachable returns addr as a client on this machine can dial it: a listener on every
// interface ("[::]:8090") is printed as loopback.
func reachable(addr net.Addr) string {
	ta, ok := addr.(*net.TCPAddr)
	if !ok || !ta.IP.IsUnspecified() {
		return addr.String()
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ta.Port))
}
