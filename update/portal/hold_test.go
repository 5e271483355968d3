package portal_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update/agent"
)

// A rollback clicked in the portal puts the module on hold: the API says so and the
// page shows it, on first load and (through the same JSON) when it updates itself.
func TestRollbackHoldShown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "web")
	f.repo.Publish("web", "1.0.0", platform, map[string]string{"index.html": "v1"})
	s := serve(t, newAgent(t, f.cfg))
	s.page()
	s.waitEnd(s.started("/api/check"))
	require.Equal(t, agent.ResultSucceeded, s.waitEnd(s.started("/api/modules/web/install")).Result)
	f.repo.Publish("web", "1.1.0", platform, map[string]string{"index.html": "v2"})
	s.waitEnd(s.started("/api/check"))
	require.Equal(t, agent.ResultSucceeded, s.waitEnd(s.started("/api/modules/web/install")).Result)
	_, body, _ := s.do("GET", "/api/modules", "")
	require.Contains(t, body, `"hold":null`)
	require.Contains(t, s.page(), `data-field="hold" hidden`)

	op := s.waitEnd(s.started("/api/modules/web/rollback"))
	require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
	m := s.modules()[0]
	require.NotNil(t, m.Hold)
	require.Equal(t, agent.HoldRollback, m.Hold.Reason)
	page := s.page()
	i := strings.Index(page, `data-field="hold"`)
	require.Greater(t, i, 0)
	card := page[i : i+strings.Index(page[i:], "</p>")]
	require.NotContains(t, card, "hidden")
	require.Contains(t, card, `data-field="hold-reason">rollback<`)
	require.Contains(t, card, "no automatic install until a person installs or releases it")
}

// A flag a person left: the portal says it is foreign, offers the button, and the
// route takes it down (to app_offline.bak) and answers with the module's entry.
func TestMaintenanceOffThroughPortal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "web")
	f.cfg.Modules[0].MaintenanceFile = "app_offline.htm"
	require.NoError(t, os.MkdirAll(f.cfg.Modules[0].Path, 0o755))
	flag := filepath.Join(f.cfg.Modules[0].Path, "app_offline.htm")
	require.NoError(t, os.WriteFile(flag, []byte("en maintenance"), 0o644))
	s := serve(t, newAgent(t, f.cfg))
	page := s.page()
	require.Regexp(t, `<button type="button" data-action="maintenance-off">`, page)
	require.Regexp(t, `data-field="foreign">The maintenance flag`, page)
	require.True(t, s.modules()[0].MaintenanceForeign)

	st, body, _ := s.do("POST", "/api/modules/web/maintenance-off", "", "X-Upkeep-Token: "+s.token)
	require.Equal(t, http.StatusOK, st, body)
	var m agent.ModuleView
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	require.Equal(t, "web", m.Name)
	require.False(t, m.MaintenanceForeign)
	require.False(t, m.Maintenance)
	require.NoFileExists(t, flag)
	require.FileExists(t, filepath.Join(f.cfg.Modules[0].Path, "app_offline.bak"))
	require.NotContains(t, s.page(), `<button type="button" data-action="maintenance-off">`)

	st, body, _ = s.do("POST", "/api/modules/web/maintenance-off", "", "X-Upkeep-Token: "+s.token)
	require.Equal(t, http.StatusConflict, st, body)
	require.Contains(t, body, "no flag file")
	st, _, _ = s.do("POST", "/api/modules/web/maintenance-off", "")
	require.Equal(t, http.StatusForbidden, st, "the token is needed as for every POST")
}
