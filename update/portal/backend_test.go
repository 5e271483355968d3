package portal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/dbscript/dbagent"
	"github.com/upkeep-go/upkeep/update/portal"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

var platform = runtime.GOOS + "/" + runtime.GOARCH

// engineBackend is a portal.Backend over a real engine, as small as the tests need:
// operations are kept in memory, each install or rollback runs in a goroutine, and
// the engine's events become progress.
type engineBackend struct {
	eng *update.Engine

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	ops      []agent.Operation // oldest first
	running  map[string]*agent.RunningOp
	subs     map[chan agent.Event]bool
	manifest *manifest.Manifest // what the last check accepted
	notes    map[string]string  // "module version" → release notes shown
	checked  bool
	seq      int
}

var _ portal.Backend = (*engineBackend)(nil)

func newEngineBackend(t testing.TB, cfg update.Config, opts ...update.Option) *engineBackend {
	t.Helper()
	b := &engineBackend{running: map[string]*agent.RunningOp{}, subs: map[chan agent.Event]bool{}}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	opts = append([]update.Option{updatetest.WithoutSync()}, opts...)
	eng, err := update.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	eng.AddEventFunc(b.onEvent)
	b.eng = eng
	t.Cleanup(func() { b.cancel(); b.wg.Wait() })
	return b
}

func (b *engineBackend) onEvent(ev update.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.running[ev.Module]
	if r == nil {
		return
	}
	r.Step, r.Done, r.Total = string(ev.Step), ev.Done, ev.Total
	b.broadcast(agent.Event{Progress: &agent.Progress{Operation: r.ID, Module: ev.Module,
		Step: r.Step, Done: r.Done, Total: r.Total, Message: ev.Message}})
}

// broadcast sends ev to every subscriber that has room; b.mu is held.
func (b *engineBackend) broadcast(ev agent.Event) {
	for ch := range b.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

func (b *engineBackend) Subscribe(ctx context.Context) <-chan agent.Event {
	ch := make(chan agent.Event, 256)
	b.mu.Lock()
	b.subs[ch] = true
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		delete(b.subs, ch)
		close(ch)
		b.mu.Unlock()
	}()
	return ch
}

func (b *engineBackend) Modules(ctx context.Context) ([]agent.ModuleView, error) {
	sts, err := b.eng.Status(ctx)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]agent.ModuleView, 0, len(sts))
	for _, st := range sts {
		v := agent.ModuleView{Name: st.Name, Installed: st.Installed, Latest: st.Latest,
			Maintenance: st.Maintenance, LastResult: st.LastResult, LastError: st.LastError,
			Backups: st.Backups}
		if v.Backups == nil {
			v.Backups = []string{}
		}
		switch {
		case b.running[st.Name] != nil:
			v.Status = "installing"
			r := *b.running[st.Name]
			v.Operation = &r
		case st.Maintenance:
			v.Status = "maintenance"
		case st.LastError != "" && st.CheckStatus != update.StatusError:
			v.Status = "failed"
		case st.CheckStatus == "":
			v.Status = "unknown"
		default:
			v.Status = string(st.CheckStatus)
		}
		if st.Code != "" {
			v.Code = ptr(string(st.Code))
		}
		if st.CheckReason != "" {
			v.Reason = ptr(st.CheckReason)
		}
		if st.Latest != nil && st.Download != nil {
			v.Downloaded = st.Download.State == update.DownloadVerified && st.Download.Version == *st.Latest
		}
		if !st.LastCheck.IsZero() {
			v.LastCheck = ptr(st.LastCheck)
			v.Diagnostics.SourceReachable = ptr(st.Code != update.CodeUnreachable)
		}
		if m := b.manifest; m != nil {
			v.Diagnostics.ManifestSerial, v.Diagnostics.ManifestExpires = ptr(m.Serial), ptr(m.Expires)
			if st.Latest != nil {
				for _, r := range m.Releases {
					if r.Module == st.Name && r.Version == *st.Latest && r.Notes != "" {
						v.Notes = ptr(r.Notes)
					}
				}
				if n := b.notes[st.Name+" "+*st.Latest]; n != "" {
					v.Notes = ptr(n)
				}
			}
		}
		v.Diagnostics.Problem = st.Problem
		out = append(out, v)
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

// start records a running operation of module and runs f in a goroutine; b.mu is held.
func (b *engineBackend) start(module string, kind agent.OpKind, from, to string, f func(ctx context.Context) (string, error)) string {
	b.seq++
	id := fmt.Sprintf("op-%04d", b.seq)
	b.ops = append(b.ops, agent.Operation{ID: id, Module: module, Kind: kind, From: from, To: to,
		Started: time.Now().UTC(), Result: agent.ResultRunning})
	if module != "" {
		b.running[module] = &agent.RunningOp{ID: id, Kind: kind}
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		to, err := f(b.ctx)
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.running, module)
		for i := range b.ops {
			if op := &b.ops[i]; op.ID == id {
				op.Ended, op.Result = time.Now().UTC(), agent.ResultSucceeded
				if to != "" {
					op.To = to
				}
				if err != nil {
					op.Result, op.Error, op.Code = agent.ResultFailed, err.Error(), string(update.CodeOf(err))
				}
				ended := *op
				b.broadcast(agent.Event{Operation: &ended})
			}
		}
	}()
	return id
}

