package trust

import "errors"

// Code is the machine-matchable reason of a refusal, the same string the engine and
// the upkeep command report (update.Code).
type Code string

// Codes of refusals.
const (
	CodeBadSignature      Code = "bad_signature"        // too few distinct trusted signers, a binding mismatch, another product, a revoked key
	CodeExpired           Code = "expired"              // the manifest or the key set expired, or its signer is outside its validity
	CodeReplay            Code = "replay"               // a serial or key set version lower than one accepted, or the same with other content
	CodeInvalidManifest   Code = "invalid_manifest"     // the manifest does not parse or validate
	CodeBadPack           Code = "bad_pack"             // the pack's size or SHA-256 differs from what was signed
	CodeNoPackForPlatform Code = "no_pack_for_platform" // a pack signed for another platform
)

// Sentinels, one per code: errors.Is(err, ErrExpired) holds for every refusal of
// code expired.
var (
	// ErrBadSignature is matched by refusals of code bad_signature.
	ErrBadSignature = errors.New("trust: not signed as required")
	// ErrExpired is matched by refusals of code expired.
	ErrExpired = errors.New("trust: expired")
	// ErrReplay is matched by refusals of code replay.
	ErrReplay = errors.New("trust: older than what was accepted")
	// ErrInvalidManifest is matched by refusals of code invalid_manifest.
	ErrInvalidManifest = errors.New("trust: invalid manifest")
	// ErrBadPack is matched by refusals of code bad_pack.
	ErrBadPack = errors.New("trust: pack differs from what was signed")
	// ErrOtherPlatform is matched by refusals of code no_pack_for_platform.
	ErrOtherPlatform = errors.New("trust: pack for another platform")
)

// Error is a refusal: what was refused (File: manifest.json, keys.json, a pack's
// name), why (Code), and the cause, which names the key, field or value at fault and
// wraps the signature package's errors (signature.ErrThreshold,
// signature.ErrBindingMismatch, signature.ErrKeyExpired, signature.ErrKeyRevoked).
type Error struct {
	Code Code
	File string
	Err  error
}

// Error returns the cause's message, which names the file.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code as a string, as update.CodeOf reads it.
func (e *Error) ErrorCode() string { return string(e.Code) }

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrBadSignature:
		return e.Code == CodeBadSignature
	case ErrExpired:
		return e.Code == CodeExpired
	case ErrReplay:
		return e.Code == CodeReplay
	case ErrInvalidManifest:
		return e.Code == CodeInvalidManifest
	case ErrBadPack:
		return e.Code == CodeBadPack
	case ErrOtherPlatform:
		return e.Code == CodeNoPackForPlatform
	}
	return false
}

func refuse(code Code, file string, err error) *Error {
	return &Error{Code: code, File: file, Err: err}
}
