// Package selfupdate keeps a Go HTTP server up to date without dropping a connection,
// in a handful of calls: [New] with the publisher's keys and where updates come from,
// [Updater.Listen] for each address, and [Updater.Serve], which serves until a new
// version has taken over.
//
// It composes the engine (package update: check, verified download, swap of the
// program's folder, rollback), its schedule (update/agent), the maintenance state (update/maintenance) and the
// zero-downtime restart (update/handoff). The program's folder, the one holding its
// executable, is a module of the repository, installed with the swap strategy. Serve:
//
//  1. serves the http.Server on every listener (inherited from the previous version
//     after an update) and tells the previous version, if any, that it serves;
//  2. recovers an update a crash interrupted, then checks at once and every
//     [Config.CheckInterval], installing what is offered (inside [Config.Window]), on
//     the schedule of update/agent;
//  3. after an install, starts the new executable at the path this program was started
//     from, with the same arguments, handing it the listeners, and waits until it
//     serves: then stops accepting, finishes every request already accepted and
//     returns, and the program exits;
//  4. when the new version does not become ready in time ([Config.ReadyTimeout]), kills
//     it, puts the running version back in the folder (recording why) and keeps
//     serving; that version is not installed again unattended, a newer one is.
//
// Clients see no error and no 503 during an update. To answer 503 with Retry-After
// while the folder is swapped instead, wrap the handler in [Updater.Maintenance]'s
// middleware.
//
// The handover works on Unix systems. On Windows Serve stops listening once the new
// version is installed, starts it and returns (a short gap: run the program as a
// service). The package does not handle signals (cancel Serve's context) and does not
// manage other modules. Under systemd (Type=notify) the handover tells the unit the new
// main process (update/handoff).
package selfupdate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/handoff"
	"github.com/upkeep-go/upkeep/update/maintenance"
)

// Defaults of the optional [Config] fields.
const (
	DefaultCheckInterval = time.Hour
	DefaultDrainTimeout  = 30 * time.Second
	DefaultReadyTimeout  = handoff.DefaultReadyTimeout
)

// Config says what the program is and where its updates come from. Module, Version,
// Source, Keys and StateDir are required; the zero value of every other field is its
// default.
type Config struct {
	// Module is the program's module name in the repository.
	Module string
	// Version is the running build's version (set at build time, -ldflags "-X
	// main.version=1.2.0"). It is taken as installed the first time, when StateDir
	// knows nothing of the module yet.
	Version string
	// Source is the repository: an http(s) URL or a folder.
	Source string
	// Keys holds the publisher's trusted public keys: minisign .pub files or bare
	// base64 key lines, one or several (go:embed the .pub file).
	Keys []byte
	// Threshold is how many distinct trusted keys must have signed. Default: 1.
	Threshold int
	// StateDir is where the status, journal, downloads and lock live; not inside Dir.
	StateDir string

	// Dir is the module's folder, replaced as a whole by each update. Default: the
	// folder holding the executable this program was started from, which must then
	// hold nothing else until upkeep first installs there (see [ErrSharedDir]).
	Dir string
	// CheckInterval is the time between checks; the first check is at Serve's start.
	// Default: DefaultCheckInterval.
	CheckInterval time.Duration
	// Window restricts installs to a maintenance window. Default: any time.
	Window *agent.Window
	// ReadyTimeout bounds how long a new version has to serve. Default:
	// DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// DrainTimeout bounds how long requests in flight may take to finish when this
	// process stops, and when maintenance goes on. Default: DefaultDrainTimeout.
	DrainTimeout time.Duration
	// Hooks, if set, runs at every phase of each install and rollback (hooks.Func).
	Hooks hooks.Hook
	// Logger receives what the updater does. Default: discard.
	Logger *slog.Logger
}

// ErrSharedDir is returned by [New] when Dir is left to its default and the folder of
// the executable holds other files while upkeep does not manage it yet. Each update
// replaces the whole folder, so those files (another tool in /usr/local/bin, a person's
// notes) would end up in a backup that retention later deletes. The error names them;
// give the program a folder of its own, or set Dir to a folder meant to be replaced.
//
// Managing only the executable inside a shared folder was the other way out; it is not
// taken because an update is a tree (the executable and what ships beside it), swapped
// atomically and rolled back as one: a folder of its own keeps that guarantee.
var ErrSharedDir = errors.New("selfupdate: the executable's folder holds files upkeep did not put there")

// executable is the path of the running program's executable (tests replace it).
var executable = handoff.Executable

