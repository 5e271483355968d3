package portal_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/testenv"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/dbscript"
	"github.com/upkeep-go/upkeep/update/portal"
)

var _ portal.DatabaseBackend = (*agent.Agent)(nil)

var pgServer testenv.PostgresServer

func TestMain(m *testing.M) {
	code := m.Run()
	pgServer.Stop() // started by the database tests
	os.Exit(code)
}

// dbTree returns a database module's pack tree holding scripts, with the
// fingerprints.json and listings.json built for driver d (on scratch, an empty
// database).
func dbTree(t testing.TB, d dbscript.Driver, scratch string, scripts map[string]string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	fsys := fstest.MapFS{}
	for name, text := range scripts {
		tree[dbscript.Dir+"/"+name] = text
		fsys[dbscript.Dir+"/"+name] = &fstest.MapFile{Data: []byte(text)}
	}
	p, err := dbscript.Load(fsys)
	require.NoError(t, err)
	db, err := dbscript.Open(d, scratch)
	require.NoError(t, err)
	defer db.Close()
	r, err := dbscript.New(db, d)
	require.NoError(t, err)
	ls, err := r.BuildListings(context.Background(), p)
	require.NoError(t, err)
	fps := map[int]string{}
	for n, l := range ls {
		fps[n] = l.Fingerprint
	}
	b, err := json.Marshal(dbscript.Fingerprints{d: fps})
	require.NoError(t, err)
	tree[dbscript.FingerprintsFile] = string(b)
	b, err = json.Marshal(dbscript.Listings{d: dbscript.ListingChanges(ls)})
	require.NoError(t, err)
	tree[dbscript.ListingsFile] = string(b)
	return tree
}

// dbFixture is an agent over a files module (web) and a database module (db) that a
// person customised after 1.0.0 was installed: 1.1.0's install refuses
// (schema_drift) and leaves scripts 3 and 4 pending.
type dbFixture struct {
	a   *agent.Agent
	s   *served
	db  *sql.DB
	dsn string
}

