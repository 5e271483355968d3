// Package dbagent connects database modules to the agent: it implements
// agent.DatabaseModule over package update/dbscript, reading the scripts from the
// pack the engine installed or tried last (kept in the module's folder of the state dir).
//
//	a, err := agent.New(cfg, eng, agent.WithDatabase(dbagent.Opener(eng)))
package dbagent

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-version"

	"github.com/upkeep-go/upkeep/internal/limited"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/dbscript"
	"github.com/upkeep-go/upkeep/update/internal/seam"
)

// MaxDSNFile bounds the size of a module's dsn_file.
const MaxDSNFile = 64 << 10

// Opener returns the agent's opener of database modules over eng: each module's
// scripts come from the pack eng installed or tried last, its database from its configuration (driver,
// dsn or dsn_file, schema, script_timeout), its local baseline from the state dir
// (BaselineFile). opts are passed to every dbscript.Runner after those.
func Opener(eng *update.Engine, opts ...dbscript.Option) agent.DatabaseOpener {
	return func(m update.ModuleConfig) (agent.DatabaseModule, error) {
		if m.Kind != update.KindDatabase || m.Database == nil {
			return nil, fmt.Errorf("dbagent: module %s: not a database module", m.Name)
		}
		if _, err := dbscript.ParseDriver(m.Database.Driver); err != nil {
			return nil, fmt.Errorf("dbagent: module %s: %w", m.Name, err)
		}
		return &module{eng: eng, m: m, opts: append(ModuleOptions(eng.Config().StateDir, m), opts...)}, nil
	}
}

// BaselineFile is where the local baseline of module (see dbscript.WithBaselineFile)
// is kept: in the module's folder of the state dir, out of reach of the database's
// own users.
func BaselineFile(stateDir, module string) string {
	return filepath.Join(stateDir, "modules", module, "db-baseline.json")
}

// ModuleOptions returns the runner options a module's configuration and the state
// dir give: its local baseline file and its script_timeout.
func ModuleOptions(stateDir string, m update.ModuleConfig) []dbscript.Option {
	var opts []dbscript.Option
	if stateDir != "" {
		opts = append(opts, dbscript.WithBaselineFile(BaselineFile(stateDir, m.Name)))
	}
	if m.Database != nil {
		opts = append(opts, dbscript.WithScriptTimeout(seam.ScriptTimeout(m.Database.ScriptTimeout)))
	}
	return opts
}

// Open opens the database of module m and its runner; the caller closes the *sql.DB.
func Open(m update.ModuleConfig, opts ...dbscript.Option) (*dbscript.Runner, *sql.DB, error) {
	if m.Database == nil {
		return nil, nil, fmt.Errorf("module %s: database: missing", m.Name)
	}
	d, err := dbscript.ParseDriver(m.Database.Driver)
	if err != nil {
		return nil, nil, fmt.Errorf("module %s: %w", m.Name, err)
	}
	dsn := m.Database.DSN
	if m.Database.DSNFile != "" {
		b, err := limited.ReadFile(m.Database.DSNFile, MaxDSNFile)
		if err != nil {
			return nil, nil, fmt.Errorf("module %s: dsn_file: %w", m.Name, err)
		}
		dsn = strings.TrimSpace(string(b))
	}
	db, err := dbscript.Open(d, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("module %s: %w", m.Name, err)
	}
	if m.Database.Schema != "" {
		opts = append([]dbscript.Option{dbscript.WithSchema(m.Database.Schema)}, opts...)
	}
	r, err := dbscript.New(db, d, opts...)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("module %s: %w", m.Name, err)
	}
	return r, db, nil
}

// module is one database module; each call opens the database and reads the pack
// again, so that a new install's pack and a changed dsn_file are seen.
type module struct {
	eng  *update.Engine
	m    update.ModuleConfig
	opts []dbscript.Option
}

// PackDir returns the folder of the pack whose scripts module's database is read
// against: the pack of the newest version offered and downloaded (by eng.Download)
// when it is newer than the installed version, so that its pending scripts and the
// drift show after a check, before any install; else the pack an install installed
// or tried last.
func PackDir(ctx context.Context, eng *update.Engine, module string) (string, error) {
	applied, err := seam.AppliedPack(ctx, eng, module)
	if dir, v, oerr := seam.OfferedPack(ctx, eng, module); oerr == nil {
		st, serr := eng.ModuleStatus(ctx, module)
		if serr != nil {
			return "", serr
		}
		if st.Installed == nil || err != nil || newer(v, *st.Installed) {
			return dir, nil
		}
	}
	return applied, err
}

// newer reports whether version a is newer than b.
func newer(a, b string) bool {
	va, err1 := version.NewVersion(a)
	vb, err2 := version.NewVersion(b)
	if err1 != nil || err2 != nil {
		return a != b
	}
	return va.GreaterThan(vb)
}

