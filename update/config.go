package update

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/update/maintenance"
	"github.com/upkeep-go/upkeep/update/servicectl"
)

// Strategy is how a module's new tree replaces the live one.
type Strategy string

const (
	// Swap exchanges the staged tree and the live folder by rename (one atomic
	// renameat2(RENAME_EXCHANGE) on Linux). The previous tree is kept beside the module.
	Swap Strategy = "swap"
	// InPlace replaces files inside the live folder, for folders that other software
	// points at by path. The previous tree is archived (tar+zstd) in the state dir first.
	InPlace Strategy = "inplace"
)

// Config is what the engine needs: where updates come from, which keys are trusted,
// where state is kept, and the modules to keep up to date. Its JSON keys are those of
// the agent configuration file, which package update/agent reads (with the schedule
// the agent adds).
//
// Product is the product whose manifest is accepted. When empty, the product of the
// first manifest accepted is pinned in the state dir and only it is accepted
// afterwards, so that a source serving another product's manifest signed by the same
// publisher key is refused. Setting it to another product than the pinned one is how
// an agent is moved to that product: the other product's serial no longer counts.
type Config struct {
	Source        string   `json:"source"`
	Product       string   `json:"product,omitempty"`
	Keys          []string `json:"keys"`
	Threshold     int      `json:"threshold,omitempty"`
	RootKeys      []string `json:"root_keys,omitempty"`
	RootThreshold int      `json:"root_threshold,omitempty"`
	StateDir      string   `json:"state_dir"`
	Platform      string   `json:"platform,omitempty"`
	Language      string   `json:"language,omitempty"`
	Channel       string   `json:"channel,omitempty"`
	// Major, when set, is the only major version of release offered to every module
	// (HFSQL's major_version: a v22 server is not offered version 23); a module's own
	// Major overrides it. Default (0): every major version.
	Major     int            `json:"major,omitempty"`
	Retention int            `json:"retention,omitempty"`
	Modules   []ModuleConfig `json:"modules"`
	// Workers is the number of goroutines that extract a pack and write a backup.
	// Default (0): GOMAXPROCS. It is set in code only, not in the configuration file.
	Workers int `json:"-"`
}

// Root keys: when RootKeys names key files, the signing keys are not configured but
// read from the repository's keys.json, which at least RootThreshold (default 1) of
// the root keys must have signed; Keys must then be empty (the key set replaces them,
// which is what makes removing a key from it a revocation) and Threshold is the
// number of distinct signing keys of the key set that must sign the manifest and each
// pack. See DESIGN.md "Keys over time".

// ModuleConfig is one module of the configuration.
type ModuleConfig struct {
	Name            string   `json:"name"`
	Path            string   `json:"path"`
	Strategy        Strategy `json:"strategy,omitempty"`
	MaintenanceFile string   `json:"maintenance_file,omitempty"`
	Scripts         string   `json:"scripts,omitempty"`
	Installed       string   `json:"installed,omitempty"`
	// Major is the only major version of release offered to this module. Default (0):
	// the configuration's Major.
	Major int `json:"major,omitempty"`
	// Kind is what the module is: KindFiles (the default) or KindDatabase.
	Kind ModuleKind `json:"kind,omitempty"`
	// Database is where a KindDatabase module's scripts run.
	Database *DatabaseConfig `json:"database,omitempty"`
	// ScriptTimeout is a KindDatabase module's Database.ScriptTimeout given beside
	// "kind" rather than inside "database": both places are read, and they must not
	// disagree. Validation moves it into Database.
	ScriptTimeout string `json:"script_timeout,omitempty"`
	// Service is what runs the module ("service" in the configuration file, with its
	// "kind" and "name"): the engine stops it once maintenance is on and starts it
	// again before maintenance goes off, also when an install or a rollback fails and
	// is undone. Default (nil): none.
	Service *servicectl.Service `json:"service,omitempty"`
}

// ModuleKind is what a module is made of.
type ModuleKind string

// Module kinds.
const (
	// KindFiles is a tree of files at Path, swapped or replaced in place.
	KindFiles ModuleKind = "files"
	// KindDatabase is a database whose packs hold SQL scripts (package
	// update/dbscript); it has no Path.
	KindDatabase ModuleKind = "database"
)

