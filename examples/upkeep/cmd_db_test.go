package main

import (
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/testenv"
	"github.com/upkeep-go/upkeep/update/dbscript"
)

var pgServer testenv.PostgresServer

// dbPack writes a pack folder holding two scripts.
func dbPack(t *testing.T) string {
	dir := t.TempDir()
	db := filepath.Join(dir, "upkeep", "db")
	require.NoError(t, os.MkdirAll(db, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(db, "0001_init.sql"), []byte("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(db, "0002_orders.sql"), []byte("-- +goose Up\nCREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id));\n-- +goose Down\nDROP TABLE orders;\n"), 0o644))
	return dir
}

// TestDBCommands drives the db subcommands on both drivers: fingerprints built by the
// publisher, then a module's database run one script at a time, customised by hand.
func TestDBCommands(t *testing.T) {
	for _, d := range []dbscript.Driver{dbscript.SQLite, dbscript.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dsn, scratch := filepath.Join(t.TempDir(), "db.sqlite"), ""
			if d == dbscript.Postgres {
				dsn, scratch = pgServer.CreateDB(t), pgServer.CreateDB(t)
			}
			packDir := dbPack(t)
			fpFile := filepath.Join(packDir, "upkeep", "db", "fingerprints.json")
			other := map[dbscript.Driver]string{dbscript.SQLite: "postgres", dbscript.Postgres: "sqlite"}[d]
			require.NoError(t, os.WriteFile(fpFile, []byte(`{"`+other+`":{"1":"`+strings.Repeat("a", 64)+`"}}`), 0o644))
			args := []string{"db", "build-fingerprints", packDir, "--driver", string(d)}
			if scratch != "" {
				args = append(args, "--dsn", scratch)
			}
			code, out, errOut := runCLI(t, args...)
			require.Equal(t, 0, code, errOut)
			require.Contains(t, out, "2 "+string(d)+" fingerprints")
			raw, err := os.ReadFile(fpFile)
			require.NoError(t, err)
			fps, err := dbscript.ParseFingerprints(raw)
			require.NoError(t, err)
			require.Len(t, fps[d], 2)
			require.Equal(t, strings.Repeat("a", 64), fps[dbscript.Driver(other)][1], "the other driver's entries are kept")

			state := t.TempDir()
			cfg := filepath.Join(state, "agent.json")
			b, _ := json.Marshal(map[string]any{"source": "file:///nowhere", "keys": []string{"/nonexistent.pub"}, "state_dir": state,
				"modules": []any{map[string]any{"name": "db", "kind": "database", "database": map[string]string{"driver": string(d), "dsn": dsn}}}})
			require.NoError(t, os.WriteFile(cfg, b, 0o644))
			status := func() dbStatusJSON {
				code, out, errOut := runCLI(t, "db", "status", "--config", cfg, "db", "--pack", packDir, "--json")
				require.Equal(t, 0, code, errOut)
				var st dbStatusJSON
				require.NoError(t, json.Unmarshal([]byte(out), &st), out)
				return st
			}
			st := status()
			require.Equal(t, dbscript.StateEmpty, st.State)
			require.Len(t, st.Pending, 2)

			code, out, errOut = runCLI(t, "db", "apply-next", "--config", cfg, "db", "--pack", packDir)
			require.Equal(t, 0, code, errOut)
			require.Contains(t, out, "applied 0001_init.sql")
			st = status()
			require.Equal(t, dbscript.StateStandard, st.State)
			require.Equal(t, fps[d][1], st.Fingerprint)

			db, err := dbscript.Open(d, dsn)
			require.NoError(t, err)
			defer db.Close()
			dbExec(t, db, "ALTER TABLE customers ADD COLUMN vip INTEGER")
			st = status()
			require.Equal(t, dbscript.StateCustomised, st.State)
			require.Equal(t, []string{"column customers.vip"}, st.Drift.Added)
			require.Equal(t, []string{"column customers.vip"}, st.Pending[0].Touches)

			code, out, _ = runCLI(t, "db", "script", "--config", cfg, "db", "2", "--pack", packDir)
			require.Equal(t, 0, code)
			require.Contains(t, out, "CREATE TABLE orders")
			code, _, errOut = runCLI(t, "db", "script", "--config", cfg, "db", "1", "--pack", packDir)
			require.Equal(t, 1, code, "an applied script is not pending")
			require.Contains(t, errOut, "0001_init.sql is not pending")

			code, _, errOut = runCLI(t, "db", "mark-applied", "--config", cfg, "db", "3", "--pack", packDir)
			require.Equal(t, 1, code)
			require.Contains(t, errOut, "next pending script is 0002_orders.sql")
			dbExec(t, db, "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id))")
			code, _, errOut = runCLI(t, "db", "mark-applied", "--config", cfg, "db", "2", "--pack", packDir)
			require.Equal(t, 0, code, errOut)
			st = status()
			require.Equal(t, dbscript.StateCustomised, st.State)
			require.Empty(t, st.Pending)
			require.Equal(t, dbscript.ModeMarked, st.History[1].Mode)

			// An edited history is refused with its code.
			dbExec(t, db, "UPDATE upkeep_history SET sha256 = 'x' WHERE number = 2")
			code, _, errOut = runCLI(t, "db", "status", "--config", cfg, "db", "--pack", packDir)
			require.Equal(t, 1, code)
			require.Contains(t, errOut, "0002_orders.sql")
			require.Contains(t, errOut, "[history_mismatch]")

			code, out, errOut = runCLI(t, "db", "fingerprint", "--driver", string(d), "--dsn", dsn)
			require.Equal(t, 0, code, errOut)
			require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{64}\n$`), out)
			code, out, _ = runCLI(t, "db", "fingerprint", "--json", "--driver", string(d), "--dsn", dsn)
			require.Equal(t, 0, code)
			var l dbscript.Listing
			require.NoError(t, json.Unmarshal([]byte(out), &l))
			require.NotEmpty(t, l.Objects)
		})
	}
}

func dbExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	_, err := db.Exec(q)
	require.NoError(t, err)
}

// TestDBFingerprintMissingFile: a mistyped SQLite path is an error naming it, not an
// empty database created on the spot.
func TestDBFingerprintMissingFile(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "no.sqlite")
	code, _, errOut := runCLI(t, "db", "fingerprint", "--driver", "sqlite", "--dsn", missing)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, missing)
	require.NoFileExists(t, missing)
}

func TestDBUsage(t *testing.T) {
	for _, args := range [][]string{
		{"db"},
		{"db", "nope"},
		{"db", "fingerprint", "--driver", "mysql", "--dsn", "x"},
		{"db", "build-fingerprints", "dir", "--driver", "postgres"},
		{"db", "script", "--config", "x", "--pack", "y", "db", "zero"},
	} {
		code, _, errOut := runCLI(t, args...)
		require.Equal(t, 2, code, "%v: %s", args, errOut)
	}
	code, out, _ := runCLI(t, "db", "-h")
	require.Equal(t, 0, code)
	require.Contains(t, out, "mark-applied")
}

// TestDBInstall drives a database module through `upkeep install`, on both drivers:
// the first version's scripts run on an empty database, the next version's on a
// standard one; once a person customised the database, install refuses with
// schema_drift (also in `status --json`), and the person runs the pending script
// with `db apply-next`, which finds the pack the install tried without --pack.
func TestDBInstall(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	for _, d := range []dbscript.Driver{dbscript.SQLite, dbscript.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			dsn := filepath.Join(dir, "db.sqlite")
			if d == dbscript.Postgres {
				dsn = pgServer.CreateDB(t)
			}
			sec, pub := publisher(t, dir)
			repo := filepath.Join(dir, "repo")
			build := dbPack(t)
			code, _, errOut := runCLI(t, "db", "build-fingerprints", build, "--driver", string(d))
			if d == dbscript.Postgres {
				code, _, errOut = runCLI(t, "db", "build-fingerprints", build, "--driver", string(d), "--dsn", pgServer.CreateDB(t))
			}
			require.Equal(t, 0, code, errOut)
			code, _, errOut = runCLI(t, "publish", "--repo", repo, "--sec", sec, "--module", "db", "--version", "1.0.0", "--platform", platform, "--from", build)
			require.Equal(t, 0, code, errOut)

			cfg := filepath.Join(dir, "agent.json")
			b, _ := json.Marshal(map[string]any{"source": repo, "keys": []string{pub}, "state_dir": filepath.Join(dir, "state"),
				"modules": []any{map[string]any{"name": "db", "kind": "database", "database": map[string]string{"driver": string(d), "dsn": dsn}}}})
			require.NoError(t, os.WriteFile(cfg, b, 0o644))
			code, out, errOut := runCLI(t, "install", "--config", cfg, "db")
			require.Equal(t, 0, code, errOut)
			require.Contains(t, out, "installed db 1.0.0")

			// 1.1.0 adds a script; a person customised the database meanwhile.
			require.NoError(t, os.WriteFile(filepath.Join(build, "upkeep", "db", "0003_items.sql"), []byte("CREATE TABLE items (id INTEGER PRIMARY KEY);\n"), 0o644))
			if d == dbscript.Postgres {
				code, _, errOut = runCLI(t, "db", "build-fingerprints", build, "--driver", string(d), "--dsn", pgServer.CreateDB(t))
			} else {
				code, _, errOut = runCLI(t, "db", "build-fingerprints", build, "--driver", string(d))
			}
			require.Equal(t, 0, code, errOut)
			code, _, errOut = runCLI(t, "publish", "--repo", repo, "--sec", sec, "--module", "db", "--version", "1.1.0", "--platform", platform, "--from", build)
			require.Equal(t, 0, code, errOut)
			db, err := dbscript.Open(d, dsn)
			require.NoError(t, err)
			defer db.Close()
			dbExec(t, db, "CREATE VIEW vips AS SELECT id FROM customers")

			code, _, errOut = runCLI(t, "install", "--config", cfg, "db")
			require.Equal(t, 1, code)
			require.Contains(t, errOut, "customised")
			code, out, _ = runCLI(t, "status", "--config", cfg, "--json")
			require.Equal(t, 0, code)
			require.Contains(t, out, `"code": "schema_drift"`)

			code, out, errOut = runCLI(t, "db", "status", "--config", cfg, "db", "--json")
			require.Equal(t, 0, code, errOut)
			var st dbStatusJSON
			require.NoError(t, json.Unmarshal([]byte(out), &st), out)
			require.Equal(t, dbscript.StateCustomised, st.State)
			require.Equal(t, []string{"view vips"}, st.Drift.Added)
			require.Len(t, st.Pending, 1)
			code, out, errOut = runCLI(t, "db", "apply-next", "--config", cfg, "db")
			require.Equal(t, 0, code, errOut)
			require.Contains(t, out, "0003_items.sql")
		})
	}
}

// dbRelease is a database module published on both drivers: scripts written into a
// build folder, fingerprints and listings built, then published.
type dbRelease struct {
	t        *testing.T
	d        dbscript.Driver
	build    string
	repo     string
	sec, cfg string
	dsn      string
	platform string
}

func newDBRelease(t *testing.T, d dbscript.Driver, extra map[string]any) *dbRelease {
	dir := t.TempDir()
	r := &dbRelease{t: t, d: d, build: filepath.Join(dir, "build"), repo: filepath.Join(dir, "repo"),
		dsn: filepath.Join(dir, "db.sqlite"), platform: runtime.GOOS + "/" + runtime.GOARCH}
	if d == dbscript.Postgres {
		r.dsn = pgServer.CreateDB(t)
	}
	var pub string
	r.sec, pub = publisher(t, dir)
	dbc := map[string]any{"driver": string(d), "dsn": r.dsn}
	for k, v := range extra {
		dbc[k] = v
	}
	r.cfg = filepath.Join(dir, "agent.json")
	b, _ := json.Marshal(map[string]any{"source": r.repo, "keys": []string{pub}, "state_dir": filepath.Join(dir, "state"),
		"modules": []any{map[string]any{"name": "db", "kind": "database", "database": dbc}}})
	require.NoError(t, os.WriteFile(r.cfg, b, 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(r.build, "upkeep", "db"), 0o755))
	return r
}

// publish adds scripts (name → SQL) and publishes version.
func (r *dbRelease) publish(version string, scripts map[string]string) {
	t := r.t
	for name, text := range scripts {
		require.NoError(t, os.WriteFile(filepath.Join(r.build, "upkeep", "db", name), []byte(text), 0o644))
	}
	args := []string{"db", "build-fingerprints", r.build, "--driver", string(r.d)}
	if r.d == dbscript.Postgres {
		args = append(args, "--dsn", pgServer.CreateDB(t))
	}
	code, _, errOut := runCLI(t, args...)
	require.Equal(t, 0, code, errOut)
	code, _, errOut = runCLI(t, "publish", "--repo", r.repo, "--sec", r.sec, "--module", "db", "--version", version, "--platform", r.platform, "--from", r.build)
	require.Equal(t, 0, code, errOut)
}

func (r *dbRelease) dbStatus() dbStatusJSON {
	code, out, errOut := runCLI(r.t, "db", "status", "--config", r.cfg, "db", "--json")
	require.Equal(r.t, 0, code, errOut)
	var st dbStatusJSON
	require.NoError(r.t, json.Unmarshal([]byte(out), &st), out)
	return st
}

// qualified is the schema live objects are named with in scripts.
func qualified(d dbscript.Driver) string {
	return map[dbscript.Driver]string{dbscript.SQLite: "main", dbscript.Postgres: "public"}[d]
}

// TestDBCustomisedInstallFinishes drives the steps of a customised database through
// the CLI, on both drivers: the history's fingerprint_after overwritten by the
// customer's SQL does not make it look standard; status reads write nothing (a row
// trigger counts writes); once a person ran the pending scripts (one through
// apply-next, one by hand and marked applied), install completes with 1.1.0 and the
// database stays customised, its drift reported.
func TestDBCustomisedInstallFinishes(t *testing.T) {
	for _, d := range []dbscript.Driver{dbscript.SQLite, dbscript.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			q := qualified(d)
			r := newDBRelease(t, d, nil)
			r.publish("1.0.0", map[string]string{
				"0001_init.sql": "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\nCREATE VIEW customer_names AS SELECT name FROM customers;\n",
				"0002_seed.sql": "INSERT INTO " + q + ".customers (id, name) VALUES (1, 'first');\n",
			})
			code, out, errOut := runCLI(t, "install", "--config", r.cfg, "db")
			require.Equal(t, 0, code, errOut)
			require.Contains(t, out, "installed db 1.0.0")

			db, err := dbscript.Open(d, r.dsn)
			require.NoError(t, err)
			defer db.Close()
			// The customer adds a column, rewrites the view, and counts writes.
			dbExec(t, db, "ALTER TABLE customers ADD COLUMN vip INTEGER")
			dbExec(t, db, "DROP VIEW customer_names")
			dbExec(t, db, "CREATE VIEW customer_names AS SELECT name, vip FROM customers")
			dbExec(t, db, "CREATE TABLE write_count (n INTEGER NOT NULL)")
			dbExec(t, db, "INSERT INTO write_count VALUES (0)")
			if d == dbscript.Postgres {
				dbExec(t, db, "CREATE FUNCTION count_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE write_count SET n = n + 1; RETURN NULL; END $$")
				dbExec(t, db, "CREATE TRIGGER customers_writes AFTER INSERT OR UPDATE OR DELETE ON customers FOR EACH ROW EXECUTE FUNCTION count_write()")
			} else {
				dbExec(t, db, "CREATE TRIGGER customers_writes AFTER UPDATE ON customers FOR EACH ROW BEGIN UPDATE write_count SET n = n + 1; END")
			}
			st := r.dbStatus()
			require.Equal(t, dbscript.StateCustomised, st.State)
			require.Contains(t, st.Drift.Added, "column customers.vip")
			require.Contains(t, st.Drift.Changed, "view customer_names")
			// The customer's SQL rewrites the history's record of the schema.
			dbExec(t, db, "UPDATE upkeep_history SET fingerprint_after = '"+st.Fingerprint+"'")
			st = r.dbStatus()
			require.Equal(t, dbscript.StateCustomised, st.State, "the history table is not the baseline")

			r.publish("1.1.0", map[string]string{
				"0003_items.sql": "CREATE TABLE items (id INTEGER PRIMARY KEY, customer_id INTEGER);\n",
				"0004_index.sql": "CREATE INDEX items_customer ON items(customer_id);\n",
			})
			code, _, errOut = runCLI(t, "install", "--config", r.cfg, "db")
			require.Equal(t, 1, code)
			require.Contains(t, errOut, "customised")
			code, out, _ = runCLI(t, "status", "--config", r.cfg, "--json")
			require.Equal(t, 0, code)
			require.Contains(t, out, `"code": "schema_drift"`)
			var writes int
			require.NoError(t, db.QueryRow("SELECT n FROM write_count").Scan(&writes))
			require.Zero(t, writes, "a read or a refused install wrote to customers")

			code, out, errOut = runCLI(t, "db", "apply-next", "--config", r.cfg, "db")
			require.Equal(t, 0, code, errOut)
			require.Contains(t, out, "0003_items.sql")
			dbExec(t, db, "CREATE INDEX items_customer ON items(customer_id)")
			code, _, errOut = runCLI(t, "db", "mark-applied", "--config", r.cfg, "db", "4")
			require.Equal(t, 0, code, errOut)
			st = r.dbStatus()
			require.Empty(t, st.Pending)
			require.Equal(t, dbscript.StateCustomised, st.State)

			code, out, errOut = runCLI(t, "install", "--config", r.cfg, "db")
			require.Equal(t, 0, code, errOut)
			require.Contains(t, out, "installed db 1.1.0")
			code, out, _ = runCLI(t, "status", "--config", r.cfg, "--json")
			require.Equal(t, 0, code)
			require.Contains(t, out, `"installed": "1.1.0"`)
			st = r.dbStatus()
			require.Equal(t, dbscript.StateCustomised, st.State)
			require.Contains(t, st.Drift.Added, "column customers.vip")
			require.NoError(t, db.QueryRow("SELECT n FROM write_count").Scan(&writes))
			require.Zero(t, writes, "a read wrote to customers")
		})
	}
}

// TestDBScriptTimeout: a script that never ends is rolled back after the module's
// script_timeout; the install fails with script_failed, "timed out", and the module
// is out of maintenance.
func TestDBScriptTimeout(t *testing.T) {
	for _, d := range []dbscript.Driver{dbscript.SQLite, dbscript.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			r := newDBRelease(t, d, map[string]any{"script_timeout": "2s"})
			forever := map[dbscript.Driver]string{
				dbscript.SQLite:   "CREATE TABLE t (a INTEGER);\nINSERT INTO t WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r;\n",
				dbscript.Postgres: "CREATE TABLE t (a INTEGER);\nSELECT pg_sleep(3600);\n",
			}[d]
			// The publisher's build runs scripts too: it gets the forever script only
			// after its fingerprints were built.
			r.publish("1.0.0", map[string]string{"0001_init.sql": "CREATE TABLE customers (id INTEGER PRIMARY KEY);\n"})
			code, _, errOut := runCLI(t, "install", "--config", r.cfg, "db")
			require.Equal(t, 0, code, errOut)
			require.NoError(t, os.WriteFile(filepath.Join(r.build, "upkeep", "db", "0002_forever.sql"), []byte(forever), 0o644))
			code, _, errOut = runCLI(t, "publish", "--repo", r.repo, "--sec", r.sec, "--module", "db", "--version", "1.1.0", "--platform", r.platform, "--from", r.build)
			require.Equal(t, 0, code, errOut)
			code, _, errOut = runCLI(t, "install", "--config", r.cfg, "db")
			require.Equal(t, 1, code)
			require.Contains(t, errOut, "timed out")
			code, out, _ := runCLI(t, "status", "--config", r.cfg, "--json")
			require.Equal(t, 0, code)
			require.Contains(t, out, `"code": "script_failed"`)
			require.Contains(t, out, `"maintenance": false`)
			require.Contains(t, out, `"installed": "1.0.0"`)
			st := r.dbStatus()
			require.Equal(t, 1, st.Applied)
		})
	}
}

// TestDBStatusAfterCheck: after a check, before any install, db status shows the
// newest release's pending scripts (their text readable with db script) and the
// live drift of a customised database.
func TestDBStatusAfterCheck(t *testing.T) {
	for _, d := range []dbscript.Driver{dbscript.SQLite, dbscript.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			r := newDBRelease(t, d, nil)
			r.publish("1.0.0", map[string]string{"0001_init.sql": "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"})
			code, _, errOut := runCLI(t, "install", "--config", r.cfg, "db")
			require.Equal(t, 0, code, errOut)
			db, err := dbscript.Open(d, r.dsn)
			require.NoError(t, err)
			defer db.Close()
			dbExec(t, db, "ALTER TABLE customers ADD COLUMN vip INTEGER")
			r.publish("1.1.0", map[string]string{"0002_orders.sql": "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER);\n"})

			code, out, errOut := runCLI(t, "check", "--config", r.cfg)
			require.Equal(t, 0, code, errOut)
			require.Contains(t, out, "1.1.0")
			st := r.dbStatus()
			require.Equal(t, dbscript.StateCustomised, st.State)
			require.Equal(t, []string{"column customers.vip"}, st.Drift.Added)
			require.Len(t, st.Pending, 1)
			require.Equal(t, "0002_orders.sql", st.Pending[0].Name)
			code, out, errOut = runCLI(t, "db", "script", "--config", r.cfg, "db", "2")
			require.Equal(t, 0, code, errOut)
			require.Contains(t, out, "CREATE TABLE orders")
			code, out, _ = runCLI(t, "status", "--config", r.cfg, "--json")
			require.Equal(t, 0, code)
			require.Contains(t, out, `"installed": "1.0.0"`, "no install was attempted")
		})
	}
}