// Updater keeps one program up to date. Create it with [New], early in main.
type Updater struct {
	cfg   Config
	log   *slog.Logger
	eng   *update.Engine
	h     *handoff.Handoff
	maint *maintenance.State

	mu      sync.Mutex
	lns     []net.Listener
	serving bool

	restart     chan struct{} // closed when the new version is to be started without a handover
	restartOnce sync.Once
}

// New checks cfg and returns an Updater. It takes the listeners a previous version
// handed over, if any, so call it once, before anything else listens.
func New(cfg Config) (*Updater, error) {
	for _, f := range []struct {
		name  string
		empty bool
	}{
		{"Module", cfg.Module == ""},
		{"Version", cfg.Version == ""},
		{"Source", cfg.Source == ""},
		{"Keys", len(cfg.Keys) == 0},
		{"StateDir", cfg.StateDir == ""},
	} {
		if f.empty {
			return nil, fmt.Errorf("selfupdate: config %s: missing", f.name)
		}
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = 1
	}
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = DefaultCheckInterval
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"CheckInterval", cfg.CheckInterval}, {"ReadyTimeout", cfg.ReadyTimeout}, {"DrainTimeout", cfg.DrainTimeout}} {
		if d.d < 0 {
			return nil, fmt.Errorf("selfupdate: config %s: %s is negative", d.name, d.d)
		}
	}
	if cfg.Window == nil {
		cfg.Window = &agent.Window{}
	}
	if err := cfg.Window.Validate(); err != nil {
		return nil, fmt.Errorf("selfupdate: config Window: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	keys, err := signature.ParsePublicKeys(cfg.Keys)
	if err != nil {
		return nil, fmt.Errorf("selfupdate: config Keys: %w", err)
	}
	kr, err := signature.NewKeyring(keys, signature.WithThreshold(cfg.Threshold))
	if err != nil {
		return nil, fmt.Errorf("selfupdate: config Keys: %w", err)
	}
	exe := ""
	if cfg.Dir == "" {
		var err error
		if exe, err = executable(); err != nil {
			return nil, fmt.Errorf("selfupdate: config Dir: %w", err)
		}
		cfg.Dir = filepath.Dir(exe)
	}
	maint := maintenance.NewState(maintenance.WithLogger(cfg.Logger),
		maintenance.WithDrainTimeout(cfg.DrainTimeout), maintenance.WithRetryAfter(time.Second))
	opts := []update.Option{update.WithKeyring(kr), update.WithLogger(cfg.Logger), update.WithMaintenance(cfg.Module, maint)}
	if cfg.Hooks != nil {
		opts = append(opts, update.WithHook(cfg.Module, cfg.Hooks))
	}
	eng, err := update.New(update.Config{
		Source:    cfg.Source,
		Threshold: cfg.Threshold,
		StateDir:  cfg.StateDir,
		Modules: []update.ModuleConfig{{
			Name: cfg.Module, Path: cfg.Dir, Strategy: update.Swap, Installed: cfg.Version,
		}},
	}, opts...)
	if err != nil {
		return nil, configErr(err)
	}
	if exe != "" {
		if err := ownFolder(eng, cfg.Module, exe); err != nil {
			return nil, err
		}
	}
	h, err := handoff.New(handoff.WithLogger(cfg.Logger), handoff.WithReadyTimeout(cfg.ReadyTimeout))
	if err != nil {
		return nil, err
	}
	return &Updater{cfg: cfg, log: cfg.Logger, eng: eng, h: h, maint: maint, restart: make(chan struct{})}, nil
}

// ownFolder refuses the executable's folder, taken as the module's by default, when
// it holds anything besides the executable and upkeep has never installed there.
func ownFolder(eng *update.Engine, module, exe string) error {
	st, err := eng.ModuleStatus(context.Background(), module)
	if err != nil {
		return fmt.Errorf("selfupdate: config Dir: %w", err)
	}
	if st.Managed {
		return nil // what the folder holds now, upkeep put there
	}
	dir := filepath.Dir(exe)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("selfupdate: config Dir: %w", err)
	}
	var others []string
	for _, e := range entries {
		if e.Name() != filepath.Base(exe) {
			others = append(others, e.Name())
		}
	}
	if len(others) == 0 {
		return nil
	}
	const show = 10
	list := strings.Join(others[:min(len(others), show)], ", ")
	if len(others) > show {
		list += fmt.Sprintf(" and %d more", len(others)-show)
	}
	return fmt.Errorf("selfupdate: config Dir: %s (the default, the executable's folder) also holds %s: "+
		"each update replaces the whole folder; move the executable into a folder of its own, or set Dir: %w",
		dir, list, ErrSharedDir)
}

