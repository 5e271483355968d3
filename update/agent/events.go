package agent

import (
	"context"
	"sync"
	"time"
)

// Limits of one subscription (Subscribe).
const (
	// MaxPendingProgress is how many progress events of distinct operations wait for
	// a slow subscriber; beyond it new ones are dropped (a later one replaces them).
	MaxPendingProgress = 256
	// MaxPendingEnded is how many ended-operation events wait for a slow subscriber;
	// beyond it the subscription is cut (its channel closed) rather than losing one.
	MaxPendingEnded = 1024
)

// progressDelay is how long a progress event may wait before the goroutine that
// hands events to a subscriber is woken for it, so that the progress events that
// come meanwhile cost one wake-up. The steps of a maintenance window follow each
// other within milliseconds, and the engine's goroutine, which publishes them, paid
// for waking a thread at each: 5 to 8 % of a 2.5 ms window. An ended operation
// wakes it at once.
const progressDelay = 20 * time.Millisecond

// subscriber is one Subscribe: a queue between the agent, which never waits for it,
// and a goroutine that hands the queued events to the subscriber's channel.
type subscriber struct {
	out  chan Event
	wake chan struct{}

	mu    sync.Mutex
	queue []Event
	ended int  // ended-operation events in queue
	cut   bool // too far behind: closed
	timer *time.Timer
	armed bool // timer will wake the pump
}

func newSubscriber() *subscriber {
	return &subscriber{out: make(chan Event, 16), wake: make(chan struct{}, 1)}
}

// push queues ev without waiting. A progress event replaces a pending one of the same
// operation (the subscriber only needs the latest); an ended event is never dropped.
func (s *subscriber) push(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cut {
		return
	}
	switch {
	case ev.Progress != nil:
		for i := range s.queue {
			if p := s.queue[i].Progress; p != nil && p.Operation == ev.Progress.Operation {
				s.queue[i] = ev
				return
			}
		}
		if len(s.queue)-s.ended >= MaxPendingProgress {
			return
		}
	case ev.Operation != nil:
		if s.ended >= MaxPendingEnded {
			s.cut = true
			s.queue = nil
			break
		}
		s.ended++
	}
	if !s.cut {
		s.queue = append(s.queue, ev)
	}
	if ev.Progress != nil {
		s.wakeLater()
		return
	}
	s.signal()
}

// wakeLater wakes the pump after progressDelay, unless that is already arranged.
// The caller holds s.mu.
func (s *subscriber) wakeLater() {
	if s.armed {
		return
	}
	s.armed = true
	if s.timer == nil {
		s.timer = time.AfterFunc(progressDelay, func() {
			s.mu.Lock()
			s.armed = false
			s.mu.Unlock()
			s.signal()
		})
		return
	}
	s.timer.Reset(progressDelay)
}

func (s *subscriber) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pump hands queued events to s.out until ctx or stop is done or s is cut, then
// closes s.out.
func (s *subscriber) pump(ctx context.Context, stop <-chan struct{}, done func()) {
	defer done()
	defer close(s.out)
	defer func() {
		s.mu.Lock()
		if s.timer != nil {
			s.timer.Stop()
		}
		s.mu.Unlock()
	}()
	for {
		s.mu.Lock()
		if s.cut {
			s.mu.Unlock()
			return
		}
		var ev Event
		have := len(s.queue) > 0
		if have {
			ev = s.queue[0]
			s.queue[0] = Event{}
			s.queue = s.queue[1:]
			if ev.Operation != nil {
				s.ended--
			}
		}
		s.mu.Unlock()
		if !have {
			select {
			case <-s.wake:
				continue
			case <-ctx.Done():
				return
			case <-stop:
				return
			}
		}
		select {
		case s.out <- ev:
		case <-ctx.Done():
			return
		case <-stop:
			return
		}
	}
}

// Subscribe returns a channel of the agent's events: the progress of running
// operations and each operation that ends. It is closed when ctx is done or the agent
// stops.
//
// Progress events reach the channel up to 20 ms after they happen, those that come
// meanwhile together; an ended operation at once, after the progress before it. The
// agent never waits for a subscriber. For a slow one, progress events are coalesced
// (only the latest of each operation waits) and, past MaxPendingProgress
// operations, dropped; an ended-operation event is never dropped: a subscriber more
// than MaxPendingEnded of them behind is cut off instead (its channel closed), and
// rebuilds what it shows from Operations and Modules when it subscribes again.
func (a *Agent) Subscribe(ctx context.Context) <-chan Event {
	s := newSubscriber()
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		close(s.out)
		return s.out
	}
	a.subs[s] = struct{}{}
	a.subWG.Add(1)
	a.mu.Unlock()
	go s.pump(ctx, a.stopCh, func() {
		a.mu.Lock()
		delete(a.subs, s)
		a.mu.Unlock()
		a.subWG.Done()
	})
	return s.out
}

// publish hands ev to every subscriber. The caller holds a.mu.
func (a *Agent) publish(ev Event) {
	for s := range a.subs {
		s.push(ev)
	}
}
