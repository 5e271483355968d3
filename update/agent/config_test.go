package agent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	good := `{"source":"http://127.0.0.1:8090/","keys":["pub"],"state_dir":"state","check_interval":"36h",
	  "auto_install":{"days":["sat","sun"],"hours":"02:00-05:00"},
	  "modules":[{"name":"ecommerce","path":"/srv/ecommerce","strategy":"inplace","maintenance_file":"app_offline.htm","installed":"5.1.0"}]}`
	c, err := agent.ParseConfig([]byte(good), "/etc/upkeep")
	require.NoError(t, err)
	require.Equal(t, filepath.Join("/etc/upkeep", "pub"), c.Keys[0])
	require.Equal(t, filepath.Join("/etc/upkeep", "state"), c.StateDir)
	require.Equal(t, 36*time.Hour, time.Duration(c.CheckInterval))
	require.Equal(t, 1, c.Threshold)
	require.Equal(t, "stable", c.Channel)
	require.Equal(t, update.InPlace, c.Modules[0].Strategy)

	bad := []struct{ json, field string }{
		{`{"keys":["k"],"state_dir":"/s","modules":[{"name":"a","path":"/a"}]}`, "source"},
		{`{"keys":["k"],"state_dir":"/s","modules":[{"name":"a","path":"/a"}],"fleet":{"role":"master"}}`, "source"},
		{`{"source":"x","state_dir":"/s","modules":[{"name":"a","path":"/a"}]}`, "keys"},
		{`{"source":"x","keys":["k"],"modules":[{"name":"a","path":"/a"}]}`, "state_dir"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","modules":[]}`, "modules"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","modules":[{"name":"a","path":"/a"},{"name":"a","path":"/b"}]}`, "modules[1].name"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","modules":[{"name":"../a","path":"/a"}]}`, "modules[0].name"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","modules":[{"name":"a","path":"/a","strategy":"copy"}]}`, "modules[0].strategy"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","modules":[{"name":"a","path":"/a","maintenance_file":"../x"}]}`, "modules[0].maintenance_file"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","check_interval":"soon","modules":[{"name":"a","path":"/a"}]}`, "check_interval"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","threshold":"2","modules":[{"name":"a","path":"/a"}]}`, "threshold"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","auto_install":{"days":["someday"]},"modules":[{"name":"a","path":"/a"}]}`, "auto_install"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","auto_install":{"hours":"2-5"},"modules":[{"name":"a","path":"/a"}]}`, "auto_install"},
		{`{"source":"x","keys":["k"],"state_dir":"/s","modulez":[]}`, "modulez"},
		{`{"source":"x"} {}`, "(json)"},
		{`[`, "(json)"},
	}
	for _, tt := range bad {
		_, err := agent.ParseConfig([]byte(tt.json), "/etc")
		var ce *update.ConfigError
		require.True(t, errors.As(err, &ce), "%s: %v", tt.json, err)
		require.Equal(t, tt.field, ce.Field, "%s: %v", tt.json, err)
		require.ErrorIs(t, err, update.ErrConfig)
	}
}

// TestConfigFleetSlaveNeedsNoSource: a fleet slave takes its updates from its
// master: its configuration may name no source, and its engine then checks nothing.
func TestConfigFleetSlaveNeedsNoSource(t *testing.T) {
	dir := t.TempDir()
	repo := updatetest.NewRepo(t)
	c, err := agent.ParseConfig([]byte(`{"keys":[`+strconv.Quote(repo.PubFile)+`],"state_dir":"s","modules":[{"name":"a","path":"a"}],
		"fleet":{"role":"slave","master":"http://127.0.0.1:1/","name":"n","mode":"mailbox","enrol_token_file":"t"}}`), dir)
	require.NoError(t, err)
	require.Empty(t, c.Source)
	eng, err := c.NewEngine()
	require.NoError(t, err)
	require.Empty(t, eng.Config().Source)
	_, err = eng.Check(context.Background())
	require.ErrorIs(t, err, agent.ErrNoSource)
}

func TestLoadConfigNamesFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "agent.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"source":"x","keys":["k"],"state_dir":"s","modules":[{"name":"a","path":"rel","strategy":"copy"}]}`), 0o644))
	_, err := agent.LoadConfig(p)
	require.Error(t, err)
	require.Contains(t, err.Error(), p+":1:80: modules[0].strategy")
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"source":"http://127.0.0.1/","keys":["k"],"state_dir":"/s","modules":[{"name":"a","path":"/a"}]}`))
	f.Add([]byte(`{"source":"x","keys":["k"],"state_dir":"/s","auto_install":{"days":["sat"],"hours":"23:00-01:00"},"modules":[{"name":"a","path":"/a","strategy":"inplace"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := agent.ParseConfig(data, "/base")
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
		w    agent.Window
		t    string
		want bool
	}{
		{agent.Window{Days: []string{"sat", "sun"}, Hours: "02:00-05:00"}, "2026-11-21 03:00", true},
		{agent.Window{Days: []string{"sat", "sun"}, Hours: "02:00-05:00"}, "2026-11-21 05:00", false},
		{agent.Window{Days: []string{"sat", "sun"}, Hours: "02:00-05:00"}, "2026-11-23 03:00", false},
		{agent.Window{Hours: "23:00-01:00"}, "2026-11-23 23:30", true},
		{agent.Window{Hours: "23:00-01:00"}, "2026-11-23 00:30", true},
		{agent.Window{Hours: "23:00-01:00"}, "2026-11-23 12:00", false},
		{agent.Window{Days: []string{"sat"}, Hours: "23:00-01:00"}, "2026-11-22 00:30", true}, // Saturday night
		{agent.Window{Days: []string{"sat"}, Hours: "23:00-01:00"}, "2026-11-21 00:30", false},
		{agent.Window{Days: []string{"MON"}}, "2026-11-23 12:00", true},
		{agent.Window{}, "2026-11-23 12:00", true},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.w.Contains(at(tt.t)), "%+v at %s", tt.w, tt.t)
	}
}

// TestConfigErrorShapes: an error of a configuration file names the file and the JSON
// key, in the io/fs shape, and matches update.ErrConfig, *update.ConfigError and
// update.CodeConfig.
func TestConfigErrorShapes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "agent.json")
	// FILE:LINE:COL, at the key at fault or the object that lacks it.
	tests := []struct{ json, want string }{
		{`{"source":"x","keys":["k"],"modules":[{"name":"a","path":"/a"}]}`, p + ":1:1: state_dir: missing"},
		{`{"source":"x","keys":["k"],"state_dir":"s","modules":[{"name":"a","path":"/a"},` + "\n" + `  {"name":"b"}]}`, p + ":2:3: modules[1].path: missing"},
		{`{"source":"x","keys":["k"],"state_dir":"s",` + "\n\t" + `"allow_unsigned_hfsql":1,"modules":[{"name":"a","path":"/a"}]}`, p + ":2:2: allow_unsigned_hfsql: want bool, got JSON number"},
		{`{"source":"x","keys":["k"],"state_dir":"s","auto_install":{"hours":"2-5"},"modules":[{"name":"a","path":"/a"}]}`, p + `:1:44: auto_install: hours: "2-5": want HH:MM-HH:MM`},
		{"{\n  \"source\":\"x\",\"keys\":[\"k\"],\n  \"stat_dir\":\"s\",\"modules\":[{\"name\":\"a\",\"path\":\"/a\"}]}", p + `:3:3: stat_dir: unknown key; did you mean "state_dir"?`},
		{`{"source":"x","keys":["k"],"state_dir":"s","modules":[{"name":"a","pth":"/a"}]}`, p + `:1:67: modules[0].pth: unknown key; did you mean "path"?`},
		{`{"source":"x","keys":["k"],"state_dir":"s","modules":[{"name":"a","path":"/a"}],"zzz":1}`, p + `:1:81: zzz: unknown key`},
		{"{\"source\":\"x\",\n\"keys\":[\"k\"}", p + `:2:12: (json): invalid character '}' after array element`},
		{`{"source":"x","keys":["k"],"state_dir":"s","modules":[{"name":"a","path":"/a"},` + "\n" + `{"name":1,"path":"/b"}]}`, p + `:2:2: modules[1].name: want string, got JSON number`},
		{`{"source":"x","keys":["k"],"state_dir":"s",` + "\n" + `"check_interval":"soon","modules":[{"name":"a","path":"/a"}]}`, p + `:2:1: check_interval: bad duration "soon": want a positive Go duration such as "36h" or days such as "30d"`},
	}
	for _, tt := range tests {
		require.NoError(t, os.WriteFile(p, []byte(tt.json), 0o644))
		_, err := agent.LoadConfig(p)
		require.EqualError(t, err, tt.want)
		require.ErrorIs(t, err, update.ErrConfig)
		var ce *update.ConfigError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, p, ce.File)
		require.Equal(t, update.CodeConfig, update.CodeOf(err))
	}
	_, err := agent.LoadConfig(filepath.Join(dir, "nosuch.json"))
	require.ErrorIs(t, err, update.ErrConfig)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, filepath.Join(dir, "nosuch.json")+": (file): ")
}

