package publish

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/upkeep-go/upkeep/pack"
)

// DefaultExpires is how long a manifest that [Publish] or [Refresh] signs stays valid
// unless [WithExpires] says otherwise.
const DefaultExpires = 30 * 24 * time.Hour

// options are the settings of [Publish] and [Refresh]; see the WithX functions.
type options struct {
	expires time.Duration
	now     func() time.Time
	build   []pack.BuildOption // WithMethod, WithModTime
	product string
	lockFor time.Duration // 0: as long as the context lives
	logger  *slog.Logger
	deltas  int
}

// Option configures [Publish] and [Refresh]. Options that only concern the pack
// ([WithMethod], [WithModTime]) have no effect on Refresh.
type Option func(*options) error

func newOptions(opts []Option) (*options, error) {
	o := &options{
		expires: DefaultExpires,
		now:     time.Now,
		deltas:  DefaultDeltas,
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

// WithExpires sets how long the signed manifest stays valid, from the clock's now.
// Default: [DefaultExpires] (30 days). d must be positive.
func WithExpires(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("expiry %v: want a positive duration", d)
		}
		o.expires = d
		return nil
	}
}

// WithClock sets the clock that dates the release and the manifest's expiry. Default:
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return errors.New("WithClock: nil clock")
		}
		o.now = now
		return nil
	}
}

// WithMethod sets how the pack's files are compressed. Default: the pack package's
// ([pack.Deflate]).
func WithMethod(m pack.Method) Option {
	return func(o *options) error {
		o.build = append(o.build, pack.WithMethod(m))
		return nil
	}
}

// WithModTime sets the modification time written for every entry of the pack, so that
// the same build gives the same bytes whenever it is packed (SOURCE_DATE_EPOCH, see
// [pack.SourceDateEpoch]). Default (and with the zero time): each file's own time.
func WithModTime(t time.Time) Option {
	return func(o *options) error {
		if !t.IsZero() {
			o.build = append(o.build, pack.WithModTime(t))
		}
		return nil
	}
}

// WithProduct sets the product a repository's manifest names. A new repository takes
// it (default: the module's name); an existing repository whose manifest names another
// product is refused, so that a release cannot land in the wrong product's repository.
func WithProduct(name string) Option {
	return func(o *options) error {
		o.product = name
		return nil
	}
}

// WithLockTimeout bounds how long Publish and Refresh wait while another publication
// holds the repository's lock; then they fail with a [*LockedError] naming the holder.
// Default: 0, waiting as long as the context lives. It bounds the wait only, not the
// building of the pack.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("lock timeout %v: want a duration of at least 0", d)
		}
		o.lockFor = d
		return nil
	}
}

// WithLogger sets where Publish and Refresh say what they do (waiting for the
// repository's lock, completing an interrupted publication). Default: discarded.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		o.logger = l
		return nil
	}
}

// DefaultDeltas is how many earlier versions [Publish] builds deltas from unless
// [WithDeltas] says otherwise.
const DefaultDeltas = 3

// WithDeltas sets from how many earlier versions of the same module and platform
// (the newest below the published one) [Publish] builds a delta. 0 builds none.
// Default: [DefaultDeltas] (3).
func WithDeltas(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("deltas %d: want 0 or more", n)
		}
		o.deltas = n
		return nil
	}
}
