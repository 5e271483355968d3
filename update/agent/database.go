package agent

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/upkeep-go/upkeep/update"
)

// DatabaseModule is what the agent asks of a database module (kind database): its
// scripts' state and the steps a person takes on a customised database. Package
// update/dbscript/dbagent implements it over update/dbscript; the agent itself knows
// no database driver.
type DatabaseModule interface {
	// Status reads the history and the live schema against the module's pack.
	Status(ctx context.Context) (*DatabaseView, error)
	// Script returns one script of the pack, with its text.
	Script(ctx context.Context, number int) (*ScriptView, error)
	// ApplyNext runs exactly the next pending script.
	ApplyNext(ctx context.Context) (*AppliedScript, error)
	// MarkApplied records that a person ran script number, the next pending one, by
	// hand.
	MarkApplied(ctx context.Context, number int) (*AppliedScript, error)
}

// DatabaseOpener returns the DatabaseModule of a module of kind database.
type DatabaseOpener func(update.ModuleConfig) (DatabaseModule, error)

// WithDatabase sets how the agent reaches database modules (see DatabaseModule).
// Default: none; the database part of their views then says so, and ApplyNext and
// MarkApplied fail with ErrNoDatabase.
func WithDatabase(open DatabaseOpener) Option {
	return func(a *Agent) error {
		if open == nil {
			return errors.New("agent: WithDatabase: nil opener")
		}
		a.openDB = open
		return nil
	}
}

// ErrNoDatabase is returned for the database steps of a module that is not of kind
// database, or when the agent has no WithDatabase.
var ErrNoDatabase = errors.New("agent: not a database module")

// Database states, as DatabaseView.State gives them beside dbscript's "standard",
// "customised" and "empty".
const (
	// DatabaseUnknown is the state before the database could be read (no pack
	// installed or tried yet, the server unreachable, a history that does not match).
	DatabaseUnknown = "unknown"
)

// DatabaseView is the database part of a module's view: whether the database is the
// publisher's standard schema, how it drifted, and the scripts still to run.
type DatabaseView struct {
	// State is "standard", "customised", "empty" or "unknown" (Error says why).
	State       string          `json:"state"`
	Applied     int             `json:"applied"` // number of the last applied script, 0 when none
	Fingerprint string          `json:"fingerprint"`
	Expected    string          `json:"expected"`
	Pending     []PendingScript `json:"pending"`
	Drift       Drift           `json:"drift"`
	// Checked is when the database was read.
	Checked *time.Time `json:"checked"`
	Error   string     `json:"error"`
	Code    string     `json:"code"`
}

// PendingScript is a script of the pack not applied yet.
type PendingScript struct {
	Number   int    `json:"number"`
	Name     string `json:"name"`
	Checksum string `json:"checksum"`
	// Touches names the customised objects the script names.
	Touches []string `json:"touches"`
}

// Drift is how a customised database differs from the standard schema, by object
// name.
type Drift struct {
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	Changed []string `json:"changed"`
}

// ScriptView is one script of a database module's pack.
type ScriptView struct {
	Number   int    `json:"number"`
	Name     string `json:"name"`
	Checksum string `json:"checksum"`
	Text     string `json:"text"`
	// Applied tells whether the history holds it already.
	Applied bool `json:"applied"`
}

// AppliedScript is a script that ApplyNext ran or MarkApplied recorded.
type AppliedScript struct {
	Number int    `json:"number"`
	Name   string `json:"name"`
	Mode   string `json:"mode"`  // "manual" or "marked"
	After  string `json:"after"` // the fingerprint after it
}

