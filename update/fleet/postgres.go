package fleet

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// The PostgreSQL schema is SQLite's with PostgreSQL's types. operations keeps a rowid
// column of its own so that the queries order operations the same way on both.
const pgSchema = `
SELECT pg_advisory_xact_lock(4215872301);
CREATE TABLE IF NOT EXISTS servers (
	name TEXT PRIMARY KEY, role TEXT NOT NULL, mode TEXT NOT NULL, url TEXT NOT NULL,
	secret_hash TEXT NOT NULL, interval_ms BIGINT NOT NULL, last_seen BIGINT NOT NULL,
	versions TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS updates (
	name TEXT PRIMARY KEY, module TEXT NOT NULL, version TEXT NOT NULL, platform TEXT NOT NULL,
	file TEXT NOT NULL, size BIGINT NOT NULL, sha256 TEXT NOT NULL, sig BYTEA NOT NULL,
	mirror TEXT NOT NULL, added BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS operations (
	rowid BIGSERIAL UNIQUE,
	id TEXT PRIMARY KEY, kind TEXT NOT NULL, update_name TEXT NOT NULL, started BIGINT NOT NULL,
	ended BIGINT NOT NULL, expires BIGINT NOT NULL, wave BIGINT NOT NULL, max_failures BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
	op TEXT NOT NULL, server TEXT NOT NULL, seq BIGINT NOT NULL, wave BIGINT NOT NULL,
	released BIGINT NOT NULL, state TEXT NOT NULL, code TEXT NOT NULL, reason TEXT NOT NULL,
	version TEXT NOT NULL, updated BIGINT NOT NULL, PRIMARY KEY (op, server));
ALTER TABLE servers ADD COLUMN IF NOT EXISTS rekey BIGINT NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS tasks_server ON tasks (server, released, state);
CREATE INDEX IF NOT EXISTS tasks_tally ON tasks (op, wave, released, state);
CREATE TABLE IF NOT EXISTS events (
	id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, op TEXT NOT NULL, server TEXT NOT NULL,
	kind TEXT NOT NULL, state TEXT NOT NULL, module TEXT NOT NULL, version TEXT NOT NULL,
	code TEXT NOT NULL, reason TEXT NOT NULL, duration_ms BIGINT NOT NULL, output TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_op ON events (op, id);
CREATE TABLE IF NOT EXISTS pack_chunks (
	sha256 TEXT NOT NULL, seq BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (sha256, seq));
`

// PackChunkSize is the size of the rows a PostgreSQL store keeps a pack in.
const PackChunkSize = 1 << 20

func isPostgres(spec string) bool {
	return strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://")
}

// OpenPostgres opens (creating its tables if needed) the store in the PostgreSQL
// database dsn (a postgres:// URL or key=value pairs). Several masters may share it:
// what one records, the others read; the packs are kept in the database too
// ([PackStore]), so that any of them serves any pack.
func OpenPostgres(ctx context.Context, dsn string) (*SQLStore, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("fleet: open store: %w", err)
	}
	db.SetMaxOpenConns(8)
	tx, err := db.BeginTx(ctx, nil)
	if err == nil {
		// One transaction, under an advisory lock: two masters starting together
		// would otherwise race on CREATE TABLE IF NOT EXISTS.
		if _, err = tx.ExecContext(ctx, pgSchema); err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("fleet: open store (PostgreSQL): %w", err)
	}
	return &SQLStore{db: db, postgres: true, stmts: map[string]*sql.Stmt{}}, nil
}

// PackStore is implemented by a Store that keeps the packs' bytes itself, so that
// masters sharing it share the packs: a master keeps each accepted pack there, and
// one that does not have a pack on its disk copies it from there before serving it.
type PackStore interface {
	// PutPack keeps the pack read from r under its SHA-256 (hex); keeping a pack
	// that is there already is a no-op.
	PutPack(ctx context.Context, sum string, r io.Reader) error
	// CopyPack writes the pack of that SHA-256 to w, or returns ErrNotFound.
	CopyPack(ctx context.Context, sum string, w io.Writer) error
}

var _ PackStore = (*SQLStore)(nil)

// errNoPackStore is what PutPack and CopyPack return on SQLite, whose master is
// alone with its pack folder.
var errNoPackStore = errors.New("fleet: this store does not keep packs (SQLite: the master's pack folder does)")

// PutPack implements PackStore (PostgreSQL only), in chunks of PackChunkSize.
func (s *SQLStore) PutPack(ctx context.Context, sum string, r io.Reader) error {
	if !s.postgres {
		return errNoPackStore
	}
	var have int
	if err := s.queryRow(ctx, `SELECT count(*) FROM pack_chunks WHERE sha256 = ?`, sum).Scan(&have); err != nil {
		return storeErr("put pack "+sum, err)
	}
	if have > 0 {
		return nil
	}
	tx, err := s.begin(ctx, qInsertChunk)
	if err != nil {
		return storeErr("put pack "+sum, err)
	}
	defer tx.Rollback()
	h := sha256.New()
	buf := make([]byte, PackChunkSize)
	for seq := 0; ; seq++ {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			h.Write(buf[:n])
			if _, err := s.txExec(ctx, tx, qInsertChunk, sum, seq, buf[:n]); err != nil {
				return storeErr("put pack "+sum, err)
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("fleet: put pack %s: %w", sum, err)
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("fleet: put pack %s: the bytes read have sha256 %s", sum, got)
	}
	return storeErr("put pack "+sum, tx.Commit())
}

const qInsertChunk = `INSERT INTO pack_chunks (sha256, seq, data) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`

// CopyPack implements PackStore (PostgreSQL only), one chunk in memory at a time.
func (s *SQLStore) CopyPack(ctx context.Context, sum string, w io.Writer) error {
	if !s.postgres {
		return errNoPackStore
	}
	for seq := 0; ; seq++ {
		var data []byte
		err := s.queryRow(ctx, `SELECT data FROM pack_chunks WHERE sha256 = ? AND seq = ?`, sum, seq).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			if seq == 0 {
				return fmt.Errorf("fleet: pack %s: %w", sum, ErrNotFound)
			}
			return nil
		}
		if err != nil {
			return storeErr("copy pack "+sum, err)
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
}
