package dbscript

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// DefaultTable is the history table's name.
const DefaultTable = "upkeep_history"

// Mode is how a script came to be in the history.
type Mode string

// Modes of the history.
const (
	ModeAuto   Mode = "auto"   // applied by Apply on a standard database
	ModeManual Mode = "manual" // applied by ApplyNext, at a person's request
	ModeMarked Mode = "marked" // run by a person outside upkeep, recorded by MarkApplied
)

// Applied is one row of the history table. Before and After are the fingerprints
// of the schema before and after the script, "" where it was not read: Apply reads
// the schema before its first script and after its last.
type Applied struct {
	Number    int       `json:"number"`
	Name      string    `json:"name"`
	Checksum  string    `json:"sha256"`
	Mode      Mode      `json:"mode"`
	Before    string    `json:"fingerprint_before"`
	After     string    `json:"fingerprint_after"`
	AppliedAt time.Time `json:"applied_at"`
}

// Runner applies a pack's scripts to one database and reports its state. Its methods
// may be called from several goroutines; on PostgreSQL, runners in several processes
// are serialised by an advisory lock.
type Runner struct {
	db       *sql.DB
	driver   Driver
	d        dialect
	schema   string
	table    string
	log      *slog.Logger
	now      func() time.Time
	progress func(Applied)
	baseline string        // WithBaselineFile
	timeout  time.Duration // WithScriptTimeout
}

// DefaultScriptTimeout is how long one script may run before it is rolled back.
const DefaultScriptTimeout = 30 * time.Minute

// WithScriptTimeout bounds each script's transaction: past d, it is rolled back
// whole and fails with CodeScriptFailed, "timed out" in its message. On PostgreSQL
// the server enforces it too (lock_timeout and statement_timeout, so that a script
// neither waits for ever behind the application's locks nor keeps the application
// waiting behind its own). Default: DefaultScriptTimeout; 0 means none.
func WithScriptTimeout(d time.Duration) Option {
	return func(r *Runner) error {
		if d < 0 {
			return fmt.Errorf("dbscript: WithScriptTimeout: negative duration %s", d)
		}
		r.timeout = d
		return nil
	}
}

// Option configures a Runner.
type Option func(*Runner) error

// WithSchema sets the PostgreSQL schema that holds the module's objects and the
// history table; scripts run with it alone on the search path. Default: "public".
// SQLite ignores it.
func WithSchema(s string) Option {
	return func(r *Runner) error {
		if s == "" {
			return errors.New("dbscript: empty schema name")
		}
		r.schema = s
		return nil
	}
}

// WithTable sets the history table's name. Default: DefaultTable.
func WithTable(t string) Option {
	return func(r *Runner) error {
		if t == "" {
			return errors.New("dbscript: empty table name")
		}
		r.table = t
		return nil
	}
}

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(r *Runner) error { r.log = l; return nil }
}

// WithClock sets the clock of the history's applied_at. Default: time.Now.
func WithClock(now func() time.Time) Option {
	return func(r *Runner) error { r.now = now; return nil }
}

// WithProgress sets a function called for each script once the transaction that
// ran it committed, with its history row, in order. Default: none.
func WithProgress(f func(Applied)) Option {
	return func(r *Runner) error { r.progress = f; return nil }
}

// New returns a runner for db, a database of the given driver (see Open).
func New(db *sql.DB, driver Driver, opts ...Option) (*Runner, error) {
	d, err := dialectOf(driver)
	if err != nil {
		return nil, err
	}
	r := &Runner{db: db, driver: driver, d: d, schema: "public", table: DefaultTable,
		log: slog.New(slog.DiscardHandler), now: time.Now, timeout: DefaultScriptTimeout}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Driver returns the runner's driver.
func (r *Runner) Driver() Driver { return r.driver }

// Fingerprint reads the live schema's canonical listing and fingerprint.
func (r *Runner) Fingerprint(ctx context.Context) (*Listing, error) {
	var l *Listing
	err := r.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		l, err = r.listing(ctx, tx)
		return err
	})
	return l, err
}

func (r *Runner) listing(ctx context.Context, q querier) (*Listing, error) {
	objs, err := r.d.list(ctx, q, r.schema, r.table)
	if err != nil {
		return nil, err
	}
	return newListing(r.driver, objs), nil
}

