package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	// module: see WithAfterInstall. The next module's automatic install comes after
	// it returns.
	AfterInstall func(ctx context.Context, res *update.InstallResult) error
	// Clock tells the time the window is compared with. Default: time.Now.
	Clock func() time.Time
	// Logger receives what the schedule does. Default: discard.
	Logger *slog.Logger
}

// agent returns the Agent that Run and RunOnce run over eng: its configuration is the
// engine's, its schedule o's, and its first check comes at once.
func (o RunOptions) agent(eng *update.Engine) (*Agent, error) {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	opts := []Option{WithInterval(o.Interval), WithJitter(o.Jitter), WithFirstCheck(0), WithAfterInstall(o.AfterInstall)}
	if o.Clock != nil {
		opts = append(opts, WithClock(o.Clock))
	}
	if o.Logger != nil {
		opts = append(opts, WithLogger(o.Logger))
	}
	a, err := New(&Config{Config: eng.Config(), AutoInstall: o.AutoInstall}, eng, opts...)
	if err != nil {
		return nil, err
	}
	a.onCheck = o.OnCheck
	return a, nil
}

// Run is the agent loop for a program that embeds an engine without an agent
// configuration of its own (a self-updating server): an Agent over eng with the
// schedule of opts, its operations logged in the engine's state dir, run until ctx
// is done (Agent.Run: Recover, a check at once then every interval, background
// downloads, unattended installs inside opts.AutoInstall, then opts.AfterInstall). A
// version whose install failed, or that was rolled back after it, is not retried
// automatically until a newer one appears. Run returns ctx's error.
func Run(ctx context.Context, eng *update.Engine, opts RunOptions) error {
	a, err := opts.agent(eng)
	if err != nil {
		return err
	}
	if err := a.Run(ctx); err != nil {
		return err
	}
	return ctx.Err()
}

// RunOnce is one round of Run, without its Recover: check, download in the
// background what is offered, and install it when the automatic window allows; it
// returns once all of that has ended. Each call builds an Agent: a program that
// checks repeatedly holds one (New, then Agent.Run) instead.
func RunOnce(ctx context.Context, eng *update.Engine, opts RunOptions) {
	a, err := opts.agent(eng)
	if err != nil {
		if opts.Logger != nil {
			opts.Logger.Error("agent", "err", err)
		}
		return
	}
	a.once(ctx)
}
