package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Systemd installs the agent as a systemd unit of Type=notify.
type Systemd struct {
	// Root is the root of the file system the unit is written into. Default (""):
	// "/", and systemctl daemon-reload and enable follow the install. With another
	// root (an image being prepared, tests) only the file is written.
	Root string
	// Systemctl is the systemctl program. Default: "systemctl" from PATH.
	Systemctl string
}

// UnitDir is where units are installed, under Root.
const UnitDir = "/etc/systemd/system"

// Render returns the unit file.
func (s Systemd) Render(d Definition) (string, error) {
	d, err := d.withDefaults()
	if err != nil {
		return "", err
	}
	exec := make([]string, 0, len(d.Args)+1)
	for _, a := range append([]string{d.Exe}, d.Args...) {
		exec = append(exec, systemdQuote(a))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `[Unit]
Description=%s
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
NotifyAccess=main
ExecStart=%s
Restart=on-failure
RestartSec=5s
WatchdogSec=%ds
# The agent undoes a running install when stopped; its hook scripts are its to stop.
KillMode=mixed
TimeoutStopSec=120s

[Install]
WantedBy=multi-user.target
`, strings.ReplaceAll(d.Description, "%", "%%"), strings.Join(exec, " "), int(d.Watchdog.Seconds()))
	return b.String(), nil
}

// systemdQuote quotes one word of ExecStart: in double quotes, with '\' and '"'
// escaped, and '%' and '$' doubled so that systemd expands nothing.
func systemdQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `%`, `%%`, `$`, `$$`)
	return `"` + r.Replace(s) + `"`
}

func (s Systemd) unitPath(name string) string {
	root := s.Root
	if root == "" {
		root = "/"
	}
	return filepath.Join(root, UnitDir, name+".service")
}

func (s Systemd) live() bool { return s.Root == "" || s.Root == "/" }

// Install writes the unit file (atomically) and, on the live system, reloads systemd
// and enables the unit.
func (s Systemd) Install(ctx context.Context, d Definition) error {
	unit, err := s.Render(d)
	if err != nil {
		return err
	}
	d, _ = d.withDefaults()
	path := s.unitPath(d.Name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(unit), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	if !s.live() {
		return nil
	}
	if _, err := s.systemctl(ctx, "daemon-reload"); err != nil {
		return err
	}
	_, err = s.systemctl(ctx, "enable", "--", d.Name+".service")
	return err
}

// Uninstall stops and disables the unit (on the live system) and removes its file.
func (s Systemd) Uninstall(ctx context.Context, name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	path := s.unitPath(name)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotInstalled, path)
	}
	if s.live() {
		if _, err := s.systemctl(ctx, "disable", "--now", "--", name+".service"); err != nil {
			return err
		}
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	if s.live() {
		_, err := s.systemctl(ctx, "daemon-reload")
		return err
	}
	return nil
}

// Status returns systemctl is-active's answer ("active", "inactive", "failed", …), or
// "installed" for a unit written under another Root.
func (s Systemd) Status(ctx context.Context, name string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	path := s.unitPath(name)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %s", ErrNotInstalled, path)
	}
	if !s.live() {
		return "installed", nil
	}
	// is-active exits non-zero for anything but active, and says which.
	out, err := s.systemctl(ctx, "is-active", "--", name+".service")
	if state := strings.TrimSpace(string(out)); state != "" {
		return state, nil
	}
	return "", err
}

func (s Systemd) systemctl(ctx context.Context, args ...string) ([]byte, error) {
	bin := s.Systemctl
	if bin == "" {
		bin = "systemctl"
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.Bytes(), nil
}
