package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/dbscript/dbagent"
	"github.com/upkeep-go/upkeep/update/fleet"
)

func init() {
	register(&command{name: "fleet", summary: "a master and its slaves: add-update, propagate, apply, servers, ops, converged, rekey", run: runFleet})
}

var fleetCommands = map[string]func(ctx context.Context, cl *cli, args []string) error{
	"master":     runFleetMaster,
	"slave":      runFleetSlave,
	"add-update": runFleetAddUpdate,
	"propagate": func(ctx context.Context, cl *cli, args []string) error {
		return runFleetOp(ctx, cl, fleet.KindPropagate, args)
	},
	"apply": func(ctx context.Context, cl *cli, args []string) error {
		return runFleetOp(ctx, cl, fleet.KindApply, args)
	},
	"servers":   runFleetServers,
	"ops":       runFleetOps,
	"converged": runFleetConverged,
	"rekey":     runFleetRekey,
}

func runFleet(ctx context.Context, cl *cli, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(cl.stdout, "usage: upkeep fleet master|slave|add-update|propagate|apply|servers|ops|converged|rekey [flags]")
		if len(args) == 0 {
			return usagef("want a fleet subcommand")
		}
		return errHelpShown
	}
	f, ok := fleetCommands[args[0]]
	if !ok {
		return usagef("unknown fleet subcommand %q", args[0])
	}
	return f(ctx, cl, args[1:])
}

// fleetConfig loads an agent configuration and its "fleet" block.
func fleetConfig(path string) (*agent.Config, *fleet.Config, error) {
	if path == "" {
		return nil, nil, usagef("--config is required")
	}
	cfg, err := agent.LoadConfig(path)
	if err != nil {
		return nil, nil, err
	}
	if len(cfg.Fleet) == 0 {
		return nil, nil, fmt.Errorf("%s: fleet: missing: this agent is in no fleet", path)
	}
	fc, err := fleet.ParseConfig(cfg.Fleet, filepath.Dir(path))
	if err != nil {
		return nil, nil, fleetConfigErr(cfg, fmt.Errorf("%s: %w", path, err))
	}
	return cfg, fc, nil
}

func (cl *cli) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(cl.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func runFleetMaster(ctx context.Context, cl *cli, args []string) error {
	return runFleetRole(ctx, cl, args, fleet.RoleMaster)
}

func runFleetSlave(ctx context.Context, cl *cli, args []string) error {
	return runFleetRole(ctx, cl, args, fleet.RoleSlave)
}

// runFleetRole runs only the fleet side of an agent: `upkeep fleet master` or
// `upkeep fleet slave`. `upkeep agent` runs it beside the agent and its portal.
func runFleetRole(ctx context.Context, cl *cli, args []string, role fleet.Role) error {
	fs := cl.newFlags("fleet "+string(role), "upkeep fleet "+string(role)+" --config FILE")
	config := fs.String("config", "", "agent configuration `file` with a fleet block of role "+string(role))
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no positional argument"); err != nil {
		return err
	}
	cfg, fc, err := fleetConfig(*config)
	if err != nil {
		return err
	}
	if fc.Role != role {
		return fmt.Errorf("%s: fleet.role is %q, not %s", *config, fc.Role, role)
	}
	log := cl.logger()
	eng, err := cfg.NewEngine(update.WithLogger(log), update.WithApplier(update.KindDatabase, dbagent.Appliers(cfg.StateDir)))
	if err != nil {
		return err
	}
	return runFleetSide(ctx, cl, cfg, fc, eng, nil, log)
}

