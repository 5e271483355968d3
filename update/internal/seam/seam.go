// Package seam lets the module's own packages reach what package update keeps
// unexported: the test knobs that update/updatetest offers, and the plumbing that the
// agent, the fleet master and the database agent need from an engine. Package update
// fills these variables in its init; nothing else may set them. Values typed any are
// an update.Option (results) or an *update.Engine (arguments): this package cannot
// import update, which imports it.
package seam

import (
	"context"
	"time"

	"github.com/upkeep-go/upkeep/signature"
)

// Test knobs, each returning an update.Option.
var (
	// Clock sets the clock used for manifest expiry and status times.
	Clock func(now func() time.Time) any
	// NoSync skips fsync of extracted trees.
	NoSync func() any
	// BusyTimeout bounds how long an operation on a locked file is retried.
	BusyTimeout func(d time.Duration) any
	// ServiceTimeout bounds how long a module's service may take to stop or start.
	ServiceTimeout func(d time.Duration) any
)

// Plumbing the module's own packages need from an engine (an *update.Engine as e)
// and that an embedding program does not.
var (
	// AppliedPack is the folder holding the extracted, verified pack of the newest
	// version an install of an applied module installed or tried to install;
	// fs.ErrNotExist when there is none yet (update/dbscript/dbagent).
	AppliedPack func(ctx context.Context, e any, module string) (string, error)
	// OfferedPack is the folder holding the extracted, verified pack of the newest
	// version a Download fetched for a database module, and that version;
	// fs.ErrNotExist when there is none (update/dbscript/dbagent).
	OfferedPack func(ctx context.Context, e any, module string) (dir, version string, err error)
	// TrustedKeyring is the keyring packs are verified with now (update/fleet's
	// master, which verifies the packs slaves upload).
	TrustedKeyring func(ctx context.Context, e any) (*signature.Keyring, error)
	// DownloadPath is where Download keeps a version's pack file of a module
	// (update/fleet's slave, which installs what it staged).
	DownloadPath func(e any, module, version, file string) string
	// SetSource makes the engine fetch from url from the next fetch on
	// (update/agent's settings).
	SetSource func(e any, url string) error
	// UnsignedHFSQL is an update.Option that lets the engine read an unsigned
	// hfsql_updateinfo.json when the source has no manifest.json and no signed manifest
	// was accepted before (update/agent's "allow_unsigned_hfsql").
	UnsignedHFSQL func() any
	// CheckSource refuses a Config.Source that is neither a URL nor an existing
	// folder, with an *update.ConfigError naming "source" (update/agent).
	CheckSource func(source string) error
	// ScriptTimeout is a DatabaseConfig.ScriptTimeout as a duration, with its
	// default (update/dbscript/dbagent).
	ScriptTimeout func(s string) time.Duration
	// ValidateConfig checks an *update.Config and fills its defaults, as New does
	// with no WithKeyring, and with no WithSource when needSource is set
	// (update/agent's LoadConfig: a fleet slave's configuration may name no source).
	ValidateConfig func(c any, needSource bool) error
)
