package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/update"
)

// ErrStopped is returned by Install, Rollback and Check once the agent has stopped
// (Run returned), and by a second call of Run.
var ErrStopped = errors.New("agent: stopped")

// errStopping is the cause given to the operations interrupted by a stop.
var errStopping = errors.New("interrupted: the agent stopped")

// CodeInterrupted is the code of an operation that a stop of the agent interrupted
// (the engine undid it, or Recover does at the next start).
const CodeInterrupted = "interrupted"

// DefaultFirstCheck is how long after Run starts the first check happens: seconds,
// so that an operator does not wait a whole interval after a restart.
const DefaultFirstCheck = 3 * time.Second

// Agent runs an engine on its own: a check at start and on a schedule, background
// downloads, automatic installs inside a window, and the installs, rollbacks and
// checks a person asks for (through a portal), each an Operation kept in the
// operations log of the state dir. Its methods are safe for concurrent use.
type Agent struct {
	cfg          *Config
	eng          *update.Engine
	log          *slog.Logger
	now          func() time.Time
	interval     time.Duration
	jitter       time.Duration
	firstCheck   time.Duration
	window       *Window
	afterInstall func(context.Context, *update.InstallResult) error
	onCheck      func(*update.CheckReport, error) // RunOptions.OnCheck
	logLimit     int64
	noSync       bool
	openDB       DatabaseOpener

	base   context.Context // operations run under it; cancelled when Run stops
	cancel context.CancelCauseFunc
	opWG   sync.WaitGroup
	subWG  sync.WaitGroup
	stopCh chan struct{}

	mu      sync.Mutex
	started bool
	stopped bool
	oplog   *opLog
	mods    map[string]*moduleState
	check   *opState // the running check, if any
	seen    seen
	subs    map[*subscriber]struct{}

	// snap is the last status read of each module from the engine's state dir; Modules
	// serves views from it. A module is read again when it is missing or stale: an
	// operation on it ended, or its engine step changed.
	snap       map[string]*update.ModuleStatus
	stale      map[string]uint64 // generation of each module's staleness; 0: fresh
	snapAt     time.Time         // when every module was last read
	refreshing bool              // a background re-read of every module runs
	dbViews    map[string]*DatabaseView

	sched schedState // the schedule and the settings (settings.go)
}

// moduleState is the queue of one module's operations.
type moduleState struct {
	// sem is held by whatever uses the module's engine lock for the agent: an
	// operation, or a background download.
	sem      chan struct{}
	install  *opState // the install not ended yet (running or queued)
	rollback *opState // the rollback not ended yet
	script   *opState // the database script operation not ended yet
	cfg      update.ModuleConfig
	db       DatabaseModule
	active   *opState // the operation holding sem: engine events of the module go to it
	lastStep update.Step
}

// opState is an operation under way.
type opState struct {
	op      Operation
	prog    Progress
	lastPub time.Time
	done    chan struct{}
}

// seen is what the last check saw of the source and the manifest.
type seen struct {
	reachable *bool
	serial    *uint64
	expires   *time.Time
	manifest  *manifest.Manifest
}

// Option configures an Agent.
type Option func(*Agent) error

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(a *Agent) error { a.log = l; return nil } }

// WithClock sets the clock the auto_install window and operation times use. Default:
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(a *Agent) error { a.now = now; return nil }
}

// WithInterval sets the time between checks. Default: the configuration's
// check_interval, else DefaultInterval.
func WithInterval(d time.Duration) Option {
	return func(a *Agent) error {
		if d <= 0 {
			return fmt.Errorf("agent: interval must be positive, got %s", d)
		}
		a.interval = d
		return nil
	}
}

// WithJitter sets how much each wait between checks varies (± up to d), so that a
// fleet does not check at the same moment. Default: a tenth of the interval.
func WithJitter(d time.Duration) Option { return func(a *Agent) error { a.jitter = d; return nil } }

// WithFirstCheck sets how long after Run starts the first check happens. Default:
// DefaultFirstCheck.
func WithFirstCheck(d time.Duration) Option {
	return func(a *Agent) error { a.firstCheck = d; return nil }
}

