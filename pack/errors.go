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

// Rules named by [EntryError.Rule]. They are stable: scripts and tests may match them.
const (
	RuleName          = "name"              // empty, too long, not UTF-8 or control characters
	RuleAbsolute      = "absolute-path"     // leading slash, drive letter, UNC path
	RuleDotDot        = "dot-segment"       // "..", "." or empty path segment
	RuleBackslash     = "backslash"         // a backslash in a name
	RuleNUL           = "nul"               // a NUL byte in a name
	RuleColon         = "colon"             // a colon (drive letters, alternate data streams)
	RuleReserved      = "reserved-name"     // CON, NUL, COM1… in any folder
	RuleTrailingDot   = "trailing-dot"      // a segment ending in a dot or a space
	RuleDuplicate     = "duplicate"         // the same name twice
	RuleCaseCollision = "case-collision"    // names equal but for case
	RuleFileDir       = "file-dir-conflict" // a name used as a file and as a folder
	RuleSpecial       = "special-file"      // device, pipe, socket, irregular mode
	RuleLink          = "link"              // a link pointing outside the tree or malformed
	RuleMaxFiles      = "max-files"         // more entries than Limits.MaxFiles
	RuleMaxFileSize   = "max-file-size"     // an entry larger than Limits.MaxFileSize
	RuleMaxTotal      = "max-total"         // more bytes in all than Limits.MaxTotal
	RuleMaxRatio      = "max-ratio"         // an entry inflating more than Limits.MaxRatio
	RuleMaxDepth      = "max-depth"         // a name deeper than Limits.MaxDepth
	RuleCRC           = "crc"               // data does not match its CRC-32
	RuleZeroCRC       = "zero-crc"          // a zero CRC-32 on non-empty data
	RuleSize          = "size"              // data longer or shorter than declared
	RuleMethod        = "method"            // compression method other than store, deflate, zstd
	RuleEncrypted     = "encrypted"         // an encrypted entry
	RuleOverlap       = "overlap"           // entries sharing bytes (overlapping zip bomb)
	RuleLocalHeader   = "local-header"      // local header missing or disagreeing with the central one
	RuleStructure     = "structure"         // end of central directory, central directory
	RuleDestination   = "destination"       // the destination cannot be used
	RuleWrite         = "write"             // writing the extracted tree failed
)

// EntryError is the error for one entry (or, with an empty Entry, for the pack as a
// whole): the entry's name as stored in the pack, the rule it broke (one of the Rule
// constants) and the underlying error, which wraps one of the sentinel errors.
type EntryError struct {
	Entry string
	Rule  string
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
	b.WriteString(e.Rule)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "pack: "))
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *EntryError) Unwrap() error { return e.Err }

// entryErr builds an *EntryError whose Err wraps sentinel with a detail message.
func entryErr(entry, rule string, sentinel error, detail string) *EntryError {
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
