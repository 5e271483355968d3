package dbagent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/dbscript/dbagent"
)

// The agent reaches a database module through Opener, the engine installs one
// through Appliers (which keep its local baseline in the state dir); before any check
// or install of the module, its status says which pack is missing.
func ExampleOpener() {
	dir, _ := os.MkdirTemp("", "dbagent-example-")
	defer os.RemoveAll(dir)
	pub := filepath.Join(dir, "upkeep.pub")
	os.WriteFile(pub, []byte("untrusted comment: minisign public key 88A46A87607D8EB3\nRWSzjn1gh2qkiL4uyu3RvJdBpiOuF55qtcVVKdOor9stgvILwum83t4T\n"), 0o644)
	m := update.ModuleConfig{Name: "db", Kind: update.KindDatabase,
		Database: &update.DatabaseConfig{Driver: "sqlite", DSN: filepath.Join(dir, "db.sqlite")}}
	state := filepath.Join(dir, "state")
	eng, err := update.New(update.Config{Source: "https://updates.example/", StateDir: state,
		Keys: []string{pub}, Modules: []update.ModuleConfig{m}},
		update.WithApplier(update.KindDatabase, dbagent.Appliers(state)))
	if err != nil {
		fmt.Println(err)
		return
	}
	db, err := dbagent.Opener(eng)(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = db.Status(context.Background())
	fmt.Println(err != nil)
	// Output: true
}
