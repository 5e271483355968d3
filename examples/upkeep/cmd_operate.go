package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/dbscript/dbagent"
)

func init() {
	register(&command{name: "check", summary: "what is available, per module", run: runCheck})
	register(&command{name: "install", summary: "install a module's update (or an offline pack)", run: runInstall})
	register(&command{name: "rollback", summary: "put back a module's kept previous version", run: runRollback})
	register(&command{name: "recover", summary: "finish or undo an interrupted install", run: runRecover})
	register(&command{name: "status", summary: "per module: installed, latest, maintenance, last result", run: runStatus})
}

// moduleEngine parses the arguments of a command that acts on one module,
// `--config FILE MODULE`, and returns the engine and the module's name.
func (cl *cli) moduleEngine(name, synopsis string, args []string) (*update.Engine, string, error) {
	fs := cl.newFlags(name, synopsis)
	config := fs.String("config", "", "agent configuration `file`")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, "", err
	}
	if err := exactArgs(pos, 1, "one MODULE"); err != nil {
		return nil, "", err
	}
	e, err := cl.engine(*config)
	if err != nil {
		return nil, "", err
	}
	return e, pos[0], nil
}

// engine loads a configuration and builds its engine, with a logger on stderr and
// the progress of each step: a bar on a terminal, plain lines otherwise (a log file,
// a CI job, a pipe).
func (cl *cli) engine(path string) (*update.Engine, error) {
	if path == "" {
		return nil, usagef("--config is required")
	}
	cfg, err := agent.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(cl.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts := []update.Option{update.WithLogger(log), update.WithApplier(update.KindDatabase, dbagent.Appliers(cfg.StateDir))}
	// An error about a key of the file names the file, line and key, not a Go field.
	e, err := cfg.NewEngine(opts...)
	if err != nil {
		return nil, err
	}
	if cl.terminal {
		e.AddEventFunc(newProgressBar(cl.stderr).event)
	} else {
		e.AddEventFunc(newProgressLines(cl.stderr).event)
	}
	return e, nil
}

func runCheck(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("check", "upkeep check --config FILE [--json]")
	config := fs.String("config", "", "agent configuration `file`")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no positional argument"); err != nil {
		return err
	}
	e, err := cl.engine(*config)
	if err != nil {
		return err
	}
	rep, cerr := e.Check(ctx)
	for _, w := range rep.Warnings {
		fmt.Fprintf(cl.stderr, "upkeep check: warning: %s\n", w)
	}
	// A database module's newest pack is fetched now, so that `db status` shows its
	// pending scripts and the drift before any install.
	cfg := e.Config()
	for _, m := range rep.Modules {
		if mc, err := cfg.Module(m.Name); err == nil && mc.Kind == update.KindDatabase && m.Status == manifest.StatusUpdate {
			if err := e.Download(ctx, m.Name, m.Selection); err != nil {
				fmt.Fprintf(cl.stderr, "upkeep check: %s: download of %s for `db status`: %v\n", m.Name, m.Version, err)
			}
		}
	}
	if *asJSON {
		if err := writeJSON(cl.stdout, checkJSON(rep)); err != nil {
			return err
		}
	} else {
		for _, m := range rep.Modules {
			line := fmt.Sprintf("%s: installed %s, %s", m.Name, orNone(m.Installed), m.Status)
			if m.Version != "" {
				line += " to " + m.Version
				if len(m.Path) > 1 {
					line += " via " + strings.Join(m.Path, " → ")
				}
			}
			if m.Reason != "" {
				line += ": " + m.Reason
			}
			if m.Code != "" {
				line += " [" + string(m.Code) + "]"
			}
			fmt.Fprintln(cl.stdout, line)
		}
	}
	if cerr != nil {
		if *asJSON {
			return errSilentFailure
		}
		return cerr
	}
	return nil
}

