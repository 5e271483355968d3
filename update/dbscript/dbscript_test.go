package dbscript_test

import (
	"bufio"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/upkeep-go/upkeep/internal/testenv"
	"github.com/upkeep-go/upkeep/update/dbscript"
	"modernc.org/sqlite"
)

var pgServer testenv.PostgresServer

func TestMain(m *testing.M) {
	code := m.Run()
	pgServer.Stop()
	os.Exit(code)
}

// scripts are the publisher's scripts, per driver where SQL differs.
var scripts = []struct {
	name string
	sql  map[dbscript.Driver]string
}{
	{"0001_init.sql", both(`-- customers and their orders
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE orders (
	id INTEGER PRIMARY KEY,
	customer_id INTEGER NOT NULL REFERENCES customers(id),
	total NUMERIC(10,2) DEFAULT 0,
	CHECK (total >= 0)
);
CREATE INDEX orders_customer ON orders(customer_id);
`)},
	{"0002_notes.sql", both(`-- +goose Up
ALTER TABLE orders ADD COLUMN note TEXT;
-- +goose StatementBegin
CREATE VIEW order_totals AS
	SELECT customer_id, SUM(total) AS total FROM orders GROUP BY customer_id;
-- +goose StatementEnd

-- +goose Down
DROP VIEW order_totals;
`)},
	{"0003_statuses.sql", both(`CREATE TABLE statuses (code TEXT PRIMARY KEY, label TEXT UNIQUE);
INSERT INTO statuses VALUES ('new', 'New; not paid');
CREATE INDEX orders_note ON orders(note);
`)},
	{"0004_trigger.sql", map[dbscript.Driver]string{
		dbscript.SQLite: `CREATE TRIGGER statuses_upper AFTER INSERT ON statuses BEGIN
	UPDATE statuses SET label = upper(NEW.label) WHERE code = NEW.code;
	SELECT CASE WHEN NEW.code = '' THEN RAISE(ABORT, 'empty; code') END;
END;
`,
		dbscript.Postgres: `CREATE FUNCTION statuses_upper() RETURNS trigger AS $$
BEGIN
	NEW.label := upper(NEW.label); -- not the end;
	RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER statuses_upper BEFORE INSERT ON statuses FOR EACH ROW EXECUTE FUNCTION statuses_upper();
`}},
}

func both(s string) map[dbscript.Driver]string {
	return map[dbscript.Driver]string{dbscript.SQLite: s, dbscript.Postgres: s}
}

// env is one database under test.
type env struct {
	driver dbscript.Driver
	dsn    string
	db     *sql.DB
	r      *dbscript.Runner
	// baseline is the runner's local baseline file, in what stands for the state dir.
	baseline string
	// fps are the publisher's fingerprints of the full chain, built on a scratch
	// database of the same driver; listings the publisher's listings.
	fps      map[int]string
	listings map[int]dbscript.ListingChange
}

// newDB opens a new empty database of the driver.
func newDB(t *testing.T, d dbscript.Driver) (string, *sql.DB) {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "db.sqlite")
	if d == dbscript.Postgres {
		dsn = pgServer.CreateDB(t)
	}
	db, err := dbscript.Open(d, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return dsn, db
}

// forEachDriver runs a case on SQLite and on PostgreSQL.
func forEachDriver(t *testing.T, f func(t *testing.T, e *env)) {
	for _, d := range []dbscript.Driver{dbscript.SQLite, dbscript.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dsn, db := newDB(t, d)
			baseline := filepath.Join(t.TempDir(), "baseline.json")
			r, err := dbscript.New(db, d, dbscript.WithBaselineFile(baseline))
			require.NoError(t, err)
			e := &env{driver: d, dsn: dsn, db: db, r: r, baseline: baseline}
			e.fps, e.listings = publisherFingerprints(t, d)
			f(t, e)
		})
	}
}

// files returns a pack tree with the first n scripts; edit replaces some.
func files(d dbscript.Driver, n int, edit map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, s := range scripts[:n] {
		fsys["upkeep/db/"+s.name] = &fstest.MapFile{Data: []byte(s.sql[d])}
	}
	for k, v := range edit {
		fsys["upkeep/db/"+k] = &fstest.MapFile{Data: []byte(v)}
	}
	return fsys
}

var (
	fpsMu    sync.Mutex
	fpsCache = map[dbscript.Driver]map[int]string{}
	lsCache  = map[dbscript.Driver]map[int]dbscript.ListingChange{}
)

