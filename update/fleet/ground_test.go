//go:build linux

package fleet_test

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/upkeep-go/upkeep/update/fleet"
)

// slowClients keeps n connections to addr open from the loopback address from (Linux
// answers all of 127/8), each sending one byte of a request every interval, and dials
// again whenever the master drops one. held counts the connections that the master
// still held after hold: the first ones dialled, never dropped.
type slowClients struct {
	dialled, dropped atomic.Int64
	firstHeld        atomic.Int64 // of the first connections, those still open
	wg               sync.WaitGroup
	cancel           context.CancelFunc
}

func startSlowClients(t *testing.T, addr, from string, n int, interval time.Duration) *slowClients {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sc := &slowClients{cancel: cancel}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	req := []byte("POST /fleet/v1/enrol HTTP/1.1\r\nHost: master\r\nContent-Length: 100000\r\n")
	for range n {
		sc.wg.Add(1)
		go func() {
			defer sc.wg.Done()
			first := true
			for ctx.Err() == nil {
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				sc.dialled.Add(1)
				if first {
					sc.firstHeld.Add(1)
				}
				for i := 0; ctx.Err() == nil; i++ {
					c.SetWriteDeadline(time.Now().Add(time.Second))
					_, err := c.Write(req[i%len(req) : i%len(req)+1])
					if err == nil {
						// A dropped connection shows on the next read, at once.
						c.SetReadDeadline(time.Now().Add(interval))
						var b [1]byte
						_, err = c.Read(b[:])
						if ne, ok := err.(net.Error); ok && ne.Timeout() {
							continue
						}
					}
					break
				}
				c.Close()
				sc.dropped.Add(1)
				time.Sleep(50 * time.Millisecond)
				if first {
					sc.firstHeld.Add(-1)
					first = false
				}
			}
		}()
	}
	t.Cleanup(sc.stop)
	return sc
}

func (sc *slowClients) stop() {
	sc.cancel()
	sc.wg.Wait()
}

// TestMasterHoldsItsGround: with 2,000 slow connections open from one client, a real
// slave still enrols, polls and stages; the master drops the slow client's
// connections beyond its per-client cap at once, and the rest once their headers
// are late.
func TestMasterHoldsItsGround(t *testing.T) {
	if testing.Short() {
		t.Skip("holds 2,000 connections for about 20 s")
	}
	const slow = 2000
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < 3*slow && lim.Max >= 3*slow {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if lim.Cur < 3*slow {
		t.Skipf("this test holds %d connections (both ends in this process): RLIMIT_NOFILE is %d, raise it to %d or more (ulimit -n)", slow, lim.Cur, 3*slow)
	}
	d := newDomain(t)
	cfg := *d.cfg
	cfg.Store = "sqlite:" + filepath.Join(t.TempDir(), "run.db")
	st, err := fleet.OpenStore(context.Background(), cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	addrc := make(chan string, 1)
	m, err := fleet.NewMaster(&cfg, st, d.kr, fleet.MasterOptions{PackDir: filepath.Join(t.TempDir(), "packs"),
		OnListen: func(a string) { addrc <- a }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	addr := <-addrc
	// The domain's helpers talk to this master from now on.
	d.url = "http://" + addr
	if d.client, err = fleet.NewClient(d.url, adminToken, ""); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	sc := startSlowClients(t, addr, "127.0.0.2", slow, 3*time.Second)
	for sc.dialled.Load() < slow && time.Since(start) < time.Minute {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	if held := sc.firstHeld.Load(); held > fleet.DefaultMaxConnsPerClient {
		t.Errorf("one client holds %d connections, more than the cap of %d", held, fleet.DefaultMaxConnsPerClient)
	}

	d.newSlave("real", slaveOpts{})
	d.waitServers("real")
	packFile := d.pack("app", "2.0.0", map[string]string{"index.html": "v2"})
	if _, err := d.client.AddUpdate(context.Background(), "v2", packFile, "", "", nil); err != nil {
		t.Fatal(err)
	}
	rep, err := d.client.Start(context.Background(), fleet.OperationRequest{Kind: fleet.KindPropagate, Update: "v2", All: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := states(d.wait(rep)); got != "real=staged" {
		t.Fatalf("propagate beside 2,000 slow connections: %s", got)
	}

	// A connection that has sent no whole header within HeaderTimeout is dropped.
	for time.Since(start) < fleet.HeaderTimeout+5*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	if held := sc.firstHeld.Load(); held != 0 {
		t.Errorf("%d slow connections still held after %v", held, time.Since(start).Round(time.Second))
	}
	t.Logf("slow client: %d connections dialled, %d dropped by the master", sc.dialled.Load(), sc.dropped.Load())
}
