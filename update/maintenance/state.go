package maintenance

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"
)

// Default values of the [Option]s.
const (
	DefaultDrainTimeout = 30 * time.Second
	DefaultRetryAfter   = 60 * time.Second
)

// Option configures a [State].
type Option func(*options)

type options struct {
	drainTimeout time.Duration
	retryAfter   time.Duration
	logger       *slog.Logger
}

// WithDrainTimeout bounds how long [State.On] waits for in-flight requests to finish.
// The default is [DefaultDrainTimeout]; d <= 0 keeps it.
func WithDrainTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.drainTimeout = d
		}
	}
}

// WithRetryAfter sets the delay announced to clients in Retry-After (rounded up to whole
// seconds) while maintenance is on. The default is [DefaultRetryAfter]; d <= 0 keeps it.
func WithRetryAfter(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.retryAfter = d
		}
	}
}

// WithLogger sets the logger for on/off changes and drain results. The default
// discards everything; nil keeps it.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// State is a Go service's maintenance mode, shared by the engine, which turns it on and
// off, and by the service's [State.Middleware]. It is safe for concurrent use.
type State struct {
	opts options

	mu       sync.Mutex
	active   bool
	reason   string
	inFlight int
	idle     chan struct{} // closed when inFlight falls to zero; nil while zero
	subs     map[int]func(bool)
	nextSub  int

	// notifyMu serialises calls to subscribers so that they see changes in order.
	notifyMu sync.Mutex
	notified bool // the value last given to subscribers
}

// NewState returns a State with maintenance off.
func NewState(opts ...Option) *State {
	s := &State{
		opts: options{
			drainTimeout: DefaultDrainTimeout,
			retryAfter:   DefaultRetryAfter,
			logger:       slog.New(slog.DiscardHandler),
		},
		subs: make(map[int]func(bool)),
	}
	for _, o := range opts {
		o(&s.opts)
	}
	return s
}

// On turns maintenance on with reason (shown to clients), then waits until every request
// admitted while maintenance was off has finished. New requests get 503 from the moment
// On is called; requests already running finish normally.
//
// On returns nil once they have all finished. When the drain timeout ([WithDrainTimeout])
// passes or ctx ends first, it returns a [*DrainError] wrapping [ErrDrainTimeout] or
// ctx.Err() with the number of requests still running. In every case maintenance stays
// on; call [State.Off] to undo. Calling On while maintenance is on updates the reason
// and drains again.
func (s *State) On(ctx context.Context, reason string) error {
	s.mu.Lock()
	was := s.active
	s.active = true
	s.reason = reason
	idle, running := s.idle, s.inFlight
	s.mu.Unlock()
	if !was {
		s.opts.logger.Info("maintenance on", "reason", reason, "in_flight", running)
		s.notify()
	}
	if running == 0 {
		return nil
	}

	start := time.Now()
	timer := time.NewTimer(s.opts.drainTimeout)
	defer timer.Stop()
	var cause error
	select {
	case <-idle:
		s.opts.logger.Info("maintenance drained", "waited", time.Since(start))
		return nil
	case <-timer.C:
		cause = ErrDrainTimeout
	case <-ctx.Done():
		cause = ctx.Err()
	}
	err := &DrainError{Running: s.InFlight(), Waited: time.Since(start), Err: cause}
	if err.Running == 0 {
		// They finished in the same instant.
		return nil
	}
	s.opts.logger.Warn("maintenance drain incomplete", "running", err.Running, "error", cause)
	return err
}

// Off turns maintenance off; requests are served normally again. It does nothing when
// maintenance is already off.
func (s *State) Off() {
	s.mu.Lock()
	was := s.active
	s.active = false
	s.reason = ""
	s.mu.Unlock()
	if was {
		s.opts.logger.Info("maintenance off")
		s.notify()
	}
}

// Active reports whether maintenance is on.
func (s *State) Active() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// Reason returns the reason given to [State.On], or "" while maintenance is off.
func (s *State) Reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// InFlight returns the number of requests admitted while maintenance was off that have
// not finished yet: the requests [State.On] waits for. Health-check requests and requests
// let through by the bypass token during maintenance are not counted.
func (s *State) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight
}

// RetryAfter returns the delay announced to clients, as set by [WithRetryAfter].
func (s *State) RetryAfter() time.Duration { return s.opts.retryAfter }

// retryAfterSeconds is the Retry-After value: whole seconds, rounded up.
func (s *State) retryAfterSeconds() int {
	return int(math.Ceil(s.opts.retryAfter.Seconds()))
}

// Subscribe calls f with true each time maintenance goes on and with false each time it
// goes off, until cancel is called. Calls are made one at a time, in order, from the
// goroutine that called On or Off; f must not call On or Off itself. Several changes in
// quick succession may reach f as fewer calls, but the last call always carries the
// current value. f is not called at subscription; read [State.Active] for the value then.
func (s *State) Subscribe(f func(active bool)) (cancel func()) {
	s.mu.Lock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = f
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
	}
}

// notify gives subscribers the current value if it differs from the last one given.
func (s *State) notify() {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	s.mu.Lock()
	active := s.active
	subs := make([]func(bool), 0, len(s.subs))
	for _, f := range s.subs {
		subs = append(subs, f)
	}
	s.mu.Unlock()
	if active == s.notified {
		return
	}
	s.notified = active
	for _, f := range subs {
		f(active)
	}
}

// admit counts a request in unless maintenance is on, and reports whether it was.
func (s *State) admit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active {
		return false
	}
	if s.inFlight == 0 {
		s.idle = make(chan struct{})
	}
	s.inFlight++
	return true
}

// done counts out a request counted in by admit.
func (s *State) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight--
	if s.inFlight == 0 {
		close(s.idle)
		s.idle = nil
	}
}
