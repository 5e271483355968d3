// Package seam lets the module's own packages reach what package update keeps
// unexported: the test knobs that update/updatetest offers, and the plumbing that the
// agent, the fleet master and the database agent need from an engine. Package update
// fills these variables in its init; nothing else may set them. Values typed any are
// an update.Option (results) or an *update.Engine (arguments): this package cannot
// import update, which imports it.
package seam

import (
	"time"
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
