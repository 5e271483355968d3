package pack

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"strings"
	"time"
)

// delta is a checked delta: its zip and its listing, each file entry joined to the
// zip entry holding its data (nil for DeltaSame).
type delta struct {
	a       *archive
	version int // of the format: 1 (DeltaFormatV1) or 2 (DeltaFormat)
	info    *DeltaInfo
	files   []*file // the new tree, as extraction entries (listing order)
	data    []*file // for each of files: its zip entry, or nil
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
	br := bufio.NewReaderSize(nil, readBufSize)
	// A listing is decoded entry by entry, each checked as it comes. What a small
	// listing decodes is kept; a large one is only checked first (its entries are
	// dropped once they pass keepListing bytes), then decoded again: a listing past
	// a limit is refused without ever being held.
	var d *delta
	var mtimes []int64
	for keep := int64(keepListing); ; keep = -1 {
		d = &delta{a: a, info: &DeltaInfo{}}
		mtimes = nil
		names := maps.Clone(byName)
		src, err := dec.open(a, listing, br)
		if err != nil {
			return nil, err
		}
		all, err := d.readListing(src, listing, names, o.limits, keep, &mtimes)
		if err != nil {
			return nil, err
		}
		for name := range names {
			return nil, listingErr(name, "entry not named by the listing")
		}
		if all {
			break
		}
	}
	// The extraction entries are made once the listing is known to be within the
	// limits, in one allocation.
	files := make([]file, len(d.info.Entries))
	d.files = make([]*file, len(files))
	for i := range files {
		files[i] = deltaFile(&d.info.Entries[i], mtimes[i])
		d.files[i] = &files[i]
	}
	tree := make([]treeEntry, len(d.files))
	for i, f := range d.files {
		tree[i] = treeEntry{raw: f.name, path: f.path, kind: f.kind, link: f.link}
	}
	if err := checkTree(tree, o.allowCase); err != nil {
		return nil, err
	}
	return d, nil
}

// keepListing is the estimated memory (bytes) of the entries a first decoding of a
// listing keeps; past it, they are dropped and the listing decoded again once
// checked.
const keepListing = 16 << 20

// readListing decodes and checks the listing read from src, joining its entries to
// the zip entries of names (removing each one used). It keeps them in d while their
// estimated memory is at most keep bytes (and always when keep < 0); past that, it
// only checks the rest, and reports that it did not keep them all.
func (d *delta) readListing(src io.Reader, listing *file, names map[string]*file, lim Limits, keep int64, mtimes *[]int64) (bool, error) {
	n, kept := 0, int64(0)
	keeping := true
	err := readListing(src, listing, &d.version, func(it *deltaListItem) error {
		if n >= lim.MaxFiles {
			return entryErr("", RuleMaxFiles, ErrLimit, fmt.Sprintf("more than %d entries", lim.MaxFiles))
		}
		n++
		e, _, err := checkDeltaItem(it, d.version, lim)
		if err != nil {
			return err
		}
		var zf *file
		switch e.Op {
		case DeltaPatch, DeltaWhole:
			dir := deltaFileDir
			if e.Op == DeltaPatch {
				dir = deltaPatchDir
			}
			zf = names[dir+e.Path]
			if zf == nil {
				return listingErr(e.Path, fmt.Sprintf("op %s but the delta has no entry %q", e.Op, dir+e.Path))
			}
			delete(names, dir+e.Path)
			e.Data = int64(zf.csize)
			if err := checkDeltaData(e, zf, lim); err != nil {
				return err
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
			return entryErr(e.Path, RuleMaxTotal, ErrLimit, fmt.Sprintf("listing declares more than %d bytes in all", lim.MaxTotal))
		}
		if !keeping {
			return nil
		}
		if kept += int64(len(e.Path) + len(e.Link) + 400); keep >= 0 && kept > keep {
			keeping = false
			d.info.Entries, d.data, *mtimes = nil, nil, nil
			return nil
		}
		d.info.Entries = append(d.info.Entries, e)
		d.data = append(d.data, zf)
		*mtimes = append(*mtimes, it.MTime)
		return nil
	})
	return keeping, err
}

// checkDeltaItem checks one listing entry and returns it as a DeltaEntry and as an
// extraction entry (without its modification time).
func checkDeltaItem(it *deltaListItem, version int, lim Limits) (DeltaEntry, file, error) {
	e := DeltaEntry{Path: it.Path, Size: it.Size, Link: it.Target, Op: it.Op, BaseSize: it.BaseSize}
	f := file{name: it.Path}
	bad := func(detail string) (DeltaEntry, file, error) { return e, f, listingErr(it.Path, detail) }
	p, nerr := checkName(it.Path)
	if nerr != nil {
		return e, f, nerr
	}
	if p != it.Path {
		return bad("path ends with a slash")
	}
	f.path = it.Path // not p, which may be a copy
	if dd := strings.Count(p, "/") + 1; dd > lim.MaxDepth {
		return e, f, entryErr(it.Path, RuleMaxDepth, ErrLimit, fmt.Sprintf("%d path segments, more than %d", dd, lim.MaxDepth))
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
			return e, f, entryErr(it.Path, RuleMaxFileSize, ErrLimit, fmt.Sprintf("declares %d bytes, more than %d", it.Size, lim.MaxFileSize))
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
			if version == 1 && (it.BaseSize < 1 || it.BaseSize > MaxDeltaDict || it.Size > MaxDeltaDict) {
				return bad(fmt.Sprintf("patched file or its base outside 1..%d bytes", MaxDeltaDict))
			}
			if it.BaseSize < 1 || it.BaseSize > lim.MaxFileSize {
				return bad(fmt.Sprintf("base of a patched file outside 1..%d bytes", lim.MaxFileSize))
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

// deltaFile returns the extraction entry of the checked entry e.
func deltaFile(e *DeltaEntry, mtime int64) file {
	f := file{name: e.Path, path: e.Path, mode: e.Mode, link: e.Link, modTime: time.Unix(mtime, 0).UTC()}
	switch {
	case e.Mode.IsDir():
		f.kind = kindDir
	case e.Mode&fs.ModeSymlink != 0:
		f.kind = kindLink
	default:
		f.kind, f.usize = kindFile, uint64(e.Size)
	}
	return f
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
