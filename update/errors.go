package update

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-matchable reason for a failed check or install, as the upkeep command
// lists them; scripts match codes, people read the message.
type Code string

// Codes of failures. The ineligible codes are manifest.Code values.
const (
	CodeUnreachable     Code = "unreachable"      // the source could not be reached
	CodeNotFound        Code = "not_found"        // the manifest or pack is not on the source
	CodeBadSignature    Code = "bad_signature"    // no or too few trusted signatures, or a binding mismatch
	CodeExpired         Code = "expired"          // the manifest's expiry is past
	CodeReplay          Code = "replay"           // the manifest's serial is lower than one already accepted
	CodeInvalidManifest Code = "invalid_manifest" // the manifest does not parse or validate
	CodeBadPack         Code = "bad_pack"         // the pack's size or sha256 differs from the manifest, or it is unsafe
	CodeInstallFailed   Code = "install_failed"   // the install failed and was rolled back
	CodeBusy            Code = "busy"             // another operation holds the module's lock
	CodeUnmanaged       Code = "unmanaged_folder" // the module folder holds a tree upkeep does not manage
	CodeUnsafeFolder    Code = "unsafe_folder"    // a folder upkeep deletes in is a link, another account's, or writable by others
	CodeConfig          Code = "config"           // the configuration cannot be used (ConfigError)
	CodeInternal        Code = "error"            // anything else
)

// Error is a failed operation with its Code.
type Error struct {
	Code   Code
	Module string // "" when the failure is not about one module (the manifest)
	Err    error
}

// Error describes the failure, naming what is at fault.
func (e *Error) Error() string {
	if e.Module != "" {
		return e.Module + ": " + e.Err.Error()
	}
	return e.Err.Error()
}

// Unwrap returns the causes, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the Code carried by err (an *Error's, or the ErrorCode() of an error
// from another package, such as update/dbscript's), or CodeInternal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, ErrBusy) {
		return CodeBusy
	}
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		return Code(coded.ErrorCode())
	}
	if errors.Is(err, ErrConfig) {
		return CodeConfig
	}
	if errors.Is(err, ErrUnsafeFolder) {
		return CodeUnsafeFolder
	}
	return CodeInternal
}

func codeErr(code Code, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// Sentinel errors of the engine.
var (
	// ErrBusy is returned when another operation (in this process or another) holds
	// the module's lock; the message names the holder's PID.
	ErrBusy = errors.New("update: module is busy")
	// ErrUnknownModule is returned for a module name that is not configured.
	ErrUnknownModule = errors.New("update: unknown module")
	// ErrNoUpdate is returned by Install when nothing newer is offered.
	ErrNoUpdate = errors.New("update: no update available")
	// ErrDowngrade is returned when an install would lower the installed version;
	// going back is only done by Rollback from a kept backup.
	ErrDowngrade = errors.New("update: refusing to downgrade")
	// ErrNoBackup is returned by Rollback when no previous version is kept.
	ErrNoBackup = errors.New("update: no backup to roll back to")
	// ErrUnmanaged is returned by a first install into a module folder that already
	// holds files upkeep does not manage: nothing is changed (see
	// InstallOptions.KeepUnmanaged and ModuleConfig.Installed).
	ErrUnmanaged = errors.New("update: module folder not managed by upkeep")
	// ErrUnsafeFolder is wrapped by the error of a state dir, work folder or journal
	// that another account owns or can write; the message names it, its mode and owner.
	ErrUnsafeFolder = errors.New("update: unsafe folder")
	// ErrRolledBack wraps the cause of an install that failed and was undone.
	ErrRolledBack = errors.New("update: install failed and was rolled back")
)
