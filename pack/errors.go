package pack

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Every error returned for a bad pack is an [*EntryError] wrapping
// one of them, so callers match the kind with [errors.Is] and read the entry and the
// rule with [errors.As].
var (
	// ErrFormat is returned when the bytes are not a well-formed zip file: no end of
	// central directory, truncated headers, sizes that disagree with the data.
	ErrFormat = errors.New("pack: not a valid zip file")
	// ErrUnsafePath is returned for an entry name or a link target that could reach
	// outside the destination or that some filesystem would read differently: "..",
	// absolute and volume paths, backslashes, NUL, reserved Windows names.
	ErrUnsafePath = errors.New("pack: unsafe path")
	// ErrDuplicate is returned when two entries would land on the same path, also
	// when they differ only by case, or when a name is both a file and a folder.
	ErrDuplicate = errors.New("pack: duplicate entry")
	// ErrLimit is returned when a pack exceeds a [Limits] bound.
	ErrLimit = errors.New("pack: limit exceeded")
	// ErrChecksum is returned when an entry's data does not match its CRC-32.
	ErrChecksum = errors.New("pack: checksum mismatch")
	// ErrUnsupported is returned for compression methods other than store, deflate
	// and zstd, encrypted entries, and special files (devices, pipes, sockets).
	ErrUnsupported = errors.New("pack: unsupported entry")
	// ErrDestination is returned when the extraction destination already holds
	// something or cannot be used.
	ErrDestination = errors.New("pack: unusable destination")
)

// Rule names the rule an entry broke, in [EntryError.Rule]: one of the Rule
// constants, whose values are stable, so that scripts and tests may match them.
type Rule string

// String returns the rule's name, as error messages show it.
func (r Rule) String() string { return string(r) }

// The rules of [EntryError.Rule].
const (
	// RuleName (name): an entry name that is empty, longer than 4096 bytes, not UTF-8,
	// or holds control characters.
	RuleName Rule = "name"
	// RuleAbsolute (absolute-path): a name with a leading slash, a drive letter or a
	// UNC prefix.
	RuleAbsolute Rule = "absolute-path"
	// RuleDotDot (dot-segment): a name with a "..", "." or empty path segment.
	RuleDotDot Rule = "dot-segment"
	// RuleBackslash (backslash): a backslash in a name.
	RuleBackslash Rule = "backslash"
	// RuleNUL (nul): a NUL byte in a name.
	RuleNUL Rule = "nul"
	// RuleColon (colon): a colon in a name (drive letters, alternate data streams).
	RuleColon Rule = "colon"
	// RuleReserved (reserved-name): a Windows device name (CON, NUL, COM1…) in any
	// folder.
	RuleReserved Rule = "reserved-name"
	// RuleTrailingDot (trailing-dot): a path segment ending in a dot or a space.
	RuleTrailingDot Rule = "trailing-dot"
	// RuleDuplicate (duplicate): the same name twice.
	RuleDuplicate Rule = "duplicate"
	// RuleCaseCollision (case-collision): names equal but for case (see
	// [AllowCaseCollisions]).
	RuleCaseCollision Rule = "case-collision"
	// RuleFileDir (file-dir-conflict): a name used both as a file (or link) and as a
	// folder.
	RuleFileDir Rule = "file-dir-conflict"
	// RuleSpecial (special-file): a device, pipe, socket or irregular mode.
	RuleSpecial Rule = "special-file"
	// RuleLink (link): a link that is malformed or points outside the tree.
	RuleLink Rule = "link"
	// RuleMaxFiles (max-files): more entries than [Limits.MaxFiles].
	RuleMaxFiles Rule = "max-files"
	// RuleMaxFileSize (max-file-size): an entry larger than [Limits.MaxFileSize].
	RuleMaxFileSize Rule = "max-file-size"
	// RuleMaxTotal (max-total): more bytes in all than [Limits.MaxTotal].
	RuleMaxTotal Rule = "max-total"
	// RuleMaxRatio (max-ratio): an entry inflating more than [Limits.MaxRatio].
	RuleMaxRatio Rule = "max-ratio"
	// RuleMaxDepth (max-depth): a name of more path segments than [Limits.MaxDepth].
	RuleMaxDepth Rule = "max-depth"
	// RuleCRC (crc): data that does not match its CRC-32.
	RuleCRC Rule = "crc"
	// RuleZeroCRC (zero-crc): a zero CRC-32 on non-empty data.
	RuleZeroCRC Rule = "zero-crc"
	// RuleSize (size): data longer or shorter than declared, or a folder with data.
	RuleSize Rule = "size"
	// RuleMethod (method): a compression method other than store, deflate and zstd.
	RuleMethod Rule = "method"
	// RuleEncrypted (encrypted): an encrypted entry.
	RuleEncrypted Rule = "encrypted"
	// RuleOverlap (overlap): entries sharing bytes (the overlapping zip bomb), or data
	// running into the central directory.
	RuleOverlap Rule = "overlap"
	// RuleLocalHeader (local-header): a local header missing or disagreeing with the
	// central directory.
	RuleLocalHeader Rule = "local-header"
	// RuleStructure (structure): a malformed zip: end of central directory, central
	// directory, extra fields, compressed data.
	RuleStructure Rule = "structure"
	// RuleDestination (destination): an extraction destination that cannot be used.
	RuleDestination Rule = "destination"
	// RuleWrite (write): writing the extracted tree (or the pack, when building)
	// failed.
	RuleWrite Rule = "write"
)

// EntryError is the error for one entry (or, with an empty Entry, for the pack as a
// whole): the entry's name as stored in the pack, the rule it broke (one of the Rule
// constants) and the underlying error, which wraps one of the sentinel errors.
type EntryError struct {
	Entry string
	Rule  Rule
	Err   error
}

// Error returns `pack: entry "NAME": RULE: DETAIL`, on one line.
func (e *EntryError) Error() string {
	var b strings.Builder
	b.WriteString("pack: ")
	if e.Entry != "" {
		b.WriteString("entry ")
		b.WriteString(strconv.Quote(e.Entry))
		b.WriteString(": ")
	}
	b.WriteString(string(e.Rule))
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "pack: "))
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *EntryError) Unwrap() error { return e.Err }

// entryErr builds an *EntryError whose Err wraps sentinel with a detail message.
func entryErr(entry string, rule Rule, sentinel error, detail string) *EntryError {
	if detail == "" {
		return &EntryError{Entry: entry, Rule: rule, Err: sentinel}
	}
	return &EntryError{Entry: entry, Rule: rule, Err: &detailError{sentinel, detail}}
}

// detailError adds a detail to a sentinel without losing errors.Is.
type detailError struct {
	sentinel error
	detail   string
}

func (e *detailError) Error() string { return e.sentinel.Error() + ": " + e.detail }
func (e *detailError) Unwrap() error { return e.sentinel }
