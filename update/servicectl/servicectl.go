// Package servicectl stops and starts what runs a module — a systemd unit, a Windows
// service, or an IIS application pool — waiting, within a bound, until it has
// stopped or started. The engine (package update) stops a module's service once
// maintenance is on and starts it again before maintenance goes off.
//
// systemd units are driven through the systemctl program (looked up on PATH), IIS
// application pools through appcmd (%windir%\system32\inetsrv\appcmd.exe, else appcmd
// on PATH), Windows services through the service control manager
// (golang.org/x/sys/windows/svc/mgr). Stopping a stopped service and starting a
// running one succeed, so that an undo after a failure can always ask for a start.
// It never installs, enables or configures a service.
package servicectl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Kind is the service manager that runs a service.
type Kind string

// Kinds of service.
const (
	Systemd    Kind = "systemd"     // a systemd unit ("web.service"; ".service" is implied)
	Windows    Kind = "windows"     // a Windows service, by its service name
	IISAppPool Kind = "iis-apppool" // an IIS application pool, by its name
)

// DefaultTimeout bounds a stop or a start when the caller gives no timeout.
const DefaultTimeout = 90 * time.Second

// Service names a service. Its JSON form is the "service" object of a module in the
// agent configuration: {"kind": "systemd", "name": "web.service"}.
type Service struct {
	Kind Kind   `json:"kind"`
	Name string `json:"name"` // the unit, service or pool name
}

// String returns the service as messages name it: "systemd unit web.service".
func (s Service) String() string {
	switch s.Kind {
	case Systemd:
		return "systemd unit " + s.Name
	case Windows:
		return "Windows service " + s.Name
	case IISAppPool:
		return "IIS application pool " + s.Name
	}
	return string(s.Kind) + " service " + s.Name
}

// Validate checks the kind and the name: a name is not empty, does not start with
// '-' (it would read as an option) and holds no control character, '/' or '\'.
func (s Service) Validate() error {
	switch s.Kind {
	case Systemd, Windows, IISAppPool:
	default:
		return fmt.Errorf("kind %q: want %q, %q or %q", s.Kind, Systemd, Windows, IISAppPool)
	}
	if s.Name == "" {
		return errors.New("name: missing")
	}
	if len(s.Name) > 256 || strings.HasPrefix(s.Name, "-") || strings.ContainsAny(s.Name, `/\"`) ||
		strings.ContainsFunc(s.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("name %q: not a service name", s.Name)
	}
	return nil
}

// ErrTimeout is wrapped by the Error of a stop or start that did not complete within
// its bound.
var ErrTimeout = errors.New("servicectl: timed out")

// Error is a stop or start that failed: it names the operation and the service.
type Error struct {
	Op      string // "stop" or "start"
	Service Service
	Err     error
}

// Error describes the failure, naming the service.
func (e *Error) Error() string { return e.Op + " " + e.Service.String() + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Stop stops s and waits until it has stopped, for at most timeout (<= 0:
// DefaultTimeout). A service already stopped is not an error.
func Stop(ctx context.Context, s Service, timeout time.Duration) error {
	return do(ctx, "stop", s, timeout)
}

// Start starts s and waits until it runs, for at most timeout (<= 0:
// DefaultTimeout). A service already running is not an error.
func Start(ctx context.Context, s Service, timeout time.Duration) error {
	return do(ctx, "start", s, timeout)
}

func do(ctx context.Context, op string, s Service, timeout time.Duration) error {
	if err := s.Validate(); err != nil {
		return &Error{Op: op, Service: s, Err: err}
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%w after %s", ErrTimeout, timeout))
	defer cancel()
	var err error
	switch s.Kind {
	case Systemd:
		err = systemd(ctx, op, s.Name)
	case Windows:
		err = windowsService(ctx, op, s.Name)
	case IISAppPool:
		err = appPool(ctx, op, s.Name)
	}
	if err != nil {
		return &Error{Op: op, Service: s, Err: err}
	}
	return nil
}

// systemd runs systemctl, which waits for the unit's job to complete.
func systemd(ctx context.Context, op, name string) error {
	bin, err := exec.LookPath("systemctl")
	if err != nil {
		return err
	}
	_, err = run(ctx, bin, op, "--", name)
	return err
}

// appPool runs appcmd. Stopping a stopped pool or starting a started one makes appcmd
// fail saying so ("already"), which is success here.
func appPool(ctx context.Context, op, name string) error {
	bin, err := appcmdPath()
	if err != nil {
		return err
	}
	out, err := run(ctx, bin, op, "apppool", "/apppool.name:"+name)
	if err != nil && context.Cause(ctx) == nil && bytes.Contains(bytes.ToLower(out), []byte("already")) {
		return nil
	}
	return err
}

// run runs a program until it exits or ctx is done (then it is killed), returning
// its output; a failure quotes the end of the output.
func run(ctx context.Context, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A child the program left holding the output open does not hold us past the bound.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if cause := context.Cause(ctx); cause != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w", bin, strings.Join(args, " "), cause)
	}
	if err != nil {
		msg := strings.TrimSpace(tail(out.String(), 1024))
		if msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return out.Bytes(), fmt.Errorf("%s %s: %w", bin, strings.Join(args, " "), err)
	}
	return out.Bytes(), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