func (b *engineBackend) Install(ctx context.Context, module, version string) (string, error) {
	st, err := b.eng.ModuleStatus(ctx, module)
	if err != nil {
		return "", err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if r := b.running[module]; r != nil {
		if r.Kind == agent.OpInstall {
			return r.ID, nil
		}
		return "", fmt.Errorf("%w: %s: %s %s is running", update.ErrBusy, module, r.Kind, r.ID)
	}
	to := version
	if to == "" {
		to = deref(st.Latest)
	}
	return b.start(module, agent.OpInstall, deref(st.Installed), to, func(ctx context.Context) (string, error) {
		res, err := b.eng.Install(ctx, module, update.InstallOptions{Version: version})
		if err != nil {
			return version, err
		}
		return res.Installed[len(res.Installed)-1], nil
	}), nil
}

func (b *engineBackend) Rollback(ctx context.Context, module string) (string, error) {
	st, err := b.eng.ModuleStatus(ctx, module)
	if err != nil {
		return "", err
	}
	if len(st.Backups) == 0 {
		return "", fmt.Errorf("%w: %s", update.ErrNoBackup, module)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if r := b.running[module]; r != nil {
		return "", fmt.Errorf("%w: %s: %s %s is running", update.ErrBusy, module, r.Kind, r.ID)
	}
	return b.start(module, agent.OpRollback, deref(st.Installed), "", func(ctx context.Context) (string, error) {
		res, err := b.eng.Rollback(ctx, module, update.RollbackOptions{})
		if err != nil {
			return "", err
		}
		return res.Installed[0], nil
	}), nil
}

func (b *engineBackend) Check(ctx context.Context) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.start("", agent.OpCheck, "", "", func(ctx context.Context) (string, error) {
		rep, err := b.eng.Check(ctx)
		b.mu.Lock()
		if rep != nil && rep.Manifest != nil {
			b.manifest = rep.Manifest
		}
		b.checked = true
		b.mu.Unlock()
		return "", err
	}), nil
}

func (b *engineBackend) Operations(ctx context.Context, module string, limit int) ([]agent.Operation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []agent.Operation
	for i := len(b.ops) - 1; i >= 0 && len(out) < limit; i-- {
		if module == "" || b.ops[i].Module == module {
			out = append(out, b.ops[i])
		}
	}
	return out, nil
}

func (b *engineBackend) Operation(ctx context.Context, id string) (agent.Operation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, op := range b.ops {
		if op.ID == id {
			return op, nil
		}
	}
	return agent.Operation{}, fmt.Errorf("%w: %q", agent.ErrNoOperation, id)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// fixture is a signed repository and the configuration of modules installed from it.
type fixture struct {
	repo *updatetest.Repo
	cfg  update.Config
	dir  string
}

// newFixture configures modules named names, each in a folder of its own, from a
// repository served on 127.0.0.1.
func newFixture(t testing.TB, names ...string) *fixture {
	t.Helper()
	repo := updatetest.NewRepo(t)
	dir := t.TempDir()
	f := &fixture{repo: repo, dir: dir, cfg: update.Config{
		Source:   repo.Serve(),
		Keys:     []string{repo.PubFile},
		StateDir: filepath.Join(dir, "state"),
	}}
	if err := os.MkdirAll(filepath.Join(dir, "srv"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		f.cfg.Modules = append(f.cfg.Modules, update.ModuleConfig{Name: n, Path: filepath.Join(dir, "srv", n)})
	}
	return f
}

// gate holds an install at one hook phase until released.
type gate struct {
	reached chan struct{}
	release chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{reached: make(chan struct{}, 16), release: make(chan struct{})} }

func (g *gate) hook(ctx context.Context) error {
	g.reached <- struct{}{}
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

// newAgent returns the real agent over cfg (not running its schedule: the tests ask
// for checks), stopped at the end of the test.
func newAgent(t testing.TB, cfg update.Config, opts ...agent.Option) *agent.Agent {
	t.Helper()
	acfg := &agent.Config{Config: cfg}
	if err := acfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// Database modules are served as the upkeep command serves them.
	eng, err := update.New(acfg.Config, updatetest.WithoutSync(), update.WithApplier(update.KindDatabase, dbagent.NewApplier))
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(acfg, eng, append([]agent.Option{agent.WithoutSync(), agent.WithFirstCheck(time.Hour),
		agent.WithInterval(time.Hour), agent.WithDatabase(dbagent.Opener(eng))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return a
}