// publisherFingerprints builds the fingerprints and listings of the full chain once
// per driver.
func publisherFingerprints(t *testing.T, d dbscript.Driver) (map[int]string, map[int]dbscript.ListingChange) {
	fpsMu.Lock()
	defer fpsMu.Unlock()
	if fpsCache[d] == nil {
		fpsCache[d], lsCache[d] = buildFingerprints(t, d, files(d, len(scripts), nil))
	}
	return fpsCache[d], lsCache[d]
}

func buildFingerprints(t *testing.T, d dbscript.Driver, fsys fstest.MapFS) (map[int]string, map[int]dbscript.ListingChange) {
	t.Helper()
	p, err := dbscript.Load(fsys)
	require.NoError(t, err)
	_, db := newDB(t, d)
	r, err := dbscript.New(db, d)
	require.NoError(t, err)
	ls, err := r.BuildListings(context.Background(), p)
	require.NoError(t, err)
	fps := map[int]string{}
	for n, l := range ls {
		fps[n] = l.Fingerprint
	}
	return fps, dbscript.ListingChanges(ls)
}

// pack returns the pack of the first n scripts with the publisher's fingerprints.
func (e *env) pack(t *testing.T, n int, edit map[string]string) *dbscript.Pack {
	t.Helper()
	p, err := dbscript.Load(files(e.driver, n, edit))
	require.NoError(t, err)
	p.Fingerprints = dbscript.Fingerprints{e.driver: maps.Clone(e.fps)}
	p.Listings = dbscript.Listings{e.driver: maps.Clone(e.listings)}
	return p
}

func (e *env) exec(t *testing.T, sqlText string) {
	t.Helper()
	_, err := e.db.Exec(sqlText)
	require.NoError(t, err)
}

func (e *env) modes(t *testing.T) []string {
	t.Helper()
	h, err := e.r.History(context.Background())
	require.NoError(t, err)
	var out []string
	for _, a := range h {
		out = append(out, a.Name+":"+string(a.Mode))
	}
	return out
}

func TestStandardChain(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		st, err := e.r.Status(ctx, e.pack(t, 2, nil))
		require.NoError(t, err)
		require.Equal(t, dbscript.StateEmpty, st.State)

		res, err := e.r.Apply(ctx, e.pack(t, 2, nil))
		require.NoError(t, err)
		require.Len(t, res.Applied, 2)
		res, err = e.r.Apply(ctx, e.pack(t, 4, nil))
		require.NoError(t, err)
		require.Len(t, res.Applied, 2)
		require.Equal(t, []string{"0001_init.sql:auto", "0002_notes.sql:auto", "0003_statuses.sql:auto", "0004_trigger.sql:auto"}, e.modes(t))

		st, err = e.r.Status(ctx, e.pack(t, 4, nil))
		require.NoError(t, err)
		require.Equal(t, dbscript.StateStandard, st.State)
		require.Equal(t, 4, st.Applied)
		require.Empty(t, st.Pending)
		require.Equal(t, e.fps[4], st.Fingerprint)

		// The goose Down part did not run, the trigger body ran whole.
		e.exec(t, `INSERT INTO statuses (code, label) VALUES ('paid', 'paid')`)
		var label string
		require.NoError(t, e.db.QueryRow(`SELECT label FROM statuses WHERE code = 'paid'`).Scan(&label))
		require.Equal(t, "PAID", label)

		// Nothing pending: Apply does nothing.
		res, err = e.r.Apply(ctx, e.pack(t, 4, nil))
		require.NoError(t, err)
		require.Empty(t, res.Applied)
	})
}

