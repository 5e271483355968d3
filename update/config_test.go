package update_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update"
)

// TestConfigErrorInCode: a Config built in Go is reported with its Go field names, in
// the io/fs shape, and the error matches ErrConfig, the cause and CodeConfig.
func TestConfigErrorInCode(t *testing.T) {
	t.Parallel()
	good := func() update.Config {
		return update.Config{Source: "x", Keys: []string{"k"}, StateDir: "/s",
			Modules: []update.ModuleConfig{{Name: "a", Path: "/a"}, {Name: "b", Path: "/b"}}}
	}
	tests := []struct {
		change func(c *update.Config)
		want   string
	}{
		{func(c *update.Config) { c.StateDir = "" }, "update: config StateDir: missing"},
		{func(c *update.Config) { c.Modules[1].Path = "" }, "update: config Modules[1].Path: missing"},
		{func(c *update.Config) { c.Modules[0].MaintenanceFile = "../x" }, `update: config Modules[0].MaintenanceFile: "../x" must be a plain file name`},
		{func(c *update.Config) { c.Retention = -1 }, "update: config Retention: must be at least 1"},
		{func(c *update.Config) { c.Workers = -2 }, "update: config Workers: must be at least 1 (or 0 for GOMAXPROCS), got -2"},
		{func(c *update.Config) { c.Modules[1].Kind = "tape" }, `update: config Modules[1].Kind: "tape": want "files" or "database"`},
		{func(c *update.Config) { c.Modules[1].Kind = update.KindDatabase }, `update: config Modules[1].Database: missing: a database module needs {"driver":…,"dsn":…}`},
		{func(c *update.Config) {
			c.Modules[1] = update.ModuleConfig{Name: "db", Kind: update.KindDatabase, Database: &update.DatabaseConfig{Driver: "mysql", DSN: "x"}}
		}, `update: config Modules[1].Database.Driver: "mysql": want "sqlite" or "postgres"`},
		{func(c *update.Config) {
			c.Modules[1] = update.ModuleConfig{Name: "db", Kind: update.KindDatabase, Database: &update.DatabaseConfig{Driver: "sqlite", DSN: "x", DSNFile: "/y"}}
		}, `update: config Modules[1].Database.DSN: give exactly one of dsn and dsn_file`},
		{func(c *update.Config) {
			c.Modules[1] = update.ModuleConfig{Name: "db", Kind: update.KindDatabase, Database: &update.DatabaseConfig{Driver: "sqlite", DSN: "x", ScriptTimeout: "soon"}}
		}, `update: config Modules[1].Database.ScriptTimeout: "soon": want a positive Go duration such as "30m"`},
		{func(c *update.Config) { c.Modules[0].Database = &update.DatabaseConfig{Driver: "sqlite", DSN: "x"} }, `update: config Modules[0].Database: only a module of kind "database" has one`},
	}
	for _, tt := range tests {
		c := good()
		tt.change(&c)
		err := c.Validate()
		require.EqualError(t, err, tt.want)
		require.ErrorIs(t, err, update.ErrConfig)
		var ce *update.ConfigError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, update.CodeConfig, update.CodeOf(err))
	}
	c := good()
	c.Modules[1] = update.ModuleConfig{Name: "db", Kind: update.KindDatabase, Database: &update.DatabaseConfig{Driver: "postgres", DSNFile: "/etc/db.dsn"}}
	require.NoError(t, c.Validate(), "a database module needs no path")
	cause := errors.New("no such platform")
	err := &update.ConfigError{Field: "platform", Err: cause}
	require.EqualError(t, err, "update: config Platform: no such platform")
	require.ErrorIs(t, err, cause)
	require.ErrorIs(t, err, update.ErrConfig)
}

func TestGoFieldPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"state_dir":                    "StateDir",
		"modules[1].path":              "Modules[1].Path",
		"modules[12].maintenance_file": "Modules[12].MaintenanceFile",
		"allow_unsigned_hfsql":         "AllowUnsignedHFSQL",
		"keys[0]":                      "Keys[0]",
		"(json)":                       "(json)",
	} {
		require.Equal(t, want, update.GoFieldPath(in), in)
	}
}
