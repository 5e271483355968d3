package update_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/publish"
)

// HFSQL's major_version: a server configured for major 22 is offered 22's releases
// only, by check, download and install; a module's own major overrides the global one.
func TestMajorRestrictsOffer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	for _, r := range []struct {
		v     string
		major int
	}{{"22.0.1", 22}, {"22.0.5", 22}, {"23.0.0", 23}} {
		b := publish.Build{Module: "web", Version: r.v, Platform: platform, Major: r.major}
		e.repo.PublishBuild(b, map[string]string{"index.html": r.v})
	}
	require.NoError(t, os.MkdirAll(e.module, 0o755))
	e.cfg.Modules[0].Installed = "22.0.1"
	e.cfg.Major = 22
	ctx := context.Background()
	eng := e.engine(t)
	rep, err := eng.Check(ctx)
	require.NoError(t, err)
	require.Equal(t, manifest.StatusUpdate, rep.Modules[0].Status)
	require.Equal(t, "22.0.5", rep.Modules[0].Version, "a v22 server is not offered 23")
	res, err := eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"22.0.5"}, res.Installed)
	rep, err = eng.Check(ctx)
	require.NoError(t, err)
	require.Equal(t, manifest.StatusIneligible, rep.Modules[0].Status)
	require.Equal(t, update.Code(manifest.CodeOtherMajor), rep.Modules[0].Code)

	// The module's own major wins over the global one.
	e.cfg.Modules[0].Major = 23
	eng = e.engine(t)
	rep, err = eng.Check(ctx)
	require.NoError(t, err)
	require.Equal(t, "23.0.0", rep.Modules[0].Version)

	bad := e.cfg
	bad.Major = -1
	_, err = update.New(bad)
	require.ErrorContains(t, err, "update: config Major: -1 is negative")
	bad = e.cfg
	bad.Modules = []update.ModuleConfig{{Name: "web", Path: e.module, Major: -2}}
	_, err = update.New(bad)
	require.ErrorContains(t, err, "update: config Modules[0].Major: -2 is negative")
}