// inTx runs fn in a read-only transaction that is rolled back after: a read takes
// no lock a script or the application waits for, and writes nothing (PostgreSQL
// refuses writes in it).
func (r *Runner) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := r.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("dbscript: begin: %w", err)
	}
	defer tx.Rollback()
	if err := r.d.beginRead(ctx, tx, r.schema); err != nil {
		return fmt.Errorf("dbscript: begin: %w", err)
	}
	return fn(tx)
}

// History returns the history table's rows in script order; none when the table does
// not exist yet.
func (r *Runner) History(ctx context.Context) ([]Applied, error) {
	var h []Applied
	err := r.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		h, err = r.history(ctx, tx)
		return err
	})
	return h, err
}

func (r *Runner) history(ctx context.Context, q querier) ([]Applied, error) {
	// On SQLite, where a statement that fails leaves the transaction as it was, the
	// table is read first and whether it exists is asked only when that fails: one
	// statement less for each script. PostgreSQL would abort the transaction.
	if r.driver != SQLite {
		ok, err := r.d.historyExists(ctx, q, r.schema, r.table)
		if err != nil || !ok {
			return nil, err
		}
	}
	var h []Applied
	var perr error
	err := collect(ctx, q, `SELECT number, name, sha256, mode, fingerprint_before, fingerprint_after, applied_at FROM `+
		r.d.qualify(r.schema, r.table)+` ORDER BY number`, nil, 7, func(v []string) {
		a := Applied{Name: v[1], Checksum: v[2], Mode: Mode(v[3]), Before: v[4], After: v[5]}
		if _, err := fmt.Sscan(v[0], &a.Number); err != nil && perr == nil {
			perr = fmt.Errorf("dbscript: history row %q: number: %w", v[0], err)
		}
		if t, err := time.Parse(time.RFC3339Nano, v[6]); err == nil {
			a.AppliedAt = t
		}
		h = append(h, a)
	})
	if err != nil && r.driver == SQLite {
		if ok, xerr := r.d.historyExists(ctx, q, r.schema, r.table); xerr == nil && !ok {
			return nil, nil
		}
	}
	if err == nil {
		err = perr
	}
	if err != nil {
		return nil, fmt.Errorf("dbscript: read history table %s: %w", r.table, err)
	}
	return h, nil
}

// State is whether a database can be updated automatically.
type State string

// States of a database.
const (
	StateEmpty      State = "empty"      // nothing applied and no objects
	StateStandard   State = "standard"   // the expected fingerprint: scripts run automatically
	StateCustomised State = "customised" // differs from the expected: scripts run one by one
)

// Status is what Runner.Status found.
type Status struct {
	State State
	// Applied is the number of the last applied script, 0 when none.
	Applied int
	History []Applied
	// Fingerprint is the live schema's; Expected the one a standard database has now.
	Fingerprint, Expected string
	// Baseline says where Expected comes from: "local" (recorded in the
	// WithBaselineFile file after the last automatic script), "publisher" (the pack's
	// fingerprints.json), "empty" (nothing applied), "" when the pack has no
	// fingerprint for the last applied script.
	Baseline string
	// Pending are the pack's scripts not in the history yet, in order.
	Pending []*Script
	// Live is the live schema's listing.
	Live *Listing
	// Drift is how the live schema differs from the expected one's listing (the
	// local baseline's, else the publisher's for the last applied script), for a
	// customised database (nil otherwise). Its Unavailable says why there is no
	// report (a pack without listings.json): no script is ever replayed to make one.
	Drift *Drift
	// Touches gives, per pending script number, the drifted objects it names
	// (see Touches).
	Touches map[int][]string
}

