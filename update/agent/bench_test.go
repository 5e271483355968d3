package agent_test

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
)

// windowMeter measures the maintenance windows of an engine from its events.
type windowMeter struct {
	mu    sync.Mutex
	off   bool // not measuring (the untimed rollbacks)
	on    time.Time
	total time.Duration
	n     int
}

func (w *windowMeter) event(ev update.Event) {
	if ev.Step != update.StepMaintenance {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.off {
		return
	}
	switch ev.Message {
	case "on":
		w.on = time.Now()
	case "off":
		if !w.on.IsZero() {
			w.total += time.Since(w.on)
			w.n++
			w.on = time.Time{}
		}
	}
}

// BenchmarkInstall installs a 2 MiB, 200-file pack through the agent (Install, then
// waiting for the operation to end) and through Engine.Install directly, the
// baseline; window-ns/op is the time the module spent in maintenance during the
// install. Between iterations, untimed and unmeasured, a rollback puts the previous
// version back.
func BenchmarkInstall(b *testing.B) {
	tree := map[string]string{}
	for i := range 200 {
		tree[fmt.Sprintf("f/%03d.bin", i)] = strings.Repeat(strconv.Itoa(i%10), 10<<10)
	}
	v2tree := maps.Clone(tree)
	v2tree["index.html"] = "v2"
	for _, via := range []string{"engine", "agent"} {
		b.Run(via, func(b *testing.B) {
			e := newAgentEnv(b)
			e.repo.Publish("web", "1.0.0", platform, tree)
			e.repo.Publish("web", "2.0.0", platform, v2tree)
			ctx := context.Background()
			var w windowMeter
			eng := e.engine(b)
			_, err := eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"})
			require.NoError(b, err)
			eng.AddEventFunc(w.event)
			a := e.agent(b, eng)
			events := a.Subscribe(b.Context())
			w.total, w.n = 0, 0
			b.SetBytes(200 * 10 << 10)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if via == "engine" {
					_, err := eng.Install(ctx, "web", update.InstallOptions{})
					require.NoError(b, err)
				} else {
					id, err := a.Install(ctx, "web", "")
					require.NoError(b, err)
					op := ended(b, events, agent.OpInstall, id)
					require.Equal(b, agent.ResultSucceeded, op.Result, op.Error)
				}
				b.StopTimer()
				w.mu.Lock()
				w.off = true
				w.mu.Unlock()
				_, err := eng.Rollback(ctx, "web", update.RollbackOptions{})
				require.NoError(b, err)
				w.mu.Lock()
				w.off = false
				w.mu.Unlock()
				b.StartTimer()
			}
			b.ReportMetric(float64(w.total.Nanoseconds())/float64(w.n), "window-ns/op")
		})
	}
}

// TestIdleCost measures what the agent costs between checks: CPU time and resident
// memory of the whole test process over UPKEEP_IDLE (e.g. 30s), after the first
// check. Run it by hand:
//
//	UPKEEP_IDLE=30s go test -run TestIdleCost -v ./update/agent/
func TestIdleCost(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("UPKEEP_IDLE"))
	if err != nil || runtime.GOOS != "linux" {
		t.Skip("set UPKEEP_IDLE=30s to measure the idle agent (Linux: /proc/self)")
	}
	e := newAgentEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	a := e.agent(t, e.engine(t))
	events := a.Subscribe(t.Context())
	run(t, a)
	ended(t, events, agent.OpCheck, "")
	runtime.GC()
	cpu0, start := cpuTime(t), time.Now()
	time.Sleep(d)
	cpu := cpuTime(t) - cpu0
	wall := time.Since(start)
	t.Logf("idle over %s: CPU %.3f%% of a core, RSS %d KiB (whole test process)",
		wall.Round(time.Millisecond), 100*cpu.Seconds()/wall.Seconds(), rssKiB(t))
}

// cpuTime is the process's user+system time from /proc/self/stat.
func cpuTime(t *testing.T) time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	require.NoError(t, err)
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / hz
}

func rssKiB(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
