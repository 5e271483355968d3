package source

import (
	"fmt"
	"sync"
	"time"
)

// rateGuard cuts a transfer whose rate stays below a floor for a whole window. It only
// counts the time the caller waits inside Read: a caller that pauses between reads
// does not make the server look slow. A nil *rateGuard does nothing.
type rateGuard struct {
	min    int64 // bytes per second
	window time.Duration
	cancel func() // aborts the blocked Read

	mu        sync.Mutex
	waited    time.Duration // time spent in finished reads
	reading   bool
	readStart time.Time
	bytes     int64
	samples   []rateSample // oldest first, waited strictly increasing
	slow      bool

	done     chan struct{}
	stopOnce sync.Once
}

type rateSample struct {
	waited time.Duration
	bytes  int64
}

// startRateGuard starts watching; cancel is called when the floor is broken.
func startRateGuard(min int64, window time.Duration, cancel func()) *rateGuard {
	g := &rateGuard{
		min: min, window: window, cancel: cancel,
		samples: []rateSample{{}},
		done:    make(chan struct{}),
	}
	go g.watch()
	return g
}

func (g *rateGuard) watch() {
	// Sampling eight times per window detects a slow transfer at most an eighth of a
	// window late.
	tick := max(g.window/8, time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-g.done:
			return
		case <-t.C:
			if g.check(time.Now()) {
				g.cancel()
				return
			}
		}
	}
}

// check records a sample and reports whether the last window was below the floor.
func (g *rateGuard) check(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	w := g.waited
	if g.reading {
		w += now.Sub(g.readStart)
	}
	last := -1 // newest sample at least a window of waiting ago
	for i, s := range g.samples {
		if w-s.waited < g.window {
			break
		}
		last = i
	}
	if last >= 0 {
		if float64(g.bytes-g.samples[last].bytes) < float64(g.min)*g.window.Seconds() {
			g.slow = true
			return true
		}
		g.samples = g.samples[last:]
	}
	if w > g.samples[len(g.samples)-1].waited {
		g.samples = append(g.samples, rateSample{w, g.bytes})
	}
	return false
}

func (g *rateGuard) enter() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.reading, g.readStart = true, time.Now()
	g.mu.Unlock()
}

func (g *rateGuard) leave(n int) {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.reading = false
	g.waited += time.Since(g.readStart)
	g.bytes += int64(n)
	g.mu.Unlock()
}

func (g *rateGuard) stop() {
	if g == nil {
		return
	}
	g.stopOnce.Do(func() { close(g.done) })
}

// tripped reports whether the guard cut the transfer.
func (g *rateGuard) tripped() bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.slow
}

func (g *rateGuard) tooSlow() error {
	return fmt.Errorf("%w: below %d bytes/s over %s", ErrTooSlow, g.min, g.window)
}