func newDBFixture(t *testing.T, d dbscript.Driver) *dbFixture {
	f := newFixture(t, "web")
	dsn := filepath.Join(f.dir, "db.sqlite")
	scratch := func() string { return ":memory:" }
	if d == dbscript.Postgres {
		dsn = pgServer.CreateDB(t)
		scratch = func() string { return pgServer.CreateDB(t) }
	}
	f.cfg.Modules = append(f.cfg.Modules, update.ModuleConfig{Name: "db", Kind: update.KindDatabase,
		Database: &update.DatabaseConfig{Driver: string(d), DSN: dsn}})
	f.repo.Publish("web", "1.0.0", platform, map[string]string{"index.html": "v1"})
	v1 := map[string]string{
		"0001_init.sql":   "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
		"0002_orders.sql": "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id));\n",
	}
	f.repo.Publish("db", "1.0.0", platform, dbTree(t, d, scratch(), v1))
	a := newAgent(t, f.cfg)
	ctx := t.Context()
	id, err := a.Install(ctx, "db", "1.0.0")
	waitOp(t, a, id, err)

	v2 := maps.Clone(v1)
	v2["0003_items.sql"] = "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT);\n"
	v2["0004_names.sql"] = "-- Speeds up the search by name.\nCREATE INDEX customers_name ON customers (name);\n"
	f.repo.Publish("db", "1.1.0", platform, dbTree(t, d, scratch(), v2))
	db, err := dbscript.Open(d, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	if d == dbscript.SQLite {
		// As in TestDatabaseAfterCheck: wait for the agent's background read.
		db.SetMaxOpenConns(1)
		_, err = db.Exec("PRAGMA busy_timeout = 10000")
		require.NoError(t, err)
	}
	for _, q := range []string{"ALTER TABLE customers ADD COLUMN vip INTEGER", "CREATE VIEW vips AS SELECT id FROM customers WHERE vip = 1"} {
		_, err := db.Exec(q)
		require.NoError(t, err)
	}
	id, err = a.Install(ctx, "db", "1.1.0")
	require.NoError(t, err)
	op := waitEnded(t, a, id)
	require.Equal(t, agent.ResultFailed, op.Result)
	require.Equal(t, "schema_drift", op.Code, op.Error)
	return &dbFixture{a: a, s: serve(t, a), db: db, dsn: dsn}
}

// waitEnded waits for an operation to end and returns it.
func waitEnded(t testing.TB, b portal.Backend, id string) agent.Operation {
	t.Helper()
	for {
		op, err := b.Operation(t.Context(), id)
		require.NoError(t, err)
		if op.Result != agent.ResultRunning {
			return op
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// moduleViews reads /api/modules into views by name.
func (s *served) moduleViews() map[string]agent.ModuleView {
	s.t.Helper()
	out := map[string]agent.ModuleView{}
	for _, m := range s.modules() {
		out[m.Name] = m
	}
	return out
}

// TestDatabase drives a customised database module over HTTP, as a person does from
// the page: its drift and pending scripts, one script's text, Run next and Mark
// applied (each an operation of kind script, with the token rules of Install).
func TestDatabase(t *testing.T) {
	for _, d := range []dbscript.Driver{dbscript.SQLite, dbscript.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newDBFixture(t, d)
			s := f.s
			s.page()

			mods := s.moduleViews()
			require.Nil(t, mods["web"].Database, "a files module has no database part")
			v := mods["db"].Database
			require.NotNil(t, v)
			require.Equal(t, "customised", v.State, v.Error)
			require.Equal(t, 2, v.Applied)
			require.Equal(t, []string{"column customers.vip", "view vips"}, v.Drift.Added)
			require.Len(t, v.Pending, 2)
			require.Equal(t, "0003_items.sql", v.Pending[0].Name)
			require.Empty(t, v.Pending[0].Touches)
			require.Contains(t, v.Pending[1].Touches, "column customers.vip", "script 4 names customers, which was customised")

			st, body, _ := s.do("GET", "/api/modules/db/db/scripts/4", "")
			require.Equal(t, http.StatusOK, st, body)
			var sv agent.ScriptView
			require.NoError(t, json.Unmarshal([]byte(body), &sv))
			require.Equal(t, "0004_names.sql", sv.Name)
			require.Contains(t, sv.Text, "CREATE INDEX customers_name")
			require.False(t, sv.Applied)
			for path, want := range map[string]int{
				"/api/modules/db/db/scripts/9": http.StatusNotFound, "/api/modules/db/db/scripts/x": http.StatusBadRequest,
				"/api/modules/web/db": http.StatusNotFound, "/api/modules/nope/db": http.StatusNotFound,
			} {
				st, body, _ := s.do("GET", path, "")
				require.Equal(t, want, st, "%s: %s", path, body)
				require.Contains(t, body, `"error"`)
			}

			// Same token rules as Install.
			st, body, _ = s.do("POST", "/api/modules/db/db/apply-next", "")
			require.Equal(t, http.StatusForbidden, st, body)
			st, body, _ = s.do("GET", "/api/modules/db/db/apply-next", "")
			require.Equal(t, http.StatusMethodNotAllowed, st, body)
			st, body = s.post("/api/modules/db/db/mark-applied", `{"number":"3"}`)
			require.Equal(t, http.StatusBadRequest, st, body)
			st, body = s.post("/api/modules/db/db/mark-applied", ``)
			require.Equal(t, http.StatusBadRequest, st, body)
			require.Equal(t, 2, s.moduleViews()["db"].Database.Applied, "a refused request changed nothing")

			id := s.started("/api/modules/db/db/apply-next")
			op := waitEnded(t, f.a, id)
			require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
			require.Equal(t, agent.OpScript, op.Kind)
			require.Equal(t, "0003_items.sql", op.To)
			v = s.moduleViews()["db"].Database
			require.Equal(t, 3, v.Applied)
			require.Len(t, v.Pending, 1)
			require.Equal(t, "customised", v.State, "a script run by hand never makes a baseline")

			// Script 3 is no longer the next one: the operation fails, naming the next.
			st, body = s.post("/api/modules/db/db/mark-applied", `{"number":3}`)
			require.Equal(t, http.StatusAccepted, st, body)
			var r struct{ Operation string }
			require.NoError(t, json.Unmarshal([]byte(body), &r))
			op = waitEnded(t, f.a, r.Operation)
			require.Equal(t, agent.ResultFailed, op.Result)
			require.Contains(t, op.Error, "0004_names.sql")

			// The person ran script 4 by hand, then records it.
			_, err := f.db.Exec("CREATE INDEX customers_name ON customers (name)")
			require.NoError(t, err)
			st, body = s.post("/api/modules/db/db/mark-applied", `{"number":4}`)
			require.Equal(t, http.StatusAccepted, st, body)
			require.NoError(t, json.Unmarshal([]byte(body), &r))
			op = waitEnded(t, f.a, r.Operation)
			require.Equal(t, agent.ResultSucceeded, op.Result, op.Error)
			v = s.moduleViews()["db"].Database
			require.Equal(t, 4, v.Applied)
			require.Empty(t, v.Pending)

			st, body, _ = s.do("GET", "/api/modules/db/db", "")
			require.Equal(t, http.StatusOK, st, body)
			require.Contains(t, body, `"applied":4`)
			ops, err := f.a.Operations(t.Context(), "db", 10)
			require.NoError(t, err)
			require.Equal(t, agent.OpScript, ops[0].Kind)

			st, body = s.post("/api/modules/web/db/apply-next", "")
			require.Equal(t, http.StatusNotFound, st, body)
		})
	}
}

// TestChromiumDatabase drives Debian's Chromium on a customised database module: the
// page shows its state, drift and pending scripts, opens a script's text, and after
// "Run next" the pending count drops without a reload. The screenshot is
// portal-database.png (UPKEEP_ARTIFACTS=DIR keeps it).
func TestChromiumDatabase(t *testing.T) {
	chrome := testenv.NeedProgram(t, "chromium", "chromium")
	t.Parallel()
	f := newDBFixture(t, dbscript.SQLite)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.WindowSize(1280, 900), chromedp.Flag("lang", "en-US"),
		// A test browser that loads only this loopback page: CI machines and containers
		// often lack what Chromium's sandbox needs (root, or no user namespaces), and
		// have a small /dev/shm.
		chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true))
	var mu sync.Mutex
	var problems []string
	listen := func(ev any) {
		if ev, ok := ev.(*cdpruntime.EventExceptionThrown); ok {
			mu.Lock()
			problems = append(problems, ev.ExceptionDetails.Text)
			mu.Unlock()
		}
	}
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancel()
	cctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(listen))
	defer cancel()
	require.NoError(t, chromedp.Do(cctx, chromedp.Navigate(f.s.url+"/")))
	tctx, cancel := context.WithTimeout(cctx, 2*time.Minute)
	defer cancel()
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return v
	}
	const db = `[data-module="db"] `
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`#live[data-live="on"]`))))
	require.Equal(t, "Customised", text(db+`[data-field="db-state"]`))
	require.Equal(t, "2", text(db+`[data-field="db-pending-count"]`))
	require.Contains(t, text(db+`[data-script="4"]`), "touches column customers.vip")
	_, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`window.upkeepNoReload = true; window.confirm = function () { return true; };
		document.querySelector('[data-module="db"] [data-field="db-drift-box"]').open = true; true`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS(db+`button[data-action="view-script"][data-number="4"]`))))
	require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(db+`[data-field="db-script"]`))))
	require.Contains(t, text(db+`[data-field="db-script"]`), "CREATE INDEX customers_name")
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	dir := artifacts(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "portal-database.png"), shot, 0o644))

	require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS(db+`button[data-action="apply-next"]`))))
	_, err = chromedp.Run(tctx, chromedp.Poll[bool](`document.querySelector('[data-module="db"] [data-field="db-pending-count"]').textContent === '1'`))
	require.NoError(t, err)
	require.Equal(t, "script 3 applied", text(db+`[data-field="db-applied"]`))
	noReload, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`window.upkeepNoReload === true`))
	require.NoError(t, err)
	require.True(t, noReload, "the page was reloaded")
	ops, err := f.a.Operations(t.Context(), "db", 1)
	require.NoError(t, err)
	require.Equal(t, agent.OpScript, ops[0].Kind)
	require.Equal(t, agent.ResultSucceeded, ops[0].Result, ops[0].Error)
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, problems, "script errors on the page")
}

