package pack

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"
)

// delta is a checked delta: its zip and its listing, each file entry joined to the
// zip entry holding its data (nil for DeltaSame).
type delta struct {
	a       *archive
	info    *DeltaInfo
	files   []*file // the new tree, as extraction entries (listing order)
	data    []*file // for each of files: its zip entry, or nil
	entries []int   // for each of files: its index in info.Entries
}

// ReadDeltaInfo reads and checks a delta without a base: the zip's structure (as
// [ReadInfo] does), the listing (names, duplicates, links, modes, sizes and counts
// against the limits), and that the listing and the zip's entries agree one to one.
// Only [WithLimits] and [AllowCaseCollisions] apply.
func ReadDeltaInfo(r io.ReaderAt, size int64, opts ...Option) (*DeltaInfo, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	d, err := openDelta(r, size, o)
	if err != nil {
		return nil, err
	}
	return d.info, nil
}

func listingErr(entry, detail string) *EntryError {
	return entryErr(entry, RuleListing, ErrFormat, detail)
}

// openDelta checks the delta in r and joins its listing to its entries.
func openDelta(r io.ReaderAt, size int64, o *options) (*delta, error) {
	zl := o.limits
	if zl.MaxDepth < int(^uint(0)>>1) {
		zl.MaxDepth++ // for the "patch/" and "file/" prefixes
	}
	if zl.MaxFiles < int(^uint(0)>>1) {
		zl.MaxFiles++ // the listing, and at most one entry per listed file
	}
	a, err := openArchive(r, size, zl, true)
	if err != nil {
		return nil, err
	}
	var listing *file
	byName := make(map[string]*file, len(a.files))
	for _, f := range a.files {
		switch {
		case f.kind != kindFile:
			return nil, listingErr(f.name, "a delta holds files only")
		case f.name == DeltaListingName:
			listing = f
		case strings.HasPrefix(f.name, deltaPatchDir) || strings.HasPrefix(f.name, deltaFileDir):
			byName[f.name] = f
		default:
			return nil, listingErr(f.name, "entry is neither the listing nor under patch/ or file/")
		}
	}
	if listing == nil {
		return nil, listingErr(DeltaListingName, "no listing: not a delta")
	}
	if listing.usize > maxDeltaListing {
		return nil, entryErr(listing.name, RuleMaxFileSize, ErrLimit, fmt.Sprintf("listing declares %d bytes, more than %d", listing.usize, maxDeltaListing))
	}
	var dec decoders
	defer dec.close()
	src, err := dec.open(a, listing, bufio.NewReaderSize(nil, readBufSize))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(src, int64(listing.usize)+1))
	if err != nil {
		return nil, entryErr(listing.name, RuleStructure, ErrFormat, "decompressing: "+err.Error())
	}
	if uint64(len(raw)) != listing.usize {
		return nil, entryErr(listing.name, RuleSize, ErrFormat, fmt.Sprintf("%d bytes, %d declared", len(raw), listing.usize))
	}
	var l deltaListing
	jd := json.NewDecoder(bytes.NewReader(raw))
	jd.DisallowUnknownFields()
	if err := jd.Decode(&l); err != nil {
		return nil, listingErr(listing.name, "JSON: "+err.Error())
	}
	if jd.More() {
		return nil, listingErr(listing.name, "JSON: data after the listing")
	}
	if l.Format != DeltaFormat {
		return nil, listingErr(listing.name, fmt.Sprintf("format %q, want %q", l.Format, DeltaFormat))
	}
	lim := o.limits
	if len(l.Entries) > lim.MaxFiles {
		return nil, entryErr("", RuleMaxFiles, ErrLimit, fmt.Sprintf("%d entries, more than %d", len(l.Entries), lim.MaxFiles))
	}
	d := &delta{a: a, info: &DeltaInfo{Entries: make([]DeltaEntry, 0, len(l.Entries))}}
	tree := make([]treeEntry, 0, len(l.Entries))
	used := 0
	for i := range l.Entries {
		it := &l.Entries[i]
		e, f, err := checkDeltaItem(it, lim)
		if err != nil {
			return nil, err
		}
		tree = append(tree, treeEntry{raw: f.name, path: f.path, kind: f.kind, link: f.link})
		var zf *file
		switch e.Op {
		case DeltaPatch, DeltaWhole:
			dir := deltaFileDir
			if e.Op == DeltaPatch {
				dir = deltaPatchDir
			}
			zf = byName[dir+e.Path]
			if zf == nil {
				return nil, listingErr(e.Path, fmt.Sprintf("op %s but the delta has no entry %q", e.Op, dir+e.Path))
			}
			delete(byName, dir+e.Path)
			used++
			e.Data = int64(zf.csize)
			if err := checkDeltaData(e, zf, lim); err != nil {
				return nil, err
			}
			d.info.Data += e.Data
		}
		switch e.Op {
		case DeltaSame:
			d.info.Same++
		case DeltaPatch:
			d.info.Patched++
		case DeltaWhole:
			d.info.Whole++
		}
		d.info.Size += e.Size
		if d.info.Size > lim.MaxTotal {
			return nil, entryErr(e.Path, RuleMaxTotal, ErrLimit, fmt.Sprintf("listing declares more than %d bytes in all", lim.MaxTotal))
		}
		d.info.Entries = append(d.info.Entries, e)
		d.files = append(d.files, f)
		d.data = append(d.data, zf)
		d.entries = append(d.entries, i)
	}
	for name := range byName {
		return nil, listingErr(name, "entry not named by the listing")
	}
	if err := checkTree(tree, o.allowCase); err != nil {
		return nil, err
	}
	return d, nil
}

