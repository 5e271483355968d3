package hooks

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// escapingScript starts two processes in sessions of their own, so outside the
// script's process group, each writing its pid (its session's id) to a file: one
// that sleeps, and one that keeps starting sleeping children.
const escapingScript = `setsid sh -c 'echo $$ > "${E_BACKUP_PATH}sleeper.sid"; exec sleep 60' &
setsid sh -c 'echo $$ > "${E_BACKUP_PATH}spawner.sid"; while :; do sleep 60 & sleep 0.02; done' &
wait
`

// sessionAlive returns the processes of session sid that are not zombies.
func sessionAlive(sid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(stat)
		// After the command name in parentheses: state ppid pgrp session ...
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 3 && f[0] != "Z" && f[3] == strconv.Itoa(sid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestScriptsKillEscapedDescendants checks that a timeout, and a cancellation, kill
// the descendants of a script that left its process group with setsid, including
// one that keeps starting new processes.
func TestScriptsKillEscapedDescendants(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"timeout", "cancel"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			writeFile(t, f.scripts, "PREINSTALL_shop.sh", escapingScript, 0o644)
			files := []string{filepath.Join(f.backup, "sleeper.sid"), filepath.Join(f.backup, "spawner.sid")}
			var sids []int
			t.Cleanup(func() {
				for _, sid := range sids {
					for _, pid := range sessionAlive(sid) {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s := &Scripts{Dir: f.scripts, Timeout: time.Minute}
			ready := make(chan struct{})
			go func() {
				defer close(ready)
				for _, p := range files {
					sids = append(sids, childPID(t, p))
				}
				if how == "cancel" {
					cancel()
				}
			}()
			if how == "timeout" {
				// Long enough for the script to start both on a busy machine.
				s.Timeout = 1500 * time.Millisecond
			}
			err := s.Run(ctx, f.event(PreInstall))
			<-ready
			if how == "timeout" {
				require.ErrorIs(t, err, ErrTimeout)
			} else {
				require.ErrorIs(t, err, context.Canceled)
			}
			require.Len(t, sids, 2)
			// The kill is sent before Run returns; the kernel may take a moment to end
			// the processes.
			deadline := time.Now().Add(3 * time.Second)
			for _, sid := range sids {
				for len(sessionAlive(sid)) > 0 && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				require.Empty(t, sessionAlive(sid), "processes of session %d survived the script", sid)
			}
		})
	}
}
