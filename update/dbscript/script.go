package dbscript

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Where a pack keeps its database scripts.
const (
	Dir              = "upkeep/db"
	FingerprintsFile = Dir + "/fingerprints.json"
)

// Limits on what a pack may hold.
const (
	MaxScriptSize       = 16 << 20 // bytes of one script file
	MaxFingerprintsSize = 4 << 20  // bytes of fingerprints.json
)

// Script is one upkeep/db/NNNN_name.sql file of a pack.
type Script struct {
	Number   int    // NNNN
	Name     string // the file name, "0002_add_orders.sql"
	Checksum string // hex SHA-256 of the file's bytes
	Text     string // the whole file, as published
	// Statements are what runs: the Up part of a goose-annotated file, else all of it.
	Statements []Statement
}

// Statement is one SQL statement of a script and the line of the file it starts on.
type Statement struct {
	SQL  string
	Line int
}

// Pack is the database part of an extracted pack: its scripts in order and the
// publisher's fingerprints.
type Pack struct {
	Scripts []Script
	// Fingerprints holds, per driver, the standard schema's fingerprint after each
	// script number.
	Fingerprints Fingerprints
	// Listings holds, per driver, the standard schema's canonical listing after each
	// script number (as changes from one script to the next): what a drift report
	// compares the live schema with. Empty for a pack built before listings.json.
	Listings Listings
}

// Listing returns the publisher's listing of driver d after script n, checked against
// the pack's fingerprint for n. It wraps ErrNoListing when the pack has none.
func (p *Pack) Listing(d Driver, n int) (*Listing, error) {
	if n == 0 {
		return newListing(d, nil), nil
	}
	l, err := p.Listings.Listing(d, n)
	if err != nil {
		return nil, err
	}
	if want, ok := p.Fingerprints[d][n]; !ok {
		return nil, fmt.Errorf("%s: %s after script %d: no fingerprint in %s to check the listing against", ListingsFile, d, n, FingerprintsFile)
	} else if l.Fingerprint != want {
		return nil, fmt.Errorf("%s: %s after script %d: the listing's fingerprint %s differs from %s's %s", ListingsFile, d, n, short(l.Fingerprint), FingerprintsFile, short(want))
	}
	return l, nil
}

// Fingerprints maps a driver to the fingerprint of the standard schema after each
// script number, as upkeep/db/fingerprints.json holds them.
type Fingerprints map[Driver]map[int]string

// Script returns the script numbered n.
func (p *Pack) Script(n int) (*Script, bool) {
	for i := range p.Scripts {
		if p.Scripts[i].Number == n {
			return &p.Scripts[i], true
		}
	}
	return nil, false
}

// Load reads the scripts and fingerprints of an extracted pack. A pack without
// upkeep/db is an error; fingerprints.json is optional.
func Load(fsys fs.FS) (*Pack, error) {
	ents, err := fs.ReadDir(fsys, Dir)
	if err != nil {
		return nil, fmt.Errorf("dbscript: load %s: %w", Dir, err)
	}
	p := &Pack{Fingerprints: Fingerprints{}, Listings: Listings{}}
	for _, ent := range ents {
		if ent.IsDir() || !strings.HasSuffix(ent.Name(), ".sql") {
			continue
		}
		name := path.Join(Dir, ent.Name())
		b, err := readLimited(fsys, name, MaxScriptSize)
		if err != nil {
			return nil, err
		}
		s, err := ParseScript(ent.Name(), b)
		if err != nil {
			return nil, err
		}
		if prev, ok := p.Script(s.Number); ok {
			return nil, fmt.Errorf("dbscript: load %s: number %d is also %s", name, s.Number, prev.Name)
		}
		p.Scripts = append(p.Scripts, *s)
	}
	sort.Slice(p.Scripts, func(i, j int) bool { return p.Scripts[i].Number < p.Scripts[j].Number })
	b, err := readLimited(fsys, FingerprintsFile, MaxFingerprintsSize)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	if p.Fingerprints, err = ParseFingerprints(b); err != nil {
		return nil, fmt.Errorf("dbscript: load %s: %w", FingerprintsFile, err)
	}
	// listings.json is optional: packs built before it existed have fingerprints only.
	b, err = readLimited(fsys, ListingsFile, MaxListingsSize)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	if p.Listings, err = ParseListings(b); err != nil {
		return nil, fmt.Errorf("dbscript: load %s: %w", ListingsFile, err)
	}
	return p, nil
}

func readLimited(fsys fs.FS, name string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("dbscript: read %s: %w", name, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("dbscript: read %s: larger than %d bytes", name, max)
	}
	return b, nil
}