// Status checks the history against the pack, fingerprints the live schema and
// decides whether the database is standard. It fails with CodeHistoryMismatch when
// the history does not match the pack. It only reads, in a read-only transaction:
// the drift report compares the live catalog with a recorded listing, and no script
// is ever replayed for it.
func (r *Runner) Status(ctx context.Context, p *Pack) (*Status, error) {
	var st *Status
	var local *Listing
	err := r.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		st, local, err = r.status(ctx, tx, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	r.drift(p, st, local)
	return st, nil
}

// drift sets the drift report and what the pending scripts touch of a customised
// database, from the expected listing: local, the local baseline's, else the
// publisher's.
func (r *Runner) drift(p *Pack, st *Status, local *Listing) {
	if st.State != StateCustomised {
		return
	}
	want := local
	var err error
	if want == nil {
		want, err = p.Listing(r.driver, st.Applied)
	}
	st.Touches = map[int][]string{}
	if err != nil {
		st.Drift = &Drift{Added: []string{}, Removed: []string{}, Changed: []string{},
			Unavailable: fmt.Sprintf("no drift report: %v (rebuild the pack with `upkeep db build-fingerprints`)", err)}
		return
	}
	st.Drift = Compare(want, st.Live)
	for _, s := range st.Pending {
		st.Touches[s.Number] = Touches(s, st.Drift, st.Live, want)
	}
}

// status reads the history and the live schema; it returns the local baseline's
// listing too when that is where Expected comes from.
func (r *Runner) status(ctx context.Context, q querier, p *Pack) (*Status, *Listing, error) {
	h, err := r.history(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	st := &Status{History: h}
	if err := checkHistory(p, h); err != nil {
		return nil, nil, err
	}
	done := map[int]bool{}
	for _, a := range h {
		done[a.Number] = true
		st.Applied = a.Number
	}
	for i := range p.Scripts {
		if !done[p.Scripts[i].Number] {
			st.Pending = append(st.Pending, &p.Scripts[i])
		}
	}
	// A database where nothing was applied is empty when its schema holds nothing a
	// listing could show: a cheap question, on a fresh install, before a whole read.
	if len(h) == 0 {
		if blank, err := r.d.blank(ctx, q, r.schema, r.table); err != nil {
			return nil, nil, fmt.Errorf("dbscript: read the catalog: %w", err)
		} else if blank {
			st.Live = newListing(r.driver, nil)
		}
	}
	if st.Live == nil {
		if st.Live, err = r.listing(ctx, q); err != nil {
			return nil, nil, err
		}
	}
	st.Fingerprint = st.Live.Fingerprint
	local, err := r.expected(p, h, st)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case len(h) == 0 && len(st.Live.Objects) == 0:
		st.State = StateEmpty
	case st.Expected != "" && st.Expected == st.Fingerprint:
		st.State = StateStandard
	default:
		st.State = StateCustomised
	}
	return st, local, nil
}

// expected applies the rule of the package documentation, setting st.Expected and
// st.Baseline; it returns the local baseline's listing when that is the rule's.
func (r *Runner) expected(p *Pack, h []Applied, st *Status) (*Listing, error) {
	if len(h) == 0 {
		st.Expected, st.Baseline = EmptyFingerprint, "empty"
		return nil, nil
	}
	last := h[len(h)-1]
	local, err := r.localBaseline(last)
	if err != nil {
		return nil, err
	}
	if local != nil {
		st.Expected, st.Baseline = local.Fingerprint, "local"
		return local, nil
	}
	if fp, ok := p.Fingerprints[r.driver][last.Number]; ok {
		st.Expected, st.Baseline = fp, "publisher"
	}
	return nil, nil
}

// checkHistory refuses a history that does not match the pack: an applied script
// whose checksum differs or that the pack lacks, or a pack script older than the
// last applied one that never ran.
func checkHistory(p *Pack, h []Applied) error {
	last := 0
	for _, a := range h {
		s, ok := p.Script(a.Number)
		if !ok {
			return &Error{Code: CodeHistoryMismatch, Number: a.Number, Script: a.Name,
				Err: fmt.Errorf("applied (%s, %s) but not in the pack", a.Mode, a.AppliedAt.Format(time.RFC3339))}
		}
		if s.Checksum != a.Checksum {
			return &Error{Code: CodeHistoryMismatch, Number: a.Number, Script: s.Name,
				Err: fmt.Errorf("the history records sha256 %s, the pack's script has %s: the script or the history was edited", a.Checksum, s.Checksum)}
		}
		last = a.Number
	}
	done := map[int]bool{}
	for _, a := range h {
		done[a.Number] = true
	}
	for _, s := range p.Scripts {
		if s.Number < last && !done[s.Number] {
			return &Error{Code: CodeHistoryMismatch, Number: s.Number, Script: s.Name,
				Err: fmt.Errorf("never applied, but script %d after it was", last)}
		}
	}
	return nil
}

// exec runs a script's statements, naming the line and the server's message of the
// one that fails.
func (r *Runner) exec(ctx context.Context, q querier, s *Script) error {
	for _, st := range s.Statements {
		if _, err := q.ExecContext(ctx, st.SQL); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			line, msg := r.d.lineOf(err, st.SQL)
			if line > 0 {
				line += st.Line - 1 - strings.Count(st.SQL[:skipSpace(st.SQL, 0)], "\n")
			} else {
				line = st.Line
			}
			var e error = errors.New(msg)
			if r.d.timedOut(err) {
				e = errScriptTimeout{e}
			}
			return &Error{Code: CodeScriptFailed, Number: s.Number, Script: s.Name, Line: line, Err: e}
		}
	}
	return nil
}

