package update

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/internal/limited"
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

// Config is the engine's configuration: where updates come from, which keys are
// trusted, where state is kept, and the modules to keep up to date.
//
// Product is the product whose manifest is accepted. When empty, the product of the
// first manifest accepted is pinned in the state dir and only it is accepted
// afterwards, so that a source serving another product's manifest signed by the same
// publisher key is refused. Setting it to another product than the pinned one is how
// an agent is moved to that product: the other product's serial no longer counts.
type Config struct {
	Source             string         `json:"source"`
	Product            string         `json:"product,omitempty"`
	Keys               []string       `json:"keys"`
	Threshold          int            `json:"threshold,omitempty"`
	StateDir           string         `json:"state_dir"`
	Platform           string         `json:"platform,omitempty"`
	Language           string         `json:"language,omitempty"`
	Channel            string         `json:"channel,omitempty"`
	AllowUnsignedHFSQL bool           `json:"allow_unsigned_hfsql,omitempty"`
	CheckInterval      Duration       `json:"check_interval,omitzero"`
	AutoInstall        *Window        `json:"auto_install,omitempty"`
	Retention          int            `json:"retention,omitempty"`
	Modules            []ModuleConfig `json:"modules"`
}

// ModuleConfig is one module of the configuration.
type ModuleConfig struct {
	Name            string   `json:"name"`
	Path            string   `json:"path"`
	Strategy        Strategy `json:"strategy,omitempty"`
	MaintenanceFile string   `json:"maintenance_file,omitempty"`
	Scripts         string   `json:"scripts,omitempty"`
	Installed       string   `json:"installed,omitempty"`
}

// Duration is a time.Duration read from JSON as a Go duration string ("36h") or a
// number of days ("30d").
type Duration time.Duration

// UnmarshalJSON accepts "90s", "36h", "30d".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"24h\" or \"30d\"")
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// ParseDuration reads a Go duration ("90s", "36h") or a number of days ("30d").
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && fmt.Sprint(days) == n && days > 0 {
			return time.Duration(days) * 24 * time.Hour, nil
		}
		return 0, fmt.Errorf("bad duration %q: want a positive number of days such as \"30d\"", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad duration %q: want a positive Go duration such as \"36h\" or days such as \"30d\"", s)
	}
	return d, nil
}

// ConfigError is a configuration that cannot be used: it names the file and the field.
type ConfigError struct {
	File  string // the configuration file, "" when built in code
	Field string // JSON path of the field at fault, e.g. "modules[1].path"
	Err   error
}

// Error describes the failure, naming what is at fault.
func (e *ConfigError) Error() string {
	where := e.Field
	if e.File != "" {
		where = e.File + ": " + e.Field
	}
	return where + ": " + e.Err.Error()
}

// Unwrap returns the causes, for errors.Is and errors.As.
func (e *ConfigError) Unwrap() error { return e.Err }

// ErrConfig is wrapped by every ConfigError.
var ErrConfig = errors.New("update: invalid configuration")

// MaxConfigSize bounds an agent configuration file.
const MaxConfigSize = 1 << 20

// LoadConfig reads and validates an agent configuration file. Relative paths inside it
// are taken relative to the file's folder.
func LoadConfig(path string) (*Config, error) {
	data, err := limited.ReadFile(path, MaxConfigSize)
	if err != nil {
		return nil, &ConfigError{File: path, Field: "(file)", Err: err}
	}
	c, err := ParseConfig(data, filepath.Dir(path))
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.File = path
		}
		return nil, err
	}
	return c, nil
}

// ParseConfig parses and validates an agent configuration; relative paths are taken
// relative to base. Unknown fields are errors (a misspelt field would otherwise be
// silently ignored).
func ParseConfig(data []byte, base string) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return nil, &ConfigError{Field: ute.Field, Err: fmt.Errorf("%w: want %s, got JSON %s", ErrConfig, ute.Type, ute.Value)}
		}
		return nil, &ConfigError{Field: "(json)", Err: fmt.Errorf("%w: %v", ErrConfig, err)}
	}
	if dec.More() {
		return nil, &ConfigError{Field: "(json)", Err: fmt.Errorf("%w: data after the configuration object", ErrConfig)}
	}
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	for i, k := range c.Keys {
		c.Keys[i] = abs(k)
	}
	c.StateDir = abs(c.StateDir)
	if c.Source != "" && !strings.Contains(c.Source, "://") {
		c.Source = abs(c.Source)
	}
	for i := range c.Modules {
		c.Modules[i].Path = abs(c.Modules[i].Path)
		c.Modules[i].Scripts = abs(c.Modules[i].Scripts)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks the configuration and fills defaults (threshold 1, channel stable,
// this machine's platform, strategy swap).
func (c *Config) Validate() error { return c.validate(true, true) }

// validate is Validate; New asks for Source and Keys only when no WithSource or
// WithKeyring option gives them.
func (c *Config) validate(needSource, needKeys bool) error {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Field: field, Err: fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)}
	}
	if c.Source == "" && needSource {
		return bad("source", "missing (or give the engine a source with WithSource)")
	}
	if c.StateDir == "" {
		return bad("state_dir", "missing")
	}
	if len(c.Keys) == 0 && needKeys {
		return bad("keys", "missing: at least one trusted public key file is needed (or give the engine a keyring with WithKeyring)")
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
	if c.Retention == 0 {
		c.Retention = 2
	}
	if c.Retention < 1 {
		return bad("retention", "must be at least 1")
	}
	if c.AutoInstall != nil {
		if err := c.AutoInstall.validate(); err != nil {
			return &ConfigError{Field: "auto_install", Err: fmt.Errorf("%w: %v", ErrConfig, err)}
		}
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
