package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// SchemaVersion is the schema number of the native format this package reads and
// writes; a manifest with another number is refused with [ErrSchema].
const SchemaVersion = 1

// MaxSize is the largest manifest accepted, in bytes, by [Parse], [ParseHFSQL],
// [ParseAny] and [Detect]; larger input is refused with [ErrTooLarge] before it is
// decoded. Callers that read a manifest from the network should stop reading at
// MaxSize+1 bytes.
const MaxSize = 8 << 20

// MaxReleases is the most releases a manifest may hold, all modules together: more
// are refused with [ErrTooLarge] by [Parse], [ParseHFSQL], [ParseAny],
// [Manifest.Validate] (so [Manifest.Marshal] will not publish them) and
// [Manifest.AddPack]. It bounds the work of reading a manifest and of
// [Manifest.Select] on one, far below what [MaxSize] bytes could hold (some 90,000
// HFSQL entries), and above what a product publishes: a release with packs for a few
// platforms takes about 800 bytes, so MaxSize holds about this many of them. Drop old
// releases that no installation needs any more to stay below it.
const MaxReleases = 10000

// ChannelStable is the default channel, offered to every installation.
const ChannelStable = "stable"

// Manifest is a product's update manifest in the native format: the releases of its
// modules and, for each, one pack per platform. The whole file is signed by the
// publisher; Serial grows with every publication and Expires bounds how long a copy
// may be trusted.
type Manifest struct {
	Schema   int       `json:"schema"`
	Product  string    `json:"product"`
	Serial   uint64    `json:"serial"`
	Expires  time.Time `json:"expires"`
	Releases []Release `json:"releases"`
}

// Release is one version of one module. Module, Version and Packs are required.
// MinVersion is the oldest installed version the release may be applied over; Major and
// Language restrict it to installations of that major version and language (zero and
// empty restrict nothing); Channel is "stable" unless the release is held for
// installations on another channel; Rollout is the percentage of installations offered
// the release (nil means 100, 0 nobody yet).
type Release struct {
	Module     string    `json:"module"`
	Version    string    `json:"version"`
	MinVersion string    `json:"min_version,omitempty"`
	Major      int       `json:"major,omitempty"`
	Language   string    `json:"language,omitempty"`
	Channel    string    `json:"channel,omitempty"` // "" means stable (Parse fills "stable")
	Rollout    *int      `json:"rollout,omitempty"` // nil = 100
	Published  time.Time `json:"published,omitzero"`
	Notes      string    `json:"notes,omitempty"`
	Packs      []Pack    `json:"packs"`
}

// Pack is the file that carries a release for one platform: its name beside the
// manifest, its exact size and SHA-256, and the name of its detached signature.
type Pack struct {
	Platform  string `json:"platform"` // canonical GOOS/GOARCH
	File      string `json:"file"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`              // lowercase hex
	Signature string `json:"signature,omitempty"` // signature file name; "" = File+".minisig"
	// Deltas rebuild this pack's tree from earlier versions' (see pack.ApplyDelta);
	// each is signed like a pack, its binding adding from=From.
	Deltas []Delta `json:"deltas,omitempty"`
}

