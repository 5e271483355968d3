package dbscript_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/upkeep-go/upkeep/update/dbscript"
	"modernc.org/sqlite"
)

// TestCustomisedNothingPendingApplies: a customised database whose pending scripts a
// person ran one by one (one run through ApplyNext, one by hand and marked) is up to
// date: Apply succeeds, runs nothing, and the drift is still reported.
func TestCustomisedNothingPendingApplies(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.r.Apply(ctx, e.pack(t, 2, nil))
		require.NoError(t, err)
		e.exec(t, `ALTER TABLE customers ADD COLUMN vip INTEGER`)
		p := e.pack(t, 4, nil)
		_, err = e.r.Apply(ctx, p)
		require.ErrorIs(t, err, dbscript.ErrSchemaDrift)
		_, err = e.r.ApplyNext(ctx, p)
		require.NoError(t, err)
		s, _ := p.Script(4)
		for _, st := range s.Statements {
			e.exec(t, st.SQL)
		}
		_, err = e.r.MarkApplied(ctx, p, 4)
		require.NoError(t, err)

		res, err := e.r.Apply(ctx, p)
		require.NoError(t, err)
		require.Empty(t, res.Applied)
		require.Equal(t, dbscript.StateCustomised, res.Status.State)
		require.Equal(t, []string{"column customers.vip"}, res.Status.Drift.Added)
		require.Equal(t, []string{"0001_init.sql:auto", "0002_notes.sql:auto", "0003_statuses.sql:manual", "0004_trigger.sql:marked"}, e.modes(t))
	})
}

// TestStatusAfterMarkedScriptThatFailsOnReplay: a script a person ran differently by
// hand, and that fails whenever the pack's text runs, does not break Status: the
// drift report replays nothing.
func TestStatusAfterMarkedScriptThatFailsOnReplay(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.r.Apply(ctx, e.pack(t, 2, nil))
		require.NoError(t, err)
		// Script 3 needs a table only this customer has; the person ran an edited
		// version and marked it applied.
		p := e.pack(t, 2, map[string]string{"0003_legacy.sql": "INSERT INTO legacy_codes (code) VALUES ('x');\n"})
		for _, n := range []int{3, 4} {
			delete(p.Fingerprints[e.driver], n)
			delete(p.Listings[e.driver], n)
		}
		e.exec(t, `CREATE TABLE legacy_codes (code TEXT)`)
		_, err = e.r.MarkApplied(ctx, p, 3)
		require.NoError(t, err)
		st, err := e.r.Status(ctx, p)
		require.NoError(t, err)
		require.Equal(t, dbscript.StateCustomised, st.State)
		require.Equal(t, 3, st.Applied)
		// The pack has no listing for script 3: no report, and says why.
		require.NotNil(t, st.Drift)
		require.Contains(t, st.Drift.Unavailable, "no object listing")
	})
}

// readOnlyScripts are a module whose scripts name live objects with their schema (a
// sequence reset, a settings row written): replaying them anywhere in the customer's
// database, even in a scratch schema, would reach the live objects.
var readOnlyScripts = map[dbscript.Driver][]string{
	dbscript.Postgres: {
		"CREATE SEQUENCE IF NOT EXISTS public.invoice_no START 1000;\nCREATE TABLE IF NOT EXISTS public.settings (k TEXT PRIMARY KEY, v TEXT);\n",
		"SELECT setval('public.invoice_no', 1000, false);\nINSERT INTO public.settings VALUES ('version', '2') ON CONFLICT (k) DO UPDATE SET v = excluded.v;\n",
	},
	dbscript.SQLite: {
		"CREATE TABLE invoices (id INTEGER PRIMARY KEY AUTOINCREMENT, total NUMERIC);\nCREATE TABLE settings (k TEXT PRIMARY KEY, v TEXT);\n",
		"UPDATE sqlite_sequence SET seq = 1000 WHERE name = 'invoices';\nINSERT INTO settings VALUES ('version', '2') ON CONFLICT (k) DO UPDATE SET v = excluded.v;\n",
	},
}

