package update

import (
	"context"
	"fmt"
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
	m, k, st, unlock, err := e.begin(ctx, module)
	if err != nil {
		return nil, err
	}
	defer unlock()
	cur := deref(st.Installed)
	// The version rolled away from is not kept: the kind says what it keeps to undo a
	// failure, and refuses a module it cannot roll back.
	j := &journal{Op: opRollback, Module: m.Name, Strategy: m.Strategy, From: cur}
	if err := k.prepare(j, false); err != nil {
		return nil, err
	}
	var target string
	kept := k.backups()
	for _, v := range kept {
		if v != cur && (opts.To == "" || v == opts.To) {
			target = v
			break
		}
	}
	if target == "" {
		if opts.To != "" {
			return nil, fmt.Errorf("%w: %s has no kept version %s in %s (kept: %v)", ErrNoBackup, m.Name, opts.To, k.keptAt(""), kept)
		}
		return nil, fmt.Errorf("%w: %s has no kept version other than %s in %s", ErrNoBackup, m.Name, orNothing(cur), k.keptAt(""))
	}
	j.To, j.Started = target, e.now()
	if err := k.open(true); err != nil {
		return nil, err
	}
	defer k.close()
	k.clean(ctx)
	op := e.newOperation(m, k, j)
	window, err := e.run(ctx, op, nil)
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
	return &InstallResult{Module: m.Name, From: cur, Installed: []string{target}, Window: window, SelfUpdate: e.holdsExecutable(m)}, nil
}