// WithAfterInstall sets a function called after each automatic install that changed
// a module, also when a later step of its upgrade path failed (res.Installed lists
// what is in place). It is where a program that updates itself restarts into the new
// version when res.SelfUpdate is set (handoff.Upgrade) and checks that it became
// ready. An error rolls the module back to res.From with the error as the reason
// (update.RollbackOptions.Reason): the status shows it and marks the version failed,
// so no unattended install tries it again. Default: none.
func WithAfterInstall(f func(context.Context, *update.InstallResult) error) Option {
	return func(a *Agent) error { a.afterInstall = f; return nil }
}

// WithLogLimit sets the size at which the operations log is rotated. Default:
// DefaultLogLimit.
func WithLogLimit(n int64) Option { return func(a *Agent) error { a.logLimit = n; return nil } }

// WithoutSync skips the fsync of each line of the operations log (tests). Default:
// every line is synced before the operation goes on.
func WithoutSync() Option { return func(a *Agent) error { a.noSync = true; return nil } }

// New returns an agent for cfg over eng (nil: an engine built from cfg). It opens the
// operations log in STATE/agent and closes, as failed, the operations that a previous
// process left running ("interrupted: the agent stopped"; the engine's Recover, which
// Run calls, deals with the files they touched).
func New(cfg *Config, eng *update.Engine, opts ...Option) (*Agent, error) {
	if cfg == nil {
		return nil, errors.New("agent: no configuration")
	}
	a := &Agent{
		cfg:        cfg,
		log:        slog.New(slog.DiscardHandler),
		now:        time.Now,
		interval:   time.Duration(cfg.CheckInterval),
		firstCheck: DefaultFirstCheck,
		window:     cfg.AutoInstall,
		mods:       map[string]*moduleState{},
		subs:       map[*subscriber]struct{}{},
		stopCh:     make(chan struct{}),
		snap:       map[string]*update.ModuleStatus{},
		stale:      map[string]uint64{},
		dbViews:    map[string]*DatabaseView{},
	}
	for _, o := range opts {
		if err := o(a); err != nil {
			return nil, err
		}
	}
	if a.interval <= 0 {
		a.interval = DefaultInterval
	}
	if a.jitter <= 0 {
		a.jitter, a.sched.jitterAuto = a.interval/10, true
	}
	a.sched.resched, a.sched.settingsMu, a.sched.lang = make(chan time.Duration, 1), make(chan struct{}, 1), cfg.Lang
	if eng == nil {
		var err error
		if eng, err = cfg.NewEngine(update.WithLogger(a.log)); err != nil {
			return nil, err
		}
	}
	a.eng = eng
	for _, m := range eng.Config().Modules {
		a.mods[m.Name] = &moduleState{sem: make(chan struct{}, 1), cfg: m}
	}
	dir := filepath.Join(eng.Config().StateDir, "agent")
	l, bad, err := openLog(dir, a.logLimit, a.noSync)
	if err != nil {
		return nil, fmt.Errorf("agent: operations log: %w", err)
	}
	for _, err := range bad {
		a.log.Warn("operations log: line skipped", "err", err)
	}
	a.oplog = l
	for _, op := range l.running() {
		op.Result, op.Ended, op.Code, op.Error = ResultFailed, a.now(), CodeInterrupted, errStopping.Error()
		if err := l.append(op); err != nil {
			a.log.Error("operations log", "err", err)
		}
	}
	a.base, a.cancel = context.WithCancelCause(context.Background())
	eng.AddEventFunc(a.onEngineEvent)
	return a, nil
}

// Engine returns the engine the agent drives.
func (a *Agent) Engine() *update.Engine { return a.eng }

