package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	mrand "math/rand/v2"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
	"github.com/upkeep-go/upkeep/internal/limited"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/internal/seam"
)

// Settings are the keys of the configuration file that a person changes from the
// portal while the agent runs (Agent.UpdateSettings): they take effect at once.
type Settings struct {
	// CheckInterval is the time between checks in force ("check_interval").
	CheckInterval Duration `json:"check_interval"`
	// AutoInstall is the automatic install window ("auto_install"): nil for none
	// (JSON null), the zero Window for any time (JSON "always"), else the window.
	AutoInstall *Window `json:"-"`
	// Source is where manifests and packs come from ("source").
	Source string `json:"source"`
	// Lang is the language of the pages ("lang"): "en", "fr", or "" for the
	// browser's.
	Lang string `json:"lang"`
}

// SettingKeys are the configuration keys Settings holds, in the order the portal
// shows them.
var SettingKeys = []string{"check_interval", "auto_install", "source", "lang"}

// MarshalJSON writes auto_install as null, "always" or {"days","hours"}.
func (s Settings) MarshalJSON() ([]byte, error) {
	type plain Settings
	var auto any
	switch {
	case s.AutoInstall == nil:
	case len(s.AutoInstall.Days) == 0 && s.AutoInstall.Hours == "":
		auto = "always"
	default:
		auto = windowJSON(s.AutoInstall)
	}
	return json.Marshal(struct {
		plain
		AutoInstall any `json:"auto_install"`
	}{plain(s), auto})
}

// WindowView is a window as the portal shows it: days ([] for every day) and hours
// ("" for all day).
type WindowView struct {
	Days  []string `json:"days"`
	Hours string   `json:"hours"`
}

func windowJSON(w *Window) *WindowView {
	if w == nil {
		return nil
	}
	days := make([]string, len(w.Days))
	for i, d := range w.Days {
		days[i] = strings.ToLower(d)
	}
	return &WindowView{Days: days, Hours: w.Hours}
}

// ErrNoConfigFile is returned by UpdateSettings for an agent whose configuration was
// not read from a file by LoadConfig: there is nowhere to keep a change.
var ErrNoConfigFile = errors.New("agent: the configuration was not read from a file, so settings cannot be changed")

// checkLang refuses a page language other than "", "en" and "fr".
func checkLang(l string) error {
	switch l {
	case "", "en", "fr":
		return nil
	}
	return fmt.Errorf("%q: want \"en\", \"fr\" or \"\" (the browser's language)", l)
}

// schedState is what the schedule and the settings share. Its fields are guarded by
// Agent.mu, but for resched.
type schedState struct {
	resched    chan time.Duration // a settings change re-arms Run's timer to this wait
	jitterAuto bool               // the jitter follows the interval (no WithJitter)
	nextCheck  time.Time          // when Run's timer fires; zero when Run is not running
	lang       string
	settingsMu chan struct{} // one UpdateSettings at a time (a lock that ctx can abandon)
}

// nextWait returns the time until the next check: the interval in force with jitter,
// at least a second.
func (a *Agent) nextWait() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.nextWaitLocked()
}

// nextWaitLocked is nextWait for a caller that holds a.mu.
func (a *Agent) nextWaitLocked() time.Duration {
	wait := a.interval
	if a.jitter > 0 {
		wait += time.Duration(mrand.Int64N(int64(2*a.jitter+1))) - a.jitter
	}
	// A jitter as large as the interval must not make checks back to back; a short
	// interval (a self-updating server's tests) is kept as given.
	return max(wait, a.interval/2)
}

// armed records that Run's timer fires in d, and returns d.
func (a *Agent) armed(d time.Duration) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sched.nextCheck = time.Now().Add(d)
	return d
}

// autoWindow returns the automatic install window in force.
func (a *Agent) autoWindow() *Window {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.window
}

// scheduleView fills the module view's next check and window. The caller holds a.mu.
func (a *Agent) scheduleView(v *ModuleView) {
	if a.started && !a.stopped && !a.sched.nextCheck.IsZero() {
		t := a.sched.nextCheck.UTC().Truncate(time.Second)
		v.NextCheck = &t
	}
	if v.Hold == nil {
		v.Window = windowJSON(a.window)
	}
}

