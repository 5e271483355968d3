package fleet_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/upkeep-go/upkeep/internal/testenv"
	"github.com/upkeep-go/upkeep/update/fleet"
)

var pgServer testenv.PostgresServer

func TestMain(m *testing.M) {
	code := m.Run()
	pgServer.Stop()
	os.Exit(code)
}

// stores are the Store implementations every store test runs on.
var stores = []struct {
	name string
	spec func(t testing.TB) string
}{
	{"sqlite", func(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "fleet.db") }},
	{"postgres", func(t testing.TB) string { return pgURL(pgServer.CreateDB(t)) }},
}

// pgURL turns the key=value DSN of testenv into the postgres:// URL a configuration
// holds.
func pgURL(dsn string) string {
	var host, port, user, db string
	fmt.Sscanf(dsn, "host=%s port=%s user=%s dbname=%s", &host, &port, &user, &db)
	return fmt.Sprintf("postgres://%s@%s:%s/%s?sslmode=disable", user, host, port, db)
}

func TestStore(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, err := fleet.OpenStore(ctx, sc.spec(t))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			now := time.UnixMilli(time.Now().UnixMilli()).UTC()

			if err := st.PutServer(ctx, fleet.ServerRecord{Name: "b", Role: fleet.RoleSlave, Mode: fleet.ModeMailbox, SecretHash: "h", Interval: 30 * time.Second, LastSeen: now}); err != nil {
				t.Fatal(err)
			}
			if err := st.PutServer(ctx, fleet.ServerRecord{Name: "a", Role: fleet.RoleSlave, Mode: fleet.ModePush, URL: "http://127.0.0.1:1", SecretHash: "h", LastSeen: now}); err != nil {
				t.Fatal(err)
			}
			if err := st.Touch(ctx, "b", now.Add(time.Second), map[string]string{"app": "1.0.0"}); err != nil {
				t.Fatal(err)
			}
			if err := st.Touch(ctx, "nobody", now, nil); !errors.Is(err, fleet.ErrNotFound) {
				t.Fatalf("touch of an unknown server: %v", err)
			}
			// Enrolment: a taken name is refused until the admin allows a rekey, once.
			if err := st.EnrolServer(ctx, fleet.ServerRecord{Name: "a", Role: fleet.RoleSlave, Mode: fleet.ModeMailbox, SecretHash: "h2", LastSeen: now}); !errors.Is(err, fleet.ErrNameTaken) {
				t.Fatalf("enrol under a taken name: %v", err)
			}
			if err := st.AllowRekey(ctx, "nobody"); !errors.Is(err, fleet.ErrNotFound) {
				t.Fatalf("rekey of an unknown server: %v", err)
			}
			if err := st.AllowRekey(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			if err := st.EnrolServer(ctx, fleet.ServerRecord{Name: "a", Role: fleet.RoleSlave, Mode: fleet.ModePush, URL: "http://127.0.0.1:1", SecretHash: "h2", LastSeen: now}); err != nil {
				t.Fatal(err)
			}
			if err := st.EnrolServer(ctx, fleet.ServerRecord{Name: "a", Role: fleet.RoleSlave, Mode: fleet.ModePush, SecretHash: "h3", LastSeen: now}); !errors.Is(err, fleet.ErrNameTaken) {
				t.Fatalf("second enrolment after one rekey: %v", err)
			}
			if srv, err := st.Server(ctx, "a"); err != nil || srv.SecretHash != "h2" || srv.Rekey {
				t.Fatalf("server a after its rekey: %+v %v", srv, err)
			}
			srv, err := st.Server(ctx, "b")
			if err != nil || srv.Versions["app"] != "1.0.0" || !srv.LastSeen.Equal(now.Add(time.Second)) || srv.Interval != 30*time.Second {
				t.Fatalf("server b: %+v %v", srv, err)
			}
			all, err := st.Servers(ctx)
			if err != nil || len(all) != 2 || all[0].Name != "a" || all[1].Name != "b" {
				t.Fatalf("servers: %+v %v", all, err)
			}

			u := fleet.Update{Name: "u1", Module: "app", Version: "2.0.0", Platform: "linux/amd64", File: "app.zip", Size: 3, SHA256: "aa", Sig: []byte("sig\x00"), Added: now}
			if err := st.PutUpdate(ctx, u); err != nil {
				t.Fatal(err)
			}
			if err := st.PutUpdate(ctx, u); err != nil {
				t.Fatalf("the same pack again: %v", err)
			}
			other := u
			other.SHA256 = "bb"
			if err := st.PutUpdate(ctx, other); !errors.Is(err, fleet.ErrExists) {
				t.Fatalf("another pack under the same name: %v", err)
			}
			if got, err := st.Update(ctx, "u1"); err != nil || !bytes.Equal(got.Sig, u.Sig) || got.Size != 3 || !got.Added.Equal(now) {
				t.Fatalf("update: %+v %v", got, err)
			}
			if _, err := st.Update(ctx, "none"); !errors.Is(err, fleet.ErrNotFound) {
				t.Fatalf("unknown update: %v", err)
			}

			op := fleet.Operation{ID: "op1", Kind: fleet.KindApply, Update: "u1", Started: now, Expires: now.Add(time.Hour), Wave: 1, MaxFailures: 0}
			tasks := []fleet.Task{{Server: "b", Seq: 0, Wave: 0, Released: true, State: fleet.StatePending}, {Server: "a", Seq: 1, Wave: 1, State: fleet.StatePending}}
			if err := st.CreateOperation(ctx, op, tasks); err != nil {
				t.Fatal(err)
			}
			if err := st.CreateOperation(ctx, fleet.Operation{ID: "op2", Kind: fleet.KindPropagate, Update: "u1", Started: now.Add(time.Second), Expires: now.Add(-time.Minute), MaxFailures: -1},
				[]fleet.Task{{Server: "b", Released: true, State: fleet.StatePending}}); err != nil {
				t.Fatal(err)
			}
			h, err := st.OperationHeader(ctx, "op1")
			if err != nil || h.Kind != fleet.KindApply || h.Wave != 1 || !h.Expires.Equal(now.Add(time.Hour)) {
				t.Fatalf("header: %+v %v", h, err)
			}
			if _, err := st.OperationHeader(ctx, "none"); !errors.Is(err, fleet.ErrNotFound) {
				t.Fatalf("unknown operation: %v", err)
			}
			// op2 expired: only op1's released task is open.
			open, err := st.OpenTasks(ctx, "b", now)
			if err != nil || len(open) != 1 || open[0].Op != "op1" {
				t.Fatalf("open tasks of b: %+v %v", open, err)
			}
			if open, _ := st.OpenTasks(ctx, "a", now); len(open) != 0 {
				t.Fatalf("a's task is not released: %+v", open)
			}
			if err := st.Append(ctx, fleet.Event{At: now, Op: "op1", Server: "b", Kind: "installed", State: fleet.StateInstalled, Version: "2.0.0"}); err != nil {
				t.Fatal(err)
			}
			// A final state stays: a late event goes to the log only.
			if err := st.Append(ctx, fleet.Event{At: now, Op: "op1", Server: "b", Kind: "failed", State: fleet.StateFailed, Code: "late"}); err != nil {
				t.Fatal(err)
			}
			if err := st.Append(ctx, fleet.Event{At: now, Op: "op1", Server: "nobody", Kind: "failed", State: fleet.StateFailed}); !errors.Is(err, fleet.ErrNotFound) {
				t.Fatalf("event of a server outside the operation: %v", err)
			}
			if err := st.Release(ctx, "op1", 1); err != nil {
				t.Fatal(err)
			}
			tally, err := st.Tally(ctx, "op1")
			if err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(tally, func(a, b fleet.TaskCount) int { return a.Wave - b.Wave })
			want := []fleet.TaskCount{{Wave: 0, Released: true, State: fleet.StateInstalled, N: 1}, {Wave: 1, Released: true, State: fleet.StatePending, N: 1}}
			if !slices.Equal(tally, want) {
				t.Fatalf("tally %+v, want %+v", tally, want)
			}
			_, ts, err := st.Operation(ctx, "op1")
			if err != nil || len(ts) != 2 || ts[0].Server != "b" || ts[0].State != fleet.StateInstalled || ts[0].Version != "2.0.0" || !ts[1].Released {
				t.Fatalf("tasks: %+v %v", ts, err)
			}
			if err := st.EndOperation(ctx, "op1", now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			ops, err := st.Operations(ctx, 10)
			if err != nil || len(ops) != 2 || ops[0].ID != "op2" || !ops[1].Ended.Equal(now.Add(time.Minute)) {
				t.Fatalf("operations: %+v %v", ops, err)
			}
			evs, err := st.Events(ctx, "op1")
			if err != nil || len(evs) != 3 || evs[0].Kind != "created" || evs[2].Code != "late" {
				t.Fatalf("events: %+v %v", evs, err)
			}
			if all, _ := st.Events(ctx, ""); len(all) != 4 {
				t.Fatalf("all events: %d", len(all))
			}
		})
	}
}

