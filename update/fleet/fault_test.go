//go:build linux

package fleet_test

import (
	"bytes"
	"context"
	"crypto/rand"
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
	mp := startMasterProc(t, dir, "")
	proxy := newCutProxy(t, strings.TrimPrefix(mp.url, "http://"))
	d.url = proxy.url()
	if d.client, err = fleet.NewClient(d.url, adminToken, ""); err != nil {
		t.Fatal(err)
	}
	flags := t.TempDir()
	block, reached := filepath.Join(flags, "block"), filepath.Join(flags, "reached")
	s := d.newSlave("s1", slaveOpts{hook: "if [ -f '" + block + "' ]; then touch '" + reached + "'; while [ -f '" + block + "' ]; do sleep 0.1; done; fi\n"})
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
	if err := mp.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	mp.cmd.Wait()
	os.Remove(block)
	// The slave finishes its install while the master is down.
	for deadline := time.Now().Add(30 * time.Second); updatetest.ReadTree(t, filepath.Join(s.dir, "app"))["index.html"] != "v2"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the slave did not finish its install while the master was down")
		}
	}
	mp = startMasterProc(t, dir, "")
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
