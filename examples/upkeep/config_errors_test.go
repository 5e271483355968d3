package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A configuration given by a relative path works; its errors point at the line and
// name the key, never a Go field.
func TestConfigFileErrorsFromTheCommand(t *testing.T) {
	t.Parallel()
	config, _ := opsEnv(t)
	dir := filepath.Dir(config)
	b, err := os.ReadFile(config)
	require.NoError(t, err)
	var c map[string]any
	require.NoError(t, json.Unmarshal(b, &c))
	// Paths relative to the file, the file named relative to the working folder.
	c["source"], c["state_dir"] = "repo", "state"
	c["keys"] = []string{"publisher.pub"}
	c["modules"] = []map[string]any{{"name": "web", "path": "srv/web"}}
	rel := filepath.Join(dir, "rel.json")
	b, _ = json.MarshalIndent(c, "", "  ")
	require.NoError(t, os.WriteFile(rel, b, 0o644))
	wd, err := os.Getwd()
	require.NoError(t, err)
	relPath, err := filepath.Rel(wd, rel)
	require.NoError(t, err)
	code, out, errs := runCLI(t, "status", "--config", relPath)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "web: installed nothing")

	write := func(s string) string {
		p := filepath.Join(dir, "bad.json")
		require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
		return p
	}
	p := write("{\n  \"source\": \"repo\",\n  \"keys\": [\"publisher.pub\"],\n  \"stat_dir\": \"state\",\n  \"modules\": [{\"name\": \"web\", \"path\": \"srv/web\"}]\n}\n")
	code, _, errs = runCLI(t, "status", "--config", p)
	require.Equal(t, 1, code)
	require.Contains(t, errs, p+`:4:3: stat_dir: unknown key; did you mean "state_dir"?`)

	// A key file that cannot be read: the file's key, not update.Config's field.
	p = write("{\n  \"source\": \"repo\",\n  \"keys\": [\"nosuch.pub\"],\n  \"state_dir\": \"state\",\n  \"modules\": [{\"name\": \"web\", \"path\": \"srv/web\"}]\n}\n")
	code, _, errs = runCLI(t, "status", "--config", p)
	require.Equal(t, 1, code)
	require.Contains(t, errs, p+":3:3: keys: ")
	require.NotContains(t, errs, "config Keys")

	p = write(`{"source": "127.0.0.1:8090", "keys": ["publisher.pub"], "state_dir": "state", "modules": [{"name": "web", "path": "srv/web"}]}`)
	code, _, errs = runCLI(t, "check", "--config", p)
	require.Equal(t, 1, code)
	require.Contains(t, errs, p+`:1:2: source: "`+filepath.Join(dir, "127.0.0.1:8090")+`" is neither a URL`)

	p = write("{\"source\": \"repo\", \"keys\": [\"publisher.pub\"], \"state_dir\": \"state\", \"modules\": [{\"name\": \"web\", \"path\": \"srv/web\"}],\n \"fleet\": {\"role\": \"slave\", \"mastr\": \"http://127.0.0.1:1\"}}")
	code, _, errs = runCLI(t, "agent", "--config", p)
	require.Equal(t, 1, code)
	require.Contains(t, errs, p+`:2:29: fleet.mastr: unknown key; did you mean "master"?`)

	p = write(`{"source": "repo", "keys": ["publisher.pub"], "state_dir": "srv/web/.state", "modules": [{"name": "web", "path": "srv/web"}]}`)
	code, _, errs = runCLI(t, "status", "--config", p)
	require.Equal(t, 1, code)
	require.Contains(t, errs, p+`:1:47: state_dir: `)
	require.True(t, strings.Contains(errs, "is inside the folder of module"), errs)
}

// A public key given where the secret key goes says so.
func TestPublicKeyAsSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, pub := publisher(t, dir)
	f := filepath.Join(dir, "f.txt")
	require.NoError(t, os.WriteFile(f, []byte("x"), 0o644))
	code, _, errs := runCLI(t, "sign", "--sec", pub, f)
	require.Equal(t, 1, code)
	require.Contains(t, errs, pub+" is a public key, not a secret key: give the secret key file")
}