// ParseFingerprints reads fingerprints.json: {"sqlite":{"1":"HEX",…},"postgres":{…}}.
func ParseFingerprints(b []byte) (Fingerprints, error) {
	var raw map[string]map[string]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	fp := Fingerprints{}
	for d, m := range raw {
		if Driver(d) != SQLite && Driver(d) != Postgres {
			return nil, fmt.Errorf("%s: unknown driver (want %q or %q)", d, SQLite, Postgres)
		}
		fp[Driver(d)] = map[int]string{}
		for k, v := range m {
			n, err := strconv.Atoi(k)
			if err != nil || n < 1 || strconv.Itoa(n) != k {
				return nil, fmt.Errorf("%s.%s: not a script number", d, k)
			}
			if len(v) != 64 || strings.Trim(v, "0123456789abcdef") != "" {
				return nil, fmt.Errorf("%s.%s: %q is not a hex SHA-256", d, k, v)
			}
			fp[Driver(d)][n] = v
		}
	}
	return fp, nil
}

// MarshalJSON writes the fingerprints with drivers and numbers in order, one entry a
// line, so that the file diffs well.
func (f Fingerprints) MarshalJSON() ([]byte, error) {
	return byDriverJSON(f, func(b *bytes.Buffer, v string) error {
		fmt.Fprintf(b, "%q", v)
		return nil
	})
}

// byDriverJSON writes a map of drivers to script numbers as JSON with drivers and
// numbers in order, one number a line ("\n    \"N\": " then what entry writes), so
// that fingerprints.json and listings.json diff well.
func byDriverJSON[V any](m map[Driver]map[int]V, entry func(*bytes.Buffer, V) error) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{")
	drivers := make([]string, 0, len(m))
	for d := range m {
		drivers = append(drivers, string(d))
	}
	slices.Sort(drivers)
	for i, d := range drivers {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n  %q: {", d)
		nums := make([]int, 0, len(m[Driver(d)]))
		for n := range m[Driver(d)] {
			nums = append(nums, n)
		}
		slices.Sort(nums)
		for j, n := range nums {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "\n    \"%d\": ", n)
			if err := entry(&b, m[Driver(d)][n]); err != nil {
				return nil, err
			}
		}
		if len(nums) > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString("}")
	}
	if len(drivers) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("}")
	return b.Bytes(), nil
}

// ParseScript reads one script file named NNNN_name.sql. A file with goose
// annotations runs its "-- +goose Up" part only, with "StatementBegin"/"StatementEnd"
// blocks kept whole; other files are plain SQL split at semicolons (quotes,
// comments, dollar quotes and trigger bodies respected).
func ParseScript(name string, b []byte) (*Script, error) {
	num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
	n, err := strconv.Atoi(num)
	if !ok || !strings.HasSuffix(name, ".sql") || err != nil || n < 1 || rest == "" || strings.Trim(num, "0123456789") != "" {
		return nil, fmt.Errorf("dbscript: script %s: name must be NNNN_name.sql with NNNN a number from 1", name)
	}
	sum := sha256.Sum256(b)
	s := &Script{Number: n, Name: name, Checksum: hex.EncodeToString(sum[:]), Text: string(b)}
	if s.Statements, err = statements(string(b)); err != nil {
		return nil, fmt.Errorf("dbscript: script %s: %w", name, err)
	}
	return s, nil
}

// statements splits a script into the statements that run.
func statements(text string) ([]Statement, error) {
	lines := strings.SplitAfter(text, "\n")
	goose := false
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "-- +goose") {
			goose = true
			break
		}
	}
	if !goose {
		return split(text, 1), nil
	}
	var out []Statement
	var seg strings.Builder
	segLine, up, block := 0, false, false
	flush := func() {
		if seg.Len() > 0 {
			out = append(out, split(seg.String(), segLine)...)
		}
		seg.Reset()
	}
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(t, "-- +goose"); ok {
			switch ann := strings.ToLower(strings.TrimSpace(rest)); ann {
			case "up":
				flush()
				up = true
			case "down":
				flush()
				up = false
			case "statementbegin":
				if up {
					flush()
					block = true
					segLine = i + 2
				}
			case "statementend":
				if up && block {
					if s := strings.TrimSpace(seg.String()); s != "" {
						out = append(out, Statement{SQL: seg.String(), Line: firstLine(seg.String(), segLine)})
					}
					seg.Reset()
					block = false
				}
			case "no transaction":
				return nil, fmt.Errorf("line %d: -- +goose NO TRANSACTION is not supported: every script runs in one transaction", i+1)
			default:
				if !strings.HasPrefix(ann, "envsub") {
					return nil, fmt.Errorf("line %d: unknown goose annotation %q", i+1, t)
				}
			}
			continue
		}
		if !up {
			continue
		}
		if seg.Len() == 0 && !block {
			segLine = i + 1
		}
		seg.WriteString(l)
	}
	if block {
		return nil, errors.New("-- +goose StatementBegin without StatementEnd")
	}
	flush()
	return out, nil
}

// firstLine returns the line of the first character of s that is neither space nor
// comment, s starting on line start.
func firstLine(s string, start int) int {
	i := skipSpace(s, 0)
	return start + strings.Count(s[:i], "\n")
}

