package update_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	good := `{"source":"http://127.0.0.1:8090/","keys":["pub"],"state_dir":"state","check_interval":"36h",
	  "auto_install":{"days":["sat","sun"],"hours":"02:00-05:00"},
	  "modules":[{"name":"ecommerce","path":"/srv/ecommerce","strategy":"inplace","maintenance_file":"app_offline.htm","installed":"5.1.0"}]}`
	c, err := update.ParseConfig([]byte(good), "/etc/upkeep")
	require.NoError(t, err)
	require.Equal(t, filepath.Join("/etc/upkeep", "pub"), c.Keys[0])
	require.Equal(t, filepath.Join("/etc/upkeep", "state"), c.StateDir)
	require.Equal(t, 36*time.Hour, time.Duration(c.CheckInterval))
	require.Equal(t, 1, c.Threshold)
	require.Equal(t, "stable", c.Channel)
	require.Equal(t, update.InPlace, c.Modules[0].Strategy)

	bad := []struct{ json, field string }{
		{`{"keys":["k"],"state_dir":"/s","modules":[{"name":"a","path":"/a"}]}`, "source"},
		{`{"source":"x","state_dir":"/s","modules":[{"name":"a","path":"/a"}]}`, "keys"},
		{`{"source":"x","keys":["k"],"modules":[{"name":"a","path":"/a"}]}`, "state_dir"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","modules":[]}`, "modules"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","modules":[{"name":"a","path":"/a"},{"name":"a","path":"/b"}]}`, "modules[1].name"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","modules":[{"name":"../a","path":"/a"}]}`, "modules[0].name"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","modules":[{"name":"a","path":"/a","strategy":"copy"}]}`, "modules[0].strategy"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","modules":[{"name":"a","path":"/a","maintenance_file":"../x"}]}`, "modules[0].maintenance_file"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","check_interval":"soon","modules":[{"name":"a","path":"/a"}]}`, "(json)"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","threshold":"2","modules":[{"name":"a","path":"/a"}]}`, "threshold"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","auto_install":{"days":["someday"]},"modules":[{"name":"a","path":"/a"}]}`, "auto_install"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","auto_install":{"hours":"2-5"},"modules":[{"name":"a","path":"/a"}]}`, "auto_install"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","modulez":[]}`, "(json)"},
		{`{"source":"x"} {}`, "(json)"},
		{`[`, "(json)"},
	}
	for _, tt := range bad {
		_, err := update.ParseConfig([]byte(tt.json), "/etc")
		var ce *update.ConfigError
		require.True(t, errors.As(err, &ce), "%s: %v", tt.json, err)
		require.Equal(t, tt.field, ce.Field, "%s: %v", tt.json, err)
		require.ErrorIs(t, err, update.ErrConfig)
	}
}

func TestLoadConfigNamesFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "agent.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"source":"x","keys":["k"],"state_dir":"s","modules":[{"name":"a","path":"rel","strategy":"copy"}]}`), 0o644))
	_, err := update.LoadConfig(p)
	require.Error(t, err)
	require.Contains(t, err.Error(), p+": modules[0].strategy")
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"source":"http://127.0.0.1/","keys":["k"],"state_dir":"/s","modules":[{"name":"a","path":"/a"}]}`))
	f.Add([]byte(`{"source":"x","keys":["k"],"state_dir":"/s","auto_install":{"days":["sat"],"hours":"23:00-01:00"},"modules":[{"name":"a","path":"/a","strategy":"inplace"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := update.ParseConfig(data, "/base")
		if err != nil {
			var ce *update.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error is not a ConfigError: %v", err)
			}
			return
		}
		for _, m := range c.Modules {
			if !filepath.IsAbs(m.Path) || (m.Strategy != update.Swap && m.Strategy != update.InPlace) {
				t.Fatalf("accepted a bad module: %+v", m)
			}
		}
	})
}

func TestWindow(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04", s)
		require.NoError(t, err)
		return tm
	}
	// 2026-11-21 is a Saturday.
	tests := []struct {
		w    update.Window
		t    string
		want bool
	}{
		{update.Window{Days: []string{"sat", "sun"}, Hours: "02:00-05:00"}, "2026-11-21 03:00", true},
		{update.Window{Days: []string{"sat", "sun"}, Hours: "02:00-05:00"}, "2026-11-21 05:00", false},
		{update.Window{Days: []string{"sat", "sun"}, Hours: "02:00-05:00"}, "2026-11-23 03:00", false},
		{update.Window{Hours: "23:00-01:00"}, "2026-11-23 23:30", true},
		{update.Window{Hours: "23:00-01:00"}, "2026-11-23 00:30", true},
		{update.Window{Hours: "23:00-01:00"}, "2026-11-23 12:00", false},
		{update.Window{Days: []string{"sat"}, Hours: "23:00-01:00"}, "2026-11-22 00:30", true}, // Saturday night
		{update.Window{Days: []string{"sat"}, Hours: "23:00-01:00"}, "2026-11-21 00:30", false},
		{update.Window{Days: []string{"MON"}}, "2026-11-23 12:00", true},
		{update.Window{}, "2026-11-23 12:00", true},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.w.Contains(at(tt.t)), "%+v at %s", tt.w, tt.t)
	}
}