// Run runs the agent until ctx is done: Recover, a first check within seconds
// (WithFirstCheck), then a check every interval with jitter. Each check downloads
// in the background what it finds, and installs it when the auto_install window holds
// the time. When ctx is done, running operations are cancelled — the engine undoes an
// install or rollback that had not completed, so that the module stays at its
// previous version — and Run returns nil once they have ended and every subscription
// is closed. It may be called once.
func (a *Agent) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.started || a.stopped {
		a.mu.Unlock()
		return ErrStopped
	}
	a.started = true
	a.mu.Unlock()
	defer a.stop()

	if err := a.recover(ctx); err != nil {
		return nil // stopped while waiting for the modules
	}
	a.opWG.Add(1)
	go func() {
		defer a.opWG.Done()
		a.refreshDatabases(a.base)
	}()
	if a.noSource() {
		a.log.Info("no source configured: no scheduled check, updates come from the fleet master")
	}
	t := time.NewTimer(a.armed(a.firstCheck))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case d := <-a.sched.resched: // the settings changed the interval
			t.Reset(d)
			continue
		case <-t.C:
		}
		// With no source (a fleet slave's), there is nothing to check: the master
		// brings the updates. One set later through the settings is checked.
		if !a.noSource() {
			if _, err := a.Check(ctx); err != nil && !errors.Is(err, ErrStopped) {
				a.log.Error("check", "err", err)
			}
		}
		t.Reset(a.armed(a.nextWait()))
	}
}

