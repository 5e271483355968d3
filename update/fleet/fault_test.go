//go:build linux

package fleet_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/fleet"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// cutProxy is a TCP proxy on 127.0.0.1 in front of a target it can change (a master
// restarted on another port). Armed, it cuts the next connection whose answer
// carries more than cutAfter bytes, once, in the middle of that answer.
type cutProxy struct {
	ln       net.Listener
	mu       sync.Mutex
	target   string
	cutAfter int64 // 0: never cut
	cuts     atomic.Int64
	ranged   atomic.Int64 // requests upstream that asked for a Range
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { ln.Close() })
	return p
}

func (p *cutProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *cutProxy) retarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

func (p *cutProxy) arm(n int64) {
	p.mu.Lock()
	p.cutAfter = n
	p.mu.Unlock()
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *cutProxy) handle(c net.Conn) {
	defer c.Close()
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	up, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer up.Close()
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if bytes.Contains(bytes.ToLower(buf[:n]), []byte("\r\nrange: bytes=")) {
					p.ranged.Add(1)
				}
				up.Write(buf[:n])
			}
			if err != nil {
				up.Close()
				return
			}
		}
	}()
	var sent int64
	buf := make([]byte, 16<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			sent += int64(n)
			p.mu.Lock()
			cut := p.cutAfter > 0 && sent > p.cutAfter
			if cut {
				p.cutAfter = 0
			}
			p.mu.Unlock()
			if cut {
				p.cuts.Add(1)
				return // both connections close: the answer is cut short
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return string(b)
}

// TestFaultSlaveCutMidDownload: the slave's connection to the master is cut in the
// middle of the pack; its engine resumes with a Range request and stages.
func TestFaultSlaveCutMidDownload(t *testing.T) {
	d := newDomain(t)
	ctx := context.Background()
	proxy := newCutProxy(t, strings.TrimPrefix(d.url, "http://"))
	d.url = proxy.url()
	s := d.newSlave("s1", slaveOpts{})
	d.waitServers("s1")
	packFile := d.pack("app", "2.0.0", map[string]string{"index.html": "v2", "big.bin": randomString(2 << 20)})
	if _, err := d.client.AddUpdate(ctx, "v2", packFile, "", "", nil); err != nil {
		t.Fatal(err)
	}
	proxy.arm(512 << 10)
	rep, err := d.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindPropagate, Update: "v2", All: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := states(d.wait(rep)); got != "s1=staged" {
		t.Fatalf("after a cut: %s", got)
	}
	if proxy.cuts.Load() != 1 || proxy.ranged.Load() == 0 {
		t.Fatalf("%d cuts, %d ranged requests: the download was not cut, or not resumed", proxy.cuts.Load(), proxy.ranged.Load())
	}
	if st, err := s.eng.ModuleStatus(ctx, "app"); err != nil || st.Download == nil || st.Download.State != update.DownloadVerified {
		t.Fatalf("the slave's engine: %+v %v", st, err)
	}
}

// TestFaultMasterKilledMidApply: the master process is killed (SIGKILL) while a
// slave installs; the slave finishes, and once the master is back on the same store
// the report says what the slave really runs.
func TestFaultMasterKilledMidApply(t *testing.T) {
	d := newDomain(t)
	ctx := context.Background()
	dir := t.TempDir()
	pub, err := os.ReadFile(d.repo.PubFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "publisher.pub"), string(pub))
	writeFile(t, filepath.Join(dir, "enrol.token"), enrolToken+"\n")
	writeFile(t, filepath.Join(dir, "admin.token"), adminToken+"\n")
	mp := startMasterProc(t, dir, "", 0)
	proxy := newCutProxy(t, strings.TrimPrefix(mp.url, "http://"))
	d.url = proxy.url()
	if d.client, err = fleet.NewClient(d.url, adminToken, ""); err != nil {
		t.Fatal(err)
	}
	s, rep, release := d.applyHeld(ctx, t)
	if err := mp.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	mp.cmd.Wait()
	release()
	// The slave finishes its install while the master is down.
	for deadline := time.Now().Add(30 * time.Second); updatetest.ReadTree(t, filepath.Join(s.dir, "app"))["index.html"] != "v2"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the slave did not finish its install while the master was down")
		}
	}
	mp = startMasterProc(t, dir, "", 0)
	proxy.retarget(strings.TrimPrefix(mp.url, "http://"))
	rep = d.wait(rep)
	if got := states(rep); got != "s1=installed@2.0.0" {
		t.Fatalf("after the master's restart: %s (the slave runs v2)", got)
	}
}

