package fleet_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/fleet"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

var platform = runtime.GOOS + "/" + runtime.GOARCH

const (
	enrolToken = "enrol-token-0123456789abcdef"
	adminToken = "admin-token-0123456789abcdef"
)

// domain is a master on 127.0.0.1 with its store, and the publisher whose packs it
// takes.
type domain struct {
	t      testing.TB
	dir    string
	repo   *updatetest.Repo
	url    string
	client *fleet.Client
	master *fleet.Master
	srv    *httptest.Server
	store  fleet.Store
	cfg    *fleet.Config
	kr     *signature.Keyring
	caFile string
	// engine is the master's own engine (module app), nil unless withEngine.
	engine *update.Engine
}

func writeFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newDomain(t testing.TB) *domain { return newDomainTLS(t, false) }

// newDomainTLS is newDomain with the master on https when tls is set; d.caFile then
// holds its certificate, which slaves pin.
func newDomainTLS(t testing.TB, tls bool) *domain { return newDomainWith(t, tls, "") }

// newDomainStore is newDomain over the store spec names.
func newDomainStore(t testing.TB, spec string) *domain { return newDomainWith(t, false, spec) }

func newDomainWith(t testing.TB, tls bool, store string) *domain {
	t.Helper()
	d := &domain{t: t, dir: t.TempDir(), repo: updatetest.NewRepo(t)}
	if store == "" {
		store = "sqlite:" + filepath.Join(d.dir, "fleet.db")
	}
	d.cfg = &fleet.Config{Role: fleet.RoleMaster, Listen: "127.0.0.1:0", Store: store,
		EnrolTokenFile: writeFile(t, filepath.Join(d.dir, "enrol.token"), enrolToken+"\n"),
		AdminTokenFile: writeFile(t, filepath.Join(d.dir, "admin.token"), adminToken+"\n")}
	if err := d.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	kr, err := signature.LoadKeyring([]string{d.repo.PubFile})
	if err != nil {
		t.Fatal(err)
	}
	d.kr = kr
	d.srv = httptest.NewUnstartedServer(nil)
	d.url = "http://" + d.srv.Listener.Addr().String()
	d.startMaster()
	if tls {
		d.srv.StartTLS()
		d.url = d.srv.URL
		d.caFile = writeFile(t, filepath.Join(d.dir, "master.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d.srv.Certificate().Raw})))
	} else {
		d.srv.Start()
	}
	t.Cleanup(func() {
		d.srv.CloseClientConnections()
		d.srv.Close()
		d.store.Close()
	})
	d.client, err = fleet.NewClient(d.url, adminToken, d.caFile)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// startMaster opens the store and builds the master the server serves.
func (d *domain) startMaster() {
	t := d.t
	st, err := fleet.OpenStore(context.Background(), d.cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fleet.NewMaster(d.cfg, st, d.kr, fleet.MasterOptions{PackDir: filepath.Join(d.dir, "packs"), Engine: d.engine})
	if err != nil {
		t.Fatal(err)
	}
	d.store, d.master = st, m
	d.srv.Config.Handler = m
}

// withEngine gives the master an engine of its own, running module app (nothing
// installed), and restarts it.
func (d *domain) withEngine() *domain {
	d.t.Helper()
	eng, err := update.New(update.Config{Source: d.repo.Dir, Keys: []string{d.repo.PubFile}, StateDir: filepath.Join(d.dir, "mstate"),
		Modules: []update.ModuleConfig{{Name: "app", Path: filepath.Join(d.dir, "mapp")}}}, updatetest.WithoutSync())
	if err != nil {
		d.t.Fatal(err)
	}
	d.engine = eng
	d.restartMaster()
	return d
}

// restartMaster closes the store and opens it again under a new master, as a
// restarted process would.
func (d *domain) restartMaster() {
	d.srv.CloseClientConnections()
	if err := d.store.Close(); err != nil {
		d.t.Fatal(err)
	}
	d.startMaster()
}

// pack publishes module's version and returns its pack file (the signature beside it).
func (d *domain) pack(module, version string, tree map[string]string) string {
	d.t.Helper()
	d.repo.Publish(module, version, platform, tree)
	var found string
	filepath.WalkDir(d.repo.Dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".zip") && strings.Contains(filepath.Base(p), version) && strings.Contains(filepath.Base(p), module) {
			found = p
		}
		return nil
	})
	if found == "" {
		d.t.Fatalf("no pack of %s %s in %s", module, version, d.repo.Dir)
	}
	return found
}

type slaveOpts struct {
	mode    fleet.Mode
	pubFile string // default: the publisher's
	token   string // default: enrolToken
	hook    string // a PREINSTALL script body
	caFile  string // default: the domain's
	// installed is the version of app the server runs before upkeep came. Default: none.
	installed string
	// interval is the poll interval. Default: 2 s (mailbox), 1 min (push).
	interval time.Duration
	// skew moves the clock of the slave's engine. Default: none.
	skew time.Duration
}

// slave is one server of the domain with its engine.
type slave struct {
	name   string
	dir    string
	eng    *update.Engine
	cancel context.CancelFunc
	done   chan struct{}
	cfg    *fleet.Config
}

func (d *domain) newSlave(name string, o slaveOpts) *slave {
	t := d.t
	t.Helper()
	dir := t.TempDir()
	if o.pubFile == "" {
		o.pubFile = d.repo.PubFile
	}
	if o.token == "" {
		o.token = enrolToken
	}
	if o.mode == "" {
		o.mode = fleet.ModeMailbox
	}
	if o.caFile == "" {
		o.caFile = d.caFile
	}
	mc := update.ModuleConfig{Name: "app", Path: filepath.Join(dir, "app"), Installed: o.installed}
	if o.installed != "" {
		updatetest.WriteTree(t, mc.Path, map[string]string{"index.html": "v" + o.installed})
	}
	if o.hook != "" {
		mc.Scripts = filepath.Join(dir, "scripts")
		os.MkdirAll(mc.Scripts, 0o755)
		if err := os.WriteFile(filepath.Join(mc.Scripts, "PREINSTALL_app.sh"), []byte("#!/bin/sh\n"+o.hook), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	eng, err := update.New(update.Config{Source: d.repo.Dir, Keys: []string{o.pubFile}, StateDir: filepath.Join(dir, "state"),
		Modules: []update.ModuleConfig{mc}}, updatetest.WithoutSync(), updatetest.WithClock(func() time.Time { return time.Now().Add(o.skew) }))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &fleet.Config{Role: fleet.RoleSlave, Master: d.url, Name: name, Mode: o.mode, PollInterval: fleet.Duration(2 * time.Second),
		EnrolTokenFile: writeFile(t, filepath.Join(dir, "enrol.token"), o.token), MasterCAFile: o.caFile}
	if o.mode == fleet.ModePush {
		cfg.Listen = "127.0.0.1:0"
		cfg.PollInterval = fleet.Duration(time.Minute) // work must come by the push, not the poll
	}
	if o.interval > 0 {
		cfg.PollInterval = fleet.Duration(o.interval)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := &slave{name: name, dir: dir, eng: eng, cfg: cfg}
	s.start(t)
	t.Cleanup(s.stop)
	return s
}

func (s *slave) start(t testing.TB) {
	sl, err := fleet.NewSlave(s.cfg, s.eng, fleet.SlaveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() { defer close(s.done); sl.Run(ctx) }()
}

func (s *slave) stop() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel = nil
	}
}

// waitServers waits until the master lists every name.
func (d *domain) waitServers(names ...string) []fleet.ServerView {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		servers, err := d.client.Servers(context.Background())
		if err != nil {
			d.t.Fatal(err)
		}
		have := map[string]bool{}
		for _, s := range servers {
			have[s.Name] = true
		}
		all := true
		for _, n := range names {
			all = all && have[n]
		}
		if all {
			return servers
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("servers %v never all enrolled: have %v", names, have)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *domain) wait(rep *fleet.Report) *fleet.Report {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got, err := d.client.Wait(ctx, rep.ID, 20*time.Millisecond)
	if err != nil {
		d.t.Fatalf("waiting for %s: %v (last %+v)", rep.ID, err, got)
	}
	return got
}

func states(rep *fleet.Report) string {
	var parts []string
	for _, s := range rep.Servers {
		p := s.Name + "=" + string(s.State)
		if s.Code != "" {
			p += "/" + s.Code
		}
		if s.Version != "" && s.State == fleet.StateInstalled {
			p += "@" + s.Version
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

func TestPropagateApplyPushAndMailbox(t *testing.T) {
	d := newDomain(t)
	ctx := context.Background()
	push := d.newSlave("s-push", slaveOpts{mode: fleet.ModePush})
	mail := d.newSlave("s-mail", slaveOpts{mode: fleet.ModeMailbox})
	d.waitServers("s-push", "s-mail")

	packFile := d.pack("app", "2.0.0", map[string]string{"index.html": "v2"})
	// The seed: a trailing space after the name must not be an error of its own.
	u, err := d.client.AddUpdate(ctx, "Watchdoc 2.0 ", packFile, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "Watchdoc 2.0" || u.Module != "app" || u.Version != "2.0.0" || u.Platform != platform {
		t.Fatalf("update %+v", u)
	}

	rep, err := d.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindPropagate, Update: "Watchdoc 2.0", All: true})
	if err != nil {
		t.Fatal(err)
	}
	rep = d.wait(rep)
	if got := states(rep); got != "s-mail=staged s-push=staged" {
		t.Fatalf("propagate: %s", got)
	}
	// Staging has no downtime: nothing is installed yet.
	if v := updatetest.ReadTree(t, filepath.Join(push.dir, "app")); v != nil {
		t.Fatalf("staging touched the live tree: %v", v)
	}

	rep, err = d.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindApply, Update: " Watchdoc 2.0", Servers: []string{"s-push", "s-mail"}, RequireStaged: true})
	if err != nil {
		t.Fatal(err)
	}
	rep = d.wait(rep)
	if got := states(rep); got != "s-push=installed@2.0.0 s-mail=installed@2.0.0" {
		t.Fatalf("apply: %s", got)
	}
	for _, s := range []*slave{push, mail} {
		if got := updatetest.ReadTree(t, filepath.Join(s.dir, "app")); got["index.html"] != "v2" {
			t.Fatalf("%s: live tree %v", s.name, got)
		}
	}

	// The servers list and convergence are views of what the slaves reported.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := d.client.Converged(ctx, "app")
		if err != nil {
			t.Fatal(err)
		}
		if c.Converged && c.Newest == "2.0.0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never converged: %+v", c)
		}
		time.Sleep(50 * time.Millisecond)
	}
	servers, _ := d.client.Servers(ctx)
	for _, s := range servers {
		if s.Role == fleet.RoleSlave && (s.Versions["app"] != "2.0.0" || !s.Reachable || s.LastSeen == nil) {
			t.Fatalf("server %+v", s)
		}
	}
	ops, err := d.client.Operations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, op := range ops {
		kinds = append(kinds, string(op.Kind))
	}
	if strings.Join(kinds, ",") != "apply,propagate,add-update" {
		t.Fatalf("operations log %v", kinds)
	}
	evs, err := d.client.Events(ctx, ops[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, ev := range evs {
		if ev.Server == "s-mail" {
			seen = append(seen, ev.Kind)
		}
	}
	if strings.Join(seen, ",") != "delivered,installing,installed" {
		t.Fatalf("events of s-mail: %v", seen)
	}
}

func TestAddUpdateRefusesUntrustedPack(t *testing.T) {
	d := newDomain(t)
	other := updatetest.NewRepo(t)
	other.Publish("app", "3.0.0", platform, map[string]string{"x": "evil"})
	var packFile string
	filepath.WalkDir(other.Dir, func(p string, e fs.DirEntry, err error) error {
		if strings.HasSuffix(p, ".zip") {
			packFile = p
		}
		return nil
	})
	_, err := d.client.AddUpdate(context.Background(), "evil", packFile, "", "", nil)
	var ae *fleet.APIError
	if !errors.As(err, &ae) || ae.Code != fleet.CodeBadSignature || !strings.HasPrefix(ae.Message, "package not secure: ") {
		t.Fatalf("got %v", err)
	}
	// A good signature of another file is refused too (the binding names the file).
	good := d.pack("app", "2.0.0", map[string]string{"a": "b"})
	renamed := filepath.Join(t.TempDir(), "app-9.9.9.zip")
	b, _ := os.ReadFile(good)
	os.WriteFile(renamed, b, 0o644)
	_, err = d.client.AddUpdate(context.Background(), "renamed", renamed, good+".minisig", "", nil)
	if !errors.As(err, &ae) || ae.Code != fleet.CodeBadSignature {
		t.Fatalf("renamed pack: got %v", err)
	}
	if _, err := d.client.AddUpdate(context.Background(), "  ", good, "", "", nil); !errors.As(err, &ae) || ae.Code != "bad_name" {
		t.Fatalf("blank name: got %v", err)
	}
	ops, _ := d.client.Operations(context.Background())
	if len(ops) != 0 {
		t.Fatalf("refused uploads left operations: %+v", ops)
	}
}

func TestSlaveKeyringRefusesPublisher(t *testing.T) {
	d := newDomain(t)
	stranger := updatetest.NewRepo(t)
	d.newSlave("s1", slaveOpts{pubFile: stranger.PubFile})
	d.waitServers("s1")
	packFile := d.pack("app", "2.0.0", map[string]string{"index.html": "v2"})
	if _, err := d.client.AddUpdate(context.Background(), "v2", packFile, "", "", nil); err != nil {
		t.Fatal(err)
	}
	rep, err := d.client.Start(context.Background(), fleet.OperationRequest{Kind: fleet.KindPropagate, Update: "v2", Servers: []string{"s1"}})
	if err != nil {
		t.Fatal(err)
	}
	rep = d.wait(rep)
	s := rep.Servers[0]
	if s.State != fleet.StateFailed || s.Code != fleet.CodeBadSignature || !strings.Contains(s.Reason, "not trusted") {
		t.Fatalf("got %+v", s)
	}
}

func TestWaveHaltedByFailingHook(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the hook is a shell script")
	}
	d := newDomain(t)
	d.newSlave("canary", slaveOpts{hook: "echo disk full >&2\nexit 3\n"})
	d.newSlave("b1", slaveOpts{})
	d.newSlave("b2", slaveOpts{})
	d.waitServers("canary", "b1", "b2")
	packFile := d.pack("app", "2.0.0", map[string]string{"index.html": "v2"})
	if _, err := d.client.AddUpdate(context.Background(), "v2", packFile, "", "", nil); err != nil {
		t.Fatal(err)
	}
	zero := 0
	rep, err := d.client.Start(context.Background(), fleet.OperationRequest{Kind: fleet.KindApply, Update: "v2",
		Servers: []string{"canary", "b1", "b2"}, Wave: 1, MaxFailures: &zero})
	if err != nil {
		t.Fatal(err)
	}
	rep = d.wait(rep)
	if got := states(rep); got != "canary=failed/install_failed b1=cancelled/halted b2=cancelled/halted" {
		t.Fatalf("apply: %s", got)
	}
	if !strings.Contains(rep.Servers[0].Reason, "PREINSTALL") {
		t.Fatalf("reason %q does not name the hook", rep.Servers[0].Reason)
	}
	if rep.Ended == nil {
		evs, _ := d.client.Events(context.Background(), rep.ID)
		t.Fatalf("a halted operation has ended: %+v %+v", rep, evs)
	}
}

func TestWavesReleaseInBatches(t *testing.T) {
	d := newDomain(t)
	names := []string{"w1", "w2", "w3"}
	for _, n := range names {
		d.newSlave(n, slaveOpts{})
	}
	d.waitServers(names...)
	packFile := d.pack("app", "2.0.0", map[string]string{"index.html": "v2"})
	if _, err := d.client.AddUpdate(context.Background(), "v2", packFile, "", "", nil); err != nil {
		t.Fatal(err)
	}
	zero := 0
	rep, err := d.client.Start(context.Background(), fleet.OperationRequest{Kind: fleet.KindApply, Update: "v2", Servers: names, Wave: 2, MaxFailures: &zero})
	if err != nil {
		t.Fatal(err)
	}
	rep = d.wait(rep)
	if got := states(rep); got != "w1=installed@2.0.0 w2=installed@2.0.0 w3=installed@2.0.0" {
		t.Fatalf("apply: %s", got)
	}
	// w3 was only released once the first wave had finished.
	evs, _ := d.client.Events(context.Background(), rep.ID)
	var order []string
	for _, ev := range evs {
		if ev.Kind == "installed" || ev.Kind == "delivered" {
			order = append(order, ev.Server+":"+ev.Kind)
		}
	}
	last := strings.Join(order, " ")
	if i, j := strings.Index(last, "w3:delivered"), max(strings.Index(last, "w1:installed"), strings.Index(last, "w2:installed")); i < j {
		t.Fatalf("second wave delivered before the first finished: %s", last)
	}
}

func TestMasterRestartKeepsStore(t *testing.T) {
	d := newDomain(t)
	d.newSlave("s1", slaveOpts{})
	d.waitServers("s1")
	packFile := d.pack("app", "2.0.0", map[string]string{"index.html": "v2"})
	if _, err := d.client.AddUpdate(context.Background(), "v2", packFile, "", "", nil); err != nil {
		t.Fatal(err)
	}
	rep, err := d.client.Start(context.Background(), fleet.OperationRequest{Kind: fleet.KindPropagate, Update: "v2", All: true})
	if err != nil {
		t.Fatal(err)
	}
	d.wait(rep)
	d.restartMaster()
	ops, err := d.client.Operations(context.Background())
	if err != nil || len(ops) != 2 || ops[0].Servers[0].State != fleet.StateStaged {
		t.Fatalf("after restart: %+v, %v", ops, err)
	}
	// The slave's secret still holds: it applies through the restarted master.
	rep, err = d.client.Start(context.Background(), fleet.OperationRequest{Kind: fleet.KindApply, Update: "v2", All: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := states(d.wait(rep)); got != "s1=installed@2.0.0" {
		t.Fatalf("apply after restart: %s", got)
	}
}

func TestMailboxSlaveOfflineCatchesUp(t *testing.T) {
	d := newDomain(t)
	s := d.newSlave("away", slaveOpts{})
	d.waitServers("away")
	s.secret(t) // saved: stopped before, it could not enrol again under its name
	s.stop()
	packFile := d.pack("app", "2.0.0", map[string]string{"index.html": "v2"})
	if _, err := d.client.AddUpdate(context.Background(), "v2", packFile, "", "", nil); err != nil {
		t.Fatal(err)
	}
	rep, err := d.client.Start(context.Background(), fleet.OperationRequest{Kind: fleet.KindPropagate, Update: "v2", Servers: []string{"away"}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if rep, _ = d.client.Operation(context.Background(), rep.ID); rep.Servers[0].State != fleet.StatePending {
		t.Fatalf("offline slave: %s", states(rep))
	}
	s.start(t)
	if got := states(d.wait(rep)); got != "away=staged" {
		t.Fatalf("after coming back: %s", got)
	}
}

func TestEnrolmentWithWrongTokenRefused(t *testing.T) {
	d := newDomain(t)
	d.newSlave("good", slaveOpts{})
	d.newSlave("intruder", slaveOpts{token: "not-the-token-0123456789"})
	d.waitServers("good")
	time.Sleep(200 * time.Millisecond)
	servers, _ := d.client.Servers(context.Background())
	for _, s := range servers {
		if s.Name == "intruder" {
			t.Fatal("a slave with a wrong token is listed")
		}
	}
	bad, _ := fleet.NewClient(d.url, "wrong-admin-token-0123", "")
	var ae *fleet.APIError
	if _, err := bad.Servers(context.Background()); !errors.As(err, &ae) || ae.Status != 401 {
		t.Fatalf("wrong admin token: %v", err)
	}
}

func TestConfigRefusesPlainHTTPBeyondLoopback(t *testing.T) {
	for _, c := range []fleet.Config{
		{Role: fleet.RoleSlave, Master: "http://10.1.2.3:8443", Name: "s", Mode: fleet.ModeMailbox, EnrolTokenFile: "t"},
		{Role: fleet.RoleMaster, Listen: "0.0.0.0:8443", Store: "sqlite:x", EnrolTokenFile: "t", AdminTokenFile: "a"},
	} {
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%+v: got %v", c, err)
		}
	}
	ok := fleet.Config{Role: fleet.RoleSlave, Master: "https://master.example:8443", Name: "s", Mode: fleet.ModeMailbox, EnrolTokenFile: "t"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestTLSPinsMasterCertificate: over https a slave trusts only the certificate its
// master_ca_file pins; pinned to another one, it never enrols.
func TestTLSPinsMasterCertificate(t *testing.T) {
	d := newDomainTLS(t, true)
	d.newSlave("pinned", slaveOpts{})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	other := writeFile(t, filepath.Join(t.TempDir(), "other.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	d.newSlave("misled", slaveOpts{caFile: other})
	d.waitServers("pinned")
	packFile := d.pack("app", "2.0.0", map[string]string{"index.html": "v2"})
	if _, err := d.client.AddUpdate(context.Background(), "v2", packFile, "", "", nil); err != nil {
		t.Fatal(err)
	}
	rep, err := d.client.Start(context.Background(), fleet.OperationRequest{Kind: fleet.KindApply, Update: "v2", All: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := states(d.wait(rep)); got != "pinned=installed@2.0.0" {
		t.Fatalf("apply over TLS: %s", got)
	}
	if _, err := fleet.NewClient(d.url, adminToken, other); err != nil {
		t.Fatal(err)
	}
	c, _ := fleet.NewClient(d.url, adminToken, other)
	if _, err := c.Servers(context.Background()); err == nil {
		t.Fatal("an admin client pinned to another certificate reached the master")
	}
}

// findPack returns the pack of module's version under dir.
func findPack(tb testing.TB, dir, module, version string) string {
	tb.Helper()
	var found string
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		base := filepath.Base(p)
		if err == nil && strings.HasSuffix(base, ".zip") && strings.Contains(base, version) && strings.Contains(base, module) {
			found = p
		}
		return nil
	})
	if found == "" {
		tb.Fatalf("no pack of %s %s in %s", module, version, dir)
	}
	return found
}
