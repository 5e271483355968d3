package service_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update/agent/service"
)

var def = service.Definition{
	Name:     "upkeep",
	Exe:      "/usr/local/bin/upkeep",
	Args:     []string{"agent", "--config", "/etc/upkeep/50% \"off\" $HOME.json", "--addr", "127.0.0.1:8080"},
	Watchdog: 30 * time.Second,
}

func TestSystemdRender(t *testing.T) {
	t.Parallel()
	unit, err := service.Systemd{}.Render(def)
	require.NoError(t, err)
	for _, line := range []string{
		"Type=notify\n",
		"Restart=on-failure\n",
		"WatchdogSec=30s\n",
		`ExecStart="/usr/local/bin/upkeep" "agent" "--config" "/etc/upkeep/50%% \"off\" $$HOME.json" "--addr" "127.0.0.1:8080"` + "\n",
		"WantedBy=multi-user.target\n",
	} {
		require.Contains(t, unit, line)
	}
	_, err = service.Systemd{}.Render(service.Definition{Name: "../etc/passwd", Exe: "/bin/x"})
	require.Error(t, err)
	_, err = service.Systemd{}.Render(service.Definition{Exe: "upkeep"})
	require.ErrorContains(t, err, "absolute")
	_, err = service.Systemd{}.Render(service.Definition{Exe: "/bin/upkeep", Args: []string{"a\nExecStartPre=/bin/evil"}})
	require.ErrorContains(t, err, "control character")
}

// Install under another root writes the unit file only; nothing of the live system
// is touched.
func TestSystemdInstallUnderRoot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	m := service.Systemd{Root: root, Systemctl: "/nonexistent/systemctl"}
	_, err := m.Status(ctx, "upkeep")
	require.ErrorIs(t, err, service.ErrNotInstalled)
	require.NoError(t, m.Install(ctx, def))
	b, err := os.ReadFile(filepath.Join(root, "etc/systemd/system/upkeep.service"))
	require.NoError(t, err)
	want, _ := m.Render(def)
	require.Equal(t, want, string(b))
	st, err := m.Status(ctx, "upkeep")
	require.NoError(t, err)
	require.Equal(t, "installed", st)
	require.NoError(t, m.Uninstall(ctx, "upkeep"))
	require.NoFileExists(t, filepath.Join(root, "etc/systemd/system/upkeep.service"))
	require.ErrorIs(t, m.Uninstall(ctx, "upkeep"), service.ErrNotInstalled)
}
