package update_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/servicectl"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// fakeSystemctl puts on PATH a fake systemctl (there is no systemd in a CI
// container): a shell script that records each call, with whether the module's
// maintenance flag was there at the time, in the returned file. A stop of
// "hang.service" never completes; a start of "nostart.service" fails while the live
// tree is version 2.
func fakeSystemctl(t *testing.T, module string) (calls string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake systemctl is a shell script")
	}
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	flag := filepath.Join(module, "app_offline.htm")
	script := `#!/bin/sh
m=off; [ -e "` + flag + `" ] && m=on
echo "$* maintenance=$m" >> "` + calls + `"
case "$*" in
"stop -- hang.service") exec sleep 30 ;;
"start -- nostart.service") grep -q v2 "` + filepath.Join(module, "index.html") + `" && { echo "nostart.service: exit code 3" >&2; exit 3; } ;;
esac
exit 0
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "systemctl"), []byte(script), 0o755))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return calls
}

func serviceCalls(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// The module's service is stopped once maintenance is on and started before it goes
// off, for an install and a rollback.
func TestServiceStoppedDuringMaintenance(t *testing.T) {
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, strategy, true)
			calls := fakeSystemctl(t, e.module)
			e.cfg.Modules[0].Service = &servicectl.Service{Kind: "systemd", Name: "web.service"}
			e.repo.Publish("web", "1.0.0", platform, v1)
			e.repo.Publish("web", "2.0.0", platform, v2)
			eng := e.engine(t)
			_, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"})
			require.NoError(t, err)
			// A first install has no live folder to place the flag in.
			require.Equal(t, []string{"stop -- web.service maintenance=off", "start -- web.service maintenance=off"}, serviceCalls(t, calls))
			os.Remove(calls)
			_, err = eng.Install(ctx, "web", update.InstallOptions{})
			require.NoError(t, err)
			_, err = eng.Rollback(ctx, "web", update.RollbackOptions{})
			require.NoError(t, err)
			require.Equal(t, []string{
				"stop -- web.service maintenance=on", "start -- web.service maintenance=on",
				"stop -- web.service maintenance=on", "start -- web.service maintenance=on",
			}, serviceCalls(t, calls))
			st, err := eng.ModuleStatus(ctx, "web")
			require.NoError(t, err)
			require.False(t, st.Maintenance)
		})
	}
}

// A stop that does not complete within the bound fails the install, which is undone:
// the service is started again, the previous version stays, maintenance goes off, and
// the error names the service.
func TestServiceStopHangs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, update.Swap, true)
	calls := fakeSystemctl(t, e.module)
	e.repo.Publish("web", "1.0.0", platform, v1)
	eng := e.engine(t)
	_, err := eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)

	e.cfg.Modules[0].Service = &servicectl.Service{Kind: "systemd", Name: "hang.service"}
	e.repo.Publish("web", "2.0.0", platform, v2)
	eng = e.engine(t, updatetest.WithServiceTimeout(300*time.Millisecond))
	start := time.Now()
	_, err = eng.Install(ctx, "web", update.InstallOptions{})
	require.ErrorIs(t, err, update.ErrRolledBack)
	require.ErrorIs(t, err, servicectl.ErrTimeout)
	require.Equal(t, update.CodeService, update.CodeOf(err))
	require.Contains(t, err.Error(), "stop systemd unit hang.service: ")
	require.Less(t, time.Since(start), 15*time.Second)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))
	require.Equal(t, []string{"stop -- hang.service maintenance=on", "start -- hang.service maintenance=on"}, serviceCalls(t, calls))
	st, err := eng.ModuleStatus(ctx, "web")
	require.NoError(t, err)
	require.False(t, st.Maintenance)
	require.Equal(t, "2.0.0", st.FailedVersion)
	require.Contains(t, st.LastError, "hang.service")
}

// A service that does not start with the new version undoes the install: the
// previous version is put back and the service started with it.
func TestServiceStartFailsRollsBack(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, update.Swap, true)
	calls := fakeSystemctl(t, e.module)
	e.cfg.Modules[0].Service = &servicectl.Service{Kind: "systemd", Name: "nostart.service"}
	e.repo.Publish("web", "1.0.0", platform, v1)
	eng := e.engine(t)
	_, err := eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	os.Remove(calls)
	e.repo.Publish("web", "2.0.0", platform, v2)
	_, err = eng.Install(ctx, "web", update.InstallOptions{})
	require.ErrorIs(t, err, update.ErrRolledBack)
	require.Contains(t, err.Error(), "start systemd unit nostart.service: ")
	require.Contains(t, err.Error(), "exit code 3")
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))
	require.Equal(t, []string{
		"stop -- nostart.service maintenance=on",
		"start -- nostart.service maintenance=on", // fails with 2.0.0 in place
		"start -- nostart.service maintenance=on", // with 1.0.0 back
	}, serviceCalls(t, calls))
}

func TestServiceConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	e.cfg.Modules[0].Service = &servicectl.Service{Kind: "upstart", Name: "web"}
	_, err := update.New(e.cfg)
	require.ErrorIs(t, err, update.ErrConfig)
	require.Contains(t, err.Error(), "Modules[0].Service")
	require.Contains(t, err.Error(), `"upstart"`)
}