// runFleetSide runs the fleet role of fc over eng until ctx is done. hosts are the
// Host names the master's pages answer besides the loopback ones (upkeep agent's
// --host, which the portal answers too).
func runFleetSide(ctx context.Context, cl *cli, cfg *agent.Config, fc *fleet.Config, eng *update.Engine, hosts []string, log *slog.Logger) error {
	if fc.Role == fleet.RoleMaster {
		// With root_keys, the engine's keyring (from keys.json) is asked at each upload.
		var kr *signature.Keyring
		if len(cfg.RootKeys) == 0 {
			var err error
			if kr, err = signature.LoadKeyring(cfg.Keys, signature.WithThreshold(cfg.Threshold)); err != nil {
				return fmt.Errorf("keys: %w", err)
			}
		}
		store, err := fleet.OpenStore(ctx, fc.Store)
		if err != nil {
			return err
		}
		defer store.Close()
		scheme := "http"
		if fc.TLSCertFile != "" {
			scheme = "https"
		}
		m, err := fleet.NewMaster(fc, store, kr, fleet.MasterOptions{PackDir: filepath.Join(cfg.StateDir, "fleet", "packs"), Engine: eng, Logger: log, Lang: cfg.Lang, Hosts: hosts,
			OnListen: func(addr string) { fmt.Fprintf(cl.stderr, "listening on %s://%s/\n", scheme, addr) }})
		if err != nil {
			return err
		}
		return m.Run(ctx)
	}
	s, err := fleet.NewSlave(fc, eng, fleet.SlaveOptions{Logger: log,
		OnListen: func(addr string) { fmt.Fprintf(cl.stderr, "listening on http://%s/\n", addr) }})
	if err != nil {
		return err
	}
	if fc.Mode == fleet.ModeMailbox {
		fmt.Fprintf(cl.stderr, "polling %s\n", fc.Master)
	}
	return s.Run(ctx)
}

// masterFlags adds the flags every admin command takes.
type masterFlags struct{ url, tokenFile, caFile *string }

func addMasterFlags(fs *flag.FlagSet) masterFlags {
	return masterFlags{
		url:       fs.String("master", "", "the master's `URL`"),
		tokenFile: fs.String("token-file", "", "`file` holding the admin token"),
		caFile:    fs.String("ca-file", "", "PEM `file` pinning the master's certificate (https)"),
	}
}

func (f masterFlags) client() (*fleet.Client, error) {
	if *f.url == "" {
		return nil, usagef("--master is required")
	}
	if *f.tokenFile == "" {
		return nil, usagef("--token-file is required")
	}
	tok, err := fleet.ReadToken(*f.tokenFile)
	if err != nil {
		return nil, err
	}
	return fleet.NewClient(*f.url, tok, *f.caFile)
}

// fleetErr adds the stable code of a master's refusal to its message.
func fleetErr(err error) error {
	var ae *fleet.APIError
	if errors.As(err, &ae) && ae.Code != "" {
		return fmt.Errorf("%s [%s]", ae.Message, ae.Code)
	}
	return err
}

func runFleetAddUpdate(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("fleet add-update", "upkeep fleet add-update --master URL --token-file F --name NAME --pack FILE.zip [--sig FILE] [--mirror URL] [--json]")
	mf := addMasterFlags(fs)
	name := fs.String("name", "", "the update's `name` on the master")
	packFile := fs.String("pack", "", "the pack `file`")
	sig := fs.String("sig", "", "its signature `file` (default FILE.zip.minisig)")
	mirror := fs.String("mirror", "", "a `URL` serving the same pack, which slaves fetch instead of the master")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no positional argument"); err != nil {
		return err
	}
	if *packFile == "" || *name == "" {
		return usagef("--name and --pack are required")
	}
	c, err := mf.client()
	if err != nil {
		return err
	}
	var progress func(done, total int64)
	if cl.terminal {
		progress = func(done, total int64) {
			fmt.Fprintf(cl.stderr, "\ruploading %s: %d%%", filepath.Base(*packFile), done*100/max(total, 1))
		}
	}
	u, err := c.AddUpdate(ctx, *name, *packFile, *sig, *mirror, progress)
	if progress != nil {
		fmt.Fprintln(cl.stderr)
	}
	if err != nil {
		return fleetErr(err)
	}
	if *asJSON {
		u.Sig = nil
		return writeJSON(cl.stdout, u)
	}
	fmt.Fprintf(cl.stdout, "added %q: %s %s for %s (%d bytes)\n", u.Name, u.Module, u.Version, u.Platform, u.Size)
	return nil
}

