// Package handoff owns the zero-downtime restart of a Go server that has just replaced
// its own executable (a self-update): the running process starts the new executable,
// hands it its listening sockets, waits until the new process says it serves, and only
// then stops accepting and drains its in-flight requests. Connections that arrive in
// between wait in the sockets' kernel queues, which both processes share, so none is
// refused.
//
// One [Handoff] lives in each process:
//
//   - [Handoff.Listen] returns the listener inherited from the parent process for that
//     network and address, or a new one;
//   - [Handoff.Ready] tells the parent that this process serves (call it once every
//     listener has its Serve loop running);
//   - [Handoff.Upgrade] starts the new executable with every listener and waits for its
//     Ready, its exit, or the readiness timeout ([WithReadyTimeout]). It takes no
//     path: it re-runs the executable at the path this process was started from, with
//     the same arguments ([Executable]), which after a self-update's swap of the
//     program's folder holds the new version, while os.Executable follows the old
//     binary into the backup ([WithCommand] overrides this). On success
//     [Handoff.Exit] is closed and the caller stops its servers with [Drainer.Drain]
//     (http.Server.Shutdown alone drops a request that arrives on a connection
//     accepted just before it); on failure the new process is killed, the caller
//     keeps serving and undoes the swap (update.Engine.Rollback).
//
// Under systemd (a Type=notify unit, [EnvNotifySocket]), the first process's
// [Handoff.Ready] sends READY=1, and a successful [Handoff.Upgrade] sends
// MAINPID=<new process> and READY=1 before the old process exits, so the unit follows
// the server across its updates.
//
// A program that does not serve restarts with [Restart] instead: the same executable
// path and arguments, replacing the process on Unix; on Windows it starts the new
// process and returns [ErrRestarted], and the caller exits.
//
// The new process receives its listeners as extra file descriptors 3, 4, … named by
// the [EnvListeners] environment variable, and the write end of a pipe named by
// [EnvReady], on which Ready writes one line. It inherits the parent's standard input,
// output and error, process group and environment (without those two variables).
//
// The package does not install anything, does not decide when to restart (the caller
// does, after update.Engine.Install reports a self-update), does not handle signals,
// and does not manage packet (UDP) sockets: it hands over stream listeners (TCP and
// Unix). It works on Unix systems; on Windows every [Handoff.Upgrade] returns
// [ErrUnsupported], since Windows services are restarted by the service manager.
package handoff

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Environment variables through which a parent process describes what it hands over.
const (
	// EnvListeners holds a JSON array of {"fd":N,"network":"tcp","addr":"…"}: the
	// inherited file descriptor of each listener, and the network and address under
	// which the parent's Listen was asked for it.
	EnvListeners = "UPKEEP_HANDOFF_LISTENERS"
	// EnvReady holds the number of the inherited file descriptor on which the new
	// process signals readiness.
	EnvReady = "UPKEEP_HANDOFF_READY"
)

// DefaultReadyTimeout is how long [Handoff.Upgrade] waits for the new process to call
// Ready, unless [WithReadyTimeout] says otherwise.
const DefaultReadyTimeout = 30 * time.Second

var (
	// ErrNotReady is wrapped by the [*ReadyError] that [Handoff.Upgrade] returns when
	// the new process did not signal readiness: it could not start, exited, closed its
	// readiness pipe, timed out, or ctx ended. The old process still serves.
	ErrNotReady = errors.New("handoff: new process did not become ready")
	// ErrUnsupported is returned by [Handoff.Upgrade] on systems without inheritable
	// sockets (Windows), where a service is restarted by its service manager.
	ErrUnsupported = errors.New("handoff: zero-downtime restart is not supported on this system")
	// ErrUpgraded is returned by [Handoff.Upgrade] once the listeners have been handed
	// over: this process is on its way out.
	ErrUpgraded = errors.New("handoff: listeners already handed over to a new process")
	// ErrEnv is wrapped by the [*EnvError] that [New] returns when the inherited
	// environment variables or file descriptors are not what a parent would pass.
	ErrEnv = errors.New("handoff: bad inherited environment")
)

