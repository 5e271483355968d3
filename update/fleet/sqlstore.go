package fleet

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the embedded store's driver, "sqlite"
)

// SQLStore is a Store in a SQL database: one SQLite file (OpenSQLite,
// modernc.org/sqlite, no cgo) or a PostgreSQL database (OpenPostgres) that several
// masters may share.
type SQLStore struct {
	db       *sql.DB
	postgres bool

	mu    sync.Mutex
	stmts map[string]*sql.Stmt // prepared once: SQLite compiling a query costs more than running it

	appendMu sync.Mutex
	queue    []appendReq // events waiting to be written (Append)
	writing  bool        // drainAppends runs
}

var _ Store = (*SQLStore)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS servers (
	name TEXT PRIMARY KEY, role TEXT NOT NULL, mode TEXT NOT NULL, url TEXT NOT NULL,
	secret_hash TEXT NOT NULL, interval_ms INTEGER NOT NULL, last_seen INTEGER NOT NULL,
	versions TEXT NOT NULL, rekey INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS updates (
	name TEXT PRIMARY KEY, module TEXT NOT NULL, version TEXT NOT NULL, platform TEXT NOT NULL,
	file TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, sig BLOB NOT NULL,
	mirror TEXT NOT NULL, added INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS operations (
	id TEXT PRIMARY KEY, kind TEXT NOT NULL, update_name TEXT NOT NULL, started INTEGER NOT NULL,
	ended INTEGER NOT NULL, expires INTEGER NOT NULL, wave INTEGER NOT NULL, max_failures INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
	op TEXT NOT NULL, server TEXT NOT NULL, seq INTEGER NOT NULL, wave INTEGER NOT NULL,
	released INTEGER NOT NULL, state TEXT NOT NULL, code TEXT NOT NULL, reason TEXT NOT NULL,
	version TEXT NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY (op, server));
CREATE INDEX IF NOT EXISTS tasks_server ON tasks (server, released, state);
CREATE INDEX IF NOT EXISTS tasks_tally ON tasks (op, wave, released, state);
CREATE TABLE IF NOT EXISTS events (
	id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, op TEXT NOT NULL, server TEXT NOT NULL,
	kind TEXT NOT NULL, state TEXT NOT NULL, module TEXT NOT NULL, version TEXT NOT NULL,
	code TEXT NOT NULL, reason TEXT NOT NULL, duration_ms INTEGER NOT NULL, output TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_op ON events (op, id);
`

// Queries run inside transactions, prepared before the transaction begins (with
// one connection, preparing inside it would wait for itself).
const (
	qUpdateSum          = `SELECT sha256 FROM updates WHERE name = ?`
	qTaskState          = `SELECT o.kind, t.state FROM tasks t JOIN operations o ON o.id = t.op WHERE t.op = ? AND t.server = ?`
	qTaskStateForUpdate = qTaskState + ` FOR UPDATE OF t`
	qInsertUpdate       = `INSERT INTO updates (name, module, version, platform, file, size, sha256, sig, mirror, added)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qInsertOp = `INSERT INTO operations (id, kind, update_name, started, ended, expires, wave, max_failures)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qInsertTask = `INSERT INTO tasks (op, server, seq, wave, released, state, code, reason, version, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qSetTask     = `UPDATE tasks SET state = ?, code = ?, reason = ?, version = CASE WHEN ? = '' THEN version ELSE ? END, updated = ? WHERE op = ? AND server = ?`
	qInsertEvent = `INSERT INTO events (at, op, server, kind, state, module, version, code, reason, duration_ms, output)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// OpenSQLite opens (creating it if needed) the store in the SQLite file path.
func OpenSQLite(ctx context.Context, path string) (*SQLStore, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("fleet: open store %s: %w", path, err)
	}
	// One writer at a time is what SQLite does anyway; one connection also keeps
	// transactions from waiting on each other's locks.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("fleet: open store %s: %w", path, err)
	}
	// A store made before servers had a rekey column gets it.
	if _, err := db.ExecContext(ctx, `SELECT rekey FROM servers LIMIT 0`); err != nil {
		if _, err := db.ExecContext(ctx, `ALTER TABLE servers ADD COLUMN rekey INTEGER NOT NULL DEFAULT 0`); err != nil {
			db.Close()
			return nil, fmt.Errorf("fleet: open store %s: %w", path, err)
		}
	}
	return &SQLStore{db: db, stmts: map[string]*sql.Stmt{}}, nil
}

// rebind writes q in the database's dialect: PostgreSQL numbers its parameters.
func (s *SQLStore) rebind(q string) string {
	if !s.postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// stmt returns the prepared statement of q, preparing it the first time.
func (s *SQLStore) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st := s.prepared(q); st != nil {
		return st, nil
	}
	// Not under mu: preparing waits for the connection, which a transaction may hold
	// while it looks up its own statements.
	st, err := s.db.PrepareContext(ctx, s.rebind(q))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stmts == nil {
		st.Close()
		return nil, errors.New("store closed")
	}
	if have, ok := s.stmts[q]; ok {
		st.Close()
		return have, nil
	}
	s.stmts[q] = st
	return st, nil
}

func (s *SQLStore) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (s *SQLStore) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow is QueryRowContext over a prepared statement.
func (s *SQLStore) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	st, err := s.stmt(ctx, q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// txExec runs q in tx over its prepared statement.
func (s *SQLStore) txExec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st := s.prepared(q); st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, s.rebind(q), args...)
}

func (s *SQLStore) txQueryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) rowScanner {
	if st := s.prepared(q); st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, s.rebind(q), args...)
}

// prepared returns q's statement if it is prepared already.
func (s *SQLStore) prepared(q string) *sql.Stmt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stmts[q]
}

// begin prepares the queries a transaction will run, then begins it.
func (s *SQLStore) begin(ctx context.Context, qs ...string) (*sql.Tx, error) {
	for _, q := range qs {
		if _, err := s.stmt(ctx, q); err != nil {
			return nil, err
		}
	}
	return s.db.BeginTx(ctx, nil)
}

type rowScanner interface{ Scan(...any) error }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// OpenStore opens the store a configuration names: "sqlite:PATH", or a PostgreSQL
// URL ("postgres://…").
func OpenStore(ctx context.Context, spec string) (Store, error) {
	if p, ok := strings.CutPrefix(spec, "sqlite:"); ok && p != "" {
		return OpenSQLite(ctx, p)
	}
	if isPostgres(spec) {
		return OpenPostgres(ctx, spec)
	}
	return nil, fmt.Errorf("fleet: store %q: want \"sqlite:PATH\" or \"postgres://…\"", spec)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Close closes the database.
func (s *SQLStore) Close() error {
	s.mu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = nil
	s.mu.Unlock()
	return s.db.Close()
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// PutServer implements Store.
func (s *SQLStore) PutServer(ctx context.Context, r ServerRecord) error {
	v, _ := json.Marshal(r.Versions)
	_, err := s.exec(ctx, `INSERT INTO servers (name, role, mode, url, secret_hash, interval_ms, last_seen, versions)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET role=excluded.role, mode=excluded.mode,
		url=excluded.url, secret_hash=excluded.secret_hash, interval_ms=excluded.interval_ms,
		last_seen=excluded.last_seen, versions=excluded.versions`,
		r.Name, string(r.Role), string(r.Mode), r.URL, r.SecretHash, r.Interval.Milliseconds(), ms(r.LastSeen), string(v))
	return storeErr("put server "+r.Name, err)
}

// EnrolServer implements Store: one statement, so that two enrolments racing after
// one rekey cannot both win.
func (s *SQLStore) EnrolServer(ctx context.Context, r ServerRecord) error {
	v, _ := json.Marshal(r.Versions)
	res, err := s.exec(ctx, `INSERT INTO servers (name, role, mode, url, secret_hash, interval_ms, last_seen, versions, rekey)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (name) DO UPDATE SET role=excluded.role, mode=excluded.mode,
		url=excluded.url, secret_hash=excluded.secret_hash, interval_ms=excluded.interval_ms,
		last_seen=excluded.last_seen, versions=excluded.versions, rekey=0
		WHERE servers.rekey = 1 AND servers.role = 'slave'`,
		r.Name, string(r.Role), string(r.Mode), r.URL, r.SecretHash, r.Interval.Milliseconds(), ms(r.LastSeen), string(v))
	if err != nil {
		return storeErr("enrol "+r.Name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return storeErr("enrol "+r.Name, err)
	} else if n == 0 {
		return fmt.Errorf("fleet: server %q: %w", r.Name, ErrNameTaken)
	}
	return nil
}

// AllowRekey implements Store.
func (s *SQLStore) AllowRekey(ctx context.Context, name string) error {
	res, err := s.exec(ctx, `UPDATE servers SET rekey = 1 WHERE name = ? AND role = 'slave'`, name)
	if err != nil {
		return storeErr("rekey "+name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("fleet: server %q: %w", name, ErrNotFound)
	}
	return nil
}

// Touch implements Store.
func (s *SQLStore) Touch(ctx context.Context, name string, at time.Time, versions map[string]string) error {
	v, _ := json.Marshal(versions)
	res, err := s.exec(ctx, `UPDATE servers SET last_seen = ?, versions = ? WHERE name = ?`, ms(at), string(v), name)
	if err != nil {
		return storeErr("touch "+name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("fleet: server %q: %w", name, ErrNotFound)
	}
	return nil
}

const (
	qTouchSeen     = `UPDATE servers SET last_seen = ? WHERE name = ?`
	qTouchVersions = `UPDATE servers SET last_seen = ?, versions = ? WHERE name = ?`
)

// TouchAll implements Store.
func (s *SQLStore) TouchAll(ctx context.Context, ts []Touched) error {
	if len(ts) == 0 {
		return nil
	}
	tx, err := s.begin(ctx, qTouchSeen, qTouchVersions)
	if err != nil {
		return storeErr("touch", err)
	}
	defer tx.Rollback()
	for _, t := range ts {
		if t.Versions == nil {
			_, err = s.txExec(ctx, tx, qTouchSeen, ms(t.At), t.Name)
		} else {
			v, _ := json.Marshal(t.Versions)
			_, err = s.txExec(ctx, tx, qTouchVersions, ms(t.At), string(v), t.Name)
		}
		if err != nil {
			return storeErr("touch "+t.Name, err)
		}
	}
	return storeErr("touch", tx.Commit())
}

const serverCols = `name, role, mode, url, secret_hash, interval_ms, last_seen, versions, rekey`

func scanServer(sc rowScanner) (*ServerRecord, error) {
	var r ServerRecord
	var role, mode, versions string
	var interval, seen, rekey int64
	if err := sc.Scan(&r.Name, &role, &mode, &r.URL, &r.SecretHash, &interval, &seen, &versions, &rekey); err != nil {
		return nil, err
	}
	r.Rekey = rekey != 0
	r.Role, r.Mode, r.Interval, r.LastSeen = Role(role), Mode(mode), time.Duration(interval)*time.Millisecond, fromMS(seen)
	if err := json.Unmarshal([]byte(versions), &r.Versions); err != nil {
		return nil, err
	}
	return &r, nil
}

// Server implements Store.
func (s *SQLStore) Server(ctx context.Context, name string) (*ServerRecord, error) {
	r, err := scanServer(s.queryRow(ctx, `SELECT `+serverCols+` FROM servers WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("fleet: server %q: %w", name, ErrNotFound)
	}
	return r, storeErr("server "+name, err)
}

// Servers implements Store.
func (s *SQLStore) Servers(ctx context.Context) ([]ServerRecord, error) {
	rows, err := s.query(ctx, `SELECT `+serverCols+` FROM servers ORDER BY name`)
	if err != nil {
		return nil, storeErr("servers", err)
	}
	defer rows.Close()
	var out []ServerRecord
	for rows.Next() {
		r, err := scanServer(rows)
		if err != nil {
			return nil, storeErr("servers", err)
		}
		out = append(out, *r)
	}
	return out, storeErr("servers", rows.Err())
}

// PutUpdate implements Store.
func (s *SQLStore) PutUpdate(ctx context.Context, u Update) error {
	tx, err := s.begin(ctx, qUpdateSum, qInsertUpdate)
	if err != nil {
		return storeErr("put update", err)
	}
	defer tx.Rollback()
	var sum string
	err = s.txQueryRow(ctx, tx, qUpdateSum, u.Name).Scan(&sum)
	switch {
	case err == nil && sum == u.SHA256:
		return nil
	case err == nil:
		return fmt.Errorf("fleet: update %q exists with another pack (sha256 %s): %w", u.Name, sum, ErrExists)
	case !errors.Is(err, sql.ErrNoRows):
		return storeErr("put update", err)
	}
	if _, err := s.txExec(ctx, tx, qInsertUpdate, u.Name, u.Module, u.Version, u.Platform, u.File, u.Size, u.SHA256, u.Sig, u.Mirror, ms(u.Added)); err != nil {
		return storeErr("put update", err)
	}
	return storeErr("put update", tx.Commit())
}

// ErrExists is returned when an update's name is taken by another pack.
var ErrExists = errors.New("fleet: name taken")

// ErrNameTaken is returned by EnrolServer when the name belongs to an enrolled server
// whose rekey the admin has not allowed.
var ErrNameTaken = errors.New("fleet: server name enrolled already")

// Update implements Store.
func (s *SQLStore) Update(ctx context.Context, name string) (*Update, error) {
	var u Update
	var added int64
	err := s.queryRow(ctx, `SELECT name, module, version, platform, file, size, sha256, sig, mirror, added FROM updates WHERE name = ?`, name).
		Scan(&u.Name, &u.Module, &u.Version, &u.Platform, &u.File, &u.Size, &u.SHA256, &u.Sig, &u.Mirror, &added)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("fleet: update %q: %w", name, ErrNotFound)
	}
	u.Added = fromMS(added)
	return &u, storeErr("update "+name, err)
}

// CreateOperation implements Store.
func (s *SQLStore) CreateOperation(ctx context.Context, op Operation, tasks []Task) error {
	tx, err := s.begin(ctx, qInsertOp, qInsertTask, qInsertEvent)
	if err != nil {
		return storeErr("create operation", err)
	}
	defer tx.Rollback()
	if _, err := s.txExec(ctx, tx, qInsertOp, op.ID, string(op.Kind), op.Update, ms(op.Started), ms(op.Ended), ms(op.Expires), op.Wave, op.MaxFailures); err != nil {
		return storeErr("create operation", err)
	}
	for _, t := range tasks {
		if _, err := s.txExec(ctx, tx, qInsertTask, op.ID, t.Server, t.Seq, t.Wave, b2i(t.Released), string(t.State), t.Code, t.Reason, t.Version, ms(op.Started)); err != nil {
			return storeErr("create operation", err)
		}
	}
	if err := s.appendTx(ctx, tx, Event{At: op.Started, Op: op.ID, Kind: "created", Reason: string(op.Kind) + " " + op.Update}); err != nil {
		return err
	}
	return storeErr("create operation", tx.Commit())
}

const opCols = `id, kind, update_name, started, ended, expires, wave, max_failures`

func scanOp(sc rowScanner) (*Operation, error) {
	var op Operation
	var kind string
	var started, ended, expires int64
	if err := sc.Scan(&op.ID, &kind, &op.Update, &started, &ended, &expires, &op.Wave, &op.MaxFailures); err != nil {
		return nil, err
	}
	op.Kind, op.Started, op.Ended, op.Expires = Kind(kind), fromMS(started), fromMS(ended), fromMS(expires)
	return &op, nil
}

// Operation implements Store.
func (s *SQLStore) Operation(ctx context.Context, id string) (*Operation, []Task, error) {
	op, err := scanOp(s.queryRow(ctx, `SELECT `+opCols+` FROM operations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("fleet: operation %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, nil, storeErr("operation "+id, err)
	}
	tasks, err := s.tasks(ctx, `SELECT `+taskCols+` FROM tasks WHERE op = ? ORDER BY seq`, id)
	return op, tasks, err
}

// OperationHeader implements Store.
func (s *SQLStore) OperationHeader(ctx context.Context, id string) (*Operation, error) {
	op, err := scanOp(s.queryRow(ctx, `SELECT `+opCols+` FROM operations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("fleet: operation %q: %w", id, ErrNotFound)
	}
	return op, storeErr("operation "+id, err)
}

// Tally implements Store.
func (s *SQLStore) Tally(ctx context.Context, id string) ([]TaskCount, error) {
	rows, err := s.query(ctx, `SELECT wave, released, state, count(*) FROM tasks WHERE op = ? GROUP BY wave, released, state`, id)
	if err != nil {
		return nil, storeErr("tally "+id, err)
	}
	defer rows.Close()
	var out []TaskCount
	for rows.Next() {
		var c TaskCount
		var state string
		if err := rows.Scan(&c.Wave, &c.Released, &state, &c.N); err != nil {
			return nil, storeErr("tally "+id, err)
		}
		c.State = State(state)
		out = append(out, c)
	}
	return out, storeErr("tally "+id, rows.Err())
}

const taskCols = `op, server, seq, wave, released, state, code, reason, version, updated`

func (s *SQLStore) tasks(ctx context.Context, q string, args ...any) ([]Task, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, storeErr("tasks", err)
	}
	defer rows.Close()
	var out []Task
	for rows.Next() {
		var t Task
		var state string
		var updated int64
		if err := rows.Scan(&t.Op, &t.Server, &t.Seq, &t.Wave, &t.Released, &state, &t.Code, &t.Reason, &t.Version, &updated); err != nil {
			return nil, storeErr("tasks", err)
		}
		t.State, t.Updated = State(state), fromMS(updated)
		out = append(out, t)
	}
	return out, storeErr("tasks", rows.Err())
}

// Operations implements Store.
func (s *SQLStore) Operations(ctx context.Context, limit int) ([]Operation, error) {
	rows, err := s.query(ctx, `SELECT `+opCols+` FROM operations ORDER BY started DESC, rowid DESC LIMIT ?`, limit)
	if err != nil {
		return nil, storeErr("operations", err)
	}
	defer rows.Close()
	var out []Operation
	for rows.Next() {
		op, err := scanOp(rows)
		if err != nil {
			return nil, storeErr("operations", err)
		}
		out = append(out, *op)
	}
	return out, storeErr("operations", rows.Err())
}

// EndOperation implements Store.
func (s *SQLStore) EndOperation(ctx context.Context, id string, at time.Time) error {
	_, err := s.exec(ctx, `UPDATE operations SET ended = ? WHERE id = ? AND ended = 0`, ms(at), id)
	return storeErr("end operation "+id, err)
}

// Release implements Store.
func (s *SQLStore) Release(ctx context.Context, op string, wave int) error {
	_, err := s.exec(ctx, `UPDATE tasks SET released = 1 WHERE op = ? AND wave = ?`, op, wave)
	return storeErr("release "+op, err)
}

// Task implements Store.
func (s *SQLStore) Task(ctx context.Context, op, server string) (*Task, error) {
	tasks, err := s.tasks(ctx, `SELECT `+taskCols+` FROM tasks WHERE op = ? AND server = ?`, op, server)
	if err != nil {
		return nil, err
	}
	if len(tasks) == 0 {
		return nil, fmt.Errorf("fleet: operation %q has no server %q: %w", op, server, ErrNotFound)
	}
	return &tasks[0], nil
}

// OpenTasks implements Store.
func (s *SQLStore) OpenTasks(ctx context.Context, server string, now time.Time) ([]Task, error) {
	tasks, err := s.tasks(ctx, `SELECT t.op, t.server, t.seq, t.wave, t.released, t.state, t.code, t.reason, t.version, t.updated
		FROM tasks t JOIN operations o ON o.id = t.op
		WHERE t.server = ? AND t.released = 1 AND t.state NOT IN ('installed', 'failed', 'cancelled')
		AND NOT (o.kind = 'propagate' AND t.state = 'staged') AND o.expires > ? ORDER BY o.started, o.rowid`, server, ms(now))
	return tasks, err
}

// OpenServers implements Store: from the operations not ended (an operation ends
// once none of its tasks is open), so that the history does not count.
func (s *SQLStore) OpenServers(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := s.query(ctx, `SELECT DISTINCT t.server FROM operations o JOIN tasks t ON t.op = o.id
		WHERE o.ended = 0 AND o.expires > ? AND t.released = 1 AND t.state NOT IN ('installed', 'failed', 'cancelled')
		AND NOT (o.kind = 'propagate' AND t.state = 'staged')`, ms(now))
	if err != nil {
		return nil, storeErr("open servers", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, storeErr("open servers", err)
		}
		out = append(out, name)
	}
	return out, storeErr("open servers", rows.Err())
}

// Append implements Store. The events arriving together (10,000 slaves reporting)
// are written in one transaction, each with its own answer: a writer takes every
// event queued while it wrote the previous ones.
func (s *SQLStore) Append(ctx context.Context, ev Event) error {
	req := appendReq{ctx: ctx, ev: ev, done: make(chan error, 1)}
	s.appendMu.Lock()
	s.queue = append(s.queue, req)
	if !s.writing {
		s.writing = true
		go s.drainAppends()
	}
	s.appendMu.Unlock()
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return storeErr("append", ctx.Err())
	}
}