// customiseWithWriteCounter customises the database with a row trigger that counts
// every write to settings, and moves the sequence to 5000.
func customiseWithWriteCounter(t *testing.T, e *env) {
	t.Helper()
	e.exec(t, `CREATE TABLE write_count (n INTEGER NOT NULL)`)
	e.exec(t, `INSERT INTO write_count VALUES (0)`)
	if e.driver == dbscript.Postgres {
		e.exec(t, `CREATE FUNCTION count_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE write_count SET n = n + 1; RETURN NULL; END $$`)
		e.exec(t, `CREATE TRIGGER settings_writes AFTER INSERT OR UPDATE OR DELETE ON settings FOR EACH ROW EXECUTE FUNCTION count_write()`)
		e.exec(t, `SELECT setval('invoice_no', 5000)`)
		return
	}
	for _, op := range []string{"INSERT", "UPDATE", "DELETE"} {
		e.exec(t, `CREATE TRIGGER settings_`+op+` AFTER `+op+` ON settings FOR EACH ROW BEGIN UPDATE write_count SET n = n + 1; END`)
	}
	e.exec(t, `INSERT INTO invoices (id, total) VALUES (5000, 0)`)
}

// sequenceAndWrites returns the sequence's value and the count of writes.
func sequenceAndWrites(t *testing.T, e *env) (seq, writes int) {
	t.Helper()
	q := `SELECT last_value FROM invoice_no`
	if e.driver == dbscript.SQLite {
		q = `SELECT seq FROM sqlite_sequence WHERE name = 'invoices'`
	}
	require.NoError(t, e.db.QueryRow(q).Scan(&seq))
	require.NoError(t, e.db.QueryRow(`SELECT n FROM write_count`).Scan(&writes))
	return seq, writes
}

// TestReadNeverWrites: Status, History and Fingerprint of a customised database write
// nothing (a row trigger counts writes, the sequence keeps its value) and wait for no
// lock the application holds.
func TestReadNeverWrites(t *testing.T) {
	for _, d := range []dbscript.Driver{dbscript.SQLite, dbscript.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			fsys := fstest.MapFS{}
			for i, text := range readOnlyScripts[d] {
				fsys[filepath.ToSlash(filepath.Join(dbscript.Dir, []string{"0001_init.sql", "0002_settings.sql"}[i]))] = &fstest.MapFile{Data: []byte(text)}
			}
			p, err := dbscript.Load(fsys)
			require.NoError(t, err)
			fps, ls := buildFingerprints(t, d, fsys)
			p.Fingerprints = dbscript.Fingerprints{d: fps}
			p.Listings = dbscript.Listings{d: ls}
			dsn, db := newDB(t, d)
			r, err := dbscript.New(db, d, dbscript.WithBaselineFile(filepath.Join(t.TempDir(), "baseline.json")))
			require.NoError(t, err)
			e := &env{driver: d, dsn: dsn, db: db, r: r}
			_, err = r.Apply(ctx, p)
			require.NoError(t, err)
			customiseWithWriteCounter(t, e)
			seq, writes := sequenceAndWrites(t, e)
			require.Equal(t, 5000, seq)

			// The application holds a row of settings in an open transaction (on
			// SQLite, a second connection reading while nothing holds the write lock).
			var app *sql.Tx
			if d == dbscript.Postgres {
				appDB, err := dbscript.Open(d, dsn)
				require.NoError(t, err)
				defer appDB.Close()
				app, err = appDB.Begin()
				require.NoError(t, err)
				defer app.Rollback()
				_, err = app.Exec(`UPDATE settings SET v = v WHERE k = 'version'`)
				require.NoError(t, err)
			}
			rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			for i := 0; i < 2; i++ {
				st, err := r.Status(rctx, p)
				require.NoError(t, err)
				require.Equal(t, dbscript.StateCustomised, st.State)
				require.Contains(t, st.Drift.Added, "table write_count")
				_, err = r.History(rctx)
				require.NoError(t, err)
				_, err = r.Fingerprint(rctx)
				require.NoError(t, err)
			}
			if app != nil {
				require.NoError(t, app.Rollback())
			}
			s2, w2 := sequenceAndWrites(t, e)
			require.Equal(t, seq, s2, "the sequence moved")
			require.Equal(t, writes, w2, "a read wrote to the database")
		})
	}
}

