package update_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/update"
)

// The latest version a status shows is never older than the installed one: an install
// of a version the last check had not seen yet (from the command, while the agent's
// portal shows the status) moves it too.
func TestLatestNeverOlderThanInstalled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	ctx := context.Background()
	eng := e.engine(t)
	_, err := eng.Check(ctx)
	require.NoError(t, err)
	e.repo.Publish("web", "1.1.0", platform, v2)
	_, err = eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	st, err := eng.ModuleStatus(ctx, "web")
	require.NoError(t, err)
	require.Equal(t, "1.1.0", *st.Installed)
	require.Equal(t, "1.1.0", *st.Latest)
	require.Equal(t, manifest.StatusUpToDate, st.CheckStatus, "the update the last check saw is installed (and more)")
	all, err := eng.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, "1.1.0", *all[0].Latest)
}