// appendReq is an event waiting to be written, and where its answer goes.
type appendReq struct {
	ctx  context.Context
	ev   Event
	done chan error
}

// maxAppendBatch bounds the events written in one transaction.
const maxAppendBatch = 512

// drainAppends writes the queued events, a batch at a time, until none is left.
func (s *SQLStore) drainAppends() {
	for {
		s.appendMu.Lock()
		n := min(len(s.queue), maxAppendBatch)
		if n == 0 {
			s.writing = false
			s.appendMu.Unlock()
			return
		}
		batch := s.queue[:n:n]
		s.queue = s.queue[n:]
		if len(s.queue) == 0 {
			s.queue = nil
		}
		s.appendMu.Unlock()
		s.appendBatch(batch)
	}
}

// appendBatch writes a batch in one transaction; when a statement fails, each event
// is written again on its own, so that one does not fail the others.
func (s *SQLStore) appendBatch(batch []appendReq) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- storeErr("append", err)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if len(live) > 1 {
		if errs, ok := s.appendTxs(ctx, live); ok {
			for i, r := range live {
				r.done <- errs[i]
			}
			return
		}
	}
	for _, r := range live {
		errs, _ := s.appendTxs(r.ctx, []appendReq{r})
		r.done <- errs[0]
	}
}

