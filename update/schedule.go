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
	// AfterInstall, if set, is called after each automatic install that changed a
	// module, with its result (also when a later step of the upgrade path failed:
	// res.Installed lists what is in place). It is where a program that updates itself
	// restarts into the new version when res.SelfUpdate is set (handoff.Upgrade) and
	// checks that it became ready. An error rolls the module back to res.From with the
	// error as the reason (RollbackReason): the status shows it and marks the version
	// failed, so no unattended install tries it again. Run waits for it: the next
	// module and the next round come after it returns.
	AfterInstall func(ctx context.Context, res *InstallResult) error
}

// Run is the agent loop: Recover once, then check on a schedule, downloading in the
// background what is offered, and — when the configuration has an auto_install window
// and the time is inside it — installing it as an unattended install
// (InstallOptions.Unattended), then calling opts.AfterInstall. A version whose install
// failed, or that was rolled back after it, is not retried automatically until a newer
// one appears (an explicit Install may). Run returns when ctx is done.
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
		if mc.Status != manifest.StatusUpdate || ctx.Err() != nil {
			continue
		}
		m, err := e.cfg.Module(mc.Name)
		if err != nil {
			continue
		}
		st, _ := e.loadStatus(m)
		// The rule Install applies to unattended installs, checked here too so that a
		// failed version is not downloaded again either.
		if err := refuseFailed(m.Name, st, mc.Path); err != nil {
			e.log.Info("update not retried", "module", m.Name, "err", err)
			continue
		}
		// Background download, so that an install later only extracts.
		e.prefetch(ctx, m, mc.Selection)
		if auto {
			e.autoInstall(ctx, m, opts.AfterInstall)
		}
	}
}

// autoInstall installs what the source offers for m, unattended, then runs after,
// rolling back when it fails.
func (e *Engine) autoInstall(ctx context.Context, m *ModuleConfig, after func(context.Context, *InstallResult) error) {
	res, err := e.Install(ctx, m.Name, InstallOptions{Unattended: true})
	switch {
	case errors.Is(err, ErrNoUpdate):
		return
	case errors.Is(err, ErrFailedVersion):
		e.log.Info("update not retried", "module", m.Name, "err", err)
		return
	case err != nil:
		e.log.Error("automatic install", "module", m.Name, "err", err)
	}
	if res == nil || len(res.Installed) == 0 {
		return
	}
	to := res.Installed[len(res.Installed)-1]
	e.log.Info("installed", "module", m.Name, "from", res.From, "to", to, "window", res.Window, "self_update", res.SelfUpdate)
	if after == nil {
		return
	}
	aerr := after(ctx, res)
	if aerr == nil {
		return
	}
	e.log.Error("after install: rolling back", "module", m.Name, "version", to, "err", aerr)
	ropts := []RollbackOption{RollbackReason(aerr)}
	if res.From != "" {
		ropts = append(ropts, RollbackTo(res.From))
	}
	// The rollback must not be stopped by the cancellation that may have caused it.
	rb, err := e.Rollback(context.WithoutCancel(ctx), m.Name, ropts...)
	if err != nil {
		e.log.Error("rollback after install", "module", m.Name, "version", to, "err", err)
		return
	}
	e.log.Info("rolled back", "module", m.Name, "from", to, "to", rb.Installed[0], "window", rb.Window)
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
