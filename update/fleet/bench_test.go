package fleet_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/upkeep-go/upkeep/update/fleet"
)

// BenchmarkStoreAppend measures the events/s each store (SQLite, PostgreSQL) ingests: an event that
// sets a task's state (the log and the view in one transaction) beside the baseline
// of an event that only goes to the log.
func BenchmarkStoreAppend(b *testing.B) {
	ctx := context.Background()
	for _, sc := range stores {
		for _, withState := range []bool{false, true} {
			name := sc.name + "/log-only"
			if withState {
				name = sc.name + "/log+task-state"
			}
			b.Run(name, func(b *testing.B) {
				st, now, tasks := benchOperation(ctx, b, sc.spec(b))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					ev := fleet.Event{At: now, Op: "op", Server: tasks[i%100].Server, Kind: "installing", Module: "app", Version: "2.0.0"}
					if withState {
						ev.State = fleet.StateInstalling
					}
					if err := st.Append(ctx, ev); err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
		// Many slaves reporting at once (64 callers): their events share
		// transactions. The sequential log+task-state case above is the baseline.
		b.Run(sc.name+"/log+task-state/64-at-once", func(b *testing.B) {
			st, now, tasks := benchOperation(ctx, b, sc.spec(b))
			b.ReportAllocs()
			b.SetParallelism(32)
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					ev := fleet.Event{At: now, Op: "op", Server: tasks[i%100].Server, Kind: "installing", Module: "app", Version: "2.0.0", State: fleet.StateInstalling}
					if err := st.Append(ctx, ev); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkPropagateMailbox measures the time for a propagation to reach N mailbox
// slaves (in-process, each with its own engine and a real HTTP client, long-polling
// one master on 127.0.0.1) until all of them have staged the pack.
func BenchmarkPropagateMailbox(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("slaves=%d", n), func(b *testing.B) {
			d := newDomain(b)
			names := make([]string, n)
			for i := range names {
				names[i] = fmt.Sprintf("s%04d", i)
				d.newSlave(names[i], slaveOpts{})
			}
			d.waitServers(names...)
			ctx := context.Background()
			v := 0
			for b.Loop() {
				v++
				b.StopTimer()
				packFile := d.pack("app", fmt.Sprintf("2.0.%d", v), map[string]string{"index.html": "v2"})
				name := fmt.Sprint("v", v)
				if _, err := d.client.AddUpdate(ctx, name, packFile, "", "", nil); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				rep, err := d.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindPropagate, Update: name, All: true})
				if err != nil {
					b.Fatal(err)
				}
				rep = d.wait(rep)
				for _, s := range rep.Servers {
					if s.State != fleet.StateStaged {
						b.Fatalf("%s: %s %s", s.Name, s.State, s.Reason)
					}
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "slaves/s")
		})
	}
}

// benchOperation opens the store at spec, closed when b ends, with one apply
// operation "op" of 100 released, pending tasks.
func benchOperation(ctx context.Context, b *testing.B, spec string) (fleet.Store, time.Time, []fleet.Task) {
	b.Helper()
	st, err := fleet.OpenStore(ctx, spec)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	now := time.Now()
	tasks := make([]fleet.Task, 100)
	for i := range tasks {
		tasks[i] = fleet.Task{Server: fmt.Sprintf("s%03d", i), Seq: i, Released: true, State: fleet.StatePending}
	}
	if err := st.CreateOperation(ctx, fleet.Operation{ID: "op", Kind: fleet.KindApply, Update: "u", Started: now, Expires: now.Add(time.Hour), MaxFailures: -1}, tasks); err != nil {
		b.Fatal(err)
	}
	return st, now, tasks
}
