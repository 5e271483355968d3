package dbscript_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/upkeep-go/upkeep/update/dbscript"
)

// bigSchema creates tables [from, to), each with 10 columns and 2 indexes, and
// views on every tenth.
func bigSchema(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "CREATE TABLE t%d (id INTEGER PRIMARY KEY", i)
		for c := 1; c < 10; c++ {
			fmt.Fprintf(&b, ", c%d TEXT NOT NULL DEFAULT 'x'", c)
		}
		fmt.Fprintf(&b, ");\nCREATE INDEX t%d_c1 ON t%d(c1);\nCREATE INDEX t%d_c2 ON t%d(c2, c3);\n", i, i, i, i)
		if i%10 == 0 {
			fmt.Fprintf(&b, "CREATE VIEW v%d AS SELECT id, c1 FROM t%d WHERE c2 <> 'y';\n", i, i)
		}
	}
	return b.String()
}

func benchDB(b *testing.B, d dbscript.Driver) *sql.DB {
	b.Helper()
	dsn := filepath.Join(b.TempDir(), "db.sqlite")
	if d == dbscript.Postgres {
		dsn = pgServer.CreateDB(b)
	}
	db, err := dbscript.Open(d, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkFingerprint reads the catalog of 1,000 tables (10 columns, 2 indexes
// each) and 100 views. Goal: under 1 s on each driver.
func BenchmarkFingerprint(b *testing.B) {
	for _, d := range []dbscript.Driver{dbscript.SQLite, dbscript.Postgres} {
		b.Run(string(d), func(b *testing.B) {
			db := benchDB(b, d)
			if _, err := db.Exec(bigSchema(0, 1000)); err != nil {
				b.Fatal(err)
			}
			r, _ := dbscript.New(db, d)
			ctx := context.Background()
			b.ReportAllocs()
			var n int
			for b.Loop() {
				l, err := r.Fingerprint(ctx)
				if err != nil {
					b.Fatal(err)
				}
				n = len(l.Objects)
			}
			b.ReportMetric(float64(n), "objects")
		})
	}
}

// BenchmarkApply compares applying a chain of 10 scripts (100 tables, 20,000 rows)
// to an empty database through Apply, as a first install does (the publisher's
// fingerprint checked, the history, the local baseline), with executing the same
// statements directly: each script in its own transaction (direct), as a person
// running the files would, and all of them in one transaction (direct-one-tx), as
// Apply does. Goal: upkeep under 10 % slower than direct. The upkeep sub-benchmark
// reports its time over the direct one's (x-direct); the interleaved sub-benchmark
// runs the three in turns in one loop, which other work on the machine skews less,
// and reports upkeep's overhead over each (the median of the loop's ratios).
func BenchmarkApply(b *testing.B) { benchApply(b, 0) }

// BenchmarkApplyUpgrade is BenchmarkApply on a database where an earlier install
// applied the first 5 scripts: the install reads the schema of 50 tables before it
// runs the last 5.
func BenchmarkApplyUpgrade(b *testing.B) { benchApply(b, 5) }

// benchApply runs BenchmarkApply on databases where the first done scripts were
// applied before the time, by an install for upkeep and directly for the others.
func benchApply(b *testing.B, done int) {
	fsys := fstest.MapFS{}
	for s := range 10 {
		var sqlText strings.Builder
		sqlText.WriteString(bigSchema(s*10, s*10+10))
		for t := s * 10; t < s*10+10; t++ {
			fmt.Fprintf(&sqlText, "INSERT INTO t%d (id, c1) SELECT n, 'v' || n FROM (WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 200) SELECT n FROM r) AS g;\n", t)
		}
		fsys[fmt.Sprintf("upkeep/db/%04d_s.sql", s+1)] = &fstest.MapFile{Data: []byte(sqlText.String())}
	}
	p, err := dbscript.Load(fsys)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	p.Fingerprints, p.Listings = dbscript.Fingerprints{}, dbscript.Listings{}
	before := *p // the pack of the earlier install
	before.Scripts = p.Scripts[:done]
	for _, d := range []dbscript.Driver{dbscript.SQLite, dbscript.Postgres} {
		b.Run(string(d), func(b *testing.B) {
			// The pack is the publisher's, as an install gets it: the fingerprint
			// and listing after each script, which Apply checks the live schema
			// against.
			pub, _ := dbscript.New(benchDB(b, d), d)
			ls, err := pub.BuildListings(ctx, p)
			if err != nil {
				b.Fatal(err)
			}
			p.Fingerprints[d] = map[int]string{}
			for n, l := range ls {
				p.Fingerprints[d][n] = l.Fingerprint
			}
			p.Listings[d] = dbscript.ListingChanges(ls)
			// direct runs scripts in one transaction each, or all in one.
			direct := func(db *sql.DB, scripts []dbscript.Script, oneTx bool) error {
				var tx *sql.Tx
				for i, s := range scripts {
					if i == 0 || !oneTx {
						if tx, err = db.BeginTx(ctx, nil); err != nil {
							return err
						}
					}
					for _, st := range s.Statements {
						if _, err := tx.ExecContext(ctx, st.SQL); err != nil {
							tx.Rollback()
							return err
						}
					}
					if i == len(scripts)-1 || !oneTx {
						if err := tx.Commit(); err != nil {
							return err
						}
					}
				}
				return nil
			}
			upkeep := func(db *sql.DB, state string, p *dbscript.Pack) error {
				r, _ := dbscript.New(db, d, dbscript.WithBaselineFile(filepath.Join(state, "baseline.json")))
				res, err := r.Apply(ctx, p)
				if err == nil && len(res.Applied) != len(p.Scripts)-len(res.Status.History) {
					err = fmt.Errorf("applied %d scripts of %d", len(res.Applied), len(p.Scripts))
				}
				return err
			}
			sides := []struct {
				name string
				run  func(db *sql.DB, state string) error
			}{
				{"direct", func(db *sql.DB, _ string) error { return direct(db, p.Scripts[done:], false) }},
				{"direct-one-tx", func(db *sql.DB, _ string) error { return direct(db, p.Scripts[done:], true) }},
				{"upkeep", func(db *sql.DB, state string) error { return upkeep(db, state, p) }},
			}
			// fresh returns a new database and state dir (made outside the time, as
			// they exist before an install) where the first done scripts ran.
			fresh := func(b *testing.B, side int) (*sql.DB, string) {
				b.Helper()
				b.StopTimer()
				defer b.StartTimer()
				db, state := benchDB(b, d), b.TempDir()
				if done > 0 {
					run := func() error { return direct(db, before.Scripts, false) }
					if sides[side].name == "upkeep" {
						run = func() error { return upkeep(db, state, &before) }
					}
					if err := run(); err != nil {
						b.Fatal(err)
					}
				}
				return db, state
			}
			perOp := map[string]time.Duration{}
			for k, side := range sides {
				b.Run(side.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						db, state := fresh(b, k)
						if err := side.run(db, state); err != nil {
							b.Fatal(err)
						}
					}
					perOp[side.name] = b.Elapsed() / time.Duration(b.N)
					if side.name == "upkeep" && perOp["direct"] > 0 {
						b.ReportMetric(float64(perOp["upkeep"])/float64(perOp["direct"]), "x-direct")
					}
				})
			}
			// The three on fresh databases in one loop, each first in turn, so that a
			// machine busy with other work slows them alike.
			b.Run("interleaved", func(b *testing.B) {
				var ratios [2][]float64 // upkeep over direct, over direct-one-tx
				for i := 0; b.Loop(); i++ {
					var took [3]time.Duration
					for k := range sides {
						side := (k + i) % len(sides)
						db, state := fresh(b, side)
						start := time.Now()
						if err := sides[side].run(db, state); err != nil {
							b.Fatal(err)
						}
						took[side] = time.Since(start)
					}
					ratios[0] = append(ratios[0], float64(took[2])/float64(took[0]))
					ratios[1] = append(ratios[1], float64(took[2])/float64(took[1]))
				}
				for k, unit := range []string{"overhead-%", "overhead-one-tx-%"} {
					slices.Sort(ratios[k])
					b.ReportMetric(100*(ratios[k][len(ratios[k])/2]-1), unit)
				}
			})
		})
	}
}
