package dbscript

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// Driver names a database kind, as a module's configuration and fingerprints.json
// name it.
type Driver string

// Drivers.
const (
	SQLite   Driver = "sqlite"   // modernc.org/sqlite, no cgo
	Postgres Driver = "postgres" // github.com/jackc/pgx/v5 through database/sql
)

// ParseDriver checks a driver name.
func ParseDriver(s string) (Driver, error) {
	switch Driver(s) {
	case SQLite, Postgres:
		return Driver(s), nil
	}
	return "", fmt.Errorf("dbscript: driver %q: want %q or %q", s, SQLite, Postgres)
}

// Open opens a database of the given driver. A SQLite database gets one connection,
// so that ":memory:" is one database and writers do not contend within the pool.
func Open(d Driver, dsn string) (*sql.DB, error) {
	dl, err := dialectOf(d)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(dl.sqlDriver(), dsn)
	if err != nil {
		return nil, fmt.Errorf("dbscript: open %s database: %w", d, err)
	}
	if d == SQLite {
		db.SetMaxOpenConns(1)
	}
	return db, nil
}

// dialect is what differs between drivers.
type dialect interface {
	sqlDriver() string
	// begin prepares a transaction that runs a script: search path, lock against a
	// concurrent runner, the server's own time limits (0: none).
	begin(ctx context.Context, tx *sql.Tx, schema, table string, timeout time.Duration) error
	// beginRead prepares a read-only transaction: search path only, no lock.
	beginRead(ctx context.Context, tx *sql.Tx, schema string) error
	// blank reports whether the schema holds nothing list could return: no
	// relation or function (the history table excluded) on PostgreSQL, no row of
	// sqlite_schema but the history table's and SQLite's own on SQLite. It may say
	// false of a schema whose listing is empty, never true of one whose is not.
	blank(ctx context.Context, q querier, schema, table string) (bool, error)
	// list reads the schema's objects, the history table excluded.
	list(ctx context.Context, q querier, schema, table string) ([]Object, error)
	historyExists(ctx context.Context, q querier, schema, table string) (bool, error)
	createHistory(schema, table string) string
	qualify(schema, table string) string
	ph(i int) string
	// lineOf returns the line within a failed statement the server's error points
	// at (0 when it does not say) and the server's message.
	lineOf(err error, stmt string) (int, string)
	// timedOut reports whether a statement's error is the server's time limit.
	timedOut(err error) bool
}

func dialectOf(d Driver) (dialect, error) {
	switch d {
	case SQLite:
		return &sqliteDialect{}, nil
	case Postgres:
		return &pgDialect{}, nil
	}
	_, err := ParseDriver(string(d))
	return nil, err
}
