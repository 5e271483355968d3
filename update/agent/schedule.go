package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/update"
)

// Window is a maintenance window for automatic installs: days of the week and a range
// of hours in local time ("02:00-05:00"; a range may cross midnight). The zero Window
// is any time; in JSON it is also written as the string "always".
type Window struct {
	Days  []string `json:"days"`  // "mon" … "sun"; empty = every day
	Hours string   `json:"hours"` // "HH:MM-HH:MM"; empty = all day
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// UnmarshalJSON reads the object form {"days": [...], "hours": "HH:MM-HH:MM"} (unknown
// keys are errors) or the string "always".
func (w *Window) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s != "always" {
			return fmt.Errorf("%q: want \"always\" or an object with days and hours", s)
		}
		*w = Window{}
		return nil
	}
	type window Window // without this method
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var v window
	if err := dec.Decode(&v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return fmt.Errorf("%s: want %s, got JSON %s", ute.Field, ute.Type, ute.Value)
		}
		return err
	}
	*w = Window(v)
	return nil
}

// Validate checks the days and hours of the window.
func (w *Window) Validate() error {
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

// DefaultInterval is the time between checks when neither RunOptions.Interval nor the
// configuration's check_interval sets it.
const DefaultInterval = 24 * time.Hour

// RunOptions tunes Run and RunOnce. Config.RunOptions gives those the file sets.
type RunOptions struct {
	// Interval between checks. Default: DefaultInterval.
	Interval time.Duration
	// Jitter spreads checks of a fleet: each wait is Interval ± up to Jitter. Default:
	// a tenth of Interval.
	Jitter time.Duration
	// AutoInstall is the window inside which what is offered is installed. Default
	// (nil): never, updates are only downloaded.
	AutoInstall *Window
	// OnCheck, if set, is called after every check.
	OnCheck func(*update.CheckReport, error)
	// AfterInstall, if set, is called after each automatic install that changed a
	// module, with its result (also when a later step of the upgrade path failed:
	// res.Installed lists what is in place). It is where a program that updates itself
	// restarts into the new version when res.SelfUpdate is set (handoff.Upgrade) and
	// checks that it became ready. An error rolls the module back to res.From with the
	// error as the reason (update.RollbackOptions.Reason): the status shows it and
	// marks the version failed, so no unattended install tries it again. Run waits
	// for it: the next module and the next round come after it returns.
	AfterInstall func(ctx context.Context, res *update.InstallResult) error
	// Clock tells the time the window is compared with. Default: time.Now.
	Clock func() time.Time
	// Logger receives what the schedule does. Default: discard.
	Logger *slog.Logger
}

func (o *RunOptions) defaults() {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Jitter <= 0 {
		o.Jitter = o.Interval / 10
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Run is the agent loop over eng: Recover once, then check on a schedule, downloading
// in the background what is offered, and — when opts.AutoInstall is set and the time
// is inside it — installing it as an unattended install
// (update.InstallOptions.Unattended), then calling opts.AfterInstall. A version whose
// install failed, or that was rolled back after it, is not retried automatically until
// a newer one appears (an explicit Install may). Run returns when ctx is done.
func Run(ctx context.Context, eng *update.Engine, opts RunOptions) error {
	opts.defaults()
	if _, err := eng.Recover(ctx); err != nil {
		opts.Logger.Error("recovery at start-up", "err", err)
	}
	for {
		RunOnce(ctx, eng, opts)
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
func RunOnce(ctx context.Context, eng *update.Engine, opts RunOptions) {
	opts.defaults()
	log := opts.Logger
	rep, err := eng.Check(ctx)
	if opts.OnCheck != nil {
		opts.OnCheck(rep, err)
	}
	if rep == nil || rep.Manifest == nil {
		return
	}
	auto := opts.AutoInstall != nil && opts.AutoInstall.Contains(opts.Clock())
	for _, mc := range rep.Modules {
		if mc.Status != "update" || ctx.Err() != nil {
			continue
		}
		// The rule Install applies to unattended installs, checked here too so that a
		// failed version is not downloaded again either.
		if st, err := eng.ModuleStatus(ctx, mc.Name); err == nil && st.FailedVersion != "" && slices.Contains(mc.Path, st.FailedVersion) {
			log.Info("update not retried", "module", mc.Name, "failed_version", st.FailedVersion, "last_error", st.LastError)
			continue
		}
		// Background download, so that an install later only extracts. A module busy
		// with another operation is left for the next round.
		if err := eng.Download(ctx, mc.Name, mc.Selection); errors.Is(err, update.ErrBusy) {
			log.Info("background download skipped", "module", mc.Name, "err", err)
		} else if err != nil {
			log.Warn("background download", "module", mc.Name, "version", mc.Version, "err", err)
		}
		if auto && !held(eng.Config().StateDir, mc.Name, log.Info) {
			autoInstall(ctx, eng, mc.Name, opts)
		}
	}
}

// autoInstall installs what the source offers for module, unattended, then runs
// opts.AfterInstall, rolling back when it fails.
func autoInstall(ctx context.Context, eng *update.Engine, module string, opts RunOptions) {
	log := opts.Logger
	res, err := eng.Install(ctx, module, update.InstallOptions{Unattended: true})
	switch {
	case errors.Is(err, update.ErrNoUpdate):
		return
	case errors.Is(err, update.ErrFailedVersion):
		log.Info("update not retried", "module", module, "err", err)
		return
	case err != nil:
		log.Error("automatic install", "module", module, "err", err)
	}
	if res == nil || len(res.Installed) == 0 {
		return
	}
	to := res.Installed[len(res.Installed)-1]
	log.Info("installed", "module", module, "from", res.From, "to", to, "window", res.Window, "self_update", res.SelfUpdate)
	if opts.AfterInstall == nil {
		return
	}
	aerr := opts.AfterInstall(ctx, res)
	if aerr == nil {
		return
	}
	log.Error("after install: rolling back", "module", module, "version", to, "err", aerr)
	// The rollback must not be stopped by the cancellation that may have caused it.
	rb, err := eng.Rollback(context.WithoutCancel(ctx), module, update.RollbackOptions{To: res.From, Reason: aerr})
	if err != nil {
		log.Error("rollback after install", "module", module, "version", to, "err", err)
		return
	}
	log.Info("rolled back", "module", module, "from", to, "to", rb.Installed[0], "window", rb.Window)
}
