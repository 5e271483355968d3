package dbscript_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/upkeep-go/upkeep/update/dbscript"
)

// A standard database is brought up to date automatically; a column added by hand
// makes it customised, and the drift report names it.
func Example() {
	ctx := context.Background()
	pack := fstest.MapFS{
		"upkeep/db/0001_init.sql":  {Data: []byte("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);")},
		"upkeep/db/0002_email.sql": {Data: []byte("ALTER TABLE customers ADD COLUMN email TEXT;")},
	}
	p, err := dbscript.Load(pack)
	if err != nil {
		panic(err)
	}
	// The publisher records the standard schema after each script (what
	// `upkeep db build-fingerprints` writes into the pack).
	scratch, err := dbscript.Open(dbscript.SQLite, ":memory:")
	if err != nil {
		panic(err)
	}
	defer scratch.Close()
	pub, err := dbscript.New(scratch, dbscript.SQLite)
	if err != nil {
		panic(err)
	}
	ls, err := pub.BuildListings(ctx, p)
	if err != nil {
		panic(err)
	}
	p.Fingerprints = dbscript.Fingerprints{dbscript.SQLite: {}}
	for n, l := range ls {
		p.Fingerprints[dbscript.SQLite][n] = l.Fingerprint
	}
	p.Listings = dbscript.Listings{dbscript.SQLite: dbscript.ListingChanges(ls)}

	// The customer's database.
	db, err := dbscript.Open(dbscript.SQLite, ":memory:")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	r, err := dbscript.New(db, dbscript.SQLite)
	if err != nil {
		panic(err)
	}
	res, err := r.Apply(ctx, p)
	if err != nil {
		panic(err)
	}
	fmt.Println("applied", len(res.Applied), "scripts")

	db.Exec("ALTER TABLE customers ADD COLUMN vip INTEGER")
	st, err := r.Status(ctx, p)
	if err != nil {
		panic(err)
	}
	fmt.Println(st.State, "added:", st.Drift.Added)
	// Output:
	// applied 2 scripts
	// customised added: [column customers.vip]
}
