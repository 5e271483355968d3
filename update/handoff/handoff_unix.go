//go:build unix

package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// adopt turns the inherited descriptors into listeners and the readiness pipe.
func adopt(listeners, ready string) (*inheritance, error) {
	specs, rfd, err := parseEnv(listeners, ready)
	if err != nil {
		return nil, err
	}
	inh := &inheritance{}
	fail := func(err error) (*inheritance, error) {
		for _, e := range inh.listeners {
			e.ln.Close()
		}
		return nil, err
	}
	for i, s := range specs {
		f := os.NewFile(uintptr(s.FD), fmt.Sprintf("inherited %s %s", s.Network, s.Addr))
		if f == nil {
			return fail(&EnvError{Var: EnvListeners, Value: listeners, Err: fmt.Errorf("[%d]: fd %d is not open", i, s.FD)})
		}
		// FileListener keeps a duplicate marked close-on-exec; the inherited
		// descriptor itself is closed so that programs this one starts don't hold it.
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return fail(&EnvError{Var: EnvListeners, Value: listeners, Err: fmt.Errorf("[%d]: fd %d is not a listening socket: %w", i, s.FD, err)})
		}
		inh.listeners = append(inh.listeners, &entry{network: s.Network, addr: s.Addr, ln: ln})
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(rfd, &st); err != nil {
		return fail(&EnvError{Var: EnvReady, Value: ready, Err: fmt.Errorf("fd %d: %w", rfd, err)})
	}
	// A hook script started before Ready must not hold the pipe open: the parent
	// would not see this process die.
	syscall.CloseOnExec(rfd)
	inh.ready = os.NewFile(uintptr(rfd), "handoff readiness pipe")
	return inh, nil
}