// Delta is a delta pack that rebuilds a pack's tree from version From's tree.
type Delta struct {
	From   string `json:"from"` // the version it applies to
	File   string `json:"file"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lowercase hex
}

// SignatureFile returns the name of the delta's signature file: File followed by
// ".minisig".
func (d Delta) SignatureFile() string { return d.File + ".minisig" }

// DeltaFrom returns the pack's delta from version v, if it has one. Versions compare
// as written.
func (p Pack) DeltaFrom(v string) (Delta, bool) {
	for _, d := range p.Deltas {
		if d.From == v {
			return d, true
		}
	}
	return Delta{}, false
}

// SignatureFile returns the name of the pack's signature file: Signature, or File
// followed by ".minisig" when Signature is empty.
func (p Pack) SignatureFile() string {
	if p.Signature != "" {
		return p.Signature
	}
	return p.File + ".minisig"
}

// Format is a manifest file format.
type Format int

// The formats [Detect] recognises.
const (
	// FormatNative is this package's JSON format (a top-level "schema" number).
	FormatNative Format = iota + 1
	// FormatHFSQL is HFSQL's hfsql_updateinfo.json (a top-level "pack" array).
	FormatHFSQL
)

// String returns "native" or "hfsql".
func (f Format) String() string {
	switch f {
	case FormatNative:
		return "native"
	case FormatHFSQL:
		return "hfsql"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

func tooLarge(data []byte) error {
	if len(data) > MaxSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), MaxSize)
	}
	return nil
}

// tooMany refuses n releases in the list at path when they are more than MaxReleases.
func tooMany(path string, n int) error {
	if n > MaxReleases {
		return fieldErr(path, ErrTooLarge, "%d releases, at most %d allowed (MaxReleases)", n, MaxReleases)
	}
	return nil
}

// Detect tells the two formats apart: a JSON object with a "schema" member is native,
// one with a "pack" member is HFSQL. Anything else is [ErrFormat].
func Detect(data []byte) (Format, error) {
	if err := tooLarge(data); err != nil {
		return 0, err
	}
	top, err := decodeObject("", data)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	switch {
	case top.has("schema"):
		return FormatNative, nil
	case top.has("pack"):
		return FormatHFSQL, nil
	}
	return 0, fmt.Errorf("%w: neither a native manifest (no \"schema\") nor an HFSQL file (no \"pack\")", ErrFormat)
}

// ParseAny parses either format. An HFSQL file is converted as by [HFSQL.Convert] with
// product and module "hfsql" and no pack information: sizes 0, SHA-256 "", signature
// data+".sign", Serial 0 and a zero Expires, so the result is fit for [Manifest.Select]
// but not for publishing.
func ParseAny(data []byte) (*Manifest, Format, error) {
	f, err := Detect(data)
	if err != nil {
		return nil, 0, err
	}
	if f == FormatNative {
		m, err := Parse(data)
		return m, f, err
	}
	h, err := ParseHFSQL(data)
	if err != nil {
		return nil, f, err
	}
	m, err := h.Convert("", "", nil)
	return m, f, err
}

// Parse reads a native manifest and checks every rule of [Manifest.Validate]; on top
// of them it wants every required member present (a zero serial or size is fine when
// written out), refuses a key given twice in one object, and ignores unknown members.
// Times are returned in UTC and an absent or empty channel as "stable". The error
// names the JSON path at fault, as a [*FieldError].
func Parse(data []byte) (*Manifest, error) {
	if err := tooLarge(data); err != nil {
		return nil, err
	}
	top, err := decodeObject("", data)
	if err != nil {
		return nil, err
	}
	// The schema first: another schema may lay out everything else differently.
	schema, ok, err := top.int("", "schema")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, missing("schema")
	}
	if schema != SchemaVersion {
		return nil, fieldErr("schema", ErrSchema, "%d (this version reads %d)", schema, SchemaVersion)
	}
	m := &Manifest{Schema: schema}
	if m.Product, ok, err = top.str("", "product"); err != nil {
		return nil, err
	} else if !ok {
		return nil, missing("product")
	}
	if m.Serial, ok, err = top.uint64("", "serial"); err != nil {
		return nil, err
	} else if !ok {
		return nil, missing("serial")
	}
	if m.Expires, ok, err = top.time("", "expires"); err != nil {
		return nil, err
	} else if !ok {
		return nil, missing("expires")
	}
	rels, ok, err := top.array("", "releases")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, missing("releases")
	}
	if err := tooMany("releases", len(rels)); err != nil {
		return nil, err
	}
	if len(rels) > 0 {
		m.Releases = make([]Release, 0, len(rels))
	}
	for i, raw := range rels {
		r, err := parseRelease(index("releases", i), raw)
		if err != nil {
			return nil, err
		}
		m.Releases = append(m.Releases, r)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

func parseRelease(path string, raw json.RawMessage) (Release, error) {
	var r Release
	o, err := decodeObject(path, raw)
	if err != nil {
		return r, err
	}
	var ok bool
	if r.Module, ok, err = o.str(path, "module"); err != nil {
		return r, err
	} else if !ok {
		return r, missing(join(path, "module"))
	}
	if r.Version, ok, err = o.str(path, "version"); err != nil {
		return r, err
	} else if !ok {
		return r, missing(join(path, "version"))
	}
	if r.MinVersion, _, err = o.str(path, "min_version"); err != nil {
		return r, err
	}
	if r.Major, _, err = o.int(path, "major"); err != nil {
		return r, err
	}
	if r.Language, _, err = o.str(path, "language"); err != nil {
		return r, err
	}
	if r.Channel, _, err = o.str(path, "channel"); err != nil {
		return r, err
	}
	if r.Channel == "" {
		r.Channel = ChannelStable
	}
	var rollout int
	if rollout, ok, err = o.int(path, "rollout"); err != nil {
		return r, err
	} else if ok {
		r.Rollout = &rollout
	}
	if r.Published, _, err = o.time(path, "published"); err != nil {
		return r, err
	}
	if r.Notes, _, err = o.str(path, "notes"); err != nil {
		return r, err
	}
	packs, ok, err := o.array(path, "packs")
	if err != nil {
		return r, err
	}
	if !ok {
		return r, missing(join(path, "packs"))
	}
	for j, raw := range packs {
		p, err := parsePack(index(join(path, "packs"), j), raw)
		if err != nil {
			return r, err
		}
		r.Packs = append(r.Packs, p)
	}
	return r, nil
}

func parsePack(path string, raw json.RawMessage) (Pack, error) {
	var p Pack
	o, err := decodeObject(path, raw)
	if err != nil {
		return p, err
	}
	var ok bool
	if p.Platform, ok, err = o.str(path, "platform"); err != nil {
		return p, err
	} else if !ok {
		return p, missing(join(path, "platform"))
	}
	if p.File, ok, err = o.str(path, "file"); err != nil {
		return p, err
	} else if !ok {
		return p, missing(join(path, "file"))
	}
	if p.Size, ok, err = o.int64(path, "size"); err != nil {
		return p, err
	} else if !ok {
		return p, missing(join(path, "size"))
	}
	if p.SHA256, ok, err = o.str(path, "sha256"); err != nil {
		return p, err
	} else if !ok {
		return p, missing(join(path, "sha256"))
	}
	if p.Signature, _, err = o.str(path, "signature"); err != nil {
		return p, err
	}
	deltas, _, err := o.array(path, "deltas")
	if err != nil {
		return p, err
	}
	for j, raw := range deltas {
		d, err := parseDelta(index(join(path, "deltas"), j), raw)
		if err != nil {
			return p, err
		}
		p.Deltas = append(p.Deltas, d)
	}
	return p, nil
}

func parseDelta(path string, raw json.RawMessage) (Delta, error) {
	var d Delta
	o, err := decodeObject(path, raw)
	if err != nil {
		return d, err
	}
	var ok bool
	for _, f := range []struct {
		key string
		dst *string
	}{{"from", &d.From}, {"file", &d.File}, {"sha256", &d.SHA256}} {
		if *f.dst, ok, err = o.str(path, f.key); err != nil {
			return d, err
		} else if !ok {
			return d, missing(join(path, f.key))
		}
	}
	if d.Size, ok, err = o.int64(path, "size"); err != nil {
		return d, err
	} else if !ok {
		return d, missing(join(path, "size"))
	}
	return d, nil
}

// Validate checks the rules of the native format on a manifest built in code; [Parse]
// applies the same ones. Schema must be [SchemaVersion]; Product and Expires are
// required; in each release Module (letters, digits, '.', '_', '-'), Version and at
// least one pack are required, versions and min_version must parse and min_version
// may not be above version, Major may not be negative, Rollout must be within 0..100;
// in each pack Platform must be a canonical GOOS/GOARCH, File and Signature plain file
// names (no path separator, no "..", nothing a file system would read differently),
// Size not negative and SHA256 64 lowercase hex digits. A release (module, version,
// language) may appear once, and a release has at most one pack per platform. The
// first rule broken is returned as a [*FieldError].
func (m *Manifest) Validate() error {
	if m.Schema != SchemaVersion {
		return fieldErr("schema", ErrSchema, "%d (this version reads %d)", m.Schema, SchemaVersion)
	}
	if m.Product == "" {
		return missing("product")
	}
	if err := checkText("product", m.Product, 256); err != nil {
		return err
	}
	if m.Expires.IsZero() {
		return missing("expires")
	}
	if err := checkTime("expires", m.Expires); err != nil {
		return err
	}
	if err := tooMany("releases", len(m.Releases)); err != nil {
		return err
	}
	seen := make(map[string]int, len(m.Releases))
	for i := range m.Releases {
		path := index("releases", i)
		key, err := validateRelease(path, &m.Releases[i])
		if err != nil {
			return err
		}
		if first, dup := seen[key]; dup {
			return fieldErr(path, ErrDuplicate, "release %s of module %q%s is already releases[%d]",
				m.Releases[i].Version, m.Releases[i].Module, languageNote(m.Releases[i].Language), first)
		}
		seen[key] = i
	}
	return nil
}

func languageNote(lang string) string {
	if lang == "" {
		return ""
	}
	return fmt.Sprintf(" (language %q)", lang)
}

// validateRelease checks r and returns its identity: module, version (as compared) and
// language.
func validateRelease(path string, r *Release) (string, error) {
	if r.Module == "" {
		return "", missing(join(path, "module"))
	}
	if err := checkName(join(path, "module"), r.Module, 128); err != nil {
		return "", err
	}
	if r.Version == "" {
		return "", missing(join(path, "version"))
	}
	v, err := ParseVersion(r.Version)
	if err != nil {
		return "", &FieldError{Path: join(path, "version"), Err: err}
	}
	if r.MinVersion != "" {
		minV, err := ParseVersion(r.MinVersion)
		if err != nil {
			return "", &FieldError{Path: join(path, "min_version"), Err: err}
		}
		if minV.GreaterThan(v) {
			return "", fieldErr(join(path, "min_version"), ErrInvalid, "%s is above the release's version %s", r.MinVersion, r.Version)
		}
	}
	if r.Major < 0 {
		return "", fieldErr(join(path, "major"), ErrInvalid, "%d is negative", r.Major)
	}
	if r.Language != "" {
		if err := checkName(join(path, "language"), r.Language, 32); err != nil {
			return "", err
		}
	}
	if r.Channel != "" {
		if err := checkName(join(path, "channel"), r.Channel, 64); err != nil {
			return "", err
		}
	}
	if err := checkTime(join(path, "published"), r.Published); err != nil {
		return "", err
	}
	if r.Rollout != nil && (*r.Rollout < 0 || *r.Rollout > 100) {
		return "", fieldErr(join(path, "rollout"), ErrInvalid, "%d is outside 0..100", *r.Rollout)
	}
	if len(r.Packs) == 0 {
		return "", fieldErr(join(path, "packs"), ErrMissing, "a release needs at least one pack")
	}
	platforms := make(map[string]int, len(r.Packs))
	for j := range r.Packs {
		ppath := index(join(path, "packs"), j)
		p := &r.Packs[j]
		if err := validatePack(ppath, p); err != nil {
			return "", err
		}
		if first, dup := platforms[p.Platform]; dup {
			return "", fieldErr(join(ppath, "platform"), ErrDuplicate, "%s already has a pack in packs[%d]", p.Platform, first)
		}
		platforms[p.Platform] = j
	}
	return r.Module + "\x00" + versionKey(v) + "\x00" + strings.ToLower(r.Language), nil
}

func validatePack(path string, p *Pack) error {
	if p.Platform == "" {
		return missing(join(path, "platform"))
	}
	canon, err := Platform(p.Platform)
	if err != nil {
		return &FieldError{Path: join(path, "platform"), Err: err}
	}
	if canon != p.Platform {
		return fieldErr(join(path, "platform"), ErrInvalid, "%q is not canonical, write %q", p.Platform, canon)
	}
	if p.File == "" {
		return missing(join(path, "file"))
	}
	if err := checkFileName(join(path, "file"), p.File); err != nil {
		return err
	}
	if p.Size < 0 {
		return fieldErr(join(path, "size"), ErrInvalid, "%d is negative", p.Size)
	}
	if p.SHA256 == "" {
		return missing(join(path, "sha256"))
	}
	if !isLowerHex(p.SHA256, 64) {
		return fieldErr(join(path, "sha256"), ErrInvalid, "want 64 lowercase hex digits, got %.80q", p.SHA256)
	}
	if p.Signature != "" {
		if err := checkFileName(join(path, "signature"), p.Signature); err != nil {
			return err
		}
	}
	froms := make(map[string]bool, len(p.Deltas))
	for j, d := range p.Deltas {
		dp := index(join(path, "deltas"), j)
		if d.From == "" {
			return missing(join(dp, "from"))
		}
		if _, err := ParseVersion(d.From); err != nil {
			return &FieldError{Path: join(dp, "from"), Err: err}
		}
		if froms[d.From] {
			return fieldErr(join(dp, "from"), ErrInvalid, "a second delta from %s", d.From)
		}
		froms[d.From] = true
		if d.File == "" {
			return missing(join(dp, "file"))
		}
		if err := checkFileName(join(dp, "file"), d.File); err != nil {
			return err
		}
		if d.File == p.File {
			return fieldErr(join(dp, "file"), ErrInvalid, "%q is the pack's own file", d.File)
		}
		if d.Size < 0 {
			return fieldErr(join(dp, "size"), ErrInvalid, "%d is negative", d.Size)
		}
		if !isLowerHex(d.SHA256, 64) {
			return fieldErr(join(dp, "sha256"), ErrInvalid, "want 64 lowercase hex digits, got %.80q", d.SHA256)
		}
	}
	return nil
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkName accepts identifiers: ASCII letters, digits, '.', '_', '-', not starting
// with '.' or '-'. Module names end up in signatures' trusted comments (space-separated
// key=value) and in folder names, so nothing else is allowed.
func checkName(path, s string, max int) error {
	if len(s) > max {
		return fieldErr(path, ErrInvalid, "%.40q... is longer than %d bytes", s, max)
	}
	if s[0] == '.' || s[0] == '-' {
		return fieldErr(path, ErrInvalid, "%q may not start with %q", s, s[0])
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isNameByte(c) {
			return fieldErr(path, ErrInvalid, "%q holds %q (allowed: letters, digits, '.', '_', '-')", s, c)
		}
	}
	return nil
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// checkText accepts free text without control characters.
func checkText(path, s string, max int) error {
	if len(s) > max {
		return fieldErr(path, ErrInvalid, "%.40q... is longer than %d bytes", s, max)
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return fieldErr(path, ErrInvalid, "%q holds a control character", s)
		}
	}
	return nil
}

// checkFileName accepts a plain file name that means the same file everywhere: it is
// used both in a URL beside the manifest and as a local file name, and appears in
// trusted comments, so it is printable ASCII with no path separator, no "..", no
// space, no character that Windows or a URL treats specially, and is not a Windows
// device name.
func checkFileName(path, s string) error {
	if len(s) > 255 {
		return fieldErr(path, ErrInvalid, "%.40q... is longer than 255 bytes", s)
	}
	if strings.Contains(s, "..") {
		return fieldErr(path, ErrInvalid, "%q holds \"..\"", s)
	}
	if s == "." || s[0] == '-' || s[len(s)-1] == '.' {
		return fieldErr(path, ErrInvalid, "%q is not a plain file name", s)
	}
	for _, c := range s {
		switch {
		case c == '/' || c == '\\':
			return fieldErr(path, ErrInvalid, "%q holds a path separator", s)
		case c <= ' ' || c >= 0x7f || strings.ContainsRune(`:*?"<>|%#`, c):
			return fieldErr(path, ErrInvalid, "%q holds %q, not allowed in a file name", s, c)
		}
	}
	stem, _, _ := strings.Cut(strings.ToUpper(s), ".")
	switch stem {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
		"COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		return fieldErr(path, ErrInvalid, "%q is a Windows device name", s)
	}
	return nil
}