func runFleetOp(ctx context.Context, cl *cli, kind fleet.Kind, args []string) error {
	synopsis := "upkeep fleet propagate --master URL --token-file F --update NAME (--servers A,B | --all) [--wait] [--json]"
	if kind == fleet.KindApply {
		synopsis = "upkeep fleet apply --master URL --token-file F --update NAME (--servers A,B | --all) [--wave N] [--max-failures PERCENT] [--require-staged] [--force] [--wait] [--json]\n" +
			"  \"master\" in --servers applies the update to the master itself, before the slaves;\n" +
			"  a version newer than the master's own is refused [master_first] unless --force"
	}
	fs := cl.newFlags("fleet "+string(kind), synopsis)
	mf := addMasterFlags(fs)
	name := fs.String("update", "", "the update's `name`")
	servers := fs.String("servers", "", "comma-separated server `names`, in the order waves take them (\"master\": the master itself)")
	all := fs.Bool("all", false, "every enrolled slave")
	wait := fs.Bool("wait", false, "wait until every server has finished; exit 1 when any failed")
	asJSON := fs.Bool("json", false, "print JSON")
	expires := fs.Duration("expires", fleet.DefaultExpiry, "how long the work stays valid for servers that are away")
	timeout := fs.Duration("timeout", 0, "with --wait, give up after this `duration` (0: never)")
	var wave, maxFail *int
	var requireStaged, force *bool
	if kind == fleet.KindApply {
		force = fs.Bool("force", false, "apply to slaves a version newer than the master's own (refused otherwise: the master is updated first)")
		wave = fs.Int("wave", 0, "`N` servers first, then batches of N (0: all at once)")
		maxFail = fs.Int("max-failures", -1, "halt and cancel the rest once failures exceed this `PERCENT` of the servers finished (0: the first failure halts; -1: never)")
		requireStaged = fs.Bool("require-staged", false, "refuse unless every selected server has staged the update")
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no positional argument"); err != nil {
		return err
	}
	if *name == "" {
		return usagef("--update is required")
	}
	if (*servers == "") == !*all {
		return usagef("give --servers A,B or --all")
	}
	req := fleet.OperationRequest{Kind: kind, Update: *name, All: *all, Expires: fleet.Duration(*expires)}
	if *servers != "" {
		for _, s := range strings.Split(*servers, ",") {
			if s = strings.TrimSpace(s); s != "" {
				req.Servers = append(req.Servers, s)
			}
		}
	}
	if kind == fleet.KindApply {
		if *wave < 0 {
			return usagef("--wave %d: want 0 or more", *wave)
		}
		req.Wave, req.RequireStaged, req.Force = *wave, *requireStaged, *force
		if *maxFail >= 0 {
			req.MaxFailures = maxFail
		}
	}
	c, err := mf.client()
	if err != nil {
		return err
	}
	rep, err := c.Start(ctx, req)
	if err != nil {
		return fleetErr(err)
	}
	if *wait {
		wctx := ctx
		if *timeout > 0 {
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(ctx, *timeout)
			defer cancel()
		}
		if rep, err = c.Wait(wctx, rep.ID, 200*time.Millisecond); err != nil {
			return fleetErr(err)
		}
	}
	if err := printReport(cl, rep, *asJSON); err != nil {
		return err
	}
	if *wait && rep.Failed() {
		return errSilentFailure
	}
	return nil
}

type opOutput struct {
	Operation string               `json:"operation"`
	Servers   []fleet.ServerResult `json:"servers"`
}

func printReport(cl *cli, rep *fleet.Report, asJSON bool) error {
	if asJSON {
		return writeJSON(cl.stdout, opOutput{Operation: rep.ID, Servers: rep.Servers})
	}
	fmt.Fprintf(cl.stdout, "operation %s: %s %q\n", rep.ID, rep.Kind, rep.Update)
	for _, s := range rep.Servers {
		printServerResult(cl, s)
	}
	return nil
}

func printServerResult(cl *cli, s fleet.ServerResult) {
	line := fmt.Sprintf("  %s: %s", s.Name, s.State)
	if s.Version != "" && s.State == fleet.StateInstalled {
		line += " " + s.Version
	}
	if s.Reason != "" {
		line += ": " + oneLine(s.Reason)
	}
	if s.Code != "" {
		line += " [" + s.Code + "]"
	}
	fmt.Fprintln(cl.stdout, line)
}