// customisations are changes a person makes by hand to a database at script 2.
var customisations = []struct {
	name    string
	sql     map[dbscript.Driver]string
	drift   string // the key Status must report
	kind    string // added, changed
	touches bool   // whether script 3 names the object
}{
	{"view", both(`CREATE VIEW big_customers AS SELECT customer_id FROM order_totals WHERE total > 1000`), "view big_customers", "added", false},
	{"column", both(`ALTER TABLE customers ADD COLUMN vip INTEGER`), "column customers.vip", "added", false},
	{"index", both(`CREATE INDEX customers_name ON customers(name)`), "index customers_name", "added", false},
	// SQLite has no stored functions: a trigger stands for code added by hand there.
	{"function", map[dbscript.Driver]string{
		dbscript.SQLite:   `CREATE TRIGGER customers_audit AFTER DELETE ON customers BEGIN DELETE FROM customers WHERE id = OLD.id; END`,
		dbscript.Postgres: `CREATE FUNCTION order_count(c integer) RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM orders WHERE customer_id = c $$`,
	}, "", "added", false},
	{"column type", map[dbscript.Driver]string{
		dbscript.SQLite: `DROP VIEW order_totals;
ALTER TABLE orders RENAME TO orders_old;
CREATE TABLE orders (
	id INTEGER PRIMARY KEY,
	customer_id INTEGER NOT NULL REFERENCES customers(id),
	total NUMERIC(10,2) DEFAULT 0,
	note VARCHAR(200),
	CHECK (total >= 0)
);
INSERT INTO orders SELECT * FROM orders_old;
DROP TABLE orders_old;
CREATE INDEX orders_customer ON orders(customer_id);
CREATE VIEW order_totals AS
	SELECT customer_id, SUM(total) AS total FROM orders GROUP BY customer_id;`,
		dbscript.Postgres: `ALTER TABLE orders ALTER COLUMN note TYPE varchar(200)`,
	}, "column orders.note", "changed", true},
}

func TestCustomised(t *testing.T) {
	for _, c := range customisations {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			forEachDriver(t, func(t *testing.T, e *env) {
				ctx := context.Background()
				_, err := e.r.Apply(ctx, e.pack(t, 2, nil))
				require.NoError(t, err)
				for _, s := range strings.Split(c.sql[e.driver], ";\n") {
					e.exec(t, s)
				}
				p := e.pack(t, 4, nil)
				st, err := e.r.Status(ctx, p)
				require.NoError(t, err)
				require.Equal(t, dbscript.StateCustomised, st.State)
				require.Equal(t, e.fps[2], st.Expected)
				require.Equal(t, "local", st.Baseline)
				want := c.drift
				if want == "" {
					want = map[dbscript.Driver]string{dbscript.SQLite: "trigger customers.customers_audit", dbscript.Postgres: "function order_count(c integer)"}[e.driver]
				}
				list := map[string][]string{"added": st.Drift.Added, "changed": st.Drift.Changed}[c.kind]
				require.Contains(t, list, want, "drift %+v", st.Drift)
				require.Equal(t, c.touches, slices.Contains(st.Touches[3], want), "touches %v", st.Touches)

				// Nothing runs automatically.
				_, err = e.r.Apply(ctx, p)
				require.ErrorIs(t, err, dbscript.ErrSchemaDrift)
				require.Equal(t, dbscript.CodeSchemaDrift, dbscript.CodeOf(err))
				require.Len(t, e.modes(t), 2)

				// One by one, at a person's request; the database stays customised.
				a, err := e.r.ApplyNext(ctx, p)
				require.NoError(t, err)
				require.Equal(t, 3, a.Number)
				require.NotEqual(t, a.Before, a.After)
				st, err = e.r.Status(ctx, p)
				require.NoError(t, err)
				require.Equal(t, dbscript.StateCustomised, st.State)
				require.Equal(t, "publisher", st.Baseline)
				require.Equal(t, e.fps[3], st.Expected)
				_, err = e.r.ApplyNext(ctx, p)
				require.NoError(t, err)
				_, err = e.r.ApplyNext(ctx, p)
				require.Error(t, err)
				require.Equal(t, []string{"0001_init.sql:auto", "0002_notes.sql:auto", "0003_statuses.sql:manual", "0004_trigger.sql:manual"}, e.modes(t))
			})
		})
	}
}

func TestFailingScriptRolledBack(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.r.Apply(ctx, e.pack(t, 2, nil))
		require.NoError(t, err)
		bad := "-- a script that fails half way\nCREATE TABLE t3 (a INTEGER);\nINSERT INTO t3 VALUES (1);\n\nINSERT INTO no_such_table\n  VALUES (1);\n"
		p := e.pack(t, 2, map[string]string{"0003_bad.sql": bad})
		p.Fingerprints = nil
		_, err = e.r.Apply(ctx, p)
		var se *dbscript.Error
		require.ErrorAs(t, err, &se)
		require.Equal(t, dbscript.CodeScriptFailed, se.Code)
		require.Equal(t, "0003_bad.sql", se.Script)
		require.Equal(t, 5, se.Line)
		require.Contains(t, err.Error(), "no_such_table")
		require.Contains(t, err.Error(), "0003_bad.sql line 5")

		// Rolled back whole: no t3, no history row, still standard.
		require.Len(t, e.modes(t), 2)
		st, err := e.r.Status(ctx, e.pack(t, 2, nil))
		require.NoError(t, err)
		require.Equal(t, dbscript.StateStandard, st.State)
		_, err = e.db.Exec(`SELECT a FROM t3`)
		require.Error(t, err)
	})
}

