package portal_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/portal"
)

// BenchmarkModules measures GET /api/modules over HTTP on 127.0.0.1 with 50 checked
// modules and reports the latency percentiles. "disk" is the baseline, a Backend
// that reads every module's status files from the engine's state dir at every
// request; "agent" is the real agent. "idle" has nothing running; in
// "install-running" one module is installed and rolled back in a loop for the whole
// run (a 4 MiB pack each way). "backend" times the Backend's Modules alone, "http"
// the whole request.
//
//	go test -run '^$' -bench BenchmarkModules -benchtime 2000x ./update/portal/
func BenchmarkModules(b *testing.B) {
	for _, kind := range []string{"disk", "agent"} {
		b.Run(kind, func(b *testing.B) { benchModules(b, kind) })
	}
}

func benchModules(b *testing.B, kind string) {
	names := make([]string, 50)
	for i := range names {
		names[i] = fmt.Sprintf("m%02d", i)
	}
	f := newFixture(b, names...)
	for _, n := range names {
		f.repo.Publish(n, "1.0.0", platform, map[string]string{"index.html": n + " v1"})
	}
	f.repo.Publish("m00", "1.1.0", platform, map[string]string{"index.html": "v2", "big.bin": randomHex(b, 4<<20)})
	var be churnBackend
	var eng *update.Engine
	if kind == "disk" {
		eb := newEngineBackend(b, f.cfg)
		be, eng = eb, eb.eng
	} else {
		a := newAgent(b, f.cfg)
		be, eng = a, a.Engine()
	}
	ctx := b.Context()
	id, err := be.Install(ctx, "m00", "1.0.0")
	waitOp(b, be, id, err)
	id, err = be.Check(ctx)
	waitOp(b, be, id, err)
	s := serve(b, be)
	client := &http.Client{}

	// Each case is timed over HTTP, and beside it the Backend alone (the agent's
	// share of the time), so one run tells the portal's own cost.
	get := map[string]func() (int64, error){
		"http": func() (int64, error) {
			resp, err := client.Get(s.url + "/api/modules")
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body)
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			return n, err
		},
		"backend": func() (int64, error) {
			_, err := be.Modules(ctx)
			return 0, err
		},
	}
	for _, busy := range []bool{false, true} {
		for _, via := range []string{"backend", "http"} {
			name := "idle/" + via
			if busy {
				name = "install-running/" + via
			}
			b.Run(name, func(b *testing.B) {
				stop := make(chan struct{})
				done := make(chan error, 1)
				ops := 0
				if busy {
					go func() { done <- churn(b.Context(), be, eng, stop, &ops) }()
				}
				lat := make([]time.Duration, 0, b.N)
				b.ReportAllocs()
				for b.Loop() {
					t0 := time.Now()
					n, err := get[via]()
					lat = append(lat, time.Since(t0))
					if err != nil {
						b.Fatal(err)
					}
					b.SetBytes(n)
				}
				close(stop)
				if busy {
					if err := <-done; err != nil {
						b.Fatal(err)
					}
					if ops == 0 {
						b.Fatal("no install ran during the benchmark")
					}
				}
				slices.Sort(lat)
				pct := func(p float64) float64 {
					return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
				}
				b.ReportMetric(pct(0.50), "p50-ms")
				b.ReportMetric(pct(0.99), "p99-ms")
				b.ReportMetric(pct(1), "max-ms")
			})
		}
	}
}

// churnBackend is a Backend that installs and rolls back.
type churnBackend = portal.Backend

// churn installs and rolls back m00 until stop is closed, counting the operations
// that ended in *ops.
func churn(ctx context.Context, be churnBackend, eng *update.Engine, stop chan struct{}, ops *int) error {
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		var id string
		var err error
		st, err := eng.ModuleStatus(ctx, "m00")
		if err != nil {
			return err
		}
		if *st.Installed == "1.0.0" {
			id, err = be.Install(ctx, "m00", "")
		} else {
			id, err = be.Rollback(ctx, "m00")
		}
		if err != nil {
			return err
		}
		for {
			op, err := be.Operation(ctx, id)
			if err != nil {
				return err
			}
			if op.Result == agent.ResultFailed {
				return fmt.Errorf("%s %s: %s", op.Kind, op.ID, op.Error)
			}
			if op.Result != agent.ResultRunning {
				break
			}
			time.Sleep(time.Millisecond)
		}
		*ops++
	}
}
