package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/upkeep-go/upkeep/update/fleet"
)

// countingStore is a real store that counts the calls a master makes to it.
type countingStore struct {
	fleet.Store
	mu sync.Mutex
	n  map[string]int
}

func (s *countingStore) count(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n[name]++
}

func (s *countingStore) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.n))
	for k, v := range s.n {
		out[k] = v
	}
	return out
}

func (s *countingStore) Server(ctx context.Context, name string) (*fleet.ServerRecord, error) {
	s.count("Server")
	return s.Store.Server(ctx, name)
}

func (s *countingStore) Touch(ctx context.Context, name string, at time.Time, versions map[string]string) error {
	s.count("Touch")
	return s.Store.Touch(ctx, name, at, versions)
}

func (s *countingStore) OpenTasks(ctx context.Context, server string, now time.Time) ([]fleet.Task, error) {
	s.count("OpenTasks")
	return s.Store.OpenTasks(ctx, server, now)
}

func (s *countingStore) OperationHeader(ctx context.Context, id string) (*fleet.Operation, error) {
	s.count("OperationHeader")
	return s.Store.OperationHeader(ctx, id)
}

func (s *countingStore) Update(ctx context.Context, name string) (*fleet.Update, error) {
	s.count("Update")
	return s.Store.Update(ctx, name)
}

// TestIdlePollsReadNoStore: once a mailbox slave's first polls have been answered,
// its long polls cost the master no store query (no authentication read, no contact
// written one by one, no look for work), and work started afterwards still wakes it.
func TestIdlePollsReadNoStore(t *testing.T) {
	d := newDomain(t)
	cs := &countingStore{Store: d.store, n: map[string]int{}}
	m, err := fleet.NewMaster(d.cfg, cs, d.kr, fleet.MasterOptions{PackDir: filepath.Join(d.dir, "packs")})
	if err != nil {
		t.Fatal(err)
	}
	var polls atomic.Int64
	d.master = m
	d.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fleet/v1/poll" {
			defer polls.Add(1)
		}
		m.ServeHTTP(w, r)
	})
	d.newSlave("idle", slaveOpts{interval: 200 * time.Millisecond})
	waitPolls := func(n int64) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); polls.Load() < n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d polls of %d", polls.Load(), n)
			}
		}
	}
	waitPolls(5)
	before := cs.counts()
	waitPolls(polls.Load() + 15)
	after := cs.counts()
	for _, q := range []string{"Server", "Touch", "OpenTasks", "OperationHeader", "Update"} {
		if after[q] != before[q] {
			t.Errorf("15 idle polls made %d store calls %s", after[q]-before[q], q)
		}
	}

	ctx := context.Background()
	if _, err := d.client.AddUpdate(ctx, "v2", d.pack("app", "2.0.0", map[string]string{"index.html": "v2"}), "", "", nil); err != nil {
		t.Fatal(err)
	}
	rep, err := d.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindPropagate, Update: "v2", All: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := states(d.wait(rep)); got != "idle=staged" {
		t.Fatalf("propagate to an idle slave: %s", got)
	}
	servers, err := d.client.Servers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) != 2 || servers[1].Name != "idle" || servers[1].LastSeen == nil || time.Since(*servers[1].LastSeen) > 10*time.Second {
		t.Fatalf("the idle slave's contact is not written: %+v", servers)
	}
}

// TestWorkFromAnotherMasterWakesLongPoll: work that another master sharing the
// store created (here written to the store directly) reaches a slave whose long poll
// this master holds, before that poll's wait ends.
func TestWorkFromAnotherMasterWakesLongPoll(t *testing.T) {
	d := newDomain(t)
	d.newSlave("far", slaveOpts{interval: time.Minute})
	d.waitServers("far")
	ctx := context.Background()
	if _, err := d.client.AddUpdate(ctx, "v2", d.pack("app", "2.0.0", map[string]string{"index.html": "v2"}), "", "", nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // its long poll (a minute) is held
	now := time.Now()
	op := fleet.Operation{ID: "elsewhere-1", Kind: fleet.KindPropagate, Update: "v2", Started: now, Expires: now.Add(time.Hour), MaxFailures: -1}
	if err := d.store.CreateOperation(ctx, op, []fleet.Task{{Server: "far", Released: true, State: fleet.StatePending}}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		rep, err := d.client.Operation(wctx, op.ID)
		if err != nil {
			t.Fatal(err)
		}
		if states(rep) == "far=staged" {
			break
		}
		select {
		case <-wctx.Done():
			t.Fatalf("work created elsewhere, within 20 s of a minute's long poll: %s", states(rep))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestSlaveClientResumesTLS: a slave's client that reconnects to its master (after
// the master's restart, or an idle timeout) resumes its TLS session rather than
// making a full handshake.
func TestSlaveClientResumesTLS(t *testing.T) {
	d := newDomainTLS(t, true)
	c, err := fleet.HTTPClient(d.url, d.caFile)
	if err != nil {
		t.Fatal(err)
	}
	get := func() bool {
		t.Helper()
		resp, err := c.Get(d.url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.TLS.DidResume
	}
	get()
	c.CloseIdleConnections()
	if !get() {
		t.Fatal("the second connection made a full handshake")
	}
}

// TestStoreAppendsTogether: events appended at once share transactions, and each
// keeps its own answer: an event for a task that does not exist is refused
// (ErrNotFound) without failing the others, which are all written.
func TestStoreAppendsTogether(t *testing.T) {
	ctx := context.Background()
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			st, err := fleet.OpenStore(ctx, sc.spec(t))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			now := time.Now()
			var tasks []fleet.Task
			for i := range 100 {
				tasks = append(tasks, fleet.Task{Server: fmt.Sprintf("s%03d", i), Seq: i, Released: true, State: fleet.StatePending})
			}
			if err := st.CreateOperation(ctx, fleet.Operation{ID: "op", Kind: fleet.KindPropagate, Update: "u", Started: now, Expires: now.Add(time.Hour), MaxFailures: -1}, tasks); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make([]error, 200)
			for i := range 200 {
				wg.Go(func() {
					server := fmt.Sprintf("s%03d", i/2)
					if i%2 == 1 {
						server = fmt.Sprintf("nobody-%d", i)
					}
					errs[i] = st.Append(ctx, fleet.Event{At: now, Op: "op", Server: server, Kind: "staged", State: fleet.StateStaged})
				})
			}
			wg.Wait()
			for i, err := range errs {
				if i%2 == 0 && err != nil {
					t.Errorf("event %d: %v", i, err)
				}
				if i%2 == 1 && !errors.Is(err, fleet.ErrNotFound) {
					t.Errorf("event %d, for no task: %v", i, err)
				}
			}
			_, got, err := st.Operation(ctx, "op")
			if err != nil {
				t.Fatal(err)
			}
			for _, task := range got {
				if task.State != fleet.StateStaged {
					t.Errorf("%s: %s", task.Server, task.State)
				}
			}
			evs, err := st.Events(ctx, "op")
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 101 { // created, and one per task
				t.Errorf("%d events in the log, want 101", len(evs))
			}
		})
	}
}
