package agent

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/maintenance"
)

// FlagKeepDir is where TakeDownFlag moves a module's foreign flag when its .bak name is
// taken: STATE/agent/flags/MODULE.
func FlagKeepDir(stateDir, module string) string {
	return filepath.Join(stateDir, "agent", "flags", module)
}

// ForeignFlag reports whether the module's maintenance_file is in its folder and was
// not placed by upkeep: the module is in maintenance until a person takes it down
// (TakeDownFlag), and an install refuses to run.
func ForeignFlag(m *update.ModuleConfig) bool {
	if m == nil || m.MaintenanceFile == "" || m.Path == "" {
		return false
	}
	present, ours, err := maintenance.Flag{Name: m.MaintenanceFile}.Present(m.Path)
	return err == nil && present && !ours
}

// TakeDownFlag takes module m out of a maintenance flag upkeep did not place, as the
// seed's procedure does (maintenance.Flag.TakeDown): renamed to its .bak, or moved into
// FlagKeepDir when the .bak is taken. It returns where the flag went.
func TakeDownFlag(stateDir string, m *update.ModuleConfig) (string, error) {
	if m.MaintenanceFile == "" {
		return "", fmt.Errorf("agent: module %s has no maintenance_file: there is no flag to take down", m.Name)
	}
	return maintenance.Flag{Name: m.MaintenanceFile}.TakeDown(m.Path, FlagKeepDir(stateDir, m.Name))
}

// MaintenanceOff takes module out of a maintenance flag upkeep did not place
// (TakeDownFlag), waiting for the module's running operation, and records it as an
// operation. It returns where the flag went.
func (a *Agent) MaintenanceOff(ctx context.Context, module string) (string, error) {
	ms, err := a.module(module)
	if err != nil {
		return "", err
	}
	select {
	case ms.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	op := Operation{Module: module, Kind: OpMaintenanceOff, Started: a.now()}
	where, err := TakeDownFlag(a.eng.Config().StateDir, &ms.cfg)
	<-ms.sem
	a.recordDone(op, err)
	return where, err
}

// foreignFlag is ForeignFlag of a configured module. The caller holds a.mu.
func (a *Agent) foreignFlag(module string) bool {
	if ms := a.mods[module]; ms != nil {
		return ForeignFlag(&ms.cfg)
	}
	return false
}
