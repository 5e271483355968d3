package update

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/upkeep-go/upkeep/hooks"
)

// Applier installs a version of a module whose pack is not a tree of files put in
// place: a database module's scripts (package update/dbscript). The engine downloads,
// verifies and extracts the pack into a stage in the state dir as for any module,
// then runs STARTUPDATE, turns the module's Go maintenance state on, runs PREINSTALL,
// calls Apply with the staged tree, runs POSTINSTALL, turns maintenance off, records
// the version and runs ENDUPDATE, holding the module's lock and journal throughout.
//
// Apply must leave the module consistent whatever happens: what it applied stays
// applied (it keeps its own record, such as a history table), what failed is undone
// by Apply itself. An error carrying a code (a method ErrorCode() string) gives the
// status and the check their code.
type Applier interface {
	Apply(ctx context.Context, stage fs.FS, from, to string) error
}

// WithApplier sets how the modules of kind (KindDatabase) are installed: f returns
// the Applier of one module. Default: none, and Install refuses such modules with
// ErrDatabaseModule.
func WithApplier(kind ModuleKind, f func(ModuleConfig) (Applier, error)) Option {
	return func(e *Engine) error {
		if e.appliers == nil {
			e.appliers = map[ModuleKind]func(ModuleConfig) (Applier, error){}
		}
		e.appliers[kind] = f
		return nil
	}
}

// ErrDatabaseModule is returned by Install for a module of kind KindDatabase when the
// engine has no Applier for it, and by Rollback for such a module: its scripts run
// forward, a database is never rolled back by swapping a tree.
var ErrDatabaseModule = errors.New("update: database module")

// filesOnly refuses an operation on files for a module that has none.
func filesOnly(m *ModuleConfig) error {
	if m.Kind == KindDatabase {
		return &Error{Code: CodeConfig, Module: m.Name, Err: fmt.Errorf("%w: %s has no tree of files to roll back; its scripts run forward (upkeep db)", ErrDatabaseModule, m.Name)}
	}
	return nil
}

// applierFor returns the Applier of a module that is not a tree of files, nil for
// one that is.
func (e *Engine) applierFor(m *ModuleConfig) (Applier, error) {
	if m.Kind == "" || m.Kind == KindFiles {
		return nil, nil
	}
	f := e.appliers[m.Kind]
	if f == nil {
		return nil, &Error{Code: CodeConfig, Module: m.Name, Err: fmt.Errorf("%w: %s is of kind %s and this engine has no applier for it (WithApplier)", ErrDatabaseModule, m.Name, m.Kind)}
	}
	a, err := f(*m)
	if err != nil {
		return nil, &Error{Code: CodeConfig, Module: m.Name, Err: err}
	}
	return a, nil
}

// applyStage is the stage of a module applied by an Applier: in its state folder,
// which upkeep checks is its own.
func (e *Engine) applyStage(m *ModuleConfig) string { return e.state.module(m.Name, stageName) }

// installApplied installs one pack of a module applied by an Applier.
func (e *Engine) installApplied(ctx context.Context, m *ModuleConfig, from string, d *downloaded, a Applier) (time.Duration, error) {
	to := d.ref.release.Version
	stage := e.applyStage(m)
	e.ops.at("removeall", stage)
	if err := os.RemoveAll(stage); err != nil {
		return 0, e.fail(m, to, stateErr(err))
	}
	j := &journal{Op: opInstall, Module: m.Name, Strategy: m.Strategy, From: from, To: to, Started: e.now()}
	op := e.newOperation(m, nil, j)
	drop := func() {
		e.ops.at("removeall", stage)
		os.RemoveAll(stage)
	}
	if err := e.writeJournal(m, j, jExtract); err != nil {
		return 0, e.fail(m, to, stateErr(err))
	}
	if err := e.extract(ctx, m, d, stage); err != nil {
		drop()
		e.clearJournal(m)
		return 0, e.fail(m, to, err)
	}
	if err := e.writeJournal(m, j, jStaged); err != nil {
		drop()
		return 0, e.fail(m, to, stateErr(err))
	}
	if err := op.hook(ctx, hooks.StartUpdate); err != nil {
		drop()
		e.clearJournal(m)
		return 0, e.fail(m, to, err)
	}
	start := time.Now()
	err := e.runSteps(ctx, op, []step{
		{jMaintenance, func(ctx context.Context) error { return e.maintOn(ctx, op, "installing "+m.Name+" "+to) }},
		{"", func(ctx context.Context) error { return e.stopService(ctx, op) }},
		{"", op.hookStep(hooks.PreInstall)},
		{jSwap, func(ctx context.Context) error {
			e.emit(Event{Module: m.Name, Version: to, Step: StepInstall})
			return a.Apply(ctx, os.DirFS(stage), from, to)
		}},
		{jSwapped, op.hookStep(hooks.PostInstall)},
		{"", func(ctx context.Context) error { return e.startService(ctx, op) }},
		{jInstalled, nil},
	})
	if err != nil {
		return 0, e.failApplied(ctx, op, err)
	}
	off, err := e.finish(ctx, op, "installed "+to)
	if err != nil {
		return 0, err
	}
	e.endUpdate(ctx, op)
	e.emit(Event{Module: m.Name, Version: to, Step: StepDone, Message: "installed " + to})
	return off.Sub(start), nil
}

