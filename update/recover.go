package update

import (
	"context"
	"errors"
	"fmt"

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
	if j == nil {
		// Nothing under way: clear what a crash outside an operation may have left.
		e.recoverIdle(ctx, m, &res)
		if st, _ := e.loadStatus(m); st != nil {
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

// recoverIdle removes, with no operation under way, a stale maintenance flag of
// upkeep's own and what an interrupted operation left in the module's places.
func (e *Engine) recoverIdle(ctx context.Context, m *ModuleConfig, res *RecoverResult) {
	k := e.kindOf(m)
	op := e.newOperation(m, k, &journal{})
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
	if err := k.open(false); err != nil {
		// No work folder to look in: only the state folder may hold temporaries.
		e.cleanStateTemps(m)
		return
	}
	defer k.close()
	k.tidy(ctx)
}

// recoverModule ends an interrupted operation from its journal: one whose new
// version was fully in place (POSTINSTALL had succeeded) is completed, any other is
// undone through the same ending as a failure. The caller holds the lock.
func (e *Engine) recoverModule(ctx context.Context, m *ModuleConfig, j *journal) error {
	e.log.Info("recovering", "module", m.Name, "op", j.Op, "from", j.From, "to", j.To, "step", j.Step)
	k := e.kindOf(m)
	if err := k.open(true); err != nil {
		return err
	}
	defer k.close()
	op := e.newOperation(m, k, j)
	if j.Step == jInstalled && !j.Undoing {
		_, err := e.finish(ctx, op, "recovered: "+e.describe(j)+" completed after an interruption")
		return err
	}
	return e.abort(ctx, op, nil)
}

// describe names an operation for messages: "install of V", "rollback to V".
func (e *Engine) describe(j *journal) string {
	if j.Op == opRollback {
		return "rollback to " + j.To
	}
	return "install of " + j.To
}
