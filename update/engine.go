package update

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/internal/seam"
	"github.com/upkeep-go/upkeep/update/maintenance"
	"github.com/upkeep-go/upkeep/update/source"
)

// Engine checks, downloads and installs the modules of one Config. It holds no global
// state: several engines (with different state dirs) can live in one process. Its
// methods are safe for concurrent use; operations on one module are serialised by a
// lock in the state dir, which also keeps other processes out.
type Engine struct {
	options
	cfg      Config
	state    stateDir
	roots    *signature.Keyring // the configured root keys, nil without root_keys
	chain    keyChain           // with root keys: the key chain of the last key set accepted
	obs      observers
	locks    locks
	platform string
}

// options are what the Options set, over the defaults New gives them.
type options struct {
	src      source.Source
	keyring  *signature.Keyring
	log      *slog.Logger
	now      func() time.Time
	hooks    map[string]hooks.Hook
	maint    map[string]*maintenance.State
	appliers map[ModuleKind]func(ModuleConfig) (Applier, error)
	ops      *ops
	workers  int
	noSync   bool
	// hfsql reads an unsigned hfsql_updateinfo.json when the source has no manifest.json
	// and no signed manifest was accepted before (update/agent's allow_unsigned_hfsql).
	hfsql bool
	// svcTimeout bounds a stop or start of a module's service.
	svcTimeout time.Duration
}

// Option configures an Engine.
type Option func(*options) error

// WithSource sets where manifests and packs come from. Default: source.New(cfg.Source).
func WithSource(s source.Source) Option {
	return func(o *options) error { o.src = s; return nil }
}

// WithKeyring sets the trusted keys. Default: the key files of cfg.Keys with
// cfg.Threshold.
func WithKeyring(kr *signature.Keyring) Option {
	return func(o *options) error { o.keyring = kr; return nil }
}

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error { o.log = l; return nil }
}

// withClock sets the clock used for manifest expiry and status times. Default: time.Now.
// Tests reach it through updatetest.WithClock.
func withClock(now func() time.Time) Option {
	return func(o *options) error { o.now = now; return nil }
}

// WithHook adds a Go hook for a module, run at every phase before the module's script
// folder. Default: none.
func WithHook(module string, h hooks.Hook) Option {
	return func(o *options) error {
		o.hooks[module] = hooks.Chain(o.hooks[module], h)
		return nil
	}
}

// WithMaintenance attaches a Go service's maintenance state to a module: the engine
// turns it on (draining in-flight requests) and off around the swap. Default: only the
// module's MaintenanceFile, if configured.
func WithMaintenance(module string, s *maintenance.State) Option {
	return func(o *options) error { o.maint[module] = s; return nil }
}

// withBusyTimeout bounds how long an operation on a locked file is retried before the
// install fails naming the file. Default: 30s. Tests reach it through
// updatetest.WithBusyTimeout.
func withBusyTimeout(d time.Duration) Option {
	return func(o *options) error { o.ops.busy = d; return nil }
}

// withoutSync skips fsync of extracted trees. Default: durable. Tests reach it through
// updatetest.WithoutSync.
func withoutSync() Option {
	return func(o *options) error { o.noSync = true; return nil }
}

func init() {
	seam.Clock = func(now func() time.Time) any { return withClock(now) }
	seam.NoSync = func() any { return withoutSync() }
	seam.BusyTimeout = func(d time.Duration) any { return withBusyTimeout(d) }
	seam.ServiceTimeout = func(d time.Duration) any { return withServiceTimeout(d) }
	seam.AppliedPack = func(ctx context.Context, e any, module string) (string, error) {
		return e.(*Engine).appliedPack(ctx, module)
	}
	seam.OfferedPack = func(ctx context.Context, e any, module string) (string, string, error) {
		return e.(*Engine).offeredPack(ctx, module)
	}
	seam.TrustedKeyring = func(ctx context.Context, e any) (*signature.Keyring, error) {
		return e.(*Engine).trustedKeyring(ctx)
	}
	seam.DownloadPath = func(e any, module, version, file string) string {
		return e.(*Engine).downloadPath(module, version, file)
	}
	seam.SetSource = func(e any, url string) error { return e.(*Engine).setSource(url) }
	seam.UnsignedHFSQL = func() any { return Option(func(o *options) error { o.hfsql = true; return nil }) }
	seam.CheckSource = func(source string) error { return (&Config{Source: source}).checkSource() }
	seam.ScriptTimeout = scriptTimeout
	seam.ValidateConfig = func(c any, needSource bool) error { return c.(*Config).validate(needSource, true) }
}

