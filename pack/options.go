package pack

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"runtime"
)

// Default limits of [DefaultLimits]; each is overridable with [WithLimits].
const (
	DefaultMaxTotal     int64 = 4 << 30 // bytes of output in all
	DefaultMaxFiles           = 100_000 // entries (files, folders and links)
	DefaultMaxFileSize  int64 = 4 << 30 // bytes of output of one entry
	DefaultMaxRatio     int64 = 200     // output bytes per compressed byte…
	DefaultRatioMinSize int64 = 1 << 20 // …for entries larger than this
	DefaultMaxDepth           = 256     // path segments of one entry name
)

// Limits bound what a pack may make an extraction write. Sizes are checked first
// against the sizes the pack declares, then against the bytes actually decompressed,
// so a pack that lies about its sizes is stopped too. In a Limits given to
// [WithLimits], a zero field takes the default and a negative field means no limit.
type Limits struct {
	MaxTotal     int64 // bytes of output of the whole pack
	MaxFiles     int   // number of entries
	MaxFileSize  int64 // bytes of output of one entry
	MaxRatio     int64 // output bytes per compressed byte, for entries above RatioMinSize
	RatioMinSize int64 // entries up to this size are not ratio-checked
	MaxDepth     int   // path segments of one entry name ("a/b/c" has 3)
}

// DefaultLimits returns the default limits: 4 GiB in all and per entry, 100,000
// entries, no entry larger than 1 MiB inflating more than 200:1, and no entry more
// than 256 folders deep.
func DefaultLimits() Limits {
	return Limits{
		MaxTotal:     DefaultMaxTotal,
		MaxFiles:     DefaultMaxFiles,
		MaxFileSize:  DefaultMaxFileSize,
		MaxRatio:     DefaultMaxRatio,
		RatioMinSize: DefaultRatioMinSize,
		MaxDepth:     DefaultMaxDepth,
	}
}

// withDefaults fills zero fields with the defaults and turns negative ones into
// "no limit".
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	const unlimited = int64(1<<63 - 1)
	pick := func(v, def int64) int64 {
		switch {
		case v == 0:
			return def
		case v < 0:
			return unlimited
		}
		return v
	}
	l.MaxTotal = pick(l.MaxTotal, d.MaxTotal)
	l.MaxFileSize = pick(l.MaxFileSize, d.MaxFileSize)
	l.MaxRatio = pick(l.MaxRatio, d.MaxRatio)
	switch {
	case l.RatioMinSize == 0:
		l.RatioMinSize = d.RatioMinSize
	case l.RatioMinSize < 0:
		l.RatioMinSize = 0
	}
	l.MaxFiles = pickInt(l.MaxFiles, d.MaxFiles)
	l.MaxDepth = pickInt(l.MaxDepth, d.MaxDepth)
	return l
}

// pickInt is withDefaults' rule for an int field.
func pickInt(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return int(^uint(0) >> 1)
	}
	return v
}

// syncMode is how an extracted tree is made durable before it is renamed into place.
type syncMode uint8

const (
	syncPerFile syncMode = iota // fsync each file and folder
	syncFS                      // one syncfs(2) of the filesystem (Linux)
	syncNone                    // nothing
)

// options are the settings of [Extract] and [ReadInfo].
type options struct {
	limits    Limits
	workers   int
	verify    func(io.Reader) error
	progress  func(done, total int64)
	sync      syncMode
	logger    *slog.Logger
	allowCase bool
	allowOW   bool
	fetch     FetchFunc // ApplyDelta only
}

// Option configures [Extract] or [ReadInfo].
type Option func(*options) error

func newOptions(opts []Option) (*options, error) {
	o := &options{
		limits:  DefaultLimits(),
		workers: runtime.GOMAXPROCS(0),
		sync:    defaultSync,
		logger:  slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// WithLimits replaces the default limits ([DefaultLimits]); zero fields keep their
// default, negative fields lift the limit.
func WithLimits(l Limits) Option {
	return func(o *options) error {
		o.limits = l.withDefaults()
		return nil
	}
}

// WithWorkers sets how many entries are decompressed at once. Default:
// runtime.GOMAXPROCS(0).
func WithWorkers(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return errors.New("pack: WithWorkers: need at least one worker")
		}
		o.workers = n
		return nil
	}
}

// WithVerify makes [Extract] read the whole pack once through f, before any entry is
// written: f gets a reader over bytes [0, size) of the same io.ReaderAt that is then
// extracted, and an error from f aborts the extraction with nothing written (the
// error wraps [ErrVerify] and f's error). Default: no verification.
func WithVerify(f func(r io.Reader) error) Option {
	return func(o *options) error {
		o.verify = f
		return nil
	}
}

// WithProgress makes [Extract] call f with the bytes of output written so far and the
// total the pack declares. Calls never overlap and done never decreases; the last
// call has done == total when the extraction succeeds. Default: none.
func WithProgress(f func(done, total int64)) Option {
	return func(o *options) error {
		o.progress = f
		return nil
	}
}

// WithoutSync skips making the extracted tree durable before it is renamed into
// place (for tests and tmpfs). Default: the tree is synced.
func WithoutSync() Option {
	return func(o *options) error {
		o.sync = syncNone
		return nil
	}
}

// WithLogger sets the logger for debug messages. Default: discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		o.logger = l
		return nil
	}
}

// AllowCaseCollisions accepts names that differ only by case ("README" and "readme").
// Default: refused with [ErrDuplicate], as they collide on case-insensitive
// filesystems (Windows, macOS).
func AllowCaseCollisions() Option {
	return func(o *options) error {
		o.allowCase = true
		return nil
	}
}

// AllowWorldWritable installs the write permission for others (o+w) that a pack's
// files and folders ask for. Default: it is cleared, so that no other account may
// change or replace what was extracted.
func AllowWorldWritable() Option {
	return func(o *options) error {
		o.allowOW = true
		return nil
	}
}

// installMode is the mode an entry of mode m is given: its permissions without o+w
// (unless [AllowWorldWritable]), and the sticky bit of a folder.
func (o *options) installMode(m fs.FileMode) fs.FileMode {
	perm := m.Perm()
	if !o.allowOW {
		perm &^= 0o002
	}
	if m.IsDir() {
		perm |= m & fs.ModeSticky
	}
	return perm
}

// withSyncMode chooses the durability strategy (benchmarks compare them).
func withSyncMode(m syncMode) Option {
	return func(o *options) error {
		o.sync = m
		return nil
	}
}
