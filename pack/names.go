package pack

import (
	"strings"
	"unicode/utf8"
)

// maxNameLen bounds an entry name and a link target, in bytes.
const maxNameLen = 4096

// reservedNames are the device names Windows reserves in every folder, with or without
// an extension.
var reservedNames = map[string]bool{
	"CON": true, "PRN": true, "AUX": true, "NUL": true, "CONIN$": true, "CONOUT$": true, "CLOCK$": true,
	"COM0": true, "COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true, "COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"LPT0": true, "LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true, "LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true,
	"COM¹": true, "COM²": true, "COM³": true, "LPT¹": true, "LPT²": true, "LPT³": true,
}

// checkName checks an entry name as stored in the pack (folders end with "/") and
// returns the path it extracts to (without the trailing slash).
func checkName(name string) (string, *EntryError) {
	unsafe := func(rule, detail string) (string, *EntryError) {
		return "", entryErr(name, rule, ErrUnsafePath, detail)
	}
	switch {
	case name == "":
		return unsafe(RuleName, "empty name")
	case len(name) > maxNameLen:
		return unsafe(RuleName, "name longer than 4096 bytes")
	case strings.IndexByte(name, 0) >= 0:
		return unsafe(RuleNUL, "NUL byte in name")
	case !utf8.ValidString(name):
		return unsafe(RuleName, "name is not valid UTF-8")
	case strings.IndexByte(name, '\\') >= 0:
		return unsafe(RuleBackslash, "backslash in name")
	case name[0] == '/':
		return unsafe(RuleAbsolute, "absolute path")
	case len(name) >= 2 && name[1] == ':' && isASCIILetter(name[0]):
		return unsafe(RuleAbsolute, "drive letter")
	case strings.IndexByte(name, ':') >= 0:
		return unsafe(RuleColon, "colon in name")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return unsafe(RuleName, "control character in name")
		}
	}
	p := strings.TrimSuffix(name, "/")
	for seg := range strings.SplitSeq(p, "/") {
		switch {
		case seg == "" || seg == "." || seg == "..":
			return unsafe(RuleDotDot, "path segment "+quoteSeg(seg))
		case strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, " "):
			return unsafe(RuleTrailingDot, "segment "+quoteSeg(seg)+" ends with a dot or a space")
		case isReserved(seg):
			return unsafe(RuleReserved, "segment "+quoteSeg(seg)+" is a reserved device name on Windows")
		}
	}
	return p, nil
}

func quoteSeg(s string) string { return `"` + s + `"` }

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// isReserved reports whether seg is a Windows device name, with or without extension.
func isReserved(seg string) bool {
	base, _, _ := strings.Cut(seg, ".")
	base = strings.TrimRight(base, " ")
	return len(base) <= 7 && reservedNames[strings.ToUpper(base)]
}

// foldName maps names that a case-insensitive filesystem treats as one to one key.
func foldName(s string) string { return strings.ToLower(strings.ToUpper(s)) }

// kind is what an entry creates.
type kind uint8

const (
	kindFile kind = iota
	kindDir
	kindLink
)

// treeEntry is what the tree checks need of an entry.
type treeEntry struct {
	raw  string // name as stored, for errors
	path string // checked path, no trailing slash
	kind kind
	link string // link target
}

// checkTree checks a whole set of entries together: duplicates, case collisions (unless
// allowed), names used both as a file and as a folder, and links that leave the tree.
func checkTree(entries []treeEntry, allowCase bool) *EntryError {
	key := foldName
	if allowCase {
		key = func(s string) string { return s }
	}
	type seen struct {
		path string
		kind kind
	}
	byKey := make(map[string]seen, len(entries))
	for _, e := range entries {
		k := key(e.path)
		if prev, ok := byKey[k]; ok {
			if prev.path == e.path {
				return entryErr(e.raw, RuleDuplicate, ErrDuplicate, "name appears twice")
			}
			return entryErr(e.raw, RuleCaseCollision, ErrDuplicate, "same name as "+quoteSeg(prev.path)+" on a case-insensitive filesystem")
		}
		byKey[k] = seen{e.path, e.kind}
	}
	for _, e := range entries {
		for i := strings.LastIndexByte(e.path, '/'); i > 0; i = strings.LastIndexByte(e.path[:i], '/') {
			if prev, ok := byKey[key(e.path[:i])]; ok && prev.kind != kindDir {
				return entryErr(e.raw, RuleFileDir, ErrDuplicate, quoteSeg(prev.path)+" is not a folder")
			}
		}
	}
	isLink := func(p string) bool {
		s, ok := byKey[key(p)]
		return ok && s.kind == kindLink
	}
	for _, e := range entries {
		if e.kind == kindLink {
			if err := checkLink(e.raw, e.path, e.link, isLink); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkLink checks that the link at path, pointing to target, resolves inside the tree
// whatever the other links of the tree point to: the target is relative, and ".." never
// climbs above the root nor back out of a path that went through a link.
func checkLink(raw, path, target string, isLink func(string) bool) *EntryError {
	bad := func(detail string) *EntryError {
		return entryErr(raw, RuleLink, ErrUnsafePath, "target "+quoteSeg(target)+": "+detail)
	}
	switch {
	case target == "":
		return bad("empty target")
	case len(target) > maxNameLen:
		return bad("target longer than 4096 bytes")
	case strings.IndexByte(target, 0) >= 0 || !utf8.ValidString(target):
		return bad("NUL or invalid UTF-8")
	case strings.IndexByte(target, '\\') >= 0:
		return bad("backslash")
	case target[0] == '/':
		return bad("absolute target")
	case strings.IndexByte(target, ':') >= 0:
		return bad("colon (drive letter or stream)")
	}
	var cur []string
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		cur = strings.Split(path[:i], "/")
	}
	for seg := range strings.SplitSeq(target, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(cur) == 0 {
				return bad("leaves the tree")
			}
			for i := 1; i <= len(cur); i++ {
				if isLink(strings.Join(cur[:i], "/")) {
					return bad(`".." after going through link ` + quoteSeg(strings.Join(cur[:i], "/")))
				}
			}
			cur = cur[:len(cur)-1]
		default:
			cur = append(cur, seg)
		}
	}
	return nil
}
