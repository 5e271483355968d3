package update

import "fmt"

// ErrDatabaseModule is returned by Install and Rollback for a module of kind
// KindDatabase: its scripts are applied through package update/dbscript (the upkeep
// command's db subcommands), not by swapping a tree.
var ErrDatabaseModule = fmt.Errorf("update: database module")

// filesOnly refuses an operation on files for a module that has none.
func filesOnly(m *ModuleConfig) error {
	if m.Kind == KindDatabase {
		return &Error{Code: CodeConfig, Module: m.Name, Err: fmt.Errorf("%w: %s has no tree of files to install or roll back; its scripts run with `upkeep db`", ErrDatabaseModule, m.Name)}
	}
	return nil
}
