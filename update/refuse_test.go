package update_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/maintenance"
	"github.com/upkeep-go/upkeep/update/publish"
)

// What used to be accepted silently is refused, naming what is wrong.
func TestConfigRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	_, err := update.New(e.cfg, update.WithHook("wbe", hooks.Func(nil)))
	require.ErrorIs(t, err, update.ErrUnknownModule)
	require.ErrorContains(t, err, `update: WithHook("wbe"): `)
	require.ErrorContains(t, err, "(configured: web)")
	_, err = update.New(e.cfg, update.WithMaintenance("nope", maintenance.NewState()))
	require.ErrorIs(t, err, update.ErrUnknownModule)
	_, err = update.New(e.cfg, update.WithHook("web", hooks.Func(nil)))
	require.NoError(t, err)

	c := e.cfg
	c.StateDir = filepath.Join(e.module, "state")
	_, err = update.New(c)
	require.ErrorContains(t, err, "update: config StateDir: ")
	require.ErrorContains(t, err, `is inside the folder of module "web"`)

	c = e.cfg
	c.Modules = append(c.Modules, update.ModuleConfig{Name: "assets", Path: filepath.Join(e.module, "assets")})
	_, err = update.New(c)
	require.ErrorContains(t, err, "update: config Modules[1].Path: ")
	require.ErrorContains(t, err, "nest")
	c.Modules = []update.ModuleConfig{{Name: "all", Path: filepath.Dir(e.module)}, e.cfg.Modules[0]}
	_, err = update.New(c)
	require.ErrorContains(t, err, "update: config Modules[1].Path: ")
	c.Modules = []update.ModuleConfig{{Name: "a", Path: e.module + "-a"}, e.cfg.Modules[0]}
	_, err = update.New(c)
	require.NoError(t, err, "a sibling whose name starts the same does not nest")

	for _, tt := range []struct {
		src string
		ok  bool
	}{{"http://127.0.0.1:8090/", true}, {"file:///srv/repo", true}, {t.TempDir(), true},
		{"127.0.0.1:8090", false}, {filepath.Join(t.TempDir(), "nosuch"), false}} {
		c := update.Config{Source: tt.src}
		err := c.CheckSource()
		if tt.ok {
			require.NoError(t, err, tt.src)
			continue
		}
		require.ErrorContains(t, err, "is neither a URL", tt.src)
	}
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o644))
	c = update.Config{Source: f}
	require.ErrorContains(t, c.CheckSource(), "(it is not a folder)")
}

// A channel the manifest never listed is a warning of check.
func TestUnknownChannelWarned(t *testing.T) {
	t.Parallel()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	e.repo.PublishBuild(publish.Build{Module: "web", Version: "1.1.0", Platform: platform, Channel: "beta"}, v2)
	e.cfg.Channel = "betta"
	rep, err := e.engine(t).Check(context.Background())
	require.NoError(t, err)
	require.Len(t, rep.Warnings, 1)
	require.Contains(t, rep.Warnings[0], `channel "betta": the manifest lists no release in it (channels it lists: beta, stable)`)
	e.cfg.Channel = "beta"
	rep, err = e.engine(t).Check(context.Background())
	require.NoError(t, err)
	require.Empty(t, rep.Warnings)
}