// ReadyError reports a new process that did not become ready. It matches
// [ErrNotReady] and its cause with errors.Is.
type ReadyError struct {
	Exe    string        // the executable started
	PID    int           // its process ID, 0 when it could not start
	Waited time.Duration // how long Upgrade waited
	Err    error         // why: *exec.ExitError, a timeout, the context's error…
}

// Error names the executable, its PID and the cause.
func (e *ReadyError) Error() string {
	return fmt.Sprintf("handoff: %s (pid %d) not ready after %s: %v", e.Exe, e.PID, e.Waited.Round(time.Millisecond), e.Err)
}

// Unwrap returns [ErrNotReady] and the cause.
func (e *ReadyError) Unwrap() []error { return []error{ErrNotReady, e.Err} }

// EnvError reports an inherited environment variable or file descriptor that cannot be
// used. It matches [ErrEnv] and its cause with errors.Is.
type EnvError struct {
	Var   string // EnvListeners or EnvReady
	Value string // the variable's value
	Err   error
}

// Error names the variable, its value and the cause.
func (e *EnvError) Error() string {
	return fmt.Sprintf("handoff: %s=%q: %v", e.Var, e.Value, e.Err)
}

// Unwrap returns [ErrEnv] and the cause.
func (e *EnvError) Unwrap() []error { return []error{ErrEnv, e.Err} }

// Option configures a [Handoff].
type Option func(*options) error

type options struct {
	log          *slog.Logger
	readyTimeout time.Duration
	exe          string   // what Upgrade starts; "" for the executable captured at start
	args         []string // its arguments, without the program name
}

// WithLogger sets the logger for handovers. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("handoff: nil logger")
		}
		o.log = l
		return nil
	}
}

// WithReadyTimeout bounds how long [Handoff.Upgrade] waits for the new process's Ready.
// Default: [DefaultReadyTimeout].
func WithReadyTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("handoff: ready timeout must be positive, got %s", d)
		}
		o.readyTimeout = d
		return nil
	}
}

// WithCommand makes [Handoff.Upgrade] start exe with args (without the program name)
// instead of the program itself: for a new version installed at another path, or a
// wrapper. A path without a separator is looked up in PATH. Default: the executable
// this process was started from ([Executable]) with the arguments it was given.
func WithCommand(exe string, args ...string) Option {
	return func(o *options) error {
		if exe == "" {
			return errors.New("handoff: WithCommand: empty executable path")
		}
		o.exe, o.args = exe, slices.Clone(args)
		return nil
	}
}

// Handoff hands this process's listeners to its next version. Create one per process
// with [New]; its methods are safe for concurrent use.
type Handoff struct {
	opts options

	mu        sync.Mutex
	pending   []*entry // inherited listeners no Listen has claimed yet
	ready     *os.File // the parent's readiness pipe, until Ready
	listeners []*entry // every listener Listen returned, handed over by Upgrade
	upgraded  bool     // the listeners went to a new process
	exit      chan struct{}

	upgrade sync.Mutex // one Upgrade at a time
}

// entry is a listener with the network and address it was asked for, which is the
// key a new process's Listen matches ("127.0.0.1:0" stays "127.0.0.1:0").
type entry struct {
	network, addr string
	ln            net.Listener
}

// New returns the process's Handoff. The first New of a process takes the listeners and
// readiness pipe that a parent's [Handoff.Upgrade] passed (and removes [EnvListeners]
// and [EnvReady] from the environment, so that programs it starts do not see them);
// any later New starts with nothing inherited. It fails with an [*EnvError] when
// those variables are set but unusable.
func New(opts ...Option) (*Handoff, error) {
	h := &Handoff{
		opts: options{log: slog.New(slog.DiscardHandler), readyTimeout: DefaultReadyTimeout},
		exit: make(chan struct{}),
	}
	for _, o := range opts {
		if err := o(&h.opts); err != nil {
			return nil, err
		}
	}
	inh, err := claim()
	if err != nil {
		return nil, err
	}
	if inh != nil {
		h.pending = inh.listeners
		h.ready = inh.ready
		for _, e := range inh.listeners {
			h.opts.log.Info("inherited listener", "network", e.network, "addr", e.addr, "local", e.ln.Addr().String())
		}
	}
	return h, nil
}