// Settings returns the settings in force.
func (a *Agent) Settings(ctx context.Context) (Settings, error) {
	if err := ctx.Err(); err != nil {
		return Settings{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.settings(), nil
}

// settings returns the settings in force. The caller holds a.mu.
func (a *Agent) settings() Settings {
	s := Settings{CheckInterval: Duration(a.interval), Source: a.eng.Config().Source, Lang: a.sched.lang}
	if a.window != nil {
		w := *a.window
		w.Days = slices.Clone(w.Days)
		s.AutoInstall = &w
	}
	return s
}

// UpdateSettings changes some settings: patch is a JSON object holding any of
// check_interval, auto_install, source and lang (SettingKeys). The configuration file
// LoadConfig read is changed in those keys only — every other byte of it stays as it
// is — checked as LoadConfig checks it, and written atomically; then the change takes
// effect without a restart: the next check is re-armed at the new interval, the
// window applies to the next check's installs, the next fetch uses the new source.
// A bad value is an *update.ConfigError naming the key, and nothing changes. It
// returns the settings now in force.
func (a *Agent) UpdateSettings(ctx context.Context, patch []byte) (Settings, error) {
	select {
	case a.sched.settingsMu <- struct{}{}:
		defer func() { <-a.sched.settingsMu }()
	case <-ctx.Done():
		return Settings{}, ctx.Err()
	}
	values, err := parsePatch(patch)
	if err != nil {
		return Settings{}, err
	}
	file := a.cfg.file
	if file == "" {
		return Settings{}, ErrNoConfigFile
	}
	data, err := limited.ReadFile(file, MaxConfigSize)
	if err != nil {
		return Settings{}, fmt.Errorf("settings: read %s: %w", file, err)
	}
	next, err := setTopKeys(data, values)
	if err != nil {
		return Settings{}, &update.ConfigError{File: file, Field: "(json)", Err: err}
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return Settings{}, fmt.Errorf("settings: %s: %w", file, err)
	}
	cfg, err := ParseConfig(next, filepath.Dir(abs))
	if err == nil {
		err = seam.CheckSource(cfg.Source)
	}
	if err != nil {
		// A setting is named as the key of the request, not a place in the file.
		var ce *update.ConfigError
		if errors.As(err, &ce) {
			ce.File, ce.Line, ce.Col = "", 0, 0
		}
		return Settings{}, err
	}
	cfg.file, cfg.src = file, next
	oldSource := a.eng.Config().Source
	if err := seam.SetSource(a.eng, cfg.Source); err != nil {
		return Settings{}, err
	}
	perm := os.FileMode(0o600)
	if fi, err := os.Stat(file); err == nil {
		perm = fi.Mode().Perm()
	}
	if err := atomicfile.WriteFile(file, next, perm); err != nil {
		if rerr := seam.SetSource(a.eng, oldSource); rerr != nil {
			a.log.Error("settings: source not put back", "err", rerr)
		}
		return Settings{}, fmt.Errorf("settings: write %s: %w", file, err)
	}
	a.mu.Lock()
	a.cfg = cfg
	if _, ok := values["check_interval"]; ok {
		a.interval = time.Duration(cfg.CheckInterval)
		if a.interval <= 0 {
			a.interval = DefaultInterval
		}
		if a.sched.jitterAuto {
			a.jitter = a.interval / 10
		}
	}
	a.window = cfg.AutoInstall
	a.sched.lang = cfg.Lang
	s := a.settings()
	if _, ok := values["check_interval"]; ok && a.started && !a.stopped {
		// The next check is due at the new interval from now; the view says so at
		// once, and Run's timer follows (a wait not yet taken is replaced).
		wait := a.nextWaitLocked()
		a.sched.nextCheck = time.Now().Add(wait)
		select {
		case <-a.sched.resched:
		default:
		}
		a.sched.resched <- wait
	}
	a.mu.Unlock()
	a.log.Info("settings changed", "keys", sortedKeys(values), "check_interval", time.Duration(s.CheckInterval), "source", s.Source, "lang", s.Lang)
	return s, nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// parsePatch reads a settings patch and checks each value on its own, so that an
// error names the key; it returns each key's value as it goes into the file.
func parsePatch(patch []byte) (map[string]json.RawMessage, error) {
	var in map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(patch))
	if err := dec.Decode(&in); err != nil || in == nil || dec.More() {
		if err == nil {
			err = errors.New("want one JSON object")
		}
		return nil, &update.ConfigError{Field: "(json)", Err: fmt.Errorf("settings: %w (want an object with some of %s)", err, strings.Join(SettingKeys, ", "))}
	}
	out := map[string]json.RawMessage{}
	for k, raw := range in {
		bad := func(err error) error { return &update.ConfigError{Field: k, Err: err} }
		switch k {
		case "check_interval":
			var d Duration
			if err := d.UnmarshalJSON(raw); err != nil {
				return nil, bad(err)
			}
		case "auto_install":
			if string(bytes.TrimSpace(raw)) != "null" {
				var w Window
				if err := json.Unmarshal(raw, &w); err != nil {
					return nil, bad(err)
				}
				if err := w.Validate(); err != nil {
					return nil, bad(err)
				}
			}
		case "source", "lang":
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, bad(errors.New("want a string"))
			}
			if k == "source" && strings.TrimSpace(s) == "" {
				return nil, bad(errors.New("empty: want a URL or a folder"))
			}
			if k == "lang" {
				if err := checkLang(s); err != nil {
					return nil, bad(err)
				}
			}
		default:
			return nil, bad(fmt.Errorf("not a setting: want one of %s", strings.Join(SettingKeys, ", ")))
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, bad(err)
		}
		out[k] = buf.Bytes()
	}
	return out, nil
}

// setTopKeys returns data, a JSON object, with the values of its top-level keys in
// values replaced (a key it lacks is added before the closing brace, indented as its
// first key). Every other byte is kept: comments of formatting, key order, the other
// keys and modules.
func setTopKeys(data []byte, values map[string]json.RawMessage) ([]byte, error) {
	// Comments are blanked for the scan only: offsets are the same in data.
	clean := blankComments(data)
	dec := json.NewDecoder(bytes.NewReader(clean))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("the configuration is not a JSON object")
	}
	open := dec.InputOffset() // just past '{'
	type span struct{ from, to int64 }
	spans := map[string]span{}
	var lastEnd int64 = -1
	var firstKey int64 = -1
	for dec.More() {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		if firstKey < 0 {
			firstKey = before + int64(len(clean[before:])-len(bytes.TrimLeft(clean[before:], " \t\r\n,")))
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		end := dec.InputOffset()
		spans[key] = span{end - int64(len(raw)), end}
		lastEnd = end
	}
	type edit struct {
		at, to int64
		text   []byte
	}
	var edits []edit
	var added []string
	for k := range values {
		if s, ok := spans[k]; ok {
			edits = append(edits, edit{s.from, s.to, values[k]})
		} else {
			added = append(added, k)
		}
	}
	if len(added) > 0 {
		slices.SortFunc(added, func(x, y string) int { return slices.Index(SettingKeys, x) - slices.Index(SettingKeys, y) })
		sep, at := "", open
		if lastEnd >= 0 {
			sep, at = ",", lastEnd
		}
		indent := ""
		if firstKey >= 0 {
			lead := clean[open:firstKey]
			if i := bytes.LastIndexByte(lead, '\n'); i >= 0 {
				indent = "\n" + string(lead[i+1:])
			} else {
				indent = string(lead)
			}
		} else {
			indent = "\n  "
		}
		var b bytes.Buffer
		for _, k := range added {
			b.WriteString(sep + indent)
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteString(": ")
			b.Write(values[k])
			sep = ","
		}
		if lastEnd < 0 {
			b.WriteString("\n")
		}
		edits = append(edits, edit{at, at, b.Bytes()})
	}
	slices.SortFunc(edits, func(x, y edit) int { return int(y.at - x.at) })
	out := slices.Clone(data)
	for _, e := range edits {
		out = slices.Concat(out[:e.at], e.text, out[e.to:])
	}
	return out, nil
}
