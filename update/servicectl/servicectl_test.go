package servicectl_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update/servicectl"
)

// fakeManager puts on PATH a fake systemctl and a fake appcmd: shell scripts that
// record their arguments, one call a line, in the returned file. A call naming
// "hang" sleeps (a stop that never completes); one naming "broken" fails; appcmd
// stopping "stopped" says the pool is already stopped, as appcmd does. There is no
// systemd in a CI container, so the service manager itself is this stand-in.
func fakeManager(t *testing.T) (calls string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake service manager is a shell script")
	}
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	script := `#!/bin/sh
echo "$(basename "$0") $*" >> "` + calls + `"
case "$*" in
*hang*) exec sleep 30 ;;
*broken*) echo "Job for broken.service failed." >&2; exit 1 ;;
*"stop apppool /apppool.name:stopped"*) echo 'ERROR ( message:Application pool "stopped" already stopped. )'; exit 1 ;;
esac
`
	for _, name := range []string{"systemctl", "appcmd"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755))
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return calls
}

func readCalls(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestStopStart(t *testing.T) {
	calls := fakeManager(t)
	ctx := context.Background()
	web := servicectl.Service{Kind: servicectl.Systemd, Name: "web.service"}
	pool := servicectl.Service{Kind: servicectl.IISAppPool, Name: "stopped"}
	require.NoError(t, servicectl.Stop(ctx, web, time.Second))
	require.NoError(t, servicectl.Start(ctx, web, time.Second))
	require.NoError(t, servicectl.Stop(ctx, pool, time.Second), "a pool already stopped is stopped")
	require.NoError(t, servicectl.Start(ctx, pool, time.Second))
	require.Equal(t, []string{
		"systemctl stop -- web.service",
		"systemctl start -- web.service",
		"appcmd stop apppool /apppool.name:stopped",
		"appcmd start apppool /apppool.name:stopped",
	}, readCalls(t, calls))
}

func TestStopTimesOut(t *testing.T) {
	fakeManager(t)
	s := servicectl.Service{Kind: servicectl.Systemd, Name: "hang.service"}
	start := time.Now()
	err := servicectl.Stop(context.Background(), s, 200*time.Millisecond)
	require.ErrorIs(t, err, servicectl.ErrTimeout)
	require.Less(t, time.Since(start), 10*time.Second, "the wait is bounded")
	var se *servicectl.Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, "stop", se.Op)
	require.Contains(t, err.Error(), "stop systemd unit hang.service: ")
	require.Contains(t, err.Error(), "timed out after 200ms")
}

func TestStartFails(t *testing.T) {
	fakeManager(t)
	err := servicectl.Start(context.Background(), servicectl.Service{Kind: servicectl.Systemd, Name: "broken.service"}, time.Second)
	require.Error(t, err)
	require.False(t, errors.Is(err, servicectl.ErrTimeout))
	require.Contains(t, err.Error(), "start systemd unit broken.service: ")
	require.Contains(t, err.Error(), "Job for broken.service failed.")
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, s := range []servicectl.Service{
		{Kind: "upstart", Name: "web"},
		{Kind: servicectl.Systemd, Name: ""},
		{Kind: servicectl.Systemd, Name: "--now"},
		{Kind: servicectl.Windows, Name: `a\b`},
		{Kind: servicectl.IISAppPool, Name: "a\nb"},
	} {
		require.Error(t, s.Validate(), "%+v", s)
		err := servicectl.Stop(context.Background(), s, time.Second)
		var se *servicectl.Error
		require.ErrorAs(t, err, &se, "%+v", s)
	}
	require.NoError(t, servicectl.Service{Kind: servicectl.Windows, Name: "W3SVC"}.Validate())
}