// failApplied ends an applied install that failed: the Applier undid what it could
// not finish, so nothing is restored here; ROLLBACK runs, maintenance goes off and
// the cause is recorded.
func (e *Engine) failApplied(ctx context.Context, op *operation, cause error) error {
	m, j := op.m, op.j
	uctx := context.WithoutCancel(ctx)
	e.emit(Event{Module: m.Name, Version: j.To, Step: StepRollback, Message: cause.Error()})
	code := e.endFailed(uctx, op, cause, "install of "+j.To+" failed; "+orNothing(j.From)+" and what was applied before the failure stay")
	e.clearJournal(m)
	e.keepAppliedPack(m)
	return &Error{Code: code, Module: m.Name, Err: fmt.Errorf("install of %s: %w", j.To, cause)}
}

// recoverApplied ends an applied install a crash interrupted: the Applier's own
// record (a history table) says what ran; the stage goes, maintenance goes off, and
// the status says so. An install that had finished applying is completed.
func (e *Engine) recoverApplied(ctx context.Context, m *ModuleConfig, j *journal) error {
	op := e.newOperation(m, nil, j)
	if j.Step == jInstalled && !j.Undoing {
		_, err := e.finish(ctx, op, "recovered: install of "+j.To+" completed after an interruption")
		return err
	}
	if j.Step != jExtract && j.Step != jStaged {
		if err := op.hook(ctx, hooks.Rollback); err != nil {
			e.log.Warn("ROLLBACK hook failed", "module", m.Name, "err", err)
		}
		e.restartService(ctx, op)
	}
	if err := e.maintOff(op); err != nil {
		return err
	}
	e.ops.at("removeall", e.applyStage(m))
	os.RemoveAll(e.applyStage(m))
	if err := e.updateStatus(m, func(st *ModuleStatus) {
		st.LastResult = "recovered: interrupted install of " + j.To + "; what was applied before the interruption stays (see the module's own history)"
		st.LastError = "interrupted install of " + j.To + " (at step " + j.Step + ")"
		st.FailedVersion = j.To
	}); err != nil {
		return stateErr(err)
	}
	return e.clearJournal(m)
}

// keepAppliedPack keeps the staged pack of the newest version tried, whatever the
// outcome: a person working through a customised database's scripts one by one
// reads them from there (AppliedPack).
func (e *Engine) keepAppliedPack(m *ModuleConfig) {
	dest := e.state.module(m.Name, "pack")
	e.ops.at("removeall", dest)
	os.RemoveAll(dest)
	e.ops.at("rename", dest)
	if err := os.Rename(e.applyStage(m), dest); err != nil && !errors.Is(err, fs.ErrNotExist) {
		e.log.Warn("keeping the applied pack", "module", m.Name, "err", err)
	}
}

// AppliedPack returns the folder holding the extracted, verified pack of the newest
// version an install of an applied module (KindDatabase) installed or tried to
// install; fs.ErrNotExist when there is none yet.
func (e *Engine) AppliedPack(ctx context.Context, module string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	m, err := e.cfg.Module(module)
	if err != nil {
		return "", err
	}
	dir := e.state.module(m.Name, "pack")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("%s: no pack of module %s installed or tried yet: %w", dir, m.Name, fs.ErrNotExist)
	}
	return dir, nil
}
