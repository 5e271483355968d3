package portal_test

import (
	"context"
	"encoding/json"
	"net/http"
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

// fileAgent runs an agent over f's configuration as written to a file and read back
// by LoadConfig, as `upkeep agent` does; it returns the agent and the file.
func fileAgent(t testing.TB, f *fixture) (*agent.Agent, string) {
	t.Helper()
	b, err := json.MarshalIndent(&agent.Config{Config: f.cfg, CheckInterval: agent.Duration(time.Hour)}, "", "  ")
	require.NoError(t, err)
	p := filepath.Join(f.dir, "agent.json")
	require.NoError(t, os.WriteFile(p, b, 0o600))
	cfg, err := agent.LoadConfig(p)
	require.NoError(t, err)
	eng, err := update.New(cfg.Config, updatetest.WithoutSync())
	require.NoError(t, err)
	a, err := agent.New(cfg, eng, agent.WithoutSync(), agent.WithFirstCheck(time.Hour))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return a, p
}

// The settings through the API: read, refused without the page token, refused with
// code "config" naming the key and nothing changed, accepted and in force at once,
// and shown by the page.
func TestSettingsThroughAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "web")
	a, file := fileAgent(t, f)
	s := serve(t, a)
	page := s.page()
	require.Contains(t, page, `<form data-form="settings"`)
	require.Regexp(t, `<input type="radio" name="auto" value="off" checked>`, page)
	require.Contains(t, page, `name="check_interval" value="1h"`)
	require.Contains(t, page, `data-field="window">No automatic install<`)

	st, body, _ := s.do("GET", "/api/settings", "")
	require.Equal(t, http.StatusOK, st, body)
	require.JSONEq(t, `{"check_interval":"1h0m0s","auto_install":null,"source":`+quote(f.cfg.Source)+`,"lang":""}`, body)
	m := s.modules()[0]
	require.NotNil(t, m.NextCheck)
	require.Nil(t, m.Window)
	_, raw, _ := s.do("GET", "/api/modules", "")
	require.Contains(t, raw, `"window":null`)

	before, err := os.ReadFile(file)
	require.NoError(t, err)
	st, body, _ = s.do("POST", "/api/settings", `{"lang":"fr"}`)
	require.Equal(t, http.StatusForbidden, st, "no page token: %s", body)
	for _, tt := range []struct{ patch, field string }{
		{`{"check_interval":"soon"}`, "check_interval"},
		{`{"auto_install":{"days":["lun"],"hours":"02:00-05:00"}}`, "auto_install"},
		{`{"lang":"de"}`, "lang"},
		{`{"source":"127.0.0.1:8090"}`, "source"},
		{`{"colour":"blue"}`, "colour"},
	} {
		st, body := s.post("/api/settings", tt.patch)
		require.Equal(t, http.StatusBadRequest, st, body)
		var e struct{ Error, Code string }
		require.NoError(t, json.Unmarshal([]byte(body), &e))
		require.Equal(t, "config", e.Code, body)
		require.True(t, strings.HasPrefix(e.Error, "settings: "+tt.field+": "), body)
		after, err := os.ReadFile(file)
		require.NoError(t, err)
		require.Equal(t, string(before), string(after), tt.patch)
	}

	st, body = s.post("/api/settings", `{"auto_install":{"days":["sat","sun"],"hours":"02:00-05:00"},"check_interval":"36h"}`)
	require.Equal(t, http.StatusOK, st, body)
	require.JSONEq(t, `{"check_interval":"36h0m0s","auto_install":{"days":["sat","sun"],"hours":"02:00-05:00"},"source":`+quote(f.cfg.Source)+`,"lang":""}`, body)
	m = s.modules()[0]
	require.Equal(t, &agent.WindowView{Days: []string{"sat", "sun"}, Hours: "02:00-05:00"}, m.Window)
	require.NotNil(t, m.NextCheck)
	require.WithinDuration(t, time.Now().Add(36*time.Hour), *m.NextCheck, 4*time.Hour, "re-armed at the new interval (± its jitter)")
	cfg, err := agent.LoadConfig(file)
	require.NoError(t, err)
	require.Equal(t, 36*time.Hour, time.Duration(cfg.CheckInterval))
	require.Equal(t, f.cfg.Modules[0].Path, cfg.Modules[0].Path)

	page = s.page()
	require.Regexp(t, `<input type="radio" name="auto" value="window" checked>`, page)
	require.Regexp(t, `<input type="checkbox" name="days" value="sat" checked>`, page)
	require.Regexp(t, `<input type="checkbox" name="days" value="mon">`, page)
	require.Contains(t, page, `name="from" value="02:00"`)
	require.Contains(t, page, `data-field="window">sat, sun · 02:00-05:00<`)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