// fleetListing parses the arguments of a subcommand that lists what the master
// holds (--master, --token-file, --json) and returns its client.
func (cl *cli) fleetListing(name string, args []string) (*fleet.Client, *bool, error) {
	fs := cl.newFlags("fleet "+name, "upkeep fleet "+name+" --master URL --token-file F [--json]")
	mf := addMasterFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if err := exactArgs(pos, 0, "no positional argument"); err != nil {
		return nil, nil, err
	}
	c, err := mf.client()
	return c, asJSON, err
}

func runFleetServers(ctx context.Context, cl *cli, args []string) error {
	c, asJSON, err := cl.fleetListing("servers", args)
	if err != nil {
		return err
	}
	servers, err := c.Servers(ctx)
	if err != nil {
		return fleetErr(err)
	}
	if *asJSON {
		return writeJSON(cl.stdout, map[string]any{"servers": servers})
	}
	for _, s := range servers {
		letter := "S"
		if s.Role == fleet.RoleMaster {
			letter = "M"
		}
		reach := "unreachable"
		if s.Reachable {
			reach = "reachable"
		}
		if s.Contact != "" {
			reach += " (" + string(s.Contact) + ")"
		}
		seen := "never"
		if s.LastSeen != nil {
			seen = s.LastSeen.Local().Format(time.DateTime)
		}
		var vs []string
		for m, v := range s.Versions {
			vs = append(vs, m+" "+orNone(&v))
		}
		fmt.Fprintf(cl.stdout, "%s %s (%s) %s, last seen %s: %s\n", letter, s.Name, orDash(string(s.Mode)), reach, seen, strings.Join(vs, ", "))
	}
	return nil
}

func runFleetOps(ctx context.Context, cl *cli, args []string) error {
	c, asJSON, err := cl.fleetListing("ops", args)
	if err != nil {
		return err
	}
	ops, err := c.Operations(ctx)
	if err != nil {
		return fleetErr(err)
	}
	if ops == nil {
		ops = []fleet.Report{}
	}
	if *asJSON {
		return writeJSON(cl.stdout, map[string]any{"operations": ops})
	}
	for _, op := range ops {
		end := "running"
		if op.Ended != nil {
			end = "ended " + op.Ended.Local().Format(time.DateTime)
		}
		fmt.Fprintf(cl.stdout, "%s %s %q started %s, %s\n", op.ID, op.Kind, op.Update, op.Started.Local().Format(time.DateTime), end)
		for _, s := range op.Servers {
			printServerResult(cl, s)
		}
	}
	return nil
}

func runFleetConverged(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("fleet converged", "upkeep fleet converged --master URL --token-file F --module M")
	mf := addMasterFlags(fs)
	module := fs.String("module", "", "the `module`")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no positional argument"); err != nil {
		return err
	}
	if *module == "" {
		return usagef("--module is required")
	}
	c, err := mf.client()
	if err != nil {
		return err
	}
	conv, err := c.Converged(ctx, *module)
	if err != nil {
		return fleetErr(err)
	}
	if conv.Converged {
		fmt.Fprintf(cl.stdout, "every server runs %s %s\n", conv.Module, conv.Newest)
		return nil
	}
	if len(conv.Behind) == 0 {
		return fmt.Errorf("no server of the fleet runs module %q", *module)
	}
	for _, b := range conv.Behind {
		fmt.Fprintf(cl.stdout, "%s %s\n", b.Name, orNone(&b.Version))
	}
	return fmt.Errorf("%d server(s) do not run %s %s", len(conv.Behind), conv.Module, conv.Newest)
}

// runFleetRekey lets the next enrolment under a slave's name replace its secret: an
// enrolment under an enrolled name is otherwise refused with name_taken.
func runFleetRekey(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("fleet rekey", "upkeep fleet rekey --master URL --token-file F NAME\n"+
		"  lets the next enrolment under NAME replace that server's secret (and its push URL);\n"+
		"  until then an enrolment under an enrolled name is refused [name_taken]")
	mf := addMasterFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 1, "the server's NAME"); err != nil {
		return err
	}
	c, err := mf.client()
	if err != nil {
		return err
	}
	if err := c.Rekey(ctx, pos[0]); err != nil {
		return fleetErr(err)
	}
	fmt.Fprintf(cl.stdout, "the next enrolment of %q replaces its secret\n", pos[0])
	return nil
}
