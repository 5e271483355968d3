package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// config example prints a commented file that config check accepts, and config check
// prints the effective configuration, defaults filled in.
func TestConfigExampleAndCheck(t *testing.T) {
	t.Parallel()
	code, example, errs := runCLI(t, "config", "example")
	require.Equal(t, 0, code, errs)
	require.Contains(t, example, "// ")
	p := filepath.Join(t.TempDir(), "agent.json")
	require.NoError(t, os.WriteFile(p, []byte(example), 0o644))
	code, out, errs := runCLI(t, "config", "check", "--config", p)
	require.Equal(t, 0, code, errs)
	var eff map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &eff), out)
	require.Equal(t, "stable", eff["channel"])
	require.Equal(t, "fr", eff["lang"])
	require.Equal(t, "24h0m0s", eff["check_interval"])

	// Without check_interval, auto_install and modules' kinds: the defaults show.
	minimal := `{"source": "https://u.example/", "keys": ["k.pub"], "state_dir": "s", "modules": [{"name": "web", "path": "srv"}]}`
	require.NoError(t, os.WriteFile(p, []byte(minimal), 0o644))
	code, out, errs = runCLI(t, "config", "check", "--config", p)
	require.Equal(t, 0, code, errs)
	eff = nil
	require.NoError(t, json.Unmarshal([]byte(out), &eff), out)
	require.Equal(t, "24h0m0s", eff["check_interval"])
	require.Nil(t, eff["auto_install"])
	require.Contains(t, eff, "language")
	require.Equal(t, float64(1), eff["threshold"])
	mod := eff["modules"].([]any)[0].(map[string]any)
	require.Equal(t, "files", mod["kind"])
	require.Equal(t, filepath.Join(filepath.Dir(p), "srv"), mod["path"])
}

// A bad file: exit 2, one line FILE:LINE:COL: key: message, nothing on stdout.
func TestConfigCheckBadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tt := range []struct{ text, want string }{
		{"{\n  \"source\": \"https://u.example/\",\n  \"keys\": [\"k\"],\n  \"stat_dir\": \"s\",\n  \"modules\": []\n}\n", `:4:3: stat_dir: unknown key; did you mean "state_dir"?`},
		{"{\"source\": \"https://u.example/\", \"keys\": [\"k\"], \"state_dir\": \"s\",\n \"lang\": \"de\",\n \"modules\": [{\"name\": \"a\", \"path\": \"a\"}]}", `:2:2: lang: "de"`},
		{"{\"source\": \"https://u.example/\", \"keys\": [\"k\"], \"state_dir\": \"s\", \"modules\": [{\"name\": \"a\", \"path\": \"a\"}],\n \"fleet\": {\"role\": \"boss\"}}", `: fleet.role`},
	} {
		p := filepath.Join(dir, "bad.json")
		require.NoError(t, os.WriteFile(p, []byte(tt.text), 0o644))
		code, out, errs := runCLI(t, "config", "check", "--config", p)
		require.Equal(t, 2, code, errs)
		require.Empty(t, out)
		require.True(t, strings.HasPrefix(errs, p+":"), errs)
		require.Contains(t, errs, tt.want)
		require.Equal(t, 1, strings.Count(errs, "\n"), errs)
	}
	code, _, errs := runCLI(t, "config", "check")
	require.Equal(t, 2, code, errs)
	code, _, _ = runCLI(t, "config", "frobnicate")
	require.Equal(t, 2, code)
}

// An unknown key of the fleet block is placed in the file, with "did you mean".
func TestConfigCheckFleetUnknownKey(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "agent.json")
	require.NoError(t, os.WriteFile(p, []byte("{\"source\": \"https://u.example/\", \"keys\": [\"k\"], \"state_dir\": \"s\", \"modules\": [{\"name\": \"a\", \"path\": \"a\"}],\n \"fleet\": {\"role\": \"slave\",\n  \"mastr\": \"https://m.example/\"}}"), 0o644))
	code, out, errs := runCLI(t, "config", "check", "--config", p)
	require.Equal(t, 2, code, errs)
	require.Empty(t, out)
	require.Contains(t, errs, p+":3:3: fleet.mastr: unknown key; did you mean \"master\"?")
}
