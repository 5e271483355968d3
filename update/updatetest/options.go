package updatetest

import (
	"time"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/internal/seam"
)

// WithClock sets the clock an engine uses for manifest expiry and status times.
// Default: time.Now.
func WithClock(now func() time.Time) update.Option { return seam.Clock(now).(update.Option) }

// WithoutSync makes an engine skip the fsync of extracted trees, for tests on
// throw-away folders. Default: durable.
func WithoutSync() update.Option { return seam.NoSync().(update.Option) }

// WithBusyTimeout bounds how long an engine retries an operation on a locked file
// before the install fails naming the file. Default: 30s.
func WithBusyTimeout(d time.Duration) update.Option {
	return seam.BusyTimeout(d).(update.Option)
}

// WithUnsignedHFSQL lets an engine read an unsigned hfsql_updateinfo.json when the
// source has no manifest.json and no signed manifest was accepted before, as an agent
// configuration's "allow_unsigned_hfsql" does. Default: never.
func WithUnsignedHFSQL() update.Option { return seam.UnsignedHFSQL().(update.Option) }

// WithServiceTimeout bounds how long a module's service may take to stop or to start
// before the operation fails (and is undone). Default: servicectl.DefaultTimeout.
func WithServiceTimeout(d time.Duration) update.Option {
	return seam.ServiceTimeout(d).(update.Option)
}