func TestSchemaOtherThanPublishers(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.r.Apply(ctx, e.pack(t, 2, nil))
		require.NoError(t, err)
		// The pack says script 3 creates a schema it does not: rolled back.
		p := e.pack(t, 3, nil)
		p.Fingerprints[e.driver] = map[int]string{1: e.fps[1], 2: e.fps[2], 3: e.fps[4]}
		_, err = e.r.Apply(ctx, p)
		require.ErrorIs(t, err, dbscript.ErrScriptFailed)
		require.Contains(t, err.Error(), "publisher's")
		require.Len(t, e.modes(t), 2)
	})
}

// TestInstallFailureKeepsScriptsBeforeIt: when the install's transaction fails at
// its second script, or its schema after differs from the publisher's only because
// of its second script, the scripts run again one transaction each: the first
// stays applied and the error names the second.
func TestInstallFailureKeepsScriptsBeforeIt(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.r.Apply(ctx, e.pack(t, 2, nil))
		require.NoError(t, err)
		bad := "-- fails\nCREATE TABLE t4 (a INTEGER);\nINSERT INTO no_such_table VALUES (1);\n"
		p := e.pack(t, 3, map[string]string{"0004_bad.sql": bad})
		_, err = e.r.Apply(ctx, p)
		var se *dbscript.Error
		require.ErrorAs(t, err, &se)
		require.Equal(t, dbscript.CodeScriptFailed, se.Code)
		require.Equal(t, "0004_bad.sql", se.Script)
		require.Equal(t, 3, se.Line)
		require.Equal(t, []string{"0001_init.sql:auto", "0002_notes.sql:auto", "0003_statuses.sql:auto"}, e.modes(t))
		st, err := e.r.Status(ctx, e.pack(t, 3, nil))
		require.NoError(t, err)
		require.Equal(t, dbscript.StateStandard, st.State)
		require.Equal(t, e.fps[3], st.Fingerprint)
		_, err = e.db.Exec(`SELECT a FROM t4`)
		require.Error(t, err)
	})
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.r.Apply(ctx, e.pack(t, 2, nil))
		require.NoError(t, err)
		p := e.pack(t, 4, nil)
		p.Fingerprints[e.driver][4] = e.fps[2]
		_, err = e.r.Apply(ctx, p)
		require.ErrorIs(t, err, dbscript.ErrScriptFailed)
		var se *dbscript.Error
		require.ErrorAs(t, err, &se)
		require.Equal(t, "0004_trigger.sql", se.Script)
		require.Contains(t, err.Error(), "publisher's")
		require.Equal(t, []string{"0001_init.sql:auto", "0002_notes.sql:auto", "0003_statuses.sql:auto"}, e.modes(t))
	})
}

// TestInstallNeedsCommitBetweenScripts: PostgreSQL refuses to use an enum value in
// the transaction that added it, so an install whose scripts add a value and then
// use it fails in one transaction: it is applied one transaction per script, and
// the database is standard after.
func TestInstallNeedsCommitBetweenScripts(t *testing.T) {
	fsys := fstest.MapFS{
		"upkeep/db/0001_mood.sql":  {Data: []byte("CREATE TYPE mood AS ENUM ('calm');\nCREATE TABLE people (id INTEGER PRIMARY KEY, m mood NOT NULL DEFAULT 'calm');\n")},
		"upkeep/db/0002_happy.sql": {Data: []byte("ALTER TYPE mood ADD VALUE 'happy';\n")},
		"upkeep/db/0003_use.sql":   {Data: []byte("ALTER TABLE people ALTER COLUMN m SET DEFAULT 'happy';\nINSERT INTO people (id) VALUES (1);\n")},
	}
	fps, listings := buildFingerprints(t, dbscript.Postgres, fsys)
	p, err := dbscript.Load(fsys)
	require.NoError(t, err)
	p.Fingerprints = dbscript.Fingerprints{dbscript.Postgres: fps}
	p.Listings = dbscript.Listings{dbscript.Postgres: listings}
	_, db := newDB(t, dbscript.Postgres)
	r, err := dbscript.New(db, dbscript.Postgres)
	require.NoError(t, err)
	ctx := context.Background()
	res, err := r.Apply(ctx, p)
	require.NoError(t, err)
	require.Len(t, res.Applied, 3)
	st, err := r.Status(ctx, p)
	require.NoError(t, err)
	require.Equal(t, dbscript.StateStandard, st.State)
	var m string
	require.NoError(t, db.QueryRow(`SELECT m::text FROM people`).Scan(&m))
	require.Equal(t, "happy", m)
}