// DatabaseConfig is the database of a KindDatabase module: Driver "sqlite" or
// "postgres", and the DSN given inline or in a file (kept out of the configuration,
// which the portal may show).
type DatabaseConfig struct {
	Driver  string `json:"driver"`
	DSN     string `json:"dsn,omitempty"`
	DSNFile string `json:"dsn_file,omitempty"`
	// Schema is the PostgreSQL schema of the module's objects. Default: public.
	Schema string `json:"schema,omitempty"`
	// ScriptTimeout ("script_timeout") bounds each script, a Go duration such as
	// "30m": past it the script's transaction is rolled back whole and the install
	// fails with code script_failed, "timed out" in its reason. On PostgreSQL the
	// server enforces it too, as the transaction's lock_timeout and
	// statement_timeout. Default (""): 30m.
	ScriptTimeout string `json:"script_timeout,omitempty"`
}

// scriptTimeout returns ScriptTimeout as a duration, 30 minutes when it is not set.
func scriptTimeout(s string) time.Duration {
	if v, err := time.ParseDuration(s); err == nil && v > 0 {
		return v
	}
	return 30 * time.Minute
}

// ConfigError is a configuration that cannot be used: it names the field at fault and,
// for a configuration file, the file. Its message has the io/fs shape: "update: config
// StateDir: missing" (Go field names) for a Config built in code, "FILE: state_dir:
// missing" (the JSON keys the file holds) for a file, "FILE:LINE:COL: state_dir:
// missing" when the line is known (package update/agent's LoadConfig fills it in). It
// matches ErrConfig and its cause with errors.Is.
type ConfigError struct {
	File      string // the configuration file, "" when built in code
	Line, Col int    // where in File the field (or the object lacking it) is; 0 when unknown
	Field     string // JSON path of the field at fault, e.g. "modules[1].path"
	Err       error  // the cause
}

// Error describes the failure, naming what is at fault.
func (e *ConfigError) Error() string {
	msg := "invalid"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.File != "" && e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Line, e.Col, e.Field, msg)
	}
	if e.File != "" {
		return e.File + ": " + e.Field + ": " + msg
	}
	return "update: config " + goFieldPath(e.Field) + ": " + msg
}

// Unwrap returns ErrConfig and the cause, for errors.Is and errors.As.
func (e *ConfigError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrConfig}
	}
	return []error{ErrConfig, e.Err}
}

// ErrConfig is matched by every ConfigError.
var ErrConfig = errors.New("update: invalid configuration")

// goFieldPath turns the JSON path of a configuration field into the Go one, for a
// Config built in code: "modules[1].path" becomes "Modules[1].Path",
// "root_keys" becomes "RootKeys". A path that is not a field, such
// as "(json)", is returned as it is.
func goFieldPath(path string) string {
	if strings.HasPrefix(path, "(") {
		return path
	}
	var b strings.Builder
	for i, seg := range strings.Split(path, ".") {
		if i > 0 {
			b.WriteByte('.')
		}
		name, index, _ := strings.Cut(seg, "[")
		for _, w := range strings.Split(name, "_") {
			if up, ok := initialisms[w]; ok {
				b.WriteString(up)
			} else if w != "" {
				b.WriteString(strings.ToUpper(w[:1]) + w[1:])
			}
		}
		if index != "" {
			b.WriteString("[" + index)
		}
	}
	return b.String()
}

// initialisms are the words of JSON keys that Go field names write in capitals.
var initialisms = map[string]string{"hfsql": "HFSQL", "id": "ID", "url": "URL", "dsn": "DSN"}

