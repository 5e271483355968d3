package dbscript

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSQLitePragmasSkipped: the pragmas a listing does not ask of a table (see
// sqliteKeys) say nothing of it: asking them of every table gives the same objects.
func TestSQLitePragmasSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(SQLite, filepath.Join(t.TempDir(), "db.sqlite"))
	require.NoError(t, err)
	defer db.Close()
	for _, s := range []string{
		`CREATE TABLE plain (id INTEGER PRIMARY KEY, note TEXT DEFAULT 'references')`,
		`CREATE TABLE keyed (a TEXT primary key, b TEXT unique, c TEXT, UNIQUE (b, c))`,
		`CREATE TABLE wr (a INT, b INT, PRIMARY KEY (b, a)) without rowid`,
		`CREATE TABLE wr2 (a INT PRIMARY KEY, b TEXT UNIQUE) WITHOUT ROWID, STRICT`,
		`CREATE TABLE child (id INTEGER PRIMARY KEY, k TEXT REFERENCES keyed, a INT, b INT, FOREIGN KEY (a, b) References wr (a, b) ON DELETE CASCADE)`,
		`CREATE TABLE later (id INTEGER PRIMARY KEY)`,
		`ALTER TABLE later ADD COLUMN k TEXT rEfErEnCeS keyed(a)`,
		`CREATE UNIQUE INDEX plain_note ON plain(note)`,
	} {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
	d := &sqliteDialect{}
	objs, err := d.list(ctx, db, "", DefaultTable)
	require.NoError(t, err)
	var names []string
	for _, o := range objs {
		if o.Kind == "table" {
			names = append(names, o.Name)
		}
	}
	all, err := sqlitePragmas(ctx, db, names, names, names)
	require.NoError(t, err)
	var want []Object
	for _, o := range objs {
		if o.Kind != "column" && !(o.Kind == "constraint" && !strings.HasPrefix(strings.TrimPrefix(o.Name, o.Table+"."), "CHECK")) {
			want = append(want, o)
		}
	}
	for _, n := range names {
		want = append(want, all[n]...)
	}
	require.Equal(t, newListing(SQLite, want).Objects, newListing(SQLite, slices.Clone(objs)).Objects)
	var fks, keys int
	for _, o := range objs {
		fks += strings.Count(o.Name, "FOREIGN KEY")
		keys += strings.Count(o.Name, ".UNIQUE") + strings.Count(o.Name, ".PRIMARY KEY")
	}
	require.Equal(t, 3, fks)
	require.Equal(t, 6, keys)
}

// TestSQLiteSeparatorsInValues: names and definitions holding the separators the
// catalog is read with, in a database whose text is UTF-16, list as they are.
func TestSQLiteSeparatorsInValues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, enc := range []string{"UTF-8", "UTF-16le"} {
		db, err := Open(SQLite, filepath.Join(t.TempDir(), "db.sqlite"))
		require.NoError(t, err)
		defer db.Close()
		_, err = db.Exec(`PRAGMA encoding = '` + enc + `'`)
		require.NoError(t, err)
		_, err = db.Exec("CREATE TABLE \"a\x1fb\" (\"c\x1ed\" TEXT DEFAULT 'x\x1e\x1fy', é TEXT DEFAULT 'ü')")
		require.NoError(t, err)
		_, err = db.Exec("CREATE VIEW \"v\x1e\" AS SELECT 1")
		require.NoError(t, err)
		d := &sqliteDialect{}
		objs, err := d.list(ctx, db, "", DefaultTable)
		require.NoError(t, err, enc)
		l := newListing(SQLite, objs)
		require.Equal(t, []Object{
			{Kind: "column", Name: "a\x1fb.c\x1ed", Table: "a\x1fb", Definition: "TEXT DEFAULT 'x\x1e\x1fy'"},
			{Kind: "column", Name: "a\x1fb.é", Table: "a\x1fb", Definition: "TEXT DEFAULT 'ü'"},
			{Kind: "table", Name: "a\x1fb", Definition: ""},
			{Kind: "view", Name: "v\x1e", Definition: "CREATE VIEW \"v\x1e\" AS SELECT 1"},
		}, l.Objects, enc)
	}
}
