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
	unsafe := func(rule Rule, detail string) (string, *EntryError) {
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
// ASCII names, nearly all of them, are only lowered (and not copied when already
// lower-case).
func foldName(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return strings.ToLower(strings.ToUpper(s))
		}
	}
	return strings.ToLower(s)
}

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

// pathTree indexes the paths of a set of entries segment by segment (one node per
// path, keyed by its parent node and its last segment), so that the checks walk each
// name once: their cost grows with the bytes of the names, not with their depth
// times their length.
type pathTree struct {
	key   func(string) string // folds segments when case collisions are refused
	nodes []pathNode
	index map[nodeKey]int32
}

// pathNode is one path of the tree: an entry, or a folder only implied by entries
// below it.
type pathNode struct {
	kind  kind
	entry int32 // index of the entry at this path; -1 for an implied folder
	below int32 // for an implied folder, the first entry below it
}

type nodeKey struct {
	parent int32
	seg    string
}

// child returns the node of seg in the folder parent, or -1.
func (t *pathTree) child(parent int32, seg string) int32 {
	if n, ok := t.index[nodeKey{parent, t.key(seg)}]; ok {
		return n
	}
	return -1
}

func (t *pathTree) add(parent int32, seg string, n pathNode) int32 {
	t.nodes = append(t.nodes, n)
	id := int32(len(t.nodes) - 1)
	t.index[nodeKey{parent, t.key(seg)}] = id
	return id
}

// checkTree checks a whole set of entries together: duplicates, case collisions (unless
// allowed), names used both as a file and as a folder, and links that leave the tree.
func checkTree(entries []treeEntry, allowCase bool) *EntryError {
	t := &pathTree{key: foldName, nodes: []pathNode{{kind: kindDir, entry: -1}}, index: make(map[nodeKey]int32, len(entries))}
	if allowCase {
		t.key = func(s string) string { return s }
	}
	for i, e := range entries {
		parent, rest := int32(0), e.path
		for {
			seg, tail, more := strings.Cut(rest, "/")
			n := t.child(parent, seg)
			if more {
				if n < 0 {
					n = t.add(parent, seg, pathNode{kind: kindDir, entry: -1, below: int32(i)})
				} else if t.nodes[n].kind != kindDir {
					return entryErr(e.raw, RuleFileDir, ErrDuplicate, quoteSeg(entries[t.nodes[n].entry].path)+" is not a folder")
				}
				parent, rest = n, tail
				continue
			}
			switch {
			case n < 0:
				t.add(parent, seg, pathNode{kind: e.kind, entry: int32(i)})
			case t.nodes[n].entry >= 0:
				prev := entries[t.nodes[n].entry]
				if prev.path == e.path {
					return entryErr(e.raw, RuleDuplicate, ErrDuplicate, "name appears twice")
				}
				return entryErr(e.raw, RuleCaseCollision, ErrDuplicate, "same name as "+quoteSeg(prev.path)+" on a case-insensitive filesystem")
			case e.kind != kindDir:
				return entryErr(entries[t.nodes[n].below].raw, RuleFileDir, ErrDuplicate, quoteSeg(e.path)+" is not a folder")
			default:
				t.nodes[n].entry = int32(i)
			}
			break
		}
	}
	for _, e := range entries {
		if e.kind == kindLink {
			if err := checkLink(e.raw, e.path, e.link, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkLink checks that the link at path, pointing to target, resolves inside the tree
// whatever the other links of the tree point to: the target is relative, and ".." never
// climbs above the root nor back out of a path that went through a link. It walks the
// link's folder and its target once, segment by segment.
func checkLink(raw, path, target string, t *pathTree) *EntryError {
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
	// segs and nodes are the folders walked so far (nodes[i] is -1 outside the pack's
	// entries); through is how many of them are links of the pack.
	var segs []string
	var nodes []int32
	through := 0
	push := func(seg string) {
		parent := int32(0)
		if len(nodes) > 0 {
			parent = nodes[len(nodes)-1]
		}
		n := int32(-1)
		if parent >= 0 {
			n = t.child(parent, seg)
		}
		if n >= 0 && t.nodes[n].kind == kindLink {
			through++
		}
		segs, nodes = append(segs, seg), append(nodes, n)
	}
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		for seg := range strings.SplitSeq(path[:i], "/") {
			push(seg)
		}
	}
	for seg := range strings.SplitSeq(target, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(nodes) == 0 {
				return bad("leaves the tree")
			}
			if through > 0 {
				for i, n := range nodes {
					if n >= 0 && t.nodes[n].kind == kindLink {
						return bad(`".." after going through link ` + quoteSeg(strings.Join(segs[:i+1], "/")))
					}
				}
			}
			segs, nodes = segs[:len(segs)-1], nodes[:len(nodes)-1]
		default:
			push(seg)
		}
	}
	return nil
}