// Result is what Apply did.
type Result struct {
	Status  *Status   // before anything ran
	Applied []Applied // the scripts applied, in order
}

// Apply brings a standard (or empty) database up to the pack's last script. The
// pending scripts run in one transaction with their history rows, each within
// [WithScriptTimeout], and the schema is read once, after the last: when the live
// schema matched the publisher's before, it must then match the pack's fingerprint
// for the last script, or nothing is kept. An install applies all its scripts or
// none; a crash or a cancelled ctx leaves none.
//
// When that fails (a script fails or times out, or the schema after differs), the
// transaction is rolled back and the scripts run again, one transaction each, the
// schema checked after each: the scripts before the one at fault stay applied and
// the error names it. A failing script is rolled back whole and Apply stops with
// CodeScriptFailed; one that timed out is not run again.
//
// A customised database with scripts pending gets CodeSchemaDrift and nothing runs;
// one with nothing pending (a person ran them one by one) is up to date: Apply
// succeeds, and the database stays customised (Result.Status.Drift).
func (r *Runner) Apply(ctx context.Context, p *Pack) (*Result, error) {
	res, done, timedOut, err := r.applyAll(ctx, p)
	if done || err != nil {
		return res, err
	}
	// One transaction per script, the schema checked after each: what it takes to
	// keep the scripts before a failing one and to name it.
	st := res.Status
	strict := r.strict(p, st)
	before := st.Fingerprint
	var last *Listing
	defer func() {
		if last != nil {
			r.keepBaseline(res.Applied[len(res.Applied)-1], last)
		}
	}()
	pending := st.Pending
	if timedOut != nil {
		pending = pending[:slices.Index(pending, timedOut.script)]
	}
	for _, s := range pending {
		var want string
		if strict {
			want = p.Fingerprints[r.driver][s.Number]
			if want == "" {
				r.log.Warn("the pack has no fingerprint for a script: not checked", "script", s.Name, "driver", r.driver)
			}
		}
		// A listing partly read from the runner's cache that missed a change could
		// only make the local baseline differ from the live schema, which then reads
		// as customised: never the other way round.
		a, l, err := r.applyOne(ctx, p, s, ModeAuto, before, want, false)
		if err != nil {
			return res, err
		}
		res.Applied = append(res.Applied, *a)
		before, last = a.After, l
	}
	if timedOut != nil {
		return res, timedOut.err
	}
	return res, nil
}

// strict reports whether the publisher's fingerprints are checked: only when this
// server's catalog reads as the publisher's did, else the local baseline rules.
func (r *Runner) strict(p *Pack, st *Status) bool {
	return st.Baseline == "empty" || st.Baseline == "publisher" || p.Fingerprints[r.driver][st.Applied] == st.Fingerprint
}

// keepBaseline records l, the listing after a, the last script applied, as the
// next local baseline; a failure to record it leaves the publisher's in force.
func (r *Runner) keepBaseline(a Applied, l *Listing) {
	if err := r.saveBaseline(a, l); err != nil {
		r.log.Warn("the local baseline was not recorded: the publisher's fingerprint is expected", "script", a.Name, "err", err)
	}
}

// scriptTimeout is a script that timed out in applyAll, and its error.
type scriptTimeout struct {
	script *Script
	err    error
}

