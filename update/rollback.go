package update

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/upkeep-go/upkeep/hooks"
)

// RollbackOption adjusts a Rollback.
type RollbackOption func(*rollbackOptions)

type rollbackOptions struct {
	reason error
	to     string
}

// RollbackReason records why the installed version is rolled back (it failed a
// readiness check, say): the status then shows it as the last error and marks the
// version as failed, so that the scheduler does not install it again on its own.
// Default: an operator's rollback, no failure recorded.
func RollbackReason(err error) RollbackOption {
	return func(o *rollbackOptions) { o.reason = err }
}

// RollbackTo chooses the kept version to put back. Default: the newest kept version
// other than the installed one.
func RollbackTo(version string) RollbackOption {
	return func(o *rollbackOptions) { o.to = version }
}

// Rollback puts back a kept version (by default the newest one other than the
// installed one), through the same journaled steps as an install (maintenance, hooks,
// swap). The version rolled away from is not kept. It is the only way upkeep ever
// lowers a module's version.
func (e *Engine) Rollback(ctx context.Context, module string, opts ...RollbackOption) (*InstallResult, error) {
	var o rollbackOptions
	for _, f := range opts {
		f(&o)
	}
	m, err := e.cfg.Module(module)
	if err != nil {
		return nil, err
	}
	lk, err := e.lock(m)
	if err != nil {
		return nil, err
	}
	defer lk.unlock()
	if j, err := e.readJournal(m); err != nil {
		return nil, err
	} else if j != nil {
		if err := e.recoverModule(ctx, m, j); err != nil {
			return nil, err
		}
	}
	st, err := e.loadStatus(m)
	if err != nil {
		return nil, err
	}
	cur := deref(st.Installed)
	var target string
	for _, v := range e.backupVersions(m) {
		if v != cur && (o.to == "" || v == o.to) {
			target = v
			break
		}
	}
	if target == "" {
		if o.to != "" {
			return nil, fmt.Errorf("%w: %s has no kept version %s in %s (kept: %v)", ErrNoBackup, m.Name, o.to, e.backupDir(m), e.backupVersions(m))
		}
		return nil, fmt.Errorf("%w: %s has no kept version other than %s in %s", ErrNoBackup, m.Name, orNothing(cur), e.backupDir(m))
	}
	e.cleanTemps(m)
	wd := workDir(m)
	if err := e.ops.mkdirAll(wd, 0o755); err != nil {
		return nil, err
	}
	j := &journal{Op: "rollback", Module: m.Name, Strategy: m.Strategy, From: cur, To: target,
		Stage: filepath.Join(wd, "stage"), Started: e.now()}
	// The rolled-back-from version is dropped: Old stays empty.
	if err := e.writeJournal(m, j, jExtract); err != nil {
		return nil, stateErr(err)
	}
	if m.Strategy == InPlace {
		// Files will be replaced one by one: keep the current tree to undo a failure.
		j.Old = e.backupPath(m, cur)
		if err := e.archiveTree(ctx, m.Path, j.Old, m.MaintenanceFile); err != nil {
			e.discard(m, j)
			return nil, err
		}
		if err := e.restoreArchive(ctx, e.backupPath(m, target), j.Stage); err != nil {
			e.discard(m, j)
			return nil, err
		}
	} else if err := e.ops.rename(e.backupPath(m, target), j.Stage); err != nil {
		e.discard(m, j)
		return nil, err
	}
	// From here a failure must not lose the kept tree: undo puts it back as a backup.
	if j.NewID, err = dirID(j.Stage); err != nil {
		return nil, e.failRollback(ctx, m, j, target, err)
	}
	if err := e.writeJournal(m, j, jStaged); err != nil {
		return nil, e.failRollback(ctx, m, j, target, err)
	}
	hk := e.hookFor(m)
	ev := e.event(m, cur, target)
	start := time.Now()
	steps := []func() error{
		func() error { return e.writeJournal(m, j, jMaintenance) },
		func() error { return e.maintOn(ctx, m, "rolling back "+m.Name+" to "+target) },
		func() error { return e.runHook(ctx, hk, ev, hooks.PreInstall) },
		func() error { return e.writeJournal(m, j, jSwap) },
		func() error { return e.swapIn(ctx, m, j) },
		func() error { return e.writeJournal(m, j, jSwapped) },
		func() error { return e.runHook(ctx, hk, ev, hooks.PostInstall) },
		func() error { return e.writeJournal(m, j, jInstalled) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, e.failRollback(ctx, m, j, target, err)
		}
	}
	off, err := e.finish(ctx, m, j, "rolled back to "+target)
	if err != nil {
		return nil, err
	}
	if o.reason != nil {
		e.updateStatus(m, func(st *ModuleStatus) {
			st.LastError = o.reason.Error()
			st.Code = string(CodeInstallFailed)
			st.FailedVersion = cur
			st.LastResult = "rolled back to " + target + " after " + cur + " failed"
		})
	}
	if m.Strategy == InPlace {
		// The archive was only read; the version rolled away from is not kept.
		os.Remove(e.backupPath(m, cur))
	}
	window := off.Sub(start)
	if err := e.runHook(ctx, hk, ev, hooks.EndUpdate); err != nil {
		e.log.Warn("ENDUPDATE hook failed", "module", m.Name, "err", err)
	}
	return &InstallResult{Module: m.Name, From: cur, Installed: []string{target}, Window: window, SelfUpdate: e.holdsExecutable(m)}, nil
}

// failRollback undoes a rollback that failed midway: the current version stays, and
// the kept tree goes back to the backups.
func (e *Engine) failRollback(ctx context.Context, m *ModuleConfig, j *journal, target string, cause error) error {
	j.Reason = cause.Error()
	if err := e.undo(context.WithoutCancel(ctx), m, j); err != nil {
		// The journal stays: Recover finishes the undoing.
		return fmt.Errorf("%s: rollback to %s failed (%v) and undoing it failed too (run recover): %w", m.Name, target, cause, err)
	}
	e.maintOff(m)
	e.clearJournal(m)
	e.cleanTemps(m)
	e.updateStatus(m, func(st *ModuleStatus) {
		st.LastError = "rollback to " + target + " failed: " + cause.Error()
		st.LastResult = "rollback to " + target + " failed, " + orNothing(j.From) + " kept"
	})
	return fmt.Errorf("%s: rollback to %s failed, %s kept: %w", m.Name, target, orNothing(j.From), cause)
}
