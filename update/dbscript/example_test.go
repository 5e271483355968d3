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