// TestFaultSlaveClockAnHourOff: slaves whose clocks are an hour ahead and an hour
// behind stage and install; the master's own clock stamps the log.
func TestFaultSlaveClockAnHourOff(t *testing.T) {
	d := newDomain(t)
	ctx := context.Background()
	d.newSlave("ahead", slaveOpts{skew: time.Hour})
	d.newSlave("behind", slaveOpts{skew: -time.Hour})
	d.waitServers("ahead", "behind")
	if _, err := d.client.AddUpdate(ctx, "v2", d.pack("app", "2.0.0", map[string]string{"index.html": "v2"}), "", "", nil); err != nil {
		t.Fatal(err)
	}
	rep, err := d.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindApply, Update: "v2", All: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := states(d.wait(rep)); got != "ahead=installed@2.0.0 behind=installed@2.0.0" {
		t.Fatalf("apply: %s", got)
	}
	evs, _ := d.client.Events(ctx, rep.ID)
	for _, ev := range evs {
		if ev.At.Before(rep.Started.Add(-time.Minute)) || ev.At.After(time.Now().Add(time.Minute)) {
			t.Fatalf("an event stamped by a slave's clock: %+v", ev)
		}
	}
}

// TestFaultStoreReadOnly: the master's PostgreSQL store turns read-only while a
// slave installs; the slave keeps its report until the store takes writes again, and
// the report then says what the slave runs.
func TestFaultStoreReadOnly(t *testing.T) {
	dsn := pgServer.CreateDB(t)
	d := newDomainStore(t, pgURL(dsn))
	ctx := context.Background()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	conn, err := admin.Conn(ctx) // opened before the database turns read-only: it stays writable
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var db string
	if err := conn.QueryRowContext(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	readOnly := func(on bool) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`ALTER DATABASE %q SET default_transaction_read_only = %t`, db, on)); err != nil {
			t.Fatal(err)
		}
		// The master's sessions end; the ones it opens next follow the setting.
		if _, err := conn.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, db); err != nil {
			t.Fatal(err)
		}
	}
	s, rep, release := d.applyHeld(ctx, t)
	readOnly(true)
	release()
	for deadline := time.Now().Add(30 * time.Second); updatetest.ReadTree(t, filepath.Join(s.dir, "app"))["index.html"] != "v2"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the slave did not finish its install")
		}
	}
	time.Sleep(3 * time.Second) // a few refused reports
	// Reads still work (after the first query on an ended session), and say the
	// slave is installing: nothing was recorded that did not happen.
	var r *fleet.Report
	for range 3 {
		if r, err = d.client.Operation(ctx, rep.ID); err == nil {
			break
		}
	}
	if err != nil || states(r) != "s1=installing" {
		t.Fatalf("while the store is read-only, the report reads %v, %v", r, err)
	}
	readOnly(false)
	// The master's first queries on the sessions PostgreSQL ended may fail: the
	// admin asks again.
	got := ""
	for deadline := time.Now().Add(30 * time.Second); got != "s1=installed@2.0.0"; time.Sleep(50 * time.Millisecond) {
		if r, err := d.client.Operation(ctx, rep.ID); err == nil {
			got = states(r)
		}
		if time.Now().After(deadline) {
			t.Fatalf("once the store takes writes again: %s (the slave runs v2)", got)
		}
	}
}

// applyHeld enrols slave s1 with a PREINSTALL hook that waits while a flag file
// exists, starts an apply of a new update v2 (app 2.0.0) to every server, and
// returns once s1's install waits in that hook; release lets it go on.
func (d *domain) applyHeld(ctx context.Context, t *testing.T) (s *slave, rep *fleet.Report, release func()) {
	t.Helper()
	flags := t.TempDir()
	block, reached := filepath.Join(flags, "block"), filepath.Join(flags, "reached")
	s = d.newSlave("s1", slaveOpts{hook: "if [ -f '" + block + "' ]; then touch '" + reached + "'; while [ -f '" + block + "' ]; do sleep 0.1; done; fi\n"})
	d.waitServers("s1")
	if _, err := d.client.AddUpdate(ctx, "v2", d.pack("app", "2.0.0", map[string]string{"index.html": "v2"}), "", "", nil); err != nil {
		t.Fatal(err)
	}
	writeFile(t, block, "")
	rep, err := d.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindApply, Update: "v2", All: true})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(reached); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the install never reached its PREINSTALL hook")
		}
	}
	return s, rep, func() { os.Remove(block) }
}