func TestAutoInstallForms(t *testing.T) {
	t.Parallel()
	base := `{"source":"x","keys":["k"],"state_dir":"/s","modules":[{"name":"a","path":"/a"}]`
	c, err := agent.ParseConfig([]byte(base+`,"auto_install":"always"}`), "/etc")
	require.NoError(t, err)
	require.Equal(t, &agent.Window{}, c.AutoInstall)
	require.True(t, c.AutoInstall.Contains(time.Now()))
	require.Equal(t, agent.RunOptions{AutoInstall: &agent.Window{}}, c.RunOptions())

	c, err = agent.ParseConfig([]byte(base+`,"check_interval":"2d","auto_install":{"days":["sun"],"hours":"01:00-02:00"}}`), "/etc")
	require.NoError(t, err)
	require.Equal(t, &agent.Window{Days: []string{"sun"}, Hours: "01:00-02:00"}, c.AutoInstall)
	require.Equal(t, 48*time.Hour, c.RunOptions().Interval)

	c, err = agent.ParseConfig([]byte(base+`}`), "/etc")
	require.NoError(t, err)
	require.Nil(t, c.AutoInstall, "no auto_install: download only")

	for _, bad := range []string{`"sometimes"`, `{"days":["sun"],"hourz":"01:00-02:00"}`, `{"days":"sun"}`, `3`} {
		_, err := agent.ParseConfig([]byte(base+`,"auto_install":`+bad+`}`), "/etc")
		require.ErrorIs(t, err, update.ErrConfig, bad)
	}
}

// TestConfigValidateInCode: a Config built in Go names the Go fields.
func TestConfigValidateInCode(t *testing.T) {
	t.Parallel()
	c := agent.Config{Config: update.Config{Source: "x", Keys: []string{"k"}, StateDir: "/s",
		Modules: []update.ModuleConfig{{Name: "a", Path: "/a"}}}}
	require.NoError(t, c.Validate())
	c.AutoInstall = &agent.Window{Days: []string{"someday"}}
	require.EqualError(t, c.Validate(), `update: config AutoInstall: days[0]: "someday" is not a day (mon, tue, wed, thu, fri, sat, sun)`)
	c.AutoInstall, c.CheckInterval = nil, agent.Duration(-time.Hour)
	require.EqualError(t, c.Validate(), "update: config CheckInterval: -1h0m0s is negative")
	c.CheckInterval, c.StateDir = 0, ""
	require.EqualError(t, c.Validate(), "update: config StateDir: missing")
}

// TestScriptTimeoutBesideKind: a database module's script_timeout is read inside its
// "database" block and beside its "kind" alike (the command's reference gives it per
// database module); the two must not disagree, and a files module has none.
func TestScriptTimeoutBesideKind(t *testing.T) {
	t.Parallel()
	conf := func(module string) []byte {
		return []byte(`{"source":"http://127.0.0.1:8090/","keys":["pub"],"state_dir":"state","modules":[` + module + `]}`)
	}
	for _, m := range []string{
		`{"name":"db","kind":"database","script_timeout":"2s","database":{"driver":"sqlite","dsn":"/d.db"}}`,
		`{"name":"db","kind":"database","database":{"driver":"sqlite","dsn":"/d.db","script_timeout":"2s"}}`,
		`{"name":"db","kind":"database","script_timeout":"2s","database":{"driver":"sqlite","dsn":"/d.db","script_timeout":"2s"}}`,
	} {
		c, err := agent.ParseConfig(conf(m), "/etc/upkeep")
		require.NoError(t, err, m)
		require.Equal(t, "2s", c.Modules[0].Database.ScriptTimeout, m)
		require.Empty(t, c.Modules[0].ScriptTimeout, m)
	}
	for _, tt := range []struct{ module, field, msg string }{
		{`{"name":"db","kind":"database","script_timeout":"2s","database":{"driver":"sqlite","dsn":"/d.db","script_timeout":"5s"}}`,
			"modules[0].script_timeout", `"2s", and database.script_timeout is "5s": give one`},
		{`{"name":"db","kind":"database","script_timeout":"never","database":{"driver":"sqlite","dsn":"/d.db"}}`,
			"modules[0].database.script_timeout", `"never": want a positive Go duration`},
		{`{"name":"web","path":"/srv/web","script_timeout":"2s"}`,
			"modules[0].script_timeout", `only a module of kind "database" runs scripts`},
	} {
		_, err := agent.ParseConfig(conf(tt.module), "/etc/upkeep")
		var ce *update.ConfigError
		require.ErrorAs(t, err, &ce, tt.module)
		require.Equal(t, tt.field, ce.Field, tt.module)
		require.ErrorContains(t, err, tt.msg, tt.module)
	}
}