func runInstall(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("install", "upkeep install --config FILE MODULE [--version V] [--pack FILE.zip --sig FILE] [--keep-unmanaged]")
	config := fs.String("config", "", "agent configuration `file`")
	ver := fs.String("version", "", "install this `version` rather than the newest offered")
	packFile := fs.String("pack", "", "offline install from this pack `file`")
	sig := fs.String("sig", "", "signature `file` of --pack (default FILE.zip.minisig)")
	keep := fs.Bool("keep-unmanaged", false, "on a first install into a folder upkeep does not manage, keep that folder as a backup named unmanaged-TIME instead of refusing")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 1, "one MODULE"); err != nil {
		return err
	}
	if *sig != "" && *packFile == "" {
		return usagef("--sig needs --pack")
	}
	if *packFile != "" && *ver != "" {
		return usagef("--version and --pack exclude each other: the pack's signature gives its version")
	}
	e, err := cl.engine(*config)
	if err != nil {
		return err
	}
	started, from := time.Now(), installedNow(ctx, e, pos[0])
	releaseOnInstall(cl, e, pos[0]) // a person's install ends a hold
	res, err := e.Install(ctx, pos[0], update.InstallOptions{Version: *ver, PackFile: *packFile, SigFile: *sig, KeepUnmanaged: *keep})
	cl.record(e, agent.Operation{Module: pos[0], Kind: agent.OpInstall, From: from, To: lastInstalled(res, from), Started: started}, ignoreNoUpdate(err))
	if errors.Is(err, update.ErrNoUpdate) {
		fmt.Fprintf(cl.stdout, "%s\n", strings.TrimPrefix(err.Error(), update.ErrNoUpdate.Error()+": "))
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "installed %s %s (was %s); maintenance window %s\n", res.Module,
		strings.Join(res.Installed, " then "), orNone(strp(res.From)), res.Window.Round(1e5))
	if res.Unmanaged != "" {
		fmt.Fprintf(cl.stdout, "the folder that was there before upkeep managed it is kept as %s\n", res.Unmanaged)
	}
	if res.SelfUpdate {
		fmt.Fprintln(cl.stdout, "this program's own folder was updated: restart it to run the new version")
	}
	return nil
}

func runRollback(ctx context.Context, cl *cli, args []string) error {
	e, module, err := cl.moduleEngine("rollback", "upkeep rollback --config FILE MODULE", args)
	if err != nil {
		return err
	}
	started, from := time.Now(), installedNow(ctx, e, module)
	res, err := e.Rollback(ctx, module, update.RollbackOptions{})
	cl.record(e, agent.Operation{Module: module, Kind: agent.OpRollback, From: from, To: lastInstalled(res, from), Started: started}, err)
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "rolled %s back from %s to %s\n", res.Module, orNone(strp(res.From)), res.Installed[0])
	// A person's rollback holds the module, so that the agent does not install again
	// what was just rolled away from.
	if h, err := agent.SetHold(e.Config().StateDir, module, agent.HoldRollback, time.Now()); err != nil {
		return fmt.Errorf("rolled back, but the hold could not be set: %w", err)
	} else {
		fmt.Fprintf(cl.stdout, "%s on hold (%s): no automatic install until `upkeep release` or a person's install\n", res.Module, h.Reason)
	}
	return nil
}

func runRecover(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("recover", "upkeep recover --config FILE")
	config := fs.String("config", "", "agent configuration `file`")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no positional argument"); err != nil {
		return err
	}
	e, err := cl.engine(*config)
	if err != nil {
		return err
	}
	res, err := e.Recover(ctx)
	for _, r := range res {
		line := fmt.Sprintf("%s: %s, at %s", r.Module, r.Action, orNone(strp(r.Version)))
		if r.Detail != "" {
			line += " (" + r.Detail + ")"
		}
		fmt.Fprintln(cl.stdout, line)
	}
	return err
}

func runStatus(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("status", "upkeep status --config FILE [--json]")
	config := fs.String("config", "", "agent configuration `file`")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no positional argument"); err != nil {
		return err
	}
	e, err := cl.engine(*config)
	if err != nil {
		return err
	}
	cfg := e.Config()
	sts, serr := e.Status(ctx)
	if *asJSON {
		mods, err := withHolds(e.Config(), sts)
		if err != nil {
			return err
		}
		if err := writeJSON(cl.stdout, map[string]any{"modules": mods}); err != nil {
			return err
		}
	} else {
		for _, s := range sts {
			maint := "off"
			if s.Maintenance {
				maint = "ON"
			}
			if m, err := cfg.Module(s.Name); err == nil && agent.ForeignFlag(m) {
				maint = "ON (flag not placed by upkeep: `upkeep maintenance off` takes it down)"
			}
			fmt.Fprintf(cl.stdout, "%s: installed %s, latest %s, maintenance %s", s.Name, orNone(s.Installed), orNone(s.Latest), maint)
			if s.LastResult != "" {
				fmt.Fprintf(cl.stdout, ", last result: %s", s.LastResult)
			}
			if s.LastError != "" {
				fmt.Fprintf(cl.stdout, ", last error: %s", s.LastError)
			}
			if h, _ := agent.ReadHold(e.Config().StateDir, s.Name); h != nil {
				fmt.Fprintf(cl.stdout, ", on hold (%s) since %s", h.Reason, h.Since.Format(time.RFC3339))
			}
			fmt.Fprintln(cl.stdout)
		}
	}
	return serr
}

