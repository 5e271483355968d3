package main

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// publisher writes a key pair into dir and returns the secret and public key files.
func publisher(t *testing.T, dir string) (sec, pub string) {
	t.Helper()
	pk, sk, err := signature.GenerateKey(rand.Reader)
	require.NoError(t, err)
	pb, err := pk.MarshalText()
	require.NoError(t, err)
	sb, err := signature.MarshalPrivateKey(sk, "")
	require.NoError(t, err)
	sec, pub = filepath.Join(dir, "publisher.key"), filepath.Join(dir, "publisher.pub")
	require.NoError(t, os.WriteFile(sec, sb, 0o600))
	require.NoError(t, os.WriteFile(pub, pb, 0o644))
	return sec, pub
}

// TestOperateEndToEnd drives the whole story through the command: publish two
// versions, check, install, update, rollback, status, with hooks, for both strategies.
func TestOperateEndToEnd(t *testing.T) {
	t.Parallel()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	v1 := map[string]string{"index.html": "one", "bin/tool*": "#!/bin/sh\n", "gone.txt": "x"}
	v2 := map[string]string{"index.html": "two", "bin/tool*": "#!/bin/sh\necho 2\n", "new/file.txt": "n"}
	for _, strategy := range []string{"swap", "inplace"} {
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			sec, pub := publisher(t, dir)
			repo := filepath.Join(dir, "repo")
			b1, b2 := filepath.Join(dir, "b1"), filepath.Join(dir, "b2")
			updatetest.WriteTree(t, b1, v1)
			updatetest.WriteTree(t, b2, v2)
			scripts := filepath.Join(dir, "scripts")
			log := filepath.Join(dir, "hooks.log")
			hook := "#!/bin/sh\necho \"$E_PHASE $E_FROM_VERSION>$E_TO_VERSION $E_MODULE_PATH\" >> " + log + "\n"
			if runtime.GOOS != "windows" {
				for _, p := range []string{"STARTUPDATE", "PREINSTALL", "POSTINSTALL", "ENDUPDATE"} {
					updatetest.WriteTree(t, scripts, map[string]string{p + "_web.sh": hook})
				}
			}
			code, _, errs := runCLI(t, "publish", "--repo", repo, "--sec", sec, "--module", "web", "--version", "1.0.0", "--platform", platform, "--from", b1)
			require.Equal(t, 0, code, errs)

			module := filepath.Join(dir, "srv", "web")
			os.MkdirAll(filepath.Dir(module), 0o755)
			cfg := map[string]any{"source": repo, "keys": []string{pub}, "state_dir": filepath.Join(dir, "state"),
				"modules": []map[string]any{{"name": "web", "path": module, "strategy": strategy, "scripts": scripts, "maintenance_file": "app_offline.htm"}}}
			cb, _ := json.Marshal(cfg)
			config := filepath.Join(dir, "agent.json")
			require.NoError(t, os.WriteFile(config, cb, 0o644))

			code, out, errs := runCLI(t, "status", "--config", config, "--json")
			require.Equal(t, 0, code, errs)
			var st struct {
				Modules []struct {
					Name        string  `json:"name"`
					Installed   *string `json:"installed"`
					Latest      *string `json:"latest"`
					Maintenance bool    `json:"maintenance"`
					LastResult  string  `json:"last_result"`
					LastError   string  `json:"last_error"`
				} `json:"modules"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &st))
			require.Nil(t, st.Modules[0].Installed)

			code, out, errs = runCLI(t, "check", "--json", "--config", config)
			require.Equal(t, 0, code, errs)
			require.JSONEq(t, `{"modules":[{"name":"web","installed":null,"status":"update","version":"1.0.0","code":null,"reason":null,"path":["1.0.0"]}]}`, out)

			code, _, errs = runCLI(t, "install", "web", "--config", config)
			require.Equal(t, 0, code, errs)
			require.Equal(t, v1, updatetest.ReadTree(t, module))

			code, _, errs = runCLI(t, "publish", "--repo", repo, "--sec", sec, "--module", "web", "--version", "1.1.0", "--platform", platform, "--from", b2, "--expires", "2d")
			require.Equal(t, 0, code, errs)
			code, out, _ = runCLI(t, "check", "--config", config, "--json")
			require.Equal(t, 0, code)
			require.Contains(t, out, `"version": "1.1.0"`)
			code, _, errs = runCLI(t, "install", "--config", config, "web")
			require.Equal(t, 0, code, errs)
			require.Equal(t, v2, updatetest.ReadTree(t, module), "live tree is exactly the published build")

			code, out, _ = runCLI(t, "status", "--config", config, "--json")
			require.Equal(t, 0, code)
			require.NoError(t, json.Unmarshal([]byte(out), &st))
			require.Equal(t, "1.1.0", *st.Modules[0].Installed)
			require.False(t, st.Modules[0].Maintenance)
			require.Empty(t, st.Modules[0].LastError)

			code, _, errs = runCLI(t, "rollback", "--config", config, "web")
			require.Equal(t, 0, code, errs)
			require.Equal(t, v1, updatetest.ReadTree(t, module))
			code, out, _ = runCLI(t, "recover", "--config", config)
			require.Equal(t, 0, code)
			require.Contains(t, out, "web: none")

			if runtime.GOOS != "windows" {
				hooksRan, err := os.ReadFile(log)
				require.NoError(t, err)
				sep := string(filepath.Separator)
				require.Equal(t, strings.Join([]string{
					"STARTUPDATE >1.0.0 " + module + sep, "PREINSTALL >1.0.0 " + module + sep, "POSTINSTALL >1.0.0 " + module + sep, "ENDUPDATE >1.0.0 " + module + sep,
					"STARTUPDATE 1.0.0>1.1.0 " + module + sep, "PREINSTALL 1.0.0>1.1.0 " + module + sep, "POSTINSTALL 1.0.0>1.1.0 " + module + sep, "ENDUPDATE 1.0.0>1.1.0 " + module + sep,
					"PREINSTALL 1.1.0>1.0.0 " + module + sep, "POSTINSTALL 1.1.0>1.0.0 " + module + sep, "ENDUPDATE 1.1.0>1.0.0 " + module + sep,
				}, "\n")+"\n", string(hooksRan))
			}
			code, _, errs = runCLI(t, "refresh", "--repo", repo, "--sec", sec)
			require.Equal(t, 0, code, errs)
		})
	}
}

func TestOperateErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, pub := publisher(t, dir)
	cfgFile := func(v map[string]any) string {
		b, _ := json.Marshal(v)
		p := filepath.Join(t.TempDir(), "agent.json")
		os.WriteFile(p, b, 0o644)
		return p
	}
	// An empty repository folder: nothing to be found there (a folder that does not
	// exist is a configuration error).
	require.NoError(t, os.Mkdir(filepath.Join(dir, "nowhere"), 0o755))
	good := map[string]any{"source": filepath.Join(dir, "nowhere"), "keys": []string{pub}, "state_dir": filepath.Join(dir, "state"),
		"modules": []map[string]any{{"name": "web", "path": filepath.Join(dir, "web")}}}

	code, _, errs := runCLI(t, "install", "--config", cfgFile(good))
	require.Equal(t, 2, code, "no module is bad usage: %s", errs)
	code, _, errs = runCLI(t, "check")
	require.Equal(t, 2, code, errs)

	bad := map[string]any{"source": "x", "keys": []string{pub}, "state_dir": dir, "modules": []map[string]any{{"name": "web", "path": "relative/../x", "strategy": "copy"}}}
	code, _, errs = runCLI(t, "check", "--config", cfgFile(bad))
	require.Equal(t, 1, code)
	require.Contains(t, errs, "modules[0].strategy")
	require.Equal(t, 1, strings.Count(strings.TrimSpace(errs), "\n")+1, "one line: %q", errs)

	code, out, _ := runCLI(t, "check", "--config", cfgFile(good), "--json")
	require.Equal(t, 1, code)
	require.JSONEq(t, `{"modules":[{"name":"web","installed":null,"status":"error","version":null,"code":"not_found","reason":`+mustJSON(t, out)+`}]}`, out)

	code, _, errs = runCLI(t, "install", "--config", cfgFile(good), "nosuch")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "nosuch")
}

// mustJSON returns the JSON string of the reason printed in out, so that a test can
// compare the rest of the shape exactly.
func mustJSON(t *testing.T, out string) string {
	var v struct {
		Modules []struct {
			Reason string `json:"reason"`
		} `json:"modules"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	b, _ := json.Marshal(v.Modules[0].Reason)
	return string(b)
}

// TestInstallKeepsUnmanagedFolder is the first-install scenario of a server that ran
// the application before upkeep: `install` refuses, with exit 1 and one line naming
// the folder and how to adopt it, and precious.txt is still there; with
// --keep-unmanaged the folder is kept as a backup and the output says where.
func TestInstallKeepsUnmanagedFolder(t *testing.T) {
	t.Parallel()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	for _, strategy := range []string{"swap", "inplace"} {
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			sec, pub := publisher(t, dir)
			repo := filepath.Join(dir, "repo")
			build := filepath.Join(dir, "build")
			updatetest.WriteTree(t, build, map[string]string{"index.html": "one"})
			code, _, errs := runCLI(t, "publish", "--repo", repo, "--sec", sec, "--module", "app", "--version", "1.0.0", "--platform", platform, "--from", build)
			require.Equal(t, 0, code, errs)
			module := filepath.Join(dir, "live", "app")
			updatetest.WriteTree(t, module, map[string]string{"precious.txt": "customer data"})
			cb, _ := json.Marshal(map[string]any{"source": repo, "keys": []string{pub}, "state_dir": filepath.Join(dir, "state"),
				"modules": []map[string]any{{"name": "app", "path": module, "strategy": strategy}}})
			config := filepath.Join(dir, "agent.json")
			require.NoError(t, os.WriteFile(config, cb, 0o644))

			code, out, errs := runCLI(t, "install", "--config", config, "app")
			require.Equal(t, 1, code, out)
			require.Contains(t, errs, module)
			require.Contains(t, errs, "installed")
			require.Equal(t, 1, strings.Count(strings.TrimSpace(errs), "\n")+1, "one line: %q", errs)
			require.Equal(t, map[string]string{"precious.txt": "customer data"}, updatetest.ReadTree(t, module))

			code, out, errs = runCLI(t, "install", "--config", config, "app", "--keep-unmanaged")
			require.Equal(t, 0, code, errs)
			code, st, errs := runCLI(t, "status", "--config", config, "--json")
			require.Equal(t, 0, code, errs)
			require.Contains(t, st, `"code": null`, "status --json has every key, null after a success")
			require.Contains(t, out, "unmanaged-")
			require.Equal(t, map[string]string{"index.html": "one"}, updatetest.ReadTree(t, module))
		})
	}
}