// New returns an engine for cfg, validating it.
func New(cfg Config, opts ...Option) (*Engine, error) {
	e := &Engine{options: options{
		log:   slog.New(slog.DiscardHandler),
		now:   time.Now,
		hooks: map[string]hooks.Hook{},
		maint: map[string]*maintenance.State{},
		ops:   &ops{},
	}}
	for _, o := range opts {
		if err := o(&e.options); err != nil {
			return nil, err
		}
	}
	if err := cfg.validate(e.src == nil, e.keyring == nil); err != nil {
		return nil, err
	}
	if err := cfg.checkOptions(e.hooks, e.maint); err != nil {
		return nil, err
	}
	e.cfg = cfg
	e.workers = cfg.Workers
	e.state = stateDir(cfg.StateDir)
	p, err := manifest.Platform(cfg.Platform)
	if err != nil {
		return nil, &ConfigError{Field: "platform", Err: err}
	}
	e.platform = p
	if e.src == nil {
		s, err := source.New(cfg.Source)
		if err != nil {
			return nil, &ConfigError{Field: "source", Err: err}
		}
		e.src = s
	}
	if e.src != nil {
		e.src = newSwapSource(e.src, cfg.Source)
	}
	if len(cfg.RootKeys) > 0 {
		if e.keyring != nil {
			return nil, &ConfigError{Field: "root_keys", Err: errors.New("given with WithKeyring: with root keys the signing keys come from the repository's keys.json")}
		}
		kr, err := signature.LoadKeyring(cfg.RootKeys, signature.WithThreshold(cfg.RootThreshold))
		if err != nil {
			return nil, &ConfigError{Field: "root_keys", Err: err}
		}
		e.roots = kr
	} else if e.keyring == nil {
		kr, err := signature.LoadKeyring(cfg.Keys, signature.WithThreshold(cfg.Threshold))
		if err != nil {
			return nil, &ConfigError{Field: "keys", Err: err}
		}
		e.keyring = kr
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, &ConfigError{Field: "state_dir", Err: stateErr(err)}
	}
	return e, nil
}

// Config returns the engine's configuration (with defaults filled in).
func (e *Engine) Config() Config {
	c := e.cfg
	c.Source = e.sourceURL()
	return c
}

// Step names what an Event is about.
type Step string

// Steps reported in events, in install order.
const (
	StepCheck       Step = "check"
	StepDownload    Step = "download"
	StepExtract     Step = "extract"
	StepHook        Step = "hook"
	StepMaintenance Step = "maintenance"
	StepBackup      Step = "backup"
	StepInstall     Step = "install"
	StepRollback    Step = "rollback"
	StepDone        Step = "done"
)

// Event is a progress report: a CLI turns download events into a progress bar, the
// portal into a gauge.
type Event struct {
	Module  string
	Version string
	Step    Step
	Phase   hooks.Phase // for StepHook
	Done    int64       // bytes done (download, extract)
	Total   int64       // bytes in all, 0 when unknown
	Rate    float64     // bytes per second
	Message string
}

func (e *Engine) emit(ev Event) {
	e.obs.emit(ev)
}

// lock takes a module's lock, creating its state folder.
// Operations that change a module (install, rollback, recover) hold it, so they
// refuse a state dir another account owns or can write: a journal there decides what
// Recover undoes.
func (e *Engine) lock(m *ModuleConfig) (*moduleLock, error) {
	dir := e.state.module(m.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, stateErr(err)
	}
	if err := checkStateDirs(string(e.state), e.state.path("modules"), dir); err != nil {
		return nil, err
	}
	return e.locks.acquire(m.Name, e.state.module(m.Name, "lock"))
}

// checkStateDirs refuses parts of the state dir that are links, not folders, another
// account's, or writable by others: upkeep writes and deletes in them by path.
func checkStateDirs(paths ...string) error {
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			return stateErr(err)
		}
		if !fi.IsDir() {
			return &workFolderError{Path: p, Owner: -1, Mode: fi.Mode(), Reason: "this part of the state dir is not a folder"}
		}
		if err := ownedInfo(p, fi, "state dir"); err != nil {
			return err
		}
	}
	return nil
}

func ctxErr(ctx context.Context) error { return context.Cause(ctx) }