func skipSpace(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r':
			i++
		case strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return len(s)
			}
			i += j + 1
		case strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return len(s)
			}
			i += j + 4
		default:
			return i
		}
	}
	return i
}

// split cuts SQL text at the semicolons that end statements. Inside a CREATE
// statement, BEGIN and CASE open a block that END closes, so that trigger bodies stay
// whole.
func split(text string, line int) []Statement {
	var out []Statement
	start, depth, create, first := 0, 0, false, true
	emit := func(end int) {
		s := text[start:end]
		if strings.TrimSpace(stripComments(s)) != "" {
			out = append(out, Statement{SQL: s, Line: firstLine(s, line+strings.Count(text[:start], "\n"))})
		}
	}
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			esc := c == '\'' && i > 0 && (text[i-1] == 'E' || text[i-1] == 'e') && (i < 2 || !isWord(text[i-2]))
			i = skipQuoted(text, i, c, esc)
		case c == '[':
			if j := strings.IndexByte(text[i:], ']'); j >= 0 && !strings.ContainsAny(text[i:i+j], ";\n") {
				i += j + 1
			} else {
				i++
			}
		case c == '-' && strings.HasPrefix(text[i:], "--"), c == '/' && strings.HasPrefix(text[i:], "/*"):
			i = skipSpace(text, i)
		case c == '$':
			if tag, ok := dollarTag(text[i:]); ok {
				if j := strings.Index(text[i+len(tag):], tag); j >= 0 {
					i += len(tag) + j + len(tag)
				} else {
					i = len(text)
				}
			} else {
				i++
			}
		case c == ';' && depth <= 0:
			emit(i + 1)
			start, depth, create, first = i+1, 0, false, true
			i++
		case isWord(c) && (i == 0 || !isWord(text[i-1])):
			j := i
			for j < len(text) && isWord(text[j]) {
				j++
			}
			w := strings.ToUpper(text[i:j])
			if first {
				create, first = w == "CREATE", false
			} else if create {
				switch w {
				case "BEGIN", "CASE":
					depth++
				case "END":
					depth--
				}
			}
			i = j
		default:
			i++
		}
	}
	emit(len(text))
	return out
}

func isWord(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// skipQuoted returns the index after the quoted text starting at i; a doubled quote
// is an escaped one, and so is a backslash-escaped one in E'…' strings.
func skipQuoted(s string, i int, q byte, backslash bool) int {
	for j := i + 1; j < len(s); j++ {
		switch {
		case backslash && s[j] == '\\':
			j++
		case s[j] == q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

// dollarTag returns PostgreSQL's $tag$ opening s, if it opens one.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		c := s[j]
		if c == '$' {
			return s[:j+1], true
		}
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || j > 1 && c >= '0' && c <= '9') {
			return "", false
		}
	}
	return "", false
}

// stripComments returns s without its comments (quoted text kept).
func stripComments(s string) string {
	return normalise(s, false)
}

// normaliseSQL returns a definition in a canonical form: comments dropped, runs of
// white space outside quotes made one space, none next to brackets and commas, no
// trailing semicolon.
func normaliseSQL(s string) string {
	return strings.TrimSuffix(strings.TrimSpace(normalise(s, true)), ";")
}

func normalise(s string, squeeze bool) string {
	var b strings.Builder
	space := false
	put := func(t string) {
		if space && b.Len() > 0 {
			last := b.String()[b.Len()-1]
			if !strings.ContainsRune("(,", rune(last)) && !strings.ContainsRune("(),;", rune(t[0])) {
				b.WriteByte(' ')
			}
		}
		space = false
		b.WriteString(t)
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := skipQuoted(s, i, c, false)
			put(s[i:j])
			i = j
		case c == '$':
			if tag, ok := dollarTag(s[i:]); ok {
				j := len(s)
				if k := strings.Index(s[i+len(tag):], tag); k >= 0 {
					j = i + len(tag) + k + len(tag)
				}
				put(s[i:j])
				i = j
			} else {
				put("$")
				i++
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || strings.HasPrefix(s[i:], "--") || strings.HasPrefix(s[i:], "/*"):
			j := skipSpace(s, i)
			if j == i {
				j++
			}
			if squeeze {
				space = true
			} else {
				b.WriteByte(' ')
			}
			i = j
		default:
			// A run of bytes none of the cases above starts goes in at once: put
			// decides on its first byte as it would on each byte alone.
			j := i + 1
			for j < len(s) && plain(s, j) {
				j++
			}
			put(s[i:j])
			i = j
		}
	}
	return b.String()
}

// plain reports whether s[i] starts none of normalise's cases but the default.
func plain(s string, i int) bool {
	switch s[i] {
	case '\'', '"', '`', '$', ' ', '\t', '\n', '\r':
		return false
	case '-':
		return !strings.HasPrefix(s[i:], "--")
	case '/':
		return !strings.HasPrefix(s[i:], "/*")
	}
	return true
}