// TestObjectsWithoutHistory: a database where nothing was applied but that holds
// an object (each kind a listing shows on its own) is customised, not empty, and an
// install runs nothing there.
func TestObjectsWithoutHistory(t *testing.T) {
	for _, obj := range []struct{ name, sql string }{
		{"table", `CREATE TABLE legacy (id INTEGER)`},
		{"view", `CREATE VIEW legacy AS SELECT 1 AS one`},
		{"sequence", `CREATE SEQUENCE legacy`},
		{"function", `CREATE FUNCTION legacy() RETURNS integer LANGUAGE sql AS 'SELECT 1'`},
	} {
		t.Run(obj.name, func(t *testing.T) {
			forEachDriver(t, func(t *testing.T, e *env) {
				if e.driver == dbscript.SQLite && (obj.name == "sequence" || obj.name == "function") {
					t.Skip("SQLite has no " + obj.name + "s")
				}
				e.exec(t, obj.sql)
				ctx := context.Background()
				st, err := e.r.Status(ctx, e.pack(t, 2, nil))
				require.NoError(t, err)
				require.Equal(t, dbscript.StateCustomised, st.State)
				require.NotEmpty(t, st.Live.Objects)
				_, err = e.r.Apply(ctx, e.pack(t, 2, nil))
				require.ErrorIs(t, err, dbscript.ErrSchemaDrift)
				require.Empty(t, e.modes(t))
			})
		})
	}
}

// TestTwoInstallsAtOnce: two runners, each with its own connections, install the
// same pack at once: every script is applied once, by one of them, and the database
// is standard after; the other either finds nothing pending or fails naming why.
func TestTwoInstallsAtOnce(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		db2, err := dbscript.Open(e.driver, e.dsn)
		require.NoError(t, err)
		t.Cleanup(func() { db2.Close() })
		r2, err := dbscript.New(db2, e.driver)
		require.NoError(t, err)
		var results [2]*dbscript.Result
		var errs [2]error
		var wg sync.WaitGroup
		for i, r := range []*dbscript.Runner{e.r, r2} {
			wg.Go(func() { results[i], errs[i] = r.Apply(ctx, e.pack(t, 4, nil)) })
		}
		wg.Wait()
		applied := 0
		for i := range errs {
			if errs[i] == nil {
				applied += len(results[i].Applied)
			} else {
				t.Logf("runner %d: %v", i, errs[i])
			}
		}
		require.False(t, errs[0] != nil && errs[1] != nil, "one of them installs: %v", errs)
		require.Equal(t, 4, applied, "each script applied once")
		require.Equal(t, []string{"0001_init.sql:auto", "0002_notes.sql:auto", "0003_statuses.sql:auto", "0004_trigger.sql:auto"}, e.modes(t))
		st, err := e.r.Status(ctx, e.pack(t, 4, nil))
		require.NoError(t, err)
		require.Equal(t, dbscript.StateStandard, st.State)
	})
}

func TestEditedHistory(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.r.Apply(ctx, e.pack(t, 3, nil))
		require.NoError(t, err)

		// The pack's script 2 differs from the one applied.
		_, err = e.r.Status(ctx, e.pack(t, 3, map[string]string{"0002_notes.sql": "ALTER TABLE orders ADD COLUMN note TEXT;"}))
		var se *dbscript.Error
		require.ErrorAs(t, err, &se)
		require.Equal(t, dbscript.CodeHistoryMismatch, se.Code)
		require.Equal(t, "0002_notes.sql", se.Script)

		// The history's checksum was edited.
		e.exec(t, `UPDATE upkeep_history SET sha256 = '`+strings.Repeat("0", 64)+`' WHERE number = 1`)
		_, err = e.r.Apply(ctx, e.pack(t, 4, nil))
		require.ErrorIs(t, err, dbscript.ErrHistoryMismatch)
		require.Contains(t, err.Error(), "0001_init.sql")
		require.Len(t, e.modes(t), 3)

		// A script of the pack older than the last applied that never ran.
		e.exec(t, `DELETE FROM upkeep_history WHERE number = 1`)
		_, err = e.r.Status(ctx, e.pack(t, 4, nil))
		require.ErrorIs(t, err, dbscript.ErrHistoryMismatch)
		require.Contains(t, err.Error(), "never applied")
	})
}

