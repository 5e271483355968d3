package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// A person's rollback puts the module on hold: with "auto_install": "always", the
// next check does not reinstall the version rolled away from. The hold survives a
// restart; a release lets the next check install it again.
func TestRollbackHolds(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	e.repo.Publish("web", "2.0.0", platform, v1)
	eng := e.engine(t)
	ctx := context.Background()
	_, err := eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	e.repo.Publish("web", "3.0.0", platform, v2)
	e.cfg.AutoInstall = &agent.Window{} // "always"
	a := e.agent(t, eng)
	events := a.Subscribe(t.Context())
	id, err := a.Install(ctx, "web", "3.0.0")
	require.NoError(t, err)
	require.Equal(t, agent.ResultSucceeded, ended(t, events, agent.OpInstall, id).Result)
	require.Nil(t, view(t, a).Hold)

	id, err = a.Rollback(ctx, "web")
	require.NoError(t, err)
	op := ended(t, events, agent.OpRollback, id)
	require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
	h := view(t, a).Hold
	require.NotNil(t, h, "a person's rollback holds the module")
	require.Equal(t, agent.HoldRollback, h.Reason)
	require.False(t, h.Since.IsZero())

	// The agent's checks find 3.0.0 and leave it.
	run(t, a)
	require.Equal(t, agent.ResultSucceeded, ended(t, events, agent.OpCheck, "").Result)
	require.Never(t, func() bool {
		ops, err := a.Operations(ctx, "web", 0)
		require.NoError(t, err)
		return ops[0].Kind == agent.OpInstall
	}, time.Second, 20*time.Millisecond, "an automatic install ran on a held module")
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))

	// The hold is in the state dir: another agent over it sees it.
	again, err := agent.ReadHold(e.cfg.StateDir, "web")
	require.NoError(t, err)
	require.Equal(t, h, again)

	rel, err := a.Release(ctx, "web")
	require.NoError(t, err)
	require.Nil(t, rel)
	require.Nil(t, view(t, a).Hold)
	_, err = a.Check(ctx)
	require.NoError(t, err)
	op = ended(t, events, agent.OpInstall, "")
	require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
	require.Equal(t, "3.0.0", op.To)
	ops, err := a.Operations(ctx, "web", 0)
	require.NoError(t, err)
	var kinds []agent.OpKind
	for _, o := range ops {
		kinds = append(kinds, o.Kind)
	}
	require.Equal(t, []agent.OpKind{agent.OpInstall, agent.OpRelease, agent.OpRollback, agent.OpInstall}, kinds)
}

// A hold asked for by a person stops automatic installs until a person's install ends
// it; the scheduler of Run (used by update/selfupdate) honours it too.
func TestOperatorHold(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	ctx := context.Background()
	a := e.agent(t, e.engine(t))
	h, err := a.Hold(ctx, "web")
	require.NoError(t, err)
	require.Equal(t, agent.HoldOperator, h.Reason)
	_, err = a.Hold(ctx, "nope")
	require.ErrorIs(t, err, update.ErrUnknownModule)

	agent.RunOnce(ctx, e.engine(t), agent.RunOptions{AutoInstall: &agent.Window{}})
	_, err = os.Stat(e.module)
	require.ErrorIs(t, err, os.ErrNotExist, "Run installed a held module")

	events := a.Subscribe(t.Context())
	id, err := a.Install(ctx, "web", "")
	require.NoError(t, err)
	require.Equal(t, agent.ResultSucceeded, ended(t, events, agent.OpInstall, id).Result)
	require.Nil(t, view(t, a).Hold, "a person's install ends the hold")
}

// Operations that another process records (the upkeep command) appear in a running
// agent's list, in start order among its own.
func TestOperationsOfOtherProcesses(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	ctx := context.Background()
	a := e.agent(t, e.engine(t))
	_, err := a.Hold(ctx, "web")
	require.NoError(t, err)
	start := time.Now().Add(time.Second)
	op, err := agent.RecordOperation(e.cfg.StateDir, agent.Operation{Module: "web", Kind: agent.OpRollback,
		From: "3.0.0", To: "2.0.0", Started: start, Result: agent.ResultSucceeded})
	require.NoError(t, err)
	require.NotEmpty(t, op.ID)
	ops, err := a.Operations(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, ops, 2)
	require.Equal(t, op.ID, ops[0].ID)
	got, err := a.Operation(ctx, op.ID)
	require.NoError(t, err)
	require.Equal(t, "2.0.0", got.To)

	// A line being written is read once it is whole.
	f, err := os.OpenFile(filepath.Join(e.cfg.StateDir, "agent", "operations.cli.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"id":"half","module":"web","kind":"hold","result":"succ`)
	require.NoError(t, err)
	ops, err = a.Operations(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, ops, 2)
	_, err = f.WriteString(`eeded","started":"2030-01-01T00:00:00Z"}` + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	ops, err = a.Operations(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, ops, 3)
	require.Equal(t, "half", ops[0].ID)

	_, err = agent.RecordOperation(e.cfg.StateDir, agent.Operation{Module: "web", Kind: agent.OpInstall, Result: agent.ResultRunning})
	require.ErrorContains(t, err, "only an ended operation is recorded")
}

// A person's install of a module that is not on hold writes no hold file: ending a
// hold that does not exist cost a file written and fsync'd, its folder fsync'd,
// while the install ran. An ended hold still leaves its trace (null).
func TestInstallWithoutHoldWritesNone(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	e.repo.Publish("web", "2.0.0", platform, v2)
	ctx := context.Background()
	a := e.agent(t, e.engine(t))
	events := a.Subscribe(t.Context())
	holdFile := filepath.Join(e.cfg.StateDir, "agent", "holds", "web.json")

	id, err := a.Install(ctx, "web", "1.0.0")
	require.NoError(t, err)
	require.Equal(t, agent.ResultSucceeded, ended(t, events, agent.OpInstall, id).Result)
	_, err = os.Stat(holdFile)
	require.ErrorIs(t, err, os.ErrNotExist, "an install without a hold wrote the hold file")

	_, err = a.Hold(ctx, "web")
	require.NoError(t, err)
	id, err = a.Install(ctx, "web", "2.0.0")
	require.NoError(t, err)
	require.Equal(t, agent.ResultSucceeded, ended(t, events, agent.OpInstall, id).Result)
	require.Nil(t, view(t, a).Hold, "a person's install ends the hold")
	b, err := os.ReadFile(holdFile)
	require.NoError(t, err)
	require.Equal(t, "null\n", string(b), "an ended hold leaves its trace")
}
