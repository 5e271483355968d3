package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
	"github.com/upkeep-go/upkeep/internal/limited"
	"github.com/upkeep-go/upkeep/pack"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/dbscript"
	"github.com/upkeep-go/upkeep/update/dbscript/dbagent"
	"github.com/upkeep-go/upkeep/update/trust"
)

func init() {
	register(&command{name: "db", summary: "database modules: fingerprint, status, scripts one by one", run: runDB})
}

const dbUsage = `usage: upkeep db SUBCOMMAND [flags] [args]

subcommands:
  fingerprint --driver D --dsn DSN [--json]
        the schema fingerprint; --json adds the canonical object listing
  build-fingerprints DIR --driver D [--dsn SCRATCH_DSN]
        apply DIR/upkeep/db/*.sql to an empty scratch database and write
        DIR/upkeep/db/fingerprints.json and listings.json (the object listing
        after each script, which drift reports compare with) for that driver
  status --config FILE MODULE [--pack PACK] [--json]
  script --config FILE MODULE NUMBER [--pack PACK]
  apply-next --config FILE MODULE [--pack PACK]
  mark-applied --config FILE MODULE NUMBER [--pack PACK]

PACK is the module's pack: a signed FILE.zip (signature FILE.zip.minisig or --sig,
checked against the configuration's keys) or a folder holding an extracted one;
without --pack, the pack of the newest version that ` + "`upkeep install`" + ` installed or tried.
Run ` + "`upkeep db SUBCOMMAND -h`" + ` for a subcommand's flags.
`

func runDB(ctx context.Context, cl *cli, args []string) error {
	if len(args) == 0 {
		return usagef("want a subcommand: fingerprint, build-fingerprints, status, script, apply-next or mark-applied (run `upkeep db -h`)")
	}
	sub := map[string]func(context.Context, *cli, []string) error{
		"fingerprint": runDBFingerprint, "build-fingerprints": runDBBuild, "status": runDBStatus,
		"script": runDBScript, "apply-next": runDBApplyNext, "mark-applied": runDBMarkApplied,
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(cl.stdout, dbUsage)
		return errHelpShown
	}
	f, ok := sub[args[0]]
	if !ok {
		return usagef("unknown subcommand %q (run `upkeep db -h`)", args[0])
	}
	return f(ctx, cl, args[1:])
}

// dbErr adds a dbscript error's code, which scripts match, to its message.
func dbErr(err error) error {
	if c := dbscript.CodeOf(err); c != "" {
		return fmt.Errorf("%w [%s]", err, c)
	}
	return err
}

func runDBFingerprint(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("db fingerprint", "upkeep db fingerprint --driver D --dsn DSN [--json]")
	driver := fs.String("driver", "", "`driver`: sqlite or postgres")
	dsn := fs.String("dsn", "", "the database's `DSN` (a file path for sqlite)")
	schema := fs.String("schema", "public", "PostgreSQL `schema`")
	asJSON := fs.Bool("json", false, "print the canonical listing as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no positional argument"); err != nil {
		return err
	}
	if *dsn == "" {
		return usagef("--dsn is required")
	}
	if *driver == string(dbscript.SQLite) && !strings.HasPrefix(*dsn, "file:") && !strings.Contains(*dsn, ":memory:") {
		// Opening a missing file would create it, and fingerprint it as empty.
		if _, err := os.Stat(*dsn); err != nil {
			return fmt.Errorf("--dsn: %w", err)
		}
	}
	r, db, err := openRunner(*driver, *dsn, *schema)
	if err != nil {
		return err
	}
	defer db.Close()
	l, err := r.Fingerprint(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(cl.stdout, l)
	}
	fmt.Fprintln(cl.stdout, l.Fingerprint)
	return nil
}

func openRunner(driver, dsn, schema string, opts ...dbscript.Option) (*dbscript.Runner, *sql.DB, error) {
	d, err := dbscript.ParseDriver(driver)
	if err != nil {
		return nil, nil, usagef("--driver: %v", err)
	}
	db, err := dbscript.Open(d, dsn)
	if err != nil {
		return nil, nil, err
	}
	if schema != "" {
		opts = append(opts, dbscript.WithSchema(schema))
	}
	r, err := dbscript.New(db, d, opts...)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return r, db, nil
}