// checkDeltaItem checks one listing entry and returns it as a DeltaEntry and as an
// extraction entry.
func checkDeltaItem(it *deltaListItem, lim Limits) (DeltaEntry, *file, error) {
	e := DeltaEntry{Path: it.Path, Size: it.Size, Link: it.Target, Op: it.Op, BaseSize: it.BaseSize}
	f := &file{name: it.Path, modTime: time.Unix(it.MTime, 0).UTC()}
	bad := func(detail string) (DeltaEntry, *file, error) { return e, nil, listingErr(it.Path, detail) }
	raw := it.Path
	if it.Type == "dir" {
		raw += "/"
	}
	p, nerr := checkName(raw)
	if nerr != nil {
		return e, nil, nerr
	}
	if p != it.Path {
		return bad("path ends with a slash")
	}
	f.path = p
	if dd := strings.Count(p, "/") + 1; dd > lim.MaxDepth {
		return e, nil, entryErr(it.Path, RuleMaxDepth, ErrLimit, fmt.Sprintf("%d path segments, more than %d", dd, lim.MaxDepth))
	}
	if it.MTime < -1<<40 || it.MTime > 1<<40 {
		return bad("mtime out of range")
	}
	fileOnly := it.Size != 0 || it.SHA256 != "" || it.Op != "" || it.BaseSize != 0 || it.BaseSHA256 != ""
	switch it.Type {
	case "dir":
		if it.Mode&^0o1777 != 0 || fileOnly || it.Target != "" {
			return bad("folder with file fields, a target, or mode bits other than permissions and sticky")
		}
		f.kind = kindDir
		f.mode = fs.ModeDir | fs.FileMode(it.Mode&0o777)
		if it.Mode&0o1000 != 0 {
			f.mode |= fs.ModeSticky
		}
	case "link":
		if fileOnly || it.Target == "" || len(it.Target) > maxLinkTarget {
			return bad("link with file fields, or a target empty or longer than 4096 bytes")
		}
		f.kind, f.mode, f.link = kindLink, fs.ModeSymlink|0o777, it.Target
	case "file":
		if it.Mode&^0o777 != 0 || it.Target != "" {
			return bad("file with a target, or mode bits other than permissions")
		}
		f.kind, f.mode = kindFile, fs.FileMode(it.Mode)
		if it.Size < 0 || it.Size > lim.MaxFileSize {
			return e, nil, entryErr(it.Path, RuleMaxFileSize, ErrLimit, fmt.Sprintf("declares %d bytes, more than %d", it.Size, lim.MaxFileSize))
		}
		f.usize = uint64(it.Size)
		sum, ok := parseSum(it.SHA256)
		if !ok {
			return bad("sha256 is not 64 hex digits")
		}
		e.SHA256 = sum
		switch it.Op {
		case DeltaSame, DeltaWhole:
			if it.BaseSize != 0 || it.BaseSHA256 != "" {
				return bad("base fields on an entry that is not patched")
			}
		case DeltaPatch:
			if it.BaseSize < 1 || it.BaseSize > MaxDeltaDict || it.Size > MaxDeltaDict {
				return bad(fmt.Sprintf("patched file or its base outside 1..%d bytes", MaxDeltaDict))
			}
			if e.BaseSHA256, ok = parseSum(it.BaseSHA256); !ok {
				return bad("base_sha256 is not 64 hex digits")
			}
		default:
			return bad(fmt.Sprintf("unknown op %q", it.Op))
		}
	default:
		return bad(fmt.Sprintf("unknown type %q", it.Type))
	}
	e.Mode = f.mode
	return e, f, nil
}

// checkDeltaData checks the zip entry zf holding e's data against the listing and
// the limits.
func checkDeltaData(e DeltaEntry, zf *file, lim Limits) error {
	switch e.Op {
	case DeltaWhole:
		if zf.usize != uint64(e.Size) {
			return listingErr(e.Path, fmt.Sprintf("listing says %d bytes, entry %q declares %d", e.Size, zf.name, zf.usize))
		}
	case DeltaPatch:
		if zf.method != Store {
			return listingErr(zf.name, "a patch frame must be stored")
		}
		// The dictionary yields bytes for free: the ratio counts it with the frame.
		if ratioExceeded(uint64(e.Size), zf.csize+uint64(e.BaseSize), lim) {
			return entryErr(e.Path, RuleMaxRatio, ErrLimit, fmt.Sprintf("declares %d bytes from a %d-byte frame and a %d-byte base, more than %d:1", e.Size, zf.csize, e.BaseSize, lim.MaxRatio))
		}
	}
	return nil
}

// parseSum parses a lowercase hex SHA-256.
func parseSum(s string) ([32]byte, bool) {
	var sum [32]byte
	if len(s) != 64 || strings.ToLower(s) != s {
		return sum, false
	}
	_, err := hex.Decode(sum[:], []byte(s))
	return sum, err == nil
}
