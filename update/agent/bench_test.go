package agent_test

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
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
	all   []time.Duration // each window, for the median
}

// median is the median window.
func (w *windowMeter) median() time.Duration {
	s := slices.Clone(w.all)
	slices.Sort(s)
	return s[len(s)/2]
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
			d := time.Since(w.on)
			w.total += d
			w.all = append(w.all, d)
			w.n++
			w.on = time.Time{}
		}
	}
}

// BenchmarkInstall installs a 2 MiB, 200-file pack directly with Engine.Install
// (the baseline) and through the agent (Install, then waiting for the operation to
// end), each into its own state and module folders, the two alternating within
// every iteration (which goes first alternates too), so that both see the same load.
// It reports the mean maintenance window of each, from the engine's "maintenance
// on" event to its "maintenance off" event (engine-window-ns, agent-window-ns),
// their ratio (agent/engine-window) and that of the medians
// (agent/engine-window-median); likewise for the whole operation, from the call to
// its end (agent/engine-op). Between installs, untimed and unmeasured, a rollback
// puts the previous version back.
//
// The window holds four fsync'd journal writes of the engine; on a disk shared with
// other work they stretch it from about 2.5 ms (tmpfs) to 10–35 ms, unevenly, and
// drown the agent's share.
// With the folders on tmpfs what is left is the agent's own cost:
//
//	TMPDIR=/dev/shm go test -run XXX -bench BenchmarkInstall -benchtime 200x ./update/agent/
func BenchmarkInstall(b *testing.B) {
	tree := map[string]string{}
	for i := range 200 {
		tree[fmt.Sprintf("f/%03d.bin", i)] = strings.Repeat(strconv.Itoa(i%10), 10<<10)
	}
	v2tree := maps.Clone(tree)
	v2tree["index.html"] = "v2"
	ctx := context.Background()
	type side struct {
		eng    *update.Engine
		a      *agent.Agent // nil: Engine.Install directly
		events <-chan agent.Event
		w      windowMeter
		op     time.Duration
	}
	newSide := func(viaAgent bool) *side {
		e := newAgentEnv(b)
		e.repo.Publish("web", "1.0.0", platform, tree)
		e.repo.Publish("web", "2.0.0", platform, v2tree)
		s := &side{eng: e.engine(b)}
		_, err := s.eng.Install(ctx, "web", update.InstallOptions{Version: "1.0.0"})
		require.NoError(b, err)
		s.eng.AddEventFunc(s.w.event)
		if viaAgent {
			s.a = e.agent(b, s.eng)
			s.events = s.a.Subscribe(b.Context())
		}
		return s
	}
	direct, viaAgent := newSide(false), newSide(true)
	install := func(s *side) {
		start := time.Now()
		if s.a == nil {
			_, err := s.eng.Install(ctx, "web", update.InstallOptions{})
			require.NoError(b, err)
		} else {
			id, err := s.a.Install(ctx, "web", "")
			require.NoError(b, err)
			op := ended(b, s.events, agent.OpInstall, id)
			require.Equal(b, agent.ResultSucceeded, op.Result, op.Error)
		}
		s.op += time.Since(start)
		b.StopTimer()
		s.w.mu.Lock()
		s.w.off = true
		s.w.mu.Unlock()
		_, err := s.eng.Rollback(ctx, "web", update.RollbackOptions{})
		require.NoError(b, err)
		s.w.mu.Lock()
		s.w.off = false
		s.w.mu.Unlock()
		b.StartTimer()
	}
	b.SetBytes(2 * 200 * 10 << 10) // one install of each
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			install(direct)
			install(viaAgent)
		} else {
			install(viaAgent)
			install(direct)
		}
		i++
	}
	mean := func(s *side) float64 {
		require.Equal(b, b.N, s.w.n, "maintenance windows seen")
		return float64(s.w.total.Nanoseconds()) / float64(s.w.n)
	}
	b.ReportMetric(mean(direct), "engine-window-ns")
	b.ReportMetric(mean(viaAgent), "agent-window-ns")
	b.ReportMetric(mean(viaAgent)/mean(direct), "agent/engine-window")
	// A few windows stretched by fsyncs behind other work on the disk weigh on the
	// means; the medians are steadier.
	b.ReportMetric(float64(viaAgent.w.median())/float64(direct.w.median()), "agent/engine-window-median")
	b.ReportMetric(viaAgent.op.Seconds()/direct.op.Seconds(), "agent/engine-op")
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
