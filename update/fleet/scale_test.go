//go:build linux

package fleet_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/fleet"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// The scale benchmark runs the master in a process of its own (this test binary,
// started again on TestScaleMasterProcess) so that its CPU time and RSS are its own,
// and N simulated mailbox slaves in this process.

const scaleMasterEnv = "UPKEEP_FLEET_SCALE_MASTER" // the folder of the master process

// masterStats is what the master process reports on "stats".
type masterStats struct {
	CPU        time.Duration `json:"cpu"`         // user + system, since the start
	RSSKB      int64         `json:"rss_kb"`      // resident now
	MaxRSSKB   int64         `json:"max_rss_kb"`  // resident at most
	Written    int64         `json:"written"`     // bytes written on its connections (TLS included)
	PackBytes  int64         `json:"pack_bytes"`  // bytes of the pack endpoint's answers
	Goroutines int           `json:"goroutines"`  // now
	Requests   int64         `json:"requests"`    // served
	PollsTotal int64         `json:"polls_total"` // /fleet/v1/poll requests served
}

type countConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// ReadFrom keeps the connection's own ReadFrom (sendfile) for files served.
func (c countConn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	if !ok {
		return io.Copy(struct{ io.Writer }{c.Conn}, r)
	}
	n, err := rf.ReadFrom(r)
	c.n.Add(n)
	return n, err
}

type countListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countConn{c, l.n}, nil
}

type countWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n.Add(int64(n))
	return n, err
}

// ReadFrom keeps the server's own ReadFrom (sendfile) for files served.
func (w countWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := w.ResponseWriter.(io.ReaderFrom).ReadFrom(r)
	w.n.Add(n)
	return n, err
}

// TestScaleMasterProcess is the master of BenchmarkScale, in a process of its own; it
// does nothing unless that benchmark starts it.
func TestScaleMasterProcess(t *testing.T) {
	dir := os.Getenv(scaleMasterEnv)
	if dir == "" {
		t.Skip("the master process of BenchmarkScale")
	}
	// The master serves through Serve, as Run does: the per-client cap, then TLS.
	// Every simulated slave connects from 127.0.0.1, as slaves behind one NAT
	// would: the benchmark raises max_conns_per_client above their number, as the
	// operator of such a fleet would.
	maxConns, _ := strconv.Atoi(os.Getenv(scaleMasterEnv + "_MAXCONNS"))
	cfg := &fleet.Config{Role: fleet.RoleMaster, Listen: "127.0.0.1:0", Store: os.Getenv(scaleMasterEnv + "_STORE"),
		EnrolTokenFile: filepath.Join(dir, "enrol.token"), AdminTokenFile: filepath.Join(dir, "admin.token"), MaxConnsPerClient: maxConns}
	if cfg.Store == "" {
		cfg.Store = "sqlite:" + filepath.Join(dir, "fleet.db")
	}
	scheme := "http"
	if _, err := os.Stat(filepath.Join(dir, "cert.pem")); err == nil {
		cfg.TLSCertFile, cfg.TLSKeyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		scheme = "https"
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	kr, err := signature.LoadKeyring([]string{filepath.Join(dir, "publisher.pub")})
	if err != nil {
		t.Fatal(err)
	}
	st, err := fleet.OpenStore(context.Background(), cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := fleet.NewMaster(cfg, st, kr, fleet.MasterOptions{PackDir: filepath.Join(dir, "packs")})
	if err != nil {
		t.Fatal(err)
	}
	var written, packBytes, requests, polls atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch {
		case strings.HasPrefix(r.URL.Path, "/fleet/v1/files/") && !strings.HasSuffix(r.URL.Path, ".minisig"):
			w = countWriter{w, &packBytes}
		case r.URL.Path == "/fleet/v1/poll":
			polls.Add(1)
		}
		m.ServeHTTP(w, r)
	})
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- fleet.ServeWith(ctx, m, countListener{raw, &written}, h) }()
	defer func() { cancel(); <-served }()
	fmt.Printf("listening %s://%s\n", scheme, raw.Addr())
	// UPKEEP_FLEET_SCALE_CPUPROFILE names a file that receives the master's CPU
	// profile between its first and second stats (the idle window), or from the
	// UPKEEP_FLEET_SCALE_CPUPROFILE_AT-th (3: the first propagation);
	// UPKEEP_FLEET_SCALE_HEAPPROFILE one that receives its heap at the end of the
	// idle window.
	prof := os.Getenv("UPKEEP_FLEET_SCALE_CPUPROFILE")
	at, _ := strconv.Atoi(os.Getenv("UPKEEP_FLEET_SCALE_CPUPROFILE_AT"))
	at = max(at, 1)
	nstats := 0
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		nstats++
		if nstats == 1 {
			// The idle window measures the polls: the garbage of the enrolments
			// (10,000 TLS handshakes) is collected before it, not during it.
			runtime.GC()
		}
		switch {
		case prof != "" && nstats == at:
			f, err := os.Create(prof)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			pprof.StartCPUProfile(f)
		case prof != "" && nstats == at+1:
			pprof.StopCPUProfile()
		}
		if hp := os.Getenv("UPKEEP_FLEET_SCALE_HEAPPROFILE"); hp != "" && nstats == 2 {
			// The heap once idle (the second stats: the end of the idle window).
			if f, err := os.Create(hp); err == nil {
				pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		s := masterStats{CPU: time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime)), MaxRSSKB: ru.Maxrss,
			RSSKB: rssKB(), Written: written.Load(), PackBytes: packBytes.Load(), Goroutines: runtime.NumGoroutine(),
			Requests: requests.Load(), PollsTotal: polls.Load()}
		b, _ := json.Marshal(s)
		fmt.Printf("stats %s\n", b)
	}
}

