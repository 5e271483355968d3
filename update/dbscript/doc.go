// Package dbscript applies a database module's SQL scripts and tells whether the
// database is still the publisher's standard schema.
//
// A pack holds its scripts as upkeep/db/NNNN_name.sql (all of them since the first
// version, ordered by number), upkeep/db/fingerprints.json, the fingerprint of the
// standard schema after each script, per driver, and upkeep/db/listings.json, the
// canonical object listing behind each fingerprint (as changes from one script to
// the next). A Runner keeps a history table in the database (number, name, SHA-256,
// mode, fingerprint before and after, applied at) and reads the schema from the
// catalog to fingerprint it.
//
// # Standard and customised
//
// The expected fingerprint is the local baseline, the listing upkeep read right after
// the last script when that script was applied automatically on a standard database,
// kept in a file of the state dir ([WithBaselineFile]) and never taken from the
// history table, which the database's users can edit; otherwise (a script run by
// hand, or marked applied, no baseline file) it is the publisher's for the last
// applied script. A database whose live fingerprint equals the expected one is
// standard: [Runner.Apply] runs the pending scripts in order, in one transaction
// with their history rows, each within [WithScriptTimeout], and checks the schema
// after the last against the publisher's, so that an install applies all its
// scripts or none; when that fails, it runs them again one transaction each,
// checked after each, which keeps the scripts before the failing one and names
// it. A database that
// differs is customised: [Runner.Apply] refuses with [CodeSchemaDrift] while scripts
// are pending and succeeds once none is, [Runner.Status] lists the drift, and a
// person runs the scripts one by one with [Runner.ApplyNext] or records one run by
// hand with [Runner.MarkApplied].
//
// # Reads
//
// [Runner.Status], [Runner.History] and [Runner.Fingerprint] run in read-only
// transactions and take no lock. The drift report compares the live catalog with the
// expected listing (the local baseline's, else the publisher's from listings.json);
// no script is ever replayed for it. A pack without listings.json gets a report
// whose [Drift.Unavailable] says so.
//
// # Drivers
//
// SQLite through modernc.org/sqlite (no cgo), driver name "sqlite"; PostgreSQL through
// github.com/jackc/pgx/v5/stdlib, driver name "pgx". [Open] opens either.
//
// # Limits
//
// Scripts larger than [MaxScriptSize] and fingerprint files larger than
// [MaxFingerprintsSize] are refused.
//
// The package reads scripts from an fs.FS (the extracted pack) and knows nothing of
// how files are installed.
package dbscript
