package manifest

import (
	"fmt"
	"strconv"
	"strings"
)

// HFSQL is HFSQL's hfsql_updateinfo.json as the vendor publishes it: a top-level "pack"
// array of releases, each with its packs by platform. Read it with [ParseHFSQL] and
// turn it into a native manifest with [HFSQL.Convert].
type HFSQL struct {
	Releases []HFSQLRelease // the top-level "pack" array
}

// HFSQLRelease is one entry of the top-level "pack" array: a server version for one
// major version and language.
type HFSQLRelease struct {
	MajorVersion int         // "major_version": only servers of this major version take it
	Language     string      // "language": "F" for French, "A" for English, ...
	Version      string      // "version": the build number in the packs ("220099")
	MinVersion   string      // "min_version": the oldest build it may be applied over
	Packs        []HFSQLPack // "pack": one per platform
}

// HFSQLPack is one platform's pack of an [HFSQLRelease].
type HFSQLPack struct {
	Platform string // "plateform" (sic) as written: win32, win64, linux32, linux64
	Data     string // "data": the pack's name without extension
}

// File returns the pack's file name, Data + ".zip".
func (p HFSQLPack) File() string { return p.Data + ".zip" }

// SignatureFile returns the pack's signature file name, Data + ".sign".
func (p HFSQLPack) SignatureFile() string { return p.Data + ".sign" }

// ParseHFSQL reads an hfsql_updateinfo.json as is. "version" and "min_version" may be
// strings or numbers, "major_version" a number or a string of digits; the platform key
// is spelt "plateform" as in the vendor's files ("platform" is read too). Each release
// needs a version and at least one pack, each pack a platform [Platform] knows and a
// data name that makes plain file names; a version and language may appear once, with
// one pack per platform. Errors name the JSON path ("pack[0].pack[1].data: missing").
func ParseHFSQL(data []byte) (*HFSQL, error) {
	if err := tooLarge(data); err != nil {
		return nil, err
	}
	top, err := decodeObject("", data)
	if err != nil {
		return nil, err
	}
	rels, ok, err := top.array("", "pack")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, missing("pack")
	}
	if err := tooMany("pack", len(rels)); err != nil {
		return nil, err
	}
	h := &HFSQL{}
	if len(rels) > 0 {
		h.Releases = make([]HFSQLRelease, 0, len(rels))
	}
	seen := map[string]int{}
	for i, raw := range rels {
		path := index("pack", i)
		r, key, err := parseHFSQLRelease(path, raw)
		if err != nil {
			return nil, err
		}
		if first, dup := seen[key]; dup {
			return nil, fieldErr(path, ErrDuplicate, "version %s%s is already pack[%d]", r.Version, languageNote(r.Language), first)
		}
		seen[key] = i
		h.Releases = append(h.Releases, r)
	}
	return h, nil
}