// TestDatabaseAfterCheck: after a check and its background download, before any
// install, the module's view and GET /api/modules/db/db show the newest release's
// pending scripts (their text readable) and the customised database's drift.
func TestDatabaseAfterCheck(t *testing.T) {
	for _, d := range []dbscript.Driver{dbscript.SQLite, dbscript.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, "web")
			dsn, scratch := filepath.Join(f.dir, "db.sqlite"), func() string { return ":memory:" }
			if d == dbscript.Postgres {
				dsn, scratch = pgServer.CreateDB(t), func() string { return pgServer.CreateDB(t) }
			}
			f.cfg.Modules = append(f.cfg.Modules, update.ModuleConfig{Name: "db", Kind: update.KindDatabase,
				Database: &update.DatabaseConfig{Driver: string(d), DSN: dsn}})
			f.repo.Publish("web", "1.0.0", platform, map[string]string{"index.html": "v1"})
			v1 := map[string]string{"0001_init.sql": "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"}
			f.repo.Publish("db", "1.0.0", platform, dbTree(t, d, scratch(), v1))
			a := newAgent(t, f.cfg)
			id, err := a.Install(t.Context(), "db", "1.0.0")
			waitOp(t, a, id, err)
			db, err := dbscript.Open(d, dsn)
			require.NoError(t, err)
			defer db.Close()
			if d == dbscript.SQLite {
				// The agent reads the database's state in the background after the
				// install; an application waits for a reader as SQLite applications do.
				db.SetMaxOpenConns(1)
				_, err = db.Exec("PRAGMA busy_timeout = 10000")
				require.NoError(t, err)
			}
			_, err = db.Exec("ALTER TABLE customers ADD COLUMN vip INTEGER")
			require.NoError(t, err)
			v2 := maps.Clone(v1)
			v2["0002_items.sql"] = "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT);\n"
			f.repo.Publish("db", "1.1.0", platform, dbTree(t, d, scratch(), v2))

			id, err = a.Check(t.Context())
			require.NoError(t, err)
			waitEnded(t, a, id)
			s := serve(t, a)
			v := s.moduleViews()["db"].Database
			require.NotNil(t, v)
			require.Equal(t, "customised", v.State, v.Error)
			require.Equal(t, []string{"column customers.vip"}, v.Drift.Added)
			require.Len(t, v.Pending, 1)
			require.Equal(t, "0002_items.sql", v.Pending[0].Name)
			st, body, _ := s.do("GET", "/api/modules/db/db", "")
			require.Equal(t, http.StatusOK, st, body)
			require.Contains(t, body, "0002_items.sql")
			st, body, _ = s.do("GET", "/api/modules/db/db/scripts/2", "")
			require.Equal(t, http.StatusOK, st, body)
			require.Contains(t, body, "CREATE TABLE items")
			require.Equal(t, "1.0.0", *s.moduleViews()["db"].Installed, "no install was attempted")
		})
	}
}
