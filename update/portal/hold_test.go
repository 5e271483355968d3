package portal_test

import (
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