func runDBBuild(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("db build-fingerprints", "upkeep db build-fingerprints DIR --driver D [--dsn SCRATCH_DSN]")
	driver := fs.String("driver", "", "`driver`: sqlite or postgres")
	dsn := fs.String("dsn", "", "an empty scratch database's `DSN` (default for sqlite: in memory)")
	schema := fs.String("schema", "public", "PostgreSQL `schema`")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 1, "one DIR"); err != nil {
		return err
	}
	d, err := dbscript.ParseDriver(*driver)
	if err != nil {
		return usagef("--driver: %v", err)
	}
	if *dsn == "" {
		if d != dbscript.SQLite {
			return usagef("--dsn is required for %s: an empty scratch database", d)
		}
		*dsn = ":memory:"
	}
	dir := pos[0]
	p, err := dbscript.Load(os.DirFS(dir))
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	r, db, err := openRunner(*driver, *dsn, *schema)
	if err != nil {
		return err
	}
	defer db.Close()
	ls, err := r.BuildListings(ctx, p)
	if err != nil {
		return dbErr(err)
	}
	// The other driver's entries are kept (Load read them). The listings go first:
	// a pack whose fingerprints.json is newer than its listings.json has listings
	// that do not match, which a drift report refuses rather than trusts.
	fps := map[int]string{}
	for n, l := range ls {
		fps[n] = l.Fingerprint
	}
	p.Fingerprints[d] = fps
	p.Listings[d] = dbscript.ListingChanges(ls)
	for _, f := range []struct {
		name string
		v    json.Marshaler
	}{{dbscript.ListingsFile, p.Listings}, {dbscript.FingerprintsFile, p.Fingerprints}} {
		b, err := f.v.MarshalJSON()
		if err != nil {
			return err
		}
		dest := filepath.Join(dir, filepath.FromSlash(f.name))
		if err := atomicfile.WriteFile(dest, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(cl.stdout, "wrote %s: %d %s fingerprints (and their object listings in %s)\n",
		filepath.Join(dir, filepath.FromSlash(dbscript.FingerprintsFile)), len(fps), d, filepath.Base(dbscript.ListingsFile))
	return nil
}

// dbModule is what the config-based subcommands share: the module's runner and pack.
type dbModule struct {
	name string
	r    *dbscript.Runner
	db   *sql.DB
	p    *dbscript.Pack
	tmp  string
}

func (m *dbModule) close() {
	m.db.Close()
	if m.tmp != "" {
		os.RemoveAll(m.tmp)
	}
}

// dbFlags declares the flags of the config-based subcommands.
type dbFlags struct {
	config, pack, sig *string
}

func newDBFlags(f interface {
	String(name, value, usage string) *string
}) dbFlags {
	return dbFlags{
		config: f.String("config", "", "agent configuration `file`"),
		pack:   f.String("pack", "", "the module's `pack`: a signed FILE.zip or a folder holding an extracted pack"),
		sig:    f.String("sig", "", "signature `file` of a --pack FILE.zip (default FILE.zip.minisig)"),
	}
}

func (cl *cli) dbModule(ctx context.Context, fl dbFlags, module string) (*dbModule, error) {
	if *fl.config == "" {
		return nil, usagef("--config is required")
	}
	cfg, err := agent.LoadConfig(*fl.config)
	if err != nil {
		return nil, err
	}
	if *fl.pack == "" {
		// The pack of the newest version offered and downloaded by a check, else the
		// one an install installed or tried.
		eng, err := cl.engine(*fl.config)
		if err != nil {
			return nil, err
		}
		dir, err := dbagent.PackDir(ctx, eng, module)
		if err != nil {
			return nil, fmt.Errorf("%w; run `upkeep check --config %s` or `upkeep install --config %s %s` first, or give --pack", err, *fl.config, *fl.config, module)
		}
		*fl.pack = dir
	}
	mc, err := cfg.Module(module)
	if err != nil {
		return nil, err
	}
	if mc.Kind != update.KindDatabase {
		return nil, fmt.Errorf("%s: module %s is not of kind database", *fl.config, module)
	}
	dsn := mc.Database.DSN
	if mc.Database.DSNFile != "" {
		b, err := limited.ReadFile(mc.Database.DSNFile, 64<<10)
		if err != nil {
			return nil, fmt.Errorf("module %s: dsn_file: %w", module, err)
		}
		dsn = strings.TrimSpace(string(b))
	}
	m := &dbModule{name: module}
	var fsys fs.FS
	if fi, err := os.Stat(*fl.pack); err == nil && fi.IsDir() {
		fsys = os.DirFS(*fl.pack)
	} else {
		if m.tmp, err = os.MkdirTemp("", "upkeep-db-"); err != nil {
			return nil, err
		}
		if err := extractSigned(ctx, cfg, module, *fl.pack, *fl.sig, filepath.Join(m.tmp, "pack")); err != nil {
			os.RemoveAll(m.tmp)
			return nil, err
		}
		fsys = os.DirFS(filepath.Join(m.tmp, "pack"))
	}
	if m.p, err = dbscript.Load(fsys); err != nil {
		os.RemoveAll(m.tmp)
		return nil, fmt.Errorf("%s: %w", *fl.pack, err)
	}
	// The local baseline and the script timeout are those the engine's installs use.
	if m.r, m.db, err = openRunner(mc.Database.Driver, dsn, mc.Database.Schema, dbagent.ModuleOptions(cfg.StateDir, *mc)...); err != nil {
		os.RemoveAll(m.tmp)
		return nil, err
	}
	return m, nil
}

// extractSigned checks a pack's signature against the configuration's keys (and that
// it was signed for this module) and extracts it into dest.
func extractSigned(ctx context.Context, cfg *agent.Config, module, file, sigFile, dest string) error {
	if sigFile == "" {
		sigFile = file + ".minisig"
	}
	sig, err := limited.ReadFile(sigFile, signature.MaxSignatureFileSize)
	if err != nil {
		return err
	}
	kr, err := signature.LoadKeyring(cfg.Keys, signature.WithThreshold(cfg.Threshold))
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	c, err := trust.NewPackCheck(trust.Pinned(kr), trust.Pack{Binding: signature.Binding{File: filepath.Base(file), Module: module}, Unlisted: true, MaxSize: max(fi.Size(), 1)}, sig)
	if err != nil {
		return err
	}
	if _, err := io.Copy(c, f); err != nil {
		c.Close()
		return err
	}
	if _, err := c.Accept(); err != nil {
		return err
	}
	_, err = pack.Extract(ctx, f, fi.Size(), dest)
	return err
}

// dbStatusJSON is the shape CLI.md fixes for `db status --json`.
type dbStatusJSON struct {
	Module      string             `json:"module"`
	State       dbscript.State     `json:"state"`
	Applied     int                `json:"applied"`
	Fingerprint string             `json:"fingerprint"`
	Expected    string             `json:"expected"`
	Baseline    string             `json:"baseline"`
	Pending     []dbPendingJSON    `json:"pending"`
	Drift       dbscript.Drift     `json:"drift"`
	History     []dbscript.Applied `json:"history"`
}

type dbPendingJSON struct {
	Number   int      `json:"number"`
	Name     string   `json:"name"`
	Checksum string   `json:"checksum"`
	Touches  []string `json:"touches"`
}

func runDBStatus(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("db status", "upkeep db status --config FILE MODULE [--pack PACK] [--json]")
	fl := newDBFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 1, "one MODULE"); err != nil {
		return err
	}
	m, err := cl.dbModule(ctx, fl, pos[0])
	if err != nil {
		return err
	}
	defer m.close()
	st, err := m.r.Status(ctx, m.p)
	if err != nil {
		return dbErr(err)
	}
	out := dbStatusJSON{Module: m.name, State: st.State, Applied: st.Applied, Fingerprint: st.Fingerprint,
		Expected: st.Expected, Baseline: st.Baseline, Pending: []dbPendingJSON{},
		Drift: dbscript.Drift{Added: []string{}, Removed: []string{}, Changed: []string{}}, History: st.History}
	if st.Drift != nil {
		out.Drift = *st.Drift
	}
	if out.History == nil {
		out.History = []dbscript.Applied{}
	}
	for _, s := range st.Pending {
		t := st.Touches[s.Number]
		if t == nil {
			t = []string{}
		}
		out.Pending = append(out.Pending, dbPendingJSON{Number: s.Number, Name: s.Name, Checksum: s.Checksum, Touches: t})
	}
	if *asJSON {
		return writeJSON(cl.stdout, out)
	}
	fmt.Fprintf(cl.stdout, "%s: %s, %d applied, fingerprint %s (expected %s, %s)\n", m.name, st.State, st.Applied, st.Fingerprint, orDash(st.Expected), orDash(st.Baseline))
	for _, k := range []struct {
		what string
		list []string
	}{{"added", out.Drift.Added}, {"removed", out.Drift.Removed}, {"changed", out.Drift.Changed}} {
		for _, o := range k.list {
			fmt.Fprintf(cl.stdout, "  %s: %s\n", k.what, o)
		}
	}
	for _, p := range out.Pending {
		line := fmt.Sprintf("  pending %s", p.Name)
		if len(p.Touches) > 0 {
			line += " (touches customised " + strings.Join(p.Touches, ", ") + ")"
		}
		fmt.Fprintln(cl.stdout, line)
	}
	return nil
}

