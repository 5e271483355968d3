package servicectl

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// windowsService asks the service control manager to stop or start a service, then
// polls its state until it is stopped or running, or ctx is done.
func windowsService(ctx context.Context, op, name string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connecting to the service control manager: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return err
	}
	defer s.Close()
	want := svc.Running
	if op == "stop" {
		want = svc.Stopped
		if _, err := s.Control(svc.Stop); err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
			return err
		}
	} else if err := s.Start(); err != nil && !errors.Is(err, windows.ERROR_SERVICE_ALREADY_RUNNING) {
		return err
	}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		st, err := s.Query()
		if err != nil {
			return err
		}
		if st.State == want {
			return nil
		}
		if op == "start" && st.State == svc.Stopped {
			return fmt.Errorf("the service stopped while starting (exit code %d, service exit code %d)", st.Win32ExitCode, st.ServiceSpecificExitCode)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still in state %d: %w", st.State, context.Cause(ctx))
		case <-t.C:
		}
	}
}
