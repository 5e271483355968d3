package agent_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update/agent"
)

// "major" is a key of the agent configuration, global and per module.
func TestConfigMajor(t *testing.T) {
	t.Parallel()
	c, err := agent.ParseConfig([]byte(`{"source":"/r","keys":["k.pub"],"state_dir":"/s","major":22,
		"modules":[{"name":"hfsql","path":"/srv/hfsql"},{"name":"other","path":"/srv/other","major":23}]}`), "/etc/upkeep")
	require.NoError(t, err)
	require.Equal(t, 22, c.Major)
	require.Equal(t, 0, c.Modules[0].Major, "the global major applies")
	require.Equal(t, 23, c.Modules[1].Major)
}
