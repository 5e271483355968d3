package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// opsEnv is a repository with web 2.0.0 and 3.0.0 and a configuration of module web.
func opsEnv(t *testing.T) (config, stateDir string) {
	t.Helper()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	dir := t.TempDir()
	sec, pub := publisher(t, dir)
	repo := filepath.Join(dir, "repo")
	for _, v := range []string{"2.0.0", "3.0.0"} {
		b := filepath.Join(dir, "b"+v)
		updatetest.WriteTree(t, b, map[string]string{"index.html": v})
		code, _, errs := runCLI(t, "publish", "--repo", repo, "--sec", sec, "--module", "web", "--version", v, "--platform", platform, "--from", b)
		require.Equal(t, 0, code, errs)
	}
	stateDir = filepath.Join(dir, "state")
	cb, _ := json.Marshal(map[string]any{"source": repo, "keys": []string{pub}, "state_dir": stateDir,
		"modules": []map[string]any{{"name": "web", "path": filepath.Join(dir, "srv", "web"), "maintenance_file": "app_offline.htm"}}})
	config = filepath.Join(dir, "agent.json")
	require.NoError(t, os.WriteFile(config, cb, 0o644))
	return config, stateDir
}

type holdJSON struct {
	Modules []struct {
		Name string      `json:"name"`
		Hold *agent.Hold `json:"hold"`
	} `json:"modules"`
}

func statusHold(t *testing.T, config string) (*agent.Hold, map[string]json.RawMessage) {
	t.Helper()
	code, out, errs := runCLI(t, "status", "--config", config, "--json")
	require.Equal(t, 0, code, errs)
	var st holdJSON
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	var raw struct {
		Modules []map[string]json.RawMessage `json:"modules"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	return st.Modules[0].Hold, raw.Modules[0]
}

// A person's rollback from the command puts the module on hold; hold and release
// work from the command; status shows the hold; every one of these operations is in
// the operations log the portal lists.
func TestHoldFromTheCommand(t *testing.T) {
	t.Parallel()
	config, stateDir := opsEnv(t)
	code, _, errs := runCLI(t, "install", "--config", config, "web", "--version", "2.0.0")
	require.Equal(t, 0, code, errs)
	code, _, errs = runCLI(t, "install", "--config", config, "web")
	require.Equal(t, 0, code, errs)
	h, raw := statusHold(t, config)
	require.Nil(t, h)
	require.Equal(t, "null", string(raw["hold"]), "status --json always has the hold key")

	code, out, errs := runCLI(t, "rollback", "--config", config, "web")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "rolled web back from 3.0.0 to 2.0.0")
	require.Contains(t, out, "on hold (rollback)")
	h, _ = statusHold(t, config)
	require.NotNil(t, h)
	require.Equal(t, agent.HoldRollback, h.Reason)
	code, out, _ = runCLI(t, "status", "--config", config)
	require.Equal(t, 0, code)
	require.Contains(t, out, "on hold (rollback)")

	code, out, errs = runCLI(t, "release", "--config", config, "web")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "web released")
	h, _ = statusHold(t, config)
	require.Nil(t, h)
	code, out, errs = runCLI(t, "hold", "web", "--config", config)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "web on hold (operator")
	h, _ = statusHold(t, config)
	require.Equal(t, agent.HoldOperator, h.Reason)

	code, _, errs = runCLI(t, "hold", "--config", config, "nope")
	require.Equal(t, 1, code)
	require.Contains(t, errs, `"nope" is not a configured module`)
	code, _, _ = runCLI(t, "hold", "--config", config)
	require.Equal(t, 2, code)

	// A person's install ends the hold.
	code, _, errs = runCLI(t, "install", "--config", config, "web")
	require.Equal(t, 0, code, errs)
	require.Contains(t, errs, "hold (operator) ended by this install")
	h, _ = statusHold(t, config)
	require.Nil(t, h)

	// The operations log the portal lists holds each of them, newest first.
	cfg, err := agent.LoadConfig(config)
	require.NoError(t, err)
	a, err := agent.New(cfg, nil)
	require.NoError(t, err)
	ops, err := a.Operations(context.Background(), "web", 0)
	require.NoError(t, err)
	var kinds []agent.OpKind
	for _, op := range ops {
		require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
		kinds = append(kinds, op.Kind)
	}
	require.Equal(t, []agent.OpKind{agent.OpInstall, agent.OpHold, agent.OpRelease, agent.OpRollback, agent.OpInstall, agent.OpInstall}, kinds)
	require.Equal(t, "3.0.0", ops[3].From)
	require.Equal(t, "2.0.0", ops[3].To)
	_ = stateDir
}
