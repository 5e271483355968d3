package update

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/manifest"
)

// Window is a maintenance window for automatic installs: days of the week and a range
// of hours in local time ("02:00-05:00"; a range may cross midnight).
type Window struct {
	Days  []string `json:"days"`  // "mon" … "sun"; empty = every day
	Hours string   `json:"hours"` // "HH:MM-HH:MM"; empty = all day
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

func (w *Window) validate() error {
	for i, d := range w.Days {
		if _, ok := weekdays[strings.ToLower(d)]; !ok {
			return fmt.Errorf("days[%d]: %q is not a day (mon, tue, wed, thu, fri, sat, sun)", i, d)
		}
	}
	if w.Hours != "" {
		if _, _, err := w.hours(); err != nil {
			return fmt.Errorf("hours: %w", err)
		}
	}
	return nil
}

func (w *Window) hours() (from, to int, err error) {
	a, b, ok := strings.Cut(w.Hours, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want HH:MM-HH:MM", w.Hours)
	}
	parse := func(s string) (int, error) {
		t, err := time.Parse("15:04", strings.TrimSpace(s))
		if err != nil {
			return 0, fmt.Errorf("%q: want HH:MM-HH:MM", w.Hours)
		}
		return t.Hour()*60 + t.Minute(), nil
	}
	if from, err = parse(a); err != nil {
		return 0, 0, err
	}
	if to, err = parse(b); err != nil {
		return 0, 0, err
	}
	return from, to, nil
}

// Contains reports whether t falls inside the window.
func (w *Window) Contains(t time.Time) bool {
	if len(w.Days) > 0 {
		day := t.Weekday()
		if w.Hours != "" {
			// For a window that crosses midnight, the early hours belong to the day before.
			if from, to, err := w.hours(); err == nil && from > to && t.Hour()*60+t.Minute() < to {
				day = t.Add(-24 * time.Hour).Weekday()
			}
		}
		ok := false
		for _, d := range w.Days {
			if weekdays[strings.ToLower(d)] == day {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if w.Hours == "" {
		return true
	}
	from, to, err := w.hours()
	if err != nil {
		return false
	}
	now := t.Hour()*60 + t.Minute()
	if from <= to {
		return now >= from && now < to
	}
	return now >= from || now < to
}

// RunOptions tunes Run.
type RunOptions struct {
	// Interval between checks. Default: the configuration's check_interval, else 24h.
	Interval time.Duration
	// Jitter spreads checks of a fleet: each wait is Interval ± up to Jitter. Default:
	// a tenth of Interval.
	Jitter time.Duration
	// OnCheck, if set, is called after every check.
	OnCheck func(*CheckReport, error)
}

// Run is the agent loop: Recover once, then check on a schedule, downloading in the
// background what is offered, and — when the configuration has an auto_install window
// and the time is inside it — installing it. A version whose install failed is not
// retried automatically until a newer one appears (an explicit Install may). Run
// returns when ctx is done.
func (e *Engine) Run(ctx context.Context, opts RunOptions) error {
	if _, err := e.Recover(ctx); err != nil {
		e.log.Error("recovery at start-up", "err", err)
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Duration(e.cfg.CheckInterval)
	}
	if opts.Interval <= 0 {
		opts.Interval = 24 * time.Hour
	}
	if opts.Jitter <= 0 {
		opts.Jitter = opts.Interval / 10
	}
	for {
		e.RunOnce(ctx, opts)
		wait := opts.Interval + time.Duration(rand.Int64N(int64(2*opts.Jitter+1))) - opts.Jitter
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// RunOnce is one round of Run: check, pre-download what is offered, and install it
// when the automatic window allows.
func (e *Engine) RunOnce(ctx context.Context, opts RunOptions) {
	rep, err := e.Check(ctx)
	if opts.OnCheck != nil {
		opts.OnCheck(rep, err)
	}
	if rep == nil || rep.Manifest == nil {
		return
	}
	auto := e.cfg.AutoInstall != nil && e.cfg.AutoInstall.Contains(e.now())
	for _, mc := range rep.Modules {
		if mc.Status != "update" || ctx.Err() != nil {
			continue
		}
		m, _ := e.cfg.Module(mc.Name)
		st, _ := e.loadStatus(m)
		if st != nil && st.FailedVersion == mc.Version {
			continue
		}
		// Background download, so that an install later only extracts.
		e.prefetch(ctx, m, mc.Selection)
		if !auto {
			continue
		}
		if _, err := e.Install(ctx, m.Name, InstallOptions{}); err != nil && !errors.Is(err, ErrNoUpdate) {
			e.log.Error("automatic install", "module", m.Name, "err", err)
		}
	}
}

// prefetch downloads the packs of a selection under the module's lock; a module busy
// with another operation is left for the next round.
func (e *Engine) prefetch(ctx context.Context, m *ModuleConfig, sel *manifest.Selection) {
	lk, err := e.lock(m)
	if err != nil {
		e.log.Info("background download skipped", "module", m.Name, "err", err)
		return
	}
	defer lk.unlock()
	for _, s := range sel.Path {
		d, err := e.download(ctx, packRef{module: m.Name, release: s.Release, pack: s.Pack})
		if err != nil {
			e.log.Warn("background download", "module", m.Name, "version", s.Release.Version, "err", err)
			return
		}
		d.close()
	}
}