// validate checks the configuration and fills defaults (threshold 1, channel stable,
// this machine's platform, strategy swap). New asks for Source and Keys only when no
// WithSource or WithKeyring option gives them; package update/agent's LoadConfig,
// which validates a configuration file without building an engine, asks for both
// through update/internal/seam.
func (c *Config) validate(needSource, needKeys bool) error {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Field: field, Err: fmt.Errorf(format, args...)}
	}
	if c.Source == "" && needSource {
		return bad("source", "missing (or give the engine a source with WithSource)")
	}
	if c.StateDir == "" {
		return bad("state_dir", "missing")
	}
	switch {
	case c.Workers < 0:
		return bad("workers", "must be at least 1 (or 0 for GOMAXPROCS), got %d", c.Workers)
	case c.Workers == 0:
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if len(c.RootKeys) > 0 && len(c.Keys) > 0 {
		return bad("keys", "given with root_keys: with root keys the signing keys come from the repository's keys.json; remove \"keys\"")
	}
	if len(c.Keys) == 0 && len(c.RootKeys) == 0 && needKeys {
		return bad("keys", "missing: at least one trusted public key file is needed, or root_keys (or give the engine a keyring with WithKeyring)")
	}
	if c.RootThreshold == 0 && len(c.RootKeys) > 0 {
		c.RootThreshold = 1
	}
	if c.RootThreshold < 0 || c.RootThreshold > 0 && len(c.RootKeys) == 0 || c.RootThreshold > len(c.RootKeys)*64 {
		return bad("root_threshold", "%d is out of range (it counts distinct keys of root_keys)", c.RootThreshold)
	}
	if len(c.Product) > maxProduct {
		return bad("product", "%.40q... is longer than %d bytes", c.Product, maxProduct)
	}
	if strings.ContainsFunc(c.Product, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return bad("product", "%q holds a control character", c.Product)
	}
	if c.Threshold == 0 {
		c.Threshold = 1
	}
	if c.Threshold < 0 || len(c.Keys) > 0 && c.Threshold > len(c.Keys)*64 {
		return bad("threshold", "%d is out of range", c.Threshold)
	}
	if c.Channel == "" {
		c.Channel = "stable"
	}
	if c.Platform == "" {
		c.Platform = runtime.GOOS + "/" + runtime.GOARCH
	}
	if c.Major < 0 {
		return bad("major", "%d is negative (0 accepts every major version)", c.Major)
	}
	if c.Retention == 0 {
		c.Retention = 2
	}
	if c.Retention < 1 {
		return bad("retention", "must be at least 1")
	}
	if len(c.Modules) == 0 {
		return bad("modules", "missing: at least one module is needed")
	}
	seen := map[string]bool{}
	for i := range c.Modules {
		m := &c.Modules[i]
		f := fmt.Sprintf("modules[%d]", i)
		if m.Name == "" {
			return bad(f+".name", "missing")
		}
		if !validModuleName(m.Name) {
			return bad(f+".name", "%q: use letters, digits, '.', '_' and '-' only", m.Name)
		}
		if seen[m.Name] {
			return bad(f+".name", "module %q appears twice", m.Name)
		}
		seen[m.Name] = true
		if m.Major < 0 {
			return bad(f+".major", "%d is negative (0 takes the global major)", m.Major)
		}
		switch m.Kind {
		case "", KindFiles:
			if m.Database != nil {
				return bad(f+".database", "only a module of kind \"database\" has one")
			}
			if m.ScriptTimeout != "" {
				return bad(f+".script_timeout", "only a module of kind \"database\" runs scripts")
			}
		case KindDatabase:
			if m.ScriptTimeout != "" && m.Database != nil {
				switch m.Database.ScriptTimeout {
				case "":
					d := *m.Database // the caller's DatabaseConfig is not changed
					d.ScriptTimeout, m.Database = m.ScriptTimeout, &d
				case m.ScriptTimeout:
				default:
					return bad(f+".script_timeout", "%q, and database.script_timeout is %q: give one", m.ScriptTimeout, m.Database.ScriptTimeout)
				}
				m.ScriptTimeout = ""
			}
			if err := m.Database.validate(); err != nil {
				return bad(f+".database"+err.field, "%v", err.err)
			}
		default:
			return bad(f+".kind", "%q: want \"files\" or \"database\"", m.Kind)
		}
		if m.Path == "" && m.Kind == KindDatabase {
			continue
		}
		if m.Path == "" {
			return bad(f+".path", "missing")
		}
		if !filepath.IsAbs(m.Path) {
			return bad(f+".path", "%q must be absolute", m.Path)
		}
		switch m.Strategy {
		case "":
			m.Strategy = Swap
		case Swap, InPlace:
		default:
			return bad(f+".strategy", "%q: want \"swap\" or \"inplace\"", m.Strategy)
		}
		if m.MaintenanceFile != "" && (strings.ContainsAny(m.MaintenanceFile, `/\`) || m.MaintenanceFile == "." || m.MaintenanceFile == "..") {
			return bad(f+".maintenance_file", "%q must be a plain file name", m.MaintenanceFile)
		}
		if m.Service != nil {
			if err := m.Service.Validate(); err != nil {
				return &ConfigError{Field: f + ".service", Err: err}
			}
		}
	}
	return c.checkFolders()
}

// checkFolders refuses a state dir inside a module's folder and module folders that
// nest: each update replaces a module's folder as a whole, so what lies inside it would
// be swapped away with it (or, kept in a backup, later pruned).
func (c *Config) checkFolders() error {
	inside := func(p, dir string) bool {
		rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(p))
		return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
	}
	for i := range c.Modules {
		m := &c.Modules[i]
		if m.Path == "" {
			continue
		}
		if filepath.IsAbs(c.StateDir) && inside(c.StateDir, m.Path) {
			return &ConfigError{Field: "state_dir", Err: fmt.Errorf("%q is inside the folder of module %q (%s), which each update replaces: keep the state dir elsewhere", c.StateDir, m.Name, m.Path)}
		}
		for j := range c.Modules[:i] {
			o := &c.Modules[j]
			if o.Path != "" && (inside(m.Path, o.Path) || inside(o.Path, m.Path)) {
				return &ConfigError{Field: fmt.Sprintf("modules[%d].path", i), Err: fmt.Errorf("%q and the folder of module %q (%s) nest: each update replaces a module's folder as a whole, so module folders must be apart", m.Path, o.Name, o.Path)}
			}
		}
	}
	return nil
}

type fieldErr struct {
	field string
	err   error
}

func (d *DatabaseConfig) validate() *fieldErr {
	if d == nil {
		return &fieldErr{"", errors.New("missing: a database module needs {\"driver\":…,\"dsn\":…}")}
	}
	if d.Driver != "sqlite" && d.Driver != "postgres" {
		return &fieldErr{".driver", fmt.Errorf("%q: want \"sqlite\" or \"postgres\"", d.Driver)}
	}
	if (d.DSN == "") == (d.DSNFile == "") {
		return &fieldErr{".dsn", errors.New("give exactly one of dsn and dsn_file")}
	}
	if d.ScriptTimeout != "" {
		if v, err := time.ParseDuration(d.ScriptTimeout); err != nil || v <= 0 {
			return &fieldErr{".script_timeout", fmt.Errorf("%q: want a positive Go duration such as \"30m\"", d.ScriptTimeout)}
		}
	}
	return nil
}

// maxProduct is the longest product name a manifest may carry.
const maxProduct = 256

// Module returns the configuration of the named module.
func (c *Config) Module(name string) (*ModuleConfig, error) {
	for i := range c.Modules {
		if c.Modules[i].Name == name {
			return &c.Modules[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %q is not a configured module", ErrUnknownModule, name)
}

func validModuleName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 128 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// majorOf returns the major version module m is restricted to: its own, else the
// configuration's; 0 when releases of every major version are offered.
func (c *Config) majorOf(m *ModuleConfig) int {
	if m.Major != 0 {
		return m.Major
	}
	return c.Major
}

// checkOptions refuses a WithHook or WithMaintenance for a module the configuration
// does not have: a misspelt name would otherwise leave the hook silently unused.
func (c *Config) checkOptions(hks map[string]hooks.Hook, maint map[string]*maintenance.State) error {
	check := func(opt, name string) error {
		if _, err := c.Module(name); err != nil {
			names := make([]string, len(c.Modules))
			for i, m := range c.Modules {
				names[i] = m.Name
			}
			return fmt.Errorf("update: %s(%q): %w (configured: %s)", opt, name, err, strings.Join(names, ", "))
		}
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(hks)) {
		if err := check("WithHook", name); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(maint)) {
		if err := check("WithMaintenance", name); err != nil {
			return err
		}
	}
	return nil
}

// checkSource refuses a Source that is neither a URL nor an existing folder
// ("127.0.0.1:8090", which would otherwise name a folder beside the configuration
// file). Package update/agent's LoadConfig calls it through update/internal/seam; New
// does not, since a program may create its repository folder after the engine.
func (c *Config) checkSource() error {
	src := c.Source
	if src == "" || strings.Contains(src, "://") {
		return nil
	}
	fi, err := os.Stat(src)
	if err == nil && fi.IsDir() {
		return nil
	}
	why := "does not exist"
	if err == nil {
		why = "is not a folder"
	}
	return &ConfigError{Field: "source", Err: fmt.Errorf("%q is neither a URL (http://HOST:PORT/…, https://…, file:///…) nor an existing folder (it %s)", src, why)}
}