func TestMarkApplied(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.r.Apply(ctx, e.pack(t, 2, nil))
		require.NoError(t, err)
		p := e.pack(t, 4, nil)

		_, err = e.r.MarkApplied(ctx, p, 4)
		require.ErrorContains(t, err, "next pending script is 0003_statuses.sql")

		// A person runs script 3 by hand, exactly: the database is standard again,
		// on the publisher's fingerprint.
		s, _ := p.Script(3)
		for _, st := range s.Statements {
			e.exec(t, st.SQL)
		}
		a, err := e.r.MarkApplied(ctx, p, 3)
		require.NoError(t, err)
		require.Equal(t, dbscript.ModeMarked, a.Mode)
		require.Equal(t, e.fps[3], a.After)
		st, err := e.r.Status(ctx, p)
		require.NoError(t, err)
		require.Equal(t, dbscript.StateStandard, st.State)
		require.Equal(t, "publisher", st.Baseline)

		// A script run by hand differently keeps the database customised.
		e.exec(t, `ALTER TABLE statuses ADD COLUMN colour TEXT`)
		_, err = e.r.MarkApplied(ctx, p, 4)
		require.NoError(t, err)
		st, err = e.r.Status(ctx, p)
		require.NoError(t, err)
		require.Equal(t, dbscript.StateCustomised, st.State)
		require.Contains(t, st.Drift.Added, "column statuses.colour")
		require.Contains(t, st.Drift.Removed, "trigger statuses.statuses_upper")
		require.Equal(t, []string{"0001_init.sql:auto", "0002_notes.sql:auto", "0003_statuses.sql:marked", "0004_trigger.sql:marked"}, e.modes(t))
	})
}

// pauseScript is script 0003 with, after its statements, one that waits: on
// SQLite a function TestCrashChild registers, which says "paused" and waits for
// ever; on PostgreSQL a long sleep, which the test finds in pg_stat_activity.
var pauseScript = map[dbscript.Driver]string{
	dbscript.SQLite:   scripts[2].sql[dbscript.SQLite] + "SELECT upkeep_test_pause();\n",
	dbscript.Postgres: scripts[2].sql[dbscript.Postgres] + "SELECT pg_sleep(600);\n",
}

// TestCrashDuringInstall kills the process while an install's third script runs,
// after two others ran: the install applies all its scripts or none, so none is
// in the history, the schema is still empty, and the next install applies them all.
func TestCrashDuringInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	forEachDriver(t, func(t *testing.T, e *env) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), "DBSCRIPT_CRASH_CHILD="+string(e.driver)+"\n"+e.dsn)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		ctx := context.Background()
		if e.driver == dbscript.SQLite {
			line, err := bufio.NewReader(out).ReadString('\n')
			require.NoError(t, err, "child said %q", line)
			require.Equal(t, "paused\n", line)
		} else {
			require.Eventually(t, func() bool {
				var n int
				return e.db.QueryRowContext(ctx, sleeping("count(*)")).Scan(&n) == nil && n == 1
			}, 30*time.Second, 20*time.Millisecond)
		}
		require.NoError(t, cmd.Process.Kill())
		cmd.Wait()
		if e.driver == dbscript.Postgres {
			// The server ends the dead client's session, as it does when it next
			// hears from it.
			_, err := e.db.ExecContext(ctx, sleeping("pg_terminate_backend(pid)"))
			require.NoError(t, err)
		}

		require.Empty(t, e.modes(t))
		p := e.pack(t, 4, nil)
		st, err := e.r.Status(ctx, p)
		require.NoError(t, err)
		require.Equal(t, dbscript.StateEmpty, st.State)
		res, err := e.r.Apply(ctx, p)
		require.NoError(t, err)
		require.Len(t, res.Applied, 4)
		require.Len(t, e.modes(t), 4)
		st, err = e.r.Status(ctx, p)
		require.NoError(t, err)
		require.Equal(t, dbscript.StateStandard, st.State)
		require.Equal(t, e.fps[4], st.Fingerprint)
	})
}

