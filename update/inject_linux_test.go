package update_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/testenv"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// needRoot skips tests that mount filesystems or set attributes only root can set.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root (mount, chattr)")
	}
}

// TestDiskFull installs onto a small tmpfs that the new version does not fit in.
func TestDiskFull(t *testing.T) {
	needRoot(t)
	t.Parallel()
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, strategy, false)
			mnt := filepath.Dir(e.module)
			if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
				t.Skipf("cannot mount a tmpfs: %v %s", err, out)
			}
			t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
			e.repo.Publish("web", "1.0.0", platform, v1)
			e.repo.Publish("web", "2.0.0", platform, bigTree(3<<20))
			eng := e.engine(t)
			ctx := context.Background()
			_, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"})
			require.NoError(t, err)
			_, err = eng.Install(ctx, "web", update.InstallOptions{})
			require.Error(t, err)
			require.Contains(t, err.Error(), "no space left on device")
			require.Equal(t, v1, updatetest.ReadTree(t, e.module))
			st, _ := eng.ModuleStatus(context.Background(), "web")
			require.Contains(t, st.LastError, "no space left")
			require.False(t, st.Maintenance)
			assertClean(t, e)
		})
	}
}

// TestUnwritableFile makes a live file (inplace) or the live folder (swap) immutable:
// the install fails at the swap, and the rollback leaves the old version exactly.
func TestUnwritableFile(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("chattr not found (e2fsprogs)")
	}
	t.Parallel()
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, strategy, false)
			e.repo.Publish("web", "1.0.0", platform, v1)
			e.repo.Publish("web", "2.0.0", platform, v2)
			eng := e.engine(t)
			ctx := context.Background()
			_, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"})
			require.NoError(t, err)
			locked := filepath.Join(e.module, "index.html")
			if strategy == update.Swap {
				locked = e.module
			}
			if out, err := exec.Command("chattr", "+i", locked).CombinedOutput(); err != nil {
				t.Skipf("chattr +i not supported here: %v %s", err, out)
			}
			t.Cleanup(func() { exec.Command("chattr", "-i", locked).Run() })
			_, err = eng.Install(ctx, "web", update.InstallOptions{})
			require.ErrorIs(t, err, update.ErrRolledBack)
			require.Contains(t, err.Error(), "operation not permitted")
			exec.Command("chattr", "-i", locked).Run()
			require.Equal(t, v1, updatetest.ReadTree(t, e.module), "old version exactly")
			st, _ := eng.ModuleStatus(context.Background(), "web")
			require.Equal(t, "1.0.0", *st.Installed)
			require.Contains(t, st.LastError, "operation not permitted")
			require.False(t, st.Maintenance)
			assertClean(t, e)
		})
	}
}

// TestNotWritableReported reports, at check time, a module folder this account cannot
// write beside (the seed's rights problem), and the install fails naming it.
func TestNotWritableReported(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("chattr not found (e2fsprogs)")
	}
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	parent := filepath.Dir(e.module)
	if out, err := exec.Command("chattr", "+i", parent).CombinedOutput(); err != nil {
		t.Skipf("chattr +i not supported here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", parent).Run() })
	eng := e.engine(t)
	rep, err := eng.Check(context.Background())
	require.NoError(t, err)
	require.Contains(t, rep.Modules[0].Warning, parent)
	st, _ := eng.ModuleStatus(context.Background(), "web")
	require.Contains(t, st.Problem, "rights")
	_, err = eng.Install(context.Background(), "web", update.InstallOptions{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "not writable")
}

// TestLockHeldByAnotherProcess: a module locked by another process is reported busy,
// naming the PID written in the lock file; once that process is gone (even killed),
// the lock is taken over.
func TestLockHeldByAnotherProcess(t *testing.T) {
	flockBin := testenv.NeedProgram(t, "flock", "util-linux")
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	eng := e.engine(t)
	lock := filepath.Join(e.cfg.StateDir, "modules", "web", "lock")
	require.NoError(t, os.MkdirAll(filepath.Dir(lock), 0o755))
	// The holder writes its PID once it holds the lock, as upkeep does.
	holder := exec.Command(flockBin, lock, "sh", "-c", `echo $$ > "$0"; exec sleep 30`, lock)
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its child holds the lock too
	require.NoError(t, holder.Start())
	var pid string
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(lock)
		pid = strings.TrimSpace(string(b))
		return pid != ""
	}, 5*time.Second, 10*time.Millisecond)
	_, err := eng.Install(context.Background(), "web", update.InstallOptions{})
	require.ErrorIs(t, err, update.ErrBusy)
	require.Contains(t, err.Error(), "process "+pid)
	syscall.Kill(-holder.Process.Pid, syscall.SIGKILL)
	holder.Wait()
	// The kernel releases the lock when the killed grandchild is gone, which Wait does
	// not wait for.
	require.Eventually(t, func() bool {
		_, err = eng.Install(context.Background(), "web", update.InstallOptions{})
		return err == nil
	}, 5*time.Second, 10*time.Millisecond, "the lock of a killed holder is taken over: %v", err)
}
