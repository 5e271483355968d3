package fleet

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/internal/limited"
)

// Role is what a server is in its fleet.
type Role string

// Roles.
const (
	RoleMaster Role = "master"
	RoleSlave  Role = "slave"
)

// String returns the role's name.
func (r Role) String() string { return string(r) }

// Mode is how a slave receives its work.
type Mode string

// Modes.
const (
	// ModePush: the master calls the slave's listen address when there is work.
	ModePush Mode = "push"
	// ModeMailbox: only the slave opens connections; its (long) poll receives the work.
	ModeMailbox Mode = "mailbox"
)

// DefaultPollInterval is a slave's poll_interval when the configuration gives none.
const DefaultPollInterval = 30 * time.Second

// MaxTokenFileSize bounds a token file.
const MaxTokenFileSize = 4 << 10

// Config is the "fleet" block of an agent configuration file (CLI.md "Fleet").
type Config struct {
	Role Role `json:"role"`
	// Listen is the address served: the fleet API on a master, the wake-up endpoint
	// of a push slave.
	Listen string `json:"listen,omitempty"`
	// Store is "sqlite:PATH", or a PostgreSQL URL "postgres://…" that several masters
	// may share (master).
	Store string `json:"store,omitempty"`
	// EnrolTokenFile holds the shared enrolment token (master and slave).
	EnrolTokenFile string `json:"enrol_token_file,omitempty"`
	// AdminTokenFile holds the token of admin commands (master).
	AdminTokenFile string `json:"admin_token_file,omitempty"`
	// TLSCertFile and TLSKeyFile make the master serve TLS (optional; without them the
	// master listens on loopback only).
	TLSCertFile string `json:"tls_cert_file,omitempty"`
	TLSKeyFile  string `json:"tls_key_file,omitempty"`
	// Master is the master's URL (slave): https://…, or http:// on loopback only.
	Master string `json:"master,omitempty"`
	// Name is the server's name in the fleet (slave; on a master, the name its own row
	// has in the servers list, default "master").
	Name string `json:"name,omitempty"`
	// Mode is push or mailbox (slave).
	Mode Mode `json:"mode,omitempty"`
	// PollInterval is the time between polls (slave), DefaultPollInterval if zero.
	PollInterval Duration `json:"poll_interval,omitzero"`
	// MasterCAFile pins the master's certificate (slave): only certificates that chain
	// to it are accepted.
	MasterCAFile string `json:"master_ca_file,omitempty"`
	// MaxConnsPerClient bounds the connections one client address holds open on the
	// master (master; MasterOptions.MaxConnsPerClient): raise it when more slaves
	// than DefaultMaxConnsPerClient share one address (a NAT); -1: no bound.
	// Default (0): DefaultMaxConnsPerClient.
	MaxConnsPerClient int `json:"max_conns_per_client,omitempty"`
}

// Duration is a time.Duration read from JSON as a Go duration string ("30s").
type Duration time.Duration

// UnmarshalJSON reads "30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`want a duration string such as "30s"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("bad duration %q: want a positive Go duration such as \"30s\"", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// ConfigError names the key of the "fleet" block at fault.
type ConfigError struct {
	Field string // "fleet.role"
	Err   error
}