// databaseOf returns the DatabaseModule of a configured module, opening it once.
func (a *Agent) databaseOf(module string) (*moduleState, DatabaseModule, error) {
	ms, err := a.module(module)
	if err != nil {
		return nil, nil, err
	}
	mc := ms.cfg
	if mc.Kind != update.KindDatabase {
		return nil, nil, fmt.Errorf("%w: module %s is of kind %s", ErrNoDatabase, module, orFiles(mc.Kind))
	}
	if a.openDB == nil {
		return nil, nil, fmt.Errorf("%w: the agent was started without database support (module %s)", ErrNoDatabase, module)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if ms.db == nil {
		db, err := a.openDB(mc)
		if err != nil {
			return nil, nil, fmt.Errorf("module %s: %w", module, err)
		}
		ms.db = db
	}
	return ms, ms.db, nil
}

func orFiles(k update.ModuleKind) update.ModuleKind {
	if k == "" {
		return update.KindFiles
	}
	return k
}

// Database reads the database of module now (history, live schema, drift, pending
// scripts) and returns it; the module's view shows it from then on.
func (a *Agent) Database(ctx context.Context, module string) (*DatabaseView, error) {
	_, db, err := a.databaseOf(module)
	if err != nil {
		return nil, err
	}
	return a.readDatabase(ctx, module, db), nil
}

// readDatabase reads db's status into the module's view. A failure to read is
// part of the view (state unknown, with the error and its code).
func (a *Agent) readDatabase(ctx context.Context, module string, db DatabaseModule) *DatabaseView {
	v, err := db.Status(ctx)
	now := a.now()
	if err != nil {
		v = &DatabaseView{State: DatabaseUnknown, Error: err.Error(), Code: string(update.CodeOf(err))}
	}
	v.Checked = &now
	if v.Pending == nil {
		v.Pending = []PendingScript{}
	}
	for i := range v.Pending {
		if v.Pending[i].Touches == nil {
			v.Pending[i].Touches = []string{}
		}
	}
	for _, l := range []*[]string{&v.Drift.Added, &v.Drift.Removed, &v.Drift.Changed} {
		if *l == nil {
			*l = []string{}
		}
	}
	a.mu.Lock()
	a.dbViews[module] = v
	a.mu.Unlock()
	return v
}

// refreshDatabases reads every database module once, for the first views.
func (a *Agent) refreshDatabases(ctx context.Context) {
	for _, m := range a.eng.Config().Modules {
		if m.Kind != update.KindDatabase || a.openDB == nil || ctx.Err() != nil {
			continue
		}
		if _, db, err := a.databaseOf(m.Name); err == nil {
			a.readDatabase(ctx, m.Name, db)
		} else {
			a.mu.Lock()
			a.dbViews[m.Name] = &DatabaseView{State: DatabaseUnknown, Error: err.Error(),
				Pending: []PendingScript{}, Drift: Drift{Added: []string{}, Removed: []string{}, Changed: []string{}}}
			a.mu.Unlock()
		}
	}
}

// Script returns script number of a database module's pack, with its text.
func (a *Agent) Script(ctx context.Context, module string, number int) (*ScriptView, error) {
	_, db, err := a.databaseOf(module)
	if err != nil {
		return nil, err
	}
	return db.Script(ctx, number)
}

// ApplyNext starts running the next pending script of a database module, the step a
// person takes on a customised database after reading it, and returns at once with
// the operation's ID (that of the script operation already running or queued, if
// any). The operation waits for the module's other operations.
func (a *Agent) ApplyNext(ctx context.Context, module string) (string, error) {
	return a.startScript(ctx, module, 0)
}

// MarkApplied starts recording that a person ran script number, the next pending one
// of a database module, by hand, and returns at once with the operation's ID.
func (a *Agent) MarkApplied(ctx context.Context, module string, number int) (string, error) {
	if number < 1 {
		return "", fmt.Errorf("agent: mark applied: script number %d: want a number from 1", number)
	}
	return a.startScript(ctx, module, number)
}

// startScript starts an OpScript operation: ApplyNext when mark is 0, else
// MarkApplied(mark).
func (a *Agent) startScript(ctx context.Context, module string, mark int) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	ms, db, err := a.databaseOf(module)
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return "", ErrStopped
	}
	if ms.script != nil {
		return ms.script.op.ID, nil
	}
	op := Operation{Module: module, Kind: OpScript}
	if v := a.dbViews[module]; v != nil {
		op.From = strconv.Itoa(v.Applied)
		if len(v.Pending) > 0 {
			op.To = v.Pending[0].Name
		}
	}
	st := a.startOp(op, func(ctx context.Context, st *opState) error {
		if err := a.acquire(ctx, ms, st); err != nil {
			return err
		}
		defer a.release(ms)
		a.mu.Lock()
		st.prog.Step = "script"
		a.mu.Unlock()
		var res *AppliedScript
		var err error
		if mark == 0 {
			res, err = db.ApplyNext(ctx)
		} else {
			res, err = db.MarkApplied(ctx, mark)
		}
		if res != nil {
			a.setTo(st, res.Name)
		}
		// The view shows the database as it is now, before the operation ends.
		a.readDatabase(context.WithoutCancel(ctx), module, db)
		return err
	})
	ms.script = st
	return st.op.ID, nil
}

// afterDatabaseChange reads a database module again after an operation that may have
// changed it (an install runs its scripts), so that the view is current when the
// operation ends.
func (a *Agent) afterDatabaseChange(ctx context.Context, module string) {
	if ms := a.mods[module]; ms == nil || ms.cfg.Kind != update.KindDatabase || a.openDB == nil {
		return
	}
	if _, db, err := a.databaseOf(module); err == nil {
		a.readDatabase(context.WithoutCancel(ctx), module, db)
	}
}

// ErrNoScript is returned (wrapped) for a script number the module's pack does not
// hold.
var ErrNoScript = errors.New("agent: no such script")