// TestPostgresStoreKeepsPacks: on PostgreSQL the pack bytes are in the database, and
// come back whole; SQLite says it does not keep them.
func TestPostgresStoreKeepsPacks(t *testing.T) {
	ctx := context.Background()
	st, err := fleet.OpenPostgres(ctx, pgServer.CreateDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), fleet.PackChunkSize/16*2+100)
	sum := fmt.Sprintf("%x", sha256Sum(data))
	if err := st.PutPack(ctx, sum, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := st.PutPack(ctx, sum, bytes.NewReader(data)); err != nil {
		t.Fatalf("again: %v", err)
	}
	if err := st.PutPack(ctx, "00", bytes.NewReader(data)); err == nil {
		t.Fatal("a pack under another sha256 was kept")
	}
	var out bytes.Buffer
	if err := st.CopyPack(ctx, sum, &out); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("copy: %d bytes, %v", out.Len(), err)
	}
	if err := st.CopyPack(ctx, "00", &out); !errors.Is(err, fleet.ErrNotFound) {
		t.Fatalf("unknown pack: %v", err)
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// TestTwoMastersSharePostgres: two masters over one PostgreSQL store, a slave polling
// each. An update added on the first and a propagate started on the second reach
// both slaves (the second master serves a pack it never received, from the store),
// and the first master reports the operation.
func TestTwoMastersSharePostgres(t *testing.T) {
	dsn := pgURL(pgServer.CreateDB(t))
	d := newDomainStore(t, dsn)
	second := d.otherMaster()
	ctx := context.Background()
	d.newSlave("s-first", slaveOpts{})
	url := d.url
	d.url = second.url
	d.newSlave("s-second", slaveOpts{})
	d.url = url
	d.waitServers("s-first", "s-second")

	packFile := d.pack("app", "2.0.0", map[string]string{"index.html": "v2"})
	if _, err := d.client.AddUpdate(ctx, "v2", packFile, "", "", nil); err != nil {
		t.Fatal(err)
	}
	rep, err := second.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindPropagate, Update: "v2", All: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := states(d.wait(rep)); got != "s-first=staged s-second=staged" {
		t.Fatalf("propagate started on the second master, seen by the first: %s", got)
	}
	rep, err = d.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindApply, Update: "v2", All: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := states(second.wait(rep)); got != "s-first=installed@2.0.0 s-second=installed@2.0.0" {
		t.Fatalf("apply started on the first master, seen by the second: %s", got)
	}
	if packs, _ := filepath.Glob(filepath.Join(second.dir, "packs", "*.zip")); len(packs) != 1 {
		t.Fatalf("the second master's pack folder holds %v: it did not serve the pack from the store", packs)
	}
}

// otherMaster is a second master of the domain over the same store, with a pack
// folder of its own.
func (d *domain) otherMaster() *domain {
	t := d.t
	o := *d
	o.dir = t.TempDir()
	st, err := fleet.OpenStore(context.Background(), d.cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fleet.NewMaster(d.cfg, st, d.kr, fleet.MasterOptions{PackDir: filepath.Join(o.dir, "packs")})
	if err != nil {
		t.Fatal(err)
	}
	o.store, o.master = st, m
	o.srv = httptest.NewServer(m)
	o.url = o.srv.URL
	t.Cleanup(func() {
		o.srv.CloseClientConnections()
		o.srv.Close()
		st.Close()
	})
	if o.client, err = fleet.NewClient(o.url, adminToken, ""); err != nil {
		t.Fatal(err)
	}
	return &o
}

// TestSQLiteStoreBeforeRekey: a store made before servers had a rekey column opens,
// and its servers keep their names.
func TestSQLiteStoreBeforeRekey(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE servers (name TEXT PRIMARY KEY, role TEXT NOT NULL, mode TEXT NOT NULL, url TEXT NOT NULL,
		secret_hash TEXT NOT NULL, interval_ms INTEGER NOT NULL, last_seen INTEGER NOT NULL, versions TEXT NOT NULL);
		INSERT INTO servers VALUES ('old', 'slave', 'mailbox', '', 'h', 0, 0, '{}')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	st, err := fleet.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.EnrolServer(ctx, fleet.ServerRecord{Name: "old", Role: fleet.RoleSlave, Mode: fleet.ModeMailbox, SecretHash: "x"}); !errors.Is(err, fleet.ErrNameTaken) {
		t.Fatalf("enrol under a name of the old store: %v", err)
	}
	if srv, err := st.Server(ctx, "old"); err != nil || srv.SecretHash != "h" {
		t.Fatalf("%+v %v", srv, err)
	}
}
