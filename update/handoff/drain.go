package handoff

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Drainer stops an http.Server without dropping a request, after its listeners were
// handed over. http.Server.Shutdown alone is not enough: a connection accepted just
// before it, whose request arrives just after, is closed without an answer, and its
// client sees an error. Drain first stops accepting (the new process accepts on the
// same sockets), serves every connection already accepted with keep-alives off, and
// only then shuts the server down.
//
// Track the server before it serves (NewDrainer sets its ConnState hook), and serve
// through [Drainer.Serve], so that Drain knows when no connection can be accepted any
// more.
type Drainer struct {
	srv     *http.Server
	serving sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]http.ConnState
}

// Serve runs the server's Serve loop on ln until ln is closed.
func (d *Drainer) Serve(ln net.Listener) error {
	d.serving.Add(1)
	defer d.serving.Done()
	return d.srv.Serve(ln)
}

// NewDrainer tracks srv's connections; call it before srv serves. A ConnState hook
// already set on srv is still called.
func NewDrainer(srv *http.Server) *Drainer {
	d := &Drainer{srv: srv, conns: map[net.Conn]http.ConnState{}}
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		d.mu.Lock()
		switch st {
		case http.StateClosed, http.StateHijacked:
			delete(d.conns, c)
		default:
			d.conns[c] = st
		}
		d.mu.Unlock()
		if prev != nil {
			prev(c, st)
		}
	}
	return d
}

// busy counts the connections that have a request under way or not yet read.
func (d *Drainer) busy() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, st := range d.conns {
		if st == http.StateNew || st == http.StateActive {
			n++
		}
	}
	return n
}

// Drain closes the listeners the server accepts on (this process's copies: the
// sockets stay open in the new process; pass every listener given to Serve), waits
// for the Serve loops to return, turns keep-alives off so that every answer
// from now on closes its connection, waits until no accepted connection has a request
// pending, then shuts the server down, which closes the idle ones. It returns when the
// server is down or ctx ends (then the remaining connections are closed and the
// context's error returned).
func (d *Drainer) Drain(ctx context.Context, listeners ...net.Listener) error {
	var errs []error
	for _, ln := range listeners {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	d.srv.SetKeepAlivesEnabled(false)
	// A Serve loop registers a connection it accepted before it accepts again: once
	// every loop has returned, every accepted connection is counted.
	loops := make(chan struct{})
	go func() { d.serving.Wait(); close(loops) }()
	select {
	case <-loops:
	case <-ctx.Done():
		d.srv.Close()
		return errors.Join(append(errs, ctx.Err())...)
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for d.busy() > 0 {
		select {
		case <-ctx.Done():
			d.srv.Close()
			return errors.Join(append(errs, ctx.Err())...)
		case <-tick.C:
		}
	}
	// Shutdown closes the listeners Serve still tracks: those closed above may be among
	// them, and their second close is not a failure.
	if err := d.srv.Shutdown(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
		d.srv.Close()
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