// configErr names the field of Config that update's configuration error is about.
func configErr(err error) error {
	var ce *update.ConfigError
	if errors.As(err, &ce) {
		fields := map[string]string{"source": "Source", "state_dir": "StateDir", "threshold": "Threshold",
			"modules[0].name": "Module", "modules[0].path": "Dir"}
		if f, ok := fields[ce.Field]; ok {
			return &configError{field: f, err: ce}
		}
	}
	return fmt.Errorf("selfupdate: %w", err)
}

// configError is update's configuration error named after the field of Config.
type configError struct {
	field string
	err   *update.ConfigError
}

func (e *configError) Error() string {
	return "selfupdate: config " + e.field + ": " + e.err.Err.Error()
}

func (e *configError) Unwrap() error { return e.err }

// Listen returns the listener the previous version handed over for network and addr,
// or a new one. Call it before [Updater.Serve], once per address served.
func (u *Updater) Listen(ctx context.Context, network, addr string) (net.Listener, error) {
	ln, err := u.h.Listen(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	u.lns = append(u.lns, ln)
	u.mu.Unlock()
	return ln, nil
}

// Serve serves srv on every listener returned by [Updater.Listen] and keeps the program
// up to date, as the package documentation describes, until ctx ends or a new version
// serves in this one's place. Either way it stops accepting, finishes the requests
// already accepted (within [Config.DrainTimeout]), and returns nil: the program should
// then exit. It returns an error when serving failed. It sets srv.ConnState (keeping a
// hook already set) to know which connections are busy, and may be called once.
func (u *Updater) Serve(ctx context.Context, srv *http.Server) error {
	u.mu.Lock()
	lns, again := slices.Clone(u.lns), u.serving
	u.serving = again || len(lns) > 0
	u.mu.Unlock()
	switch {
	case again:
		return errors.New("selfupdate: Serve called twice")
	case len(lns) == 0:
		return errors.New("selfupdate: Serve: no listener (call Listen first)")
	}
	d := handoff.NewDrainer(srv)
	served := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { served <- d.Serve(ln) }()
	}
	u.log.Info("serving", "module", u.cfg.Module, "running", u.cfg.Version, "inherited", handoff.Inherited())
	if err := u.h.Ready(); err != nil {
		u.log.Warn("the previous version will not see this one ready", "err", err)
	}

	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	looped := make(chan struct{})
	go func() {
		defer close(looped)
		agent.Run(loopCtx, u.eng, agent.RunOptions{Interval: u.cfg.CheckInterval, AutoInstall: u.cfg.Window,
			AfterInstall: u.afterInstall, Logger: u.log})
	}()

	var serveErr error
	select {
	case <-ctx.Done():
		u.log.Info("stopping", "why", context.Cause(ctx))
	case <-u.h.Exit():
		u.log.Info("stopping", "why", "the new version serves")
	case <-u.restart:
		u.log.Info("stopping", "why", "restarting into the new version")
	case serveErr = <-served:
		u.log.Error("serving failed", "err", serveErr)
	}
	stopLoop()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), u.cfg.DrainTimeout)
	defer cancel()
	if err := d.Drain(dctx, lns...); err != nil {
		u.log.Warn("requests in flight cut at the drain timeout", "err", err)
	}
	// An install under way when ctx ended is rolled back before Serve returns.
	<-looped
	if serveErr != nil {
		return serveErr
	}
	select {
	case <-u.restart:
		if err := handoff.Restart(); !errors.Is(err, handoff.ErrRestarted) {
			return err
		}
	default:
	}
	return nil
}

// afterInstall hands the listeners to the version just installed. An error makes the
// engine roll the install back, recording it as the reason.
func (u *Updater) afterInstall(ctx context.Context, res *update.InstallResult) error {
	to := res.Installed[len(res.Installed)-1]
	if !res.SelfUpdate {
		u.log.Warn("the module's folder does not hold this program's executable: nothing to restart", "dir", u.cfg.Dir, "to", to)
		return nil
	}
	child, err := u.h.Upgrade(ctx)
	switch {
	case err == nil:
		u.log.Info("handed over to the new version", "to", to, "child_pid", child.PID, "ready_after", child.Ready)
		return nil
	case errors.Is(err, handoff.ErrUnsupported):
		u.restartOnce.Do(func() { close(u.restart) })
		return nil
	}
	return fmt.Errorf("%s %s did not become ready: %w", u.cfg.Module, to, err)
}

// Engine returns the engine, for the module's status (Engine.ModuleStatus) or an
// install on request.
func (u *Updater) Engine() *update.Engine { return u.eng }

// Maintenance returns the maintenance state the engine turns on while it swaps the
// program's folder. Requests are served normally then, by this version from memory;
// wrap the handler in its Middleware to answer 503 with Retry-After instead.
func (u *Updater) Maintenance() *maintenance.State { return u.maint }