// recover runs the engine's Recover holding every module's queue slot, so that an
// operation asked for meanwhile waits for it instead of finding the module busy.
func (a *Agent) recover(ctx context.Context) error {
	var held []*moduleState
	defer func() {
		for _, ms := range held {
			<-ms.sem
		}
	}()
	for _, m := range a.eng.Config().Modules {
		ms := a.mods[m.Name]
		select {
		case ms.sem <- struct{}{}:
			held = append(held, ms)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	res, err := a.eng.Recover(ctx)
	a.mu.Lock()
	a.markStale("")
	a.mu.Unlock()
	for _, r := range res {
		if r.Action != update.RecoverNone {
			a.log.Info("recovered", "module", r.Module, "action", r.Action, "version", r.Version, "detail", r.Detail)
		}
	}
	if err != nil {
		a.log.Error("recovery at start-up", "err", err)
	}
	return nil
}

// stop cancels what runs and waits for it.
func (a *Agent) stop() {
	a.mu.Lock()
	a.stopped = true
	a.mu.Unlock()
	a.cancel(errStopping)
	a.opWG.Wait()
	close(a.stopCh)
	a.subWG.Wait()
	a.mu.Lock()
	if err := a.oplog.close(); err != nil {
		a.log.Error("operations log", "err", err)
	}
	a.mu.Unlock()
}

// newID returns a new operation ID: sortable by time, unique.
func (a *Agent) newID() string {
	var b [4]byte
	rand.Read(b[:])
	return a.now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// startOp records a new running operation and runs f in the background under the
// agent's context; f returns the operation's outcome. The caller holds a.mu.
func (a *Agent) startOp(op Operation, f func(ctx context.Context, st *opState) error) *opState {
	op.ID = a.newID()
	op.Started = a.now()
	op.Result = ResultRunning
	st := &opState{op: op, done: make(chan struct{}), prog: Progress{Operation: op.ID, Module: op.Module, Step: "queued"}}
	if err := a.oplog.append(op); err != nil {
		a.log.Error("operations log", "err", err)
	}
	a.opWG.Add(1)
	go func() {
		defer a.opWG.Done()
		err := f(a.base, st)
		a.endOp(st, err)
	}()
	return st
}

// endOp records the end of an operation and tells subscribers.
func (a *Agent) endOp(st *opState, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	op := &st.op
	op.Ended = a.now()
	op.Result = ResultSucceeded
	if err != nil {
		op.Result = ResultFailed
		op.Code = string(update.CodeOf(err))
		op.Error = err.Error()
		switch {
		case errors.Is(err, update.ErrFailedVersion):
			op.Code = "failed_version"
		case context.Cause(a.base) != nil:
			op.Code = CodeInterrupted
			op.Error = errStopping.Error() + ": " + err.Error()
		}
	}
	if err := a.oplog.append(*op); err != nil {
		a.log.Error("operations log", "err", err)
	}
	a.markStale(op.Module)
	if ms := a.mods[op.Module]; ms != nil {
		if ms.install == st {
			ms.install = nil
		}
		if ms.rollback == st {
			ms.rollback = nil
		}
		if ms.script == st {
			ms.script = nil
		}
	}
	if a.check == st {
		a.check = nil
	}
	ended := *op
	a.publish(Event{Operation: &ended})
	close(st.done)
	a.log.Info("operation ended", "id", op.ID, "kind", op.Kind, "module", op.Module, "from", op.From, "to", op.To, "result", op.Result, "err", op.Error)
}

// recordDone records op, which ran in the caller and ended now with err (a hold, a
// release, a maintenance flag taken down), and tells subscribers.
func (a *Agent) recordDone(op Operation, err error) {
	op.Ended, op.Result = a.now(), ResultSucceeded
	if err != nil {
		op.Result, op.Code, op.Error = ResultFailed, string(update.CodeOf(err)), err.Error()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	op.ID = a.newID()
	if lerr := a.oplog.append(op); lerr != nil {
		a.log.Error("operations log", "err", lerr)
	}
	a.markStale(op.Module)
	a.publish(Event{Operation: &op})
}

// acquire takes the module's queue slot for st, waiting for the operation before it.
func (a *Agent) acquire(ctx context.Context, ms *moduleState, st *opState) error {
	select {
	case ms.sem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	a.mu.Lock()
	ms.active = st
	a.mu.Unlock()
	return nil
}

func (a *Agent) release(ms *moduleState) {
	a.mu.Lock()
	ms.active = nil
	a.mu.Unlock()
	<-ms.sem
}

// module returns the queue of a configured module, or an error wrapping
// update.ErrUnknownModule.
func (a *Agent) module(name string) (*moduleState, error) {
	ms := a.mods[name]
	if ms == nil {
		return nil, fmt.Errorf("%w: %q is not a configured module", update.ErrUnknownModule, name)
	}
	return ms, nil
}

// Install starts installing module: version, or ("") the newest the source offers.
// It returns at once with the operation's ID; while an install of the module is
// running or queued, it returns that operation's ID instead of starting another.
// An install asked this way may retry a version that failed before.
func (a *Agent) Install(ctx context.Context, module, version string) (string, error) {
	st, err := a.startInstall(ctx, module, version, false)
	if err != nil {
		return "", err
	}
	a.releaseOnInstall(module) // a person's install ends a hold (hold.go)
	return st.op.ID, nil
}

func (a *Agent) startInstall(ctx context.Context, module, version string, unattended bool) (*opState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ms, err := a.module(module)
	if err != nil {
		return nil, err
	}
	status, err := a.eng.ModuleStatus(ctx, module)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return nil, ErrStopped
	}
	if ms.install != nil {
		return ms.install, nil
	}
	to := version
	if to == "" && status.Latest != nil && deref(status.Latest) != deref(status.Installed) {
		to = *status.Latest
	}
	op := Operation{Module: module, Kind: OpInstall, From: deref(status.Installed), To: to}
	st := a.startOp(op, func(ctx context.Context, st *opState) error {
		if err := a.acquire(ctx, ms, st); err != nil {
			return err
		}
		defer a.release(ms)
		res, err := a.eng.Install(ctx, module, update.InstallOptions{Version: version, Unattended: unattended})
		a.afterDatabaseChange(ctx, module)
		if errors.Is(err, update.ErrNoUpdate) {
			// Nothing to do is not a failure: the module is where it should be.
			a.setTo(st, st.op.From)
			return nil
		}
		if res != nil && len(res.Installed) > 0 {
			to := res.Installed[len(res.Installed)-1]
			a.setTo(st, to)
			a.log.Info("installed", "module", module, "from", res.From, "to", to, "window", res.Window, "self_update", res.SelfUpdate)
		}
		if !unattended {
			return err
		}
		return a.afterAutoInstall(ctx, module, res, err)
	})
	ms.install = st
	return st, nil
}

// afterAutoInstall is the rule after an automatic install that changed a module,
// also when a later step of its upgrade path failed (res.Installed lists what is in
// place; installErr is that failure): WithAfterInstall's function runs, and its error
// rolls the module back to res.From with that error as the reason, so that the
// status shows it and no unattended install tries the version again.
func (a *Agent) afterAutoInstall(ctx context.Context, module string, res *update.InstallResult, installErr error) error {
	if a.afterInstall == nil || res == nil || len(res.Installed) == 0 {
		return installErr
	}
	aerr := a.afterInstall(ctx, res)
	if aerr == nil {
		return installErr
	}
	a.log.Error("after install: rolling back", "module", module, "version", res.Installed[len(res.Installed)-1], "err", aerr)
	// The rollback must not be stopped by the cancellation that may have caused it.
	if _, rerr := a.eng.Rollback(context.WithoutCancel(ctx), module, update.RollbackOptions{To: res.From, Reason: aerr}); rerr != nil {
		return errors.Join(installErr, fmt.Errorf("after install: %w; rolling back to %s failed: %w", aerr, orNothing(res.From), rerr))
	}
	return errors.Join(installErr, fmt.Errorf("after install: %w; rolled back to %s", aerr, orNothing(res.From)))
}

func (a *Agent) setTo(st *opState, v string) {
	a.mu.Lock()
	st.op.To = v
	a.mu.Unlock()
}

func orNothing(v string) string {
	if v == "" {
		return "nothing installed"
	}
	return v
}

// Rollback starts putting back the newest kept version of module other than the
// installed one, and returns at once with the operation's ID (that of the rollback
// already running or queued, if any). Without a kept version it fails at once with an
// error wrapping update.ErrNoBackup.
func (a *Agent) Rollback(ctx context.Context, module string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	ms, err := a.module(module)
	if err != nil {
		return "", err
	}
	status, err := a.eng.ModuleStatus(ctx, module)
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return "", ErrStopped
	}
	if ms.rollback != nil {
		return ms.rollback.op.ID, nil
	}
	to := ""
	for _, v := range status.Backups {
		if v != deref(status.Installed) {
			to = v
			break
		}
	}
	if to == "" && ms.install == nil {
		return "", fmt.Errorf("%w: %s has no kept version other than %s", update.ErrNoBackup, module, orNothing(deref(status.Installed)))
	}
	op := Operation{Module: module, Kind: OpRollback, From: deref(status.Installed), To: to}
	st := a.startOp(op, func(ctx context.Context, st *opState) error {
		if err := a.acquire(ctx, ms, st); err != nil {
			return err
		}
		defer a.release(ms)
		res, err := a.eng.Rollback(ctx, module, update.RollbackOptions{})
		a.afterDatabaseChange(ctx, module)
		if res != nil && len(res.Installed) > 0 {
			a.mu.Lock()
			st.op.From, st.op.To = res.From, res.Installed[0]
			a.mu.Unlock()
		}
		return err
	})
	ms.rollback = st
	a.holdOnRollback(module) // a person's rollback holds the module (hold.go)
	return st.op.ID, nil
}

// Check starts a check of every module and returns at once with the operation's ID
// (that of the check already running, if any). The check downloads in the background
// what is offered (a module busy with an operation is left for the next check; a
// version that failed is not downloaded again) and then, inside the auto_install
// window, installs it unattended, each install an operation of its own.
func (a *Agent) Check(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return "", ErrStopped
	}
	if a.check != nil {
		return a.check.op.ID, nil
	}
	st, _ := a.startCheck()
	return st.op.ID, nil
}

// startCheck starts a check, then the automatic installs it allows; done is closed
// once both have ended. The caller holds a.mu.
func (a *Agent) startCheck() (st *opState, done <-chan struct{}) {
	var offered []string
	st = a.startOp(Operation{Kind: OpCheck}, func(ctx context.Context, st *opState) error {
		var err error
		offered, err = a.runCheck(ctx, st)
		return err
	})
	a.check = st
	// Automatic installs come after the check has ended, as operations of their own.
	autoDone := make(chan struct{})
	a.opWG.Add(1)
	go func() {
		defer a.opWG.Done()
		defer close(autoDone)
		<-st.done
		a.autoInstall(a.base, offered)
	}()
	return st, autoDone
}

// once runs one round, as Run does at each interval, and stops the agent: a check,
// the background downloads, the automatic installs, each waited for.
func (a *Agent) once(ctx context.Context) {
	a.mu.Lock()
	if a.started || a.stopped {
		a.mu.Unlock()
		return
	}
	a.started = true
	_, done := a.startCheck()
	a.mu.Unlock()
	defer a.stop()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// runCheck checks, then downloads what is offered. It returns the modules offered an
// update that may be installed unattended.
func (a *Agent) runCheck(ctx context.Context, st *opState) ([]string, error) {
	a.mu.Lock()
	st.prog.Step = string(update.StepCheck)
	a.mu.Unlock()
	rep, cerr := a.eng.Check(ctx)
	a.recordCheck(rep, cerr)
	if a.onCheck != nil {
		a.onCheck(rep, cerr)
	}
	if rep == nil || rep.Manifest == nil {
		return nil, cerr
	}
	var offered []string
	var errs []error
	if cerr != nil {
		errs = append(errs, cerr)
	}
	for _, mc := range rep.Modules {
		if mc.Status != manifest.StatusUpdate || ctx.Err() != nil {
			continue
		}
		status, err := a.eng.ModuleStatus(ctx, mc.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if status.FailedVersion != "" && slices.Contains(mc.Path, status.FailedVersion) {
			a.log.Info("update not retried", "module", mc.Name, "failed_version", status.FailedVersion, "last_error", status.LastError)
			continue
		}
		offered = append(offered, mc.Name)
		ms := a.mods[mc.Name]
		select {
		case ms.sem <- struct{}{}:
		default:
			a.log.Info("background download skipped: the module is busy", "module", mc.Name)
			continue
		}
		a.mu.Lock()
		ms.active = st
		a.mu.Unlock()
		err = a.eng.Download(ctx, mc.Name, mc.Selection)
		a.release(ms)
		if err == nil {
			// A database module's view shows the downloaded release's pending scripts.
			a.afterDatabaseChange(ctx, mc.Name)
		}
		if errors.Is(err, update.ErrBusy) {
			a.log.Info("background download skipped", "module", mc.Name, "err", err)
		} else if err != nil {
			errs = append(errs, fmt.Errorf("download %s %s: %w", mc.Name, mc.Version, err))
		}
	}
	return offered, errors.Join(errs...)
}

// recordCheck keeps what the check saw for the diagnostics.
func (a *Agent) recordCheck(rep *update.CheckReport, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.markStale("")
	reachable := err == nil || update.CodeOf(err) != update.CodeUnreachable
	a.seen.reachable = &reachable
	if rep != nil && rep.Manifest != nil {
		m := rep.Manifest
		a.seen.manifest = m
		serial, expires := m.Serial, m.Expires
		a.seen.serial, a.seen.expires = &serial, &expires
	}
}

// autoInstall installs, one after the other, the modules a check offered an update,
// when the window holds the time.
func (a *Agent) autoInstall(ctx context.Context, modules []string) {
	if w := a.autoWindow(); w == nil || !w.Contains(a.now()) {
		return
	}
	for _, name := range a.skipHeld(modules) {
		if ctx.Err() != nil {
			return
		}
		st, err := a.startInstall(ctx, name, "", true)
		if err != nil {
			if !errors.Is(err, ErrStopped) {
				a.log.Error("automatic install", "module", name, "err", err)
			}
			continue
		}
		select {
		case <-st.done:
		case <-ctx.Done():
			return
		}
	}
}

// onEngineEvent turns an engine event into the progress of the operation it belongs
// to. Progress is published when the step changes, when a step completes, and at
// most every progressEvery otherwise.
func (a *Agent) onEngineEvent(ev update.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var st *opState
	if ms := a.mods[ev.Module]; ms != nil {
		st = ms.active
		if ms.lastStep != ev.Step {
			// A new step may have written the module's state (maintenance, status).
			ms.lastStep = ev.Step
			a.markStale(ev.Module)
		}
	} else if ev.Module == "" {
		st = a.check
	}
	if st == nil {
		return
	}
	step := string(ev.Step)
	if ev.Step == update.StepHook {
		step += " " + string(ev.Phase)
	}
	p := &st.prog
	changed := p.Step != step || p.Module != ev.Module
	p.Module, p.Step, p.Done, p.Total, p.Message = ev.Module, step, ev.Done, ev.Total, ev.Message
	now := time.Now()
	if !changed && (ev.Total == 0 || ev.Done < ev.Total) && now.Sub(st.lastPub) < progressEvery {
		return
	}
	st.lastPub = now
	cp := *p
	a.publish(Event{Progress: &cp})
}

// progressEvery bounds how often progress of one operation is published.
const progressEvery = 100 * time.Millisecond

// Operations returns up to limit operations (limit <= 0: 100) of module ("" = all),
// newest first.
func (a *Agent) Operations(ctx context.Context, module string, limit int) ([]Operation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if module != "" {
		if _, err := a.module(module); err != nil {
			return nil, err
		}
	}
	if limit <= 0 {
		limit = 100
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ops := a.oplog.list(module, limit)
	for i := range ops {
		if st := a.runningOp(ops[i].ID); st != nil {
			ops[i] = st.op
		}
	}
	return ops, nil
}

// Operation returns one operation, or an error wrapping ErrNoOperation.
func (a *Agent) Operation(ctx context.Context, id string) (Operation, error) {
	if err := ctx.Err(); err != nil {
		return Operation{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if st := a.runningOp(id); st != nil {
		return st.op, nil
	}
	op, ok := a.oplog.get(id)
	if !ok {
		return Operation{}, fmt.Errorf("%w: %q", ErrNoOperation, id)
	}
	return op, nil
}

// runningOp returns the running operation with id. The caller holds a.mu.
func (a *Agent) runningOp(id string) *opState {
	if a.check != nil && a.check.op.ID == id {
		return a.check
	}
	for _, ms := range a.mods {
		for _, st := range []*opState{ms.install, ms.rollback, ms.script} {
			if st != nil && st.op.ID == id {
				return st
			}
		}
	}
	return nil
}

// Modules returns every configured module as the portal shows it: the engine's status
// with the running operation and what the last check saw. Statuses come from memory:
// a module is read from the state dir only the first time, after an operation on it
// or a step of the engine changed it, and every SnapshotMaxAge in the background (to
// see what another process, such as the upkeep command, changed).
func (a *Agent) Modules(ctx context.Context) ([]ModuleView, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mods := a.eng.Config().Modules
	a.mu.Lock()
	var need []string
	for _, m := range mods {
		if a.snap[m.Name] == nil || a.stale[m.Name] != 0 {
			need = append(need, m.Name)
		}
	}
	if len(need) == 0 && !a.refreshing && !a.stopped && time.Since(a.snapAt) > SnapshotMaxAge {
		a.refreshing = true
		a.opWG.Add(1)
		go func() {
			defer a.opWG.Done()
			a.refresh(a.base, nil)
			a.mu.Lock()
			a.refreshing = false
			a.mu.Unlock()
		}()
	}
	a.mu.Unlock()
	if len(need) > 0 {
		if err := a.refresh(ctx, need); err != nil {
			return nil, err
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]ModuleView, 0, len(mods))
	for _, m := range mods {
		s := a.snap[m.Name]
		if s == nil {
			s = &update.ModuleStatus{Name: m.Name}
		}
		out = append(out, a.view(*s))
	}
	return out, nil
}

// SnapshotMaxAge is how old the statuses Modules serves from memory may grow before
// they are read again from the state dir in the background.
const SnapshotMaxAge = 10 * time.Second

// refresh reads the status of names (nil: every module) from the state dir into the
// snapshot. A module marked stale while it was read stays stale.
func (a *Agent) refresh(ctx context.Context, names []string) error {
	all := names == nil || len(names) == len(a.eng.Config().Modules)
	if names == nil {
		for _, m := range a.eng.Config().Modules {
			names = append(names, m.Name)
		}
	}
	a.mu.Lock()
	gens := make([]uint64, len(names))
	for i, n := range names {
		gens[i] = a.stale[n]
	}
	a.mu.Unlock()
	sts := make([]*update.ModuleStatus, len(names))
	for i, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		s, err := a.eng.ModuleStatus(ctx, n)
		if err != nil {
			s = &update.ModuleStatus{Name: n, LastError: err.Error()}
		}
		sts[i] = s
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, n := range names {
		a.snap[n] = sts[i]
		if a.stale[n] == gens[i] {
			a.stale[n] = 0
		}
	}
	if all {
		a.snapAt = time.Now()
	}
	return nil
}

// markStale marks module ("": every module) to be read again from the state dir.
// The caller holds a.mu.
func (a *Agent) markStale(module string) {
	if module != "" {
		a.stale[module]++
		return
	}
	for _, m := range a.eng.Config().Modules {
		a.stale[m.Name]++
	}
}

// view builds the view of one module. The caller holds a.mu.
func (a *Agent) view(s update.ModuleStatus) ModuleView {
	v := ModuleView{
		Name:        s.Name,
		Installed:   s.Installed,
		Latest:      s.Latest,
		Maintenance: s.Maintenance,
		LastResult:  s.LastResult,
		LastError:   s.LastError,
		Backups:     s.Backups,
		Diagnostics: Diagnostics{
			SourceReachable: a.seen.reachable,
			ManifestSerial:  a.seen.serial,
			ManifestExpires: a.seen.expires,
			Problem:         s.Problem,
		},
	}
	if v.Backups == nil {
		v.Backups = []string{}
	}
	v.Hold, _ = ReadHold(a.eng.Config().StateDir, s.Name) // hold.go
	v.MaintenanceForeign = a.foreignFlag(s.Name)          // maintenance.go
	if !s.LastCheck.IsZero() {
		t := s.LastCheck
		v.LastCheck = &t
	}
	if s.Code != "" {
		v.Code = strp(string(s.Code))
	}
	latest := deref(s.Latest)
	if s.Download != nil && s.Download.State == update.DownloadVerified && s.Download.Version == latest {
		v.Downloaded = true
	}
	if m := a.seen.manifest; m != nil && latest != "" {
		for i := range m.Releases {
			if r := &m.Releases[i]; r.Module == s.Name && r.Version == latest && r.Notes != "" {
				v.Notes = strp(r.Notes)
			}
		}
	}
	ms := a.mods[s.Name]
	var running, download *opState
	if ms != nil {
		switch {
		case ms.active != nil && ms.active != a.check:
			running = ms.active
		case ms.install != nil:
			running = ms.install
		case ms.rollback != nil:
			running = ms.rollback
		case ms.script != nil:
			running = ms.script
		case ms.active != nil:
			download = ms.active // a background download: the state stays what it is
		}
	}
	failed := s.LastError != "" && (s.FailedVersion == "" || s.FailedVersion == latest || s.CheckStatus != manifest.StatusUpdate)
	switch {
	case running != nil:
		v.Status = "installing"
		v.Operation = &RunningOp{ID: running.op.ID, Kind: running.op.Kind, Step: running.prog.Step, Done: running.prog.Done, Total: running.prog.Total}
	case s.Maintenance:
		v.Status = "maintenance"
	case s.CheckStatus == update.StatusError:
		v.Status = "error"
		v.Reason = strp(s.CheckReason)
	case failed:
		v.Status = "failed"
		v.Reason = strp(s.LastError)
	case s.CheckStatus == manifest.StatusUpdate:
		v.Status = "update"
	case s.CheckStatus == manifest.StatusIneligible:
		v.Status = "ineligible"
		v.Reason = strp(s.CheckReason)
	case s.CheckStatus == manifest.StatusUpToDate:
		v.Status = "up-to-date"
	default:
		v.Status = "unknown"
	}
	if ms != nil && ms.cfg.Kind == update.KindDatabase {
		v.Database = a.dbViews[s.Name]
		if v.Database == nil {
			v.Database = &DatabaseView{State: DatabaseUnknown, Error: "not read yet", Pending: []PendingScript{},
				Drift: Drift{Added: []string{}, Removed: []string{}, Changed: []string{}}}
		}
	}
	a.scheduleView(&v)
	if download != nil {
		v.Operation = &RunningOp{ID: download.op.ID, Kind: download.op.Kind, Step: download.prog.Step, Done: download.prog.Done, Total: download.prog.Total}
	}
	return v
}

func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