// Upgrade starts the program's next version, handing it every listener returned by
// [Handoff.Listen], and waits until it calls [Handoff.Ready]. What it starts is the
// executable this process was started from, at the path captured at start-up
// ([Executable]: after a self-update swapped the program's folder, that path holds the
// new version), with the arguments it was started with and the current environment;
// [WithCommand] starts something else. On success [Handoff.Exit] is closed: this
// process should stop accepting, drain ([Drainer.Drain]) and exit. Otherwise it
// returns a [*ReadyError] wrapping [ErrNotReady] and its cause, having killed the new
// process if it still ran; this process's listeners are untouched and it keeps
// serving. A new process that accepted connections before failing loses them, which is
// why it should call Ready as soon as it serves and check what can fail before it
// listens.
//
// Cancelling ctx stops the wait (and the new process) but never a new process that
// already signalled readiness. Upgrade returns [ErrUpgraded] after a successful one.
func (h *Handoff) Upgrade(ctx context.Context) (*Child, error) {
	exe, args, err := h.command()
	if err != nil {
		return nil, err
	}
	h.upgrade.Lock()
	defer h.upgrade.Unlock()
	h.mu.Lock()
	if h.upgraded {
		h.mu.Unlock()
		return nil, ErrUpgraded
	}
	specs, files, ferr := h.files()
	h.mu.Unlock()
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if ferr != nil {
		return nil, ferr
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("handoff: readiness pipe: %w", err)
	}
	defer r.Close()
	desc, err := json.Marshal(specs)
	if err != nil {
		w.Close()
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(environ(), EnvListeners+"="+string(desc), EnvReady+"="+strconv.Itoa(3+len(files)))
	cmd.ExtraFiles = append(files, w)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	h.opts.log.Info("starting the new process", "exe", exe, "listeners", len(files))
	err = cmd.Start()
	// The child holds its copies now; the write end must be closed here for a dead
	// child to read as EOF.
	w.Close()
	if err != nil {
		return nil, &ReadyError{Exe: exe, Waited: time.Since(start), Err: err}
	}
	pid := cmd.Process.Pid

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // also reaps a child that dies after taking over
	said := make(chan error, 1)
	go func() {
		var b [16]byte
		n, err := r.Read(b[:])
		if n > 0 {
			err = nil
		} else if err == nil || errors.Is(err, io.EOF) {
			err = io.EOF
		}
		said <- err
	}()

	timer := time.NewTimer(h.opts.readyTimeout)
	defer timer.Stop()
	var cause error
	done := false // the child was waited for
	select {
	case err := <-said:
		if err == nil {
			return h.handedOver(exe, pid, time.Since(start)), nil
		}
		// The pipe closed without a word: most often the child is exiting.
		select {
		case werr := <-exited:
			cause, done = exitCause(werr), true
		case <-timer.C:
			cause = errors.New("closed its readiness pipe without signalling ready")
		case <-ctx.Done():
			cause = context.Cause(ctx)
		}
	case werr := <-exited:
		// A child that signalled ready and exited at once (its work was short) made both
		// cases ready together: the readiness word, still in the pipe, decides.
		select {
		case err := <-said:
			if err == nil {
				return h.handedOver(exe, pid, time.Since(start)), nil
			}
		case <-time.After(time.Second):
		}
		cause, done = exitCause(werr), true
	case <-timer.C:
		cause = fmt.Errorf("no readiness signal within %s", h.opts.readyTimeout)
	case <-ctx.Done():
		cause = context.Cause(ctx)
	}
	if !done {
		cmd.Process.Kill()
		<-exited
	}
	err = &ReadyError{Exe: exe, PID: pid, Waited: time.Since(start), Err: cause}
	h.opts.log.Warn("the new process did not become ready", "exe", exe, "child_pid", pid, "err", cause)
	return nil, err
}

// handedOver records a successful handover.
func (h *Handoff) handedOver(exe string, pid int, took time.Duration) *Child {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.upgraded = true
	for _, e := range h.listeners {
		// The socket file now belongs to the new process too: closing ours must not
		// remove it.
		if ul, ok := e.ln.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false)
		}
	}
	close(h.exit)
	h.opts.log.Info("the new process is ready; this one should drain and exit", "exe", exe, "child_pid", pid, "after", took)
	// Under systemd the unit's main process is about to exit: name the new one first,
	// or the unit would stop (Type=notify, NotifyAccess=main or all).
	if ok, err := notify(fmt.Sprintf("MAINPID=%d\nREADY=1", pid)); err != nil {
		h.opts.log.Warn("the service manager was not told the new main process", "child_pid", pid, "err", err)
	} else if ok {
		h.opts.log.Info("told the service manager the new main process", "child_pid", pid)
	}
	return &Child{PID: pid, Exe: exe, Ready: took}
}

// files duplicates every listener's descriptor for the child. h.mu is held.
//
// The duplicates are made from the raw descriptors rather than with the listeners'
// File methods: os/exec asks a File for its descriptor with Fd, which switches a File
// method's socket to blocking mode, and blocking mode belongs to the socket shared with
// this process's own listener, whose Accept would then block a thread and hold up
// Shutdown. A descriptor given to os.NewFile keeps its non-blocking mode.
func (h *Handoff) files() ([]spec, []*os.File, error) {
	var specs []spec
	var files []*os.File
	for i, e := range h.listeners {
		f, err := dupListener(e)
		if err != nil {
			return nil, files, err
		}
		files = append(files, f)
		specs = append(specs, spec{FD: 3 + i, Network: e.network, Addr: e.addr})
	}
	return specs, files, nil
}

func dupListener(e *entry) (*os.File, error) {
	sc, ok := e.ln.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("handoff: listener %s %s (%T) has no file descriptor to hand over", e.network, e.addr, e.ln)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("handoff: listener %s %s: %w", e.network, e.addr, err)
	}
	dup, derr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) {
		dup, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, fmt.Errorf("handoff: listener %s %s: %w", e.network, e.addr, err)
	}
	if derr != nil {
		return nil, fmt.Errorf("handoff: listener %s %s: duplicating its descriptor: %w", e.network, e.addr, derr)
	}
	return os.NewFile(uintptr(dup), "listener "+e.network+" "+e.addr), nil
}

func exitCause(err error) error {
	if err == nil {
		return errors.New("exited with status 0 before signalling ready")
	}
	return fmt.Errorf("exited before signalling ready: %w", err)
}