// applyAll reads the status and runs the pending scripts of a standard or empty
// database in one transaction, under the runner's lock (see Apply). It returns done
// when Apply has nothing more to do (applied, up to date, customised, or err). Else
// the transaction was rolled back: Apply runs the scripts one transaction each, and
// timedOut, when not nil, is the one that timed out.
func (r *Runner) applyAll(ctx context.Context, p *Pack) (res *Result, done bool, timedOut *scriptTimeout, err error) {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, true, nil, fmt.Errorf("dbscript: begin: %w", err)
	}
	defer tx.Rollback()
	if err := r.d.begin(ctx, tx, r.schema, r.table, r.timeout); err != nil {
		return nil, true, nil, fmt.Errorf("dbscript: begin: %w", err)
	}
	st, local, err := r.status(ctx, tx, p)
	if err != nil {
		return nil, true, nil, err
	}
	r.drift(p, st, local)
	res = &Result{Status: st}
	switch {
	case st.State == StateCustomised && len(st.Pending) == 0:
		r.log.Info("customised database with no script pending: up to date", "applied", st.Applied)
		return res, true, nil, nil
	case st.State == StateCustomised:
		return res, true, nil, driftErr(st)
	case len(st.Pending) == 0:
		return res, true, nil, nil
	}
	if st.History == nil {
		if _, err := tx.ExecContext(ctx, r.d.createHistory(r.schema, r.table)); err != nil {
			return nil, true, nil, fmt.Errorf("dbscript: create history table %s: %w", r.table, err)
		}
	}
	for _, s := range st.Pending {
		if err := r.execTimed(ctx, tx, s); err != nil {
			if ctx.Err() != nil {
				return res, true, nil, err
			}
			if isTimeout(err) {
				timedOut = &scriptTimeout{s, err}
			}
			r.log.Info("a script failed in the install's transaction: rolled back, the scripts are run one transaction each", "script", s.Name, "err", err)
			return res, false, timedOut, nil
		}
	}
	lastScript := st.Pending[len(st.Pending)-1]
	var want string
	if r.strict(p, st) {
		want = p.Fingerprints[r.driver][lastScript.Number]
		if want == "" {
			r.log.Warn("the pack has no fingerprint for a script: not checked", "script", lastScript.Name, "driver", r.driver)
		}
	}
	l, err := r.listingAfter(ctx, tx, want, false)
	if err != nil {
		return nil, true, nil, err
	}
	if want != "" && l.Fingerprint != want {
		r.log.Info("the schema after the install's scripts differs from the publisher's: rolled back, the scripts are run one transaction each",
			"fingerprint", short(l.Fingerprint), "publisher", short(want))
		return res, false, nil, nil
	}
	// The schema is read after the last script only: the history rows of the
	// others have no fingerprint after (nor the next one before).
	rows := make([]Applied, len(st.Pending))
	now := r.now().UTC()
	for i, s := range st.Pending {
		rows[i] = Applied{Number: s.Number, Name: s.Name, Checksum: s.Checksum, Mode: ModeAuto, AppliedAt: now}
	}
	rows[0].Before, rows[len(rows)-1].After = st.Fingerprint, l.Fingerprint
	if err := r.record(ctx, tx, rows...); err != nil {
		return nil, true, nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, true, nil, &Error{Code: CodeScriptFailed, Number: lastScript.Number, Script: lastScript.Name, Err: fmt.Errorf("commit: %w", err)}
	}
	res.Applied = rows
	r.keepBaseline(rows[len(rows)-1], l)
	for _, a := range rows {
		r.log.Info("script applied", "script", a.Name, "mode", a.Mode, "fingerprint", a.After)
		if r.progress != nil {
			r.progress(a)
		}
	}
	return res, true, nil, nil
}

// execTimed runs a script's statements within the script timeout.
func (r *Runner) execTimed(ctx context.Context, q querier, s *Script) error {
	tctx := ctx
	if r.timeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	err := r.exec(tctx, q, s)
	if err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
		err = r.timeoutErr(s, err)
	}
	return err
}

func (r *Runner) timeoutErr(s *Script, err error) error {
	return &Error{Code: CodeScriptFailed, Number: s.Number, Script: s.Name,
		Err: fmt.Errorf("timed out after %s (script_timeout): rolled back whole: %w", r.timeout, errScriptTimeout{err})}
}

// errScriptTimeout marks the error of a script that ran out of time, on the
// client's clock or the server's.
type errScriptTimeout struct{ error }

func (e errScriptTimeout) Unwrap() error { return e.error }

