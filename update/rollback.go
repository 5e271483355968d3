package update

import (
	"context"
	"fmt"
	"time"

	"github.com/upkeep-go/upkeep/hooks"
)

// RollbackOptions tunes one Rollback. The zero value is an operator's rollback to the
// newest kept version other than the installed one.
type RollbackOptions struct {
	// To is the kept version to put back. Default (""): the newest kept version other
	// than the installed one.
	To string
	// Reason records why the installed version is rolled back (it failed a readiness
	// check, say): the status then shows it as the last error and marks the version
	// as failed, so that no unattended install tries it again. Default (nil): an
	// operator's rollback, no failure recorded.
	Reason error
}

// Rollback puts back a kept version (by default the newest one other than the
// installed one), through the same journaled steps as an install (maintenance, hooks,
// swap). The version rolled away from is not kept. It is the only way upkeep ever
// lowers a module's version.
func (e *Engine) Rollback(ctx context.Context, module string, opts RollbackOptions) (*InstallResult, error) {
	m, err := e.cfg.Module(module)
	if err != nil {
		return nil, err
	}
	if err := filesOnly(m); err != nil {
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
		if v != cur && (opts.To == "" || v == opts.To) {
			target = v
			break
		}
	}
	if target == "" {
		if opts.To != "" {
			return nil, fmt.Errorf("%w: %s has no kept version %s in %s (kept: %v)", ErrNoBackup, m.Name, opts.To, e.backupDir(m), e.backupVersions(m))
		}
		return nil, fmt.Errorf("%w: %s has no kept version other than %s in %s", ErrNoBackup, m.Name, orNothing(cur), e.backupDir(m))
	}
	md, err := e.openModuleDirs(m, true)
	if err != nil {
		return nil, err
	}
	defer md.close()
	e.cleanTemps(ctx, m, md)
	// The version rolled away from is dropped: Keep stays empty, except for the
	// inplace strategy, where the current tree is archived to undo a failure.
	j := &journal{Op: opRollback, Module: m.Name, Strategy: m.Strategy, From: cur, To: target, Started: e.now()}
	if m.Strategy == InPlace {
		j.Keep = cur
	}
	op := e.newOperation(m, md, j)
	if err := e.writeJournal(m, j, jExtract); err != nil {
		return nil, stateErr(err)
	}
	if m.Strategy == InPlace {
		live, err := md.parent.sub(md.name)
		if err == nil {
			err = e.archiveTree(ctx, live, e.backupPath(m, cur), m.MaintenanceFile)
			live.close()
		}
		if err == nil {
			err = e.restoreArchive(ctx, e.backupPath(m, target), md.work, stageName)
		}
		if err != nil {
			e.discard(ctx, op)
			return nil, err
		}
	} else if err := e.ops.rename(ctx, md.work, backupName+"/"+target, stageName); err != nil {
		e.discard(ctx, op)
		return nil, err
	}
	// From here a failure must not lose the kept tree: undo puts it back as a backup.
	if j.NewID, err = idAt(md.work, stageName); err == nil {
		j.OldID, err = idAt(md.parent, md.name)
	}
	if err == nil {
		err = e.writeJournal(m, j, jStaged)
	}
	if err != nil {
		return nil, e.failRollback(ctx, op, err)
	}
	start := time.Now()
	err = e.runSteps(ctx, op, []step{
		{jMaintenance, func(ctx context.Context) error {
			return e.maintOn(ctx, op, "rolling back "+m.Name+" to "+target)
		}},
		{"", func(ctx context.Context) error { return e.stopService(ctx, op) }},
		{"", op.hookStep(hooks.PreInstall)},
		{jSwap, func(ctx context.Context) error { return e.swapIn(ctx, op) }},
		{jSwapped, op.hookStep(hooks.PostInstall)},
		{"", func(ctx context.Context) error { return e.startService(ctx, op) }},
		{jInstalled, nil},
	})
	if err != nil {
		return nil, e.failRollback(ctx, op, err)
	}
	off, err := e.finish(ctx, op, "rolled back to "+target)
	if err != nil {
		return nil, err
	}
	if opts.Reason != nil {
		e.updateStatus(m, func(st *ModuleStatus) {
			st.LastError = opts.Reason.Error()
			st.Code = CodeInstallFailed
			st.FailedVersion = cur
			st.LastResult = "rolled back to " + target + " after " + cur + " failed"
		})
	}
	if m.Strategy == InPlace {
		// The archive was only kept to undo a failure; the version rolled away from
		// is not kept.
		e.ops.removeFile(e.backupPath(m, cur))
	}
	e.endUpdate(ctx, op)
	return &InstallResult{Module: m.Name, From: cur, Installed: []string{target}, Window: off.Sub(start), SelfUpdate: e.holdsExecutable(m)}, nil
}

// failRollback undoes a rollback that failed midway: the current version stays, and
// the kept tree goes back to the backups.
func (e *Engine) failRollback(ctx context.Context, op *operation, cause error) error {
	m, j := op.m, op.j
	j.Reason = cause.Error()
	j.Undoing = true
	e.writeJournal(m, j, j.Step)
	if err := e.undo(context.WithoutCancel(ctx), op); err != nil {
		// The journal stays: Recover finishes the undoing.
		return fmt.Errorf("%s: rollback to %s failed (%v) and undoing it failed too (run recover): %w", m.Name, j.To, cause, err)
	}
	e.restartService(context.WithoutCancel(ctx), op)
	e.maintOff(op)
	e.clearJournal(m)
	e.cleanTemps(ctx, m, op.md)
	e.dropWorkDir(ctx, m, op.md)
	e.updateStatus(m, func(st *ModuleStatus) {
		st.LastError = "rollback to " + j.To + " failed: " + cause.Error()
		st.LastResult = "rollback to " + j.To + " failed, " + orNothing(j.From) + " kept"
	})
	return fmt.Errorf("%s: rollback to %s failed, %s kept: %w", m.Name, j.To, orNothing(j.From), cause)
}
