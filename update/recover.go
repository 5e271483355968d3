package update

import (
	"context"
	"errors"
	"fmt"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/update/maintenance"
)

// RecoverResult tells what Recover did for one module.
type RecoverResult struct {
	Module  string
	Action  RecoverAction
	Version string // the version installed after recovery
	Detail  string
}

// RecoverAction is what Recover did for a module.
type RecoverAction string

// What Recover does for a module.
const (
	RecoverNone      RecoverAction = "none"      // nothing was under way
	RecoverCompleted RecoverAction = "completed" // the new version was fully in place: the operation was completed
	RecoverRestored  RecoverAction = "restored"  // the previous version was put back
)

// Recover finishes or undoes whatever a crash interrupted, for every module: an
// install whose new tree was fully in place (POSTINSTALL had succeeded) is completed;
// any other is undone, restoring the previous tree exactly. Maintenance ends off, and
// a stale maintenance flag of upkeep's own is removed (a person's own file is left
// alone). Run it at start-up; it is idempotent.
func (e *Engine) Recover(ctx context.Context) ([]RecoverResult, error) {
	var out []RecoverResult
	var errs []error
	for i := range e.cfg.Modules {
		m := &e.cfg.Modules[i]
		r, err := e.recoverOne(ctx, m)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.Name, err))
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

func (e *Engine) recoverOne(ctx context.Context, m *ModuleConfig) (RecoverResult, error) {
	res := RecoverResult{Module: m.Name, Action: RecoverNone}
	lk, err := e.lock(m)
	if err != nil {
		return res, err
	}
	defer lk.unlock()
	j, err := e.readJournal(m)
	if err != nil {
		return res, err
	}
	if j == nil && filesOnly(m) != nil {
		e.cleanTemps(ctx, m, nil)
		if st, _ := e.loadStatus(m); st != nil {
			res.Version = deref(st.Installed)
		}
		return res, nil
	}
	if j == nil {
		// Nothing under way: clear what a crash outside an install may have left.
		md, err := e.openModuleDirs(m, false)
		if err == nil {
			defer md.close()
		} else {
			md = nil
		}
		op := &operation{e: e, m: m, md: md, j: &journal{}}
		if m.MaintenanceFile != "" {
			var present, ours bool
			op.onLive(func(live string) error {
				present, ours, _ = (maintenance.Flag{Name: m.MaintenanceFile}).Present(live)
				return nil
			})
			if present && ours {
				e.maintOff(op)
				res.Detail = "removed a stale maintenance flag"
				e.updateStatus(m, func(st *ModuleStatus) { st.LastResult = "recovered: removed a stale maintenance flag" })
			}
		}
		e.cleanTemps(ctx, m, md)
		e.dropWorkDir(ctx, m, md)
		st, _ := e.loadStatus(m)
		if st != nil {
			res.Version = deref(st.Installed)
		}
		return res, nil
	}
	if err := e.recoverModule(ctx, m, j); err != nil {
		return res, err
	}
	st, _ := e.loadStatus(m)
	if st != nil {
		res.Version = deref(st.Installed)
		res.Detail = st.LastResult
	}
	if res.Version == j.To && j.Op == opInstall {
		res.Action = RecoverCompleted
	} else {
		res.Action = RecoverRestored
	}
	return res, nil
}

// recoverModule acts on an interrupted operation's journal. The caller holds the lock.
func (e *Engine) recoverModule(ctx context.Context, m *ModuleConfig, j *journal) error {
	e.log.Info("recovering", "module", m.Name, "op", j.Op, "from", j.From, "to", j.To, "step", j.Step)
	if filesOnly(m) != nil {
		return e.recoverApplied(ctx, m, j)
	}
	md, err := e.openModuleDirs(m, true)
	if err != nil {
		return err
	}
	defer md.close()
	op := e.newOperation(m, md, j)
	if j.Step == jInstalled && !j.Undoing {
		what := "install of " + j.To
		if j.Op == opRollback {
			what = "rollback to " + j.To
		}
		_, err := e.finish(ctx, op, "recovered: "+what+" completed after an interruption")
		return err
	}
	if err := e.undo(ctx, op); err != nil {
		return err
	}
	changed := j.Step != jExtract && j.Step != jStaged
	if changed {
		if err := op.hook(ctx, hooks.Rollback); err != nil {
			e.log.Warn("ROLLBACK hook failed", "module", m.Name, "err", err)
		}
		e.restartService(ctx, op)
	}
	if err := e.maintOff(op); err != nil {
		return err
	}
	what := fmt.Sprintf("recovered: interrupted %s of %s undone, %s kept", j.Op, j.To, orNothing(j.From))
	if err := e.updateStatus(m, func(st *ModuleStatus) {
		st.LastResult = what
		if j.Reason != "" {
			st.LastError = j.Reason
		} else {
			st.LastError = "interrupted " + j.Op + " of " + j.To + " (at step " + j.Step + ")"
		}
		if j.Op == opInstall {
			st.FailedVersion = j.To
		}
	}); err != nil {
		return stateErr(err)
	}
	if err := e.clearJournal(m); err != nil {
		return stateErr(err)
	}
	e.cleanTemps(ctx, m, md)
	e.dropWorkDir(ctx, m, md)
	if id, err := idAt(md.parent, exchangeName(md.name)); err == nil && sameTree(j.OldID, id) {
		return fmt.Errorf("%s still exists after recovery", exchangeName(m.Path))
	}
	return nil
}
