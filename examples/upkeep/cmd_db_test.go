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
