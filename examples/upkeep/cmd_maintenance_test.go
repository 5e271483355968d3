package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A site left "en maintenance" by a flag upkeep did not place: status says so, and
// `upkeep maintenance off` takes it down as the seed's procedure does, nothing deleted.
func TestMaintenanceOffCommand(t *testing.T) {
	t.Parallel()
	config, stateDir := opsEnv(t)
	code, _, errs := runCLI(t, "install", "--config", config, "web", "--version", "2.0.0")
	require.Equal(t, 0, code, errs)
	module := filepath.Join(filepath.Dir(config), "srv", "web")
	flag := filepath.Join(module, "app_offline.htm")
	require.NoError(t, os.WriteFile(flag, []byte("en maintenance"), 0o644))

	code, out, errs := runCLI(t, "status", "--config", config, "--json")
	require.Equal(t, 0, code, errs)
	var st struct {
		Modules []struct {
			Maintenance        bool `json:"maintenance"`
			MaintenanceForeign bool `json:"maintenance_foreign"`
		} `json:"modules"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.True(t, st.Modules[0].Maintenance)
	require.True(t, st.Modules[0].MaintenanceForeign)
	code, out, _ = runCLI(t, "status", "--config", config)
	require.Equal(t, 0, code)
	require.Contains(t, out, "flag not placed by upkeep")

	code, out, errs = runCLI(t, "maintenance", "off", "--config", config, "web")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, filepath.Join(module, "app_offline.bak"))
	require.NoFileExists(t, flag)
	require.FileExists(t, filepath.Join(module, "app_offline.bak"))

	require.NoError(t, os.WriteFile(flag, []byte("encore"), 0o644))
	code, out, errs = runCLI(t, "maintenance", "off", "web", "--config", config)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, filepath.Join(stateDir, "agent", "flags", "web"))
	code, _, errs = runCLI(t, "maintenance", "off", "--config", config, "web")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "no flag file")

	code, out, _ = runCLI(t, "status", "--config", config, "--json")
	require.Equal(t, 0, code)
	require.NotContains(t, out, "maintenance_foreign")
	code, _, _ = runCLI(t, "maintenance", "on", "--config", config, "web")
	require.Equal(t, 2, code)

	// Both take-downs, and the failed third, are in the operations log.
	b, err := os.ReadFile(filepath.Join(stateDir, "agent", "operations.cli.jsonl"))
	require.NoError(t, err)
	require.Equal(t, 3, strings.Count(string(b), `"kind":"maintenance-off"`))
}
