// Package service runs the agent as an operating system service: a systemd unit of
// Type=notify on Linux (readiness and watchdog through NOTIFY_SOCKET, see [Notifier])
// or a Windows service (golang.org/x/sys/windows/svc, see [RunWindows]), and installs,
// removes and reports it ([Systemd], [Windows]). It does not run the agent's work:
// the program passes its run function, and stops it by cancelling its context when
// the service manager asks.
package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultName is the service name when Definition.Name is empty.
const DefaultName = "upkeep"

// DefaultWatchdog is the systemd watchdog interval (WatchdogSec) when
// Definition.Watchdog is zero: the agent tells systemd it is alive every half of it.
const DefaultWatchdog = 60 * time.Second

// Definition is a service to install: the program and its arguments.
type Definition struct {
	Name        string        // the service (unit) name; default DefaultName
	Description string        // default "upkeep agent: updates and the local portal"
	Exe         string        // absolute path of the program; default os.Executable
	Args        []string      // its arguments, e.g. agent --config FILE --addr ADDR
	Watchdog    time.Duration // systemd WatchdogSec; default DefaultWatchdog
}

func (d Definition) withDefaults() (Definition, error) {
	if d.Name == "" {
		d.Name = DefaultName
	}
	if err := ValidName(d.Name); err != nil {
		return d, err
	}
	if d.Description == "" {
		d.Description = "upkeep agent: updates and the local portal"
	}
	if d.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return d, fmt.Errorf("service: the program's path: %w", err)
		}
		d.Exe = exe
	}
	if !filepath.IsAbs(d.Exe) {
		return d, fmt.Errorf("service: program %q: the path must be absolute", d.Exe)
	}
	if d.Watchdog <= 0 {
		d.Watchdog = DefaultWatchdog
	}
	for _, s := range append([]string{d.Description, d.Exe}, d.Args...) {
		if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return d, fmt.Errorf("service: %q holds a control character", s)
		}
	}
	return d, nil
}

// ValidName reports whether name can name a service: letters, digits, '.', '_', '-',
// '@', not starting with '-' or '.'.
func ValidName(name string) error {
	if name == "" || len(name) > 200 || name[0] == '-' || name[0] == '.' {
		return fmt.Errorf("service: name %q: want letters, digits, '.', '_', '-' or '@'", name)
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-', r == '@':
		default:
			return fmt.Errorf("service: name %q: want letters, digits, '.', '_', '-' or '@'", name)
		}
	}
	return nil
}

// Manager installs, removes and reports a service.
type Manager interface {
	// Render returns the definition as the service manager would hold it (the
	// unit file), without installing anything.
	Render(d Definition) (string, error)
	Install(ctx context.Context, d Definition) error
	Uninstall(ctx context.Context, name string) error
	// Status says whether the service is installed and running, in the manager's
	// words.
	Status(ctx context.Context, name string) (string, error)
}

// ErrNotInstalled is returned by Uninstall and Status for a service that is not
// installed.
var ErrNotInstalled = errors.New("service: not installed")

// ErrUnsupported is returned by Native on a system without a supported service
// manager.
var ErrUnsupported = errors.New("service: no supported service manager on this system")