// isTimeout reports whether err is a script's running out of time.
func isTimeout(err error) bool {
	var t errScriptTimeout
	return errors.As(err, &t)
}

func driftErr(st *Status) error {
	msg := fmt.Sprintf("the database is customised: its fingerprint %s differs from the expected %s", short(st.Fingerprint), short(st.Expected))
	if st.Expected == "" {
		msg = fmt.Sprintf("the database is customised: the pack has no fingerprint for script %d to compare with", st.Applied)
	}
	if st.Drift != nil && st.Drift.Unavailable == "" {
		msg += fmt.Sprintf(" (%d added, %d removed, %d changed)", len(st.Drift.Added), len(st.Drift.Removed), len(st.Drift.Changed))
	}
	return &Error{Code: CodeSchemaDrift, Err: errors.New(msg + "; nothing was run: review the pending scripts and run them one by one")}
}

func short(fp string) string {
	if len(fp) > 12 {
		return fp[:12]
	}
	if fp == "" {
		return "(none)"
	}
	return fp
}

// ApplyNext runs exactly the next pending script, whatever the database's state, in
// its own transaction with its history row (mode manual); a person asked for it after
// reading it.
func (r *Runner) ApplyNext(ctx context.Context, p *Pack) (*Applied, error) {
	st, err := r.Status(ctx, p)
	if err != nil {
		return nil, err
	}
	if len(st.Pending) == 0 {
		return nil, fmt.Errorf("dbscript: no pending script: the history holds script %d, the last of the pack", st.Applied)
	}
	a, _, err := r.applyOne(ctx, p, st.Pending[0], ModeManual, "", "", false)
	return a, err
}

// MarkApplied records that a person ran script number, the next pending one, by hand
// (mode marked). Nothing is run; the fingerprint is taken again.
func (r *Runner) MarkApplied(ctx context.Context, p *Pack, number int) (*Applied, error) {
	st, err := r.Status(ctx, p)
	if err != nil {
		return nil, err
	}
	if len(st.Pending) == 0 {
		return nil, fmt.Errorf("dbscript: mark script %d applied: no pending script", number)
	}
	if next := st.Pending[0]; next.Number != number {
		return nil, fmt.Errorf("dbscript: mark script %d applied: the next pending script is %s", number, next.Name)
	}
	a, _, err := r.applyOne(ctx, p, st.Pending[0], ModeMarked, "", "", false)
	return a, err
}

// applyOne runs (or, for ModeMarked, only records) one script in a transaction with
// its history row, within the script timeout. before is the fingerprint before, ""
// to read it; want, when not "", is the fingerprint the schema must have after. It
// returns the listing after, read whole when fresh (else the dialect may read only
// what changed).
func (r *Runner) applyOne(ctx context.Context, p *Pack, s *Script, mode Mode, before, want string, fresh bool) (*Applied, *Listing, error) {
	tctx := ctx
	if r.timeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	a, l, err := r.applyTx(tctx, p, s, mode, before, want, fresh)
	if err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
		err = r.timeoutErr(s, err)
	}
	return a, l, err
}

// resetter is a dialect that caches listings (see pgDialect).
type resetter interface{ reset() }