func rssKB() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// masterProc is the master process seen from the benchmark.
type masterProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
	url string
}

func (p *masterProc) stats(tb testing.TB) masterStats {
	tb.Helper()
	if _, err := io.WriteString(p.in, "stats\n"); err != nil {
		tb.Fatal(err)
	}
	for p.out.Scan() {
		if v, ok := strings.CutPrefix(p.out.Text(), "stats "); ok {
			var s masterStats
			if err := json.Unmarshal([]byte(v), &s); err != nil {
				tb.Fatal(err)
			}
			return s
		}
	}
	tb.Fatalf("master process: no stats: %v", p.out.Err())
	return masterStats{}
}

func startMasterProc(tb testing.TB, dir, store string, maxConns int) *masterProc {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestScaleMasterProcess$", "-test.v=false")
	cmd.Env = append(os.Environ(), scaleMasterEnv+"="+dir, scaleMasterEnv+"_STORE="+store, scaleMasterEnv+"_MAXCONNS="+strconv.Itoa(maxConns))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &masterProc{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	tb.Cleanup(func() { in.Close(); cmd.Wait() })
	for p.out.Scan() {
		if v, ok := strings.CutPrefix(p.out.Text(), "listening "); ok {
			p.url = v
			return p
		}
	}
	tb.Fatalf("master process never listened: %v", p.out.Err())
	return nil
}

// simSlave is a simulated mailbox slave: it speaks the slave's side of the fleet API
// over its own HTTP client (its own connections, TLS sessions when the master is on
// https) and does what a slave does with a propagate, without an engine: it reports
// started, downloads the pack from the mirror the master names, checks its size and
// SHA-256 against what the master announced and its signature and binding with its
// own keyring, and reports downloaded and staged. Nothing is extracted or installed.
type simSlave struct {
	name    string
	secret  string
	client  *http.Client
	mirror  *http.Client
	kr      *signature.Keyring
	master  string
	staged  func(op string)
	polling *atomic.Int64 // slaves that sent their first poll
}

func (s *simSlave) post(ctx context.Context, path string, in, out any) error {
	b, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.master+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.secret != "" {
		req.Header.Set("X-Upkeep-Server", s.name)
		req.Header.Set("Authorization", "Bearer "+s.secret)
	} else {
		req.Header.Set("Authorization", "Bearer "+enrolToken)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %s: %s", path, resp.Status, b)
	}
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

var simVersions = map[string]string{"app": "1.0.0"}

func (s *simSlave) enrol(ctx context.Context) error {
	var out struct {
		Secret string `json:"secret"`
	}
	err := s.post(ctx, "/fleet/v1/enrol", map[string]any{"name": s.name, "mode": "mailbox", "interval": "30s", "token": enrolToken, "versions": simVersions}, &out)
	s.secret = out.Secret
	return err
}

// run long-polls until ctx ends; the first poll waits a random part of the interval,
// so that polls are spread over it as those of slaves started at different times.
func (s *simSlave) run(ctx context.Context, interval time.Duration) {
	wait := time.Duration(mrand.Int64N(int64(interval))) + time.Second
	first := true
	for ctx.Err() == nil {
		var resp struct {
			Tasks []fleet.WireTask `json:"tasks"`
		}
		if first {
			s.polling.Add(1) // counted once sent: the barrier below waits for every slave's first poll
			first = false
		}
		err := s.post(ctx, "/fleet/v1/poll?wait="+wait.String(), map[string]any{"versions": simVersions}, &resp)
		wait = interval
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(os.Stderr, "%s: poll: %v\n", s.name, err)
				time.Sleep(time.Second)
			}
			continue
		}
		for _, t := range resp.Tasks {
			if t.Kind == fleet.KindPropagate {
				s.stage(ctx, t)
			}
		}
	}
}

