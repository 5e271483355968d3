package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// PostgresPackage is the Debian package that provides initdb and pg_ctl.
const PostgresPackage = "postgresql"

// PostgresServer is a throwaway PostgreSQL cluster shared by the tests of one package:
// started by the first CreateDB, in a temporary folder, listening on a free port of
// 127.0.0.1 only, with fsync off. Declare one as a package variable and call Stop
// from TestMain after m.Run.
type PostgresServer struct {
	once sync.Once
	mu   sync.Mutex
	c    *pgCluster
	err  error
	n    int
}

type pgCluster struct {
	bin, dir, port string
	asPostgres     bool // the cluster runs as the postgres account (tests running as root)
}

// CreateDB creates a new empty database in the shared cluster (starting it the first
// time) and returns its DSN for github.com/jackc/pgx/v5/stdlib. Without PostgreSQL the
// test is skipped with a message saying what to install, or fails under
// UPKEEP_INTEGRATION=1.
func (s *PostgresServer) CreateDB(t testing.TB) string {
	t.Helper()
	s.once.Do(func() { s.c, s.err = startPostgres() })
	if s.err != nil {
		if errors.Is(s.err, errNoPostgres) {
			if Integration() {
				t.Fatalf("%v (required because UPKEEP_INTEGRATION=1)", s.err)
			}
			t.Skip(s.err)
		}
		t.Fatalf("start PostgreSQL: %v", s.err)
	}
	s.mu.Lock()
	s.n++
	name := fmt.Sprintf("t%d_%s", s.n, strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_")))
	if len(name) > 60 {
		name = name[:60]
	}
	s.mu.Unlock()
	out, err := exec.Command(filepath.Join(s.c.bin, "createdb"), "-h", "127.0.0.1", "-p", s.c.port, "-U", "postgres", name).CombinedOutput()
	if err != nil {
		t.Fatalf("createdb %s: %v: %s", name, err, out)
	}
	return s.c.dsn(name)
}

// Stop stops the cluster, if it was started, and removes its folder.
func (s *PostgresServer) Stop() {
	if s.c == nil {
		return
	}
	s.c.run(filepath.Join(s.c.bin, "pg_ctl"), "stop", "-D", filepath.Join(s.c.dir, "data"), "-m", "immediate", "-w")
	os.RemoveAll(s.c.dir)
	s.c = nil
}

func (c *pgCluster) dsn(db string) string {
	return "host=127.0.0.1 port=" + c.port + " user=postgres dbname=" + db + " sslmode=disable"
}

var errNoPostgres = errors.New("PostgreSQL's initdb and pg_ctl not found on PATH or under /usr/lib/postgresql/*/bin: install them with `apt-get install " + PostgresPackage + "`")

// postgresBin returns the folder holding initdb and pg_ctl.
func postgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if p, err := filepath.EvalSymlinks(p); err == nil {
			if _, err := os.Stat(filepath.Join(filepath.Dir(p), "pg_ctl")); err == nil {
				return filepath.Dir(p), nil
			}
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errNoPostgres
}

func startPostgres() (*pgCluster, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "upkeep-pg-")
	if err != nil {
		return nil, err
	}
	c := &pgCluster{bin: bin, dir: dir, asPostgres: os.Geteuid() == 0}
	if c.asPostgres {
		// initdb refuses to run as root: the cluster belongs to the postgres account.
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root needs the postgres account to own the cluster: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		err = os.Chmod(dir, 0o755)
		if err == nil {
			err = os.Chown(dir, uid, gid)
		}
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		c.port = strconv.Itoa(port)
		opts := "-c fsync=off -c full_page_writes=off -c synchronous_commit=off -c listen_addresses=127.0.0.1 -p " + c.port + " -k " + dir
		out, err := c.run(filepath.Join(bin, "pg_ctl"), "start", "-D", data, "-w", "-t", "60", "-l", filepath.Join(dir, "log"), "-o", opts)
		if err == nil {
			return c, nil
		}
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		lastErr = fmt.Errorf("pg_ctl start: %v: %s%s", err, out, log)
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

// run runs a PostgreSQL program, as the postgres account when the cluster is its.
func (c *pgCluster) run(prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(prog, args...)
	if c.asPostgres {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", prog}, args...)...)
	}
	cmd.Dir = c.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}
