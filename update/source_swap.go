package update

import (
	"context"
	"sync/atomic"

	"github.com/upkeep-go/upkeep/update/source"
)

// swapSource is the engine's source: it forwards to the one in force, which setSource
// replaces while the engine runs (a settings change in the portal needs no restart).
type swapSource struct {
	cur atomic.Pointer[sourceEntry]
}

type sourceEntry struct {
	src source.Source
	url string // Config.Source it was built from; "" for a WithSource one
}

func newSwapSource(s source.Source, url string) *swapSource {
	sw := &swapSource{}
	sw.cur.Store(&sourceEntry{src: s, url: url})
	return sw
}

// Fetch fetches from the source in force when it is called.
func (s *swapSource) Fetch(ctx context.Context, req source.Request) (*source.Response, error) {
	return s.cur.Load().src.Fetch(ctx, req)
}

// setSource makes the engine fetch manifests and packs from url (a value of
// Config.Source) from the next fetch on; a fetch under way ends on the previous
// source. What was accepted from the previous source still holds: a manifest of a
// serial lower than one already accepted is refused as a replay, and packs are
// verified against the manifest whatever serves them. An error is a *ConfigError
// naming "source"; the source in force then stays. update/agent's settings reach it
// through update/internal/seam.
func (e *Engine) setSource(url string) error {
	c := e.cfg
	c.Source = url
	if err := c.checkSource(); err != nil {
		return err
	}
	s, err := source.New(url)
	if err != nil {
		return &ConfigError{Field: "source", Err: err}
	}
	e.src.(*swapSource).cur.Store(&sourceEntry{src: s, url: url})
	return nil
}

// sourceURL is the Config.Source of the source in force.
func (e *Engine) sourceURL() string {
	if sw, ok := e.src.(*swapSource); ok {
		if u := sw.cur.Load().url; u != "" {
			return u
		}
	}
	return e.cfg.Source
}
