package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// writeConfigFile writes e's configuration as a person would, with its own layout,
// and reads it back with LoadConfig.
func writeConfigFile(t *testing.T, e *aenv, extra string) (string, string, *agent.Config) {
	t.Helper()
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	text := fmt.Sprintf(`{
    "source": %s,
    "keys":   [%s],
    "state_dir": %s,
    "check_interval":   "48h",%s
    "modules": [
        {"name": "web", "path": %s, "maintenance_file": "app_offline.htm"}
    ]
}
`, q(e.cfg.Source), q(e.cfg.Keys[0]), q(e.cfg.StateDir), extra, q(e.cfg.Modules[0].Path))
	p := filepath.Join(t.TempDir(), "agent.json")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o640))
	cfg, err := agent.LoadConfig(p)
	require.NoError(t, err)
	return p, text, cfg
}

// A bad setting is refused naming its key, and changes neither the file nor what is
// in force.
func TestUpdateSettingsRefusesBadValues(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	p, text, cfg := writeConfigFile(t, e, "")
	a, err := agent.New(cfg, nil, agent.WithoutSync())
	require.NoError(t, err)
	before, err := a.Settings(t.Context())
	require.NoError(t, err)
	require.Equal(t, 48*time.Hour, time.Duration(before.CheckInterval))
	require.Nil(t, before.AutoInstall)

	for _, tt := range []struct{ patch, field, msg string }{
		{`{"check_interval":"soon"}`, "check_interval", "bad duration"},
		{`{"check_interval":12}`, "check_interval", "duration"},
		{`{"auto_install":{"days":["someday"]}}`, "auto_install", "someday"},
		{`{"auto_install":{"hours":"2-5"}}`, "auto_install", "HH:MM"},
		{`{"auto_install":"sometimes"}`, "auto_install", "always"},
		{`{"auto_install":{"days":["mon"],"when":1}}`, "auto_install", "when"},
		{`{"lang":"de"}`, "lang", `"de"`},
		{`{"source":""}`, "source", "empty"},
		{`{"source":"127.0.0.1:8090"}`, "source", "neither a URL"},
		{`{"colour":"blue"}`, "colour", "not a setting"},
		{`{"lang":"fr","check_interval":"-3h"}`, "check_interval", "bad duration"},
		{`[1]`, "(json)", "want an object"},
	} {
		_, err := a.UpdateSettings(t.Context(), []byte(tt.patch))
		var ce *update.ConfigError
		require.True(t, errors.As(err, &ce), "%s: %v", tt.patch, err)
		require.Equal(t, tt.field, ce.Field, "%s: %v", tt.patch, err)
		require.ErrorContains(t, err, tt.msg, tt.patch)
		require.ErrorIs(t, err, update.ErrConfig)
		got, rerr := os.ReadFile(p)
		require.NoError(t, rerr)
		require.Equal(t, text, string(got), "%s changed the file", tt.patch)
		now, _ := a.Settings(t.Context())
		require.Equal(t, before, now, "%s changed the settings", tt.patch)
	}
}

// An accepted change is written into the file, every other byte kept, and takes
// effect in the running agent: the next check is re-armed at the new interval, the
// window installs at that check, and the new source is the one fetched from.
func TestUpdateSettingsTakesEffect(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	e.repo.Publish("web", "1.0.0", platform, v1)
	p, text, cfg := writeConfigFile(t, e, "\n    \"platform\": \"\", // this machine's")
	a, err := agent.New(cfg, nil, agent.WithoutSync(), agent.WithFirstCheck(time.Hour))
	require.NoError(t, err)
	events := a.Subscribe(t.Context())

	require.Nil(t, view(t, a).NextCheck, "no schedule before Run")
	run(t, a)
	require.Eventually(t, func() bool { return view(t, a).NextCheck != nil }, 10*time.Second, 10*time.Millisecond)
	v := view(t, a)
	require.WithinDuration(t, time.Now().Add(time.Hour), *v.NextCheck, time.Minute)
	require.Nil(t, v.Window)

	s, err := a.UpdateSettings(t.Context(), []byte(`{"check_interval":"2s","auto_install":"always","lang":"fr"}`))
	require.NoError(t, err)
	require.Equal(t, 2*time.Second, time.Duration(s.CheckInterval))
	require.Equal(t, &agent.Window{}, s.AutoInstall)
	require.Equal(t, "fr", s.Lang)
	b, err := json.Marshal(s)
	require.NoError(t, err)
	require.JSONEq(t, fmt.Sprintf(`{"check_interval":"2s","auto_install":"always","source":%q,"lang":"fr"}`, e.cfg.Source), string(b))

	want := strings.Replace(text, `"check_interval":   "48h"`, `"check_interval":   "2s"`, 1)
	want = strings.Replace(want, "\n    ]\n}", "\n    ],\n    \"auto_install\": \"always\",\n    \"lang\": \"fr\"\n}", 1)
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, want, string(got))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
	_, err = agent.LoadConfig(p)
	require.NoError(t, err, "the file written is one LoadConfig reads")

	v = view(t, a)
	require.NotNil(t, v.NextCheck)
	require.WithinDuration(t, time.Now(), *v.NextCheck, 3*time.Second, "the timer was re-armed at the new interval")
	require.Equal(t, &agent.WindowView{Days: []string{}, Hours: ""}, v.Window)

	// The check that comes within seconds installs: the window is in force.
	op := ended(t, events, agent.OpInstall, "")
	require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))

	// A new source is the one the next check fetches from.
	_, err = a.UpdateSettings(t.Context(), []byte(`{"source":"http://127.0.0.1:1/","auto_install":null}`))
	require.NoError(t, err)
	id, err := a.Check(context.Background())
	require.NoError(t, err)
	ended(t, events, agent.OpCheck, id)
	v = view(t, a)
	require.NotNil(t, v.Diagnostics.SourceReachable)
	require.False(t, *v.Diagnostics.SourceReachable, "the check went to the new source")
	require.Nil(t, v.Window)
	require.Equal(t, "http://127.0.0.1:1/", a.Engine().Config().Source)
}

// An agent whose configuration was built in code has no file to keep a change in.
func TestUpdateSettingsWithoutFile(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	a := e.agent(t, e.engine(t))
	_, err := a.UpdateSettings(t.Context(), []byte(`{"lang":"fr"}`))
	require.ErrorIs(t, err, agent.ErrNoConfigFile)
}