// checkJSON is the shape of `upkeep check --json`: every key of a module, with null
// for those that do not apply (no version offered, no code, no reason), so that
// scripts can read each one.
func checkJSON(rep *update.CheckReport) any {
	type plain update.ModuleCheck
	type module struct {
		plain
		Version *string `json:"version"`
		Code    *string `json:"code"`
		Reason  *string `json:"reason"`
	}
	type report struct {
		Modules  []module `json:"modules"`
		Warnings []string `json:"warnings,omitempty"`
	}
	out := report{Warnings: rep.Warnings}
	if rep.Modules != nil {
		out.Modules = make([]module, len(rep.Modules))
	}
	for i, c := range rep.Modules {
		out.Modules[i] = module{plain(c), nullable(c.Version), nullable(string(c.Code)), nullable(c.Reason)}
	}
	return out
}

// nullable is s, or nil (JSON null) when it is empty.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func orNone(p *string) string {
	if p == nil || *p == "" {
		return "nothing"
	}
	return *p
}

func strp(s string) *string { return &s }

// progressBar draws download and extraction progress on a terminal.
type progressBar struct {
	mu   sync.Mutex
	w    io.Writer
	last string
}

func newProgressBar(w io.Writer) *progressBar { return &progressBar{w: w} }

func (p *progressBar) event(ev update.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.Step {
	case update.StepDownload, update.StepExtract:
		if ev.Total <= 0 {
			return
		}
		pct := float64(ev.Done) * 100 / float64(ev.Total)
		n := int(pct / 5)
		bar := strings.Repeat("#", n) + strings.Repeat(".", 20-n)
		line := fmt.Sprintf("\r%-8s %s %s [%s] %5.1f%%", ev.Step, ev.Module, ev.Version, bar, pct)
		if ev.Rate > 0 {
			line += fmt.Sprintf(" %.1f MB/s", ev.Rate/1e6)
		}
		if line != p.last {
			fmt.Fprint(p.w, line)
			p.last = line
		}
		if ev.Done >= ev.Total {
			fmt.Fprintln(p.w)
			p.last = ""
		}
	}
}

// progressLines writes one plain line per step of a module's install to a stream
// that is not a terminal: no \r, no redrawing, so that a log keeps every line.
type progressLines struct {
	mu      sync.Mutex
	w       io.Writer
	step    update.Step
	module  string
	started time.Time
	now     func() time.Time
}

func newProgressLines(w io.Writer) *progressLines {
	return &progressLines{w: w, now: time.Now}
}

func (p *progressLines) event(ev update.Event) {
	if ev.Module == "" {
		return // a check's own steps: the command prints its result
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	first := ev.Step != p.step || ev.Module != p.module
	p.step, p.module = ev.Step, ev.Module
	what := string(ev.Step) + " " + ev.Module
	if ev.Version != "" {
		what += " " + ev.Version
	}
	switch ev.Step {
	case update.StepDownload, update.StepExtract:
		if ev.Message != "" {
			fmt.Fprintf(p.w, "%s: %s (%s)\n", what, ev.Message, humanSize(ev.Total))
			p.step = ""
			return
		}
		if first {
			p.started = p.now()
			size := "size unknown"
			if ev.Total > 0 {
				size = humanSize(ev.Total)
			}
			fmt.Fprintf(p.w, "%s: started (%s)\n", what, size)
		}
		if ev.Total > 0 && ev.Done >= ev.Total {
			line := fmt.Sprintf("%s: finished, %s in %s", what, humanSize(ev.Done), p.now().Sub(p.started).Round(time.Millisecond))
			if ev.Rate > 0 {
				line += fmt.Sprintf(" (%.1f MB/s)", ev.Rate/1e6)
			}
			fmt.Fprintln(p.w, line)
			p.step = "" // a next download or extraction starts a new line
		}
	case update.StepHook:
		fmt.Fprintf(p.w, "%s: %s\n", what, ev.Phase)
	default:
		if ev.Message != "" {
			fmt.Fprintf(p.w, "%s: %s\n", what, ev.Message)
		} else {
			fmt.Fprintln(p.w, what)
		}
	}
}

// humanSize writes n bytes in binary units.
func humanSize(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