func (s *simSlave) stage(ctx context.Context, t fleet.WireTask) {
	u := t.Update
	ev := func(kind string) fleet.Event {
		return fleet.Event{Op: t.Op, Kind: kind, Module: u.Module, Version: u.Version}
	}
	fail := func(err error) {
		e := ev("failed")
		e.Code, e.Reason = "bad_pack", err.Error()
		s.post(ctx, "/fleet/v1/events", map[string]any{"events": []fleet.Event{e}}, nil)
	}
	if err := s.post(ctx, "/fleet/v1/events", map[string]any{"events": []fleet.Event{ev("started")}}, nil); err != nil {
		fail(err)
		return
	}
	err := func() error {
		// As the engine does: the signature from the master's files of the
		// operation, the pack from the mirror the master names, else from there too.
		sig, err := s.get(ctx, s.client, s.master+"/fleet/v1/files/"+t.Op+"/"+u.File+".minisig", true)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(io.LimitReader(sig, signature.MaxSignatureFileSize))
		sig.Close()
		if err != nil {
			return err
		}
		var body io.ReadCloser
		if u.Mirror != "" {
			body, err = s.get(ctx, s.mirror, u.Mirror, false)
		} else {
			body, err = s.get(ctx, s.client, s.master+"/fleet/v1/files/"+t.Op+"/"+u.File, true)
		}
		if err != nil {
			return err
		}
		defer body.Close()
		h := sha256.New()
		cr := &countReader{r: io.LimitReader(body, u.Size+1)}
		verified, err := s.kr.Verify(u.File, b, io.TeeReader(cr, h))
		if err != nil {
			return err
		}
		if cr.n != u.Size || hex.EncodeToString(h.Sum(nil)) != u.SHA256 {
			return fmt.Errorf("%d bytes, sha256 %x: not what the master announced", cr.n, h.Sum(nil))
		}
		return signature.Binding{File: u.File, Module: u.Module, Version: u.Version, Platform: u.Platform}.Check(verified)
	}()
	if err != nil {
		fail(err)
		return
	}
	if err := s.post(ctx, "/fleet/v1/events", map[string]any{"events": []fleet.Event{ev("downloaded"), ev("staged")}}, nil); err != nil {
		fail(err)
		return
	}
	s.staged(t.Op)
}

