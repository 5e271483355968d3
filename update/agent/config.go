package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/internal/limited"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/internal/seam"
)

// Config is the agent configuration file (the one `upkeep --config` reads): the engine's configuration
// (update.Config, whose JSON keys it shares, at the top level of the file) and the
// schedule the agent adds.
type Config struct {
	update.Config
	// CheckInterval is the time between checks ("check_interval"). Default (0): Run's
	// default.
	CheckInterval Duration `json:"check_interval,omitzero"`
	// AutoInstall is the window for automatic installs ("auto_install"): the object
	// form, or the string "always" for any time. Default (nil): nothing is installed
	// automatically, updates are only downloaded.
	AutoInstall *Window `json:"auto_install,omitempty"`
	// Fleet is the "fleet" block, kept raw: package update/fleet parses it
	// (fleet.ParseConfig). Default (nil): the agent is in no fleet.
	Fleet json.RawMessage `json:"fleet,omitempty"`
	// Lang is the language of the portal's pages ("lang"): "en" or "fr". Default
	// (""): the browser's Accept-Language, else English.
	Lang string `json:"lang,omitempty"`
	// AllowUnsignedHFSQL ("allow_unsigned_hfsql") lets the engine read HFSQL's unsigned
	// hfsql_updateinfo.json when the source has no manifest.json and no signed manifest
	// was accepted before (the HFSQL seed: the vendor publishes no signature). Packs
	// are still verified. Default: false.
	AllowUnsignedHFSQL bool `json:"allow_unsigned_hfsql,omitempty"`

	file string // the file LoadConfig read, for Locate
	src  []byte
}

// NewEngine returns the engine c describes, with opts: update.New over c's
// update.Config, plus what only the configuration file sets: allow_unsigned_hfsql,
// and for a fleet slave that names no source, a source that answers every fetch with
// ErrNoSource (its engine's Config().Source is then "", and Run makes no scheduled
// check). An error names the key at fault in the file, as Locate does.
func (c *Config) NewEngine(opts ...update.Option) (*update.Engine, error) {
	opts = append(c.engineOptions(), opts...)
	if c.AllowUnsignedHFSQL {
		opts = append(opts, seam.UnsignedHFSQL().(update.Option))
	}
	eng, err := update.New(c.Config, opts...)
	if err != nil {
		return nil, c.Locate(err)
	}
	return eng, nil
}

// Locate gives err, when it is a *update.ConfigError (such as update.New returns for a
// key file that cannot be read), the configuration file and the line and column of
// the key at fault, so that it reads "FILE:LINE:COL: keys: …" rather than naming a Go
// field. Other errors, and errors of a Config not read by LoadConfig, are returned as
// they are.
func (c *Config) Locate(err error) error {
	if c == nil || c.file == "" {
		return err
	}
	return locate(err, c.file, c.src, nil)
}

// RunOptions returns the options of Run that the file sets (interval and window).
func (c *Config) RunOptions() RunOptions {
	return RunOptions{Interval: time.Duration(c.CheckInterval), AutoInstall: c.AutoInstall}
}

// Validate checks the configuration and fills the engine's defaults (threshold 1,
// channel stable, this machine's platform, strategy swap), as update.New does. The
// source may be left out by a fleet slave ("fleet": {"role": "slave", …}), whose
// updates come from its master: see NewEngine.
func (c *Config) Validate() error {
	// A fleet slave's updates come from its master: it may name no source.
	if err := seam.ValidateConfig(&c.Config, !c.fleetSlave()); err != nil {
		return err
	}
	if c.CheckInterval < 0 {
		return &update.ConfigError{Field: "check_interval", Err: fmt.Errorf("%s is negative", time.Duration(c.CheckInterval))}
	}
	if c.AutoInstall != nil {
		if err := c.AutoInstall.Validate(); err != nil {
			return &update.ConfigError{Field: "auto_install", Err: err}
		}
	}
	if err := checkLang(c.Lang); err != nil {
		return &update.ConfigError{Field: "lang", Err: err}
	}
	return nil
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

// MaxConfigSize bounds an agent configuration file.
const MaxConfigSize = 1 << 20

// LoadConfig reads and validates an agent configuration file. Relative paths inside it
// are taken relative to the file's folder. An error is an *update.ConfigError naming
// the file and the JSON key at fault.
func LoadConfig(path string) (*Config, error) {
	data, err := limited.ReadFile(path, MaxConfigSize)
	if err != nil {
		return nil, &update.ConfigError{File: path, Field: "(file)", Err: err}
	}
	// A relative path names a file of the working folder, and so does the folder its
	// own relative paths are relative to.
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &update.ConfigError{File: path, Field: "(file)", Err: err}
	}
	c, err := ParseConfig(data, filepath.Dir(abs))
	if err != nil {
		return nil, locate(err, path, data, nil)
	}
	c.file, c.src = path, data
	if err := seam.CheckSource(c.Source); err != nil {
		return nil, c.Locate(err)
	}
	return c, nil
}

// ParseConfig parses and validates an agent configuration; relative paths are taken
// relative to base. Unknown fields are errors (a misspelt field would otherwise be
// silently ignored); "//" comments, to the end of a line, are allowed. An error is an
// *update.ConfigError naming the JSON key at fault.
func ParseConfig(data []byte, base string) (*Config, error) {
	data = blankComments(data)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		if ce, ok := unknownKey(err, data); ok {
			return nil, ce
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(data, se.Offset-1) // Offset is just past the bad byte
			return nil, &update.ConfigError{Field: "(json)", Line: line, Col: col, Err: err}
		}
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			// The keys of the embedded update.Config come with its name in front.
			field := strings.TrimPrefix(ute.Field, "Config.")
			// The decoder's path has no array index: the key read last before the value
			// at fault, of the same name, has it ("modules[1].name").
			field = keyBefore(data, field, ute.Offset)
			return nil, &update.ConfigError{Field: field, Err: fmt.Errorf("want %s, got JSON %s", ute.Type, ute.Value)}
		}
		// A value a type of its own refused ("check_interval": "soon"): the key whose value
		// alone fails is the one at fault.
		return nil, &update.ConfigError{Field: failingKey(data), Err: err}
	}
	if dec.More() {
		return nil, &update.ConfigError{Field: "(json)", Err: errors.New("data after the configuration object")}
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
	for i, k := range c.RootKeys {
		c.RootKeys[i] = abs(k)
	}
	c.StateDir = abs(c.StateDir)
	if c.Source != "" && !strings.Contains(c.Source, "://") {
		c.Source = abs(c.Source)
	}
	for i := range c.Modules {
		c.Modules[i].Path = abs(c.Modules[i].Path)
		c.Modules[i].Scripts = abs(c.Modules[i].Scripts)
		if db := c.Modules[i].Database; db != nil {
			db.DSNFile = abs(db.DSNFile)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}