func (r *Runner) applyTx(ctx context.Context, p *Pack, s *Script, mode Mode, before, want string, fresh bool) (*Applied, *Listing, error) {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("dbscript: script %s: begin: %w", s.Name, err)
	}
	defer tx.Rollback()
	if err := r.d.begin(ctx, tx, r.schema, r.table, r.timeout); err != nil {
		return nil, nil, fmt.Errorf("dbscript: script %s: begin: %w", s.Name, err)
	}
	// Another runner may have gone first: the history is read again under the lock.
	h, err := r.history(ctx, tx)
	if err != nil {
		return nil, nil, err
	}
	if h == nil {
		if _, err := tx.ExecContext(ctx, r.d.createHistory(r.schema, r.table)); err != nil {
			return nil, nil, fmt.Errorf("dbscript: create history table %s: %w", r.table, err)
		}
	}
	if err := checkHistory(p, h); err != nil {
		return nil, nil, err
	}
	for _, a := range h {
		if a.Number >= s.Number {
			return nil, nil, &Error{Code: CodeHistoryMismatch, Number: s.Number, Script: s.Name,
				Err: fmt.Errorf("script %d was applied meanwhile (%s)", a.Number, a.Mode)}
		}
	}
	if before == "" {
		l, err := r.listing(ctx, tx)
		if err != nil {
			return nil, nil, err
		}
		before = l.Fingerprint
	}
	if mode != ModeMarked {
		if err := r.exec(ctx, tx, s); err != nil {
			return nil, nil, err
		}
	}
	l, err := r.listingAfter(ctx, tx, want, fresh)
	if err != nil {
		return nil, nil, err
	}
	after := l.Fingerprint
	if want != "" && after != want {
		return nil, nil, &Error{Code: CodeScriptFailed, Number: s.Number, Script: s.Name,
			Err: fmt.Errorf("the schema after it has fingerprint %s, the publisher's is %s: rolled back", short(after), short(want))}
	}
	a := Applied{Number: s.Number, Name: s.Name, Checksum: s.Checksum, Mode: mode, Before: before, After: after, AppliedAt: r.now().UTC()}
	if err := r.record(ctx, tx, a); err != nil {
		return nil, nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, &Error{Code: CodeScriptFailed, Number: s.Number, Script: s.Name, Err: fmt.Errorf("commit: %w", err)}
	}
	r.log.Info("script applied", "script", s.Name, "mode", mode, "fingerprint", after)
	if r.progress != nil {
		r.progress(a)
	}
	return &a, l, nil
}

// listingAfter reads the schema after scripts ran: whole when fresh, else the
// dialect may read only what changed; a listing that differs from want, when not
// "", is read again whole before it is believed.
func (r *Runner) listingAfter(ctx context.Context, q querier, want string, fresh bool) (*Listing, error) {
	rs, caches := r.d.(resetter)
	if fresh && caches {
		rs.reset()
	}
	l, err := r.listing(ctx, q)
	if err == nil && want != "" && l.Fingerprint != want && caches && !fresh {
		// A cached part may have missed a change.
		rs.reset()
		l, err = r.listing(ctx, q)
	}
	return l, err
}

// record inserts history rows, in one statement.
func (r *Runner) record(ctx context.Context, tx *sql.Tx, rows ...Applied) error {
	values := make([]string, len(rows))
	args := make([]any, 0, 7*len(rows))
	for i, a := range rows {
		ph := make([]string, 7)
		for j := range ph {
			ph[j] = r.d.ph(len(args) + j + 1)
		}
		values[i] = "(" + strings.Join(ph, ", ") + ")"
		args = append(args, a.Number, a.Name, a.Checksum, string(a.Mode), a.Before, a.After, a.AppliedAt.Format(time.RFC3339Nano))
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+r.d.qualify(r.schema, r.table)+
		` (number, name, sha256, mode, fingerprint_before, fingerprint_after, applied_at) VALUES `+strings.Join(values, ", "), args...); err != nil {
		return fmt.Errorf("dbscript: script %s: record in history: %w", rows[len(rows)-1].Name, err)
	}
	return nil
}

// Build applies every script of the pack, in order, to an empty database (a scratch
// one) and returns the fingerprint after each: what a publisher writes into
// fingerprints.json for this driver. The pack's own fingerprints are not checked.
func (r *Runner) Build(ctx context.Context, p *Pack) (map[int]string, error) {
	ls, err := r.BuildListings(ctx, p)
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for n, l := range ls {
		out[n] = l.Fingerprint
	}
	return out, nil
}

// BuildListings is Build returning the whole listing after each script: what a
// publisher writes into fingerprints.json (their fingerprints) and listings.json
// (ListingChanges of them) for this driver, so that drift reports need no replay.
func (r *Runner) BuildListings(ctx context.Context, p *Pack) (map[int]*Listing, error) {
	st, err := r.Status(ctx, p)
	if err != nil {
		return nil, err
	}
	if st.State != StateEmpty {
		return nil, fmt.Errorf("dbscript: build fingerprints: the scratch database is not empty (%d objects, %d scripts applied)", len(st.Live.Objects), len(st.History))
	}
	out := map[int]*Listing{}
	for _, s := range st.Pending {
		_, l, err := r.applyOne(ctx, p, s, ModeAuto, "", "", true)
		if err != nil {
			return nil, err
		}
		out[s.Number] = l
	}
	return out, nil
}