// get fetches a file, as the slave when master is set.
func (s *simSlave) get(ctx context.Context, c *http.Client, url string, master bool) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if master {
		req.Header.Set("X-Upkeep-Server", s.name)
		req.Header.Set("Authorization", "Bearer "+s.secret)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp.Body, nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

func selfSignedCert(tb testing.TB, dir string) {
	tb.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "master"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	writeFile(tb, filepath.Join(dir, "cert.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(tb, filepath.Join(dir, "key.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
}

// BenchmarkScale: N simulated mailbox slaves (see simSlave) long-polling, at a 30 s
// interval, one master in a process of its own, over loopback TCP, plain and TLS.
// It reports the master's CPU (percent of one core) and RSS while every slave holds a
// poll open, then, per iteration, the time for a propagation (of a 1 MiB pack served
// by a static mirror) to reach staged on every slave, the bytes the master wrote
// meanwhile (pack bytes it served itself: 0 with the mirror) and the events the store
// took per second; with UPKEEP_FLEET_SCALE_PACK=master the slaves download the pack
// from the master instead (master-pack-bytes/op). N=1000 (or any N above 100) runs
// when UPKEEP_FLEET_SCALE=1000; the
// master process then needs N descriptors and this one about N more; the idle window is
// UPKEEP_FLEET_SCALE_IDLE (default 30s, one whole interval). Run with -benchtime=1x.
func BenchmarkScale(b *testing.B) {
	if testing.Short() {
		b.Skip("a whole poll interval per case")
	}
	sizes := []int{100}
	if n, err := strconv.Atoi(os.Getenv("UPKEEP_FLEET_SCALE")); err == nil && n > 100 {
		sizes = append(sizes, n)
	}
	idle := 30 * time.Second
	if v, err := time.ParseDuration(os.Getenv("UPKEEP_FLEET_SCALE_IDLE")); err == nil {
		idle = v
	}
	for _, n := range sizes {
		for _, useTLS := range []bool{false, true} {
			scheme := "http"
			if useTLS {
				scheme = "https"
			}
			b.Run(fmt.Sprintf("slaves=%d/%s/sqlite", n, scheme), func(b *testing.B) {
				runScale(b, n, useTLS, "", idle)
			})
		}
		b.Run(fmt.Sprintf("slaves=%d/http/postgres", n), func(b *testing.B) {
			runScale(b, n, false, pgURL(pgServer.CreateDB(b)), idle)
		})
	}
}

func runScale(b *testing.B, n int, useTLS bool, store string, idle time.Duration) {
	const interval = 30 * time.Second
	dir := b.TempDir()
	repo := updatetest.NewRepo(b)
	pub, err := os.ReadFile(repo.PubFile)
	if err != nil {
		b.Fatal(err)
	}
	writeFile(b, filepath.Join(dir, "publisher.pub"), string(pub))
	writeFile(b, filepath.Join(dir, "enrol.token"), enrolToken+"\n")
	writeFile(b, filepath.Join(dir, "admin.token"), adminToken+"\n")
	caFile := ""
	if useTLS {
		selfSignedCert(b, dir)
		caFile = filepath.Join(dir, "cert.pem")
	}
	// Two connections a slave at most (its poll's, another for its events or
	// files), and some to spare.
	mp := startMasterProc(b, dir, store, 2*n+64)
	kr, err := signature.LoadKeyring([]string{repo.PubFile})
	if err != nil {
		b.Fatal(err)
	}
	var mirrorBytes atomic.Int64
	files := http.FileServer(http.Dir(repo.Dir))
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		files.ServeHTTP(countWriter{w, &mirrorBytes}, r)
	}))
	b.Cleanup(mirror.Close)
	// The mirror serves from this process: a bound on its connections keeps the
	// descriptors of 10,000 slaves downloading at once within the limit.
	mirrorClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 512}}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() })
	var polling, enrolled atomic.Int64
	start := make(chan struct{})
	var stagedMu sync.Mutex
	staged := map[string]int{}
	stagedAll := map[string]chan struct{}{}
	onStaged := func(op string) {
		stagedMu.Lock()
		defer stagedMu.Unlock()
		staged[op]++
		if staged[op] == n {
			if ch, ok := stagedAll[op]; ok {
				close(ch)
			}
		}
	}
	slaves := make([]*simSlave, n)
	sem := make(chan struct{}, 16)
	var enrolErr atomic.Value
	for i := range slaves {
		client, err := fleet.HTTPClient(mp.url, caFile)
		if err != nil {
			b.Fatal(err)
		}
		s := &simSlave{name: fmt.Sprintf("s%04d", i), client: client, mirror: mirrorClient, kr: kr, master: mp.url, staged: onStaged, polling: &polling}
		slaves[i] = s
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.enrol(ctx)
			<-sem
			if err != nil {
				enrolErr.Store(err)
				return
			}
			enrolled.Add(1)
			select {
			case <-start:
			case <-ctx.Done():
				return
			}
			s.run(ctx, interval)
		}()
	}
	// Every slave enrols, then all start polling at once, each first poll waiting a
	// random part of the interval, so that polls are spread over it: measure over a
	// whole interval. (Waiting instead for every first poll to be held at the same
	// moment raced with the enrolments: a slave enrolled early could have had its
	// first poll answered before the last one enrolled, which on a slower variant,
	// TLS or PostgreSQL, happened nearly always.)
	waitFor := func(what string, c *atomic.Int64, limit time.Duration) {
		for deadline := time.Now().Add(limit); c.Load() < int64(n); {
			if err, _ := enrolErr.Load().(error); err != nil {
				b.Fatal(err)
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d slaves %s", c.Load(), n, what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("enrolled", &enrolled, time.Duration(n/100+2)*time.Minute)
	close(start)
	waitFor("polling", &polling, 2*time.Minute)
	time.Sleep(2 * time.Second)
	s0 := mp.stats(b)
	time.Sleep(idle)
	s1 := mp.stats(b)
	cpu := float64(s1.CPU-s0.CPU) / float64(idle) * 100
	b.ReportMetric(cpu, "idle-cpu-%")
	b.ReportMetric(float64(s1.RSSKB)/1024, "idle-rss-MiB")
	b.ReportMetric(float64(s1.PollsTotal-s0.PollsTotal)/idle.Seconds(), "idle-polls/s")
	b.Logf("idle %v: master cpu %v (%.2f%% of a core), rss %d KiB (max %d), goroutines %d, polls %d, bytes written %d",
		idle, s1.CPU-s0.CPU, cpu, s1.RSSKB, s1.MaxRSSKB, s1.Goroutines, s1.PollsTotal-s0.PollsTotal, s1.Written-s0.Written)

	admin, err := fleet.NewClient(mp.url, adminToken, caFile)
	if err != nil {
		b.Fatal(err)
	}
	rnd := make([]byte, 1<<20)
	rand.Read(rnd)
	v := 0
	var propagate time.Duration
	var written, packBytes, events int64
	for b.Loop() {
		b.StopTimer()
		v++
		version := fmt.Sprintf("2.0.%d", v)
		repo.Publish("app", version, platform, map[string]string{"blob.bin": string(rnd), "v": version})
		packFile := findPack(b, repo.Dir, "app", version)
		rel, _ := filepath.Rel(repo.Dir, packFile)
		name := "v" + version
		mirrorURL := mirror.URL + "/" + filepath.ToSlash(rel)
		if os.Getenv("UPKEEP_FLEET_SCALE_PACK") == "master" {
			mirrorURL = "" // every slave downloads the pack from the master's files route
		}
		if _, err := admin.AddUpdate(ctx, name, packFile, "", mirrorURL, nil); err != nil {
			b.Fatal(err)
		}
		before := mp.stats(b)
		b.StartTimer()
		start := time.Now()
		rep, err := admin.Start(ctx, fleet.OperationRequest{Kind: fleet.KindPropagate, Update: name, All: true})
		if err != nil {
			b.Fatal(err)
		}
		stagedMu.Lock()
		done := make(chan struct{})
		stagedAll[rep.ID] = done
		if staged[rep.ID] == n {
			close(done)
		}
		stagedMu.Unlock()
		select {
		case <-done:
		case <-time.After(5 * time.Minute):
			b.Fatalf("propagation: %d of %d staged after 5 minutes", staged[rep.ID], n)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		after := mp.stats(b)
		rep, err = admin.Operation(ctx, rep.ID)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range rep.Servers {
			if s.State != fleet.StateStaged {
				b.Fatalf("%s: %s %s %s", s.Name, s.State, s.Code, s.Reason)
			}
		}
		propagate += elapsed
		written += after.Written - before.Written
		packBytes += after.PackBytes - before.PackBytes
		events += 4 * int64(n) // delivered (the master's), started, downloaded, staged
		b.Logf("propagate to %d: %v, master cpu %v, master wrote %d bytes (pack endpoint %d), mirror served %d bytes",
			n, elapsed, after.CPU-before.CPU, after.Written-before.Written, after.PackBytes-before.PackBytes, mirrorBytes.Load())
		b.StartTimer()
	}
	b.ReportMetric(propagate.Seconds()/float64(v), "propagate-s")
	b.ReportMetric(float64(written)/float64(v), "master-bytes/op")
	b.ReportMetric(float64(packBytes)/float64(v), "master-pack-bytes/op")
	b.ReportMetric(float64(events)/propagate.Seconds(), "events/s")
}
