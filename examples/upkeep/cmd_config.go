package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/fleet"
)

func init() {
	register(&command{name: "config", summary: "check a configuration file (the effective configuration as JSON), or print a commented example", run: runConfig})
}

// errSilentUsage makes the command exit 2 without printing anything more (it has
// written its message itself).
var errSilentUsage = errors.New("usage error shown")

func runConfig(ctx context.Context, cl *cli, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fmt.Fprint(cl.stderr, `usage:
  upkeep config check --config FILE   check FILE as `+"`upkeep agent`"+` reads it; print the effective
                                      configuration (defaults filled in) as JSON; exit 2 with
                                      FILE:LINE:COL: key: message when it is bad
  upkeep config example               print a commented example that config check accepts
`)
		if len(args) == 0 {
			return errSilentUsage
		}
		return errHelpShown
	}
	switch args[0] {
	case "check":
		return configCheck(cl, args[1:])
	case "example":
		fs := cl.newFlags("config example", "upkeep config example")
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if err := exactArgs(pos, 0, "no argument"); err != nil {
			return err
		}
		_, err = io.WriteString(cl.stdout, configExample)
		return err
	}
	return usagef("unknown config subcommand %q (want check or example)", args[0])
}

// configCheck reads the file as the agent does: the configuration (LoadConfig: keys,
// types, values, the source) and its fleet block. Key files and the state dir are not
// opened: the agent does that when it starts.
func configCheck(cl *cli, args []string) error {
	fs := cl.newFlags("config check", "upkeep config check --config FILE")
	config := fs.String("config", "", "agent configuration `file`")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no positional argument"); err != nil {
		return err
	}
	if *config == "" {
		return usagef("--config is required")
	}
	bad := func(err error) error {
		fmt.Fprintln(cl.stderr, oneLine(err.Error()))
		return errSilentUsage
	}
	cfg, err := agent.LoadConfig(*config)
	if err != nil {
		return bad(err)
	}
	eff := *cfg
	if eff.CheckInterval == 0 {
		eff.CheckInterval = agent.Duration(agent.DefaultInterval)
	}
	if len(cfg.Fleet) > 0 {
		abs, err := filepath.Abs(*config)
		if err != nil {
			return err
		}
		fc, err := fleet.ParseConfig(cfg.Fleet, filepath.Dir(abs))
		if err != nil {
			return bad(fleetConfigErr(cfg, err))
		}
		if eff.Fleet, err = json.Marshal(fc); err != nil {
			return err
		}
	}
	for i := range eff.Modules {
		if eff.Modules[i].Kind == "" {
			eff.Modules[i].Kind = update.KindFiles
		}
	}
	b, err := json.MarshalIndent(effective(reflect.ValueOf(eff)), "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(cl.stdout, "%s\n", b)
	return err
}

// orderedObject is a JSON object whose keys keep their order.
type orderedObject struct {
	keys   []string
	values []any
}

// MarshalJSON writes the keys in order.
func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(o.values[i])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

var (
	marshalerType = reflect.TypeFor[json.Marshaler]()
	rawType       = reflect.TypeFor[json.RawMessage]()
	windowType    = reflect.TypeFor[agent.Window]()
)

// effective turns a configuration value into what `config check` prints: every key
// of its JSON tags, also those the file left out (omitempty is ignored), so that the
// defaults in force show.
func effective(v reflect.Value) any {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch {
	case v.Type() == rawType:
		if v.Len() == 0 {
			return nil
		}
		return json.RawMessage(v.Bytes())
	case v.Type() == windowType && v.Field(0).Len() == 0 && v.Field(1).String() == "":
		return "always"
	case v.Type().Implements(marshalerType) && v.Kind() != reflect.Struct:
		return v.Interface()
	}
	switch v.Kind() {
	case reflect.Struct:
		var o orderedObject
		walkFields(v, &o)
		return o
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = effective(v.Index(i))
		}
		return out
	}
	return v.Interface()
}

func walkFields(v reflect.Value, o *orderedObject) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			walkFields(v.Field(i), o)
			continue
		}
		if name == "" {
			name = f.Name
		}
		o.keys = append(o.keys, name)
		o.values = append(o.values, effective(v.Field(i)))
	}
}

// configExample is what `upkeep config example` prints: every key the agent reads,
// explained. docs/configuration.md is the reference.
const configExample = `// upkeep agent configuration (JSON; "//" comments run to the end of the line).
// Relative paths are relative to this file's folder. Reference: docs/configuration.md
{
  "source": "https://updates.example.com/altazion/", // the update server, file:///dir or a folder
  "product": "altazion",              // the product whose manifest is accepted ("": pinned at the first)
  "keys": ["/etc/upkeep/publisher.pub"], // the publisher's minisign public keys
  "threshold": 1,                     // how many distinct keys must sign
  "state_dir": "/var/lib/upkeep",     // where upkeep keeps its state, backups and downloads
  "platform": "linux/amd64",          // default: this machine's
  "language": "",                     // the pack language wanted ("": any)
  "channel": "stable",                // stable, beta, ...
  "major": 0,                         // only releases of this major version (0: any)
  "retention": 2,                     // backups kept per module
  "check_interval": "24h",            // time between checks: "90m", "36h", "7d"
  "auto_install": {"days": ["sat", "sun"], "hours": "02:00-05:00"}, // or "always", or null
  "lang": "fr",                       // the portal's language: "en", "fr", "" (the browser's)
  "modules": [
    {
      "name": "ecommerce",
      "path": "/srv/ecommerce",
      "strategy": "swap",             // or "inplace"
      "maintenance_file": "app_offline.htm",
      "scripts": "/etc/upkeep/scripts", // hook scripts PHASE_module.ext
      "installed": "5.1.0",           // the version already there before upkeep
      "service": {"kind": "systemd", "name": "ecommerce.service"} // stopped during maintenance
    },
    {
      "name": "catalogue",
      "kind": "database",
      "database": {"driver": "postgres", "dsn_file": "/etc/upkeep/catalogue.dsn"}
    }
  ]
  // A fleet member adds a "fleet" block, for example:
  // "fleet": {"role": "slave", "master": "https://master.example.com:8443/", "name": "shop-1",
  //           "mode": "mailbox", "poll_interval": "30s", "enrol_token_file": "/etc/upkeep/enrol.token"}
}
`