func (e *ConfigError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

func cfgErr(field, format string, args ...any) error {
	return &ConfigError{Field: "fleet." + field, Err: fmt.Errorf(format, args...)}
}

// ParseConfig reads the "fleet" block (raw JSON) of a configuration file whose
// folder is base (relative paths are taken from there) and validates it. Unknown
// keys are errors.
func ParseConfig(raw []byte, base string) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return nil, cfgErr(ute.Field, "want %s, got JSON %s", ute.Type, ute.Value)
		}
		return nil, &ConfigError{Field: "fleet", Err: err}
	}
	if dec.More() {
		return nil, cfgErr("", "data after the object")
	}
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	for _, p := range []*string{&c.EnrolTokenFile, &c.AdminTokenFile, &c.TLSCertFile, &c.TLSKeyFile, &c.MasterCAFile} {
		abs(p)
	}
	if rest, ok := strings.CutPrefix(c.Store, "sqlite:"); ok && rest != "" && !filepath.IsAbs(rest) {
		c.Store = "sqlite:" + filepath.Join(base, rest)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks the block for its role and fills the defaults.
func (c *Config) Validate() error {
	switch c.Role {
	case RoleMaster:
		if c.Listen == "" {
			return cfgErr("listen", "missing: the master's address, such as \"127.0.0.1:8443\"")
		}
		if c.Store == "" {
			return cfgErr("store", `missing: "sqlite:PATH" or "postgres://…"`)
		}
		if (!strings.HasPrefix(c.Store, "sqlite:") || len(c.Store) == len("sqlite:")) && !isPostgres(c.Store) {
			return cfgErr("store", "%q: want \"sqlite:PATH\" or \"postgres://…\"", c.Store)
		}
		if c.EnrolTokenFile == "" {
			return cfgErr("enrol_token_file", "missing")
		}
		if c.AdminTokenFile == "" {
			return cfgErr("admin_token_file", "missing")
		}
		if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
			return cfgErr("tls_cert_file", "tls_cert_file and tls_key_file go together")
		}
		if c.TLSCertFile == "" && !loopbackAddr(c.Listen) {
			return cfgErr("listen", "%q is not a loopback address: plain http is for loopback only, set tls_cert_file and tls_key_file", c.Listen)
		}
		if c.Name == "" {
			c.Name = "master"
		}
		if c.MaxConnsPerClient < -1 {
			return cfgErr("max_conns_per_client", "%d: want a positive number, or -1 for no bound", c.MaxConnsPerClient)
		}
	case RoleSlave:
		if c.Master == "" {
			return cfgErr("master", "missing: the master's URL")
		}
		if err := checkMasterURL(c.Master); err != nil {
			return &ConfigError{Field: "fleet.master", Err: err}
		}
		if err := ValidateName(c.Name); err != nil {
			return &ConfigError{Field: "fleet.name", Err: err}
		}
		switch c.Mode {
		case ModeMailbox:
		case ModePush:
			if c.Listen == "" {
				return cfgErr("listen", "missing: a push slave serves the master's calls there")
			}
		case "":
			return cfgErr("mode", `missing: "push" or "mailbox"`)
		default:
			return cfgErr("mode", "%q: want \"push\" or \"mailbox\"", c.Mode)
		}
		if c.EnrolTokenFile == "" {
			return cfgErr("enrol_token_file", "missing")
		}
		if c.PollInterval == 0 {
			c.PollInterval = Duration(DefaultPollInterval)
		}
	case "":
		return cfgErr("role", `missing: "master" or "slave"`)
	default:
		return cfgErr("role", "%q: want \"master\" or \"slave\"", c.Role)
	}
	return nil
}

// checkMasterURL accepts https URLs, and http ones on loopback only.
func checkMasterURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopbackHost(u.Hostname()) {
			return fmt.Errorf("%q: plain http is accepted for a loopback master only, use https", s)
		}
	default:
		return fmt.Errorf("%q: want an https:// URL (or http:// on loopback)", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: no host", s)
	}
	return nil
}

func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && loopbackHost(host)
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// MaxNameLen bounds a server's or an update's name, in bytes.
const MaxNameLen = 128

// CleanName trims white space around an update's or a server's name (the seed warns
// that a trailing space broke the upload) and validates what remains.
func CleanName(s string) (string, error) {
	s = strings.TrimSpace(s)
	return s, ValidateName(s)
}

// ValidateName checks a name: non-empty, at most MaxNameLen bytes, printable, no
// slash, backslash or surrounding white space.
func ValidateName(s string) error {
	switch {
	case s == "":
		return errors.New("empty name")
	case len(s) > MaxNameLen:
		return fmt.Errorf("name longer than %d bytes", MaxNameLen)
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("name %q has white space around it", s)
	case strings.ContainsAny(s, "/\\"):
		return fmt.Errorf("name %q holds a slash", s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return fmt.Errorf("name %q holds a control or invalid character", s)
		}
	}
	return nil
}

// ReadToken reads a token file: its first line, trimmed, at least 16 bytes.
func ReadToken(path string) (string, error) {
	b, err := limited.ReadFile(path, MaxTokenFileSize)
	if err != nil {
		return "", err
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	tok = strings.TrimSpace(tok)
	if len(tok) < 16 {
		return "", fmt.Errorf("token file %s: the token is shorter than 16 bytes", path)
	}
	return tok, nil
}

// sameSecret compares two secrets in constant time (their hashes, so that the length
// leaks nothing either).
func sameSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// String returns the duration as Go writes it ("30s").
func (d Duration) String() string { return time.Duration(d).String() }
