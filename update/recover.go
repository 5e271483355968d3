package update

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/update/maintenance"
)

// RecoverResult tells what Recover did for one module.
type RecoverResult struct {
	Module string
	// Action is "none", "completed" (the new version was fully in place) or
	// "restored" (the previous version was put back).
	Action  string
	Version string // the version installed after recovery
	Detail  string
}

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
	res := RecoverResult{Module: m.Name, Action: "none"}
	lk, err := e.lock(m)
	if err != nil {
		return res, err
	}
	defer lk.unlock()
	j, err := e.readJournal(m)
	if err != nil {
		return res, err
	}
	if j == nil {
		// Nothing under way: clear what a crash outside an install may have left.
		if m.MaintenanceFile != "" {
			if present, ours, _ := (maintenance.Flag{Name: m.MaintenanceFile}).Present(m.Path); present && ours {
				e.maintOff(m)
				res.Detail = "removed a stale maintenance flag"
				e.updateStatus(m, func(st *ModuleStatus) { st.LastResult = "recovered: removed a stale maintenance flag" })
			}
		}
		e.cleanTemps(m)
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
	if res.Version == j.To && j.Op == "install" {
		res.Action = "completed"
	} else {
		res.Action = "restored"
	}
	return res, nil
}

// recoverModule acts on an interrupted operation's journal. The caller holds the lock.
func (e *Engine) recoverModule(ctx context.Context, m *ModuleConfig, j *journal) error {
	e.log.Info("recovering", "module", m.Name, "op", j.Op, "from", j.From, "to", j.To, "step", j.Step)
	if j.Op == "install" && j.Step == jInstalled && !j.Undoing {
		_, err := e.finish(ctx, m, j, "recovered: install of "+j.To+" completed after an interruption")
		return err
	}
	if j.Op == "rollback" && j.Step == jInstalled && !j.Undoing {
		_, err := e.finish(ctx, m, j, "recovered: rollback to "+j.To+" completed after an interruption")
		return err
	}
	if err := e.undo(ctx, m, j); err != nil {
		return err
	}
	changed := j.Step != jExtract && j.Step != jStaged
	if changed {
		if err := e.runHook(ctx, e.hookFor(m), e.event(m, j.From, j.To), hooks.Rollback); err != nil {
			e.log.Warn("ROLLBACK hook failed", "module", m.Name, "err", err)
		}
	}
	if err := e.maintOff(m); err != nil {
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
		if j.Op == "install" {
			st.FailedVersion = j.To
		}
	}); err != nil {
		return stateErr(err)
	}
	if err := e.clearJournal(m); err != nil {
		return stateErr(err)
	}
	e.cleanTemps(m)
	if _, err := os.Lstat(m.Path + ".xchg"); err == nil {
		return fmt.Errorf("%s.xchg still exists after recovery", m.Path)
	}
	return nil
}