// orDash prints an empty value as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func scriptNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, usagef("NUMBER %q: want a script number from 1", s)
	}
	return n, nil
}

// openDBArgs parses the arguments of a subcommand that works on one configured
// module (and, with number, one of its scripts) and opens the module.
func (cl *cli) openDBArgs(ctx context.Context, name, usage string, args []string, number bool) (*dbModule, int, error) {
	fs := cl.newFlags(name, usage)
	fl := newDBFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return nil, 0, err
	}
	n := 0
	if number {
		if err := exactArgs(pos, 2, "MODULE NUMBER"); err != nil {
			return nil, 0, err
		}
		if n, err = scriptNumber(pos[1]); err != nil {
			return nil, 0, err
		}
	} else if err := exactArgs(pos, 1, "one MODULE"); err != nil {
		return nil, 0, err
	}
	m, err := cl.dbModule(ctx, fl, pos[0])
	return m, n, err
}

func runDBScript(ctx context.Context, cl *cli, args []string) error {
	m, n, err := cl.openDBArgs(ctx, "db script", "upkeep db script --config FILE MODULE NUMBER [--pack PACK]", args, true)
	if err != nil {
		return err
	}
	defer m.close()
	s, ok := m.p.Script(n)
	if !ok {
		return fmt.Errorf("%s: the pack has no script %d", m.name, n)
	}
	// Only a pending script is printed: one the history holds already ran.
	h, err := m.r.History(ctx)
	if err != nil {
		return dbErr(err)
	}
	for _, a := range h {
		if a.Number == n {
			return fmt.Errorf("%s: script %s is not pending: it was applied (%s) at %s", m.name, a.Name, a.Mode, a.AppliedAt.Format(time.RFC3339))
		}
	}
	_, err = fmt.Fprint(cl.stdout, s.Text)
	return err
}

func runDBApplyNext(ctx context.Context, cl *cli, args []string) error {
	m, _, err := cl.openDBArgs(ctx, "db apply-next", "upkeep db apply-next --config FILE MODULE [--pack PACK]", args, false)
	if err != nil {
		return err
	}
	defer m.close()
	a, err := m.r.ApplyNext(ctx, m.p)
	if err != nil {
		return dbErr(err)
	}
	fmt.Fprintf(cl.stdout, "%s: applied %s, fingerprint %s\n", m.name, a.Name, a.After)
	return nil
}

func runDBMarkApplied(ctx context.Context, cl *cli, args []string) error {
	m, n, err := cl.openDBArgs(ctx, "db mark-applied", "upkeep db mark-applied --config FILE MODULE NUMBER [--pack PACK]", args, true)
	if err != nil {
		return err
	}
	defer m.close()
	a, err := m.r.MarkApplied(ctx, m.p, n)
	if err != nil {
		return dbErr(err)
	}
	fmt.Fprintf(cl.stdout, "%s: recorded %s as run by hand, fingerprint %s\n", m.name, a.Name, a.After)
	return nil
}
