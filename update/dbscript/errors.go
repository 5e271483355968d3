package dbscript

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-matchable reason for a refusal or failure, as the upkeep
// command prints it in "code".
type Code string

// Codes of failures.
const (
	// CodeHistoryMismatch: an applied script's checksum differs from the pack's, an
	// applied script is missing from the pack, or the pack has a script older than the
	// last applied one that never ran.
	CodeHistoryMismatch Code = "history_mismatch"
	// CodeScriptFailed: a script failed (or left a schema other than the publisher's)
	// and its transaction was rolled back.
	CodeScriptFailed Code = "script_failed"
	// CodeSchemaDrift: the database is customised; nothing runs automatically.
	CodeSchemaDrift Code = "schema_drift"
)

// Sentinels matched by an *Error of the same code with errors.Is.
var (
	// ErrHistoryMismatch is matched by errors of code CodeHistoryMismatch.
	ErrHistoryMismatch = errors.New("dbscript: history differs from the pack")
	// ErrScriptFailed is matched by errors of code CodeScriptFailed.
	ErrScriptFailed = errors.New("dbscript: script failed")
	// ErrSchemaDrift is matched by errors of code CodeSchemaDrift.
	ErrSchemaDrift = errors.New("dbscript: schema differs from the standard one")
)

// Error is a refusal or failure with its Code, naming the script at fault.
type Error struct {
	Code   Code
	Number int    // the script's number, 0 when not about one script
	Script string // the script's file name
	Line   int    // the script's line where the failing statement starts (script_failed), 0 when unknown
	Err    error  // the cause: the server's message for script_failed
}

// Error describes the failure: "dbscript: script 0002_x.sql line 4: <server message>".
func (e *Error) Error() string {
	switch {
	case e.Script != "" && e.Line > 0:
		return fmt.Sprintf("dbscript: script %s line %d: %v", e.Script, e.Line, e.Err)
	case e.Script != "":
		return fmt.Sprintf("dbscript: script %s: %v", e.Script, e.Err)
	}
	return "dbscript: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	switch e.Code {
	case CodeHistoryMismatch:
		return target == ErrHistoryMismatch
	case CodeScriptFailed:
		return target == ErrScriptFailed
	case CodeSchemaDrift:
		return target == ErrSchemaDrift
	}
	return false
}

// ErrorCode returns the code as a string, for packages that match codes without
// importing this one.
func (e *Error) ErrorCode() string { return string(e.Code) }

// CodeOf returns the Code carried by err, or "".
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