// appendTxs writes the events of reqs in one transaction and returns each one's
// answer (nil, or ErrNotFound for an event refused); ok is false when the
// transaction failed as a whole (each answer is then its error).
func (s *SQLStore) appendTxs(ctx context.Context, reqs []appendReq) (errs []error, ok bool) {
	errs = make([]error, len(reqs))
	fail := func(err error) ([]error, bool) {
		for i := range errs {
			errs[i] = err
		}
		return errs, false
	}
	taskState := qTaskState
	if s.postgres {
		taskState = qTaskStateForUpdate // another master may set the same task
	}
	tx, err := s.begin(ctx, qInsertEvent, taskState, qSetTask)
	if err != nil {
		return fail(storeErr("append", err))
	}
	defer tx.Rollback()
	for i, r := range reqs {
		ev := r.ev
		if ev.Server != "" {
			// An event about a server is about one of its tasks: another server's
			// operation is not its to write into.
			var kind, state string
			err := s.txQueryRow(ctx, tx, taskState, ev.Op, ev.Server).Scan(&kind, &state)
			if errors.Is(err, sql.ErrNoRows) {
				errs[i] = fmt.Errorf("fleet: operation %q has no server %q: %w", ev.Op, ev.Server, ErrNotFound)
				continue
			}
			if err != nil {
				return fail(storeErr("append", err))
			}
			if ev.State != "" && !final(Kind(kind), State(state)) {
				if _, err := s.txExec(ctx, tx, qSetTask,
					string(ev.State), ev.Code, ev.Reason, ev.Version, ev.Version, ms(ev.At), ev.Op, ev.Server); err != nil {
					return fail(storeErr("append", err))
				}
			}
		}
		if err := s.appendTx(ctx, tx, ev); err != nil {
			return fail(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(storeErr("append", err))
	}
	return errs, true
}

func (s *SQLStore) appendTx(ctx context.Context, tx *sql.Tx, ev Event) error {
	_, err := s.txExec(ctx, tx, qInsertEvent, ms(ev.At), ev.Op, ev.Server, ev.Kind, string(ev.State), ev.Module, ev.Version,
		ev.Code, bound(ev.Reason), ev.Duration.Milliseconds(), bound(ev.Output))
	return storeErr("append", err)
}

// Events implements Store.
func (s *SQLStore) Events(ctx context.Context, op string) ([]Event, error) {
	rows, err := s.query(ctx, `SELECT id, at, op, server, kind, state, module, version, code, reason, duration_ms, output
		FROM events WHERE ? = '' OR op = ? ORDER BY id`, op, op)
	if err != nil {
		return nil, storeErr("events", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var ev Event
		var at, dur int64
		var state string
		if err := rows.Scan(&ev.ID, &at, &ev.Op, &ev.Server, &ev.Kind, &state, &ev.Module, &ev.Version, &ev.Code, &ev.Reason, &dur, &ev.Output); err != nil {
			return nil, storeErr("events", err)
		}
		ev.At, ev.State, ev.Duration = fromMS(at), State(state), time.Duration(dur)*time.Millisecond
		out = append(out, ev)
	}
	return out, storeErr("events", rows.Err())
}

// bound keeps the last MaxOutput bytes of s (the end of a hook's output says why).
func bound(s string) string {
	if len(s) <= MaxOutput {
		return s
	}
	return "…" + strings.ToValidUTF8(s[len(s)-MaxOutput:], "")
}

func storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("fleet: store %s: %w", op, err)
}