// with runs f with the module's runner and pack.
func (d *module) with(ctx context.Context, f func(*dbscript.Runner, *dbscript.Pack) error) error {
	dir, err := PackDir(ctx, d.eng, d.m.Name)
	if err != nil {
		return fmt.Errorf("%w; run a check, or install the module first", err)
	}
	p, err := dbscript.Load(os.DirFS(dir))
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	r, db, err := Open(d.m, d.opts...)
	if err != nil {
		return err
	}
	defer db.Close()
	return f(r, p)
}

// Status reads the history and the live schema against the pack.
func (d *module) Status(ctx context.Context) (*agent.DatabaseView, error) {
	var v *agent.DatabaseView
	err := d.with(ctx, func(r *dbscript.Runner, p *dbscript.Pack) error {
		st, err := r.Status(ctx, p)
		if err != nil {
			return err
		}
		v = &agent.DatabaseView{State: string(st.State), Applied: st.Applied,
			Fingerprint: st.Fingerprint, Expected: st.Expected, Pending: []agent.PendingScript{}}
		if st.Drift != nil {
			v.Drift = agent.Drift{Added: st.Drift.Added, Removed: st.Drift.Removed, Changed: st.Drift.Changed}
		}
		for _, s := range st.Pending {
			v.Pending = append(v.Pending, agent.PendingScript{Number: s.Number, Name: s.Name,
				Checksum: s.Checksum, Touches: st.Touches[s.Number]})
		}
		return nil
	})
	return v, err
}

// Script returns one script of the pack.
func (d *module) Script(ctx context.Context, n int) (*agent.ScriptView, error) {
	var v *agent.ScriptView
	err := d.with(ctx, func(r *dbscript.Runner, p *dbscript.Pack) error {
		s, ok := p.Script(n)
		if !ok {
			return fmt.Errorf("%w: module %s: the pack has no script %d", agent.ErrNoScript, d.m.Name, n)
		}
		h, err := r.History(ctx)
		if err != nil {
			return err
		}
		v = &agent.ScriptView{Number: s.Number, Name: s.Name, Checksum: s.Checksum, Text: s.Text}
		for _, a := range h {
			v.Applied = v.Applied || a.Number == n
		}
		return nil
	})
	return v, err
}

// ApplyNext runs the next pending script.
func (d *module) ApplyNext(ctx context.Context) (*agent.AppliedScript, error) {
	var out *agent.AppliedScript
	err := d.with(ctx, func(r *dbscript.Runner, p *dbscript.Pack) error {
		a, err := r.ApplyNext(ctx, p)
		if a != nil {
			out = applied(a)
		}
		return err
	})
	return out, err
}

// MarkApplied records script n as run by hand.
func (d *module) MarkApplied(ctx context.Context, n int) (*agent.AppliedScript, error) {
	var out *agent.AppliedScript
	err := d.with(ctx, func(r *dbscript.Runner, p *dbscript.Pack) error {
		a, err := r.MarkApplied(ctx, p, n)
		if a != nil {
			out = applied(a)
		}
		return err
	})
	return out, err
}

func applied(a *dbscript.Applied) *agent.AppliedScript {
	return &agent.AppliedScript{Number: a.Number, Name: a.Name, Mode: string(a.Mode), After: a.After}
}

// NewApplier returns the engine's applier of database modules (for
// update.WithApplier(update.KindDatabase, dbagent.NewApplier)): an install runs the
// staged pack's pending scripts when the database is standard, fails with
// schema_drift, running nothing, when it is customised with scripts pending, and
// completes when nothing is pending (the database stays customised). It keeps no
// local baseline, so the publisher's fingerprints are always expected: use
// Appliers to keep one in the state dir.
func NewApplier(m update.ModuleConfig) (update.Applier, error) {
	return Appliers("")(m)
}

// Appliers is NewApplier keeping each module's local baseline in stateDir (see
// BaselineFile), the engine's configured state dir:
//
//	update.WithApplier(update.KindDatabase, dbagent.Appliers(cfg.StateDir))
func Appliers(stateDir string, opts ...dbscript.Option) func(update.ModuleConfig) (update.Applier, error) {
	return func(m update.ModuleConfig) (update.Applier, error) {
		if m.Database == nil {
			return nil, fmt.Errorf("module %s: database: missing", m.Name)
		}
		return applier{m: m, opts: append(ModuleOptions(stateDir, m), opts...)}, nil
	}
}

type applier struct {
	m    update.ModuleConfig
	opts []dbscript.Option
}

// Apply runs the staged pack's pending scripts.
func (a applier) Apply(ctx context.Context, stage fs.FS, from, to string) error {
	p, err := dbscript.Load(stage)
	if err != nil {
		return err
	}
	r, db, err := Open(a.m, a.opts...)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = r.Apply(ctx, p)
	return err
}
