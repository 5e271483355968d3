package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/maintenance"
)

// A flag a person left in the module folder shows as foreign; MaintenanceOff takes it
// down as the seed says (to .bak, then into the state dir), and an install runs again.
func TestMaintenanceOffForeignFlag(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	require.NoError(t, os.MkdirAll(e.module, 0o755))
	e.cfg.Modules[0].Installed = "0.9.0"
	require.NoError(t, e.cfg.Validate())
	flag := filepath.Join(e.module, "app_offline.htm")
	require.NoError(t, os.WriteFile(flag, []byte("en maintenance"), 0o644))
	a := e.agent(t, e.engine(t))
	ctx := context.Background()
	v := view(t, a)
	require.True(t, v.Maintenance)
	require.True(t, v.MaintenanceForeign, "the portal says the flag is not upkeep's")

	events := a.Subscribe(t.Context())
	id, err := a.Install(ctx, "web", "")
	require.NoError(t, err)
	op := ended(t, events, agent.OpInstall, id)
	require.Equal(t, agent.ResultFailed, op.Result)
	require.Contains(t, op.Error, "flag file not placed by upkeep")

	where, err := a.MaintenanceOff(ctx, "web")
	require.NoError(t, err)
	require.Equal(t, filepath.Join(e.module, "app_offline.bak"), where)
	v = view(t, a)
	require.False(t, v.Maintenance)
	require.False(t, v.MaintenanceForeign)
	_, err = a.MaintenanceOff(ctx, "web")
	require.ErrorIs(t, err, maintenance.ErrNoFlag)

	// Again, with the .bak now taken: the flag is kept in the state dir.
	require.NoError(t, os.WriteFile(flag, []byte("encore"), 0o644))
	where, err = a.MaintenanceOff(ctx, "web")
	require.NoError(t, err)
	require.Equal(t, agent.FlagKeepDir(e.cfg.StateDir, "web"), filepath.Dir(where))
	b, err := os.ReadFile(where)
	require.NoError(t, err)
	require.Equal(t, "encore", string(b))

	ops, err := a.Operations(ctx, "web", 0)
	require.NoError(t, err)
	require.Equal(t, agent.OpMaintenanceOff, ops[0].Kind)
	require.Equal(t, agent.ResultSucceeded, ops[0].Result)
	require.Equal(t, agent.ResultFailed, ops[1].Result, "the second, with no flag, failed")

	id, err = a.Install(ctx, "web", "")
	require.NoError(t, err)
	op = ended(t, events, agent.OpInstall, id)
	require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
	_, err = a.MaintenanceOff(ctx, "nope")
	require.ErrorIs(t, err, update.ErrUnknownModule)
}