// sleeping selects what of the sessions that run pauseScript's sleep.
func sleeping(what string) string {
	return `SELECT ` + what + ` FROM pg_stat_activity WHERE query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()`
}

// TestCrashChild is the process TestCrashDuringInstall kills.
func TestCrashChild(t *testing.T) {
	env := os.Getenv("DBSCRIPT_CRASH_CHILD")
	if env == "" {
		t.Skip("run by TestCrashDuringInstall")
	}
	d, dsn, _ := strings.Cut(env, "\n")
	sqlite.MustRegisterScalarFunction("upkeep_test_pause", 0, func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
		os.Stdout.WriteString("paused\n")
		time.Sleep(time.Hour) // killed here, within the install's transaction
		return nil, nil
	})
	db, err := dbscript.Open(dbscript.Driver(d), dsn)
	require.NoError(t, err)
	p, err := dbscript.Load(files(dbscript.Driver(d), len(scripts), map[string]string{scripts[2].name: pauseScript[dbscript.Driver(d)]}))
	require.NoError(t, err)
	r, err := dbscript.New(db, dbscript.Driver(d))
	require.NoError(t, err)
	_, err = r.Apply(context.Background(), p)
	t.Fatal("not killed", err)
}

func TestLoadErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"no folder", fstest.MapFS{"x": {}}, "upkeep/db"},
		{"bad name", fstest.MapFS{"upkeep/db/init.sql": {}}, "init.sql: name must be NNNN_name.sql"},
		{"zero", fstest.MapFS{"upkeep/db/0000_x.sql": {}}, "0000_x.sql"},
		{"duplicate", fstest.MapFS{"upkeep/db/0001_a.sql": {}, "upkeep/db/1_b.sql": {}}, "number 1 is also"},
		{"fingerprints driver", fstest.MapFS{"upkeep/db/0001_a.sql": {}, "upkeep/db/fingerprints.json": {Data: []byte(`{"mysql":{}}`)}}, "fingerprints.json: mysql: unknown driver"},
		{"fingerprints hex", fstest.MapFS{"upkeep/db/0001_a.sql": {}, "upkeep/db/fingerprints.json": {Data: []byte(`{"sqlite":{"1":"xyz"}}`)}}, `sqlite.1: "xyz" is not a hex SHA-256`},
		{"goose", fstest.MapFS{"upkeep/db/0001_a.sql": {Data: []byte("-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n")}}, "StatementBegin without StatementEnd"},
		{"goose no tx", fstest.MapFS{"upkeep/db/0001_a.sql": {Data: []byte("-- +goose Up\n-- +goose NO TRANSACTION\n")}}, "line 2: -- +goose NO TRANSACTION"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := dbscript.Load(c.fsys)
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestStatements(t *testing.T) {
	s, err := dbscript.ParseScript("0001_x.sql", []byte(`-- comment; not a statement
CREATE TABLE a (x TEXT DEFAULT 'a;b', "y;" INTEGER); /* c; */
CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;

CREATE TRIGGER t AFTER INSERT ON a BEGIN
  SELECT CASE WHEN 1 THEN 2 END;
  UPDATE a SET x = 'q';
END;
INSERT INTO a VALUES (E'it\'s; here', 1)`))
	require.NoError(t, err)
	var lines []int
	for _, st := range s.Statements {
		lines = append(lines, st.Line)
	}
	require.Equal(t, []int{2, 3, 5, 9}, lines)
	require.True(t, strings.HasSuffix(s.Statements[2].SQL, "END;"))
}

func TestFingerprintStable(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		l, err := e.r.Fingerprint(ctx)
		require.NoError(t, err)
		require.Equal(t, dbscript.EmptyFingerprint, l.Fingerprint)
		_, err = e.r.Apply(ctx, e.pack(t, 4, nil))
		require.NoError(t, err)
		l, err = e.r.Fingerprint(ctx)
		require.NoError(t, err)
		require.Equal(t, e.fps[4], l.Fingerprint)
		for _, o := range l.Objects {
			require.NotContains(t, o.Name, "upkeep_history")
		}
		if errors.Is(err, nil) && e.driver == dbscript.Postgres {
			for _, o := range l.Objects {
				require.NotContains(t, o.Definition, "public.", o.Key())
			}
		}
	})
}