// Marshal returns the manifest in canonical JSON: members in the order of the Go
// types, two-space indent, times in UTC, channel written out ("stable" when empty),
// empty lists as [], no HTML escaping, and a final newline; so a republished manifest
// differs from the previous one only where releases changed. The manifest is
// validated first.
func (m *Manifest) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	c := *m
	c.Expires = c.Expires.UTC()
	c.Releases = make([]Release, len(m.Releases))
	for i, r := range m.Releases {
		if r.Channel == "" {
			r.Channel = ChannelStable
		}
		r.Published = r.Published.UTC()
		r.Packs = append([]Pack{}, r.Packs...)
		c.Releases[i] = r
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		return nil, fmt.Errorf("manifest: encoding product %q: %w", m.Product, err)
	}
	return buf.Bytes(), nil
}

// AddPack adds p to the release with r's module, version and language, creating that
// release from r's other fields (r.Packs is ignored) at the end of the list when the
// manifest has none. The fields of an existing release are left as they are. A
// platform given in another accepted spelling is stored in canonical form. The pack,
// and a new release, are validated; a second pack for the same module, version,
// language and platform is refused with [ErrDuplicate].
func (m *Manifest) AddPack(r Release, p Pack) error {
	if canon, err := Platform(p.Platform); err == nil {
		p.Platform = canon
	}
	v, err := ParseVersion(r.Version)
	if r.Module == "" || r.Version == "" || err != nil {
		nr := r
		nr.Packs = []Pack{p}
		_, err := validateRelease(index("releases", len(m.Releases)), &nr)
		return err
	}
	want := r.Module + "\x00" + versionKey(v) + "\x00" + strings.ToLower(r.Language)
	for i := range m.Releases {
		have := &m.Releases[i]
		if have.Module != r.Module || !strings.EqualFold(have.Language, r.Language) {
			continue
		}
		hv, err := ParseVersion(have.Version)
		if err != nil || have.Module+"\x00"+versionKey(hv)+"\x00"+strings.ToLower(have.Language) != want {
			continue
		}
		path := index(join(index("releases", i), "packs"), len(have.Packs))
		if err := validatePack(path, &p); err != nil {
			return err
		}
		for j, q := range have.Packs {
			if q.Platform == p.Platform {
				return fieldErr(join(path, "platform"), ErrDuplicate, "release %s of module %q%s already has a pack for %s in packs[%d]",
					have.Version, have.Module, languageNote(have.Language), p.Platform, j)
			}
		}
		have.Packs = append(have.Packs, p)
		return nil
	}
	nr := r
	nr.Packs = []Pack{p}
	if _, err := validateRelease(index("releases", len(m.Releases)), &nr); err != nil {
		return err
	}
	if err := tooMany("releases", len(m.Releases)+1); err != nil {
		return err
	}
	m.Releases = append(m.Releases, nr)
	return nil
}