func parseHFSQLRelease(path string, raw []byte) (HFSQLRelease, string, error) {
	var r HFSQLRelease
	o, err := decodeObject(path, raw)
	if err != nil {
		return r, "", err
	}
	major, ok, err := o.strOrNumber(path, "major_version")
	if err != nil {
		return r, "", err
	}
	if ok {
		n, err := strconv.ParseInt(strings.TrimSpace(major), 10, 32)
		if err != nil || n < 0 {
			return r, "", fieldErr(join(path, "major_version"), ErrInvalid, "%q is not a major version number", major)
		}
		r.MajorVersion = int(n)
	}
	if r.Language, _, err = o.str(path, "language"); err != nil {
		return r, "", err
	}
	if r.Language != "" {
		if err := checkName(join(path, "language"), r.Language, 32); err != nil {
			return r, "", err
		}
	}
	if r.Version, ok, err = o.strOrNumber(path, "version"); err != nil {
		return r, "", err
	}
	if !ok || r.Version == "" {
		return r, "", missing(join(path, "version"))
	}
	v, err := ParseVersion(r.Version)
	if err != nil {
		return r, "", &FieldError{Path: join(path, "version"), Err: err}
	}
	if r.MinVersion, _, err = o.strOrNumber(path, "min_version"); err != nil {
		return r, "", err
	}
	if r.MinVersion != "" {
		minV, err := ParseVersion(r.MinVersion)
		if err != nil {
			return r, "", &FieldError{Path: join(path, "min_version"), Err: err}
		}
		if minV.GreaterThan(v) {
			return r, "", fieldErr(join(path, "min_version"), ErrInvalid, "%s is above the release's version %s", r.MinVersion, r.Version)
		}
	}
	packs, ok, err := o.array(path, "pack")
	if err != nil {
		return r, "", err
	}
	if !ok || len(packs) == 0 {
		return r, "", missing(join(path, "pack"))
	}
	platforms := map[string]int{}
	for j, raw := range packs {
		ppath := index(join(path, "pack"), j)
		p, canon, err := parseHFSQLPack(ppath, raw)
		if err != nil {
			return r, "", err
		}
		if first, dup := platforms[canon]; dup {
			return r, "", fieldErr(ppath, ErrDuplicate, "platform %s (%s) already has a pack in pack[%d]", p.Platform, canon, first)
		}
		platforms[canon] = j
		r.Packs = append(r.Packs, p)
	}
	return r, versionKey(v) + "\x00" + strings.ToLower(r.Language), nil
}

func parseHFSQLPack(path string, raw []byte) (p HFSQLPack, canon string, err error) {
	o, err := decodeObject(path, raw)
	if err != nil {
		return p, "", err
	}
	key := "plateform"
	if !o.has(key) && o.has("platform") {
		key = "platform"
	}
	var ok bool
	if p.Platform, ok, err = o.str(path, key); err != nil {
		return p, "", err
	}
	if !ok || p.Platform == "" {
		return p, "", missing(join(path, key))
	}
	if canon, err = Platform(p.Platform); err != nil {
		return p, "", &FieldError{Path: join(path, key), Err: err}
	}
	if p.Data, ok, err = o.str(path, "data"); err != nil {
		return p, "", err
	}
	if !ok || p.Data == "" {
		return p, "", missing(join(path, "data"))
	}
	if err := checkFileName(join(path, "data"), p.File()); err != nil {
		return p, "", err
	}
	return p, canon, nil
}

// Convert returns the native manifest for h: one release per entry, for module
// (default "hfsql") of product (default "hfsql"), with Major and Language carried over,
// channel stable, and per platform the pack Data+".zip" signed by Data+".sign".
// packInfo, when not nil, is called with each pack's file name and gives its size and
// SHA-256 (this package does no I/O); its error is returned naming the file. Without
// packInfo sizes are 0 and SHA-256 empty. Serial is 0 and Expires zero: the caller
// sets them before [Manifest.Marshal].
func (h *HFSQL) Convert(product, module string, packInfo func(file string) (size int64, sha256hex string, err error)) (*Manifest, error) {
	if product == "" {
		product = "hfsql"
	}
	if module == "" {
		module = "hfsql"
	}
	if err := checkName("module", module, 128); err != nil {
		return nil, err
	}
	m := &Manifest{Schema: SchemaVersion, Product: product}
	for i, hr := range h.Releases {
		r := Release{
			Module:     module,
			Version:    hr.Version,
			MinVersion: hr.MinVersion,
			Major:      hr.MajorVersion,
			Language:   hr.Language,
			Channel:    ChannelStable,
		}
		for j, hp := range hr.Packs {
			canon, err := Platform(hp.Platform)
			if err != nil {
				return nil, &FieldError{Path: join(index(join(index("pack", i), "pack"), j), "plateform"), Err: err}
			}
			p := Pack{Platform: canon, File: hp.File(), Signature: hp.SignatureFile()}
			if packInfo != nil {
				if p.Size, p.SHA256, err = packInfo(p.File); err != nil {
					return nil, fmt.Errorf("manifest: pack %s of version %s (%s): %w", p.File, hr.Version, canon, err)
				}
			}
			r.Packs = append(r.Packs, p)
		}
		m.Releases = append(m.Releases, r)
	}
	return m, nil
}