// process is the inheritance of this process: file descriptors belong to the process,
// not to a Handoff, so they are read once and given to the first New only.
var process struct {
	once    sync.Once
	inh     *inheritance // nil when no parent handed anything over
	err     error
	mu      sync.Mutex
	claimed bool
}

type inheritance struct {
	listeners []*entry
	ready     *os.File
}

func readProcess() {
	process.once.Do(func() {
		ls, rd := os.Getenv(EnvListeners), os.Getenv(EnvReady)
		if ls == "" && rd == "" {
			return
		}
		process.inh, process.err = adopt(ls, rd)
		os.Unsetenv(EnvListeners)
		os.Unsetenv(EnvReady)
	})
}

// claim returns the process's inheritance to its first caller, nil to the others.
func claim() (*inheritance, error) {
	readProcess()
	process.mu.Lock()
	defer process.mu.Unlock()
	if process.claimed {
		return nil, nil
	}
	process.claimed = true
	return process.inh, process.err
}

// Inherited reports whether a parent process started this one through
// [Handoff.Upgrade], handing it listeners.
func Inherited() bool {
	readProcess()
	return process.inh != nil || process.err != nil
}

// Listen returns the inherited listener that was asked for with the same network and
// address (or whose address is addr), else a new listener from net.ListenConfig. Either
// way the listener is handed to the next version by [Handoff.Upgrade].
func (h *Handoff) Listen(ctx context.Context, network, addr string) (net.Listener, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, e := range h.pending {
		if e.matches(network, addr) {
			h.pending = slices.Delete(h.pending, i, i+1)
			e.network, e.addr = network, addr
			h.listeners = append(h.listeners, e)
			return e.ln, nil
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	h.listeners = append(h.listeners, &entry{network: network, addr: addr, ln: ln})
	return ln, nil
}

func (e *entry) matches(network, addr string) bool {
	if e.network == network && e.addr == addr {
		return true
	}
	a := e.ln.Addr()
	return strings.HasPrefix(network, a.Network()) && a.String() == addr
}

// Ready tells the parent process that this one serves, so that the parent stops
// accepting and drains. Call it once every listener's Serve loop has started. It also
// closes the inherited listeners that no Listen claimed (a new version that no longer
// listens there). In a process that no parent handed over to, it tells the service
// manager, if any ([EnvNotifySocket]: systemd's Type=notify), that the service is
// ready, and does nothing else; calling it again does nothing.
func (h *Handoff) Ready() error {
	h.mu.Lock()
	f, unclaimed := h.ready, h.pending
	h.ready, h.pending = nil, nil
	h.mu.Unlock()
	for _, e := range unclaimed {
		h.opts.log.Warn("closing an inherited listener nothing asked for", "network", e.network, "addr", e.addr)
		e.ln.Close()
	}
	if f == nil {
		// The first process of a service: a Type=notify unit waits for this word. A
		// process a parent handed over to leaves it to the parent, which names it as the
		// unit's main process (handedOver).
		if ok, err := notify("READY=1"); ok {
			if err != nil {
				return err
			}
			h.opts.log.Info("told the service manager this process is ready")
		}
		return nil
	}
	_, err := f.Write([]byte("ready\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("handoff: telling the parent process this one is ready: %w", err)
	}
	h.opts.log.Info("told the parent process this one is ready", "ppid", os.Getppid())
	return nil
}

// Exit returns a channel that is closed when [Handoff.Upgrade] has handed the
// listeners to a ready new process: the caller then stops its servers with
// [Drainer.Drain], which finishes every request already accepted, and exits.
func (h *Handoff) Exit() <-chan struct{} { return h.exit }

// command returns what Upgrade starts.
func (h *Handoff) command() (exe string, args []string, err error) {
	if h.opts.exe != "" {
		return h.opts.exe, h.opts.args, nil
	}
	if start.err != nil {
		return "", nil, start.err
	}
	if len(start.args) > 0 {
		args = start.args[1:]
	}
	return start.exe, args, nil
}

// environ is this process's environment without a handover's variables.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, EnvListeners+"=") || strings.HasPrefix(kv, EnvReady+"=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Child is a new process that became ready.
type Child struct {
	PID   int           // its process ID
	Exe   string        // the executable started
	Ready time.Duration // how long it took to signal readiness
}
