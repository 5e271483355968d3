package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// IsWindowsService reports whether the process was started by the service control
// manager.
func IsWindowsService() bool {
	ok, err := svc.IsWindowsService()
	return err == nil && ok
}

// RunWindows runs run as the Windows service name: the service control manager's
// Stop and Shutdown cancel run's context, and the service reports stopped once run
// has returned. An error from run ends the service with a failure exit code, so that
// the recovery actions restart it.
func RunWindows(name string, run func(ctx context.Context) error) error {
	h := &handler{run: run}
	if err := svc.Run(name, h); err != nil {
		return err
	}
	return h.err
}

type handler struct {
	run func(ctx context.Context) error
	err error
}

// Execute is called by svc.Run.
func (h *handler) Execute(args []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	const accepts = svc.AcceptStop | svc.AcceptShutdown
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.run(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: accepts}
	for {
		select {
		case err := <-done:
			h.err = err
			if err != nil {
				return false, 1
			}
			return false, 0
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: 120000}
				cancel()
				h.err = <-done
				if h.err != nil {
					return false, 1
				}
				return false, 0
			}
		}
	}
}

// Windows installs the agent as a Windows service: automatic start, delayed (as the
// operators of the services it replaces expect), restarted by the recovery actions
// when it fails.
type Windows struct{}

// Render describes the service as it would be created.
func (Windows) Render(d Definition) (string, error) {
	d, err := d.withDefaults()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("service %s\n  display name: %s\n  command: %s\n  start type: automatic (delayed start)\n  recovery: restart after 5s, 5s, 30s (failure counter reset after 1 day)\n",
		d.Name, d.Description, windows.ComposeCommandLine(append([]string{d.Exe}, d.Args...))), nil
}

// Install creates the service and sets its recovery actions.
func (Windows) Install(ctx context.Context, d Definition) error {
	d, err := d.withDefaults()
	if err != nil {
		return err
	}
	m, err := mgr.Connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := m.CreateService(d.Name, d.Exe, mgr.Config{
		DisplayName:      d.Name,
		Description:      d.Description,
		StartType:        mgr.StartAutomatic,
		DelayedAutoStart: true,
	}, d.Args...)
	if err != nil {
		return fmt.Errorf("creating service %s: %w", d.Name, err)
	}
	defer s.Close()
	actions := []mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
	}
	if err := s.SetRecoveryActions(actions, uint32((24 * time.Hour).Seconds())); err != nil {
		return fmt.Errorf("service %s: recovery actions: %w", d.Name, err)
	}
	// A non-zero exit code counts as a failure too, not only a crash.
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("service %s: recovery actions: %w", d.Name, err)
	}
	return nil
}

// Uninstall stops the service (waiting up to two minutes) and deletes it.
func (Windows) Uninstall(ctx context.Context, name string) error {
	m, err := mgr.Connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
			return fmt.Errorf("%w: %s", ErrNotInstalled, name)
		}
		return err
	}
	defer s.Close()
	if st, err := s.Control(svc.Stop); err == nil {
		deadline := time.Now().Add(2 * time.Minute)
		for st.State != svc.Stopped && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(300 * time.Millisecond)
			if st, err = s.Query(); err != nil {
				break
			}
		}
	}
	return s.Delete()
}

// Status returns the service's state: "running", "stopped", "start pending", ….
func (Windows) Status(ctx context.Context, name string) (string, error) {
	m, err := mgr.Connect()
	if err != nil {
		return "", err
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
			return "", fmt.Errorf("%w: %s", ErrNotInstalled, name)
		}
		return "", err
	}
	defer s.Close()
	st, err := s.Query()
	if err != nil {
		return "", err
	}
	states := map[svc.State]string{svc.Stopped: "stopped", svc.StartPending: "start pending", svc.StopPending: "stop pending",
		svc.Running: "running", svc.ContinuePending: "continue pending", svc.PausePending: "pause pending", svc.Paused: "paused"}
	if s, ok := states[st.State]; ok {
		return s, nil
	}
	return strings.ToLower(fmt.Sprint(st.State)), nil
}

// Native returns the service manager of this system.
func Native() (Manager, error) { return Windows{}, nil }
