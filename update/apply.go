package update

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Applier installs a version of a module whose pack is not a tree of files put in
// place: a database module's scripts (package update/dbscript). The engine downloads,
// verifies and extracts the pack into a stage in the state dir as for any module,
// then runs the steps every module goes through: STARTUPDATE, the module's Go
// maintenance state on, PREBACKUP and POSTBACKUP (with no backup path: nothing is
// kept but the Applier's own record, where a hook may dump the database), PREINSTALL,
// Apply with the staged tree, POSTINSTALL, maintenance off, the version recorded and
// ENDUPDATE, holding the module's lock and journal throughout. A failure of Apply or
// of a later step runs ROLLBACK and returns an error wrapping ErrRolledBack, though
// nothing is restored: what Apply applied before the failure stays.
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
	return func(o *options) error {
		if o.appliers == nil {
			o.appliers = map[ModuleKind]func(ModuleConfig) (Applier, error){}
		}
		o.appliers[kind] = f
		return nil
	}
}

// ErrDatabaseModule is returned by Install for a module of kind KindDatabase when the
// engine has no Applier for it, and by Rollback for such a module: its scripts run
// forward, a database is never rolled back by swapping a tree.
var ErrDatabaseModule = errors.New("update: database module")

// appliedKind is a module whose pack is not a tree of files put in place: the engine
// extracts it into a stage in the state dir, which upkeep checks is its own, and
// hands that to the module's Applier at step 8. Nothing is kept before (the Applier
// keeps its own record, such as a history table) and nothing is restored after a
// failure (the Applier undid what it could not finish): its scripts run forward.
type appliedKind struct {
	e *Engine
	m *ModuleConfig
	a Applier
}

var _ kind = (*appliedKind)(nil)

// ready builds the module's Applier, refusing a module this engine has none for.
func (k *appliedKind) ready(installed string, keepUnmanaged bool) error {
	m := k.m
	f := k.e.appliers[m.Kind]
	if f == nil {
		return &Error{Code: CodeConfig, Module: m.Name, Err: fmt.Errorf("%w: %s is of kind %s and this engine has no applier for it (WithApplier)", ErrDatabaseModule, m.Name, m.Kind)}
	}
	a, err := f(*m)
	if err != nil {
		return &Error{Code: CodeConfig, Module: m.Name, Err: err}
	}
	k.a = a
	return nil
}

// writable has nothing to report: every place of the kind is in the state dir.
func (k *appliedKind) writable() error { return nil }

func (k *appliedKind) open(create bool) error { return nil }
func (k *appliedKind) close()                 {}

// prepare refuses a rollback: a database is never rolled back by swapping a tree.
func (k *appliedKind) prepare(j *journal, keepUnmanaged bool) error {
	if j.Op != opInstall {
		return &Error{Code: CodeConfig, Module: k.m.Name, Err: fmt.Errorf("%w: %s has no tree of files to roll back; its scripts run forward (upkeep db)", ErrDatabaseModule, k.m.Name)}
	}
	return nil
}

// stageDir is the stage of the module, in its state folder.
func (k *appliedKind) stageDir() string { return k.e.state.module(k.m.Name, stageName) }

func (k *appliedKind) stage(ctx context.Context, op *operation, d *downloaded) error {
	stage := k.stageDir()
	k.e.ops.at("removeall", stage)
	if err := os.RemoveAll(stage); err != nil {
		return stateErr(err)
	}
	return k.e.extract(ctx, k.m, d, stage)
}

func (k *appliedKind) backup(ctx context.Context, op *operation) error { return nil }

func (k *appliedKind) apply(ctx context.Context, op *operation) error {
	k.e.emit(Event{Module: k.m.Name, Version: op.j.To, Step: StepInstall})
	return k.a.Apply(ctx, os.DirFS(k.stageDir()), op.j.From, op.j.To)
}

// undo restores nothing. Once Apply may have run, the staged pack is kept, for the
// person who works through the scripts by hand (appliedPack); before, it goes.
func (k *appliedKind) undo(ctx context.Context, op *operation) error {
	switch op.j.Step {
	case jExtract, jStaged, jMaintenance, jBackup:
		k.e.ops.at("removeall", k.stageDir())
		return os.RemoveAll(k.stageDir())
	}
	k.e.keepAppliedPack(k.m)
	return nil
}

// settle keeps the staged pack of the version installed (appliedPack).
func (k *appliedKind) settle(ctx context.Context, op *operation) error {
	k.e.keepAppliedPack(k.m)
	return nil
}

func (k *appliedKind) clean(ctx context.Context) { k.e.cleanStateTemps(k.m) }
func (k *appliedKind) tidy(ctx context.Context)  { k.clean(ctx) }
func (k *appliedKind) backups() []string         { return nil }
func (k *appliedKind) prune()                    {}
func (k *appliedKind) keptAt(name string) string { return "" }

func (k *appliedKind) hookPaths(j *journal) (stage, backup string) {
	return k.stageDir() + string(filepath.Separator), ""
}

func (k *appliedKind) restored(j *journal) string {
	return orNothing(j.From) + " (what was applied before the failure stays: see the module's own history)"
}

// keepAppliedPack keeps the staged pack of the newest version tried, whatever the
// outcome: a person working through a customised database's scripts one by one
// reads them from there (appliedPack).
func (e *Engine) keepAppliedPack(m *ModuleConfig) {
	dest := e.state.module(m.Name, "pack")
	e.ops.at("removeall", dest)
	os.RemoveAll(dest)
	e.ops.at("rename", dest)
	if err := os.Rename(e.state.module(m.Name, stageName), dest); err != nil && !errors.Is(err, fs.ErrNotExist) {
		e.log.Warn("keeping the applied pack", "module", m.Name, "err", err)
	}
}

// appliedPack returns the folder holding the extracted, verified pack of the newest
// version an install of an applied module (KindDatabase) installed or tried to
// install; fs.ErrNotExist when there is none yet. update/dbscript/dbagent reaches it
// through update/internal/seam.
func (e *Engine) appliedPack(ctx context.Context, module string) (string, error) {
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