// TestSQLiteListingCache: the listing a runner keeps cached per table statement is
// the one a fresh runner reads, after tables were created, altered, renamed and
// dropped, and after a change that was rolled back.
func TestSQLiteListingCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := dbscript.Open(dbscript.SQLite, filepath.Join(t.TempDir(), "db.sqlite"))
	require.NoError(t, err)
	defer db.Close()
	warm, err := dbscript.New(db, dbscript.SQLite)
	require.NoError(t, err)
	same := func(step string) {
		t.Helper()
		a, err := warm.Fingerprint(ctx)
		require.NoError(t, err)
		cold, err := dbscript.New(db, dbscript.SQLite)
		require.NoError(t, err)
		b, err := cold.Fingerprint(ctx)
		require.NoError(t, err)
		require.Equal(t, b.Objects, a.Objects, step)
		require.Equal(t, b.Fingerprint, a.Fingerprint, step)
	}
	exec := func(q string) {
		t.Helper()
		_, err := db.Exec(q)
		require.NoError(t, err)
	}
	same("empty")
	exec(`CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT UNIQUE)`)
	exec(`CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id))`)
	same("created")
	exec(`ALTER TABLE a ADD COLUMN y INTEGER NOT NULL DEFAULT 3`)
	same("column added")
	exec(`ALTER TABLE a RENAME TO c`)
	same("renamed, with the foreign key of b rewritten")
	tx, err := db.Begin()
	require.NoError(t, err)
	_, err = tx.Exec(`ALTER TABLE b ADD COLUMN z TEXT`)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	same("rolled back")
	exec(`DROP TABLE b`)
	same("dropped")
}

// TestPostgresListingCache: the listing a runner reads partly from its cache (only
// new relations and functions are read after a script that only adds) is the one a
// fresh runner reads whole, after each kind of change, including those that change
// how an unchanged object prints (a renamed table or column a view reads, a renamed
// sequence a default names, a renamed type) and a change rolled back.
func TestPostgresListingCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db := newDB(t, dbscript.Postgres)
	warm, err := dbscript.New(db, dbscript.Postgres)
	require.NoError(t, err)
	same := func(step string) {
		t.Helper()
		a, err := warm.Fingerprint(ctx)
		require.NoError(t, err)
		cold, err := dbscript.New(db, dbscript.Postgres)
		require.NoError(t, err)
		b, err := cold.Fingerprint(ctx)
		require.NoError(t, err)
		require.Equal(t, b.Objects, a.Objects, step)
		require.Equal(t, b.Fingerprint, a.Fingerprint, step)
	}
	exec := func(q string) {
		t.Helper()
		_, err := db.Exec(q)
		require.NoError(t, err)
	}
	same("empty")
	for _, c := range []struct{ step, sql string }{
		{"tables added", `CREATE TABLE a (id integer PRIMARY KEY, x text UNIQUE); CREATE SEQUENCE s; CREATE TABLE b (id integer DEFAULT nextval('s'), a_id integer REFERENCES a(id))`},
		{"view added", `CREATE VIEW v AS SELECT id, x FROM a`},
		{"table of a view renamed", `ALTER TABLE a RENAME TO c`},
		{"column of a view renamed", `ALTER TABLE c RENAME COLUMN x TO y`},
		{"sequence of a default renamed", `ALTER SEQUENCE s RENAME TO s2`},
		{"type added and used", `CREATE TYPE mood AS ENUM ('ok', 'sad'); CREATE TABLE d (m mood)`},
		{"type renamed", `ALTER TYPE mood RENAME TO feeling`},
		{"function added", `CREATE FUNCTION f(i integer) RETURNS integer LANGUAGE sql AS $$ SELECT i + 1 $$`},
		{"function replaced", `CREATE OR REPLACE FUNCTION f(i integer) RETURNS integer LANGUAGE sql AS $$ SELECT i + 2 $$`},
		{"index and trigger added on an old table", `CREATE INDEX b_a ON b(a_id); CREATE FUNCTION tf() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$; CREATE TRIGGER bt BEFORE INSERT ON b FOR EACH ROW EXECUTE FUNCTION tf()`},
		{"column type changed", `ALTER TABLE b ALTER COLUMN a_id TYPE bigint`},
		{"dropped", `DROP VIEW v; DROP TABLE d`},
	} {
		exec(c.sql)
		same(c.step)
	}
	tx, err := db.Begin()
	require.NoError(t, err)
	_, err = tx.Exec(`CREATE TABLE e (id integer)`)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	same("rolled back")
}