// TestBaselineOutOfReach: the history table's fingerprint_after, which the customer's
// SQL can edit, never makes a customised database look standard.
func TestBaselineOutOfReach(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.r.Apply(ctx, e.pack(t, 2, nil))
		require.NoError(t, err)
		require.FileExists(t, e.baseline)
		e.exec(t, `ALTER TABLE customers ADD COLUMN vip INTEGER`)
		p := e.pack(t, 4, nil)
		st, err := e.r.Status(ctx, p)
		require.NoError(t, err)
		require.Equal(t, dbscript.StateCustomised, st.State)
		e.exec(t, `UPDATE upkeep_history SET fingerprint_after = '`+st.Fingerprint+`'`)
		st, err = e.r.Status(ctx, p)
		require.NoError(t, err)
		require.Equal(t, dbscript.StateCustomised, st.State)
		require.Equal(t, "local", st.Baseline)
		_, err = e.r.Apply(ctx, p)
		require.ErrorIs(t, err, dbscript.ErrSchemaDrift)

		// Without the state dir's file, the publisher's fingerprint rules, never the
		// table's.
		require.NoError(t, os.Remove(e.baseline))
		st, err = e.r.Status(ctx, p)
		require.NoError(t, err)
		require.Equal(t, "publisher", st.Baseline)
		require.Equal(t, dbscript.StateCustomised, st.State)
	})
}

// foreverRuns counts the runs of TestScriptTimeout's script on SQLite, through a
// function it calls.
var foreverRuns atomic.Int32

func init() {
	sqlite.MustRegisterScalarFunction("upkeep_test_run", 0, func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
		return int64(foreverRuns.Add(1)), nil
	})
}

// TestScriptTimeout: a script that never ends is rolled back whole after the script
// timeout, with code script_failed and "timed out" in its message; the script before
// it in the same install stays applied, and the one that timed out ran once.
func TestScriptTimeout(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.r.Apply(ctx, e.pack(t, 1, nil))
		require.NoError(t, err)
		// Each run counts itself where a rollback does not undo it: a function of
		// the test on SQLite, a sequence of another schema on PostgreSQL.
		forever := map[dbscript.Driver]string{
			dbscript.SQLite:   "CREATE TABLE t3 (a INTEGER);\nSELECT upkeep_test_run();\nINSERT INTO t3 WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r;\n",
			dbscript.Postgres: "CREATE TABLE t3 (a INTEGER);\nSELECT nextval('upkeep_test.runs');\nSELECT pg_sleep(3600);\n",
		}[e.driver]
		runs := func() int {
			if e.driver == dbscript.SQLite {
				return int(foreverRuns.Load())
			}
			var n int
			require.NoError(t, e.db.QueryRow(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM upkeep_test.runs`).Scan(&n))
			return n
		}
		if e.driver == dbscript.Postgres {
			e.exec(t, `CREATE SCHEMA upkeep_test; CREATE SEQUENCE upkeep_test.runs`)
		}
		before := runs()
		p := e.pack(t, 2, map[string]string{"0003_forever.sql": forever})
		r, err := dbscript.New(e.db, e.driver, dbscript.WithScriptTimeout(time.Second), dbscript.WithBaselineFile(e.baseline))
		require.NoError(t, err)
		start := time.Now()
		_, err = r.Apply(ctx, p)
		require.Less(t, time.Since(start), time.Minute)
		require.ErrorIs(t, err, dbscript.ErrScriptFailed)
		require.Equal(t, dbscript.CodeScriptFailed, dbscript.CodeOf(err))
		require.Contains(t, err.Error(), "timed out")
		require.Contains(t, err.Error(), "0003_forever.sql")
		require.Equal(t, []string{"0001_init.sql:auto", "0002_notes.sql:auto"}, e.modes(t))
		require.Equal(t, 1, runs()-before, "the script that timed out ran once")
		_, err = e.db.Exec(`SELECT a FROM t3`)
		require.Error(t, err, "rolled back whole")
	})
}
